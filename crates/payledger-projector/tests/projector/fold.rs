//! After a random workload of thousands of commands and gateway reports, projected live while
//! it runs, the read-models equal a fresh fold of the log (by an independent oracle and by
//! `verify`), and a rebuild yields the same.

use crate::support::*;
use payledger_projector::{rebuild, verify, RebuildOptions, RebuildPhase, VerifyOptions};
use payledger_testkit::TestDb;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn random_workload_projected_live_equals_a_fresh_fold() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let projector = spawn_projector(db.url());

    let mut workload = Workload::new(6, 3);
    workload.run(&pool, 3_000).await;
    wait_projected(&pool).await;
    projector.abort();

    assert_matches_oracle(&pool).await;
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
    assert!(report.checkpoint.position > 0);

    // A rebuild from scratch lands on the same read-models.
    let (before, _) = live(&pool).await;
    let mut phases = Vec::new();
    let mut last_done = 0;
    let report = rebuild(db.url(), RebuildOptions { batch_size: 250, ..RebuildOptions::default() }, |p| {
        assert!(p.events_done >= last_done, "progress never goes back");
        last_done = p.events_done;
        if phases.last() != Some(&p.phase) {
            phases.push(p.phase);
        }
    })
    .await
    .unwrap();
    assert_eq!(report.previous_version, Some(before));
    assert_eq!(phases.first(), Some(&RebuildPhase::Replaying));
    assert_eq!(phases.last(), Some(&RebuildPhase::Done));
    let (after, _) = live(&pool).await;
    assert_eq!(after, report.version);
    assert_matches_oracle(&pool).await;
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
}

/// Verify of one tenant folds only that tenant's events and compares only its rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_of_one_tenant_is_scoped_to_it() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let projector = spawn_projector(db.url());
    let mut workload = Workload::new(11, 2);
    workload.run(&pool, 400).await;
    wait_projected(&pool).await;
    projector.abort();

    let (tenant_a, tenant_b) = (workload.tenants()[0], workload.tenants()[1]);
    let schema = live_schema(&pool).await;
    let client = pool.get().await.unwrap();
    let changed = client
        .execute(
            &format!(
                "UPDATE {schema}.orders SET reference = 'tampered'
                 WHERE (tenant_id, order_id) = (SELECT tenant_id, order_id FROM {schema}.orders WHERE tenant_id = $1 LIMIT 1)"
            ),
            &[&tenant_b],
        )
        .await
        .unwrap();
    assert_eq!(changed, 1);

    let clean = verify(db.url(), &VerifyOptions { tenant_id: Some(tenant_a), ..Default::default() }).await.unwrap();
    assert!(clean.is_clean(), "{:#?}", clean.differences);
    let dirty = verify(db.url(), &VerifyOptions { tenant_id: Some(tenant_b), ..Default::default() }).await.unwrap();
    assert_eq!(dirty.differences_total, 1, "{:#?}", dirty.differences);
    assert_eq!(dirty.differences[0].field, "reference");
    assert_eq!(dirty.differences[0].tenant_id, Some(tenant_b));
}
