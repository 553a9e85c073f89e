//! Walks every stream's hash chain and names every broken link.

use futures::{pin_mut, TryStreamExt};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::StoreError;
use crate::hash::{chain_hash, HashInput, GENESIS_HASH};
use crate::read::{to_event, EVENT_COLUMNS, EVENT_COLUMN_COUNT};
use crate::types::RecordedEvent;

/// Most broken links reported; past this the report says it was cut short.
const MAX_BROKEN_LINKS: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkFault {
    /// The stored hash does not match the event's content: the row was altered.
    HashMismatch,
    /// `prev_hash` is not the previous event's hash: an event was removed or reordered.
    PrevHashMismatch,
    /// The versions skip a number: an event was removed.
    VersionGap,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BrokenLink {
    pub tenant_id: Uuid,
    pub stream_id: String,
    pub stream_version: i64,
    pub global_position: i64,
    pub fault: LinkFault,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ChainReport {
    pub streams_checked: u64,
    pub events_checked: u64,
    /// Every broken link, in stream order.
    pub broken: Vec<BrokenLink>,
    pub truncated: bool,
}

impl ChainReport {
    pub fn is_intact(&self) -> bool {
        self.broken.is_empty()
    }
}

/// Recomputes every chain from the stored rows alone (optionally one tenant's), streaming
/// the rows so memory stays flat however long the history.
pub async fn verify_chains<C: GenericClient>(client: &C, tenant_id: Option<Uuid>) -> Result<ChainReport, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS}, payload::text, metadata::text FROM events WHERE ($1::uuid IS NULL OR tenant_id = $1)
         ORDER BY tenant_id, stream_id, stream_version"
    );
    let rows = client.query_raw(&sql, [&tenant_id as &(dyn tokio_postgres::types::ToSql + Sync)]).await?;
    pin_mut!(rows);

    let mut report = ChainReport::default();
    let mut current: Option<(Uuid, String)> = None;
    let mut prev: (i64, Vec<u8>) = (0, GENESIS_HASH.to_vec());
    while let Some(row) = rows.try_next().await? {
        let event = to_event(&row)?;
        let payload_text: String = row.try_get(EVENT_COLUMN_COUNT)?;
        let metadata_text: String = row.try_get(EVENT_COLUMN_COUNT + 1)?;
        report.events_checked += 1;
        let same_stream = current.as_ref().is_some_and(|(t, s)| *t == event.tenant_id && *s == event.stream_id);
        if !same_stream {
            current = Some((event.tenant_id, event.stream_id.clone()));
            prev = (0, GENESIS_HASH.to_vec());
            report.streams_checked += 1;
        }
        // Each link is checked against the stored hash of the one before, so one broken link
        // does not hide a later one.
        if let Some(fault) = check_link(&event, &prev, &payload_text, &metadata_text) {
            if report.broken.len() >= MAX_BROKEN_LINKS {
                report.truncated = true;
                continue;
            }
            report.broken.push(BrokenLink {
                tenant_id: event.tenant_id,
                stream_id: event.stream_id.clone(),
                stream_version: event.stream_version,
                global_position: event.global_position,
                fault,
            });
        }
        prev = (event.stream_version, event.hash);
    }
    Ok(report)
}

fn check_link(
    event: &RecordedEvent,
    prev: &(i64, Vec<u8>),
    payload_text: &str,
    metadata_text: &str,
) -> Option<LinkFault> {
    if event.stream_version != prev.0 + 1 {
        return Some(LinkFault::VersionGap);
    }
    if event.prev_hash != prev.1 {
        return Some(LinkFault::PrevHashMismatch);
    }
    let recomputed = chain_hash(
        &event.prev_hash,
        &HashInput {
            tenant_id: event.tenant_id,
            stream_id: &event.stream_id,
            stream_version: event.stream_version,
            event_id: event.event_id,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            recorded_at_unix_micros: event.recorded_at.timestamp_micros(),
            dedupe_key: event.dedupe_key.as_deref(),
            payload_text,
            metadata_text,
        },
    );
    if recomputed.as_slice() != event.hash.as_slice() {
        return Some(LinkFault::HashMismatch);
    }
    None
}
