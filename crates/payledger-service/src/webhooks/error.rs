//! Typed errors of the webhook work (the API maps them to HTTP).

use payledger_gateways::{SecretError, SignatureError};
use payledger_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Unknown endpoint, or an endpoint of another provider or tenant: the same answer for
    /// all, so a caller learns nothing about endpoints it does not own.
    #[error("no such webhook endpoint")]
    EndpointNotFound,
    #[error("no such tenant")]
    TenantNotFound,
    #[error("no such webhook secret")]
    SecretNotFound,
    #[error("{0}")]
    InvalidSecret(#[from] SecretError),
    #[error("{provider} endpoints need the signing secret the gateway issued")]
    SecretRequired { provider: &'static str },
    #[error("an endpoint has at most {max} active secrets; retire one first")]
    TooManyActiveSecrets { max: usize },
    #[error("the last active secret cannot be retired; add its successor first")]
    LastActiveSecret,
    #[error("{0}")]
    Signature(#[from] SignatureError),
    #[error("webhook bodies are limited to {limit_bytes} bytes")]
    BodyTooLarge { limit_bytes: usize },
    #[error("the body was not received within {timeout_ms} ms")]
    BodyTimeout { timeout_ms: u64 },
    #[error("the body ended before its declared length, or could not be read")]
    BodyIncomplete,
    #[error("too many deliveries in flight for {0}; retry shortly")]
    Overloaded(&'static str),
    #[error("a tenant has at most {max} webhook endpoints")]
    TooManyEndpoints { max: i64 },
    /// No master key was given, so no secret can be sealed or opened.
    #[error("webhook signing secrets are sealed at rest and no master key was given (PAYLEDGER_MASTER_KEY)")]
    MasterKeyMissing,
    /// The secrets were sealed under another master key (rotated while this server ran, or
    /// the wrong key given). The display is what a caller may see; the id is for the log.
    #[error("the webhook secrets are sealed under another master key than the one given; retry shortly")]
    MasterKeyMismatch { stored_id: String },
    /// Stored webhook data that cannot be read back (should never happen: we wrote it).
    #[error("stored webhook data is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Raised by the shared command pipeline (stream loading, deciding).
    #[error(transparent)]
    Service(#[from] crate::ServiceError),
}

impl From<tokio_postgres::Error> for WebhookError {
    fn from(err: tokio_postgres::Error) -> Self {
        WebhookError::Store(StoreError::Db(err))
    }
}

impl From<deadpool_postgres::PoolError> for WebhookError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        WebhookError::Store(StoreError::Pool(err))
    }
}

pub type WebhookResult<T> = Result<T, WebhookError>;
