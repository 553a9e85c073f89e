//! Parsing request fields into domain types, with errors that name the field.

use payledger_core::{AmountMinor, Currency, SHORT_TEXT_MAX_CHARS};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// The request fields whose length the core bounds when it decides the command
/// (`payledger_core::SHORT_TEXT_MAX_CHARS` / `LONG_TEXT_MAX_CHARS`): checked there only, so
/// each field has one limit and one answer.
const CORE_BOUNDED_TEXT: [&str; 4] = ["reason", "provider_reference", "code", "message"];

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

/// A free-text field (NUL was refused with the whole body). The core bounds the fields it
/// takes ([`CORE_BOUNDED_TEXT`]); any other (a label) is bounded here by the core's limit.
pub fn text(value: Option<String>, param: &str) -> ApiResult<Option<String>> {
    match value {
        Some(s) if !CORE_BOUNDED_TEXT.contains(&param) && s.chars().count() > SHORT_TEXT_MAX_CHARS => {
            Err(ApiError::invalid_param(
                param,
                "field_too_long",
                format!("{param} is longer than {SHORT_TEXT_MAX_CHARS} characters"),
            ))
        }
        other => Ok(other),
    }
}

/// A client's metadata, which must come back exactly as sent. It is stored as `jsonb` and
/// read back through serde_json, which keep integers exactly but not the spelling of other
/// numbers (`1e2` becomes `100.0`, `1.50` becomes `1.5`, `-0` becomes `-0.0`, a 30-digit
/// integer loses digits). So a metadata number must be an integer from -2^63 to 2^64-1
/// written without fraction or exponent; any other number is refused, naming it: send it
/// as a string.
pub fn metadata(value: Option<Value>) -> ApiResult<Value> {
    let value = value.unwrap_or_else(|| Value::Object(Default::default()));
    exact_numbers(&value, "metadata")?;
    Ok(value)
}

fn exact_numbers(value: &Value, path: &str) -> ApiResult<()> {
    match value {
        // serde_json holds exactly those integers as i64 or u64, and everything else as f64.
        Value::Number(n) if !(n.is_i64() || n.is_u64()) => Err(ApiError::invalid_param(
            path,
            "metadata_number_inexact",
            format!(
                "{path} is a number that would not be kept exactly: metadata numbers are integers \
                 from -2^63 to 2^64-1 without fraction or exponent; send others as strings"
            ),
        )),
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, item)| exact_numbers(item, &format!("{path}[{i}]")))
        }
        Value::Object(map) => map.iter().try_for_each(|(key, item)| exact_numbers(item, &format!("{path}.{key}"))),
        _ => Ok(()),
    }
}
