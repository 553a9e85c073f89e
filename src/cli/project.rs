//! `payledger project` (the projector alone) and the projector inside `serve`. Owned by the projector work.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct ProjectArgs {}

pub async fn run(database_url: &str, args: ProjectArgs) -> anyhow::Result<ExitCode> {
    let _ = (database_url, args);
    anyhow::bail!("the projector is not implemented yet")
}

/// Starts the projector inside `payledger serve`.
pub fn start_in_serve(database_url: &str, pool: deadpool_postgres::Pool) -> tokio::task::JoinHandle<()> {
    let _ = (database_url, pool);
    tokio::spawn(async {})
}
