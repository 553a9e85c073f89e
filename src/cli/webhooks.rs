//! `payledger webhooks create|reprocess|...`. Owned by the webhook work.

use std::process::ExitCode;

use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Create a webhook endpoint for a tenant.
    Create,
}

pub async fn run(database_url: &str, command: WebhooksCommand) -> anyhow::Result<ExitCode> {
    let _ = (database_url, command);
    anyhow::bail!("webhooks are not implemented yet")
}
