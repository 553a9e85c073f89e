//! The projector's integration tests, one binary (one link): fold, tail, crash, leadership,
//! rebuild, parked events, read order and corruption.

mod corruption;
mod crash;
mod fold;
mod leadership;
mod nested_lists;
mod parked;
mod read_order;
mod rebuild_live;
mod support;
mod tail;
