//! `GET /v1/projections` (checkpoint, lag, state, rebuild progress, and the caller's own
//! parked streams: `state` is `degraded` while any is parked),
//! `POST /v1/projections/rebuild` and `POST /v1/projections/verify`: each queues a job
//! (docs/JOBS.md) and answers `202 Accepted` with it and `Location: /v1/jobs/{id}`.
//!
//! The read-models are shared by all tenants: a rebuild rebuilds them all, and one rebuild or
//! verify runs at a time (a job that finds another running waits in the queue). A tenant has
//! at most one rebuild queued or running (409 `rebuild_in_progress` otherwise). A verify
//! compares the caller's tenant's read-models with a fresh fold and lists every difference
//! in its result; `{"repair": true}` queues a rebuild when there is any.

use axum::extract::State;
use axum::response::Response;
use axum::Json;
use payledger_core::job::JobKind;
use payledger_projector::tenant_projection_status;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::{Principal, PROJECTION_ROLES};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::routes::jobs::accept;
use crate::state::AppState;

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
    require_live(&principal)?;
    let RebuildRequest {} = body.value;
    accept(&state, &principal, JobKind::ProjectionRebuild, json!({}), None).await
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
) -> ApiResult<Response> {
    principal.require(PROJECTION_ROLES)?;
    if body.value.repair {
        require_live(&principal)?;
    }
    let params = json!({ "repair": body.value.repair });
    accept(&state, &principal, JobKind::ProjectionVerify, params, None).await
}

/// A rebuild rebuilds every tenant's live read-models: no test credential starts one.
fn require_live(principal: &Principal) -> ApiResult<()> {
    if principal.is_live() {
        return Ok(());
    }
    let message = "a rebuild rebuilds the read-models of all live data: use a live credential";
    Err(ApiError::of(ApiCode::LiveCredentialRequired, message))
}
