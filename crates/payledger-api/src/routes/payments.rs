//! `POST /v1/payments` and the payment lifecycle commands.

use axum::extract::State;
use axum::response::Response;
use payledger_core::payment::{CaptureMethod, PaymentCommand, PaymentState, Provider};
use payledger_core::{DomainError, OrderId, PaymentId};
use payledger_store::StreamKey;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::Principal;
use crate::command::{context, execute};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{IdempotencyKey, JsonBody, PathId};
use crate::params;
use crate::state::AppState;
use crate::views::payment_view;
use payledger_service::aggregate::PaymentAggregate;
use payledger_service::command::{OrderToo, Own, Success};
use payledger_service::{ServiceError, ServiceResult};

fn payment_response(state: &PaymentState) -> ServiceResult<Value> {
    payment_view(state.as_ref().ok_or_else(|| ServiceError::internal("payment missing after command"))?)
}

/// Runs one lifecycle command on an existing payment and answers with the payment.
async fn run(
    state: &AppState,
    principal: &Principal,
    idempotency_key: Option<String>,
    route: String,
    body_fingerprint: &[u8; 32],
    payment_id: PaymentId,
    command: PaymentCommand,
) -> ApiResult<Response> {
    let ctx = context(state, principal, idempotency_key, &route, body_fingerprint);
    execute::<PaymentAggregate, _, _, _>(
        ctx,
        StreamKey::new(principal.tenant_id, payment_id.stream_id()),
        Own,
        Success::Ok,
        move |_, _| Ok(command.clone()),
        |s, _| payment_response(s),
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePayment {
    pub order_id: String,
    pub amount: Value,
    pub currency: String,
    pub capture_method: String,
    pub provider: String,
    #[serde(default)]
    pub provider_reference: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    IdempotencyKey(idempotency_key): IdempotencyKey,
    body: JsonBody<CreatePayment>,
) -> ApiResult<Response> {
    let request = &body.value;
    let amount_minor = params::amount(&request.amount, "amount")?;
    let currency = params::currency(&request.currency)?;
    let capture_method = match request.capture_method.as_str() {
        "automatic" => CaptureMethod::Automatic,
        "manual" => CaptureMethod::Manual,
        _ => {
            return Err(ApiError::invalid_param(
                "capture_method",
                ApiCode::CaptureMethodInvalid,
                "capture_method is automatic or manual",
            ))
        }
    };
    let provider: Provider = request.provider.parse().map_err(|_| {
        ApiError::invalid_param("provider", ApiCode::ProviderInvalid, "provider is stripe, adyen or generic")
    })?;
    let provider_reference = request.provider_reference.clone();
    let order_id: OrderId = request
        .order_id
        .parse()
        .map_err(|_| ApiError::invalid_param("order_id", ApiCode::OrderIdInvalid, "order_id must be an order's id"))?;

    let payment_id = PaymentId::new();
    let ctx = context(&state, &principal, idempotency_key, "POST /v1/payments", &body.fingerprint);
    let at = payledger_service::command::now();
    execute::<PaymentAggregate, _, _, _>(
        ctx,
        StreamKey::new(principal.tenant_id, payment_id.stream_id()),
        OrderToo(order_id),
        Success::Created,
        move |_, loaded| {
            let not_found = || ServiceError::DomainAt { error: DomainError::OrderNotFound, param: "order_id" };
            let order = loaded.order.as_ref().ok_or_else(not_found)?;
            let payments = loaded.payments;
            payments.ensure_room_for_payment()?;
            Ok(PaymentCommand::Initiate {
                payment_id,
                order: order.snapshot(payments.amount_committed),
                amount_minor,
                currency,
                capture_method,
                provider,
                provider_reference: provider_reference.clone(),
                at,
            })
        },
        |s, _| payment_response(s),
    )
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authorize {
    #[serde(default)]
    pub amount: Option<Value>,
}

pub async fn authorize(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    body: JsonBody<Authorize>,
) -> ApiResult<Response> {
    let amount_minor = params::optional_amount(&body.value.amount, "amount")?;
    let route = format!("POST /v1/payments/{id}/authorize");
    run(&state, &principal, key, route, &body.fingerprint, id.into(), PaymentCommand::Authorize { amount_minor }).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    #[serde(default)]
    pub amount: Option<Value>,
    #[serde(default, rename = "final")]
    pub final_capture: bool,
}

pub async fn capture(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    body: JsonBody<Capture>,
) -> ApiResult<Response> {
    let amount_minor = params::optional_amount(&body.value.amount, "amount")?;
    let command = PaymentCommand::Capture { amount_minor, final_capture: body.value.final_capture };
    let route = format!("POST /v1/payments/{id}/capture");
    run(&state, &principal, key, route, &body.fingerprint, id.into(), command).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

pub async fn void(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    body: JsonBody<Empty>,
) -> ApiResult<Response> {
    let route = format!("POST /v1/payments/{id}/void");
    run(&state, &principal, key, route, &body.fingerprint, id.into(), PaymentCommand::Void).await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fail {
    pub code: String,
    pub message: String,
}

pub async fn fail(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    IdempotencyKey(key): IdempotencyKey,
    body: JsonBody<Fail>,
) -> ApiResult<Response> {
    let code = body.value.code.clone();
    let message = body.value.message.clone();
    let route = format!("POST /v1/payments/{id}/fail");
    run(&state, &principal, key, route, &body.fingerprint, id.into(), PaymentCommand::Fail { code, message }).await
}
