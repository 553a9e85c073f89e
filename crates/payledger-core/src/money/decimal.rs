//! Decimal amounts in major units, as gateways' reports write them (`75.00`, `-12.5`,
//! `1000`), read exactly into signed minor units of a currency: no float, no rounding.
//! Anything else a spreadsheet might produce (`75,00`, `1e3`, ` 7`, `.5`, `75.`) is refused.

use super::{AmountMinor, Currency};

/// Why a decimal amount was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("the amount is empty")]
    Empty,
    #[error("{0:?} is not a decimal number (digits, an optional leading '-', an optional '.' and decimals)")]
    NotADecimal(String),
    #[error("{text:?} has more decimals than {currency} allows ({exponent})")]
    TooManyDecimals { text: String, currency: &'static str, exponent: u8 },
    #[error("{0:?} is beyond the largest amount the ledger holds (999999999999999 minor units)")]
    TooLarge(String),
}

/// `text` in major units of `currency` as signed minor units, e.g. `"75.00"` USD → 7500,
/// `"1000"` JPY → 1000, `"1.234"` KWD → 1234, `"-5.5"` EUR → -550. The magnitude is at most
/// [`AmountMinor::MAX`].
pub fn parse_major_decimal(text: &str, currency: Currency) -> Result<i64, DecimalError> {
    if text.is_empty() {
        return Err(DecimalError::Empty);
    }
    let not_a_decimal = || DecimalError::NotADecimal(text.to_owned());
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) if !fraction.is_empty() => (whole, fraction),
        Some(_) => return Err(not_a_decimal()),
        None => (unsigned, ""),
    };
    let digits_only = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(whole) || !(fraction.is_empty() || digits_only(fraction)) {
        return Err(not_a_decimal());
    }
    let exponent = currency.exponent();
    if fraction.len() > usize::from(exponent) {
        return Err(DecimalError::TooManyDecimals { text: text.to_owned(), currency: currency.code(), exponent });
    }
    let too_large = || DecimalError::TooLarge(text.to_owned());
    // Digits beyond 18 overflow i64 on their own; leading zeros are fine.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 18 {
        return Err(too_large());
    }
    let scale = 10i64.pow(u32::from(exponent));
    let whole_minor = if whole.is_empty() { 0 } else { whole.parse::<i64>().map_err(|_| not_a_decimal())? };
    let padded = format!("{fraction:0<width$}", width = usize::from(exponent));
    let fraction_minor = if padded.is_empty() { 0 } else { padded.parse::<i64>().map_err(|_| not_a_decimal())? };
    let magnitude = whole_minor.checked_mul(scale).and_then(|m| m.checked_add(fraction_minor)).ok_or_else(too_large)?;
    if magnitude > AmountMinor::MAX {
        return Err(too_large());
    }
    Ok(if negative { -magnitude } else { magnitude })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, code: &str) -> Result<i64, DecimalError> {
        parse_major_decimal(text, Currency::parse(code).unwrap())
    }

    #[test]
    fn reads_each_currency_with_its_exponent() {
        assert_eq!(parse("75.00", "USD"), Ok(7500));
        assert_eq!(parse("75", "USD"), Ok(7500));
        assert_eq!(parse("75.5", "USD"), Ok(7550));
        assert_eq!(parse("-12.34", "EUR"), Ok(-1234));
        assert_eq!(parse("1000", "JPY"), Ok(1000));
        assert_eq!(parse("1.234", "KWD"), Ok(1234));
        assert_eq!(parse("0.001", "KWD"), Ok(1));
        assert_eq!(parse("0", "USD"), Ok(0));
        assert_eq!(parse("-0.00", "USD"), Ok(0));
        assert_eq!(parse("007.10", "USD"), Ok(710));
    }

    #[test]
    fn refuses_what_is_not_an_exact_decimal() {
        for text in ["75,00", "1e3", " 75", "75 ", "+75", ".5", "75.", "-", "--1", "7.5.0", "0x10", "७५", "NaN"] {
            assert_eq!(parse(text, "USD"), Err(DecimalError::NotADecimal(text.to_owned())), "{text}");
        }
        assert_eq!(parse("", "USD"), Err(DecimalError::Empty));
        assert!(matches!(parse("75.001", "USD"), Err(DecimalError::TooManyDecimals { exponent: 2, .. })));
        assert!(matches!(parse("1000.5", "JPY"), Err(DecimalError::TooManyDecimals { exponent: 0, .. })));
        assert!(matches!(parse("1.2345", "KWD"), Err(DecimalError::TooManyDecimals { exponent: 3, .. })));
    }

    #[test]
    fn the_largest_amount_is_the_ledgers_maximum() {
        assert_eq!(parse("9999999999999.99", "USD"), Ok(AmountMinor::MAX));
        assert_eq!(parse("-9999999999999.99", "USD"), Ok(-AmountMinor::MAX));
        for text in ["10000000000000.00", "999999999999999999999", "9223372036854775807", "99999999999999999.99"] {
            assert_eq!(parse(text, "USD"), Err(DecimalError::TooLarge(text.to_owned())), "{text}");
        }
        assert_eq!(parse("999999999999999", "JPY"), Ok(AmountMinor::MAX));
    }

    proptest::proptest! {
        /// Any amount within the maximum, written with its currency's decimals, reads back exactly.
        #[test]
        fn written_amounts_read_back(minor in -999_999_999_999_999i64..=999_999_999_999_999, exp in 0u8..=3) {
            let code = match exp { 0 => "JPY", 2 => "USD", 3 => "KWD", _ => "CLF" };
            let currency = Currency::parse(code).unwrap();
            let scale = 10i64.pow(u32::from(currency.exponent()));
            let sign = if minor < 0 { "-" } else { "" };
            let (whole, fraction) = (minor.abs() / scale, minor.abs() % scale);
            let text = if currency.exponent() == 0 {
                format!("{sign}{whole}")
            } else {
                format!("{sign}{whole}.{fraction:0width$}", width = usize::from(currency.exponent()))
            };
            proptest::prop_assert_eq!(parse_major_decimal(&text, currency), Ok(minor));
        }
    }
}
