use std::fmt;

use crate::limits::MAX_SECRET_LEN;
use crate::Provider;

/// One active signing secret of a webhook endpoint, already in the form the MAC needs.
///
/// - `stripe` / `generic`: the secret string's bytes, used as-is as the HMAC key
///   (Stripe keys with the whole `whsec_...` string, not a decoding of it).
/// - `adyen`: the hex-encoded HMAC key from the Customer Area, decoded to bytes.
///
/// `Debug` never prints the key.
#[derive(Clone)]
pub struct WebhookSecret {
    provider: Provider,
    key: Vec<u8>,
}

/// A secret that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("webhook secret is empty")]
    Empty,
    #[error("webhook secret is longer than {MAX_SECRET_LEN} bytes")]
    TooLong,
    #[error("adyen HMAC key must be hex-encoded (an even number of 0-9, a-f characters)")]
    InvalidHex,
}

impl WebhookSecret {
    pub fn new(provider: Provider, secret: &str) -> Result<Self, SecretError> {
        if secret.is_empty() {
            return Err(SecretError::Empty);
        }
        if secret.len() > MAX_SECRET_LEN {
            return Err(SecretError::TooLong);
        }
        let key = match provider {
            Provider::Stripe | Provider::Generic => secret.as_bytes().to_vec(),
            Provider::Adyen => hex::decode(secret).map_err(|_| SecretError::InvalidHex)?,
        };
        Ok(Self { provider, key })
    }

    pub fn provider(&self) -> Provider {
        self.provider
    }

    pub(crate) fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookSecret").field("provider", &self.provider).field("key", &"<redacted>").finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripe_secret_is_used_verbatim() {
        let s = WebhookSecret::new(Provider::Stripe, "whsec_abc").unwrap();
        assert_eq!(s.key(), b"whsec_abc");
    }

    #[test]
    fn adyen_secret_is_hex_decoded() {
        let s = WebhookSecret::new(Provider::Adyen, "0aFF").unwrap();
        assert_eq!(s.key(), &[0x0a, 0xff]);
        assert_eq!(WebhookSecret::new(Provider::Adyen, "xyz0").unwrap_err(), SecretError::InvalidHex);
        assert_eq!(WebhookSecret::new(Provider::Adyen, "abc").unwrap_err(), SecretError::InvalidHex);
    }

    #[test]
    fn empty_and_oversized_secrets_are_rejected() {
        assert_eq!(WebhookSecret::new(Provider::Generic, "").unwrap_err(), SecretError::Empty);
        let long = "a".repeat(MAX_SECRET_LEN + 1);
        assert_eq!(WebhookSecret::new(Provider::Stripe, &long).unwrap_err(), SecretError::TooLong);
    }

    #[test]
    fn debug_does_not_print_the_secret() {
        let s = WebhookSecret::new(Provider::Stripe, "whsec_topsecret").unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("topsecret"), "{printed}");
        assert!(printed.contains("redacted"));
    }
}
