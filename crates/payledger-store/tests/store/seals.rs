//! Seals over the read order: when one is written, what it covers, and that concurrent
//! writers with slow transactions and concurrent sealers leave every event in exactly one seal.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use payledger_store::seal::{seal_pending, verify_seals, SealFault, SealPolicy};
use payledger_store::{append, append_in_tx, BatchItem, ExpectedVersion, NewEvent, StreamKey};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

fn event(n: i64) -> Vec<NewEvent> {
    vec![NewEvent::new("Tested", 1, json!({ "n": n }))]
}

/// Seals until nothing waits; another test's open transaction (the snapshot xmin is
/// cluster-wide) may hold events back for a moment, so it retries until `total` are sealed.
async fn seal_everything(db: &TestDb, every_events: i64, total: i64) {
    let mut client = db.connect().await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        while seal_pending(&mut client, SealPolicy::now(every_events)).await.unwrap().is_some() {}
        let sealed: i64 =
            client.query_one("SELECT coalesce(sum(event_count), 0)::bigint FROM seals", &[]).await.unwrap().get(0);
        if sealed >= total {
            assert_eq!(sealed, total, "no event sealed twice");
            return;
        }
        assert!(std::time::Instant::now() < deadline, "events stayed unsealed: {sealed} of {total}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_seal_waits_for_enough_events_unless_the_newest_is_old_enough() {
    let db = TestDb::new().await;
    let pool = db.pool(2);
    let mut client = db.connect().await;
    let tenant = Uuid::new_v4();
    for n in 0..3 {
        append(&pool, &StreamKey::new(tenant, "order-a"), ExpectedVersion::Any, event(n)).await.unwrap();
    }
    seal_everything(&db, 10, 3).await;
    // Usually one seal; two if another test's open transaction held an event back meanwhile.
    let before: i64 = client.query_one("SELECT count(*) FROM seals", &[]).await.unwrap().get(0);
    append(&pool, &StreamKey::new(tenant, "order-a"), ExpectedVersion::Any, event(3)).await.unwrap();
    let patient = SealPolicy { every_events: 2, max_age: Duration::from_secs(3600) };
    // One event waits, two are needed, and the newest seal is young: nothing.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    assert!(seal_pending(&mut client, patient).await.unwrap().is_none());
    append(&pool, &StreamKey::new(tenant, "order-b"), ExpectedVersion::Any, event(4)).await.unwrap();
    let seal = loop {
        if let Some(seal) = seal_pending(&mut client, patient).await.unwrap() {
            break seal;
        }
        assert!(std::time::Instant::now() < deadline, "two waiting events were not sealed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((seal.seal_number, seal.event_count, seal.tenant_count), (before + 1, 2, 1));
    append(&pool, &StreamKey::new(tenant, "order-b"), ExpectedVersion::Any, event(5)).await.unwrap();
    let eager = SealPolicy { every_events: 100, max_age: Duration::ZERO };
    let seal = loop {
        if let Some(seal) = seal_pending(&mut client, eager).await.unwrap() {
            break seal;
        }
        assert!(std::time::Instant::now() < deadline, "an old seal did not let one event be sealed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!((seal.seal_number, seal.event_count), (before + 2, 1));
    assert_eq!(seal.prev_hash.len(), 32);
    let report = verify_seals(&pool, None).await.unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.seals_checked, report.events_sealed, report.unsealed_events), (before as u64 + 2, 6, 0));
}

/// 20 writers on one stream and on streams of their own, a third of them holding their
/// transaction open, while two sealers seal every 5 events: every event ends in exactly one
/// seal, and every seal verifies. A sealer that read past a running transaction would seal a
/// range the slow transaction's event later lands in, and that seal would fail to verify.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sealing_under_concurrent_slow_writers_covers_every_event_exactly_once() {
    let db = TestDb::new().await;
    let pool = db.pool(24);
    let tenants = [Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4()];
    let writing = Arc::new(AtomicBool::new(true));
    let mut sealers = Vec::new();
    for _ in 0..2 {
        let (url, writing) = (db.url().to_owned(), writing.clone());
        sealers.push(tokio::spawn(async move {
            let (mut client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let mut written = 0;
            while writing.load(Ordering::SeqCst) {
                while seal_pending(&mut client, SealPolicy::now(5)).await.unwrap().is_some() {
                    written += 1;
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            written
        }));
    }
    let mut writers = Vec::new();
    for w in 0..20i64 {
        let pool = pool.clone();
        let tenant = tenants[w as usize % tenants.len()];
        writers.push(tokio::spawn(async move {
            for n in 0..10i64 {
                let stream = if n % 2 == 0 { "order-shared".to_owned() } else { format!("order-{w}") };
                let mut client = pool.get().await.unwrap();
                let tx = client.transaction().await.unwrap();
                let items = [BatchItem {
                    stream: StreamKey::new(tenant, stream),
                    expected: ExpectedVersion::Any,
                    events: event(w * 100 + n),
                }];
                append_in_tx(&tx, &items).await.unwrap();
                if w % 3 == 0 {
                    // Slow: its position is taken, its commit comes much later.
                    tokio::time::sleep(Duration::from_millis(30 + (n as u64 * 7) % 40)).await;
                }
                tx.commit().await.unwrap();
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    writing.store(false, Ordering::SeqCst);
    let seals_by_sealers: i32 = futures::future::join_all(sealers).await.into_iter().map(|r| r.unwrap()).sum();
    assert!(seals_by_sealers > 5, "the sealers ran while the writers wrote ({seals_by_sealers} seals)");
    seal_everything(&db, 5, 200).await;

    let client = db.connect().await;
    // Each seal's range, recounted from the events: together they are every event, once.
    let rows = client
        .query(
            "SELECT s.seal_number, s.event_count,
                    (SELECT count(*) FROM events e
                     WHERE (e.tx_id, e.global_position) > (coalesce(p.to_tx_id, '0'::xid8), coalesce(p.to_position, 0))
                       AND (e.tx_id, e.global_position) <= (s.to_tx_id, s.to_position))
             FROM seals s LEFT JOIN seals p ON p.seal_number = s.seal_number - 1 ORDER BY s.seal_number",
            &[],
        )
        .await
        .unwrap();
    for row in &rows {
        let (number, sealed, there): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        assert_eq!(sealed, there, "seal {number} covers {there} events but sealed {sealed}");
    }
    let report = verify_seals(&pool, None).await.unwrap();
    assert!(report.is_intact(), "{:?}", report.broken);
    assert_eq!((report.events_sealed, report.unsealed_events), (200, 0));
    for tenant in tenants {
        let report = verify_seals(&pool, Some(tenant)).await.unwrap();
        assert!(report.is_intact(), "{tenant}: {:?}", report.broken);
    }
}

/// A superuser's deletion of a whole stream (triggers off) is invisible to the chains but
/// breaks the seal that covered it, for the whole history and for its tenant; the other
/// tenant's part stays intact.
#[tokio::test]
async fn a_deleted_stream_breaks_its_seal() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    for n in 0..6 {
        let tenant = if n % 2 == 0 { a } else { b };
        append(&pool, &StreamKey::new(tenant, format!("order-{}", n % 3)), ExpectedVersion::Any, event(n))
            .await
            .unwrap();
    }
    seal_everything(&db, 100, 6).await;
    let client = db.connect().await;
    // The seals (one, or more if an event was held back while sealing) holding order-2's events.
    let holding: Vec<i64> = client
        .query(
            "SELECT s.seal_number FROM seals s LEFT JOIN seals p ON p.seal_number = s.seal_number - 1
             WHERE EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = $1 AND e.stream_id = 'order-2'
                 AND (e.tx_id, e.global_position) > (coalesce(p.to_tx_id, '0'::xid8), coalesce(p.to_position, 0))
                 AND (e.tx_id, e.global_position) <= (s.to_tx_id, s.to_position))
             ORDER BY 1",
            &[&a],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(!holding.is_empty());
    client
        .batch_execute(&format!(
            "ALTER TABLE events DISABLE TRIGGER USER;
             DELETE FROM events WHERE tenant_id = '{a}' AND stream_id = 'order-2';
             ALTER TABLE events ENABLE TRIGGER USER;"
        ))
        .await
        .unwrap();
    let report = verify_seals(&pool, None).await.unwrap();
    let broken: Vec<(i64, SealFault)> = report.broken.iter().map(|b| (b.seal_number, b.fault)).collect();
    let expected: Vec<(i64, SealFault)> = holding.iter().map(|n| (*n, SealFault::TenantEventsDiffer)).collect();
    assert_eq!(broken, expected, "{:?}", report.broken);
    assert!(report.broken[0].detail.contains(&a.to_string()), "{}", report.broken[0].detail);
    let of_a = verify_seals(&pool, Some(a)).await.unwrap();
    assert_eq!(of_a.broken.iter().map(|b| (b.seal_number, b.fault)).collect::<Vec<_>>(), expected);
    assert!(verify_seals(&pool, Some(b)).await.unwrap().is_intact(), "b's part is untouched");
}
