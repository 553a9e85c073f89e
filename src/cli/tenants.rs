//! `payledger tenants create|list`, `payledger keys create|revoke|roll|limit|allow-ips|list`, and the one way
//! every command finds the tenant given by `--tenant` (a name or an id).

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use payledger_service::admin_log::Actor;
use payledger_service::tenants::{self as keys, Tenant};
use payledger_service::tenants::{KeyMode, Role};
use serde_json::json;
use tokio_postgres::GenericClient;

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
    /// List every tenant, by name.
    List {
        /// Print one JSON object, {"data": [...]}.
        #[arg(long)]
        json: bool,
    },
    /// Set the time zone the tenant's days are counted in (reconciliation, trial balance).
    SetTimeZone {
        /// Tenant name or id.
        tenant: String,
        /// An IANA name, e.g. Europe/Berlin (default of every tenant: UTC).
        time_zone: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create an API key; its secret is printed once.
    Create(CreateKeyArgs),
    /// Revoke an API key by id.
    Revoke {
        /// The key's id (from `keys list` or `keys create`).
        id: uuid::Uuid,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Issue a new key for an old one (same tenant, role, mode, label); the old one keeps
    /// working until --expire-old-in-s has passed. The new secret is printed once.
    Roll {
        /// The key's id.
        id: uuid::Uuid,
        /// Seconds the old key keeps working beside the new one (0: it stops now).
        #[arg(long, default_value_t = keys::ROLL_OVERLAP_DEFAULT_S)]
        expire_old_in_s: i64,
        /// Print one JSON object (it holds the new secret).
        #[arg(long)]
        json: bool,
    },
    /// Set a key's own rate limit (per server process); without flags, back to the
    /// server's default (PAYLEDGER_RATE_LIMIT_PER_S / _BURST).
    Limit {
        /// The key's id.
        id: uuid::Uuid,
        #[command(flatten)]
        limit: RateLimitArgs,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Set the networks a key may be used from (CIDR blocks or addresses, IPv4 or IPv6);
    /// with --any, from anywhere. A request from elsewhere is 403 ip_not_allowed.
    AllowIps {
        /// The key's id.
        id: uuid::Uuid,
        /// E.g. 203.0.113.0/24 2001:db8::/32 198.51.100.7
        #[arg(required_unless_present = "any", conflicts_with = "any")]
        networks: Vec<String>,
        /// Remove the allow-list: the key works from any address.
        #[arg(long)]
        any: bool,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List a tenant's keys (never their secrets).
    List {
        /// Tenant name or id.
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
    /// A note to recognise the key by in `keys list`.
    #[arg(long)]
    pub label: Option<String>,
    /// When the key stops working, RFC 3339 (e.g. 2027-01-31T00:00:00Z); default: never.
    #[arg(long)]
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    #[command(flatten)]
    pub limit: RateLimitArgs,
    /// A network the key may be used from (repeat for more); default: any.
    #[arg(long = "allow-ip")]
    pub allow_ips: Vec<String>,
    /// Print one JSON object (it holds the secret).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RateLimitArgs {
    /// The key's own requests per second (default: the server's).
    #[arg(long)]
    pub rate_limit_per_s: Option<i32>,
    /// The key's own burst: requests it may send at once (default: the server's).
    #[arg(long)]
    pub rate_limit_burst: Option<i32>,
}

impl RateLimitArgs {
    fn limit(&self) -> keys::KeyRateLimit {
        keys::KeyRateLimit { rate_limit_per_s: self.rate_limit_per_s, rate_limit_burst: self.rate_limit_burst }
    }
}

/// The tenant named, or with this id: its live data. `NAME:test` (or the test scope's id)
/// is its test data, what its `pl_test_` keys read and write (DESIGN §12). An id wins over
/// another tenant's name that spells it (`keys::find_tenant`).
pub async fn resolve_tenant<C: GenericClient>(client: &C, name_or_id: &str) -> anyhow::Result<Tenant> {
    let (name, test) = match name_or_id.strip_suffix(TEST_SCOPE_SUFFIX) {
        Some(name) => (name, true),
        None => (name_or_id, false),
    };
    let tenant = keys::find_tenant(client, name).await?;
    let tenant = tenant.with_context(|| format!("no tenant {name:?} (`payledger tenants list` shows them)"))?;
    if !test || !tenant.livemode {
        return Ok(tenant);
    }
    let scope_id = tenant.test_scope_id.with_context(|| format!("tenant {name:?} has no test scope"))?;
    let scope = keys::find_tenant(client, &scope_id.to_string()).await?;
    scope.with_context(|| format!("tenant {name:?} has no test scope"))
}

/// `--tenant acme:test`: the tenant's test data.
const TEST_SCOPE_SUFFIX: &str = ":test";

async fn client(database_url: &str) -> anyhow::Result<deadpool_postgres::Object> {
    Ok(pool(database_url)?.get().await?)
}

fn pool(database_url: &str) -> anyhow::Result<deadpool_postgres::Pool> {
    Ok(payledger_store::connect_pool(database_url, &Default::default())?)
}

pub async fn run_tenants(database_url: &str, command: TenantsCommand) -> anyhow::Result<ExitCode> {
    match command {
        TenantsCommand::Create { name, json } => {
            let tenant = keys::create_tenant(&pool(database_url)?, &Actor::cli(), &name).await?;
            if json {
                println!("{}", serde_json::to_string(&tenant)?);
            } else {
                println!("tenant {} created: {}", tenant.name, tenant.id);
            }
            Ok(ExitCode::SUCCESS)
        }
        TenantsCommand::SetTimeZone { tenant, time_zone } => {
            let client = client(database_url).await?;
            let tenant = resolve_tenant(&**client, &tenant).await?;
            let pool = pool(database_url)?;
            payledger_service::tenants::set_time_zone(&pool, &Actor::cli(), tenant.account_id(), &time_zone).await?;
            println!("tenant {} counts its days in {time_zone}", tenant.name);
            Ok(ExitCode::SUCCESS)
        }
        TenantsCommand::List { json } => {
            let tenants = keys::list_tenants(&**client(database_url).await?).await?;
            if json {
                println!("{}", serde_json::to_string(&json!({ "data": tenants }))?);
            } else {
                for tenant in &tenants {
                    let test_scope = tenant.test_scope_id.map(|id| id.to_string()).unwrap_or_default();
                    println!(
                        "{}\t{}\t{}\ttest scope {test_scope}",
                        tenant.name,
                        tenant.id,
                        tenant.created_at.to_rfc3339()
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

pub async fn run_keys(database_url: &str, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let pool = pool(database_url)?;
    let client = pool.get().await?;
    let actor = Actor::cli();
    match command {
        KeysCommand::Create(args) => {
            let role = Role::parse(&args.role).context("role is writer, finance, auditor or admin")?;
            let mode = KeyMode::parse(&args.mode).context("mode is test or live")?;
            let tenant = resolve_tenant(&**client, &args.tenant).await?;
            let allowed_ips =
                (!args.allow_ips.is_empty()).then(|| keys::parse_allowed_ips(&args.allow_ips)).transpose()?;
            let spec = keys::KeySpec {
                label: args.label,
                expires_at: args.expires_at,
                rate_limit: args.limit.limit(),
                allowed_ips,
                legacy_live: false,
            };
            let created = keys::create_key_with(&pool, &actor, tenant.account_id(), role, mode, &spec).await?;
            if args.json {
                println!("{}", serde_json::to_string(&created)?);
            } else {
                println!("{} key {} for tenant {}:\n{}", role.as_str(), created.info.id, tenant.name, created.key);
                eprintln!("(the key is shown only now)");
            }
        }
        KeysCommand::Revoke { id, json } => {
            let revoked = keys::revoke_key(&pool, &actor, id, None).await?.with_context(|| format!("no key {id}"))?;
            if json {
                println!("{}", serde_json::to_string(&revoked)?);
            } else {
                println!("key {} revoked", revoked.id);
            }
        }
        KeysCommand::Roll { id, expire_old_in_s, json } => {
            let rolled = keys::roll_key(&pool, &actor, id, None, expire_old_in_s)
                .await?
                .with_context(|| format!("no key {id}"))?;
            if json {
                println!("{}", serde_json::to_string(&rolled)?);
            } else {
                let until = rolled.rolled.expires_at.map_or("-".to_owned(), |at| at.to_rfc3339());
                println!(
                    "key {} rolled; it works until {until}. New key {}:\n{}",
                    id, rolled.created.info.id, rolled.created.key
                );
                eprintln!("(the new key is shown only now)");
            }
        }
        KeysCommand::Limit { id, limit, json } => {
            let key = keys::set_rate_limit(&pool, &actor, id, None, limit.limit())
                .await?
                .with_context(|| format!("no key {id}"))?;
            if json {
                println!("{}", serde_json::to_string(&key)?);
            } else {
                let shown = |n: Option<i32>| n.map_or("the server's default".to_owned(), |n| n.to_string());
                println!(
                    "key {id}: {} requests/s, burst {}",
                    shown(key.rate_limit.rate_limit_per_s),
                    shown(key.rate_limit.rate_limit_burst)
                );
            }
        }
        KeysCommand::AllowIps { id, networks, any, json } => {
            let networks = (!any).then(|| keys::parse_allowed_ips(&networks)).transpose()?;
            let key = keys::set_allowed_ips(&pool, &actor, id, None, networks.as_deref())
                .await?
                .with_context(|| format!("no key {id}"))?;
            if json {
                println!("{}", serde_json::to_string(&key)?);
            } else {
                let shown = key.allowed_ips.map_or("any address".to_owned(), |nets| nets.join(", "));
                println!("key {id} may be used from {shown}");
            }
        }
        KeysCommand::List { tenant } => {
            let tenant = resolve_tenant(&**client, &tenant).await?;
            let list = keys::list_keys(&**client, tenant.account_id()).await?;
            println!("{}", serde_json::to_string_pretty(&json!({ "data": list }))?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
