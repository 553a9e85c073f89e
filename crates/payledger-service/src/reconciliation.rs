//! Daily reconciliation: every settlement report line of a period against the ledger fact it
//! settles, and the ledger facts no line settles once the reports are due to cover them.
//!
//! Read from the live read-models whenever asked (docs/SETTLEMENT.md "Reconciliation"): the
//! projected report lines, payments, refunds and disputes, so a webhook that arrives after a
//! report changes the answer at the next read. The rules are pure, in
//! `payledger_core::reconciliation`; this module finds each line's fact.

mod facts;
mod lines;

use std::collections::BTreeMap;

use chrono::NaiveDate;
use payledger_core::payment::Provider;
use payledger_core::reconciliation::{
    is_missing_in_report, judge_line, settles_a_fact, Counterpart, DayTotals, FactKind, ItemAmounts, ReconStatus,
};
use payledger_core::settlement::LineKind;
use serde::Serialize;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};
use facts::{Fact, LedgerFacts};
use lines::{PayoutKey, ReportLine};

/// Default of `PAYLEDGER_RECONCILIATION_LAG_DAYS`.
pub const LAG_DAYS_DEFAULT: u32 = 3;
/// Longest period one request reconciles.
pub const PERIOD_DAYS_MAX: i64 = 92;
/// Most report lines one request reads; a longer period must be asked for in parts.
pub const LINES_MAX: usize = 2_000_000;

/// What to reconcile.
#[derive(Debug, Clone)]
pub struct Period {
    pub tenant_id: Uuid,
    pub provider: Option<Provider>,
    pub currency: Option<String>,
    /// Inclusive, in the tenant's time zone.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub lag_days: u32,
}

/// The report line of an item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineSide {
    pub report_id: Uuid,
    pub line_number: i32,
    pub kind: String,
    pub category: String,
    pub gross_minor: i64,
    pub fee_minor: i64,
    pub net_minor: i64,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub gateway_ids: BTreeMap<&'static str, String>,
}

/// The ledger fact of an item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LedgerSide {
    pub kind: FactKind,
    pub payment_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refund_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dispute_id: Option<Uuid>,
    pub provider_reference: Option<String>,
    pub event_position: Option<i64>,
}

/// One line, or one ledger fact missing in the reports.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    pub date: NaiveDate,
    pub provider: Provider,
    pub currency: String,
    pub status: ReconStatus,
    pub report_line: Option<LineSide>,
    pub ledger_fact: Option<LedgerSide>,
    pub report_amount_minor: Option<i64>,
    pub ledger_amount_minor: Option<i64>,
    pub difference_minor: Option<i64>,
    #[serde(skip)]
    amounts: ItemAmounts,
}

/// One day, provider and currency.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    pub date: NaiveDate,
    pub provider: Provider,
    pub currency: String,
    pub counts: BTreeMap<&'static str, u64>,
    pub report_net_minor: String,
    pub ledger_net_minor: String,
    pub difference_minor: String,
    pub exceptions: u64,
}

/// Every item of the period, lines in their order of creation, then the missing facts.
pub async fn items<C: GenericClient>(client: &C, schema: &str, period: &Period) -> ServiceResult<Vec<Item>> {
    check_period(period)?;
    let time_zone = crate::tenants::time_zone(client, period.tenant_id).await?;
    let lines = lines::in_period(client, schema, period, &time_zone).await?;
    let facts = LedgerFacts::for_lines(client, schema, period.tenant_id, &lines).await?;
    let payouts = lines::payout_nets(client, schema, period.tenant_id, &lines).await?;
    let mut items: Vec<Item> = lines.iter().map(|line| item_of_line(line, &facts, &payouts)).collect();
    items.extend(missing_in_report(client, schema, period, &time_zone).await?);
    items.retain(|item| period.currency.as_deref().is_none_or(|c| c == item.currency));
    Ok(items)
}

/// The items summed per day, provider and currency.
pub fn days(items: &[Item]) -> Vec<Day> {
    let mut totals: BTreeMap<(NaiveDate, &'static str, String), (Provider, DayTotals)> = BTreeMap::new();
    for item in items {
        let key = (item.date, item.provider.as_str(), item.currency.clone());
        totals.entry(key).or_insert_with(|| (item.provider, DayTotals::default())).1.add(&item.amounts);
    }
    totals
        .into_iter()
        .map(|((date, _, currency), (provider, day))| Day {
            date,
            provider,
            currency,
            counts: ReconStatus::ALL.iter().map(|s| (s.as_str(), day.counts.get(s).copied().unwrap_or(0))).collect(),
            report_net_minor: day.report_net_minor.to_string(),
            ledger_net_minor: day.ledger_net_minor.to_string(),
            difference_minor: day.difference_minor().to_string(),
            exceptions: day.exceptions(),
        })
        .collect()
}

/// Refuses a reversed or too long period.
pub fn check_period(period: &Period) -> ServiceResult<()> {
    let days = (period.to - period.from).num_days();
    if days < 0 {
        return Err(ServiceError::PeriodInvalid("`from` is after `to`".into()));
    }
    if days >= PERIOD_DAYS_MAX {
        return Err(ServiceError::PeriodInvalid(format!("a period is at most {PERIOD_DAYS_MAX} days")));
    }
    Ok(())
}

fn item_of_line(line: &ReportLine, facts: &LedgerFacts, payouts: &BTreeMap<PayoutKey, i64>) -> Item {
    let fact = if settles_a_fact(line.kind) { facts.of_line(line) } else { None };
    let counterpart = match line.kind {
        LineKind::Payout => {
            let key = line.payout_key().map(|id| (line.provider.as_str(), id.to_owned()));
            Counterpart::PayoutOf { lines_net_minor: key.and_then(|k| payouts.get(&k)).copied().unwrap_or(0) }
        }
        LineKind::Fee | LineKind::Adjustment => Counterpart::Itself,
        _ => Counterpart::Fact(fact.map(|f| (f.currency, f.amounts))),
    };
    let verdict =
        judge_line(line.kind, line.gross_currency, line.gross_minor, line.net_minor, line.duplicate, counterpart);
    let compared = if line.kind == LineKind::Payout { line.net_minor } else { line.gross_minor };
    let settles = settles_a_fact(line.kind) && !line.duplicate;
    Item {
        date: line.day,
        provider: line.provider,
        currency: line.gross_currency.code().to_owned(),
        status: verdict.status,
        report_line: Some(line.side()),
        ledger_fact: fact.map(Fact::side),
        report_amount_minor: Some(compared),
        ledger_amount_minor: verdict.ledger_minor,
        difference_minor: verdict.difference_minor,
        amounts: ItemAmounts {
            status: verdict.status,
            report_settles_minor: settles.then_some(line.gross_minor),
            ledger_settles_minor: if settles { verdict.ledger_minor } else { None },
        },
    }
}

async fn missing_in_report<C: GenericClient>(
    client: &C,
    schema: &str,
    period: &Period,
    time_zone: &str,
) -> ServiceResult<Vec<Item>> {
    let coverage = facts::report_coverage(client, schema, period.tenant_id, time_zone).await?;
    let unsettled = facts::unsettled_in_period(client, schema, period, time_zone).await?;
    Ok(unsettled
        .into_iter()
        .filter(|(day, fact)| is_missing_in_report(*day, coverage.get(&fact.provider).copied(), period.lag_days))
        .filter(|(_, fact)| period.provider.is_none_or(|p| p == fact.provider))
        .map(|(day, fact)| {
            let ledger = fact.signed_amount();
            Item {
                date: day,
                provider: fact.provider,
                currency: fact.currency.code().to_owned(),
                status: ReconStatus::MissingInReport,
                report_line: None,
                ledger_amount_minor: Some(ledger),
                ledger_fact: Some(fact.side()),
                report_amount_minor: None,
                difference_minor: None,
                amounts: ItemAmounts {
                    status: ReconStatus::MissingInReport,
                    report_settles_minor: None,
                    ledger_settles_minor: Some(ledger),
                },
            }
        })
        .collect())
}

/// The items as CSV (RFC 4180), one row per item, amounts in minor units.
pub fn items_csv(items: &[Item]) -> ServiceResult<Vec<u8>> {
    let mut out = csv::Writer::from_writer(Vec::new());
    let header = [
        "date",
        "provider",
        "currency",
        "status",
        "report_id",
        "line_number",
        "line_kind",
        "category",
        "gateway_ids",
        "ledger_kind",
        "payment_id",
        "refund_id",
        "dispute_id",
        "event_position",
        "report_amount_minor",
        "ledger_amount_minor",
        "difference_minor",
    ];
    out.write_record(header).map_err(ServiceError::internal)?;
    let text = |v: Option<String>| v.unwrap_or_default();
    for item in items {
        let line = item.report_line.as_ref();
        let fact = item.ledger_fact.as_ref();
        let ids = line.map(|l| l.gateway_ids.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "));
        let kind = fact.map(|f| serde_json::to_value(f.kind).ok().and_then(|v| v.as_str().map(str::to_owned)));
        out.write_record([
            item.date.to_string(),
            item.provider.as_str().to_owned(),
            item.currency.clone(),
            item.status.as_str().to_owned(),
            text(line.map(|l| l.report_id.to_string())),
            text(line.map(|l| l.line_number.to_string())),
            text(line.map(|l| l.kind.clone())),
            text(line.map(|l| l.category.clone())),
            text(ids),
            text(kind.flatten()),
            text(fact.map(|f| f.payment_id.to_string())),
            text(fact.and_then(|f| f.refund_id).map(|id| id.to_string())),
            text(fact.and_then(|f| f.dispute_id).map(|id| id.to_string())),
            text(fact.and_then(|f| f.event_position).map(|p| p.to_string())),
            text(item.report_amount_minor.map(|a| a.to_string())),
            text(item.ledger_amount_minor.map(|a| a.to_string())),
            text(item.difference_minor.map(|a| a.to_string())),
        ])
        .map_err(ServiceError::internal)?;
    }
    out.into_inner().map_err(ServiceError::internal)
}
