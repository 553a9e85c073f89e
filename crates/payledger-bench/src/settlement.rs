//! `payledger-bench settlement`: importing a day's Stripe itemized balance report of
//! `lines` lines through the service, against the server's ceiling for taking in the same
//! bytes, `COPY ... FROM STDIN (FORMAT csv)` into a plain table of the same columns (text);
//! then the projector catching up on the report's events and the reconciliation of the day.
//!
//! A run creates a database of its own, migrates it, creates a tenant and, in this order:
//!
//! 1. generates the report and the ledger it settles ([`generate`]): charges with card fees,
//!    refunds, disputes, fee lines and one payout of the net of all of them, a few charges
//!    the ledger holds at another amount, a few of payments it does not know, a few lines
//!    repeated;
//! 2. seeds the ledger ([`ledger`]: order and payment streams appended in batches straight to
//!    the store) and projects it (`Projector::run_once`), then `VACUUM ANALYZE events`;
//! 3. the ceiling: `COPY` of the file's bytes (timed from the COPY statement to its end);
//! 4. the import: `payledger_service::settlement::import`, timed, with this process's peak
//!    memory (VmHWM reset just before, and VmRSS sampled);
//! 5. the ceiling again; the projector catching up on the report (`run_once`, timed);
//! 6. `reconciliation::items` and `days` of the day, timed; the status counts and the day's
//!    difference must be what was generated, or the check fails (exit 1);
//! 7. unless skipped, the import's steps timed one by one ([`profile`]).

mod generate;
mod ledger;
mod profile;
mod report;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, Utc};
use futures::SinkExt;
use payledger_core::payment::Provider;
use payledger_projector::read::ReadModels;
use payledger_projector::{Projector, ProjectorConfig};
use payledger_service::reconciliation::{self, Period};
use payledger_service::settlement::{self as service, Origin};
use payledger_store::{connect_pool, Pool, PoolOptions};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::database::{BenchDatabase, RunClock};
pub use crate::environment::Environment;
pub use crate::error::BenchError;
use crate::memory::{reset_peak, resident, RssSampler};
pub use crate::rebuild::CopyCeiling;
pub use generate::Mix;

pub const DEFAULT_LINES: u64 = 100_000;
pub const MIN_LINES: u64 = 100;
/// The parser's limit of data lines.
pub const MAX_LINES: u64 = 1_000_000;
pub const DEFAULT_SEED_PAYMENTS_PER_BATCH: usize = 500;
/// At most 6 events a payment: a batch stays under the store's 10 000 events.
pub const MAX_SEED_PAYMENTS_PER_BATCH: usize = 1_500;
pub const DEFAULT_SEED_WRITERS: usize = 2;
pub const MAX_SEED_WRITERS: usize = 32;
/// How often the sampler reads VmRSS.
pub const RSS_SAMPLE_INTERVAL_MS: u64 = 20;
/// The report's day: a week ago, so no ledger fact (recorded now) falls on it.
const DAY_OFFSET_DAYS: u64 = 7;
const STATEMENT_TIMEOUT_MS: u64 = 600_000;
const COPY_TABLE: &str = "bench_settlement_copy";
const COPY_CHUNK_BYTES: usize = 64 * 1024;

/// What to run. [`SettlementBenchOptions::new`] gives the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettlementBenchOptions {
    pub database_url: String,
    /// Lines of the report, [`MIN_LINES`]..=[`MAX_LINES`].
    pub lines: u64,
    /// Payments per batch append while seeding the ledger.
    pub seed_payments_per_batch: usize,
    /// Concurrent writers seeding the ledger.
    pub seed_writers: usize,
    /// Skip timing the import's steps one by one.
    pub skip_profile: bool,
    pub keep_database: bool,
}

impl SettlementBenchOptions {
    pub fn new(database_url: impl Into<String>) -> SettlementBenchOptions {
        SettlementBenchOptions {
            database_url: database_url.into(),
            lines: DEFAULT_LINES,
            seed_payments_per_batch: DEFAULT_SEED_PAYMENTS_PER_BATCH,
            seed_writers: DEFAULT_SEED_WRITERS,
            skip_profile: false,
            keep_database: false,
        }
    }

    pub fn validate(&self) -> Result<(), BenchError> {
        let invalid = |msg: String| Err(BenchError::InvalidOptions(msg));
        if self.database_url.trim().is_empty() {
            return invalid("a database URL is required (DATABASE_URL)".into());
        }
        if !(MIN_LINES..=MAX_LINES).contains(&self.lines) {
            return invalid(format!("lines {} is outside {MIN_LINES}..={MAX_LINES}", self.lines));
        }
        if !(1..=MAX_SEED_PAYMENTS_PER_BATCH).contains(&self.seed_payments_per_batch) {
            return invalid(format!(
                "seed_payments_per_batch {} is outside 1..={MAX_SEED_PAYMENTS_PER_BATCH}",
                self.seed_payments_per_batch
            ));
        }
        if !(1..=MAX_SEED_WRITERS).contains(&self.seed_writers) {
            return invalid(format!("seed_writers {} is outside 1..={MAX_SEED_WRITERS}", self.seed_writers));
        }
        Ok(())
    }
}

/// The generated report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GeneratedReport {
    pub day: NaiveDate,
    pub lines: u64,
    pub bytes: u64,
    pub mix: Mix,
    pub duration_ms: f64,
}

/// The ledger seeded before the import, and its projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seeding {
    pub payments: u64,
    pub events: u64,
    pub batches: u64,
    pub duration_ms: f64,
    pub events_per_s: f64,
    pub projected_ms: f64,
    pub projected_events_per_s: f64,
}

/// The import through the service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportResult {
    pub report_id: Uuid,
    pub lines: u64,
    pub duplicate_lines: u64,
    pub bytes: u64,
    pub duration_ms: f64,
    pub lines_per_s: f64,
    pub mib_per_s: f64,
}

/// This process's memory around the import and the reconciliation, in MiB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MemoryUse {
    /// VmRSS just before the import (the file's bytes are already in memory).
    pub rss_before_import_mib: Option<f64>,
    /// VmHWM after the import, reset to VmRSS just before it; `None` if the reset failed.
    pub import_peak_hwm_mib: Option<f64>,
    pub import_peak_sampled_rss_mib: Option<f64>,
    /// The same around `reconciliation::items` + `days`.
    pub reconciliation_peak_hwm_mib: Option<f64>,
    pub reconciliation_peak_sampled_rss_mib: Option<f64>,
    pub sample_interval_ms: u64,
    pub how: String,
}

/// The projector catching up on the report's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Projection {
    pub events_applied: u64,
    pub duration_ms: f64,
    pub lines_per_s: f64,
    pub batch_size: i64,
}

/// The reconciliation of the day, end to end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReconciliationResult {
    pub items: u64,
    pub items_ms: f64,
    pub days_ms: f64,
    pub items_per_s: f64,
    pub counts: BTreeMap<String, u64>,
    pub expected_counts: BTreeMap<String, u64>,
    pub report_net_minor: String,
    pub ledger_net_minor: String,
    pub difference_minor: String,
    pub expected_difference_minor: i64,
}

/// The import's steps timed one by one (see [`profile`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportProfile {
    pub lines: u64,
    pub parse_ms: f64,
    pub dedupe_lookup_ms: f64,
    /// The events' JSON (`to_payload`) and `NewEvent`s.
    pub build_events_ms: f64,
    /// `append_in_tx`, all chunks.
    pub append_ms: f64,
    pub append_calls: u64,
    pub file_insert_ms: f64,
    pub total_ms: f64,
    pub how: String,
}

/// The benchmark's own check: what was imported, projected and reconciled is what was generated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub passed: bool,
    pub failures: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettlementBenchReport {
    pub started_at_unix_s: u64,
    pub total_duration_ms: u64,
    pub environment: Environment,
    pub database: String,
    pub report: GeneratedReport,
    pub seeding: Seeding,
    pub copy: Vec<CopyCeiling>,
    pub import: ImportResult,
    /// Import lines/s ÷ the faster COPY's rows/s.
    pub import_vs_copy: Option<f64>,
    pub memory: MemoryUse,
    pub projection: Projection,
    pub reconciliation: ReconciliationResult,
    pub profile: Option<ImportProfile>,
    pub check: Check,
    pub notes: Vec<String>,
}

struct Phases {
    report: GeneratedReport,
    seeding: Seeding,
    copy: Vec<CopyCeiling>,
    import: ImportResult,
    memory: MemoryUse,
    projection: Projection,
    reconciliation: ReconciliationResult,
    profile: Option<ImportProfile>,
    check: Check,
    notes: Vec<String>,
}

pub async fn run(opts: SettlementBenchOptions) -> Result<SettlementBenchReport, BenchError> {
    opts.validate()?;
    let clock = RunClock::start();
    let (db, mut environment) = BenchDatabase::open(&opts.database_url).await?;
    let result = run_in(&opts, &db.url).await;
    let p = db.finish(opts.keep_database, result).await?;
    environment.load_average_end = crate::environment::load_average();
    let best_copy = p.copy.iter().map(|c| c.rows_per_s).fold(0.0, f64::max);
    Ok(SettlementBenchReport {
        started_at_unix_s: clock.started_at_unix_s,
        total_duration_ms: clock.elapsed_ms(),
        environment,
        database: db.name.clone(),
        import_vs_copy: (best_copy > 0.0).then(|| p.import.lines_per_s / best_copy),
        report: p.report,
        seeding: p.seeding,
        copy: p.copy,
        import: p.import,
        memory: p.memory,
        projection: p.projection,
        reconciliation: p.reconciliation,
        profile: p.profile,
        check: p.check,
        notes: p.notes,
    })
}

fn seconds_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64().max(1e-9)
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn run_in(opts: &SettlementBenchOptions, url: &str) -> Result<Phases, BenchError> {
    let mut notes = Vec::new();
    let mut failures = Vec::new();
    let control = crate::store::connect(url).await?;
    let pool = connect_pool(
        url,
        &PoolOptions {
            max_connections: opts.seed_writers.max(2),
            wait_timeout_ms: 10_000,
            statement_timeout_ms: STATEMENT_TIMEOUT_MS,
        },
    )?;
    let actor = payledger_service::admin_log::Actor::system("bench");
    let tenant = payledger_service::tenants::create_tenant(&pool, &actor, "bench-settlement")
        .await
        .map_err(|e| BenchError::Setup(format!("tenant: {e}")))?;

    let day = Utc::now().date_naive().checked_sub_days(Days::new(DAY_OFFSET_DAYS)).unwrap_or_default();
    let started = Instant::now();
    let generated = generate::generate(Mix::of(opts.lines), day);
    if !generated.mix.fits() {
        return Err(BenchError::InvalidOptions(format!("{} lines leave too few plain charges", opts.lines)));
    }
    let report = GeneratedReport {
        day,
        lines: generated.mix.lines,
        bytes: generated.csv.len() as u64,
        mix: generated.mix,
        duration_ms: seconds_since(started) * 1_000.0,
    };
    tracing::info!(lines = report.lines, bytes = report.bytes, "report generated");

    let ledger = Arc::new(generated.ledger);
    let mut seeding =
        ledger::seed(&pool, tenant.id, ledger.clone(), opts.seed_payments_per_batch, opts.seed_writers).await?;
    let started = Instant::now();
    // The projector also reads (and skips) the tenant's TenantCreated, appended before the seed.
    let seeded = project(url, seeding.events + SETUP_EVENTS).await?.saturating_sub(SETUP_EVENTS);
    seeding.projected_ms = seconds_since(started) * 1_000.0;
    seeding.projected_events_per_s = seeded as f64 / seconds_since(started);
    if seeded != seeding.events {
        failures.push(format!("the projector applied {seeded} of the {} seeded events", seeding.events));
    }
    tracing::info!(events = seeding.events, "ledger seeded and projected");
    control.batch_execute("VACUUM ANALYZE events").await?;
    let mut checkpoints = true;

    create_copy_table(&control).await?;
    crate::store::checkpoint(&control, &mut checkpoints, &mut notes).await;
    let mut copy = vec![copy_csv(&control, &generated.csv, "before").await?];

    crate::store::checkpoint(&control, &mut checkpoints, &mut notes).await;
    let (import, import_memory) = import(&pool, tenant.id, &generated.csv, &mut notes).await?;
    if (import.lines, import.duplicate_lines) != (report.lines, report.mix.duplicate_lines) {
        failures.push(format!(
            "imported {} lines ({} duplicates), generated {} ({})",
            import.lines, import.duplicate_lines, report.lines, report.mix.duplicate_lines
        ));
    }

    crate::store::checkpoint(&control, &mut checkpoints, &mut notes).await;
    copy.push(copy_csv(&control, &generated.csv, "after").await?);

    let started = Instant::now();
    let applied = project(url, import.lines + 1).await?;
    let projection = Projection {
        events_applied: applied,
        duration_ms: seconds_since(started) * 1_000.0,
        lines_per_s: import.lines as f64 / seconds_since(started),
        batch_size: ProjectorConfig::default().batch_size,
    };
    if applied != import.lines + 1 {
        failures.push(format!("the projector applied {applied} events of a report of {} lines", import.lines));
    }

    let (reconciliation, recon_memory) =
        reconcile(&pool, tenant.id, day, &generated.mix, generated.expected_difference_minor, &mut failures).await?;
    let profile = if opts.skip_profile { None } else { Some(profile::profile(&pool, &generated.csv).await?) };
    pool.close();

    let memory = MemoryUse {
        rss_before_import_mib: import_memory.before.map(mib),
        import_peak_hwm_mib: import_memory.hwm.map(mib),
        import_peak_sampled_rss_mib: import_memory.sampled.map(mib),
        reconciliation_peak_hwm_mib: recon_memory.hwm.map(mib),
        reconciliation_peak_sampled_rss_mib: recon_memory.sampled.map(mib),
        sample_interval_ms: RSS_SAMPLE_INTERVAL_MS,
        how: "this process only (the import runs in-process; PostgreSQL's memory is not counted): VmHWM of \
              /proc/self/status after resetting it via /proc/self/clear_refs just before the phase, and the largest \
              VmRSS sampled during it"
            .into(),
    };
    let check = Check { passed: failures.is_empty(), failures };
    Ok(Phases { report, seeding, copy, import, memory, projection, reconciliation, profile, check, notes })
}

/// Every readable event into the live read-models, as the projector's batches do.
/// Projects what is readable until `expected` events are applied or nothing more comes for
/// [`PROJECT_IDLE_TIMEOUT`]: the reader is gap-free and the snapshot xmin cluster-wide, so
/// another session's open transaction can hold committed events back for a moment.
async fn project(url: &str, expected: u64) -> Result<u64, BenchError> {
    let projector = Projector::new(url, ProjectorConfig::default());
    let mut applied = 0;
    let mut idle_since = Instant::now();
    while applied < expected && idle_since.elapsed() < PROJECT_IDLE_TIMEOUT {
        let now = projector.run_once().await.map_err(|e| BenchError::Setup(format!("projector: {e}")))?;
        if now > 0 {
            idle_since = Instant::now();
        } else {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        applied += now;
    }
    Ok(applied)
}

const PROJECT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Events of the benchmark's set-up before the seeded ledger: the tenant's `TenantCreated`.
const SETUP_EVENTS: u64 = 1;

/// Peak memory of one phase, KiB.
struct PhaseMemory {
    before: Option<u64>,
    hwm: Option<u64>,
    sampled: Option<u64>,
}

struct MemoryWatch {
    before: Option<u64>,
    reset: bool,
    sampler: RssSampler,
}

impl MemoryWatch {
    fn start(notes: &mut Vec<String>) -> MemoryWatch {
        let before = resident().map(|r| r.rss_kib);
        let reset = reset_peak();
        if !reset {
            notes.push("VmHWM could not be reset (/proc/self/clear_refs): peak VmHWM left out".into());
        }
        MemoryWatch { before, reset, sampler: RssSampler::start(Duration::from_millis(RSS_SAMPLE_INTERVAL_MS)) }
    }

    async fn stop(self) -> PhaseMemory {
        let sampled = self.sampler.stop().await;
        let hwm = if self.reset { resident().map(|r| r.hwm_kib) } else { None };
        PhaseMemory { before: self.before, hwm, sampled }
    }
}

async fn import(
    pool: &Pool,
    tenant_id: Uuid,
    csv: &[u8],
    notes: &mut Vec<String>,
) -> Result<(ImportResult, PhaseMemory), BenchError> {
    let origin = Origin { source: "cli", actor: "bench:settlement".into(), request_id: None };
    tracing::info!(bytes = csv.len(), "import started");
    let watch = MemoryWatch::start(notes);
    let started = Instant::now();
    let imported = service::import(pool, tenant_id, Provider::Stripe, csv, &origin).await;
    let duration_s = seconds_since(started);
    let memory = watch.stop().await;
    let imported = imported.map_err(|e| BenchError::Setup(format!("import: {e}")))?;
    if imported.duplicate {
        return Err(BenchError::Check("the generated report was already imported".into()));
    }
    let lines = u64::from(imported.report.line_count);
    Ok((
        ImportResult {
            report_id: *imported.report.id.as_uuid(),
            lines,
            duplicate_lines: u64::from(imported.report.duplicate_lines),
            bytes: csv.len() as u64,
            duration_ms: duration_s * 1_000.0,
            lines_per_s: lines as f64 / duration_s,
            mib_per_s: csv.len() as f64 / 1_048_576.0 / duration_s,
        },
        memory,
    ))
}

async fn create_copy_table(client: &tokio_postgres::Client) -> Result<(), BenchError> {
    let columns: Vec<String> = generate::HEADER.iter().map(|c| format!("\"{c}\" text")).collect();
    client.batch_execute(&format!("CREATE TABLE {COPY_TABLE} ({})", columns.join(", "))).await?;
    Ok(())
}

/// `COPY` of the file's bytes into the plain table (emptied first), timed to its end.
async fn copy_csv(client: &tokio_postgres::Client, csv: &[u8], when: &str) -> Result<CopyCeiling, BenchError> {
    client.batch_execute(&format!("TRUNCATE {COPY_TABLE}")).await?;
    let bytes = bytes::Bytes::copy_from_slice(csv);
    tracing::info!(when, "COPY ... FROM STDIN (FORMAT csv)");
    let started = Instant::now();
    let sink = client.copy_in(&format!("COPY {COPY_TABLE} FROM STDIN (FORMAT csv, HEADER true)")).await?;
    futures::pin_mut!(sink);
    let mut offset = 0;
    while offset < bytes.len() {
        let end = (offset + COPY_CHUNK_BYTES).min(bytes.len());
        sink.feed(bytes.slice(offset..end)).await?;
        offset = end;
    }
    let rows = sink.as_mut().finish().await?;
    let duration_s = seconds_since(started);
    Ok(CopyCeiling {
        when: when.to_owned(),
        rows,
        bytes: csv.len() as u64,
        duration_ms: duration_s * 1_000.0,
        rows_per_s: rows as f64 / duration_s,
        mib_per_s: csv.len() as f64 / 1_048_576.0 / duration_s,
    })
}

async fn reconcile(
    pool: &Pool,
    tenant_id: Uuid,
    day: NaiveDate,
    mix: &Mix,
    expected_difference_minor: i64,
    failures: &mut Vec<String>,
) -> Result<(ReconciliationResult, PhaseMemory), BenchError> {
    let client = pool.get().await?;
    let models = ReadModels::live(&**client)
        .await
        .map_err(|e| BenchError::Setup(format!("read-models: {e}")))?
        .ok_or_else(|| BenchError::Setup("no live read-models".into()))?;
    let period = Period {
        tenant_id,
        provider: Some(Provider::Stripe),
        currency: None,
        from: day,
        to: day,
        lag_days: reconciliation::LAG_DAYS_DEFAULT,
    };
    let mut notes = Vec::new();
    let watch = MemoryWatch::start(&mut notes);
    let started = Instant::now();
    let items = reconciliation::items(&**client, models.schema(), &period)
        .await
        .map_err(|e| BenchError::Setup(format!("reconciliation items: {e}")))?;
    let items_ms = seconds_since(started) * 1_000.0;
    let started = Instant::now();
    let days = reconciliation::days(&items);
    let days_ms = seconds_since(started) * 1_000.0;
    let memory = watch.stop().await;

    let expected_counts = mix.expected_counts();
    let mut counts: BTreeMap<String, u64> = expected_counts.keys().map(|k| (k.clone(), 0)).collect();
    for item in &items {
        *counts.entry(item.status.as_str().to_owned()).or_insert(0) += 1;
    }
    if counts != expected_counts {
        failures.push(format!("items by status {counts:?}, generated {expected_counts:?}"));
    }
    let (report_net, ledger_net, difference) = match days.as_slice() {
        [only] => {
            let day_counts: BTreeMap<String, u64> = only.counts.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            if day_counts != expected_counts {
                failures.push(format!("the day's counts {day_counts:?}, generated {expected_counts:?}"));
            }
            if only.difference_minor != expected_difference_minor.to_string() {
                failures.push(format!(
                    "the day's difference_minor {}, generated {expected_difference_minor}",
                    only.difference_minor
                ));
            }
            (only.report_net_minor.clone(), only.ledger_net_minor.clone(), only.difference_minor.clone())
        }
        _ => {
            failures.push(format!("{} days reconciled, generated 1", days.len()));
            (String::new(), String::new(), String::new())
        }
    };
    let total_s = (items_ms + days_ms) / 1_000.0;
    Ok((
        ReconciliationResult {
            items: items.len() as u64,
            items_ms,
            days_ms,
            items_per_s: items.len() as f64 / total_s.max(1e-9),
            counts,
            expected_counts,
            report_net_minor: report_net,
            ledger_net_minor: ledger_net,
            difference_minor: difference,
            expected_difference_minor,
        },
        memory,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        SettlementBenchOptions::new("postgres://u@h/db").validate().unwrap();
    }

    #[test]
    fn refuses_options_outside_the_limits() {
        let base = SettlementBenchOptions::new("postgres://u@h/db");
        type Change = Box<dyn Fn(&mut SettlementBenchOptions)>;
        let cases: Vec<Change> = vec![
            Box::new(|o| o.database_url = " ".into()),
            Box::new(|o| o.lines = MIN_LINES - 1),
            Box::new(|o| o.lines = MAX_LINES + 1),
            Box::new(|o| o.seed_payments_per_batch = 0),
            Box::new(|o| o.seed_payments_per_batch = MAX_SEED_PAYMENTS_PER_BATCH + 1),
            Box::new(|o| o.seed_writers = 0),
            Box::new(|o| o.seed_writers = MAX_SEED_WRITERS + 1),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut opts = base.clone();
            case(&mut opts);
            assert!(matches!(opts.validate(), Err(BenchError::InvalidOptions(_))), "case {i}: {opts:?}");
        }
    }

    #[test]
    fn the_smallest_mix_fits() {
        assert!(Mix::of(MIN_LINES).fits());
        assert!(Mix::of(MAX_LINES).fits());
    }

    #[test]
    fn the_run_future_is_send_so_it_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let future = run(SettlementBenchOptions::new("postgres://u@h/db"));
        assert_send(&future);
    }
}
