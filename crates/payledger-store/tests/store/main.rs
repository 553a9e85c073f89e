//! The event store's integration tests, one binary (one link): append, the gap-free reader,
//! idempotency records and the hash chain.

mod append;
mod hash_chain;
mod idempotency;
mod read_all;
