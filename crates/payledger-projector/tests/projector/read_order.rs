//! The read order is `(tx_id, global_position)`, and that is not always a stream's version
//! order: a transaction that got its id early (a webhook delivery locks its inbox row first)
//! and appends to a stream later lands before the versions committed meanwhile. The
//! projector, a rebuild (in batches of one event) and verify must all project such a stream
//! whole. And a rebuild whose swap attempts keep rolling back what they applied must not keep
//! their folded states.

use std::time::Duration;

use crate::support::*;
use chrono::Utc;
use payledger_core::order::{self, OrderCommand};
use payledger_core::payment::{self, CaptureMethod, PaymentCommand, PaymentState, Provider};
use payledger_core::{AmountMinor, Currency, DomainEvent, MinorUnits, OrderId, PaymentId};
use payledger_projector::{rebuild, verify, ProjectorError, RebuildOptions, VerifyOptions};
use payledger_store::{append_batch, append_in_tx, BatchItem, ExpectedVersion, StreamKey};
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

fn payment_item(tenant: Uuid, id: PaymentId, expected: ExpectedVersion, events: &[payment::PaymentEvent]) -> BatchItem {
    BatchItem {
        stream: StreamKey::new(tenant, id.stream_id()),
        expected,
        events: events.iter().map(|e| encode(&DomainEvent::Payment(e.clone()))).collect(),
    }
}

/// An order and a manual-capture payment of 5000 USD on it; the payment's state and version.
async fn order_and_payment(pool: &deadpool_postgres::Pool, tenant: Uuid) -> (PaymentId, PaymentState, i64) {
    let order_id = OrderId::new();
    let command = OrderCommand::Create {
        order_id,
        amount_minor: AmountMinor::new(5_000).unwrap(),
        currency: Currency::USD,
        reference: "ORD-inverted".into(),
        metadata: json!({}),
        at: Utc::now(),
    };
    let order_events = order::decide(&None, command).unwrap();
    let order_state = order::fold(&order_events);
    let item = BatchItem {
        stream: StreamKey::new(tenant, order_id.stream_id()),
        expected: ExpectedVersion::NoStream,
        events: order_events.iter().map(|e| encode(&DomainEvent::Order(e.clone()))).collect(),
    };
    append_batch(pool, vec![item]).await.unwrap();

    let payment_id = PaymentId::new();
    let command = PaymentCommand::Initiate {
        payment_id,
        order: order_state.as_ref().unwrap().snapshot(MinorUnits::ZERO),
        amount_minor: AmountMinor::new(5_000).unwrap(),
        currency: Currency::USD,
        capture_method: CaptureMethod::Manual,
        provider: Provider::Stripe,
        provider_reference: Some(format!("pi_{}", payment_id.as_uuid().simple())),
        at: Utc::now(),
    };
    let events = payment::decide(&None, command).unwrap();
    append_batch(pool, vec![payment_item(tenant, payment_id, ExpectedVersion::NoStream, &events)]).await.unwrap();
    (payment_id, payment::fold(&events), events.len() as i64)
}

/// Appends `second` after `first` to the payment's stream such that `second` comes first in
/// the read order: its transaction takes its id before `first` is even appended.
async fn append_inverted(
    pool: &deadpool_postgres::Pool,
    tenant: Uuid,
    payment_id: PaymentId,
    (state, version): (PaymentState, i64),
    first: PaymentCommand,
    second: PaymentCommand,
) -> (PaymentState, i64) {
    let mut early = pool.get().await.unwrap();
    let early_tx = early.transaction().await.unwrap();
    early_tx.query_one("SELECT pg_current_xact_id()", &[]).await.unwrap();

    let first_events = payment::decide(&state, first).unwrap();
    let state = first_events.iter().fold(state, payment::evolve);
    let item = payment_item(tenant, payment_id, ExpectedVersion::Exact(version), &first_events);
    append_batch(pool, vec![item]).await.unwrap();
    let version = version + first_events.len() as i64;

    let second_events = payment::decide(&state, second).unwrap();
    let state = second_events.iter().fold(state, payment::evolve);
    let item = payment_item(tenant, payment_id, ExpectedVersion::Exact(version), &second_events);
    append_in_tx(&early_tx, &[item]).await.unwrap();
    early_tx.commit().await.unwrap();
    (state, version + second_events.len() as i64)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_read_out_of_version_order_is_projected_whole() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let tenant = Uuid::now_v7();
    let mut workload = Workload::new(71, 1);
    workload.run(&pool, 100).await;

    let (payment_id, state, version) = order_and_payment(&pool, tenant).await;
    let amount = |minor| Some(AmountMinor::new(minor).unwrap());
    // Authorized, then captured with an older transaction id than the authorization's.
    let authorize = PaymentCommand::Authorize { amount_minor: None };
    let capture = PaymentCommand::Capture { amount_minor: amount(2_000), final_capture: false };
    let (state, version) = append_inverted(&pool, tenant, payment_id, (state, version), authorize, capture).await;
    // Twice more, so that the live projector meets it in several batches too.
    let capture = PaymentCommand::Capture { amount_minor: amount(1_000), final_capture: false };
    let refund = PaymentCommand::RequestRefund {
        refund_id: payledger_core::RefundId::new(),
        amount_minor: AmountMinor::new(500).unwrap(),
        reason: None,
        provider_reference: None,
        at: Utc::now(),
    };
    let (state, version) = append_inverted(&pool, tenant, payment_id, (state, version), capture, refund).await;
    {
        let client = pool.get().await.unwrap();
        let rows = client
            .query(
                "SELECT stream_version FROM events WHERE stream_id = $1 ORDER BY tx_id, global_position",
                &[&payment_id.stream_id()],
            )
            .await
            .unwrap();
        let versions: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
        assert!(versions.windows(2).any(|w| w[0] > w[1]), "the read order inverts versions: {versions:?}");
    }
    workload.run(&pool, 100).await;

    // The live projector, in batches of 97.
    project_now(&pool, db.url()).await;
    assert_matches_oracle(&pool).await;
    {
        let client = pool.get().await.unwrap();
        let schema = live_schema(&pool).await;
        let row = client
            .query_one(
                &format!("SELECT stream_version, amount_captured_minor FROM {schema}.payments WHERE payment_id = $1"),
                &[payment_id.as_uuid()],
            )
            .await
            .unwrap();
        let captured = state.as_ref().unwrap().amount_captured.get();
        assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (version, captured));
    }
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);

    // A rebuild one event per batch meets the inverted versions in separate batches.
    rebuild(db.url(), RebuildOptions { batch_size: 1, cache_max_streams: 16, ..RebuildOptions::default() }, |_| {})
        .await
        .unwrap();
    assert_matches_oracle(&pool).await;
    let report = verify(db.url(), &VerifyOptions { batch_size: 1, ..VerifyOptions::default() }).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
}

/// Swap attempts that may apply one batch only, while writers keep going: most attempts
/// roll back what they applied (and the states they folded), the next catch-up starts from
/// the database again, and the swapped version equals a fresh fold.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn swap_attempts_that_roll_back_leave_nothing_behind() {
    let db = TestDb::new().await;
    let pool = db.pool(8);
    let projector = spawn_projector(db.url());
    let mut workload = Workload::new(73, 2);
    workload.run(&pool, 300).await;

    let writer_pool = pool.clone();
    let writer = tokio::spawn(async move {
        workload.run(&writer_pool, 600).await;
        workload
    });
    let options = RebuildOptions {
        batch_size: 3,
        swap_catch_up_max_batches: 1,
        swap_attempts: 10,
        cache_max_streams: 16,
        ..RebuildOptions::default()
    };
    let mut starved = 0;
    loop {
        match rebuild(db.url(), options.clone(), |_| {}).await {
            Ok(report) => {
                // Swap attempts that rolled back are not counted.
                let logged = events_up_to(&pool, report.checkpoint).await;
                assert_eq!(report.events_applied as i64, logged, "the report counts each event once");
                break;
            }
            Err(ProjectorError::SwapStarved { .. }) => {
                starved += 1;
                assert!(starved < 100, "the rebuild never got to swap");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(err) => panic!("{err}"),
        }
    }
    writer.await.unwrap();
    wait_projected(&pool).await;
    projector.abort();
    assert_matches_oracle(&pool).await;
    let report = verify(db.url(), &VerifyOptions::default()).await.unwrap();
    assert!(report.is_clean(), "{:#?}", report.differences);
}
