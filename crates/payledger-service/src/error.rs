//! The refusals and failures of the application layer. The API maps each variant to HTTP
//! once (`payledger-api/src/error.rs`); the CLI and the workers print or record them.

use payledger_core::DomainError;
use payledger_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    /// A domain refusal about one named input field (e.g. the `order_id` of a payment).
    #[error("{error}")]
    DomainAt { error: DomainError, param: &'static str },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The stored webhook secrets and the master key given do not agree (at startup).
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is in progress; retry later")]
    IdempotencyKeyInUse,
    /// The stream kept changing under the command, on every attempt.
    #[error("the resource kept changing concurrently; retry the request")]
    ConcurrentUpdate,
    /// A resource named by the caller does not exist (for this tenant).
    #[error("no such {0}")]
    NotFound(&'static str),
    // These name their code: the CLI prints them as they display.
    #[error("a tenant named {name:?} exists (tenant_exists)")]
    TenantExists { name: String },
    #[error("{TENANT_NAME_RULE} (tenant_name_invalid)")]
    TenantNameInvalid,
    #[error("label is 1 to {} characters (label_invalid)", payledger_core::LABEL_MAX_CHARS)]
    LabelInvalid,
    /// A key's expiry that is not in the future, or too far in it.
    #[error("{message} (expiry_invalid)")]
    ExpiryInvalid { param: &'static str, message: String },
    #[error("{0} (allowed_ips_invalid)")]
    AllowedIpsInvalid(String),
    #[error("a rate limit is 1 to {max} (rate_limit_invalid)")]
    RateLimitInvalid { max: i32 },
    /// Only a key that works and has not been rolled can be rolled.
    #[error("the key is {state}; only an active key that has not been rolled can be rolled (key_not_active)")]
    KeyNotActive { state: &'static str },
    #[error("unknown time zone {0:?} (an IANA name such as Europe/Berlin) (time_zone_invalid)")]
    TimeZoneInvalid(String),
    /// A reconciliation period the ledger will not read (reversed, too long, too many lines).
    #[error("{0}")]
    PeriodInvalid(String),
    /// A settlement report with bad lines: nothing was recorded (docs/SETTLEMENT.md).
    #[error("{}", refused_summary(problems))]
    SettlementReportRefused { problems: Vec<crate::settlement::ReportProblem> },
    /// A list cursor naming nothing of this tenant's.
    #[error("{param} names no item of this list")]
    CursorNotFound { param: &'static str },
    /// A tenant's rebuild is queued or running already (the one named, if it is known).
    #[error("a rebuild of the read-models is already queued or running (rebuild_in_progress)")]
    RebuildInProgress { job_id: Option<payledger_core::JobId> },
    /// A job that ended cannot be cancelled.
    #[error("the job has finished ({status}); it cannot be cancelled")]
    JobFinished { status: &'static str },
    /// Should never happen (a broken invariant, unreadable stored data); the detail is for the log.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ServiceError {
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        ServiceError::Internal(detail.to_string())
    }
}

impl From<tokio_postgres::Error> for ServiceError {
    fn from(err: tokio_postgres::Error) -> Self {
        ServiceError::Store(StoreError::Db(err))
    }
}

impl From<deadpool_postgres::PoolError> for ServiceError {
    fn from(err: deadpool_postgres::PoolError) -> Self {
        ServiceError::Store(StoreError::Pool(err))
    }
}

fn refused_summary(problems: &[crate::settlement::ReportProblem]) -> String {
    let Some(first) = problems.first() else { return "the settlement report was refused".into() };
    let column = first.column.as_deref().map(|c| format!(", column {c}")).unwrap_or_default();
    format!(
        "the settlement report was refused: {} problem(s); first: line {}{column}: {}",
        problems.len(),
        first.line,
        first.reason
    )
}

pub const TENANT_NAME_RULE: &str = "tenant names are 1-63 of a-z, 0-9, '-' and '_', starting with a letter or digit";

pub type ServiceResult<T> = Result<T, ServiceError>;
