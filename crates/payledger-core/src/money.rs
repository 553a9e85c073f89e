//! Money: ISO 4217 currencies with their exponents, and integer amounts in
//! minor units. There is no float anywhere in this module by design: amounts
//! are `i64` minor units (cents, yen, fils) and parse only from JSON integers.

mod amount;
mod currency;
mod decimal;

pub use amount::{AmountMinor, MinorUnits, Money};
pub use currency::Currency;
pub use decimal::{parse_major_decimal, DecimalError};

/// Why an amount or a currency was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("amount must be greater than zero, got {0}")]
    NotPositive(i64),
    #[error("amount must not be negative, got {0}")]
    Negative(i64),
    #[error("amount overflows a 64-bit count of minor units")]
    Overflow,
    #[error("amount must be at most 999999999999999 minor units, got {0}")]
    TooLarge(i64),
    #[error("currency must be three uppercase ISO 4217 letters, got {0:?}")]
    MalformedCurrency(String),
    #[error("unknown ISO 4217 currency {0:?}")]
    UnknownCurrency(String),
}

impl MoneyError {
    /// Stable machine-readable code, for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::NotPositive(_) => "amount_not_positive",
            MoneyError::Negative(_) => "amount_negative",
            MoneyError::Overflow => "amount_overflow",
            MoneyError::TooLarge(_) => "amount_too_large",
            MoneyError::MalformedCurrency(_) => "currency_malformed",
            MoneyError::UnknownCurrency(_) => "currency_unknown",
        }
    }
}
