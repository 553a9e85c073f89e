//! payledger-gateways
