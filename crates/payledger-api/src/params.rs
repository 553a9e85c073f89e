//! Parsing request fields into domain types, with errors that name the field.

use payledger_core::{AmountMinor, Currency};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// Longest free-text field (reason, failure message) accepted.
pub const TEXT_MAX_CHARS: usize = 500;

/// An amount in minor units: a positive JSON integer. Floats and strings are refused, never rounded.
pub fn amount(value: &Value, param: &str) -> ApiResult<AmountMinor> {
    let n = value.as_i64().ok_or_else(|| {
        ApiError::invalid_param(param, "amount_invalid", format!("{param} must be a positive integer of minor units"))
    })?;
    AmountMinor::new(n).map_err(|e| ApiError::invalid_param(param, "amount_invalid", format!("{param}: {e}")))
}

pub fn optional_amount(value: &Option<Value>, param: &str) -> ApiResult<Option<AmountMinor>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => amount(v, param).map(Some),
    }
}

pub fn currency(code: &str) -> ApiResult<Currency> {
    Currency::parse(code).map_err(|e| ApiError::invalid_param("currency", "currency_invalid", format!("currency: {e}")))
}

pub fn text(value: Option<String>, param: &str) -> ApiResult<Option<String>> {
    match value {
        Some(s) if s.contains('\0') => {
            Err(ApiError::invalid_param(param, "invalid_characters", format!("{param} contains a NUL character")))
        }
        Some(s) if s.chars().count() > TEXT_MAX_CHARS => Err(ApiError::invalid_param(
            param,
            "field_too_long",
            format!("{param} is longer than {TEXT_MAX_CHARS} characters"),
        )),
        other => Ok(other),
    }
}
