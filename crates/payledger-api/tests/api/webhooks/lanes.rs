//! Deliveries to one endpoint share no lane (issue #15): each has a stream of its own, so
//! many at once to one endpoint are each recorded exactly once, none refused, and a lock on
//! the endpoint's old single inbox stream holds none of them up. Deliveries stored in that
//! old stream are still interpreted and reprocessed.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use payledger_gateways::Provider;
use payledger_service::webhooks::inbox::{
    dedupe_key, inbox_stream_id, sha256_hex, ReceivedPayload, RECEIVED_SCHEMA_VERSION, WEBHOOK_RECEIVED,
};
use payledger_service::webhooks::{reprocess, sweep_once, ProcessorConfig, RetryPolicy, Scope};
use payledger_store::{append, ExpectedVersion, NewEvent, StreamKey};
use serde_json::{json, Value};
use uuid::Uuid;

use super::support::*;
use crate::support::{spawn_app, TestApp};

/// Concurrent senders: the endpoint's default share of in-flight work, so none is refused.
const SENDERS: usize = 16;
const DELIVERIES_PER_SENDER: usize = 6;

/// `(stream_id, dedupe_key)` of every `WebhookReceived`.
async fn received(app: &TestApp) -> Vec<(String, String)> {
    let client = app.pool.get().await.unwrap();
    client
        .query("SELECT stream_id, dedupe_key FROM events WHERE event_type = 'WebhookReceived'", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_deliveries_at_once_to_one_endpoint_are_each_recorded_once_and_none_refused() {
    let app = Arc::new(spawn_app().await);
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let payment = app.create_payment(2000).await;
    let pi = payment["provider_reference"].as_str().unwrap().to_owned();

    // Every sender sends its own deliveries and redelivers its neighbour's, all at once.
    let bodies: Vec<Vec<u8>> = (0..SENDERS * DELIVERIES_PER_SENDER)
        .map(|n| {
            // A third about the real payment, the rest about payments nobody knows.
            let reference = if n % 3 == 0 { pi.clone() } else { fresh_reference("pi_") };
            stripe_event("payment_intent.succeeded", &reference, &format!("l{n}"))
        })
        .collect();
    let bodies = Arc::new(bodies);
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (app, endpoint_id, bodies) = (app.clone(), endpoint_id.clone(), bodies.clone());
            tokio::spawn(async move {
                let neighbour = (sender + 1) % SENDERS;
                let mut answers = Vec::new();
                for k in 0..DELIVERIES_PER_SENDER {
                    for owner in [sender, neighbour] {
                        let body = &bodies[owner * DELIVERIES_PER_SENDER + k];
                        let headers = stripe_headers(STRIPE_SECRET, body);
                        answers.push(deliver(&app, "stripe", &endpoint_id, &headers, body).await);
                    }
                }
                answers
            })
        })
        .collect();
    let (mut fresh, mut duplicates) = (0, 0);
    for sender in senders {
        for (status, answer) in sender.await.unwrap() {
            assert_eq!(status, 200, "none refused: {answer}");
            let answer: Value = serde_json::from_str(&answer).unwrap();
            if answer["duplicate"] == json!(true) {
                duplicates += 1;
            } else {
                fresh += 1;
            }
        }
    }
    let distinct = SENDERS * DELIVERIES_PER_SENDER;
    assert_eq!((fresh, duplicates), (distinct, distinct), "each delivery recorded once, its copy answered as one");

    let received = received(&app).await;
    assert_eq!(received.len(), distinct);
    let keys: BTreeSet<&String> = received.iter().map(|(_, key)| key).collect();
    assert_eq!(keys.len(), distinct, "exactly one WebhookReceived per distinct delivery");
    let streams: BTreeSet<&String> = received.iter().map(|(stream, _)| stream).collect();
    assert_eq!(streams.len(), distinct, "each delivery in a stream of its own: {streams:?}");
    let inbox = inbox_stream_id(endpoint_id.parse().unwrap());
    assert!(streams.iter().all(|s| s.starts_with(&format!("{inbox}-"))), "{streams:?}");

    // Every one interpreted exactly once; those about unknown payments ignored in their
    // delivery's own stream.
    wait_interpreted(&app).await;
    let rows = deliveries(&app).await;
    assert_eq!(rows.len(), distinct);
    assert!(rows.iter().all(|(status, _)| status == "applied" || status == "ignored"), "{rows:?}");
    let about_payment = distinct.div_ceil(3);
    let client = app.pool.get().await.unwrap();
    let ignored_streams: Vec<String> = client
        .query(
            "SELECT stream_id FROM events WHERE event_type = 'WebhookIgnored' AND stream_id LIKE 'webhook-inbox-%'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(ignored_streams.len(), distinct - about_payment);
    assert!(ignored_streams.iter().all(|s| streams.contains(s)), "ignores go to the delivery's stream");
    let folded = fold_payment(&app, &id_of(&payment)).await;
    assert_eq!(folded.payment.amount_captured.get(), 2000, "one capture, however many reports");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_on_the_old_endpoint_stream_holds_no_delivery_up() {
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let mut holder = app.pool.get().await.unwrap();
    let hold = holder.transaction().await.unwrap();
    let lock_name = format!("{}/{}", app.tenant_id, inbox_stream_id(endpoint_id.parse().unwrap()));
    hold.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[&lock_name]).await.unwrap();

    let body = stripe_event("payment_intent.succeeded", &fresh_reference("pi_"), "held");
    let started = Instant::now();
    let (status, answer) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(2), "waited {:?} for the endpoint's lock", started.elapsed());
    hold.rollback().await.unwrap();
    assert_eq!(received(&app).await.len(), 1);
}

/// A `WebhookReceived` as deliveries were stored before they had streams of their own: in
/// the endpoint's single inbox stream, with a pending delivery row.
async fn store_in_old_layout(app: &TestApp, endpoint_id: Uuid, event_id: &str, reference: &str) -> Uuid {
    let body = String::from_utf8(stripe_event("payment_intent.succeeded", reference, event_id)).unwrap();
    let provider_event_id = serde_json::from_str::<Value>(&body).unwrap()["id"].as_str().unwrap().to_owned();
    let payload = ReceivedPayload {
        endpoint_id,
        provider: Provider::Stripe,
        provider_event_id: provider_event_id.clone(),
        provider_event_type: Some("payment_intent.succeeded".into()),
        payment_reference: Some(reference.to_owned()),
        headers: BTreeMap::new(),
        body_sha256: sha256_hex(body.as_bytes()),
        body: Some(body),
        body_base64: None,
        body_event_id: None,
        item_index: 0,
        item_count: 1,
        signed_at_unix_s: None,
        secret_id: Uuid::now_v7(),
        parse_error: None,
    };
    let event = NewEvent::new(WEBHOOK_RECEIVED, RECEIVED_SCHEMA_VERSION, serde_json::to_value(&payload).unwrap())
        .with_metadata(json!({"source": "webhook", "actor": "stripe", "webhook_endpoint_id": endpoint_id}))
        .with_dedupe_key(dedupe_key(Provider::Stripe, &provider_event_id));
    let delivery_id = event.event_id;
    let stream = StreamKey::new(app.tenant_id, inbox_stream_id(endpoint_id));
    append(&app.pool, &stream, ExpectedVersion::Any, vec![event]).await.unwrap();
    let client = app.pool.get().await.unwrap();
    client
        .execute(
            "INSERT INTO webhook_deliveries (delivery_id, tenant_id, endpoint_id, provider) VALUES ($1, $2, $3, 'stripe')",
            &[&delivery_id, &app.tenant_id, &endpoint_id],
        )
        .await
        .unwrap();
    delivery_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_in_the_old_endpoint_stream_are_still_interpreted_and_reprocessed() {
    let app = spawn_app().await;
    let endpoint_id: Uuid = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await).parse().unwrap();
    let payment = app.create_payment(2000).await;
    let pi = payment["provider_reference"].as_str().unwrap();
    store_in_old_layout(&app, endpoint_id, "old1", pi).await;
    let unknown = store_in_old_layout(&app, endpoint_id, "old2", &fresh_reference("pi_")).await;
    let old_stream = inbox_stream_id(endpoint_id);

    assert_eq!(sweep_once(&app.pool, &ProcessorConfig::default()).await.unwrap(), 2);
    let statuses: BTreeSet<String> = deliveries(&app).await.into_iter().map(|(status, _)| status).collect();
    assert_eq!(statuses, BTreeSet::from(["applied".to_owned(), "ignored".to_owned()]));
    assert_eq!(fold_payment(&app, &id_of(&payment)).await.payment.amount_captured.get(), 2000);
    let client = app.pool.get().await.unwrap();
    let ignored = client
        .query_one(
            "SELECT stream_id, stream_version, payload FROM events WHERE event_type = 'WebhookIgnored' AND stream_id LIKE 'webhook-inbox-%'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(ignored.get::<_, String>(0), old_stream, "an old delivery's ignore goes to its own (old) stream");
    assert_eq!(ignored.get::<_, i64>(1), 3, "after the two WebhookReceived");
    assert_eq!(ignored.get::<_, Value>(2)["received_event_id"], json!(unknown));

    // With the progress table lost, reprocessing restores both rows and records nothing new.
    let events = app.count_events().await;
    client.execute("DELETE FROM webhook_deliveries", &[]).await.unwrap();
    let report = reprocess(&app.pool, Some(endpoint_id), Scope::All, &RetryPolicy::default()).await.unwrap();
    assert_eq!((report.restored, report.examined, report.unchanged, report.failed), (2, 2, 1, 0), "{report:?}");
    assert_eq!(report.ignored, 1, "the ignore is recorded again once the row is lost: {report:?}");
    assert_eq!(app.count_events().await, events + 1);
}
