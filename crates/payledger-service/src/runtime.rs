//! The one composition root: the pool and the background workers (projector, webhook sweep,
//! idempotency pruner, sealer, job runner), started together and stopped in order. `payledger serve`, the
//! benchmark's server and the API tests all start the ledger here; the HTTP listener is
//! theirs (this crate knows no HTTP).

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use payledger_projector::{Projector, ProjectorConfig};
use payledger_store::{connect_pool, PoolOptions};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::aggregate::{StateCache, STATE_CACHE_ENTRIES_DEFAULT};
use crate::error::ServiceResult;
use crate::jobs::{spawn_job_runner, JobRunner, JobRunnerConfig};
use crate::sealer::{spawn_sealer, SealerConfig};
use crate::secrets::{check_at_startup, MasterKey};
use crate::webhooks::{spawn_processor, ProcessorConfig};

/// Idempotency records deleted per statement by the pruner.
const PRUNE_BATCH: i64 = 1_000;
/// Pause between the pruner's rounds.
const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// What to run. A worker left `None` (or `false`) is not started: tests drive those by hand.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    pub database_url: String,
    pub pool: PoolOptions,
    pub projector: Option<ProjectorConfig>,
    pub webhook_sweep: Option<ProcessorConfig>,
    pub prune_idempotency: bool,
    /// Seals over the read order (docs/AUDIT.md).
    pub sealer: Option<SealerConfig>,
    /// Jobs (docs/JOBS.md).
    pub jobs: Option<JobRunnerConfig>,
    /// Longest the projector may take to finish its batch when stopped.
    pub projector_stop_timeout: Duration,
    /// Streams whose decided state commands keep in memory (0: none).
    pub state_cache_entries: usize,
    /// Seals and opens webhook signing secrets. Without it the ledger starts only if no
    /// secret is stored, and refuses to add one.
    pub master_key: Option<MasterKey>,
}

impl LedgerConfig {
    /// Everything on, with default settings.
    pub fn new(database_url: impl Into<String>) -> LedgerConfig {
        LedgerConfig {
            database_url: database_url.into(),
            pool: PoolOptions::default(),
            projector: Some(ProjectorConfig::default()),
            webhook_sweep: Some(ProcessorConfig::default()),
            prune_idempotency: true,
            sealer: Some(SealerConfig::default()),
            jobs: Some(JobRunnerConfig::default()),
            projector_stop_timeout: Duration::from_secs(10),
            state_cache_entries: STATE_CACHE_ENTRIES_DEFAULT,
            master_key: None,
        }
    }

    /// No background worker: only the pool.
    pub fn without_workers(mut self) -> LedgerConfig {
        self.projector = None;
        self.webhook_sweep = None;
        self.prune_idempotency = false;
        self.sealer = None;
        self.jobs = None;
        self
    }
}

pub struct Ledger;

impl Ledger {
    /// Connects the pool, checks that the master key opens the stored webhook secrets
    /// (sealing any still in clear), and starts the configured workers.
    pub async fn start(config: LedgerConfig) -> ServiceResult<Running> {
        let pool = connect_pool(&config.database_url, &config.pool)?;
        let at_rest = check_at_startup(&pool, config.master_key.as_ref()).await?;
        match &config.master_key {
            Some(key) => {
                tracing::info!(master_key_id = key.id(), sealed = at_rest.sealed, "webhook secrets sealed at rest")
            }
            None => tracing::warn!("no master key given: webhook endpoints and secrets cannot be added"),
        }
        Ok(Ledger::start_with_pool(pool, config))
    }

    /// Starts the configured workers on a pool made elsewhere (`config.pool` is unused).
    pub fn start_with_pool(pool: Pool, config: LedgerConfig) -> Running {
        let projector = config.projector.map(|c| ProjectorTask::spawn(&config.database_url, c));
        let sweep = config.webhook_sweep.map(|c| spawn_processor(pool.clone(), c));
        let pruner = config.prune_idempotency.then(|| tokio::spawn(prune_idempotency_keys(pool.clone())));
        let sealer = config.sealer.map(|c| spawn_sealer(pool.clone(), c));
        let database_url: Arc<str> = Arc::from(config.database_url);
        let jobs = config.jobs.map(|c| spawn_job_runner(pool.clone(), database_url.clone(), c));
        Running {
            master_key: config.master_key.map(Arc::new),
            pool,
            database_url,
            jobs,
            states: StateCache::new(config.state_cache_entries),
            projector,
            sweep,
            pruner,
            sealer,
            projector_stop_timeout: config.projector_stop_timeout,
        }
    }
}

/// The running ledger. Dropping it aborts the workers; [`Running::stop`] stops them in order.
pub struct Running {
    pub pool: Pool,
    pub database_url: Arc<str>,
    /// The commands' cache of decided stream states.
    pub states: StateCache,
    /// Seals and opens webhook signing secrets (`None`: none can be added).
    pub master_key: Option<Arc<MasterKey>>,
    projector: Option<ProjectorTask>,
    sweep: Option<JoinHandle<()>>,
    pruner: Option<JoinHandle<()>>,
    sealer: Option<JoinHandle<()>>,
    jobs: Option<JobRunner>,
    projector_stop_timeout: Duration,
}

impl Running {
    /// Stops the pruner and the sweep (each run is one transaction: nothing is lost), gives
    /// running jobs back to the queue, then lets the projector finish its batch, then closes
    /// the pool.
    pub async fn stop(mut self) {
        for task in [self.pruner.take(), self.sweep.take(), self.sealer.take()].into_iter().flatten() {
            task.abort();
        }
        if let Some(jobs) = self.jobs.take() {
            jobs.stop().await;
        }
        if let Some(projector) = self.projector.take() {
            projector.stop(self.projector_stop_timeout).await;
        }
        self.pool.close();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in [self.pruner.take(), self.sweep.take(), self.sealer.take()].into_iter().flatten() {
            task.abort();
        }
        if let Some(jobs) = &self.jobs {
            jobs.abort();
        }
        if let Some(projector) = &self.projector {
            projector.abort();
        }
    }
}

/// The projector in a task of its own, stoppable between batches.
pub struct ProjectorTask {
    stop: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

impl ProjectorTask {
    pub fn spawn(database_url: &str, config: ProjectorConfig) -> ProjectorTask {
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(Projector::new(database_url, config).run(async {
            let _ = stopped.await;
        }));
        ProjectorTask { stop, handle }
    }

    /// Asks it to stop after its batch and waits at most `timeout`.
    pub async fn stop(self, timeout: Duration) {
        let _ = self.stop.send(());
        if tokio::time::timeout(timeout, self.handle).await.is_err() {
            tracing::warn!(timeout_ms = timeout.as_millis() as u64, "the projector did not stop in time");
        }
    }

    /// Stops it at once, wherever it is (a batch in progress rolls back).
    pub fn abort(&self) {
        self.handle.abort();
    }
}

/// Deletes expired idempotency records in small batches, every minute.
async fn prune_idempotency_keys(pool: Pool) {
    loop {
        if let Ok(client) = pool.get().await {
            while let Ok(deleted) = payledger_store::idempotency::prune(&**client, PRUNE_BATCH).await {
                if deleted < PRUNE_BATCH as u64 {
                    break;
                }
            }
        }
        tokio::time::sleep(PRUNE_INTERVAL).await;
    }
}
