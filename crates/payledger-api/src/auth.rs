//! API keys: `Authorization: Bearer pl_test_...`. A key belongs to one tenant and has one
//! role; routes state which roles they admit.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use tokio_postgres::types::Type;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

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
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Writer => "writer",
            Role::Finance => "finance",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "writer" => Some(Role::Writer),
            "finance" => Some(Role::Finance),
            "auditor" => Some(Role::Auditor),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyMode {
    Test,
    Live,
}

impl KeyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyMode::Test => "test",
            KeyMode::Live => "live",
        }
    }

    pub fn parse(s: &str) -> Option<KeyMode> {
        match s {
            "test" => Some(KeyMode::Test),
            "live" => Some(KeyMode::Live),
            _ => None,
        }
    }
}

/// Roles admitted by each kind of route.
pub const COMMAND_ROLES: &[Role] = &[Role::Writer];
pub const READ_MODEL_ROLES: &[Role] = &[Role::Writer, Role::Finance, Role::Auditor, Role::Admin];
pub const EVENT_READ_ROLES: &[Role] = &[Role::Auditor, Role::Finance, Role::Admin];
pub const PROJECTION_ROLES: &[Role] = &[Role::Finance, Role::Admin];
pub const ADMIN_ROLES: &[Role] = &[Role::Admin];

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
    pub role: Role,
}

impl Principal {
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
        let principal = principal_of(&parts.headers, state).await?;
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
    let principal = match principal_of(request.headers(), &state).await {
        Ok(principal) => principal,
        Err(err) => return err.into_response(),
    };
    if let Err(err) = principal.require(roles) {
        return err.into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

async fn principal_of(headers: &axum::http::HeaderMap, state: &AppState) -> ApiResult<Principal> {
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
    let principal =
        authenticate(&state.pool, key).await?.ok_or_else(|| ApiError::unauthenticated("unknown or revoked API key"))?;
    tracing::Span::current().record("tenant_id", tracing::field::display(principal.tenant_id));
    Ok(principal)
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

async fn authenticate(pool: &deadpool_postgres::Pool, key: &str) -> ApiResult<Option<Principal>> {
    if !(key.starts_with("pl_test_") || key.starts_with("pl_live_")) {
        return Ok(None);
    }
    let client = pool.get().await?;
    let hash = hash_key(key).to_vec();
    let row = client
        .query_typed_opt(
            "SELECT key_id, tenant_id, role FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
            &[(&hash, Type::BYTEA)],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let role: String = row.try_get(2)?;
    let role = Role::parse(&role).ok_or_else(|| ApiError::internal(format!("stored role {role:?}")))?;
    Ok(Some(Principal { key_id: row.try_get(0)?, tenant_id: row.try_get(1)?, role }))
}
