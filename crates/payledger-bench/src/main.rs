//! `payledger-bench store|api|rebuild|settlement|stream`: each against the same PostgreSQL's ceiling. A binary
//! of its own, so the `payledger` binary does not link the load generator.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use payledger_bench::api::{self, ApiBenchOptions, Mix};
use payledger_bench::rebuild::{self, RebuildBenchOptions};
use payledger_bench::settlement::{self, SettlementBenchOptions};
use payledger_bench::store::{self, StoreBenchOptions};
use payledger_bench::stream::{self, StreamBenchOptions};
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(
    name = "payledger-bench",
    version,
    about = "payledger's benchmarks, each against the same PostgreSQL's ceiling"
)]
struct Cli {
    /// PostgreSQL connection URL (each benchmark creates a database of its own there, and drops it).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,

    #[command(subcommand)]
    command: BenchCommand,
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let cli = Cli::parse();
    match run(&cli.database_url, cli.command).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("payledger-bench: {error:#}");
            ExitCode::from(2)
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Single-event appends at several writer counts, 100-event batch appends, and the
    /// ceiling of a plain INSERT of the same row shape (Rust harness and pgbench).
    Store(StoreArgs),
    /// The whole server (HTTP, projector, webhook processor) under mixed traffic, webhook
    /// ingest at a fixed rate, an exactly-once and verify check, and the INSERT ceiling at
    /// the same concurrency. Exits 1 when the check fails.
    Api(ApiArgs),
    /// Rebuild of the read-models from a generated history (events/s, peak memory), against
    /// `COPY (SELECT * FROM events) TO STDOUT`.
    Rebuild(RebuildArgs),
    /// Import of a generated Stripe settlement report through the service (lines/s, peak
    /// memory) against `COPY` of the same CSV, then projection and reconciliation of the day.
    /// Exits 1 when the statuses are not the generated ones.
    Settlement(SettlementArgs),
    /// Capture latency on payment streams that already hold many events (10 to 20,000 by
    /// default), with the state cache on and off, against the one-row INSERT latency.
    Stream(StreamArgs),
}

#[derive(Debug, Args)]
pub struct Output {
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    pub json_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Measured time per phase.
    #[arg(long, default_value_t = store::DEFAULT_DURATION_MS)]
    pub duration_ms: u64,
    /// Unmeasured warm-up before each phase.
    #[arg(long, default_value_t = store::DEFAULT_WARMUP_MS)]
    pub warmup_ms: u64,
    /// Writer counts for single-event appends and the ceiling, e.g. 1,4,16.
    #[arg(long, value_delimiter = ',', default_values_t = store::DEFAULT_WRITERS)]
    pub writers: Vec<usize>,
    /// Writer counts for batch appends.
    #[arg(long, value_delimiter = ',', default_values_t = store::DEFAULT_BATCH_WRITERS)]
    pub batch_writers: Vec<usize>,
    /// Skip the pgbench ceiling.
    #[arg(long)]
    pub skip_pgbench: bool,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct ApiArgs {
    /// Concurrent HTTP workers (and ceiling writers).
    #[arg(long, default_value_t = api::DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// Measured time of the mixed load.
    #[arg(long, default_value_t = api::DEFAULT_DURATION_MS)]
    pub duration_ms: u64,
    /// Measure this many requests per worker instead of a duration.
    #[arg(long)]
    pub requests_per_worker: Option<u64>,
    /// Unmeasured warm-up of the mixed load.
    #[arg(long, default_value_t = api::DEFAULT_WARMUP_MS)]
    pub warmup_ms: u64,
    /// Weights of the operations, e.g. order=2,payment=2,authorize=2,capture=2,refund=1,webhook=3.
    #[arg(long, default_value_t = Mix::default())]
    pub mix: Mix,
    /// Percentage of webhooks that redeliver the previous one.
    #[arg(long, default_value_t = api::DEFAULT_REDELIVERY_PCT)]
    pub redelivery_pct: u8,
    /// Fixed-rate webhook phase, deliveries per second (0: skip it).
    #[arg(long, default_value_t = api::DEFAULT_WEBHOOK_RATE_PER_S)]
    pub webhook_rate: u32,
    /// Length of the fixed-rate webhook phase.
    #[arg(long, default_value_t = api::DEFAULT_WEBHOOK_RATE_DURATION_MS)]
    pub webhook_rate_duration_ms: u64,
    /// Percentage of the fixed-rate deliveries sent to one endpoint.
    #[arg(long, default_value_t = api::DEFAULT_WEBHOOK_HOT_PCT)]
    pub webhook_hot_pct: u8,
    /// Further endpoints sharing the other fixed-rate deliveries.
    #[arg(long, default_value_t = api::DEFAULT_WEBHOOK_OTHER_ENDPOINTS)]
    pub webhook_other_endpoints: usize,
    /// Measured time of each ceiling phase.
    #[arg(long, default_value_t = api::DEFAULT_CEILING_DURATION_MS)]
    pub ceiling_duration_ms: u64,
    /// Skip the pgbench ceiling.
    #[arg(long)]
    pub skip_pgbench: bool,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// Events of the generated history (whole payment lifecycles; a few more may be written).
    #[arg(long, default_value_t = rebuild::DEFAULT_EVENTS)]
    pub events: u64,
    /// Payment lifecycles per batch append while generating.
    #[arg(long, default_value_t = rebuild::DEFAULT_LIFECYCLES_PER_BATCH)]
    pub lifecycles_per_batch: usize,
    /// Concurrent writers while generating.
    #[arg(long, default_value_t = rebuild::DEFAULT_GENERATE_WRITERS)]
    pub generate_writers: usize,
    /// Keep the benchmark's database (scripts/bench-audit.sh verifies its history) instead of dropping it.
    #[arg(long)]
    pub keep_database: bool,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct SettlementArgs {
    /// Lines of the generated report.
    #[arg(long, default_value_t = settlement::DEFAULT_LINES)]
    pub lines: u64,
    /// Payments per batch append while seeding the ledger.
    #[arg(long, default_value_t = settlement::DEFAULT_SEED_PAYMENTS_PER_BATCH)]
    pub seed_payments_per_batch: usize,
    /// Concurrent writers seeding the ledger.
    #[arg(long, default_value_t = settlement::DEFAULT_SEED_WRITERS)]
    pub seed_writers: usize,
    /// Skip timing the import's steps one by one.
    #[arg(long)]
    pub skip_profile: bool,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct StreamArgs {
    /// Events in each stream before its measured commands (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = stream::DEFAULT_LENGTHS)]
    pub lengths: Vec<u64>,
    /// Timed commands per stream with the cache on.
    #[arg(long, default_value_t = stream::DEFAULT_COMMANDS)]
    pub commands: usize,
    /// Timed commands per stream with the cache off (0: skip).
    #[arg(long, default_value_t = stream::DEFAULT_UNCACHED_COMMANDS)]
    pub uncached_commands: usize,
    /// Concurrent writers on each stream.
    #[arg(long, default_value_t = 1)]
    pub writers: usize,
    /// Skip the pgbench ceiling.
    #[arg(long)]
    pub skip_pgbench: bool,
    /// Keep the benchmark's database (to inspect its plans) instead of dropping it.
    #[arg(long)]
    pub keep_database: bool,
    #[command(flatten)]
    pub output: Output,
}

pub async fn run(database_url: &str, command: BenchCommand) -> anyhow::Result<ExitCode> {
    match command {
        BenchCommand::Store(args) => {
            let mut opts = StoreBenchOptions::new(database_url);
            opts.duration_ms = args.duration_ms;
            opts.warmup_ms = args.warmup_ms;
            opts.writers = args.writers;
            opts.batch_writers = args.batch_writers;
            opts.skip_pgbench = args.skip_pgbench;
            let report = store::run(opts).await?;
            emit(&args.output, &report)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Api(args) => {
            let mut opts = ApiBenchOptions::new(database_url);
            opts.concurrency = args.concurrency;
            opts.duration_ms = args.duration_ms;
            opts.requests_per_worker = args.requests_per_worker;
            opts.warmup_ms = args.warmup_ms;
            opts.mix = args.mix;
            opts.redelivery_pct = args.redelivery_pct;
            opts.webhook_rate_per_s = args.webhook_rate;
            opts.webhook_rate_duration_ms = args.webhook_rate_duration_ms;
            opts.webhook_hot_pct = args.webhook_hot_pct;
            opts.webhook_other_endpoints = args.webhook_other_endpoints;
            opts.ceiling_duration_ms = args.ceiling_duration_ms;
            opts.skip_pgbench = args.skip_pgbench;
            let report = api::run(opts).await?;
            emit(&args.output, &report)?;
            if report.check.passed {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("bench api: the exactly-once / verify check FAILED (see the report)");
                Ok(ExitCode::FAILURE)
            }
        }
        BenchCommand::Rebuild(args) => {
            let mut opts = RebuildBenchOptions::new(database_url);
            opts.events = args.events;
            opts.lifecycles_per_batch = args.lifecycles_per_batch;
            opts.generate_writers = args.generate_writers;
            opts.keep_database = args.keep_database;
            let report = rebuild::run(opts).await?;
            emit(&args.output, &report)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Stream(args) => {
            let mut opts = StreamBenchOptions::new(database_url);
            opts.lengths = args.lengths;
            opts.commands = args.commands;
            opts.uncached_commands = args.uncached_commands;
            opts.skip_pgbench = args.skip_pgbench;
            opts.keep_database = args.keep_database;
            opts.writers = args.writers;
            let report = stream::run(opts).await?;
            emit(&args.output, &report)?;
            Ok(ExitCode::SUCCESS)
        }
        BenchCommand::Settlement(args) => {
            let mut opts = SettlementBenchOptions::new(database_url);
            opts.lines = args.lines;
            opts.seed_payments_per_batch = args.seed_payments_per_batch;
            opts.seed_writers = args.seed_writers;
            opts.skip_profile = args.skip_profile;
            let report = settlement::run(opts).await?;
            emit(&args.output, &report)?;
            if report.check.passed {
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("bench settlement: the reconciliation check FAILED (see the report)");
                Ok(ExitCode::FAILURE)
            }
        }
    }
}

fn emit<R: Serialize + std::fmt::Display>(output: &Output, report: &R) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(report)?;
    if let Some(path) = &output.json_file {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, format!("{json}\n"))?;
    }
    if output.json {
        println!("{json}");
    } else {
        print!("{report}");
    }
    Ok(())
}
