//! The audit export: a tenant's events in read order and, when the export is not filtered,
//! every seal after them (docs/AUDIT.md §5), read chunk by chunk so memory stays flat.

mod format;

pub use format::{csv_lines, event_json, export_event_json, export_seal_json, ndjson_lines, seal_json, ExportLine};
use payledger_store::seal::tenant_seals;
use payledger_store::{read_all_canonical, Checkpoint, ReadAllFilter, StoreError, READ_MAX_BATCH};
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Seals loaded (and written out) per chunk.
const SEAL_PAGE: i64 = 500;

/// Reads an export chunk by chunk: the events, then (unfiltered, complete) the seals.
pub struct ExportReader {
    filter: ReadAllFilter,
    after: Checkpoint,
    batch_size: i64,
    remaining: u64,
    seals: Option<SealCursor>,
    events_done: bool,
    done: bool,
    livemode: Option<bool>,
}

/// The seals still to write: after `after_number`, up to the newest when the export began
/// (a later seal may cover events this export did not read).
struct SealCursor {
    tenant_id: Uuid,
    after_number: i64,
    up_to_number: i64,
}

impl ExportReader {
    /// An export after `after`, at most `max_events` events (at least 1). Seals come after
    /// the events when the filter names only the tenant (a filtered export holds only part of
    /// a seal's events) and the export is complete (not cut at `max_events`): all of them, so
    /// that the export verifies on its own, and an export continued later repeats them.
    pub async fn start<C: GenericClient>(
        client: &C,
        filter: ReadAllFilter,
        after: Checkpoint,
        batch_size: i64,
        max_events: u64,
    ) -> Result<ExportReader, StoreError> {
        let whole = filter.stream_id.is_none()
            && filter.event_type.is_none()
            && filter.recorded_from.is_none()
            && filter.recorded_before.is_none();
        let livemode = match filter.tenant_id {
            Some(tenant_id) => {
                let row = client.query_opt("SELECT livemode FROM tenants WHERE tenant_id = $1", &[&tenant_id]).await?;
                row.map(|r| r.try_get(0)).transpose()?
            }
            None => None,
        };
        let seals = match (filter.tenant_id, whole) {
            (Some(tenant_id), true) => Some(SealCursor::start(client, tenant_id).await?),
            _ => None,
        };
        Ok(ExportReader {
            filter,
            after,
            batch_size: batch_size.clamp(1, READ_MAX_BATCH),
            remaining: max_events.max(1),
            seals,
            events_done: false,
            done: false,
            livemode,
        })
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether the exported scope is live data (absent: the export is not of one scope).
    pub fn livemode(&self) -> Option<bool> {
        self.livemode
    }

    /// The next lines (possibly none while not done).
    pub async fn next_chunk<C: GenericClient>(&mut self, client: &C) -> Result<Vec<ExportLine>, StoreError> {
        if self.done {
            return Ok(Vec::new());
        }
        if self.events_done {
            return self.next_seals(client).await;
        }
        let wanted = self.batch_size.min(self.remaining.min(i64::MAX as u64) as i64);
        let events = read_all_canonical(client, self.after, &self.filter, wanted).await?;
        let complete = (events.len() as i64) < wanted;
        self.remaining = self.remaining.saturating_sub(events.len() as u64);
        if let Some(last) = events.last() {
            self.after = last.event.checkpoint();
        }
        if complete {
            self.events_done = true;
            self.done = self.seals.is_none();
        } else if self.remaining == 0 {
            // Cut: the page that completes the export carries the seals.
            self.done = true;
        }
        Ok(events.into_iter().map(ExportLine::Event).collect())
    }

    async fn next_seals<C: GenericClient>(&mut self, client: &C) -> Result<Vec<ExportLine>, StoreError> {
        let Some(cursor) = &mut self.seals else {
            self.done = true;
            return Ok(Vec::new());
        };
        let page = tenant_seals(client, cursor.tenant_id, cursor.after_number, cursor.up_to_number, SEAL_PAGE).await?;
        self.done = (page.len() as i64) < SEAL_PAGE;
        if let Some(last) = page.last() {
            cursor.after_number = last.seal.seal_number;
        }
        Ok(page.into_iter().map(ExportLine::Seal).collect())
    }
}

impl SealCursor {
    async fn start<C: GenericClient>(client: &C, tenant_id: Uuid) -> Result<SealCursor, StoreError> {
        let row = client.query_one("SELECT coalesce(max(seal_number), 0) FROM seals", &[]).await?;
        Ok(SealCursor { tenant_id, after_number: 0, up_to_number: row.try_get(0)? })
    }
}
