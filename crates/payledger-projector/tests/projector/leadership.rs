//! Two projector instances on a live workload: one leads, the other stands by and takes over
//! when the leader dies; and even without the leader lock, two instances applying at once
//! give the same read-models as a single fold (the checkpoint's compare-and-set).

use std::time::{Duration, Instant};

use crate::support::*;
use payledger_projector::{projector_leader, verify, Projector, ProjectorConfig, VerifyOptions};
use payledger_testkit::{eventually, TestDb};

fn instance(url: &str, name: &str, leader_lock: bool) -> tokio::task::JoinHandle<()> {
    Projector::new(url, ProjectorConfig { instance_name: name.to_owned(), leader_lock, ..test_config() }).spawn()
}

async fn leader(pool: &deadpool_postgres::Pool) -> Option<String> {
    let client = pool.get().await.unwrap();
    projector_leader(&**client).await.unwrap().map(|(_, name)| name)
}

async fn wait_for_leader(pool: &deadpool_postgres::Pool, except: Option<&str>) -> String {
    // A nameless holder is a backend on its way out (its activity row is gone already).
    eventually(Duration::from_secs(30), "a projector to take the lead", || async {
        leader(pool).await.filter(|n| !n.is_empty() && Some(n.as_str()) != except)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_leads_the_other_takes_over_when_it_dies() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let mut a = Some(instance(db.url(), "projector-a", true));
    let mut b = Some(instance(db.url(), "projector-b", true));
    let first = wait_for_leader(&pool, None).await;

    let writer_pool = pool.clone();
    let writer = tokio::spawn(async move {
        let mut workload = Workload::new(51, 2);
        workload.run(&writer_pool, 1_500).await;
    });
    // Kill the leader while commands arrive; the standby takes over.
    let deadline = Instant::now() + Duration::from_secs(30);
    while live(&pool).await.1.position == 0 {
        assert!(Instant::now() < deadline, "nothing projected");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let killed = if first == "projector-a" { a.take() } else { b.take() };
    killed.expect("the leader's task").abort();
    let second = wait_for_leader(&pool, Some(&first)).await;
    assert_ne!(first, second);

    writer.await.unwrap();
    wait_projected(&pool).await;
    // A killed leader's backend can hold the lock a moment after its activity row is gone
    // (the status then shows a nameless holder): wait, bounded, for the status to settle.
    let settle = Instant::now() + Duration::from_secs(10);
    while leader(&pool).await.as_deref() != Some(second.as_str()) {
        assert!(Instant::now() < settle, "leader is {:?}, expected {second}", leader(&pool).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_matches_oracle(&pool).await;
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
    for task in [a, b].into_iter().flatten() {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_applying_at_once_equal_a_single_fold() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let a = instance(db.url(), "racer-a", false);
    let b = instance(db.url(), "racer-b", false);
    let mut workload = Workload::new(53, 3);
    workload.run(&pool, 2_000).await;
    wait_projected(&pool).await;
    a.abort();
    b.abort();
    assert_eq!(leader(&pool).await, None, "no instance took the leader lock");
    assert_matches_oracle(&pool).await;
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
}
