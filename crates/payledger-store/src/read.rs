//! Reading events: one stream by version, or everything in the gap-free read order.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use crate::append::parse_xid8;
use crate::cached::{Queries, TypedParam};
use crate::error::StoreError;
use crate::types::{Checkpoint, RecordedEvent, StreamKey};

/// Most events one read returns.
pub const READ_MAX_BATCH: i64 = 10_000;

const COLUMNS: &str = "global_position, tx_id::text, event_id, tenant_id, stream_id, stream_version, event_type, \
                       schema_version, payload, metadata, recorded_at, dedupe_key, prev_hash, hash";

/// Reads a stream's events with `stream_version >= from_version`, in version order.
pub async fn read_stream<C: Queries>(
    client: &C,
    stream: &StreamKey,
    from_version: i64,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let limit = limit.clamp(1, READ_MAX_BATCH);
    let params: [TypedParam<'_>; 4] = [
        (&stream.tenant_id, Type::UUID),
        (&stream.stream_id, Type::TEXT),
        (&from_version, Type::INT8),
        (&limit, Type::INT8),
    ];
    let rows = client.query_cached(read_stream_sql(), &params).await?;
    rows.iter().map(to_event).collect()
}

pub(crate) const READ_STREAM_TYPES: [Type; 4] = [Type::UUID, Type::TEXT, Type::INT8, Type::INT8];

/// One text for every call, so a connection prepares it once.
pub(crate) fn read_stream_sql() -> &'static str {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {COLUMNS} FROM events WHERE tenant_id = $1 AND stream_id = $2 AND stream_version >= $3
             ORDER BY stream_version LIMIT $4"
        )
    });
    &SQL
}

/// The last version of a stream, if it exists.
pub async fn stream_head<C: GenericClient>(client: &C, stream: &StreamKey) -> Result<Option<i64>, StoreError> {
    let row = client
        .query_one(
            "SELECT max(stream_version) FROM events WHERE tenant_id = $1 AND stream_id = $2",
            &[&stream.tenant_id, &stream.stream_id],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Optional narrowing of [`read_all`].
#[derive(Debug, Clone, Default)]
pub struct ReadAllFilter {
    pub tenant_id: Option<Uuid>,
    pub stream_id: Option<String>,
    pub event_type: Option<String>,
    pub recorded_from: Option<DateTime<Utc>>,
    pub recorded_before: Option<DateTime<Utc>>,
}

/// Reads the events after `after` in the read order `(tx_id, global_position)`, only from
/// transactions older than every transaction still running. An event is therefore returned
/// only once nothing can commit before it in the read order: a reader that advances its
/// checkpoint to the last event returned never skips one, with no timeout or gap detection.
pub async fn read_all<C: GenericClient>(
    client: &C,
    after: Checkpoint,
    filter: &ReadAllFilter,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = query_read_order(client, after, filter, limit, "").await?;
    let events = rows.iter().map(to_event).collect::<Result<Vec<_>, _>>()?;
    check_read_order(after, events.iter().map(RecordedEvent::checkpoint))?;
    Ok(events)
}

/// An event with the canonical texts of its jsonb columns, as the hash chain covers them.
#[derive(Debug, Clone, PartialEq)]
pub struct CanonicalEvent {
    pub event: RecordedEvent,
    /// `payload::text`, as PostgreSQL prints the stored jsonb.
    pub payload_text: String,
    pub metadata_text: String,
}

/// [`read_all`], each event with its canonical texts (for exports an auditor recomputes).
pub async fn read_all_canonical<C: GenericClient>(
    client: &C,
    after: Checkpoint,
    filter: &ReadAllFilter,
    limit: i64,
) -> Result<Vec<CanonicalEvent>, StoreError> {
    let rows = query_read_order(client, after, filter, limit, ", payload::text, metadata::text").await?;
    let events = rows
        .iter()
        .map(|row| {
            Ok(CanonicalEvent {
                event: to_event(row)?,
                payload_text: row.try_get(EVENT_COLUMN_COUNT)?,
                metadata_text: row.try_get(EVENT_COLUMN_COUNT + 1)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    check_read_order(after, events.iter().map(|e| e.event.checkpoint()))?;
    Ok(events)
}

async fn query_read_order<C: GenericClient>(
    client: &C,
    after: Checkpoint,
    filter: &ReadAllFilter,
    limit: i64,
    extra_columns: &str,
) -> Result<Vec<Row>, StoreError> {
    let limit = limit.clamp(1, READ_MAX_BATCH);
    let tx_text = after.tx_id.to_string();
    // Only the filters given become predicates, so that a tenant's read uses the
    // (tenant_id, tx_id, global_position) index instead of scanning everyone's events.
    type Param<'a> = &'a (dyn tokio_postgres::types::ToSql + Sync);
    let optional: [(&str, Option<Param>); 5] = [
        ("tenant_id =", filter.tenant_id.as_ref().map(|v| v as Param)),
        ("stream_id =", filter.stream_id.as_ref().map(|v| v as Param)),
        ("event_type =", filter.event_type.as_ref().map(|v| v as Param)),
        ("recorded_at >=", filter.recorded_from.as_ref().map(|v| v as Param)),
        ("recorded_at <", filter.recorded_before.as_ref().map(|v| v as Param)),
    ];
    let mut params: Vec<Param> = vec![&tx_text, &after.position, &limit];
    let mut predicates = String::new();
    for (predicate, value) in optional {
        if let Some(value) = value {
            params.push(value);
            predicates.push_str(&format!(" AND {predicate} ${}", params.len()));
        }
    }
    // `events.tx_id`, qualified: a bare `tx_id` in ORDER BY would name the output column
    // `tx_id::text` and sort the text ('10' before '9'), which reorders transactions across
    // a digit boundary (skipping or repeating events) and cannot use the read-order index.
    let sql = format!(
        "SELECT {COLUMNS}{extra_columns} FROM events
         WHERE (tx_id, global_position) > ($1::text::xid8, $2)
           AND tx_id < pg_snapshot_xmin(pg_current_snapshot()){predicates}
         ORDER BY events.tx_id, events.global_position
         LIMIT $3"
    );
    Ok(client.query(&sql, &params).await?)
}

/// Asserts what every reader relies on: events come strictly after `after`, in read order.
fn check_read_order(after: Checkpoint, read: impl Iterator<Item = Checkpoint>) -> Result<(), StoreError> {
    let mut previous = after;
    for checkpoint in read {
        if checkpoint <= previous {
            return Err(StoreError::InvalidData(format!(
                "read order broken: {checkpoint:?} returned after {previous:?}"
            )));
        }
        previous = checkpoint;
    }
    Ok(())
}

pub(crate) fn to_event(row: &Row) -> Result<RecordedEvent, StoreError> {
    Ok(RecordedEvent {
        global_position: row.try_get(0)?,
        tx_id: parse_xid8(row.try_get(1)?)?,
        event_id: row.try_get(2)?,
        tenant_id: row.try_get(3)?,
        stream_id: row.try_get(4)?,
        stream_version: row.try_get(5)?,
        event_type: row.try_get(6)?,
        schema_version: row.try_get(7)?,
        payload: row.try_get(8)?,
        metadata: row.try_get(9)?,
        recorded_at: row.try_get(10)?,
        dedupe_key: row.try_get(11)?,
        prev_hash: row.try_get(12)?,
        hash: row.try_get(13)?,
    })
}

pub(crate) const EVENT_COLUMNS: &str = COLUMNS;
/// How many columns `COLUMNS` selects; extra columns of a query start at this index.
pub(crate) const EVENT_COLUMN_COUNT: usize = 14;
