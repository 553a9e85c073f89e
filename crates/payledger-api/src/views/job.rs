//! A job as the API shows it.

use payledger_service::jobs::Job;
use serde_json::{json, Value};

/// Rates and estimates are shown to a tenth.
fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub fn job_json(job: &Job) -> Value {
    json!({
        "object": "job",
        "id": job.id,
        "kind": job.kind.as_str(),
        "status": job.status.as_str(),
        "progress": {
            "done": job.progress_done,
            "total": job.progress_total,
            "rate_per_s": job.rate_per_s().map(tenth),
            "eta_s": job.eta_s().map(tenth),
        },
        "params": job.params,
        "result": job.result,
        "error": job.error,
        "requested_by": job.requested_by,
        "cancel_requested": job.cancel_requested_by.is_some(),
        "attempts": job.attempts,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "url": format!("/v1/jobs/{}", job.id),
    })
}
