//! Settlement report lines to journal transactions: every row of the postings table of
//! `docs/SETTLEMENT.md` (the literal table below is the specification), and properties:
//! every posting balances, and a payout of exactly the net of its lines ties
//! `gateway_receivable` out to zero.

use chrono::{DateTime, Utc};
use payledger_core::ledger::{postings_for, postings_for_settlement_line, Account, AccountBalances, Side};
use payledger_core::payment::PaymentEvent;
use payledger_core::settlement::{GatewayRefs, LineKind, SettlementLine};
use payledger_core::testing::minor;
use payledger_core::Currency;
use proptest::prelude::*;

fn line(kind: LineKind, gross_minor: i64, fee_minor: i64, currency: Currency) -> SettlementLine {
    SettlementLine {
        line_number: 2,
        kind,
        category: kind.as_str().into(),
        gross_currency: currency,
        gross_minor,
        currency,
        fee_minor,
        net_minor: gross_minor - fee_minor,
        created_at: DateTime::parse_from_rfc3339("2026-11-30T10:00:00Z").unwrap().with_timezone(&Utc),
        available_on: None,
        refs: GatewayRefs::default(),
        dedupe_key: "generic:l1".into(),
        raw: String::new(),
    }
}

/// (journal kind, debit account, credit account, amount) per transfer, in posting order.
type Transfers = Vec<(&'static str, &'static str, &'static str, i64)>;

fn transfers(line: &SettlementLine, duplicate: bool) -> Transfers {
    let Some(transaction) = postings_for_settlement_line(line, duplicate) else { return Vec::new() };
    assert!(transaction.is_balanced(), "{transaction:?}");
    assert!(!transaction.lines.is_empty());
    transaction
        .lines
        .chunks(2)
        .map(|pair| {
            let [debit, credit] = pair else { panic!("lines come in pairs: {transaction:?}") };
            assert_eq!((debit.side, credit.side), (Side::Debit, Side::Credit));
            assert_eq!(debit.amount_minor, credit.amount_minor);
            assert_eq!((debit.currency, credit.currency), (line.currency, line.currency));
            (transaction.kind.as_str(), debit.account.as_str(), credit.account.as_str(), debit.amount_minor.get())
        })
        .collect()
}

#[test]
fn every_row_of_the_postings_table_posts_as_specified() {
    use LineKind::*;
    const FEES: &str = "processing_fees";
    const GR: &str = "gateway_receivable";
    const BANK: &str = "bank";
    const ADJ: &str = "settlement_adjustments";
    // (kind, gross, fee, duplicate) -> transfers. net = gross - fee.
    #[rustfmt::skip]
    let table: Vec<(LineKind, i64, i64, bool, Transfers)> = vec![
        // Charges, refunds and chargebacks post only their fee.
        (Charge, 10_000, 320, false, vec![("fee", FEES, GR, 320)]),
        (Charge, 10_000, -20, false, vec![("fee", GR, FEES, 20)]),
        (Charge, 10_000, 0, false, vec![]),
        (Refund, -5_000, 0, false, vec![]),
        (Refund, -5_000, -150, false, vec![("fee", GR, FEES, 150)]),
        (Refund, -5_000, 40, false, vec![("fee", FEES, GR, 40)]),
        (Dispute, -7_000, 1_500, false, vec![("fee", FEES, GR, 1_500)]),
        (Dispute, -7_000, 0, false, vec![]),
        (DisputeReversal, 7_000, -1_500, false, vec![("fee", GR, FEES, 1_500)]),
        (DisputeReversal, 7_000, 0, false, vec![]),
        // A fee line's amount is a fee (Stripe: gross; Adyen: fee = -net).
        (Fee, -250, 0, false, vec![("fee", FEES, GR, 250)]),
        (Fee, 0, 250, false, vec![("fee", FEES, GR, 250)]),
        (Fee, -100, 25, false, vec![("fee", FEES, GR, 125)]),
        (Fee, 90, 0, false, vec![("fee", GR, FEES, 90)]),
        (Fee, 0, -90, false, vec![("fee", GR, FEES, 90)]),
        (Fee, 0, 0, false, vec![]),
        // Payouts: out to the bank, or returned; a fee on the line posts too.
        (Payout, -9_000, 0, false, vec![("payout", BANK, GR, 9_000)]),
        (Payout, 9_000, 0, false, vec![("payout", GR, BANK, 9_000)]),
        (Payout, -9_000, 200, false, vec![("payout", BANK, GR, 9_000), ("payout", FEES, GR, 200)]),
        (Payout, 9_000, -200, false, vec![("payout", GR, BANK, 9_000), ("payout", GR, FEES, 200)]),
        (Payout, 0, 150, false, vec![("payout", FEES, GR, 150)]),
        (Payout, 0, 0, false, vec![]),
        // Adjustments, either way, with a fee.
        (Adjustment, 600, 0, false, vec![("adjustment", GR, ADJ, 600)]),
        (Adjustment, -600, 0, false, vec![("adjustment", ADJ, GR, 600)]),
        (Adjustment, -600, 30, false, vec![("adjustment", ADJ, GR, 600), ("adjustment", FEES, GR, 30)]),
        (Adjustment, 0, 0, false, vec![]),
        // A duplicate posts nothing, whatever it says.
        (Charge, 10_000, 320, true, vec![]),
        (Fee, -250, 0, true, vec![]),
        (Payout, -9_000, 200, true, vec![]),
        (Adjustment, 600, 0, true, vec![]),
    ];
    let mut kinds_seen = std::collections::BTreeSet::new();
    for (kind, gross, fee, duplicate, expected) in &table {
        kinds_seen.insert(*kind);
        let l = line(*kind, *gross, *fee, Currency::USD);
        assert_eq!(transfers(&l, *duplicate), *expected, "{kind:?} gross {gross} fee {fee} duplicate {duplicate}");
    }
    assert_eq!(kinds_seen.len(), LineKind::ALL.len(), "every line kind has rows");
}

#[test]
fn a_line_posts_in_its_balance_currency_not_its_gross_currency() {
    let mut l = line(LineKind::Payout, -9_000, 0, Currency::EUR);
    l.gross_currency = Currency::USD;
    l.gross_minor = -10_000;
    let transaction = postings_for_settlement_line(&l, false).unwrap();
    assert!(transaction.lines.iter().all(|p| p.currency == Currency::EUR && p.amount_minor.get() == 9_000));
}

fn currency() -> impl Strategy<Value = Currency> {
    prop::sample::select(vec![Currency::USD, Currency::EUR, Currency::parse("JPY").unwrap()])
}

fn kind() -> impl Strategy<Value = LineKind> {
    prop::sample::select(LineKind::ALL.to_vec())
}

/// What a line moves `gateway_receivable` by (debit-positive) in its own posting.
fn receivable_move(line: &SettlementLine) -> i128 {
    match line.kind {
        LineKind::Charge | LineKind::Refund | LineKind::Dispute | LineKind::DisputeReversal => {
            -i128::from(line.fee_minor)
        }
        LineKind::Fee | LineKind::Payout | LineKind::Adjustment => i128::from(line.net_minor),
    }
}

const CAP: i64 = 999_999_999_999_999;

proptest! {
    #[test]
    fn every_posting_of_any_line_balances_and_moves_the_receivable_by_its_own_money(
        kind in kind(),
        gross in -CAP..=CAP,
        fee in -CAP..=CAP,
        currency in currency(),
        duplicate in any::<bool>(),
    ) {
        let l = line(kind, gross, fee, currency);
        // The parser refuses a net beyond the cap too.
        prop_assume!(l.net_minor.abs() <= CAP);
        let mut balances = AccountBalances::new();
        if let Some(transaction) = postings_for_settlement_line(&l, duplicate) {
            prop_assert!(!duplicate);
            prop_assert!(transaction.is_balanced());
            prop_assert!(transaction.lines.iter().all(|p| p.currency == currency));
            balances.post(&transaction);
        }
        prop_assert!(balances.trial_balance_is_zero());
        let expected = if duplicate { 0 } else { receivable_move(&l) };
        prop_assert_eq!(balances.debit_balance(Account::GatewayReceivable, currency), expected);
    }

    #[test]
    fn a_payout_of_exactly_the_net_of_its_lines_ties_the_receivable_out(
        charges in prop::collection::vec((1..=1_000_000i64, 0..=50_000i64), 1..12),
        fees in prop::collection::vec(1..=20_000i64, 0..4),
        currency in currency(),
    ) {
        let mut balances = AccountBalances::new();
        let mut net_total: i64 = 0;
        let mut lines = Vec::new();
        for (gross, fee) in &charges {
            // The ledger posted the capture when the payment was captured.
            let captured = PaymentEvent::PaymentCaptured {
                amount_minor: minor(*gross),
                currency,
                final_capture: true,
                confirmed_by_gateway: false,
                report_key: None,
            };
            balances.post(&postings_for(&captured).unwrap());
            let fee = (*fee).min(*gross);
            lines.push(line(LineKind::Charge, *gross, fee, currency));
        }
        for fee in &fees {
            lines.push(line(LineKind::Fee, -fee, 0, currency));
        }
        for l in &lines {
            net_total += l.net_minor;
        }
        lines.push(line(LineKind::Payout, -net_total, 0, currency));
        for l in &lines {
            if let Some(transaction) = postings_for_settlement_line(l, false) {
                balances.post(&transaction);
            }
        }
        prop_assert!(balances.trial_balance_is_zero());
        prop_assert_eq!(balances.balance(Account::GatewayReceivable, currency), 0);
        prop_assert_eq!(balances.balance(Account::Bank, currency), i128::from(net_total));
        let kept: i64 = lines.iter().filter(|l| l.kind != LineKind::Payout).map(|l| l.gross_minor - l.net_minor).sum::<i64>()
            + fees.iter().sum::<i64>();
        prop_assert_eq!(balances.balance(Account::ProcessingFees, currency), i128::from(kept));
    }
}

#[test]
fn settlement_events_decode_through_domain_event() {
    use payledger_core::settlement::SettlementEvent;
    use payledger_core::{DomainEvent, SettlementReportId};
    let event = SettlementEvent::SettlementLineReported {
        report_id: SettlementReportId::new(),
        line: Box::new(line(LineKind::Fee, -250, 0, Currency::USD)),
        duplicate_of: None,
    };
    let domain = DomainEvent::from(event.clone());
    assert_eq!((domain.event_type(), domain.schema_version()), ("SettlementLineReported", 1));
    let decoded = DomainEvent::decode(domain.event_type(), domain.schema_version(), &domain.to_payload());
    assert_eq!(decoded, Ok(DomainEvent::Settlement(event)));
}
