//! payledger benchmarks.
//!
//! [`store::run`] measures the event store's append throughput and latency and, in the same
//! run and against the same PostgreSQL, the ceiling of that server for a single-row INSERT of
//! the same row shape (with `pgbench` and with the same Rust harness), so that the ledger's
//! figures can be read as a fraction of what the database itself can do.

mod dburl;
mod environment;
mod error;
mod pgbench;
mod stats;
pub mod store;

pub use environment::{Environment, LoadAverage, PgSetting};
pub use error::BenchError;
pub use stats::Latency;
