//! Jobs: work that outlasts a request (a rebuild, a verify, a large settlement report, a
//! webhook reprocessing), run by any server process and watched by its requester.
//!
//! A job's life is one declared table, [`transition`], of (status, step) to the status it
//! lands on or `None` when the step is refused there. Every pair is spelled out, so a new
//! status or step fails to compile until each pair is decided.
//!
//! The request and the outcome are facts of the ledger: [`JobEvent`]s in the stream
//! `job-<id>`, appended in the same transaction as the job row changes, so the history shows
//! who asked for every rebuild and verify and how it ended.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::codec::{self, Upcast};
use crate::event::DecodeError;
use crate::ids::JobId;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Rebuild the read-models (all tenants share them) and swap them live.
    ProjectionRebuild,
    /// Compare the tenant's read-models with a fresh fold.
    ProjectionVerify,
    /// Import a settlement report too large to import within the request.
    SettlementImport,
    /// Reprocess stored webhook deliveries of one endpoint.
    WebhookReprocess,
}

impl JobKind {
    pub const ALL: [JobKind; 4] =
        [JobKind::ProjectionRebuild, JobKind::ProjectionVerify, JobKind::SettlementImport, JobKind::WebhookReprocess];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::ProjectionRebuild => "projection_rebuild",
            JobKind::ProjectionVerify => "projection_verify",
            JobKind::SettlementImport => "settlement_import",
            JobKind::WebhookReprocess => "webhook_reprocess",
        }
    }

    pub fn parse(text: &str) -> Option<JobKind> {
        JobKind::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 5] =
        [JobStatus::Queued, JobStatus::Running, JobStatus::Succeeded, JobStatus::Failed, JobStatus::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Succeeded => "succeeded",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<JobStatus> {
        JobStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Succeeded, failed or cancelled: nothing more happens to it.
    pub fn is_finished(self) -> bool {
        match self {
            JobStatus::Queued | JobStatus::Running => false,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled => true,
        }
    }
}

/// What can happen to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStep {
    /// A process claims it (a queued one, or a running one whose lease expired).
    Claim,
    /// Its process gives it back to the queue to run later (the work was busy elsewhere).
    Requeue,
    Succeed,
    Fail,
    /// Its requester (or an admin) cancels it.
    Cancel,
}

impl JobStep {
    pub const ALL: [JobStep; 5] = [JobStep::Claim, JobStep::Requeue, JobStep::Succeed, JobStep::Fail, JobStep::Cancel];
}

/// THE job state machine. `None`: the step is refused in that status.
pub fn transition(from: JobStatus, step: JobStep) -> Option<JobStatus> {
    use JobStatus::{Cancelled, Failed, Queued, Running, Succeeded};
    use JobStep as S;
    match (from, step) {
        (Queued, S::Claim) => Some(Running),
        // A running job is claimed again only when its lease expired (its process died).
        (Running, S::Claim) => Some(Running),
        (Queued, S::Requeue) => None,
        (Running, S::Requeue) => Some(Queued),
        (Queued, S::Succeed) => None,
        (Running, S::Succeed) => Some(Succeeded),
        // A queued job fails without running when it can never run (its input is gone).
        (Queued, S::Fail) => Some(Failed),
        (Running, S::Fail) => Some(Failed),
        (Queued, S::Cancel) => Some(Cancelled),
        (Running, S::Cancel) => Some(Cancelled),
        (Succeeded | Failed | Cancelled, S::Claim | S::Requeue | S::Succeed | S::Fail | S::Cancel) => None,
    }
}

/// The facts of a job's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "payload")]
pub enum JobEvent {
    /// Someone asked for the work. `params` are the job's options as given.
    JobRequested {
        job_id: JobId,
        kind: JobKind,
        params: Value,
        requested_by: String,
    },
    /// The work finished; `result` is what `GET /v1/jobs/{id}` shows.
    JobSucceeded {
        job_id: JobId,
        result: Value,
        attempts: i32,
    },
    /// The work failed (`error` has a `code` and a `message`), or its processes kept dying.
    JobFailed {
        job_id: JobId,
        error: Value,
        attempts: i32,
    },
    JobCancelled {
        job_id: JobId,
        cancelled_by: String,
    },
}

impl JobEvent {
    pub const CURRENT_SCHEMA_VERSION: i32 = 1;
    pub const EVENT_TYPES: &'static [&'static str] = &["JobRequested", "JobSucceeded", "JobFailed", "JobCancelled"];

    pub fn event_type(&self) -> &'static str {
        match self {
            JobEvent::JobRequested { .. } => "JobRequested",
            JobEvent::JobSucceeded { .. } => "JobSucceeded",
            JobEvent::JobFailed { .. } => "JobFailed",
            JobEvent::JobCancelled { .. } => "JobCancelled",
        }
    }

    pub fn schema_version(&self) -> i32 {
        Self::CURRENT_SCHEMA_VERSION
    }

    pub fn job_id(&self) -> JobId {
        match self {
            JobEvent::JobRequested { job_id, .. }
            | JobEvent::JobSucceeded { job_id, .. }
            | JobEvent::JobFailed { job_id, .. }
            | JobEvent::JobCancelled { job_id, .. } => *job_id,
        }
    }

    /// The event body without its type tag.
    pub fn to_payload(&self) -> Value {
        codec::payload_of(self)
    }

    pub fn decode(event_type: &str, schema_version: i32, payload: &Value) -> Result<JobEvent, DecodeError> {
        if !Self::EVENT_TYPES.contains(&event_type) {
            return Err(DecodeError::UnknownEventType { event_type: event_type.to_owned() });
        }
        codec::decode_family(event_type, schema_version, payload, |version, body| {
            if version == Self::CURRENT_SCHEMA_VERSION {
                Ok(Upcast::Current(body))
            } else {
                Err(DecodeError::UnsupportedSchemaVersion {
                    event_type: event_type.to_owned(),
                    schema_version: version,
                    current: Self::CURRENT_SCHEMA_VERSION,
                })
            }
        })
    }
}
