//! The benchmarks' harness tests, one binary (one link): each benchmark end to end, tiny.

mod api_bench;
mod rebuild_bench;
mod store_bench;
