//! The contract of jobs and live streams (docs/JOBS.md).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::ErrorBody;
use crate::views::List;

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    ProjectionRebuild,
    ProjectionVerify,
    SettlementImport,
    WebhookReprocess,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct JobProgress {
    /// Work units done: events folded (verify, rebuild), bytes (settlement import),
    /// deliveries (webhook reprocessing).
    pub done: i64,
    /// Of about how many (`null` until known; the log grows while a rebuild runs).
    pub total: Option<i64>,
    pub rate_per_s: Option<f64>,
    /// Seconds left at the rate so far, while it runs.
    pub eta_s: Option<f64>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct JobError {
    pub code: String,
    pub message: String,
    /// Itemised problems (a refused settlement report's lines).
    pub details: Option<Value>,
}

/// Work that outlasts a request, run by a server process.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct Job {
    #[schema(pattern = "^job$")]
    pub object: String,
    pub id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub progress: JobProgress,
    /// The options it was requested with.
    #[schema(value_type = Object)]
    pub params: Value,
    /// When it succeeded: a `projection_verify`'s `ProjectionVerification`, a
    /// `projection_rebuild`'s report (`version`, `events_applied`, ...), a
    /// `settlement_import`'s report id, a `webhook_reprocess`'s counts.
    #[schema(value_type = Option<Object>)]
    pub result: Option<Value>,
    pub error: Option<JobError>,
    /// `api_key:<id>`.
    pub requested_by: String,
    /// A cancel was asked for; the job stops at its next heartbeat.
    pub cancel_requested: bool,
    /// Claims by server processes (more than one: a process died and another took it over).
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// `/v1/jobs/{id}`.
    pub url: String,
}

/// A job named by another answer (a verify's `repair`).
#[derive(Serialize, Deserialize, ToSchema)]
pub struct JobRef {
    #[schema(pattern = "^job$")]
    pub object: String,
    pub id: Uuid,
    pub url: String,
}

#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reprocess {
    /// `pending` (default): deliveries not applied; `all`: every delivery.
    pub scope: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// A job id: the page starts after it (newest first).
    pub starting_after: Option<Uuid>,
}

/// Headers of the live feed (asked for with `Accept: text/event-stream`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Header)]
pub struct FeedHeaders {
    /// Resume after this event's position (the `id:` of the last frame received); wins
    /// over `starting_after`.
    #[param(rename = "Last-Event-ID")]
    pub last_event_id: Option<i64>,
}

/// The caller's tenant's jobs, newest first (finance, auditor, admin).
#[utoipa::path(get, path = "/v1/jobs", params(JobsQuery), responses((status = 200, body = List<Job>)))]
pub fn list_jobs() {}

/// A job (finance, auditor, admin). With `Accept: text/event-stream` its progress as
/// Server-Sent Events: `event: progress` with the job first (also when it has finished),
/// then whenever it changes (at most 4 a second), then `event: done` (succeeded), `failed` or
/// `cancelled` with the job, and the stream ends; `: heartbeat` comments every 15 s.
#[utoipa::path(get, path = "/v1/jobs/{id}", params(("id" = Uuid, Path)),
    responses((status = 200, content((Job = "application/json"), (String = "text/event-stream"))),
        (status = 429, body = ErrorBody, description = "too_many_feeds: the key or the server holds as many live streams as it may")))]
pub fn get_job() {}

/// Cancel a job (finance, admin): a queued one at once, a running one at its next heartbeat
/// (`cancel_requested` until then).
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", params(("id" = Uuid, Path)), request_body = Option<super::Empty>,
    responses((status = 200, body = Job), (status = 409, body = ErrorBody, description = "job_not_cancellable: it has finished")))]
pub fn cancel_job() {}

/// Interpret the endpoint's stored deliveries again (admin), as a job.
#[utoipa::path(post, path = "/v1/admin/webhook-endpoints/{id}/reprocess", params(("id" = Uuid, Path)),
    request_body = Option<Reprocess>, responses((status = 202, body = Job, description = "queued as a job")))]
pub fn reprocess_webhook_endpoint() {}
