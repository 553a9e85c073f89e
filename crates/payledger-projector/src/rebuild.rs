//! Rebuild without downtime: replay the whole log into a fresh version, add the query
//! indexes, catch up with the head, then swap it live in one transaction.
//!
//! Memory stays flat: events are read in batches and folded stream states are cached up to
//! a bound. Only one rebuild or verify runs at a time (the maintenance advisory lock).

use std::time::{Duration, Instant};

use payledger_store::{Checkpoint, READ_MAX_BATCH};
use serde::Serialize;
use tokio_postgres::GenericClient;

use crate::batch::{apply_in_tx, run_batch, run_read_ahead, Limits, Step, Target};
use crate::cache::StateCache;
use crate::error::ProjectorError;
use crate::fresh::Written;
use crate::read_ahead::ReadAhead;
use crate::registry::{self, Purpose, PROJECTION};
use crate::schema;
use crate::session::{Lock, Session};

#[derive(Debug, Clone)]
pub struct RebuildOptions {
    /// Events per transaction while replaying.
    pub batch_size: i64,
    /// Folded stream states kept in memory.
    pub cache_max_streams: usize,
    /// Statement timeout of the rebuild's connection (index creation on a large history
    /// takes a while).
    pub statement_timeout_ms: u64,
    /// Attempts at the final catch-up and swap before giving up.
    pub swap_attempts: u32,
    /// Batches the swap transaction may apply before it gives up this attempt (it holds the
    /// live projector back meanwhile).
    pub swap_catch_up_max_batches: u32,
    /// Longest the replay waits, without progress, for committed events that an older
    /// running transaction holds back (see [`payledger_store::read_all`]). Past it the
    /// rebuild goes on and the live projector applies those events after the swap.
    pub held_back_max_wait_ms: u64,
}

impl Default for RebuildOptions {
    fn default() -> Self {
        RebuildOptions {
            batch_size: 10_000,
            cache_max_streams: 20_000,
            statement_timeout_ms: 600_000,
            swap_attempts: 10,
            swap_catch_up_max_batches: 5,
            held_back_max_wait_ms: 60_000,
        }
    }
}

/// First and longest sleep while the replay waits for held-back events.
const HELD_BACK_FIRST_WAIT: Duration = Duration::from_millis(2);
const HELD_BACK_MAX_WAIT: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RebuildPhase {
    Replaying,
    Indexing,
    CatchingUp,
    Swapping,
    Done,
}

/// Reported after every batch and at every phase change.
#[derive(Debug, Clone, Serialize)]
pub struct RebuildProgress {
    pub version: i32,
    pub phase: RebuildPhase,
    pub events_done: u64,
    /// An estimate: the log grows while the rebuild runs.
    pub events_total: u64,
    pub elapsed: Duration,
}

impl RebuildProgress {
    pub fn events_per_second(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.events_done as f64 / seconds
        } else {
            0.0
        }
    }

    /// Time left at the current rate, if there is a rate.
    pub fn eta(&self) -> Option<Duration> {
        let rate = self.events_per_second();
        (rate > 0.0).then(|| Duration::from_secs_f64(self.events_total.saturating_sub(self.events_done) as f64 / rate))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RebuildReport {
    pub version: i32,
    pub previous_version: Option<i32>,
    pub events_applied: u64,
    pub checkpoint: Checkpoint,
    pub elapsed_ms: u64,
}

/// A rebuild that holds the maintenance lock and has created its version. Split from
/// [`Rebuild::run`] so that a caller (the API) can answer "started" or "busy" at once.
pub struct Rebuild {
    session: Session,
    database_url: String,
    version: i32,
    options: RebuildOptions,
    cache: StateCache,
    /// What the replay wrote into the version (see `fresh.rs`).
    written: Written,
    started: Instant,
    events_done: u64,
    events_total: u64,
}

/// Rebuilds the read-models and swaps them live; `progress` is called as it goes.
pub async fn rebuild<F: FnMut(&RebuildProgress) + Send>(
    database_url: &str,
    options: RebuildOptions,
    progress: F,
) -> Result<RebuildReport, ProjectorError> {
    Rebuild::start(database_url, options).await?.run(progress).await
}

impl Rebuild {
    /// Takes the maintenance lock (or fails with `MaintenanceBusy`), drops versions no one
    /// uses any more, and creates the new, empty version.
    pub async fn start(database_url: &str, options: RebuildOptions) -> Result<Rebuild, ProjectorError> {
        let mut session = Session::connect(database_url, options.statement_timeout_ms).await?;
        if !session.try_lock(Lock::Maintenance).await? {
            return Err(ProjectorError::MaintenanceBusy { projection: PROJECTION.to_owned() });
        }
        registry::ensure_initialized(&mut session.client).await?;
        registry::drop_unused_versions(&mut session.client).await?;
        let version = registry::create_building_version(&mut session.client, Purpose::Rebuild).await?;
        let cache = StateCache::new(options.cache_max_streams);
        Ok(Rebuild {
            session,
            database_url: database_url.to_owned(),
            version,
            options,
            cache,
            written: Written::default(),
            started: Instant::now(),
            events_done: 0,
            events_total: 0,
        })
    }

    pub fn version(&self) -> i32 {
        self.version
    }

    /// Replays, indexes, catches up and swaps. On failure the new version is dropped and the
    /// live one stays as it was.
    pub async fn run<F: FnMut(&RebuildProgress) + Send>(
        mut self,
        mut progress: F,
    ) -> Result<RebuildReport, ProjectorError> {
        let result = self.run_phases(&mut progress).await;
        if result.is_err() {
            if let Err(err) = registry::discard_building_version(&mut self.session.client, self.version).await {
                tracing::warn!(version = self.version, error = %err, "could not drop the failed rebuild's tables");
            }
        }
        self.session.unlock(Lock::Maintenance).await?;
        result
    }

    async fn run_phases<F: FnMut(&RebuildProgress) + Send>(
        &mut self,
        progress: &mut F,
    ) -> Result<RebuildReport, ProjectorError> {
        self.events_total = count_events_after(&self.session.client, Checkpoint::START).await?;
        registry::set_total_estimate(&self.session.client, self.version, self.events_total).await?;
        tracing::info!(version = self.version, events = self.events_total, "rebuild started");
        self.replay(RebuildPhase::Replaying, progress).await?;

        progress(&self.progress(RebuildPhase::Indexing));
        schema::create_query_indexes(&self.session.client, PROJECTION, self.version).await?;

        for attempt in 1..=self.options.swap_attempts.max(1) {
            self.replay(RebuildPhase::CatchingUp, progress).await?;
            progress(&self.progress(RebuildPhase::Swapping));
            if let Some(report) = self.try_swap().await? {
                progress(&self.progress(RebuildPhase::Done));
                tracing::info!(version = self.version, events = self.events_done, "rebuild swapped live");
                return Ok(report);
            }
            tracing::info!(attempt, "writers outran the swap's final catch-up; catching up again");
            tokio::time::sleep(Duration::from_millis(20 * u64::from(attempt))).await;
        }
        Err(ProjectorError::SwapStarved { attempts: self.options.swap_attempts.max(1) })
    }

    fn limits(&self) -> Limits {
        Limits { batch_size: self.options.batch_size.clamp(1, READ_MAX_BATCH), ..Limits::default() }
    }

    fn progress(&self, phase: RebuildPhase) -> RebuildProgress {
        RebuildProgress {
            version: self.version,
            phase,
            events_done: self.events_done,
            events_total: self.events_total.max(self.events_done),
            elapsed: self.started.elapsed(),
        }
    }

    /// Applies batches until none is left. While replaying, "nothing readable" is not the end
    /// if committed events are held back by an older running transaction (a long import, an
    /// ANALYZE): the replay goes on to the last event committed when it first ran dry,
    /// waiting for it up to `held_back_max_wait_ms` without progress, so that a rebuild does
    /// not swap in far behind the log. Events committed after that do not move the goal (a
    /// busy log would be chased forever); while catching up it ends as soon as it runs dry.
    /// The swap's own catch-up and then the live projector apply whatever follows.
    async fn replay<F: FnMut(&RebuildProgress) + Send>(
        &mut self,
        phase: RebuildPhase,
        progress: &mut F,
    ) -> Result<(), ProjectorError> {
        let limits = self.limits();
        let max_wait = Duration::from_millis(self.options.held_back_max_wait_ms);
        let mut goal: Option<Checkpoint> = None;
        let mut held_back_since: Option<Instant> = None;
        let mut wait = HELD_BACK_FIRST_WAIT;
        // The replay reads ahead on a second connection; the catch-up reads in its batches.
        let mut reader = match phase {
            RebuildPhase::Replaying => Some(self.start_reader(limits.batch_size).await?),
            _ => None,
        };
        loop {
            let step = match reader.as_mut() {
                Some(reader) => {
                    let batch = reader.next().await?;
                    run_read_ahead(
                        &mut self.session.client,
                        &mut self.cache,
                        &mut self.written,
                        self.version,
                        batch.after,
                        &batch.events,
                    )
                    .await?
                }
                None => {
                    run_batch(&mut self.session.client, &mut self.cache, Target::Building(self.version), &limits)
                        .await?
                }
            };
            match step {
                Step::Applied { events, checkpoint, .. } => {
                    held_back_since = None;
                    wait = HELD_BACK_FIRST_WAIT;
                    self.events_done += events;
                    if self.events_done >= self.events_total {
                        let remaining = count_events_after(&self.session.client, checkpoint).await?;
                        self.events_total = self.events_done + remaining;
                        registry::set_total_estimate(&self.session.client, self.version, self.events_total).await?;
                    }
                    progress(&self.progress(phase));
                    if goal.is_some_and(|goal| checkpoint >= goal) {
                        return Ok(());
                    }
                }
                Step::CaughtUp { checkpoint, .. } => {
                    if phase != RebuildPhase::Replaying {
                        return Ok(());
                    }
                    let goal = match goal {
                        Some(goal) => goal,
                        None => *goal.insert(log_head(&self.session.client).await?.unwrap_or(Checkpoint::START)),
                    };
                    if checkpoint >= goal {
                        return Ok(());
                    }
                    let since = *held_back_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= max_wait {
                        tracing::warn!(
                            version = self.version,
                            ?checkpoint,
                            ?goal,
                            waited_ms = since.elapsed().as_millis() as u64,
                            "events stay held back by an older running transaction; going on without them \
                             (the live projector applies them after the swap)"
                        );
                        return Ok(());
                    }
                    if wait == HELD_BACK_FIRST_WAIT {
                        tracing::debug!(
                            version = self.version,
                            ?checkpoint,
                            ?goal,
                            "replay waits for held-back events"
                        );
                    }
                    // The reader waits between empty reads itself.
                    if reader.is_none() {
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(HELD_BACK_MAX_WAIT);
                    }
                }
                Step::NoLiveVersion => return Ok(()),
            }
        }
    }

    /// A reader of the log from the version's checkpoint, on a connection of its own.
    async fn start_reader(&self, batch_size: i64) -> Result<ReadAhead, ProjectorError> {
        let (from, _) = registry::lock_checkpoint(&self.session.client, self.version).await?.ok_or(
            ProjectorError::VersionMissing {
                projection: PROJECTION.to_owned(),
                version: self.version,
                expected_state: "building",
            },
        )?;
        let reader =
            Session::connect_as(&self.database_url, self.options.statement_timeout_ms, "payledger-rebuild-reader")
                .await?;
        Ok(ReadAhead::start(reader.client, from, batch_size))
    }

    /// The swap transaction: stop the live projector (lock the live pointer), apply what is
    /// left, and point `live_version` at the new version. `None` when too much was left.
    async fn try_swap(&mut self) -> Result<Option<RebuildReport>, ProjectorError> {
        let result = self.swap_once().await;
        if !matches!(result, Ok(Some(_))) {
            // The attempt rolled back what it applied; the cache folded it: drop it.
            self.cache.clear();
        }
        result
    }

    async fn swap_once(&mut self) -> Result<Option<RebuildReport>, ProjectorError> {
        let limits = self.limits();
        let tx = self.session.client.transaction().await?;
        let previous: Option<i32> = tx
            .query_one("SELECT live_version FROM projections WHERE name = $1 FOR UPDATE", &[&PROJECTION])
            .await?
            .try_get(0)?;
        let previous_checkpoint = match previous {
            Some(version) => registry::lock_checkpoint(&tx, version).await?.map(|(checkpoint, _)| checkpoint),
            None => None,
        };
        let mut caught_up = None;
        // Counted only once the swap commits: a rolled-back attempt applied nothing.
        let mut events_in_swap = 0;
        for _ in 0..self.options.swap_catch_up_max_batches.max(1) {
            match apply_in_tx(&tx, &mut self.cache, self.version, "building", &limits).await? {
                Step::Applied { events, .. } => events_in_swap += events,
                Step::CaughtUp { checkpoint, .. } => {
                    caught_up = Some(checkpoint);
                    break;
                }
                Step::NoLiveVersion => break,
            }
        }
        let Some(checkpoint) = caught_up else {
            tx.rollback().await?;
            return Ok(None);
        };
        if previous_checkpoint.is_some_and(|live| checkpoint < live) {
            // Everything the live version applied is readable, so this only happens while an
            // event is briefly held back; never swap to a version behind the live one (the
            // live checkpoint must not move backwards): try again.
            tracing::warn!(?checkpoint, ?previous_checkpoint, "rebuilt version is behind the live one; retrying");
            tx.rollback().await?;
            return Ok(None);
        }
        if let Some(previous) = previous {
            tx.execute(
                "UPDATE projection_versions SET state = 'retired', retired_at = now(), updated_at = now()
                 WHERE name = $1 AND version = $2",
                &[&PROJECTION, &previous],
            )
            .await?;
        }
        tx.execute(
            "UPDATE projection_versions SET state = 'live', live_at = now(), updated_at = now(),
                    events_total_estimate = events_applied
             WHERE name = $1 AND version = $2 AND state = 'building'",
            &[&PROJECTION, &self.version],
        )
        .await?;
        tx.execute(
            "UPDATE projections SET live_version = $2, updated_at = now() WHERE name = $1",
            &[&PROJECTION, &self.version],
        )
        .await?;
        tx.commit().await?;
        self.events_done += events_in_swap;
        Ok(Some(RebuildReport {
            version: self.version,
            previous_version: previous,
            events_applied: self.events_done,
            checkpoint,
            elapsed_ms: self.started.elapsed().as_millis() as u64,
        }))
    }
}

/// Events after `checkpoint` in the read order (committed or not yet safe to read).
pub(crate) async fn count_events_after<C: GenericClient>(
    client: &C,
    checkpoint: Checkpoint,
) -> Result<u64, ProjectorError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM events WHERE (tx_id, global_position) > ($1::text::xid8, $2)",
            &[&checkpoint.tx_id.to_string(), &checkpoint.position],
        )
        .await?;
    Ok(row.try_get::<_, i64>(0)?.max(0) as u64)
}

/// The last committed event in the read order, readable yet or not.
async fn log_head<C: GenericClient>(client: &C) -> Result<Option<Checkpoint>, ProjectorError> {
    let row = client
        .query_opt(
            "SELECT events.tx_id::text, events.global_position FROM events
             ORDER BY events.tx_id DESC, events.global_position DESC LIMIT 1",
            &[],
        )
        .await?;
    match row {
        Some(row) => Ok(Some(Checkpoint { tx_id: registry::parse_tx_id(row.try_get(0)?)?, position: row.try_get(1)? })),
        None => Ok(None),
    }
}
