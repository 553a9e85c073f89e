//! The store's half of an aggregate: the pure half (`decide`, `evolve`, the event codec) is
//! `payledger_core::aggregate`; here events become rows and streams are loaded and folded.

use chrono::{DateTime, Utc};
pub use payledger_core::aggregate::{Aggregate, OrderAggregate, PaymentAggregate};
use payledger_store::{read_stream, NewEvent, Queries, StreamKey};

use crate::error::{ServiceError, ServiceResult};

mod cache;
pub use cache::{Cached, StateCache, STATE_CACHE_ENTRIES_DEFAULT};

/// The event as a row to append, with the command's metadata.
pub fn encode<A: Aggregate>(event: &A::Event, metadata: serde_json::Value) -> NewEvent {
    let (event_type, schema_version, payload) = A::encode(event);
    NewEvent::new(event_type, schema_version, payload).with_metadata(metadata)
}

/// Events read per statement when folding a stream: memory stays bounded however long the
/// stream is. There is no cap on a stream's length: a cold load costs one read per page, and
/// a command with a cached state reads only the events since (see [`StateCache`]).
pub const FOLD_PAGE_EVENTS: i64 = 1_000;

/// Loads a stream and folds it.
pub async fn load<A: Aggregate, C: Queries>(client: &C, stream: &StreamKey) -> ServiceResult<(A::State, i64)> {
    fold_after::<A, C>(client, stream, (A::State::default(), 0), None).await
}

/// Folds a stream's events recorded at or before `as_of`: the aggregate as it stood then.
pub async fn load_as_of<A: Aggregate, C: Queries>(
    client: &C,
    stream: &StreamKey,
    as_of: DateTime<Utc>,
) -> ServiceResult<(A::State, i64)> {
    fold_after::<A, C>(client, stream, (A::State::default(), 0), Some(as_of)).await
}

/// Folds the events after `version` onto `state`, the stream's state at `version`, a page
/// at a time. With `as_of`, events recorded after it are skipped.
pub async fn fold_after<A: Aggregate, C: Queries>(
    client: &C,
    stream: &StreamKey,
    (state, version): (A::State, i64),
    as_of: Option<DateTime<Utc>>,
) -> ServiceResult<(A::State, i64)> {
    let mut folded = Folded { state, version, read_to: version };
    loop {
        let page = read_stream(client, stream, folded.read_to + 1, FOLD_PAGE_EVENTS).await?;
        folded = fold_page::<A>(stream, folded, &page, as_of)?;
        if (page.len() as i64) < FOLD_PAGE_EVENTS {
            return Ok((folded.state, folded.version));
        }
    }
}

/// Folds onto a cached state, once the stream's event at the cached version is found to be
/// the one the state was folded up to (read in the same statement as the events after it).
/// `None` when it is not: the database lost or replaced commits the cache saw (a restore, a
/// failover to a replica behind), and the state must not be decided on.
pub async fn fold_cached<A: Aggregate, C: Queries>(
    client: &C,
    stream: &StreamKey,
    cached: Cached<A::State>,
) -> ServiceResult<Option<(A::State, i64)>> {
    let page = read_stream(client, stream, cached.version, FOLD_PAGE_EVENTS).await?;
    let Some((anchor, after)) = page.split_first() else { return Ok(None) };
    if anchor.stream_version != cached.version || anchor.event_id != cached.last_event_id {
        return Ok(None);
    }
    let start = Folded { state: cached.state, version: cached.version, read_to: cached.version };
    let folded = fold_page::<A>(stream, start, after, None)?;
    if (page.len() as i64) < FOLD_PAGE_EVENTS {
        return Ok(Some((folded.state, folded.version)));
    }
    fold_after::<A, C>(client, stream, (folded.state, folded.version), None).await.map(Some)
}

/// A fold in progress: the state at `version`, the events read up to `read_to`.
struct Folded<S> {
    state: S,
    version: i64,
    read_to: i64,
}

fn fold_page<A: Aggregate>(
    stream: &StreamKey,
    mut folded: Folded<A::State>,
    page: &[payledger_store::RecordedEvent],
    as_of: Option<DateTime<Utc>>,
) -> ServiceResult<Folded<A::State>> {
    for r in page {
        // A gap means the state given does not belong to this stream's events.
        if r.stream_version != folded.read_to + 1 {
            return Err(ServiceError::internal(format!(
                "stream {} jumps from version {} to {}",
                stream.stream_id, folded.read_to, r.stream_version
            )));
        }
        folded.read_to = r.stream_version;
        if as_of.is_some_and(|as_of| r.recorded_at > as_of) {
            continue;
        }
        let event = A::decode(&r.event_type, r.schema_version, &r.payload)
            .map_err(|e| ServiceError::internal(format!("undecodable event {}: {e}", r.event_id)))?;
        folded.state = A::evolve(folded.state, &event);
        folded.version = r.stream_version;
    }
    Ok(folded)
}
