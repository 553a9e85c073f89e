//! OAuth2 client credentials (RFC 6749 §4.4): a service exchanges its client id and secret
//! for a short-lived bearer token that works wherever an API key works (DESIGN §12).
//!
//! - [`clients`]: creating, listing and revoking clients (each an admin event);
//! - [`tokens`]: issuing a token for a client, and what a presented token is.

pub mod clients;
pub mod tokens;

pub use clients::{
    create_client, list_clients, parse_client_id, revoke_client, show_client_id, ClientInfo, ClientSpec, CreatedClient,
};
pub use tokens::{
    authenticate_token, issue_token, IssuedToken, TokenCheck, TokenOwner, MAX_LIVE_TOKENS_PER_CLIENT, TOKEN_PREFIX,
    TOKEN_TTL_DEFAULT_S, TOKEN_TTL_MAX_S, TOKEN_TTL_MIN_S,
};

/// Why a token request is refused, as RFC 6749 §5.2 names it.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// Unknown client, wrong secret or revoked client: one answer for all.
    #[error("client authentication failed")]
    InvalidClient,
    #[error("the client holds the scope {held}; {asked:?} is not one it holds")]
    InvalidScope { held: &'static str, asked: String },
    /// The client may not be used from the address the request came from.
    #[error("this client may not be used from {0}")]
    UnauthorizedClient(String),
    #[error("a client has at most {max} unexpired tokens; reuse a token until it expires")]
    TooManyTokens { max: i64 },
    #[error(transparent)]
    Service(#[from] crate::ServiceError),
}

impl From<tokio_postgres::Error> for OAuthError {
    fn from(err: tokio_postgres::Error) -> Self {
        OAuthError::Service(crate::ServiceError::from(err))
    }
}

impl From<deadpool_postgres::PoolError> for OAuthError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        OAuthError::Service(crate::ServiceError::from(err))
    }
}
