//! payledger benchmarks (in progress)
