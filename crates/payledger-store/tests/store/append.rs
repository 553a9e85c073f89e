//! Appending: expected versions, atomicity, concurrency, dedupe keys, immutability.

use std::collections::BTreeSet;
use std::sync::Arc;

use payledger_store::{append, append_batch, read_stream, BatchItem, ExpectedVersion, NewEvent, StoreError, StreamKey};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

fn event(n: i64) -> NewEvent {
    NewEvent::new("Tested", 1, json!({ "n": n }))
}

fn stream(name: &str) -> StreamKey {
    StreamKey::new(Uuid::nil(), name)
}

#[tokio::test]
async fn appends_and_reads_back_in_version_order() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let s = stream("payment-a");
    let out = append(&pool, &s, ExpectedVersion::NoStream, vec![event(1), event(2)]).await.unwrap();
    assert_eq!(out.version_of("payment-a"), Some(2));
    append(&pool, &s, ExpectedVersion::Exact(2), vec![event(3)]).await.unwrap();
    append(&pool, &s, ExpectedVersion::Any, vec![event(4)]).await.unwrap();

    let client = pool.get().await.unwrap();
    let events = read_stream(&**client, &s, 1, 100).await.unwrap();
    let versions: Vec<i64> = events.iter().map(|e| e.stream_version).collect();
    let ns: Vec<i64> = events.iter().map(|e| e.payload["n"].as_i64().unwrap()).collect();
    assert_eq!(versions, vec![1, 2, 3, 4]);
    assert_eq!(ns, vec![1, 2, 3, 4]);
    let from_three = read_stream(&**client, &s, 3, 100).await.unwrap();
    assert_eq!(from_three.len(), 2);
}

#[tokio::test]
async fn wrong_expected_version_is_a_typed_conflict() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let s = stream("payment-b");
    append(&pool, &s, ExpectedVersion::NoStream, vec![event(1)]).await.unwrap();

    let again = append(&pool, &s, ExpectedVersion::NoStream, vec![event(2)]).await;
    assert!(matches!(again, Err(StoreError::Conflict { actual: Some(1), .. })), "{again:?}");
    let stale = append(&pool, &s, ExpectedVersion::Exact(5), vec![event(2)]).await;
    assert!(matches!(stale, Err(StoreError::Conflict { actual: Some(1), .. })), "{stale:?}");
    let missing = append(&pool, &stream("nope"), ExpectedVersion::Exact(1), vec![event(2)]).await;
    assert!(matches!(missing, Err(StoreError::Conflict { actual: None, .. })), "{missing:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_writers_with_the_same_expected_version_one_wins() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let s = stream("payment-race");
    append(&pool, &s, ExpectedVersion::NoStream, vec![event(0)]).await.unwrap();

    // Repeat the race to make the interleavings vary; every round exactly one must win.
    for round in 1..=20 {
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let (pool, s, barrier) = (pool.clone(), s.clone(), barrier.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    append(&pool, &s, ExpectedVersion::Exact(round), vec![event(round)]).await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => wins += 1,
                Err(StoreError::Conflict { .. }) => {}
                Err(other) => panic!("unexpected error: {other}"),
            }
        }
        assert_eq!(wins, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_tasks_on_one_stream_get_versions_without_gap_or_duplicate() {
    let db = TestDb::new().await;
    let pool = db.pool(20);
    let s = stream("payment-busy");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (pool, s) = (pool.clone(), s.clone());
            tokio::spawn(async move {
                // Each task reloads and retries on conflict, as a command handler does.
                for _attempt in 0..200 {
                    let head = {
                        let client = pool.get().await.unwrap();
                        payledger_store::stream_head(&**client, &s).await.unwrap()
                    };
                    let expected = head.map_or(ExpectedVersion::NoStream, ExpectedVersion::Exact);
                    match append(&pool, &s, expected, vec![event(i)]).await {
                        Ok(out) => return out.version_of(&s.stream_id).unwrap(),
                        Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(other) => panic!("unexpected: {other}"),
                    }
                }
                panic!("task {i} never got its turn")
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap());
    }
    versions.sort();
    assert_eq!(versions, (1..=50).collect::<Vec<i64>>());

    let client = pool.get().await.unwrap();
    let stored = read_stream(&**client, &s, 1, 1000).await.unwrap();
    let payloads: BTreeSet<i64> = stored.iter().map(|e| e.payload["n"].as_i64().unwrap()).collect();
    assert_eq!(stored.len(), 50);
    assert_eq!(payloads, (0..50).collect());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_any_version_appends_queue_up() {
    let db = TestDb::new().await;
    let pool = db.pool(20);
    let s = stream("inbox-1");
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (pool, s) = (pool.clone(), s.clone());
            tokio::spawn(async move { append(&pool, &s, ExpectedVersion::Any, vec![event(i)]).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let client = pool.get().await.unwrap();
    let versions: Vec<i64> =
        read_stream(&**client, &s, 1, 1000).await.unwrap().iter().map(|e| e.stream_version).collect();
    assert_eq!(versions, (1..=50).collect::<Vec<i64>>());
}

#[tokio::test]
async fn a_batch_is_all_or_nothing_when_one_stream_conflicts() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    append(&pool, &stream("s-2"), ExpectedVersion::NoStream, vec![event(0)]).await.unwrap();

    let batch = vec![
        BatchItem { stream: stream("s-1"), expected: ExpectedVersion::NoStream, events: vec![event(1), event(2)] },
        BatchItem { stream: stream("s-2"), expected: ExpectedVersion::NoStream, events: vec![event(3)] },
        BatchItem { stream: stream("s-3"), expected: ExpectedVersion::Any, events: vec![event(4)] },
    ];
    let result = append_batch(&pool, batch).await;
    assert!(matches!(result, Err(StoreError::Conflict { ref stream_id, .. }) if stream_id == "s-2"), "{result:?}");

    let client = pool.get().await.unwrap();
    let count: i64 = client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
    assert_eq!(count, 1, "nothing of the failed batch was written");

    let ok = vec![
        BatchItem { stream: stream("s-1"), expected: ExpectedVersion::NoStream, events: vec![event(1), event(2)] },
        BatchItem { stream: stream("s-2"), expected: ExpectedVersion::Exact(1), events: vec![event(3)] },
    ];
    let out = append_batch(&pool, ok).await.unwrap();
    assert_eq!(out.events.len(), 3);
    assert_eq!(out.version_of("s-1"), Some(2));
    assert_eq!(out.version_of("s-2"), Some(2));
}

#[tokio::test]
async fn a_dedupe_key_is_recorded_once_per_tenant() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let s = stream("inbox");
    append(&pool, &s, ExpectedVersion::Any, vec![event(1).with_dedupe_key("evt_1")]).await.unwrap();
    let again = append(&pool, &s, ExpectedVersion::Any, vec![event(2).with_dedupe_key("evt_1")]).await;
    assert!(matches!(again, Err(StoreError::Duplicate { ref dedupe_key }) if dedupe_key == "evt_1"), "{again:?}");
    // Another tenant may use the same provider id.
    let other = StreamKey::new(Uuid::now_v7(), "inbox");
    append(&pool, &other, ExpectedVersion::Any, vec![event(3).with_dedupe_key("evt_1")]).await.unwrap();
}

/// In a batch over two tenants, each event's key is checked in its own stream's tenant: the
/// key tenant A holds does not stop tenant B's event, and B's own key stops the whole batch.
#[tokio::test]
async fn a_batch_checks_each_dedupe_key_in_its_own_tenant() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let (tenant_a, tenant_b) = (Uuid::now_v7(), Uuid::now_v7());
    let in_a = StreamKey::new(tenant_a, "inbox");
    let in_b = StreamKey::new(tenant_b, "inbox");
    append(&pool, &in_a, ExpectedVersion::Any, vec![event(1).with_dedupe_key("held-by-a")]).await.unwrap();
    append(&pool, &in_b, ExpectedVersion::Any, vec![event(2).with_dedupe_key("held-by-b")]).await.unwrap();

    let batch = |key_in_b: &str| {
        vec![
            BatchItem { stream: in_a.clone(), expected: ExpectedVersion::Any, events: vec![event(3), event(4)] },
            BatchItem {
                stream: in_b.clone(),
                expected: ExpectedVersion::Any,
                events: vec![event(5).with_dedupe_key("fresh"), event(6).with_dedupe_key(key_in_b)],
            },
        ]
    };
    let refused = append_batch(&pool, batch("held-by-b")).await;
    assert!(
        matches!(refused, Err(StoreError::Duplicate { ref dedupe_key }) if dedupe_key == "held-by-b"),
        "{refused:?}"
    );
    let client = pool.get().await.unwrap();
    let count_sql = "SELECT count(*) FROM events";
    assert_eq!(client.query_one(count_sql, &[]).await.unwrap().get::<_, i64>(0), 2, "nothing of the refused batch");

    append_batch(&pool, batch("held-by-a")).await.unwrap();
    assert_eq!(client.query_one(count_sql, &[]).await.unwrap().get::<_, i64>(0), 6);
}

#[tokio::test]
async fn events_refuse_update_delete_and_truncate() {
    let db = TestDb::new().await;
    let pool = db.pool(2);
    append(&pool, &stream("s"), ExpectedVersion::NoStream, vec![event(1)]).await.unwrap();
    let client = pool.get().await.unwrap();
    for sql in [
        "UPDATE events SET payload = '{}'",
        "UPDATE events SET payload = '{}' WHERE false",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let err = client.batch_execute(sql).await.expect_err(sql);
        let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
        assert!(message.contains("events are immutable"), "{sql}: {message}");
    }
    let count: i64 = client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
    assert_eq!(count, 1);
}

#[tokio::test]
async fn empty_and_oversized_appends_are_refused() {
    let db = TestDb::new().await;
    let pool = db.pool(2);
    let empty = append(&pool, &stream("s"), ExpectedVersion::Any, vec![]).await;
    assert!(matches!(empty, Err(StoreError::InvalidAppend(_))));
    let many = (0..=payledger_store::APPEND_MAX_EVENTS as i64).map(event).collect();
    let too_many = append(&pool, &stream("s"), ExpectedVersion::Any, many).await;
    assert!(matches!(too_many, Err(StoreError::InvalidAppend(_))));
}

/// Two batches race for one stream, both having checked its head before either committed:
/// the loser fails on the unique (stream, version) key, and the conflict names that stream,
/// not the first stream of its batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_lost_on_the_unique_key_names_the_stream_that_conflicted() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let mut first = pool.get().await.unwrap();
    let first_tx = first.transaction().await.unwrap();
    let winner = vec![BatchItem { stream: stream("s-2"), expected: ExpectedVersion::NoStream, events: vec![event(1)] }];
    payledger_store::append_in_tx(&first_tx, &winner).await.unwrap();

    // Sees no s-2 yet (not committed), passes its check, then waits on the unique index.
    let loser = tokio::spawn({
        let pool = pool.clone();
        async move {
            let batch = vec![
                BatchItem { stream: stream("s-1"), expected: ExpectedVersion::NoStream, events: vec![event(2)] },
                BatchItem { stream: stream("s-2"), expected: ExpectedVersion::NoStream, events: vec![event(3)] },
            ];
            append_batch(&pool, batch).await
        }
    });
    let observer = pool.get().await.unwrap();
    let mut seen_waiting = false;
    for _ in 0..500 {
        let waiting: i64 = observer
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            seen_waiting = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(seen_waiting, "the loser never waited on the unique index");
    first_tx.commit().await.unwrap();
    let result = loser.await.unwrap();
    // `actual: None` is the unique-key path (the head check would have seen version 1).
    assert!(
        matches!(result, Err(StoreError::Conflict { ref stream_id, actual: None, .. }) if stream_id == "s-2"),
        "{result:?}"
    );
    let count: i64 = observer.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get(0);
    assert_eq!(count, 1, "the loser's batch left nothing");
}
