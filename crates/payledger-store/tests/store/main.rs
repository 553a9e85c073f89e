//! The event store's integration tests, one binary (one link): append, the gap-free reader,
//! idempotency records and the hash chain.
// A test binary: a failed assumption in a helper is the test failing, so helpers may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod append;
mod hash_chain;
mod idempotency;
mod notify;
mod read_all;
mod seals;
