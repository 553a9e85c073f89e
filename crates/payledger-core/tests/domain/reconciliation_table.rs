//! Every reconciliation verdict: given a line of each kind and what the ledger holds for it,
//! then the status, the ledger amount and the difference. The literal table is the specification.

use chrono::NaiveDate;
use payledger_core::reconciliation::{
    is_missing_in_report, judge_line, Counterpart, DayTotals, FactAmounts, ItemAmounts, ReconStatus,
};
use payledger_core::settlement::LineKind;
use payledger_core::Currency;

fn usd() -> Currency {
    Currency::parse("USD").unwrap()
}
fn eur() -> Currency {
    Currency::parse("EUR").unwrap()
}

/// (kind, gross, net, counterpart, expected status, ledger_minor, difference_minor)
type Row = (LineKind, i64, i64, Counterpart, ReconStatus, Option<i64>, Option<i64>);

const FACT: FactAmounts =
    FactAmounts { captured_minor: 10_000, refunded_minor: 3_000, disputed_minor: 5_000, dispute_won_minor: 0 };

#[test]
fn every_kind_against_every_ledger_side() {
    use LineKind::*;
    use ReconStatus::*;
    let fact = |c| Counterpart::Fact(Some((c, FACT)));
    // (kind, gross, net, counterpart, expected status, ledger_minor, difference_minor)
    #[rustfmt::skip]
    let table: Vec<Row> = vec![
        (Charge,          10_000,  9_680, fact(usd()),             Matched,          Some(10_000), Some(0)),
        (Charge,           9_000,  8_700, fact(usd()),             AmountMismatch,   Some(10_000), Some(-1_000)),
        (Charge,          10_000,  9_680, fact(eur()),             CurrencyMismatch, Some(10_000), None),
        (Charge,          10_000,  9_680, Counterpart::Fact(None), MissingInLedger,  None,         None),
        (Refund,          -3_000, -3_000, fact(usd()),             Matched,          Some(-3_000), Some(0)),
        (Refund,          -2_000, -2_000, fact(usd()),             AmountMismatch,   Some(-3_000), Some(1_000)),
        (Refund,          -3_000, -3_000, fact(eur()),             CurrencyMismatch, Some(-3_000), None),
        (Refund,          -3_000, -3_000, Counterpart::Fact(None), MissingInLedger,  None,         None),
        (Dispute,         -5_000, -6_500, fact(usd()),             Matched,          Some(-5_000), Some(0)),
        (Dispute,         -4_000, -5_500, fact(usd()),             AmountMismatch,   Some(-5_000), Some(1_000)),
        (Dispute,         -5_000, -6_500, Counterpart::Fact(None), MissingInLedger,  None,         None),
        // A reversal of a dispute the ledger has not seen won: the ledger shows nothing given back.
        (DisputeReversal,  5_000,  5_000, fact(usd()),             AmountMismatch,   Some(0),      Some(5_000)),
        (DisputeReversal,  5_000,  5_000, Counterpart::Fact(None), MissingInLedger,  None,         None),
        (Fee,               -200,   -200, Counterpart::Itself,     Matched,          Some(-200),   Some(0)),
        (Adjustment,         150,    150, Counterpart::Itself,     Matched,          Some(150),    Some(0)),
        (Payout,         -12_000,-12_000, Counterpart::PayoutOf { lines_net_minor: 12_000 }, Matched,        Some(-12_000), Some(0)),
        (Payout,         -12_000,-12_000, Counterpart::PayoutOf { lines_net_minor: 11_999 }, PayoutMismatch, Some(-11_999), Some(-1)),
    ];
    for (kind, gross, net, counterpart, status, ledger, difference) in table {
        let verdict = judge_line(kind, usd(), gross, net, false, counterpart);
        assert_eq!(
            (verdict.status, verdict.ledger_minor, verdict.difference_minor),
            (status, ledger, difference),
            "{kind:?} gross {gross} against {counterpart:?}"
        );
    }
}

#[test]
fn a_won_reversal_matches() {
    let won = FactAmounts { dispute_won_minor: 5_000, ..FACT };
    let verdict =
        judge_line(LineKind::DisputeReversal, usd(), 5_000, 5_000, false, Counterpart::Fact(Some((usd(), won))));
    assert_eq!(verdict.status, ReconStatus::Matched);
}

#[test]
fn a_duplicate_is_a_duplicate_whatever_it_would_match() {
    for kind in LineKind::ALL {
        for counterpart in [
            Counterpart::Fact(Some((usd(), FACT))),
            Counterpart::Fact(None),
            Counterpart::Itself,
            Counterpart::PayoutOf { lines_net_minor: 1 },
        ] {
            let verdict = judge_line(kind, usd(), 10_000, 9_680, true, counterpart);
            assert_eq!(verdict.status, ReconStatus::DuplicateInReport, "{kind:?} {counterpart:?}");
            assert_eq!(verdict.ledger_minor, None);
        }
    }
}

#[test]
fn a_difference_at_the_extremes_does_not_overflow() {
    let huge = FactAmounts { captured_minor: i64::MIN, ..FACT };
    let verdict =
        judge_line(LineKind::Charge, usd(), i64::MAX, i64::MAX, false, Counterpart::Fact(Some((usd(), huge))));
    assert_eq!(verdict.status, ReconStatus::AmountMismatch);
    assert_eq!(verdict.difference_minor, Some(i64::MAX));
}

#[test]
fn a_fact_is_missing_only_once_the_reports_cover_the_lag() {
    let day = |d| NaiveDate::from_ymd_opt(2026, 11, d).unwrap();
    #[rustfmt::skip]
    let table = [
        (day(10), None,          3, false),
        (day(10), Some(day(12)), 3, false),
        (day(10), Some(day(13)), 3, true),
        (day(10), Some(day(20)), 3, true),
        (day(10), Some(day(10)), 0, true),
        (day(10), Some(day(9)),  0, false),
    ];
    for (fact_day, covered, lag, missing) in table {
        assert_eq!(is_missing_in_report(fact_day, covered, lag), missing, "{fact_day} covered {covered:?} lag {lag}");
    }
    assert!(!is_missing_in_report(NaiveDate::MAX, Some(NaiveDate::MAX), 1), "no overflow past the last date");
}

#[test]
fn a_day_sums_counts_and_nets_and_names_its_difference() {
    let mut totals = DayTotals::default();
    let item =
        |status, report, ledger| ItemAmounts { status, report_settles_minor: report, ledger_settles_minor: ledger };
    totals.add(&item(ReconStatus::Matched, Some(10_000), Some(10_000)));
    totals.add(&item(ReconStatus::AmountMismatch, Some(4_000), Some(4_500)));
    totals.add(&item(ReconStatus::MissingInLedger, Some(1_000), None));
    totals.add(&item(ReconStatus::MissingInReport, None, Some(2_500)));
    totals.add(&item(ReconStatus::Matched, None, None));
    assert_eq!(totals.counts[&ReconStatus::Matched], 2);
    assert_eq!((totals.report_net_minor, totals.ledger_net_minor), (15_000, 17_000));
    assert_eq!(totals.difference_minor(), -2_000);
    assert_eq!(totals.exceptions(), 3);
}

#[test]
fn status_names_are_the_contract() {
    let names: Vec<_> = ReconStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(
        names,
        [
            "matched",
            "amount_mismatch",
            "currency_mismatch",
            "missing_in_ledger",
            "missing_in_report",
            "duplicate_in_report",
            "payout_mismatch"
        ]
    );
    for status in ReconStatus::ALL {
        assert_eq!(ReconStatus::parse(status.as_str()), Some(status));
        assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
    }
}
