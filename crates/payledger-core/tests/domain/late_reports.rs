//! Gateway facts that arrive after the payment moved on: a capture after capture closed, and
//! a refund that fails after a running total counted it. Given events, when a report, then
//! events.

use payledger_core::ledger::{postings_for, Account, JournalKind, Side};
use payledger_core::payment::{GatewayReport, PaymentCommand, PaymentEvent, PaymentStatus, RefundStatus, ReportKind};
use payledger_core::testing::*;
use payledger_core::{Currency, MinorUnits};

fn units(n: i64) -> MinorUnits {
    MinorUnits::new(n).unwrap()
}

fn captured(amount: i64, cumulative: bool) -> ReportKind {
    ReportKind::Captured { amount_minor: minor(amount), cumulative }
}

fn usd(history: &History, account: Account) -> i128 {
    history.balances().balance(account, Currency::USD)
}

fn ignored_reason(events: &[PaymentEvent]) -> &str {
    match events {
        [PaymentEvent::WebhookIgnored { reason, .. }] => reason,
        other => panic!("expected one WebhookIgnored, got {other:?}"),
    }
}

/// The ledger says what the payment says, and balances.
fn assert_ties_out(history: &History) {
    let p = history.payment();
    assert_eq!(p.check_invariants(), Ok(()));
    for transaction in history.events.iter().filter_map(postings_for) {
        assert!(transaction.is_balanced(), "{transaction:?}");
    }
    assert!(history.balances().trial_balance_is_zero());
    let i = |units: MinorUnits| i128::from(units.get());
    assert_eq!(usd(history, Account::SalesRevenue), i(p.amount_captured));
    assert_eq!(usd(history, Account::Refunds), i(p.amount_refunded));
    assert_eq!(
        usd(history, Account::GatewayReceivable),
        i(p.amount_captured) - i(p.amount_refunded) - i(p.amount_disputed)
    );
    assert_eq!(payledger_core::payment::fold(&history.events), Some(p));
}

fn gateway_capture(amount: i64, key: &str) -> PaymentEvent {
    PaymentEvent::PaymentCaptured {
        amount_minor: minor(amount),
        currency: Currency::USD,
        final_capture: false,
        confirmed_by_gateway: true,
        report_key: Some(key.into()),
    }
}

fn confirmed(amount: i64, key: &str) -> PaymentEvent {
    PaymentEvent::PaymentCaptureConfirmed {
        amount_minor: minor(amount),
        currency: Currency::USD,
        report_key: key.into(),
    }
}

/// 4 000 of 10 000 captured through the API (and confirmed by the gateway, so a later
/// capture report is new money), then the rest of the authorization voided.
fn voided_remainder() -> History {
    voided_remainder_confirmed(true)
}

fn voided_remainder_confirmed(confirmed: bool) -> History {
    let mut history = manual().given(authorize()).given(capture(Some(4_000)));
    if confirmed {
        history = history.given(report("evt_cap_1", captured(4_000, false)));
    }
    let history = history.given(PaymentCommand::Void);
    assert!(matches!(history.events.last(), Some(PaymentEvent::PaymentAuthorizationReleased { .. })));
    assert_eq!(history.status(), PaymentStatus::Captured);
    history
}

#[test]
fn a_gateway_capture_after_a_void_of_the_remainder_is_recorded() {
    // Given capture closed by a void of the remainder.
    let mut history = voided_remainder();
    // When the gateway reports 3 000 more captured (a capture it did before the void).
    let events = history.record(report("evt_cap_2", captured(3_000, false))).unwrap();
    // Then it is captured money, posted as every capture; capture stays closed.
    assert_eq!(events, [gateway_capture(3_000, "evt_cap_2")]);
    let p = history.payment();
    assert_eq!((p.status, p.amount_captured, p.amount_capturable()), (PaymentStatus::Captured, units(7_000), units(0)));
    assert_eq!(p.amount_refundable(), units(7_000));
    assert_eq!(usd(&history, Account::SalesRevenue), 7_000);
    assert_ties_out(&history);
    // A client's capture after close stays refused.
    assert_eq!(history.when(capture(Some(1_000))).unwrap_err().code(), "payment_not_capturable");
    // The same report again is a duplicate.
    assert!(
        ignored_reason(&history.when(report("evt_cap_2", captured(3_000, false))).unwrap()).starts_with("duplicate:")
    );
}

#[test]
fn a_cumulative_gateway_capture_after_close_confirms_then_records_the_rest() {
    // Given capture closed by a void of the remainder, and by a final capture.
    let final_capture = manual()
        .given(authorize())
        .given(PaymentCommand::Capture { amount_minor: Some(minor(4_000)), final_capture: true });
    for mut history in [voided_remainder_confirmed(false), final_capture] {
        // When the gateway reports 10 000 captured in total.
        let events = history.record(report("evt_pi", captured(10_000, true))).unwrap();
        // Then the 4 000 commanded is confirmed and the 6 000 more is recorded.
        assert_eq!(events, [confirmed(4_000, "evt_pi"), gateway_capture(6_000, "evt_pi")]);
        let p = history.payment();
        assert_eq!(
            (p.status, p.amount_captured, p.amount_capture_unconfirmed),
            (PaymentStatus::Captured, units(10_000), units(0))
        );
        assert_ties_out(&history);
        // A lower total later is stale.
        let late = history.when(report("evt_pi_old", captured(7_000, true))).unwrap();
        assert!(ignored_reason(&late).starts_with("stale_capture:"), "{late:?}");
    }
}

#[test]
fn a_gateway_capture_after_close_never_exceeds_the_payment_amount() {
    let history = voided_remainder();
    let over = history.when(report("evt_big", captured(6_001, false))).unwrap();
    assert!(ignored_reason(&over).starts_with("amount_exceeds_capturable:"), "{over:?}");
    let over = history.when(report("evt_big", captured(10_001, true))).unwrap();
    assert!(ignored_reason(&over).starts_with("exceeds_payment_amount:"), "{over:?}");
    // Exactly up to the payment amount fits.
    let history = history.given(report("evt_all", captured(6_000, false)));
    assert_eq!(history.payment().amount_captured, units(10_000));
    assert_ties_out(&history);
}

#[test]
fn a_gateway_capture_beyond_a_smaller_authorization_extends_it() {
    // Given 5 000 of 10 000 authorized and all of it captured: capture closed.
    let history = manual().given(PaymentCommand::Authorize { amount_minor: Some(minor(5_000)) }).given(capture(None));
    assert_eq!(history.status(), PaymentStatus::Captured);
    // When the gateway reports 8 000 captured in total (an incremental authorization).
    let mut history = history;
    let events = history.record(report("evt_pi", captured(8_000, true))).unwrap();
    // Then the authorization is assumed to be the payment amount, and 3 000 more captured.
    let extended = PaymentEvent::PaymentAuthorized {
        amount_minor: minor(10_000),
        currency: Currency::USD,
        inferred: true,
        report_key: Some("evt_pi".into()),
    };
    assert_eq!(events, [confirmed(5_000, "evt_pi"), extended, gateway_capture(3_000, "evt_pi")]);
    let p = history.payment();
    assert_eq!((p.status, p.amount_captured, p.amount_capturable()), (PaymentStatus::Captured, units(8_000), units(0)));
    assert_ties_out(&history);
}

#[test]
fn a_gateway_capture_after_a_full_refund_reopens_the_money_not_the_capture() {
    // Given capture closed and all 4 000 captured refunded.
    let history = voided_remainder()
        .given(request_refund(1, 4_000))
        .given(PaymentCommand::SucceedRefund { refund_id: refund_id(1) });
    assert_eq!(history.status(), PaymentStatus::Refunded);
    // When the gateway reports 2 000 more captured.
    let history = history.given(report("evt_cap_2", captured(2_000, false)));
    // Then the payment holds 2 000 that is not refunded.
    let p = history.payment();
    assert_eq!((p.status, p.amount_captured, p.amount_refunded), (PaymentStatus::Captured, units(6_000), units(4_000)));
    assert_eq!(p.amount_refundable(), units(2_000));
    assert_ties_out(&history);
}

#[test]
fn a_gateway_cancel_and_a_gateway_capture_after_a_partial_capture_converge_in_either_order() {
    let start =
        manual().given(authorize()).given(capture(Some(4_000))).given(report("evt_cap_1", captured(4_000, false)));
    let reports = [report("evt_cancel", ReportKind::Canceled), report("evt_cap", captured(3_000, false))];
    let mut outcomes = Vec::new();
    for order in [[0, 1], [1, 0]] {
        let mut history = start.clone();
        for i in order {
            history.record(reports[i].clone()).unwrap();
        }
        assert_ties_out(&history);
        let p = history.payment();
        outcomes.push((p.status, p.amount_captured, p.capture_final));
    }
    assert_eq!(outcomes, [(PaymentStatus::Captured, units(7_000), true); 2]);
}

#[test]
fn a_gateway_capture_after_a_void_of_an_uncaptured_payment_stays_ignored() {
    // Voided before any capture is terminal (its order may be cancelled): not reopened.
    let history = manual().given(authorize()).given(PaymentCommand::Void);
    let events = history.when(report("evt_cap", captured(3_000, false))).unwrap();
    assert!(ignored_reason(&events).starts_with("payment_not_capturable:"), "{events:?}");
}

// Refunds that a running total counted and that then fail.

fn report_at(key: &str, kind: ReportKind, second: u32) -> PaymentCommand {
    PaymentCommand::ApplyGatewayReport(GatewayReport::new(key, kind, at(second)))
}

fn total_at(key: &str, total: i64, second: u32) -> PaymentCommand {
    let kind = ReportKind::RefundedInTotal { charge_reference: "ch_1".into(), total_refunded_minor: minor(total) };
    report_at(key, kind, second)
}

fn failed_at(key: &str, reference: &str, second: u32) -> PaymentCommand {
    report_at(key, ReportKind::RefundFailed { provider_refund_reference: reference.into() }, second)
}

fn refunded_at(key: &str, reference: &str, amount: i64, second: u32) -> PaymentCommand {
    let kind = ReportKind::Refunded { provider_refund_reference: reference.into(), amount_minor: minor(amount) };
    report_at(key, kind, second)
}

/// Captured 10 000; an API refund R1 of 3 000, given the gateway's reference `re_1`, pending.
fn pending_refund() -> History {
    manual().given(authorize()).given(capture(None)).given(PaymentCommand::RequestRefund {
        refund_id: refund_id(1),
        amount_minor: minor(3_000),
        reason: None,
        provider_reference: Some("re_1".into()),
        at: at(1),
    })
}

fn reversed(amount: i64, from_total: bool, key: &str, second: u32) -> PaymentEvent {
    PaymentEvent::RefundReversed {
        refund_id: refund_id(1),
        amount_minor: minor(amount),
        from_total,
        currency: Currency::USD,
        provider_reference: Some("re_1".into()),
        failed_at: at(second),
        report_key: key.into(),
    }
}

fn assert_r1_failed_and_nothing_refunded(history: &History) {
    let p = history.payment();
    assert_eq!(p.refund(refund_id(1)).map(|r| r.status), Some(RefundStatus::Failed));
    assert_eq!((p.amount_refunded, p.amount_refund_pending), (units(0), units(0)));
    assert_eq!((p.amount_refunded_unattributed, p.status), (units(0), PaymentStatus::Captured));
    assert_eq!(usd(history, Account::Refunds), 0);
    assert_eq!(usd(history, Account::GatewayReceivable), 10_000);
    assert_ties_out(history);
}

#[test]
fn a_refund_a_total_settled_that_then_fails_gives_the_money_back() {
    // Given the total settled R1 while it was pending at the gateway.
    let mut history = pending_refund().given(total_at("evt_total", 3_000, 10));
    assert_eq!(history.payment().amount_refunded, units(3_000));
    // When the gateway reports R1 failed.
    let events = history.record(failed_at("evt_failed", "re_1", 20)).unwrap();
    // Then it is reversed: DR gateway_receivable / CR refunds 3 000.
    assert_eq!(events, [reversed(3_000, false, "evt_failed", 20)]);
    let posted = postings_for(&events[0]).unwrap();
    assert_eq!(posted.kind, JournalKind::RefundReversed);
    let lines: Vec<_> = posted.lines.iter().map(|l| (l.account, l.side, l.amount_minor.get())).collect();
    assert_eq!(lines, [(Account::GatewayReceivable, Side::Debit, 3_000), (Account::Refunds, Side::Credit, 3_000)]);
    assert_r1_failed_and_nothing_refunded(&history);
}

#[test]
fn a_refund_a_total_counted_as_unattributed_that_then_fails_gives_the_money_back() {
    // Given the total arrived before the client recorded R1: counted as unattributed.
    let history = manual().given(authorize()).given(capture(None)).given(total_at("evt_total", 3_000, 10));
    let mut history = history.given(PaymentCommand::RequestRefund {
        refund_id: refund_id(1),
        amount_minor: minor(3_000),
        reason: None,
        provider_reference: Some("re_1".into()),
        at: at(11),
    });
    assert_eq!(history.payment().amount_refunded_unattributed, units(3_000));
    // When the gateway reports R1 failed.
    let events = history.record(failed_at("evt_failed", "re_1", 20)).unwrap();
    // Then R1 fails and the unattributed money it was goes back.
    let types: Vec<_> = events.iter().map(|e| e.event_type()).collect();
    assert_eq!(types, ["RefundFailed", "RefundReversed"]);
    assert_eq!(events[1], reversed(3_000, true, "evt_failed", 20));
    assert_r1_failed_and_nothing_refunded(&history);
}

#[test]
fn a_refund_that_claimed_a_total_and_then_fails_gives_the_money_back() {
    // Given the total first (unattributed), then R1's own success claims it.
    let history = pending_refund().given(report_at(
        "evt_re",
        ReportKind::Refunded { provider_refund_reference: "re_x".into(), amount_minor: minor(1) },
        2,
    ));
    // (An unrelated 1-unit gateway refund, so R1 is matched by its reference, not by amount.)
    let mut history = history.given(total_at("evt_total", 3_001, 10)).given(refunded_at("evt_ok", "re_1", 3_000, 11));
    assert_eq!(history.payment().amount_refunded, units(3_001));
    let events = history.record(failed_at("evt_failed", "re_1", 20)).unwrap();
    assert_eq!(events, [reversed(3_000, false, "evt_failed", 20)]);
    let p = history.payment();
    assert_eq!((p.amount_refunded, p.amount_refunded_unattributed), (units(1), units(0)));
    assert_ties_out(&history);
}

#[test]
fn a_failure_before_the_total_that_counted_the_refund_keeps_it_uncounted() {
    // Given R1 reported failed (at 20) before the total taken while it was pending (at 10).
    let history = pending_refund().given(failed_at("evt_failed", "re_1", 20));
    assert!(
        matches!(history.events.last(), Some(PaymentEvent::RefundFailed { failed_at: Some(t), .. }) if *t == at(20))
    );
    // When the older total arrives.
    let mut history = history;
    let events = history.record(total_at("evt_total", 3_000, 10)).unwrap();
    // Then it is stale: the money it counted is the failed refund's.
    assert!(ignored_reason(&events).starts_with("stale_refund:"), "{events:?}");
    assert_r1_failed_and_nothing_refunded(&history);
}

#[test]
fn the_same_refund_failed_twice_gives_the_money_back_once() {
    let mut history =
        pending_refund().given(total_at("evt_total", 3_000, 10)).given(failed_at("evt_failed", "re_1", 20));
    let again = history.record(failed_at("evt_failed", "re_1", 20)).unwrap();
    assert!(ignored_reason(&again).starts_with("duplicate:"), "{again:?}");
    let other_key = history.record(failed_at("evt_failed_2", "re_1", 21)).unwrap();
    assert!(ignored_reason(&other_key).starts_with("refund_not_pending:"), "{other_key:?}");
    // Its own success delivered late changes nothing either: failed is final.
    let late = history.record(refunded_at("evt_ok", "re_1", 3_000, 15)).unwrap();
    assert!(ignored_reason(&late).starts_with("refund_not_pending:"), "{late:?}");
    assert_r1_failed_and_nothing_refunded(&history);
}

#[test]
fn a_later_total_after_the_failure_counts_only_the_new_refund() {
    // Given R1 settled by a total and then reversed.
    let history = pending_refund().given(total_at("evt_t1", 3_000, 10)).given(failed_at("evt_failed", "re_1", 20));
    // When a later total (at 30) says 2 000: a new refund, the failed one no longer counted.
    let mut history = history;
    let events = history.record(total_at("evt_t2", 2_000, 30)).unwrap();
    assert!(
        matches!(events.as_slice(), [PaymentEvent::RefundTotalReported { amount_minor, .. }] if amount_minor.get() == 2_000)
    );
    assert_eq!(history.payment().amount_refunded, units(2_000));
    // And the new refund's own report claims it.
    history.record(refunded_at("evt_re_2", "re_2", 2_000, 31)).unwrap();
    let p = history.payment();
    assert_eq!((p.amount_refunded, p.amount_refunded_unattributed), (units(2_000), units(0)));
    assert_eq!(usd(&history, Account::Refunds), 2_000);
    assert_ties_out(&history);
}

/// A second refund re_2 of 2 000 made at 12 while R1 was pending; totals at 10 (3 000) and
/// 15 (5 000); R1 fails at 20. Every one of the 24 orders ends with 2 000 refunded (re_2),
/// R1 failed, and nothing unattributed.
#[test]
fn totals_a_failure_and_another_refund_converge_in_every_order() {
    let reports = [
        total_at("evt_t1", 3_000, 10),
        total_at("evt_t2", 5_000, 15),
        failed_at("evt_failed", "re_1", 20),
        refunded_at("evt_re_2", "re_2", 2_000, 12),
    ];
    for order in permutations(reports.len()) {
        for duplicate in [false, true] {
            let mut history = pending_refund();
            for &i in &order {
                history.record(reports[i].clone()).unwrap();
                if duplicate {
                    history.record(reports[i].clone()).unwrap();
                }
            }
            let p = history.payment();
            let case = format!("order={order:?} duplicate={duplicate}: {:?}", p.refunds);
            assert_eq!(p.amount_refunded, units(2_000), "{case}");
            assert_eq!(p.amount_refunded_unattributed, units(0), "{case}");
            assert_eq!(p.refund(refund_id(1)).map(|r| r.status), Some(RefundStatus::Failed), "{case}");
            assert_eq!(usd(&history, Account::Refunds), 2_000, "{case}");
            assert_ties_out(&history);
        }
    }
}

/// A refund requested through the API without a reference, settled by a total: the failure
/// names a reference no refund has; it is that refund when it is the only one a total
/// settled and no refund without a reference is pending. Otherwise ambiguous: ignored.
#[test]
fn a_failure_with_an_unknown_reference_reverses_the_only_refund_a_total_settled() {
    let settled = manual().given(authorize()).given(capture(None)).given(request_refund(1, 3_000));
    let mut history = settled.clone().given(total_at("evt_total", 3_000, 10));
    let events = history.record(failed_at("evt_failed", "re_1", 20)).unwrap();
    assert_eq!(events, [reversed(3_000, false, "evt_failed", 20)]);
    assert_r1_failed_and_nothing_refunded(&history);

    // Another unreferenced refund still pending: which one failed is unknown.
    let ambiguous = settled.given(request_refund(2, 1_000)).given(total_at("evt_total", 3_000, 10));
    let events = ambiguous.when(failed_at("evt_failed", "re_1", 20)).unwrap();
    assert!(ignored_reason(&events).starts_with("unknown_refund:"), "{events:?}");
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
