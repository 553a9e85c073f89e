use chrono::{DateTime, Utc};
use serde_json::Value;
use uuid::Uuid;

/// A stream is named per tenant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamKey {
    pub tenant_id: Uuid,
    pub stream_id: String,
}

impl StreamKey {
    pub fn new(tenant_id: Uuid, stream_id: impl Into<String>) -> Self {
        StreamKey { tenant_id, stream_id: stream_id.into() }
    }
}

/// The optimistic-concurrency guard of an append. Versions start at 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// The stream must not exist yet.
    NoStream,
    /// Append after whatever is there (appends to the same stream are serialised).
    Any,
    /// The stream's last version must be exactly this.
    Exact(i64),
}

/// An event to append. `recorded_at` is set by the store.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Value,
    pub metadata: Value,
    pub dedupe_key: Option<String>,
}

impl NewEvent {
    pub fn new(event_type: impl Into<String>, schema_version: i32, payload: Value) -> Self {
        NewEvent {
            event_id: Uuid::now_v7(),
            event_type: event_type.into(),
            schema_version,
            payload,
            metadata: Value::Object(Default::default()),
            dedupe_key: None,
        }
    }

    pub fn with_metadata(mut self, metadata: Value) -> Self {
        self.metadata = metadata;
        self
    }

    pub fn with_dedupe_key(mut self, dedupe_key: impl Into<String>) -> Self {
        self.dedupe_key = Some(dedupe_key.into());
        self
    }
}

/// A stored event, as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub global_position: i64,
    pub tx_id: u64,
    pub event_id: Uuid,
    pub tenant_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub event_type: String,
    pub schema_version: i32,
    pub payload: Value,
    pub metadata: Value,
    pub recorded_at: DateTime<Utc>,
    pub dedupe_key: Option<String>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

impl RecordedEvent {
    /// The read-order position of this event.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint { tx_id: self.tx_id, position: self.global_position }
    }
}

/// A place in the read order `(tx_id, global_position)`. Never the position alone: positions
/// are handed out before commit, and transactions commit in another order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    pub tx_id: u64,
    pub position: i64,
}

impl Checkpoint {
    /// Before the first event.
    pub const START: Checkpoint = Checkpoint { tx_id: 0, position: 0 };
}

/// One appended event's coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendedEvent {
    pub event_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub global_position: i64,
}

/// What an append wrote. All events of one append share one transaction id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub tx_id: u64,
    pub events: Vec<AppendedEvent>,
}

impl AppendOutcome {
    /// The checkpoint just past this append: a reader at or beyond it has seen every event of it.
    pub fn checkpoint(&self) -> Checkpoint {
        let position = self.events.iter().map(|e| e.global_position).max().unwrap_or(0);
        Checkpoint { tx_id: self.tx_id, position }
    }

    /// The last event written to `stream_id`, if this append wrote to it.
    pub fn last_of(&self, stream_id: &str) -> Option<&AppendedEvent> {
        self.events.iter().filter(|e| e.stream_id == stream_id).max_by_key(|e| e.stream_version)
    }

    /// The last version written to `stream_id`, if this append wrote to it.
    pub fn version_of(&self, stream_id: &str) -> Option<i64> {
        self.events.iter().filter(|e| e.stream_id == stream_id).map(|e| e.stream_version).max()
    }
}
