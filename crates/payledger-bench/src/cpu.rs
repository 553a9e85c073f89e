//! Who used the CPUs during a measured interval (Linux, from /proc): this process (in the API
//! benchmark the server, projector, webhook processor and load generator together: they share
//! one tokio runtime and cannot be told apart), the PostgreSQL processes on this machine, and
//! everything else. All figures are shares of the machine's CPU time in the interval, in the
//! kernel's own ticks, so no tick rate is assumed.

use serde::{Deserialize, Serialize};

/// Ticks counted at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuSample {
    /// All CPUs, busy and idle (/proc/stat `cpu` line).
    machine_total: u64,
    machine_idle: u64,
    this_process: u64,
    postgres: u64,
}

/// The shares of one interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CpuShares {
    /// Share of all CPUs' time, 0..=1.
    pub this_process: f64,
    pub postgres: f64,
    pub other: f64,
    pub idle: f64,
}

impl CpuShares {
    /// CPU milliseconds per operation for a share, given the interval and the CPUs.
    pub fn ms_per_op(share: f64, interval_s: f64, cpus: usize, ops: u64) -> Option<f64> {
        (ops > 0).then(|| share * interval_s * cpus as f64 * 1000.0 / ops as f64)
    }
}

pub(crate) fn sample() -> Option<CpuSample> {
    let (machine_total, machine_idle) = machine_ticks()?;
    Some(CpuSample {
        machine_total,
        machine_idle,
        this_process: process_ticks("/proc/self/stat")?,
        postgres: postgres_ticks(),
    })
}

/// The shares between two samples; `None` if nothing was counted.
pub(crate) fn shares(before: CpuSample, after: CpuSample) -> Option<CpuShares> {
    let total = after.machine_total.checked_sub(before.machine_total).filter(|t| *t > 0)? as f64;
    let part = |a: u64, b: u64| (a.saturating_sub(b) as f64 / total).clamp(0.0, 1.0);
    let this_process = part(after.this_process, before.this_process);
    let postgres = part(after.postgres, before.postgres);
    let idle = part(after.machine_idle, before.machine_idle);
    let other = (1.0 - this_process - postgres - idle).max(0.0);
    Some(CpuShares { this_process, postgres, other, idle })
}

/// (all ticks, idle + iowait ticks) of the `cpu` line.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line.split_whitespace().skip(1).filter_map(|t| t.parse().ok()).collect();
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total = ticks.iter().take(8).sum();
    let idle = ticks.get(3)? + ticks.get(4).copied().unwrap_or(0);
    Some((total, idle))
}

/// utime + stime of one process (its threads included).
fn process_ticks(stat_path: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(stat_path).ok()?;
    parse_process_ticks(&stat)
}

/// Fields after the command name, which is in parentheses and may hold spaces.
fn parse_process_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ")": state(0) ppid(1) ... utime(11) stime(12).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Every process named `postgres` (server, backends, background workers). A process that
/// ends within the interval takes its ticks with it: connections are pooled, so few do.
fn postgres_ticks() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(Result::ok)
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit())))
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| stat.contains("(postgres)"))
        .filter_map(|stat| parse_process_ticks(&stat))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_is_skipped() {
        let stat = "42 (tokio (rt) x) S 1 42 42 0 -1 4194560 100 0 0 0 700 50 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_process_ticks(stat), Some(750));
    }

    #[test]
    fn shares_add_up_and_idle_is_its_own() {
        let before = CpuSample { machine_total: 1000, machine_idle: 100, this_process: 10, postgres: 20 };
        let after = CpuSample { machine_total: 2000, machine_idle: 300, this_process: 210, postgres: 620 };
        let s = shares(before, after).unwrap();
        assert_eq!((s.this_process, s.postgres, s.idle), (0.2, 0.6, 0.2));
        assert!(s.other.abs() < 1e-9);
        assert_eq!(shares(after, after), None, "an empty interval has no shares");
    }

    #[test]
    fn this_process_is_counted_on_linux() {
        let a = sample().expect("/proc is readable");
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(50) {
            std::hint::black_box(0u64);
        }
        let b = sample().expect("/proc is readable");
        assert!(b.this_process > a.this_process, "50 ms of spinning shows in utime");
    }

    #[test]
    fn per_operation_milliseconds() {
        assert_eq!(CpuShares::ms_per_op(0.5, 10.0, 2, 1000), Some(10.0));
        assert_eq!(CpuShares::ms_per_op(0.5, 10.0, 2, 0), None);
    }
}
