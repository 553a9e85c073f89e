//! Length checks for free-text fields: they end up in immutable events, so
//! they are bounded before they get there.

use crate::error::DomainError;

/// References and codes (order reference, provider references, failure codes). The only
/// definition: the API and the gateways bound such text with this too.
pub const SHORT_TEXT_MAX_CHARS: usize = 255;
/// Reasons and messages.
pub const LONG_TEXT_MAX_CHARS: usize = 2000;
/// The label an operator gives an API key or a webhook endpoint (also checked by the
/// `webhook_endpoints.label` constraint of migration V4).
pub const LABEL_MAX_CHARS: usize = 200;

pub(crate) fn required(param: &'static str, value: &str, max_chars: usize) -> Result<(), DomainError> {
    if value.trim().is_empty() {
        return Err(DomainError::FieldEmpty { param });
    }
    bounded(param, value, max_chars)
}

pub(crate) fn bounded(param: &'static str, value: &str, max_chars: usize) -> Result<(), DomainError> {
    if value.chars().count() > max_chars {
        return Err(DomainError::FieldTooLong { param, max_chars });
    }
    Ok(())
}

/// An optional field, when present, must not be blank.
pub(crate) fn optional(param: &'static str, value: Option<&str>, max_chars: usize) -> Result<(), DomainError> {
    match value {
        Some(value) => required(param, value, max_chars),
        None => Ok(()),
    }
}
