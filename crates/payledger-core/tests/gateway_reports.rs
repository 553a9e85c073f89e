//! Gateway reports: idempotent, order-tolerant, never an error on a payment
//! that exists.

mod common;

use common::*;
use payledger_core::ledger::Account;
use payledger_core::payment::{
    CaptureMethod, GatewayReport, PaymentCommand, PaymentEvent, PaymentStatus, RefundStatus, ReportKind,
};
use payledger_core::{Currency, MinorUnits};

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
                let mut history = History::new().given(initiate(method));
                for &i in order {
                    history.record(reports[i].clone()).unwrap();
                    if duplicate {
                        history.record(reports[i].clone()).unwrap();
                    }
                }
                if duplicate {
                    // Redeliver everything again at the end, in reverse.
                    for &i in order.iter().rev() {
                        history.record(reports[i].clone()).unwrap();
                    }
                }
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
