use chrono::{DateTime, Utc};

use crate::ids::OrderId;
use crate::money::{AmountMinor, Currency};

#[derive(Debug, Clone, PartialEq)]
pub enum OrderCommand {
    Create {
        order_id: OrderId,
        amount_minor: AmountMinor,
        currency: Currency,
        /// The merchant's own reference, e.g. "ORD-7890".
        reference: String,
        /// Free JSON object, stored as given.
        metadata: serde_json::Value,
        at: DateTime<Utc>,
    },
    Cancel {
        at: DateTime<Utc>,
        reason: Option<String>,
        /// How many of the order's payments may still take or keep money
        /// ([`Payment::is_in_progress_for_order`]); the caller counts them.
        ///
        /// [`Payment::is_in_progress_for_order`]: crate::payment::Payment::is_in_progress_for_order
        payments_in_progress: usize,
    },
}
