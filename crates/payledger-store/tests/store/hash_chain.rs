//! The per-stream hash chain, recomputed from stored rows alone.

use payledger_store::{
    append, append_batch, verify_chains, BatchItem, ExpectedVersion, LinkFault, NewEvent, StreamKey,
};
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

#[tokio::test]
async fn json_that_jsonb_normalises_still_verifies() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let key = StreamKey::new(Uuid::now_v7(), "order-tricky");
    // Shapes whose text jsonb changes on storage: -0, exponents, trailing zeros, big
    // numbers, escapes, key order.
    for raw in [
        r#"{"x": -0, "y": -0.0, "z": 1e2, "w": 1.50, "v": 12345678901234567890123}"#,
        r#"{"b": "line\nbreak \u2028 \u00e9 \"q\"", "a": [1.0e-7, 0.1, 100000000000000000000.0]}"#,
        r#"{"nested": {"zz": {}, "a": []}, "": true, "é": null}"#,
    ] {
        let payload: serde_json::Value = serde_json::from_str(raw).unwrap();
        append(&pool, &key, ExpectedVersion::Any, vec![NewEvent::new("Tested", 1, payload)]).await.unwrap();
    }
    let client = pool.get().await.unwrap();
    let report = verify_chains(&**client, None).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.events_checked, 3);
}

#[tokio::test]
async fn a_nul_character_is_refused_as_invalid_data_and_nothing_is_written() {
    let db = TestDb::new().await;
    let pool = db.pool(2);
    let key = StreamKey::new(Uuid::now_v7(), "order-nul");
    let event = NewEvent::new("Tested", 1, json!({"reference": "a\u{0}b"}));
    let result = append(&pool, &key, ExpectedVersion::Any, vec![event]).await;
    assert!(matches!(result, Err(payledger_store::StoreError::InvalidData(_))), "{result:?}");
    let client = pool.get().await.unwrap();
    let count: i64 = client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
    assert_eq!(count, 0);
}

#[tokio::test]
async fn a_tampered_link_does_not_hide_a_later_one() {
    let db = TestDb::new().await;
    let pool = db.pool(2);
    let key = StreamKey::new(Uuid::now_v7(), "payment-y");
    for n in 0..5 {
        append(&pool, &key, ExpectedVersion::Any, vec![NewEvent::new("Tested", 1, json!({"n": n}))]).await.unwrap();
    }
    let client = pool.get().await.unwrap();
    client
        .batch_execute(
            "ALTER TABLE events DISABLE TRIGGER USER;
             UPDATE events SET payload = '{\"n\": 100}' WHERE stream_id = 'payment-y' AND stream_version IN (2, 4);
             ALTER TABLE events ENABLE TRIGGER USER;",
        )
        .await
        .unwrap();
    let report = verify_chains(&**client, None).await.unwrap();
    let versions: Vec<i64> = report.broken.iter().map(|b| b.stream_version).collect();
    assert_eq!(versions, vec![2, 4], "{report:?}");
}

/// The server-side append (migration V12) chains the hashes itself; the Rust `chain_hash`
/// stays the reference. Strings that JSON escapes (quotes, backslash, control characters)
/// and text beyond ASCII, in every hashed text field, in one batch and across appends.
#[tokio::test]
async fn hashes_chained_by_the_server_match_the_rust_reference_for_escaped_and_unicode_text() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let tenant = Uuid::now_v7();
    let odd = "q\"b\\s/ \u{1}\u{8}\t\n\u{c}\r\u{1f}\u{7f} é\u{2028}\u{1F600}";
    let streams = [format!("s-{odd}"), "plain".to_owned()];
    for round in 0..3 {
        let items: Vec<BatchItem> = streams
            .iter()
            .map(|s| {
                let events = (0..3)
                    .map(|n| {
                        let payload =
                            json!({odd: odd, "amount": 1.50, "big": 1e3, "n": n, "z": [-0.0, {"b": 1, "a": 2}]});
                        NewEvent::new(format!("T{odd}"), 1 + n, payload)
                            .with_metadata(json!({"m": odd}))
                            .with_dedupe_key(format!("{odd}:{s}:{round}:{n}"))
                    })
                    .collect();
                let expected = if round == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(round * 3) };
                BatchItem { stream: StreamKey::new(tenant, s.clone()), expected, events }
            })
            .collect();
        append_batch(&pool, items).await.unwrap();
    }
    let client = pool.get().await.unwrap();
    let report = verify_chains(&**client, None).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.events_checked, report.streams_checked), (18, 2));
}
