//! The job runner of a server process: claims due jobs (`FOR UPDATE SKIP LOCKED`), runs at
//! most `max_running` at once, renews each one's lease while it runs and records its
//! progress, stops one whose cancel was asked for or whose lease was lost, and writes the
//! outcome with its event. A job whose process died is claimed again once its lease
//! expired, and fails after `max_attempts` claims, so none stays `running` forever.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use uuid::Uuid;

use super::table::{claim_job, end_job, heartbeat, Claimed, Ending};
use super::work::{run_work, Progress, WorkConfig, WorkError};
use crate::error::ServiceResult;

#[derive(Debug, Clone)]
pub struct JobRunnerConfig {
    /// Jobs this process runs at once.
    pub max_running: usize,
    /// How long a claim holds without renewal; another process may take the job after it.
    pub lease_ms: u64,
    /// How often a running job's lease is renewed and its progress written.
    pub heartbeat_ms: u64,
    /// How often the queue is looked at when idle.
    pub poll_interval_ms: u64,
    /// Claims of one job before it fails as abandoned (its processes kept dying).
    pub max_attempts: i32,
    /// Delay before a job that found the read-models busy runs again.
    pub busy_retry_ms: u64,
    pub work: WorkConfig,
}

impl Default for JobRunnerConfig {
    fn default() -> Self {
        JobRunnerConfig {
            max_running: 2,
            lease_ms: 30_000,
            heartbeat_ms: 250,
            poll_interval_ms: 500,
            max_attempts: 3,
            busy_retry_ms: 2_000,
            work: WorkConfig::default(),
        }
    }
}

/// The runner in its task. [`JobRunner::stop`] gives its jobs back to the queue; dropping or
/// aborting it drops their work where it is (their leases then expire and another process
/// takes them over).
pub struct JobRunner {
    stop: watch::Sender<bool>,
    handle: JoinHandle<()>,
}

/// Longest a stopping runner waits for its jobs to be given back.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);

impl JobRunner {
    pub async fn stop(self) {
        self.stop.send_replace(true);
        let abort = self.handle.abort_handle();
        if tokio::time::timeout(STOP_TIMEOUT, self.handle).await.is_err() {
            abort.abort();
            tracing::warn!("the job runner did not stop in time; its leases will expire");
        }
    }

    pub fn abort(&self) {
        self.handle.abort();
    }
}

/// Claims and runs jobs until stopped.
pub fn spawn_job_runner(pool: Pool, database_url: Arc<str>, config: JobRunnerConfig) -> JobRunner {
    let (stop, stopping) = watch::channel(false);
    let handle = tokio::spawn(run_runner(pool, database_url, config, stopping));
    JobRunner { stop, handle }
}

async fn run_runner(pool: Pool, database_url: Arc<str>, config: JobRunnerConfig, stopping: watch::Receiver<bool>) {
    let owner = Uuid::now_v7();
    let config = Arc::new(config);
    let mut running = JoinSet::new();
    let mut stop = stopping.clone();
    loop {
        while running.try_join_next().is_some() {}
        if *stop.borrow() {
            while running.join_next().await.is_some() {}
            return;
        }
        if running.len() < config.max_running.max(1) {
            match claim_job(&pool, owner, config.lease_ms).await {
                Ok(Some(claimed)) => {
                    let held =
                        hold(pool.clone(), database_url.clone(), claimed, config.clone(), owner, stopping.clone());
                    running.spawn(held);
                    continue;
                }
                Ok(None) => {}
                Err(error) => tracing::warn!(%error, "claiming a job failed; trying again"),
            }
        }
        let idle = tokio::time::sleep(Duration::from_millis(config.poll_interval_ms));
        tokio::select! {
            () = idle => {}
            _ = stop.changed() => {}
            Some(_) = running.join_next(), if !running.is_empty() => {}
        }
    }
}

async fn hold(
    pool: Pool,
    database_url: Arc<str>,
    claimed: Claimed,
    config: Arc<JobRunnerConfig>,
    owner: Uuid,
    stopping: watch::Receiver<bool>,
) {
    let id = claimed.job.id;
    if let Err(error) = run_held(&pool, &database_url, &claimed, &config, owner, stopping).await {
        tracing::warn!(job_id = %id, %error, "recording a job's progress or outcome failed; its lease will expire");
    }
}

async fn run_held(
    pool: &Pool,
    database_url: &str,
    claimed: &Claimed,
    config: &JobRunnerConfig,
    owner: Uuid,
    mut stopping: watch::Receiver<bool>,
) -> ServiceResult<()> {
    let job = &claimed.job;
    if claimed.taken_over {
        tracing::warn!(job_id = %job.id, attempt = job.attempts, "took over a job whose process stopped");
    }
    if job.attempts > config.max_attempts {
        let error = serde_json::json!({
            "code": "job_abandoned",
            "message": format!("the processes running it stopped {} times before it finished", job.attempts - 1),
            "details": null,
        });
        end(pool, claimed, owner, Ending::Failed { error }, job.progress_done as u64).await?;
        return Ok(());
    }
    if let Some(by) = &job.cancel_requested_by {
        end(pool, claimed, owner, Ending::Cancelled { by: by.clone() }, job.progress_done as u64).await?;
        return Ok(());
    }
    let progress = Progress::default();
    progress.set(0, job.progress_total.map(|t| t.max(0) as u64));
    let work = run_work(pool, database_url, claimed, &config.work, &progress);
    tokio::pin!(work);
    let mut tick = tokio::time::interval(Duration::from_millis(config.heartbeat_ms.max(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            outcome = &mut work => {
                let ending = match outcome {
                    Ok(result) => Ending::Succeeded { result },
                    Err(WorkError::Busy) => Ending::Requeued { delay_ms: config.busy_retry_ms },
                    Err(failure) => Ending::Failed { error: failure.to_json() },
                };
                end(pool, claimed, owner, ending, progress.get().0).await?;
                return Ok(());
            }
            _ = stopping.changed() => {
                tracing::info!(job_id = %job.id, "stopping: giving a job back to the queue");
                end(pool, claimed, owner, Ending::Requeued { delay_ms: 0 }, progress.get().0).await?;
                return Ok(());
            }
            _ = tick.tick() => {
                let (done, total) = progress.get();
                match heartbeat(pool, job.id, owner, config.lease_ms, done, total).await? {
                    None => {
                        tracing::warn!(job_id = %job.id, "lost a job's lease; stopping its work");
                        return Ok(());
                    }
                    Some(Some(by)) => {
                        end(pool, claimed, owner, Ending::Cancelled { by }, done).await?;
                        return Ok(());
                    }
                    Some(None) => {}
                }
            }
        }
    }
}

async fn end(pool: &Pool, claimed: &Claimed, owner: Uuid, ending: Ending, done: u64) -> ServiceResult<()> {
    let outcome = match &ending {
        Ending::Succeeded { .. } => "succeeded",
        Ending::Failed { .. } => "failed",
        Ending::Cancelled { .. } => "cancelled",
        Ending::Requeued { .. } => "requeued",
    };
    if end_job(pool, &claimed.job, owner, ending, done).await? {
        metrics::counter!("payledger_jobs_ended_total", "kind" => claimed.job.kind.as_str(), "outcome" => outcome)
            .increment(1);
    } else {
        tracing::warn!(job_id = %claimed.job.id, "a job's lease was lost before its outcome was written");
    }
    Ok(())
}
