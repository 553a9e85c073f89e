//! Hard limits. Webhook bodies come from the internet: every loop and every stored
//! string is bounded so a hostile delivery costs little.

/// Longest accepted `Stripe-Signature` / `Payledger-Signature` header, in bytes.
pub const MAX_SIGNATURE_HEADER_LEN: usize = 4096;

/// Most `v1=` signatures accepted in one header. Senders list one per active secret,
/// so a handful covers any rotation; more is rejected as malformed.
pub const MAX_V1_SIGNATURES: usize = 8;

/// Most notification items in one Adyen delivery.
pub const MAX_ADYEN_ITEMS: usize = 100;

/// Longest webhook secret accepted by [`crate::WebhookSecret::new`], in bytes
/// (for Adyen: hex characters).
pub const MAX_SECRET_LEN: usize = 1024;

/// Longest identifier (event id, psp reference, refund id...) taken from a payload, in
/// bytes: the core's limit for references, counted so that a multi-byte reference is never
/// longer than the core allows. They become dedupe keys and lookup keys; longer ones are
/// rejected, not cut.
pub const MAX_REFERENCE_LEN: usize = payledger_core::SHORT_TEXT_MAX_CHARS;

// Free text (failure codes and messages) is cut to the core's `SHORT_TEXT_MAX_CHARS` and
// `LONG_TEXT_MAX_CHARS` (see `report.rs`): the only text limits.
