//! The generic format, for any other gateway (docs/SETTLEMENT.md, "generic").

use chrono::{DateTime, Utc};
use payledger_core::settlement::{GatewayRefs, LineKind, SettlementLine};

use super::table::{Format, Row};

const ID: &str = "line_id";
const CREATED: &str = "created_at";
const TYPE: &str = "type";
const CURRENCY: &str = "currency";
const GROSS: &str = "gross";
const FEE: &str = "fee";
const NET: &str = "net";
const PAYMENT: &str = "payment_reference";
const REFUND: &str = "refund_reference";

pub(super) const FORMAT: Format = Format { required: &[ID, CREATED, TYPE, CURRENCY, GROSS, FEE, NET], line };

fn line(row: &mut Row<'_>) -> Option<SettlementLine> {
    let id = row.required(ID);
    let created = created_at(row);
    let kind = kind(row);
    let currency = row.currency(CURRENCY);
    let gross = row.amount(GROSS, currency);
    let fee = row.amount(FEE, currency);
    let net = row.amount(NET, currency);
    let payment = match kind {
        Some(LineKind::Charge | LineKind::Dispute | LineKind::DisputeReversal) => row.required(PAYMENT),
        _ => row.text(PAYMENT),
    };
    let refund = match kind {
        Some(LineKind::Refund) => row.required(REFUND),
        _ => row.text(REFUND),
    };
    let payout_id = row.reference("payout_id");
    let merchant_reference = row.reference("merchant_reference");
    let (id, kind, currency, gross, fee, net) = (id?, kind?, currency?, gross?, fee?, net?);
    if gross.checked_sub(fee) != Some(net) {
        row.problem(NET, format!("net {net} is not gross {gross} minus fee {fee} (minor units of {currency})"));
    }
    let refs = GatewayRefs {
        balance_transaction_id: Some(id.to_owned()),
        payment_intent_id: payment.map(str::to_owned),
        modification_reference: refund.map(str::to_owned),
        payout_id,
        merchant_reference,
        ..GatewayRefs::default()
    };
    Some(SettlementLine {
        line_number: row.line,
        kind,
        category: kind.as_str().to_owned(),
        gross_currency: currency,
        gross_minor: gross,
        currency,
        fee_minor: fee,
        net_minor: net,
        created_at: created?,
        available_on: None,
        refs,
        dedupe_key: format!("generic:{id}"),
        raw: row.raw.to_owned(),
    })
}

fn created_at(row: &mut Row<'_>) -> Option<DateTime<Utc>> {
    let text = row.required(CREATED)?;
    match DateTime::parse_from_rfc3339(text) {
        Ok(at) if text.trim() == text => Some(at.with_timezone(&Utc)),
        _ => {
            row.problem(CREATED, format!("{text:?} is not an RFC 3339 time with an offset (2026-11-30T10:00:00Z)"));
            None
        }
    }
}

fn kind(row: &mut Row<'_>) -> Option<LineKind> {
    let text = row.required(TYPE)?;
    let kind = LineKind::ALL.into_iter().find(|kind| kind.as_str() == text);
    if kind.is_none() {
        let known: Vec<&str> = LineKind::ALL.iter().map(|kind| kind.as_str()).collect();
        row.problem(TYPE, format!("{text:?} is not one of {}", known.join(", ")));
    }
    kind
}
