//! Every row of the payment transition table, allowed and refused: given a
//! payment in each status, when each kind of command, then the expected
//! status or refusal code. The literal table below is the specification.

use payledger_core::payment::{self, transition, CommandKind, DisputeOutcome, Next, PaymentCommand, PaymentStatus};
use payledger_core::testing::*;
use payledger_core::{Currency, PaymentId};

/// Expected outcome: `Ok(status after)` or `Err(code)`.
type Expect = Result<PaymentStatus, &'static str>;

/// One command of each kind, aimed at the fixtures of `history_in`. `None`
/// for a kind only gateway reports use, whose row is checked on the table
/// itself (a report first infers what it can, so it does not exercise one
/// row alone; `gateway_reports.rs` covers its behaviour).
fn command(kind: CommandKind) -> Option<PaymentCommand> {
    let command = match kind {
        CommandKind::Initiate => initiate(payment::CaptureMethod::Manual),
        CommandKind::Authorize => authorize(),
        CommandKind::Capture => capture(None),
        CommandKind::Void => PaymentCommand::Void,
        CommandKind::Fail => PaymentCommand::Fail { code: "card_declined".into(), message: "declined".into() },
        CommandKind::RequestRefund => request_refund(2, 500),
        CommandKind::SucceedRefund => PaymentCommand::SucceedRefund { refund_id: refund_id(1) },
        CommandKind::FailRefund => PaymentCommand::FailRefund { refund_id: refund_id(1), code: None, message: None },
        CommandKind::OpenDispute => open_dispute(2, 500),
        CommandKind::ResolveDispute => resolve(1, DisputeOutcome::Won),
        CommandKind::RecordDispute
        | CommandKind::RecordRefund
        | CommandKind::RecordCapture
        | CommandKind::ReverseRefund => return None,
    };
    Some(command)
}

fn expected(status: PaymentStatus) -> [Expect; 14] {
    use PaymentStatus::*;
    const EXISTS: Expect = Err("payment_already_exists");
    const NOT_AUTH: Expect = Err("payment_not_authorizable");
    const NOT_CAPT: Expect = Err("payment_not_capturable");
    const NOT_VOID: Expect = Err("payment_not_voidable");
    const NOT_FAIL: Expect = Err("payment_not_failable");
    const NOT_REFD: Expect = Err("payment_not_refundable");
    const NOT_DISP: Expect = Err("payment_not_disputable");
    const NO_REFUND: Expect = Err("refund_not_found");
    const NO_DISPUTE: Expect = Err("dispute_not_found");
    // Columns: Initiate, Authorize, Capture, Void, Fail,
    //          RequestRefund, SucceedRefund, FailRefund, OpenDispute, ResolveDispute,
    //          RecordDispute (a chargeback reported by the gateway),
    //          RecordRefund (a gateway refund after a running total counted its money),
    //          RecordCapture (money the gateway captured: also after capture closed),
    //          ReverseRefund (a succeeded refund the gateway reports failed; the table allows
    //          it in every status, the refund's own status decides)
    #[rustfmt::skip]
    let row = match status {
        Initiated => [EXISTS, Ok(Authorized), NOT_CAPT, Ok(Voided), Ok(Failed),
                      NOT_REFD, NO_REFUND, NO_REFUND, NOT_DISP, NO_DISPUTE,
                      NOT_DISP, NOT_REFD, NOT_CAPT, Ok(Initiated)],
        Authorized => [EXISTS, NOT_AUTH, Ok(Captured), Ok(Voided), NOT_FAIL,
                       NOT_REFD, NO_REFUND, NO_REFUND, NOT_DISP, NO_DISPUTE,
                       NOT_DISP, NOT_REFD, Ok(Captured), Ok(Authorized)],
        // Void after a partial capture releases the uncaptured rest: capture closes.
        PartiallyCaptured => [EXISTS, NOT_AUTH, Ok(Captured), Ok(Captured), NOT_FAIL,
                              Ok(PartiallyCaptured), Ok(PartiallyCaptured), Ok(PartiallyCaptured),
                              Ok(PartiallyCaptured), Ok(PartiallyCaptured),
                              Ok(PartiallyCaptured), Ok(PartiallyCaptured),
                              Ok(PartiallyCaptured), Ok(PartiallyCaptured)],
        // A client's capture after close is refused; the gateway's capture is recorded.
        Captured => [EXISTS, NOT_AUTH, NOT_CAPT, NOT_VOID, NOT_FAIL,
                     Ok(Captured), Ok(Captured), Ok(Captured), Ok(Captured), Ok(Captured),
                     Ok(Captured), Ok(Captured), Ok(Captured), Ok(Captured)],
        Refunded => [EXISTS, NOT_AUTH, NOT_CAPT, NOT_VOID, NOT_FAIL,
                     NOT_REFD, Err("refund_not_pending"), Err("refund_not_pending"), NOT_DISP,
                     Err("dispute_not_open"),
                     Ok(Refunded), Ok(Refunded), Ok(Refunded), Ok(Refunded)],
        Voided => [EXISTS, NOT_AUTH, NOT_CAPT, NOT_VOID, NOT_FAIL,
                   NOT_REFD, NO_REFUND, NO_REFUND, NOT_DISP, NO_DISPUTE,
                   NOT_DISP, NOT_REFD, NOT_CAPT, Ok(Voided)],
        Failed => [EXISTS, Ok(Authorized), NOT_CAPT, Ok(Voided), NOT_FAIL,
                   NOT_REFD, NO_REFUND, NO_REFUND, NOT_DISP, NO_DISPUTE,
                   NOT_DISP, NOT_REFD, NOT_CAPT, Ok(Failed)],
    };
    row
}

#[test]
fn every_status_and_command_pair_behaves_as_specified() {
    let mut rows = 0;
    for status in PaymentStatus::ALL {
        let given = history_in(status);
        assert_eq!(given.status(), status, "fixture for {status:?}");
        for (kind, expect) in CommandKind::ALL.into_iter().zip(expected(status)) {
            rows += 1;
            let table = transition(Some(status), kind);
            let Some(command) = command(kind) else {
                match (&expect, &table) {
                    (Ok(landed), Ok(Next::Status(s))) => assert_eq!(s, landed, "{status:?} + {kind:?}"),
                    (Ok(_), Ok(Next::FromAmounts)) => {}
                    (Err(code), Err(error)) => assert_eq!(error.code(), *code, "{status:?} + {kind:?}"),
                    (expect, table) => panic!("{status:?} + {kind:?}: expected {expect:?}, table says {table:?}"),
                }
                continue;
            };
            let outcome = given.when(command);
            match (&expect, &outcome) {
                (Ok(landed), Ok(events)) => {
                    assert!(!events.is_empty(), "{status:?} + {kind:?} emitted nothing");
                    let mut after = given.clone();
                    after.events.extend(events.clone());
                    assert_eq!(after.status(), *landed, "{status:?} + {kind:?}");
                    match table {
                        Ok(Next::Status(s)) => assert_eq!(s, *landed, "table for {status:?} + {kind:?}"),
                        Ok(Next::FromAmounts) => {}
                        Err(e) => panic!("table refuses {status:?} + {kind:?} with {e} but decide allowed it"),
                    }
                }
                (Err(code), Err(error)) => {
                    assert_eq!(error.code(), *code, "{status:?} + {kind:?}: {error}");
                    // A status refusal comes from the table itself; lookup
                    // refusals (not found / not pending / not open) come after it.
                    if let Err(table_error) = &table {
                        assert_eq!(table_error, error, "{status:?} + {kind:?}");
                    }
                }
                (expect, outcome) => panic!("{status:?} + {kind:?}: expected {expect:?}, got {outcome:?}"),
            }
        }
    }
    assert_eq!(rows, 98);
}

#[test]
fn a_missing_payment_can_only_be_initiated() {
    let nothing = History::new();
    for kind in CommandKind::ALL {
        let outcome = command(kind).map(|command| nothing.when(command));
        match kind {
            CommandKind::Initiate => {
                assert_eq!(transition(None, kind), Ok(Next::Status(PaymentStatus::Initiated)));
                let after = History { events: outcome.unwrap().unwrap() };
                assert_eq!(after.status(), PaymentStatus::Initiated);
            }
            CommandKind::Authorize
            | CommandKind::Capture
            | CommandKind::Void
            | CommandKind::Fail
            | CommandKind::RequestRefund
            | CommandKind::SucceedRefund
            | CommandKind::FailRefund
            | CommandKind::OpenDispute
            | CommandKind::ResolveDispute => {
                assert_eq!(outcome.unwrap().unwrap_err().code(), "payment_not_found", "{kind:?}");
                assert_eq!(transition(None, kind).unwrap_err().code(), "payment_not_found");
            }
            CommandKind::RecordDispute
            | CommandKind::RecordRefund
            | CommandKind::RecordCapture
            | CommandKind::ReverseRefund => {
                assert!(outcome.is_none());
                assert_eq!(transition(None, kind).unwrap_err().code(), "payment_not_found");
            }
        }
    }
    let report = report("evt_1", payment::ReportKind::Canceled);
    assert_eq!(nothing.when(report).unwrap_err().code(), "payment_not_found");
}

#[test]
fn table_refusals_name_the_status() {
    let error = transition(Some(PaymentStatus::Voided), CommandKind::Capture).unwrap_err();
    assert_eq!(error.code(), "payment_not_capturable");
    assert_eq!(error.to_string(), "a payment in status voided cannot be captured");
    assert_eq!(error.param(), None);
}

#[test]
fn status_names_are_the_api_names() {
    let names: Vec<_> = PaymentStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(names, ["initiated", "authorized", "partially_captured", "captured", "refunded", "voided", "failed"]);
    for status in PaymentStatus::ALL {
        assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
    }
}

#[test]
fn initiate_checks_the_order() {
    let nothing = History::new();
    let with = |order, amount, currency| PaymentCommand::Initiate {
        payment_id: PaymentId::new(),
        order,
        amount_minor: minor(amount),
        currency,
        capture_method: payment::CaptureMethod::Manual,
        provider: payment::Provider::Adyen,
        provider_reference: None,
        at: at(0),
    };
    let order = open_order(5_000);
    let code = |command| nothing.when(command).unwrap_err().code();
    assert_eq!(code(with(order, 5_001, Currency::USD)), "amount_exceeds_order");
    assert_eq!(code(with(order, 5_000, Currency::EUR)), "currency_mismatch");
    let cancelled =
        payledger_core::order::OrderSnapshot { status: payledger_core::order::OrderStatus::Cancelled, ..order };
    assert_eq!(code(with(cancelled, 100, Currency::USD)), "order_not_open");
    assert!(nothing.when(with(order, 5_000, Currency::USD)).is_ok());
    let error = nothing.when(with(order, 5_000, Currency::EUR)).unwrap_err();
    assert_eq!(error.param(), Some("currency"));
}
