//! Access tokens (table `oauth_tokens`, V20): issued for a client's id and secret, stored as
//! SHA-256, good until they expire or their client is revoked.

use std::net::IpAddr;

use deadpool_postgres::Pool;
use rand::distributions::{Alphanumeric, DistString};
use tokio_postgres::types::Type;
use uuid::Uuid;

use super::clients::parse_client_id;
use super::OAuthError;
use crate::error::{ServiceError, ServiceResult};
use crate::tenants::{hash_key, parse_networks, KeyMode, Role};

/// Every access token starts so; what follows is 40 random alphanumerics (~238 bits).
pub const TOKEN_PREFIX: &str = "pl_at_";
const TOKEN_CHARS: usize = 40;
/// Lifetime of a token unless configured (`PAYLEDGER_OAUTH_TOKEN_TTL_S`): an hour.
pub const TOKEN_TTL_DEFAULT_S: i64 = 3_600;
pub const TOKEN_TTL_MIN_S: i64 = 60;
pub const TOKEN_TTL_MAX_S: i64 = 86_400;
/// Unexpired tokens one client may hold: a service reuses its token until it expires.
pub const MAX_LIVE_TOKENS_PER_CLIENT: i64 = 1_000;

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub expires_in_s: i64,
    pub scope: Role,
    pub client_id: Uuid,
}

/// Whose token this is: the client's tenant, the token's scope, the client's mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub client_id: Uuid,
    pub tenant_id: Uuid,
    /// The data its requests read and write: the tenant's live or test scope, by the client's mode.
    pub scope_id: Uuid,
    pub scope: Role,
    pub mode: KeyMode,
    pub allowed_ips: Option<Vec<ipnet::IpNet>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenCheck {
    Valid(TokenOwner),
    Unknown,
    Expired,
    /// Its client was revoked.
    Revoked,
}

/// A token for the client `client_id` (its public `plc_...` form) if `client_secret` is its
/// secret, it is not revoked, `client_ip` is on its allow-list, and `scope` (space-separated,
/// RFC 6749 §3.3; absent: the client's) names only the role it holds.
pub async fn issue_token(
    pool: &Pool,
    client_id: &str,
    client_secret: &str,
    scope: Option<&str>,
    ttl_s: i64,
    client_ip: Option<IpAddr>,
) -> Result<IssuedToken, OAuthError> {
    assert!((TOKEN_TTL_MIN_S..=TOKEN_TTL_MAX_S).contains(&ttl_s), "token lifetime out of range");
    let client_id = parse_client_id(client_id).ok_or(OAuthError::InvalidClient)?;
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    // Locked: a client's issuances run one at a time, so the count below holds.
    let row = tx
        .query_opt(
            "SELECT secret_hash, role, revoked_at IS NOT NULL, allowed_ips FROM oauth_clients
             WHERE client_id = $1 FOR NO KEY UPDATE",
            &[&client_id],
        )
        .await?
        .ok_or(OAuthError::InvalidClient)?;
    let stored_hash: Vec<u8> = row.try_get(0)?;
    if !same_hash(&stored_hash, &hash_key(client_secret)) || row.try_get::<_, bool>(2)? {
        return Err(OAuthError::InvalidClient);
    }
    if let Some(allowed) = parse_networks(row.try_get(3)?)? {
        if !client_ip.is_some_and(|ip| allowed.iter().any(|net| net.contains(&ip))) {
            let shown = client_ip.map_or("an unknown address".to_owned(), |ip| ip.to_string());
            return Err(OAuthError::UnauthorizedClient(shown));
        }
    }
    let role_text: String = row.try_get(1)?;
    let held = Role::parse(&role_text).ok_or_else(|| ServiceError::internal(format!("stored role {role_text:?}")))?;
    check_scope(held, scope)?;
    tx.execute("DELETE FROM oauth_tokens WHERE client_id = $1 AND expires_at <= now()", &[&client_id]).await?;
    let live: i64 =
        tx.query_one("SELECT count(*) FROM oauth_tokens WHERE client_id = $1", &[&client_id]).await?.try_get(0)?;
    if live >= MAX_LIVE_TOKENS_PER_CLIENT {
        return Err(OAuthError::TooManyTokens { max: MAX_LIVE_TOKENS_PER_CLIENT });
    }
    let token = format!("{TOKEN_PREFIX}{}", Alphanumeric.sample_string(&mut rand::rngs::OsRng, TOKEN_CHARS));
    tx.execute(
        "INSERT INTO oauth_tokens (token_hash, client_id, scope, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
        &[&hash_key(&token).to_vec(), &client_id, &held.as_str(), &(ttl_s as f64)],
    )
    .await?;
    tx.commit().await?;
    Ok(IssuedToken { access_token: token, expires_in_s: ttl_s, scope: held, client_id })
}

/// Each space-separated scope must be the role the client holds.
fn check_scope(held: Role, scope: Option<&str>) -> Result<(), OAuthError> {
    let Some(scope) = scope else { return Ok(()) };
    let mut asked = scope.split(' ').peekable();
    if asked.peek().is_none() || scope.split(' ').any(|s| s != held.as_str()) {
        return Err(OAuthError::InvalidScope { held: held.as_str(), asked: scope.to_owned() });
    }
    Ok(())
}

/// Compares two digests without stopping at the first difference.
fn same_hash(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Whose token `token` is, or why it does not work.
pub async fn authenticate_token(pool: &Pool, token: &str) -> ServiceResult<TokenCheck> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(TokenCheck::Unknown);
    }
    let client = pool.get().await?;
    // Prepared once per connection: every request with a token runs it.
    let statement = client
        .prepare_typed_cached(
            "SELECT c.client_id, c.tenant_id, t.scope,
                    CASE WHEN c.mode = 'live' OR c.legacy_live THEN 'live' ELSE 'test' END,
                    c.revoked_at IS NOT NULL, t.expires_at <= now(), c.allowed_ips,
                    CASE WHEN c.mode = 'live' OR c.legacy_live THEN c.tenant_id
                         ELSE (SELECT s.tenant_id FROM tenants s WHERE s.live_tenant_id = c.tenant_id AND NOT s.livemode)
                    END
             FROM oauth_tokens t JOIN oauth_clients c ON c.client_id = t.client_id
             -- A client of a test scope (not of a tenant) is no client.
             JOIN tenants owner ON owner.tenant_id = c.tenant_id AND owner.livemode
             WHERE t.token_hash = $1",
            &[Type::BYTEA],
        )
        .await?;
    let Some(row) = client.query_opt(&statement, &[&hash_key(token).to_vec()]).await? else {
        return Ok(TokenCheck::Unknown);
    };
    if row.try_get::<_, bool>(4)? {
        return Ok(TokenCheck::Revoked);
    }
    if row.try_get::<_, bool>(5)? {
        return Ok(TokenCheck::Expired);
    }
    let scope: String = row.try_get(2)?;
    let mode: String = row.try_get(3)?;
    let tenant_id: Uuid = row.try_get(1)?;
    let scope_id: Option<Uuid> = row.try_get(7)?;
    Ok(TokenCheck::Valid(TokenOwner {
        client_id: row.try_get(0)?,
        tenant_id,
        scope_id: scope_id.ok_or_else(|| ServiceError::internal(format!("tenant {tenant_id} has no test scope")))?,
        scope: Role::parse(&scope).ok_or_else(|| ServiceError::internal(format!("stored scope {scope:?}")))?,
        mode: KeyMode::parse(&mode).ok_or_else(|| ServiceError::internal(format!("stored mode {mode:?}")))?,
        allowed_ips: parse_networks(row.try_get(6)?)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_names_only_the_held_role() {
        assert!(check_scope(Role::Finance, None).is_ok());
        assert!(check_scope(Role::Finance, Some("finance")).is_ok());
        assert!(check_scope(Role::Finance, Some("finance finance")).is_ok());
        for asked in ["admin", "finance admin", "", " finance", "Finance"] {
            assert!(
                matches!(check_scope(Role::Finance, Some(asked)), Err(OAuthError::InvalidScope { .. })),
                "{asked:?}"
            );
        }
    }

    #[test]
    fn digests_compare_whole() {
        assert!(same_hash(&[1, 2, 3], &[1, 2, 3]));
        assert!(!same_hash(&[1, 2, 3], &[1, 2, 4]));
        assert!(!same_hash(&[1, 2], &[1, 2, 3]));
    }
}
