//! The rows of the read-models, built from the core's folded state (write side) or read back
//! from PostgreSQL (query side). Amounts are integer minor units, `_minor` in every name.

use chrono::{DateTime, NaiveDate, Utc};
use payledger_core::ledger::{Account, AccountType, Side};
use payledger_core::order::{Order, OrderReadStatus, OrderStatus};
use payledger_core::payment::{Dispute, Payment, Refund};
use payledger_core::settlement::{LineRef, SettlementLine};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::types::{FromSql, Type};
use tokio_postgres::Row;
use uuid::Uuid;

/// A sum of many amounts, in minor units: wider than one amount (`i64`) so that no sum of
/// amounts can overflow (numeric in PostgreSQL, read back as text). Serialized as a JSON
/// number while it fits an `i64`, else as a decimal string (only a log holding amounts above
/// the core's maximum gets there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WideMinor(pub i128);

impl WideMinor {
    pub fn get(self) -> i128 {
        self.0
    }
}

impl From<WideMinor> for i128 {
    fn from(value: WideMinor) -> i128 {
        value.0
    }
}

impl From<i64> for WideMinor {
    fn from(value: i64) -> WideMinor {
        WideMinor(i128::from(value))
    }
}

impl std::fmt::Display for WideMinor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for WideMinor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match i64::try_from(self.0) {
            Ok(narrow) => serializer.serialize_i64(narrow),
            Err(_) => serializer.collect_str(&self.0),
        }
    }
}

/// Read from a `numeric` column cast to `text` (see the `SELECT_COLUMNS` of the rows).
impl<'a> FromSql<'a> for WideMinor {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<WideMinor, Box<dyn std::error::Error + Sync + Send>> {
        let text = <&str as FromSql>::from_sql(ty, raw)?;
        Ok(WideMinor(text.parse::<i128>().map_err(|e| format!("minor units {text:?}: {e}"))?))
    }

    fn accepts(ty: &Type) -> bool {
        <&str as FromSql>::accepts(ty)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRow {
    pub tenant_id: Uuid,
    pub order_id: Uuid,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reference: String,
    pub metadata: Value,
    /// Summed over the order's payments.
    pub amount_captured_minor: WideMinor,
    pub amount_refunded_minor: WideMinor,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// The order stream's version this row reflects.
    pub stream_version: i64,
}

impl OrderRow {
    pub(crate) const COLUMNS: &'static str =
        "tenant_id, order_id, status, amount_minor, currency, reference, metadata, \
         amount_captured_minor, amount_refunded_minor, created_at, cancelled_at, cancel_reason, stream_version";
    /// The columns as read back (the numeric sums as text).
    pub(crate) const SELECT_COLUMNS: &'static str =
        "tenant_id, order_id, status, amount_minor, currency, reference, metadata, \
         amount_captured_minor::text AS amount_captured_minor, amount_refunded_minor::text AS amount_refunded_minor, \
         created_at, cancelled_at, cancel_reason, stream_version";

    /// The order's own fields; the payment sums and the status are filled in by the writer.
    pub(crate) fn from_state(tenant_id: Uuid, order: &Order, stream_version: i64) -> OrderRow {
        let cancelled = order.status == OrderStatus::Cancelled;
        OrderRow {
            tenant_id,
            order_id: *order.id.as_uuid(),
            status: OrderReadStatus::derive(order.amount_minor.get(), cancelled, 0, 0).as_str().to_owned(),
            amount_minor: order.amount_minor.get(),
            currency: order.currency.code().to_owned(),
            reference: order.reference.clone(),
            metadata: order.metadata.clone(),
            amount_captured_minor: WideMinor(0),
            amount_refunded_minor: WideMinor(0),
            created_at: order.created_at,
            cancelled_at: order.cancelled_at,
            cancel_reason: order.cancel_reason.clone(),
            stream_version,
        }
    }

    pub(crate) fn from_row(row: &Row) -> Result<OrderRow, tokio_postgres::Error> {
        Ok(OrderRow {
            tenant_id: row.try_get("tenant_id")?,
            order_id: row.try_get("order_id")?,
            status: row.try_get("status")?,
            amount_minor: row.try_get("amount_minor")?,
            currency: row.try_get("currency")?,
            reference: row.try_get("reference")?,
            metadata: row.try_get("metadata")?,
            amount_captured_minor: row.try_get("amount_captured_minor")?,
            amount_refunded_minor: row.try_get("amount_refunded_minor")?,
            created_at: row.try_get("created_at")?,
            cancelled_at: row.try_get("cancelled_at")?,
            cancel_reason: row.try_get("cancel_reason")?,
            stream_version: row.try_get("stream_version")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PaymentRow {
    pub tenant_id: Uuid,
    pub payment_id: Uuid,
    pub order_id: Uuid,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub capture_method: String,
    pub provider: String,
    pub provider_reference: Option<String>,
    pub amount_authorized_minor: i64,
    pub amount_captured_minor: i64,
    pub amount_refunded_minor: i64,
    pub amount_refund_pending_minor: i64,
    pub amount_disputed_minor: i64,
    pub amount_capturable_minor: i64,
    pub amount_refundable_minor: i64,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub stream_version: i64,
}

impl PaymentRow {
    pub(crate) const COLUMNS: &'static str = "tenant_id, payment_id, order_id, status, amount_minor, currency, \
         capture_method, provider, provider_reference, amount_authorized_minor, amount_captured_minor, \
         amount_refunded_minor, amount_refund_pending_minor, amount_disputed_minor, amount_capturable_minor, \
         amount_refundable_minor, failure_code, failure_message, created_at, stream_version";

    pub(crate) fn from_state(tenant_id: Uuid, p: &Payment, stream_version: i64) -> PaymentRow {
        PaymentRow {
            tenant_id,
            payment_id: *p.id.as_uuid(),
            order_id: *p.order_id.as_uuid(),
            status: p.status.as_str().to_owned(),
            amount_minor: p.amount_minor.get(),
            currency: p.currency.code().to_owned(),
            capture_method: p.capture_method.as_str().to_owned(),
            provider: p.provider.as_str().to_owned(),
            provider_reference: p.provider_reference.clone(),
            amount_authorized_minor: p.amount_authorized.get(),
            amount_captured_minor: p.amount_captured.get(),
            amount_refunded_minor: p.amount_refunded.get(),
            amount_refund_pending_minor: p.amount_refund_pending.get(),
            amount_disputed_minor: p.amount_disputed.get(),
            amount_capturable_minor: p.amount_capturable().get(),
            amount_refundable_minor: p.amount_refundable().get(),
            failure_code: p.failure_code.clone(),
            failure_message: p.failure_message.clone(),
            created_at: p.created_at,
            stream_version,
        }
    }

    pub(crate) fn from_row(row: &Row) -> Result<PaymentRow, tokio_postgres::Error> {
        Ok(PaymentRow {
            tenant_id: row.try_get("tenant_id")?,
            payment_id: row.try_get("payment_id")?,
            order_id: row.try_get("order_id")?,
            status: row.try_get("status")?,
            amount_minor: row.try_get("amount_minor")?,
            currency: row.try_get("currency")?,
            capture_method: row.try_get("capture_method")?,
            provider: row.try_get("provider")?,
            provider_reference: row.try_get("provider_reference")?,
            amount_authorized_minor: row.try_get("amount_authorized_minor")?,
            amount_captured_minor: row.try_get("amount_captured_minor")?,
            amount_refunded_minor: row.try_get("amount_refunded_minor")?,
            amount_refund_pending_minor: row.try_get("amount_refund_pending_minor")?,
            amount_disputed_minor: row.try_get("amount_disputed_minor")?,
            amount_capturable_minor: row.try_get("amount_capturable_minor")?,
            amount_refundable_minor: row.try_get("amount_refundable_minor")?,
            failure_code: row.try_get("failure_code")?,
            failure_message: row.try_get("failure_message")?,
            created_at: row.try_get("created_at")?,
            stream_version: row.try_get("stream_version")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefundRow {
    pub tenant_id: Uuid,
    pub refund_id: Uuid,
    pub payment_id: Uuid,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl RefundRow {
    pub(crate) const COLUMNS: &'static str = "tenant_id, refund_id, payment_id, status, amount_minor, currency, \
         reason, provider_reference, failure_code, failure_message, created_at";

    pub(crate) fn from_state(tenant_id: Uuid, p: &Payment, r: &Refund) -> RefundRow {
        RefundRow {
            tenant_id,
            refund_id: *r.id.as_uuid(),
            payment_id: *p.id.as_uuid(),
            status: r.status.as_str().to_owned(),
            amount_minor: r.amount_minor.get(),
            currency: p.currency.code().to_owned(),
            reason: r.reason.clone(),
            provider_reference: r.provider_reference.clone(),
            failure_code: r.failure_code.clone(),
            failure_message: r.failure_message.clone(),
            created_at: r.requested_at,
        }
    }

    pub(crate) fn from_row(row: &Row) -> Result<RefundRow, tokio_postgres::Error> {
        Ok(RefundRow {
            tenant_id: row.try_get("tenant_id")?,
            refund_id: row.try_get("refund_id")?,
            payment_id: row.try_get("payment_id")?,
            status: row.try_get("status")?,
            amount_minor: row.try_get("amount_minor")?,
            currency: row.try_get("currency")?,
            reason: row.try_get("reason")?,
            provider_reference: row.try_get("provider_reference")?,
            failure_code: row.try_get("failure_code")?,
            failure_message: row.try_get("failure_message")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DisputeRow {
    pub tenant_id: Uuid,
    pub dispute_id: Uuid,
    pub payment_id: Uuid,
    pub status: String,
    pub amount_minor: i64,
    pub currency: String,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl DisputeRow {
    pub(crate) const COLUMNS: &'static str =
        "tenant_id, dispute_id, payment_id, status, amount_minor, currency, reason, provider_reference, created_at";

    pub(crate) fn from_state(tenant_id: Uuid, p: &Payment, d: &Dispute) -> DisputeRow {
        DisputeRow {
            tenant_id,
            dispute_id: *d.id.as_uuid(),
            payment_id: *p.id.as_uuid(),
            status: d.status.as_str().to_owned(),
            amount_minor: d.amount_minor.get(),
            currency: p.currency.code().to_owned(),
            reason: d.reason.clone(),
            provider_reference: d.provider_reference.clone(),
            created_at: d.opened_at,
        }
    }

    pub(crate) fn from_row(row: &Row) -> Result<DisputeRow, tokio_postgres::Error> {
        Ok(DisputeRow {
            tenant_id: row.try_get("tenant_id")?,
            dispute_id: row.try_get("dispute_id")?,
            payment_id: row.try_get("payment_id")?,
            status: row.try_get("status")?,
            amount_minor: row.try_get("amount_minor")?,
            currency: row.try_get("currency")?,
            reason: row.try_get("reason")?,
            provider_reference: row.try_get("provider_reference")?,
            created_at: row.try_get("created_at")?,
        })
    }
}

/// One posting line of the journal. Key: (tenant, event position, line number).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntryRow {
    pub tenant_id: Uuid,
    pub event_position: i64,
    pub line: i16,
    /// The event's transaction id: with `event_position` it gives the journal's order.
    pub event_tx_id: i64,
    pub event_id: Uuid,
    /// The payment and order of a payment event's posting; none for a settlement line's.
    pub payment_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    /// The settlement report and line number of a report line's posting.
    pub report_id: Option<Uuid>,
    pub report_line: Option<i32>,
    pub kind: String,
    pub account: String,
    pub side: String,
    pub amount_minor: i64,
    pub currency: String,
    pub recorded_at: DateTime<Utc>,
}

impl JournalEntryRow {
    pub(crate) const COLUMNS: &'static str = "tenant_id, event_position, line, event_tx_id, event_id, payment_id, \
         order_id, report_id, report_line, kind, account, side, amount_minor, currency, recorded_at";

    /// The entry's public id, `je_{position}_{line}`: stable across rebuilds.
    pub fn id(&self) -> String {
        format!("je_{}_{}", self.event_position, self.line)
    }

    /// Parses an id made by [`JournalEntryRow::id`].
    pub fn parse_id(id: &str) -> Option<(i64, i16)> {
        let rest = id.strip_prefix("je_")?;
        let (position, line) = rest.split_once('_')?;
        Some((position.parse().ok()?, line.parse().ok()?))
    }

    pub(crate) fn from_row(row: &Row) -> Result<JournalEntryRow, tokio_postgres::Error> {
        Ok(JournalEntryRow {
            tenant_id: row.try_get("tenant_id")?,
            event_position: row.try_get("event_position")?,
            line: row.try_get("line")?,
            event_tx_id: row.try_get("event_tx_id")?,
            event_id: row.try_get("event_id")?,
            payment_id: row.try_get("payment_id")?,
            order_id: row.try_get("order_id")?,
            report_id: row.try_get("report_id")?,
            report_line: row.try_get("report_line")?,
            kind: row.try_get("kind")?,
            account: row.try_get("account")?,
            side: row.try_get("side")?,
            amount_minor: row.try_get("amount_minor")?,
            currency: row.try_get("currency")?,
            recorded_at: row.try_get("recorded_at")?,
        })
    }
}

/// A settlement report as received (its `SettlementReportReceived`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettlementReportRow {
    pub tenant_id: Uuid,
    pub report_id: Uuid,
    pub provider: String,
    pub sha256: String,
    pub size_bytes: i64,
    pub line_count: i32,
    pub duplicate_lines: i32,
    pub period_from: Option<DateTime<Utc>>,
    pub period_to: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    pub event_position: i64,
}

impl SettlementReportRow {
    pub(crate) const COLUMNS: &'static str = "tenant_id, report_id, provider, sha256, size_bytes, line_count, \
         duplicate_lines, period_from, period_to, received_at, event_position";

    pub fn from_row(row: &Row) -> Result<SettlementReportRow, tokio_postgres::Error> {
        Ok(SettlementReportRow {
            tenant_id: row.try_get("tenant_id")?,
            report_id: row.try_get("report_id")?,
            provider: row.try_get("provider")?,
            sha256: row.try_get("sha256")?,
            size_bytes: row.try_get("size_bytes")?,
            line_count: row.try_get("line_count")?,
            duplicate_lines: row.try_get("duplicate_lines")?,
            period_from: row.try_get("period_from")?,
            period_to: row.try_get("period_to")?,
            received_at: row.try_get("received_at")?,
            event_position: row.try_get("event_position")?,
        })
    }
}

/// One line of a settlement report (its `SettlementLineReported`). `provider` is its
/// report's, taken from the report's row when the line is written.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SettlementLineRow {
    pub tenant_id: Uuid,
    pub report_id: Uuid,
    pub line_number: i32,
    pub provider: String,
    pub kind: String,
    pub category: String,
    pub gross_currency: String,
    pub gross_minor: i64,
    pub currency: String,
    pub fee_minor: i64,
    pub net_minor: i64,
    pub created_at: DateTime<Utc>,
    pub available_on: Option<NaiveDate>,
    pub balance_transaction_id: Option<String>,
    pub source_id: Option<String>,
    pub charge_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub payout_id: Option<String>,
    pub psp_reference: Option<String>,
    pub modification_reference: Option<String>,
    pub merchant_reference: Option<String>,
    pub dedupe_key: String,
    pub duplicate_of_report_id: Option<Uuid>,
    pub duplicate_of_line: Option<i32>,
    pub raw: String,
    pub event_position: i64,
}

impl SettlementLineRow {
    /// Every column but `provider`, which the writer takes from the report's row.
    pub(crate) const WRITTEN_COLUMNS: &'static str = "tenant_id, report_id, line_number, kind, category, \
         gross_currency, gross_minor, currency, fee_minor, net_minor, created_at, available_on, \
         balance_transaction_id, source_id, charge_id, payment_intent_id, payout_id, psp_reference, \
         modification_reference, merchant_reference, dedupe_key, duplicate_of_report_id, duplicate_of_line, raw, \
         event_position";

    /// A line as written: `provider` is left empty here.
    pub(crate) fn from_event(
        tenant_id: Uuid,
        report_id: Uuid,
        line: &SettlementLine,
        duplicate_of: Option<&LineRef>,
        event_position: i64,
    ) -> Result<SettlementLineRow, String> {
        let number = |n: u32| i32::try_from(n).map_err(|_| format!("line number {n} is out of range"));
        let refs = &line.refs;
        Ok(SettlementLineRow {
            tenant_id,
            report_id,
            line_number: number(line.line_number)?,
            provider: String::new(),
            kind: line.kind.as_str().to_owned(),
            category: line.category.clone(),
            gross_currency: line.gross_currency.code().to_owned(),
            gross_minor: line.gross_minor,
            currency: line.currency.code().to_owned(),
            fee_minor: line.fee_minor,
            net_minor: line.net_minor,
            created_at: line.created_at,
            available_on: line.available_on,
            balance_transaction_id: refs.balance_transaction_id.clone(),
            source_id: refs.source_id.clone(),
            charge_id: refs.charge_id.clone(),
            payment_intent_id: refs.payment_intent_id.clone(),
            payout_id: refs.payout_id.clone(),
            psp_reference: refs.psp_reference.clone(),
            modification_reference: refs.modification_reference.clone(),
            merchant_reference: refs.merchant_reference.clone(),
            dedupe_key: line.dedupe_key.clone(),
            duplicate_of_report_id: duplicate_of.map(|d| *d.report_id.as_uuid()),
            duplicate_of_line: duplicate_of.map(|d| number(d.line_number)).transpose()?,
            raw: line.raw.clone(),
            event_position,
        })
    }

    pub fn from_row(row: &Row) -> Result<SettlementLineRow, tokio_postgres::Error> {
        Ok(SettlementLineRow {
            tenant_id: row.try_get("tenant_id")?,
            report_id: row.try_get("report_id")?,
            line_number: row.try_get("line_number")?,
            provider: row.try_get("provider")?,
            kind: row.try_get("kind")?,
            category: row.try_get("category")?,
            gross_currency: row.try_get("gross_currency")?,
            gross_minor: row.try_get("gross_minor")?,
            currency: row.try_get("currency")?,
            fee_minor: row.try_get("fee_minor")?,
            net_minor: row.try_get("net_minor")?,
            created_at: row.try_get("created_at")?,
            available_on: row.try_get("available_on")?,
            balance_transaction_id: row.try_get("balance_transaction_id")?,
            source_id: row.try_get("source_id")?,
            charge_id: row.try_get("charge_id")?,
            payment_intent_id: row.try_get("payment_intent_id")?,
            payout_id: row.try_get("payout_id")?,
            psp_reference: row.try_get("psp_reference")?,
            modification_reference: row.try_get("modification_reference")?,
            merchant_reference: row.try_get("merchant_reference")?,
            dedupe_key: row.try_get("dedupe_key")?,
            duplicate_of_report_id: row.try_get("duplicate_of_report_id")?,
            duplicate_of_line: row.try_get("duplicate_of_line")?,
            raw: row.try_get("raw")?,
            event_position: row.try_get("event_position")?,
        })
    }
}

/// Running totals of one account in one currency of one tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountBalanceRow {
    pub tenant_id: Uuid,
    pub account: String,
    pub currency: String,
    pub account_type: String,
    pub normal_side: String,
    pub debit_minor: WideMinor,
    pub credit_minor: WideMinor,
    /// On the account's normal side (revenue shows positive).
    pub balance_minor: WideMinor,
    pub entry_count: i64,
}

impl AccountBalanceRow {
    /// The columns as read back (the numeric sums as text).
    pub(crate) const SELECT_COLUMNS: &'static str = "tenant_id, account, currency, account_type, normal_side, \
         debit_minor::text AS debit_minor, credit_minor::text AS credit_minor, balance_minor::text AS balance_minor, \
         entry_count";

    /// The account's public id, `{account}:{currency}`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.account, self.currency)
    }

    pub(crate) fn from_row(row: &Row) -> Result<AccountBalanceRow, tokio_postgres::Error> {
        Ok(AccountBalanceRow {
            tenant_id: row.try_get("tenant_id")?,
            account: row.try_get("account")?,
            currency: row.try_get("currency")?,
            account_type: row.try_get("account_type")?,
            normal_side: row.try_get("normal_side")?,
            debit_minor: row.try_get("debit_minor")?,
            credit_minor: row.try_get("credit_minor")?,
            balance_minor: row.try_get("balance_minor")?,
            entry_count: row.try_get("entry_count")?,
        })
    }
}

pub(crate) fn side_str(side: Side) -> &'static str {
    match side {
        Side::Debit => "debit",
        Side::Credit => "credit",
    }
}

pub(crate) fn account_type_str(account: Account) -> &'static str {
    match account.account_type() {
        AccountType::Asset => "asset",
        AccountType::Revenue => "revenue",
        AccountType::ContraRevenue => "contra_revenue",
        AccountType::Expense => "expense",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_status_rule() {
        use OrderReadStatus::*;
        assert_eq!(OrderReadStatus::derive(100, false, 0, 0), Open);
        assert_eq!(OrderReadStatus::derive(100, false, 60, 0), Open);
        assert_eq!(OrderReadStatus::derive(100, false, 100, 0), Paid);
        assert_eq!(OrderReadStatus::derive(100, false, 100, 30), Paid);
        assert_eq!(OrderReadStatus::derive(100, false, 100, 100), Refunded);
        assert_eq!(OrderReadStatus::derive(100, false, 60, 60), Refunded);
        assert_eq!(OrderReadStatus::derive(100, true, 0, 0), Cancelled);
        assert_eq!(OrderReadStatus::derive(100, true, 60, 0), Cancelled);
        assert_eq!(OrderReadStatus::derive(100, true, 100, 0), Paid);
        assert_eq!(OrderReadStatus::derive(100, true, 100, 100), Refunded);
    }

    #[test]
    fn journal_ids_round_trip() {
        assert_eq!(JournalEntryRow::parse_id("je_42_1"), Some((42, 1)));
        assert_eq!(JournalEntryRow::parse_id("je_42"), None);
        assert_eq!(JournalEntryRow::parse_id("x_42_1"), None);
        assert_eq!(JournalEntryRow::parse_id("je_a_1"), None);
    }
}
