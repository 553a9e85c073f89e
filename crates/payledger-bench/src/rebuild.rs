//! `payledger bench rebuild`: rebuilding the read-models from a generated history, against
//! the server's ceiling for reading that history out, `COPY (SELECT * FROM events) TO STDOUT`.
//!
//! A run creates a database of its own, migrates it, and generates a history of about
//! `events` events: payment lifecycles decided by `payledger_core` (order created; payment
//! initiated, authorized, captured, part refunded, voided or failed; see [`history`]),
//! `lifecycles_per_batch` of them per `payledger_store::append_batch` from
//! `generate_writers` concurrent writers. Then `VACUUM ANALYZE events` and a `CHECKPOINT`
//! (as after any bulk import), autovacuum off `events` for the rest of the run (its ANALYZE
//! would hold the gap-free reader back mid-rebuild), a bounded wait until no event is held
//! back, and, in this order:
//!
//! 1. the ceiling: `COPY (SELECT * FROM events) TO STDOUT`, drained by this client
//!    (tokio-postgres `copy_out`), timed to the last byte;
//! 2. the rebuild: `payledger_projector::rebuild` (replay into a fresh version, index, catch
//!    up, swap live), timed per phase through its progress callback;
//! 3. the ceiling again.
//!
//! Peak memory is this process's: `VmHWM` from /proc/self/status after resetting it (write
//! `5` to /proc/self/clear_refs) just before the rebuild, and the largest `VmRSS` seen by a
//! task sampling every [`RSS_SAMPLE_INTERVAL_MS`]; the server's memory is not included.
//! Afterwards the rebuild must have applied every event in the table, or the run fails.

mod history;
mod report;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use payledger_projector::{RebuildOptions, RebuildPhase, RebuildProgress};
use payledger_store::{append_batch, connect_pool, Pool, PoolOptions};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::database::{BenchDatabase, RunClock};
pub use crate::environment::Environment;
pub use crate::error::BenchError;
use crate::memory::{reset_peak, resident, RssSampler};

pub const DEFAULT_EVENTS: u64 = 200_000;
pub const MAX_EVENTS: u64 = 50_000_000;
pub const DEFAULT_LIFECYCLES_PER_BATCH: usize = 24;
pub const MAX_LIFECYCLES_PER_BATCH: usize = 1_000;
pub const DEFAULT_GENERATE_WRITERS: usize = 2;
pub const MAX_GENERATE_WRITERS: usize = 32;
/// Largest rebuild batch (events per transaction) accepted here.
pub const MAX_REBUILD_BATCH: i64 = 100_000;
pub const MAX_CACHE_STREAMS: usize = 10_000_000;
/// How long the run waits for the history to become readable before the rebuild.
const READABLE_TIMEOUT_MS: u64 = 120_000;
/// How often the sampler reads VmRSS.
pub const RSS_SAMPLE_INTERVAL_MS: u64 = 50;

/// What to run. [`RebuildBenchOptions::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebuildBenchOptions {
    pub database_url: String,
    /// Events to generate (whole lifecycles: a few more may be written), 1..=[`MAX_EVENTS`].
    /// Default [`DEFAULT_EVENTS`].
    pub events: u64,
    /// Payment lifecycles (two streams each) per batch append, 1..=[`MAX_LIFECYCLES_PER_BATCH`].
    pub lifecycles_per_batch: usize,
    /// Concurrent writers generating the history, 1..=[`MAX_GENERATE_WRITERS`].
    pub generate_writers: usize,
    /// The rebuild's events per transaction, 1..=[`MAX_REBUILD_BATCH`]. Default: the projector's.
    pub rebuild_batch_size: i64,
    /// Folded stream states the rebuild keeps, 1..=[`MAX_CACHE_STREAMS`]. Default: the projector's.
    pub rebuild_cache_max_streams: usize,
    pub keep_database: bool,
}

impl RebuildBenchOptions {
    pub fn new(database_url: impl Into<String>) -> RebuildBenchOptions {
        let defaults = RebuildOptions::default();
        RebuildBenchOptions {
            database_url: database_url.into(),
            events: DEFAULT_EVENTS,
            lifecycles_per_batch: DEFAULT_LIFECYCLES_PER_BATCH,
            generate_writers: DEFAULT_GENERATE_WRITERS,
            rebuild_batch_size: defaults.batch_size,
            rebuild_cache_max_streams: defaults.cache_max_streams,
            keep_database: false,
        }
    }

    pub fn validate(&self) -> Result<(), BenchError> {
        let invalid = |msg: String| Err(BenchError::InvalidOptions(msg));
        if self.database_url.trim().is_empty() {
            return invalid("a database URL is required (DATABASE_URL)".into());
        }
        if !(1..=MAX_EVENTS).contains(&self.events) {
            return invalid(format!("events {} is outside 1..={MAX_EVENTS}", self.events));
        }
        if !(1..=MAX_LIFECYCLES_PER_BATCH).contains(&self.lifecycles_per_batch) {
            return invalid(format!(
                "lifecycles_per_batch {} is outside 1..={MAX_LIFECYCLES_PER_BATCH}",
                self.lifecycles_per_batch
            ));
        }
        if !(1..=MAX_GENERATE_WRITERS).contains(&self.generate_writers) {
            return invalid(format!(
                "generate_writers {} is outside 1..={MAX_GENERATE_WRITERS}",
                self.generate_writers
            ));
        }
        if !(1..=MAX_REBUILD_BATCH).contains(&self.rebuild_batch_size) {
            return invalid(format!(
                "rebuild_batch_size {} is outside 1..={MAX_REBUILD_BATCH}",
                self.rebuild_batch_size
            ));
        }
        if !(1..=MAX_CACHE_STREAMS).contains(&self.rebuild_cache_max_streams) {
            return invalid(format!(
                "rebuild_cache_max_streams {} is outside 1..={MAX_CACHE_STREAMS}",
                self.rebuild_cache_max_streams
            ));
        }
        Ok(())
    }
}

/// The generated history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    pub events: u64,
    pub streams: u64,
    pub lifecycles: u64,
    pub batches: u64,
    pub duration_ms: f64,
    pub events_per_s: f64,
    /// `pg_total_relation_size('events')` after VACUUM ANALYZE.
    pub events_table_bytes: i64,
}

/// One timed `COPY (SELECT * FROM events) TO STDOUT`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopyCeiling {
    /// `before` or `after` the rebuild.
    pub when: String,
    pub rows: u64,
    pub bytes: u64,
    pub duration_ms: f64,
    pub rows_per_s: f64,
    pub mib_per_s: f64,
}

/// The rebuild, per phase and in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebuildResult {
    pub events_applied: u64,
    pub duration_ms: f64,
    /// Events applied over the whole rebuild (replay, indexes, catch-up, swap).
    pub events_per_s: f64,
    /// Replay alone: events replayed over the time to the start of indexing.
    pub replay_ms: Option<f64>,
    pub replay_events_per_s: Option<f64>,
    /// Time from the start of indexing to done.
    pub index_catch_up_swap_ms: Option<f64>,
    pub version: i32,
    pub batch_size: i64,
    pub cache_max_streams: usize,
}

/// This process's memory around the rebuild, in MiB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryUse {
    /// VmRSS just before the rebuild (after generating the history and the first COPY).
    pub rss_before_mib: Option<f64>,
    /// VmHWM after the rebuild, reset to VmRSS just before it; `None` if the reset failed.
    pub peak_hwm_mib: Option<f64>,
    /// The largest VmRSS sampled during the rebuild.
    pub peak_sampled_rss_mib: Option<f64>,
    pub sample_interval_ms: u64,
    pub how: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RebuildBenchReport {
    pub started_at_unix_s: u64,
    pub total_duration_ms: u64,
    pub environment: Environment,
    pub database: String,
    pub generation: Generation,
    pub copy: Vec<CopyCeiling>,
    pub rebuild: RebuildResult,
    pub memory: MemoryUse,
    /// Rebuild events/s ÷ the faster COPY's rows/s.
    pub rebuild_vs_copy: Option<f64>,
    /// Issue #15's rebuild targets, each as a ratio against its bar.
    pub targets: Vec<TargetCheck>,
    pub notes: Vec<String>,
}

pub async fn run(opts: RebuildBenchOptions) -> Result<RebuildBenchReport, BenchError> {
    opts.validate()?;
    let clock = RunClock::start();
    let (db, mut environment) = BenchDatabase::open(&opts.database_url).await?;
    let result = run_in(&opts, &db.url).await;
    let (generation, copy, rebuild, memory, notes) = db.finish(opts.keep_database, result).await?;
    environment.load_average_end = crate::environment::load_average();
    let best_copy = copy.iter().map(|c| c.rows_per_s).fold(0.0, f64::max);
    let rebuild_vs_copy = (best_copy > 0.0).then(|| rebuild.events_per_s / best_copy);
    Ok(RebuildBenchReport {
        targets: targets(rebuild_vs_copy, rebuild.events_per_s),
        started_at_unix_s: clock.started_at_unix_s,
        total_duration_ms: clock.elapsed_ms(),
        environment,
        database: db.name.clone(),
        rebuild_vs_copy,
        generation,
        copy,
        rebuild,
        memory,
        notes,
    })
}

/// Issue #15: a rebuild at >= 0.4 x COPY out of the events table (same run) and >= 100k
/// events/s. The issue states them for 1 M events; RSS flatness (1 M vs 5 M) needs two runs.
pub const TARGET_VS_COPY: f64 = 0.4;
pub const TARGET_EVENTS_PER_S: f64 = 100_000.0;

/// One target: the measured `ratio` against the bar `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetCheck {
    pub name: String,
    pub ratio: Option<f64>,
    pub target: f64,
    pub pass: bool,
}

fn targets(rebuild_vs_copy: Option<f64>, events_per_s: f64) -> Vec<TargetCheck> {
    let check = |name: &str, ratio: Option<f64>, target: f64| TargetCheck {
        name: name.to_owned(),
        ratio,
        target,
        pass: ratio.is_some_and(|r| r >= target),
    };
    vec![
        check("rebuild events/s / COPY out rows/s", rebuild_vs_copy, TARGET_VS_COPY),
        check("rebuild events/s / 100k events/s", Some(events_per_s / TARGET_EVENTS_PER_S), 1.0),
    ]
}

type Phases = (Generation, Vec<CopyCeiling>, RebuildResult, MemoryUse, Vec<String>);

async fn run_in(opts: &RebuildBenchOptions, url: &str) -> Result<Phases, BenchError> {
    let mut notes = Vec::new();
    let control = crate::store::connect(url).await?;
    let pool = connect_pool(
        url,
        &PoolOptions { max_connections: opts.generate_writers, wait_timeout_ms: 10_000, statement_timeout_ms: 120_000 },
    )?;
    let generated = generate(opts, &pool).await;
    pool.close();
    let mut generation = generated?;
    control.batch_execute("VACUUM ANALYZE events").await?;
    // Autovacuum's ANALYZE of the freshly loaded table takes a transaction id; while it runs,
    // the gap-free reader holds back every event committed after it started, and a rebuild
    // then swaps at that point (a 1 M run swapped 380 000 events short). The table was just
    // vacuumed and analyzed; keep autovacuum off it for the rest of this run.
    control.batch_execute("ALTER TABLE events SET (autovacuum_enabled = false)").await?;
    notes.push("autovacuum disabled on events after the explicit VACUUM ANALYZE (see the module docs)".into());
    wait_readable(&control).await?;
    generation.events_table_bytes =
        control.query_one("SELECT pg_total_relation_size('events')", &[]).await?.try_get(0)?;
    let mut checkpoints = true;
    crate::store::checkpoint(&control, &mut checkpoints, &mut notes).await;

    let mut copy = vec![copy_events(&control, "before").await?];

    let options = RebuildOptions {
        batch_size: opts.rebuild_batch_size,
        cache_max_streams: opts.rebuild_cache_max_streams,
        ..RebuildOptions::default()
    };
    let rss_before = resident();
    let peak_reset = reset_peak();
    if !peak_reset {
        notes.push("VmHWM could not be reset (/proc/self/clear_refs): peak_hwm_mib left out".into());
    }
    let sampler = RssSampler::start(Duration::from_millis(RSS_SAMPLE_INTERVAL_MS));
    let mut timing = PhaseTiming::default();
    tracing::info!(events = generation.events, "rebuild started");
    let started = Instant::now();
    let rebuilt = payledger_projector::rebuild(url, options.clone(), |p: &RebuildProgress| timing.observe(p)).await;
    let elapsed = started.elapsed();
    let peak_sampled = sampler.stop().await;
    let hwm_after = resident();
    let rebuilt = rebuilt.map_err(|e| BenchError::Setup(format!("rebuild: {e}")))?;
    tracing::info!(events = rebuilt.events_applied, ms = elapsed.as_millis() as u64, "rebuild done");

    let in_table: i64 = control.query_one("SELECT count(*) FROM events", &[]).await?.try_get(0)?;
    if rebuilt.events_applied != u64::try_from(in_table).unwrap_or(0) {
        return Err(BenchError::Check(format!(
            "the rebuild applied {} events and swapped live, the table holds {in_table} ({} held back from the \
             gap-free reader now)",
            rebuilt.events_applied,
            held_back(&control).await?
        )));
    }
    copy.push(copy_events(&control, "after").await?);

    let duration_s = elapsed.as_secs_f64().max(1e-9);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let rebuild = RebuildResult {
        events_applied: rebuilt.events_applied,
        duration_ms: duration_s * 1_000.0,
        events_per_s: rebuilt.events_applied as f64 / duration_s,
        replay_ms: timing.indexing_at.map(|d| d.as_secs_f64() * 1_000.0),
        replay_events_per_s: timing.indexing_at.map(|d| timing.replayed as f64 / d.as_secs_f64().max(1e-9)),
        index_catch_up_swap_ms: timing.indexing_at.map(|d| (elapsed.saturating_sub(d)).as_secs_f64() * 1_000.0),
        version: rebuilt.version,
        batch_size: options.batch_size,
        cache_max_streams: options.cache_max_streams,
    };
    let memory = MemoryUse {
        rss_before_mib: rss_before.map(|r| mib(r.rss_kib)),
        peak_hwm_mib: if peak_reset { hwm_after.map(|r| mib(r.hwm_kib)) } else { None },
        peak_sampled_rss_mib: peak_sampled.map(mib),
        sample_interval_ms: RSS_SAMPLE_INTERVAL_MS,
        how: "this process only (the benchmark runs the rebuild in-process; PostgreSQL's memory is not counted): \
              VmHWM of /proc/self/status after resetting it via /proc/self/clear_refs just before the rebuild, and \
              the largest VmRSS sampled during it"
            .into(),
    };
    Ok((generation, copy, rebuild, memory, notes))
}

/// Events the gap-free reader may not read yet (a transaction older than them is running).
async fn held_back(client: &tokio_postgres::Client) -> Result<i64, BenchError> {
    let sql = "SELECT count(*) FROM events WHERE tx_id >= pg_snapshot_xmin(pg_current_snapshot())";
    Ok(client.query_one(sql, &[]).await?.try_get(0)?)
}

/// Waits (bounded) until every event of the history is readable by the gap-free reader.
async fn wait_readable(client: &tokio_postgres::Client) -> Result<(), BenchError> {
    let deadline = Instant::now() + Duration::from_millis(READABLE_TIMEOUT_MS);
    loop {
        let held = held_back(client).await?;
        if held == 0 {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(BenchError::Check(format!("{held} events stayed held back by an older running transaction")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// When the rebuild reached each phase, from its progress callback.
#[derive(Default)]
struct PhaseTiming {
    indexing_at: Option<Duration>,
    replayed: u64,
}

impl PhaseTiming {
    fn observe(&mut self, p: &RebuildProgress) {
        if p.phase == RebuildPhase::Replaying {
            self.replayed = p.events_done;
        } else if self.indexing_at.is_none() {
            self.indexing_at = Some(p.elapsed);
            self.replayed = p.events_done;
        }
    }
}

async fn generate(opts: &RebuildBenchOptions, pool: &Pool) -> Result<Generation, BenchError> {
    let tenant_id = Uuid::new_v4();
    let key_id = Uuid::now_v7().to_string();
    let written = Arc::new(AtomicU64::new(0));
    let next_lifecycle = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    tracing::info!(events = opts.events, writers = opts.generate_writers, "generating the history");
    let tasks: Vec<_> = (0..opts.generate_writers)
        .map(|_| {
            let (pool, written, next, key_id) = (pool.clone(), written.clone(), next_lifecycle.clone(), key_id.clone());
            let (target, per_batch) = (opts.events, opts.lifecycles_per_batch as u64);
            tokio::spawn(async move {
                let mut batches = 0u64;
                while written.load(Ordering::Relaxed) < target {
                    let first = next.fetch_add(per_batch, Ordering::Relaxed);
                    let mut items = Vec::with_capacity(2 * per_batch as usize);
                    for n in first..first + per_batch {
                        items.extend(history::lifecycle(tenant_id, n, &key_id)?);
                    }
                    let outcome = append_batch(&pool, items).await?;
                    let total = written.fetch_add(outcome.events.len() as u64, Ordering::Relaxed);
                    batches += 1;
                    if (total / 100_000) != (total + outcome.events.len() as u64) / 100_000 {
                        tracing::info!(events = total + outcome.events.len() as u64, "generating");
                    }
                }
                Ok::<u64, BenchError>(batches)
            })
        })
        .collect();
    let mut batches = 0;
    for task in tasks {
        batches += task.await.map_err(|e| BenchError::Task(e.to_string()))??;
    }
    let duration_s = started.elapsed().as_secs_f64().max(1e-9);
    let events = written.load(Ordering::Relaxed);
    let lifecycles = batches * opts.lifecycles_per_batch as u64;
    Ok(Generation {
        events,
        streams: lifecycles * 2,
        lifecycles,
        batches,
        duration_ms: duration_s * 1_000.0,
        events_per_s: events as f64 / duration_s,
        events_table_bytes: 0,
    })
}

/// `COPY (SELECT * FROM events) TO STDOUT`, every byte read by this client.
async fn copy_events(client: &tokio_postgres::Client, when: &str) -> Result<CopyCeiling, BenchError> {
    tracing::info!(when, "COPY (SELECT * FROM events) TO STDOUT");
    let started = Instant::now();
    let stream = client.copy_out("COPY (SELECT * FROM events) TO STDOUT").await?;
    futures::pin_mut!(stream);
    let (mut rows, mut bytes) = (0u64, 0u64);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        bytes += chunk.len() as u64;
        // Text format: one line per row (newlines inside values are escaped as \n).
        rows += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
    }
    let duration_s = started.elapsed().as_secs_f64().max(1e-9);
    Ok(CopyCeiling {
        when: when.to_owned(),
        rows,
        bytes,
        duration_ms: duration_s * 1_000.0,
        rows_per_s: rows as f64 / duration_s,
        mib_per_s: bytes as f64 / 1_048_576.0 / duration_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        RebuildBenchOptions::new("postgres://u@h/db").validate().unwrap();
    }

    #[test]
    fn refuses_options_outside_the_limits() {
        let base = RebuildBenchOptions::new("postgres://u@h/db");
        type Change = Box<dyn Fn(&mut RebuildBenchOptions)>;
        let cases: Vec<Change> = vec![
            Box::new(|o| o.database_url = " ".into()),
            Box::new(|o| o.events = 0),
            Box::new(|o| o.events = MAX_EVENTS + 1),
            Box::new(|o| o.lifecycles_per_batch = 0),
            Box::new(|o| o.lifecycles_per_batch = MAX_LIFECYCLES_PER_BATCH + 1),
            Box::new(|o| o.generate_writers = 0),
            Box::new(|o| o.rebuild_batch_size = 0),
            Box::new(|o| o.rebuild_cache_max_streams = 0),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut opts = base.clone();
            case(&mut opts);
            assert!(matches!(opts.validate(), Err(BenchError::InvalidOptions(_))), "case {i}: {opts:?}");
        }
    }

    #[test]
    fn targets_pass_at_their_bar_and_fail_below_it() {
        let at = targets(Some(0.4), 100_000.0);
        assert!(at.iter().all(|t| t.pass), "{at:?}");
        let below = targets(Some(0.399), 99_999.0);
        assert!(below.iter().all(|t| !t.pass), "{below:?}");
        let no_ceiling = targets(None, 200_000.0);
        assert!(!no_ceiling[0].pass && no_ceiling[1].pass, "{no_ceiling:?}");
    }

    #[test]
    fn the_run_future_is_send_so_it_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let future = run(RebuildBenchOptions::new("postgres://u@h/db"));
        assert_send(&future);
    }
}
