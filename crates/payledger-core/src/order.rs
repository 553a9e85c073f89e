//! The order aggregate: what a merchant sells, for how much. Its own status is
//! only open or cancelled; "paid" and "refunded" are derived by read-models
//! from the order's payments, which live in their own streams. A payment may take
//! only what the order's other payments leave of its amount, and an order with a
//! payment in progress is not cancelled ([`OrderPayments`]).

mod command;
mod decide;
mod event;
mod payments;
mod read_status;
mod state;

pub use command::OrderCommand;
pub use decide::{decide, evolve, fold};
pub use event::OrderEvent;
pub use payments::{OrderPayments, ORDER_PAYMENTS_MAX};
pub use read_status::OrderReadStatus;
pub use state::{Order, OrderSnapshot, OrderState, OrderStatus};
