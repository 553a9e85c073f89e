//! A rebuild's replay writes its fresh version with the orders' sums folded in memory and
//! without looking up rows no earlier batch wrote: its rows must equal the live projector's,
//! whether an order and its payments fall in one batch or in many, and a stream whose rows
//! the database refuses still parks alone.

use crate::support::*;
use chrono::Utc;
use payledger_core::order::{self, OrderCommand};
use payledger_core::payment::{self, CaptureMethod, PaymentCommand, Provider};
use payledger_core::{AmountMinor, Currency, DomainEvent, MinorUnits, OrderId, PaymentId};
use payledger_projector::{list_parked, rebuild, schema::schema_name, verify, Rebuild, RebuildOptions, VerifyOptions};
use payledger_store::{append_batch, append_in_tx, BatchItem, ExpectedVersion, StreamKey};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

/// Every column of every order and payment of a version, as text, keyed.
async fn rows_of(pool: &deadpool_postgres::Pool, schema: &str) -> Vec<(String, String)> {
    let client = pool.get().await.unwrap();
    let mut all = Vec::new();
    for (table, key) in [("orders", "order_id"), ("payments", "payment_id")] {
        let sql = format!("SELECT {key}::text, to_jsonb(t)::text FROM {schema}.{table} t ORDER BY tenant_id, {key}");
        for row in client.query(&sql, &[]).await.unwrap() {
            all.push((format!("{table} {}", row.get::<_, String>(0)), row.get(1)));
        }
    }
    all
}

async fn assert_rows_equal(pool: &deadpool_postgres::Pool, expected: &[(String, String)]) {
    let rebuilt = rows_of(pool, &live_schema(pool).await).await;
    assert_eq!(rebuilt.len(), expected.len(), "row count");
    for (got, want) in rebuilt.iter().zip(expected) {
        assert_eq!(got, want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_in_one_batch_or_many_ends_with_the_live_projectors_orders() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    // Orders with several payments, captures, refunds and cancellations, spread over the log.
    let mut workload = Workload::new(91, 3);
    workload.run(&pool, 1_500).await;
    project_now(&pool, db.url()).await;
    assert_matches_oracle(&pool).await;
    let live_rows = rows_of(&pool, &live_schema(&pool).await).await;
    let orders_with_payments: i64 = pool
        .get()
        .await
        .unwrap()
        .query_one(
            &format!(
                "SELECT count(*) FROM (SELECT 1 FROM {}.payments GROUP BY tenant_id, order_id HAVING count(*) > 1) m",
                live_schema(&pool).await
            ),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(orders_with_payments > 5, "the history has orders with several payments ({orders_with_payments})");

    // The whole history in one batch: each order's creation and its payments' captures together.
    rebuild(db.url(), RebuildOptions::default(), |_| {}).await.unwrap();
    assert_rows_equal(&pool, &live_rows).await;
    assert_matches_oracle(&pool).await;

    // Small batches and a small cache: an order's payments land in batches after its row,
    // states are evicted and folded again from the log.
    let options = RebuildOptions { batch_size: 7, cache_max_streams: 16, ..RebuildOptions::default() };
    rebuild(db.url(), options, |_| {}).await.unwrap();
    assert_rows_equal(&pool, &live_rows).await;
    assert_matches_oracle(&pool).await;
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_refused_in_a_rebuild_batch_parks_alone() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let mut workload = Workload::new(93, 2);
    let (refused, other) = (workload.tenants()[0], workload.tenants()[1]);
    workload.run(&pool, 600).await;
    project_now(&pool, db.url()).await;
    let live_schema_name = live_schema(&pool).await;
    let other_rows: Vec<(String, String)> = rows_of(&pool, &live_schema_name)
        .await
        .into_iter()
        .filter(|(_, row)| row.contains(&other.to_string()))
        .collect();

    // The new version's payments table refuses one tenant's rows (a cause outside the log).
    let options = RebuildOptions { batch_size: 50, ..RebuildOptions::default() };
    let started = Rebuild::start(db.url(), options).await.unwrap();
    let schema = schema_name(payledger_projector::PROJECTION, started.version());
    let client = pool.get().await.unwrap();
    client
        .batch_execute(&format!(
            "ALTER TABLE {schema}.payments ADD CONSTRAINT test_refuse CHECK (tenant_id <> '{refused}')"
        ))
        .await
        .unwrap();
    let report = started.run(|_| {}).await.unwrap();

    let parked = list_parked(&**client, report.version, None, None, 10_000).await.unwrap();
    assert!(!parked.is_empty(), "the refused tenant's payment streams are parked");
    assert!(parked.iter().all(|p| p.tenant_id == refused && p.stream_id.starts_with("payment-")), "{parked:#?}");
    let refused_payments: i64 = client
        .query_one(
            "SELECT count(DISTINCT stream_id) FROM events WHERE tenant_id = $1 AND stream_id LIKE 'payment-%'",
            &[&refused],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(parked.len() as i64, refused_payments, "every payment stream of the refused tenant, no other");
    // The other tenant's orders and payments are exactly the live projector's.
    let rebuilt: Vec<(String, String)> =
        rows_of(&pool, &schema).await.into_iter().filter(|(_, row)| row.contains(&other.to_string())).collect();
    assert!(!rebuilt.is_empty());
    assert_eq!(rebuilt, other_rows);
    let refused_orders_paid: i64 = client
        .query_one(
            &format!("SELECT count(*) FROM {schema}.orders WHERE tenant_id = $1 AND amount_captured_minor <> 0"),
            &[&refused],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(refused_orders_paid, 0, "the refused tenant's orders sum none of its unwritten payments");
}

fn order_item(stream: &StreamKey, expected: ExpectedVersion, events: &[order::OrderEvent]) -> BatchItem {
    let events = events.iter().map(|e| encode(&DomainEvent::Order(e.clone()))).collect();
    BatchItem { stream: stream.clone(), expected, events }
}

/// A new order of 5000 USD: its stream and state.
async fn create_order(pool: &deadpool_postgres::Pool, tenant: Uuid) -> (StreamKey, order::OrderState) {
    let order_id = OrderId::new();
    let stream = StreamKey::new(tenant, order_id.stream_id());
    let create = OrderCommand::Create {
        order_id,
        amount_minor: AmountMinor::new(5_000).unwrap(),
        currency: Currency::USD,
        reference: format!("ORD-{}", order_id.as_uuid().simple()),
        metadata: json!({}),
        at: Utc::now(),
    };
    let events = order::decide(&None, create).unwrap();
    append_batch(pool, vec![order_item(&stream, ExpectedVersion::NoStream, &events)]).await.unwrap();
    (stream, order::fold(&events))
}

/// A payment of the whole order, initiated, authorized and captured in one append.
async fn capture_payment(pool: &deadpool_postgres::Pool, tenant: Uuid, order: &order::OrderState) {
    let payment_id = PaymentId::new();
    let commands = [
        PaymentCommand::Initiate {
            payment_id,
            order: order.as_ref().unwrap().snapshot(MinorUnits::ZERO),
            amount_minor: AmountMinor::new(5_000).unwrap(),
            currency: Currency::USD,
            capture_method: CaptureMethod::Manual,
            provider: Provider::Stripe,
            provider_reference: Some(format!("pi_{}", payment_id.as_uuid().simple())),
            at: Utc::now(),
        },
        PaymentCommand::Authorize { amount_minor: None },
        PaymentCommand::Capture { amount_minor: None, final_capture: true },
    ];
    let (mut state, mut events) = (None, Vec::new());
    for command in commands {
        for event in payment::decide(&state, command).unwrap() {
            state = payment::evolve(state, &event);
            events.push(event);
        }
    }
    let events = events.iter().map(|e| encode(&DomainEvent::Payment(e.clone()))).collect();
    let stream = StreamKey::new(tenant, payment_id.stream_id());
    append_batch(pool, vec![BatchItem { stream, expected: ExpectedVersion::NoStream, events }]).await.unwrap();
}

/// Two orders, then (in later transactions) a captured payment of each, then the second
/// order cancelled. A rebuild in batches of three events writes the first payment in a
/// batch without its order (whose row an earlier batch wrote: it must be updated), and the
/// second order again in the cancellation's batch, which holds none of its payment (its sums
/// must still count the capture).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn orders_and_their_payments_in_different_rebuild_batches_keep_their_sums() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let tenant = Uuid::now_v7();
    let (_, first) = create_order(&pool, tenant).await;
    let (second_stream, second) = create_order(&pool, tenant).await;
    create_order(&pool, tenant).await;
    capture_payment(&pool, tenant, &first).await;
    capture_payment(&pool, tenant, &second).await;
    let cancel = OrderCommand::Cancel { at: Utc::now(), reason: Some("late".into()), payments_in_progress: 0 };
    let cancelled = order::decide(&second, cancel).unwrap();
    append_batch(&pool, vec![order_item(&second_stream, ExpectedVersion::Exact(1), &cancelled)]).await.unwrap();

    project_now(&pool, db.url()).await;
    let live_rows = rows_of(&pool, &live_schema(&pool).await).await;
    let paid = live_rows.iter().filter(|(_, row)| row.contains("\"amount_captured_minor\": 5000")).count();
    assert_eq!(paid, 4, "two paid orders and their two payments: {live_rows:#?}");
    rebuild(db.url(), RebuildOptions { batch_size: 3, ..RebuildOptions::default() }, |_| {}).await.unwrap();
    assert_rows_equal(&pool, &live_rows).await;
    assert_matches_oracle(&pool).await;
}

/// A payment's version 3 read before its version 2 (its transaction took its id first), with
/// enough other streams read between them that the payment's state is evicted: the rebuild
/// must find the row it wrote for version 3 (the filter says "maybe"), not fold to 2 only.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_evicted_between_out_of_order_versions_keeps_its_highest_version() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let tenant = Uuid::now_v7();
    let (_, order_state) = create_order(&pool, tenant).await;
    let payment_id = PaymentId::new();
    let stream = StreamKey::new(tenant, payment_id.stream_id());
    let initiate = PaymentCommand::Initiate {
        payment_id,
        order: order_state.as_ref().unwrap().snapshot(MinorUnits::ZERO),
        amount_minor: AmountMinor::new(5_000).unwrap(),
        currency: Currency::USD,
        capture_method: CaptureMethod::Manual,
        provider: Provider::Stripe,
        provider_reference: None,
        at: Utc::now(),
    };
    let mut state = None;
    let mut step = |command| {
        let events = payment::decide(&state, command).unwrap();
        state = events.iter().fold(state.clone(), payment::evolve);
        events.iter().map(|e| encode(&DomainEvent::Payment(e.clone()))).collect::<Vec<_>>()
    };
    let initiated = step(initiate);
    append_batch(
        &pool,
        vec![BatchItem { stream: stream.clone(), expected: ExpectedVersion::NoStream, events: initiated }],
    )
    .await
    .unwrap();
    let mut early = pool.get().await.unwrap();
    let early_tx = early.transaction().await.unwrap();
    early_tx.query_one("SELECT pg_current_xact_id()", &[]).await.unwrap();
    // Read between the two: many other streams.
    Workload::new(95, 1).run(&pool, 120).await;
    let authorized = step(PaymentCommand::Authorize { amount_minor: None });
    let item = BatchItem { stream: stream.clone(), expected: ExpectedVersion::Exact(1), events: authorized };
    append_batch(&pool, vec![item]).await.unwrap();
    let captured = step(PaymentCommand::Capture { amount_minor: None, final_capture: true });
    append_in_tx(&early_tx, &[BatchItem { stream, expected: ExpectedVersion::Exact(2), events: captured }])
        .await
        .unwrap();
    early_tx.commit().await.unwrap();

    project_now(&pool, db.url()).await;
    let live_rows = rows_of(&pool, &live_schema(&pool).await).await;
    let payment = live_rows.iter().find(|(key, _)| key.contains(&payment_id.as_uuid().to_string())).unwrap();
    assert!(payment.1.contains("\"stream_version\": 3"), "{}", payment.1);
    let options = RebuildOptions { batch_size: 1, cache_max_streams: 16, ..RebuildOptions::default() };
    rebuild(db.url(), options, |_| {}).await.unwrap();
    assert_rows_equal(&pool, &live_rows).await;
    assert_matches_oracle(&pool).await;
}
