//! `payledger clients create|list|revoke`: OAuth2 clients (client credentials grant). A
//! client's secret is printed once, at creation.

use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use payledger_service::admin_log::Actor;
use payledger_service::oauth::{self, ClientSpec};
use payledger_service::tenants::{self as keys, KeyMode, Role};
use serde_json::json;

use super::tenants::resolve_tenant;

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create a client: prints its client_id and client_secret (shown only now).
    Create {
        /// Tenant name or id.
        #[arg(long)]
        tenant: String,
        /// The role its tokens carry: writer, finance, auditor or admin.
        #[arg(long)]
        role: String,
        /// test or live.
        #[arg(long, default_value = "test")]
        mode: String,
        /// A note to recognise the client by in `clients list`.
        #[arg(long)]
        label: Option<String>,
        /// A network the client may get and use tokens from (repeat for more); default: any.
        #[arg(long = "allow-ip")]
        allow_ips: Vec<String>,
        /// Print one JSON object (it holds the secret).
        #[arg(long)]
        json: bool,
    },
    /// A tenant's clients (never their secrets).
    List {
        /// Tenant name or id.
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a client: it gets no more tokens, and its tokens stop working at once.
    Revoke {
        /// The client's id (plc_...).
        client_id: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(database_url: &str, command: ClientsCommand) -> anyhow::Result<ExitCode> {
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    let client = pool.get().await?;
    match command {
        ClientsCommand::Create { tenant, role, mode, label, allow_ips, json } => {
            let role = Role::parse(&role).context("role is writer, finance, auditor or admin")?;
            let mode = KeyMode::parse(&mode).context("mode is test or live")?;
            let tenant = resolve_tenant(&**client, &tenant).await?;
            let allowed_ips = (!allow_ips.is_empty()).then(|| keys::parse_allowed_ips(&allow_ips)).transpose()?;
            let spec = ClientSpec { label, allowed_ips };
            let created = oauth::create_client(&pool, &Actor::cli(), tenant.account_id(), role, mode, &spec).await?;
            if json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!(
                    "{} client for tenant {}:\nclient_id     {}\nclient_secret {}",
                    role.as_str(),
                    tenant.name,
                    created.info.client_id,
                    created.client_secret
                );
                eprintln!("(the secret is shown only now)");
            }
        }
        ClientsCommand::List { tenant } => {
            let tenant = resolve_tenant(&**client, &tenant).await?;
            let data = oauth::list_clients(&**client, tenant.account_id()).await?;
            println!("{}", serde_json::to_string_pretty(&json!({ "data": data }))?);
        }
        ClientsCommand::Revoke { client_id, json } => {
            let id = oauth::parse_client_id(&client_id)
                .with_context(|| format!("{client_id:?} is not a client id (plc_...)"))?;
            let revoked = oauth::revoke_client(&pool, &Actor::cli(), id, None)
                .await?
                .with_context(|| format!("no client {client_id}"))?;
            if json {
                println!("{}", serde_json::to_string(&revoked)?);
            } else {
                println!("client {} revoked", revoked.client_id);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
