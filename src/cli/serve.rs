use std::process::ExitCode;

use clap::Args;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PAYLEDGER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Development mode: create a dev tenant and print its API keys on first start.
    #[arg(long)]
    pub dev: bool,
}

pub async fn run(database_url: &str, args: ServeArgs) -> anyhow::Result<ExitCode> {
    payledger_store::migrate(database_url).await?;
    let listener = tokio::net::TcpListener::bind(&args.listen).await?;
    tracing::info!(listen = %listener.local_addr()?, "payledger serving");
    axum::serve(listener, payledger_api::router()).await?;
    Ok(ExitCode::SUCCESS)
}
