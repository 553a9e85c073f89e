//! The domain's integration tests, one binary (one link): given/when/then scenarios,
//! the transition table, properties, the codec, the ledger and settlement postings.
// A test binary: a failed assumption in a helper is the test failing, so helpers may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod codec;
mod gateway_reports;
mod job_table;
mod late_reports;
mod ledger;
mod order_payments;
mod order_scenarios;
mod payment_scenarios;
mod properties;
mod reconciliation_table;
mod settlement_postings;
mod transition_table;
