//! Typed reads from JSON objects, with field-named errors and limits.

use serde_json::Value;

use super::ParseError;
use payledger_core::LONG_TEXT_MAX_CHARS;

use crate::limits::MAX_REFERENCE_LEN;

/// Longest currency code kept; ISO 4217 codes are 3 letters, the caller validates.
const MAX_CURRENCY_LEN: usize = 8;

/// The field's value; `null` counts as absent.
fn present<'a>(obj: &'a Value, field: &str) -> Option<&'a Value> {
    obj.get(field).filter(|v| !v.is_null())
}

pub(super) fn optional_str<'a>(obj: &'a Value, field: &'static str) -> Result<Option<&'a str>, ParseError> {
    match present(obj, field) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ParseError::InvalidField(field)),
    }
}

pub(super) fn required_str<'a>(obj: &'a Value, field: &'static str) -> Result<&'a str, ParseError> {
    optional_str(obj, field)?.ok_or(ParseError::MissingField(field))
}

/// An identifier: an empty string counts as absent (Adyen sends `""` for none).
pub(super) fn optional_reference(obj: &Value, field: &'static str) -> Result<Option<String>, ParseError> {
    match optional_str(obj, field)? {
        None | Some("") => Ok(None),
        Some(s) if s.len() > MAX_REFERENCE_LEN => Err(ParseError::ReferenceTooLong(field)),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

pub(super) fn reference(obj: &Value, field: &'static str) -> Result<String, ParseError> {
    optional_reference(obj, field)?.ok_or(ParseError::MissingField(field))
}

/// Free text, cut to the core's longest text (the report cuts codes shorter).
pub(super) fn text(obj: &Value, field: &'static str) -> Result<Option<String>, ParseError> {
    Ok(optional_str(obj, field)?.map(|s| s.chars().take(LONG_TEXT_MAX_CHARS).collect()))
}

/// A non-negative integer amount in minor units. Floats are refused, never rounded.
pub(super) fn minor_units(obj: &Value, field: &'static str) -> Result<i64, ParseError> {
    match present(obj, field) {
        None => Err(ParseError::MissingField(field)),
        Some(Value::Number(n)) if n.is_f64() => Err(ParseError::AmountNotInteger(field)),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if v >= 0 => Ok(v),
            _ => Err(ParseError::AmountOutOfRange(field)),
        },
        Some(_) => Err(ParseError::InvalidField(field)),
    }
}

/// A currency code, uppercased (Stripe sends lowercase).
pub(super) fn currency(obj: &Value, field: &'static str) -> Result<String, ParseError> {
    let code = required_str(obj, field)?;
    if code.is_empty() || code.len() > MAX_CURRENCY_LEN {
        return Err(ParseError::InvalidField(field));
    }
    Ok(code.to_ascii_uppercase())
}

pub(super) fn optional_i64(obj: &Value, field: &'static str) -> Result<Option<i64>, ParseError> {
    match present(obj, field) {
        None => Ok(None),
        Some(v) => v.as_i64().map(Some).ok_or(ParseError::InvalidField(field)),
    }
}

/// A nested object; `None` when absent or `null`.
pub(super) fn optional_object<'a>(obj: &'a Value, field: &'static str) -> Result<Option<&'a Value>, ParseError> {
    match present(obj, field) {
        None => Ok(None),
        Some(v @ Value::Object(_)) => Ok(Some(v)),
        Some(_) => Err(ParseError::InvalidField(field)),
    }
}

pub(super) fn required_object<'a>(obj: &'a Value, field: &'static str) -> Result<&'a Value, ParseError> {
    optional_object(obj, field)?.ok_or(ParseError::MissingField(field))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn amounts_must_be_non_negative_integers() {
        let obj = json!({
            "ok": 1099, "zero": 0, "float": 10.5, "whole_float": 1000.0, "exp": 1e3,
            "neg": -1, "huge": 18446744073709551615u64, "text": "1099"
        });
        assert_eq!(minor_units(&obj, "ok"), Ok(1099));
        assert_eq!(minor_units(&obj, "zero"), Ok(0));
        for f in ["float", "whole_float", "exp"] {
            assert_eq!(minor_units(&obj, f), Err(ParseError::AmountNotInteger(f)));
        }
        for f in ["neg", "huge"] {
            assert_eq!(minor_units(&obj, f), Err(ParseError::AmountOutOfRange(f)));
        }
        assert_eq!(minor_units(&obj, "text"), Err(ParseError::InvalidField("text")));
        assert_eq!(minor_units(&obj, "none"), Err(ParseError::MissingField("none")));
    }

    #[test]
    fn references_are_bounded_and_empty_means_absent() {
        let long = "x".repeat(MAX_REFERENCE_LEN + 1);
        let longest = "x".repeat(MAX_REFERENCE_LEN);
        let obj = json!({ "empty": "", "long": long, "longest": longest, "num": 5, "ok": "pi_1" });
        assert_eq!(reference(&obj, "longest"), Ok(longest.clone()));
        assert_eq!(optional_reference(&obj, "empty"), Ok(None));
        assert_eq!(reference(&obj, "long"), Err(ParseError::ReferenceTooLong("long")));
        assert_eq!(reference(&obj, "num"), Err(ParseError::InvalidField("num")));
        assert_eq!(reference(&obj, "ok").as_deref(), Ok("pi_1"));
    }

    #[test]
    fn text_is_truncated_on_a_char_boundary() {
        let obj = json!({ "m": "é".repeat(LONG_TEXT_MAX_CHARS + 5), "fits": "é".repeat(LONG_TEXT_MAX_CHARS) });
        let t = text(&obj, "m").unwrap().unwrap();
        assert_eq!(t.chars().count(), LONG_TEXT_MAX_CHARS);
        assert_eq!(text(&obj, "fits").unwrap().unwrap().chars().count(), LONG_TEXT_MAX_CHARS);
    }
}
