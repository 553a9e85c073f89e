//! Typed errors of the webhook work, and their one mapping to HTTP.

use axum::http::StatusCode;
use payledger_gateways::{SecretError, SignatureError};
use payledger_store::StoreError;

use crate::error::{ApiError, ErrorType};

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
    /// Stored webhook data that cannot be read back (should never happen: we wrote it).
    #[error("stored webhook data is unreadable: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Raised by the shared command pipeline (stream loading, deciding).
    #[error(transparent)]
    Service(#[from] payledger_service::ServiceError),
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

impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        let message = err.to_string();
        match err {
            WebhookError::EndpointNotFound => ApiError::not_found("webhook endpoint"),
            WebhookError::TenantNotFound => ApiError::not_found("tenant"),
            WebhookError::SecretNotFound => ApiError::not_found("webhook secret"),
            WebhookError::InvalidSecret(_) => ApiError::invalid_param("secret", "secret_invalid", message),
            WebhookError::SecretRequired { .. } => ApiError::invalid_param("secret", "secret_required", message),
            WebhookError::TooManyActiveSecrets { .. } => ApiError::unprocessable("too_many_active_secrets", message),
            WebhookError::LastActiveSecret => ApiError::unprocessable("last_active_secret", message),
            WebhookError::Signature(e) => {
                let (status, error_type) = match e.http_status() {
                    400 => (StatusCode::BAD_REQUEST, ErrorType::InvalidRequest),
                    _ => (StatusCode::UNAUTHORIZED, ErrorType::Authentication),
                };
                ApiError::new(status, error_type, e.code(), message)
            }
            WebhookError::BodyTooLarge { .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorType::InvalidRequest, "body_too_large", message)
            }
            WebhookError::BodyTimeout { .. } => {
                ApiError::new(StatusCode::REQUEST_TIMEOUT, ErrorType::InvalidRequest, "body_timeout", message)
            }
            WebhookError::BodyIncomplete => ApiError::invalid("body_incomplete", message),
            WebhookError::Overloaded(_) => ApiError::overloaded(message),
            WebhookError::TooManyEndpoints { .. } => ApiError::unprocessable("too_many_endpoints", message),
            WebhookError::Corrupt(_) => ApiError::internal(message),
            WebhookError::Store(e) => ApiError::from(e),
            WebhookError::Service(e) => ApiError::from(e),
        }
    }
}

pub type WebhookResult<T> = Result<T, WebhookError>;
