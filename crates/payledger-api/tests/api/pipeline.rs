//! The command pipeline's round trips: claim, lock timeout, stream lock and load are sent
//! together; the NOTIFY goes after the commit. What that must not change: a key in flight is
//! refused at once, a busy stream is still a lock timeout, and listeners still wake.

use std::time::{Duration, Instant};

use futures::StreamExt;
use payledger_api::ApiConfig;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use crate::support::{spawn_app, spawn_app_with, TestApp};

/// A LISTEN on the events channel; every notification arrives on the receiver.
async fn listen(url: &str) -> mpsc::UnboundedReceiver<String> {
    let (client, mut connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = sender.send(n.channel().to_owned());
            }
        }
    });
    client.batch_execute(&format!("LISTEN {}", payledger_store::NOTIFY_CHANNEL)).await.unwrap();
    // The client must outlive the test's waits; the connection task ends with the runtime.
    std::mem::forget(client);
    receiver
}

/// A transaction of another connection holding the advisory locks named, until it ends.
async fn hold_locks(app: &TestApp, names: &[String]) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(app.db.url(), NoTls).await.unwrap();
    tokio::spawn(connection);
    client.batch_execute("BEGIN").await.unwrap();
    for name in names {
        client.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", &[name]).await.unwrap();
    }
    client
}

fn payment_stream_lock(app: &TestApp, payment: &Value) -> String {
    format!("{}/payment-{}", app.tenant_id, payment["id"].as_str().unwrap())
}

#[tokio::test]
async fn a_command_wakes_listeners_once_it_has_committed() {
    let app = spawn_app().await;
    let mut notifications = listen(app.db.url()).await;
    let payment = app.create_payment(100).await;
    let channel = tokio::time::timeout(Duration::from_secs(5), notifications.recv())
        .await
        .expect("a committed command is announced")
        .unwrap();
    assert_eq!(channel, payledger_store::NOTIFY_CHANNEL);
    let client = app.pool.get().await.unwrap();
    let stream_id = format!("payment-{}", payment["id"].as_str().unwrap());
    let visible: i64 =
        client.query_one("SELECT count(*) FROM events WHERE stream_id = $1", &[&stream_id]).await.unwrap().get(0);
    assert_eq!(visible, 1, "what the notification announces is committed");
}

#[tokio::test]
async fn a_refused_command_notifies_nobody() {
    let app = spawn_app().await;
    let payment = app.create_payment(100).await;
    let mut notifications = listen(app.db.url()).await;
    // The create's notification may still be on its way: let it land, then drop it.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while notifications.try_recv().is_ok() {}
    let path = format!("/v1/payments/{}/capture", payment["id"].as_str().unwrap());
    let r = app.request(Method::POST, &path, Some(app.key("writer")), Some(&json!({"amount": 50})), Some("k")).await;
    assert_eq!(r.status(), 422, "not authorized yet: the command rolls back");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(notifications.try_recv().is_err(), "a rolled-back command announced something");
}

/// The claim and the stream's lock are pipelined: a key held by a request still running is
/// refused as soon as the claim answers, not after the stream's lock wait behind it.
#[tokio::test]
async fn a_key_in_flight_is_refused_at_once_while_its_stream_is_locked() {
    let app = spawn_app().await;
    let payment = app.create_payment(100).await;
    let key_lock = format!("idempotency/{}/auth-1", app.tenant_id);
    let holder = hold_locks(&app, &[key_lock, payment_stream_lock(&app, &payment)]).await;
    let path = format!("/v1/payments/{}/authorize", payment["id"].as_str().unwrap());
    let started = Instant::now();
    let r = app.request(Method::POST, &path, Some(app.key("writer")), Some(&json!({})), Some("auth-1")).await;
    let elapsed = started.elapsed();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("idempotency_key_in_use")), "{body}");
    assert!(elapsed < Duration::from_secs(2), "waited {elapsed:?} for the stream (its lock timeout is 5 s)");
    holder.batch_execute("ROLLBACK").await.unwrap();
    // The refused attempt recorded nothing: the same key now does the work.
    let r = app.request(Method::POST, &path, Some(app.key("writer")), Some(&json!({})), Some("auth-1")).await;
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("idempotent-replayed").is_none());
}

/// A stream locked past the lock timeout is still `resource_busy`, not the aborted
/// transaction the pipelined statements after the lock report.
#[tokio::test]
async fn a_busy_stream_is_still_a_lock_timeout_with_a_key() {
    let app = spawn_app_with(ApiConfig { stream_lock_timeout_ms: 200, ..ApiConfig::default() }).await;
    let payment = app.create_payment(100).await;
    let holder = hold_locks(&app, &[payment_stream_lock(&app, &payment)]).await;
    let path = format!("/v1/payments/{}/authorize", payment["id"].as_str().unwrap());
    let r = app.request(Method::POST, &path, Some(app.key("writer")), Some(&json!({})), Some("auth-2")).await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "resource_busy", "{status} {body}");
    holder.batch_execute("ROLLBACK").await.unwrap();
    let r = app.request(Method::POST, &path, Some(app.key("writer")), Some(&json!({})), Some("auth-2")).await;
    assert_eq!(r.status(), 200, "the timed-out attempt left the key unclaimed");
}

/// Webhook ingest and interpretation append through `append_in_tx` too, and notify after
/// their commits.
#[tokio::test]
async fn a_webhook_delivery_wakes_listeners() {
    use crate::webhooks::support::{create_endpoint, deliver, id_of, stripe_event, stripe_headers, STRIPE_SECRET};
    let app = spawn_app().await;
    let endpoint_id = id_of(&create_endpoint(&app, "stripe", Some(STRIPE_SECRET)).await);
    let payment = app.create_payment(2000).await;
    let body = stripe_event("payment_intent.succeeded", payment["provider_reference"].as_str().unwrap(), "n");
    let mut notifications = listen(app.db.url()).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    while notifications.try_recv().is_ok() {}
    let (status, answer) = deliver(&app, "stripe", &endpoint_id, &stripe_headers(STRIPE_SECRET, &body), &body).await;
    assert_eq!(status, 200, "{answer}");
    tokio::time::timeout(Duration::from_secs(5), notifications.recv()).await.expect("the delivery is announced");
}
