//! Parked streams: a stream whose event cannot be projected (undecodable, or rows the database
//! refuses) is recorded in `parked_streams` for its projection version, and its later events
//! are skipped there, so one bad stream never stops the others. [`retry_parked`] folds parked
//! streams again after a fix.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use payledger_store::{read_all, Checkpoint, ReadAllFilter, RecordedEvent, StreamKey, READ_MAX_BATCH};
use serde::Serialize;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use crate::apply::apply_batch;
use crate::cache::StateCache;
use crate::error::ProjectorError;
use crate::registry::{self, PROJECTION};
use crate::schema::schema_name;
use crate::session::Session;
use crate::write::write_isolating;

/// Most parked streams listed by one call (all are counted).
pub const PARKED_LIST_MAX: i64 = 100;

/// One parked stream of one version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParkedStream {
    pub tenant_id: Uuid,
    pub stream_id: String,
    /// The first event skipped: every event of the stream read at or after it is skipped.
    pub event_position: i64,
    pub event_id: Uuid,
    pub event_type: String,
    pub stream_version: i64,
    pub reason: String,
    /// `None` until recorded.
    pub parked_at: Option<DateTime<Utc>>,
    pub retried_at: Option<DateTime<Utc>>,
    pub retries: i32,
}

impl ParkedStream {
    pub(crate) fn at(event: &RecordedEvent, reason: String) -> ParkedStream {
        ParkedStream {
            tenant_id: event.tenant_id,
            stream_id: event.stream_id.clone(),
            event_position: event.global_position,
            event_id: event.event_id,
            event_type: event.event_type.clone(),
            stream_version: event.stream_version,
            reason,
            parked_at: None,
            retried_at: None,
            retries: 0,
        }
    }

    pub(crate) fn key(&self) -> StreamKey {
        StreamKey::new(self.tenant_id, self.stream_id.clone())
    }

    fn from_row(row: &Row) -> Result<ParkedStream, tokio_postgres::Error> {
        Ok(ParkedStream {
            tenant_id: row.try_get("tenant_id")?,
            stream_id: row.try_get("stream_id")?,
            event_position: row.try_get("event_position")?,
            event_id: row.try_get("event_id")?,
            event_type: row.try_get("event_type")?,
            stream_version: row.try_get("stream_version")?,
            reason: row.try_get("reason")?,
            parked_at: row.try_get("parked_at")?,
            retried_at: row.try_get("retried_at")?,
            retries: row.try_get("retries")?,
        })
    }
}

const COLUMNS: &str =
    "tenant_id, stream_id, event_position, event_id, event_type, stream_version, reason, parked_at, retried_at, retries";

/// Which of the domain streams of `events` are parked in `version`.
pub(crate) async fn parked_among<C: GenericClient>(
    client: &C,
    version: i32,
    events: &[RecordedEvent],
) -> Result<HashSet<StreamKey>, ProjectorError> {
    let keys: HashSet<StreamKey> = events
        .iter()
        .filter(|e| e.stream_id.starts_with("order-") || e.stream_id.starts_with("payment-"))
        .map(|e| StreamKey::new(e.tenant_id, e.stream_id.clone()))
        .collect();
    if keys.is_empty() {
        return Ok(HashSet::new());
    }
    let tenants: Vec<Uuid> = keys.iter().map(|k| k.tenant_id).collect();
    let streams: Vec<&str> = keys.iter().map(|k| k.stream_id.as_str()).collect();
    let rows = client
        .query(
            "SELECT p.tenant_id, p.stream_id FROM unnest($3::uuid[], $4::text[]) AS k(tenant_id, stream_id)
             JOIN parked_streams p ON p.projection = $1 AND p.version = $2
                                  AND p.tenant_id = k.tenant_id AND p.stream_id = k.stream_id",
            &[&PROJECTION, &version, &tenants, &streams],
        )
        .await?;
    rows.iter().map(|row| Ok(StreamKey::new(row.try_get(0)?, row.try_get::<_, String>(1)?))).collect()
}

/// Records streams parked by a batch, in its transaction.
pub(crate) async fn record<C: GenericClient>(
    client: &C,
    version: i32,
    parked: &[ParkedStream],
) -> Result<(), ProjectorError> {
    for p in parked {
        tracing::warn!(tenant_id = %p.tenant_id, stream_id = %p.stream_id, position = p.event_position,
            reason = %p.reason, "stream parked: its events are skipped until it is retried");
        client
            .execute(
                "INSERT INTO parked_streams (projection, version, tenant_id, stream_id, event_position, event_id,
                                             event_type, stream_version, reason, retried_at, retries)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                 ON CONFLICT (projection, version, tenant_id, stream_id) DO NOTHING",
                &[
                    &PROJECTION,
                    &version,
                    &p.tenant_id,
                    &p.stream_id,
                    &p.event_position,
                    &p.event_id,
                    &p.event_type,
                    &p.stream_version,
                    &p.reason,
                    &p.retried_at,
                    &p.retries,
                ],
            )
            .await?;
    }
    if !parked.is_empty() {
        metrics::counter!("payledger_projector_streams_parked_total").increment(parked.len() as u64);
    }
    Ok(())
}

/// The parked streams of `version` (of one tenant, one stream), oldest event first.
pub async fn list_parked<C: GenericClient>(
    client: &C,
    version: i32,
    tenant_id: Option<Uuid>,
    stream_id: Option<&str>,
    limit: i64,
) -> Result<Vec<ParkedStream>, ProjectorError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM parked_streams
         WHERE projection = $1 AND version = $2 AND ($3::uuid IS NULL OR tenant_id = $3)
           AND ($4::text IS NULL OR stream_id = $4)
         ORDER BY event_position, tenant_id, stream_id LIMIT $5"
    );
    let rows = client.query(&sql, &[&PROJECTION, &version, &tenant_id, &stream_id, &limit]).await?;
    Ok(rows.iter().map(ParkedStream::from_row).collect::<Result<_, _>>()?)
}

/// How many streams are parked in `version` (of one tenant).
pub async fn count_parked<C: GenericClient>(
    client: &C,
    version: i32,
    tenant_id: Option<Uuid>,
) -> Result<i64, ProjectorError> {
    let row = client
        .query_one(
            "SELECT count(*) FROM parked_streams
             WHERE projection = $1 AND version = $2 AND ($3::uuid IS NULL OR tenant_id = $3)",
            &[&PROJECTION, &version, &tenant_id],
        )
        .await?;
    Ok(row.try_get(0)?)
}

/// Forgets the parked streams of a version whose tables are dropped.
pub(crate) async fn forget_version<C: GenericClient>(client: &C, version: i32) -> Result<(), ProjectorError> {
    client
        .execute("DELETE FROM parked_streams WHERE projection = $1 AND version = $2", &[&PROJECTION, &version])
        .await?;
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct RetryOptions {
    /// Only this tenant's parked streams.
    pub tenant_id: Option<Uuid>,
    /// Only this stream.
    pub stream_id: Option<String>,
    pub statement_timeout_ms: u64,
}

/// What a retry did with one parked stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RetryOutcome {
    pub tenant_id: Uuid,
    pub stream_id: String,
    /// The fold succeeded: the stream's rows are written and it is projected again.
    pub unparked: bool,
    /// Still parked: where and why now.
    pub parked: Option<ParkedStream>,
}

/// Folds each parked stream of the live version (of a tenant, a stream) again, up to the live
/// checkpoint, one transaction per stream. A fold that now succeeds writes the stream's rows
/// and journal lines (those of the events skipped since it parked) and un-parks it; else it
/// stays parked with the new reason. The checkpoint does not move: the skipped events were
/// counted when read.
pub async fn retry_parked(database_url: &str, options: &RetryOptions) -> Result<Vec<RetryOutcome>, ProjectorError> {
    let mut session = Session::connect(database_url, options.statement_timeout_ms.max(1_000)).await?;
    let Some(version) = registry::live_version(&session.client).await? else { return Ok(Vec::new()) };
    let todo = list_parked(&session.client, version, options.tenant_id, options.stream_id.as_deref(), i64::MAX).await?;
    let mut outcomes = Vec::with_capacity(todo.len());
    for parked in &todo {
        outcomes.push(retry_one(&mut session, parked).await?);
    }
    Ok(outcomes)
}

async fn retry_one(session: &mut Session, parked: &ParkedStream) -> Result<RetryOutcome, ProjectorError> {
    let tx = session.client.transaction().await?;
    // The same locks as a live batch, in the same order: the projector waits meanwhile.
    let live: Option<i32> = tx
        .query_one("SELECT live_version FROM projections WHERE name = $1 FOR SHARE", &[&PROJECTION])
        .await?
        .try_get(0)?;
    let Some(version) = live else { return Err(not_live()) };
    let (checkpoint, _) = registry::lock_checkpoint(&tx, version).await?.ok_or_else(not_live)?;
    let row = tx
        .query_opt(
            "DELETE FROM parked_streams p USING events e
             WHERE p.projection = $1 AND p.version = $2 AND p.tenant_id = $3 AND p.stream_id = $4
               AND e.global_position = p.event_position
             RETURNING e.tx_id::text, p.retries",
            &[&PROJECTION, &version, &parked.tenant_id, &parked.stream_id],
        )
        .await?;
    let outcome = |unparked, parked: Option<ParkedStream>, p: &ParkedStream| RetryOutcome {
        tenant_id: p.tenant_id,
        stream_id: p.stream_id.clone(),
        unparked,
        parked,
    };
    let Some(row) = row else {
        // Un-parked meanwhile (another retry), or parked in a version no longer live.
        tx.rollback().await?;
        return Ok(outcome(true, None, parked));
    };
    let park_tx = registry::parse_tx_id(row.try_get(0)?)?;
    let retries: i32 = row.try_get(1)?;
    let events =
        stream_events(&tx, parked, Checkpoint { tx_id: park_tx, position: parked.event_position }, checkpoint).await?;
    let schema = schema_name(PROJECTION, version);
    let mut cache = StateCache::new(16);
    let mut applied = apply_batch(&tx, &schema, &mut cache, &events, &HashSet::new(), None).await?;
    write_isolating(&tx, &schema, &events, &mut applied, None).await?;
    let still = applied.parked.into_iter().next().map(|mut p| {
        p.retries = retries.saturating_add(1);
        p.retried_at = Some(Utc::now());
        p
    });
    if let Some(p) = &still {
        record(&tx, version, std::slice::from_ref(p)).await?;
    }
    tx.commit().await?;
    match still {
        Some(p) => Ok(outcome(false, Some(p), parked)),
        None => {
            tracing::info!(tenant_id = %parked.tenant_id, stream_id = %parked.stream_id, "parked stream projected again");
            Ok(outcome(true, None, parked))
        }
    }
}

/// The stream's events from `first` to `up_to` (both included), in read order.
async fn stream_events<C: GenericClient>(
    client: &C,
    parked: &ParkedStream,
    first: Checkpoint,
    up_to: Checkpoint,
) -> Result<Vec<RecordedEvent>, ProjectorError> {
    let filter = ReadAllFilter {
        tenant_id: Some(parked.tenant_id),
        stream_id: Some(parked.stream_id.clone()),
        ..Default::default()
    };
    let mut after = Checkpoint { tx_id: first.tx_id, position: first.position - 1 };
    let mut events = Vec::new();
    loop {
        let page = read_all(client, after, &filter, READ_MAX_BATCH).await?;
        let full = page.len() as i64 == READ_MAX_BATCH;
        for event in page {
            if event.checkpoint() > up_to {
                return Ok(events);
            }
            after = event.checkpoint();
            events.push(event);
        }
        if !full {
            return Ok(events);
        }
    }
}

fn not_live() -> ProjectorError {
    ProjectorError::VersionMissing { projection: PROJECTION.to_owned(), version: 0, expected_state: "live" }
}
