//! `GET /v1/projections` (checkpoint, lag, state, rebuild progress, and the caller's own
//! parked streams: `state` is `degraded` while any is parked),
//! `POST /v1/projections/rebuild` (starts a rebuild in the background: 202, then follow it in
//! `GET /v1/projections`) and `POST /v1/projections/verify` (compares the caller's tenant's
//! read-models with a fresh fold and lists every difference; `{"repair": true}` starts a
//! rebuild when there is any).
//!
//! The read-models are shared by all tenants: a rebuild rebuilds them all, and only one
//! rebuild or verify runs at a time (409 `projection_maintenance_in_progress` otherwise).
//! A verify runs within the request and is bounded by the request timeout. It retries a
//! transient database condition (lock timeout, deadlock, serialization failure) itself a few
//! times; if that persists the answer is 503 `projection_verify_interrupted`, never a 500.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use payledger_projector::{tenant_projection_status, Rebuild, RebuildOptions, VerifyOptions, PROJECTION};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Principal, PROJECTION_ROLES};
use crate::error::{verify_failed, ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::state::AppState;

/// Most differences a verify response lists (the total is always counted).
const VERIFY_MAX_DIFFERENCES: usize = 1_000;

pub async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Value>> {
    principal.require(PROJECTION_ROLES)?;
    let client = state.pool.get().await?;
    // Only the caller's own parked streams are listed (and counted).
    let statuses = tenant_projection_status(&**client, principal.tenant_id).await?;
    Ok(Json(json!({ "data": statuses, "has_more": false })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RebuildRequest {}

pub async fn rebuild(
    State(state): State<AppState>,
    principal: Principal,
    body: JsonBody<RebuildRequest>,
) -> ApiResult<Response> {
    principal.require(PROJECTION_ROLES)?;
    let RebuildRequest {} = body.value;
    let version = start_rebuild(&state).await?;
    Ok((StatusCode::ACCEPTED, Json(rebuild_json(version))).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    #[serde(default)]
    pub repair: bool,
}

pub async fn verify(
    State(state): State<AppState>,
    principal: Principal,
    body: JsonBody<VerifyRequest>,
) -> ApiResult<Json<Value>> {
    principal.require(PROJECTION_ROLES)?;
    let options = VerifyOptions {
        tenant_id: Some(principal.tenant_id),
        max_differences: VERIFY_MAX_DIFFERENCES,
        ..VerifyOptions::default()
    };
    let report = payledger_projector::verify(&state.database_url, &options).await.map_err(verify_failed)?;
    let repair =
        if body.value.repair && !report.is_clean() { Some(rebuild_json(start_rebuild(&state).await?)) } else { None };
    let mut body = serde_json::to_value(&report).map_err(ApiError::internal)?;
    if let Value::Object(map) = &mut body {
        map.insert("object".into(), json!("projection_verification"));
        map.insert("projection".into(), json!(PROJECTION));
        map.insert("clean".into(), json!(report.is_clean()));
        map.insert("repair".into(), repair.unwrap_or(Value::Null));
    }
    Ok(Json(body))
}

/// A transient condition that outlasted verify's own retries is a 503 with its own code;
/// other database errors are logged with their SQLSTATE, message and detail.
/// Takes the maintenance lock now (so "busy" is answered at once) and runs the rebuild in
/// the background; returns the version being built.
async fn start_rebuild(state: &AppState) -> ApiResult<i32> {
    let rebuild = Rebuild::start(&state.database_url, RebuildOptions::default()).await?;
    let version = rebuild.version();
    tokio::spawn(async move {
        match rebuild.run(|_| {}).await {
            Ok(report) => tracing::info!(version = report.version, events = report.events_applied, "rebuild done"),
            Err(err) => tracing::error!(version, error = %err, "rebuild failed; the live read-models are unchanged"),
        }
    });
    Ok(version)
}

fn rebuild_json(version: i32) -> Value {
    json!({
        "object": "projection_rebuild",
        "projection": PROJECTION,
        "version": version,
        "status": "started",
    })
}
