//! Tenants and API keys: created by the CLI (`payledger tenants create`, `keys create`) and
//! by a tenant's admin keys over HTTP. A key belongs to one tenant and has one role.

use rand::distributions::{Alphanumeric, DistString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;
use uuid::Uuid;

pub use crate::key_admin::{
    create_key, create_key_with, create_tenant, revoke_key, roll_key, set_allowed_ips, set_rate_limit, set_time_zone,
    KeySpec, RolledKey, KEY_EXPIRY_MAX_DAYS, ROLL_OVERLAP_DEFAULT_S, ROLL_OVERLAP_MAX_S,
};

use crate::error::{ServiceError, ServiceResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Appends commands (orders, payments, refunds, disputes) and reads read-models.
    Writer,
    /// Reads read-models and the ledger, rebuilds and verifies projections.
    Finance,
    /// Reads everything, writes nothing.
    Auditor,
    /// Manages the tenant's API keys and webhook endpoints.
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Writer, Role::Finance, Role::Auditor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    Test,
    Live,
}

impl KeyMode {
    pub const ALL: [KeyMode; 2] = [KeyMode::Test, KeyMode::Live];

    pub fn as_str(self) -> &'static str {
        match self {
            KeyMode::Test => "test",
            KeyMode::Live => "live",
        }
    }

    pub fn parse(s: &str) -> Option<KeyMode> {
        KeyMode::ALL.into_iter().find(|mode| mode.as_str() == s)
    }
}

/// How a caller authenticated: an API key, or a token of an OAuth client. With its id it
/// names the actor of what the caller does (`api_key:<id>`, `oauth_client:<id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential {
    ApiKey,
    OAuthClient,
}

impl Credential {
    pub fn as_str(self) -> &'static str {
        match self {
            Credential::ApiKey => "api_key",
            Credential::OAuthClient => "oauth_client",
        }
    }
}

/// SHA-256 of the whole key: keys carry ~190 random bits, so a slow hash buys nothing.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

/// A fresh key: `pl_{mode}_` and 32 random alphanumerics.
pub fn generate_key(mode: KeyMode) -> String {
    let secret = Alphanumeric.sample_string(&mut rand::rngs::OsRng, 32);
    format!("pl_{}_{}", mode.as_str(), secret)
}

/// The owner of a live API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOwner {
    /// The tenant the key belongs to.
    pub tenant_id: Uuid,
    /// The data its requests read and write: the tenant's live or test scope, by its mode.
    pub scope_id: Uuid,
    pub mode: KeyMode,
    pub key_id: Uuid,
    pub role: Role,
    /// The key's own rate limit, where set (else the server's default).
    pub rate_limit: KeyRateLimit,
    /// The networks its requests may come from; `None`: any.
    pub allowed_ips: Option<Vec<ipnet::IpNet>>,
}

/// A key's own requests per second and burst; `None`: the server's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct KeyRateLimit {
    pub rate_limit_per_s: Option<i32>,
    pub rate_limit_burst: Option<i32>,
}

/// What a presented key turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyCheck {
    Valid(KeyOwner),
    /// Malformed or not a key of this ledger.
    Unknown,
    Revoked,
    Expired,
}

/// Whose key this is, or why it does not work.
pub async fn authenticate(pool: &deadpool_postgres::Pool, key: &str) -> ServiceResult<KeyCheck> {
    if !(key.starts_with("pl_test_") || key.starts_with("pl_live_")) {
        return Ok(KeyCheck::Unknown);
    }
    let client = pool.get().await?;
    let hash = hash_key(key).to_vec();
    // Prepared once per connection: every request runs it.
    let statement = client
        .prepare_typed_cached(
            "SELECT key_id, tenant_id, role, revoked_at IS NOT NULL, coalesce(expires_at <= now(), false),
                    rate_limit_per_s, rate_limit_burst, allowed_ips,
                    CASE WHEN mode = 'live' OR legacy_live THEN 'live' ELSE 'test' END,
                    CASE WHEN mode = 'live' OR legacy_live THEN tenant_id
                         ELSE (SELECT s.tenant_id FROM tenants s WHERE s.live_tenant_id = api_keys.tenant_id AND NOT s.livemode)
                    END
             FROM api_keys
             -- A key belongs to a tenant, never to a test scope: one that does is no key.
             WHERE key_hash = $1
               AND EXISTS (SELECT 1 FROM tenants t WHERE t.tenant_id = api_keys.tenant_id AND t.livemode)",
            &[Type::BYTEA],
        )
        .await?;
    let row = client.query_opt(&statement, &[&hash]).await?;
    let Some(row) = row else { return Ok(KeyCheck::Unknown) };
    if row.try_get::<_, bool>(3)? {
        return Ok(KeyCheck::Revoked);
    }
    if row.try_get::<_, bool>(4)? {
        return Ok(KeyCheck::Expired);
    }
    let role: String = row.try_get(2)?;
    let role = Role::parse(&role).ok_or_else(|| ServiceError::internal(format!("stored role {role:?}")))?;
    let rate_limit = KeyRateLimit { rate_limit_per_s: row.try_get(5)?, rate_limit_burst: row.try_get(6)? };
    let allowed_ips = parse_networks(row.try_get(7)?)?;
    let mode: String = row.try_get(8)?;
    let mode = KeyMode::parse(&mode).ok_or_else(|| ServiceError::internal(format!("stored mode {mode:?}")))?;
    let tenant_id: Uuid = row.try_get(1)?;
    let scope_id: Option<Uuid> = row.try_get(9)?;
    let scope_id = scope_id.ok_or_else(|| ServiceError::internal(format!("tenant {tenant_id} has no test scope")))?;
    Ok(KeyCheck::Valid(KeyOwner { key_id: row.try_get(0)?, tenant_id, scope_id, mode, role, rate_limit, allowed_ips }))
}

/// Stored CIDR texts as networks (they were parsed before they were stored).
pub(crate) fn parse_networks(stored: Option<Vec<String>>) -> ServiceResult<Option<Vec<ipnet::IpNet>>> {
    let parse =
        |text: &String| text.parse().map_err(|e| ServiceError::internal(format!("stored network {text:?}: {e}")));
    stored.map(|texts| texts.iter().map(parse).collect()).transpose()
}

#[derive(Debug, Clone, Serialize)]
pub struct Tenant {
    /// The live scope's id for a tenant; a test scope's own id for a test scope.
    pub id: Uuid,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Whether this is the tenant (its live data) or its test scope (V21).
    pub livemode: bool,
    /// A test scope's tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_tenant_id: Option<Uuid>,
    /// A tenant's test scope: the id that stands for its test data (`--tenant` takes it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test_scope_id: Option<Uuid>,
}

impl Tenant {
    /// The tenant that owns keys and clients: itself, or a test scope's tenant.
    pub fn account_id(&self) -> Uuid {
        self.live_tenant_id.unwrap_or(self.id)
    }
}

/// A tenant with its scope columns, from [`TENANT_SELECT`].
const TENANT_SELECT: &str = "SELECT t.tenant_id, t.name, t.created_at, t.livemode, t.live_tenant_id, s.tenant_id
     FROM tenants t LEFT JOIN tenants s ON s.live_tenant_id = t.tenant_id AND NOT s.livemode";

fn tenant_of(r: &tokio_postgres::Row) -> ServiceResult<Tenant> {
    Ok(Tenant {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        created_at: r.try_get(2)?,
        livemode: r.try_get(3)?,
        live_tenant_id: r.try_get(4)?,
        test_scope_id: r.try_get(5)?,
    })
}

/// The data scope of a key or a client of `tenant_id` in `mode`: the tenant itself for live,
/// its test scope for test.
pub async fn scope_of<C: GenericClient>(client: &C, tenant_id: Uuid, mode: KeyMode) -> ServiceResult<Uuid> {
    if mode == KeyMode::Live {
        return Ok(tenant_id);
    }
    let row = client
        .query_opt("SELECT tenant_id FROM tenants WHERE live_tenant_id = $1 AND NOT livemode", &[&tenant_id])
        .await?
        .ok_or_else(|| ServiceError::internal(format!("tenant {tenant_id} has no test scope")))?;
    Ok(row.try_get(0)?)
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub role: Role,
    pub mode: KeyMode,
    /// The first characters of the key, to recognise it in a list.
    pub prefix: String,
    pub label: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the key stops working (absent: never).
    pub expires_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The key that replaced this one when it was rolled.
    pub rolled_to: Option<Uuid>,
    /// Written at most once a minute per key and server process (see `key_usage`).
    pub last_used_at: Option<chrono::DateTime<chrono::Utc>>,
    pub use_count: i64,
    /// The key's own rate limit (null fields: the server's default).
    #[serde(flatten)]
    pub rate_limit: KeyRateLimit,
    /// The networks (CIDR) its requests may come from; null: any.
    pub allowed_ips: Option<Vec<String>>,
    /// A test key made before test data was apart (V22): it acts on the live data, as it did.
    pub legacy_live: bool,
}

impl ApiKeyInfo {
    /// The data the key reads and writes: its mode's, or live for a legacy test key.
    pub fn data_mode(&self) -> KeyMode {
        if self.legacy_live {
            KeyMode::Live
        } else {
            self.mode
        }
    }
}

/// A key just created: the only time its secret is shown.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    pub key: String,
}

/// The tenant with this id, else the one with this name (a name may spell another tenant's
/// id: the id wins, and there is never more than one answer).
pub async fn find_tenant<C: GenericClient>(client: &C, name_or_id: &str) -> ServiceResult<Option<Tenant>> {
    let id = name_or_id.parse::<Uuid>().ok();
    let row = client
        .query_opt(
            &format!(
                "{TENANT_SELECT} WHERE (t.name = $1 AND t.livemode) OR t.tenant_id = $2
                 ORDER BY t.tenant_id IS NOT DISTINCT FROM $2 DESC LIMIT 1"
            ),
            &[&name_or_id, &id],
        )
        .await?;
    row.map(|r| tenant_of(&r)).transpose()
}

/// Every tenant, by name.
pub async fn list_tenants<C: GenericClient>(client: &C) -> ServiceResult<Vec<Tenant>> {
    let rows = client.query(&format!("{TENANT_SELECT} WHERE t.livemode ORDER BY t.name"), &[]).await?;
    rows.iter().map(tenant_of).collect()
}

/// An operator's label for a key or an endpoint: absent, or 1 to `LABEL_MAX_CHARS`
/// characters that are not all blank. The API and the CLI get the same answer.
pub fn check_label(label: Option<&str>) -> ServiceResult<()> {
    match label {
        Some(l) if l.trim().is_empty() || l.chars().count() > payledger_core::LABEL_MAX_CHARS => {
            Err(ServiceError::LabelInvalid)
        }
        _ => Ok(()),
    }
}

/// Largest rate or burst a key may be given.
pub const KEY_RATE_LIMIT_MAX: i32 = 1_000_000;

/// Refuses a rate or burst outside 1..=[`KEY_RATE_LIMIT_MAX`].
pub fn check_rate_limit(limit: KeyRateLimit) -> ServiceResult<()> {
    let values = [limit.rate_limit_per_s, limit.rate_limit_burst];
    match values.into_iter().flatten().all(|value| (1..=KEY_RATE_LIMIT_MAX).contains(&value)) {
        true => Ok(()),
        false => Err(ServiceError::RateLimitInvalid { max: KEY_RATE_LIMIT_MAX }),
    }
}

/// Most networks in one key's allow-list.
pub const ALLOWED_IPS_MAX: usize = 100;

/// Parses an allow-list: CIDR blocks or single addresses (a /32 or /128), IPv4 or IPv6, 1
/// to [`ALLOWED_IPS_MAX`] of them; stored in their canonical form (host bits cleared).
pub fn parse_allowed_ips(texts: &[String]) -> ServiceResult<Vec<ipnet::IpNet>> {
    if texts.is_empty() || texts.len() > ALLOWED_IPS_MAX {
        return Err(ServiceError::AllowedIpsInvalid(format!("an allow-list has 1 to {ALLOWED_IPS_MAX} networks")));
    }
    texts
        .iter()
        .map(|text| {
            let text = text.trim();
            let net =
                text.parse::<ipnet::IpNet>().or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from));
            net.map(|n| n.trunc()).map_err(|_| {
                ServiceError::AllowedIpsInvalid(format!(
                    "{text:?} is not an IP address or CIDR block (e.g. 203.0.113.0/24)"
                ))
            })
        })
        .collect()
}

/// The mode of the data the tenant's key `key_id` acts on, if it has a key by that id.
pub async fn key_mode<C: GenericClient>(client: &C, tenant_id: Uuid, key_id: Uuid) -> ServiceResult<Option<KeyMode>> {
    let row = client
        .query_opt(
            "SELECT CASE WHEN mode = 'live' OR legacy_live THEN 'live' ELSE 'test' END
             FROM api_keys WHERE key_id = $1 AND tenant_id = $2",
            &[&key_id, &tenant_id],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mode: String = row.try_get(0)?;
    KeyMode::parse(&mode).map(Some).ok_or_else(|| ServiceError::internal(format!("stored mode {mode:?}")))
}

pub async fn list_keys<C: GenericClient>(client: &C, tenant_id: Uuid) -> ServiceResult<Vec<ApiKeyInfo>> {
    let rows = client
        .query(
            &format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 ORDER BY created_at LIMIT 1000"),
            &[&tenant_id],
        )
        .await?;
    rows.iter().map(key_info).collect()
}

/// The columns [`key_info`] reads, in its order.
pub(crate) const KEY_COLUMNS: &str =
    "key_id, tenant_id, role, mode, key_prefix, label, created_at, revoked_at, expires_at, rolled_to, last_used_at, \
     use_count, rate_limit_per_s, rate_limit_burst, allowed_ips, legacy_live";
pub(crate) const KEY_COLUMN_COUNT: usize = 16;

pub(crate) fn key_info(r: &tokio_postgres::Row) -> ServiceResult<ApiKeyInfo> {
    let role: String = r.try_get(2)?;
    let mode: String = r.try_get(3)?;
    Ok(ApiKeyInfo {
        id: r.try_get(0)?,
        tenant_id: r.try_get(1)?,
        role: Role::parse(&role).ok_or_else(|| ServiceError::internal(format!("stored role {role:?}")))?,
        mode: KeyMode::parse(&mode).ok_or_else(|| ServiceError::internal(format!("stored mode {mode:?}")))?,
        prefix: r.try_get(4)?,
        label: r.try_get(5)?,
        created_at: r.try_get(6)?,
        revoked_at: r.try_get(7)?,
        expires_at: r.try_get(8)?,
        rolled_to: r.try_get(9)?,
        last_used_at: r.try_get(10)?,
        use_count: r.try_get(11)?,
        rate_limit: KeyRateLimit { rate_limit_per_s: r.try_get(12)?, rate_limit_burst: r.try_get(13)? },
        allowed_ips: r.try_get(14)?,
        legacy_live: r.try_get(15)?,
    })
}

/// The time zone the tenant's days are counted in (`UTC` unless set).
pub async fn time_zone<C: GenericClient>(client: &C, tenant_id: Uuid) -> ServiceResult<String> {
    let row = client.query_opt("SELECT time_zone FROM tenants WHERE tenant_id = $1", &[&tenant_id]).await?;
    row.map(|row| row.try_get(0)).transpose()?.ok_or(ServiceError::NotFound("tenant"))
}

#[cfg(test)]
mod all_lists {
    use super::*;

    /// `ALL` names every variant once (the API documents roles and modes from these lists,
    /// and `parse` reads them back through them).
    #[test]
    fn every_role_and_mode_is_listed_and_parses_back() {
        // Fails to compile when a variant is added, pointing here and at `ALL`.
        let count = |r: Role| match r {
            Role::Writer | Role::Finance | Role::Auditor | Role::Admin => 4,
        };
        assert_eq!(Role::ALL.len(), count(Role::Admin));
        let count = |m: KeyMode| match m {
            KeyMode::Test | KeyMode::Live => 2,
        };
        assert_eq!(KeyMode::ALL.len(), count(KeyMode::Test));
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
            assert_eq!(serde_json::to_value(role).unwrap(), serde_json::json!(role.as_str()));
        }
        for mode in KeyMode::ALL {
            assert_eq!(KeyMode::parse(mode.as_str()), Some(mode));
            assert_eq!(serde_json::to_value(mode).unwrap(), serde_json::json!(mode.as_str()));
        }
        assert_eq!(Role::parse("root"), None);
        assert_eq!(KeyMode::parse("Live"), None);
    }
}
