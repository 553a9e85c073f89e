//! API keys over HTTP: `Authorization: Bearer pl_test_...`. Routes state which roles they
//! admit; keys themselves are `payledger_service::tenants`.

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use payledger_service::key_usage::record_usage;
pub use payledger_service::tenants::Role;
use payledger_service::tenants::{authenticate, KeyCheck};
use uuid::Uuid;

use crate::error::{ApiCode, ApiError, ApiResult};
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
    let owner = match authenticate(&state.pool, key).await? {
        KeyCheck::Valid(owner) => owner,
        KeyCheck::Unknown => return Err(ApiError::unauthenticated("unknown API key")),
        KeyCheck::Revoked => return Err(ApiError::of(ApiCode::ApiKeyRevoked, "this API key was revoked")),
        KeyCheck::Expired => return Err(ApiError::of(ApiCode::ApiKeyExpired, "this API key has expired")),
    };
    count_use(state, owner.key_id);
    let principal = Principal { tenant_id: owner.tenant_id, key_id: owner.key_id, role: owner.role };
    tracing::Span::current().record("tenant_id", tracing::field::display(principal.tenant_id));
    Ok(principal)
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
