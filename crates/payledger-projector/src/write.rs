//! Writes a batch's rows into one version's tables: one statement per table (arrays through
//! `unnest`), then the payment sums and status of the touched orders.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use payledger_core::order::OrderReadStatus;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::apply::{account_meta, Applied, RowSet};
use crate::copy::copy_journal;
use crate::error::ProjectorError;
use crate::fresh::Written;
use crate::parked::ParkedStream;
use crate::rows::side_str;
use crate::rows::{DisputeRow, OrderRow, PaymentRow, RefundRow, SettlementLineRow, SettlementReportRow, WideMinor};
use payledger_core::ledger::{Account, Side};
use payledger_store::RecordedEvent;

/// Writes a batch's rows. If the database refuses them (a data or integrity error), each
/// stream's rows are written on their own, and a stream whose rows are refused is parked at
/// its first event of the batch (its rows stay as before the batch); the others are written.
/// With `written` (a rebuild's replay, see `fresh.rs`) the whole batch is first written with
/// the orders' sums folded in memory; the stream-by-stream retry is the live projector's.
pub(crate) async fn write_isolating<C: GenericClient>(
    client: &C,
    schema: &str,
    events: &[RecordedEvent],
    applied: &mut Applied,
    written: Option<&Written>,
) -> Result<(), ProjectorError> {
    client.batch_execute("SAVEPOINT batch_rows").await?;
    let merged = applied.merged();
    let result = match written {
        Some(written) => write_rows_fresh(client, schema, &merged, written).await,
        None => write_rows(client, schema, &merged).await,
    };
    match result {
        Ok(()) => {
            client.batch_execute("RELEASE SAVEPOINT batch_rows").await?;
            return Ok(());
        }
        Err(err) if is_refusal(&err) => {
            tracing::warn!(error = %err, "the database refused a batch's rows; writing stream by stream");
            client.batch_execute("ROLLBACK TO SAVEPOINT batch_rows; RELEASE SAVEPOINT batch_rows").await?;
        }
        Err(err) => return Err(err),
    }
    let mut refused = Vec::new();
    for (key, rows) in &applied.by_stream {
        client.batch_execute("SAVEPOINT stream_rows").await?;
        match write_rows(client, schema, rows).await {
            Ok(()) => client.batch_execute("RELEASE SAVEPOINT stream_rows").await?,
            Err(err) if is_refusal(&err) => {
                client.batch_execute("ROLLBACK TO SAVEPOINT stream_rows; RELEASE SAVEPOINT stream_rows").await?;
                refused.push((key.clone(), format!("the database refused the stream's rows: {err}")));
            }
            Err(err) => return Err(err),
        }
    }
    for (key, reason) in refused {
        let first = applied
            .first_events
            .get(&key)
            .copied()
            .ok_or_else(|| ProjectorError::corrupt("refused stream has no event"))?;
        applied.parked.retain(|p| p.key() != key);
        applied.parked.push(ParkedStream::at(&events[first], reason));
    }
    Ok(())
}

/// A row the database will never take as it is (data exception, integrity violation, a
/// row touched twice by one statement): retrying the same rows cannot help.
fn is_refusal(err: &ProjectorError) -> bool {
    err.sql_state().is_some_and(|state| matches!(&state.code()[..2], "21" | "22" | "23"))
}

pub(crate) async fn write_rows<C: GenericClient>(
    client: &C,
    schema: &str,
    rows: &RowSet,
) -> Result<(), ProjectorError> {
    upsert_orders(client, schema, &rows.orders, false).await?;
    upsert_payments(client, schema, &rows.payments).await?;
    upsert_refunds(client, schema, &rows.refunds).await?;
    upsert_disputes(client, schema, &rows.disputes).await?;
    insert_settlement_reports(client, schema, &rows.settlement_reports).await?;
    insert_settlement_lines(client, schema, &rows.settlement_lines).await?;
    post_journal(client, schema, rows).await?;
    refresh_orders(client, schema, rows).await
}

/// A rebuild batch's rows (see `fresh.rs`): each order is written once, with the sums of
/// its payments folded from this batch's rows; the database is asked only about orders whose
/// row or payments an earlier batch may have written.
async fn write_rows_fresh<C: GenericClient>(
    client: &C,
    schema: &str,
    rows: &RowSet,
    written: &Written,
) -> Result<(), ProjectorError> {
    upsert_payments(client, schema, &rows.payments).await?;
    upsert_refunds(client, schema, &rows.refunds).await?;
    upsert_disputes(client, schema, &rows.disputes).await?;
    insert_settlement_reports(client, schema, &rows.settlement_reports).await?;
    insert_settlement_lines(client, schema, &rows.settlement_lines).await?;
    copy_journal(client, schema, &rows.journal).await?;
    let (orders, updates) = fold_order_sums(client, schema, rows, written).await?;
    upsert_orders(client, schema, &orders, true).await?;
    update_order_sums(client, schema, &updates).await
}

/// The batch's order rows with their sums and status, and the sums of the touched orders
/// whose row an earlier batch wrote. Runs after the batch's payments are written.
async fn fold_order_sums<C: GenericClient>(
    client: &C,
    s: &str,
    rows: &RowSet,
    written: &Written,
) -> Result<(Vec<OrderRow>, Vec<OrderSums>), ProjectorError> {
    let in_batch: BTreeSet<(Uuid, Uuid)> = rows.orders.iter().map(|o| (o.tenant_id, o.order_id)).collect();
    let mut batch_sums: HashMap<(Uuid, Uuid), (i128, i128)> = HashMap::new();
    for p in &rows.payments {
        let sums = batch_sums.entry((p.tenant_id, p.order_id)).or_default();
        sums.0 += i128::from(p.amount_captured_minor);
        sums.1 += i128::from(p.amount_refunded_minor);
    }
    let ask: Vec<(Uuid, Uuid)> = rows
        .touched_orders
        .iter()
        .filter(|&&(t, o)| {
            written.may_have_order_payments(t, o) || (!in_batch.contains(&(t, o)) && written.may_have_order(t, o))
        })
        .copied()
        .collect();
    let stored = stored_order_sums(client, s, &ask).await?;
    let sums_of = |key: &(Uuid, Uuid)| match stored.get(key) {
        Some(found) => (found.1, found.2),
        None => batch_sums.get(key).map(|&(c, r)| (WideMinor(c), WideMinor(r))).unwrap_or_default(),
    };
    let mut orders = Vec::with_capacity(rows.orders.len());
    for row in &rows.orders {
        let (captured, refunded) = sums_of(&(row.tenant_id, row.order_id));
        let status = OrderReadStatus::derive(row.amount_minor, row.cancelled_at.is_some(), captured, refunded);
        let mut row = row.clone();
        (row.amount_captured_minor, row.amount_refunded_minor) = (captured, refunded);
        row.status = status.as_str().to_owned();
        orders.push(row);
    }
    let mut updates = Vec::new();
    for key in rows.touched_orders.iter().filter(|key| !in_batch.contains(key)) {
        // No row (never written, or its stream not shown): nothing to update, as in the refresh.
        let Some(&(Some((amount, cancelled)), captured, refunded)) = stored.get(key) else { continue };
        let status = OrderReadStatus::derive(amount, cancelled, captured, refunded).as_str();
        updates.push(OrderSums { tenant_id: key.0, order_id: key.1, captured, refunded, status });
    }
    Ok((orders, updates))
}

/// The stored row (amount, cancelled) of each asked order if it has one, and the sums of all
/// its stored payments.
type StoredOrder = (Option<(i64, bool)>, WideMinor, WideMinor);

async fn stored_order_sums<C: GenericClient>(
    client: &C,
    s: &str,
    ask: &[(Uuid, Uuid)],
) -> Result<HashMap<(Uuid, Uuid), StoredOrder>, ProjectorError> {
    let mut stored = HashMap::new();
    if ask.is_empty() {
        return Ok(stored);
    }
    let tenants: Vec<Uuid> = ask.iter().map(|(t, _)| *t).collect();
    let orders: Vec<Uuid> = ask.iter().map(|(_, o)| *o).collect();
    let sql = format!(
        "SELECT t.tenant_id, t.order_id, o.amount_minor, o.cancelled_at IS NOT NULL,
                coalesce(sum(p.amount_captured_minor), 0)::text, coalesce(sum(p.amount_refunded_minor), 0)::text
         FROM unnest($1::uuid[], $2::uuid[]) AS t(tenant_id, order_id)
         LEFT JOIN {s}.orders o ON o.tenant_id = t.tenant_id AND o.order_id = t.order_id
         LEFT JOIN {s}.payments p ON p.tenant_id = t.tenant_id AND p.order_id = t.order_id
         GROUP BY t.tenant_id, t.order_id, o.amount_minor, o.cancelled_at"
    );
    for row in client.query(&sql, &[&tenants, &orders]).await? {
        let amount: Option<i64> = row.try_get(2)?;
        let order = amount.map(|amount| row.try_get::<_, bool>(3).map(|cancelled| (amount, cancelled))).transpose()?;
        stored.insert((row.try_get(0)?, row.try_get(1)?), (order, row.try_get(4)?, row.try_get(5)?));
    }
    Ok(stored)
}

/// Updates every column but the key (and, for orders, the sums the refresh owns).
fn set_list(columns: &str, skip: &[&str]) -> String {
    columns
        .split(',')
        .map(str::trim)
        .filter(|c| !skip.contains(c))
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// With `sums`, the rows carry their payment sums and status (the rebuild's fold) and a
/// conflict updates those too; else the refresh owns them.
async fn upsert_orders<C: GenericClient>(
    client: &C,
    s: &str,
    orders: &[OrderRow],
    sums: bool,
) -> Result<(), ProjectorError> {
    if orders.is_empty() {
        return Ok(());
    }
    let tenant: Vec<Uuid> = orders.iter().map(|o| o.tenant_id).collect();
    let id: Vec<Uuid> = orders.iter().map(|o| o.order_id).collect();
    let status: Vec<&str> = orders.iter().map(|o| o.status.as_str()).collect();
    let amount: Vec<i64> = orders.iter().map(|o| o.amount_minor).collect();
    let currency: Vec<&str> = orders.iter().map(|o| o.currency.as_str()).collect();
    let reference: Vec<&str> = orders.iter().map(|o| o.reference.as_str()).collect();
    let metadata: Vec<&serde_json::Value> = orders.iter().map(|o| &o.metadata).collect();
    let captured: Vec<String> = orders.iter().map(|o| o.amount_captured_minor.to_string()).collect();
    let refunded: Vec<String> = orders.iter().map(|o| o.amount_refunded_minor.to_string()).collect();
    let created: Vec<DateTime<Utc>> = orders.iter().map(|o| o.created_at).collect();
    let cancelled: Vec<Option<DateTime<Utc>>> = orders.iter().map(|o| o.cancelled_at).collect();
    let reason: Vec<Option<&str>> = orders.iter().map(|o| o.cancel_reason.as_deref()).collect();
    let version: Vec<i64> = orders.iter().map(|o| o.stream_version).collect();
    let sql = format!(
        "INSERT INTO {s}.orders ({cols})
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::int8[], $5::text[], $6::text[], $7::jsonb[],
                              $8::text[]::numeric[], $9::text[]::numeric[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::int8[])
         ON CONFLICT (tenant_id, order_id) DO UPDATE SET {set}",
        cols = OrderRow::COLUMNS,
        set = if sums {
            set_list(OrderRow::COLUMNS, &["tenant_id", "order_id"])
        } else {
            set_list(
                OrderRow::COLUMNS,
                &["tenant_id", "order_id", "status", "amount_captured_minor", "amount_refunded_minor"],
            )
        },
    );
    client
        .execute(
            &sql,
            &[
                &tenant, &id, &status, &amount, &currency, &reference, &metadata, &captured, &refunded, &created,
                &cancelled, &reason, &version,
            ],
        )
        .await?;
    Ok(())
}

async fn upsert_payments<C: GenericClient>(client: &C, s: &str, payments: &[PaymentRow]) -> Result<(), ProjectorError> {
    if payments.is_empty() {
        return Ok(());
    }
    let tenant: Vec<Uuid> = payments.iter().map(|p| p.tenant_id).collect();
    let id: Vec<Uuid> = payments.iter().map(|p| p.payment_id).collect();
    let order: Vec<Uuid> = payments.iter().map(|p| p.order_id).collect();
    let status: Vec<&str> = payments.iter().map(|p| p.status.as_str()).collect();
    let amount: Vec<i64> = payments.iter().map(|p| p.amount_minor).collect();
    let currency: Vec<&str> = payments.iter().map(|p| p.currency.as_str()).collect();
    let method: Vec<&str> = payments.iter().map(|p| p.capture_method.as_str()).collect();
    let provider: Vec<&str> = payments.iter().map(|p| p.provider.as_str()).collect();
    let reference: Vec<Option<&str>> = payments.iter().map(|p| p.provider_reference.as_deref()).collect();
    let authorized: Vec<i64> = payments.iter().map(|p| p.amount_authorized_minor).collect();
    let captured: Vec<i64> = payments.iter().map(|p| p.amount_captured_minor).collect();
    let refunded: Vec<i64> = payments.iter().map(|p| p.amount_refunded_minor).collect();
    let pending: Vec<i64> = payments.iter().map(|p| p.amount_refund_pending_minor).collect();
    let disputed: Vec<i64> = payments.iter().map(|p| p.amount_disputed_minor).collect();
    let capturable: Vec<i64> = payments.iter().map(|p| p.amount_capturable_minor).collect();
    let refundable: Vec<i64> = payments.iter().map(|p| p.amount_refundable_minor).collect();
    let code: Vec<Option<&str>> = payments.iter().map(|p| p.failure_code.as_deref()).collect();
    let message: Vec<Option<&str>> = payments.iter().map(|p| p.failure_message.as_deref()).collect();
    let created: Vec<DateTime<Utc>> = payments.iter().map(|p| p.created_at).collect();
    let version: Vec<i64> = payments.iter().map(|p| p.stream_version).collect();
    let sql = format!(
        "INSERT INTO {s}.payments ({cols})
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int8[], $6::text[], $7::text[],
                              $8::text[], $9::text[], $10::int8[], $11::int8[], $12::int8[], $13::int8[], $14::int8[],
                              $15::int8[], $16::int8[], $17::text[], $18::text[], $19::timestamptz[], $20::int8[])
         ON CONFLICT (tenant_id, payment_id) DO UPDATE SET {set}",
        cols = PaymentRow::COLUMNS,
        set = set_list(PaymentRow::COLUMNS, &["tenant_id", "payment_id"]),
    );
    client
        .execute(
            &sql,
            &[
                &tenant,
                &id,
                &order,
                &status,
                &amount,
                &currency,
                &method,
                &provider,
                &reference,
                &authorized,
                &captured,
                &refunded,
                &pending,
                &disputed,
                &capturable,
                &refundable,
                &code,
                &message,
                &created,
                &version,
            ],
        )
        .await?;
    Ok(())
}

async fn upsert_refunds<C: GenericClient>(client: &C, s: &str, refunds: &[RefundRow]) -> Result<(), ProjectorError> {
    // One statement may not touch a row twice: keep one row per key.
    let unique: BTreeMap<(Uuid, Uuid), &RefundRow> = refunds.iter().map(|r| ((r.tenant_id, r.refund_id), r)).collect();
    if unique.is_empty() {
        return Ok(());
    }
    let refunds: Vec<&RefundRow> = unique.into_values().collect();
    let tenant: Vec<Uuid> = refunds.iter().map(|r| r.tenant_id).collect();
    let id: Vec<Uuid> = refunds.iter().map(|r| r.refund_id).collect();
    let payment: Vec<Uuid> = refunds.iter().map(|r| r.payment_id).collect();
    let status: Vec<&str> = refunds.iter().map(|r| r.status.as_str()).collect();
    let amount: Vec<i64> = refunds.iter().map(|r| r.amount_minor).collect();
    let currency: Vec<&str> = refunds.iter().map(|r| r.currency.as_str()).collect();
    let reason: Vec<Option<&str>> = refunds.iter().map(|r| r.reason.as_deref()).collect();
    let reference: Vec<Option<&str>> = refunds.iter().map(|r| r.provider_reference.as_deref()).collect();
    let code: Vec<Option<&str>> = refunds.iter().map(|r| r.failure_code.as_deref()).collect();
    let message: Vec<Option<&str>> = refunds.iter().map(|r| r.failure_message.as_deref()).collect();
    let created: Vec<DateTime<Utc>> = refunds.iter().map(|r| r.created_at).collect();
    let sql = format!(
        "INSERT INTO {s}.refunds ({cols})
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int8[], $6::text[], $7::text[],
                              $8::text[], $9::text[], $10::text[], $11::timestamptz[])
         ON CONFLICT (tenant_id, refund_id) DO UPDATE SET {set}",
        cols = RefundRow::COLUMNS,
        set = set_list(RefundRow::COLUMNS, &["tenant_id", "refund_id"]),
    );
    client
        .execute(
            &sql,
            &[&tenant, &id, &payment, &status, &amount, &currency, &reason, &reference, &code, &message, &created],
        )
        .await?;
    Ok(())
}

async fn upsert_disputes<C: GenericClient>(client: &C, s: &str, disputes: &[DisputeRow]) -> Result<(), ProjectorError> {
    let unique: BTreeMap<(Uuid, Uuid), &DisputeRow> =
        disputes.iter().map(|d| ((d.tenant_id, d.dispute_id), d)).collect();
    if unique.is_empty() {
        return Ok(());
    }
    let disputes: Vec<&DisputeRow> = unique.into_values().collect();
    let tenant: Vec<Uuid> = disputes.iter().map(|d| d.tenant_id).collect();
    let id: Vec<Uuid> = disputes.iter().map(|d| d.dispute_id).collect();
    let payment: Vec<Uuid> = disputes.iter().map(|d| d.payment_id).collect();
    let status: Vec<&str> = disputes.iter().map(|d| d.status.as_str()).collect();
    let amount: Vec<i64> = disputes.iter().map(|d| d.amount_minor).collect();
    let currency: Vec<&str> = disputes.iter().map(|d| d.currency.as_str()).collect();
    let reason: Vec<Option<&str>> = disputes.iter().map(|d| d.reason.as_deref()).collect();
    let reference: Vec<Option<&str>> = disputes.iter().map(|d| d.provider_reference.as_deref()).collect();
    let created: Vec<DateTime<Utc>> = disputes.iter().map(|d| d.created_at).collect();
    let sql = format!(
        "INSERT INTO {s}.disputes ({cols})
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::int8[], $6::text[], $7::text[],
                              $8::text[], $9::timestamptz[])
         ON CONFLICT (tenant_id, dispute_id) DO UPDATE SET {set}",
        cols = DisputeRow::COLUMNS,
        set = set_list(DisputeRow::COLUMNS, &["tenant_id", "dispute_id"]),
    );
    client.execute(&sql, &[&tenant, &id, &payment, &status, &amount, &currency, &reason, &reference, &created]).await?;
    Ok(())
}

/// Settlement rows are facts, inserted once: a key already present is a repeated event in
/// the stream, which the database refuses, and the stream parks.
async fn insert_settlement_reports<C: GenericClient>(
    client: &C,
    s: &str,
    reports: &[SettlementReportRow],
) -> Result<(), ProjectorError> {
    if reports.is_empty() {
        return Ok(());
    }
    let tenant: Vec<Uuid> = reports.iter().map(|r| r.tenant_id).collect();
    let id: Vec<Uuid> = reports.iter().map(|r| r.report_id).collect();
    let provider: Vec<&str> = reports.iter().map(|r| r.provider.as_str()).collect();
    let sha256: Vec<&str> = reports.iter().map(|r| r.sha256.as_str()).collect();
    let size: Vec<i64> = reports.iter().map(|r| r.size_bytes).collect();
    let lines: Vec<i32> = reports.iter().map(|r| r.line_count).collect();
    let duplicates: Vec<i32> = reports.iter().map(|r| r.duplicate_lines).collect();
    let from: Vec<Option<DateTime<Utc>>> = reports.iter().map(|r| r.period_from).collect();
    let to: Vec<Option<DateTime<Utc>>> = reports.iter().map(|r| r.period_to).collect();
    let received: Vec<DateTime<Utc>> = reports.iter().map(|r| r.received_at).collect();
    let position: Vec<i64> = reports.iter().map(|r| r.event_position).collect();
    let sql = format!(
        "INSERT INTO {s}.settlement_reports ({cols})
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int8[], $6::int4[], $7::int4[],
                              $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::int8[])",
        cols = SettlementReportRow::COLUMNS,
    );
    client
        .execute(
            &sql,
            &[&tenant, &id, &provider, &sha256, &size, &lines, &duplicates, &from, &to, &received, &position],
        )
        .await?;
    Ok(())
}

/// A line's `provider` is its report's, read from the report's row (written before, in this
/// batch or an earlier one); none is a NULL the table refuses.
async fn insert_settlement_lines<C: GenericClient>(
    client: &C,
    s: &str,
    lines: &[SettlementLineRow],
) -> Result<(), ProjectorError> {
    if lines.is_empty() {
        return Ok(());
    }
    let texts = |f: fn(&SettlementLineRow) -> &str| lines.iter().map(f).collect::<Vec<&str>>();
    let options = |f: fn(&SettlementLineRow) -> Option<&str>| lines.iter().map(f).collect::<Vec<Option<&str>>>();
    let tenant: Vec<Uuid> = lines.iter().map(|l| l.tenant_id).collect();
    let report: Vec<Uuid> = lines.iter().map(|l| l.report_id).collect();
    let number: Vec<i32> = lines.iter().map(|l| l.line_number).collect();
    let (kind, category) = (texts(|l| &l.kind), texts(|l| &l.category));
    let (gross_currency, currency) = (texts(|l| &l.gross_currency), texts(|l| &l.currency));
    let gross: Vec<i64> = lines.iter().map(|l| l.gross_minor).collect();
    let fee: Vec<i64> = lines.iter().map(|l| l.fee_minor).collect();
    let net: Vec<i64> = lines.iter().map(|l| l.net_minor).collect();
    let created: Vec<DateTime<Utc>> = lines.iter().map(|l| l.created_at).collect();
    let available: Vec<Option<NaiveDate>> = lines.iter().map(|l| l.available_on).collect();
    let balance_tx = options(|l| l.balance_transaction_id.as_deref());
    let source = options(|l| l.source_id.as_deref());
    let charge = options(|l| l.charge_id.as_deref());
    let intent = options(|l| l.payment_intent_id.as_deref());
    let payout = options(|l| l.payout_id.as_deref());
    let psp = options(|l| l.psp_reference.as_deref());
    let modification = options(|l| l.modification_reference.as_deref());
    let merchant = options(|l| l.merchant_reference.as_deref());
    let dedupe = texts(|l| &l.dedupe_key);
    let dup_report: Vec<Option<Uuid>> = lines.iter().map(|l| l.duplicate_of_report_id).collect();
    let dup_line: Vec<Option<i32>> = lines.iter().map(|l| l.duplicate_of_line).collect();
    let raw = texts(|l| &l.raw);
    let position: Vec<i64> = lines.iter().map(|l| l.event_position).collect();
    let sql = format!(
        "INSERT INTO {s}.settlement_lines (provider, {cols})
         SELECT (SELECT r.provider FROM {s}.settlement_reports r
                 WHERE r.tenant_id = l.tenant_id AND r.report_id = l.report_id), l.*
         FROM unnest($1::uuid[], $2::uuid[], $3::int4[], $4::text[], $5::text[], $6::text[], $7::int8[], $8::text[],
                     $9::int8[], $10::int8[], $11::timestamptz[], $12::date[], $13::text[], $14::text[], $15::text[],
                     $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[], $22::uuid[],
                     $23::int4[], $24::text[], $25::int8[]) AS l({cols})",
        cols = SettlementLineRow::WRITTEN_COLUMNS,
    );
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 25] = [
        &tenant,
        &report,
        &number,
        &kind,
        &category,
        &gross_currency,
        &gross,
        &currency,
        &fee,
        &net,
        &created,
        &available,
        &balance_tx,
        &source,
        &charge,
        &intent,
        &payout,
        &psp,
        &modification,
        &merchant,
        &dedupe,
        &dup_report,
        &dup_line,
        &raw,
        &position,
    ];
    client.execute(&sql, &params).await?;
    Ok(())
}

/// Journal lines are inserted, never updated, and balances move by exactly the lines that
/// were inserted, in one statement. A line already present (same event position and line
/// number, hence the same content: lines are a pure function of their event) is skipped
/// rather than posted twice or failing the batch, and counted, so that an event reaching
/// the projector twice can never double a balance or wedge the projector.
async fn post_journal<C: GenericClient>(client: &C, s: &str, rows: &RowSet) -> Result<(), ProjectorError> {
    let lines = &rows.journal;
    if lines.is_empty() {
        return Ok(());
    }
    let tenant: Vec<Uuid> = lines.iter().map(|l| l.tenant_id).collect();
    let position: Vec<i64> = lines.iter().map(|l| l.event_position).collect();
    let line: Vec<i16> = lines.iter().map(|l| l.line).collect();
    let tx_id: Vec<i64> = lines.iter().map(|l| l.event_tx_id).collect();
    let event: Vec<Uuid> = lines.iter().map(|l| l.event_id).collect();
    let payment: Vec<Option<Uuid>> = lines.iter().map(|l| l.payment_id).collect();
    let order: Vec<Option<Uuid>> = lines.iter().map(|l| l.order_id).collect();
    let report: Vec<Option<Uuid>> = lines.iter().map(|l| l.report_id).collect();
    let report_line: Vec<Option<i32>> = lines.iter().map(|l| l.report_line).collect();
    let kind: Vec<&str> = lines.iter().map(|l| l.kind.as_str()).collect();
    let account: Vec<&str> = lines.iter().map(|l| l.account.as_str()).collect();
    let side: Vec<&str> = lines.iter().map(|l| l.side.as_str()).collect();
    let amount: Vec<i64> = lines.iter().map(|l| l.amount_minor).collect();
    let currency: Vec<&str> = lines.iter().map(|l| l.currency.as_str()).collect();
    let recorded: Vec<DateTime<Utc>> = lines.iter().map(|l| l.recorded_at).collect();
    let mut meta_account = Vec::new();
    let mut meta_type = Vec::new();
    let mut meta_side = Vec::new();
    for a in Account::ALL {
        let (account_type, normal_side) = account_meta(a);
        meta_account.push(a.as_str());
        meta_type.push(account_type);
        meta_side.push(normal_side);
    }
    let debit = side_str(Side::Debit);
    let sql = format!(
        "WITH inserted AS (
             INSERT INTO {s}.journal_entries ({cols})
             SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int2[], $4::int8[], $5::uuid[], $6::uuid[], $7::uuid[],
                                  $18::uuid[], $19::int4[],
                                  $8::text[], $9::text[], $10::text[], $11::int8[], $12::text[], $13::timestamptz[])
             ON CONFLICT (tenant_id, event_position, line) DO NOTHING
             RETURNING tenant_id, account, currency, side, amount_minor
         ),
         deltas AS (
             SELECT tenant_id, account, currency,
                    coalesce(sum(amount_minor) FILTER (WHERE side = $17), 0) AS debit_minor,
                    coalesce(sum(amount_minor) FILTER (WHERE side <> $17), 0) AS credit_minor,
                    count(*)::bigint AS entries
             FROM inserted GROUP BY tenant_id, account, currency
         ),
         moved AS (
             INSERT INTO {s}.account_balances AS b
                 (tenant_id, account, currency, account_type, normal_side, debit_minor, credit_minor, entry_count)
             SELECT d.tenant_id, d.account, d.currency, m.account_type, m.normal_side, d.debit_minor, d.credit_minor,
                    d.entries
             FROM deltas d JOIN unnest($14::text[], $15::text[], $16::text[]) AS m(account, account_type, normal_side)
                  ON m.account = d.account
             ON CONFLICT (tenant_id, account, currency) DO UPDATE SET
                 debit_minor = b.debit_minor + EXCLUDED.debit_minor,
                 credit_minor = b.credit_minor + EXCLUDED.credit_minor,
                 entry_count = b.entry_count + EXCLUDED.entry_count
             RETURNING 1
         )
         SELECT (SELECT count(*) FROM inserted)::bigint, (SELECT count(*) FROM moved)::bigint",
        cols = crate::rows::JournalEntryRow::COLUMNS,
    );
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 19] = [
        &tenant,
        &position,
        &line,
        &tx_id,
        &event,
        &payment,
        &order,
        &kind,
        &account,
        &side,
        &amount,
        &currency,
        &recorded,
        &meta_account,
        &meta_type,
        &meta_side,
        &debit,
        &report,
        &report_line,
    ];
    let row = client.query_one(&sql, &params).await?;
    let inserted: i64 = row.try_get(0)?;
    let skipped = lines.len() as i64 - inserted;
    if skipped > 0 {
        tracing::warn!(skipped, "journal lines already present were not posted again");
        metrics::counter!("payledger_projector_journal_lines_skipped_total").increment(skipped as u64);
    }
    Ok(())
}

/// Recomputes the payment sums and the status of the touched orders from the payments
/// table (already written in this transaction), so the order of arrival never matters.
async fn refresh_orders<C: GenericClient>(client: &C, s: &str, rows: &RowSet) -> Result<(), ProjectorError> {
    if rows.touched_orders.is_empty() {
        return Ok(());
    }
    let tenants: Vec<Uuid> = rows.touched_orders.iter().map(|(t, _)| *t).collect();
    let orders: Vec<Uuid> = rows.touched_orders.iter().map(|(_, o)| *o).collect();
    let sql = format!(
        "SELECT o.tenant_id, o.order_id, o.amount_minor, o.cancelled_at IS NOT NULL,
                coalesce(sum(p.amount_captured_minor), 0)::text, coalesce(sum(p.amount_refunded_minor), 0)::text
         FROM unnest($1::uuid[], $2::uuid[]) AS t(tenant_id, order_id)
         JOIN {s}.orders o ON o.tenant_id = t.tenant_id AND o.order_id = t.order_id
         LEFT JOIN {s}.payments p ON p.tenant_id = o.tenant_id AND p.order_id = o.order_id
         GROUP BY o.tenant_id, o.order_id, o.amount_minor, o.cancelled_at"
    );
    let found = client.query(&sql, &[&tenants, &orders]).await?;
    if found.is_empty() {
        return Ok(());
    }
    let mut sums = Vec::with_capacity(found.len());
    for row in &found {
        let (amount, cancelled, captured, refunded): (i64, bool, WideMinor, WideMinor) =
            (row.try_get(2)?, row.try_get(3)?, row.try_get(4)?, row.try_get(5)?);
        let status = OrderReadStatus::derive(amount, cancelled, captured, refunded).as_str();
        sums.push(OrderSums { tenant_id: row.try_get(0)?, order_id: row.try_get(1)?, captured, refunded, status });
    }
    update_order_sums(client, s, &sums).await
}

/// An order's payment sums and the status they give.
struct OrderSums {
    tenant_id: Uuid,
    order_id: Uuid,
    captured: WideMinor,
    refunded: WideMinor,
    status: &'static str,
}

async fn update_order_sums<C: GenericClient>(client: &C, s: &str, sums: &[OrderSums]) -> Result<(), ProjectorError> {
    if sums.is_empty() {
        return Ok(());
    }
    let tenant: Vec<Uuid> = sums.iter().map(|o| o.tenant_id).collect();
    let order: Vec<Uuid> = sums.iter().map(|o| o.order_id).collect();
    let captured: Vec<String> = sums.iter().map(|o| o.captured.to_string()).collect();
    let refunded: Vec<String> = sums.iter().map(|o| o.refunded.to_string()).collect();
    let status: Vec<&str> = sums.iter().map(|o| o.status).collect();
    let sql = format!(
        "UPDATE {s}.orders o
         SET amount_captured_minor = u.captured, amount_refunded_minor = u.refunded, status = u.status
         FROM unnest($1::uuid[], $2::uuid[], $3::text[]::numeric[], $4::text[]::numeric[], $5::text[])
              AS u(tenant_id, order_id, captured, refunded, status)
         WHERE o.tenant_id = u.tenant_id AND o.order_id = u.order_id"
    );
    client.execute(&sql, &[&tenant, &order, &captured, &refunded, &status]).await?;
    Ok(())
}
