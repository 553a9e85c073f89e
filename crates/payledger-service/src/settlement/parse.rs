//! The file to lines: the gateways crate's parsers (docs/SETTLEMENT.md "Formats"), their
//! problems in the service's terms.

use payledger_core::payment::Provider;
use payledger_core::settlement::SettlementLine;

use super::ReportProblem;

/// Every line of the file, or every problem found in it.
pub fn parse(provider: Provider, bytes: &[u8]) -> Result<Vec<SettlementLine>, Vec<ReportProblem>> {
    payledger_gateways::parse_settlement_report(provider, bytes).map_err(|refused| {
        refused
            .problems
            .into_iter()
            .map(|p| ReportProblem { line: p.line, column: p.column, reason: p.reason })
            .collect()
    })
}
