//! Admin routes for a tenant's webhook endpoints and their secrets (admin keys only).
//!
//! - `POST /v1/admin/webhook-endpoints {"provider", "secret"?, "label"?}` → 201 endpoint
//!   (`secret` may be left out for `generic`: one is generated and shown once)
//! - `GET /v1/admin/webhook-endpoints?limit=&starting_after=` → `{"data", "has_more"}`
//! - `POST /v1/admin/webhook-endpoints/{id}/secrets {"secret"?}` → 201 secret (rotation)
//! - `POST /v1/admin/webhook-endpoints/{id}/secrets/{secret_id}/retire` → 200 secret
//!
//! Secrets are never shown back, only a hint of their last characters.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use payledger_gateways::Provider;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{JsonBody, PathId, QueryParams};
use crate::state::AppState;
use payledger_service::webhooks::endpoints::{self, LIST_MAX_LIMIT};
use payledger_service::webhooks::WebhookError;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    pub provider: String,
    #[serde(default)]
    pub secret: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    body: JsonBody<CreateEndpoint>,
) -> ApiResult<Response> {
    let request = body.value;
    let provider: Provider = request.provider.parse().map_err(|_| {
        ApiError::invalid_param("provider", ApiCode::ProviderInvalid, "provider is stripe, adyen or generic")
    })?;
    let label = request.label;
    let created = endpoints::create_endpoint(
        &state.pool,
        state.master_key.as_deref(),
        &principal.actor(),
        principal.tenant_id,
        provider,
        request.secret.as_deref(),
        label.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<i64>,
    pub starting_after: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ListQuery>,
) -> ApiResult<Response> {
    let limit = query.limit.unwrap_or(LIST_MAX_LIMIT);
    if !(1..=LIST_MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_param(
            "limit",
            ApiCode::LimitInvalid,
            format!("limit is between 1 and {LIST_MAX_LIMIT}"),
        ));
    }
    let starting_after = query.starting_after.map(|id| id.parse::<Uuid>()).transpose().map_err(|_| {
        ApiError::invalid_param("starting_after", ApiCode::CursorInvalid, "starting_after is an endpoint id")
    })?;
    let client = state.pool.get().await?;
    let (data, has_more) = endpoints::list_endpoints(&**client, principal.tenant_id, limit, starting_after).await?;
    Ok(Json(json!({ "data": data, "has_more": has_more })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddSecret {
    #[serde(default)]
    pub secret: Option<String>,
}

pub async fn add_secret(
    State(state): State<AppState>,
    principal: Principal,
    PathId(endpoint_id): PathId,
    body: JsonBody<AddSecret>,
) -> ApiResult<Response> {
    let created = endpoints::add_secret(
        &state.pool,
        state.master_key.as_deref(),
        &principal.actor(),
        principal.tenant_id,
        endpoint_id,
        body.value.secret.as_deref(),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub async fn retire_secret(
    State(state): State<AppState>,
    principal: Principal,
    path: Result<Path<(String, String)>, PathRejection>,
) -> ApiResult<Response> {
    let Path((endpoint_id, secret_id)) = path.map_err(|_| ApiError::from(WebhookError::EndpointNotFound))?;
    let endpoint_id: Uuid = endpoint_id.parse().map_err(|_| ApiError::from(WebhookError::EndpointNotFound))?;
    let secret_id: Uuid = secret_id.parse().map_err(|_| ApiError::from(WebhookError::SecretNotFound))?;
    let retired =
        endpoints::retire_secret(&state.pool, &principal.actor(), principal.tenant_id, endpoint_id, secret_id).await?;
    Ok(Json(retired).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reprocess {
    /// `pending` (the default: deliveries not applied) or `all`.
    #[serde(default)]
    pub scope: Option<String>,
}

/// `POST /v1/admin/webhook-endpoints/{id}/reprocess {"scope"?}` → 202 with the job that
/// interprets the endpoint's stored deliveries again (docs/JOBS.md).
pub async fn reprocess(
    State(state): State<AppState>,
    principal: Principal,
    PathId(endpoint_id): PathId,
    body: JsonBody<Reprocess>,
) -> ApiResult<Response> {
    let scope = match body.value.scope.as_deref() {
        None | Some("pending") => "pending",
        Some("all") => "all",
        Some(_) => return Err(ApiError::invalid_param("scope", ApiCode::InvalidField, "scope is pending or all")),
    };
    let owner = {
        let client = state.pool.get().await?;
        endpoints::endpoint_tenant(&**client, endpoint_id).await?
    };
    if owner != principal.tenant_id {
        return Err(WebhookError::EndpointNotFound.into());
    }
    let params = json!({ "endpoint_id": endpoint_id, "scope": scope });
    crate::routes::jobs::accept(&state, &principal, payledger_core::job::JobKind::WebhookReprocess, params, None).await
}
