//! Idempotency records: fresh, replay, mismatch, in flight.

use payledger_store::idempotency::{claim, record, Claim, StoredResponse};
use payledger_testkit::TestDb;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

#[tokio::test]
async fn a_key_is_fresh_then_replayed_and_refused_for_another_request() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    let tenant = Uuid::now_v7();
    let response = StoredResponse { status: 201, body: json!({"id": "x"}), headers: json!({}) };

    let tx = client.transaction().await.unwrap();
    assert_eq!(claim(&tx, tenant, "k1", b"hash-a").await.unwrap(), Claim::Fresh);
    record(&tx, tenant, "k1", b"hash-a", &response, Duration::from_secs(3600)).await.unwrap();
    tx.commit().await.unwrap();

    let tx = client.transaction().await.unwrap();
    assert_eq!(claim(&tx, tenant, "k1", b"hash-a").await.unwrap(), Claim::Replay(response.clone()));
    assert_eq!(claim(&tx, tenant, "k1", b"hash-b").await.unwrap(), Claim::Mismatch);
    assert_eq!(claim(&tx, Uuid::now_v7(), "k1", b"hash-b").await.unwrap(), Claim::Fresh, "keys are per tenant");
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_key_held_by_a_running_transaction_is_in_flight() {
    let db = TestDb::new().await;
    let mut first = db.connect().await;
    let mut second = db.connect().await;
    let tenant = Uuid::now_v7();

    let tx1 = first.transaction().await.unwrap();
    assert_eq!(claim(&tx1, tenant, "k", b"h").await.unwrap(), Claim::Fresh);
    let tx2 = second.transaction().await.unwrap();
    assert_eq!(claim(&tx2, tenant, "k", b"h").await.unwrap(), Claim::InFlight);
    tx2.rollback().await.unwrap();

    // The first one rolls back without recording: the key is free again.
    tx1.rollback().await.unwrap();
    let tx2 = second.transaction().await.unwrap();
    assert_eq!(claim(&tx2, tenant, "k", b"h").await.unwrap(), Claim::Fresh);
}

#[tokio::test]
async fn expired_keys_are_fresh_and_pruned() {
    let db = TestDb::new().await;
    let mut client = db.connect().await;
    let tenant = Uuid::now_v7();
    let response = StoredResponse { status: 200, body: json!({}), headers: json!({}) };
    let tx = client.transaction().await.unwrap();
    record(&tx, tenant, "old", b"h", &response, Duration::from_secs(0)).await.unwrap();
    tx.commit().await.unwrap();

    let tx = client.transaction().await.unwrap();
    assert_eq!(claim(&tx, tenant, "old", b"other").await.unwrap(), Claim::Fresh);
    tx.rollback().await.unwrap();
    assert_eq!(payledger_store::idempotency::prune(&client, 100).await.unwrap(), 1);
}
