use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::OrderId;
use crate::money::{AmountMinor, Currency, MinorUnits};

/// `None` until `OrderCreated`.
pub type OrderState = Option<Order>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Open,
    Cancelled,
}

impl OrderStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Open => "open",
            OrderStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: OrderId,
    pub amount_minor: AmountMinor,
    pub currency: Currency,
    pub reference: String,
    pub metadata: serde_json::Value,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
}

impl Order {
    /// What a payment needs to know about its order to be initiated. `amount_committed` is
    /// what the order's other payments hold of its amount ([`Payment::amount_committed_to_order`]).
    ///
    /// [`Payment::amount_committed_to_order`]: crate::payment::Payment::amount_committed_to_order
    pub fn snapshot(&self, amount_committed: MinorUnits) -> OrderSnapshot {
        OrderSnapshot {
            order_id: self.id,
            status: self.status,
            amount_minor: self.amount_minor,
            amount_committed,
            currency: self.currency,
        }
    }
}

/// The order as seen by a payment being initiated. The caller loads it from
/// the order's stream (or a read-model) and passes it in, keeping `decide` pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSnapshot {
    pub order_id: OrderId,
    pub status: OrderStatus,
    pub amount_minor: AmountMinor,
    /// Held by the order's other payments; a new payment may take at most the rest.
    pub amount_committed: MinorUnits,
    pub currency: Currency,
}
