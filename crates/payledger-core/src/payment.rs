//! The payment aggregate: one payment with its refunds and disputes, in one
//! stream, so that "refunds never exceed what was captured" is guarded by one
//! stream version.
//!
//! - [`transition`] is the state machine: one declared table.
//! - [`decide`] turns commands (API calls and gateway reports) into events.
//! - [`evolve`] / [`fold`] apply events.
//! - Gateway reports ([`GatewayReport`]) are reconciled: idempotent and
//!   order-tolerant (the rules are on [`GatewayReport`]). Reports are facts,
//!   commands are requests: a capture the gateway reports after capture closed
//!   is recorded (the payment stays `captured`, nothing capturable), a client's
//!   is refused; a refund the gateway reports failed after it succeeded (or after
//!   a running total counted it) is reversed, its money back.

mod command;
mod decide;
mod event;
mod evolve;
mod gateway_report;
mod reconcile;
mod state;
mod status;
mod steps;
mod table;

pub use command::{CommandKind, PaymentCommand};
pub use decide::decide;
pub use event::PaymentEvent;
pub use evolve::{evolve, fold};
pub use gateway_report::{GatewayReport, ReportKind};
pub use state::{Dispute, Payment, PaymentState, Refund};
pub use status::{
    CaptureMethod, DisputeOutcome, DisputeStatus, PaymentStatus, Provider, RefundStatus, UnknownProvider,
};
pub use table::{transition, Next};

pub use crate::order::OrderSnapshot;
