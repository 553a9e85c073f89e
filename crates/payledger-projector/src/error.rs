use payledger_store::StoreError;

/// Everything the projector, rebuild, verify and the read queries can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ProjectorError {
    #[error(transparent)]
    Store(#[from] StoreError),

    #[error("database error: {0}")]
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
}
