//! Adyen's `TimeZone` cell: an IANA name (`Europe/Amsterdam`, `CET`, `UTC`) read with
//! chrono-tz, or a daylight abbreviation chrono-tz lacks (`CEST`, `PST`, `PDT`), which
//! names a fixed offset.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

/// Abbreviations that are no IANA zone, with their offset from UTC in seconds. Ambiguous
/// ones (`IST`, `CST` of China) are left out: the zone's name must be used.
const ABBREVIATIONS: &[(&str, i32)] = &[
    ("ACST", 34_200),
    ("AEDT", 39_600),
    ("AEST", 36_000),
    ("AKDT", -28_800),
    ("AKST", -32_400),
    ("AWST", 28_800),
    ("BST", 3_600),
    ("CDT", -18_000),
    ("CEST", 7_200),
    ("CST", -21_600),
    ("EDT", -14_400),
    ("EEST", 10_800),
    ("HKT", 28_800),
    ("JST", 32_400),
    ("KST", 32_400),
    ("MDT", -21_600),
    ("NZDT", 46_800),
    ("NZST", 43_200),
    ("PDT", -25_200),
    ("PST", -28_800),
    ("SGT", 28_800),
    ("WEST", 3_600),
];

#[derive(Debug, Clone, Copy)]
pub(super) enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub(super) fn parse(name: &str) -> Option<Zone> {
        if let Ok(tz) = name.parse::<Tz>() {
            return Some(Zone::Named(tz));
        }
        let &(_, seconds) = ABBREVIATIONS.iter().find(|(abbreviation, _)| *abbreviation == name)?;
        FixedOffset::east_opt(seconds).map(Zone::Fixed)
    }

    /// The instant a local time names: the earlier one when a clock change repeats it,
    /// none when a clock change skips it.
    pub(super) fn instant(self, local: NaiveDateTime) -> Option<DateTime<Utc>> {
        match self {
            Zone::Named(tz) => earliest(tz.from_local_datetime(&local)),
            Zone::Fixed(offset) => earliest(offset.from_local_datetime(&local)),
        }
    }
}

fn earliest<Z: TimeZone>(local: LocalResult<DateTime<Z>>) -> Option<DateTime<Utc>> {
    match local {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, second) => Some(first.with_timezone(&Utc).min(second.with_timezone(&Utc))),
        LocalResult::None => None,
    }
}
