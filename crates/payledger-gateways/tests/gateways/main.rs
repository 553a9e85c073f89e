//! Integration tests of the public API: verification per provider, fixture mapping,
//! and property tests of sign-then-verify.
// A test binary: a failed assumption in a helper is the test failing, so helpers may panic.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod parse_fixtures;
mod roundtrip;
mod settlement_edges;
mod settlement_fixtures;
mod settlement_prop;
mod settlement_support;
mod support;
mod verify_adyen;
mod verify_timestamped;
