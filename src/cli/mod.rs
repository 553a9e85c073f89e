//! Subcommands. Each lives in its own module; this one parses and dispatches.

mod audit;
mod bench;
mod project;
mod projections;
mod rebuild;
mod serve;
mod tenants;
mod verify;
mod webhooks;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "payledger", version, about = "An event-sourced payment ledger on PostgreSQL")]
pub struct Cli {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "PAYLEDGER_LOG_JSON", global = true)]
    pub log_json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (applies migrations first).
    Serve(serve::ServeArgs),
    /// Apply pending database migrations.
    Migrate,
    /// Verify the events' hash chains, and the read-models against a fresh fold of the events.
    Verify(verify::VerifyArgs),
    /// Run the projector alone (it also runs inside `serve`).
    Project(project::ProjectArgs),
    /// Rebuild the read-models from the events, without downtime.
    Rebuild(rebuild::RebuildArgs),
    /// Manage webhook endpoints and reprocess stored deliveries.
    #[command(subcommand)]
    Webhooks(webhooks::WebhooksCommand),
    /// Benchmarks (see BENCHMARKS.md).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Inspect and retry parked streams of the read-models.
    #[command(subcommand)]
    Projections(projections::ProjectionsCommand),
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(tenants::TenantsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(tenants::KeysCommand),
    /// Read the raw event history: export a tenant's events as NDJSON or CSV.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
}

pub fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let database_url = || {
        cli.database_url.clone().ok_or_else(|| {
            anyhow::anyhow!("DATABASE_URL is not set (or pass --database-url); `make run` starts a local PostgreSQL")
        })
    };
    match cli.command {
        Command::Serve(args) => serve::run(&database_url()?, args).await,
        Command::Migrate => {
            let applied = payledger_store::migrate(&database_url()?).await?;
            println!("{}", serde_json::json!({ "applied": applied }));
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => verify::run(&database_url()?, args).await,
        Command::Audit(command) => audit::run(&database_url()?, command).await,
        Command::Project(args) => project::run(&database_url()?, args).await,
        Command::Rebuild(args) => rebuild::run(&database_url()?, args).await,
        Command::Webhooks(command) => webhooks::run(&database_url()?, command).await,
        Command::Bench(command) => bench::run(&database_url()?, command).await,
        Command::Projections(command) => projections::run(&database_url()?, command).await,
        Command::Tenants(command) => tenants::run_tenants(&database_url()?, command).await,
        Command::Keys(command) => tenants::run_keys(&database_url()?, command).await,
    }
}

/// Resolves on Ctrl-C or SIGTERM. `serve` then stops accepting and finishes in-flight
/// requests; the projector finishes (commits) its batch.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown requested");
}
