//! Disputes (chargebacks) live in their payment's stream, like refunds.

use axum::extract::State;
use axum::response::Response;
use payledger_core::payment::{DisputeOutcome, PaymentCommand, PaymentState};
use payledger_core::{DisputeId, PaymentId};
use payledger_store::StreamKey;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::command::{context, execute};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{IdempotencyKey, JsonBody, PathId};
use crate::params;
use crate::state::AppState;
use crate::views::dispute_view;
use payledger_service::aggregate::PaymentAggregate;
use payledger_service::command::{Own, Success};
use payledger_service::{lookup, ServiceError, ServiceResult};

fn dispute_response(state: &PaymentState, dispute_id: DisputeId) -> ServiceResult<Value> {
    let payment = state.as_ref().ok_or_else(|| ServiceError::internal("payment missing after dispute"))?;
    let dispute = payment.dispute(dispute_id).ok_or_else(|| ServiceError::internal("dispute missing after command"))?;
    dispute_view(payment, dispute)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenDispute {
    pub amount: Value,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub provider_reference: Option<String>,
}

pub async fn open(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonBody<OpenDispute>,
) -> ApiResult<Response> {
    let amount_minor = params::amount(&body.value.amount, "amount")?;
    let reason = body.value.reason.clone();
    let provider_reference = body.value.provider_reference.clone();
    let payment_id = PaymentId::from(id);
    let dispute_id = DisputeId::new();
    let ctx =
        context(&state, &principal, idempotency_key, &format!("POST /v1/payments/{id}/disputes"), &body.fingerprint);
    let at = payledger_service::command::now();
    execute::<PaymentAggregate, _, _, _>(
        ctx,
        StreamKey::new(principal.tenant_id, payment_id.stream_id()),
        Own,
        Success::Created,
        move |_, _| {
            Ok(PaymentCommand::OpenDispute {
                dispute_id,
                amount_minor,
                reason: reason.clone(),
                provider_reference: provider_reference.clone(),
                at,
            })
        },
        move |s, _| dispute_response(s, dispute_id),
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResolveDispute {
    pub outcome: String,
}

pub async fn resolve(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonBody<ResolveDispute>,
) -> ApiResult<Response> {
    let outcome = match body.value.outcome.as_str() {
        "won" => DisputeOutcome::Won,
        "lost" => DisputeOutcome::Lost,
        _ => return Err(ApiError::invalid_param("outcome", ApiCode::OutcomeInvalid, "outcome is won or lost")),
    };
    let dispute_id = DisputeId::from(id);
    let client = state.pool.get().await?;
    let payment_id = lookup::payment_of_dispute(&**client, principal.tenant_id, id).await?;
    drop(client);
    let payment_id = payment_id.ok_or_else(|| ApiError::not_found("dispute"))?;
    let ctx =
        context(&state, &principal, idempotency_key, &format!("POST /v1/disputes/{id}/resolve"), &body.fingerprint);
    execute::<PaymentAggregate, _, _, _>(
        ctx,
        StreamKey::new(principal.tenant_id, payment_id.stream_id()),
        Own,
        Success::Ok,
        move |_, _| Ok(PaymentCommand::ResolveDispute { dispute_id, outcome }),
        move |s, _| dispute_response(s, dispute_id),
    )
    .await
}
