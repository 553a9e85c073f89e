//! Settlement reports (CSV) to parsed [`SettlementLine`]s, pure: bytes in, lines or every
//! problem of the file out. The rules per format are docs/SETTLEMENT.md (Amounts, Formats).
//!
//! A file is all or nothing: one bad line refuses it, and the refusal lists every problem
//! (line, column, reason), so the sender can fix the file in one go.

mod adyen;
mod cells;
mod generic;
mod problems;
mod stripe;
mod table;
mod zone;

use payledger_core::payment::Provider;
use payledger_core::settlement::SettlementLine;
use serde::Serialize;

pub use problems::{LineProblem, MAX_PROBLEMS};
pub use table::{MAX_LINES, MAX_LINE_BYTES};

/// Why a report was refused: every problem found, in file order (at most [`MAX_PROBLEMS`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("{}", summary(problems))]
pub struct ReportRefused {
    pub problems: Vec<LineProblem>,
}

fn summary(problems: &[LineProblem]) -> String {
    let noun = if problems.len() == 1 { "problem" } else { "problems" };
    match problems.first() {
        Some(first) => format!("{} {noun}; first: {first}", problems.len()),
        None => "the report was refused".to_owned(),
    }
}

/// Every data line of `bytes`, a settlement report in `provider`'s format. A file with a
/// header and no lines is an empty report.
pub fn parse_settlement_report(provider: Provider, bytes: &[u8]) -> Result<Vec<SettlementLine>, ReportRefused> {
    match provider {
        Provider::Stripe => table::parse(bytes, &stripe::FORMAT),
        Provider::Adyen => table::parse(bytes, &adyen::FORMAT),
        Provider::Generic => table::parse(bytes, &generic::FORMAT),
    }
}
