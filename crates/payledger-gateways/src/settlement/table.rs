//! The CSV layer shared by the formats: header checks, one [`Row`] per record with its
//! physical line number and raw text, and the file's limits.

use std::collections::HashMap;

use csv::{ByteRecord, ErrorKind, StringRecord};
use payledger_core::settlement::SettlementLine;

use super::problems::{LineProblem, Problems};
use super::ReportRefused;

/// Most data lines in one report; a longer file is refused (split it).
pub const MAX_LINES: usize = 1_000_000;

/// Longest data line, in bytes: the raw text is stored with each line.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// A report format: the columns it needs and how it reads one row.
pub(super) struct Format {
    pub required: &'static [&'static str],
    pub line: fn(&mut Row<'_>) -> Option<SettlementLine>,
}

/// One data record, its cells found by header name.
pub(super) struct Row<'a> {
    pub line: u32,
    pub raw: &'a str,
    record: &'a StringRecord,
    columns: &'a HashMap<String, usize>,
    problems: &'a mut Problems,
    problems_before: usize,
}

impl<'a> Row<'a> {
    /// The cell as written; empty when the file has no such column.
    pub fn cell(&self, column: &str) -> &'a str {
        let record: &'a StringRecord = self.record;
        self.columns.get(column).and_then(|&index| record.get(index)).unwrap_or("")
    }

    pub fn problem(&mut self, column: &str, reason: String) {
        self.problems.push(self.line, Some(column), reason);
    }

    /// Whether any cell of this row was refused so far.
    pub fn failed(&self) -> bool {
        self.problems.total() > self.problems_before
    }
}

pub(super) fn parse(bytes: &[u8], format: &Format) -> Result<Vec<SettlementLine>, ReportRefused> {
    let mut problems = Problems::default();
    let mut reader = csv::ReaderBuilder::new().has_headers(true).flexible(false).from_reader(bytes);
    let Some((names, columns)) = header(&mut reader, format, &mut problems) else {
        return problems.into_result(Vec::new());
    };
    let mut lines = Vec::new();
    let mut counter = LineCounter { bytes, offset: 0, line: 1 };
    let mut record = ByteRecord::new();
    let mut count = 0usize;
    loop {
        let read = reader.read_byte_record(&mut record);
        let start = match &read {
            Ok(false) => break,
            Ok(true) => record.position().map_or(0, csv::Position::byte),
            Err(e) => e.position().map_or(counter.offset as u64, csv::Position::byte),
        };
        let start = skip_terminators(bytes, to_usize(start));
        let line = counter.line_at(start);
        count += 1;
        if count > MAX_LINES {
            // Alone, so that the cap on problems never hides it.
            let reason = format!("the file has more than {MAX_LINES} data lines; split it");
            return Err(ReportRefused { problems: vec![LineProblem { line, column: None, reason }] });
        }
        if let Err(e) = read {
            match e.kind() {
                ErrorKind::UnequalLengths { expected_len, len, .. } => {
                    problems.push(line, None, format!("the line has {len} cells; the header has {expected_len}"));
                    continue;
                }
                _ => {
                    problems.push(line, None, format!("the file is not readable as CSV here: {e}"));
                    break;
                }
            }
        }
        let end = trim_terminators(bytes, start, to_usize(reader.position().byte()));
        let Some(record) = checked(&bytes[start..end], &record, &names, line, &mut problems) else { continue };
        let Ok(raw) = std::str::from_utf8(&bytes[start..end]) else { continue };
        let problems_before = problems.total();
        let mut row = Row { line, raw, record: &record, columns: &columns, problems: &mut problems, problems_before };
        if let Some(parsed) = (format.line)(&mut row) {
            if !row.failed() {
                lines.push(parsed);
            }
        }
    }
    problems.into_result(lines)
}

type Header = (Vec<String>, HashMap<String, usize>);

/// The header's names and where each is, or `None` (with the problems) when it is unusable.
fn header(reader: &mut csv::Reader<&[u8]>, format: &Format, problems: &mut Problems) -> Option<Header> {
    let raw = match reader.byte_headers() {
        Ok(raw) => raw.clone(),
        Err(e) => {
            problems.push(1, None, format!("the header is not readable as CSV: {e}"));
            return None;
        }
    };
    if raw.iter().all(<[u8]>::is_empty) {
        problems.push(1, None, "the file is empty: it has no header line".to_owned());
        return None;
    }
    let Ok(names) = StringRecord::from_byte_record(raw) else {
        problems.push(1, None, "the header is not UTF-8".to_owned());
        return None;
    };
    let mut columns = HashMap::new();
    for (index, name) in names.iter().enumerate() {
        if name.contains('\0') {
            problems.push(1, None, format!("header cell {} contains a NUL byte", index + 1));
        } else if columns.insert(name.to_owned(), index).is_some() {
            problems.push(1, Some(name), "the column appears more than once in the header".to_owned());
        }
    }
    for &required in format.required {
        if !columns.contains_key(required) {
            problems.push(1, Some(required), "the required column is missing from the header".to_owned());
        }
    }
    let names = names.iter().map(str::to_owned).collect();
    (problems.total() == 0).then_some((names, columns))
}

/// The record as text, or `None` with a problem when the line is too long, not UTF-8 or
/// holds a NUL byte.
fn checked(
    raw: &[u8],
    record: &ByteRecord,
    names: &[String],
    line: u32,
    problems: &mut Problems,
) -> Option<StringRecord> {
    if raw.len() > MAX_LINE_BYTES {
        problems.push(line, None, format!("the line is longer than {MAX_LINE_BYTES} bytes"));
        return None;
    }
    if let Err(e) = std::str::from_utf8(raw) {
        problems.push(line, None, format!("the line is not UTF-8 (byte {} of the line)", e.valid_up_to() + 1));
        return None;
    }
    if raw.contains(&0) {
        for (index, cell) in record.iter().enumerate() {
            if cell.contains(&0) {
                let column = names.get(index).map(String::as_str);
                problems.push(line, column, "the cell contains a NUL byte".to_owned());
            }
        }
        return None;
    }
    StringRecord::from_byte_record(record.clone()).ok()
}

fn to_usize(byte: u64) -> usize {
    usize::try_from(byte).unwrap_or(usize::MAX)
}

/// The reader reports a record as starting on the terminator of the line before it (and
/// skips blank lines); the record's text starts after them.
fn skip_terminators(bytes: &[u8], start: usize) -> usize {
    let mut start = start.min(bytes.len());
    while matches!(bytes.get(start), Some(b'\r' | b'\n')) {
        start += 1;
    }
    start
}

/// Where the record's text ends: before its terminator. An unquoted cell holds no `\r` or
/// `\n`, and a quoted one ends with `"`, so trailing terminator bytes are never content.
fn trim_terminators(bytes: &[u8], start: usize, end: usize) -> usize {
    let mut end = end.clamp(start, bytes.len());
    while end > start && matches!(bytes[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    end
}

/// Physical line numbers (`\n`, `\r\n` or a lone `\r` ends a line), counted forward once.
struct LineCounter<'a> {
    bytes: &'a [u8],
    offset: usize,
    line: u32,
}

impl LineCounter<'_> {
    fn line_at(&mut self, target: usize) -> u32 {
        let target = target.min(self.bytes.len());
        for index in self.offset..target {
            let ends_line = match self.bytes[index] {
                b'\n' => true,
                b'\r' => self.bytes.get(index + 1) != Some(&b'\n'),
                _ => false,
            };
            if ends_line {
                self.line = self.line.saturating_add(1);
            }
        }
        self.offset = self.offset.max(target);
        self.line
    }
}
