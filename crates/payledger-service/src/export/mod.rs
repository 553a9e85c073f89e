//! The audit export: a tenant's events in read order and, when the export is not filtered,
//! the seals placed among them (docs/AUDIT.md §5), read chunk by chunk so memory stays flat.

mod format;

use std::collections::VecDeque;

pub use format::{csv_lines, event_json, export_event_json, export_seal_json, ndjson_lines, seal_json, ExportLine};
use payledger_store::seal::{tenant_seals, TenantSeal};
use payledger_store::{read_all_canonical, Checkpoint, ReadAllFilter, StoreError};
use tokio_postgres::GenericClient;
use uuid::Uuid;

/// Seals loaded per round trip.
const SEAL_PAGE: i64 = 500;

/// Reads an export chunk by chunk.
pub struct ExportReader {
    filter: ReadAllFilter,
    after: Checkpoint,
    batch_size: i64,
    remaining: u64,
    seals: Option<SealCursor>,
    done: bool,
}

/// Which seals may be placed: those whose last event comes before a checkpoint, at or
/// before it, or all.
#[derive(Clone, Copy)]
enum SealsUpTo {
    Before(Checkpoint),
    Through(Checkpoint),
    All,
}

/// The seals still to place: after `after_number`, up to the newest when the export began
/// (a later seal may cover events this export did not read).
struct SealCursor {
    tenant_id: Uuid,
    after_number: i64,
    up_to_number: i64,
    queue: VecDeque<TenantSeal>,
    exhausted: bool,
}

impl ExportReader {
    /// An export after `after`, at most `max_events` events. Seals come with it when the
    /// filter names only the tenant (a filtered export holds only part of a seal's events).
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
        let seals = match (filter.tenant_id, whole) {
            (Some(tenant_id), true) => Some(SealCursor::start(client, tenant_id, after).await?),
            _ => None,
        };
        Ok(ExportReader { filter, after, batch_size: batch_size.max(1), remaining: max_events, seals, done: false })
    }

    pub fn is_done(&self) -> bool {
        self.done
    }

    /// The last event's checkpoint so far.
    pub fn checkpoint(&self) -> Checkpoint {
        self.after
    }

    /// The next lines; empty once done.
    pub async fn next_chunk<C: GenericClient>(&mut self, client: &C) -> Result<Vec<ExportLine>, StoreError> {
        if self.done {
            return Ok(Vec::new());
        }
        let wanted = self.batch_size.min(self.remaining.min(i64::MAX as u64) as i64);
        let events = read_all_canonical(client, self.after, &self.filter, wanted).await?;
        let complete = (events.len() as i64) < wanted;
        self.remaining -= events.len() as u64;
        let mut lines = Vec::with_capacity(events.len() + 1);
        for event in events {
            let checkpoint = event.event.checkpoint();
            if let Some(seals) = &mut self.seals {
                seals.place(client, SealsUpTo::Before(checkpoint), &mut lines).await?;
            }
            self.after = checkpoint;
            lines.push(ExportLine::Event(event));
        }
        self.done = complete || self.remaining == 0;
        if let (true, Some(seals)) = (self.done, &mut self.seals) {
            // Complete: every seal there was when the export began. Cut at `limit` events: the
            // seals through its last event; the next page (after that event) places the rest.
            let last = if complete { SealsUpTo::All } else { SealsUpTo::Through(self.after) };
            seals.place(client, last, &mut lines).await?;
        }
        Ok(lines)
    }
}

impl SealCursor {
    async fn start<C: GenericClient>(client: &C, tenant_id: Uuid, after: Checkpoint) -> Result<SealCursor, StoreError> {
        let row = client
            .query_one(
                "SELECT coalesce((SELECT max(seal_number) FROM seals
                                  WHERE (to_tx_id, to_position) <= ($1::text::xid8, $2)), 0),
                        coalesce((SELECT max(seal_number) FROM seals), 0)",
                &[&after.tx_id.to_string(), &after.position],
            )
            .await?;
        Ok(SealCursor {
            tenant_id,
            after_number: row.try_get(0)?,
            up_to_number: row.try_get(1)?,
            queue: VecDeque::new(),
            exhausted: false,
        })
    }

    /// Places the seals `up_to` allows, in order.
    async fn place<C: GenericClient>(
        &mut self,
        client: &C,
        up_to: SealsUpTo,
        lines: &mut Vec<ExportLine>,
    ) -> Result<(), StoreError> {
        loop {
            if self.queue.is_empty() && !self.exhausted {
                let page =
                    tenant_seals(client, self.tenant_id, self.after_number, self.up_to_number, SEAL_PAGE).await?;
                self.exhausted = (page.len() as i64) < SEAL_PAGE;
                self.queue.extend(page);
            }
            let due = self.queue.front().is_some_and(|s| match up_to {
                SealsUpTo::Before(c) => s.seal.to < c,
                SealsUpTo::Through(c) => s.seal.to <= c,
                SealsUpTo::All => true,
            });
            if !due {
                return Ok(());
            }
            if let Some(seal) = self.queue.pop_front() {
                self.after_number = seal.seal.seal_number;
                lines.push(ExportLine::Seal(seal));
            }
        }
    }
}
