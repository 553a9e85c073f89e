//! Refunds live in their payment's stream, so "never refund more than captured" is guarded
//! by that one stream's version: two concurrent refunds cannot both pass.

use axum::extract::State;
use axum::response::Response;
use payledger_core::payment::{PaymentCommand, PaymentState};
use payledger_core::{PaymentId, RefundId};
use payledger_store::StreamKey;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use crate::auth::Principal;
use crate::command::{context, execute};
use crate::error::{ApiError, ApiResult};
use crate::extract::{IdempotencyKey, JsonBody, PathId};
use crate::params;
use crate::state::AppState;
use crate::views::refund_view;
use payledger_service::aggregate::PaymentAggregate;
use payledger_service::command::{Own, Success};
use payledger_service::{lookup, ServiceError, ServiceResult};

fn refund_response(state: &PaymentState, refund_id: RefundId) -> ServiceResult<Value> {
    let payment = state.as_ref().ok_or_else(|| ServiceError::internal("payment missing after refund"))?;
    let refund = payment.refund(refund_id).ok_or_else(|| ServiceError::internal("refund missing after command"))?;
    refund_view(payment, refund)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRefund {
    pub amount: Value,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub provider_reference: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonBody<CreateRefund>,
) -> ApiResult<Response> {
    let amount_minor = params::amount(&body.value.amount, "amount")?;
    let reason = body.value.reason.clone();
    let provider_reference = body.value.provider_reference.clone();
    let payment_id = PaymentId::from(id);
    let refund_id = RefundId::new();
    let ctx =
        context(&state, &principal, idempotency_key, &format!("POST /v1/payments/{id}/refunds"), &body.fingerprint);
    let at = payledger_service::command::now();
    execute::<PaymentAggregate, _, _, _>(
        ctx,
        StreamKey::new(principal.tenant_id, payment_id.stream_id()),
        Own,
        Success::Created,
        move |_, _| {
            Ok(PaymentCommand::RequestRefund {
                refund_id,
                amount_minor,
                reason: reason.clone(),
                provider_reference: provider_reference.clone(),
                at,
            })
        },
        move |s, _| refund_response(s, refund_id),
    )
    .await
}

/// The payment stream a refund lives in (an index on the events themselves).
async fn payment_of_refund(state: &AppState, tenant_id: Uuid, refund_id: Uuid) -> ApiResult<PaymentId> {
    let client = state.pool.get().await?;
    lookup::payment_of_refund(&**client, tenant_id, refund_id).await?.ok_or_else(|| ApiError::not_found("refund"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SucceedRefund {}

pub async fn succeed(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonBody<SucceedRefund>,
) -> ApiResult<Response> {
    let refund_id = RefundId::from(id);
    let payment_id = payment_of_refund(&state, principal.tenant_id, id).await?;
    let ctx =
        context(&state, &principal, idempotency_key, &format!("POST /v1/refunds/{id}/succeed"), &body.fingerprint);
    execute::<PaymentAggregate, _, _, _>(
        ctx,
        StreamKey::new(principal.tenant_id, payment_id.stream_id()),
        Own,
        Success::Ok,
        move |_, _| Ok(PaymentCommand::SucceedRefund { refund_id }),
        move |s, _| refund_response(s, refund_id),
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailRefund {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
}

pub async fn fail(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonBody<FailRefund>,
) -> ApiResult<Response> {
    let code = body.value.code.clone();
    let message = body.value.message.clone();
    let refund_id = RefundId::from(id);
    let payment_id = payment_of_refund(&state, principal.tenant_id, id).await?;
    let ctx = context(&state, &principal, idempotency_key, &format!("POST /v1/refunds/{id}/fail"), &body.fingerprint);
    execute::<PaymentAggregate, _, _, _>(
        ctx,
        StreamKey::new(principal.tenant_id, payment_id.stream_id()),
        Own,
        Success::Ok,
        move |_, _| Ok(PaymentCommand::FailRefund { refund_id, code: code.clone(), message: message.clone() }),
        move |s, _| refund_response(s, refund_id),
    )
    .await
}
