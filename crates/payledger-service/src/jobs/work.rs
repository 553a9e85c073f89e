//! What each kind of job does, and how its outcome is written down.

use std::sync::{Arc, Mutex};

use deadpool_postgres::Pool;
use payledger_core::job::JobKind;
use payledger_core::payment::Provider;
use payledger_projector::{ProjectorError, Rebuild, RebuildOptions, VerifyOptions, PROJECTION};
use serde_json::{json, Value};
use uuid::Uuid;

use super::table::{request_job, Claimed, NewJob};
use crate::error::ServiceError;
use crate::settlement::{self, Origin};
use crate::webhooks::{reprocess, RetryPolicy, Scope};

/// Most differences a verify job's result lists (the total is always counted).
pub const VERIFY_MAX_DIFFERENCES: usize = 1_000;
/// Most problems of a refused settlement report a job's error lists.
const REPORT_PROBLEMS_MAX: usize = 1_000;

/// Settings of the work itself.
#[derive(Debug, Clone)]
pub struct WorkConfig {
    /// Events per transaction of a verify's fresh fold.
    pub verify_batch_size: i64,
    pub rebuild: RebuildOptions,
}

impl Default for WorkConfig {
    fn default() -> Self {
        WorkConfig { verify_batch_size: VerifyOptions::default().batch_size, rebuild: RebuildOptions::default() }
    }
}

/// Units done and of how many, shared between the work and its heartbeat.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<Mutex<(u64, Option<u64>)>>);

impl Progress {
    pub fn set(&self, done: u64, total: Option<u64>) {
        // A poisoned lock only means a panic elsewhere mid-write of two integers: keep going.
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *guard = (done, total);
    }

    pub fn get(&self) -> (u64, Option<u64>) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Why work did not produce a result.
#[derive(Debug)]
pub enum WorkError {
    /// Another rebuild or verify holds the read-models: run it later.
    Busy,
    Failed {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
}

impl WorkError {
    fn failed(code: &'static str, message: impl std::fmt::Display) -> WorkError {
        WorkError::Failed { code, message: message.to_string(), details: None }
    }

    /// The job's `error` field.
    pub fn to_json(&self) -> Value {
        match self {
            WorkError::Busy => json!({ "code": "projection_maintenance_in_progress", "message": "busy" }),
            WorkError::Failed { code, message, details } => {
                json!({ "code": code, "message": message, "details": details })
            }
        }
    }
}

impl From<ProjectorError> for WorkError {
    fn from(err: ProjectorError) -> WorkError {
        match err {
            ProjectorError::MaintenanceBusy { .. } => WorkError::Busy,
            err if err.is_transient() => WorkError::failed(
                "projection_verify_interrupted",
                format!("interrupted by concurrent work on the read-models: {err}"),
            ),
            err => WorkError::failed("internal_error", err),
        }
    }
}

impl From<ServiceError> for WorkError {
    fn from(err: ServiceError) -> WorkError {
        match err {
            ServiceError::SettlementReportRefused { problems } => {
                let message = ServiceError::SettlementReportRefused { problems: problems.clone() }.to_string();
                let shown = &problems[..problems.len().min(REPORT_PROBLEMS_MAX)];
                WorkError::Failed {
                    code: "invalid_settlement_report",
                    message,
                    details: Some(serde_json::to_value(shown).unwrap_or_default()),
                }
            }
            err => WorkError::failed("internal_error", err),
        }
    }
}

/// Runs a claimed job's work to its result.
pub async fn run_work(
    pool: &Pool,
    database_url: &str,
    claimed: &Claimed,
    config: &WorkConfig,
    progress: &Progress,
) -> Result<Value, WorkError> {
    let job = &claimed.job;
    match job.kind {
        JobKind::ProjectionVerify => verify(pool, database_url, claimed, config, progress).await,
        JobKind::ProjectionRebuild => rebuild(database_url, config, progress).await,
        JobKind::SettlementImport => import_report(pool, claimed, progress).await,
        JobKind::WebhookReprocess => reprocess_deliveries(pool, claimed, progress).await,
    }
}

async fn verify(
    pool: &Pool,
    database_url: &str,
    claimed: &Claimed,
    config: &WorkConfig,
    progress: &Progress,
) -> Result<Value, WorkError> {
    let job = &claimed.job;
    let options = VerifyOptions {
        tenant_id: Some(job.tenant_id),
        max_differences: VERIFY_MAX_DIFFERENCES,
        batch_size: config.verify_batch_size,
        ..VerifyOptions::default()
    };
    let report = payledger_projector::verify_with_progress(database_url, &options, |p| {
        progress.set(p.events_done, Some(p.events_total))
    })
    .await?;
    let repair = job.params.get("repair").and_then(Value::as_bool).unwrap_or(false);
    let repair_job = if repair && !report.is_clean() { Some(request_repair(pool, claimed).await?) } else { None };
    let mut result = serde_json::to_value(&report).map_err(|e| WorkError::failed("internal_error", e))?;
    if let Value::Object(map) = &mut result {
        map.insert("object".into(), json!("projection_verification"));
        map.insert("projection".into(), json!(PROJECTION));
        map.insert("clean".into(), json!(report.is_clean()));
        map.insert("repair".into(), repair_job.unwrap_or(Value::Null));
    }
    Ok(result)
}

/// Queues the rebuild a verify with `repair` asks for (or names the one already queued).
async fn request_repair(pool: &Pool, claimed: &Claimed) -> Result<Value, WorkError> {
    let job = &claimed.job;
    let new = NewJob {
        tenant_id: job.tenant_id,
        kind: JobKind::ProjectionRebuild,
        params: json!({ "requested_by_job": job.id }),
        input: None,
        requested_by: job.requested_by.clone(),
        request_id: None,
    };
    let id = match request_job(pool, new).await {
        Ok(rebuild) => rebuild.id,
        Err(ServiceError::RebuildInProgress { job_id: Some(id) }) => id,
        Err(err) => return Err(err.into()),
    };
    Ok(json!({ "object": "job", "id": id, "url": format!("/v1/jobs/{id}") }))
}

async fn rebuild(database_url: &str, config: &WorkConfig, progress: &Progress) -> Result<Value, WorkError> {
    let rebuild = Rebuild::start(database_url, config.rebuild.clone()).await?;
    let report = rebuild.run(|p| progress.set(p.events_done, Some(p.events_total))).await?;
    serde_json::to_value(&report).map_err(|e| WorkError::failed("internal_error", e))
}

async fn import_report(pool: &Pool, claimed: &Claimed, progress: &Progress) -> Result<Value, WorkError> {
    let job = &claimed.job;
    let provider: Provider = job
        .params
        .get("provider")
        .and_then(Value::as_str)
        .unwrap_or("")
        .parse()
        .map_err(|e| WorkError::failed("provider_invalid", e))?;
    let Some(bytes) = &claimed.input else {
        return Err(WorkError::failed("job_input_missing", "the report's bytes are gone"));
    };
    progress.set(0, Some(bytes.len() as u64));
    let origin = Origin { source: "api", actor: job.requested_by.clone(), request_id: None };
    let imported = settlement::import(pool, job.tenant_id, provider, bytes, &origin).await?;
    progress.set(bytes.len() as u64, Some(bytes.len() as u64));
    let id = imported.report.id;
    Ok(json!({
        "object": "settlement_report_import",
        "settlement_report_id": id,
        "duplicate": imported.duplicate,
        "line_count": imported.report.line_count,
        "url": format!("/v1/settlement-reports/{id}"),
    }))
}

async fn reprocess_deliveries(pool: &Pool, claimed: &Claimed, progress: &Progress) -> Result<Value, WorkError> {
    let params = &claimed.job.params;
    let endpoint_id = params
        .get("endpoint_id")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Uuid>().ok())
        .ok_or_else(|| WorkError::failed("job_params_invalid", "endpoint_id is missing"))?;
    let scope = match params.get("scope").and_then(Value::as_str) {
        Some("all") => Scope::All,
        _ => Scope::Pending,
    };
    let report = reprocess(pool, Some(endpoint_id), scope, &RetryPolicy::default())
        .await
        .map_err(|e| WorkError::failed("internal_error", e))?;
    progress.set(report.examined, Some(report.examined));
    let mut result = serde_json::to_value(&report).map_err(|e| WorkError::failed("internal_error", e))?;
    if let Value::Object(map) = &mut result {
        map.insert("object".into(), json!("webhook_reprocessing"));
        map.insert("endpoint_id".into(), json!(endpoint_id));
    }
    Ok(result)
}
