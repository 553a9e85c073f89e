//! Webhook ingestion end to end: the real server, real PostgreSQL, a database per test.

pub(crate) mod support;

mod abuse;
mod concurrency;
mod lanes;
mod nul;
mod ordering;
mod rate_limit;
mod refund_totals;
mod reprocess;
mod rotation;
mod signatures;
