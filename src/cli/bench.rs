//! `payledger bench store`: append throughput against the same PostgreSQL's INSERT ceiling.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use payledger_bench::store::{self, StoreBenchOptions};

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Single-event appends at several writer counts, 100-event batch appends, and the
    /// ceiling of a plain INSERT of the same row shape (Rust harness and pgbench).
    Store(StoreArgs),
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
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
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
            if args.json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
