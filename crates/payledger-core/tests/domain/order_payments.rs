//! An order's payments together: a new payment takes at most what the others leave of the
//! order's amount, and an order is not cancelled while a payment is in progress.

use payledger_core::order::{OrderPayments, OrderSnapshot};
use payledger_core::payment::{self, CaptureMethod, Payment, PaymentCommand, PaymentStatus};
use payledger_core::testing::*;
use payledger_core::{Currency, DomainError, MinorUnits, PaymentId, RefundId};
use proptest::prelude::*;

fn initiate_on(order: OrderSnapshot, amount: i64) -> PaymentCommand {
    PaymentCommand::Initiate {
        payment_id: PaymentId::new(),
        order,
        amount_minor: minor(amount),
        currency: Currency::USD,
        capture_method: CaptureMethod::Manual,
        provider: payment::Provider::Stripe,
        provider_reference: None,
        at: at(0),
    }
}

fn committed(order: OrderSnapshot, amount: i64) -> OrderSnapshot {
    OrderSnapshot { amount_committed: MinorUnits::new(amount).unwrap(), ..order }
}

#[test]
fn a_payment_takes_at_most_what_the_other_payments_leave() {
    let order = committed(open_order(5_000), 3_000);
    let error = History::new().when(initiate_on(order, 2_001)).unwrap_err();
    assert_eq!(
        error,
        DomainError::AmountExceedsOrder {
            requested: minor(2_001),
            available: MinorUnits::new(2_000).unwrap(),
            order_amount: minor(5_000),
            currency: Currency::USD,
        }
    );
    assert_eq!(error.code(), "amount_exceeds_order");
    assert_eq!(error.param(), Some("amount"));
    assert!(History::new().when(initiate_on(order, 2_000)).is_ok());
    let full = committed(open_order(5_000), 5_000);
    assert_eq!(History::new().when(initiate_on(full, 1)).unwrap_err().code(), "amount_exceeds_order");
}

/// A manual-capture payment of 10 000 driven to each status by API commands.
fn payment_in(status: PaymentStatus) -> Payment {
    let start = History::new().given(initiate(CaptureMethod::Manual));
    let refund = |n, amount| request_refund(n, amount);
    let history = match status {
        PaymentStatus::Initiated => start,
        PaymentStatus::Authorized => start.given(authorize()),
        PaymentStatus::PartiallyCaptured => start.given(authorize()).given(capture(Some(4_000))),
        PaymentStatus::Captured => start
            .given(authorize())
            .given(PaymentCommand::Capture { amount_minor: Some(minor(6_000)), final_capture: true })
            .given(refund(1, 1_000))
            .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) }),
        PaymentStatus::Refunded => start
            .given(authorize())
            .given(capture(None))
            .given(refund(1, PAYMENT_AMOUNT))
            .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) }),
        PaymentStatus::Voided => start.given(authorize()).given(PaymentCommand::Void),
        PaymentStatus::Failed => {
            start.given(PaymentCommand::Fail { code: "card_declined".into(), message: "declined".into() })
        }
    };
    let payment = history.payment();
    assert_eq!(payment.status, status, "the setup reaches {status:?}");
    payment
}

#[test]
fn what_each_status_holds_of_the_order() {
    assert_eq!(PAYMENT_AMOUNT, 10_000, "the expectations below assume it");
    for status in PaymentStatus::ALL {
        let payment = payment_in(status);
        let (holds, in_progress) = match status {
            PaymentStatus::Initiated | PaymentStatus::Authorized | PaymentStatus::PartiallyCaptured => (10_000, true),
            // A declined payment may be authorized again: it keeps its share until voided.
            PaymentStatus::Failed => (10_000, true),
            // Capture closed at 6 000; the refund of 1 000 frees nothing.
            PaymentStatus::Captured => (6_000, true),
            PaymentStatus::Refunded | PaymentStatus::Voided => (0, false),
        };
        assert_eq!(payment.amount_committed_to_order().get(), holds, "{status:?}");
        assert_eq!(payment.is_in_progress_for_order(), in_progress, "{status:?}");
    }
}

/// Captured money that is all refunded or lost to a dispute leaves nothing to wait for,
/// though the status stays captured (refunded means all of it went back by refunds).
#[test]
fn a_captured_payment_with_nothing_left_is_no_longer_in_progress() {
    let disputed = History::new()
        .given(initiate(CaptureMethod::Manual))
        .given(authorize())
        .given(capture(None))
        .given(request_refund(1, 4_000))
        .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) })
        .given(open_dispute(1, 6_000));
    assert!(disputed.payment().is_in_progress_for_order(), "an open dispute may still be won");
    let lost = disputed.given(resolve(1, payment::DisputeOutcome::Lost));
    let payment = lost.payment();
    assert_eq!(payment.status, PaymentStatus::Captured);
    assert!(!payment.is_in_progress_for_order(), "nothing refundable, pending or disputed is left");
    assert_eq!(payment.amount_committed_to_order().get(), 10_000, "it still took that money once");
}

#[test]
fn the_tally_sums_the_payments() {
    let payments: Vec<Payment> = PaymentStatus::ALL.iter().map(|s| payment_in(*s)).collect();
    let tally = OrderPayments::tally(&payments);
    assert_eq!(tally.amount_committed.get(), 10_000 * 4 + 6_000);
    assert_eq!((tally.count, tally.in_progress), (7, 5));
    assert_eq!(tally.amount_captured.get(), 4_000 + 6_000 + 10_000);
    assert_eq!(tally.amount_refunded.get(), 1_000 + 10_000);
    assert_eq!(OrderPayments::tally(&[]), OrderPayments::default());
}

/// A step on one order: start a payment, or move one of its payments by an API command.
#[derive(Debug, Clone)]
enum Step {
    Initiate(i64),
    Authorize(usize),
    Capture(usize, Option<i64>, bool),
    Void(usize),
    Fail(usize),
    Refund(usize, i64, bool),
}

fn step(order_amount: i64) -> impl Strategy<Value = Step> {
    let amount = 1..=order_amount;
    prop_oneof![
        3 => amount.clone().prop_map(Step::Initiate),
        3 => any::<usize>().prop_map(Step::Authorize),
        3 => (any::<usize>(), proptest::option::of(amount.clone()), any::<bool>())
            .prop_map(|(p, a, f)| Step::Capture(p, a, f)),
        1 => any::<usize>().prop_map(Step::Void),
        1 => any::<usize>().prop_map(Step::Fail),
        2 => (any::<usize>(), amount, any::<bool>()).prop_map(|(p, a, ok)| Step::Refund(p, a, ok)),
    ]
}

proptest! {
    /// Whatever API commands arrive (refused ones included), the payments of one order never
    /// hold more than its amount, and the money they keep (captured minus refunded) never
    /// exceeds it either.
    #[test]
    fn an_order_never_collects_more_than_its_amount(
        order_amount in 1..=5_000i64,
        steps in proptest::collection::vec(step(5_000), 1..60),
    ) {
        let order = open_order(order_amount);
        let mut payments: Vec<History> = Vec::new();
        let mut refunds = 0u128;
        for step in steps {
            let pick = |i: usize, n: usize| i % n.max(1);
            let outcome = match step {
                Step::Initiate(amount) => {
                    let tally = OrderPayments::tally(payments.iter().map(History::payment).collect::<Vec<_>>().iter());
                    let snapshot = OrderSnapshot { amount_committed: tally.amount_committed, ..order };
                    let mut history = History::new();
                    let initiated = history.record(initiate_on(snapshot, amount));
                    if initiated.is_ok() {
                        payments.push(history);
                    }
                    initiated.map(|_| ())
                }
                _ if payments.is_empty() => Ok(()),
                Step::Authorize(i) => {
                    let n = payments.len();
                    payments[pick(i, n)].record(authorize()).map(|_| ())
                }
                Step::Capture(i, amount, final_capture) => {
                    let n = payments.len();
                    let command = PaymentCommand::Capture { amount_minor: amount.map(minor), final_capture };
                    payments[pick(i, n)].record(command).map(|_| ())
                }
                Step::Void(i) => {
                    let n = payments.len();
                    payments[pick(i, n)].record(PaymentCommand::Void).map(|_| ())
                }
                Step::Fail(i) => {
                    let n = payments.len();
                    let command = PaymentCommand::Fail { code: "declined".into(), message: "declined".into() };
                    payments[pick(i, n)].record(command).map(|_| ())
                }
                Step::Refund(i, amount, succeeds) => {
                    refunds += 1;
                    let n = payments.len();
                    let payment = &mut payments[pick(i, n)];
                    let refund_id = RefundId::from(uuid::Uuid::from_u128(0x9000 + refunds));
                    let requested = payment.record(PaymentCommand::RequestRefund {
                        refund_id,
                        amount_minor: minor(amount),
                        reason: None,
                        provider_reference: None,
                        at: at(5),
                    });
                    requested.and_then(|_| {
                        let settle = if succeeds {
                            PaymentCommand::SucceedRefund { refund_id }
                        } else {
                            PaymentCommand::FailRefund { refund_id, code: None, message: None }
                        };
                        payment.record(settle).map(|_| ())
                    })
                }
            };
            // Refusals are expected (that is the point); they must leave no trace.
            let _ = outcome;
            let all: Vec<Payment> = payments.iter().map(History::payment).collect();
            let tally = OrderPayments::tally(&all);
            prop_assert!(tally.amount_committed.get() <= order_amount, "committed {:?} of {order_amount}", tally);
            let kept = tally.amount_captured.get() - tally.amount_refunded.get();
            prop_assert!(kept <= order_amount, "kept {kept} of {order_amount}");
            // Independent of the tally: what the payments keep or may still capture.
            let exposure: i64 = all
                .iter()
                .map(|p| p.amount_capturable().get() + p.amount_captured.get() - p.amount_refunded.get())
                .sum();
            prop_assert!(exposure <= order_amount, "kept or capturable {exposure} of {order_amount}");
        }
    }
}

#[test]
fn an_order_takes_at_most_the_maximum_of_payments() {
    use payledger_core::order::{OrderPayments, ORDER_PAYMENTS_MAX};
    let full = OrderPayments { count: ORDER_PAYMENTS_MAX, ..OrderPayments::default() };
    let error = full.ensure_room_for_payment().unwrap_err();
    assert_eq!((error.code(), error.kind()), ("order_payment_limit_reached", payledger_core::ErrorKind::RuleViolated));
    let room = OrderPayments { count: ORDER_PAYMENTS_MAX - 1, ..OrderPayments::default() };
    assert_eq!(room.ensure_room_for_payment(), Ok(()));
}
