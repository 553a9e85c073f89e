//! The `payledger` binary's tests, one binary (one link): the commands end to end against a
//! real PostgreSQL, and `scripts/pg.sh`.
// A test binary: a failed assumption in a helper is the test failing, so helpers may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit;
mod end_to_end;
mod feed;
mod jobs;
mod pg_script;
mod reconcile;
mod secrets;
mod server;
mod settlements;
