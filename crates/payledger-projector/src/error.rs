use payledger_store::StoreError;

/// Everything the projector, rebuild, verify and the read queries can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    /// A store error; its database errors are described as [`ProjectorError::Db`]'s.
    #[error("{}", describe_store_error(.0))]
    Store(#[from] StoreError),

    /// Shown with the server's SQLSTATE, message, detail and hint (the driver's own
    /// `Display` says only "db error").
    #[error("database error: {}", describe_db_error(.0))]
    Db(#[from] tokio_postgres::Error),

    #[error("database unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),

    /// An event of an order or payment stream that this build cannot read. The projector
    /// stops at it rather than skip money silently.
    #[error("event at position {position} ({event_type} in {stream_id}) cannot be projected: {reason}")]
    Undecodable { position: i64, stream_id: String, event_type: String, reason: String },

    /// Another rebuild or verify of this projection holds the maintenance lock.
    #[error("a rebuild or verify of {projection} is already running")]
    MaintenanceBusy { projection: String },

    #[error("version {version} of {projection} does not exist or is not {expected_state}")]
    VersionMissing { projection: String, version: i32, expected_state: &'static str },

    /// The checkpoint moved under a batch (another projector applied it first).
    #[error("the checkpoint of {projection} v{version} moved concurrently")]
    CheckpointMoved { projection: String, version: i32 },

    /// Writers outran the final catch-up of a rebuild every time it tried to swap.
    #[error("could not catch up with the live head in {attempts} attempts; the write load is too high, retry later")]
    SwapStarved { attempts: u32 },

    #[error("no event at position {0}")]
    UnknownPosition(i64),

    /// A `starting_after` cursor that names no item of the list.
    #[error("no item {0} to start after")]
    CursorNotFound(String),

    #[error("stored data is malformed: {0}")]
    Corrupt(String),
}

impl ProjectorError {
    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        ProjectorError::Corrupt(message.into())
    }

    /// The SQLSTATE of a database error, if the server sent one.
    pub fn sql_state(&self) -> Option<&tokio_postgres::error::SqlState> {
        match self {
            ProjectorError::Db(e) | ProjectorError::Store(StoreError::Db(e)) => e.code(),
            _ => None,
        }
    }

    /// A condition that goes away by itself (lock or statement timeout, deadlock,
    /// serialization failure, cancelled statement, too many connections): the operation took
    /// no effect and may simply be tried again.
    pub fn is_transient(&self) -> bool {
        use tokio_postgres::error::SqlState;
        matches!(
            self.sql_state(),
            Some(
                &SqlState::LOCK_NOT_AVAILABLE
                    | &SqlState::QUERY_CANCELED
                    | &SqlState::T_R_DEADLOCK_DETECTED
                    | &SqlState::T_R_SERIALIZATION_FAILURE
                    | &SqlState::TOO_MANY_CONNECTIONS
            )
        )
    }
}

fn describe_store_error(err: &StoreError) -> String {
    match err {
        StoreError::Db(e) => format!("database error: {}", describe_db_error(e)),
        other => other.to_string(),
    }
}

/// `SQLSTATE: message (detail; hint; schema.table, constraint)` of a server error, else the
/// driver's own text with its cause (a closed connection, an I/O error, ...).
pub(crate) fn describe_db_error(err: &tokio_postgres::Error) -> String {
    use std::error::Error as _;
    match err.as_db_error() {
        Some(db) => {
            let mut text = format!("{} {}: {}", db.severity(), db.code().code(), db.message());
            if let Some(detail) = db.detail() {
                text.push_str(&format!("; detail: {detail}"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            match (db.schema(), db.table()) {
                (Some(schema), Some(table)) => text.push_str(&format!("; table: {schema}.{table}")),
                (None, Some(table)) => text.push_str(&format!("; table: {table}")),
                _ => {}
            }
            if let Some(constraint) = db.constraint() {
                text.push_str(&format!("; constraint: {constraint}"));
            }
            if let Some(place) = db.where_() {
                text.push_str(&format!("; where: {place}"));
            }
            text
        }
        None => match err.source() {
            Some(cause) => format!("{err}: {cause}"),
            None => err.to_string(),
        },
    }
}
