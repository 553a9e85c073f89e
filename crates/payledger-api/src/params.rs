//! Parsing request fields into domain types, with errors that name the field.

use payledger_core::{AmountMinor, Currency};
use serde_json::Value;

use crate::error::{ApiCode, ApiError, ApiResult};

/// An amount in minor units: a positive JSON integer. Floats and strings are refused, never rounded.
pub fn amount(value: &Value, param: &str) -> ApiResult<AmountMinor> {
    let n = value.as_i64().ok_or_else(|| {
        ApiError::invalid_param(
            param,
            ApiCode::AmountInvalid,
            format!("{param} must be a positive integer of minor units"),
        )
    })?;
    AmountMinor::new(n).map_err(|e| ApiError::invalid_param(param, ApiCode::AmountInvalid, format!("{param}: {e}")))
}

pub fn optional_amount(value: &Option<Value>, param: &str) -> ApiResult<Option<AmountMinor>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v) => amount(v, param).map(Some),
    }
}

pub fn currency(code: &str) -> ApiResult<Currency> {
    Currency::parse(code)
        .map_err(|e| ApiError::invalid_param("currency", ApiCode::CurrencyInvalid, format!("currency: {e}")))
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
            ApiCode::MetadataNumberInexact,
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
