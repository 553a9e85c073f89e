//! `payledger webhooks create|list|add-secret|retire-secret|reprocess`.
//!
//! A secret given as `-` is read from the first line of stdin, so it stays out of shell
//! history and process lists.

use std::io::BufRead;
use std::process::ExitCode;

use super::secrets::master_key;
use anyhow::Context;
use clap::Subcommand;
use payledger_gateways::Provider;
use payledger_service::admin_log::Actor;
use payledger_service::webhooks::endpoints::{self, LIST_MAX_LIMIT};
use payledger_service::webhooks::{reprocess, RetryPolicy, Scope};
use serde_json::json;
use uuid::Uuid;

use super::tenants::resolve_tenant;

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Create a webhook endpoint for a tenant; prints its URL path.
    Create {
        /// Tenant name or id.
        #[arg(long)]
        tenant: String,
        /// stripe, adyen or generic.
        #[arg(long)]
        provider: String,
        /// The signing secret (Stripe `whsec_...`, Adyen hex HMAC key); `-` reads it from
        /// stdin. Optional for generic: one is generated and printed once.
        #[arg(long)]
        secret: Option<String>,
        /// A note to recognise the endpoint by in `webhooks list`.
        #[arg(long)]
        label: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's endpoints and their secrets (never the secrets themselves).
    List {
        /// Tenant name or id.
        #[arg(long)]
        tenant: String,
    },
    /// Add a signing secret: the old and the new one both verify until the old is retired.
    AddSecret {
        /// The endpoint's id.
        #[arg(long)]
        endpoint: Uuid,
        /// As for `create`.
        #[arg(long)]
        secret: Option<String>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Retire a signing secret by id; it stops verifying at once.
    RetireSecret {
        /// The endpoint's id.
        #[arg(long)]
        endpoint: Uuid,
        /// The secret's id (from `webhooks list`).
        #[arg(long)]
        secret_id: Uuid,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Interpret stored deliveries again from their raw events (idempotent).
    Reprocess {
        /// Only this endpoint's deliveries.
        #[arg(long)]
        endpoint: Option<Uuid>,
        /// Every delivery, applied ones included (they are left unchanged).
        #[arg(long, conflicts_with = "pending")]
        all: bool,
        /// Deliveries not applied yet: pending, failed and ignored ones (the default).
        #[arg(long)]
        pending: bool,
    },
}

pub async fn run(
    database_url: &str,
    master_key_file: Option<&std::path::Path>,
    command: WebhooksCommand,
) -> anyhow::Result<ExitCode> {
    let pool = payledger_store::connect_pool(database_url, &Default::default())?;
    match command {
        WebhooksCommand::Create { tenant, provider, secret, label, json } => {
            let provider: Provider = provider.parse()?;
            let client = pool.get().await?;
            let tenant = resolve_tenant(&**client, &tenant).await?;
            drop(client);
            let secret = read_secret(secret)?;
            let created = endpoints::create_endpoint(
                &pool,
                master_key(master_key_file)?.as_ref(),
                &Actor::cli(),
                tenant.id,
                provider,
                secret.as_deref(),
                label.as_deref(),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!(
                    "{} endpoint {} for tenant {}: POST {}",
                    provider, created.endpoint.id, tenant.name, created.endpoint.url
                );
                if let Some(secret) = &created.secret {
                    println!("signing secret (shown only now): {secret}");
                }
            }
        }
        WebhooksCommand::List { tenant } => {
            let client = pool.get().await?;
            let tenant = resolve_tenant(&**client, &tenant).await?;
            let (data, has_more) = endpoints::list_endpoints(&**client, tenant.id, LIST_MAX_LIMIT, None).await?;
            println!("{}", serde_json::to_string_pretty(&json!({ "data": data, "has_more": has_more }))?);
        }
        WebhooksCommand::AddSecret { endpoint, secret, json } => {
            let tenant_id = endpoints::endpoint_tenant(&**pool.get().await?, endpoint).await?;
            let secret = read_secret(secret)?;
            let created = endpoints::add_secret(
                &pool,
                master_key(master_key_file)?.as_ref(),
                &Actor::cli(),
                tenant_id,
                endpoint,
                secret.as_deref(),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!(
                    "secret {} added to endpoint {endpoint}; retire the old one once the gateway uses it",
                    created.info.id
                );
                if let Some(secret) = &created.secret {
                    println!("signing secret (shown only now): {secret}");
                }
            }
        }
        WebhooksCommand::RetireSecret { endpoint, secret_id, json } => {
            let tenant_id = endpoints::endpoint_tenant(&**pool.get().await?, endpoint).await?;
            let retired = endpoints::retire_secret(&pool, &Actor::cli(), tenant_id, endpoint, secret_id).await?;
            if json {
                println!("{}", serde_json::to_string(&retired)?);
            } else {
                println!("secret {} of endpoint {endpoint} is retired", retired.id);
            }
        }
        WebhooksCommand::Reprocess { endpoint, all, pending: _ } => {
            let scope = if all { Scope::All } else { Scope::Pending };
            let report = reprocess(&pool, endpoint, scope, &RetryPolicy::default()).await?;
            println!("{}", serde_json::to_string(&report)?);
            if report.failed > 0 {
                eprintln!("{} deliveries failed again; they are retried in the background by `serve`", report.failed);
                return Ok(ExitCode::FAILURE);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `-` means: read the secret from stdin's first line.
fn read_secret(secret: Option<String>) -> anyhow::Result<Option<String>> {
    match secret.as_deref() {
        Some("-") => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).context("reading the secret from stdin")?;
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            anyhow::ensure!(!line.is_empty(), "no secret on stdin");
            Ok(Some(line))
        }
        _ => Ok(secret),
    }
}
