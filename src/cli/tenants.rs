//! `payledger tenants create NAME`, `payledger keys create|revoke|list`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use payledger_api::auth::{KeyMode, Role};
use payledger_api::keys;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant.
    Create {
        /// Lowercase letters, digits, '-' and '_'.
        name: String,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; its secret is printed once.
    Create(CreateKeyArgs),
    /// Revoke an API key by id.
    Revoke {
        id: uuid::Uuid,
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's keys (never their secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateKeyArgs {
    /// Tenant name or id.
    #[arg(long)]
    pub tenant: String,
    /// writer, finance, auditor or admin.
    #[arg(long)]
    pub role: String,
    /// test or live.
    #[arg(long, default_value = "test")]
    pub mode: String,
    #[arg(long)]
    pub label: Option<String>,
    #[arg(long)]
    pub json: bool,
}

async fn client(database_url: &str) -> anyhow::Result<deadpool_postgres::Object> {
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    Ok(pool.get().await?)
}

pub async fn run_tenants(database_url: &str, command: TenantsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TenantsCommand::Create { name, json } => {
            let client = client(database_url).await?;
            let tenant = keys::create_tenant(&**client, &name).await?;
            if json {
                println!("{}", serde_json::to_string(&tenant)?);
            } else {
                println!("tenant {} created: {}", tenant.name, tenant.id);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn run_keys(database_url: &str, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let client = client(database_url).await?;
    match command {
        KeysCommand::Create(args) => {
            let role = Role::parse(&args.role).context("role is writer, finance, auditor or admin")?;
            let mode = KeyMode::parse(&args.mode).context("mode is test or live")?;
            let tenant = keys::find_tenant(&**client, &args.tenant)
                .await?
                .with_context(|| format!("no tenant {:?}", args.tenant))?;
            let created = keys::create_key(&**client, tenant.id, role, mode, args.label.as_deref()).await?;
            if args.json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!("{} key {} for tenant {}:\n{}", role.as_str(), created.info.id, tenant.name, created.key);
                eprintln!("(the key is shown only now)");
            }
        }
        KeysCommand::Revoke { id, json } => {
            let revoked = keys::revoke_key(&**client, id, None).await?.with_context(|| format!("no key {id}"))?;
            if json {
                println!("{}", serde_json::to_string(&revoked)?);
            } else {
                println!("key {} revoked", revoked.id);
            }
        }
        KeysCommand::List { tenant } => {
            let tenant =
                keys::find_tenant(&**client, &tenant).await?.with_context(|| format!("no tenant {tenant:?}"))?;
            let list = keys::list_keys(&**client, tenant.id).await?;
            println!("{}", serde_json::to_string_pretty(&json!({ "data": list }))?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
