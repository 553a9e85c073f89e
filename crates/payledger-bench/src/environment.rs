//! Where a benchmark ran: the machine and the PostgreSQL settings that decide commit cost.

use serde::{Deserialize, Serialize};

use crate::error::BenchError;

/// The PostgreSQL settings reported with every run: those that decide what a commit costs.
pub(crate) const REPORTED_SETTINGS: [&str; 10] = [
    "fsync",
    "synchronous_commit",
    "full_page_writes",
    "wal_sync_method",
    "shared_buffers",
    "wal_buffers",
    "max_wal_size",
    "checkpoint_timeout",
    "commit_delay",
    "max_connections",
];

/// The machine the benchmark client ran on, and the server it measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Environment {
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// `model name` of the first CPU in /proc/cpuinfo, where readable.
    pub cpu_model: Option<String>,
    /// `MemTotal` of /proc/meminfo, where readable.
    pub memory_total_mib: Option<u64>,
    /// /proc/loadavg when the run started and when it ended.
    pub load_average_start: Option<LoadAverage>,
    pub load_average_end: Option<LoadAverage>,
    /// `SELECT version()`.
    pub postgres_version: String,
    pub postgres_settings: Vec<PgSetting>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoadAverage {
    pub one_min: f64,
    pub five_min: f64,
    pub fifteen_min: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PgSetting {
    pub name: String,
    pub value: String,
}

impl Environment {
    /// The value of a reported PostgreSQL setting.
    pub fn setting(&self, name: &str) -> Option<&str> {
        self.postgres_settings.iter().find(|s| s.name == name).map(|s| s.value.as_str())
    }
}

pub(crate) async fn collect(client: &tokio_postgres::Client) -> Result<Environment, BenchError> {
    let version: String = client.query_one("SELECT version()", &[]).await?.try_get(0)?;
    let names: Vec<&str> = REPORTED_SETTINGS.to_vec();
    let rows = client
        .query(
            "SELECT s.name, current_setting(s.name, true) FROM unnest($1::text[]) WITH ORDINALITY AS s(name, n)
             ORDER BY s.n",
            &[&names],
        )
        .await?;
    let mut postgres_settings = Vec::with_capacity(rows.len());
    for row in rows {
        let value: Option<String> = row.try_get(1)?;
        postgres_settings.push(PgSetting { name: row.try_get(0)?, value: value.unwrap_or_else(|| "?".into()) });
    }
    Ok(Environment {
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        cpu_model: cpu_model(),
        memory_total_mib: memory_total_mib(),
        load_average_start: load_average(),
        load_average_end: None,
        postgres_version: version,
        postgres_settings,
    })
}

fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo.lines().find_map(|line| line.strip_prefix("model name")?.split_once(':').map(|(_, v)| v.trim().to_owned()))
}

fn memory_total_mib() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find_map(|line| line.strip_prefix("MemTotal:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib / 1024)
}

pub(crate) fn load_average() -> Option<LoadAverage> {
    let loadavg = std::fs::read_to_string("/proc/loadavg").ok()?;
    parse_load_average(&loadavg)
}

fn parse_load_average(text: &str) -> Option<LoadAverage> {
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some(LoadAverage { one_min: fields.next()??, five_min: fields.next()??, fifteen_min: fields.next()?? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_loadavg() {
        let load = parse_load_average("0.52 1.25 2.00 1/234 5678\n").unwrap();
        assert_eq!((load.one_min, load.five_min, load.fifteen_min), (0.52, 1.25, 2.0));
        assert!(parse_load_average("garbage").is_none());
    }
}
