//! `POST /v1/webhooks/{provider}/{endpoint_id}`: signature-authenticated, no API key.
//! The flow is described in [`crate::webhooks`].

use axum::body::Body;
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
use crate::request_id;
use crate::state::AppState;
use crate::webhooks::endpoints::verification_keys;
use crate::webhooks::inbox::kept_headers;
use crate::webhooks::ingest::{ingest, VerifiedDelivery};
use crate::webhooks::metrics::{count_delivery, Outcome};
use crate::webhooks::processor::{dispatch_inline, ProcessorConfig};
use crate::webhooks::WebhookError;

pub async fn receive(
    State(state): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let not_found = || ApiError::from(WebhookError::EndpointNotFound);
    let Path((provider, endpoint_id)) = path.map_err(|_| not_found())?;
    let provider: Provider = provider.parse().map_err(|_| not_found())?;
    let endpoint_id: Uuid = endpoint_id.parse().map_err(|_| not_found())?;
    let limit_bytes = state.config.body_limit_bytes;
    let body = axum::body::to_bytes(body, limit_bytes).await.map_err(|_| WebhookError::BodyTooLarge { limit_bytes })?;

    // The only database work before verification: the endpoint's tenant and secrets.
    let keys = {
        let client = state.pool.get().await?;
        verification_keys(&**client, endpoint_id, provider).await?
    };
    let lookup = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let verified =
        verify(provider, &lookup, &body, &keys.secrets, Utc::now().timestamp(), state.config.webhook_tolerance_s)
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
        body: &body,
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

    Ok(match provider {
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
    })
}
