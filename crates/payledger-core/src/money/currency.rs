use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::MoneyError;

/// An ISO 4217 currency that this ledger knows, with its exponent (the number
/// of minor-unit digits: JPY 0, USD 2, KWD 3). Only currencies of the built-in table exist,
/// so holding a `Currency` proves the code is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: &'static str,
    exponent: u8,
}

impl Currency {
    pub const USD: Currency = Currency { code: "USD", exponent: 2 };
    pub const EUR: Currency = Currency { code: "EUR", exponent: 2 };
    pub const GBP: Currency = Currency { code: "GBP", exponent: 2 };
    pub const JPY: Currency = Currency { code: "JPY", exponent: 0 };
    pub const KWD: Currency = Currency { code: "KWD", exponent: 3 };

    /// Parses an uppercase three-letter ISO 4217 code. Lowercase is refused
    /// rather than folded, so that a stored code is always its canonical form.
    pub fn parse(code: &str) -> Result<Currency, MoneyError> {
        let well_formed = code.len() == 3 && code.bytes().all(|b| b.is_ascii_uppercase());
        if !well_formed {
            return Err(MoneyError::MalformedCurrency(code.to_owned()));
        }
        TABLE
            .binary_search_by(|(known, _)| known.cmp(&code))
            .map(|index| {
                let (code, exponent) = TABLE[index];
                Currency { code, exponent }
            })
            .map_err(|_| MoneyError::UnknownCurrency(code.to_owned()))
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point in the major unit.
    pub fn exponent(&self) -> u8 {
        self.exponent
    }

    /// Every known currency, sorted by code.
    pub fn all() -> impl Iterator<Item = Currency> {
        TABLE.iter().map(|&(code, exponent)| Currency { code, exponent })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code)
    }
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Currency::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.code)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// Active ISO 4217 currencies and their exponents, sorted by code (binary
/// search relies on it; a test checks it). Precious metals and testing codes
/// (XAU, XTS, XXX) are left out: they have no minor unit.
#[rustfmt::skip]
const TABLE: &[(&str, u8)] = &[
    ("AED", 2), ("AFN", 2), ("ALL", 2), ("AMD", 2), ("ANG", 2), ("AOA", 2), ("ARS", 2),
    ("AUD", 2), ("AWG", 2), ("AZN", 2), ("BAM", 2), ("BBD", 2), ("BDT", 2), ("BGN", 2),
    ("BHD", 3), ("BIF", 0), ("BMD", 2), ("BND", 2), ("BOB", 2), ("BRL", 2), ("BSD", 2),
    ("BTN", 2), ("BWP", 2), ("BYN", 2), ("BZD", 2), ("CAD", 2), ("CDF", 2), ("CHF", 2),
    ("CLF", 4), ("CLP", 0), ("CNY", 2), ("COP", 2), ("CRC", 2), ("CUP", 2), ("CVE", 2),
    ("CZK", 2), ("DJF", 0), ("DKK", 2), ("DOP", 2), ("DZD", 2), ("EGP", 2), ("ERN", 2),
    ("ETB", 2), ("EUR", 2), ("FJD", 2), ("FKP", 2), ("GBP", 2), ("GEL", 2), ("GHS", 2),
    ("GIP", 2), ("GMD", 2), ("GNF", 0), ("GTQ", 2), ("GYD", 2), ("HKD", 2), ("HNL", 2),
    ("HTG", 2), ("HUF", 2), ("IDR", 2), ("ILS", 2), ("INR", 2), ("IQD", 3), ("IRR", 2),
    ("ISK", 0), ("JMD", 2), ("JOD", 3), ("JPY", 0), ("KES", 2), ("KGS", 2), ("KHR", 2),
    ("KMF", 0), ("KPW", 2), ("KRW", 0), ("KWD", 3), ("KYD", 2), ("KZT", 2), ("LAK", 2),
    ("LBP", 2), ("LKR", 2), ("LRD", 2), ("LSL", 2), ("LYD", 3), ("MAD", 2), ("MDL", 2),
    ("MGA", 2), ("MKD", 2), ("MMK", 2), ("MNT", 2), ("MOP", 2), ("MRU", 2), ("MUR", 2),
    ("MVR", 2), ("MWK", 2), ("MXN", 2), ("MYR", 2), ("MZN", 2), ("NAD", 2), ("NGN", 2),
    ("NIO", 2), ("NOK", 2), ("NPR", 2), ("NZD", 2), ("OMR", 3), ("PAB", 2), ("PEN", 2),
    ("PGK", 2), ("PHP", 2), ("PKR", 2), ("PLN", 2), ("PYG", 0), ("QAR", 2), ("RON", 2),
    ("RSD", 2), ("RUB", 2), ("RWF", 0), ("SAR", 2), ("SBD", 2), ("SCR", 2), ("SDG", 2),
    ("SEK", 2), ("SGD", 2), ("SHP", 2), ("SLE", 2), ("SOS", 2), ("SRD", 2), ("SSP", 2),
    ("STN", 2), ("SVC", 2), ("SYP", 2), ("SZL", 2), ("THB", 2), ("TJS", 2), ("TMT", 2),
    ("TND", 3), ("TOP", 2), ("TRY", 2), ("TTD", 2), ("TWD", 2), ("TZS", 2), ("UAH", 2),
    ("UGX", 0), ("USD", 2), ("UYI", 0), ("UYU", 2), ("UYW", 4), ("UZS", 2), ("VES", 2),
    ("VND", 0), ("VUV", 0), ("WST", 2), ("XAF", 0), ("XCD", 2), ("XCG", 2), ("XOF", 0),
    ("XPF", 0), ("YER", 2), ("ZAR", 2), ("ZMW", 2), ("ZWG", 2),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique_so_binary_search_works() {
        assert!(TABLE.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn constants_agree_with_the_table() {
        for constant in [Currency::USD, Currency::EUR, Currency::GBP, Currency::JPY, Currency::KWD] {
            assert_eq!(Currency::parse(constant.code()), Ok(constant));
        }
    }

    #[test]
    fn exponents_of_well_known_currencies() {
        #[rustfmt::skip]
        let expected = [
            ("JPY", 0), ("KRW", 0), ("CLP", 0), ("VND", 0), ("USD", 2), ("EUR", 2),
            ("GBP", 2), ("CHF", 2), ("CAD", 2), ("AUD", 2), ("CNY", 2), ("INR", 2),
            ("KWD", 3), ("BHD", 3), ("JOD", 3), ("OMR", 3), ("TND", 3), ("CLF", 4),
        ];
        for (code, exponent) in expected {
            assert_eq!(Currency::parse(code).map(|c| c.exponent()), Ok(exponent), "{code}");
        }
    }

    #[test]
    fn refuses_lowercase_short_long_and_unknown_codes() {
        for bad in ["usd", "Usd", "US", "USDD", "", "U$D", "ÜSD"] {
            assert!(matches!(Currency::parse(bad), Err(MoneyError::MalformedCurrency(_))), "{bad}");
        }
        assert_eq!(Currency::parse("ABC"), Err(MoneyError::UnknownCurrency("ABC".into())));
        assert!(matches!(Currency::parse("XAU"), Err(MoneyError::UnknownCurrency(_))));
    }

    #[test]
    fn serde_is_the_code_and_deserialize_validates() {
        assert_eq!(serde_json::to_string(&Currency::JPY).unwrap(), "\"JPY\"");
        let back: Currency = serde_json::from_str("\"KWD\"").unwrap();
        assert_eq!(back, Currency::KWD);
        assert!(serde_json::from_str::<Currency>("\"usd\"").is_err());
        assert!(serde_json::from_str::<Currency>("\"ZZZ\"").is_err());
        assert!(serde_json::from_str::<Currency>("840").is_err());
    }
}
