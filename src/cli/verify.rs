use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Only this tenant's streams.
    #[arg(long)]
    pub tenant: Option<uuid::Uuid>,
}

/// Walks every hash chain; exits non-zero when any link is broken.
pub async fn run(database_url: &str, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    let client = pool.get().await?;
    let report = payledger_store::verify_chains(&**client, args.tenant).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(if report.is_intact() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}
