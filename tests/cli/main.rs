//! The `payledger` binary's tests, one binary (one link): the commands end to end against a
//! real PostgreSQL, and `scripts/pg.sh`.

mod end_to_end;
mod pg_script;
