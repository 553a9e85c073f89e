//! The store's half of an aggregate: the pure half (`decide`, `evolve`, the event codec) is
//! `payledger_core::aggregate`; here events become rows and streams are loaded and folded.

use chrono::{DateTime, Utc};
pub use payledger_core::aggregate::{Aggregate, OrderAggregate, PaymentAggregate};
use payledger_store::{read_stream, NewEvent, Queries, StreamKey};

use crate::error::{ServiceError, ServiceResult};

/// The event as a row to append, with the command's metadata.
pub fn encode<A: Aggregate>(event: &A::Event, metadata: serde_json::Value) -> NewEvent {
    let (event_type, schema_version, payload) = A::encode(event);
    NewEvent::new(event_type, schema_version, payload).with_metadata(metadata)
}

/// Most events a stream may hold before a command refuses to load it (a payment has a few dozen).
pub const STREAM_MAX_EVENTS: i64 = 10_000;

/// Loads a stream and folds it.
pub async fn load<A: Aggregate, C: Queries>(client: &C, stream: &StreamKey) -> ServiceResult<(A::State, i64)> {
    load_until::<A, C>(client, stream, None).await
}

/// Folds a stream's events recorded at or before `as_of`: the aggregate as it stood then.
pub async fn load_as_of<A: Aggregate, C: Queries>(
    client: &C,
    stream: &StreamKey,
    as_of: DateTime<Utc>,
) -> ServiceResult<(A::State, i64)> {
    load_until::<A, C>(client, stream, Some(as_of)).await
}

async fn load_until<A: Aggregate, C: Queries>(
    client: &C,
    stream: &StreamKey,
    as_of: Option<DateTime<Utc>>,
) -> ServiceResult<(A::State, i64)> {
    let mut recorded = read_stream(client, stream, 1, STREAM_MAX_EVENTS + 1).await?;
    if recorded.len() as i64 > STREAM_MAX_EVENTS {
        return Err(ServiceError::internal(format!("stream {} exceeds {STREAM_MAX_EVENTS} events", stream.stream_id)));
    }
    if let Some(as_of) = as_of {
        // A stream's events are recorded in version order (one writer at a time holds its lock).
        recorded.retain(|r| r.recorded_at <= as_of);
    }
    let mut state = A::State::default();
    let mut version = 0;
    for r in &recorded {
        let event = A::decode(&r.event_type, r.schema_version, &r.payload)
            .map_err(|e| ServiceError::internal(format!("undecodable event {}: {e}", r.event_id)))?;
        state = A::evolve(state, &event);
        version = r.stream_version;
    }
    Ok((state, version))
}
