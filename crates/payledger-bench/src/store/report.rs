//! The report as text tables.

use std::fmt;

use super::{Measurement, StoreBenchReport, Workload};
use crate::environment::LoadAverage;

impl Workload {
    /// A short human label.
    pub fn label(self) -> &'static str {
        match self {
            Workload::LedgerAppend => "ledger append (1 event/tx)",
            Workload::LedgerBatchAppend => "ledger batch append",
            Workload::CeilingInsertRust => "ceiling: plain INSERT, Rust",
            Workload::CeilingInsertPgbench => "ceiling: plain INSERT, pgbench",
            Workload::CeilingBatchInsertRust => "ceiling: multi-row INSERT, Rust",
        }
    }
}

fn load(l: &Option<LoadAverage>) -> String {
    match l {
        Some(l) => format!("{:.2} {:.2} {:.2}", l.one_min, l.five_min, l.fifteen_min),
        None => "?".into(),
    }
}

fn ms(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.2}")).unwrap_or_else(|| "-".into())
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "-".into())
}

fn row(f: &mut fmt::Formatter<'_>, m: &Measurement) -> fmt::Result {
    let l = m.latency.as_ref();
    writeln!(
        f,
        "{:<31} {:>7} {:>9} {:>9} {:>9.1} {:>10.1} {:>8} {:>8} {:>8}",
        m.workload.label(),
        m.writers,
        m.events_per_op,
        m.ops,
        m.ops_per_s,
        m.events_per_s,
        ms(l.map(|l| l.p50_ms)),
        ms(l.map(|l| l.p99_ms)),
        ms(l.map(|l| l.max_ms)),
    )
}

impl fmt::Display for StoreBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = &self.environment;
        let s = &self.settings;
        writeln!(f, "payledger store benchmark")?;
        writeln!(
            f,
            "  machine   {} CPUs ({}), {} MiB RAM; load average (1/5/15 min) {} at start, {} at end",
            env.cpus,
            env.cpu_model.as_deref().unwrap_or("?"),
            env.memory_total_mib.map(|m| m.to_string()).unwrap_or_else(|| "?".into()),
            load(&env.load_average_start),
            load(&env.load_average_end),
        )?;
        writeln!(f, "  server    {}", env.postgres_version)?;
        let settings: Vec<String> = env.postgres_settings.iter().map(|p| format!("{}={}", p.name, p.value)).collect();
        writeln!(f, "  settings  {}", settings.join(" "))?;
        let limit = match (s.duration_ms, s.transactions_per_writer) {
            (_, Some(count)) => format!("{count} transactions per writer"),
            (Some(duration_ms), None) => format!("{duration_ms} ms"),
            (None, None) => "?".into(),
        };
        writeln!(
            f,
            "  per phase {limit} measured after {} ms warm-up; payload {} B + metadata {} B of JSON per event; \
             streams of {} events",
            s.warmup_ms, s.payload_bytes, s.metadata_bytes, s.stream_length
        )?;
        writeln!(f, "  run       {:.1} s in total", self.total_duration_ms as f64 / 1_000.0)?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<31} {:>7} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8} {:>8}",
            "workload", "writers", "events/tx", "tx", "tx/s", "events/s", "p50 ms", "p99 ms", "max ms"
        )?;
        for m in &self.measurements {
            row(f, m)?;
        }
        if !self.ratios.is_empty() {
            writeln!(f)?;
            writeln!(f, "ledger single-event appends as a fraction of the plain INSERT ceiling")?;
            writeln!(
                f,
                "{:>7} {:>12} {:>16} {:>7} {:>16} {:>7}",
                "writers", "ledger ev/s", "Rust INSERT tx/s", "ratio", "pgbench tx/s", "ratio"
            )?;
            for r in &self.ratios {
                writeln!(
                    f,
                    "{:>7} {:>12.1} {:>16} {:>7} {:>16} {:>7}",
                    r.writers,
                    r.ledger_events_per_s,
                    opt(r.ceiling_rust_tx_per_s, 1),
                    opt(r.ledger_vs_rust, 2),
                    opt(r.ceiling_pgbench_tx_per_s, 1),
                    opt(r.ledger_vs_pgbench, 2),
                )?;
            }
        }
        if !self.targets.is_empty() {
            writeln!(f)?;
            writeln!(f, "targets (issue #15; ledger ÷ the Rust ceiling of the same run)")?;
            for t in &self.targets {
                let verdict = if t.pass { "PASS" } else { "FAIL" };
                writeln!(f, "  {verdict}  {:<52} ratio {:>5}  target >= {:.2}", t.name, opt(t.ratio, 2), t.target)?;
            }
        }
        if !self.notes.is_empty() {
            writeln!(f)?;
            writeln!(f, "notes")?;
            for note in &self.notes {
                writeln!(f, "  - {note}")?;
            }
        }
        Ok(())
    }
}
