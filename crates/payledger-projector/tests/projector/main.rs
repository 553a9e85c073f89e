//! The projector's integration tests, one binary (one link): fold, tail, crash, leadership,
//! rebuild, parked events, read order, corruption and settlement reports.
// A test binary: a failed assumption in a helper is the test failing, so helpers may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod corruption;
mod crash;
mod fold;
mod leadership;
mod nested_lists;
mod parked;
mod read_order;
mod rebuild_fold;
mod rebuild_live;
mod settlement;
mod support;
mod tail;
