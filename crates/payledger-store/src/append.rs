//! Appending events: atomic per call, one INSERT statement for any number of streams.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SubsecRound, Utc};
use deadpool_postgres::Pool;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::error::StoreError;
use crate::hash::{chain_hash, HashInput, GENESIS_HASH};
use crate::types::{AppendOutcome, AppendedEvent, ExpectedVersion, NewEvent, StreamKey};

/// The channel notified once per appending transaction.
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

/// Appends to many streams in one transaction and one statement: all or nothing.
pub async fn append_batch(pool: &Pool, items: Vec<BatchItem>) -> Result<AppendOutcome, StoreError> {
    let mut attempt = 1;
    loop {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        match append_in_tx(&tx, &items).await {
            Ok(outcome) => {
                tx.commit().await?;
                return Ok(outcome);
            }
            Err(err) => {
                // Dropping `tx` rolls back.
                drop(tx);
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
/// caller must roll it back. Sends one NOTIFY (PostgreSQL folds identical notifications of
/// one transaction into one, so several appends in a transaction still notify once).
pub async fn append_in_tx(tx: &Transaction<'_>, items: &[BatchItem]) -> Result<AppendOutcome, StoreError> {
    validate(items)?;
    lock_any_version_streams(tx, items).await?;
    let heads = read_heads(tx, items).await?;
    check_dedupe_keys(tx, items).await?;

    let recorded_at = now_micros();
    let stored_json = stored_json_texts(tx, items).await?;
    let rows = build_rows(items, &heads, &stored_json, recorded_at)?;
    let inserted = insert_rows(tx, &rows).await?;
    tx.query_typed("SELECT pg_notify($1, '')", &[(&NOTIFY_CHANNEL, Type::TEXT)]).await?;
    // Counted here, once for every writer, when written: a transaction that then rolls back
    // is counted too (docs/DESIGN.md, observability).
    metrics::counter!("payledger_events_appended_total").increment(inserted.events.len() as u64);
    Ok(inserted)
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
    }
    Ok(())
}

/// Appends with `Any` are serialised per stream so that they queue instead of conflicting.
async fn lock_any_version_streams(tx: &Transaction<'_>, items: &[BatchItem]) -> Result<(), StoreError> {
    // Lock in a stable order so that two batches cannot deadlock on each other.
    let mut keys: Vec<&StreamKey> =
        items.iter().filter(|i| i.expected == ExpectedVersion::Any).map(|i| &i.stream).collect();
    keys.sort();
    for key in keys {
        lock_stream(tx, key).await?;
    }
    Ok(())
}

/// Queues this transaction behind any other holding `stream`'s lock, until commit or
/// rollback. Command handlers take it before loading a hot stream so that contenders wait
/// their turn instead of failing the version check and retrying; the expected-version
/// check still guards every append, lock or not.
pub async fn lock_stream(tx: &Transaction<'_>, stream: &StreamKey) -> Result<(), StoreError> {
    let lock_name = format!("{}/{}", stream.tenant_id, stream.stream_id);
    let sql = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";
    tx.query_typed(sql, &[(&lock_name, Type::TEXT)]).await.map_err(|e| {
        if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) {
            StoreError::Busy(format!("stream {} is busy", stream.stream_id))
        } else {
            StoreError::Db(e)
        }
    })?;
    Ok(())
}

/// Bounds how long this transaction waits for any lock; past it, `StoreError::Busy`.
pub async fn set_lock_timeout(tx: &Transaction<'_>, lock_timeout_ms: u64) -> Result<(), StoreError> {
    tx.batch_execute(&format!("SET LOCAL lock_timeout = {}", lock_timeout_ms.clamp(1, 600_000))).await?;
    Ok(())
}

type Heads = BTreeMap<StreamKey, (i64, Vec<u8>)>;

async fn read_heads(tx: &Transaction<'_>, items: &[BatchItem]) -> Result<Heads, StoreError> {
    let tenants: Vec<Uuid> = items.iter().map(|i| i.stream.tenant_id).collect();
    let streams: Vec<&str> = items.iter().map(|i| i.stream.stream_id.as_str()).collect();
    let rows = tx
        .query_typed(
            "SELECT s.tenant_id, s.stream_id, h.stream_version, h.hash
             FROM unnest($1::uuid[], $2::text[]) AS s(tenant_id, stream_id)
             CROSS JOIN LATERAL (
                 SELECT e.stream_version, e.hash FROM events e
                 WHERE e.tenant_id = s.tenant_id AND e.stream_id = s.stream_id
                 ORDER BY e.stream_version DESC LIMIT 1
             ) h",
            &[(&tenants, Type::UUID_ARRAY), (&streams, Type::TEXT_ARRAY)],
        )
        .await?;
    let mut heads = Heads::new();
    for row in rows {
        let key = StreamKey::new(row.try_get(0)?, row.try_get::<_, String>(1)?);
        heads.insert(key, (row.try_get(2)?, row.try_get(3)?));
    }
    for item in items {
        let actual = heads.get(&item.stream).map(|(v, _)| *v);
        let ok = match item.expected {
            ExpectedVersion::NoStream => actual.is_none(),
            ExpectedVersion::Any => true,
            ExpectedVersion::Exact(v) => actual == Some(v),
        };
        if !ok {
            return Err(StoreError::Conflict {
                stream_id: item.stream.stream_id.clone(),
                expected: item.expected,
                actual,
            });
        }
    }
    Ok(heads)
}

async fn check_dedupe_keys(tx: &Transaction<'_>, items: &[BatchItem]) -> Result<(), StoreError> {
    let mut tenants = Vec::new();
    let mut keys = Vec::new();
    let mut seen = BTreeSet::new();
    for item in items {
        for key in item.events.iter().filter_map(|e| e.dedupe_key.as_deref()) {
            if !seen.insert((item.stream.tenant_id, key)) {
                return Err(StoreError::Duplicate { dedupe_key: key.to_owned() });
            }
            tenants.push(item.stream.tenant_id);
            keys.push(key);
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    let existing = tx
        .query_typed_opt(
            "SELECT e.dedupe_key FROM unnest($1::uuid[], $2::text[]) AS k(tenant_id, dedupe_key)
             JOIN events e ON e.tenant_id = k.tenant_id AND e.dedupe_key = k.dedupe_key LIMIT 1",
            &[(&tenants, Type::UUID_ARRAY), (&keys, Type::TEXT_ARRAY)],
        )
        .await?;
    match existing {
        Some(row) => Err(StoreError::Duplicate { dedupe_key: row.try_get(0)? }),
        None => Ok(()),
    }
}

/// Payload and metadata of every event, as PostgreSQL will store and print them (see
/// `hash`): the chain hashes this text and the insert stores this very text.
async fn stored_json_texts(tx: &Transaction<'_>, items: &[BatchItem]) -> Result<Vec<(String, String)>, StoreError> {
    let payloads: Vec<&serde_json::Value> = items.iter().flat_map(|i| i.events.iter().map(|e| &e.payload)).collect();
    let metadatas: Vec<&serde_json::Value> = items.iter().flat_map(|i| i.events.iter().map(|e| &e.metadata)).collect();
    let rows = tx
        .query_typed(
            "SELECT p::text, m::text FROM unnest($1::jsonb[], $2::jsonb[]) WITH ORDINALITY AS t(p, m, n) ORDER BY n",
            &[(&payloads, Type::JSONB_ARRAY), (&metadatas, Type::JSONB_ARRAY)],
        )
        .await
        .map_err(classify_data_error)?;
    rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
}

/// Data PostgreSQL cannot store (a NUL character in JSON or text) is the caller's fault.
fn classify_data_error(err: tokio_postgres::Error) -> StoreError {
    let code = err.code().cloned();
    match code {
        // 22P05 (jsonb's "\u0000"), 22021 (NUL in text)
        Some(c) if c == SqlState::UNTRANSLATABLE_CHARACTER || c == SqlState::CHARACTER_NOT_IN_REPERTOIRE => {
            StoreError::InvalidData("the text contains a NUL character, which cannot be stored".into())
        }
        _ => StoreError::Db(err),
    }
}

struct Rows {
    event_ids: Vec<Uuid>,
    tenant_ids: Vec<Uuid>,
    stream_ids: Vec<String>,
    versions: Vec<i64>,
    event_types: Vec<String>,
    schema_versions: Vec<i32>,
    payloads: Vec<String>,
    metadatas: Vec<String>,
    recorded_ats: Vec<DateTime<Utc>>,
    dedupe_keys: Vec<Option<String>>,
    prev_hashes: Vec<Vec<u8>>,
    hashes: Vec<Vec<u8>>,
}

fn build_rows(
    items: &[BatchItem],
    heads: &Heads,
    stored_json: &[(String, String)],
    recorded_at: DateTime<Utc>,
) -> Result<Rows, StoreError> {
    let total: usize = items.iter().map(|i| i.events.len()).sum();
    let mut rows = Rows {
        event_ids: Vec::with_capacity(total),
        tenant_ids: Vec::with_capacity(total),
        stream_ids: Vec::with_capacity(total),
        versions: Vec::with_capacity(total),
        event_types: Vec::with_capacity(total),
        schema_versions: Vec::with_capacity(total),
        payloads: Vec::with_capacity(total),
        metadatas: Vec::with_capacity(total),
        recorded_ats: Vec::with_capacity(total),
        dedupe_keys: Vec::with_capacity(total),
        prev_hashes: Vec::with_capacity(total),
        hashes: Vec::with_capacity(total),
    };
    let micros = recorded_at.timestamp_micros();
    let mut texts = stored_json.iter();
    for item in items {
        let (mut version, mut prev_hash) = match heads.get(&item.stream) {
            Some((v, h)) => (*v, h.clone()),
            None => (0, GENESIS_HASH.to_vec()),
        };
        for event in &item.events {
            if event.schema_version < 1 {
                return Err(StoreError::InvalidAppend(format!("schema_version {} is below 1", event.schema_version)));
            }
            version += 1;
            let (payload_text, metadata_text) =
                texts.next().ok_or_else(|| StoreError::Corrupt("fewer stored JSON texts than events".into()))?;
            let hash = chain_hash(
                &prev_hash,
                &HashInput {
                    tenant_id: item.stream.tenant_id,
                    stream_id: &item.stream.stream_id,
                    stream_version: version,
                    event_id: event.event_id,
                    event_type: &event.event_type,
                    schema_version: event.schema_version,
                    recorded_at_unix_micros: micros,
                    dedupe_key: event.dedupe_key.as_deref(),
                    payload_text,
                    metadata_text,
                },
            );
            rows.event_ids.push(event.event_id);
            rows.tenant_ids.push(item.stream.tenant_id);
            rows.stream_ids.push(item.stream.stream_id.clone());
            rows.versions.push(version);
            rows.event_types.push(event.event_type.clone());
            rows.schema_versions.push(event.schema_version);
            rows.payloads.push(payload_text.clone());
            rows.metadatas.push(metadata_text.clone());
            rows.recorded_ats.push(recorded_at);
            rows.dedupe_keys.push(event.dedupe_key.clone());
            rows.prev_hashes.push(std::mem::replace(&mut prev_hash, hash.to_vec()));
            rows.hashes.push(hash.to_vec());
        }
    }
    Ok(rows)
}

async fn insert_rows(tx: &Transaction<'_>, rows: &Rows) -> Result<AppendOutcome, StoreError> {
    let inserted = tx
        .query_typed(
            "INSERT INTO events (event_id, tenant_id, stream_id, stream_version, event_type, schema_version,
                                 payload, metadata, recorded_at, dedupe_key, prev_hash, hash)
             SELECT e, t, s, v, ty, sv, p::jsonb, m::jsonb, r, d, ph, h
             FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int8[], $5::text[], $6::int4[],
                         $7::text[], $8::text[], $9::timestamptz[], $10::text[], $11::bytea[], $12::bytea[])
                  AS u(e, t, s, v, ty, sv, p, m, r, d, ph, h)
             RETURNING event_id, stream_id, stream_version, global_position, tx_id::text",
            &[
                (&rows.event_ids, Type::UUID_ARRAY),
                (&rows.tenant_ids, Type::UUID_ARRAY),
                (&rows.stream_ids, Type::TEXT_ARRAY),
                (&rows.versions, Type::INT8_ARRAY),
                (&rows.event_types, Type::TEXT_ARRAY),
                (&rows.schema_versions, Type::INT4_ARRAY),
                (&rows.payloads, Type::TEXT_ARRAY),
                (&rows.metadatas, Type::TEXT_ARRAY),
                (&rows.recorded_ats, Type::TIMESTAMPTZ_ARRAY),
                (&rows.dedupe_keys, Type::TEXT_ARRAY),
                (&rows.prev_hashes, Type::BYTEA_ARRAY),
                (&rows.hashes, Type::BYTEA_ARRAY),
            ],
        )
        .await
        .map_err(|e| classify_insert_error(e, rows))?;
    let mut tx_id = 0;
    let mut events = Vec::with_capacity(inserted.len());
    for row in &inserted {
        tx_id = parse_xid8(row.try_get(4)?)?;
        events.push(AppendedEvent {
            event_id: row.try_get(0)?,
            stream_id: row.try_get(1)?,
            stream_version: row.try_get(2)?,
            global_position: row.try_get(3)?,
        });
    }
    events.sort_by_key(|e| e.global_position);
    assert_eq!(events.len(), rows.event_ids.len(), "every event is inserted");
    Ok(AppendOutcome { tx_id, events })
}

/// Unique violations become the typed error they mean.
fn classify_insert_error(err: tokio_postgres::Error, rows: &Rows) -> StoreError {
    let Some(db) = err.as_db_error() else {
        return StoreError::Db(err);
    };
    if db.code() != &SqlState::UNIQUE_VIOLATION {
        return StoreError::Db(err);
    }
    // PostgreSQL names the offending key in the detail, e.g. "Key (tenant_id, stream_id,
    // stream_version)=(…, payment-…, 3) already exists."; name that one, not the batch's first.
    let detail = db.detail().unwrap_or_default();
    match db.constraint() {
        Some("events_stream_version_key") => StoreError::Conflict {
            stream_id: key_in_detail(detail, rows.stream_ids.iter()).unwrap_or_default(),
            expected: ExpectedVersion::Any,
            actual: None,
        },
        Some("events_dedupe_key") => StoreError::Duplicate {
            dedupe_key: key_in_detail(detail, rows.dedupe_keys.iter().flatten()).unwrap_or_default(),
        },
        Some("events_event_id_key") => {
            let ids: Vec<String> = rows.event_ids.iter().map(|id| id.to_string()).collect();
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
