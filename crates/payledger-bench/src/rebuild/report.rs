//! The rebuild report as text.

use std::fmt;

use super::RebuildBenchReport;

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "-".into())
}

impl fmt::Display for RebuildBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = &self.environment;
        let load = |l: &Option<crate::LoadAverage>| {
            l.map(|l| format!("{:.2} {:.2} {:.2}", l.one_min, l.five_min, l.fifteen_min)).unwrap_or_else(|| "?".into())
        };
        writeln!(f, "payledger rebuild benchmark")?;
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
        let g = &self.generation;
        writeln!(
            f,
            "history: {} events in {} streams ({} payment lifecycles, {} batch appends) generated in {:.1} s = {:.0} events/s; \
             events table {:.1} MiB",
            g.events,
            g.streams,
            g.lifecycles,
            g.batches,
            g.duration_ms / 1_000.0,
            g.events_per_s,
            g.events_table_bytes as f64 / 1_048_576.0
        )?;
        writeln!(f)?;
        for c in &self.copy {
            writeln!(
                f,
                "ceiling, COPY (SELECT * FROM events) TO STDOUT ({:<6}): {} rows, {:.1} MiB in {:.2} s = {:.0} rows/s, {:.1} MiB/s",
                c.when,
                c.rows,
                c.bytes as f64 / 1_048_576.0,
                c.duration_ms / 1_000.0,
                c.rows_per_s,
                c.mib_per_s
            )?;
        }
        let r = &self.rebuild;
        writeln!(
            f,
            "rebuild: {} events in {:.2} s = {:.0} events/s (replay alone {} s = {} events/s; indexes, catch-up and swap {} s)",
            r.events_applied,
            r.duration_ms / 1_000.0,
            r.events_per_s,
            opt(r.replay_ms.map(|v| v / 1_000.0), 2),
            opt(r.replay_events_per_s, 0),
            opt(r.index_catch_up_swap_ms.map(|v| v / 1_000.0), 2),
        )?;
        writeln!(f, "rebuild / COPY ceiling: {}", opt(self.rebuild_vs_copy, 3))?;
        writeln!(f, "targets (issue #15, stated for 1 M events; this history: {} events)", g.events)?;
        for t in &self.targets {
            let verdict = if t.pass { "PASS" } else { "FAIL" };
            writeln!(f, "  {verdict}  {}: {} (target >= {})", t.name, opt(t.ratio, 3), t.target)?;
        }
        let m = &self.memory;
        writeln!(
            f,
            "memory (this process): RSS before {} MiB; peak during the rebuild: VmHWM {} MiB, sampled VmRSS {} MiB (every {} ms)",
            opt(m.rss_before_mib, 1),
            opt(m.peak_hwm_mib, 1),
            opt(m.peak_sampled_rss_mib, 1),
            m.sample_interval_ms
        )?;
        if !self.notes.is_empty() {
            writeln!(f, "notes")?;
            for note in &self.notes {
                writeln!(f, "  - {note}")?;
            }
        }
        Ok(())
    }
}
