//! The order aggregate: what a merchant sells, for how much. Its own status is
//! only open or cancelled; "paid" and "refunded" are derived by read-models
//! from the order's payments, which live in their own streams.

mod command;
mod decide;
mod event;
mod state;

pub use command::OrderCommand;
pub use decide::{decide, evolve, fold};
pub use event::OrderEvent;
pub use state::{Order, OrderSnapshot, OrderState, OrderStatus};
