//! `payledger project` (the projector alone) and the projector inside `serve`.
//!
//! Run as many as you like: one leads (advisory lock), the others wait as hot standby and
//! take over when the leader's connection goes.

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use payledger_projector::{Projector, ProjectorConfig};

#[derive(Debug, Args)]
pub struct ProjectArgs {
    /// Events applied per transaction.
    #[arg(long, env = "PAYLEDGER_PROJECTOR_BATCH_SIZE", default_value_t = 500)]
    pub batch_size: i64,

    /// Longest wait between looks at the log when no notification arrives, in milliseconds.
    #[arg(long, env = "PAYLEDGER_PROJECTOR_POLL_INTERVAL_MS", default_value_t = 500)]
    pub poll_interval_ms: u64,

    /// How often a standby instance tries to take over, in milliseconds.
    #[arg(long, env = "PAYLEDGER_PROJECTOR_STANDBY_RETRY_MS", default_value_t = 1_000)]
    pub standby_retry_ms: u64,

    /// Do not apply migrations: refuse to start unless the database is already migrated
    /// (for a role without DDL rights; run `payledger migrate` as the schema's owner first).
    #[arg(long, env = "PAYLEDGER_NO_MIGRATE")]
    pub no_migrate: bool,
}

/// Projects until Ctrl-C or SIGTERM; the batch in progress is committed first.
pub async fn run(database_url: &str, args: ProjectArgs) -> anyhow::Result<ExitCode> {
    super::prepare_schema(database_url, args.no_migrate).await?;
    let config = ProjectorConfig {
        batch_size: args.batch_size,
        poll_interval: Duration::from_millis(args.poll_interval_ms),
        standby_retry: Duration::from_millis(args.standby_retry_ms),
        ..ProjectorConfig::default()
    };
    tracing::info!("projector starting");
    Projector::new(database_url, config).run(super::shutdown_signal()).await;
    tracing::info!("projector stopped");
    Ok(ExitCode::SUCCESS)
}
