//! The journal of a rebuild's replay: every line is new to its fresh version (each event is
//! read once per version), so the lines go in with one binary COPY and the balances move by
//! their sums, folded in memory, in one statement. A line already there (which the live
//! projector would skip) fails the COPY like any refused row: the batch is then written
//! stream by stream the live projector's way.

use std::collections::{BTreeMap, HashMap};

use futures::pin_mut;
use payledger_core::ledger::{Account, Side};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::apply::account_meta;
use crate::error::ProjectorError;
use crate::rows::{side_str, JournalEntryRow};

/// The types of `JournalEntryRow::COLUMNS`, in order.
const JOURNAL_TYPES: [Type; 15] = [
    Type::UUID,
    Type::INT8,
    Type::INT2,
    Type::INT8,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::UUID,
    Type::INT4,
    Type::TEXT,
    Type::TEXT,
    Type::TEXT,
    Type::INT8,
    Type::TEXT,
    Type::TIMESTAMPTZ,
];

pub(crate) async fn copy_journal<C: GenericClient>(
    client: &C,
    s: &str,
    lines: &[JournalEntryRow],
) -> Result<(), ProjectorError> {
    if lines.is_empty() {
        return Ok(());
    }
    let sql = format!("COPY {s}.journal_entries ({}) FROM STDIN (FORMAT binary)", JournalEntryRow::COLUMNS);
    let sink = client.client().copy_in(&sql).await?;
    let writer = BinaryCopyInWriter::new(sink, &JOURNAL_TYPES);
    pin_mut!(writer);
    for l in lines {
        writer
            .as_mut()
            .write(&[
                &l.tenant_id,
                &l.event_position,
                &l.line,
                &l.event_tx_id,
                &l.event_id,
                &l.payment_id,
                &l.order_id,
                &l.report_id,
                &l.report_line,
                &l.kind,
                &l.account,
                &l.side,
                &l.amount_minor,
                &l.currency,
                &l.recorded_at,
            ])
            .await?;
    }
    writer.finish().await?;
    move_balances(client, s, lines).await
}

/// Debit, credit and line count of one balance.
#[derive(Default)]
struct Delta {
    debit: i128,
    credit: i128,
    entries: i64,
}

/// Adds the lines to their balances (as the live projector's journal statement does for
/// the lines it inserted; a line of an account the ledger does not know moves none).
async fn move_balances<C: GenericClient>(client: &C, s: &str, lines: &[JournalEntryRow]) -> Result<(), ProjectorError> {
    let meta: HashMap<&str, (&str, &str)> = Account::ALL.iter().map(|&a| (a.as_str(), account_meta(a))).collect();
    let debit = side_str(Side::Debit);
    let mut deltas: BTreeMap<(Uuid, &str, &str), Delta> = BTreeMap::new();
    for l in lines.iter().filter(|l| meta.contains_key(l.account.as_str())) {
        let delta = deltas.entry((l.tenant_id, l.account.as_str(), l.currency.as_str())).or_default();
        if l.side == debit {
            delta.debit += i128::from(l.amount_minor);
        } else {
            delta.credit += i128::from(l.amount_minor);
        }
        delta.entries += 1;
    }
    let mut tenant = Vec::with_capacity(deltas.len());
    let (mut account, mut currency, mut account_type, mut normal_side) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut debits, mut credits, mut entries) = (Vec::new(), Vec::new(), Vec::new());
    for (&(t, a, c), delta) in &deltas {
        let (kind, side) = meta.get(a).copied().unwrap_or_default();
        tenant.push(t);
        account.push(a);
        currency.push(c);
        account_type.push(kind);
        normal_side.push(side);
        debits.push(delta.debit.to_string());
        credits.push(delta.credit.to_string());
        entries.push(delta.entries);
    }
    let sql = format!(
        "INSERT INTO {s}.account_balances AS b
             (tenant_id, account, currency, account_type, normal_side, debit_minor, credit_minor, entry_count)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]::numeric[],
                              $7::text[]::numeric[], $8::int8[])
         ON CONFLICT (tenant_id, account, currency) DO UPDATE SET
             debit_minor = b.debit_minor + EXCLUDED.debit_minor,
             credit_minor = b.credit_minor + EXCLUDED.credit_minor,
             entry_count = b.entry_count + EXCLUDED.entry_count"
    );
    client
        .execute(&sql, &[&tenant, &account, &currency, &account_type, &normal_side, &debits, &credits, &entries])
        .await?;
    Ok(())
}
