//! The gap-free reader: committed events exactly once, in (tx_id, position) order, even
//! while transactions that took earlier positions are still open.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use payledger_store::{
    append_in_tx, has_events_after, read_all, BatchItem, Checkpoint, ExpectedVersion, NewEvent, ReadAllFilter,
    StreamKey, Subscription,
};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

fn item(stream: &str, n: i64) -> Vec<BatchItem> {
    vec![BatchItem {
        stream: StreamKey::new(Uuid::nil(), stream),
        expected: ExpectedVersion::Any,
        events: vec![NewEvent::new("Tested", 1, json!({ "n": n }))],
    }]
}

/// The naive reader that this store exists to avoid.
async fn read_naive(client: &tokio_postgres::Client, after_position: i64) -> Vec<(i64, i64)> {
    client
        .query(
            "SELECT global_position, (payload->>'n')::bigint FROM events WHERE global_position > $1
             ORDER BY global_position",
            &[&after_position],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

/// Deterministic interleaving: A takes a position and stays open; B takes a later one and
/// commits; a reader looks; A commits. The naive reader skips A's event; the gap-free one
/// waits for A and then delivers both in commit-consistent order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_transaction_is_skipped_by_the_naive_reader_but_not_by_the_gap_free_one() {
    let db = TestDb::new().await;
    let mut writer_a = db.connect().await;
    let mut writer_b = db.connect().await;
    let reader = db.connect().await;

    let tx_a = writer_a.transaction().await.unwrap();
    append_in_tx(&tx_a, &item("a", 1)).await.unwrap();
    let tx_b = writer_b.transaction().await.unwrap();
    append_in_tx(&tx_b, &item("b", 2)).await.unwrap();
    tx_b.commit().await.unwrap();

    // Naive: sees B's event (position 2) and moves its checkpoint past A's position 1.
    let naive_first = read_naive(&reader, 0).await;
    assert_eq!(naive_first.iter().map(|r| r.1).collect::<Vec<_>>(), vec![2]);
    let naive_checkpoint = naive_first.last().unwrap().0;

    // Gap-free: A is still running, so nothing is safe to deliver yet... unless B's tx is
    // older than A's. It is not: A began writing first, so A's xid is smaller.
    let gap_free_first = read_all(&reader, Checkpoint::START, &ReadAllFilter::default(), 100).await.unwrap();
    assert!(gap_free_first.is_empty(), "B must wait for the older A: {gap_free_first:?}");

    tx_a.commit().await.unwrap();

    let naive_second = read_naive(&reader, naive_checkpoint).await;
    assert!(naive_second.is_empty(), "the naive reader skipped A's event for good");

    // Another test's open transaction (the xmin is cluster-wide) may hold both back a while.
    let gap_free = read_all_eventually(&reader, &ReadAllFilter::default(), 2).await;
    let ns: Vec<i64> = gap_free.iter().map(|e| e.payload["n"].as_i64().unwrap()).collect();
    assert_eq!(ns, vec![1, 2]);
}

/// Many writers, some holding their transaction open with pg_sleep after inserting, and a
/// reader tailing the whole time: every committed event exactly once and in read order.
/// The naive reader runs alongside on the same workload and must miss something.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_with_slow_transactions_are_read_exactly_once_in_order() {
    // The gap-free reader must be exact in every round. The naive reader's skip depends on
    // timing, so rounds repeat (at most 5) until it has been caught skipping at least once.
    for round in 1..=5 {
        if run_concurrent_round().await {
            return;
        }
        eprintln!("round {round}: the naive reader happened not to skip; again");
    }
    panic!("the naive position reader never skipped an event in 5 rounds of slow transactions");
}

/// One round; returns whether the naive reader skipped something.
async fn run_concurrent_round() -> bool {
    let db = TestDb::new().await;
    let pool = db.pool(24);
    const WRITERS: i64 = 12;
    const PER_WRITER: i64 = 15;
    let done = Arc::new(AtomicBool::new(false));

    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for i in 0..PER_WRITER {
                    let n = w * 1000 + i;
                    let mut client = pool.get().await.unwrap();
                    let tx = client.transaction().await.unwrap();
                    append_in_tx(&tx, &item(&format!("w-{w}"), n)).await.unwrap();
                    // Every third writer holds its transaction open after inserting.
                    if w % 3 == 0 {
                        tx.execute("SELECT pg_sleep(0.03)", &[]).await.unwrap();
                    }
                    tx.commit().await.unwrap();
                }
            })
        })
        .collect();

    let naive_pool = pool.clone();
    let naive_done = done.clone();
    let naive = tokio::spawn(async move {
        let client = naive_pool.get().await.unwrap();
        let mut seen = Vec::new();
        let mut checkpoint = 0;
        loop {
            let finished = naive_done.load(Ordering::SeqCst);
            for (position, n) in read_naive(&client, checkpoint).await {
                checkpoint = position;
                seen.push(n);
            }
            if finished {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });

    let reader_pool = pool.clone();
    let reader_done = done.clone();
    let reader = tokio::spawn(async move {
        let client = reader_pool.get().await.unwrap();
        let mut seen = Vec::new();
        let mut checkpoint = Checkpoint::START;
        loop {
            let finished = reader_done.load(Ordering::SeqCst);
            let batch = read_all(&**client, checkpoint, &ReadAllFilter::default(), 7).await.unwrap();
            for e in &batch {
                assert!(e.checkpoint() > checkpoint, "read order must strictly increase");
                checkpoint = e.checkpoint();
                seen.push(e.payload["n"].as_i64().unwrap());
            }
            // Done only when nothing at all lies beyond the checkpoint: an empty batch may just
            // mean events are held back behind an open transaction (of any test's database).
            if finished && batch.is_empty() && !has_events_after(&**client, checkpoint).await.unwrap() {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });

    for w in writers {
        w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let seen = reader.await.unwrap();
    let naive_seen = naive.await.unwrap();

    let expected: BTreeSet<i64> = (0..WRITERS).flat_map(|w| (0..PER_WRITER).map(move |i| w * 1000 + i)).collect();
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(seen.len(), expected.len(), "no duplicates");
    assert_eq!(unique, expected, "nothing skipped");

    // Within one writer, commit order is program order, so the reader must see it in order.
    for w in 0..WRITERS {
        let mine: Vec<i64> = seen.iter().copied().filter(|n| n / 1000 == w).collect();
        assert!(mine.windows(2).all(|p| p[0] < p[1]), "writer {w} out of order: {mine:?}");
    }

    let naive_unique: BTreeSet<i64> = naive_seen.iter().copied().collect();
    naive_unique.len() < expected.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_subscription_wakes_on_append_and_resumes_from_its_checkpoint() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    // A long poll interval: only NOTIFY (or the held-back re-poll, when another test's
    // transaction holds the cluster-wide snapshot xmin) can deliver within the timeout.
    let mut sub =
        Subscription::start(pool.clone(), db.url(), Checkpoint::START, 100, Duration::from_secs(60)).await.unwrap();
    let waiting = tokio::spawn(async move {
        let batch = sub.next_batch().await.unwrap();
        (batch, sub)
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    payledger_store::append_batch(&pool, item("s", 7)).await.unwrap();
    let (batch, mut sub) =
        tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("woken by NOTIFY").unwrap();
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].payload["n"], 7);

    payledger_store::append_batch(&pool, item("s", 8)).await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(10), sub.next_batch()).await.unwrap().unwrap();
    assert_eq!(next.iter().map(|e| e.payload["n"].as_i64().unwrap()).collect::<Vec<_>>(), vec![8]);
}

/// Reads until `expected` events are visible: the snapshot xmin is cluster-wide, so another
/// test's open transaction may briefly hold back events that are already committed.
async fn read_all_eventually(
    client: &tokio_postgres::Client,
    filter: &ReadAllFilter,
    expected: usize,
) -> Vec<payledger_store::RecordedEvent> {
    for _ in 0..500 {
        let events = read_all(client, Checkpoint::START, filter, 100).await.unwrap();
        if events.len() >= expected {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("events never became visible")
}

#[tokio::test]
async fn read_all_filters_by_tenant_stream_and_type() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let tenant = Uuid::now_v7();
    payledger_store::append_batch(&pool, item("s1", 1)).await.unwrap();
    payledger_store::append(
        &pool,
        &StreamKey::new(tenant, "s1"),
        ExpectedVersion::Any,
        vec![NewEvent::new("Other", 1, json!({"n": 2}))],
    )
    .await
    .unwrap();
    let client = pool.get().await.unwrap();
    let by_tenant = ReadAllFilter { tenant_id: Some(tenant), ..Default::default() };
    let all = read_all_eventually(&client, &ReadAllFilter::default(), 2).await;
    assert_eq!(all.len(), 2);
    let events = read_all(&**client, Checkpoint::START, &by_tenant, 100).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload["n"], 2);
    let by_type = ReadAllFilter { event_type: Some("Tested".into()), ..Default::default() };
    assert_eq!(read_all(&**client, Checkpoint::START, &by_type, 100).await.unwrap().len(), 1);
}

/// Transaction ids are numbers: 9 comes before 10 (and 99_999 before 100_000), whatever
/// their text says. Rows with small explicit `tx_id`s stand for two transactions on either
/// side of a digit boundary; the one that took the later position has the older id.
#[tokio::test]
async fn read_order_is_numeric_across_a_digit_boundary_of_transaction_ids() {
    let db = TestDb::new().await;
    let client = db.connect().await;
    for (tx_id, n) in [("10", 1_i64), ("9", 2), ("10", 3)] {
        client
            .execute(
                "INSERT INTO events (tx_id, event_id, tenant_id, stream_id, stream_version, event_type,
                                     schema_version, payload, recorded_at, prev_hash, hash)
                 VALUES ($1::text::xid8, $2, $3, 'digits', $4, 'Tested', 1, $5, now(),
                         decode(repeat('00', 32), 'hex'), decode(repeat('00', 32), 'hex'))",
                &[&tx_id, &Uuid::new_v4(), &Uuid::nil(), &n, &json!({ "n": n })],
            )
            .await
            .unwrap();
    }
    let n_of = |events: &[payledger_store::RecordedEvent]| -> Vec<i64> {
        events.iter().map(|e| e.payload["n"].as_i64().unwrap()).collect()
    };

    let all = read_all(&client, Checkpoint::START, &ReadAllFilter::default(), 100).await.unwrap();
    assert_eq!(n_of(&all), vec![2, 1, 3], "transaction 9 first, then 10 in position order");
    assert_eq!(all.iter().map(|e| e.tx_id).collect::<Vec<_>>(), vec![9, 10, 10]);

    // One event at a time, each read resuming after the last: the same three, once each.
    let mut checkpoint = Checkpoint::START;
    let mut one_by_one = Vec::new();
    loop {
        let batch = read_all(&client, checkpoint, &ReadAllFilter::default(), 1).await.unwrap();
        let Some(last) = batch.last() else { break };
        checkpoint = last.checkpoint();
        one_by_one.extend(n_of(&batch));
    }
    assert_eq!(one_by_one, vec![2, 1, 3]);
}

/// The store's appends NOTIFY after commit, at most one in flight per pool, a commit during
/// one owing another. With a 60 s poll interval only NOTIFY can wake the reader in time: a
/// commit left unannounced leaves it asleep with events unread.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coalesced_notifies_announce_every_commit_of_concurrent_writers() {
    let db = TestDb::new().await;
    let pool = db.pool(20);
    let listener = payledger_store::ChangeListener::listen(db.url()).await.unwrap();
    const WRITERS: usize = 16;
    const ROUNDS: usize = 30;
    let total = WRITERS * ROUNDS;
    let reader = {
        let pool = pool.clone();
        tokio::spawn(async move {
            let client = pool.get().await.unwrap();
            let mut checkpoint = Checkpoint::START;
            let mut seen = 0;
            while seen < total {
                let batch = read_all(&**client, checkpoint, &ReadAllFilter::default(), 1000).await.unwrap();
                if let Some(last) = batch.last() {
                    checkpoint = last.checkpoint();
                    seen += batch.len();
                    continue;
                }
                if has_events_after(&**client, checkpoint).await.unwrap() {
                    // Held back by another test's open transaction: look again soon.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                }
                listener.wait(Duration::from_secs(60)).await;
            }
            seen
        })
    };
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let pool = pool.clone();
            tokio::spawn(async move {
                for n in 0..ROUNDS {
                    // Pauses of 0–3 ms, so that commits land both during a NOTIFY and between.
                    tokio::time::sleep(Duration::from_micros(((w * 7 + n * 13) % 4) as u64 * 1000)).await;
                    payledger_store::append_batch(&pool, item(&format!("w{w}"), n as i64)).await.unwrap();
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap();
    }
    let seen = tokio::time::timeout(Duration::from_secs(15), reader).await.expect("every commit announced").unwrap();
    assert_eq!(seen, total);
    // The coalescer ends its task when nothing is owed.
    for _ in 0..500 {
        if !payledger_store::notify_in_flight(&pool) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("a NOTIFY stayed in flight");
}
