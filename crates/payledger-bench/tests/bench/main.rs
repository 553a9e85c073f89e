//! The benchmarks' harness tests, one binary (one link): each benchmark end to end, tiny.
// A test binary: a failed assumption in a helper is the test failing, so helpers may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api_bench;
mod rebuild_bench;
mod settlement_bench;
mod store_bench;
mod stream_bench;
