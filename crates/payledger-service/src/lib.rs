//! The application layer of payledger: what the ledger does, without HTTP. The API, the
//! CLI, the background workers and the benchmark all call it.
//!
//! - [`command`]: the command pipeline (idempotency, lock, load, decide, append, record);
//! - [`lookup`]: every index query over `events`;
//! - [`order_payments`]: an order's payments, folded;
//! - [`aggregate`]: the two aggregates behind one interface.

pub mod admin_log;
pub mod aggregate;
pub mod command;
pub mod error;
pub mod export;
pub mod jobs;
pub mod key_admin;
pub mod key_usage;
pub mod lookup;
pub mod oauth;
pub mod order_payments;
pub mod reconciliation;
pub mod retry;
pub mod runtime;
pub mod sealer;
pub mod secrets;
pub mod settlement;
pub mod tenants;
pub mod webhooks;

pub use error::{ServiceError, ServiceResult};
