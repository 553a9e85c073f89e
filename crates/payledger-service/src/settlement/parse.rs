//! STAND-IN until `payledger_gateways::parse_settlement_report` lands on main: the generic
//! format only, one record per physical line, no quoted cells. Replace [`parse`]'s body
//! with a call to the real parser (mapping its `LineProblem`s to [`ReportProblem`]s).

use chrono::{DateTime, Utc};
use payledger_core::money::parse_major_decimal;
use payledger_core::payment::Provider;
use payledger_core::settlement::{GatewayRefs, LineKind, SettlementLine};
use payledger_core::Currency;

use super::ReportProblem;

const REQUIRED: [&str; 7] = ["line_id", "created_at", "type", "currency", "gross", "fee", "net"];

/// Every line of the file, or every problem found in it.
pub fn parse(provider: Provider, bytes: &[u8]) -> Result<Vec<SettlementLine>, Vec<ReportProblem>> {
    if provider != Provider::Generic {
        return Err(vec![problem(1, None, format!("the {provider} format is not supported yet"))]);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| vec![problem(1, None, "the file is not UTF-8 text".into())])?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let missing: Vec<ReportProblem> = REQUIRED
        .iter()
        .filter(|c| !header.contains(c))
        .map(|c| problem(1, Some(c), "required column missing".into()))
        .collect();
    if !missing.is_empty() {
        return Err(missing);
    }
    let (mut parsed, mut problems) = (Vec::new(), Vec::new());
    for (index, raw) in lines.enumerate().filter(|(_, l)| !l.is_empty()) {
        let line_number = index as u32 + 2;
        let cells: Vec<&str> = raw.split(',').collect();
        let cell = |name: &str| header.iter().position(|h| *h == name).and_then(|i| cells.get(i)).copied();
        match parse_line(line_number, raw, &cell) {
            Ok(line) => parsed.push(line),
            Err(mut found) => problems.append(&mut found),
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems)
    }
}

fn parse_line<'a>(
    line: u32,
    raw: &str,
    cell: &dyn Fn(&str) -> Option<&'a str>,
) -> Result<SettlementLine, Vec<ReportProblem>> {
    let mut problems = Vec::new();
    let mut required = |name: &'static str| match cell(name).filter(|v| !v.is_empty()) {
        Some(value) => Some(value),
        None => {
            problems.push(problem(line, Some(name), "required cell is empty".into()));
            None
        }
    };
    let (id, created, kind, currency, gross, fee, net) = (
        required("line_id"),
        required("created_at"),
        required("type"),
        required("currency"),
        required("gross"),
        required("fee"),
        required("net"),
    );
    let created_at = created.and_then(|v| match DateTime::parse_from_rfc3339(v) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            problems.push(problem(line, Some("created_at"), format!("{v:?} is not an RFC 3339 time")));
            None
        }
    });
    let kind_of = kind.and_then(|v| match LineKind::ALL.iter().find(|k| k.as_str() == v) {
        Some(k) => Some(*k),
        None => {
            problems.push(problem(line, Some("type"), format!("{v:?} is not a line type")));
            None
        }
    });
    let currency = currency.and_then(|v| match Currency::parse(&v.to_ascii_uppercase()) {
        Ok(c) => Some(c),
        Err(e) => {
            problems.push(problem(line, Some("currency"), e.to_string()));
            None
        }
    });
    let mut amount = |name: &'static str, value: Option<&str>| {
        let (value, currency) = (value?, currency?);
        parse_major_decimal(value, currency).map_err(|e| problems.push(problem(line, Some(name), e.to_string()))).ok()
    };
    let (gross, fee, net) = (amount("gross", gross), amount("fee", fee), amount("net", net));
    let (Some(id), Some(created_at), Some(kind), Some(currency), Some(gross), Some(fee), Some(net)) =
        (id, created_at, kind_of, currency, gross, fee, net)
    else {
        return Err(problems);
    };
    if gross.checked_sub(fee) != Some(net) {
        return Err(vec![problem(line, Some("net"), "net is not gross - fee".into())]);
    }
    let optional = |name: &str| cell(name).filter(|v| !v.is_empty()).map(str::to_owned);
    Ok(SettlementLine {
        line_number: line,
        kind,
        category: kind.as_str().to_owned(),
        gross_currency: currency,
        gross_minor: gross,
        currency,
        fee_minor: fee,
        net_minor: net,
        created_at,
        available_on: None,
        refs: GatewayRefs {
            balance_transaction_id: Some(id.to_owned()),
            payment_intent_id: optional("payment_reference"),
            modification_reference: optional("refund_reference"),
            payout_id: optional("payout_id"),
            merchant_reference: optional("merchant_reference"),
            ..GatewayRefs::default()
        },
        dedupe_key: format!("generic:{id}"),
        raw: raw.to_owned(),
    })
}

fn problem(line: u32, column: Option<&str>, reason: String) -> ReportProblem {
    ReportProblem { line, column: column.map(str::to_owned), reason }
}
