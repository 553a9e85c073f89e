//! The problems of one file, collected in order and bounded.

use std::fmt;

use serde::Serialize;

use super::ReportRefused;

/// Most problems a refusal lists; past that the last one says how many more there were.
pub const MAX_PROBLEMS: usize = 1000;

/// One thing wrong with a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LineProblem {
    /// The physical line (the header is 1) where the bad line starts.
    pub line: u32,
    /// The header name of the bad cell; `None` for a problem of the whole line or file.
    pub column: Option<String>,
    pub reason: String,
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.column {
            Some(column) => write!(f, "line {} column {}: {}", self.line, column, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

#[derive(Debug, Default)]
pub(super) struct Problems {
    kept: Vec<LineProblem>,
    total: usize,
}

impl Problems {
    pub(super) fn push(&mut self, line: u32, column: Option<&str>, reason: String) {
        self.total += 1;
        if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(LineProblem { line, column: column.map(str::to_owned), reason });
        }
    }

    /// How many were pushed so far (kept or not): a line is bad when this grew.
    pub(super) fn total(&self) -> usize {
        self.total
    }

    pub(super) fn into_result<T>(self, value: T) -> Result<T, ReportRefused> {
        if self.total == 0 {
            return Ok(value);
        }
        let mut problems = self.kept;
        if self.total > MAX_PROBLEMS {
            // The last kept one makes room for the count of those not shown.
            let line = problems.pop().map_or(1, |p| p.line);
            let more = self.total - problems.len();
            problems.push(LineProblem { line, column: None, reason: format!("and {more} more problems") });
        }
        Err(ReportRefused { problems })
    }
}
