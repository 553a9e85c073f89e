//! The `jobs` table (migration V14), each change of status in one transaction with its
//! event in the job's stream. Every status change is checked against the job state machine
//! (`payledger_core::job::transition`) in its `WHERE` clause.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use payledger_core::job::{JobEvent, JobKind, JobStatus};
use payledger_core::JobId;
use payledger_store::{append_in_tx, notify_committed, BatchItem, ExpectedVersion, NewEvent, StreamKey};
use serde_json::{json, Value};
use tokio_postgres::error::SqlState;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};

/// Largest page of `GET /v1/jobs`.
pub const JOBS_PAGE_MAX: i64 = 100;

/// A job as its row says, without its input bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub tenant_id: Uuid,
    pub kind: JobKind,
    pub status: JobStatus,
    pub params: Value,
    pub requested_by: String,
    pub progress_done: i64,
    pub progress_total: Option<i64>,
    pub result: Option<Value>,
    pub error: Option<Value>,
    pub attempts: i32,
    pub cancel_requested_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Seconds it has run (to its end, or to now), by the database's clock.
    pub elapsed_s: Option<f64>,
}

impl Job {
    /// Work units per second so far (`None` before any were done).
    pub fn rate_per_s(&self) -> Option<f64> {
        let elapsed = self.elapsed_s.filter(|s| *s > 0.0)?;
        (self.progress_done > 0).then(|| self.progress_done as f64 / elapsed)
    }

    /// Seconds left at the rate so far, while it runs and its total is known.
    pub fn eta_s(&self) -> Option<f64> {
        if self.status != JobStatus::Running {
            return None;
        }
        let left = self.progress_total?.saturating_sub(self.progress_done).max(0);
        Some(left as f64 / self.rate_per_s()?)
    }
}

const COLUMNS: &str = "job_id, tenant_id, kind, status, params, requested_by, progress_done, progress_total,
    result, error, attempts, cancel_requested_by, created_at, started_at, finished_at,
    extract(epoch FROM coalesce(finished_at, now()) - started_at)::float8";

fn job_of(row: &Row) -> ServiceResult<Job> {
    let kind: String = row.try_get(2)?;
    let status: String = row.try_get(3)?;
    Ok(Job {
        id: JobId::from(row.try_get::<_, Uuid>(0)?),
        tenant_id: row.try_get(1)?,
        kind: JobKind::parse(&kind).ok_or_else(|| ServiceError::internal(format!("job kind {kind:?}")))?,
        status: JobStatus::parse(&status).ok_or_else(|| ServiceError::internal(format!("job status {status:?}")))?,
        params: row.try_get(4)?,
        requested_by: row.try_get(5)?,
        progress_done: row.try_get(6)?,
        progress_total: row.try_get(7)?,
        result: row.try_get(8)?,
        error: row.try_get(9)?,
        attempts: row.try_get(10)?,
        cancel_requested_by: row.try_get(11)?,
        created_at: row.try_get(12)?,
        started_at: row.try_get(13)?,
        finished_at: row.try_get(14)?,
        elapsed_s: row.try_get(15)?,
    })
}

/// What a caller asks to be done.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub tenant_id: Uuid,
    pub kind: JobKind,
    pub params: Value,
    /// A settlement report's bytes.
    pub input: Option<Vec<u8>>,
    /// `api_key:<id>` or `cli`.
    pub requested_by: String,
    pub request_id: Option<String>,
}

/// Queues the job and appends its `JobRequested`, in one transaction. A second rebuild of
/// a tenant while one is queued or running is refused with [`ServiceError::RebuildInProgress`].
pub async fn request_job(pool: &Pool, job: NewJob) -> ServiceResult<Job> {
    let id = JobId::new();
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let sql = format!(
        "INSERT INTO jobs (job_id, tenant_id, kind, status, params, input, requested_by)
         VALUES ($1, $2, $3, 'queued', $4, $5, $6) RETURNING {COLUMNS}"
    );
    let inserted = tx
        .query_one(
            &sql,
            &[id.as_uuid(), &job.tenant_id, &job.kind.as_str(), &job.params, &job.input, &job.requested_by],
        )
        .await;
    let row = match inserted {
        Ok(row) => row,
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            drop(tx);
            let running = active_rebuild(&**client, job.tenant_id).await?;
            return Err(ServiceError::RebuildInProgress { job_id: running });
        }
        Err(e) => return Err(e.into()),
    };
    let event = JobEvent::JobRequested {
        job_id: id,
        kind: job.kind,
        params: job.params.clone(),
        requested_by: job.requested_by.clone(),
    };
    let metadata = json!({ "source": "api", "actor": job.requested_by, "request_id": job.request_id });
    append_job_event(&tx, job.tenant_id, event, metadata).await?;
    tx.commit().await?;
    notify_committed(pool);
    job_of(&row)
}

async fn active_rebuild<C: GenericClient>(client: &C, tenant_id: Uuid) -> ServiceResult<Option<JobId>> {
    let row = client
        .query_opt(
            "SELECT job_id FROM jobs WHERE tenant_id = $1 AND kind = 'projection_rebuild'
               AND status IN ('queued', 'running')",
            &[&tenant_id],
        )
        .await?;
    Ok(row.map(|r| r.try_get::<_, Uuid>(0)).transpose()?.map(JobId::from))
}

pub(crate) async fn append_job_event<C: payledger_store::Queries>(
    tx: &C,
    tenant_id: Uuid,
    event: JobEvent,
    metadata: Value,
) -> ServiceResult<()> {
    let stream = StreamKey::new(tenant_id, event.job_id().stream_id());
    let new = NewEvent::new(event.event_type(), event.schema_version(), event.to_payload()).with_metadata(metadata);
    append_in_tx(tx, &[BatchItem { stream, expected: ExpectedVersion::Any, events: vec![new] }]).await?;
    Ok(())
}

/// The tenant's job.
pub async fn get_job<C: GenericClient>(client: &C, tenant_id: Uuid, id: JobId) -> ServiceResult<Option<Job>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE job_id = $1 AND tenant_id = $2");
    client.query_opt(&sql, &[id.as_uuid(), &tenant_id]).await?.as_ref().map(job_of).transpose()
}

/// Any tenant's job (for operators, who name jobs by id alone).
pub async fn find_job<C: GenericClient>(client: &C, id: JobId) -> ServiceResult<Option<Job>> {
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE job_id = $1");
    client.query_opt(&sql, &[id.as_uuid()]).await?.as_ref().map(job_of).transpose()
}

/// The tenant's jobs, newest first; `starting_after` is the last job of the previous page.
pub async fn list_jobs<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    limit: i64,
    starting_after: Option<JobId>,
) -> ServiceResult<(Vec<Job>, bool)> {
    let limit = limit.clamp(1, JOBS_PAGE_MAX);
    let cursor = match starting_after {
        Some(id) => {
            let row = client
                .query_opt(
                    "SELECT created_at FROM jobs WHERE job_id = $1 AND tenant_id = $2",
                    &[id.as_uuid(), &tenant_id],
                )
                .await?
                .ok_or(ServiceError::CursorNotFound { param: "starting_after" })?;
            Some((row.try_get::<_, DateTime<Utc>>(0)?, *id.as_uuid()))
        }
        None => None,
    };
    let (after_at, after_id) = cursor.unzip();
    let sql = format!(
        "SELECT {COLUMNS} FROM jobs WHERE tenant_id = $1
           AND ($2::timestamptz IS NULL OR (created_at, job_id) < ($2, $3))
         ORDER BY created_at DESC, job_id DESC LIMIT $4"
    );
    let rows = client.query(&sql, &[&tenant_id, &after_at, &after_id, &(limit + 1)]).await?;
    let has_more = rows.len() as i64 > limit;
    let jobs = rows.iter().take(limit as usize).map(job_of).collect::<ServiceResult<Vec<_>>>()?;
    Ok((jobs, has_more))
}

/// Cancels a queued job at once; a running one is marked and its process stops it at its
/// next heartbeat. A finished job is refused with [`ServiceError::JobFinished`].
pub async fn cancel_job(pool: &Pool, tenant_id: Uuid, id: JobId, by: &str) -> ServiceResult<Job> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let sql = format!("SELECT {COLUMNS} FROM jobs WHERE job_id = $1 AND tenant_id = $2 FOR UPDATE");
    let job = tx.query_opt(&sql, &[id.as_uuid(), &tenant_id]).await?.as_ref().map(job_of).transpose()?;
    let job = job.ok_or(ServiceError::NotFound("job"))?;
    match job.status {
        JobStatus::Queued => {
            tx.execute(
                "UPDATE jobs SET status = 'cancelled', cancel_requested_by = $2, finished_at = now(), input = NULL
                 WHERE job_id = $1",
                &[id.as_uuid(), &by],
            )
            .await?;
            let event = JobEvent::JobCancelled { job_id: id, cancelled_by: by.to_owned() };
            append_job_event(&tx, tenant_id, event, json!({ "source": "api", "actor": by })).await?;
        }
        JobStatus::Running => {
            tx.execute("UPDATE jobs SET cancel_requested_by = $2 WHERE job_id = $1", &[id.as_uuid(), &by]).await?;
        }
        status @ (JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled) => {
            return Err(ServiceError::JobFinished { status: status.as_str() });
        }
    }
    let row = tx.query_one(&sql, &[id.as_uuid(), &tenant_id]).await?;
    tx.commit().await?;
    notify_committed(pool);
    job_of(&row)
}

/// A job a process holds, with its input.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub job: Job,
    pub input: Option<Vec<u8>>,
    /// It was running under another process whose lease expired.
    pub taken_over: bool,
}

/// Claims the oldest due job (queued, or running on an expired lease) for `owner`.
pub async fn claim_job(pool: &Pool, owner: Uuid, lease_ms: u64) -> ServiceResult<Option<Claimed>> {
    let client = pool.get().await?;
    let sql = format!(
        "WITH next AS (
             SELECT job_id AS next_id, status AS was FROM jobs
             WHERE status IN ('queued', 'running') AND run_after <= now()
               AND (status = 'queued' OR lease_expires_at < now())
             ORDER BY run_after, created_at
             LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE jobs SET status = 'running', lease_owner = $1,
             lease_expires_at = now() + $2 * interval '1 millisecond',
             attempts = attempts + 1, started_at = coalesce(started_at, now())
         FROM next WHERE jobs.job_id = next.next_id
         RETURNING {COLUMNS}, next.was, input"
    );
    let lease = lease_ms as f64;
    let Some(row) = client.query_opt(&sql, &[&owner, &lease]).await? else {
        return Ok(None);
    };
    let was: String = row.try_get(16)?;
    Ok(Some(Claimed { job: job_of(&row)?, input: row.try_get(17)?, taken_over: was == "running" }))
}

/// Renews the lease and records progress. `None`: the lease is lost (another process took
/// the job over, or it was finished elsewhere): stop working on it. `Some(by)`: someone
/// asked to cancel it.
pub async fn heartbeat(
    pool: &Pool,
    id: JobId,
    owner: Uuid,
    lease_ms: u64,
    done: u64,
    total: Option<u64>,
) -> ServiceResult<Option<Option<String>>> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE jobs SET progress_done = $3, progress_total = $4,
                 lease_expires_at = now() + $5 * interval '1 millisecond'
             WHERE job_id = $1 AND lease_owner = $2 AND status = 'running'
             RETURNING cancel_requested_by",
            &[id.as_uuid(), &owner, &clamp_i64(done), &total.map(clamp_i64), &(lease_ms as f64)],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// How a held job ends.
#[derive(Debug, Clone)]
pub enum Ending {
    Succeeded {
        result: Value,
    },
    Failed {
        error: Value,
    },
    Cancelled {
        by: String,
    },
    /// Back to the queue, to run after `delay_ms` (the work was busy elsewhere).
    Requeued {
        delay_ms: u64,
    },
}

/// Ends a job `owner` holds, with its event (none for a requeue). `false`: the lease was
/// lost meanwhile and nothing was written.
pub async fn end_job(pool: &Pool, job: &Job, owner: Uuid, ending: Ending, done: u64) -> ServiceResult<bool> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let id = job.id.as_uuid();
    let done = clamp_i64(done);
    let held = "WHERE job_id = $1 AND lease_owner = $2 AND status = 'running'";
    let finish = "lease_owner = NULL, lease_expires_at = NULL, finished_at = now(), input = NULL";
    let (changed, event) = match &ending {
        Ending::Succeeded { result } => {
            let sql = format!("UPDATE jobs SET status = 'succeeded', result = $3, progress_done = $4, {finish} {held}");
            let n = tx.execute(&sql, &[id, &owner, result, &done]).await?;
            (n, JobEvent::JobSucceeded { job_id: job.id, result: result.clone(), attempts: job.attempts })
        }
        Ending::Failed { error } => {
            let sql = format!("UPDATE jobs SET status = 'failed', error = $3, progress_done = $4, {finish} {held}");
            let n = tx.execute(&sql, &[id, &owner, error, &done]).await?;
            (n, JobEvent::JobFailed { job_id: job.id, error: error.clone(), attempts: job.attempts })
        }
        Ending::Cancelled { by } => {
            let sql = format!("UPDATE jobs SET status = 'cancelled', progress_done = $3, {finish} {held}");
            let n = tx.execute(&sql, &[id, &owner, &done]).await?;
            (n, JobEvent::JobCancelled { job_id: job.id, cancelled_by: by.clone() })
        }
        Ending::Requeued { delay_ms } => {
            let sql = format!(
                "UPDATE jobs SET status = 'queued', lease_owner = NULL, lease_expires_at = NULL,
                     attempts = greatest(attempts - 1, 0),
                     run_after = now() + $3 * interval '1 millisecond' {held}"
            );
            let n = tx.execute(&sql, &[id, &owner, &(*delay_ms as f64)]).await?;
            tx.commit().await?;
            return Ok(n == 1);
        }
    };
    if changed != 1 {
        return Ok(false);
    }
    append_job_event(&tx, job.tenant_id, event, json!({ "source": "job_runner", "actor": job.requested_by })).await?;
    tx.commit().await?;
    notify_committed(pool);
    Ok(true)
}
