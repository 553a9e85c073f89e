//! payledger-projector
