//! Stripe's itemized balance report (balance change from activity, payout reconciliation).

use payledger_core::settlement::{GatewayRefs, LineKind, SettlementLine};

use super::table::{Format, Row};

const ID: &str = "balance_transaction_id";
const CREATED: &str = "created_utc";
const AVAILABLE: &str = "available_on_utc";
const CURRENCY: &str = "currency";
const GROSS: &str = "gross";
const FEE: &str = "fee";
const NET: &str = "net";
const CATEGORY: &str = "reporting_category";

pub(super) const FORMAT: Format = Format { required: &[ID, CREATED, CURRENCY, GROSS, FEE, NET, CATEGORY], line };

pub(super) fn kind(category: &str) -> LineKind {
    match category {
        "charge" | "payment" => LineKind::Charge,
        "refund" | "payment_refund" | "refund_failure" => LineKind::Refund,
        "dispute" => LineKind::Dispute,
        "dispute_reversal" => LineKind::DisputeReversal,
        "fee" | "network_cost" | "tax" => LineKind::Fee,
        "payout" | "payout_reversal" => LineKind::Payout,
        _ => LineKind::Adjustment,
    }
}

fn line(row: &mut Row<'_>) -> Option<SettlementLine> {
    let id = row.required(ID);
    let created = row.local_time(CREATED);
    let available_on = row.optional_date(AVAILABLE);
    let category = row.required(CATEGORY);
    let currency = row.currency(CURRENCY);
    let gross = row.amount(GROSS, currency);
    let fee = row.amount(FEE, currency);
    let net = row.amount(NET, currency);
    let refs = refs(row);
    let (id, category, currency, gross, fee, net) = (id?, category?, currency?, gross?, fee?, net?);
    if gross.checked_sub(fee) != Some(net) {
        row.problem(NET, format!("net {net} is not gross {gross} minus fee {fee} (minor units of {currency})"));
    }
    let kind = kind(category);
    let mut refs = refs?;
    refs.balance_transaction_id = Some(id.to_owned());
    if kind == LineKind::Payout && refs.payout_id.is_none() {
        // A payout's own line names it only as its source.
        refs.payout_id.clone_from(&refs.source_id);
    }
    Some(SettlementLine {
        line_number: row.line,
        kind,
        category: category.to_owned(),
        gross_currency: currency,
        gross_minor: gross,
        currency,
        fee_minor: fee,
        net_minor: net,
        created_at: created?.and_utc(),
        available_on: available_on?,
        refs,
        dedupe_key: format!("stripe:{id}"),
        raw: row.raw.to_owned(),
    })
}

fn refs(row: &mut Row<'_>) -> Option<GatewayRefs> {
    let refs = GatewayRefs {
        source_id: row.reference("source_id"),
        charge_id: row.reference("charge_id"),
        payment_intent_id: row.reference("payment_intent_id"),
        payout_id: row.reference("automatic_payout_id"),
        ..GatewayRefs::default()
    };
    (!row.failed()).then_some(refs)
}
