//! The one place where errors become HTTP: `{"error": {type, code, message, param, request_id}}`.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use payledger_core::{DomainError, ErrorKind};
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
            | StoreError::Corrupt(_)) => ApiError::internal(other),
        }
    }
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
