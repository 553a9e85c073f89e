//! The JSON shape of settlement reports and their lines (docs/SETTLEMENT.md).

use chrono::{DateTime, NaiveDate, Utc};
use payledger_core::settlement::{GatewayRefs, LineRef};
use payledger_service::settlement::{Report, ReportLine};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

names_schema!(
    /// `payledger_core::settlement::LineKind`.
    LineKind,
    payledger_core::settlement::LineKind::ALL
);

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SettlementReport)]
pub struct SettlementReportView {
    pub id: Uuid,
    #[schema(value_type = String, pattern = "^settlement_report$")]
    pub object: &'static str,
    #[schema(value_type = super::Provider)]
    pub provider: String,
    /// Hex SHA-256 of the file; `GET .../file` returns bytes of this digest.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    pub size_bytes: u64,
    /// Data lines (the header is not counted).
    pub lines: u32,
    /// Lines that repeat a line reported before (counted once).
    pub duplicate_lines: u32,
    pub period: PeriodView,
    pub received_at: DateTime<Utc>,
    /// True when this import's file was imported before and nothing was recorded (import answers only).
    pub duplicate: bool,
}

/// The earliest and latest `created_at` of the lines (null for a file without lines).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SettlementPeriod)]
pub struct PeriodView {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

impl SettlementReportView {
    pub fn new(report: &Report, duplicate: bool) -> Self {
        SettlementReportView {
            id: *report.id.as_uuid(),
            object: "settlement_report",
            provider: report.provider.as_str().to_owned(),
            sha256: report.sha256.clone(),
            size_bytes: report.size_bytes,
            lines: report.line_count,
            duplicate_lines: report.duplicate_lines,
            period: PeriodView { from: report.period_from, to: report.period_to },
            received_at: report.received_at,
            duplicate,
        }
    }
}

impl From<&Report> for SettlementReportView {
    fn from(report: &Report) -> Self {
        SettlementReportView::new(report, false)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SettlementLine)]
pub struct SettlementLineView {
    /// The line's number in the file (the header is line 1).
    pub line_number: u32,
    #[schema(value_type = LineKind)]
    pub kind: String,
    /// The gateway's own category or type, as written.
    pub category: String,
    pub gross_currency: String,
    pub gross_minor: i64,
    pub currency: String,
    pub fee_minor: i64,
    pub net_minor: i64,
    pub created_at: DateTime<Utc>,
    pub available_on: Option<NaiveDate>,
    pub refs: GatewayRefsView,
    pub dedupe_key: String,
    /// The line as it is in the file, without its terminator.
    pub raw: String,
    /// The first line that reported the same fact; this one posts nothing.
    pub duplicate_of: Option<LineRefView>,
}

/// The gateway's identifiers on the line.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SettlementGatewayRefs)]
pub struct GatewayRefsView {
    pub balance_transaction_id: Option<String>,
    pub source_id: Option<String>,
    pub charge_id: Option<String>,
    pub payment_intent_id: Option<String>,
    pub payout_id: Option<String>,
    pub psp_reference: Option<String>,
    pub modification_reference: Option<String>,
    pub merchant_reference: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = SettlementLineRef)]
pub struct LineRefView {
    pub report_id: Uuid,
    pub line_number: u32,
}

impl From<&ReportLine> for SettlementLineView {
    fn from(row: &ReportLine) -> Self {
        let line = &row.line;
        SettlementLineView {
            line_number: line.line_number,
            kind: line.kind.as_str().to_owned(),
            category: line.category.clone(),
            gross_currency: line.gross_currency.code().to_owned(),
            gross_minor: line.gross_minor,
            currency: line.currency.code().to_owned(),
            fee_minor: line.fee_minor,
            net_minor: line.net_minor,
            created_at: line.created_at,
            available_on: line.available_on,
            refs: GatewayRefsView::from(&line.refs),
            dedupe_key: line.dedupe_key.clone(),
            raw: line.raw.clone(),
            duplicate_of: row.duplicate_of.as_ref().map(LineRefView::from),
        }
    }
}

impl From<&GatewayRefs> for GatewayRefsView {
    fn from(refs: &GatewayRefs) -> Self {
        GatewayRefsView {
            balance_transaction_id: refs.balance_transaction_id.clone(),
            source_id: refs.source_id.clone(),
            charge_id: refs.charge_id.clone(),
            payment_intent_id: refs.payment_intent_id.clone(),
            payout_id: refs.payout_id.clone(),
            psp_reference: refs.psp_reference.clone(),
            modification_reference: refs.modification_reference.clone(),
            merchant_reference: refs.merchant_reference.clone(),
        }
    }
}

impl From<&LineRef> for LineRefView {
    fn from(r: &LineRef) -> Self {
        LineRefView { report_id: *r.report_id.as_uuid(), line_number: r.line_number }
    }
}
