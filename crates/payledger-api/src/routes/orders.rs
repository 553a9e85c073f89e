//! `POST /v1/orders`, `POST /v1/orders/{id}/cancel`.

use axum::extract::State;
use axum::response::Response;
use payledger_core::order::{OrderCommand, OrderPayments};
use payledger_core::OrderId;
use payledger_store::StreamKey;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::command::{context, execute};
use crate::error::ApiResult;
use crate::extract::{IdempotencyKey, JsonBody, PathId};
use crate::params;
use crate::state::AppState;
use crate::views::order_view;
use payledger_service::aggregate::OrderAggregate;
use payledger_service::command::{Own, PaymentsOf, Success};
use payledger_service::ServiceError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrder {
    pub amount: Value,
    pub currency: String,
    pub reference: String,
    #[serde(default)]
    pub metadata: Option<Value>,
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonBody<CreateOrder>,
) -> ApiResult<Response> {
    let request = body.value;
    let amount_minor = params::amount(&request.amount, "amount")?;
    let currency = params::currency(&request.currency)?;
    let order_id = OrderId::new();
    let metadata = params::metadata(request.metadata)?;
    let ctx = context(&state, &principal, idempotency_key, "POST /v1/orders", &body.fingerprint);
    let at = payledger_service::command::now();
    execute::<OrderAggregate, _, _, _>(
        ctx,
        StreamKey::new(principal.tenant_id, order_id.stream_id()),
        Own,
        Success::Created,
        move |_, _| {
            Ok(OrderCommand::Create {
                order_id,
                amount_minor,
                currency,
                reference: request.reference.clone(),
                metadata: metadata.clone(),
                at,
            })
        },
        // A new order has no payments yet.
        |order, _| {
            let order = order.as_ref().ok_or_else(|| ServiceError::internal("order missing after create"))?;
            order_view(order, &OrderPayments::default())
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelOrder {
    #[serde(default)]
    pub reason: Option<String>,
}

pub async fn cancel(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonBody<CancelOrder>,
) -> ApiResult<Response> {
    let reason = body.value.reason;
    let order_id = OrderId::from(id);
    let ctx = context(&state, &principal, idempotency_key, &format!("POST /v1/orders/{id}/cancel"), &body.fingerprint);
    let at = payledger_service::command::now();
    execute::<OrderAggregate, _, _, _>(
        ctx,
        StreamKey::new(principal.tenant_id, order_id.stream_id()),
        PaymentsOf(order_id),
        Success::Ok,
        move |_, payments| {
            let payments_in_progress = payments.in_progress;
            Ok(OrderCommand::Cancel { at, reason: reason.clone(), payments_in_progress })
        },
        |order, payments| {
            let order = order.as_ref().ok_or_else(|| ServiceError::internal("order missing after cancel"))?;
            order_view(order, payments)
        },
    )
    .await
}
