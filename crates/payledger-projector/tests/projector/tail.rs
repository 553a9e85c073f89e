//! The live tail: gap-free under a slow writer, read-your-writes waits, projection status,
//! and an undecodable event of a payment stream stops the projector instead of being skipped.

use std::time::{Duration, Instant};

use crate::support::*;
use payledger_core::{DomainEvent, OrderId};
use payledger_projector::{projection_status, wait_for_position, WaitOutcome};
use payledger_store::{append, append_in_tx, BatchItem, ExpectedVersion, NewEvent, StreamKey};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

fn order_created(tenant: Uuid) -> (StreamKey, NewEvent, OrderId) {
    let id = OrderId::new();
    let event = payledger_core::order::decide(
        &None,
        payledger_core::order::OrderCommand::Create {
            order_id: id,
            amount_minor: payledger_core::AmountMinor::new(500).unwrap(),
            currency: payledger_core::Currency::USD,
            reference: "R".into(),
            metadata: json!({}),
            at: chrono::Utc::now(),
        },
    )
    .unwrap()
    .remove(0);
    (StreamKey::new(tenant, id.stream_id()), encode(&DomainEvent::Order(event)), id)
}

async fn order_count(pool: &deadpool_postgres::Pool) -> i64 {
    let s = live_schema(pool).await;
    let client = pool.get().await.unwrap();
    client.query_one(&format!("SELECT count(*) FROM {s}.orders"), &[]).await.unwrap().get(0)
}

/// A writer holds its transaction open after appending; a later writer commits. The
/// projector must not pass the open one's event (it would never come back for it).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_writer_is_waited_for_not_skipped() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let tenant = Uuid::now_v7();
    let projector = spawn_projector(db.url());

    let mut slow = db.connect().await;
    let slow_tx = slow.transaction().await.unwrap();
    let (stream_a, event_a, _) = order_created(tenant);
    append_in_tx(
        &slow_tx,
        &[BatchItem { stream: stream_a, expected: ExpectedVersion::NoStream, events: vec![event_a] }],
    )
    .await
    .unwrap();
    let (stream_b, event_b, _) = order_created(tenant);
    let b = append(&pool, &stream_b, ExpectedVersion::NoStream, vec![event_b]).await.unwrap();

    // B is committed but behind A in the read order: it must wait (bounded look).
    let outcome = wait_for_position(&pool, b.checkpoint().position, Duration::from_millis(300)).await.unwrap();
    assert!(matches!(outcome, WaitOutcome::TimedOut { .. }), "{outcome:?}");

    slow_tx.commit().await.unwrap();
    let outcome = wait_for_position(&pool, b.checkpoint().position, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(outcome, WaitOutcome::Reached { .. }), "{outcome:?}");
    assert_eq!(order_count(&pool).await, 2);
    projector.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_your_writes_and_status_follow_the_projector() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let tenant = Uuid::now_v7();
    let (stream, event, _) = order_created(tenant);
    let written = append(&pool, &stream, ExpectedVersion::NoStream, vec![event]).await.unwrap();
    let position = written.checkpoint().position;

    // No projector: the wait is bounded and says so.
    let started = Instant::now();
    let outcome = wait_for_position(&pool, position, Duration::from_millis(200)).await.unwrap();
    assert!(matches!(outcome, WaitOutcome::TimedOut { live: None, .. }), "{outcome:?}");
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(wait_for_position(&pool, position + 1_000, Duration::from_millis(10)).await.is_err());

    let projector = spawn_projector(db.url());
    let outcome = wait_for_position(&pool, position, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(outcome, WaitOutcome::Reached { .. }), "{outcome:?}");
    assert_eq!(order_count(&pool).await, 1);
    let client = pool.get().await.unwrap();
    let status = projection_status(&**client).await.unwrap();
    assert_eq!(status[0].state, "live");
    assert_eq!(status[0].lag_events, 0);
    assert_eq!(status[0].checkpoint.map(|c| c.position), Some(position));
    assert_eq!(status[0].leader.as_ref().map(|l| l.instance_name.as_str()), Some("payledger-projector"));
    projector.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_undecodable_payment_event_parks_its_stream_instead_of_being_skipped() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let tenant = Uuid::now_v7();
    let (stream, event, _) = order_created(tenant);
    let first = append(&pool, &stream, ExpectedVersion::NoStream, vec![event]).await.unwrap();
    let bogus = StreamKey::new(tenant, format!("payment-{}", Uuid::now_v7()));
    append(&pool, &bogus, ExpectedVersion::NoStream, vec![NewEvent::new("PaymentTeleported", 1, json!({}))])
        .await
        .unwrap();
    let (stream, event, _) = order_created(tenant);
    let after = append(&pool, &stream, ExpectedVersion::NoStream, vec![event]).await.unwrap();

    let projector = spawn_projector(db.url());
    let reached = wait_for_position(&pool, first.checkpoint().position, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(reached, WaitOutcome::Reached { .. }), "{reached:?}");
    // Not skipped silently, and not stopping everyone: the stream is parked, the rest goes on.
    let passed = wait_for_position(&pool, after.checkpoint().position, Duration::from_secs(30)).await.unwrap();
    assert!(matches!(passed, WaitOutcome::Reached { .. }), "{passed:?}");
    let client = pool.get().await.unwrap();
    let status = projection_status(&**client).await.unwrap();
    assert_eq!(status[0].state, "degraded");
    assert_eq!(status[0].parked_streams.len(), 1);
    assert_eq!(status[0].parked_streams[0].stream_id, bogus.stream_id);
    assert_eq!(order_count(&pool).await, 2);
    projector.abort();
}
