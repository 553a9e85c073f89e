//! Jobs (docs/JOBS.md): `GET /v1/jobs`, `GET /v1/jobs/{id}` (JSON, or its progress as
//! Server-Sent Events with `Accept: text/event-stream`) and `POST /v1/jobs/{id}/cancel`.
//! Jobs are requested by the routes whose work they do (`POST /v1/projections/rebuild`, ...),
//! each answering `202 Accepted` with the job and `Location: /v1/jobs/{id}`.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use payledger_core::job::JobKind;
use payledger_core::JobId;
use payledger_service::jobs::{cancel_job, get_job, list_jobs, request_job, Job, NewJob, JOBS_PAGE_MAX};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{PathId, QueryParams};
use crate::state::AppState;
use crate::views::job::job_json;

/// Who may see the tenant's jobs.
pub const JOB_READ_ROLES: &[Role] = &[Role::Finance, Role::Auditor, Role::Admin];
/// Who may cancel one.
pub const JOB_CANCEL_ROLES: &[Role] = &[Role::Finance, Role::Admin];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobsQuery {
    limit: Option<i64>,
    starting_after: Option<Uuid>,
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<JobsQuery>,
) -> ApiResult<Json<Value>> {
    let limit = query.limit.unwrap_or(JOBS_PAGE_MAX);
    if !(1..=JOBS_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid_param("limit", ApiCode::LimitInvalid, "limit is between 1 and 100"));
    }
    let client = state.pool.get().await?;
    let after = query.starting_after.map(JobId::from);
    let (jobs, has_more) = list_jobs(&**client, principal.tenant_id, limit, after).await?;
    let data: Vec<Value> = jobs.iter().map(job_json).collect();
    Ok(Json(json!({ "data": data, "has_more": has_more })))
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    PathId(id): PathId,
) -> ApiResult<Response> {
    let job = {
        let client = state.pool.get().await?;
        get_job(&**client, principal.tenant_id, JobId::from(id)).await?.ok_or_else(|| ApiError::not_found("job"))?
    };
    if crate::live::wants_event_stream(&headers) {
        let slot = state.live.admit(principal.key_id)?;
        return Ok(crate::live::job::respond(state.pool.clone(), state.live.clone(), slot, job, principal.is_live()));
    }
    Ok(Json(job_json(&job)).into_response())
}

pub async fn cancel(State(state): State<AppState>, principal: Principal, PathId(id): PathId) -> ApiResult<Json<Value>> {
    let job = cancel_job(&state.pool, principal.tenant_id, JobId::from(id), &actor(&principal)).await?;
    Ok(Json(job_json(&job)))
}

pub fn actor(principal: &Principal) -> String {
    principal.actor_name()
}

/// Queues a job for the caller's tenant and answers `202 Accepted` with it.
pub async fn accept(
    state: &AppState,
    principal: &Principal,
    kind: JobKind,
    params: Value,
    input: Option<Vec<u8>>,
) -> ApiResult<Response> {
    let new = NewJob {
        tenant_id: principal.tenant_id,
        kind,
        params,
        input,
        requested_by: actor(principal),
        request_id: crate::request_id::current(),
    };
    let job = request_job(&state.pool, new).await?;
    Ok(accepted(&job))
}

fn accepted(job: &Job) -> Response {
    let mut response = (StatusCode::ACCEPTED, Json(job_json(job))).into_response();
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/jobs/{}", job.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}
