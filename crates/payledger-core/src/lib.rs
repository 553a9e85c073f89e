//! payledger-core: the pure payment domain.
//!
//! Money, ids, the order and payment aggregates (commands, events, `decide` and
//! `evolve`), the payment transition table, gateway-report reconciliation, the
//! double-entry chart of accounts and the event codec. No I/O, no async, no
//! clock reads except [`ids`]'s `new()`: every rule here is testable without a
//! database.
//!
//! Shape of an aggregate (esrs / cqrs-es style):
//! - `decide(&State, Command) -> Result<Vec<Event>, DomainError>` refuses or
//!   returns the facts the command causes; it never mutates.
//! - `evolve(State, &Event) -> State` applies one fact; it never refuses,
//!   because a stored fact already happened.
//! - `fold(events)` replays a stream from nothing.

pub mod admin;
pub mod aggregate;
pub mod error;
pub mod event;
pub mod ids;
pub mod job;
pub mod ledger;
pub mod money;
pub mod order;
pub mod payment;
pub mod reconciliation;
pub mod settlement;
#[cfg(feature = "testing")]
pub mod testing;
mod text;

pub use error::{DomainError, ErrorKind};
pub use event::{DecodeError, DomainEvent};
pub use ids::{DisputeId, IdError, JobId, OrderId, PaymentId, RefundId, SettlementReportId, StreamRef, TenantId};
pub use ledger::{Account, AccountBalances, JournalTransaction, PostingLine, Side};
pub use money::{AmountMinor, Currency, MinorUnits, Money, MoneyError};
pub use text::{LABEL_MAX_CHARS, LONG_TEXT_MAX_CHARS, SHORT_TEXT_MAX_CHARS};
