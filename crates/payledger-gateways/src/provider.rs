//! The provider is the core's (`payledger_core::payment::Provider`); what a gateway adds is
//! where its signature travels.

pub use payledger_core::payment::{Provider, UnknownProvider};

/// The header carrying the signature, worth storing with the raw delivery; `None` for Adyen,
/// which signs inside the body.
pub fn signature_header(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Stripe => Some(crate::STRIPE_SIGNATURE_HEADER),
        Provider::Generic => Some(crate::GENERIC_SIGNATURE_HEADER),
        Provider::Adyen => None,
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
        assert!("Stripe".parse::<Provider>().is_err());
        assert!("".parse::<Provider>().is_err());
        assert_eq!(signature_header(Provider::Adyen), None);
        assert_eq!(signature_header(Provider::Stripe), Some("Stripe-Signature"));
    }
}
