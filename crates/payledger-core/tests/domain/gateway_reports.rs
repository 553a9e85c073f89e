//! Gateway reports: idempotent, order-tolerant, never an error on a payment
//! that exists.

use payledger_core::ledger::{postings_for, Account, Side};
use payledger_core::payment::{
    CaptureMethod, GatewayReport, PaymentCommand, PaymentEvent, PaymentStatus, RefundStatus, ReportKind,
};
use payledger_core::testing::*;
use payledger_core::{Currency, MinorUnits, RefundId};

fn units(n: i64) -> MinorUnits {
    MinorUnits::new(n).unwrap()
}

fn authorized(amount: i64) -> ReportKind {
    ReportKind::Authorized { amount_minor: minor(amount) }
}

fn captured(amount: i64, cumulative: bool) -> ReportKind {
    ReportKind::Captured { amount_minor: minor(amount), cumulative }
}

fn refunded(reference: &str, amount: i64) -> ReportKind {
    ReportKind::Refunded { provider_refund_reference: reference.into(), amount_minor: minor(amount) }
}

fn ignored_reason(events: &[PaymentEvent]) -> &str {
    match events {
        [PaymentEvent::WebhookIgnored { reason, .. }] => reason,
        other => panic!("expected one WebhookIgnored, got {other:?}"),
    }
}

#[test]
fn a_duplicate_report_is_ignored() {
    let history = manual().given(report("evt_1", authorized(10_000)));
    let events = history.when(report("evt_1", authorized(10_000))).unwrap();
    assert!(ignored_reason(&events).starts_with("duplicate:"), "{events:?}");
    let history = history.given(report("evt_1", authorized(10_000)));
    // Ignoring is recorded but changes no amount.
    assert_eq!(history.payment().amount_authorized, units(10_000));
}

#[test]
fn captured_before_authorized_leaves_the_payment_captured() {
    let history = manual().given(report("evt_cap", captured(10_000, true)));
    let payment = history.payment();
    assert_eq!(payment.status, PaymentStatus::Captured);
    assert_eq!((payment.amount_authorized, payment.amount_captured), (units(10_000), units(10_000)));
    assert!(payment.authorization_inferred);
    assert!(matches!(history.events[1], PaymentEvent::PaymentAuthorized { inferred: true, .. }));

    // The late authorization confirms the inferred one; nothing moves twice.
    let history = history.given(report("evt_auth", authorized(10_000)));
    let payment = history.payment();
    assert!(!payment.authorization_inferred);
    assert_eq!(payment.amount_captured, units(10_000));
    assert!(matches!(history.events.last(), Some(PaymentEvent::PaymentAuthorizationConfirmed { .. })));
}

#[test]
fn stale_transitions_are_ignored_with_a_reason() {
    let history = manual().given(authorize()).given(report("cap", captured(10_000, true)));
    assert_eq!(history.status(), PaymentStatus::Captured);
    let reason = |kind| ignored_reason(&history.when(report("late", kind)).unwrap()).to_owned();
    assert!(reason(authorized(10_000)).starts_with("payment_not_authorizable:"));
    assert!(reason(ReportKind::Failed { code: "declined".into(), message: "no".into() })
        .starts_with("payment_not_failable:"));
    assert!(reason(ReportKind::Canceled).starts_with("payment_not_voidable:"));
    assert!(reason(captured(10_000, true)).starts_with("stale_capture:"));
}

#[test]
fn reports_that_can_never_fit_are_ignored() {
    let history = manual();
    let reason = |kind| ignored_reason(&history.when(report("big", kind)).unwrap()).to_owned();
    assert!(reason(captured(10_001, false)).starts_with("exceeds_payment_amount:"));
    assert!(reason(refunded("re_1", 10_001)).starts_with("exceeds_payment_amount:"));
    let other_currency = GatewayReport::new("eur", authorized(100), at(1)).with_currency(Currency::EUR);
    let events = history.when(PaymentCommand::ApplyGatewayReport(other_currency)).unwrap();
    assert!(ignored_reason(&events).starts_with("currency_mismatch:"));
}

#[test]
fn cumulative_captures_apply_only_the_increase() {
    let mut history = manual().given(report("a", authorized(10_000)));
    history.record(report("c1", captured(3_000, true))).unwrap();
    history.record(report("c2", captured(7_000, true))).unwrap();
    // An older cumulative total arriving late is stale.
    let events = history.record(report("c0", captured(1_000, true))).unwrap();
    assert!(ignored_reason(&events).starts_with("stale_capture:"));
    assert_eq!(history.payment().amount_captured, units(7_000));
}

#[test]
fn delta_captures_apply_once_per_report() {
    let mut history = manual().given(report("a", authorized(10_000)));
    history.record(report("cap_1", captured(3_000, false))).unwrap();
    history.record(report("cap_2", captured(3_000, false))).unwrap();
    history.record(report("cap_1", captured(3_000, false))).unwrap();
    assert_eq!(history.payment().amount_captured, units(6_000));
}

#[test]
fn a_capture_report_confirms_an_api_capture_instead_of_repeating_it() {
    let history = manual().given(authorize()).given(capture(Some(4_000)));
    for cumulative in [true, false] {
        let confirmed = history.clone().given(report("cap", captured(4_000, cumulative)));
        let payment = confirmed.payment();
        assert_eq!(payment.amount_captured, units(4_000), "cumulative {cumulative}");
        assert_eq!(payment.amount_capture_unconfirmed, MinorUnits::ZERO);
        assert!(matches!(confirmed.events.last(), Some(PaymentEvent::PaymentCaptureConfirmed { .. })));
    }
}

#[test]
fn a_refund_before_any_capture_implies_the_capture() {
    let history = manual().given(report("r", refunded("re_1", 2_500)));
    let types: Vec<_> = history.events.iter().map(|e| e.event_type()).collect();
    assert_eq!(
        types,
        ["PaymentInitiated", "PaymentAuthorized", "PaymentCaptured", "RefundRequested", "RefundSucceeded"]
    );
    let payment = history.payment();
    assert_eq!((payment.amount_captured, payment.amount_refunded), (units(2_500), units(2_500)));
    assert_eq!(payment.amount_capture_unconfirmed, units(2_500));
    assert_eq!(history.balances().balance(Account::GatewayReceivable, Currency::USD), 0);
}

#[test]
fn a_refund_report_settles_the_pending_api_refund() {
    let base = manual().given(authorize()).given(capture(None));
    // Requested with the gateway's reference: matched by it.
    let with_reference = base.clone().given(PaymentCommand::RequestRefund {
        refund_id: refund_id(1),
        amount_minor: minor(1_500),
        reason: None,
        provider_reference: Some("re_9".into()),
        at: at(5),
    });
    let settled = with_reference.given(report("r", refunded("re_9", 1_500)));
    assert_eq!(settled.payment().refunds.len(), 1);
    assert_eq!(settled.payment().refund(refund_id(1)).map(|r| r.status), Some(RefundStatus::Succeeded));
    // A second delivery under another key is recognised by the reference.
    let again = settled.when(report("r2", refunded("re_9", 1_500))).unwrap();
    assert!(ignored_reason(&again).starts_with("refund_not_pending:"));

    // Requested before the gateway assigned a reference: matched by amount,
    // and the reference is learnt.
    let settled = base.given(request_refund(1, 1_500)).given(report("r", refunded("re_7", 1_500)));
    let refund = settled.payment().refund(refund_id(1)).cloned().unwrap();
    assert_eq!((refund.status, refund.provider_reference.as_deref()), (RefundStatus::Succeeded, Some("re_7")));
}

#[test]
fn a_refund_failure_report_releases_the_reservation() {
    let history = manual()
        .given(authorize())
        .given(capture(None))
        .given(PaymentCommand::RequestRefund {
            refund_id: refund_id(1),
            amount_minor: minor(1_500),
            reason: None,
            provider_reference: Some("re_9".into()),
            at: at(5),
        })
        .given(report("rf", ReportKind::RefundFailed { provider_refund_reference: "re_9".into() }));
    assert_eq!(history.payment().amount_refund_pending, MinorUnits::ZERO);
    let unknown = history.when(report("rf2", ReportKind::RefundFailed { provider_refund_reference: "re_x".into() }));
    assert!(ignored_reason(&unknown.unwrap()).starts_with("unknown_refund:"));
}

#[test]
fn dispute_reports_open_and_close_by_reference() {
    let opened = ReportKind::DisputeOpened { provider_dispute_reference: "dp_1".into(), amount_minor: minor(4_000) };
    let history = manual().given(report("d1", opened.clone()));
    // Opened before any capture was seen: the capture is implied.
    let payment = history.payment();
    assert_eq!((payment.amount_captured, payment.amount_disputed), (units(4_000), units(4_000)));
    let again = history.when(report("d1b", opened)).unwrap();
    assert!(ignored_reason(&again).starts_with("dispute_already_exists:"));

    let lost = ReportKind::DisputeClosed { provider_dispute_reference: "dp_1".into(), won: false };
    let history = history.given(report("d2", lost.clone()));
    assert_eq!(history.balances().balance(Account::ChargebackLosses, Currency::USD), 4_000);
    let late = history.when(report("d3", lost)).unwrap();
    assert!(ignored_reason(&late).starts_with("dispute_not_open:"));
    let unknown = ReportKind::DisputeClosed { provider_dispute_reference: "dp_9".into(), won: true };
    assert!(ignored_reason(&history.when(report("d4", unknown)).unwrap()).starts_with("unknown_dispute:"));
}

#[test]
fn canceled_voids_an_authorization_and_a_later_authorization_is_stale() {
    let history = manual().given(report("auth", authorized(10_000))).given(report("cancel", ReportKind::Canceled));
    assert_eq!(history.status(), PaymentStatus::Voided);
    let history = manual().given(report("cancel", ReportKind::Canceled)).given(report("auth", authorized(10_000)));
    assert_eq!(history.status(), PaymentStatus::Voided);
}

#[test]
fn a_failure_then_a_successful_retry_converge_in_either_order() {
    let failed = ReportKind::Failed { code: "card_declined".into(), message: "declined".into() };
    for order in [[0, 1], [1, 0]] {
        let reports = [report("fail", failed.clone()), report("cap", captured(10_000, true))];
        let mut history = manual();
        for i in order {
            history.record(reports[i].clone()).unwrap();
        }
        let payment = history.payment();
        assert_eq!((payment.status, payment.amount_captured), (PaymentStatus::Captured, units(10_000)), "{order:?}");
    }
}

/// Everything about a payment that must not depend on delivery order.
fn outcome(history: &History) -> (PaymentStatus, [MinorUnits; 5], bool, Vec<(Account, i128)>) {
    let p = history.payment();
    let amounts =
        [p.amount_authorized, p.amount_captured, p.amount_refunded, p.amount_refund_pending, p.amount_disputed];
    let balances = Account::ALL.iter().map(|&a| (a, history.balances().balance(a, Currency::USD))).collect();
    (p.status, amounts, p.authorization_inferred, balances)
}

fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut all = Vec::new();
    for rest in permutations(n - 1) {
        for position in 0..=rest.len() {
            let mut order = rest.clone();
            order.insert(position, n - 1);
            all.push(order);
        }
    }
    all
}

#[test]
fn authorized_captured_refunded_in_every_order_and_with_duplicates_converge() {
    let cases = [
        (CaptureMethod::Manual, 6_000, false),
        (CaptureMethod::Manual, 6_000, true),
        (CaptureMethod::Manual, 10_000, true),
        (CaptureMethod::Automatic, 10_000, true),
        (CaptureMethod::Automatic, 10_000, false),
    ];
    for (method, capture_amount, cumulative) in cases {
        let reports = [
            report("evt_auth", authorized(10_000)),
            report("evt_cap", captured(capture_amount, cumulative)),
            report("evt_ref", refunded("re_1", 2_500)),
        ];
        let orders = permutations(reports.len());
        assert_eq!(orders.len(), 6);
        let mut outcomes = Vec::new();
        for order in &orders {
            for duplicate in [false, true] {
                let history = deliver(&History::new().given(initiate(method)), &reports, order, duplicate);
                outcomes.push((order.clone(), duplicate, outcome(&history)));
            }
        }
        let (_, _, first) = &outcomes[0];
        let (status, amounts, inferred, _) = first;
        assert_eq!(amounts[1], units(capture_amount), "{method:?} {cumulative}");
        assert_eq!(amounts[2], units(2_500));
        assert!(!inferred);
        let expected_status =
            if capture_amount == 10_000 { PaymentStatus::Captured } else { PaymentStatus::PartiallyCaptured };
        assert_eq!(*status, expected_status);
        for (order, duplicate, got) in &outcomes {
            assert_eq!(got, first, "{method:?} cumulative={cumulative} order={order:?} duplicate={duplicate}");
        }
    }
}

fn dispute_opened(reference: &str, amount: i64) -> ReportKind {
    ReportKind::DisputeOpened { provider_dispute_reference: reference.into(), amount_minor: minor(amount) }
}

fn usd(history: &History, account: Account) -> i128 {
    history.balances().balance(account, Currency::USD)
}

/// Every journal transaction of the history balances, and so does the whole.
fn assert_journal_balances(history: &History) {
    for transaction in history.events.iter().filter_map(postings_for) {
        assert!(transaction.is_balanced(), "{transaction:?}");
    }
    assert!(history.balances().trial_balance_is_zero());
}

/// The review's scenario: an API refund marked succeeded, then the gateway's
/// report of that same refund, then a second, real refund of the same amount
/// made from the gateway's dashboard.
#[test]
fn a_second_gateway_refund_of_the_same_amount_as_a_succeeded_api_refund_is_a_new_refund() {
    // Given a captured payment and a 500 refund R1 requested through the API
    // (no provider reference) and marked succeeded.
    let history = manual()
        .given(authorize())
        .given(capture(None))
        .given(request_refund(1, 500))
        .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) });
    assert_eq!(usd(&history, Account::Refunds), 500);

    // When the gateway reports its refund re_A of 500: it is R1 (same money).
    let mut history = history;
    let events = history.record(report("evt_re_A", refunded("re_A", 500))).unwrap();

    // Then R1 learns the reference; nothing is posted or counted twice.
    assert_eq!(
        events,
        [PaymentEvent::RefundReferenceLearned {
            refund_id: refund_id(1),
            provider_reference: "re_A".into(),
            report_key: "evt_re_A".into(),
        }]
    );
    assert!(events.iter().all(|event| postings_for(event).is_none()));
    let payment = history.payment();
    assert_eq!(payment.amount_refunded, units(500));
    assert_eq!(payment.refund(refund_id(1)).and_then(|r| r.provider_reference.as_deref()), Some("re_A"));
    // re_A delivered again under another event id is the same refund.
    let again = history.when(report("evt_re_A_retry", refunded("re_A", 500))).unwrap();
    assert!(ignored_reason(&again).starts_with("refund_not_pending:"), "{again:?}");

    // When the merchant refunds another 500 from the gateway dashboard (re_B).
    let events = history.record(report("evt_re_B", refunded("re_B", 500))).unwrap();

    // Then it is recorded as a new refund, which posts to the journal.
    let new_refund = RefundId::for_gateway_refund(payment_id(), "re_B");
    let types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(types, ["RefundRequested", "RefundSucceeded"]);
    let posted: Vec<_> = events.iter().filter_map(postings_for).collect();
    assert_eq!(posted.len(), 1);
    let lines: Vec<_> = posted[0].lines.iter().map(|l| (l.account, l.side, l.amount_minor.get())).collect();
    assert_eq!(lines, [(Account::Refunds, Side::Debit, 500), (Account::GatewayReceivable, Side::Credit, 500)]);
    let payment = history.payment();
    assert_eq!(payment.amount_refunded, units(1_000));
    assert_eq!(payment.refunds.len(), 2);
    let refund = payment.refund(new_refund).cloned().unwrap();
    assert_eq!((refund.status, refund.provider_reference.as_deref()), (RefundStatus::Succeeded, Some("re_B")));
    assert_eq!(usd(&history, Account::Refunds), 1_000);
    assert_eq!(usd(&history, Account::GatewayReceivable), 9_000);
    assert_journal_balances(&history);

    // And replaying the stream gives the same payment.
    assert_eq!(payledger_core::payment::fold(&history.events), Some(payment));
}

#[test]
fn gateway_refunds_of_the_same_amount_match_each_api_refund_once_then_count_as_new() {
    // Given two API refunds of 500 without references: one pending, one succeeded.
    let mut history = manual()
        .given(authorize())
        .given(capture(None))
        .given(request_refund(1, 500))
        .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) })
        .given(request_refund(2, 500));
    // When three gateway refunds of 500 arrive.
    let first = history.record(report("e1", refunded("re_1", 500))).unwrap();
    let second = history.record(report("e2", refunded("re_2", 500))).unwrap();
    let third = history.record(report("e3", refunded("re_3", 500))).unwrap();
    // Then the pending one is settled first, then the succeeded one learns its
    // reference, and the third is new money.
    let types = |events: &[PaymentEvent]| events.iter().map(|e| e.event_type()).collect::<Vec<_>>();
    assert_eq!(types(&first), ["RefundSucceeded"]);
    assert_eq!(types(&second), ["RefundReferenceLearned"]);
    assert_eq!(types(&third), ["RefundRequested", "RefundSucceeded"]);
    let payment = history.payment();
    let reference = |n| payment.refund(refund_id(n)).and_then(|r| r.provider_reference.clone());
    assert_eq!((reference(2), reference(1)), (Some("re_1".into()), Some("re_2".into())));
    assert_eq!((payment.amount_refunded, payment.amount_refund_pending), (units(1_500), MinorUnits::ZERO));
    assert_eq!(usd(&history, Account::Refunds), 1_500);
    assert_journal_balances(&history);
}

/// The review's scenario: 100% captured, a refund of all of it pending, and
/// the cardholder's bank charges it back anyway.
#[test]
fn a_chargeback_on_money_reserved_by_a_pending_refund_is_recorded() {
    // Given a captured payment with a pending refund of all of it.
    let history = manual().given(authorize()).given(capture(None)).given(request_refund(1, PAYMENT_AMOUNT));
    assert_eq!(history.payment().amount_disputable(), MinorUnits::ZERO);

    // When the gateway reports a chargeback of all of it.
    let mut history = history;
    let events = history.record(report("evt_dp", dispute_opened("dp_1", PAYMENT_AMOUNT))).unwrap();

    // Then it is recorded and posted, not ignored.
    assert!(matches!(events.as_slice(), [PaymentEvent::DisputeOpened { .. }]), "{events:?}");
    let payment = history.payment();
    assert_eq!(payment.amount_disputed, units(PAYMENT_AMOUNT));
    assert_eq!(payment.check_invariants(), Ok(()));
    assert_eq!(usd(&history, Account::DisputesHeld), PAYMENT_AMOUNT.into());
    assert_eq!(usd(&history, Account::GatewayReceivable), 0);

    // When the refund succeeds as well and the dispute is lost, the money went
    // out twice: the receivable goes negative (we owe the gateway), and the
    // ledger still balances and ties out.
    history.record(report("evt_re", refunded("re_1", PAYMENT_AMOUNT))).unwrap();
    let lost = ReportKind::DisputeClosed { provider_dispute_reference: "dp_1".into(), won: false };
    history.record(report("evt_lost", lost)).unwrap();
    let payment = history.payment();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!((payment.amount_refunded, payment.amount_disputed), (units(PAYMENT_AMOUNT), units(PAYMENT_AMOUNT)));
    assert_eq!(payment.check_invariants(), Ok(()));
    let receivable = i128::from(payment.amount_captured.get())
        - i128::from(payment.amount_refunded.get())
        - i128::from(payment.amount_disputed.get());
    assert_eq!(receivable, -i128::from(PAYMENT_AMOUNT));
    assert_eq!(usd(&history, Account::GatewayReceivable), receivable);
    assert_eq!(usd(&history, Account::ChargebackLosses), PAYMENT_AMOUNT.into());
    assert_eq!(usd(&history, Account::Refunds), PAYMENT_AMOUNT.into());
    assert_eq!(usd(&history, Account::SalesRevenue), PAYMENT_AMOUNT.into());
    assert_journal_balances(&history);
}

#[test]
fn a_dispute_opened_through_the_api_keeps_the_stricter_pool() {
    let history = manual().given(authorize()).given(capture(None)).given(request_refund(1, PAYMENT_AMOUNT));
    let error = history.when(open_dispute(1, 1)).unwrap_err();
    assert_eq!(error.code(), "amount_exceeds_disputable");
}

#[test]
fn a_chargeback_on_a_fully_refunded_payment_is_recorded() {
    // Given a payment refunded in full.
    let history = manual()
        .given(authorize())
        .given(capture(None))
        .given(request_refund(1, PAYMENT_AMOUNT))
        .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) });
    assert_eq!(history.status(), PaymentStatus::Refunded);
    // The API cannot open a dispute on it ...
    assert_eq!(history.when(open_dispute(1, 100)).unwrap_err().code(), "payment_not_disputable");
    // ... but a chargeback reported by the gateway is recorded.
    let history = history.given(report("evt_dp", dispute_opened("dp_1", 2_500)));
    let payment = history.payment();
    assert_eq!((payment.status, payment.amount_disputed), (PaymentStatus::Refunded, units(2_500)));
    assert_eq!(usd(&history, Account::GatewayReceivable), -2_500);
    assert_journal_balances(&history);
}

#[test]
fn chargebacks_never_exceed_captured_minus_other_disputes() {
    let mut history = manual().given(authorize()).given(capture(Some(8_000))).given(request_refund(1, 8_000));
    history.record(report("d1", dispute_opened("dp_1", 5_000))).unwrap();
    // 3,000 captured is left to dispute; the rest of the authorization is
    // capturable, so a bigger chargeback implies the capture it needs.
    let events = history.record(report("d2", dispute_opened("dp_2", 4_000))).unwrap();
    let types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(types, ["PaymentCaptured", "DisputeOpened"]);
    let payment = history.payment();
    assert_eq!((payment.amount_captured, payment.amount_disputed), (units(9_000), units(9_000)));
    // Beyond anything capturable, it can never fit.
    let events = history.record(report("d3", dispute_opened("dp_3", 1_001))).unwrap();
    assert!(ignored_reason(&events).starts_with("amount_exceeds_disputable:"), "{events:?}");
    // A won dispute frees its amount again.
    history
        .record(report("w1", ReportKind::DisputeClosed { provider_dispute_reference: "dp_1".into(), won: true }))
        .unwrap();
    let events = history.record(report("d4", dispute_opened("dp_4", 5_000))).unwrap();
    assert!(matches!(events.as_slice(), [PaymentEvent::DisputeOpened { .. }]), "{events:?}");
    assert_journal_balances(&history);
}

#[test]
fn a_chargeback_on_a_voided_payment_is_ignored() {
    let history = manual().given(authorize()).given(PaymentCommand::Void);
    let events = history.when(report("d", dispute_opened("dp_1", 100))).unwrap();
    assert!(ignored_reason(&events).starts_with("payment_not_disputable:"), "{events:?}");
}

fn refunded_in_total(total: i64) -> ReportKind {
    ReportKind::RefundedInTotal { charge_reference: "ch_1".into(), total_refunded_minor: minor(total) }
}

/// Delivers `reports` in `order`, optionally each twice and all again in reverse.
fn deliver(start: &History, reports: &[PaymentCommand], order: &[usize], duplicate: bool) -> History {
    let mut history = start.clone();
    for &i in order {
        history.record(reports[i].clone()).unwrap();
        if duplicate {
            history.record(reports[i].clone()).unwrap();
        }
    }
    if duplicate {
        for &i in order.iter().rev() {
            history.record(reports[i].clone()).unwrap();
        }
    }
    history
}

/// A Stripe endpoint receives `charge.refunded` (the charge's running total, no refund list)
/// and `refund.created` / `refund.updated` (the refund itself) for the same refund: in every
/// order and with redeliveries it is one refund of the right amount, counted once.
#[test]
fn a_charge_refunded_total_and_the_refund_events_count_one_refund_in_every_order() {
    for amount in [2_500, 10_000] {
        let captured = manual().given(authorize()).given(capture(None));
        let reports = [
            report("evt_charge_refunded", refunded_in_total(amount)),
            report("evt_refund_created", refunded("re_1", amount)),
            report("evt_refund_updated", refunded("re_1", amount)),
        ];
        for order in permutations(reports.len()) {
            for duplicate in [false, true] {
                let history = deliver(&captured, &reports, &order, duplicate);
                let p = history.payment();
                let case = format!("amount={amount} order={order:?} duplicate={duplicate}");
                assert_eq!(p.amount_refunded, units(amount), "{case}");
                assert_eq!(p.amount_refunded_unattributed, units(0), "{case}");
                assert_eq!(p.refunds.len(), 1, "{case}: {:?}", p.refunds);
                let refund = &p.refunds[0];
                assert_eq!((refund.status, refund.amount_minor), (RefundStatus::Succeeded, minor(amount)), "{case}");
                assert_eq!(refund.provider_reference.as_deref(), Some("re_1"), "{case}");
                let expected = if amount == 10_000 { PaymentStatus::Refunded } else { PaymentStatus::Captured };
                assert_eq!(p.status, expected, "{case}");
                assert_eq!(usd(&history, Account::Refunds), i128::from(amount), "{case}");
                assert_journal_balances(&history);
            }
        }
    }
}

/// Two refunds, each reported by its own events and by the charge's growing running total
/// (3 000 then 5 000): every one of the 120 orders counts 5 000, once.
#[test]
fn running_totals_of_several_refunds_and_their_own_reports_converge_in_every_order() {
    let captured = manual().given(authorize()).given(capture(None));
    let reports = [
        report("evt_total_1", refunded_in_total(3_000)),
        report("evt_total_2", refunded_in_total(5_000)),
        report("evt_re_1", refunded("re_1", 3_000)),
        report("evt_re_2", refunded("re_2", 2_000)),
        report("evt_re_2_again", refunded("re_2", 2_000)),
    ];
    for order in permutations(reports.len()) {
        let history = deliver(&captured, &reports, &order, false);
        let p = history.payment();
        assert_eq!(p.amount_refunded, units(5_000), "order={order:?}");
        assert_eq!(p.amount_refunded_unattributed, units(0), "order={order:?}");
        let mut refunds: Vec<_> =
            p.refunds.iter().map(|r| (r.provider_reference.clone(), r.amount_minor.get(), r.status)).collect();
        refunds.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            refunds,
            [
                (Some("re_1".into()), 3_000, RefundStatus::Succeeded),
                (Some("re_2".into()), 2_000, RefundStatus::Succeeded)
            ],
            "order={order:?}"
        );
        assert_eq!(usd(&history, Account::Refunds), 5_000, "order={order:?}");
        assert_journal_balances(&history);
    }
}

/// A running total before its refunds are known counts at once (money is never late), and a
/// total that does not grow is stale.
#[test]
fn a_running_total_counts_what_no_refund_explains_yet() {
    let history = manual().given(authorize()).given(capture(None)).given(report("t1", refunded_in_total(4_000)));
    let p = history.payment();
    assert_eq!((p.amount_refunded, p.amount_refunded_unattributed), (units(4_000), units(4_000)));
    assert!(p.refunds.is_empty(), "no refund is invented for a total");
    assert!(matches!(history.events.last(), Some(PaymentEvent::RefundTotalReported { .. })));
    assert!(ignored_reason(&history.when(report("t2", refunded_in_total(4_000))).unwrap()).starts_with("stale_refund:"));
    // The refund it was: claimed from the total, no new money posted.
    let history = history.given(report("r1", refunded("re_1", 4_000)));
    assert_eq!(history.payment().amount_refunded, units(4_000));
    assert_eq!(usd(&history, Account::Refunds), 4_000);
    assert!(matches!(
        history.events.last(),
        Some(PaymentEvent::RefundAttributed { from_total_minor, .. }) if *from_total_minor == units(4_000)
    ));
    assert_eq!(postings_for(history.events.last().unwrap()), None, "the money was posted with the total");
}

/// A running total settles the pending API refund it covers instead of counting it again.
#[test]
fn a_running_total_settles_the_pending_refund_it_covers() {
    let history = manual().given(authorize()).given(capture(None)).given(request_refund(1, 1_500));
    let history = history.given(report("t1", refunded_in_total(1_500)));
    let p = history.payment();
    assert_eq!((p.amount_refunded, p.amount_refund_pending), (units(1_500), units(0)));
    assert_eq!(p.refunds[0].status, RefundStatus::Succeeded);
    // The gateway's own report of that refund later changes nothing.
    let history = history.given(report("r1", refunded("re_9", 1_500)));
    assert_eq!(history.payment().amount_refunded, units(1_500));
    assert_eq!(history.payment().refunds.len(), 1);
    assert_journal_balances(&history);
}

/// Two pending API refunds of the same amount; the gateway refunds one, reported first by
/// the running total, then by its own report: one refund succeeds, not two.
#[test]
fn a_refund_settled_by_a_total_is_the_one_its_own_report_matches() {
    let history = manual()
        .given(authorize())
        .given(capture(None))
        .given(request_refund(1, 3_000))
        .given(request_refund(2, 3_000))
        .given(report("t1", refunded_in_total(3_000)));
    assert_eq!(history.payment().amount_refunded, units(3_000));
    let history = history.given(report("r1", refunded("re_1", 3_000)));
    let p = history.payment();
    assert_eq!((p.amount_refunded, p.amount_refund_pending), (units(3_000), units(3_000)), "{:?}", p.refunds);
    let statuses: Vec<_> = p.refunds.iter().map(|r| (r.status, r.provider_reference.clone())).collect();
    assert_eq!(statuses, [(RefundStatus::Succeeded, Some("re_1".into())), (RefundStatus::Pending, None)]);
    assert_eq!(usd(&history, Account::Refunds), 3_000);
    assert_journal_balances(&history);
}
