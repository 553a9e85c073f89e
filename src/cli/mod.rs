//! Subcommands. Each lives in its own module; this one parses and dispatches.

mod audit;
mod clients;
mod database;
mod jobs;
mod project;
mod projections;
mod rebuild;
mod reconcile;
mod secrets;
mod serve;
mod settlements;
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

    /// File holding the master key that seals webhook signing secrets (64 hexadecimal
    /// characters); or give the key itself by PAYLEDGER_MASTER_KEY.
    #[arg(long, env = "PAYLEDGER_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<std::path::PathBuf>,

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
    /// Inspect and retry parked streams of the read-models.
    #[command(subcommand)]
    Projections(projections::ProjectionsCommand),
    /// Manage tenants.
    #[command(subcommand)]
    Tenants(tenants::TenantsCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(tenants::KeysCommand),
    /// OAuth2 clients (client credentials): create, list, revoke.
    #[command(subcommand)]
    Clients(clients::ClientsCommand),
    /// Reconcile the gateways' settlement reports with the ledger; exit 1 while exceptions remain.
    Reconcile(reconcile::ReconcileArgs),
    /// Import gateways' settlement reports.
    #[command(subcommand)]
    Settlements(settlements::SettlementsCommand),
    /// Read the raw event history: export a tenant's events as NDJSON or CSV.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// List and follow the jobs servers run (rebuilds, verifies, large imports).
    #[command(subcommand)]
    Jobs(jobs::JobsCommand),
    /// The master key sealing webhook signing secrets at rest.
    #[command(subcommand)]
    Secrets(secrets::SecretsCommand),
}

/// Refuses to work on a database whose migrations lag this binary.
pub(crate) async fn require_migrated(database_url: &str) -> anyhow::Result<()> {
    let (client, connection) = tokio_postgres::connect(database_url, tokio_postgres::NoTls).await?;
    let driver = tokio::spawn(connection);
    let applied = payledger_store::applied_migration_version(&client).await?;
    drop(client);
    let _ = driver.await;
    let latest = payledger_store::latest_migration_version();
    if applied.unwrap_or(0) < latest {
        anyhow::bail!("the database is at migration {applied:?}, this binary needs {latest}: run `payledger migrate`");
    }
    Ok(())
}

/// Applies pending migrations, or with `no_migrate` only checks that none is pending.
async fn prepare_schema(database_url: &str, no_migrate: bool) -> anyhow::Result<()> {
    if no_migrate {
        return require_migrated(database_url).await;
    }
    let applied = payledger_store::migrate(database_url).await?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    Ok(())
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
    if let Command::Secrets(secrets::SecretsCommand::GenerateMasterKey) = cli.command {
        return Ok(secrets::generate_master_key());
    }
    let master_key = || secrets::master_key(cli.master_key_file.as_deref());
    let url = cli.database_url.clone().ok_or_else(|| {
        anyhow::anyhow!("DATABASE_URL is not set (or pass --database-url); `make run` starts a local PostgreSQL")
    })?;
    // One early connection, so that an unreachable server is reported once, by host and port.
    database::check_reachable(&url).await?;
    let database_url = || anyhow::Ok(url.clone());
    match cli.command {
        Command::Serve(args) => serve::run(&database_url()?, master_key()?, args).await,
        Command::Secrets(command) => secrets::run(&database_url()?, cli.master_key_file.as_deref(), command).await,
        Command::Migrate => {
            let applied = payledger_store::migrate(&database_url()?).await?;
            println!("{}", serde_json::json!({ "applied": applied }));
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify(args) => verify::run(&database_url()?, args).await,
        Command::Settlements(command) => settlements::run(&database_url()?, command).await,
        Command::Jobs(command) => jobs::run(&database_url()?, command).await,
        Command::Audit(command) => audit::run(&database_url()?, command).await,
        Command::Project(args) => project::run(&database_url()?, args).await,
        Command::Rebuild(args) => rebuild::run(&database_url()?, args).await,
        Command::Reconcile(args) => reconcile::run(&database_url()?, args).await,
        Command::Webhooks(command) => webhooks::run(&database_url()?, cli.master_key_file.as_deref(), command).await,
        Command::Projections(command) => projections::run(&database_url()?, command).await,
        Command::Tenants(command) => tenants::run_tenants(&database_url()?, command).await,
        Command::Keys(command) => tenants::run_keys(&database_url()?, command).await,
        Command::Clients(command) => clients::run(&database_url()?, command).await,
    }
}

/// The error and its causes, "a: b: c", each cause once: some wrap an error of their own
/// kind ("error connecting to server: error connecting to server: ...").
pub fn error_chain(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let text = cause.to_string();
        let repeated = parts.last().is_some_and(|last| last == &text || last.ends_with(&format!(": {text}")));
        if !repeated {
            parts.push(text);
        }
    }
    parts.join(": ")
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

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    /// Every flag and argument of every subcommand, listed as "path --flag".
    fn undescribed(command: &clap::Command, path: &str, found: &mut Vec<String>) {
        if command.get_about().is_none() {
            found.push(format!("{path} (the command itself)"));
        }
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id != "help" && id != "version" && arg.get_help().is_none() {
                found.push(format!("{path} --{id}"));
            }
        }
        for sub in command.get_subcommands() {
            undescribed(sub, &format!("{path} {}", sub.get_name()), found);
        }
    }

    #[test]
    fn every_subcommand_and_flag_has_a_help_text() {
        let mut found = Vec::new();
        undescribed(&super::Cli::command(), "payledger", &mut found);
        assert!(found.is_empty(), "no --help text for: {found:#?}");
    }
}
