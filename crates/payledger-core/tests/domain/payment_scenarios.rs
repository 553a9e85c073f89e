//! Readable given/when/then scenarios of the payment lifecycle.

use payledger_core::payment::{
    DisputeOutcome, DisputeStatus, PaymentCommand, PaymentEvent, PaymentStatus, RefundStatus,
};
use payledger_core::testing::*;
use payledger_core::{Currency, MinorUnits};

fn units(n: i64) -> MinorUnits {
    MinorUnits::new(n).unwrap()
}

#[test]
fn automatic_capture_authorizes_and_captures_everything() {
    let events = automatic().when(authorize()).unwrap();
    assert_eq!(
        events,
        vec![
            PaymentEvent::PaymentAuthorized {
                amount_minor: minor(10_000),
                currency: Currency::USD,
                inferred: false,
                report_key: None
            },
            PaymentEvent::PaymentCaptured {
                amount_minor: minor(10_000),
                currency: Currency::USD,
                final_capture: true,
                confirmed_by_gateway: false,
                report_key: None
            },
        ]
    );
}

#[test]
fn manual_capture_in_parts_up_to_the_authorization() {
    let mut history = manual().given(PaymentCommand::Authorize { amount_minor: Some(minor(8_000)) });
    history.record(capture(Some(3_000))).unwrap();
    assert_eq!(history.status(), PaymentStatus::PartiallyCaptured);
    assert_eq!(history.payment().amount_capturable(), units(5_000));

    let error = history.when(capture(Some(5_001))).unwrap_err();
    assert_eq!(error.code(), "amount_exceeds_capturable");
    assert_eq!(error.param(), Some("amount"));
    assert_eq!(error.to_string(), "amount 5001 exceeds the capturable 5000 (USD minor units)");

    history.record(capture(Some(2_000))).unwrap();
    history.record(capture(None)).unwrap();
    let payment = history.payment();
    assert_eq!((payment.status, payment.amount_captured), (PaymentStatus::Captured, units(8_000)));
    assert!(payment.capture_final);
}

#[test]
fn a_final_capture_releases_the_rest() {
    let history = manual()
        .given(authorize())
        .given(PaymentCommand::Capture { amount_minor: Some(minor(4_000)), final_capture: true });
    let payment = history.payment();
    assert_eq!(payment.status, PaymentStatus::Captured);
    assert_eq!(payment.amount_capturable(), MinorUnits::ZERO);
    assert_eq!(history.when(capture(None)).unwrap_err().code(), "payment_not_capturable");
}

#[test]
fn authorization_cannot_exceed_the_payment() {
    let error = manual().when(PaymentCommand::Authorize { amount_minor: Some(minor(10_001)) }).unwrap_err();
    assert_eq!(error.code(), "amount_exceeds_authorizable");
}

#[test]
fn a_declined_payment_can_be_authorized_on_retry() {
    let history = manual().given(PaymentCommand::Fail { code: "card_declined".into(), message: "Declined".into() });
    assert_eq!(history.payment().failure_code.as_deref(), Some("card_declined"));
    let history = history.given(authorize());
    let payment = history.payment();
    assert_eq!(payment.status, PaymentStatus::Authorized);
    assert_eq!(payment.failure_code, None);
}

#[test]
fn fail_requires_a_code() {
    let error = manual().when(PaymentCommand::Fail { code: "".into(), message: "m".into() }).unwrap_err();
    assert_eq!((error.code(), error.param()), ("field_empty", Some("code")));
}

#[test]
fn void_releases_the_authorization_only_before_capture() {
    let authorized = manual().given(authorize());
    let events = authorized.when(PaymentCommand::Void).unwrap();
    assert!(matches!(
        events.as_slice(),
        [PaymentEvent::PaymentVoided { amount_released_minor, .. }] if *amount_released_minor == units(10_000)
    ));
    let captured = authorized.given(capture(None));
    assert_eq!(captured.when(PaymentCommand::Void).unwrap_err().code(), "payment_not_voidable");
}

#[test]
fn void_after_a_partial_capture_releases_the_rest_and_keeps_what_was_captured() {
    let mut history = manual().given(authorize()).given(capture(Some(3_000)));
    let events = history.when(PaymentCommand::Void).unwrap();
    assert!(matches!(
        events.as_slice(),
        [PaymentEvent::PaymentAuthorizationReleased { amount_released_minor, .. }]
            if amount_released_minor.get() == 7_000
    ));
    history.record(PaymentCommand::Void).unwrap();
    let payment = history.payment();
    assert_eq!(payment.status, PaymentStatus::Captured);
    assert_eq!((payment.amount_captured, payment.amount_capturable()), (units(3_000), units(0)));
    assert!(payment.capture_complete());
    // Capture is closed; the captured money is refundable as usual.
    assert_eq!(history.when(capture(Some(1))).unwrap_err().code(), "payment_not_capturable");
    assert_eq!(history.when(PaymentCommand::Void).unwrap_err().code(), "payment_not_voidable");
    history.record(request_refund(1, 3_000)).unwrap();
    history.record(PaymentCommand::SucceedRefund { refund_id: refund_id(1) }).unwrap();
    assert_eq!(history.payment().status, PaymentStatus::Refunded);
    assert!(!history.payment().is_in_progress_for_order(), "a fully refunded payment frees its order");
}

#[test]
fn partial_refunds_up_to_what_was_captured_then_refunded() {
    let mut history = manual().given(authorize()).given(capture(None));
    history.record(request_refund(1, 4_000)).unwrap();
    // The pending refund reserves its amount.
    assert_eq!(history.payment().amount_refundable(), units(6_000));
    assert_eq!(history.when(request_refund(2, 6_001)).unwrap_err().code(), "amount_exceeds_refundable");
    assert_eq!(history.when(request_refund(1, 1)).unwrap_err().code(), "refund_already_exists");

    history.record(request_refund(2, 6_000)).unwrap();
    history
        .record(PaymentCommand::FailRefund { refund_id: refund_id(2), code: Some("expired".into()), message: None })
        .unwrap();
    // A failed refund releases its reservation.
    assert_eq!(history.payment().amount_refundable(), units(6_000));

    history.record(PaymentCommand::SucceedRefund { refund_id: refund_id(1) }).unwrap();
    history.record(request_refund(3, 6_000)).unwrap();
    assert_eq!(history.status(), PaymentStatus::Captured);
    history.record(PaymentCommand::SucceedRefund { refund_id: refund_id(3) }).unwrap();

    let payment = history.payment();
    assert_eq!(payment.status, PaymentStatus::Refunded);
    assert_eq!(payment.amount_refunded, units(10_000));
    assert_eq!(payment.refund(refund_id(2)).map(|r| r.status), Some(RefundStatus::Failed));
    assert_eq!(history.when(request_refund(4, 1)).unwrap_err().code(), "payment_not_refundable");
}

#[test]
fn refunds_of_a_partial_capture_keep_capture_open() {
    let history = manual()
        .given(authorize())
        .given(capture(Some(3_000)))
        .given(request_refund(1, 3_000))
        .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) });
    assert_eq!(history.status(), PaymentStatus::PartiallyCaptured);
    assert!(history.when(capture(None)).is_ok());
}

#[test]
fn disputes_hold_money_until_won_or_lost() {
    let mut history = manual().given(authorize()).given(capture(None)).given(request_refund(1, 2_000));
    assert_eq!(history.when(open_dispute(1, 8_001)).unwrap_err().code(), "amount_exceeds_disputable");
    history.record(open_dispute(1, 3_000)).unwrap();
    history.record(open_dispute(2, 1_000)).unwrap();
    assert_eq!(history.payment().amount_refundable(), units(4_000));

    history.record(resolve(1, DisputeOutcome::Won)).unwrap();
    history.record(resolve(2, DisputeOutcome::Lost)).unwrap();
    let payment = history.payment();
    assert_eq!(payment.amount_disputed, units(1_000));
    assert_eq!(payment.amount_refundable(), units(7_000));
    assert_eq!(payment.dispute(dispute_id(2)).map(|d| d.status), Some(DisputeStatus::Lost));
    assert_eq!(history.when(resolve(2, DisputeOutcome::Won)).unwrap_err().code(), "dispute_not_open");
    assert_eq!(history.when(resolve(9, DisputeOutcome::Won)).unwrap_err().code(), "dispute_not_found");
    assert_eq!(history.when(open_dispute(1, 1)).unwrap_err().code(), "dispute_already_exists");
}

#[test]
fn refund_commands_on_unknown_or_settled_refunds_are_refused() {
    let history = manual().given(authorize()).given(capture(None)).given(request_refund(1, 100));
    let succeed = |n| PaymentCommand::SucceedRefund { refund_id: refund_id(n) };
    assert_eq!(history.when(succeed(7)).unwrap_err().code(), "refund_not_found");
    let history = history.given(succeed(1));
    assert_eq!(history.when(succeed(1)).unwrap_err().code(), "refund_not_pending");
}

#[test]
fn text_fields_are_bounded() {
    let history = manual().given(authorize()).given(capture(None));
    let long = PaymentCommand::RequestRefund {
        refund_id: refund_id(1),
        amount_minor: minor(1),
        reason: Some("x".repeat(2_001)),
        provider_reference: None,
        at: at(1),
    };
    assert_eq!(history.when(long).unwrap_err().code(), "field_too_long");
}

#[test]
fn fold_is_deterministic() {
    let history = manual().given(authorize()).given(capture(Some(5_000))).given(request_refund(1, 1_000));
    assert_eq!(history.state(), history.state());
}
