//! The domain's integration tests, one binary (one link): given/when/then scenarios,
//! the transition table, properties, the codec and the ledger.

mod codec;
mod gateway_reports;
mod ledger;
mod order_payments;
mod order_scenarios;
mod payment_scenarios;
mod properties;
mod transition_table;
