//! The application layer without HTTP: the command pipeline and the runtime, on a real
//! PostgreSQL (one database per test).
// A test binary: a failed assumption in a helper is the test failing, so helpers may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod secrets_at_rest;
mod stream_cache;

use std::time::Duration;

use payledger_core::order::{OrderCommand, OrderPayments};
use payledger_core::payment::{CaptureMethod, PaymentCommand, Provider};
use payledger_core::{AmountMinor, Currency, DomainError, OrderId, PaymentId};
use payledger_projector::read::ReadModels;
use payledger_projector::ProjectorConfig;
use payledger_service::aggregate::{OrderAggregate, PaymentAggregate, StateCache};
use payledger_service::command::{
    execute, now, Actor, CommandConfig, CommandContext, Executed, OrderToo, Own, Success,
};
use payledger_service::runtime::{Ledger, LedgerConfig};
use payledger_service::tenants::create_tenant;
use payledger_service::ServiceError;
use payledger_store::StreamKey;
use payledger_testkit::TestDb;
use serde_json::json;
use uuid::Uuid;

fn context(pool: &deadpool_postgres::Pool, tenant_id: Uuid, key: Option<&str>, body: &[u8; 32]) -> CommandContext {
    CommandContext {
        pool: pool.clone(),
        config: CommandConfig {
            max_attempts: 3,
            stream_lock_timeout_ms: 5_000,
            idempotency_retention: Duration::from_secs(3600),
        },
        actor: Actor { tenant_id, key_id: Uuid::now_v7(), credential: payledger_service::tenants::Credential::ApiKey },
        idempotency_key: key.map(str::to_owned),
        fingerprint: CommandContext::fingerprint("create order", body),
        request_id: Some("req_test".into()),
        states: StateCache::default(),
    }
}

async fn create_order(ctx: CommandContext, order_id: OrderId) -> Result<Executed, ServiceError> {
    let at = now();
    let stream = StreamKey::new(ctx.actor.tenant_id, order_id.stream_id());
    execute::<OrderAggregate, _, _, _>(
        ctx,
        stream,
        Own,
        Success::Created,
        move |_, _| {
            Ok(OrderCommand::Create {
                order_id,
                amount_minor: AmountMinor::new(1_000).map_err(ServiceError::internal)?,
                currency: Currency::parse("USD").map_err(ServiceError::internal)?,
                reference: "ORD-1".into(),
                metadata: json!({}),
                at,
            })
        },
        |order, _| Ok(json!({ "id": order.as_ref().map(|o| o.id.to_string()) })),
    )
    .await
}

#[tokio::test]
async fn a_command_answers_plain_data_and_replays_under_its_key() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let tenant = create_tenant(&pool, &payledger_service::admin_log::Actor::system("test"), "acme").await.unwrap();
    let order_id = OrderId::new();

    let first = create_order(context(&pool, tenant.id, Some("k1"), &[1; 32]), order_id).await.unwrap();
    assert_eq!((first.status, first.replayed), (201, false));
    let position = first.position.expect("a fresh answer carries its position");
    assert_eq!(first.body["position"], json!(position));
    assert_eq!(first.body["id"], json!(order_id.to_string()));

    let again = create_order(context(&pool, tenant.id, Some("k1"), &[1; 32]), OrderId::new()).await.unwrap();
    assert!(again.replayed);
    assert_eq!((again.status, &again.body, again.position), (201, &first.body, Some(position)));

    let other_body = create_order(context(&pool, tenant.id, Some("k1"), &[2; 32]), OrderId::new()).await;
    assert!(matches!(other_body, Err(ServiceError::IdempotencyKeyReused)), "{other_body:?}");

    // The events carry who asked, from where.
    let row = pool
        .get()
        .await
        .unwrap()
        .query_one("SELECT metadata FROM events WHERE stream_id = $1", &[&order_id.stream_id()])
        .await
        .unwrap();
    let metadata: serde_json::Value = row.get(0);
    assert_eq!(metadata["source"], "api");
    assert_eq!(metadata["request_id"], "req_test");
    assert_eq!(metadata["idempotency_key"], "k1");
}

#[tokio::test]
async fn a_payment_on_a_missing_order_is_refused_at_order_id() {
    let db = TestDb::new().await;
    let pool = db.pool(4);
    let tenant = create_tenant(&pool, &payledger_service::admin_log::Actor::system("test"), "acme").await.unwrap();
    let order_id = OrderId::new();
    let payment_id = PaymentId::new();
    let ctx = context(&pool, tenant.id, None, &[3; 32]);
    let at = now();
    let result = execute::<PaymentAggregate, _, _, _>(
        ctx,
        StreamKey::new(tenant.id, payment_id.stream_id()),
        OrderToo(order_id),
        Success::Created,
        move |_, loaded| {
            let missing = || ServiceError::DomainAt { error: DomainError::OrderNotFound, param: "order_id" };
            let order = loaded.order.as_ref().ok_or_else(missing)?;
            assert_eq!(loaded.payments, OrderPayments::default());
            Ok(PaymentCommand::Initiate {
                payment_id,
                order: order.snapshot(loaded.payments.amount_committed),
                amount_minor: AmountMinor::new(100).map_err(ServiceError::internal)?,
                currency: Currency::parse("USD").map_err(ServiceError::internal)?,
                capture_method: CaptureMethod::Manual,
                provider: Provider::Generic,
                provider_reference: None,
                at,
            })
        },
        |_, _| Ok(json!({})),
    )
    .await;
    assert!(
        matches!(result, Err(ServiceError::DomainAt { error: DomainError::OrderNotFound, param: "order_id" })),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_runtime_projects_what_commands_append_and_stops() {
    let db = TestDb::new().await;
    let projector = ProjectorConfig {
        poll_interval: Duration::from_millis(50),
        standby_retry: Duration::from_millis(50),
        error_backoff_max: Duration::from_millis(200),
        ..ProjectorConfig::default()
    };
    let config = LedgerConfig { projector: Some(projector), ..LedgerConfig::new(db.url()).without_workers() };
    let ledger = Ledger::start(config).await.unwrap();
    let tenant =
        create_tenant(&ledger.pool, &payledger_service::admin_log::Actor::system("test"), "acme").await.unwrap();
    let order_id = OrderId::new();
    create_order(context(&ledger.pool, tenant.id, None, &[4; 32]), order_id).await.unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let client = ledger.pool.get().await.unwrap();
        if let Some(models) = ReadModels::live(&**client).await.unwrap() {
            if models.order(&**client, tenant.id, order_id.into()).await.unwrap().is_some() {
                break;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "the runtime's projector never projected the order");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pool = ledger.pool.clone();
    tokio::time::timeout(Duration::from_secs(15), ledger.stop()).await.expect("stop finishes");
    assert!(pool.is_closed(), "stop closes the pool");
}
