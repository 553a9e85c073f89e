//! Reading one cell: text, references, currencies, amounts and times, each refusal a
//! problem on its column. Nothing is trimmed: a cell is read as written.

use chrono::{NaiveDate, NaiveDateTime};
use payledger_core::money::{parse_major_decimal, Currency};

use super::table::Row;
use crate::MAX_REFERENCE_LEN;

impl<'a> Row<'a> {
    /// The cell, or `None` when it is empty or too long (a problem).
    pub fn text(&mut self, column: &str) -> Option<&'a str> {
        let text = self.cell(column);
        if text.len() > MAX_REFERENCE_LEN {
            self.problem(column, format!("the cell is longer than {MAX_REFERENCE_LEN} bytes"));
            return None;
        }
        (!text.is_empty()).then_some(text)
    }

    /// The cell, with a problem when it is empty.
    pub fn required(&mut self, column: &str) -> Option<&'a str> {
        if self.cell(column).is_empty() {
            self.problem(column, "the cell is empty; it is required".to_owned());
            return None;
        }
        self.text(column)
    }

    /// The cell as an owned reference, `None` when empty.
    pub fn reference(&mut self, column: &str) -> Option<String> {
        self.text(column).map(str::to_owned)
    }

    /// An ISO 4217 code in any case (`usd`, `USD`).
    pub fn currency(&mut self, column: &str) -> Option<Currency> {
        let text = self.required(column)?;
        match Currency::parse(&text.to_ascii_uppercase()) {
            Ok(currency) => Some(currency),
            Err(_) => {
                self.problem(column, format!("{text:?} is not a known ISO 4217 currency"));
                None
            }
        }
    }

    /// A required amount in major units of `currency` (unchecked when the currency is bad).
    pub fn amount(&mut self, column: &str, currency: Option<Currency>) -> Option<i64> {
        let text = self.required(column)?;
        self.decimal(column, text, currency?)
    }

    /// An amount that may be left empty: `Some(None)` when empty, `None` when refused.
    pub fn optional_amount(&mut self, column: &str, currency: Option<Currency>) -> Option<Option<i64>> {
        match self.text(column) {
            None if !self.cell(column).is_empty() => None,
            None => Some(None),
            Some(text) => self.decimal(column, text, currency?).map(Some),
        }
    }

    fn decimal(&mut self, column: &str, text: &str, currency: Currency) -> Option<i64> {
        match parse_major_decimal(text, currency) {
            Ok(minor) => Some(minor),
            Err(e) => {
                self.problem(column, format!("{e}"));
                None
            }
        }
    }

    /// `YYYY-MM-DD HH:MM:SS`, exactly.
    pub fn local_time(&mut self, column: &str) -> Option<NaiveDateTime> {
        let text = self.required(column)?;
        let parsed = shaped(text, DATE_TIME_SHAPE)
            .then(|| NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok())
            .flatten();
        if parsed.is_none() {
            self.problem(column, format!("{text:?} is not a date and time YYYY-MM-DD HH:MM:SS"));
        }
        parsed
    }

    /// `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS` (the date is kept), `None` when empty.
    pub fn optional_date(&mut self, column: &str) -> Option<Option<NaiveDate>> {
        let Some(text) = self.text(column) else {
            return (self.cell(column).is_empty()).then_some(None);
        };
        let date = text.get(..DATE_SHAPE.len()).unwrap_or(text);
        let parsed = (shaped(text, DATE_SHAPE) || shaped(text, DATE_TIME_SHAPE))
            .then(|| NaiveDate::parse_from_str(date, "%Y-%m-%d").ok())
            .flatten();
        let time_ok =
            text.len() == DATE_SHAPE.len() || NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").is_ok();
        match parsed {
            Some(date) if time_ok => Some(Some(date)),
            _ => {
                self.problem(column, format!("{text:?} is not a date YYYY-MM-DD or YYYY-MM-DD HH:MM:SS"));
                None
            }
        }
    }
}

const DATE_SHAPE: &str = "0000-00-00";
const DATE_TIME_SHAPE: &str = "0000-00-00 00:00:00";

/// Whether `text` has the shape (`0` a digit, anything else itself): chrono alone would
/// accept single digits, signs and spaces.
fn shaped(text: &str, shape: &str) -> bool {
    text.len() == shape.len()
        && text.bytes().zip(shape.bytes()).all(|(t, s)| if s == b'0' { t.is_ascii_digit() } else { t == s })
}
