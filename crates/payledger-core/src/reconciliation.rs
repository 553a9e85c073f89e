//! Reconciliation rules: a settlement report line against the ledger fact it settles.
//!
//! Pure: the caller finds each line's fact (by the gateway references the ledger holds) and
//! the ledger facts no line settles; this module decides the status of each and sums a day.
//! The statuses' names are the API's contract (docs/SETTLEMENT.md).

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Currency;
use crate::settlement::LineKind;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReconStatus {
    Matched,
    AmountMismatch,
    CurrencyMismatch,
    MissingInLedger,
    MissingInReport,
    DuplicateInReport,
    PayoutMismatch,
}

impl ReconStatus {
    pub const ALL: [ReconStatus; 7] = [
        ReconStatus::Matched,
        ReconStatus::AmountMismatch,
        ReconStatus::CurrencyMismatch,
        ReconStatus::MissingInLedger,
        ReconStatus::MissingInReport,
        ReconStatus::DuplicateInReport,
        ReconStatus::PayoutMismatch,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReconStatus::Matched => "matched",
            ReconStatus::AmountMismatch => "amount_mismatch",
            ReconStatus::CurrencyMismatch => "currency_mismatch",
            ReconStatus::MissingInLedger => "missing_in_ledger",
            ReconStatus::MissingInReport => "missing_in_report",
            ReconStatus::DuplicateInReport => "duplicate_in_report",
            ReconStatus::PayoutMismatch => "payout_mismatch",
        }
    }

    pub fn parse(text: &str) -> Option<ReconStatus> {
        ReconStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    /// Whether finance has to look at it.
    pub fn is_exception(self) -> bool {
        self != ReconStatus::Matched
    }
}

/// Which ledger fact a line settles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FactKind {
    Capture,
    Refund,
    Dispute,
}

/// What the ledger holds for a fact, signed like a report line (a capture positive, a refund
/// or chargeback negative): the amount a line settling it in full shows as its gross.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LedgerAmount {
    pub amount_minor: i64,
    pub currency: Currency,
}

/// What a line of `kind` should show for a fact of the ledger.
///
/// - `captured_minor`: the payment's captured total (for a charge);
/// - a refund's amount if it succeeded, else 0 (money not yet given back);
/// - a dispute's amount, for a chargeback; for a reversal, the amount if it was won, else 0.
pub fn expected_gross(kind: LineKind, fact: &FactAmounts) -> Option<i64> {
    match kind {
        LineKind::Charge => Some(fact.captured_minor),
        LineKind::Refund => Some(-fact.refunded_minor),
        LineKind::Dispute => Some(-fact.disputed_minor),
        LineKind::DisputeReversal => Some(fact.dispute_won_minor),
        LineKind::Fee | LineKind::Payout | LineKind::Adjustment => None,
    }
}

/// The ledger's side of a fact, as the caller found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FactAmounts {
    pub captured_minor: i64,
    pub refunded_minor: i64,
    pub disputed_minor: i64,
    pub dispute_won_minor: i64,
}

/// The outcome for one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineVerdict {
    pub status: ReconStatus,
    /// What the ledger says the line should show, when there is a ledger side.
    pub ledger_minor: Option<i64>,
    /// `report - ledger`, when both exist in one currency.
    pub difference_minor: Option<i64>,
}

/// What the line is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counterpart {
    /// A charge, refund or chargeback line: the fact the references found, if any.
    Fact(Option<(Currency, FactAmounts)>),
    /// A payout line: the net of the lines paid out in it (in the payout's currency).
    PayoutOf { lines_net_minor: i64 },
    /// A fee or adjustment line: it is its own ledger fact (it posts).
    Itself,
}

/// The status of a line: `gross_minor` in `gross_currency` (a payout compares its net),
/// against its counterpart. A duplicate is `duplicate_in_report` whatever else holds.
pub fn judge_line(
    kind: LineKind,
    gross_currency: Currency,
    gross_minor: i64,
    net_minor: i64,
    duplicate: bool,
    counterpart: Counterpart,
) -> LineVerdict {
    let verdict = |status, ledger_minor: Option<i64>, report_minor: i64| LineVerdict {
        status,
        ledger_minor,
        difference_minor: ledger_minor.map(|ledger| report_minor.saturating_sub(ledger)),
    };
    if duplicate {
        return LineVerdict { status: ReconStatus::DuplicateInReport, ledger_minor: None, difference_minor: None };
    }
    match counterpart {
        Counterpart::Itself => verdict(ReconStatus::Matched, Some(gross_minor), gross_minor),
        Counterpart::PayoutOf { lines_net_minor } => {
            // A payout takes the lines' net out of the balance: its net is minus theirs.
            let expected = lines_net_minor.saturating_neg();
            let status = if net_minor == expected { ReconStatus::Matched } else { ReconStatus::PayoutMismatch };
            verdict(status, Some(expected), net_minor)
        }
        Counterpart::Fact(None) => verdict(ReconStatus::MissingInLedger, None, gross_minor),
        Counterpart::Fact(Some((currency, amounts))) => {
            let Some(expected) = expected_gross(kind, &amounts) else {
                return verdict(ReconStatus::Matched, Some(gross_minor), gross_minor);
            };
            if currency != gross_currency {
                LineVerdict {
                    status: ReconStatus::CurrencyMismatch,
                    ledger_minor: Some(expected),
                    difference_minor: None,
                }
            } else if expected != gross_minor {
                verdict(ReconStatus::AmountMismatch, Some(expected), gross_minor)
            } else {
                verdict(ReconStatus::Matched, Some(expected), gross_minor)
            }
        }
    }
}

/// Whether a ledger fact of `fact_day` that no line settles is due in the reports: the
/// provider's reports cover at least `lag_days` days after it.
pub fn is_missing_in_report(fact_day: NaiveDate, reports_cover_to: Option<NaiveDate>, lag_days: u32) -> bool {
    let Some(covered) = reports_cover_to else { return false };
    fact_day.checked_add_days(chrono::Days::new(u64::from(lag_days))).is_some_and(|due| covered >= due)
}

/// One item of a day, as summed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemAmounts {
    pub status: ReconStatus,
    /// The line's gross when it settles a fact (charge, refund, chargeback, reversal) and is not a duplicate.
    pub report_settles_minor: Option<i64>,
    /// The ledger amount on the same footing (a matched or mismatched fact, or a missing_in_report one).
    pub ledger_settles_minor: Option<i64>,
}

/// The sums of a day, provider and currency.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct DayTotals {
    pub counts: BTreeMap<ReconStatus, u64>,
    pub report_net_minor: i128,
    pub ledger_net_minor: i128,
}

impl DayTotals {
    pub fn add(&mut self, item: &ItemAmounts) {
        *self.counts.entry(item.status).or_insert(0) += 1;
        self.report_net_minor += i128::from(item.report_settles_minor.unwrap_or(0));
        self.ledger_net_minor += i128::from(item.ledger_settles_minor.unwrap_or(0));
    }

    pub fn difference_minor(&self) -> i128 {
        self.report_net_minor - self.ledger_net_minor
    }

    pub fn exceptions(&self) -> u64 {
        self.counts.iter().filter(|(status, _)| status.is_exception()).map(|(_, n)| n).sum()
    }
}

/// Whether a line of this kind settles a ledger fact (and so counts in the day's nets).
pub fn settles_a_fact(kind: LineKind) -> bool {
    matches!(kind, LineKind::Charge | LineKind::Refund | LineKind::Dispute | LineKind::DisputeReversal)
}
