//! The API's own error codes (a domain refusal carries `DomainError::code()`, a signature
//! failure its scheme's code): each with the one status and type it is answered with.

use axum::http::StatusCode;

use super::ErrorType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiCode {
    AccessTokenExpired,
    AccessTokenRevoked,
    AllowedIpsInvalid,
    AmountInvalid,
    ApiKeyExpired,
    ApiKeyRevoked,
    BodyIncomplete,
    BodyTimeout,
    BodyTooLarge,
    CaptureMethodInvalid,
    ConcurrentUpdate,
    CurrencyInvalid,
    CursorInvalid,
    Duplicate,
    DuplicateField,
    DuplicateParameter,
    ExpiryInvalid,
    FormatInvalid,
    HeadersTooLarge,
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    InsufficientRole,
    InternalError,
    InvalidApiKey,
    InvalidCharacters,
    InvalidField,
    InvalidParameter,
    InvalidRequest,
    InvalidSettlementReport,
    InvalidAccessToken,
    IpNotAllowed,
    JobNotCancellable,
    LiveCredentialRequired,
    KeyNotActive,
    LabelInvalid,
    LastActiveSecret,
    LimitInvalid,
    MalformedJson,
    MasterKeyUnavailable,
    MetadataNumberInexact,
    MethodNotAllowed,
    MissingField,
    MissingParameter,
    ModeInvalid,
    OrderIdInvalid,
    OutcomeInvalid,
    Overloaded,
    PositionUnknown,
    ProjectionMaintenanceInProgress,
    ProjectionVerifyInterrupted,
    ProviderInvalid,
    RateLimitInvalid,
    RateLimited,
    ReadModelsBehind,
    RebuildInProgress,
    ResourceBusy,
    ResourceMissing,
    RoleInvalid,
    RouteNotFound,
    SecretInvalid,
    SecretRequired,
    StatusInvalid,
    TenantExists,
    TenantNameInvalid,
    Timeout,
    TooManyActiveSecrets,
    TooManyEndpoints,
    TooManyFeeds,
    UnknownField,
    UnknownParameter,
    Unprocessable,
    UnsupportedMediaType,
    UriTooLong,
}

impl ApiCode {
    pub const ALL: [ApiCode; 74] = [
        ApiCode::AccessTokenExpired,
        ApiCode::AccessTokenRevoked,
        ApiCode::AllowedIpsInvalid,
        ApiCode::AmountInvalid,
        ApiCode::ApiKeyExpired,
        ApiCode::ApiKeyRevoked,
        ApiCode::BodyIncomplete,
        ApiCode::BodyTimeout,
        ApiCode::BodyTooLarge,
        ApiCode::CaptureMethodInvalid,
        ApiCode::ConcurrentUpdate,
        ApiCode::CurrencyInvalid,
        ApiCode::CursorInvalid,
        ApiCode::Duplicate,
        ApiCode::DuplicateField,
        ApiCode::DuplicateParameter,
        ApiCode::ExpiryInvalid,
        ApiCode::FormatInvalid,
        ApiCode::HeadersTooLarge,
        ApiCode::IdempotencyKeyInUse,
        ApiCode::IdempotencyKeyInvalid,
        ApiCode::IdempotencyKeyReused,
        ApiCode::InsufficientRole,
        ApiCode::InternalError,
        ApiCode::InvalidApiKey,
        ApiCode::InvalidCharacters,
        ApiCode::InvalidField,
        ApiCode::InvalidParameter,
        ApiCode::InvalidRequest,
        ApiCode::InvalidSettlementReport,
        ApiCode::InvalidAccessToken,
        ApiCode::IpNotAllowed,
        ApiCode::JobNotCancellable,
        ApiCode::LiveCredentialRequired,
        ApiCode::KeyNotActive,
        ApiCode::LabelInvalid,
        ApiCode::LastActiveSecret,
        ApiCode::LimitInvalid,
        ApiCode::MalformedJson,
        ApiCode::MasterKeyUnavailable,
        ApiCode::MetadataNumberInexact,
        ApiCode::MethodNotAllowed,
        ApiCode::MissingField,
        ApiCode::MissingParameter,
        ApiCode::ModeInvalid,
        ApiCode::OrderIdInvalid,
        ApiCode::OutcomeInvalid,
        ApiCode::Overloaded,
        ApiCode::PositionUnknown,
        ApiCode::ProjectionMaintenanceInProgress,
        ApiCode::ProjectionVerifyInterrupted,
        ApiCode::ProviderInvalid,
        ApiCode::RateLimitInvalid,
        ApiCode::RateLimited,
        ApiCode::ReadModelsBehind,
        ApiCode::RebuildInProgress,
        ApiCode::ResourceBusy,
        ApiCode::ResourceMissing,
        ApiCode::RoleInvalid,
        ApiCode::RouteNotFound,
        ApiCode::SecretInvalid,
        ApiCode::SecretRequired,
        ApiCode::StatusInvalid,
        ApiCode::TenantExists,
        ApiCode::TenantNameInvalid,
        ApiCode::Timeout,
        ApiCode::TooManyActiveSecrets,
        ApiCode::TooManyEndpoints,
        ApiCode::TooManyFeeds,
        ApiCode::UnknownField,
        ApiCode::UnknownParameter,
        ApiCode::Unprocessable,
        ApiCode::UnsupportedMediaType,
        ApiCode::UriTooLong,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiCode::AccessTokenExpired => "access_token_expired",
            ApiCode::AccessTokenRevoked => "access_token_revoked",
            ApiCode::AllowedIpsInvalid => "allowed_ips_invalid",
            ApiCode::AmountInvalid => "amount_invalid",
            ApiCode::ApiKeyExpired => "api_key_expired",
            ApiCode::ApiKeyRevoked => "api_key_revoked",
            ApiCode::BodyIncomplete => "body_incomplete",
            ApiCode::BodyTimeout => "body_timeout",
            ApiCode::BodyTooLarge => "body_too_large",
            ApiCode::CaptureMethodInvalid => "capture_method_invalid",
            ApiCode::ConcurrentUpdate => "concurrent_update",
            ApiCode::CurrencyInvalid => "currency_invalid",
            ApiCode::CursorInvalid => "cursor_invalid",
            ApiCode::Duplicate => "duplicate",
            ApiCode::DuplicateField => "duplicate_field",
            ApiCode::DuplicateParameter => "duplicate_parameter",
            ApiCode::ExpiryInvalid => "expiry_invalid",
            ApiCode::FormatInvalid => "format_invalid",
            ApiCode::HeadersTooLarge => "headers_too_large",
            ApiCode::IdempotencyKeyInUse => "idempotency_key_in_use",
            ApiCode::IdempotencyKeyInvalid => "idempotency_key_invalid",
            ApiCode::IdempotencyKeyReused => "idempotency_key_reused",
            ApiCode::InsufficientRole => "insufficient_role",
            ApiCode::InternalError => "internal_error",
            ApiCode::InvalidApiKey => "invalid_api_key",
            ApiCode::InvalidCharacters => "invalid_characters",
            ApiCode::InvalidField => "invalid_field",
            ApiCode::InvalidParameter => "invalid_parameter",
            ApiCode::InvalidRequest => "invalid_request",
            ApiCode::InvalidSettlementReport => "invalid_settlement_report",
            ApiCode::InvalidAccessToken => "invalid_access_token",
            ApiCode::IpNotAllowed => "ip_not_allowed",
            ApiCode::JobNotCancellable => "job_not_cancellable",
            ApiCode::LiveCredentialRequired => "live_credential_required",
            ApiCode::KeyNotActive => "key_not_active",
            ApiCode::LabelInvalid => "label_invalid",
            ApiCode::LastActiveSecret => "last_active_secret",
            ApiCode::LimitInvalid => "limit_invalid",
            ApiCode::MalformedJson => "malformed_json",
            ApiCode::MasterKeyUnavailable => "master_key_unavailable",
            ApiCode::MetadataNumberInexact => "metadata_number_inexact",
            ApiCode::MethodNotAllowed => "method_not_allowed",
            ApiCode::MissingField => "missing_field",
            ApiCode::MissingParameter => "missing_parameter",
            ApiCode::ModeInvalid => "mode_invalid",
            ApiCode::OrderIdInvalid => "order_id_invalid",
            ApiCode::OutcomeInvalid => "outcome_invalid",
            ApiCode::Overloaded => "overloaded",
            ApiCode::PositionUnknown => "position_unknown",
            ApiCode::ProjectionMaintenanceInProgress => "projection_maintenance_in_progress",
            ApiCode::ProjectionVerifyInterrupted => "projection_verify_interrupted",
            ApiCode::ProviderInvalid => "provider_invalid",
            ApiCode::RateLimitInvalid => "rate_limit_invalid",
            ApiCode::RateLimited => "rate_limited",
            ApiCode::ReadModelsBehind => "read_models_behind",
            ApiCode::RebuildInProgress => "rebuild_in_progress",
            ApiCode::ResourceBusy => "resource_busy",
            ApiCode::ResourceMissing => "resource_missing",
            ApiCode::RoleInvalid => "role_invalid",
            ApiCode::RouteNotFound => "route_not_found",
            ApiCode::SecretInvalid => "secret_invalid",
            ApiCode::SecretRequired => "secret_required",
            ApiCode::StatusInvalid => "status_invalid",
            ApiCode::TenantExists => "tenant_exists",
            ApiCode::TenantNameInvalid => "tenant_name_invalid",
            ApiCode::Timeout => "timeout",
            ApiCode::TooManyActiveSecrets => "too_many_active_secrets",
            ApiCode::TooManyEndpoints => "too_many_endpoints",
            ApiCode::TooManyFeeds => "too_many_feeds",
            ApiCode::UnknownField => "unknown_field",
            ApiCode::UnknownParameter => "unknown_parameter",
            ApiCode::Unprocessable => "unprocessable",
            ApiCode::UnsupportedMediaType => "unsupported_media_type",
            ApiCode::UriTooLong => "uri_too_long",
        }
    }

    /// The status and type this code is always answered with.
    pub fn status(self) -> (StatusCode, ErrorType) {
        match self {
            ApiCode::AllowedIpsInvalid
            | ApiCode::AmountInvalid
            | ApiCode::BodyIncomplete
            | ApiCode::CaptureMethodInvalid
            | ApiCode::CurrencyInvalid
            | ApiCode::CursorInvalid
            | ApiCode::DuplicateField
            | ApiCode::DuplicateParameter
            | ApiCode::ExpiryInvalid
            | ApiCode::FormatInvalid
            | ApiCode::IdempotencyKeyInvalid
            | ApiCode::InvalidCharacters
            | ApiCode::InvalidField
            | ApiCode::InvalidParameter
            | ApiCode::InvalidRequest
            | ApiCode::InvalidSettlementReport
            | ApiCode::LabelInvalid
            | ApiCode::LimitInvalid
            | ApiCode::MalformedJson
            | ApiCode::MetadataNumberInexact
            | ApiCode::MissingField
            | ApiCode::MissingParameter
            | ApiCode::ModeInvalid
            | ApiCode::OrderIdInvalid
            | ApiCode::OutcomeInvalid
            | ApiCode::PositionUnknown
            | ApiCode::ProviderInvalid
            | ApiCode::RateLimitInvalid
            | ApiCode::RoleInvalid
            | ApiCode::SecretInvalid
            | ApiCode::SecretRequired
            | ApiCode::StatusInvalid
            | ApiCode::TenantNameInvalid
            | ApiCode::UnknownField
            | ApiCode::UnknownParameter => (StatusCode::BAD_REQUEST, ErrorType::InvalidRequest),
            ApiCode::ConcurrentUpdate
            | ApiCode::Duplicate
            | ApiCode::IdempotencyKeyInUse
            | ApiCode::JobNotCancellable
            | ApiCode::KeyNotActive
            | ApiCode::ProjectionMaintenanceInProgress
            | ApiCode::RebuildInProgress
            | ApiCode::ResourceBusy
            | ApiCode::TenantExists => (StatusCode::CONFLICT, ErrorType::Conflict),
            ApiCode::InsufficientRole | ApiCode::IpNotAllowed | ApiCode::LiveCredentialRequired => {
                (StatusCode::FORBIDDEN, ErrorType::Permission)
            }
            ApiCode::InternalError => (StatusCode::INTERNAL_SERVER_ERROR, ErrorType::Internal),
            ApiCode::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, ErrorType::InvalidRequest),
            ApiCode::ResourceMissing | ApiCode::RouteNotFound => (StatusCode::NOT_FOUND, ErrorType::NotFound),
            ApiCode::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, ErrorType::InvalidRequest),
            ApiCode::HeadersTooLarge => (StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, ErrorType::InvalidRequest),
            ApiCode::BodyTimeout => (StatusCode::REQUEST_TIMEOUT, ErrorType::InvalidRequest),
            ApiCode::MasterKeyUnavailable
            | ApiCode::Overloaded
            | ApiCode::ProjectionVerifyInterrupted
            | ApiCode::ReadModelsBehind
            | ApiCode::Timeout => (StatusCode::SERVICE_UNAVAILABLE, ErrorType::Overloaded),
            ApiCode::AccessTokenExpired
            | ApiCode::AccessTokenRevoked
            | ApiCode::ApiKeyExpired
            | ApiCode::ApiKeyRevoked
            | ApiCode::InvalidAccessToken
            | ApiCode::InvalidApiKey => (StatusCode::UNAUTHORIZED, ErrorType::Authentication),
            ApiCode::IdempotencyKeyReused
            | ApiCode::LastActiveSecret
            | ApiCode::TooManyActiveSecrets
            | ApiCode::TooManyEndpoints
            | ApiCode::Unprocessable => (StatusCode::UNPROCESSABLE_ENTITY, ErrorType::RuleViolation),
            ApiCode::UnsupportedMediaType => (StatusCode::UNSUPPORTED_MEDIA_TYPE, ErrorType::InvalidRequest),
            ApiCode::UriTooLong => (StatusCode::URI_TOO_LONG, ErrorType::InvalidRequest),
            ApiCode::RateLimited | ApiCode::TooManyFeeds => (StatusCode::TOO_MANY_REQUESTS, ErrorType::RateLimit),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_listed_once_in_snake_case_with_a_status_of_its_type() {
        let names: std::collections::BTreeSet<&str> = ApiCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), ApiCode::ALL.len(), "a code is listed twice");
        for code in ApiCode::ALL {
            let name = code.as_str();
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c == '_'), "{name}");
            let (status, error_type) = code.status();
            let server_side = matches!(error_type, ErrorType::Internal | ErrorType::Overloaded);
            assert_eq!(status.is_server_error(), server_side, "{name}: {status} as {}", error_type.as_str());
            assert!(status.is_client_error() || status.is_server_error(), "{name}: {status}");
        }
    }
}
