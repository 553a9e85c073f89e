//! Interpretation survives: unknown payments are applied by reprocessing once they exist,
//! a delivery acknowledged before a crash is taken by the sweep, and a failing one is
//! retried with backoff up to its last attempt, then left to `reprocess`.

use std::collections::BTreeMap;
use std::time::Duration;

use payledger_gateways::Provider;
use payledger_service::webhooks::ingest::{ingest, VerifiedDelivery};
use payledger_service::webhooks::process::process_delivery;
use payledger_service::webhooks::{reprocess, sweep_once, Mode, ProcessorConfig, RetryPolicy, Scope};
use payledger_testkit::eventually;
use serde_json::{json, Value};
use uuid::Uuid;

use super::support::*;
use crate::support::{spawn_app, TestApp};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_for_an_unknown_payment_is_stored_ignored_then_applied_by_reprocessing() {
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let pi = fresh_reference("pi_");
    let body = stripe_event("payment_intent.amount_capturable_updated", &pi, "u");
    let (status, _) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!(status, 200, "an unknown payment is not the gateway's problem");
    wait_interpreted(&app).await;

    let (status, reason) = deliveries(&app).await.remove(0);
    assert_eq!(status, "ignored");
    assert!(reason.as_deref().unwrap().starts_with("unknown_payment:"), "{reason:?}");
    let client = app.pool.get().await.unwrap();
    let received_id: Uuid =
        client.query_one("SELECT event_id FROM events WHERE event_type = 'WebhookReceived'", &[]).await.unwrap().get(0);
    // In the delivery's own stream.
    let ignored = client
        .query_one(
            "SELECT payload, metadata FROM events WHERE event_type = 'WebhookIgnored' AND stream_id = $1",
            &[&format!("webhook-inbox-{endpoint_id}-{received_id}")],
        )
        .await
        .unwrap();
    assert_eq!(ignored.get::<_, Value>(0)["reason"], json!(reason.unwrap()));
    assert_eq!(ignored.get::<_, Value>(1)["causation_id"], json!(received_id));

    // Reprocessing while the payment is still unknown records nothing new.
    let report = reprocess(&app.pool, None, Scope::Pending, &RetryPolicy::default()).await.unwrap();
    assert_eq!((report.examined, report.unchanged), (1, 1));

    let payment = create_payment_with(&app, 2000, "USD", "stripe", &pi).await;
    let report = reprocess(&app.pool, None, Scope::Pending, &RetryPolicy::default()).await.unwrap();
    assert_eq!((report.examined, report.applied), (1, 1), "{report:?}");
    let stream = payment_stream(&app, &id_of(&payment)).await;
    let (event_type, _, metadata) = stream.last().unwrap();
    assert_eq!(event_type, "PaymentAuthorized");
    assert_eq!(metadata["causation_id"], json!(received_id));
    assert_eq!(deliveries(&app).await[0].0, "applied");

    // Again, everything, even with the progress table lost: nothing new is recorded.
    let events = app.count_events().await;
    client.execute("DELETE FROM webhook_deliveries", &[]).await.unwrap();
    let report = reprocess(&app.pool, None, Scope::All, &RetryPolicy::default()).await.unwrap();
    assert_eq!((report.restored, report.examined, report.unchanged), (1, 1, 1), "{report:?}");
    assert_eq!(app.count_events().await, events);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_event_type_is_recorded_as_ignored_once() {
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let payment = app.create_payment(2000).await;
    let body = stripe_event("payment_intent.created", payment["provider_reference"].as_str().unwrap(), "k");
    let (status, _) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!(status, 200);
    wait_interpreted(&app).await;
    let (status, reason) = deliveries(&app).await.remove(0);
    assert_eq!(status, "ignored");
    assert!(reason.unwrap().starts_with("unknown_event_type: payment_intent.created"));
    let report = reprocess(&app.pool, None, Scope::All, &RetryPolicy::default()).await.unwrap();
    assert_eq!(report.unchanged, 1);
    assert_eq!(count_events_of_type(&app, "WebhookIgnored").await, 1);
}

/// Records a delivery as `receive` does, but without interpreting it: the state a crash
/// right after the answer leaves behind.
async fn record_without_interpreting(app: &TestApp, endpoint: &Value, body: &[u8]) -> Uuid {
    let delivery = VerifiedDelivery {
        tenant_id: app.tenant_id,
        endpoint_id: id_of(endpoint).parse().unwrap(),
        provider: Provider::Stripe,
        secret_id: id_of(&endpoint["secrets"][0]).parse().unwrap(),
        signed_at_unix_s: Some(now_s()),
        headers: BTreeMap::new(),
        body,
        request_id: None,
    };
    let ingested = ingest(&app.pool, &delivery, 0.0).await.unwrap();
    assert_eq!(ingested.new_delivery_ids.len(), 1);
    ingested.new_delivery_ids[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_acknowledged_before_a_crash_is_interpreted_by_the_sweep() {
    let app = spawn_app().await;
    let endpoint = create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await;
    let payment = app.create_payment(2000).await;
    let body =
        stripe_event("payment_intent.amount_capturable_updated", payment["provider_reference"].as_str().unwrap(), "s");
    record_without_interpreting(&app, &endpoint, &body).await;
    assert_eq!(deliveries(&app).await, vec![("pending".to_owned(), None)]);

    let taken = sweep_once(&app.pool, &ProcessorConfig::default()).await.unwrap();
    assert_eq!(taken, 1);
    assert_eq!(deliveries(&app).await, vec![("applied".to_owned(), None)]);
    assert_eq!(fold_payment(&app, &id_of(&payment)).await.payment.amount_authorized.get(), 2000);
    assert_eq!(sweep_once(&app.pool, &ProcessorConfig::default()).await.unwrap(), 0, "nothing left");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_interpretation_backs_off_gives_up_and_is_reprocessed() {
    let app = spawn_app().await;
    let endpoint = create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await;
    let payment = app.create_payment(2000).await;
    let payment_id = id_of(&payment);
    let body = stripe_event("payment_intent.succeeded", payment["provider_reference"].as_str().unwrap(), "f");
    let delivery_id = record_without_interpreting(&app, &endpoint, &body).await;
    let policy = RetryPolicy {
        max_attempts: 2,
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(100),
        lock_timeout: Duration::from_millis(100),
    };

    // Another session holds the payment stream's lock: interpretation times out.
    let blocker = app.db.connect().await;
    let lock_name = format!("{}/payment-{payment_id}", app.tenant_id);
    blocker.execute("SELECT pg_advisory_lock(hashtextextended($1, 0))", &[&lock_name]).await.unwrap();

    assert!(process_delivery(&app.pool, delivery_id, Mode::Due, &policy).await.is_err());
    let (status, attempts, error) = progress(&app, delivery_id).await;
    assert_eq!((status.as_str(), attempts), ("pending", 1));
    let error = error.expect("the cause is kept");
    assert!(error.contains("lock") || error.contains("busy"), "{error}");
    wait_until_due(&app, delivery_id).await;
    assert!(process_delivery(&app.pool, delivery_id, Mode::Due, &policy).await.is_err());
    assert_eq!(progress(&app, delivery_id).await.0, "failed", "gave up after the last attempt");
    let config = ProcessorConfig { retry: policy, ..ProcessorConfig::default() };
    assert_eq!(sweep_once(&app.pool, &config).await.unwrap(), 0, "the sweep leaves failed deliveries alone");
    let events = payment_stream(&app, &payment_id).await.len();
    assert_eq!(events, 1, "a failed attempt leaves nothing behind");

    blocker.execute("SELECT pg_advisory_unlock(hashtextextended($1, 0))", &[&lock_name]).await.unwrap();
    let report = reprocess(&app.pool, None, Scope::Pending, &policy).await.unwrap();
    assert_eq!(report.applied, 1, "{report:?}");
    assert_eq!(progress(&app, delivery_id).await.0, "applied");
    let folded = fold_payment(&app, &payment_id).await;
    assert_eq!(folded.payment.amount_captured.get(), 2000);
}

async fn progress(app: &TestApp, delivery_id: Uuid) -> (String, i32, Option<String>) {
    let client = app.pool.get().await.unwrap();
    let row = client
        .query_one(
            "SELECT status, attempts, last_error FROM webhook_deliveries WHERE delivery_id = $1",
            &[&delivery_id],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

async fn wait_until_due(app: &TestApp, delivery_id: Uuid) {
    eventually(Duration::from_secs(10), "the delivery's retry to come due", || async {
        let client = app.pool.get().await.unwrap();
        let due: bool = client
            .query_one(
                "SELECT next_attempt_at <= now() FROM webhook_deliveries WHERE delivery_id = $1",
                &[&delivery_id],
            )
            .await
            .unwrap()
            .get(0);
        due.then_some(())
    })
    .await
}

/// Receipts arriving faster than interpretations run wait their turn: none is left for the
/// sweep (30 s later) while the inline queue has room. Before the queue, the deliveries past
/// the 64th running at once were dropped to the sweep.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_receipts_is_interpreted_inline_without_waiting_for_the_sweep() {
    let app = spawn_app().await;
    let endpoint = create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await;
    let mut ids = Vec::new();
    for n in 0..200 {
        let body = stripe_event("payment_intent.created", &fresh_reference("pi_"), &format!("burst{n}"));
        ids.push(record_without_interpreting(&app, &endpoint, &body).await);
    }
    // All at once, as 200 concurrent answers would; no sweep runs in this app.
    for id in ids {
        payledger_service::webhooks::processor::dispatch_inline(app.pool.clone(), vec![id]);
    }
    wait_interpreted(&app).await;
    let statuses = deliveries(&app).await;
    assert_eq!(statuses.len(), 200);
    assert!(statuses.iter().all(|(status, _)| status == "ignored"), "{statuses:?}");
    assert_eq!(count_events_of_type(&app, "WebhookIgnored").await, 200);
}
