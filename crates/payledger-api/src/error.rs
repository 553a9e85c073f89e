//! The one place where errors become HTTP: `{"error": {type, code, message, param, request_id}}`.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use payledger_core::{DomainError, ErrorKind};
use payledger_service::webhooks::WebhookError;
use payledger_service::ServiceError;
use payledger_store::StoreError;
use serde_json::json;

use crate::request_id;

/// The broad class of an error, as clients branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorType {
    InvalidRequest,
    Authentication,
    Permission,
    NotFound,
    Conflict,
    RuleViolation,
    Overloaded,
    Internal,
}

impl ErrorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Permission => "permission_error",
            ErrorType::NotFound => "not_found_error",
            ErrorType::Conflict => "conflict_error",
            ErrorType::RuleViolation => "rule_violation_error",
            ErrorType::Overloaded => "overloaded_error",
            ErrorType::Internal => "api_error",
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message} ({code})")]
pub struct ApiError {
    pub status: StatusCode,
    pub error_type: ErrorType,
    pub code: Cow<'static, str>,
    pub message: String,
    pub param: Option<String>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        error_type: ErrorType,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError { status, error_type, code: code.into(), message: message.into(), param: None }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorType::InvalidRequest, code, message)
    }

    pub fn invalid_param(param: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::invalid(code, message).with_param(param)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorType::NotFound, "resource_missing", format!("no such {what}"))
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorType::Authentication, "invalid_api_key", message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorType::Permission, "insufficient_role", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorType::Conflict, code, message)
    }

    pub fn unprocessable(code: impl Into<Cow<'static, str>>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorType::RuleViolation, code, message)
    }

    pub fn overloaded(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, ErrorType::Overloaded, "overloaded", message)
    }

    /// An internal failure: logged in full here, shown to the client without detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::Internal,
            "internal_error",
            "an internal error occurred",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        json!({
            "error": {
                "type": self.error_type.as_str(),
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "request_id": request_id::current(),
            }
        })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("payledger_errors_total", "code" => self.code.to_string()).increment(1);
        (self.status, Json(self.body())).into_response()
    }
}

impl From<DomainError> for ApiError {
    fn from(err: DomainError) -> Self {
        let (status, error_type) = match err.kind() {
            ErrorKind::NotFound => (StatusCode::NOT_FOUND, ErrorType::NotFound),
            ErrorKind::AlreadyExists => (StatusCode::CONFLICT, ErrorType::Conflict),
            ErrorKind::InvalidInput => (StatusCode::BAD_REQUEST, ErrorType::InvalidRequest),
            ErrorKind::RuleViolated => (StatusCode::UNPROCESSABLE_ENTITY, ErrorType::RuleViolation),
        };
        let mut api = ApiError::new(status, error_type, err.code(), err.to_string());
        api.param = err.param().map(str::to_owned);
        api
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict { .. } => {
                ApiError::conflict("concurrent_update", "the resource was changed concurrently; retry the request")
            }
            StoreError::Duplicate { .. } | StoreError::DuplicateEventId(_) => {
                ApiError::conflict("duplicate", "this was already recorded")
            }
            StoreError::InvalidData(message) => ApiError::invalid("invalid_characters", message),
            StoreError::Busy(message) => {
                ApiError::conflict("resource_busy", format!("{message}; retry the request shortly"))
            }
            StoreError::Db(e) if transient(&e) => {
                tracing::warn!(error = %e, "transient database error");
                ApiError::overloaded("the ledger is busy; retry the request")
            }
            StoreError::Pool(e) => {
                tracing::warn!(error = %e, "database pool exhausted or unreachable");
                ApiError::overloaded("the ledger is busy; retry shortly")
            }
            other @ (StoreError::InvalidAppend(_)
            | StoreError::Db(_)
            | StoreError::Config(_)
            | StoreError::Migration(_)
            | StoreError::Corrupt(_)) => ApiError::internal(describe_store_error(&other)),
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(err: ServiceError) -> Self {
        let message = err.to_string();
        match err {
            ServiceError::Domain(e) => ApiError::from(e),
            ServiceError::DomainAt { error, param } => ApiError::from(error).with_param(param),
            ServiceError::Store(e) => ApiError::from(e),
            ServiceError::IdempotencyKeyReused => ApiError::unprocessable("idempotency_key_reused", message),
            ServiceError::IdempotencyKeyInUse => ApiError::conflict("idempotency_key_in_use", message),
            ServiceError::ConcurrentUpdate => ApiError::conflict("concurrent_update", message),
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::TenantExists { name } => {
                ApiError::conflict("tenant_exists", format!("a tenant named {name:?} exists"))
            }
            ServiceError::TenantNameInvalid => {
                ApiError::invalid_param("name", "tenant_name_invalid", payledger_service::error::TENANT_NAME_RULE)
            }
            ServiceError::Internal(detail) => ApiError::internal(detail),
        }
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

/// A store error for the log: a database error with PostgreSQL's own words (tokio-postgres
/// displays only "db error" for those), anything else as it displays itself.
pub fn describe_store_error(err: &StoreError) -> String {
    match err {
        StoreError::Db(e) => describe_db_error(e),
        other => other.to_string(),
    }
}

/// PostgreSQL's code, message, detail and hint when the server answered; else the client's error.
pub fn describe_db_error(err: &tokio_postgres::Error) -> String {
    let Some(db) = err.as_db_error() else { return format!("database error: {err}") };
    let mut text = format!("database error {}: {}", db.code().code(), db.message());
    // A constraint violation's detail quotes the failing row (client data, secrets): not logged.
    let quotes_row = db.code().code().starts_with("23");
    if let Some(detail) = db.detail().filter(|_| !quotes_row) {
        text.push_str(&format!("; detail: {detail}"));
    }
    if let Some(hint) = db.hint() {
        text.push_str(&format!("; hint: {hint}"));
    }
    if let Some(place) = db.where_() {
        text.push_str(&format!("; where: {place}"));
    }
    text
}

/// Timeouts, cancellations, serialization failures and deadlocks: the request did not take
/// effect and a retry may succeed.
fn transient(e: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    matches!(
        e.code(),
        Some(&SqlState::QUERY_CANCELED)
            | Some(&SqlState::LOCK_NOT_AVAILABLE)
            | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
            | Some(&SqlState::T_R_DEADLOCK_DETECTED)
            | Some(&SqlState::ADMIN_SHUTDOWN)
            | Some(&SqlState::TOO_MANY_CONNECTIONS)
    )
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(err: tokio_postgres::Error) -> Self {
        ApiError::from(StoreError::Db(err))
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        ApiError::from(StoreError::Pool(err))
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// Longest plain-text error body carried over into the shaped message.
const STRAY_MESSAGE_MAX_BYTES: usize = 512;

/// Outermost net: an error response that something other than [`ApiError`] produced (an
/// axum rejection, a layer) is rewritten in the error shape, keeping its status.
///
/// What cannot be shaped: hyper answers some requests itself before any service runs, with a
/// bare status line, `content-length: 0` and a closed connection (hyper 1,
/// `proto::h1::role::Server::on_error`, which has no hook): 400 for an unparsable request
/// line or header (a control byte in a header, a space in the target, a bad method or
/// version), 414 for a request target over 65534 bytes, and 431 for more than 100 headers or
/// a head larger than its read buffer (about 400 KiB). Below those, [`crate::extract::head_limits`]
/// answers 414 and 431 in the shape.
pub async fn shape_stray_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, STRAY_MESSAGE_MAX_BYTES)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_lowercase());
    let (error_type, code) = stray_class(status);
    let message = if status.is_server_error() {
        // Server-side detail stays in the log.
        tracing::error!(%status, detail = %text, "unshaped error response");
        status.canonical_reason().unwrap_or("server error").to_lowercase()
    } else {
        text
    };
    let shaped = ApiError::new(status, error_type, code, message);
    let mut shaped = shaped.into_response();
    for name in [axum::http::header::RETRY_AFTER, axum::http::header::ALLOW] {
        if let Some(value) = parts.headers.get(&name) {
            shaped.headers_mut().insert(name, value.clone());
        }
    }
    shaped
}

fn stray_class(status: StatusCode) -> (ErrorType, &'static str) {
    match status {
        StatusCode::UNAUTHORIZED => (ErrorType::Authentication, "invalid_api_key"),
        StatusCode::FORBIDDEN => (ErrorType::Permission, "insufficient_role"),
        StatusCode::NOT_FOUND => (ErrorType::NotFound, "route_not_found"),
        StatusCode::METHOD_NOT_ALLOWED => (ErrorType::InvalidRequest, "method_not_allowed"),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorType::InvalidRequest, "body_too_large"),
        StatusCode::URI_TOO_LONG => (ErrorType::InvalidRequest, "uri_too_long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (ErrorType::InvalidRequest, "unsupported_media_type"),
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => (ErrorType::InvalidRequest, "headers_too_large"),
        StatusCode::UNPROCESSABLE_ENTITY => (ErrorType::RuleViolation, "unprocessable"),
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            (ErrorType::Overloaded, "overloaded")
        }
        s if s.is_server_error() => (ErrorType::Internal, "internal_error"),
        _ => (ErrorType::InvalidRequest, "invalid_request"),
    }
}
