use std::fmt;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Currency, MoneyError};

/// A strictly positive amount in minor units (cents for USD, yen for JPY,
/// fils for KWD), at most [`AmountMinor::MAX`]. Zero and negative amounts
/// cannot be built, so a command or event holding one never moves "nothing"
/// or "less than nothing".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AmountMinor(i64);

impl AmountMinor {
    /// The largest amount: fifteen nines of minor units (about 10^13 USD, far beyond any
    /// real payment). The bound leaves i64 room for a running total of 9 000 such
    /// amounts, so per-payment and per-order sums can never overflow; balances across
    /// payments are summed wider (i128, numeric) anyway.
    pub const MAX: i64 = 999_999_999_999_999;

    pub fn new(amount_minor: i64) -> Result<AmountMinor, MoneyError> {
        if amount_minor <= 0 {
            Err(MoneyError::NotPositive(amount_minor))
        } else if amount_minor > AmountMinor::MAX {
            Err(MoneyError::TooLarge(amount_minor))
        } else {
            Ok(AmountMinor(amount_minor))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn checked_add(self, other: AmountMinor) -> Result<AmountMinor, MoneyError> {
        self.0.checked_add(other.0).ok_or(MoneyError::Overflow).and_then(AmountMinor::new)
    }

    /// `None` when the difference is zero or negative: it would not be an amount.
    pub fn checked_sub(self, other: AmountMinor) -> Option<AmountMinor> {
        self.0.checked_sub(other.0).and_then(|rest| AmountMinor::new(rest).ok())
    }
}

impl AmountMinor {
    /// The part of this amount above `units`, `None` if there is none.
    pub fn excess_over(self, units: MinorUnits) -> Option<AmountMinor> {
        self.0.checked_sub(units.get()).and_then(|rest| AmountMinor::new(rest).ok())
    }
}

impl fmt::Display for AmountMinor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A non-negative count of minor units, for running totals (captured,
/// refunded, ...) that start at zero.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MinorUnits(i64);

impl MinorUnits {
    pub const ZERO: MinorUnits = MinorUnits(0);

    pub fn new(minor_units: i64) -> Result<MinorUnits, MoneyError> {
        if minor_units >= 0 {
            Ok(MinorUnits(minor_units))
        } else {
            Err(MoneyError::Negative(minor_units))
        }
    }

    pub fn get(self) -> i64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The total as a positive amount, `None` when it is zero.
    pub fn to_amount(self) -> Option<AmountMinor> {
        AmountMinor::new(self.0).ok()
    }

    pub fn checked_add(self, amount: AmountMinor) -> Option<MinorUnits> {
        self.0.checked_add(amount.0).map(MinorUnits)
    }

    /// `None` when the result would be negative.
    pub fn checked_sub(self, amount: AmountMinor) -> Option<MinorUnits> {
        self.0.checked_sub(amount.0).filter(|rest| *rest >= 0).map(MinorUnits)
    }

    /// `self - other`, floored at zero.
    pub fn saturating_sub(self, other: MinorUnits) -> MinorUnits {
        MinorUnits(self.0.saturating_sub(other.0).max(0))
    }

    pub fn saturating_add(self, other: MinorUnits) -> MinorUnits {
        MinorUnits(self.0.saturating_add(other.0))
    }

    /// Whether `amount` fits within this total.
    pub fn covers(self, amount: AmountMinor) -> bool {
        amount.0 <= self.0
    }
}

impl From<AmountMinor> for MinorUnits {
    fn from(amount: AmountMinor) -> Self {
        MinorUnits(amount.0)
    }
}

impl fmt::Display for MinorUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An amount with its currency. `Display` prints the major-unit form using the
/// currency's exponent ("75.00 USD", "500 JPY", "1.250 KWD"), with integer
/// arithmetic only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: AmountMinor,
    pub currency: Currency,
}

impl Money {
    pub fn new(amount_minor: AmountMinor, currency: Currency) -> Money {
        Money { amount_minor, currency }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = u32::from(self.currency.exponent());
        let amount = self.amount_minor.get().unsigned_abs();
        match 10u64.checked_pow(exponent) {
            Some(scale) if exponent > 0 => {
                write!(f, "{}.{:0width$} {}", amount / scale, amount % scale, self.currency, width = exponent as usize)
            }
            Some(_) | None => write!(f, "{} {}", amount, self.currency),
        }
    }
}

// Serde: plain JSON integers. Floats (10.5), strings, and integers outside
// i64 are refused by the visitor rather than rounded or clamped.

impl Serialize for AmountMinor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl Serialize for MinorUnits {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i64(self.0)
    }
}

impl<'de> Deserialize<'de> for AmountMinor {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw =
            deserializer.deserialize_i64(IntegerVisitor { expecting: "a positive integer amount in minor units" })?;
        AmountMinor::new(raw).map_err(de::Error::custom)
    }
}

impl<'de> Deserialize<'de> for MinorUnits {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = deserializer
            .deserialize_i64(IntegerVisitor { expecting: "a non-negative integer amount in minor units" })?;
        MinorUnits::new(raw).map_err(de::Error::custom)
    }
}

struct IntegerVisitor {
    expecting: &'static str,
}

impl Visitor<'_> for IntegerVisitor {
    type Value = i64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::custom(MoneyError::Overflow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(json: &str) -> Result<AmountMinor, String> {
        serde_json::from_str::<AmountMinor>(json).map_err(|e| e.to_string())
    }

    #[test]
    fn new_refuses_zero_and_negative() {
        assert_eq!(AmountMinor::new(0), Err(MoneyError::NotPositive(0)));
        assert_eq!(AmountMinor::new(-1), Err(MoneyError::NotPositive(-1)));
        assert_eq!(AmountMinor::new(1).map(AmountMinor::get), Ok(1));
    }

    #[test]
    fn new_refuses_more_than_the_maximum() {
        assert_eq!(AmountMinor::new(AmountMinor::MAX).map(AmountMinor::get), Ok(999_999_999_999_999));
        assert_eq!(AmountMinor::new(AmountMinor::MAX + 1), Err(MoneyError::TooLarge(AmountMinor::MAX + 1)));
        assert_eq!(AmountMinor::new(i64::MAX), Err(MoneyError::TooLarge(i64::MAX)));
        assert_eq!(MoneyError::TooLarge(i64::MAX).code(), "amount_too_large");
        // A running total of the largest amounts stays far inside i64.
        assert!(AmountMinor::MAX.checked_mul(9_000).is_some());
    }

    #[test]
    fn json_accepts_positive_integers_only() {
        assert_eq!(amount("7500").map(AmountMinor::get), Ok(7500));
        assert!(amount("0").unwrap_err().contains("greater than zero"));
        assert!(amount("-5").unwrap_err().contains("greater than zero"));
        assert!(amount("10.5").unwrap_err().contains("floating point"));
        assert!(amount("10.0").unwrap_err().contains("floating point"));
        assert!(amount("1e3").unwrap_err().contains("floating point"));
        assert!(amount("\"100\"").is_err());
        assert!(amount("null").is_err());
        assert!(amount("999999999999999").is_ok());
        assert!(amount("1000000000000000").unwrap_err().contains("at most"));
        assert!(amount("9223372036854775807").unwrap_err().contains("at most"));
        assert!(amount("9223372036854775808").unwrap_err().contains("overflows"));
        // Beyond u64 serde_json reads a float: still refused, never rounded.
        assert!(amount("99999999999999999999999").is_err());
    }

    #[test]
    fn json_is_a_plain_integer() {
        let value = AmountMinor::new(7500).unwrap();
        assert_eq!(serde_json::to_string(&value).unwrap(), "7500");
        assert_eq!(serde_json::to_string(&MinorUnits::ZERO).unwrap(), "0");
    }

    #[test]
    fn minor_units_allow_zero_but_not_negative() {
        assert_eq!(serde_json::from_str::<MinorUnits>("0").unwrap(), MinorUnits::ZERO);
        assert!(serde_json::from_str::<MinorUnits>("-1").is_err());
        assert!(serde_json::from_str::<MinorUnits>("0.5").is_err());
    }

    #[test]
    fn checked_arithmetic_never_overflows() {
        let max = AmountMinor::new(AmountMinor::MAX).unwrap();
        let one = AmountMinor::new(1).unwrap();
        assert_eq!(max.checked_add(one), Err(MoneyError::TooLarge(AmountMinor::MAX + 1)));
        assert_eq!(one.checked_sub(one), None);
        assert_eq!(max.checked_sub(one).map(AmountMinor::get), Some(AmountMinor::MAX - 1));
        let total = MinorUnits::new(i64::MAX).unwrap();
        assert_eq!(total.checked_add(one), None);
        assert_eq!(MinorUnits::ZERO.checked_sub(one), None);
        assert_eq!(MinorUnits::ZERO.saturating_sub(total), MinorUnits::ZERO);
    }

    #[test]
    fn display_uses_the_currency_exponent() {
        let money = |minor, code| Money::new(AmountMinor::new(minor).unwrap(), Currency::parse(code).unwrap());
        assert_eq!(money(7500, "USD").to_string(), "75.00 USD");
        assert_eq!(money(5, "EUR").to_string(), "0.05 EUR");
        assert_eq!(money(500, "JPY").to_string(), "500 JPY");
        assert_eq!(money(1250, "KWD").to_string(), "1.250 KWD");
    }
}
