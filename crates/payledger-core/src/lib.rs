//! payledger-core
