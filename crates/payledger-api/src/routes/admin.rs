//! A tenant's admin keys manage that tenant's API keys.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use payledger_service::tenants::{self as keys, KeyMode, Role};

use crate::auth::Principal;
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{JsonBody, PathId};
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub role: String,
    #[serde(default)]
    pub mode: Option<String>,
    #[serde(default)]
    pub label: Option<String>,
    /// When the key stops working (RFC 3339); absent: never.
    #[serde(default)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetRateLimit {
    /// Requests per second; null or absent: the server's default.
    #[serde(default)]
    pub rate_limit_per_s: Option<i32>,
    #[serde(default)]
    pub rate_limit_burst: Option<i32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetAllowedIps {
    /// CIDR blocks or addresses; null: any address.
    pub allowed_ips: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RollKey {
    /// How long the old key keeps working beside the new one (default a day).
    #[serde(default)]
    pub expire_old_in_s: Option<i64>,
}

pub async fn create_key(
    State(state): State<AppState>,
    principal: Principal,
    body: JsonBody<CreateKey>,
) -> ApiResult<Response> {
    let request = body.value;
    let role = Role::parse(&request.role).ok_or_else(|| {
        ApiError::invalid_param("role", ApiCode::RoleInvalid, "role is writer, finance, auditor or admin")
    })?;
    let mode = match request.mode.as_deref() {
        None => principal.mode,
        Some(m) => KeyMode::parse(m)
            .ok_or_else(|| ApiError::invalid_param("mode", ApiCode::ModeInvalid, "mode is test or live"))?,
    };
    if mode != principal.mode {
        let message = format!("a {} admin key creates {} keys only", principal.mode.as_str(), principal.mode.as_str());
        return Err(ApiError::forbidden(message));
    }
    let spec = keys::KeySpec { label: request.label, expires_at: request.expires_at, ..keys::KeySpec::default() };
    let created =
        keys::create_key_with(&state.pool, &principal.actor(), principal.account_id, role, mode, &spec).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

pub async fn list_keys(State(state): State<AppState>, principal: Principal) -> ApiResult<Response> {
    let client = state.pool.get().await?;
    let mut data = keys::list_keys(&**client, principal.account_id).await?;
    // An admin key sees the keys of its own mode: test and live are apart.
    data.retain(|key| key.data_mode() == principal.mode);
    Ok(Json(json!({ "data": data, "has_more": false })).into_response())
}

pub async fn revoke_key(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
) -> ApiResult<Response> {
    key_in_mode(&state, &principal, id).await?;
    let revoked = keys::revoke_key(&state.pool, &principal.actor(), id, Some(principal.account_id))
        .await?
        .ok_or_else(|| ApiError::not_found("api key"))?;
    Ok(Json(revoked).into_response())
}

/// A new key for an old one, which keeps working for `expire_old_in_s` (Stripe's roll).
pub async fn roll_key(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    body: JsonBody<RollKey>,
) -> ApiResult<Response> {
    key_in_mode(&state, &principal, id).await?;
    let expire_old_in_s = body.value.expire_old_in_s.unwrap_or(keys::ROLL_OVERLAP_DEFAULT_S);
    let rolled = keys::roll_key(&state.pool, &principal.actor(), id, Some(principal.account_id), expire_old_in_s)
        .await?
        .ok_or_else(|| ApiError::not_found("api key"))?;
    Ok((StatusCode::CREATED, Json(rolled)).into_response())
}

/// Sets the key's own rate limit (null fields: back to the server's default).
pub async fn set_rate_limit(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    body: JsonBody<SetRateLimit>,
) -> ApiResult<Response> {
    key_in_mode(&state, &principal, id).await?;
    let limit = keys::KeyRateLimit {
        rate_limit_per_s: body.value.rate_limit_per_s,
        rate_limit_burst: body.value.rate_limit_burst,
    };
    let key = keys::set_rate_limit(&state.pool, &principal.actor(), id, Some(principal.account_id), limit)
        .await?
        .ok_or_else(|| ApiError::not_found("api key"))?;
    Ok(Json(key).into_response())
}

/// Sets the networks the key may be used from (null: any).
pub async fn set_allowed_ips(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    body: JsonBody<SetAllowedIps>,
) -> ApiResult<Response> {
    key_in_mode(&state, &principal, id).await?;
    let networks = body.value.allowed_ips.as_deref().map(keys::parse_allowed_ips).transpose()?;
    let key =
        keys::set_allowed_ips(&state.pool, &principal.actor(), id, Some(principal.account_id), networks.as_deref())
            .await?
            .ok_or_else(|| ApiError::not_found("api key"))?;
    Ok(Json(key).into_response())
}

/// 404 unless the key is the admin's tenant's and of the admin key's own mode.
async fn key_in_mode(state: &AppState, principal: &Principal, key_id: uuid::Uuid) -> ApiResult<()> {
    let client = state.pool.get().await?;
    match keys::key_mode(&**client, principal.account_id, key_id).await? {
        Some(mode) if mode == principal.mode => Ok(()),
        _ => Err(ApiError::not_found("api key")),
    }
}
