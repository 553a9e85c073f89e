//! The one place where errors become HTTP: `{"error": {type, code, message, param, request_id}}`.

use std::borrow::Cow;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use payledger_core::{DomainError, ErrorKind};
use payledger_projector::ProjectorError;
use payledger_service::webhooks::WebhookError;
use payledger_service::ServiceError;
use payledger_store::StoreError;
use serde_json::json;

use crate::request_id;

mod code;
pub use code::ApiCode;

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
    RateLimit,
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
            ErrorType::RateLimit => "rate_limit_error",
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
    /// Itemised problems (`invalid_settlement_report`); absent from the body when `None`.
    pub details: Option<serde_json::Value>,
    /// Headers the answer carries besides the body (`Retry-After` of a rate limit).
    pub headers: Option<Box<axum::http::HeaderMap>>,
}

impl ApiError {
    /// An error with a code of another crate's typed error (`DomainError::code()`, a signature
    /// scheme's code); the API's own codes go through [`ApiError::of`].
    fn new(
        status: StatusCode,
        error_type: ErrorType,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        ApiError {
            status,
            error_type,
            code: code.into(),
            message: message.into(),
            param: None,
            details: None,
            headers: None,
        }
    }

    /// One of the API's own refusals, answered with its code's status and type.
    pub fn of(code: ApiCode, message: impl Into<String>) -> Self {
        let (status, error_type) = code.status();
        Self::new(status, error_type, code.as_str(), message)
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn invalid_param(param: &str, code: ApiCode, message: impl Into<String>) -> Self {
        Self::of(code, message).with_param(param)
    }

    pub fn not_found(what: &str) -> Self {
        Self::of(ApiCode::ResourceMissing, format!("no such {what}"))
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::of(ApiCode::InvalidApiKey, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::of(ApiCode::InsufficientRole, message)
    }

    pub fn overloaded(message: impl Into<String>) -> Self {
        Self::of(ApiCode::Overloaded, message)
    }

    /// An internal failure: logged in full here, shown to the client without detail.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "internal error");
        Self::of(ApiCode::InternalError, "an internal error occurred")
    }

    pub fn body(&self) -> serde_json::Value {
        let mut body = json!({
            "error": {
                "type": self.error_type.as_str(),
                "code": self.code,
                "message": self.message,
                "param": self.param,
                "request_id": request_id::current(),
            }
        });
        if let Some(details) = &self.details {
            body["error"]["details"] = details.clone();
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        metrics::counter!("payledger_errors_total", "code" => self.code.to_string()).increment(1);
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(headers) = self.headers {
            response.headers_mut().extend(*headers);
        }
        response
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
                ApiError::of(ApiCode::ConcurrentUpdate, "the resource was changed concurrently; retry the request")
            }
            StoreError::Duplicate { .. } | StoreError::DuplicateEventId(_) => {
                ApiError::of(ApiCode::Duplicate, "this was already recorded")
            }
            StoreError::InvalidData(message) => ApiError::of(ApiCode::InvalidCharacters, message),
            StoreError::Busy(message) => {
                ApiError::of(ApiCode::ResourceBusy, format!("{message}; retry the request shortly"))
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
            ServiceError::Secrets(_) => ApiError::internal(message),
            ServiceError::IdempotencyKeyReused => ApiError::of(ApiCode::IdempotencyKeyReused, message),
            ServiceError::IdempotencyKeyInUse => ApiError::of(ApiCode::IdempotencyKeyInUse, message),
            ServiceError::ConcurrentUpdate => ApiError::of(ApiCode::ConcurrentUpdate, message),
            ServiceError::NotFound(what) => ApiError::not_found(what),
            ServiceError::TenantExists { name } => {
                ApiError::of(ApiCode::TenantExists, format!("a tenant named {name:?} exists"))
            }
            ServiceError::TenantNameInvalid => {
                ApiError::invalid_param("name", ApiCode::TenantNameInvalid, payledger_service::error::TENANT_NAME_RULE)
            }
            ServiceError::LabelInvalid => ApiError::invalid_param(
                "label",
                ApiCode::LabelInvalid,
                format!("label is 1 to {} characters", payledger_core::LABEL_MAX_CHARS),
            ),
            ServiceError::ExpiryInvalid { param, message } => {
                ApiError::invalid_param(param, ApiCode::ExpiryInvalid, message)
            }
            ServiceError::KeyNotActive { state } => ApiError::of(
                ApiCode::KeyNotActive,
                format!("the key is {state}; only an active key that has not been rolled can be rolled"),
            ),
            ServiceError::AllowedIpsInvalid(text) => {
                ApiError::invalid_param("allowed_ips", ApiCode::AllowedIpsInvalid, text)
            }
            ServiceError::RateLimitInvalid { max } => ApiError::invalid_param(
                "rate_limit_per_s",
                ApiCode::RateLimitInvalid,
                format!("rate_limit_per_s and rate_limit_burst are 1 to {max}"),
            ),
            ServiceError::TimeZoneInvalid(_) => {
                ApiError::invalid_param("time_zone", ApiCode::InvalidParameter, message)
            }
            ServiceError::PeriodInvalid(_) => ApiError::invalid_param("from", ApiCode::InvalidParameter, message),
            ServiceError::SettlementReportRefused { problems } => refused_report(message, &problems),
            ServiceError::CursorNotFound { param } => ApiError::invalid_param(param, ApiCode::CursorInvalid, message),
            ServiceError::RebuildInProgress { job_id } => {
                let mut err = ApiError::of(ApiCode::RebuildInProgress, message);
                err.details = job_id.map(|id| serde_json::json!({ "job_id": id }));
                err
            }
            ServiceError::JobFinished { .. } => ApiError::of(ApiCode::JobNotCancellable, message),
            ServiceError::Internal(detail) => ApiError::internal(detail),
        }
    }
}

/// Most problems of a refused report listed in `error.details` (the message gives the count).
pub const REPORT_DETAILS_MAX: usize = 1_000;

fn refused_report(message: String, problems: &[payledger_service::settlement::ReportProblem]) -> ApiError {
    let shown = &problems[..problems.len().min(REPORT_DETAILS_MAX)];
    let mut err = ApiError::of(ApiCode::InvalidSettlementReport, message);
    err.details = Some(serde_json::to_value(shown).unwrap_or_default());
    err
}

impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        let message = err.to_string();
        match err {
            WebhookError::EndpointNotFound => ApiError::not_found("webhook endpoint"),
            WebhookError::TenantNotFound => ApiError::not_found("tenant"),
            WebhookError::SecretNotFound => ApiError::not_found("webhook secret"),
            WebhookError::InvalidSecret(_) => ApiError::invalid_param("secret", ApiCode::SecretInvalid, message),
            WebhookError::SecretRequired { .. } => ApiError::invalid_param("secret", ApiCode::SecretRequired, message),
            WebhookError::TooManyActiveSecrets { .. } => ApiError::of(ApiCode::TooManyActiveSecrets, message),
            WebhookError::LastActiveSecret => ApiError::of(ApiCode::LastActiveSecret, message),
            WebhookError::Signature(e) => {
                let (status, error_type) = match e.http_status() {
                    400 => (StatusCode::BAD_REQUEST, ErrorType::InvalidRequest),
                    _ => (StatusCode::UNAUTHORIZED, ErrorType::Authentication),
                };
                ApiError::new(status, error_type, e.code(), message)
            }
            WebhookError::BodyTooLarge { .. } => ApiError::of(ApiCode::BodyTooLarge, message),
            WebhookError::BodyTimeout { .. } => ApiError::of(ApiCode::BodyTimeout, message),
            WebhookError::BodyIncomplete => ApiError::of(ApiCode::BodyIncomplete, message),
            WebhookError::Overloaded(_) => ApiError::overloaded(message),
            WebhookError::TooManyEndpoints { .. } => ApiError::of(ApiCode::TooManyEndpoints, message),
            WebhookError::MasterKeyMissing | WebhookError::MasterKeyMismatch { .. } => {
                let stored_id = match &err {
                    WebhookError::MasterKeyMismatch { stored_id } => Some(stored_id.as_str()),
                    _ => None,
                };
                tracing::error!(error = %message, stored_master_key_id = ?stored_id, "webhook secrets cannot be sealed or opened");
                ApiError::of(ApiCode::MasterKeyUnavailable, message)
            }
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

impl From<ProjectorError> for ApiError {
    fn from(err: ProjectorError) -> Self {
        match err {
            ProjectorError::Store(e) => e.into(),
            ProjectorError::Db(e) => e.into(),
            ProjectorError::Pool(e) => e.into(),
            ProjectorError::CursorNotFound(id) => ApiError::invalid_param(
                "starting_after",
                ApiCode::CursorInvalid,
                format!("no item {id} to start after"),
            ),
            ProjectorError::UnknownPosition(position) => ApiError::invalid_param(
                "min_position",
                ApiCode::PositionUnknown,
                format!("no event at position {position}"),
            ),
            ProjectorError::MaintenanceBusy { .. } => ApiError::of(
                ApiCode::ProjectionMaintenanceInProgress,
                "a rebuild or verify of the read-models is running; retry when it is done",
            ),
            other @ (ProjectorError::Undecodable { .. }
            | ProjectorError::VersionMissing { .. }
            | ProjectorError::CheckpointMoved { .. }
            | ProjectorError::SwapStarved { .. }
            | ProjectorError::Corrupt(_)) => ApiError::internal(other),
        }
    }
}

/// A verify that failed: interrupted by concurrent work on the read-models (retry), or the
/// projector's error as any other.
pub fn verify_failed(err: ProjectorError) -> ApiError {
    if err.is_transient() {
        tracing::warn!(error = %err, "verify interrupted by a transient database condition");
        return ApiError::of(
            ApiCode::ProjectionVerifyInterrupted,
            "the verification was interrupted by concurrent work on the read-models; retry shortly",
        );
    }
    match err {
        err @ (ProjectorError::Db(_) | ProjectorError::Store(StoreError::Db(_))) => ApiError::internal(err),
        other => other.into(),
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
    let code = stray_code(status);
    let message = if status.is_server_error() {
        // Server-side detail stays in the log.
        tracing::error!(%status, detail = %text, "unshaped error response");
        status.canonical_reason().unwrap_or("server error").to_lowercase()
    } else {
        text
    };
    // The status stays what it was (a 504 is not made a 503); the code names its class.
    let shaped = ApiError { status, ..ApiError::of(code, message) };
    let mut shaped = shaped.into_response();
    for name in [axum::http::header::RETRY_AFTER, axum::http::header::ALLOW] {
        if let Some(value) = parts.headers.get(&name) {
            shaped.headers_mut().insert(name, value.clone());
        }
    }
    shaped
}

fn stray_code(status: StatusCode) -> ApiCode {
    match status {
        StatusCode::UNAUTHORIZED => ApiCode::InvalidApiKey,
        StatusCode::FORBIDDEN => ApiCode::InsufficientRole,
        StatusCode::NOT_FOUND => ApiCode::RouteNotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiCode::BodyTooLarge,
        StatusCode::URI_TOO_LONG => ApiCode::UriTooLong,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiCode::UnsupportedMediaType,
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => ApiCode::HeadersTooLarge,
        StatusCode::UNPROCESSABLE_ENTITY => ApiCode::Unprocessable,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE | StatusCode::GATEWAY_TIMEOUT => {
            ApiCode::Overloaded
        }
        s if s.is_server_error() => ApiCode::InternalError,
        _ => ApiCode::InvalidRequest,
    }
}
