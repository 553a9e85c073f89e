//! The HTTP API end to end, one binary (one link): the real server on a random port, real
//! PostgreSQL, a database per test.
// A test binary: a failed assumption in a helper is the test failing, so helpers may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod as_of;
mod auth;
mod bad_input;
mod concurrency;
mod export;
mod feed;
mod fuzz_openapi;
mod happy_path;
mod hostile_input;
mod idempotency;
mod ip_allow_lists;
mod keys;
mod money_edges;
mod oauth;
mod openapi;
mod operations;
mod order_payments;
mod parked;
mod pipeline;
mod rate_limits;
mod read_models;
mod reconciliation;
mod response_schema;
mod settlement_entries;
mod settlements;
mod support;
mod test_mode;
mod webhooks;
