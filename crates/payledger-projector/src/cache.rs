//! Folded stream states, so that applying an event does not replay its whole stream.
//!
//! # What a projected stream state is
//!
//! The read order `(tx_id, global_position)` is not always a stream's version order: a
//! transaction that got its id before it took a stream's lock (a webhook delivery locks its
//! inbox row first) can append version 6 with an older `tx_id` than the transaction that
//! appended version 5, so version 6 is read first. A version's state is therefore defined by
//! what it has read, not by the order it read it in: after reading up to a checkpoint, a
//! stream's state is the fold, in version order, of all its events up to the highest version
//! read so far (the earlier ones are committed: each append checked the version before it).
//! An event read after a higher version of its stream changes nothing but its own journal
//! lines. A fresh fold (verify, rebuild) at the same checkpoint gets the same rows whatever
//! its batches were.
//!
//! # What the cache may hold
//!
//! An entry is `(stream, version) -> fold up to that version`, and it is only right for the
//! projection version and checkpoint it was built for: entries folded by a batch that then
//! rolled back (an error, a lost compare-and-set, a swap attempt given up) are ahead of the
//! database, and a cache built against one version is wrong for another. So the cache
//! remembers the `(version, checkpoint)` it matches; a batch that locks anything else starts
//! from an empty cache, and whoever rolls back a batch must [`StateCache::clear`] it. A miss
//! looks up the stream's highest applied version in the read-model row, then folds from the
//! log. The cache is bounded: past `max_streams` the least recently used half goes.

use std::collections::{BTreeMap, HashMap};

use payledger_core::order::{self, OrderEvent, OrderState};
use payledger_core::payment::{self, PaymentEvent, PaymentState};
use payledger_core::{DomainEvent, StreamRef};
use payledger_store::{Checkpoint, StreamKey};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::ProjectorError;
use crate::fresh::Written;

/// A stream whose prefix in the log cannot be decoded: the stream, the lowest such version
/// and why.
pub(crate) type PrefixFailure = (StreamKey, i64, String);

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
        (_, Ok(DomainEvent::Settlement(_))) => Err(undecodable("a settlement event in an aggregate's stream".into())),
        (_, Ok(DomainEvent::Job(_))) => Err(undecodable("a job event in an aggregate's stream".into())),
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
    /// The projection version and checkpoint the entries match, if known.
    synced: Option<(i32, Checkpoint)>,
}

/// What one batch needs of one stream: the highest version it reads, and the events it
/// reads by version.
pub(crate) struct StreamPlan<'a> {
    pub key: StreamKey,
    pub kind: StreamRef,
    pub target: i64,
    pub events: BTreeMap<i64, &'a Decoded>,
}

impl StateCache {
    pub(crate) fn new(max_streams: usize) -> StateCache {
        StateCache { entries: HashMap::new(), max_streams: max_streams.max(16), tick: 0, synced: None }
    }

    /// Forgets everything: after a batch that did not commit, whatever the reason.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.synced = None;
    }

    /// A batch of `version` starts at `checkpoint` (locked): keeps the entries only if they
    /// were built for exactly that.
    pub(crate) fn begin(&mut self, version: i32, checkpoint: Checkpoint) {
        if self.synced != Some((version, checkpoint)) {
            self.clear();
        }
        self.synced = None;
    }

    /// The batch moved `version` to `checkpoint`; valid once its transaction commits (the
    /// caller clears the cache if it does not).
    pub(crate) fn end(&mut self, version: i32, checkpoint: Checkpoint) {
        self.synced = Some((version, checkpoint));
    }

    /// Brings each planned stream to the fold up to `max(target, what is already applied)`:
    /// from the batch's own events when they continue the cached state, else from the log.
    /// `schema` holds the read-model rows, whose `stream_version` says what was applied.
    ///
    /// With `written` (a rebuild's replay into its fresh version), a miss that no earlier
    /// batch may have written has no stored row, and is not looked up.
    ///
    /// Returns the streams whose earlier events in the log cannot be decoded (stream, lowest
    /// such version, why), left out of the cache; the caller parks them.
    pub(crate) async fn advance<C: GenericClient>(
        &mut self,
        client: &C,
        schema: &str,
        plans: &[StreamPlan<'_>],
        written: Option<&Written>,
    ) -> Result<Vec<PrefixFailure>, ProjectorError> {
        self.tick += 1;
        let mut misses = Vec::new();
        let mut loads: Vec<(StreamKey, StreamRef, i64)> = Vec::new();
        for plan in plans {
            match self.entries.get_mut(&plan.key) {
                Some(entry) => {
                    entry.last_used = self.tick;
                    if entry.version >= plan.target {
                        continue;
                    }
                    if (entry.version + 1..=plan.target).all(|v| plan.events.contains_key(&v)) {
                        for version in entry.version + 1..=plan.target {
                            let state = std::mem::replace(&mut entry.state, StreamState::empty(plan.kind));
                            entry.state = evolve(state, plan.events[&version]);
                        }
                        entry.version = plan.target;
                    } else {
                        loads.push((plan.key.clone(), plan.kind, plan.target + 1));
                    }
                }
                None => misses.push(plan),
            }
        }
        if !misses.is_empty() {
            let maybe_stored: Vec<&StreamPlan<'_>> =
                misses.iter().copied().filter(|p| written.is_none_or(|w| w.may_have_stream(&p.key))).collect();
            let stored = stored_versions(client, schema, &maybe_stored).await?;
            for plan in misses {
                let target = plan.target.max(stored.get(&plan.key).copied().unwrap_or(0));
                if (1..=target).all(|v| plan.events.contains_key(&v)) {
                    let mut state = StreamState::empty(plan.kind);
                    for version in 1..=target {
                        state = evolve(state, plan.events[&version]);
                    }
                    let entry = Entry { version: target, state, last_used: self.tick };
                    self.entries.insert(plan.key.clone(), entry);
                } else {
                    loads.push((plan.key.clone(), plan.kind, target + 1));
                }
            }
        }
        let mut failures = Vec::new();
        for chunk in loads.chunks(PREFIX_LOAD_MAX_STREAMS) {
            failures.extend(self.load_prefixes(client, chunk).await?);
        }
        Ok(failures)
    }

    /// Loads from the log the fold of each stream up to just before `first_version`.
    async fn load_prefixes<C: GenericClient>(
        &mut self,
        client: &C,
        wanted: &[(StreamKey, StreamRef, i64)],
    ) -> Result<Vec<PrefixFailure>, ProjectorError> {
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
        let mut failures: Vec<PrefixFailure> = Vec::new();
        for row in &rows {
            let key = StreamKey::new(row.try_get(0)?, row.try_get::<_, String>(1)?);
            let version: i64 = row.try_get(2)?;
            let kind = *kinds.get(&key).ok_or_else(|| ProjectorError::corrupt("prefix row of an unasked stream"))?;
            if failures.iter().any(|(failed, _, _)| *failed == key) {
                continue;
            }
            let event =
                match decode(kind, &key.stream_id, row.try_get(6)?, row.try_get(3)?, row.try_get(4)?, &row.try_get(5)?)
                {
                    Ok(event) => event,
                    Err(err) => {
                        states.remove(&key);
                        failures.push((key, version, err.to_string()));
                        continue;
                    }
                };
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
        Ok(failures)
    }

    /// Drops a stream's state (a parked stream: it is folded afresh if it is retried).
    pub(crate) fn forget(&mut self, key: &StreamKey) {
        self.entries.remove(key);
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

/// The `stream_version` of the read-model rows of these streams in `schema`: the highest
/// version of each that the projection version has applied (none: nothing shown yet).
async fn stored_versions<C: GenericClient>(
    client: &C,
    schema: &str,
    plans: &[&StreamPlan<'_>],
) -> Result<HashMap<StreamKey, i64>, ProjectorError> {
    let mut by_id: HashMap<(Uuid, Uuid), &StreamKey> = HashMap::new();
    let (mut order_tenants, mut order_ids, mut payment_tenants, mut payment_ids) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for plan in plans {
        let tenant = plan.key.tenant_id;
        match plan.kind {
            StreamRef::Order(id) => {
                order_tenants.push(tenant);
                order_ids.push(*id.as_uuid());
                by_id.insert((tenant, *id.as_uuid()), &plan.key);
            }
            StreamRef::Payment(id) => {
                payment_tenants.push(tenant);
                payment_ids.push(*id.as_uuid());
                by_id.insert((tenant, *id.as_uuid()), &plan.key);
            }
        }
    }
    let mut stored = HashMap::new();
    for (table, id_column, tenants, ids) in
        [("orders", "order_id", &order_tenants, &order_ids), ("payments", "payment_id", &payment_tenants, &payment_ids)]
    {
        if ids.is_empty() {
            continue;
        }
        let sql = format!(
            "SELECT r.tenant_id, r.{id_column}, r.stream_version
             FROM unnest($1::uuid[], $2::uuid[]) AS k(tenant_id, id)
             JOIN {schema}.{table} r ON r.tenant_id = k.tenant_id AND r.{id_column} = k.id"
        );
        for row in client.query(&sql, &[tenants, ids]).await? {
            let found = (row.try_get::<_, Uuid>(0)?, row.try_get::<_, Uuid>(1)?);
            if let Some(key) = by_id.get(&found) {
                stored.insert((*key).clone(), row.try_get::<_, i64>(2)?);
            }
        }
    }
    Ok(stored)
}
