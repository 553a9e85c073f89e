//! The settlement report as text.

use std::fmt;

use super::SettlementBenchReport;

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "-".into())
}

impl fmt::Display for SettlementBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = &self.environment;
        let load = |l: &Option<crate::LoadAverage>| {
            l.map(|l| format!("{:.2} {:.2} {:.2}", l.one_min, l.five_min, l.fifteen_min)).unwrap_or_else(|| "?".into())
        };
        writeln!(f, "payledger settlement import benchmark")?;
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
        writeln!(f, "  run       {:.1} s in total", self.total_duration_ms as f64 / 1_000.0)?;
        let (r, m) = (&self.report, &self.report.mix);
        writeln!(
            f,
            "report: {} lines of {}, {:.1} MiB, generated in {:.2} s: {} charges ({} at another amount in the ledger, {} of \
             unknown payments), {} refunds, {} disputes, {} fee lines, {} repeated lines, {} payout",
            r.lines,
            r.day,
            r.bytes as f64 / 1_048_576.0,
            r.duration_ms / 1_000.0,
            m.charges,
            m.amount_mismatches,
            m.unknown_payments,
            m.refunds,
            m.disputes,
            m.fee_lines,
            m.duplicate_lines,
            m.payouts
        )?;
        let s = &self.seeding;
        writeln!(
            f,
            "ledger: {} payments, {} events in {} batch appends, {:.1} s = {:.0} events/s; projected in {:.1} s = {:.0} events/s",
            s.payments,
            s.events,
            s.batches,
            s.duration_ms / 1_000.0,
            s.events_per_s,
            s.projected_ms / 1_000.0,
            s.projected_events_per_s
        )?;
        writeln!(f)?;
        for c in &self.copy {
            writeln!(
                f,
                "ceiling, COPY of the same CSV into a plain table ({:<6}): {} rows in {:.3} s = {:.0} rows/s, {:.1} MiB/s",
                c.when,
                c.rows,
                c.duration_ms / 1_000.0,
                c.rows_per_s,
                c.mib_per_s
            )?;
        }
        let i = &self.import;
        writeln!(
            f,
            "import (service, one transaction): {} lines ({} duplicates) in {:.2} s = {:.0} lines/s, {:.2} MiB/s",
            i.lines,
            i.duplicate_lines,
            i.duration_ms / 1_000.0,
            i.lines_per_s,
            i.mib_per_s
        )?;
        writeln!(f, "import / COPY ceiling: {}", opt(self.import_vs_copy, 3))?;
        let mem = &self.memory;
        writeln!(
            f,
            "memory (this process): RSS before the import {} MiB; peak during it VmHWM {} MiB, sampled VmRSS {} MiB; \
             during the reconciliation VmHWM {} MiB, sampled {} MiB (every {} ms)",
            opt(mem.rss_before_import_mib, 1),
            opt(mem.import_peak_hwm_mib, 1),
            opt(mem.import_peak_sampled_rss_mib, 1),
            opt(mem.reconciliation_peak_hwm_mib, 1),
            opt(mem.reconciliation_peak_sampled_rss_mib, 1),
            mem.sample_interval_ms
        )?;
        let p = &self.projection;
        writeln!(
            f,
            "projector catch-up: {} events in {:.2} s = {:.0} lines/s (batches of {})",
            p.events_applied,
            p.duration_ms / 1_000.0,
            p.lines_per_s,
            p.batch_size
        )?;
        let rc = &self.reconciliation;
        writeln!(
            f,
            "reconciliation of the day: items {:.2} s + days {:.1} ms, {} items = {:.0} items/s",
            rc.items_ms / 1_000.0,
            rc.days_ms,
            rc.items,
            rc.items_per_s
        )?;
        let counts: Vec<String> = rc.counts.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{k} {n}")).collect();
        writeln!(
            f,
            "  statuses: {}; report_net {} ledger_net {} difference {} (generated {})",
            counts.join(", "),
            rc.report_net_minor,
            rc.ledger_net_minor,
            rc.difference_minor,
            rc.expected_difference_minor
        )?;
        if let Some(p) = &self.profile {
            writeln!(
                f,
                "import steps one by one ({} lines): parse {:.0} ms, dedupe lookup {:.0} ms, events' JSON {:.0} ms, \
                 append {:.0} ms ({} calls), file insert {:.0} ms; sum {:.0} ms",
                p.lines,
                p.parse_ms,
                p.dedupe_lookup_ms,
                p.build_events_ms,
                p.append_ms,
                p.append_calls,
                p.file_insert_ms,
                p.total_ms
            )?;
        }
        if self.check.passed {
            writeln!(f, "check: PASSED (imported, projected and reconciled as generated)")?;
        } else {
            writeln!(f, "check: FAILED")?;
            for failure in &self.check.failures {
                writeln!(f, "  - {failure}")?;
            }
        }
        if !self.notes.is_empty() {
            writeln!(f, "notes")?;
            for note in &self.notes {
                writeln!(f, "  - {note}")?;
            }
        }
        Ok(())
    }
}
