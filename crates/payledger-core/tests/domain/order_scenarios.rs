//! The order aggregate given/when/then: every state (none, open, cancelled) against every
//! command, each cell the state after or the refusal code.

use payledger_core::order::{OrderCommand, OrderStatus};
use payledger_core::testing::*;

/// Expected outcome: `Ok(status after)` or `Err(code)`.
type Expect = Result<OrderStatus, &'static str>;
/// A column of the table: its name and the command.
type Column = (&'static str, fn() -> OrderCommand);

fn history_in(state: Option<OrderStatus>) -> OrderHistory {
    match state {
        None => OrderHistory::new(),
        Some(OrderStatus::Open) => OrderHistory::new().given(create_order(PAYMENT_AMOUNT)),
        Some(OrderStatus::Cancelled) => OrderHistory::new().given(create_order(PAYMENT_AMOUNT)).given(cancel_order(0)),
    }
}

#[test]
fn every_state_against_every_command() {
    let commands: [Column; 3] = [
        ("create", || create_order(PAYMENT_AMOUNT)),
        ("cancel", || cancel_order(0)),
        ("cancel with a payment in progress", || cancel_order(1)),
    ];
    let table: [(Option<OrderStatus>, [Expect; 3]); 3] = [
        (None, [Ok(OrderStatus::Open), Err("order_not_found"), Err("order_not_found")]),
        (
            Some(OrderStatus::Open),
            [Err("order_already_exists"), Ok(OrderStatus::Cancelled), Err("order_has_payments_in_progress")],
        ),
        (Some(OrderStatus::Cancelled), [Err("order_already_exists"), Err("order_not_open"), Err("order_not_open")]),
    ];
    for (state, row) in table {
        for ((name, command), expected) in commands.iter().zip(row) {
            let history = history_in(state);
            let actual = match history.when(command()) {
                Ok(events) => {
                    let mut after = history.clone();
                    after.events.extend(events);
                    Ok(after.order().status)
                }
                Err(e) => Err(e.code()),
            };
            assert_eq!(actual, expected, "{state:?} + {name}");
        }
    }
}

#[test]
fn a_cancelled_order_keeps_its_amount_and_reason() {
    let order = history_in(Some(OrderStatus::Cancelled)).order();
    assert_eq!(order.id, order_id());
    assert_eq!(order.amount_minor.get(), PAYMENT_AMOUNT);
    assert_eq!(order.cancel_reason.as_deref(), Some("customer_request"));
    assert_eq!(order.cancelled_at, Some(at(40)));
}
