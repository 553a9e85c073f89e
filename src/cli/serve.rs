use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use payledger_api::{ApiConfig, AppState, LiveConfig};
use payledger_service::admin_log::Actor;
use payledger_service::jobs::{JobRunnerConfig, WorkConfig};
use payledger_service::runtime::{Ledger, LedgerConfig};
use payledger_service::sealer::SealerConfig;
use payledger_service::secrets::MasterKey;
use payledger_service::tenants as keys;
use payledger_service::tenants::{KeyMode, Role};
use payledger_store::seal::SealPolicy;
use payledger_store::PoolOptions;
use serde_json::json;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PAYLEDGER_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Most database connections of this process.
    #[arg(long, env = "PAYLEDGER_DB_MAX_CONNECTIONS", default_value_t = 32)]
    pub db_max_connections: usize,

    /// Streams whose decided state commands keep in memory (least recently used evicted; 0: none).
    #[arg(long, env = "PAYLEDGER_STATE_CACHE_ENTRIES", default_value_t = payledger_service::aggregate::STATE_CACHE_ENTRIES_DEFAULT)]
    pub state_cache_entries: usize,

    /// Largest request body, in bytes.
    #[arg(long, env = "PAYLEDGER_BODY_LIMIT_BYTES", default_value_t = 64 * 1024)]
    pub body_limit_bytes: usize,

    /// Largest settlement report accepted by POST /v1/settlement-reports, in bytes.
    #[arg(long, env = "PAYLEDGER_SETTLEMENT_MAX_BYTES", default_value_t = payledger_api::SETTLEMENT_MAX_BYTES_DEFAULT)]
    pub settlement_max_bytes: usize,

    /// How long idempotency keys are remembered, in hours.
    #[arg(long, env = "PAYLEDGER_IDEMPOTENCY_RETENTION_HOURS", default_value_t = 24)]
    pub idempotency_retention_hours: u64,

    /// Tolerance of webhook signature timestamps, in seconds.
    #[arg(long, env = "PAYLEDGER_WEBHOOK_TOLERANCE_S", default_value_t = 300)]
    pub webhook_tolerance_s: i64,

    /// How long a webhook body may take to arrive, in milliseconds (then 408).
    #[arg(long, env = "PAYLEDGER_WEBHOOK_BODY_TIMEOUT_MS", default_value_t = 5_000)]
    pub webhook_body_timeout_ms: u64,

    /// Webhook deliveries verified and recorded at once per endpoint (more: 503).
    #[arg(long, env = "PAYLEDGER_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT", default_value_t = 16)]
    pub webhook_max_in_flight_per_endpoint: usize,

    /// Load balancers whose X-Forwarded-For is believed, comma-separated CIDR blocks
    /// (e.g. 10.0.0.0/8,::1/128); from any other peer the connection's address is the client's.
    #[arg(long, env = "PAYLEDGER_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// Requests per second of an API key without its own limit, in this process (more: 429).
    #[arg(long, env = "PAYLEDGER_RATE_LIMIT_PER_S", default_value_t = payledger_api::RATE_LIMIT_PER_S_DEFAULT,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_per_s: u32,

    /// Requests an API key without its own limit may send at once, in this process.
    #[arg(long, env = "PAYLEDGER_RATE_LIMIT_BURST", default_value_t = payledger_api::RATE_LIMIT_BURST_DEFAULT,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_burst: u32,

    /// Deliveries per second to one webhook endpoint, in this process (more: 429).
    #[arg(long, env = "PAYLEDGER_WEBHOOK_RATE_LIMIT_PER_S",
          default_value_t = payledger_api::WEBHOOK_RATE_LIMIT_PER_S_DEFAULT,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub webhook_rate_limit_per_s: u32,

    /// Deliveries one webhook endpoint may receive at once, in this process.
    #[arg(long, env = "PAYLEDGER_WEBHOOK_RATE_LIMIT_BURST",
          default_value_t = payledger_api::WEBHOOK_RATE_LIMIT_BURST_DEFAULT,
          value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub webhook_rate_limit_burst: u32,

    /// Lifetime of an OAuth access token, in seconds.
    #[arg(long, env = "PAYLEDGER_OAUTH_TOKEN_TTL_S", default_value_t = payledger_service::oauth::TOKEN_TTL_DEFAULT_S,
          value_parser = clap::value_parser!(i64).range(payledger_service::oauth::TOKEN_TTL_MIN_S..=payledger_service::oauth::TOKEN_TTL_MAX_S))]
    pub oauth_token_ttl_s: i64,

    /// Development mode: on first start create a tenant "dev" with one key per role, and
    /// print them (they are kept in --dev-keys-file so later starts can print them again).
    #[arg(long)]
    pub dev: bool,

    /// Days after a capture, refund or chargeback by which the gateway's reports must have
    /// settled it before the reconciliation calls it missing_in_report.
    #[arg(long, env = "PAYLEDGER_RECONCILIATION_LAG_DAYS", default_value_t = payledger_service::reconciliation::LAG_DAYS_DEFAULT)]
    pub reconciliation_lag_days: u32,

    /// Do not apply migrations: refuse to start unless the database is already migrated
    /// (for a role without DDL rights; run `payledger migrate` as the schema's owner first).
    #[arg(long, env = "PAYLEDGER_NO_MIGRATE")]
    pub no_migrate: bool,

    /// Seal as soon as this many events wait unsealed (also the most one seal covers).
    #[arg(long, env = "PAYLEDGER_SEAL_EVERY_EVENTS", default_value_t = payledger_service::sealer::SEAL_EVERY_EVENTS_DEFAULT,
          value_parser = clap::value_parser!(i64).range(1..=payledger_store::seal::SEAL_MAX_EVENTS))]
    pub seal_every_events: i64,

    /// Seal whatever waits once the newest seal is this many seconds old.
    #[arg(long, env = "PAYLEDGER_SEAL_INTERVAL_S", default_value_t = payledger_service::sealer::SEAL_INTERVAL_S_DEFAULT)]
    pub seal_interval_s: u64,

    /// Jobs this process runs at once.
    #[arg(long, env = "PAYLEDGER_JOBS_MAX_RUNNING", default_value_t = 2,
          value_parser = clap::value_parser!(u64).range(1..=64))]
    pub jobs_max_running: u64,

    /// How long a job's claim holds without renewal before another process may take it over.
    #[arg(long, env = "PAYLEDGER_JOB_LEASE_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(1_000..=3_600_000))]
    pub job_lease_ms: u64,

    /// Events per transaction of a verify job's fresh fold.
    #[arg(long, env = "PAYLEDGER_JOB_VERIFY_BATCH_SIZE", default_value_t = 2_000,
          value_parser = clap::value_parser!(i64).range(1..=10_000))]
    pub job_verify_batch_size: i64,

    /// Longest a request may run before it is answered 503 `timeout` (live streams and jobs
    /// are not bounded by it).
    #[arg(long, env = "PAYLEDGER_REQUEST_TIMEOUT_MS", default_value_t = 30_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub request_timeout_ms: u64,

    /// Settlement reports larger than this are imported by a job (202).
    #[arg(long, env = "PAYLEDGER_SETTLEMENT_JOB_MIN_BYTES", default_value_t = payledger_api::SETTLEMENT_JOB_MIN_BYTES_DEFAULT)]
    pub settlement_job_min_bytes: usize,

    /// Live streams (event feeds, job progress) one API key may hold open.
    #[arg(long, env = "PAYLEDGER_FEEDS_PER_KEY", default_value_t = 8)]
    pub feeds_per_key: usize,

    /// Live streams this process serves at once.
    #[arg(long, env = "PAYLEDGER_FEEDS_MAX", default_value_t = 512)]
    pub feeds_max: usize,

    /// Events buffered per live feed between the database and its client.
    #[arg(long, env = "PAYLEDGER_FEED_BUFFER_EVENTS", default_value_t = 256,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub feed_buffer_events: u64,

    /// A feed client that takes nothing from its full buffer for this long is sent
    /// `consumer_too_slow` and closed.
    #[arg(long, env = "PAYLEDGER_FEED_SLOW_CONSUMER_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(100..=600_000))]
    pub feed_slow_consumer_ms: u64,

    /// Where --dev keeps the dev tenant's keys.
    #[arg(long, default_value = "target/dev-keys.json")]
    pub dev_keys_file: PathBuf,
}

pub async fn run(database_url: &str, master_key: Option<MasterKey>, args: ServeArgs) -> anyhow::Result<ExitCode> {
    // First, so that a taken address fails before anything else starts.
    let listener = bind(&args.listen).await?;
    super::prepare_schema(database_url, args.no_migrate).await?;
    let ledger = Ledger::start(LedgerConfig {
        pool: PoolOptions { max_connections: args.db_max_connections, ..PoolOptions::default() },
        state_cache_entries: args.state_cache_entries,
        sealer: Some(SealerConfig {
            policy: SealPolicy {
                every_events: args.seal_every_events,
                max_age: Duration::from_secs(args.seal_interval_s),
            },
            ..SealerConfig::default()
        }),
        jobs: Some(JobRunnerConfig {
            max_running: args.jobs_max_running as usize,
            lease_ms: args.job_lease_ms,
            work: WorkConfig { verify_batch_size: args.job_verify_batch_size, ..WorkConfig::default() },
            ..JobRunnerConfig::default()
        }),
        master_key,
        ..LedgerConfig::new(database_url)
    })
    .await?;
    if args.dev {
        print_dev_keys(&ledger.pool, &args.dev_keys_file).await?;
    }
    let config = ApiConfig {
        body_limit_bytes: args.body_limit_bytes,
        settlement_max_bytes: args.settlement_max_bytes,
        idempotency_retention: Duration::from_secs(args.idempotency_retention_hours * 3600),
        webhook_tolerance_s: args.webhook_tolerance_s,
        webhook_body_timeout_ms: args.webhook_body_timeout_ms,
        webhook_max_in_flight_per_endpoint: args.webhook_max_in_flight_per_endpoint,
        trusted_proxies: args.trusted_proxies.iter().map(|net| net.trunc()).collect(),
        oauth_token_ttl_s: args.oauth_token_ttl_s,
        rate_limit_per_s: args.rate_limit_per_s,
        rate_limit_burst: args.rate_limit_burst,
        webhook_rate_limit_per_s: args.webhook_rate_limit_per_s,
        webhook_rate_limit_burst: args.webhook_rate_limit_burst,
        reconciliation_lag_days: args.reconciliation_lag_days,
        settlement_job_min_bytes: args.settlement_job_min_bytes,
        request_timeout_ms: args.request_timeout_ms,
        live: LiveConfig {
            max_per_key: args.feeds_per_key,
            max_per_process: args.feeds_max,
            buffer_events: args.feed_buffer_events as usize,
            slow_consumer_ms: args.feed_slow_consumer_ms,
            ..LiveConfig::default()
        },
        ..ApiConfig::default()
    };
    let state = AppState::of(&ledger, config);
    tracing::info!(listen = %listener.local_addr()?, "payledger serving");
    payledger_api::serve(listener, state, super::shutdown_signal()).await?;
    // The projector finishes (commits) its batch.
    ledger.stop().await;
    tracing::info!("payledger stopped");
    Ok(ExitCode::SUCCESS)
}

async fn bind(listen: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(listen).await.map_err(|err| {
        let why = match err.kind() {
            std::io::ErrorKind::AddrInUse => {
                "the address is already in use (another payledger serve, or another program)"
            }
            std::io::ErrorKind::PermissionDenied => "permission denied (ports below 1024 need privileges)",
            _ => "it cannot be bound",
        };
        anyhow::Error::new(err).context(format!(
            "cannot listen on {listen}: {why}; choose another address with --listen ADDR or PAYLEDGER_LISTEN=ADDR \
             (e.g. 127.0.0.1:8081)"
        ))
    })
}

async fn print_dev_keys(pool: &deadpool_postgres::Pool, keys_file: &PathBuf) -> anyhow::Result<()> {
    let client = pool.get().await?;
    let existing = keys::find_tenant(&**client, "dev").await?;
    let stored = match (&existing, std::fs::read_to_string(keys_file)) {
        (Some(_), Ok(text)) => Some(text),
        _ => None,
    };
    let text = match (existing, stored) {
        (Some(_), Some(text)) => text,
        (Some(tenant), None) => {
            // The tenant exists but its keys were lost: issue a fresh set.
            create_dev_keys(pool, tenant.id, keys_file).await?
        }
        (None, _) => {
            let tenant = keys::create_tenant(pool, &Actor::system("dev"), "dev").await?;
            create_dev_keys(pool, tenant.id, keys_file).await?
        }
    };
    eprintln!(
        "\n  Development tenant \"dev\". Test API keys (their data is --tenant dev:test; also in {}):\n{text}",
        keys_file.display()
    );
    Ok(())
}

async fn create_dev_keys(
    pool: &deadpool_postgres::Pool,
    tenant_id: uuid::Uuid,
    keys_file: &PathBuf,
) -> anyhow::Result<String> {
    let mut made = serde_json::Map::new();
    for role in [Role::Writer, Role::Finance, Role::Auditor, Role::Admin] {
        let key = keys::create_key(pool, &Actor::system("dev"), tenant_id, role, KeyMode::Test, Some("dev")).await?;
        made.insert(role.as_str().to_owned(), json!(key.key));
    }
    let text = serde_json::to_string_pretty(&json!({ "tenant": "dev", "tenant_id": tenant_id, "keys": made }))?;
    if let Some(parent) = keys_file.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(keys_file, &text)?;
    Ok(text)
}
