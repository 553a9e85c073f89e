//! One batch of events to the rows it changes: fold each touched stream with the core's
//! `evolve`, post each money event's journal transaction; a settlement report's event
//! becomes its row and a line's journal transaction without a fold (`settlement.rs`).
//! Streams other than `order-*`, `payment-*` and `settlement-*` (webhook inboxes, ...) are
//! skipped; so are the events of parked streams.
//!
//! A stream parks at the first event read (in the log's read order) whose fold needs an event
//! that cannot be decoded: the undecodable event itself, or an event of a higher version read
//! before it (see `cache.rs` for why the fold of a version needs every lower one). That event
//! and every later one of the stream are skipped; what was read before it is applied. The
//! rule depends only on the read order, never on where batches end, so every fold of the log
//! parks the same streams at the same events.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use payledger_core::ledger::{postings_for, JournalTransaction};
use payledger_core::{SettlementReportId, StreamRef};
use payledger_store::{Checkpoint, RecordedEvent, StreamKey};
use uuid::Uuid;

use crate::cache::{decode, Decoded, StateCache, StreamPlan, StreamState};
use crate::error::ProjectorError;
use crate::fresh::Written;
use crate::parked::ParkedStream;
use crate::rows::{
    account_type_str, side_str, DisputeRow, JournalEntryRow, OrderRow, PaymentRow, RefundRow, SettlementLineRow,
    SettlementReportRow,
};
use crate::settlement::{settlement_rows, SettlementRows};

/// Everything a batch writes (for one stream, or merged).
#[derive(Debug, Default, Clone)]
pub(crate) struct RowSet {
    pub orders: Vec<OrderRow>,
    pub payments: Vec<PaymentRow>,
    pub refunds: Vec<RefundRow>,
    pub disputes: Vec<DisputeRow>,
    pub journal: Vec<JournalEntryRow>,
    pub settlement_reports: Vec<SettlementReportRow>,
    pub settlement_lines: Vec<SettlementLineRow>,
    /// Orders whose payment sums and status must be recomputed.
    pub touched_orders: BTreeSet<(Uuid, Uuid)>,
}

impl RowSet {
    fn extend(&mut self, other: &RowSet) {
        self.orders.extend_from_slice(&other.orders);
        self.payments.extend_from_slice(&other.payments);
        self.refunds.extend_from_slice(&other.refunds);
        self.disputes.extend_from_slice(&other.disputes);
        self.journal.extend_from_slice(&other.journal);
        self.settlement_reports.extend_from_slice(&other.settlement_reports);
        self.settlement_lines.extend_from_slice(&other.settlement_lines);
        self.touched_orders.extend(other.touched_orders.iter().copied());
    }
}

/// The outcome of applying a batch to the state cache.
pub(crate) struct Applied {
    /// The rows of each stream, so that a stream whose rows the database refuses can be
    /// parked alone (see `batch.rs`).
    pub by_stream: BTreeMap<StreamKey, RowSet>,
    /// Streams parked by this batch.
    pub parked: Vec<ParkedStream>,
    /// The first event of each stream in the batch (where it parks if its rows are refused).
    pub first_events: BTreeMap<StreamKey, usize>,
    pub events: u64,
    pub skipped: u64,
    pub last: Option<(Checkpoint, DateTime<Utc>)>,
}

impl Applied {
    /// All streams' rows together.
    pub(crate) fn merged(&self) -> RowSet {
        let mut all = RowSet::default();
        for rows in self.by_stream.values() {
            all.extend(rows);
        }
        all
    }
}

/// What the batch does with one event.
enum Slot {
    /// Not an order, payment or settlement stream, or a stream parked before this batch.
    Skip,
    Event(StreamRef, Decoded),
    /// A settlement report's event, already its rows (it needs no fold).
    Settlement(SettlementRows),
    /// An event of a projected stream that cannot be decoded.
    Bad,
}

/// The streams the read-models show.
enum Projected {
    Aggregate(StreamRef),
    Settlement(SettlementReportId),
}

fn projected(stream_id: &str) -> Option<Projected> {
    match SettlementReportId::from_stream_id(stream_id) {
        Ok(report_id) => Some(Projected::Settlement(report_id)),
        Err(_) => StreamRef::parse(stream_id).ok().map(Projected::Aggregate),
    }
}

/// Folds `events` (in read order) into the cache and returns the rows they change; `schema`
/// is the projection version's and `parked` the streams already parked in it. See the module
/// docs for which events of a stream with an undecodable event are applied.
pub(crate) async fn apply_batch<C: tokio_postgres::GenericClient>(
    client: &C,
    schema: &str,
    cache: &mut StateCache,
    events: &[RecordedEvent],
    parked: &HashSet<StreamKey>,
    written: Option<&Written>,
) -> Result<Applied, ProjectorError> {
    let mut skipped = 0;
    let mut slots = Vec::with_capacity(events.len());
    // The lowest undecodable version of each stream, and why.
    let mut bad: BTreeMap<StreamKey, (i64, String)> = BTreeMap::new();
    for event in events {
        let key = StreamKey::new(event.tenant_id, event.stream_id.clone());
        let decoded = match projected(&event.stream_id) {
            None => Ok(Slot::Skip),
            Some(_) if parked.contains(&key) => Ok(Slot::Skip),
            Some(Projected::Aggregate(kind)) => decode(
                kind,
                &event.stream_id,
                event.global_position,
                &event.event_type,
                event.schema_version,
                &event.payload,
            )
            .map(|decoded| Slot::Event(kind, decoded)),
            Some(Projected::Settlement(report_id)) => settlement_rows(event, report_id).map(Slot::Settlement),
        };
        let slot = decoded.unwrap_or_else(|err| {
            let entry = bad.entry(key).or_insert((event.stream_version, err.to_string()));
            if event.stream_version < entry.0 {
                *entry = (event.stream_version, err.to_string());
            }
            Slot::Bad
        });
        if matches!(slot, Slot::Skip) {
            skipped += 1;
        }
        slots.push(slot);
    }

    // Fold; a stream whose prefix in the log cannot be decoded is cut there too, and folded
    // again up to just before its cut.
    let cuts = loop {
        let cuts = park_points(events, &slots, &bad);
        let plans = plan(events, &slots, &cuts);
        let failures = cache.advance(client, schema, &plans, written).await?;
        if failures.is_empty() {
            break cuts;
        }
        for (key, version, reason) in failures {
            let entry = bad.entry(key).or_insert((version, reason.clone()));
            if version < entry.0 {
                *entry = (version, reason);
            }
        }
    };

    let mut by_stream: BTreeMap<StreamKey, RowSet> = BTreeMap::new();
    let mut first_events: BTreeMap<StreamKey, usize> = BTreeMap::new();
    let mut folded: BTreeSet<StreamKey> = BTreeSet::new();
    for (index, (event, slot)) in events.iter().zip(&slots).enumerate() {
        let key = StreamKey::new(event.tenant_id, event.stream_id.clone());
        if matches!(slot, Slot::Skip | Slot::Bad) || cuts.get(&key).is_some_and(|cut| index >= *cut) {
            continue;
        }
        first_events.entry(key.clone()).or_insert(index);
        let rows = by_stream.entry(key.clone()).or_default();
        match slot {
            Slot::Event(_, decoded) => {
                folded.insert(key.clone());
                let Decoded::Payment(payment_event) = decoded else { continue };
                let Some(transaction) = postings_for(payment_event) else { continue };
                // The ids of a payment never change: the state folded up to any later version has them.
                if let Some((_, StreamState::Payment(Some(payment)))) = cache.get(&key) {
                    let owner = JournalOwner {
                        payment_id: Some(*payment.id.as_uuid()),
                        order_id: Some(*payment.order_id.as_uuid()),
                        ..JournalOwner::default()
                    };
                    post(rows, event, owner, &transaction)?;
                }
            }
            Slot::Settlement(SettlementRows::Report(report)) => rows.settlement_reports.push(report.clone()),
            Slot::Settlement(SettlementRows::Line(line, transaction)) => {
                if let Some(transaction) = transaction {
                    let owner = JournalOwner {
                        report_id: Some(line.report_id),
                        report_line: Some(line.line_number),
                        ..JournalOwner::default()
                    };
                    post(rows, event, owner, transaction)?;
                }
                rows.settlement_lines.push((**line).clone());
            }
            Slot::Skip | Slot::Bad => {}
        }
    }
    for key in &folded {
        if let Some(rows) = by_stream.get_mut(key) {
            collect_rows(cache, key, rows)?;
        }
    }

    let mut parked_now = Vec::new();
    for (key, cut) in &cuts {
        let reason = bad.get(key).map(|(_, reason)| reason.clone()).unwrap_or_default();
        parked_now.push(ParkedStream::at(&events[*cut], reason));
        cache.forget(key);
    }
    Ok(Applied {
        by_stream,
        parked: parked_now,
        first_events,
        events: events.len() as u64,
        skipped,
        last: events.last().map(|e| (e.checkpoint(), e.recorded_at)),
    })
}

/// For each stream with an undecodable version `v`, the index of its first event read whose
/// fold needs `v` (the running highest version read reaches `v`).
fn park_points(
    events: &[RecordedEvent],
    slots: &[Slot],
    bad: &BTreeMap<StreamKey, (i64, String)>,
) -> BTreeMap<StreamKey, usize> {
    let mut highest: BTreeMap<StreamKey, i64> = BTreeMap::new();
    let mut cuts = BTreeMap::new();
    for (index, (event, slot)) in events.iter().zip(slots).enumerate() {
        if matches!(slot, Slot::Skip) {
            continue;
        }
        let key = StreamKey::new(event.tenant_id, event.stream_id.clone());
        let Some((bad_version, _)) = bad.get(&key) else { continue };
        if cuts.contains_key(&key) {
            continue;
        }
        let high = highest.entry(key.clone()).or_insert(0);
        *high = (*high).max(event.stream_version);
        if *high >= *bad_version {
            cuts.insert(key, index);
        }
    }
    cuts
}

/// The fold each stream needs: up to the highest version read before its cut, if any.
fn plan<'a>(events: &[RecordedEvent], slots: &'a [Slot], cuts: &BTreeMap<StreamKey, usize>) -> Vec<StreamPlan<'a>> {
    let mut plans: BTreeMap<StreamKey, StreamPlan<'a>> = BTreeMap::new();
    for (index, (event, slot)) in events.iter().zip(slots).enumerate() {
        let Slot::Event(kind, decoded) = slot else { continue };
        let key = StreamKey::new(event.tenant_id, event.stream_id.clone());
        if cuts.get(&key).is_some_and(|cut| index >= *cut) {
            continue;
        }
        let plan = plans.entry(key.clone()).or_insert_with(|| StreamPlan {
            key,
            kind: *kind,
            target: 0,
            events: BTreeMap::new(),
        });
        plan.target = plan.target.max(event.stream_version);
        plan.events.insert(event.stream_version, decoded);
    }
    plans.into_values().collect()
}

/// What a journal transaction belongs to: a payment (and its order), or a report line.
#[derive(Debug, Clone, Copy, Default)]
struct JournalOwner {
    payment_id: Option<Uuid>,
    order_id: Option<Uuid>,
    report_id: Option<Uuid>,
    report_line: Option<i32>,
}

fn post(
    rows: &mut RowSet,
    event: &RecordedEvent,
    owner: JournalOwner,
    transaction: &JournalTransaction,
) -> Result<(), ProjectorError> {
    let event_tx_id = i64::try_from(event.tx_id).map_err(|_| {
        ProjectorError::corrupt(format!("tx_id {} of position {} overflows", event.tx_id, event.global_position))
    })?;
    for (index, line) in transaction.lines.iter().enumerate() {
        let line_no = i16::try_from(index).map_err(|_| ProjectorError::corrupt("too many posting lines"))?;
        rows.journal.push(JournalEntryRow {
            tenant_id: event.tenant_id,
            event_position: event.global_position,
            line: line_no,
            event_tx_id,
            event_id: event.event_id,
            payment_id: owner.payment_id,
            order_id: owner.order_id,
            report_id: owner.report_id,
            report_line: owner.report_line,
            kind: transaction.kind.as_str().to_owned(),
            account: line.account.as_str().to_owned(),
            side: side_str(line.side).to_owned(),
            amount_minor: line.amount_minor.get(),
            currency: line.currency.code().to_owned(),
            recorded_at: event.recorded_at,
        });
    }
    Ok(())
}

fn collect_rows(cache: &StateCache, key: &StreamKey, rows: &mut RowSet) -> Result<(), ProjectorError> {
    let (version, state) = cache.get(key).ok_or_else(|| ProjectorError::corrupt("applied stream left the cache"))?;
    match state {
        StreamState::Order(Some(order)) => {
            rows.orders.push(OrderRow::from_state(key.tenant_id, order, version));
            rows.touched_orders.insert((key.tenant_id, *order.id.as_uuid()));
        }
        StreamState::Payment(Some(payment)) => {
            rows.payments.push(PaymentRow::from_state(key.tenant_id, payment, version));
            rows.refunds.extend(payment.refunds.iter().map(|r| RefundRow::from_state(key.tenant_id, payment, r)));
            rows.disputes.extend(payment.disputes.iter().map(|d| DisputeRow::from_state(key.tenant_id, payment, d)));
            rows.touched_orders.insert((key.tenant_id, *payment.order_id.as_uuid()));
        }
        // A stream whose first event is not its creation: nothing to show.
        StreamState::Order(None) | StreamState::Payment(None) => {}
    }
    Ok(())
}

/// The account type and normal side of a balance row.
pub(crate) fn account_meta(account: payledger_core::ledger::Account) -> (&'static str, &'static str) {
    (account_type_str(account), side_str(account.normal_side()))
}
