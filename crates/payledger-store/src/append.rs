//! Appending events: atomic per call, one server-side function call for any number of streams.

use std::collections::BTreeSet;

use chrono::{DateTime, SubsecRound, Utc};
use deadpool_postgres::Pool;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::Row;
use uuid::Uuid;

use crate::cached::{Queries, TypedParam};
use crate::error::StoreError;
use crate::types::{AppendOutcome, AppendedEvent, ExpectedVersion, NewEvent, StreamKey};

/// The channel notified after appending transactions commit (coalesced, see `notify`).
pub const NOTIFY_CHANNEL: &str = "payledger_events";
/// Most events one append may write (a bound on statement size and memory).
pub const APPEND_MAX_EVENTS: usize = 10_000;
/// Retries of a whole append with `ExpectedVersion::Any` after a lost race.
const ANY_VERSION_MAX_ATTEMPTS: u32 = 8;

/// Events for one stream within a batch append.
#[derive(Debug, Clone)]
pub struct BatchItem {
    pub stream: StreamKey,
    pub expected: ExpectedVersion,
    pub events: Vec<NewEvent>,
}

/// Appends to one stream in its own transaction.
pub async fn append(
    pool: &Pool,
    stream: &StreamKey,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
) -> Result<AppendOutcome, StoreError> {
    let items = vec![BatchItem { stream: stream.clone(), expected, events }];
    append_batch(pool, items).await
}

/// Appends to many streams atomically: one call of the server-side `payledger_append`
/// (migration V12), a statement of its own (its own transaction), prepared once per
/// connection; then a coalesced NOTIFY after the commit (see `notify`).
pub async fn append_batch(pool: &Pool, items: Vec<BatchItem>) -> Result<AppendOutcome, StoreError> {
    validate(&items)?;
    let call = AppendCall::new(&items, false);
    let mut attempt = 1;
    loop {
        let client = pool.get().await?;
        let statement = client.prepare_typed_cached(APPEND_SQL, &APPEND_TYPES).await?;
        let result = client.query(&statement, &call.params()).await;
        drop(client);
        match outcome(result, &items) {
            Ok(outcome) => {
                crate::notify::notify_committed(pool);
                count_appended(&outcome);
                return Ok(outcome);
            }
            Err(err) => {
                let only_any = items.iter().all(|i| i.expected == ExpectedVersion::Any);
                if only_any && err.is_retryable() && attempt < ANY_VERSION_MAX_ATTEMPTS {
                    attempt += 1;
                    continue;
                }
                return Err(err);
            }
        }
    }
}

/// Appends within the caller's transaction. On error the transaction is unusable and the
/// caller must roll it back. Sends no NOTIFY: a NOTIFY inside the transaction would hold
/// PostgreSQL's cluster-wide notify lock through its commit. The caller calls
/// [`notify_committed`](crate::notify_committed) once its commit succeeded.
pub async fn append_in_tx<C: Queries>(tx: &C, items: &[BatchItem]) -> Result<AppendOutcome, StoreError> {
    validate(items)?;
    let call = AppendCall::new(items, false);
    let params = call.params();
    let typed: Vec<TypedParam<'_>> = params.iter().copied().zip(APPEND_TYPES.iter().cloned()).collect();
    let result = tx.query_cached(APPEND_SQL, &typed).await;
    let outcome = outcome(result, items)?;
    count_appended(&outcome);
    Ok(outcome)
}

/// Counted once for every writer, when written: a transaction that then rolls back is
/// counted too (docs/DESIGN.md, observability).
fn count_appended(outcome: &AppendOutcome) {
    metrics::counter!("payledger_events_appended_total").increment(outcome.events.len() as u64);
}

pub(crate) const APPEND_SQL: &str = "SELECT event_id, stream_id, stream_version, global_position, tx_id
    FROM payledger_append($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)";

pub(crate) const APPEND_TYPES: [Type; 12] = [
    Type::UUID_ARRAY,
    Type::TEXT_ARRAY,
    Type::INT8_ARRAY,
    Type::INT4_ARRAY,
    Type::UUID_ARRAY,
    Type::TEXT_ARRAY,
    Type::INT4_ARRAY,
    Type::JSONB_ARRAY,
    Type::JSONB_ARRAY,
    Type::TEXT_ARRAY,
    Type::TIMESTAMPTZ,
    Type::BOOL,
];

/// The arguments of `payledger_append`: per stream, then per event (see migration V12).
struct AppendCall<'a> {
    tenants: Vec<Uuid>,
    streams: Vec<&'a str>,
    expected: Vec<i64>,
    stream_of: Vec<i32>,
    event_ids: Vec<Uuid>,
    types: Vec<&'a str>,
    schema_versions: Vec<i32>,
    payloads: Vec<&'a serde_json::Value>,
    metadatas: Vec<&'a serde_json::Value>,
    dedupe_keys: Vec<Option<&'a str>>,
    recorded_at: DateTime<Utc>,
    notify: bool,
}

impl<'a> AppendCall<'a> {
    fn new(items: &'a [BatchItem], notify: bool) -> AppendCall<'a> {
        let total: usize = items.iter().map(|i| i.events.len()).sum();
        let mut call = AppendCall {
            tenants: items.iter().map(|i| i.stream.tenant_id).collect(),
            streams: items.iter().map(|i| i.stream.stream_id.as_str()).collect(),
            expected: items.iter().map(|i| expected_code(i.expected)).collect(),
            stream_of: Vec::with_capacity(total),
            event_ids: Vec::with_capacity(total),
            types: Vec::with_capacity(total),
            schema_versions: Vec::with_capacity(total),
            payloads: Vec::with_capacity(total),
            metadatas: Vec::with_capacity(total),
            dedupe_keys: Vec::with_capacity(total),
            recorded_at: now_micros(),
            notify,
        };
        for (index, item) in (1i32..).zip(items) {
            for event in &item.events {
                call.stream_of.push(index);
                call.event_ids.push(event.event_id);
                call.types.push(&event.event_type);
                call.schema_versions.push(event.schema_version);
                call.payloads.push(&event.payload);
                call.metadatas.push(&event.metadata);
                call.dedupe_keys.push(event.dedupe_key.as_deref());
            }
        }
        call
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 12] {
        [
            &self.tenants,
            &self.streams,
            &self.expected,
            &self.stream_of,
            &self.event_ids,
            &self.types,
            &self.schema_versions,
            &self.payloads,
            &self.metadatas,
            &self.dedupe_keys,
            &self.recorded_at,
            &self.notify,
        ]
    }
}

/// The function's encoding of the guard: -1 no stream, 0 any, v exactly v (validated >= 1).
fn expected_code(expected: ExpectedVersion) -> i64 {
    match expected {
        ExpectedVersion::NoStream => -1,
        ExpectedVersion::Any => 0,
        ExpectedVersion::Exact(v) => v,
    }
}

fn outcome(result: Result<Vec<Row>, tokio_postgres::Error>, items: &[BatchItem]) -> Result<AppendOutcome, StoreError> {
    let rows = result.map_err(|e| classify_append_error(e, items))?;
    let mut tx_id = 0;
    let mut events = Vec::with_capacity(rows.len());
    for row in &rows {
        tx_id = parse_xid8(row.try_get(4)?)?;
        events.push(AppendedEvent {
            event_id: row.try_get(0)?,
            stream_id: row.try_get(1)?,
            stream_version: row.try_get(2)?,
            global_position: row.try_get(3)?,
        });
    }
    events.sort_by_key(|e| e.global_position);
    let total: usize = items.iter().map(|i| i.events.len()).sum();
    if events.len() != total {
        return Err(StoreError::Corrupt(format!("{} of {total} events inserted", events.len())));
    }
    Ok(AppendOutcome { tx_id, events })
}

fn validate(items: &[BatchItem]) -> Result<(), StoreError> {
    let total: usize = items.iter().map(|i| i.events.len()).sum();
    if total == 0 {
        return Err(StoreError::InvalidAppend("no events to append".into()));
    }
    if total > APPEND_MAX_EVENTS {
        return Err(StoreError::InvalidAppend(format!("{total} events exceed the limit of {APPEND_MAX_EVENTS}")));
    }
    let mut seen = BTreeSet::new();
    for item in items {
        if !seen.insert(&item.stream) {
            return Err(StoreError::InvalidAppend(format!("stream {} appears twice", item.stream.stream_id)));
        }
        if item.events.is_empty() {
            return Err(StoreError::InvalidAppend(format!("no events for stream {}", item.stream.stream_id)));
        }
        if let ExpectedVersion::Exact(v) = item.expected {
            if v < 1 {
                return Err(StoreError::InvalidAppend(format!("expected version {v} is below 1")));
            }
        }
        if let Some(event) = item.events.iter().find(|e| e.schema_version < 1) {
            return Err(StoreError::InvalidAppend(format!("schema_version {} is below 1", event.schema_version)));
        }
    }
    let mut keys = BTreeSet::new();
    for item in items {
        for key in item.events.iter().filter_map(|e| e.dedupe_key.as_deref()) {
            if !keys.insert((item.stream.tenant_id, key)) {
                return Err(StoreError::Duplicate { dedupe_key: key.to_owned() });
            }
        }
    }
    Ok(())
}

/// Queues this transaction behind any other holding `stream`'s lock, until commit or
/// rollback. Command handlers take it before loading a hot stream so that contenders wait
/// their turn instead of failing the version check and retrying; the expected-version
/// check still guards every append, lock or not.
pub async fn lock_stream<C: Queries>(tx: &C, stream: &StreamKey) -> Result<(), StoreError> {
    let lock_name = format!("{}/{}", stream.tenant_id, stream.stream_id);
    tx.query_cached(LOCK_SQL, &[(&lock_name, Type::TEXT)]).await.map_err(|e| {
        if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
            StoreError::Busy(format!("stream {} is busy", stream.stream_id))
        } else {
            StoreError::Db(e)
        }
    })?;
    Ok(())
}

pub(crate) const LOCK_SQL: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
pub(crate) const LOCK_TYPES: [Type; 1] = [Type::TEXT];

/// Bounds how long this transaction waits for any lock; past it, `StoreError::Busy`.
pub async fn set_lock_timeout<C: Queries>(tx: &C, lock_timeout_ms: u64) -> Result<(), StoreError> {
    tx.execute_simple(&format!("SET LOCAL lock_timeout = {}", lock_timeout_ms.clamp(1, 600_000))).await?;
    Ok(())
}

/// The refusals of `payledger_append` (migration V12) and of the constraints become the
/// typed errors they mean.
fn classify_append_error(err: tokio_postgres::Error, items: &[BatchItem]) -> StoreError {
    let Some(db) = err.as_db_error() else {
        return StoreError::Db(err);
    };
    let code = db.code().code();
    let detail = db.detail().unwrap_or_default();
    match code {
        "PLV01" => {
            let item = detail.parse::<usize>().ok().and_then(|i| items.get(i.wrapping_sub(1)));
            let actual = db.hint().and_then(|h| h.parse::<i64>().ok());
            match item {
                Some(item) => {
                    StoreError::Conflict { stream_id: item.stream.stream_id.clone(), expected: item.expected, actual }
                }
                None => StoreError::Corrupt(format!("conflict on an unknown stream index {detail:?}")),
            }
        }
        "PLD01" => StoreError::Duplicate { dedupe_key: detail.to_owned() },
        // 22P05 (jsonb's "\u0000"), 22021 (NUL in text)
        "22P05" | "22021" => {
            StoreError::InvalidData("the text contains a NUL character, which cannot be stored".into())
        }
        "55P03" => StoreError::Busy("a stream of this append is busy".into()),
        "23505" => classify_unique_violation(err, items),
        _ => StoreError::Db(err),
    }
}

/// A unique violation: a race lost between the checks and the insert.
fn classify_unique_violation(err: tokio_postgres::Error, items: &[BatchItem]) -> StoreError {
    let Some(db) = err.as_db_error() else {
        return StoreError::Db(err);
    };
    // PostgreSQL names the offending key in the detail, e.g. "Key (tenant_id, stream_id,
    // stream_version)=(…, payment-…, 3) already exists."; name that one, not the batch's first.
    let detail = db.detail().unwrap_or_default();
    let events = || items.iter().flat_map(|i| i.events.iter());
    match db.constraint() {
        Some("events_stream_version_key") => {
            let streams: Vec<String> = items.iter().map(|i| i.stream.stream_id.clone()).collect();
            StoreError::Conflict {
                stream_id: key_in_detail(detail, streams.iter()).unwrap_or_default(),
                expected: ExpectedVersion::Any,
                actual: None,
            }
        }
        Some("events_dedupe_key") => {
            let keys: Vec<String> = events().filter_map(|e| e.dedupe_key.clone()).collect();
            StoreError::Duplicate { dedupe_key: key_in_detail(detail, keys.iter()).unwrap_or_default() }
        }
        Some("events_event_id_key") => {
            let ids: Vec<String> = events().map(|e| e.event_id.to_string()).collect();
            let found = key_in_detail(detail, ids.iter()).and_then(|id| id.parse().ok());
            StoreError::DuplicateEventId(found.unwrap_or_default())
        }
        _ => StoreError::Db(err),
    }
}

/// The candidate that the detail of a unique violation names as one of its key's columns
/// (bounded by "(" or ", " on the left and ")" or "," on the right, so "order-1" is not
/// found inside "order-12"); the first candidate when none is (the detail is hidden from
/// roles that may not read the table).
fn key_in_detail<'a>(detail: &str, candidates: impl Iterator<Item = &'a String> + Clone) -> Option<String> {
    let values = detail.split_once(")=(").map(|(_, values)| values).unwrap_or("");
    let named = candidates.clone().find(|candidate| {
        values.match_indices(candidate.as_str()).any(|(at, _)| {
            let before_ok = at == 0 || values[..at].ends_with(", ");
            let after = &values[at + candidate.len()..];
            before_ok && (after.starts_with(')') || after.starts_with(','))
        })
    });
    named.or_else(|| candidates.into_iter().next()).cloned()
}

pub(crate) fn parse_xid8(text: String) -> Result<u64, StoreError> {
    text.parse::<u64>().map_err(|_| StoreError::Corrupt(format!("tx_id {text:?} is not an xid8")))
}

/// PostgreSQL keeps microseconds; hash exactly what will be stored.
fn now_micros() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::key_in_detail;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_unique_violation_names_the_stream_postgresql_names_not_the_first_of_the_batch() {
        let streams = names(&["order-1", "order-12", "payment-7"]);
        let detail = "Key (tenant_id, stream_id, stream_version)=(0190-aa, order-12, 3) already exists.";
        assert_eq!(key_in_detail(detail, streams.iter()).as_deref(), Some("order-12"));
        let detail = "Key (tenant_id, stream_id, stream_version)=(0190-aa, payment-7, 1) already exists.";
        assert_eq!(key_in_detail(detail, streams.iter()).as_deref(), Some("payment-7"));
    }

    #[test]
    fn a_dedupe_key_is_found_at_the_end_of_the_key() {
        let keys = names(&["stripe:evt_1", "stripe:evt_10"]);
        let detail = "Key (tenant_id, dedupe_key)=(0190-aa, stripe:evt_10) already exists.";
        assert_eq!(key_in_detail(detail, keys.iter()).as_deref(), Some("stripe:evt_10"));
    }

    #[test]
    fn without_a_detail_the_first_candidate_is_named() {
        let streams = names(&["order-1", "order-2"]);
        assert_eq!(key_in_detail("", streams.iter()).as_deref(), Some("order-1"));
        assert_eq!(key_in_detail("", std::iter::empty()), None);
    }
}
