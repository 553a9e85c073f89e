//! `POST /v1/webhooks/{provider}/{endpoint_id}`: signature-authenticated, no API key.
//! The flow is described in `payledger_service::webhooks`; its bounds in [`crate::webhooks::admission`].

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::Utc;
use payledger_gateways::{verify, Provider, SignatureError, ADYEN_ACCEPTED_REPLY};
use serde_json::json;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::rate_limit::{Decision, Limit};
use crate::request_id;
use crate::state::{ApiConfig, AppState};
use crate::webhooks::admission::Admission;
use payledger_service::webhooks::endpoints::verification_keys;
use payledger_service::webhooks::inbox::kept_headers;
use payledger_service::webhooks::ingest::{ingest, VerifiedDelivery};
use payledger_service::webhooks::metrics::{count_delivery, Outcome};
use payledger_service::webhooks::processor::{dispatch_inline, ProcessorConfig};
use payledger_service::webhooks::WebhookError;

/// The route's state: the app's, and the admission bounds of this server.
#[derive(Clone)]
pub struct WebhookState {
    pub app: AppState,
    pub admission: Arc<Admission>,
}

impl WebhookState {
    /// The route's state, with fresh admission bounds (one per server).
    pub fn new(app: &AppState) -> Self {
        WebhookState { app: app.clone(), admission: Arc::new(Admission::new(&app.config)) }
    }
}

pub async fn receive(
    State(hooks): State<WebhookState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let not_found = || ApiError::from(WebhookError::EndpointNotFound);
    let Path((provider, endpoint_id)) = path.map_err(|_| not_found())?;
    let provider: Provider = provider.parse().map_err(|_| not_found())?;
    let endpoint_id: Uuid = endpoint_id.parse().map_err(|_| not_found())?;
    // Everything that can be refused from the headers alone is, before the body is read.
    refuse_declared_length(&headers, hooks.app.config.body_limit_bytes)?;
    let admitted = hooks.admission.admit(&hooks.app.pool, endpoint_id, provider).await?;
    let config = &hooks.app.config;
    let limit = Limit::of(config.webhook_rate_limit_per_s, config.webhook_rate_limit_burst);
    let decision = hooks.app.webhook_rate_limits.check(endpoint_id, limit);
    if let Decision::Refused { .. } = decision {
        return Err(crate::auth::rate_limited(decision, "this webhook endpoint"));
    }
    let body = read_body(body, &hooks.app.config).await?;
    let _slot = admitted.start()?;
    record(&hooks.app, provider, endpoint_id, &headers, &body).await
}

/// 413 at once for a declared length over the limit (a chunked body is cut while read).
fn refuse_declared_length(headers: &HeaderMap, limit_bytes: usize) -> Result<(), WebhookError> {
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit_bytes as u64 => Err(WebhookError::BodyTooLarge { limit_bytes }),
        _ => Ok(()),
    }
}

async fn read_body(body: Body, config: &ApiConfig) -> Result<Bytes, WebhookError> {
    let (limit_bytes, timeout_ms) = (config.body_limit_bytes, config.webhook_body_timeout_ms);
    let read = tokio::time::timeout(Duration::from_millis(timeout_ms), axum::body::to_bytes(body, limit_bytes));
    match read.await {
        Err(_) => Err(WebhookError::BodyTimeout { timeout_ms }),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => match e.into_inner().is::<http_body_util::LengthLimitError>() {
            true => Err(WebhookError::BodyTooLarge { limit_bytes }),
            false => Err(WebhookError::BodyIncomplete),
        },
    }
}

/// Verifies the delivery against the endpoint's current secrets and records it.
async fn record(
    state: &AppState,
    provider: Provider,
    endpoint_id: Uuid,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<Response> {
    // Read for every delivery, never cached: a new or retired secret counts at once.
    let keys = {
        let client = state.pool.get().await?;
        verification_keys(&client, state.master_key.as_deref(), endpoint_id, provider).await?
    };
    let lookup = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let verified =
        verify(provider, &lookup, body, &keys.secrets, Utc::now().timestamp(), state.config.webhook_tolerance_s)
            .map_err(|error| {
                let outcome = match error {
                    SignatureError::TimestampStale { .. } => Outcome::Stale,
                    _ => Outcome::BadSignature,
                };
                count_delivery(provider, outcome);
                tracing::warn!(%endpoint_id, provider = provider.as_str(), code = error.code(), "webhook refused");
                WebhookError::Signature(error)
            })?;
    count_delivery(provider, Outcome::Verified);

    let secret_id = *keys
        .secret_ids
        .get(verified.secret_index)
        .ok_or_else(|| ApiError::internal("verifying secret index out of range"))?;
    let delivery = VerifiedDelivery {
        tenant_id: keys.tenant_id,
        endpoint_id,
        provider,
        secret_id,
        signed_at_unix_s: verified.signed_at_unix_s,
        headers: kept_headers(provider, lookup),
        body,
        request_id: request_id::current(),
    };
    let config = ProcessorConfig::default();
    let ingested = ingest(&state.pool, &delivery, config.inline_grace.as_secs_f64()).await?;
    let duplicate = ingested.new_delivery_ids.is_empty();
    if duplicate {
        count_delivery(provider, Outcome::Duplicate);
    }
    let delivery_ids = ingested.new_delivery_ids.clone();
    dispatch_inline(state.pool.clone(), ingested.new_delivery_ids);
    Ok(answer(provider, duplicate, &delivery_ids))
}

fn answer(provider: Provider, duplicate: bool, delivery_ids: &[Uuid]) -> Response {
    match provider {
        Provider::Adyen => {
            (StatusCode::OK, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], ADYEN_ACCEPTED_REPLY)
                .into_response()
        }
        Provider::Stripe | Provider::Generic => (
            StatusCode::OK,
            Json(json!({
                "received": true,
                "duplicate": duplicate,
                "delivery_ids": delivery_ids,
            })),
        )
            .into_response(),
    }
}
