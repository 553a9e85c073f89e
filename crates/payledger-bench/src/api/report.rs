//! The API report as text.

use std::collections::BTreeMap;
use std::fmt;

use super::{ApiBenchReport, CpuShares};
use crate::stats::Latency;

fn ms(l: Option<&Latency>, pick: fn(&Latency) -> f64) -> String {
    l.map(|l| format!("{:.2}", pick(l))).unwrap_or_else(|| "-".into())
}

fn opt(value: Option<f64>, decimals: usize) -> String {
    value.map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "-".into())
}

fn statuses(errors: &BTreeMap<String, u64>) -> String {
    if errors.is_empty() {
        return "none".into();
    }
    errors.iter().map(|(status, n)| format!("{status}×{n}")).collect::<Vec<_>>().join("; ")
}

fn latency_row(
    f: &mut fmt::Formatter<'_>,
    label: &str,
    requests: u64,
    per_s: f64,
    l: Option<&Latency>,
    errors: &BTreeMap<String, u64>,
) -> fmt::Result {
    writeln!(
        f,
        "{label:<20} {requests:>9} {per_s:>9.1} {:>8} {:>8} {:>8} {:>8}  {}",
        ms(l, |l| l.p50_ms),
        ms(l, |l| l.p95_ms),
        ms(l, |l| l.p99_ms),
        ms(l, |l| l.max_ms),
        statuses(errors)
    )
}

impl fmt::Display for ApiBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env = &self.environment;
        let s = &self.settings;
        let load_avg = |l: &Option<crate::LoadAverage>| {
            l.map(|l| format!("{:.2} {:.2} {:.2}", l.one_min, l.five_min, l.fifteen_min)).unwrap_or_else(|| "?".into())
        };
        writeln!(
            f,
            "payledger API benchmark (server, projector and webhook processor in-process, HTTP over 127.0.0.1)"
        )?;
        writeln!(
            f,
            "  machine   {} CPUs ({}), {} MiB RAM; load average (1/5/15 min) {} at start, {} at end",
            env.cpus,
            env.cpu_model.as_deref().unwrap_or("?"),
            env.memory_total_mib.map(|m| m.to_string()).unwrap_or_else(|| "?".into()),
            load_avg(&env.load_average_start),
            load_avg(&env.load_average_end),
        )?;
        writeln!(f, "  server    {}", env.postgres_version)?;
        let limit = match (s.duration_ms, s.requests_per_worker) {
            (_, Some(n)) => format!("{n} requests per worker"),
            (Some(d), None) => format!("{d} ms"),
            (None, None) => "?".into(),
        };
        writeln!(
            f,
            "  load      {} workers, {limit} measured after {} ms warm-up; mix {}; {}% of webhooks redelivered",
            self.load.concurrency, s.warmup_ms, s.mix, s.redelivery_pct
        )?;
        writeln!(f, "  run       {:.1} s in total", self.total_duration_ms as f64 / 1_000.0)?;
        writeln!(f)?;
        let l = &self.load;
        writeln!(
            f,
            "mixed load: {} requests in {:.1} s = {:.1} requests/s ({:.1} answered 2xx/s); {} events appended = {:.1} events/s",
            l.requests,
            l.duration_ms / 1_000.0,
            l.requests_per_s,
            l.ok_per_s,
            l.events,
            l.events_per_s
        )?;
        writeln!(
            f,
            "{:<20} {:>9} {:>9} {:>8} {:>8} {:>8} {:>8}  errors by status",
            "operation", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms"
        )?;
        for op in &l.operations {
            latency_row(
                f,
                op.operation.label(),
                op.requests,
                op.requests_per_s,
                op.latency.as_ref(),
                &op.errors_by_status,
            )?;
        }
        latency_row(f, "all", l.requests, l.requests_per_s, l.latency.as_ref(), &l.errors_by_status)?;
        if let Some(cpu) = &l.cpu {
            let cpus = self.environment.cpus;
            let per_request = |share| {
                CpuShares::ms_per_op(share, l.duration_ms / 1_000.0, cpus, l.requests)
                    .map_or("-".into(), |ms| format!("{ms:.2}"))
            };
            writeln!(
                f,
                "cpu of the {cpus} CPUs while measuring: PostgreSQL {:.0} % ({} ms per request), this process (server, \
                 projector, webhook processor and load generator) {:.0} % ({} ms per request), other {:.0} %, idle {:.0} %",
                cpu.postgres * 100.0,
                per_request(cpu.postgres),
                cpu.this_process * 100.0,
                per_request(cpu.this_process),
                cpu.other * 100.0,
                cpu.idle * 100.0
            )?;
        }

        if let Some(w) = &self.webhook_rate {
            writeln!(f)?;
            writeln!(
                f,
                "webhook ingest at a fixed rate of {}/s, {}% to one endpoint of {} (open loop, latency from when each \
                 was due): {} due, {} sent ({} to the hot endpoint), {} skipped (more than {} in flight), {} answered \
                 2xx, {} refused, {:.1}/s answered",
                w.target_per_s,
                w.hot_pct,
                w.endpoints,
                w.scheduled,
                w.sent,
                w.sent_to_hot_endpoint,
                w.skipped_in_flight_limit,
                w.max_in_flight,
                w.ok,
                w.refused,
                w.answered_per_s
            )?;
            let lat = w.latency.as_ref();
            writeln!(
                f,
                "  p50 {} ms  p95 {} ms  p99 {} ms  max {} ms; errors {}",
                ms(lat, |l| l.p50_ms),
                ms(lat, |l| l.p95_ms),
                ms(lat, |l| l.p99_ms),
                ms(lat, |l| l.max_ms),
                statuses(&w.errors_by_status)
            )?;
            let hot = w.latency_hot_endpoint.as_ref();
            writeln!(
                f,
                "  hot endpoint alone: p50 {} ms  p95 {} ms  p99 {} ms  max {} ms",
                ms(hot, |l| l.p50_ms),
                ms(hot, |l| l.p95_ms),
                ms(hot, |l| l.p99_ms),
                ms(hot, |l| l.max_ms)
            )?;
            writeln!(f, "  worst one-second p99: {} ms", opt(w.worst_second_p99_ms, 2))?;
            if let Some(backlog) = w.uninterpreted_at_end {
                let drained =
                    w.all_interpreted_after_ms.map_or("not within 120 s".to_owned(), |ms| format!("{ms:.0} ms"));
                writeln!(f, "  interpretation: {backlog} deliveries not yet interpreted at the last answer, all interpreted {drained} later")?;
            }
            if let Some(cpu) = &w.cpu {
                writeln!(
                    f,
                    "  cpu of the {} CPUs: PostgreSQL {:.0} %, this process {:.0} %, other {:.0} %, idle {:.0} %",
                    self.environment.cpus,
                    cpu.postgres * 100.0,
                    cpu.this_process * 100.0,
                    cpu.other * 100.0,
                    cpu.idle * 100.0
                )?;
            }
        }
        if !self.targets.is_empty() {
            writeln!(f)?;
            writeln!(f, "targets (issue #15)")?;
            for t in &self.targets {
                let verdict = if t.pass { "PASS" } else { "FAIL" };
                writeln!(f, "  {verdict}  {}: {} (target {})", t.name, opt(t.value, 2), t.target)?;
            }
        }

        writeln!(f)?;
        writeln!(f, "ceiling at {} writers: plain one-row INSERT of the events row shape", l.concurrency)?;
        for m in &self.ceiling {
            let lat = m.latency.as_ref();
            writeln!(
                f,
                "  {:<31} {:>9} tx {:>9.1} tx/s  p50 {} ms  p99 {} ms",
                m.workload.label(),
                m.ops,
                m.ops_per_s,
                ms(lat, |l| l.p50_ms),
                ms(lat, |l| l.p99_ms)
            )?;
        }
        let r = &self.ratio;
        writeln!(
            f,
            "  ledger / ceiling: 2xx requests/s ÷ INSERT tx/s = {} (Rust) {} (pgbench); events/s ÷ INSERT rows/s = {} (Rust) {} (pgbench)",
            opt(r.requests_vs_rust, 3),
            opt(r.requests_vs_pgbench, 3),
            opt(r.events_vs_rust, 3),
            opt(r.events_vs_pgbench, 3)
        )?;

        let c = &self.check;
        writeln!(f)?;
        writeln!(f, "check: {}", if c.passed { "PASSED" } else { "FAILED" })?;
        writeln!(
            f,
            "  commands answered 2xx: {} — events exactly once: {}, missing: {}, duplicated: {} ({} events); \
             4xx with events: {}; unknown outcome (5xx/no answer): {} ({} wrote)",
            c.commands_ok,
            c.commands_exactly_once,
            c.commands_missing,
            c.commands_duplicated,
            c.command_events,
            c.commands_refused_with_events,
            c.commands_unknown_outcome,
            c.commands_unknown_outcome_written
        )?;
        writeln!(
            f,
            "  webhook events answered 2xx: {} — WebhookReceived exactly once: {}, missing: {}; redeliveries answered 2xx: {}; \
             unexplained WebhookReceived: {}; deliveries pending: {}; projector caught up: {} ({} events behind)",
            c.webhooks_ok,
            c.webhooks_exactly_once,
            c.webhooks_missing,
            c.webhook_redeliveries_ok,
            c.webhook_events_unexplained,
            c.deliveries_pending,
            c.projector_caught_up,
            c.projector_events_behind
        )?;
        writeln!(
            f,
            "  hash chains: {} ({} streams, {} events, {} broken); read-models vs a fresh fold at position {}: {} ({} differences)",
            if c.chains_intact { "intact" } else { "BROKEN" },
            c.streams_checked,
            c.events_checked,
            c.broken_links,
            c.verified_at_position,
            if c.read_models_clean { "equal" } else { "DIFFERENT" },
            c.read_model_differences
        )?;
        for failure in &c.failures {
            writeln!(f, "  failure: {failure}")?;
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
