//! Folded stream states, so that applying an event does not replay its whole stream.
//!
//! An entry is `(stream, version) -> state after that version`. Events never change, so an
//! entry is right whatever happened to the transactions that used it (a rolled-back batch
//! leaves correct entries behind); an entry at another version than needed is simply
//! reloaded. The cache is bounded: past `max_streams` the least recently used half goes.

use std::collections::HashMap;

use payledger_core::order::{self, OrderEvent, OrderState};
use payledger_core::payment::{self, PaymentEvent, PaymentState};
use payledger_core::{DomainEvent, StreamRef};
use payledger_store::StreamKey;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::ProjectorError;

/// Streams loaded by one prefix query at most (a batch touching more loads in several).
const PREFIX_LOAD_MAX_STREAMS: usize = 1_000;

#[derive(Debug, Clone)]
pub(crate) enum StreamState {
    Order(OrderState),
    Payment(PaymentState),
}

impl StreamState {
    fn empty(kind: StreamRef) -> StreamState {
        match kind {
            StreamRef::Order(_) => StreamState::Order(None),
            StreamRef::Payment(_) => StreamState::Payment(None),
        }
    }
}

/// A decoded event of an order or payment stream.
pub(crate) enum Decoded {
    Order(OrderEvent),
    Payment(PaymentEvent),
}

/// Decodes an event of a domain stream, checking that it belongs to that kind of stream.
pub(crate) fn decode(
    kind: StreamRef,
    stream_id: &str,
    position: i64,
    event_type: &str,
    schema_version: i32,
    payload: &serde_json::Value,
) -> Result<Decoded, ProjectorError> {
    let undecodable = |reason: String| ProjectorError::Undecodable {
        position,
        stream_id: stream_id.to_owned(),
        event_type: event_type.to_owned(),
        reason,
    };
    match (kind, DomainEvent::decode(event_type, schema_version, payload)) {
        (StreamRef::Order(_), Ok(DomainEvent::Order(event))) => Ok(Decoded::Order(event)),
        (StreamRef::Payment(_), Ok(DomainEvent::Payment(event))) => Ok(Decoded::Payment(event)),
        (StreamRef::Order(_), Ok(DomainEvent::Payment(_))) => {
            Err(undecodable("a payment event in an order stream".into()))
        }
        (StreamRef::Payment(_), Ok(DomainEvent::Order(_))) => {
            Err(undecodable("an order event in a payment stream".into()))
        }
        (_, Err(err)) => Err(undecodable(err.to_string())),
    }
}

/// Applies one decoded event to a state of the same stream.
pub(crate) fn evolve(state: StreamState, event: &Decoded) -> StreamState {
    match (state, event) {
        (StreamState::Order(state), Decoded::Order(event)) => StreamState::Order(order::evolve(state, event)),
        (StreamState::Payment(state), Decoded::Payment(event)) => StreamState::Payment(payment::evolve(state, event)),
        // `decode` pairs events with their stream's kind, and states are keyed by stream.
        (state, _) => state,
    }
}

struct Entry {
    version: i64,
    state: StreamState,
    last_used: u64,
}

pub(crate) struct StateCache {
    entries: HashMap<StreamKey, Entry>,
    max_streams: usize,
    tick: u64,
}

impl StateCache {
    pub(crate) fn new(max_streams: usize) -> StateCache {
        StateCache { entries: HashMap::new(), max_streams: max_streams.max(16), tick: 0 }
    }

    /// Makes sure each `(stream, kind, first_version)` has its state at `first_version - 1`,
    /// loading the prefixes it lacks from the events table in few queries.
    pub(crate) async fn prepare<C: GenericClient>(
        &mut self,
        client: &C,
        firsts: &[(StreamKey, StreamRef, i64)],
    ) -> Result<(), ProjectorError> {
        self.tick += 1;
        let mut missing = Vec::new();
        for (key, kind, first_version) in firsts {
            let before = first_version - 1;
            match self.entries.get_mut(key) {
                Some(entry) if entry.version == before => entry.last_used = self.tick,
                _ if before == 0 => {
                    let entry = Entry { version: 0, state: StreamState::empty(*kind), last_used: self.tick };
                    self.entries.insert(key.clone(), entry);
                }
                _ => missing.push((key.clone(), *kind, *first_version)),
            }
        }
        for chunk in missing.chunks(PREFIX_LOAD_MAX_STREAMS) {
            self.load_prefixes(client, chunk).await?;
        }
        Ok(())
    }

    async fn load_prefixes<C: GenericClient>(
        &mut self,
        client: &C,
        wanted: &[(StreamKey, StreamRef, i64)],
    ) -> Result<(), ProjectorError> {
        let tenants: Vec<Uuid> = wanted.iter().map(|(k, _, _)| k.tenant_id).collect();
        let streams: Vec<&str> = wanted.iter().map(|(k, _, _)| k.stream_id.as_str()).collect();
        let below: Vec<i64> = wanted.iter().map(|(_, _, v)| *v).collect();
        let rows = client
            .query(
                "SELECT e.tenant_id, e.stream_id, e.stream_version, e.event_type, e.schema_version, e.payload,
                        e.global_position
                 FROM unnest($1::uuid[], $2::text[], $3::int8[]) AS s(tenant_id, stream_id, below)
                 JOIN events e ON e.tenant_id = s.tenant_id AND e.stream_id = s.stream_id
                                AND e.stream_version < s.below
                 ORDER BY e.tenant_id, e.stream_id, e.stream_version",
                &[&tenants, &streams, &below],
            )
            .await?;
        let mut states: HashMap<StreamKey, (i64, StreamState)> =
            wanted.iter().map(|(key, kind, _)| (key.clone(), (0, StreamState::empty(*kind)))).collect();
        let kinds: HashMap<&StreamKey, StreamRef> = wanted.iter().map(|(k, kind, _)| (k, *kind)).collect();
        for row in &rows {
            let key = StreamKey::new(row.try_get(0)?, row.try_get::<_, String>(1)?);
            let version: i64 = row.try_get(2)?;
            let kind = *kinds.get(&key).ok_or_else(|| ProjectorError::corrupt("prefix row of an unasked stream"))?;
            let event =
                decode(kind, &key.stream_id, row.try_get(6)?, row.try_get(3)?, row.try_get(4)?, &row.try_get(5)?)?;
            let slot =
                states.get_mut(&key).ok_or_else(|| ProjectorError::corrupt("prefix row of an unasked stream"))?;
            if version != slot.0 + 1 {
                return Err(ProjectorError::corrupt(format!(
                    "stream {} jumps from version {} to {version}",
                    key.stream_id, slot.0
                )));
            }
            let state = std::mem::replace(&mut slot.1, StreamState::empty(kind));
            *slot = (version, evolve(state, &event));
        }
        for (key, _, first_version) in wanted {
            let Some((version, state)) = states.remove(key) else { continue };
            if version != first_version - 1 {
                return Err(ProjectorError::corrupt(format!(
                    "stream {} has {version} events before version {first_version}",
                    key.stream_id
                )));
            }
            self.entries.insert(key.clone(), Entry { version, state, last_used: self.tick });
        }
        Ok(())
    }

    /// Applies `event` (at `version`) to its stream's state, which must be at `version - 1`.
    pub(crate) fn apply(
        &mut self,
        key: &StreamKey,
        version: i64,
        event: &Decoded,
    ) -> Result<&StreamState, ProjectorError> {
        let entry = self.entries.get_mut(key).filter(|entry| entry.version == version - 1).ok_or_else(|| {
            ProjectorError::corrupt(format!("no state of {} before version {version}", key.stream_id))
        })?;
        let state = std::mem::replace(&mut entry.state, StreamState::Order(None));
        entry.state = evolve(state, event);
        entry.version = version;
        entry.last_used = self.tick;
        Ok(&entry.state)
    }

    /// The latest state and version of a stream, if cached.
    pub(crate) fn get(&self, key: &StreamKey) -> Option<(i64, &StreamState)> {
        self.entries.get(key).map(|entry| (entry.version, &entry.state))
    }

    /// Keeps the cache within its bound: drops the least recently used half when over it.
    pub(crate) fn trim(&mut self) {
        if self.entries.len() <= self.max_streams {
            return;
        }
        let mut ticks: Vec<u64> = self.entries.values().map(|entry| entry.last_used).collect();
        ticks.sort_unstable();
        let cutoff = ticks[ticks.len() / 2];
        self.entries.retain(|_, entry| entry.last_used > cutoff);
    }
}
