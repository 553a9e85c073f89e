//! `payledger bench api`: the whole server under realistic mixed HTTP traffic, against the
//! same PostgreSQL's single-row INSERT ceiling at the same concurrency.
//!
//! A run creates a database of its own (`payledger_bench_<random>`), migrates it, and starts
//! in this process what `payledger serve` starts: the HTTP server (`payledger_api::serve` on
//! 127.0.0.1:0), the projector and the webhook processor. It creates a tenant, a writer key
//! and a `generic` webhook endpoint, then:
//!
//! 1. **Mixed load**: `concurrency` closed-loop workers over HTTP (keep-alive), each picking
//!    its next request at random by the [`Mix`] weights and walking its own payments through
//!    their lifecycle: create order, create payment (manual capture, provider `generic`),
//!    authorize, capture, refund half, and signed `generic` webhooks from the "gateway"
//!    confirming the authorizations and captures (a share of them redelivered). Every
//!    command carries its own `Idempotency-Key`. Warm-up, then a measured interval:
//!    requests/s, latency percentiles per operation and in all, errors by status, and the
//!    CPU shares of PostgreSQL and of this process (server and load generator together).
//! 2. **Webhook ingest at a fixed rate** (open loop): `payment_intent.succeeded`
//!    deliveries about captured payments at `webhook_rate_per_s`, `webhook_hot_pct` % of
//!    them to the one endpoint the mixed load uses, the rest spread over
//!    `webhook_other_endpoints` further endpoints; latency from when each was due. The
//!    issue #15 target (p99 < 10 ms at 500/s, half to one endpoint, none refused) is in
//!    the report's `targets` as PASS/FAIL.
//! 3. **Check**: every 2xx command's events exactly once (one transaction, found by its
//!    idempotency key), no event for a 4xx, every 2xx webhook's `WebhookReceived` exactly
//!    once (by dedupe key), hash chains intact (`payledger_store::verify_chains`),
//!    read-models equal to a fresh fold (`payledger_projector::verify`).
//! 4. **Ceiling**, with the server stopped: a plain one-row INSERT of the events row shape
//!    at the same concurrency, from the store benchmark's Rust harness and pgbench.
//!
//! Then the database is dropped. A failed check is in the report (`check.passed`); the
//! caller decides the exit status.

mod check;
mod client;
mod mix;
mod report;
mod server;
mod targets;
mod traffic;
mod webhook_rate;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Barrier;

pub use check::IntegrityCheck;
pub use mix::{Mix, Operation, MAX_WEIGHT};
pub use targets::Target;
pub use webhook_rate::WebhookRateResult;

use crate::ceiling::{self, CeilingSpec};
pub use crate::cpu::CpuShares;
use crate::database::{BenchDatabase, RunClock};
pub use crate::environment::Environment;
pub use crate::error::BenchError;
pub use crate::stats::Latency;
use crate::store::{Measurement, PhaseLimit, Workload};
use traffic::{Lifecycle, Record, WorkerSpec};

/// Issue #15's target is measured at 16 clients.
pub const DEFAULT_CONCURRENCY: usize = 16;
pub const DEFAULT_DURATION_MS: u64 = 20_000;
pub const DEFAULT_WARMUP_MS: u64 = 2_000;
pub const DEFAULT_WEBHOOK_RATE_PER_S: u32 = 500;
/// Share of the fixed-rate deliveries sent to the one hot endpoint (issue #15: half).
pub const DEFAULT_WEBHOOK_HOT_PCT: u8 = 50;
/// Endpoints sharing the rest of the fixed-rate deliveries.
pub const DEFAULT_WEBHOOK_OTHER_ENDPOINTS: usize = 8;
/// A tenant has at most 100 endpoints; leave room.
pub const MAX_WEBHOOK_OTHER_ENDPOINTS: usize = 64;
pub const DEFAULT_WEBHOOK_RATE_DURATION_MS: u64 = 10_000;
pub const DEFAULT_WEBHOOK_MAX_IN_FLIGHT: usize = 1_000;
pub const DEFAULT_REDELIVERY_PCT: u8 = 10;
pub const DEFAULT_CEILING_DURATION_MS: u64 = 5_000;

pub const MAX_CONCURRENCY: usize = 256;
pub const MIN_DURATION_MS: u64 = 100;
pub const MAX_DURATION_MS: u64 = 600_000;
pub const MAX_WARMUP_MS: u64 = 60_000;
pub const MAX_REQUESTS_PER_WORKER: u64 = 1_000_000;
pub const MAX_WEBHOOK_RATE_PER_S: u32 = 10_000;
pub const MAX_WEBHOOK_DELIVERIES: u64 = 1_000_000;
pub const MAX_WEBHOOK_IN_FLIGHT: usize = 10_000;
/// Requests remembered for the check, over all workers; beyond, the run fails its check.
pub const MAX_RECORDED_REQUESTS: usize = 5_000_000;
/// Database connections of the server beyond one per worker.
const SERVER_SPARE_CONNECTIONS: usize = 16;

/// What to run. Build with [`ApiBenchOptions::new`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiBenchOptions {
    /// The server to measure; the role needs CREATEDB. Required.
    pub database_url: String,
    /// Concurrent HTTP workers of the mixed load, and the ceiling's writers,
    /// 1..=[`MAX_CONCURRENCY`]. Default [`DEFAULT_CONCURRENCY`].
    pub concurrency: usize,
    /// Measured time of the mixed load, [`MIN_DURATION_MS`]..=[`MAX_DURATION_MS`]. Default
    /// [`DEFAULT_DURATION_MS`].
    pub duration_ms: u64,
    /// Measure this many requests per worker instead (1..=[`MAX_REQUESTS_PER_WORKER`]); the
    /// ceiling then does as many INSERTs per writer. Default `None`.
    pub requests_per_worker: Option<u64>,
    /// Unmeasured warm-up of the mixed load and the Rust ceiling, 0..=[`MAX_WARMUP_MS`].
    /// Default [`DEFAULT_WARMUP_MS`].
    pub warmup_ms: u64,
    pub mix: Mix,
    /// Share of webhooks that redeliver the worker's previous delivery, 0..=100. Default
    /// [`DEFAULT_REDELIVERY_PCT`].
    pub redelivery_pct: u8,
    /// Fixed-rate webhook phase: deliveries per second, 0 to skip,
    /// ..=[`MAX_WEBHOOK_RATE_PER_S`]. Default [`DEFAULT_WEBHOOK_RATE_PER_S`].
    pub webhook_rate_per_s: u32,
    /// Its length, [`MIN_DURATION_MS`]..=[`MAX_DURATION_MS`]; rate × duration at most
    /// [`MAX_WEBHOOK_DELIVERIES`]. Default [`DEFAULT_WEBHOOK_RATE_DURATION_MS`].
    pub webhook_rate_duration_ms: u64,
    /// Percentage of the fixed-rate deliveries sent to the one hot endpoint, 0..=100.
    /// Default [`DEFAULT_WEBHOOK_HOT_PCT`].
    pub webhook_hot_pct: u8,
    /// Further endpoints sharing the other deliveries round-robin,
    /// 0..=[`MAX_WEBHOOK_OTHER_ENDPOINTS`] (0: all go to the hot one). Default
    /// [`DEFAULT_WEBHOOK_OTHER_ENDPOINTS`].
    pub webhook_other_endpoints: usize,
    /// Unanswered deliveries at once before the sender skips (and counts) due ones,
    /// 1..=[`MAX_WEBHOOK_IN_FLIGHT`]. Default [`DEFAULT_WEBHOOK_MAX_IN_FLIGHT`].
    pub webhook_max_in_flight: usize,
    /// Measured time of each ceiling phase, [`MIN_DURATION_MS`]..=[`MAX_DURATION_MS`].
    /// Default [`DEFAULT_CEILING_DURATION_MS`].
    pub ceiling_duration_ms: u64,
    /// `None`: `pgbench` on PATH or the newest `/usr/lib/postgresql/*/bin/pgbench`.
    pub pgbench_path: Option<PathBuf>,
    pub skip_pgbench: bool,
    /// Leave the benchmark database in place. Default `false`.
    pub keep_database: bool,
}

impl ApiBenchOptions {
    pub fn new(database_url: impl Into<String>) -> ApiBenchOptions {
        ApiBenchOptions {
            database_url: database_url.into(),
            concurrency: DEFAULT_CONCURRENCY,
            duration_ms: DEFAULT_DURATION_MS,
            requests_per_worker: None,
            warmup_ms: DEFAULT_WARMUP_MS,
            mix: Mix::default(),
            redelivery_pct: DEFAULT_REDELIVERY_PCT,
            webhook_rate_per_s: DEFAULT_WEBHOOK_RATE_PER_S,
            webhook_rate_duration_ms: DEFAULT_WEBHOOK_RATE_DURATION_MS,
            webhook_hot_pct: DEFAULT_WEBHOOK_HOT_PCT,
            webhook_other_endpoints: DEFAULT_WEBHOOK_OTHER_ENDPOINTS,
            webhook_max_in_flight: DEFAULT_WEBHOOK_MAX_IN_FLIGHT,
            ceiling_duration_ms: DEFAULT_CEILING_DURATION_MS,
            pgbench_path: None,
            skip_pgbench: false,
            keep_database: false,
        }
    }

    pub fn validate(&self) -> Result<(), BenchError> {
        let invalid = |msg: String| Err(BenchError::InvalidOptions(msg));
        if self.database_url.trim().is_empty() {
            return invalid("a database URL is required (DATABASE_URL)".into());
        }
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            return invalid(format!("concurrency {} is outside 1..={MAX_CONCURRENCY}", self.concurrency));
        }
        for (name, value) in [
            ("duration_ms", self.duration_ms),
            ("webhook_rate_duration_ms", self.webhook_rate_duration_ms),
            ("ceiling_duration_ms", self.ceiling_duration_ms),
        ] {
            if !(MIN_DURATION_MS..=MAX_DURATION_MS).contains(&value) {
                return invalid(format!("{name} {value} is outside {MIN_DURATION_MS}..={MAX_DURATION_MS}"));
            }
        }
        if let Some(n) = self.requests_per_worker {
            if !(1..=MAX_REQUESTS_PER_WORKER).contains(&n) {
                return invalid(format!("requests_per_worker {n} is outside 1..={MAX_REQUESTS_PER_WORKER}"));
            }
        }
        if self.warmup_ms > MAX_WARMUP_MS {
            return invalid(format!("warmup_ms {} exceeds {MAX_WARMUP_MS}", self.warmup_ms));
        }
        self.mix.validate().map_err(BenchError::InvalidOptions)?;
        if self.redelivery_pct > 100 {
            return invalid(format!("redelivery_pct {} exceeds 100", self.redelivery_pct));
        }
        if self.webhook_rate_per_s > MAX_WEBHOOK_RATE_PER_S {
            return invalid(format!("webhook_rate_per_s {} exceeds {MAX_WEBHOOK_RATE_PER_S}", self.webhook_rate_per_s));
        }
        if self.webhook_deliveries() > MAX_WEBHOOK_DELIVERIES {
            return invalid(format!(
                "{} fixed-rate deliveries exceed {MAX_WEBHOOK_DELIVERIES}",
                self.webhook_deliveries()
            ));
        }
        if self.webhook_hot_pct > 100 {
            return invalid(format!("webhook_hot_pct {} exceeds 100", self.webhook_hot_pct));
        }
        if self.webhook_other_endpoints > MAX_WEBHOOK_OTHER_ENDPOINTS {
            return invalid(format!(
                "webhook_other_endpoints {} exceeds {MAX_WEBHOOK_OTHER_ENDPOINTS}",
                self.webhook_other_endpoints
            ));
        }
        if !(1..=MAX_WEBHOOK_IN_FLIGHT).contains(&self.webhook_max_in_flight) {
            return invalid(format!(
                "webhook_max_in_flight {} is outside 1..={MAX_WEBHOOK_IN_FLIGHT}",
                self.webhook_max_in_flight
            ));
        }
        Ok(())
    }

    /// Deliveries of the fixed-rate phase.
    pub fn webhook_deliveries(&self) -> u64 {
        u64::from(self.webhook_rate_per_s) * self.webhook_rate_duration_ms / 1_000
    }
}

/// One operation's share of the measured mixed load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OperationStats {
    pub operation: Operation,
    pub requests: u64,
    pub ok: u64,
    pub requests_per_s: f64,
    pub latency: Option<Latency>,
    pub errors_by_status: BTreeMap<String, u64>,
}

/// The measured interval of the mixed load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadResult {
    pub concurrency: usize,
    pub duration_ms: f64,
    pub requests: u64,
    pub ok: u64,
    pub requests_per_s: f64,
    pub ok_per_s: f64,
    /// Events appended while measuring (commands, webhook receipts, and what the webhook
    /// interpretation appended), per second.
    pub events: i64,
    pub events_per_s: f64,
    pub latency: Option<Latency>,
    pub operations: Vec<OperationStats>,
    /// Answers other than 2xx, by status (`transport`: no answer).
    pub errors_by_status: BTreeMap<String, u64>,
    /// Requests of the warm-up (not measured, but checked).
    pub warmup_requests: u64,
    /// Who used the CPUs from the end of the warm-up to the last answer (`None`: no /proc).
    pub cpu: Option<CpuShares>,
}

/// The load as a fraction of the ceiling at the same concurrency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiCeilingRatio {
    pub concurrency: usize,
    pub ok_requests_per_s: f64,
    pub events_per_s: f64,
    pub ceiling_rust_tx_per_s: Option<f64>,
    pub ceiling_pgbench_tx_per_s: Option<f64>,
    /// 2xx requests/s ÷ Rust ceiling transactions/s.
    pub requests_vs_rust: Option<f64>,
    pub requests_vs_pgbench: Option<f64>,
    /// Events/s ÷ Rust ceiling rows/s.
    pub events_vs_rust: Option<f64>,
    pub events_vs_pgbench: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiRunSettings {
    pub duration_ms: Option<u64>,
    pub requests_per_worker: Option<u64>,
    pub warmup_ms: u64,
    pub mix: String,
    pub redelivery_pct: u8,
    pub ceiling_duration_ms: Option<u64>,
    pub server_db_connections: usize,
    pub request_timeout_ms: u64,
    pub pgbench_path: Option<String>,
    pub database: String,
}

/// The result of [`run`]: JSON via serde, text tables via `Display`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiBenchReport {
    pub started_at_unix_s: u64,
    pub total_duration_ms: u64,
    pub environment: Environment,
    pub settings: ApiRunSettings,
    pub load: LoadResult,
    pub webhook_rate: Option<WebhookRateResult>,
    pub check: IntegrityCheck,
    pub ceiling: Vec<Measurement>,
    pub ratio: ApiCeilingRatio,
    /// The issue #15 targets this run measured, each PASS/FAIL.
    pub targets: Vec<Target>,
    pub notes: Vec<String>,
}

/// Runs the API benchmark. See the module documentation.
pub async fn run(opts: ApiBenchOptions) -> Result<ApiBenchReport, BenchError> {
    opts.validate()?;
    let clock = RunClock::start();
    let (db, mut environment) = BenchDatabase::open(&opts.database_url).await?;
    let result = run_in(&opts, &db).await;
    let phases = db.finish(opts.keep_database, result).await?;
    environment.load_average_end = crate::environment::load_average();
    let server_db_connections = opts.concurrency + SERVER_SPARE_CONNECTIONS;
    let ratio = ratio(&phases.load, &phases.ceiling);
    Ok(ApiBenchReport {
        started_at_unix_s: clock.started_at_unix_s,
        total_duration_ms: clock.elapsed_ms(),
        environment,
        settings: ApiRunSettings {
            duration_ms: opts.requests_per_worker.is_none().then_some(opts.duration_ms),
            requests_per_worker: opts.requests_per_worker,
            warmup_ms: opts.warmup_ms,
            mix: opts.mix.to_string(),
            redelivery_pct: opts.redelivery_pct,
            ceiling_duration_ms: opts.requests_per_worker.is_none().then_some(opts.ceiling_duration_ms),
            server_db_connections,
            request_timeout_ms: client::REQUEST_TIMEOUT_MS,
            pgbench_path: phases.pgbench.map(|p| p.display().to_string()),
            database: db.name.clone(),
        },
        ratio: ratio.clone(),
        targets: run_targets(&ratio, phases.webhook_rate.as_ref()),
        load: phases.load,
        webhook_rate: phases.webhook_rate,
        check: phases.check,
        ceiling: phases.ceiling,
        notes: phases.notes,
    })
}

/// Longest wait for the fixed-rate phase's deliveries to be interpreted after it.
const BACKLOG_DRAIN_TIMEOUT_MS: u64 = 120_000;

struct Phases {
    load: LoadResult,
    webhook_rate: Option<WebhookRateResult>,
    check: IntegrityCheck,
    ceiling: Vec<Measurement>,
    pgbench: Option<PathBuf>,
    notes: Vec<String>,
}

async fn run_in(opts: &ApiBenchOptions, db: &BenchDatabase) -> Result<Phases, BenchError> {
    let mut notes = Vec::new();
    let mut server =
        server::Server::start(&db.url, opts.concurrency + SERVER_SPARE_CONNECTIONS, opts.webhook_other_endpoints)
            .await?;
    let client = client::ApiClient::new(&server)?;
    let control = crate::store::connect(&db.url).await?;

    let (load, mut records, captured) = mixed_load(opts, &client, &control, &mut notes).await?;
    let webhook_rate = if opts.webhook_rate_per_s > 0 && opts.webhook_deliveries() > 0 {
        let spec = webhook_rate::RateSpec {
            rate_per_s: opts.webhook_rate_per_s,
            deliveries: opts.webhook_deliveries(),
            max_in_flight: opts.webhook_max_in_flight,
            hot_pct: opts.webhook_hot_pct,
        };
        tracing::info!(rate_per_s = spec.rate_per_s, deliveries = spec.deliveries, "fixed-rate webhooks started");
        let (mut result, rate_records) = webhook_rate::run(&client, spec, &captured).await;
        let (uninterpreted, drained_after_ms) = interpretation_backlog(&control).await?;
        result.uninterpreted_at_end = Some(uninterpreted);
        result.all_interpreted_after_ms = drained_after_ms;
        records.extend(rate_records);
        Some(result)
    } else {
        None
    };

    tracing::info!(requests = records.len(), "checking every answered request against the events");
    // The webhook processor and the projector keep running: the check waits for both.
    server.stop_listening().await?;
    let check = check::run(&db.url, server.tenant_id, &records).await?;
    server.stop().await?;

    let pgbench = ceiling::find_pgbench(opts.skip_pgbench, opts.pgbench_path.clone(), &mut notes);
    let pool = payledger_store::connect_pool(
        &db.url,
        &payledger_store::PoolOptions {
            max_connections: opts.concurrency + 1,
            wait_timeout_ms: 10_000,
            statement_timeout_ms: 30_000,
        },
    )?;
    let limit = match opts.requests_per_worker {
        Some(n) => PhaseLimit::Operations(n),
        None => PhaseLimit::Duration(Duration::from_millis(opts.ceiling_duration_ms)),
    };
    let spec = CeilingSpec {
        pool: &pool,
        bench_url: &db.url,
        writers: opts.concurrency,
        limit,
        warmup: Duration::from_millis(opts.warmup_ms.min(DEFAULT_WARMUP_MS)),
        pgbench: pgbench.clone(),
    };
    let ceiling = ceiling::measure(&spec).await;
    pool.close();
    let (ceiling, ceiling_notes) = ceiling?;
    notes.extend(ceiling_notes);
    Ok(Phases { load, webhook_rate, check, ceiling, pgbench, notes })
}

/// Deliveries not yet interpreted now, and how long until none is (`None`: not within
/// [`BACKLOG_DRAIN_TIMEOUT_MS`]).
async fn interpretation_backlog(control: &tokio_postgres::Client) -> Result<(i64, Option<f64>), BenchError> {
    let pending = || async {
        let row = control.query_one("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'", &[]).await?;
        Ok::<i64, BenchError>(row.try_get(0)?)
    };
    let started = std::time::Instant::now();
    let at_end = pending().await?;
    let mut now = at_end;
    while now > 0 {
        if started.elapsed() >= Duration::from_millis(BACKLOG_DRAIN_TIMEOUT_MS) {
            return Ok((at_end, None));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        now = pending().await?;
    }
    Ok((at_end, Some(started.elapsed().as_secs_f64() * 1_000.0)))
}

async fn count_events(control: &tokio_postgres::Client) -> Result<i64, BenchError> {
    Ok(control.query_one("SELECT count(*) FROM events", &[]).await?.try_get(0)?)
}

async fn mixed_load(
    opts: &ApiBenchOptions,
    client: &client::ApiClient,
    control: &tokio_postgres::Client,
    notes: &mut Vec<String>,
) -> Result<(LoadResult, Vec<Record>, Vec<Lifecycle>), BenchError> {
    let limit = match opts.requests_per_worker {
        Some(n) => PhaseLimit::Operations(n),
        None => PhaseLimit::Duration(Duration::from_millis(opts.duration_ms)),
    };
    let warmup = Duration::from_millis(opts.warmup_ms);
    let start = Arc::new(Barrier::new(opts.concurrency + 1));
    let max_records = MAX_RECORDED_REQUESTS / opts.concurrency;
    let tasks: Vec<_> = (0..opts.concurrency)
        .map(|worker| {
            tokio::spawn(traffic::run_worker(WorkerSpec {
                client: client.clone(),
                worker,
                mix: opts.mix,
                limit,
                warmup,
                redelivery_pct: opts.redelivery_pct,
                max_records,
                start: start.clone(),
                seed: 0x5eed_0000 + worker as u64,
            }))
        })
        .collect();
    tracing::info!(concurrency = opts.concurrency, "mixed load started");
    start.wait().await;
    tokio::time::sleep(warmup).await;
    let events_before = count_events(control).await?;
    let cpu_before = crate::cpu::sample();
    let mut outcomes = Vec::with_capacity(tasks.len());
    let mut first_error = None;
    for task in tasks {
        match task.await {
            Ok(Ok(outcome)) => outcomes.push(outcome),
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
    let cpu_after = crate::cpu::sample();
    let events_after = count_events(control).await?;
    let (Some(started), Some(ended)) =
        (outcomes.iter().map(|o| o.started).min(), outcomes.iter().map(|o| o.ended).max())
    else {
        return Err(BenchError::Task("no worker reported".into()));
    };
    if outcomes.iter().any(|o| o.records_dropped) {
        return Err(BenchError::Check(format!(
            "more than {MAX_RECORDED_REQUESTS} requests: not all could be checked; run shorter"
        )));
    }
    if opts.requests_per_worker.is_some() {
        notes.push("counted run: events/s counts events from the end of the warm-up to the last answer".into());
    }
    let duration_s = ended.duration_since(started).as_secs_f64().max(1e-9);
    let mut records = Vec::new();
    let mut captured = Vec::new();
    for outcome in outcomes {
        records.extend(outcome.records);
        captured.extend(outcome.captured);
    }
    let mut load = summarize(opts.concurrency, &records, duration_s, events_after - events_before);
    load.cpu = cpu_before.zip(cpu_after).and_then(|(b, a)| crate::cpu::shares(b, a));
    tracing::info!(requests_per_s = load.requests_per_s, "mixed load done");
    Ok((load, records, captured))
}

fn status_key(status: Option<u16>) -> String {
    status.map(|s| s.to_string()).unwrap_or_else(|| "transport".into())
}

fn summarize(concurrency: usize, records: &[Record], duration_s: f64, events: i64) -> LoadResult {
    let measured: Vec<&Record> = records.iter().filter(|r| r.measured).collect();
    let is_ok = |r: &Record| r.status.is_some_and(|s| (200..300).contains(&s));
    let mut errors_by_status = BTreeMap::new();
    for r in measured.iter().filter(|r| !is_ok(r)) {
        *errors_by_status.entry(status_key(r.status)).or_insert(0) += 1;
    }
    let operations = Operation::ALL
        .iter()
        .filter_map(|&op| {
            let of_op: Vec<&&Record> = measured.iter().filter(|r| r.op == op).collect();
            if of_op.is_empty() {
                return None;
            }
            let mut errors = BTreeMap::new();
            for r in of_op.iter().filter(|r| !is_ok(r)) {
                *errors.entry(status_key(r.status)).or_insert(0) += 1;
            }
            Some(OperationStats {
                operation: op,
                requests: of_op.len() as u64,
                ok: of_op.iter().filter(|r| is_ok(r)).count() as u64,
                requests_per_s: of_op.len() as f64 / duration_s,
                latency: Latency::from_micros(of_op.iter().map(|r| r.latency_us).collect()),
                errors_by_status: errors,
            })
        })
        .collect();
    let ok = measured.iter().filter(|r| is_ok(r)).count() as u64;
    LoadResult {
        concurrency,
        duration_ms: duration_s * 1_000.0,
        requests: measured.len() as u64,
        ok,
        requests_per_s: measured.len() as f64 / duration_s,
        ok_per_s: ok as f64 / duration_s,
        events,
        events_per_s: events as f64 / duration_s,
        latency: Latency::from_micros(measured.iter().map(|r| r.latency_us).collect()),
        operations,
        errors_by_status,
        warmup_requests: (records.len() - measured.len()) as u64,
        cpu: None,
    }
}

fn run_targets(ratio: &ApiCeilingRatio, webhook_rate: Option<&WebhookRateResult>) -> Vec<Target> {
    let mut all = targets::http_commands(ratio);
    all.extend(webhook_rate.map(targets::webhook_ingest).unwrap_or_default());
    all
}

fn ratio(load: &LoadResult, ceiling: &[Measurement]) -> ApiCeilingRatio {
    let find = |w: Workload| ceiling.iter().find(|m| m.workload == w).map(|m| m.ops_per_s).filter(|c| *c > 0.0);
    let rust = find(Workload::CeilingInsertRust);
    let pgbench = find(Workload::CeilingInsertPgbench);
    ApiCeilingRatio {
        concurrency: load.concurrency,
        ok_requests_per_s: load.ok_per_s,
        events_per_s: load.events_per_s,
        ceiling_rust_tx_per_s: rust,
        ceiling_pgbench_tx_per_s: pgbench,
        requests_vs_rust: rust.map(|c| load.ok_per_s / c),
        requests_vs_pgbench: pgbench.map(|c| load.ok_per_s / c),
        events_vs_rust: rust.map(|c| load.events_per_s / c),
        events_vs_pgbench: pgbench.map(|c| load.events_per_s / c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_take_well_under_two_minutes() {
        let opts = ApiBenchOptions::new("postgres://u@h/db");
        opts.validate().unwrap();
        let measured_ms = opts.warmup_ms
            + opts.duration_ms
            + opts.webhook_rate_duration_ms
            + 2 * (opts.ceiling_duration_ms + DEFAULT_WARMUP_MS);
        assert!(measured_ms < 60_000, "{measured_ms} ms");
    }

    #[test]
    fn refuses_options_outside_the_limits() {
        let base = ApiBenchOptions::new("postgres://u@h/db");
        type Change = Box<dyn Fn(&mut ApiBenchOptions)>;
        let cases: Vec<Change> = vec![
            Box::new(|o| o.database_url = String::new()),
            Box::new(|o| o.concurrency = 0),
            Box::new(|o| o.concurrency = MAX_CONCURRENCY + 1),
            Box::new(|o| o.duration_ms = 1),
            Box::new(|o| o.ceiling_duration_ms = MAX_DURATION_MS + 1),
            Box::new(|o| o.requests_per_worker = Some(0)),
            Box::new(|o| o.warmup_ms = MAX_WARMUP_MS + 1),
            Box::new(|o| o.redelivery_pct = 101),
            Box::new(|o| o.webhook_rate_per_s = MAX_WEBHOOK_RATE_PER_S + 1),
            Box::new(|o| {
                o.webhook_rate_per_s = MAX_WEBHOOK_RATE_PER_S;
                o.webhook_rate_duration_ms = MAX_DURATION_MS;
            }),
            Box::new(|o| o.webhook_max_in_flight = 0),
            Box::new(|o| o.webhook_hot_pct = 101),
            Box::new(|o| o.webhook_other_endpoints = MAX_WEBHOOK_OTHER_ENDPOINTS + 1),
            Box::new(|o| o.mix.webhook = MAX_WEIGHT + 1),
        ];
        for (i, case) in cases.iter().enumerate() {
            let mut opts = base.clone();
            case(&mut opts);
            assert!(matches!(opts.validate(), Err(BenchError::InvalidOptions(_))), "case {i}: {opts:?}");
        }
    }

    #[test]
    fn the_run_future_is_send_so_it_can_be_spawned() {
        fn assert_send<T: Send>(_: &T) {}
        let future = run(ApiBenchOptions::new("postgres://u@h/db"));
        assert_send(&future);
    }
}
