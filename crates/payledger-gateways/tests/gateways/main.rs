//! Integration tests of the public API: verification per provider, fixture mapping,
//! and property tests of sign-then-verify.

mod parse_fixtures;
mod roundtrip;
mod support;
mod verify_adyen;
mod verify_timestamped;
