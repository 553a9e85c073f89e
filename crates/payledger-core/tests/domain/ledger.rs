//! Double-entry postings: every money event balances, and the balances tie
//! out with the payment's amounts.

use payledger_core::ledger::{postings_for, Account, AccountBalances, Side};
use payledger_core::payment::{DisputeOutcome, PaymentCommand};
use payledger_core::testing::*;
use payledger_core::Currency;

#[test]
fn capture_refund_and_dispute_post_the_documented_lines() {
    let history = manual()
        .given(authorize())
        .given(capture(None))
        .given(request_refund(1, 1_000))
        .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) })
        .given(open_dispute(1, 2_000))
        .given(open_dispute(2, 3_000))
        .given(resolve(1, DisputeOutcome::Won))
        .given(resolve(2, DisputeOutcome::Lost));
    let postings: Vec<_> = history
        .events
        .iter()
        .filter_map(postings_for)
        .map(|t| {
            assert!(t.is_balanced());
            let [debit, credit] = t.lines.as_slice() else { panic!("two lines") };
            assert_eq!((debit.side, credit.side), (Side::Debit, Side::Credit));
            (t.kind.as_str(), debit.account.as_str(), credit.account.as_str(), debit.amount_minor.get())
        })
        .collect();
    assert_eq!(
        postings,
        [
            ("capture", "gateway_receivable", "sales_revenue", 10_000),
            ("refund", "refunds", "gateway_receivable", 1_000),
            ("dispute_opened", "disputes_held", "gateway_receivable", 2_000),
            ("dispute_opened", "disputes_held", "gateway_receivable", 3_000),
            ("dispute_won", "gateway_receivable", "disputes_held", 2_000),
            ("dispute_lost", "chargeback_losses", "disputes_held", 3_000),
        ]
    );

    let balances = history.balances();
    let usd = |account| balances.balance(account, Currency::USD);
    assert_eq!(usd(Account::SalesRevenue), 10_000);
    assert_eq!(usd(Account::Refunds), 1_000);
    assert_eq!(usd(Account::DisputesHeld), 0);
    assert_eq!(usd(Account::ChargebackLosses), 3_000);
    assert_eq!(usd(Account::GatewayReceivable), 6_000);
    assert!(balances.trial_balance_is_zero());
}

#[test]
fn events_that_move_no_money_post_nothing() {
    let voided = manual().given(authorize()).given(PaymentCommand::Void);
    let failed_refund = manual()
        .given(authorize())
        .given(capture(None))
        .given(request_refund(1, 500))
        .given(PaymentCommand::FailRefund { refund_id: refund_id(1), code: None, message: None });
    let silent = voided.events.iter().chain(&failed_refund.events[3..]);
    for event in silent {
        assert!(postings_for(event).is_none(), "{}", event.event_type());
    }
}

#[test]
fn account_names_are_stable_and_parse_back() {
    let names: Vec<_> = Account::ALL.iter().map(|a| a.as_str()).collect();
    assert_eq!(
        names,
        [
            "gateway_receivable",
            "sales_revenue",
            "refunds",
            "disputes_held",
            "chargeback_losses",
            "processing_fees",
            "bank",
            "settlement_adjustments"
        ]
    );
    for account in Account::ALL {
        assert_eq!(account.as_str().parse::<Account>(), Ok(account));
        assert_eq!(serde_json::to_value(account).unwrap(), account.as_str());
    }
    assert_eq!(Account::SalesRevenue.normal_side(), Side::Credit);
    assert_eq!(Account::Refunds.normal_side(), Side::Debit);
    for account in [Account::ProcessingFees, Account::Bank, Account::SettlementAdjustments] {
        assert_eq!(account.normal_side(), Side::Debit, "{account}");
    }
}

#[test]
fn an_unbalanced_transaction_is_detected() {
    let history = manual().given(authorize()).given(capture(None));
    let mut transaction = history.events.iter().find_map(postings_for).unwrap();
    assert!(transaction.is_balanced());
    transaction.lines[1].amount_minor = minor(9_999);
    assert!(!transaction.is_balanced());
    transaction.lines[1].amount_minor = minor(10_000);
    transaction.lines[1].currency = Currency::EUR;
    assert!(!transaction.is_balanced());
    let mut balances = AccountBalances::new();
    balances.post(&transaction);
    assert!(!balances.trial_balance_is_zero());
}
