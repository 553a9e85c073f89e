//! The bearer credentials over HTTP: an API key (`Authorization: Bearer pl_test_...`) or an
//! OAuth access token (`Bearer pl_at_...`, from `POST /v1/oauth/token`). Routes state which
//! roles they admit; keys are `payledger_service::tenants`, tokens `payledger_service::oauth`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use payledger_service::admin_log::Actor;
use payledger_service::key_usage::record_usage;
use payledger_service::oauth::{authenticate_token, TokenCheck, TOKEN_PREFIX};
pub use payledger_service::tenants::Role;
use payledger_service::tenants::{authenticate, Credential, KeyCheck, KeyMode, KeyRateLimit};
use uuid::Uuid;

use crate::client_ip::client_ip;
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::rate_limit::{Decision, Limit};
use crate::state::AppState;

/// Roles admitted by each kind of route.
pub const COMMAND_ROLES: &[Role] = &[Role::Writer];
pub const READ_MODEL_ROLES: &[Role] = &[Role::Writer, Role::Finance, Role::Auditor, Role::Admin];
pub const EVENT_READ_ROLES: &[Role] = &[Role::Auditor, Role::Finance, Role::Admin];
pub const PROJECTION_ROLES: &[Role] = &[Role::Finance, Role::Admin];
pub const ADMIN_ROLES: &[Role] = &[Role::Admin];
pub const RECONCILIATION_ROLES: &[Role] = &[Role::Finance, Role::Auditor, Role::Admin];

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The data scope every request reads and writes: the tenant's live data for a live
    /// credential, its test scope for a test one (DESIGN §12).
    pub tenant_id: Uuid,
    /// The tenant the credential belongs to (its keys and clients are listed under it).
    pub account_id: Uuid,
    pub mode: KeyMode,
    /// The API key's id, or the OAuth client's.
    pub key_id: Uuid,
    pub role: Role,
    pub credential: Credential,
}

impl Principal {
    /// Whether the caller reads and writes the tenant's live data (else its test data).
    pub fn is_live(&self) -> bool {
        self.mode == KeyMode::Live
    }

    /// This caller as the actor of an admin action, with the request it came in.
    pub fn actor(&self) -> Actor {
        match self.credential {
            Credential::ApiKey => Actor::api_key(self.key_id, crate::request_id::current()),
            Credential::OAuthClient => Actor::oauth_client(self.key_id, crate::request_id::current()),
        }
    }

    /// `api_key:<id>` or `oauth_client:<id>`.
    pub fn actor_name(&self) -> String {
        format!("{}:{}", self.credential.as_str(), self.key_id)
    }

    /// Refuses with 403 unless this key's role is one of `roles`.
    pub fn require(&self, roles: &[Role]) -> ApiResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!("a {} key cannot do this", self.role.as_str())))
        }
    }
}

/// Longest Authorization header value considered.
const AUTH_HEADER_MAX_LEN: usize = 200;

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    /// The principal [`gate`] found, else the key is looked up here.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        if let Some(principal) = parts.extensions.get::<Principal>() {
            return Ok(principal.clone());
        }
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
        let (principal, _) = principal_of(&parts.headers, peer, state).await?;
        parts.extensions.insert(principal.clone());
        Ok(principal)
    }
}

/// Route middleware: authenticates and checks the role before the handler reads anything
/// of the request (its path, query or body), so a caller without the role learns nothing
/// from how its input would have been judged.
pub async fn gate(
    State((state, roles)): State<(AppState, &'static [Role])>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0);
    let (principal, decision) = match principal_of(request.headers(), peer, &state).await {
        Ok(found) => found,
        Err(err) => return err.into_response(),
    };
    if let Err(err) = principal.require(roles) {
        return err.into_response();
    }
    let live = principal.is_live();
    request.extensions_mut().insert(principal);
    let mut response = crate::livemode::mark(next.run(request).await, live).await;
    decision.write_headers(response.headers_mut());
    response
}

/// The key's owner, and its rate-limit decision (a refusal is the error, 429).
async fn principal_of(
    headers: &axum::http::HeaderMap,
    peer: Option<SocketAddr>,
    state: &AppState,
) -> ApiResult<(Principal, Decision)> {
    let header = headers
        .get(axum::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("missing Authorization: Bearer <api key>"))?;
    let key = header
        .to_str()
        .ok()
        .filter(|h| h.len() <= AUTH_HEADER_MAX_LEN)
        .and_then(|h| h.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::unauthenticated("malformed Authorization header; use Bearer <api key>"))?;
    if key.starts_with(TOKEN_PREFIX) {
        return token_principal(key, headers, peer, state).await;
    }
    let owner = match authenticate(&state.pool, key).await? {
        KeyCheck::Valid(owner) => owner,
        KeyCheck::Unknown => return Err(ApiError::unauthenticated("unknown API key")),
        KeyCheck::Revoked => return Err(ApiError::of(ApiCode::ApiKeyRevoked, "this API key was revoked")),
        KeyCheck::Expired => return Err(ApiError::of(ApiCode::ApiKeyExpired, "this API key has expired")),
    };
    tracing::Span::current().record("tenant_id", tracing::field::display(owner.scope_id));
    check_allowed_ips(owner.allowed_ips.as_deref(), peer, headers, state, "API key")?;
    let decision = state.key_rate_limits.check(owner.key_id, key_limit(state, owner.rate_limit));
    if let Decision::Refused { .. } = decision {
        return Err(rate_limited(decision, "this API key"));
    }
    count_use(state, owner.key_id);
    let principal = Principal {
        tenant_id: owner.scope_id,
        account_id: owner.tenant_id,
        mode: owner.mode,
        key_id: owner.key_id,
        role: owner.role,
        credential: Credential::ApiKey,
    };
    Ok((principal, decision))
}

/// The token's client, with the token's scope as its role; the client's allow-list and the
/// default rate limit (per client) apply as to a key.
async fn token_principal(
    token: &str,
    headers: &axum::http::HeaderMap,
    peer: Option<SocketAddr>,
    state: &AppState,
) -> ApiResult<(Principal, Decision)> {
    let owner = match authenticate_token(&state.pool, token).await? {
        TokenCheck::Valid(owner) => owner,
        TokenCheck::Unknown => return Err(invalid_token(ApiCode::InvalidAccessToken, "unknown access token")),
        TokenCheck::Expired => return Err(invalid_token(ApiCode::AccessTokenExpired, "this access token has expired")),
        TokenCheck::Revoked => {
            return Err(invalid_token(ApiCode::AccessTokenRevoked, "this access token's client was revoked"))
        }
    };
    tracing::Span::current().record("tenant_id", tracing::field::display(owner.scope_id));
    check_allowed_ips(owner.allowed_ips.as_deref(), peer, headers, state, "OAuth client")?;
    let decision = state.key_rate_limits.check(owner.client_id, key_limit(state, KeyRateLimit::default()));
    if let Decision::Refused { .. } = decision {
        return Err(rate_limited(decision, "this OAuth client"));
    }
    let principal = Principal {
        tenant_id: owner.scope_id,
        account_id: owner.tenant_id,
        mode: owner.mode,
        key_id: owner.client_id,
        role: owner.scope,
        credential: Credential::OAuthClient,
    };
    Ok((principal, decision))
}

/// 401 with RFC 6750's `WWW-Authenticate: Bearer error="invalid_token"`.
fn invalid_token(code: ApiCode, message: &'static str) -> ApiError {
    let mut err = ApiError::of(code, message);
    let mut headers = axum::http::HeaderMap::new();
    let challenge = format!("Bearer realm=\"payledger\", error=\"invalid_token\", error_description=\"{message}\"");
    if let Ok(value) = axum::http::HeaderValue::from_str(&challenge) {
        headers.insert(axum::http::header::WWW_AUTHENTICATE, value);
    }
    err.headers = Some(Box::new(headers));
    err
}

/// 403 `ip_not_allowed` unless the request comes from one of `allowed` (`None`: anywhere).
fn check_allowed_ips(
    allowed: Option<&[ipnet::IpNet]>,
    peer: Option<SocketAddr>,
    headers: &axum::http::HeaderMap,
    state: &AppState,
    whose: &str,
) -> ApiResult<()> {
    let Some(allowed) = allowed else { return Ok(()) };
    let client = client_ip(peer, headers, &state.config.trusted_proxies);
    if client.is_some_and(|ip| allowed.iter().any(|net| net.contains(&ip))) {
        return Ok(());
    }
    let shown = client.map_or("an unknown address".to_owned(), |ip| ip.to_string());
    Err(ApiError::of(ApiCode::IpNotAllowed, format!("this {whose} may not be used from {shown}")))
}

/// The key's own limit where set, else the server's default.
fn key_limit(state: &AppState, own: KeyRateLimit) -> Limit {
    let per_s = own.rate_limit_per_s.and_then(|n| u32::try_from(n).ok()).unwrap_or(state.config.rate_limit_per_s);
    let burst = own.rate_limit_burst.and_then(|n| u32::try_from(n).ok()).unwrap_or(state.config.rate_limit_burst);
    Limit::of(per_s, burst)
}

/// 429 `rate_limited` with `Retry-After` and the `RateLimit-*` headers; counted.
pub fn rate_limited(decision: Decision, whose: &'static str) -> ApiError {
    metrics::counter!("payledger_rate_limited_total", "limit" => whose).increment(1);
    let mut err = ApiError::of(ApiCode::RateLimited, format!("too many requests for {whose}; retry after Retry-After"));
    let mut headers = axum::http::HeaderMap::new();
    decision.write_headers(&mut headers);
    err.headers = Some(Box::new(headers));
    err
}

/// Counts the use; writes the key's count in the background when its interval is over (a
/// failed write loses those uses, never the request).
fn count_use(state: &AppState, key_id: Uuid) {
    let Some(uses) = state.key_usage.count(key_id) else { return };
    let pool = state.pool.clone();
    tokio::spawn(async move {
        if let Err(error) = record_usage(&pool, key_id, uses).await {
            tracing::warn!(%key_id, uses, error = %error, "could not record API key usage");
        }
    });
}
