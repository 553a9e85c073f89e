//! payledger benchmarks.
//!
//! Each benchmark measures the ledger and, in the same run and against the same PostgreSQL,
//! a ceiling of that server for the same work, so that the ledger's figures can be read as a
//! fraction of what the database itself can do:
//!
//! - [`store::run`]: event store appends against a single-row INSERT of the same row shape
//!   (with `pgbench` and with the same Rust harness);
//! - [`api::run`]: the whole server under mixed HTTP traffic, fixed-rate webhook ingest, and
//!   an exactly-once and verify check afterwards, against the same INSERT ceiling at the
//!   same concurrency;
//! - [`rebuild::run`]: a projection rebuild of a generated history against
//!   `COPY (SELECT * FROM events) TO STDOUT`;
//! - [`settlement::run`]: a settlement report import, projection and reconciliation against
//!   `COPY` of the same CSV into a plain table;
//! - [`stream::run`]: command latency on streams of 10 to 20,000 events, with the state cache
//!   on and off, against the one-row INSERT latency.

pub mod api;
mod ceiling;
mod cpu;
mod database;
mod dburl;
mod environment;
mod error;
mod memory;
mod pgbench;
pub mod rebuild;
pub mod settlement;
mod stats;
pub mod store;
pub mod stream;

pub use environment::{Environment, LoadAverage, PgSetting};
pub use error::BenchError;
pub use stats::Latency;
