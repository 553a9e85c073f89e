//! The live projector: leader election, then catch-up and live tail as one loop.

use std::future::Future;
use std::time::Duration;

use payledger_store::{has_events_after, read_all, ChangeListener, ReadAllFilter, READ_MAX_BATCH};
use tokio::task::JoinHandle;

use crate::batch::{run_batch, Limits, Step, Target};
use crate::cache::StateCache;
use crate::error::ProjectorError;
use crate::registry;
use crate::session::{Lock, Session};

/// Limits and timings of a projector. Every wait is bounded.
#[derive(Debug, Clone)]
pub struct ProjectorConfig {
    /// Events per transaction (at most the store's `READ_MAX_BATCH`).
    pub batch_size: i64,
    /// Longest sleep between looks when no NOTIFY arrives.
    pub poll_interval: Duration,
    /// How often a standby instance tries to take over leadership.
    pub standby_retry: Duration,
    /// Longest back-off after an error (reconnects and starts over).
    pub error_backoff_max: Duration,
    /// Statement timeout of the projector's connection.
    pub statement_timeout_ms: u64,
    /// Folded stream states kept in memory.
    pub cache_max_streams: usize,
    /// Take the leader lock (the default). Turning it off is for tests and diagnostics only:
    /// the checkpoint's compare-and-set still applies every event exactly once, but the
    /// instances then compete for every batch.
    pub leader_lock: bool,
    /// This instance's `application_name` on its connections, to tell instances apart in
    /// `pg_stat_activity` and in the projection status (`leader`).
    pub instance_name: String,
}

impl Default for ProjectorConfig {
    fn default() -> Self {
        ProjectorConfig {
            batch_size: 500,
            poll_interval: Duration::from_millis(500),
            standby_retry: Duration::from_secs(1),
            error_backoff_max: Duration::from_secs(30),
            statement_timeout_ms: 60_000,
            cache_max_streams: 20_000,
            leader_lock: true,
            instance_name: "payledger-projector".to_owned(),
        }
    }
}

/// First wait when committed events are held back by an older running transaction (its end
/// sends no NOTIFY), doubled up to the max.
const HELD_BACK_FIRST_WAIT: Duration = Duration::from_millis(2);
const HELD_BACK_MAX_WAIT: Duration = Duration::from_millis(100);
const ERROR_BACKOFF_FIRST: Duration = Duration::from_millis(100);

/// Projects the event log into the live read-models, forever or until shut down.
pub struct Projector {
    database_url: String,
    config: ProjectorConfig,
}

impl Projector {
    pub fn new(database_url: impl Into<String>, config: ProjectorConfig) -> Projector {
        Projector { database_url: database_url.into(), config }
    }

    /// Runs in a task until the task is aborted. Aborting mid-batch is safe: the batch's
    /// transaction rolls back with the connection.
    pub fn spawn(self) -> JoinHandle<()> {
        tokio::spawn(self.run(std::future::pending()))
    }

    /// Runs until `shutdown` resolves; a batch in progress is finished (committed) first.
    /// Errors are logged and retried with back-off on a fresh connection, so this never
    /// gives up while the database is away.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = ERROR_BACKOFF_FIRST;
        loop {
            match self.lead(shutdown.as_mut()).await {
                Ok(()) => return,
                Err(err) => {
                    tracing::error!(error = %err, backoff_ms = backoff.as_millis() as u64, "projector failed; retrying");
                    tokio::select! {
                        _ = &mut shutdown => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(self.config.error_backoff_max);
                }
            }
        }
    }

    /// Applies, batch by batch, every event readable now, then returns how many; no leader
    /// lock, no waiting (events held back by a running transaction stay for later). The
    /// checkpoint's compare-and-set keeps it exactly-once beside a running projector. For
    /// tests and tools that need the read-models current at one point, without the task.
    pub async fn run_once(&self) -> Result<u64, ProjectorError> {
        let mut session =
            Session::connect_as(&self.database_url, self.config.statement_timeout_ms, &self.config.instance_name)
                .await?;
        registry::ensure_initialized(&mut session.client).await?;
        let mut cache = StateCache::new(self.config.cache_max_streams);
        let limits = Limits { batch_size: self.config.batch_size.clamp(1, READ_MAX_BATCH), ..Limits::default() };
        let mut applied = 0;
        loop {
            match run_batch(&mut session.client, &mut cache, Target::Live, &limits).await? {
                Step::Applied { events, .. } => applied += events,
                Step::CaughtUp { .. } => return Ok(applied),
                Step::NoLiveVersion => registry::ensure_initialized(&mut session.client).await.map(|_| ())?,
            }
        }
    }

    async fn lead<F: Future<Output = ()>>(&self, mut shutdown: std::pin::Pin<&mut F>) -> Result<(), ProjectorError> {
        let mut session =
            Session::connect_as(&self.database_url, self.config.statement_timeout_ms, &self.config.instance_name)
                .await?;
        registry::ensure_initialized(&mut session.client).await?;
        if self.config.leader_lock {
            let mut announced = false;
            while !session.try_lock(Lock::Leader).await? {
                if !announced {
                    tracing::info!("another projector leads; standing by");
                    announced = true;
                }
                tokio::select! {
                    _ = shutdown.as_mut() => return Ok(()),
                    _ = tokio::time::sleep(self.config.standby_retry) => {}
                }
            }
            tracing::info!("projector leads");
        }
        let mut wakeups = ChangeListener::listen(&self.database_url).await.ok();
        let mut cache = StateCache::new(self.config.cache_max_streams);
        let limits = Limits { batch_size: self.config.batch_size.clamp(1, READ_MAX_BATCH), ..Limits::default() };
        let mut held_back_wait = HELD_BACK_FIRST_WAIT;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.as_mut() => return Ok(()),
                _ = std::future::ready(()) => {}
            }
            match next_work(&session).await? {
                Work::Ready => {}
                Work::HeldBack => {
                    tokio::select! {
                        _ = shutdown.as_mut() => return Ok(()),
                        _ = tokio::time::sleep(held_back_wait) => {}
                    }
                    held_back_wait = (held_back_wait * 2).min(HELD_BACK_MAX_WAIT);
                    continue;
                }
                Work::Idle => {
                    held_back_wait = HELD_BACK_FIRST_WAIT;
                    metrics::gauge!("payledger_projector_lag_seconds").set(0.0);
                    if let Some(version) = registry::live_version(&session.client).await? {
                        let parked = crate::parked::count_parked(&session.client, version, None).await?;
                        metrics::gauge!("payledger_projector_parked_streams").set(parked as f64);
                    }
                    if !wakeups.as_ref().is_some_and(ChangeListener::is_alive) {
                        wakeups = ChangeListener::listen(&self.database_url).await.ok();
                    }
                    let wait = async {
                        match &wakeups {
                            Some(w) => w.wait(self.config.poll_interval).await,
                            None => tokio::time::sleep(self.config.poll_interval).await,
                        }
                    };
                    tokio::select! {
                        _ = shutdown.as_mut() => return Ok(()),
                        _ = wait => {}
                    }
                    continue;
                }
            }
            held_back_wait = HELD_BACK_FIRST_WAIT;
            match run_batch(&mut session.client, &mut cache, Target::Live, &limits).await {
                Ok(Step::Applied { last_recorded_at: Some(at), .. }) => {
                    // How long the last applied event waited to be projected.
                    let lag_ms = (chrono::Utc::now() - at).num_milliseconds().max(0);
                    metrics::gauge!("payledger_projector_lag_seconds").set(lag_ms as f64 / 1000.0);
                }
                Ok(Step::Applied { .. } | Step::CaughtUp { .. }) => {}
                Ok(Step::NoLiveVersion) => {
                    registry::ensure_initialized(&mut session.client).await?;
                }
                // Another instance (without the leader lock) applied this batch first.
                Err(ProjectorError::CheckpointMoved { .. }) => {}
                Err(err) => return Err(err),
            }
        }
    }
}

enum Work {
    /// Events are ready to apply.
    Ready,
    /// Committed events wait behind an older running transaction.
    HeldBack,
    /// Nothing new.
    Idle,
}

/// A cheap look, without locks, at whether a batch would find anything.
async fn next_work(session: &Session) -> Result<Work, ProjectorError> {
    let Some((_, checkpoint)) = registry::live_checkpoint(&session.client).await? else {
        return Ok(Work::Ready);
    };
    if !read_all(&session.client, checkpoint, &ReadAllFilter::default(), 1).await?.is_empty() {
        return Ok(Work::Ready);
    }
    if has_events_after(&session.client, checkpoint).await? {
        return Ok(Work::HeldBack);
    }
    Ok(Work::Idle)
}
