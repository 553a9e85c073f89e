//! payledger-projector: the read-models (`orders`, `payments`, `refunds`, `disputes`,
//! `settlement_reports`, `settlement_lines`, `journal_entries`, `account_balances`), the projector that keeps them current, rebuild by
//! replay, verify against a fresh fold, and read-your-writes waits. See DESIGN.md §5.
//!
//! # Storage: a registry and versioned table sets
//!
//! The migration (`V5__read_models.sql`) holds only what never changes shape:
//! `projections` (one row per projection, with `live_version`, the pointer to the version
//! being served) and `projection_versions` (one row per version: state `building` / `live` /
//! `retired` / `dropped`, purpose, the checkpoint `(tx_id, position)`, events applied,
//! progress). The read-model tables are created by this crate ([`schema`]), one
//! PostgreSQL schema per version (`read_models_v1`, `read_models_v2`, ...); migrations that
//! change their shape also alter the versions that exist (V8, V9). All of them form one
//! projection, `read_models`, written together: an order's sums, its payments and the journal
//! can never disagree.
//!
//! # Exactly once
//!
//! A batch ([`batch`]) is one transaction: lock the version's registry row (`FOR UPDATE`),
//! read up to `batch_size` events after its checkpoint with the store's gap-free reader, fold
//! each touched stream with the core's `evolve` (from a bounded cache of folded states,
//! reloading a stream's prefix from the log on a miss; a stream's state is the fold up to the
//! highest version read, since the read order can put a version before an earlier one (see
//! `cache.rs`); a batch that does not commit clears the cache), upsert the resulting rows, insert
//! the journal lines (a line applied twice would violate their key), add the balance
//! movements, recompute the touched orders' sums, and move the checkpoint with a
//! compare-and-set (`WHERE checkpoint = old`). It commits entirely or not at all: a projector
//! killed mid-batch leaves nothing behind, and two projectors never apply a batch twice.
//! Settlement report streams (`settlement-*`) need no fold: each event is its row and, for a
//! line, its journal transaction (see `settlement.rs`). Streams other than `order-*`,
//! `payment-*` and `settlement-*` (webhook inboxes, ...) are read and skipped.
//!
//! # Parked streams
//!
//! One bad stream never halts the read-models of everyone. A stream whose event cannot be
//! projected (undecodable, or rows the database refuses: SQLSTATE classes 21, 22, 23) is
//! parked: a row in `parked_streams` (migration V8) for that version (tenant, stream, the
//! first skipped event's position, id, type and version, the reason, when), written in the
//! batch transaction that moves the checkpoint, so exactly-once holds. Every later event of
//! the stream is skipped in that version (still counted as applied); every other stream goes
//! on. An undecodable event parks its stream at the first event read whose fold needs it
//! (see `apply.rs`), which depends only on the read order: a rebuild or verify parks the same
//! streams at the same events. Refused rows are found by writing the batch again stream by
//! stream (savepoints); a refused stream parks at its first event of the batch. Parked
//! streams show in `GET /v1/projections` (state `degraded`, a tenant sees only its own), in
//! the `payledger_projector_parked_streams` gauge, and verify counts each as a difference.
//! [`retry_parked`] (`payledger projections retry-parked`) folds a parked stream afresh up to
//! the live checkpoint under the batch's locks: if it now succeeds its rows and the journal
//! lines of its skipped events are written and it is un-parked; else it stays parked with
//! the new reason. Sums over many amounts (balances, order totals) are `numeric`
//! ([`WideMinor`]), so no sum of valid amounts overflows.
//!
//! # Leadership
//!
//! A projector takes a session advisory lock on its own connection before projecting;
//! another instance tries every `standby_retry` and takes over when the leader's connection
//! goes (process killed, task aborted). Leadership saves duplicated work; correctness does
//! not rest on it: each batch locks its version's registry row (`FOR UPDATE`) and reads the
//! checkpoint under that lock, and the checkpoint moves by compare-and-set. A test runs two
//! instances without the leader lock; a unit test refuses a move from a stale checkpoint.
//!
//! # Live tail
//!
//! Catch-up and live are the same loop: a cheap look without locks; events ready → a batch;
//! events committed but held back by an older transaction → a short sleep (their end sends no
//! NOTIFY); nothing → wait for `NOTIFY payledger_events` or the poll interval.
//!
//! # Rebuild and swap
//!
//! [`rebuild`] takes the maintenance lock (one rebuild or verify at a time), creates a fresh
//! `building` version, replays the log into it in batches (memory bounded), adds the query
//! indexes, catches up, then swaps in one transaction: lock the `projections` row (live
//! batches hold it `FOR SHARE`, so the swap waits for the current batch and stops new ones),
//! apply the last events, check that the new checkpoint is not behind the live one, mark the
//! old version `retired` and the new one `live`, and move `live_version`. Readers that looked
//! up the old version just before keep reading it: retired tables are dropped only after
//! [`RETIRED_GRACE_SECONDS`], by the next rebuild or verify.
//!
//! # Verify
//!
//! [`verify`] folds the log afresh into a scratch version and compares it with the live one
//! at the same checkpoint (see the module docs), reporting every difference with table, key,
//! field, expected and actual; it also checks that the live journal balances per tenant and
//! currency and per journal transaction, and that every balance is the sum of its entries.
//!
//! # Read-your-writes
//!
//! [`wait_for_position`] looks up the event's transaction id and waits (bounded) until the
//! live checkpoint is at or past `(tx_id, position)`. A swap never moves the live checkpoint
//! backwards.

mod apply;
mod as_of;
mod batch;
mod cache;
mod copy;
mod diff;
mod error;
mod fresh;
mod parked;
mod projector;
pub mod read;
mod read_ahead;
mod rebuild;
mod registry;
mod rows;
pub mod schema;
mod session;
mod settlement;
mod status;
mod verify;
mod wait;
mod write;

pub use as_of::{payment_rows, TrialBalanceRow};
pub use diff::{Difference, DifferenceKind};
pub use error::ProjectorError;
pub use parked::{count_parked, list_parked, retry_parked, ParkedStream, RetryOptions, RetryOutcome, PARKED_LIST_MAX};
pub use projector::{Projector, ProjectorConfig};
pub use rebuild::{rebuild, Rebuild, RebuildOptions, RebuildPhase, RebuildProgress, RebuildReport};
pub use registry::{
    current_versions, ensure_initialized, live_checkpoint, live_version, VersionInfo, PROJECTION, RETIRED_GRACE_SECONDS,
};
pub use rows::{
    AccountBalanceRow, DisputeRow, JournalEntryRow, OrderRow, PaymentRow, RefundRow, SettlementLineRow,
    SettlementReportRow, WideMinor,
};
pub use session::projector_leader;
pub use status::{projection_status, tenant_projection_status, BuildStatus, Leader, ProjectionStatus, LAG_COUNT_MAX};
pub use verify::{verify, verify_with_progress, VerifyOptions, VerifyProgress, VerifyReport};
pub use wait::{checkpoint_of_position, wait_for_checkpoint, wait_for_position, WaitOutcome};
