//! The refunds and disputes nested in a page of payments: each payment has its own bound,
//! so one payment with very many refunds does not crowd out the others'.

use crate::support::*;
use payledger_projector::read::{ReadModels, CHILDREN_PER_PAYMENT_MAX};
use payledger_testkit::TestDb;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn each_payment_keeps_its_own_refunds_whatever_another_payment_holds() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let projector = spawn_projector(db.url());
    let mut workload = Workload::new(7, 1);
    workload.run(&pool, 300).await;
    wait_projected(&pool).await;
    projector.abort();

    let s = live_schema(&pool).await;
    let client = pool.get().await.unwrap();
    let row = client
        .query_one(&format!("SELECT tenant_id, payment_id FROM {s}.payments ORDER BY created_at LIMIT 1"), &[])
        .await
        .unwrap();
    let (tenant, crowded): (Uuid, Uuid) = (row.get(0), row.get(1));
    let other: Uuid = client
        .query_one(&format!("SELECT payment_id FROM {s}.payments WHERE payment_id <> $1 LIMIT 1"), &[&crowded])
        .await
        .unwrap()
        .get(0);
    // Refund rows written by hand (the read path is under test, not the fold): many, older
    // than anything, on one payment; one on another.
    let insert = format!(
        "INSERT INTO {s}.refunds (tenant_id, refund_id, payment_id, status, amount_minor, currency, created_at)
         SELECT $1, gen_random_uuid(), $2, 'succeeded', 1, 'USD', '2000-01-01'::timestamptz + n * interval '1 second'
         FROM generate_series(1, $3::int) AS n"
    );
    let many = CHILDREN_PER_PAYMENT_MAX as i32 + 5;
    client.execute(&insert, &[&tenant, &crowded, &many]).await.unwrap();
    client.execute(&insert, &[&tenant, &other, &1i32]).await.unwrap();

    let models = ReadModels::live(&**client).await.unwrap().unwrap();
    let refunds = models.refunds_of(&**client, tenant, &[crowded, other]).await.unwrap();
    let count = |payment| refunds.iter().filter(|r| r.payment_id == payment).count() as i64;
    let expected_other: i64 = client
        .query_one(&format!("SELECT count(*) FROM {s}.refunds WHERE payment_id = $1"), &[&other])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count(crowded), CHILDREN_PER_PAYMENT_MAX, "the crowded payment is cut at its own bound");
    assert_eq!(count(other), expected_other.min(CHILDREN_PER_PAYMENT_MAX), "the other payment keeps all of its");
    assert!(refunds.windows(2).all(|w| (w[0].created_at, w[0].refund_id) <= (w[1].created_at, w[1].refund_id)));
}
