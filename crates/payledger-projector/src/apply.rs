//! One batch of events to the rows it changes: fold each touched stream with the core's
//! `evolve`, post each money event's journal transaction, sum the balance movements.
//! Streams other than `order-*` and `payment-*` (webhook inboxes, ...) are skipped.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use payledger_core::ledger::{postings_for, Account, Side};
use payledger_core::StreamRef;
use payledger_store::{Checkpoint, RecordedEvent, StreamKey};
use uuid::Uuid;

use crate::cache::{decode, Decoded, StateCache, StreamPlan, StreamState};
use crate::error::ProjectorError;
use crate::rows::{account_type_str, side_str, DisputeRow, JournalEntryRow, OrderRow, PaymentRow, RefundRow};

/// Debits and credits of one (tenant, account, currency) in a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct BalanceDelta {
    pub debit_minor: i64,
    pub credit_minor: i64,
    pub entries: i64,
}

/// Everything a batch writes.
#[derive(Debug, Default)]
pub(crate) struct RowSet {
    pub orders: Vec<OrderRow>,
    pub payments: Vec<PaymentRow>,
    pub refunds: Vec<RefundRow>,
    pub disputes: Vec<DisputeRow>,
    pub journal: Vec<JournalEntryRow>,
    pub balances: BTreeMap<(Uuid, Account, String), BalanceDelta>,
    /// Orders whose payment sums and status must be recomputed.
    pub touched_orders: BTreeSet<(Uuid, Uuid)>,
}

/// The outcome of applying a batch to the state cache.
pub(crate) struct Applied {
    pub rows: RowSet,
    pub events: u64,
    pub skipped: u64,
    pub last: Option<(Checkpoint, DateTime<Utc>)>,
}

/// Folds `events` (in read order) into the cache and returns the rows they change; `schema`
/// is the projection version's (see the cache's docs for what a stream's state is when the
/// read order is not its version order). An event of an order or payment stream that cannot
/// be decoded ends the batch just before it (so everything before it is applied); if it is
/// the first, the batch fails with it.
pub(crate) async fn apply_batch<C: tokio_postgres::GenericClient>(
    client: &C,
    schema: &str,
    cache: &mut StateCache,
    events: &[RecordedEvent],
) -> Result<Applied, ProjectorError> {
    // The events this batch applies, decoded (`None`: a stream the read-models skip).
    let mut decoded: Vec<Option<(StreamRef, Decoded)>> = Vec::with_capacity(events.len());
    for event in events {
        let Ok(kind) = StreamRef::parse(&event.stream_id) else {
            decoded.push(None);
            continue;
        };
        match decode(
            kind,
            &event.stream_id,
            event.global_position,
            &event.event_type,
            event.schema_version,
            &event.payload,
        ) {
            Ok(d) => decoded.push(Some((kind, d))),
            Err(err) if decoded.is_empty() => return Err(err),
            Err(err) => {
                tracing::warn!(error = %err, "stopping the batch before an undecodable event");
                break;
            }
        }
    }
    let events = &events[..decoded.len()];

    let mut plans: BTreeMap<StreamKey, StreamPlan<'_>> = BTreeMap::new();
    for (event, decoded) in events.iter().zip(&decoded) {
        let Some((kind, decoded)) = decoded else { continue };
        let key = StreamKey::new(event.tenant_id, event.stream_id.clone());
        let plan = plans.entry(key.clone()).or_insert_with(|| StreamPlan {
            key,
            kind: *kind,
            target: 0,
            events: BTreeMap::new(),
        });
        plan.target = plan.target.max(event.stream_version);
        plan.events.insert(event.stream_version, decoded);
    }
    let plans: Vec<StreamPlan<'_>> = plans.into_values().collect();
    cache.advance(client, schema, &plans).await?;

    let mut rows = RowSet::default();
    let mut skipped = 0;
    for (event, decoded) in events.iter().zip(&decoded) {
        let Some((_, decoded)) = decoded else {
            skipped += 1;
            continue;
        };
        let Decoded::Payment(payment_event) = decoded else { continue };
        let Some(transaction) = postings_for(payment_event) else { continue };
        let key = StreamKey::new(event.tenant_id, event.stream_id.clone());
        // The ids of a payment never change: the state folded up to any later version has them.
        if let Some((_, StreamState::Payment(Some(payment)))) = cache.get(&key) {
            let (payment_id, order_id) = (*payment.id.as_uuid(), *payment.order_id.as_uuid());
            post(&mut rows, event, payment_id, order_id, &transaction)?;
        }
    }
    for plan in &plans {
        collect_rows(cache, &plan.key, &mut rows)?;
    }
    Ok(Applied {
        rows,
        events: events.len() as u64,
        skipped,
        last: events.last().map(|e| (e.checkpoint(), e.recorded_at)),
    })
}

fn post(
    rows: &mut RowSet,
    event: &RecordedEvent,
    payment_id: Uuid,
    order_id: Uuid,
    transaction: &payledger_core::ledger::JournalTransaction,
) -> Result<(), ProjectorError> {
    let event_tx_id = i64::try_from(event.tx_id).map_err(|_| {
        ProjectorError::corrupt(format!("tx_id {} of position {} overflows", event.tx_id, event.global_position))
    })?;
    for (index, line) in transaction.lines.iter().enumerate() {
        let line_no = i16::try_from(index).map_err(|_| ProjectorError::corrupt("too many posting lines"))?;
        let amount = line.amount_minor.get();
        rows.journal.push(JournalEntryRow {
            tenant_id: event.tenant_id,
            event_position: event.global_position,
            line: line_no,
            event_tx_id,
            event_id: event.event_id,
            payment_id,
            order_id,
            kind: transaction.kind.as_str().to_owned(),
            account: line.account.as_str().to_owned(),
            side: side_str(line.side).to_owned(),
            amount_minor: amount,
            currency: line.currency.code().to_owned(),
            recorded_at: event.recorded_at,
        });
        let delta = rows.balances.entry((event.tenant_id, line.account, line.currency.code().to_owned())).or_default();
        let overflow = || ProjectorError::corrupt("a balance movement overflows i64 minor units");
        match line.side {
            Side::Debit => delta.debit_minor = delta.debit_minor.checked_add(amount).ok_or_else(overflow)?,
            Side::Credit => delta.credit_minor = delta.credit_minor.checked_add(amount).ok_or_else(overflow)?,
        }
        delta.entries += 1;
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
pub(crate) fn account_meta(account: Account) -> (&'static str, &'static str) {
    (account_type_str(account), side_str(account.normal_side()))
}
