//! `payledger projections`: list the parked streams of the live read-models, and retry them
//! after a fix (`retry-parked`).

use std::process::ExitCode;

use clap::{Args, Subcommand};
use payledger_projector::{list_parked, live_version, retry_parked, RetryOptions};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum ProjectionsCommand {
    /// List the parked streams of the live read-models.
    Parked(ParkedArgs),
    /// Fold parked streams again: a stream whose fold now succeeds is written and un-parked;
    /// the others stay parked with the new reason.
    RetryParked(ParkedArgs),
}

#[derive(Debug, Args)]
#[command(after_help = "Exit status: 0 no stream (of the selection) is left parked; 1 some still are.")]
pub struct ParkedArgs {
    /// Only this tenant's streams (its name or id).
    #[arg(long)]
    pub tenant: Option<String>,

    /// Only this stream (e.g. `payment-<uuid>`).
    #[arg(long)]
    pub stream: Option<String>,
}

pub async fn run(database_url: &str, command: ProjectionsCommand) -> anyhow::Result<ExitCode> {
    super::require_migrated(database_url).await?;
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    let client = pool.get().await?;
    let args = match &command {
        ProjectionsCommand::Parked(args) | ProjectionsCommand::RetryParked(args) => args,
    };
    let tenant_id = match &args.tenant {
        Some(tenant) => Some(super::tenants::resolve_tenant(&**client, tenant).await?.id),
        None => None,
    };
    match command {
        ProjectionsCommand::Parked(args) => {
            let parked = match live_version(&**client).await? {
                Some(version) => list_parked(&**client, version, tenant_id, args.stream.as_deref(), i64::MAX).await?,
                None => Vec::new(),
            };
            println!("{}", serde_json::to_string_pretty(&json!({ "parked_streams": parked }))?);
            Ok(if parked.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        ProjectionsCommand::RetryParked(args) => {
            let options = RetryOptions { tenant_id, stream_id: args.stream, statement_timeout_ms: 600_000 };
            let outcomes = retry_parked(database_url, &options).await?;
            let still = outcomes.iter().filter(|o| !o.unparked).count();
            for o in outcomes.iter().filter_map(|o| o.parked.as_ref()) {
                eprintln!("still parked: tenant={} {}: {}", o.tenant_id, o.stream_id, o.reason);
            }
            println!("{}", serde_json::to_string_pretty(&json!({ "retried": outcomes }))?);
            Ok(if still == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
