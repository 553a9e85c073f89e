//! Rebuild while commands keep arriving: the live read-models serve until the swap, the swap
//! loses nothing, and only one rebuild runs at a time.

use std::time::{Duration, Instant};

use crate::support::*;
use payledger_projector::{
    current_versions, projection_status, rebuild, verify, ProjectorError, Rebuild, RebuildOptions, VerifyOptions,
};
use payledger_testkit::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rebuild_under_load_swaps_without_losing_anything() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let projector = spawn_projector(db.url());
    let mut workload = Workload::new(61, 2);
    workload.run(&pool, 800).await;
    wait_projected(&pool).await;
    let (old_version, _) = live(&pool).await;

    let writer_pool = pool.clone();
    let writer = tokio::spawn(async move {
        workload.run(&writer_pool, 1_200).await;
        workload
    });
    let mut last_done = 0;
    let mut saw_building = false;
    let status_pool = pool.clone();
    let report = rebuild(db.url(), RebuildOptions { batch_size: 50, ..RebuildOptions::default() }, |p| {
        assert!(p.events_done >= last_done);
        assert!(p.events_total >= p.events_done);
        last_done = p.events_done;
        saw_building = true;
    })
    .await
    .unwrap();
    assert!(saw_building);
    assert_eq!(report.previous_version, Some(old_version));
    let (new_version, checkpoint) = live(&pool).await;
    assert_eq!(new_version, report.version);
    assert!(checkpoint >= report.checkpoint);
    assert_eq!(report.events_applied as i64, events_up_to(&pool, report.checkpoint).await, "each event counted once");

    // The projector carries on with the new version; nothing is missing after the swap.
    writer.await.unwrap();
    wait_projected(&pool).await;
    assert_matches_oracle(&pool).await;
    let verified = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(verified.is_clean(), "{:#?}", verified.differences);

    let client = status_pool.get().await.unwrap();
    let versions = current_versions(&**client).await.unwrap();
    assert_eq!(versions.iter().map(|v| (v.version, v.state.as_str())).collect::<Vec<_>>(), vec![(new_version, "live")]);
    let retired: String = client
        .query_one("SELECT state FROM projection_versions WHERE version = $1", &[&old_version])
        .await
        .unwrap()
        .get(0);
    assert_eq!(retired, "retired");
    let status = projection_status(&**client).await.unwrap();
    assert_eq!((status[0].state, status[0].lag_events), ("live", 0));
    projector.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_rebuild_at_a_time_and_an_abandoned_one_is_cleaned_up() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let mut workload = Workload::new(63, 1);
    workload.run(&pool, 200).await;

    let first = Rebuild::start(db.url(), RebuildOptions::default()).await.unwrap();
    let busy = Rebuild::start(db.url(), RebuildOptions::default()).await;
    assert!(matches!(busy, Err(ProjectorError::MaintenanceBusy { .. })), "{:?}", busy.err());
    let busy = verify(db.url(), &VerifyOptions::default()).await;
    assert!(matches!(busy, Err(ProjectorError::MaintenanceBusy { .. })), "{:?}", busy.err());
    let abandoned = first.version();
    {
        let client = pool.get().await.unwrap();
        let status = projection_status(&**client).await.unwrap();
        assert_eq!(status[0].state, "rebuilding");
        assert_eq!((status[0].building[0].version, status[0].building[0].abandoned), (abandoned, false));
    }
    drop(first); // as if the process died: its connection, and so its lock, go
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let client = pool.get().await.unwrap();
        let status = projection_status(&**client).await.unwrap();
        if status[0].state == "live" {
            assert_eq!((status[0].building[0].version, status[0].building[0].abandoned), (abandoned, true));
            break;
        }
        assert!(Instant::now() < deadline, "the status kept saying rebuilding after the rebuild died");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let deadline = Instant::now() + Duration::from_secs(30);
    let report = loop {
        match rebuild(db.url(), RebuildOptions::default(), |_| {}).await {
            Ok(report) => break report,
            Err(ProjectorError::MaintenanceBusy { .. }) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(err) => panic!("{err}"),
        }
    };
    assert!(report.version > abandoned);
    let client = pool.get().await.unwrap();
    let gone = client
        .query_one(
            "SELECT NOT EXISTS (SELECT 1 FROM projection_versions WHERE version = $1)
                AND to_regnamespace($2) IS NULL",
            &[&abandoned, &format!("read_models_v{abandoned}")],
        )
        .await
        .unwrap()
        .get::<_, bool>(0);
    assert!(gone, "the abandoned version's tables and row are dropped");
    drop(client);
    project_now(&pool, db.url()).await;
    assert_matches_oracle(&pool).await;
}

/// Committed events that an older running transaction holds back are waited for, not
/// swapped in without: the rebuild ends with every event once the holder ends. With a
/// short bound and a holder that stays, it goes on without them, and the live projector
/// applies them after the swap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_replay_waits_for_held_back_events_within_its_bound() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let mut workload = Workload::new(67, 1);
    workload.run(&pool, 100).await;
    let total = |pool: deadpool_postgres::Pool| async move {
        let client = pool.get().await.unwrap();
        client.query_one("SELECT count(*) FROM events", &[]).await.unwrap().get::<_, i64>(0) as u64
    };

    // An open transaction with an id, then more events: committed, but held back by it.
    let mut holder = db.connect().await;
    let held = holder.transaction().await.unwrap();
    held.query_one("SELECT pg_current_xact_id()", &[]).await.unwrap();
    workload.run(&pool, 50).await;
    let url = db.url().to_owned();
    let rebuilding = tokio::spawn(async move { rebuild(&url, RebuildOptions::default(), |_| {}).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!rebuilding.is_finished(), "the rebuild swapped while events were held back");
    held.commit().await.unwrap();
    let report = rebuilding.await.unwrap().unwrap();
    assert_eq!(report.events_applied, total(pool.clone()).await, "every event, once the holder ended");

    // The holder stays beyond the bound: the rebuild goes on, the projector finishes.
    let held = holder.transaction().await.unwrap();
    held.query_one("SELECT pg_current_xact_id()", &[]).await.unwrap();
    workload.run(&pool, 50).await;
    let options = RebuildOptions { held_back_max_wait_ms: 200, ..RebuildOptions::default() };
    let report = rebuild(db.url(), options, |_| {}).await.unwrap();
    assert!(report.events_applied < total(pool.clone()).await, "it went on without the held-back events");
    held.rollback().await.unwrap();
    project_now(&pool, db.url()).await;
    assert_matches_oracle(&pool).await;
}
