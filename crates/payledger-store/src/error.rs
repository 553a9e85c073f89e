use crate::types::ExpectedVersion;

/// Everything the store can refuse or fail with. Callers match on these; none is a panic.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("stream {stream_id} is at version {actual:?}, expected {expected:?}")]
    Conflict { stream_id: String, expected: ExpectedVersion, actual: Option<i64> },

    #[error("an event with dedupe key {dedupe_key:?} was already recorded")]
    Duplicate { dedupe_key: String },

    #[error("event id {0} was already recorded")]
    DuplicateEventId(uuid::Uuid),

    #[error("invalid append: {0}")]
    InvalidAppend(String),

    /// The data cannot be stored as given (e.g. a NUL character): the caller's input is at fault.
    #[error("invalid data: {0}")]
    InvalidData(String),

    /// A lock or the server was too busy within the time allowed; retrying later may succeed.
    #[error("busy: {0}")]
    Busy(String),

    #[error("database unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),

    #[error("database error: {0}")]
    Db(#[from] tokio_postgres::Error),

    #[error("configuration: {0}")]
    Config(String),

    #[error("migration failed: {0}")]
    Migration(String),

    #[error("stored data is malformed: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// True for errors that a retry of the whole operation may cure (optimistic conflicts,
    /// serialization failures, deadlocks).
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Conflict { .. } | StoreError::Busy(_) => true,
            StoreError::Db(e) => matches!(
                e.code(),
                Some(&tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE)
                    | Some(&tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED)
            ),
            StoreError::Duplicate { .. }
            | StoreError::DuplicateEventId(_)
            | StoreError::InvalidAppend(_)
            | StoreError::InvalidData(_)
            | StoreError::Pool(_)
            | StoreError::Config(_)
            | StoreError::Migration(_)
            | StoreError::Corrupt(_) => false,
        }
    }
}
