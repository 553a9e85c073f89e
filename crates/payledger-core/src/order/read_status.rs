//! The order's status as read-models show it, derived from the order and its payments.

use serde::Serialize;

/// An order's status in the read-models, derived from the order and its payments:
///
/// 1. `refunded`: money was captured and all of it was refunded;
/// 2. `paid`: captured (summed over the order's payments) reaches the order amount, partial
///    refunds included (the amounts say how much came back);
/// 3. `cancelled`: the order was cancelled and neither of the above holds;
/// 4. `open`: otherwise (nothing or only part of the amount captured yet).
///
/// Money facts win over the cancellation: an order cancelled after it was paid stays `paid`
/// until its money is refunded, so finance never sees captured money on a "cancelled" order
/// without also seeing it refunded. Lost disputes do not change the status; `amount_disputed`
/// on the payments says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderReadStatus {
    Open,
    Paid,
    Refunded,
    Cancelled,
}

impl OrderReadStatus {
    pub const ALL: [OrderReadStatus; 4] =
        [OrderReadStatus::Open, OrderReadStatus::Paid, OrderReadStatus::Refunded, OrderReadStatus::Cancelled];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderReadStatus::Open => "open",
            OrderReadStatus::Paid => "paid",
            OrderReadStatus::Refunded => "refunded",
            OrderReadStatus::Cancelled => "cancelled",
        }
    }

    /// The rule documented on the type.
    pub fn derive(
        amount_minor: impl Into<i128>,
        cancelled: bool,
        captured_minor: impl Into<i128>,
        refunded_minor: impl Into<i128>,
    ) -> OrderReadStatus {
        let (amount_minor, captured_minor, refunded_minor) =
            (amount_minor.into(), captured_minor.into(), refunded_minor.into());
        if captured_minor > 0 && refunded_minor >= captured_minor {
            OrderReadStatus::Refunded
        } else if captured_minor > 0 && captured_minor >= amount_minor {
            OrderReadStatus::Paid
        } else if cancelled {
            OrderReadStatus::Cancelled
        } else {
            OrderReadStatus::Open
        }
    }
}
