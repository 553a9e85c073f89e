use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A webhook sender. The lowercase name is the `{provider}` path segment of
/// `POST /v1/webhooks/{provider}/{endpoint_id}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Stripe,
    Adyen,
    /// Any gateway or internal service signing with the Stripe scheme under
    /// `Payledger-Signature`.
    Generic,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Stripe, Provider::Adyen, Provider::Generic];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Stripe => "stripe",
            Provider::Adyen => "adyen",
            Provider::Generic => "generic",
        }
    }

    /// The header carrying the signature, worth storing with the raw delivery;
    /// `None` for Adyen, which signs inside the body.
    pub fn signature_header(self) -> Option<&'static str> {
        match self {
            Provider::Stripe => Some(crate::STRIPE_SIGNATURE_HEADER),
            Provider::Generic => Some(crate::GENERIC_SIGNATURE_HEADER),
            Provider::Adyen => None,
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of `stripe`, `adyen`, `generic` (exact, lowercase).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown webhook provider (expected stripe, adyen or generic)")]
pub struct UnknownProvider;

impl FromStr for Provider {
    type Err = UnknownProvider;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Provider::ALL.into_iter().find(|p| p.as_str() == s).ok_or(UnknownProvider)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_its_name() {
        for p in Provider::ALL {
            assert_eq!(p.as_str().parse::<Provider>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
        }
        assert_eq!("Stripe".parse::<Provider>(), Err(UnknownProvider));
        assert_eq!("".parse::<Provider>(), Err(UnknownProvider));
    }
}
