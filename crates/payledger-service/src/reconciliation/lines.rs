//! The projected report lines of a period (table `settlement_lines` of the live read-models).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use payledger_core::payment::Provider;
use payledger_core::settlement::LineKind;
use payledger_core::Currency;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use super::{LineSide, Period, LINES_MAX};
use crate::error::{ServiceError, ServiceResult};

/// A line as the reconciliation reads it.
#[derive(Debug, Clone)]
pub(super) struct ReportLine {
    pub report_id: Uuid,
    pub line_number: i32,
    pub provider: Provider,
    pub kind: LineKind,
    pub category: String,
    pub gross_currency: Currency,
    pub gross_minor: i64,
    pub fee_minor: i64,
    pub net_minor: i64,
    pub created_at: DateTime<Utc>,
    pub day: NaiveDate,
    /// (name, value) of every gateway id the line carries.
    pub ids: BTreeMap<&'static str, String>,
    pub duplicate: bool,
}

/// The gateway id columns, in the order they are selected.
const ID_COLUMNS: [&str; 8] = [
    "balance_transaction_id",
    "source_id",
    "charge_id",
    "payment_intent_id",
    "payout_id",
    "psp_reference",
    "modification_reference",
    "merchant_reference",
];

impl ReportLine {
    fn id(&self, name: &str) -> Option<&str> {
        self.ids.get(name).map(String::as_str)
    }

    /// The references that can name the payment this line settles.
    pub fn payment_references(&self) -> Vec<&str> {
        ["payment_intent_id", "charge_id", "psp_reference"]
            .into_iter()
            .filter_map(|name| self.id(name))
            .chain(self.id("source_id").filter(|_| self.kind == LineKind::Charge))
            .collect()
    }

    /// The references that can name the refund or dispute this line settles.
    pub fn modification_references(&self) -> Vec<&str> {
        ["source_id", "modification_reference"].into_iter().filter_map(|name| self.id(name)).collect()
    }

    /// The payout a payout line is: its payout id, else (Stripe) its own source id.
    pub fn payout_key(&self) -> Option<&str> {
        self.id("payout_id").or_else(|| self.id("source_id"))
    }

    pub fn side(&self) -> LineSide {
        LineSide {
            report_id: self.report_id,
            line_number: self.line_number,
            kind: self.kind.as_str().to_owned(),
            category: self.category.clone(),
            gross_minor: self.gross_minor,
            fee_minor: self.fee_minor,
            net_minor: self.net_minor,
            created_at: self.created_at,
            gateway_ids: self.ids.clone(),
        }
    }
}

/// The lines created in the period (days in `time_zone`), oldest first.
pub(super) async fn in_period<C: GenericClient>(
    client: &C,
    schema: &str,
    period: &Period,
    time_zone: &str,
) -> ServiceResult<Vec<ReportLine>> {
    let sql = format!(
        "SELECT report_id, line_number, provider, kind, category, gross_currency, gross_minor, fee_minor, net_minor,
                created_at, (created_at AT TIME ZONE $5)::date, duplicate_of_report_id IS NOT NULL, {ids}
         FROM {schema}.settlement_lines
         WHERE tenant_id = $1 AND ($2::text IS NULL OR provider = $2)
           AND created_at >= ($3::date::timestamp AT TIME ZONE $5)
           AND created_at < (($4::date + 1)::timestamp AT TIME ZONE $5)
         ORDER BY created_at, report_id, line_number
         LIMIT {limit}",
        ids = ID_COLUMNS.join(", "),
        limit = LINES_MAX + 1,
    );
    let provider = period.provider.map(Provider::as_str);
    let rows = client.query(&sql, &[&period.tenant_id, &provider, &period.from, &period.to, &time_zone]).await?;
    if rows.len() > LINES_MAX {
        return Err(ServiceError::PeriodInvalid(format!(
            "the period has more than {LINES_MAX} report lines; ask for fewer days"
        )));
    }
    rows.iter().map(read_line).collect()
}

fn read_line(row: &Row) -> ServiceResult<ReportLine> {
    let provider: String = row.try_get(2)?;
    let kind: String = row.try_get(3)?;
    let currency: String = row.try_get(5)?;
    let mut ids = BTreeMap::new();
    for (index, name) in ID_COLUMNS.iter().enumerate() {
        if let Some(value) = row.try_get::<_, Option<String>>(12 + index)? {
            ids.insert(*name, value);
        }
    }
    Ok(ReportLine {
        report_id: row.try_get(0)?,
        line_number: row.try_get(1)?,
        provider: provider.parse().map_err(ServiceError::internal)?,
        kind: LineKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind)
            .ok_or_else(|| ServiceError::internal(format!("settlement line kind {kind:?}")))?,
        category: row.try_get(4)?,
        gross_currency: Currency::parse(&currency).map_err(ServiceError::internal)?,
        gross_minor: row.try_get(6)?,
        fee_minor: row.try_get(7)?,
        net_minor: row.try_get(8)?,
        created_at: row.try_get(9)?,
        day: row.try_get(10)?,
        duplicate: row.try_get(11)?,
        ids,
    })
}

/// A payout: (provider, payout id).
pub(super) type PayoutKey = (&'static str, String);

/// For each payout of `lines`, the net of the (non-duplicate, non-payout) lines paid out in it.
pub(super) async fn payout_nets<C: GenericClient>(
    client: &C,
    schema: &str,
    tenant_id: Uuid,
    lines: &[ReportLine],
) -> ServiceResult<BTreeMap<PayoutKey, i64>> {
    let payouts: Vec<&str> =
        lines.iter().filter(|line| line.kind == LineKind::Payout).filter_map(ReportLine::payout_key).collect();
    if payouts.is_empty() {
        return Ok(BTreeMap::new());
    }
    let sql = format!(
        "SELECT provider, payout_id, sum(net_minor)::text FROM {schema}.settlement_lines
         WHERE tenant_id = $1 AND payout_id = ANY($2) AND kind <> 'payout' AND duplicate_of_report_id IS NULL
         GROUP BY provider, payout_id"
    );
    let mut nets = BTreeMap::new();
    for row in client.query(&sql, &[&tenant_id, &payouts]).await? {
        let provider: String = row.try_get(0)?;
        let provider: Provider = provider.parse().map_err(ServiceError::internal)?;
        let sum: String = row.try_get(2)?;
        // A sum past i64 cannot be a payout's net: it is a mismatch at i64::MAX.
        nets.insert((provider.as_str(), row.try_get(1)?), sum.parse().unwrap_or(i64::MAX));
    }
    Ok(nets)
}
