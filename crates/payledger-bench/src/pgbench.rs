//! Running `pgbench` with a custom script and reading its figures back.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::error::BenchError;
use crate::stats::Latency;

/// The file name prefix of pgbench's per-transaction logs (`-l --log-prefix`).
const LOG_PREFIX: &str = "pgbench_log";
/// Most bytes of pgbench output kept in an error message.
const MAX_ERROR_OUTPUT_BYTES: usize = 2_000;

/// The pgbench script of the ceiling: one single-row INSERT of the events row shape, in its
/// own (implicit) transaction. Every value is a pgbench variable, sent as a bind parameter
/// with `-M prepared`, as the Rust harness sends them. `v` counts this client's
/// transactions (variables persist across a client's transactions), so that streams are
/// ten events long as in the ledger runs, and event ids are unique and ascending per client.
pub(crate) const CEILING_SCRIPT: &str = r#"\set v :v + 1
\set n :client_id * 1000000000 + :v
\set s (:v - 1) / 10
\set ver (:v - 1) % 10 + 1
INSERT INTO bench_ceiling (event_id, tenant_id, stream_id, stream_version, event_type, schema_version,
                           payload, metadata, recorded_at, dedupe_key, prev_hash, hash)
VALUES ((lpad(to_hex(:phase::int), 8, '0') || '-0000-7000-8000-' || lpad(to_hex(:n::bigint), 12, '0'))::uuid,
        :tenant::uuid, format('pgbench-%s-%s-%s', :phase::int, :client_id::int, :s::bigint), :ver::bigint,
        'PaymentCaptured', 1, :payload::jsonb, :metadata::jsonb, now(), NULL, :prev_hash::bytea, :hash::bytea);
"#;

/// How long pgbench runs: `-T seconds` or `-t transactions per client`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum PgbenchLimit {
    Seconds(u64),
    TransactionsPerClient(u64),
}

/// One pgbench invocation.
pub(crate) struct PgbenchRun<'a> {
    pub program: &'a Path,
    pub database_url: &'a str,
    pub clients: usize,
    pub limit: PgbenchLimit,
    pub script: &'a Path,
    /// `-D name=value` definitions.
    pub variables: &'a [(&'a str, String)],
    /// Working directory for the per-transaction logs; must hold no other pgbench logs.
    pub log_dir: &'a Path,
    pub timeout: Duration,
    pub max_latency_samples: usize,
}

/// What pgbench reported.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PgbenchOutcome {
    pub transactions: u64,
    pub failed_transactions: u64,
    /// `tps = ... (without initial connection time)`.
    pub tps: f64,
    pub latency: Option<Latency>,
}

/// The pgbench command line, for the report (the URL is not shown).
pub(crate) fn describe_command(program: &Path, clients: usize, limit: PgbenchLimit) -> String {
    let limit = match limit {
        PgbenchLimit::Seconds(s) => format!("-T {s}"),
        PgbenchLimit::TransactionsPerClient(t) => format!("-t {t}"),
    };
    format!(
        "{} -n -M prepared -c {clients} -j {clients} {limit} -f ceiling.sql -D v=0 -D phase=.. -D tenant=.. \
         -D payload=.. -D metadata=.. -D prev_hash=.. -D hash=.. -l \"$DATABASE_URL/<bench db>\"",
        program.display()
    )
}

pub(crate) async fn run(spec: &PgbenchRun<'_>) -> Result<PgbenchOutcome, BenchError> {
    let mut command = tokio::process::Command::new(spec.program);
    command
        .current_dir(spec.log_dir)
        .arg("-n")
        .args(["-M", "prepared"])
        .args(["-c", &spec.clients.to_string()])
        .args(["-j", &spec.clients.to_string()]);
    match spec.limit {
        PgbenchLimit::Seconds(s) => command.args(["-T", &s.to_string()]),
        PgbenchLimit::TransactionsPerClient(t) => command.args(["-t", &t.to_string()]),
    };
    command.arg("-f").arg(spec.script);
    for (name, value) in spec.variables {
        command.arg("-D").arg(format!("{name}={value}"));
    }
    command
        .arg("-l")
        .arg(format!("--log-prefix={}", spec.log_dir.join(LOG_PREFIX).display()))
        .arg(spec.database_url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child =
        command.spawn().map_err(|e| BenchError::Pgbench(format!("cannot start {}: {e}", spec.program.display())))?;
    let output = tokio::time::timeout(spec.timeout, child.wait_with_output())
        .await
        .map_err(|_| BenchError::Pgbench(format!("did not finish within {} s; killed", spec.timeout.as_secs())))??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(BenchError::Pgbench(format!(
            "exited with {}: {}",
            output.status,
            tail(&format!("{stdout}\n{stderr}"), MAX_ERROR_OUTPUT_BYTES)
        )));
    }
    let (transactions, failed_transactions, tps) = parse_summary(&stdout)
        .ok_or_else(|| BenchError::Pgbench(format!("unexpected output: {}", tail(&stdout, MAX_ERROR_OUTPUT_BYTES))))?;
    let latency = Latency::from_micros(read_log_latencies(spec.log_dir, spec.max_latency_samples)?);
    remove_logs(spec.log_dir)?;
    Ok(PgbenchOutcome { transactions, failed_transactions, tps, latency })
}

/// `(transactions processed, failed transactions, tps without initial connection time)`.
fn parse_summary(stdout: &str) -> Option<(u64, u64, f64)> {
    let mut processed = None;
    let mut failed = 0;
    let mut tps = None;
    for line in stdout.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("number of transactions actually processed:") {
            // "1234" with -T, "1234/2000" with -t.
            processed = rest.trim().split('/').next().and_then(|n| n.trim().parse::<u64>().ok());
        } else if let Some(rest) = line.strip_prefix("number of failed transactions:") {
            failed = rest.split_whitespace().next().and_then(|n| n.parse::<u64>().ok())?;
        } else if let Some(rest) = line.strip_prefix("tps =") {
            if rest.contains("without initial connection time") {
                tps = rest.split_whitespace().next().and_then(|n| n.parse::<f64>().ok());
            }
        }
    }
    Some((processed?, failed, tps?))
}

/// Latencies in microseconds from pgbench's per-transaction logs (third field of each line:
/// `client_id transaction_no time script_no time_epoch time_us`). Failed transactions log a
/// word instead of a time and are skipped.
fn read_log_latencies(dir: &Path, max_samples: usize) -> Result<Vec<u64>, BenchError> {
    let mut samples = Vec::new();
    for path in log_files(dir)? {
        let text = std::fs::read_to_string(&path)?;
        for line in text.lines() {
            if samples.len() >= max_samples {
                return Ok(samples);
            }
            if let Some(latency_us) = line.split_whitespace().nth(2).and_then(|f| f.parse::<u64>().ok()) {
                samples.push(latency_us);
            }
        }
    }
    Ok(samples)
}

fn log_files(dir: &Path) -> Result<Vec<PathBuf>, BenchError> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(LOG_PREFIX) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

pub(crate) fn remove_logs(dir: &Path) -> Result<(), BenchError> {
    for path in log_files(dir)? {
        std::fs::remove_file(path)?;
    }
    Ok(())
}

fn tail(text: &str, max_bytes: usize) -> &str {
    let text = text.trim();
    if text.len() <= max_bytes {
        return text;
    }
    let mut start = text.len() - max_bytes;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// pgbench on PATH, else the newest under /usr/lib/postgresql/*/bin (Debian, Ubuntu).
pub(crate) fn find() -> Option<PathBuf> {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join("pgbench");
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let candidate = entry.path().join("bin").join("pgbench");
            candidate.is_file().then_some((version, candidate))
        })
        .collect();
    versioned.sort();
    versioned.pop().map(|(_, path)| path)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMED_OUTPUT: &str = "pgbench (15.18 (Debian 15.18-0+deb12u1))
transaction type: ceiling.sql
scaling factor: 1
query mode: prepared
number of clients: 4
number of threads: 4
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 6481
number of failed transactions: 0 (0.000%)
latency average = 3.083 ms
initial connection time = 9.012 ms
tps = 1297.388245 (without initial connection time)
";

    #[test]
    fn parses_a_timed_run() {
        assert_eq!(parse_summary(TIMED_OUTPUT), Some((6481, 0, 1297.388245)));
    }

    #[test]
    fn parses_a_counted_run() {
        let out = "number of transactions actually processed: 24/24\nnumber of failed transactions: 2 (8.333%)\n\
                   tps = 272.099588 (without initial connection time)\n";
        assert_eq!(parse_summary(out), Some((24, 2, 272.099588)));
    }

    #[test]
    fn refuses_output_without_tps() {
        assert_eq!(parse_summary("number of transactions actually processed: 24/24\n"), None);
    }

    #[test]
    fn reads_latencies_from_logs_and_removes_them() {
        let dir = std::env::temp_dir().join(format!("payledger-bench-test-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("pgbench_log.1"), "0 1 6280 0 1795265934 458476\n0 2 7855 0 1795265934 466369\n")
            .unwrap();
        std::fs::write(dir.join("pgbench_log.1.1"), "1 1 failed 0 1795265934 462455\n1 2 4224 0 1795265934 1\n")
            .unwrap();
        std::fs::write(dir.join("other"), "1 2 3\n").unwrap();
        let mut samples = read_log_latencies(&dir, 100).unwrap();
        samples.sort();
        assert_eq!(samples, vec![4224, 6280, 7855]);
        assert_eq!(read_log_latencies(&dir, 2).unwrap().len(), 2);
        remove_logs(&dir).unwrap();
        assert!(log_files(&dir).unwrap().is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail(" ab ", 3), "ab");
    }
}
