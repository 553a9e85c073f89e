//! The per-stream hash chain, recomputed from stored rows alone.

use payledger_store::{append, verify_chains, ExpectedVersion, LinkFault, NewEvent, StreamKey};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn a_clean_store_verifies_and_an_altered_row_is_named() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let tenant = Uuid::now_v7();
    for s in ["payment-1", "payment-2"] {
        let key = StreamKey::new(tenant, s);
        for n in 0..5 {
            // Shapes that jsonb normalises: key order, whitespace, unicode, floats, nesting.
            let payload = json!({"z": n, "a": {"nested": [1, 2.5, "é\u{1F600}"], "n": null}, "amount_minor": 1000 + n});
            let meta = json!({"source": "api", "request_id": format!("req-{n}")});
            let event = NewEvent::new("Tested", 1, payload).with_metadata(meta);
            append(&pool, &key, ExpectedVersion::Any, vec![event]).await.unwrap();
        }
    }
    let client = pool.get().await.unwrap();
    let clean = verify_chains(&**client, None).await.unwrap();
    assert!(clean.is_intact(), "{clean:?}");
    assert_eq!(clean.events_checked, 10);
    assert_eq!(clean.streams_checked, 2);

    // A superuser bypasses the triggers and changes one amount.
    client
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER USER;
             UPDATE events SET payload = jsonb_set(payload, '{amount_minor}', '999999')
              WHERE stream_id = 'payment-2' AND stream_version = 3;
             ALTER TABLE events ENABLE TRIGGER USER;",
        )
        .await
        .unwrap();
    let report = verify_chains(&**client, None).await.unwrap();
    assert_eq!(report.broken.len(), 1, "{report:?}");
    let broken = &report.broken[0];
    assert_eq!((broken.stream_id.as_str(), broken.stream_version), ("payment-2", 3));
    assert_eq!(broken.fault, LinkFault::HashMismatch);
}

#[tokio::test]
async fn a_deleted_event_breaks_the_link_after_it() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let key = StreamKey::new(Uuid::now_v7(), "payment-x");
    for n in 0..4 {
        append(&pool, &key, ExpectedVersion::Any, vec![NewEvent::new("Tested", 1, json!({"n": n}))]).await.unwrap();
    }
    let client = pool.get().await.unwrap();
    client
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER USER;
             DELETE FROM events WHERE stream_id = 'payment-x' AND stream_version = 2;
             ALTER TABLE events ENABLE TRIGGER USER;",
        )
        .await
        .unwrap();
    let report = verify_chains(&**client, None).await.unwrap();
    assert_eq!(report.broken.len(), 1);
    assert_eq!(report.broken[0].stream_version, 3);
    assert_eq!(report.broken[0].fault, LinkFault::VersionGap);
}
