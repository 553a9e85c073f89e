//! Shared by the projector's tests: the projector tuned for tests, the comparison of the
//! live read-models with the test kit's oracle (the log folded with the core alone), and
//! the test kit's random workload (core's `decide`, the store's append: thousands of
//! commands in seconds).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use deadpool_postgres::Pool;
use payledger_projector::{live_checkpoint, schema::schema_name, Projector, ProjectorConfig, PROJECTION};
use payledger_store::{has_events_after, Checkpoint};
use payledger_testkit::eventually;
pub use payledger_testkit::oracle::oracle;
pub use payledger_testkit::workload::{encode, Workload};
use uuid::Uuid;

/// A projector tuned for tests: small batches (many transactions), quick polls and take-overs.
pub fn test_config() -> ProjectorConfig {
    ProjectorConfig {
        batch_size: 97,
        poll_interval: Duration::from_millis(50),
        standby_retry: Duration::from_millis(50),
        error_backoff_max: Duration::from_millis(200),
        cache_max_streams: 64,
        ..ProjectorConfig::default()
    }
}

pub fn spawn_projector(url: &str) -> tokio::task::JoinHandle<()> {
    Projector::new(url, test_config()).spawn()
}

/// Waits until the live read-models have applied every event in the log (bounded): for
/// tests where the projector task runs beside the writers.
pub async fn wait_projected(pool: &Pool) {
    eventually(Duration::from_secs(120), "the projector to catch up with the log", || async {
        let client = pool.get().await.unwrap();
        let (_, checkpoint) = live_checkpoint(&**client).await.unwrap()?;
        (!has_events_after(&**client, checkpoint).await.unwrap()).then_some(())
    })
    .await
}

/// Projects in this task (no projector task) until every event in the log is applied:
/// `run_once` stops at events another transaction still holds back, so it runs again until
/// none is left (bounded).
pub async fn project_now(pool: &Pool, url: &str) {
    let projector = Projector::new(url, test_config());
    let projector = &projector;
    eventually(Duration::from_secs(120), "run_once to apply every event in the log", || async move {
        projector.run_once().await.unwrap_or_else(|e| panic!("run_once: {e}"));
        let client = pool.get().await.unwrap();
        let (_, checkpoint) = live_checkpoint(&**client).await.unwrap()?;
        (!has_events_after(&**client, checkpoint).await.unwrap()).then_some(())
    })
    .await
}

/// The live version's schema.
pub async fn live_schema(pool: &Pool) -> String {
    let client = pool.get().await.unwrap();
    let (version, _) = live_checkpoint(&**client).await.unwrap().expect("a live version");
    schema_name(PROJECTION, version)
}

pub async fn live(pool: &Pool) -> (i32, Checkpoint) {
    let client = pool.get().await.unwrap();
    live_checkpoint(&**client).await.unwrap().expect("a live version")
}

/// Compares the live read-models with the oracle, table by table.
pub async fn assert_matches_oracle(pool: &Pool) {
    let expected = oracle(pool).await;
    let schema = live_schema(pool).await;
    let client = pool.get().await.unwrap();

    let rows = client
        .query(
            &format!(
                "SELECT tenant_id, payment_id, status, amount_authorized_minor, amount_captured_minor,
                        amount_refunded_minor, amount_refund_pending_minor, amount_disputed_minor, order_id
                 FROM {schema}.payments"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), expected.payments.len(), "payments count");
    for row in &rows {
        let key: (Uuid, Uuid) = (row.get(0), row.get(1));
        let p = expected.payments.get(&key).unwrap_or_else(|| panic!("unexpected payment {key:?}"));
        let actual: (String, i64, i64, i64, i64, i64, Uuid) =
            (row.get(2), row.get(3), row.get(4), row.get(5), row.get(6), row.get(7), row.get(8));
        let wanted = (
            p.status.as_str().to_owned(),
            p.amount_authorized.get(),
            p.amount_captured.get(),
            p.amount_refunded.get(),
            p.amount_refund_pending.get(),
            p.amount_disputed.get(),
            *p.order_id.as_uuid(),
        );
        assert_eq!(actual, wanted, "payment {key:?}");
    }

    let refunds: BTreeSet<(Uuid, String, i64)> = client
        .query(&format!("SELECT refund_id, status, amount_minor FROM {schema}.refunds"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected_refunds: BTreeSet<(Uuid, String, i64)> = expected
        .payments
        .values()
        .flat_map(|p| p.refunds.iter().map(|r| (*r.id.as_uuid(), r.status.as_str().to_owned(), r.amount_minor.get())))
        .collect();
    assert_eq!(refunds, expected_refunds, "refunds");

    let disputes: BTreeSet<(Uuid, String, i64)> = client
        .query(&format!("SELECT dispute_id, status, amount_minor FROM {schema}.disputes"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected_disputes: BTreeSet<(Uuid, String, i64)> = expected
        .payments
        .values()
        .flat_map(|p| p.disputes.iter().map(|d| (*d.id.as_uuid(), d.status.as_str().to_owned(), d.amount_minor.get())))
        .collect();
    assert_eq!(disputes, expected_disputes, "disputes");

    let orders: BTreeMap<(Uuid, Uuid), (String, i64, i64)> = client
        .query(
            &format!(
                "SELECT tenant_id, order_id, status, amount_captured_minor::int8, amount_refunded_minor::int8 FROM {schema}.orders"
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3), r.get(4))))
        .collect();
    assert_eq!(orders, expected.orders, "orders");

    let balances: BTreeMap<(Uuid, String, String), i64> = client
        .query(&format!("SELECT tenant_id, account, currency, balance_minor::int8 FROM {schema}.account_balances"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), r.get(3)))
        .collect();
    assert_eq!(balances, expected.balances, "account balances");

    let lines: i64 =
        client.query_one(&format!("SELECT count(*) FROM {schema}.journal_entries"), &[]).await.unwrap().get(0);
    assert_eq!(lines, expected.journal_lines, "journal lines");

    // Equal rows alone cannot show an event applied twice (a stream's state is folded by
    // version, journal lines are keyed): the live version's count of applied events can.
    let (version, checkpoint) = live(pool).await;
    let applied: i64 = client
        .query_one(
            "SELECT events_applied FROM projection_versions WHERE name = $1 AND version = $2",
            &[&PROJECTION, &version],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, events_up_to(pool, checkpoint).await, "every event up to the checkpoint applied exactly once");
}

/// How many events the log holds up to `checkpoint` in read order.
pub async fn events_up_to(pool: &Pool, checkpoint: Checkpoint) -> i64 {
    let client = pool.get().await.unwrap();
    client
        .query_one(
            "SELECT count(*) FROM events WHERE (tx_id, global_position) <= ($1::text::xid8, $2)",
            &[&checkpoint.tx_id.to_string(), &checkpoint.position],
        )
        .await
        .unwrap()
        .get(0)
}
