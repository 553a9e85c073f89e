//! Signature verification over the exact raw bytes of a delivery.

mod adyen;
mod timestamped;

use crate::{HeaderLookup, Provider, WebhookSecret};

/// Header carrying Stripe's signature.
pub const STRIPE_SIGNATURE_HEADER: &str = "Stripe-Signature";
/// Header carrying the generic scheme's signature (same format as Stripe's).
pub const GENERIC_SIGNATURE_HEADER: &str = "Payledger-Signature";

/// A delivery whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub provider: Provider,
    /// Index in the `secrets` slice of the secret that verified (Adyen: the one that
    /// verified the first item; items may each match a different active secret).
    /// Lets the caller see whether a retiring secret is still in use.
    pub secret_index: usize,
    /// The signed `t=` timestamp (stripe, generic); Adyen signs no timestamp.
    pub signed_at_unix_s: Option<i64>,
}

/// Why a delivery was refused. [`SignatureError::code`] is stable and distinct per
/// variant; [`SignatureError::http_status`] is the suggested reply status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature header (Adyen: an item's `additionalData.hmacSignature`) is absent.
    #[error("signature is missing: {0}")]
    HeaderMissing(&'static str),
    #[error("signature is malformed: {0}")]
    HeaderMalformed(&'static str),
    /// Correctly signed, but the signed timestamp is too far from now (replay window).
    #[error("signature timestamp is {skew_s} s away from now, beyond the tolerance")]
    TimestampStale { skew_s: i64 },
    #[error("no signature matches an active secret")]
    Mismatch,
    /// The body must be parsed to find the signatures (Adyen) and could not be.
    #[error("payload is malformed: {0}")]
    PayloadMalformed(&'static str),
    /// The endpoint has no active secret for this provider, so nothing can verify.
    #[error("no active secret for this provider")]
    NoActiveSecret,
}

impl SignatureError {
    /// Stable machine-readable code for API error bodies and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::HeaderMissing(_) => "signature_header_missing",
            SignatureError::HeaderMalformed(_) => "signature_header_malformed",
            SignatureError::TimestampStale { .. } => "signature_timestamp_stale",
            SignatureError::Mismatch => "signature_mismatch",
            SignatureError::PayloadMalformed(_) => "payload_malformed",
            SignatureError::NoActiveSecret => "no_active_secret",
        }
    }

    /// 400 when the request is not well-formed, 401 when it is but does not
    /// authenticate (including an endpoint without active secrets).
    pub fn http_status(&self) -> u16 {
        match self {
            SignatureError::HeaderMissing(_)
            | SignatureError::HeaderMalformed(_)
            | SignatureError::PayloadMalformed(_) => 400,
            SignatureError::TimestampStale { .. } | SignatureError::Mismatch | SignatureError::NoActiveSecret => 401,
        }
    }
}

/// Verifies `body` (the exact bytes received) against the endpoint's active `secrets`.
///
/// Any active secret may verify (rotation). Secrets of another provider are ignored.
/// For stripe and generic the signed timestamp must be within `tolerance_s` seconds of
/// `now_unix_s` (either direction); the timestamp is checked only after the MAC, so a
/// stale error always concerns an authentic delivery. Adyen signs no timestamp: replays
/// are absorbed by the dedupe key instead.
pub fn verify(
    provider: Provider,
    headers: &dyn HeaderLookup,
    body: &[u8],
    secrets: &[WebhookSecret],
    now_unix_s: i64,
    tolerance_s: i64,
) -> Result<Verified, SignatureError> {
    let active: Vec<(usize, &[u8])> =
        secrets.iter().enumerate().filter(|(_, s)| s.provider() == provider).map(|(i, s)| (i, s.key())).collect();
    if active.is_empty() {
        return Err(SignatureError::NoActiveSecret);
    }
    match crate::signature_header(provider) {
        Some(header_name) => {
            let header = headers.header(header_name).ok_or(SignatureError::HeaderMissing(header_name))?;
            let (secret_index, signed_at) =
                timestamped::verify(&header, body, &active, timestamped::Window { now_unix_s, tolerance_s })?;
            Ok(Verified { provider, secret_index, signed_at_unix_s: Some(signed_at) })
        }
        // Adyen signs inside the body.
        None => {
            let secret_index = adyen::verify(body, &active)?;
            Ok(Verified { provider, secret_index, signed_at_unix_s: None })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_statuses_follow_the_design() {
        let all = [
            SignatureError::HeaderMissing("h"),
            SignatureError::HeaderMalformed("h"),
            SignatureError::TimestampStale { skew_s: 1 },
            SignatureError::Mismatch,
            SignatureError::PayloadMalformed("p"),
            SignatureError::NoActiveSecret,
        ];
        let mut codes: Vec<_> = all.iter().map(SignatureError::code).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), all.len());
        assert_eq!(SignatureError::Mismatch.http_status(), 401);
        assert_eq!(SignatureError::TimestampStale { skew_s: 1 }.http_status(), 401);
        assert_eq!(SignatureError::HeaderMissing("h").http_status(), 400);
        assert_eq!(SignatureError::PayloadMalformed("p").http_status(), 400);
    }

    #[test]
    fn secrets_of_another_provider_do_not_count() {
        let secrets = [WebhookSecret::new(Provider::Stripe, "whsec_x").unwrap()];
        let headers: [(&str, &str); 0] = [];
        assert_eq!(verify(Provider::Generic, &headers, b"{}", &secrets, 0, 300), Err(SignatureError::NoActiveSecret));
    }
}
