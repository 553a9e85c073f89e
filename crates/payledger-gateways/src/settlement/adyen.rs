//! Adyen's settlement details report (`settlement_detail_report_batch_N.csv`).

use chrono::{DateTime, Utc};
use payledger_core::money::Currency;
use payledger_core::settlement::{GatewayRefs, LineKind, SettlementLine};

use super::table::{Format, Row};
use super::zone::Zone;

const PSP: &str = "Psp Reference";
const CREATED: &str = "Creation Date";
const TIME_ZONE: &str = "TimeZone";
const TYPE: &str = "Type";
const MODIFICATION: &str = "Modification Reference";
const GROSS_CURRENCY: &str = "Gross Currency";
const GROSS_DEBIT: &str = "Gross Debit (GC)";
const GROSS_CREDIT: &str = "Gross Credit (GC)";
const NET_CURRENCY: &str = "Net Currency";
const NET_DEBIT: &str = "Net Debit (NC)";
const NET_CREDIT: &str = "Net Credit (NC)";
const BATCH: &str = "Batch Number";
const FEES: [&str; 4] = ["Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)"];

pub(super) const FORMAT: Format = Format {
    required: &[
        PSP,
        CREATED,
        TIME_ZONE,
        TYPE,
        MODIFICATION,
        GROSS_CURRENCY,
        GROSS_DEBIT,
        GROSS_CREDIT,
        NET_CURRENCY,
        NET_DEBIT,
        NET_CREDIT,
        BATCH,
    ],
    line,
};

/// Types without a payment's psp reference: the batch tells their lines apart.
const BATCH_TYPES: [&str; 4] = ["Fee", "MerchantPayout", "MiscCosts", "DepositCorrection"];

pub(super) fn kind(type_: &str) -> LineKind {
    match type_ {
        "Settled" | "SettledBulk" => LineKind::Charge,
        "Refunded" | "RefundedBulk" => LineKind::Refund,
        "Chargeback" => LineKind::Dispute,
        "ChargebackReversed" => LineKind::DisputeReversal,
        "Fee" | "MiscCosts" | "PaymentCost" => LineKind::Fee,
        "MerchantPayout" => LineKind::Payout,
        _ => LineKind::Adjustment,
    }
}

fn is_payment(kind: LineKind) -> bool {
    matches!(kind, LineKind::Charge | LineKind::Refund | LineKind::Dispute | LineKind::DisputeReversal)
}

fn line(row: &mut Row<'_>) -> Option<SettlementLine> {
    let type_ = row.required(TYPE);
    let payment = type_.is_some_and(|t| is_payment(kind(t)));
    let created = created_at(row);
    let psp = if payment { row.required(PSP) } else { row.text(PSP) };
    let modification = row.text(MODIFICATION);
    let merchant_reference = row.reference("Merchant Reference");
    let batch = row.required(BATCH);
    let net_currency = row.currency(NET_CURRENCY);
    let net = pair(row, NET_DEBIT, NET_CREDIT, net_currency);
    let fees = fees(row, net_currency);
    let gross_given = !row.cell(GROSS_DEBIT).is_empty() || !row.cell(GROSS_CREDIT).is_empty();
    let gross_currency = if gross_given || payment || !row.cell(GROSS_CURRENCY).is_empty() {
        row.currency(GROSS_CURRENCY)
    } else {
        net_currency
    };
    let gross = pair(row, GROSS_DEBIT, GROSS_CREDIT, gross_currency);
    let (type_, created, batch, currency, net, fees, gross) =
        (type_?, created?, batch?, net_currency?, net?, fees?, gross?);
    let kind = kind(type_);
    let Some(net) = net else {
        row.problem(NET_DEBIT, format!("both {NET_DEBIT} and {NET_CREDIT} are empty"));
        return None;
    };
    // A fee line's fee is what it takes from the balance; a payment line's is its breakdown.
    let fee = if kind == LineKind::Fee { net.checked_neg()? } else { fees };
    let (gross_currency, gross) = match gross {
        Some(gross) => (gross_currency?, gross),
        None if payment => {
            row.problem(GROSS_DEBIT, format!("both {GROSS_DEBIT} and {GROSS_CREDIT} are empty on a {type_} line"));
            return None;
        }
        // A payout, fee or correction without gross moved only its net.
        None => (currency, net.checked_add(fee)?),
    };
    if payment && gross_currency == currency && gross.checked_sub(fee) != Some(net) {
        let column = if row.cell(NET_CREDIT).is_empty() { NET_DEBIT } else { NET_CREDIT };
        row.problem(column, format!("net is not gross minus the fees: {net} != {gross} - {fee} (minor units)"));
    }
    let dedupe_key = dedupe_key(psp, modification, type_, batch);
    let refs = GatewayRefs {
        psp_reference: psp.map(str::to_owned),
        modification_reference: modification.map(str::to_owned),
        merchant_reference,
        payout_id: Some(batch.to_owned()),
        ..GatewayRefs::default()
    };
    Some(SettlementLine {
        line_number: row.line,
        kind,
        category: type_.to_owned(),
        gross_currency,
        gross_minor: gross,
        currency,
        fee_minor: fee,
        net_minor: net,
        created_at: created,
        available_on: None,
        refs,
        dedupe_key,
        raw: row.raw.to_owned(),
    })
}

fn created_at(row: &mut Row<'_>) -> Option<DateTime<Utc>> {
    let local = row.local_time(CREATED);
    let name = row.required(TIME_ZONE)?;
    let Some(zone) = Zone::parse(name) else {
        let reason = format!(
            "{name:?} is not a known time zone (an IANA name such as Europe/Amsterdam, or CET, CEST, UTC, PST)"
        );
        row.problem(TIME_ZONE, reason);
        return None;
    };
    let local = local?;
    let instant = zone.instant(local);
    if instant.is_none() {
        row.problem(CREATED, format!("{local} does not exist in {name}: the clock skips it"));
    }
    instant
}

/// `credit - debit`; `Some(None)` when both are empty (a line fills one half).
fn pair(row: &mut Row<'_>, debit: &str, credit: &str, currency: Option<Currency>) -> Option<Option<i64>> {
    let debit = row.optional_amount(debit, currency);
    let credit = row.optional_amount(credit, currency);
    match (debit?, credit?) {
        (None, None) => Some(None),
        (debit, credit) => Some(Some(credit.unwrap_or(0) - debit.unwrap_or(0))),
    }
}

/// Commission + Markup + Scheme Fees + Interchange, empty cells 0.
fn fees(row: &mut Row<'_>, currency: Option<Currency>) -> Option<i64> {
    let cells: Vec<Option<Option<i64>>> = FEES.iter().map(|column| row.optional_amount(column, currency)).collect();
    cells.into_iter().try_fold(0i64, |sum, cell| sum.checked_add(cell?.unwrap_or(0)))
}

/// Psp reference, modification reference and type (and the batch for lines of no payment),
/// each part escaped so that no two different lines share a key.
fn dedupe_key(psp: Option<&str>, modification: Option<&str>, type_: &str, batch: &str) -> String {
    let escape = |part: &str| part.replace('%', "%25").replace(':', "%3A");
    let mut key =
        format!("adyen:{}:{}:{}", escape(psp.unwrap_or("")), escape(modification.unwrap_or("")), escape(type_));
    if psp.is_none() || BATCH_TYPES.contains(&type_) {
        key.push(':');
        key.push_str(&escape(batch));
    }
    key
}
