//! Delivery bodies to provider-neutral notifications.

mod adyen;
mod fields;
mod stripe;

use crate::{Notification, Provider};

/// Why a (verified) body could not be interpreted. Unknown event types are not errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("body is not JSON")]
    NotJson,
    #[error("body does not have the provider's shape: {0}")]
    Malformed(&'static str),
    #[error("required field `{0}` is missing")]
    MissingField(&'static str),
    #[error("field `{0}` has the wrong type or an unusable value")]
    InvalidField(&'static str),
    /// Money is integer minor units; `10.5` or `1e3` is refused, never rounded.
    #[error("amount `{0}` is not an integer")]
    AmountNotInteger(&'static str),
    #[error("amount `{0}` is negative or too large")]
    AmountOutOfRange(&'static str),
    #[error("field `{0}` is longer than the reference limit")]
    ReferenceTooLong(&'static str),
}

/// Interprets a delivery body: stripe and generic carry one event per body, Adyen one
/// notification per item (at most [`crate::MAX_ADYEN_ITEMS`]).
///
/// Generic deliveries use Stripe's event envelope and event type names:
/// `{"id": "...", "type": "payment_intent.succeeded", "created": <unix>, "data": {"object": {...}}}`.
pub fn parse(provider: Provider, body: &[u8]) -> Result<Vec<Notification>, ParseError> {
    match provider {
        Provider::Stripe | Provider::Generic => stripe::parse(body).map(|n| vec![n]),
        Provider::Adyen => adyen::parse(body),
    }
}
