//! `payledger rebuild`. Owned by the projector work.

use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct RebuildArgs {}

pub async fn run(database_url: &str, args: RebuildArgs) -> anyhow::Result<ExitCode> {
    let _ = (database_url, args);
    anyhow::bail!("rebuild is not implemented yet")
}
