//! The PostgreSQL event store: append, read in gap-free order, subscribe, hash chain,
//! idempotency records and the migrations runner.
//!
//! Every function that writes inside a caller's transaction takes a
//! `&tokio_postgres::Transaction`, so that a command's events, its idempotency record and
//! anything else commit together or not at all.

mod append;
mod cached;
mod error;
pub mod hash;
pub mod idempotency;
mod migrate;
mod notify;
mod pool;
mod read;
pub mod seal;
mod subscribe;
mod types;
mod verify;

pub use append::{
    append, append_batch, append_in_tx, lock_stream, set_lock_timeout, BatchItem, APPEND_MAX_EVENTS, NOTIFY_CHANNEL,
};
pub use cached::{prepare_command_statements, Queries, TypedParam};
pub use error::StoreError;
pub use migrate::{applied_migration_version, latest_migration_version, migrate};
pub use notify::{notify_committed, notify_in_flight};
pub use pool::{connect_pool, PoolOptions};
pub use read::{read_all, read_all_canonical, read_stream, stream_head, CanonicalEvent, ReadAllFilter, READ_MAX_BATCH};
pub use subscribe::{has_events_after, ChangeListener, Subscription};
pub use types::{AppendOutcome, AppendedEvent, Checkpoint, ExpectedVersion, NewEvent, RecordedEvent, StreamKey};
pub use verify::{verify_chains, BrokenLink, ChainReport, LinkFault};

pub use deadpool_postgres::Pool;
