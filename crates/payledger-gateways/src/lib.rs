//! Webhook signature verification and payload mapping for payment gateways.
//!
//! This crate is pure: no I/O, no async, no database. It does two things:
//!
//! 1. [`verify()`] checks a delivery's signature over the exact raw body bytes, before
//!    anything else touches the delivery (DESIGN.md §6 step 1).
//! 2. [`parse()`] turns a delivery into provider-neutral [`Notification`]s that the
//!    interpreter applies to payment streams (DESIGN.md §6 step 3).
//!
//! Providers:
//! - `stripe`: header `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`,
//!   HMAC-SHA256 over `"{t}.{raw body}"`, keyed with the secret string's bytes.
//! - `generic`: the same scheme under the header `Payledger-Signature`, with a
//!   Stripe-shaped event body (see [`signing`] for how a sender signs).
//! - `adyen`: every notification item carries
//!   `base64(HMAC-SHA256(hex-decoded key, signing string))` in
//!   `additionalData.hmacSignature`; reply with [`ADYEN_ACCEPTED_REPLY`].

mod adyen_hmac;
mod headers;
mod limits;
mod mac;
mod notification;
mod parse;
mod provider;
pub mod report;
mod secret;
pub mod settlement;
pub mod signing;
mod verify;

pub use adyen_hmac::{adyen_signing_string, ADYEN_ACCEPTED_REPLY};
pub use headers::HeaderLookup;
pub use limits::{MAX_ADYEN_ITEMS, MAX_REFERENCE_LEN, MAX_SECRET_LEN, MAX_SIGNATURE_HEADER_LEN, MAX_V1_SIGNATURES};
pub use notification::{Notification, NotificationKind};
pub use parse::{parse, ParseError};
pub use provider::{signature_header, Provider, UnknownProvider};
pub use secret::{SecretError, WebhookSecret};
pub use settlement::{parse_settlement_report, LineProblem, ReportRefused};
pub use verify::{verify, SignatureError, Verified, GENERIC_SIGNATURE_HEADER, STRIPE_SIGNATURE_HEADER};
