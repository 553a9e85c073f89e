//! `payledger bench store`: append throughput of the event store against the ceiling of the
//! same PostgreSQL for a single-row INSERT of the same row shape.
//!
//! A run creates a database of its own (`payledger_bench_<random>`) on the server named by
//! the URL, migrates it, measures, and drops it. Phases, in this order:
//!
//! 1. For each writer count (default 1, 4, 16), back to back so that they see the same
//!    machine load:
//!    - the ledger: [`payledger_store::append`] of one event per transaction,
//!      `ExpectedVersion::NoStream` then `Exact` on streams of [`STREAM_LENGTH`] events, each
//!      writer on its own streams (so no conflicts);
//!    - the ceiling, Rust: the same harness doing a plain one-row `INSERT` (prepared, no
//!      RETURNING) into `bench_ceiling`, a copy of `events` made with
//!      `CREATE TABLE .. (LIKE events INCLUDING ALL)`: same columns, defaults, identity,
//!      constraints and indexes, and no triggers;
//!    - the ceiling, pgbench: the same INSERT from a pgbench script, `-M prepared`, one
//!      connection and one thread per writer.
//! 2. For each batch writer count (default 1, 4): [`payledger_store::append_batch`] of 100
//!    events (10 new streams × 10 events) per transaction, then its ceiling: one prepared
//!    multi-row `INSERT .. SELECT FROM unnest(..)` of as many rows into `bench_ceiling`.
//!
//! The report ends with the targets of issue #15, each a ratio with PASS/FAIL: single-event
//! appends at 16 writers ≥ 0.6 × the one-row INSERT, batch appends ≥ 0.8 × the multi-row
//! INSERT (both against the Rust harness of the same run).
//!
//! Every Rust phase starts all writers together, runs a warm-up that is not measured, then
//! measures for a fixed duration (each writer starts operations until it is over) or a fixed
//! number of operations per writer. Throughput is operations completed over the wall time of
//! the measured interval; latency is the time of the database call of each operation.
//! A `CHECKPOINT` precedes every phase where permitted. At the end the rows in both tables
//! are counted against what the writers reported.

mod report;
pub(crate) mod workload;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use payledger_store::{connect_pool, migrate, Pool, PoolOptions};
use serde::{Deserialize, Serialize};
use tokio::sync::Barrier;
use uuid::Uuid;

pub use crate::environment::{Environment, LoadAverage, PgSetting};
pub use crate::error::BenchError;
use crate::pgbench::{PgbenchLimit, PgbenchRun};
pub use crate::stats::Latency;
pub use workload::STREAM_LENGTH;
pub(crate) use workload::{drive, CeilingRow, EventShape, PhaseLimit, Writer, WriterStats};

/// Measured time per phase unless a count is given.
pub const DEFAULT_DURATION_MS: u64 = 5_000;
/// Unmeasured warm-up before each Rust phase.
pub const DEFAULT_WARMUP_MS: u64 = 1_000;
/// Concurrent writers of the single-event and ceiling phases.
pub const DEFAULT_WRITERS: [usize; 3] = [1, 4, 16];
/// Concurrent writers of the batch phases.
pub const DEFAULT_BATCH_WRITERS: [usize; 2] = [1, 4];
/// Streams per batch append.
pub const DEFAULT_BATCH_STREAMS: usize = 10;
/// Events per stream per batch append.
pub const DEFAULT_BATCH_EVENTS_PER_STREAM: usize = 10;

pub const MIN_DURATION_MS: u64 = 100;
pub const MAX_DURATION_MS: u64 = 300_000;
pub const MAX_WARMUP_MS: u64 = 60_000;
pub const MAX_TRANSACTIONS_PER_WRITER: u64 = 1_000_000;
pub const MAX_WRITERS: usize = 64;
/// Most writer counts in one list (each is a phase).
pub const MAX_WRITER_LEVELS: usize = 8;
pub const MAX_BATCH_STREAMS: usize = 1_000;
/// Most events in one batch append (the store's own limit).
pub const MAX_BATCH_EVENTS: usize = payledger_store::APPEND_MAX_EVENTS;
/// Latency samples kept per phase; beyond it operations are counted but not timed.
pub const MAX_LATENCY_SAMPLES: usize = 2_000_000;
/// Most estimated time of a whole run.
pub const MAX_RUN_MS: u64 = 3_600_000;
/// A pgbench run is killed when it takes this much longer than asked.
const PGBENCH_GRACE_MS: u64 = 60_000;
/// Time allowed to a pgbench run of a fixed count.
const PGBENCH_COUNTED_TIMEOUT_MS: u64 = 600_000;

/// What to measure and for how long. Build with [`StoreBenchOptions::new`] for the defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreBenchOptions {
    /// The server to measure. The run creates, uses and drops a database of its own there,
    /// so the role needs CREATEDB. Default: none (required).
    pub database_url: String,
    /// Measured time per phase, [`MIN_DURATION_MS`]..=[`MAX_DURATION_MS`]. pgbench runs whole
    /// seconds: this rounded up. Default [`DEFAULT_DURATION_MS`].
    pub duration_ms: u64,
    /// Measure a fixed number of transactions per writer instead of a duration
    /// (1..=[`MAX_TRANSACTIONS_PER_WRITER`]; pgbench gets `-t`). Default `None`.
    pub transactions_per_writer: Option<u64>,
    /// Unmeasured warm-up before each Rust phase, 0..=[`MAX_WARMUP_MS`]. Default [`DEFAULT_WARMUP_MS`].
    pub warmup_ms: u64,
    /// Writer counts for single-event appends and the ceiling, each 1..=[`MAX_WRITERS`], at
    /// most [`MAX_WRITER_LEVELS`] of them, at least one. Default [`DEFAULT_WRITERS`].
    pub writers: Vec<usize>,
    /// Writer counts for batch appends (empty: no batch phase). Default [`DEFAULT_BATCH_WRITERS`].
    pub batch_writers: Vec<usize>,
    /// Streams per batch, 1..=[`MAX_BATCH_STREAMS`]. Default [`DEFAULT_BATCH_STREAMS`].
    pub batch_streams: usize,
    /// Events per stream per batch; streams × events at most [`MAX_BATCH_EVENTS`].
    /// Default [`DEFAULT_BATCH_EVENTS_PER_STREAM`].
    pub batch_events_per_stream: usize,
    /// The pgbench to run. `None`: `pgbench` on PATH, else the newest
    /// `/usr/lib/postgresql/*/bin/pgbench`; when none is found the pgbench ceiling is
    /// skipped with a note. Default `None`.
    pub pgbench_path: Option<PathBuf>,
    /// Skip the pgbench ceiling. Default `false`.
    pub skip_pgbench: bool,
    /// Leave the benchmark database in place (for inspection). Default `false`.
    pub keep_database: bool,
}

impl StoreBenchOptions {
    /// The defaults, against `database_url`.
    pub fn new(database_url: impl Into<String>) -> StoreBenchOptions {
        StoreBenchOptions {
            database_url: database_url.into(),
            duration_ms: DEFAULT_DURATION_MS,
            transactions_per_writer: None,
            warmup_ms: DEFAULT_WARMUP_MS,
            writers: DEFAULT_WRITERS.to_vec(),
            batch_writers: DEFAULT_BATCH_WRITERS.to_vec(),
            batch_streams: DEFAULT_BATCH_STREAMS,
            batch_events_per_stream: DEFAULT_BATCH_EVENTS_PER_STREAM,
            pgbench_path: None,
            skip_pgbench: false,
            keep_database: false,
        }
    }

    /// Refuses options outside the limits above.
    pub fn validate(&self) -> Result<(), BenchError> {
        let invalid = |msg: String| Err(BenchError::InvalidOptions(msg));
        if self.database_url.trim().is_empty() {
            return invalid("a database URL is required (DATABASE_URL)".into());
        }
        if !(MIN_DURATION_MS..=MAX_DURATION_MS).contains(&self.duration_ms) {
            return invalid(format!(
                "duration_ms {} is outside {MIN_DURATION_MS}..={MAX_DURATION_MS}",
                self.duration_ms
            ));
        }
        if let Some(count) = self.transactions_per_writer {
            if !(1..=MAX_TRANSACTIONS_PER_WRITER).contains(&count) {
                return invalid(format!(
                    "transactions_per_writer {count} is outside 1..={MAX_TRANSACTIONS_PER_WRITER}"
                ));
            }
        }
        if self.warmup_ms > MAX_WARMUP_MS {
            return invalid(format!("warmup_ms {} exceeds {MAX_WARMUP_MS}", self.warmup_ms));
        }
        if self.writers.is_empty() {
            return invalid("at least one writer count is needed".into());
        }
        for (name, list) in [("writers", &self.writers), ("batch_writers", &self.batch_writers)] {
            if list.len() > MAX_WRITER_LEVELS {
                return invalid(format!("{name}: at most {MAX_WRITER_LEVELS} writer counts"));
            }
            if let Some(bad) = list.iter().find(|&&n| !(1..=MAX_WRITERS).contains(&n)) {
                return invalid(format!("{name}: {bad} writers is outside 1..={MAX_WRITERS}"));
            }
        }
        if !(1..=MAX_BATCH_STREAMS).contains(&self.batch_streams) {
            return invalid(format!("batch_streams {} is outside 1..={MAX_BATCH_STREAMS}", self.batch_streams));
        }
        let batch_events = self.batch_streams.saturating_mul(self.batch_events_per_stream);
        if self.batch_events_per_stream == 0 || batch_events > MAX_BATCH_EVENTS {
            return invalid(format!("a batch of {batch_events} events is outside 1..={MAX_BATCH_EVENTS}"));
        }
        if self.transactions_per_writer.is_none() && self.estimated_run_ms() > MAX_RUN_MS {
            return invalid(format!(
                "the run would take about {} s, more than {} s",
                self.estimated_run_ms() / 1_000,
                MAX_RUN_MS / 1_000
            ));
        }
        Ok(())
    }

    /// Measured plus warm-up time of all phases in duration mode (set-up not included).
    pub fn estimated_run_ms(&self) -> u64 {
        let rust_phases = (self.writers.len() * 2 + self.batch_writers.len() * 2) as u64;
        let pgbench_phases = if self.skip_pgbench { 0 } else { self.writers.len() as u64 };
        rust_phases * (self.duration_ms + self.warmup_ms) + pgbench_phases * self.duration_ms.div_ceil(1_000) * 1_000
    }

    fn max_writers(&self) -> usize {
        self.writers.iter().chain(&self.batch_writers).copied().max().unwrap_or(1)
    }
}

/// What was measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Workload {
    /// `payledger_store::append` of one event per transaction.
    LedgerAppend,
    /// `payledger_store::append_batch` of many streams per transaction.
    LedgerBatchAppend,
    /// A plain one-row INSERT of the events row shape, from the same Rust harness.
    CeilingInsertRust,
    /// The same INSERT from pgbench.
    CeilingInsertPgbench,
    /// One multi-row INSERT of as many rows as a batch append writes, from the Rust harness.
    CeilingBatchInsertRust,
}

/// One phase: one workload at one number of concurrent writers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    pub workload: Workload,
    pub writers: usize,
    /// Events (rows) per operation; an operation is one transaction.
    pub events_per_op: usize,
    pub ops: u64,
    pub events: u64,
    /// The measured interval (for pgbench: transactions / tps).
    pub duration_ms: f64,
    pub ops_per_s: f64,
    pub events_per_s: f64,
    /// Per operation. pgbench's comes from its per-transaction log (`-l`).
    pub latency: Option<Latency>,
    /// The pgbench command line (the URL left out).
    pub command: Option<String>,
}

/// The ledger's single-event appends as a fraction of the plain INSERT ceiling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CeilingRatio {
    pub writers: usize,
    pub ledger_events_per_s: f64,
    pub ceiling_rust_tx_per_s: Option<f64>,
    /// ledger / Rust ceiling.
    pub ledger_vs_rust: Option<f64>,
    pub ceiling_pgbench_tx_per_s: Option<f64>,
    /// ledger / pgbench ceiling.
    pub ledger_vs_pgbench: Option<f64>,
}

/// One goal of issue #15, as measured in this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    /// Ledger ÷ ceiling; `None` when a side was not measured (then `pass` is false).
    pub ratio: Option<f64>,
    /// The least ratio that passes.
    pub target: f64,
    pub pass: bool,
}

/// Single-event appends at this many writers against the one-row INSERT ceiling.
pub const TARGET_SINGLE_WRITERS: usize = 16;
pub const TARGET_SINGLE_RATIO: f64 = 0.6;
/// Batch appends against the multi-row INSERT of as many rows, at each batch writer count.
pub const TARGET_BATCH_RATIO: f64 = 0.8;

/// How the run was set up, as the report needs to be read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSettings {
    /// Measured time per phase; `None` when a count was measured instead.
    pub duration_ms: Option<u64>,
    pub transactions_per_writer: Option<u64>,
    pub warmup_ms: u64,
    pub stream_length: i64,
    pub batch_streams: usize,
    pub batch_events_per_stream: usize,
    /// Serialized JSON sizes of one event's payload and metadata.
    pub payload_bytes: usize,
    pub metadata_bytes: usize,
    pub pgbench_path: Option<String>,
    /// The pgbench script used for the pgbench ceiling.
    pub pgbench_script: Option<String>,
    /// The (dropped) database the run used.
    pub database: String,
}

/// The result of [`run`]: serializes to JSON; `Display` prints it as tables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreBenchReport {
    pub started_at_unix_s: u64,
    /// Wall time of the whole run, set-up and clean-up included.
    pub total_duration_ms: u64,
    pub environment: Environment,
    pub settings: RunSettings,
    pub measurements: Vec<Measurement>,
    pub ratios: Vec<CeilingRatio>,
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
}

impl StoreBenchReport {
    /// The measurement of `workload` at `writers`.
    pub fn measurement(&self, workload: Workload, writers: usize) -> Option<&Measurement> {
        self.measurements.iter().find(|m| m.workload == workload && m.writers == writers)
    }
}

/// Runs the store benchmark against `opts.database_url`. See the module documentation.
pub async fn run(opts: StoreBenchOptions) -> Result<StoreBenchReport, BenchError> {
    opts.validate()?;
    let run_started = Instant::now();
    let started_at_unix_s = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);

    let admin = connect(&opts.database_url).await?;
    let mut environment = crate::environment::collect(&admin).await?;
    let suffix = Uuid::new_v4().simple().to_string();
    let database = format!("payledger_bench_{}", &suffix[..12]);
    admin.batch_execute(&format!("CREATE DATABASE {database}")).await?;
    tracing::info!(%database, "benchmark database created");

    let work_dir = std::env::temp_dir().join(format!("payledger-bench-{}", &suffix[..12]));
    let phases = match std::fs::create_dir(&work_dir) {
        Ok(()) => {
            let bench_url = crate::dburl::with_dbname(&opts.database_url, &database);
            let phases = run_phases(&opts, &bench_url, &work_dir).await;
            if let Err(e) = std::fs::remove_dir_all(&work_dir) {
                tracing::warn!(dir = %work_dir.display(), error = %e, "cannot remove the work directory");
            }
            phases
        }
        Err(e) => Err(BenchError::Io(e)),
    };

    let dropped = if opts.keep_database {
        Ok(())
    } else {
        admin.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")).await
    };
    let phases = match (phases, dropped) {
        (Ok(phases), Ok(())) => phases,
        (Ok(_), Err(e)) => {
            return Err(BenchError::Cleanup { database, reason: BenchError::Db(e).to_string() });
        }
        (Err(err), dropped) => {
            if let Err(e) = dropped {
                tracing::warn!(%database, error = %BenchError::Db(e), "the benchmark database was not dropped");
            }
            return Err(err);
        }
    };

    environment.load_average_end = crate::environment::load_average();
    let ratios = ratios(&opts.writers, &phases.measurements);
    let targets = targets(&opts, &phases.measurements);
    let shape = EventShape { tenant_id: Uuid::nil() };
    let payload_bytes = serde_json::to_string(&shape.payload(0)).map(|s| s.len()).unwrap_or(0);
    let metadata_bytes = serde_json::to_string(&shape.metadata()).map(|s| s.len()).unwrap_or(0);
    Ok(StoreBenchReport {
        started_at_unix_s,
        total_duration_ms: u64::try_from(run_started.elapsed().as_millis()).unwrap_or(u64::MAX),
        environment,
        settings: RunSettings {
            duration_ms: opts.transactions_per_writer.is_none().then_some(opts.duration_ms),
            transactions_per_writer: opts.transactions_per_writer,
            warmup_ms: opts.warmup_ms,
            stream_length: STREAM_LENGTH,
            batch_streams: opts.batch_streams,
            batch_events_per_stream: opts.batch_events_per_stream,
            payload_bytes,
            metadata_bytes,
            pgbench_path: phases.pgbench_path.map(|p| p.display().to_string()),
            pgbench_script: phases.pgbench_used.then(|| crate::pgbench::CEILING_SCRIPT.to_owned()),
            database,
        },
        measurements: phases.measurements,
        ratios,
        targets,
        notes: phases.notes,
    })
}

struct Phases {
    measurements: Vec<Measurement>,
    notes: Vec<String>,
    pgbench_path: Option<PathBuf>,
    pgbench_used: bool,
}

/// Rows each table must hold at the end.
#[derive(Default)]
struct Written {
    ledger_events: u64,
    ceiling_rows: u64,
    /// pgbench may leave one in-flight INSERT per client committed after its deadline.
    ceiling_rows_slack: u64,
}

async fn run_phases(opts: &StoreBenchOptions, bench_url: &str, work_dir: &Path) -> Result<Phases, BenchError> {
    migrate(bench_url).await?;
    let pool = connect_pool(
        bench_url,
        &PoolOptions { max_connections: opts.max_writers() + 1, wait_timeout_ms: 10_000, statement_timeout_ms: 30_000 },
    )?;
    let result = measure(opts, &pool, bench_url, work_dir).await;
    pool.close();
    result
}

async fn measure(
    opts: &StoreBenchOptions,
    pool: &Pool,
    bench_url: &str,
    work_dir: &Path,
) -> Result<Phases, BenchError> {
    let control = pool.get().await?;
    control.batch_execute("CREATE TABLE bench_ceiling (LIKE events INCLUDING ALL)").await?;
    let triggers: i64 = control
        .query_one(
            "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'bench_ceiling'::regclass AND NOT tgisinternal",
            &[],
        )
        .await?
        .try_get(0)?;
    if triggers != 0 {
        return Err(BenchError::Check(format!("bench_ceiling has {triggers} triggers, expected none")));
    }

    let mut notes = Vec::new();
    let shape = Arc::new(EventShape { tenant_id: Uuid::new_v4() });
    let row = Arc::new(CeilingRow::new(&shape));
    let limit = match opts.transactions_per_writer {
        Some(count) => PhaseLimit::Operations(count),
        None => PhaseLimit::Duration(Duration::from_millis(opts.duration_ms)),
    };
    let warmup = Duration::from_millis(opts.warmup_ms);

    let pgbench_path = if opts.skip_pgbench {
        notes.push("pgbench ceiling skipped on request".to_owned());
        None
    } else {
        match opts.pgbench_path.clone().or_else(crate::pgbench::find) {
            Some(path) => Some(path),
            None => {
                notes.push(
                    "pgbench not found (install postgresql-contrib or postgresql-client): pgbench ceiling skipped"
                        .to_owned(),
                );
                None
            }
        }
    };
    let script = work_dir.join("ceiling.sql");
    if pgbench_path.is_some() {
        std::fs::write(&script, crate::pgbench::CEILING_SCRIPT)?;
    }
    let pgbench_limit = match opts.transactions_per_writer {
        Some(count) => PgbenchLimit::TransactionsPerClient(count),
        None => PgbenchLimit::Seconds(opts.duration_ms.div_ceil(1_000)),
    };
    if opts.transactions_per_writer.is_none()
        && opts.duration_ms.div_ceil(1_000) * 1_000 != opts.duration_ms
        && pgbench_path.is_some()
    {
        notes.push(format!(
            "pgbench runs whole seconds: its phases ran {} s, the Rust phases {} ms",
            opts.duration_ms.div_ceil(1_000),
            opts.duration_ms
        ));
    }

    let mut checkpoints = true;
    let mut measurements = Vec::new();
    let mut written = Written::default();
    let mut phase: u32 = 0;
    let phase_ctx = PhaseContext { limit, warmup };

    for &writers in &opts.writers {
        phase += 1;
        checkpoint(&control, &mut checkpoints, &mut notes).await;
        let mut list = Vec::with_capacity(writers);
        for w in 0..writers {
            list.push(Writer::append(pool.clone(), shape.clone(), format!("bench-p{phase}-w{w}")));
        }
        let (m, total) = phase_ctx.run(Workload::LedgerAppend, 1, list, &mut notes).await?;
        written.ledger_events += total;
        measurements.push(m);

        phase += 1;
        checkpoint(&control, &mut checkpoints, &mut notes).await;
        let mut list = Vec::with_capacity(writers);
        for w in 0..writers {
            list.push(Writer::insert(pool, row.clone(), format!("bench-p{phase}-w{w}")).await?);
        }
        let (m, total) = phase_ctx.run(Workload::CeilingInsertRust, 1, list, &mut notes).await?;
        written.ceiling_rows += total;
        measurements.push(m);

        if let Some(program) = &pgbench_path {
            phase += 1;
            checkpoint(&control, &mut checkpoints, &mut notes).await;
            let m = run_pgbench(program, bench_url, writers, pgbench_limit, &script, phase, &row, work_dir).await?;
            written.ceiling_rows += m.ops;
            written.ceiling_rows_slack += writers as u64;
            if let Some(note) = pgbench_failures_note(&m) {
                notes.push(note);
            }
            measurements.push(m.measurement);
        }
    }

    let batch_events = opts.batch_streams * opts.batch_events_per_stream;
    for &writers in &opts.batch_writers {
        phase += 1;
        checkpoint(&control, &mut checkpoints, &mut notes).await;
        let list = (0..writers)
            .map(|w| {
                Writer::batch(
                    pool.clone(),
                    shape.clone(),
                    format!("bench-p{phase}-w{w}"),
                    opts.batch_streams,
                    opts.batch_events_per_stream,
                )
            })
            .collect();
        let (m, total) = phase_ctx.run(Workload::LedgerBatchAppend, batch_events, list, &mut notes).await?;
        written.ledger_events += total;
        measurements.push(m);

        phase += 1;
        checkpoint(&control, &mut checkpoints, &mut notes).await;
        let mut list = Vec::with_capacity(writers);
        for w in 0..writers {
            let prefix = format!("bench-p{phase}-w{w}");
            list.push(
                Writer::batch_insert(pool, row.clone(), prefix, opts.batch_streams, opts.batch_events_per_stream)
                    .await?,
            );
        }
        let (m, total) = phase_ctx.run(Workload::CeilingBatchInsertRust, batch_events, list, &mut notes).await?;
        written.ceiling_rows += total;
        measurements.push(m);
    }

    verify_row_counts(&control, &written).await?;
    Ok(Phases { measurements, notes, pgbench_used: pgbench_path.is_some(), pgbench_path })
}

pub(crate) struct PhaseContext {
    pub limit: PhaseLimit,
    pub warmup: Duration,
}

impl PhaseContext {
    /// Runs `writers` together; returns the measurement and every event written (warm-up included).
    pub(crate) async fn run(
        &self,
        workload: Workload,
        events_per_op: usize,
        writers: Vec<Writer>,
        notes: &mut Vec<String>,
    ) -> Result<(Measurement, u64), BenchError> {
        let count = writers.len();
        tracing::info!(?workload, writers = count, "phase started");
        let start = Arc::new(Barrier::new(count));
        let max_samples = MAX_LATENCY_SAMPLES / count.max(1);
        let tasks: Vec<_> = writers
            .into_iter()
            .map(|writer| tokio::spawn(drive(writer, self.limit, self.warmup, start.clone(), max_samples)))
            .collect();
        let mut stats: Vec<WriterStats> = Vec::with_capacity(count);
        let mut first_error = None;
        for task in tasks {
            match task.await {
                Ok(Ok(s)) => stats.push(s),
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                }
                Err(e) => {
                    first_error.get_or_insert(BenchError::Task(e.to_string()));
                }
            }
        }
        if let Some(e) = first_error {
            return Err(e);
        }
        let (Some(started), Some(ended)) = (stats.iter().map(|s| s.started).min(), stats.iter().map(|s| s.ended).max())
        else {
            return Err(BenchError::Task("no writer reported".into()));
        };
        let duration_s = ended.duration_since(started).as_secs_f64().max(1e-9);
        let ops: u64 = stats.iter().map(|s| s.ops).sum();
        let events: u64 = stats.iter().map(|s| s.events).sum();
        let total_events = events + stats.iter().map(|s| s.warmup_events).sum::<u64>();
        if stats.iter().any(|s| s.samples_dropped) {
            notes.push(format!(
                "{workload:?} at {count} writers: more than {MAX_LATENCY_SAMPLES} operations, latency from the first ones"
            ));
        }
        let latencies: Vec<u64> = stats.into_iter().flat_map(|s| s.latencies_us).collect();
        let measurement = Measurement {
            workload,
            writers: count,
            events_per_op,
            ops,
            events,
            duration_ms: duration_s * 1_000.0,
            ops_per_s: ops as f64 / duration_s,
            events_per_s: events as f64 / duration_s,
            latency: Latency::from_micros(latencies),
            command: None,
        };
        tracing::info!(?workload, writers = count, ops_per_s = measurement.ops_per_s, "phase done");
        Ok((measurement, total_events))
    }
}

pub(crate) struct PgbenchMeasurement {
    pub measurement: Measurement,
    pub ops: u64,
    pub failed: u64,
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn run_pgbench(
    program: &Path,
    bench_url: &str,
    writers: usize,
    limit: PgbenchLimit,
    script: &Path,
    phase: u32,
    row: &CeilingRow,
    work_dir: &Path,
) -> Result<PgbenchMeasurement, BenchError> {
    tracing::info!(workload = "CeilingInsertPgbench", writers, "phase started");
    let variables = [
        ("v", "0".to_owned()),
        ("phase", phase.to_string()),
        ("tenant", row.tenant_id.to_string()),
        ("payload", serde_json::to_string(&row.payload).map_err(|e| BenchError::Pgbench(e.to_string()))?),
        ("metadata", serde_json::to_string(&row.metadata).map_err(|e| BenchError::Pgbench(e.to_string()))?),
        ("prev_hash", format!("\\x{}", to_hex(&row.prev_hash))),
        ("hash", format!("\\x{}", to_hex(&row.hash))),
    ];
    let timeout_ms = match limit {
        PgbenchLimit::Seconds(s) => s * 1_000 + PGBENCH_GRACE_MS,
        PgbenchLimit::TransactionsPerClient(_) => PGBENCH_COUNTED_TIMEOUT_MS,
    };
    let spec = PgbenchRun {
        program,
        database_url: bench_url,
        clients: writers,
        limit,
        script,
        variables: &variables,
        log_dir: work_dir,
        timeout: Duration::from_millis(timeout_ms),
        max_latency_samples: MAX_LATENCY_SAMPLES,
    };
    let outcome = crate::pgbench::run(&spec).await?;
    let duration_s = if outcome.tps > 0.0 { outcome.transactions as f64 / outcome.tps } else { 0.0 };
    tracing::info!(workload = "CeilingInsertPgbench", writers, tps = outcome.tps, "phase done");
    Ok(PgbenchMeasurement {
        measurement: Measurement {
            workload: Workload::CeilingInsertPgbench,
            writers,
            events_per_op: 1,
            ops: outcome.transactions,
            events: outcome.transactions,
            duration_ms: duration_s * 1_000.0,
            ops_per_s: outcome.tps,
            events_per_s: outcome.tps,
            latency: outcome.latency,
            command: Some(crate::pgbench::describe_command(program, writers, limit)),
        },
        ops: outcome.transactions,
        failed: outcome.failed_transactions,
    })
}

pub(crate) fn pgbench_failures_note(m: &PgbenchMeasurement) -> Option<String> {
    (m.failed > 0)
        .then(|| format!("pgbench at {} clients reported {} failed transactions", m.measurement.writers, m.failed))
}

/// Starts each phase from a clean checkpoint where the role may (superuser or pg_checkpoint).
pub(crate) async fn checkpoint(client: &tokio_postgres::Client, enabled: &mut bool, notes: &mut Vec<String>) {
    if !*enabled {
        return;
    }
    if let Err(e) = client.batch_execute("CHECKPOINT").await {
        *enabled = false;
        notes.push(format!("no CHECKPOINT between phases ({})", BenchError::Db(e)));
    }
}

async fn verify_row_counts(client: &tokio_postgres::Client, written: &Written) -> Result<(), BenchError> {
    let row =
        client.query_one("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM bench_ceiling)", &[]).await?;
    let events = u64::try_from(row.try_get::<_, i64>(0)?).unwrap_or(0);
    let ceiling = u64::try_from(row.try_get::<_, i64>(1)?).unwrap_or(0);
    if events != written.ledger_events {
        return Err(BenchError::Check(format!(
            "events holds {events} rows, the ledger writers reported {}",
            written.ledger_events
        )));
    }
    let expected = written.ceiling_rows..=written.ceiling_rows + written.ceiling_rows_slack;
    if !expected.contains(&ceiling) {
        return Err(BenchError::Check(format!(
            "bench_ceiling holds {ceiling} rows, the ceiling writers reported {}",
            written.ceiling_rows
        )));
    }
    Ok(())
}

fn ratios(writer_counts: &[usize], measurements: &[Measurement]) -> Vec<CeilingRatio> {
    let find = |workload: Workload, writers: usize| {
        measurements.iter().find(|m| m.workload == workload && m.writers == writers).map(|m| m.events_per_s)
    };
    let ratio = |ledger: f64, ceiling: Option<f64>| ceiling.filter(|c| *c > 0.0).map(|c| ledger / c);
    writer_counts
        .iter()
        .filter_map(|&writers| {
            let ledger = find(Workload::LedgerAppend, writers)?;
            let rust = find(Workload::CeilingInsertRust, writers);
            let pgbench = find(Workload::CeilingInsertPgbench, writers);
            Some(CeilingRatio {
                writers,
                ledger_events_per_s: ledger,
                ceiling_rust_tx_per_s: rust,
                ledger_vs_rust: ratio(ledger, rust),
                ceiling_pgbench_tx_per_s: pgbench,
                ledger_vs_pgbench: ratio(ledger, pgbench),
            })
        })
        .collect()
}

/// The goals: single-event appends at [`TARGET_SINGLE_WRITERS`], and batch appends at
/// every batch writer count, each ledger rate ÷ its Rust ceiling (events ÷ rows per second).
fn targets(opts: &StoreBenchOptions, measurements: &[Measurement]) -> Vec<Target> {
    let find = |workload: Workload, writers: usize| {
        measurements.iter().find(|m| m.workload == workload && m.writers == writers).map(|m| m.events_per_s)
    };
    let target = |name: String, ledger: Option<f64>, ceiling: Option<f64>, goal: f64| {
        let ratio = ledger.zip(ceiling.filter(|c| *c > 0.0)).map(|(l, c)| l / c);
        Target { name, ratio, target: goal, pass: ratio.is_some_and(|r| r >= goal) }
    };
    let w = TARGET_SINGLE_WRITERS;
    let mut list = vec![target(
        format!("single-event append at {w} writers / 1-row INSERT"),
        find(Workload::LedgerAppend, w),
        find(Workload::CeilingInsertRust, w),
        TARGET_SINGLE_RATIO,
    )];
    let rows = opts.batch_streams * opts.batch_events_per_stream;
    for &w in &opts.batch_writers {
        list.push(target(
            format!("{rows}-event batch append at {w} writers / {rows}-row INSERT"),
            find(Workload::LedgerBatchAppend, w),
            find(Workload::CeilingBatchInsertRust, w),
            TARGET_BATCH_RATIO,
        ));
    }
    list
}

pub(crate) async fn connect(url: &str) -> Result<tokio_postgres::Client, BenchError> {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "benchmark control connection closed");
        }
    });
    Ok(client)
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_finish_well_under_ten_minutes() {
        let opts = StoreBenchOptions::new("postgres://u@h/db");
        opts.validate().unwrap();
        assert!(opts.estimated_run_ms() < 120_000, "{} ms", opts.estimated_run_ms());
    }

    #[test]
    fn refuses_options_outside_the_limits() {
        let base = StoreBenchOptions::new("postgres://u@h/db");
        type Change = Box<dyn Fn(&mut StoreBenchOptions)>;
        let cases: Vec<Change> = vec![
            Box::new(|o| o.database_url = " ".into()),
            Box::new(|o| o.duration_ms = 10),
            Box::new(|o| o.duration_ms = MAX_DURATION_MS + 1),
            Box::new(|o| o.transactions_per_writer = Some(0)),
            Box::new(|o| o.warmup_ms = MAX_WARMUP_MS + 1),
            Box::new(|o| o.writers = vec![]),
            Box::new(|o| o.writers = vec![0]),
            Box::new(|o| o.writers = vec![MAX_WRITERS + 1]),
            Box::new(|o| o.batch_writers = vec![1; MAX_WRITER_LEVELS + 1]),
            Box::new(|o| o.batch_streams = 0),
            Box::new(|o| o.batch_events_per_stream = 0),
            Box::new(|o| o.batch_events_per_stream = MAX_BATCH_EVENTS),
            Box::new(|o| {
                o.duration_ms = MAX_DURATION_MS;
                o.writers = vec![1; MAX_WRITER_LEVELS];
            }),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut opts = base.clone();
            case(&mut opts);
            assert!(matches!(opts.validate(), Err(BenchError::InvalidOptions(_))), "case {i}: {opts:?}");
        }
    }

    #[test]
    fn ratios_divide_ledger_by_ceiling() {
        let m = |workload, writers, events_per_s| Measurement {
            workload,
            writers,
            events_per_op: 1,
            ops: 1,
            events: 1,
            duration_ms: 1.0,
            ops_per_s: events_per_s,
            events_per_s,
            latency: None,
            command: None,
        };
        let measurements = vec![
            m(Workload::LedgerAppend, 1, 100.0),
            m(Workload::CeilingInsertRust, 1, 400.0),
            m(Workload::CeilingInsertPgbench, 1, 500.0),
            m(Workload::LedgerAppend, 4, 300.0),
        ];
        let r = ratios(&[1, 4, 16], &measurements);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].ledger_vs_rust, Some(0.25));
        assert_eq!(r[0].ledger_vs_pgbench, Some(0.2));
        assert_eq!(r[1].ledger_vs_rust, None);
    }

    #[test]
    fn targets_pass_at_the_goal_and_fail_below_it_or_when_unmeasured() {
        let m = |workload, writers, events_per_s| Measurement {
            workload,
            writers,
            events_per_op: 1,
            ops: 1,
            events: 1,
            duration_ms: 1.0,
            ops_per_s: events_per_s,
            events_per_s,
            latency: None,
            command: None,
        };
        let mut opts = StoreBenchOptions::new("postgres://u@h/db");
        opts.batch_writers = vec![1, 4];
        let measurements = vec![
            m(Workload::LedgerAppend, 16, 600.0),
            m(Workload::CeilingInsertRust, 16, 1000.0),
            m(Workload::LedgerBatchAppend, 1, 790.0),
            m(Workload::CeilingBatchInsertRust, 1, 1000.0),
            m(Workload::LedgerBatchAppend, 4, 900.0),
        ];
        let t = targets(&opts, &measurements);
        assert_eq!(t.len(), 3);
        assert_eq!((t[0].ratio, t[0].pass), (Some(0.6), true));
        assert_eq!((t[1].ratio, t[1].pass), (Some(0.79), false));
        assert_eq!((t[2].ratio, t[2].pass), (None, false));
        assert!(t[1].name.contains("100-event batch append at 1 writers"), "{}", t[1].name);
    }

    #[test]
    fn the_run_future_is_send_so_it_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let future = run(StoreBenchOptions::new("postgres://u@h/db"));
        assert_send(&future);
    }

    #[test]
    fn hex() {
        assert_eq!(to_hex(&[0, 15, 255]), "000fff");
    }
}
