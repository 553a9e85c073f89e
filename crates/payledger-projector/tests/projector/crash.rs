//! The projector killed mid-batch (its task aborted while a batch transaction is open) and
//! restarted: nothing is applied twice or skipped, the read-models equal a fresh fold.

use std::time::{Duration, Instant};

use crate::support::*;
use payledger_projector::{ensure_initialized, verify, VerifyOptions};
use payledger_store::Checkpoint;
use payledger_testkit::TestDb;
use rand::Rng;

/// Waits until this database has (`present`) or has not a projector backend blocked on a lock.
async fn projector_blocked(client: &tokio_postgres::Client) -> bool {
    client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database()
                AND application_name = 'payledger-projector' AND wait_event_type = 'Lock')",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

async fn projector_backends(client: &tokio_postgres::Client) -> i64 {
    client
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                AND application_name = 'payledger-projector'",
            &[],
        )
        .await
        .unwrap()
        .get(0)
}

/// A batch stopped after it wrote some rows (a table lock blocks a later statement), then
/// the projector is aborted: the batch rolls back entirely; a restart applies it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_aborted_mid_way_leaves_nothing_and_is_applied_once_after_restart() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let mut workload = Workload::new(41, 2);
    workload.run(&pool, 600).await;
    let mut blocker = db.connect().await;
    ensure_initialized(&mut blocker).await.unwrap();
    let s = live_schema(&pool).await;

    for table in ["orders", "journal_entries", "account_balances"] {
        let lock = blocker.transaction().await.unwrap();
        lock.batch_execute(&format!("LOCK TABLE {s}.{table} IN ACCESS EXCLUSIVE MODE")).await.unwrap();
        let projector = spawn_projector(db.url());
        let watcher = db.connect().await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while !projector_blocked(&watcher).await {
            assert!(Instant::now() < deadline, "the projector never reached {table}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        // Batches before the blocked one may have committed; the blocked one has not.
        let before = live(&pool).await.1;
        projector.abort();
        let _ = projector.await;
        lock.commit().await.unwrap();
        // The aborted batch's backend ends (its client is gone) without committing.
        let deadline = Instant::now() + Duration::from_secs(30);
        while projector_backends(&watcher).await > 0 {
            assert!(Instant::now() < deadline, "the aborted projector's backend lingers");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(live(&pool).await.1, before, "an aborted batch moved the checkpoint");
        if before == Checkpoint::START {
            let rows: i64 = watcher.query_one(&format!("SELECT count(*) FROM {s}.{table}"), &[]).await.unwrap().get(0);
            assert_eq!(rows, 0, "an aborted batch left rows in {table}");
        }
        // Let one run apply a few batches before the next round.
        let projector = spawn_projector(db.url());
        let deadline = Instant::now() + Duration::from_secs(30);
        while live(&pool).await.1 == before {
            assert!(Instant::now() < deadline, "the restarted projector made no progress");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        projector.abort();
        let _ = projector.await;
    }

    // Restarted for good: the real task (leadership, resume from the checkpoint) catches up.
    let projector = spawn_projector(db.url());
    wait_projected(&pool).await;
    projector.abort();
    assert_matches_oracle(&pool).await;
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
}

/// Aborted at random moments while commands keep arriving, restarted each time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn aborted_at_random_moments_under_load_then_caught_up_equals_a_fresh_fold() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let writer_pool = pool.clone();
    let writer = tokio::spawn(async move {
        let mut workload = Workload::new(43, 2);
        workload.run(&writer_pool, 1_500).await;
    });
    let mut rng = rand::thread_rng();
    let mut kills = 0;
    while !writer.is_finished() || kills < 10 {
        let projector = spawn_projector(db.url());
        // The kill moment is what is random here; nothing waits on it.
        tokio::time::sleep(Duration::from_millis(rng.gen_range(5..80))).await;
        projector.abort();
        let _ = projector.await;
        kills += 1;
    }
    writer.await.unwrap();
    // Restarted for good: the real task (leadership, resume from the checkpoint) catches up.
    let projector = spawn_projector(db.url());
    wait_projected(&pool).await;
    projector.abort();
    assert_matches_oracle(&pool).await;
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
}
