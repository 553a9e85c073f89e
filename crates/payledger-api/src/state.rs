use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use payledger_service::aggregate::StateCache;
use payledger_service::key_usage::KeyUsage;
use payledger_service::runtime::Running;
use payledger_service::secrets::MasterKey;

use crate::live::{Live, LiveConfig};
use crate::rate_limit::RateLimits;

/// `PAYLEDGER_SETTLEMENT_MAX_BYTES` when not set: 32 MiB.
pub const SETTLEMENT_MAX_BYTES_DEFAULT: usize = 32 * 1024 * 1024;

/// `PAYLEDGER_SETTLEMENT_JOB_MIN_BYTES` when not set: 1 MiB.
pub const SETTLEMENT_JOB_MIN_BYTES_DEFAULT: usize = 1024 * 1024;

/// Limits and settings of the HTTP server. Every one has a bound.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest request body accepted (413 beyond).
    pub body_limit_bytes: usize,
    /// Largest settlement report body accepted (413 beyond); CSV files are far larger than JSON.
    pub settlement_max_bytes: usize,
    /// How long idempotency records are kept.
    pub idempotency_retention: Duration,
    /// Attempts of a command when its stream changed under it.
    pub command_max_attempts: u32,
    /// Longest a command waits for its stream's lock before answering 409 resource_busy.
    pub stream_lock_timeout_ms: u64,
    /// Longest a GET waits for the projector to reach `min_position`.
    pub read_your_writes_timeout_ms: u64,
    /// Tolerance of webhook signature timestamps.
    pub webhook_tolerance_s: i64,
    /// Longest a request may run before it is answered 503.
    pub request_timeout_ms: u64,
    /// Requests served at once, per route, before new ones are refused with 503 (webhook
    /// deliveries have their own bounds, below).
    pub max_in_flight_requests: usize,
    /// Longest a webhook sender may take to send its body (408 beyond).
    pub webhook_body_timeout_ms: u64,
    /// Webhook deliveries verified and recorded at once per endpoint (503 beyond).
    pub webhook_max_in_flight_per_endpoint: usize,
    /// Database lookups at once of webhook endpoints not seen recently (503 beyond), so
    /// deliveries to random endpoint ids queue apart from those to known endpoints.
    pub webhook_max_unknown_lookups: usize,
    /// Days after a ledger fact by which the gateway's reports must have settled it before
    /// the reconciliation calls it `missing_in_report`.
    pub reconciliation_lag_days: u32,
    /// Settlement reports larger than this are imported by a job (202) instead of within
    /// the request (201).
    pub settlement_job_min_bytes: usize,
    /// Live streams: the event feed and job progress.
    pub live: LiveConfig,
    /// How often at most each key's `last_used_at` and `use_count` are written, per process.
    pub key_usage_flush_ms: u64,
    /// Requests per second and burst of a key without its own limit (per process).
    pub rate_limit_per_s: u32,
    pub rate_limit_burst: u32,
    /// Deliveries per second and burst of each webhook endpoint (per process).
    pub webhook_rate_limit_per_s: u32,
    pub webhook_rate_limit_burst: u32,
    /// Peers whose `X-Forwarded-For` is believed (load balancers); from anyone else the
    /// connection's own address is the client's.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Lifetime of an OAuth access token, in seconds (60 to 86,400).
    pub oauth_token_ttl_s: i64,
}

/// `PAYLEDGER_RATE_LIMIT_PER_S` and `_BURST` when not set: far above one client's ordinary
/// use (50 requests at once on one key are never refused), low enough to stop a runaway.
pub const RATE_LIMIT_PER_S_DEFAULT: u32 = 1_000;
pub const RATE_LIMIT_BURST_DEFAULT: u32 = 1_000;
/// `PAYLEDGER_WEBHOOK_RATE_LIMIT_PER_S` and `_BURST` when not set.
pub const WEBHOOK_RATE_LIMIT_PER_S_DEFAULT: u32 = 1_000;
pub const WEBHOOK_RATE_LIMIT_BURST_DEFAULT: u32 = 1_000;

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            body_limit_bytes: 64 * 1024,
            settlement_max_bytes: SETTLEMENT_MAX_BYTES_DEFAULT,
            idempotency_retention: Duration::from_secs(24 * 3600),
            command_max_attempts: 10,
            stream_lock_timeout_ms: 5_000,
            read_your_writes_timeout_ms: 5_000,
            webhook_tolerance_s: 300,
            request_timeout_ms: 30_000,
            max_in_flight_requests: 1_024,
            webhook_body_timeout_ms: 5_000,
            webhook_max_in_flight_per_endpoint: 16,
            webhook_max_unknown_lookups: 16,
            reconciliation_lag_days: payledger_service::reconciliation::LAG_DAYS_DEFAULT,
            settlement_job_min_bytes: SETTLEMENT_JOB_MIN_BYTES_DEFAULT,
            live: LiveConfig::default(),
            key_usage_flush_ms: 60_000,
            rate_limit_per_s: RATE_LIMIT_PER_S_DEFAULT,
            rate_limit_burst: RATE_LIMIT_BURST_DEFAULT,
            webhook_rate_limit_per_s: WEBHOOK_RATE_LIMIT_PER_S_DEFAULT,
            webhook_rate_limit_burst: WEBHOOK_RATE_LIMIT_BURST_DEFAULT,
            trusted_proxies: Vec::new(),
            oauth_token_ttl_s: payledger_service::oauth::TOKEN_TTL_DEFAULT_S,
        }
    }
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub database_url: Arc<str>,
    pub config: Arc<ApiConfig>,
    pub states: StateCache,
    pub live: Arc<Live>,
    pub key_usage: Arc<KeyUsage>,
    /// Buckets per API key, and per webhook endpoint.
    pub key_rate_limits: Arc<RateLimits>,
    pub webhook_rate_limits: Arc<RateLimits>,
    /// Seals and opens webhook signing secrets (`None`: none can be added or verified).
    pub master_key: Option<Arc<MasterKey>>,
}

impl AppState {
    /// The HTTP side of a running ledger.
    pub fn of(ledger: &Running, config: ApiConfig) -> AppState {
        AppState {
            pool: ledger.pool.clone(),
            database_url: ledger.database_url.clone(),
            states: ledger.states.clone(),
            live: Live::new(ledger.database_url.clone(), config.live.clone()),
            key_usage: Arc::new(KeyUsage::new(Duration::from_millis(config.key_usage_flush_ms))),
            key_rate_limits: Arc::default(),
            webhook_rate_limits: Arc::default(),
            master_key: ledger.master_key.clone(),
            config: Arc::new(config),
        }
    }
}
