//! Helpers of the settlement report tests.

use chrono::{DateTime, NaiveDate, Utc};
use payledger_core::money::Currency;
use payledger_core::settlement::{GatewayRefs, LineKind, SettlementLine};
use payledger_gateways::{parse_settlement_report, LineProblem, Provider, ReportRefused};

pub fn settlement_fixture(provider: &str, name: &str) -> Vec<u8> {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/settlements")
        .join(provider)
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The file's physical line `n` (1-based), for files without line breaks inside quotes.
pub fn physical_line(bytes: &[u8], n: u32) -> String {
    let text = std::str::from_utf8(bytes).unwrap();
    text.split('\n').nth(n as usize - 1).unwrap().trim_end_matches('\r').to_owned()
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

pub fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
}

pub fn cur(code: &str) -> Currency {
    Currency::parse(code).unwrap()
}

pub fn some(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// A line with one currency; `raw` is filled by the caller.
#[allow(clippy::too_many_arguments)]
pub fn line(
    line_number: u32,
    kind: LineKind,
    category: &str,
    currency: &str,
    (gross_minor, fee_minor, net_minor): (i64, i64, i64),
    created_at: &str,
    refs: GatewayRefs,
    dedupe_key: &str,
) -> SettlementLine {
    SettlementLine {
        line_number,
        kind,
        category: category.to_owned(),
        gross_currency: cur(currency),
        gross_minor,
        currency: cur(currency),
        fee_minor,
        net_minor,
        created_at: at(created_at),
        available_on: None,
        refs,
        dedupe_key: dedupe_key.to_owned(),
        raw: String::new(),
    }
}

pub fn parsed(provider: Provider, bytes: &[u8]) -> Vec<SettlementLine> {
    parse_settlement_report(provider, bytes).unwrap_or_else(|e| panic!("refused: {e}: {:#?}", e.problems))
}

pub fn refused(provider: Provider, bytes: &[u8]) -> ReportRefused {
    match parse_settlement_report(provider, bytes) {
        Ok(lines) => panic!("accepted {} lines", lines.len()),
        Err(refused) => refused,
    }
}

/// `(line, column)` of each problem.
pub fn places(refused: &ReportRefused) -> Vec<(u32, Option<&str>)> {
    refused.problems.iter().map(|p: &LineProblem| (p.line, p.column.as_deref())).collect()
}

/// Compares line by line, so that a failure names the line.
pub fn assert_lines(actual: &[SettlementLine], expected: &[SettlementLine]) {
    for (actual, expected) in actual.iter().zip(expected) {
        assert_eq!(actual, expected, "line {}", expected.line_number);
    }
    assert_eq!(actual.len(), expected.len());
}
