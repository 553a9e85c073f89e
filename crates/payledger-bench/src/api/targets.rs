//! The issue #15 targets a run measured, each with its PASS/FAIL.

use serde::{Deserialize, Serialize};

use super::{ApiCeilingRatio, WebhookRateResult};

/// Issue #15: webhook ingest at a fixed 500 deliveries/s, half of them to one endpoint.
pub const WEBHOOK_TARGET_RATE_PER_S: u32 = 500;
pub const WEBHOOK_TARGET_HOT_PCT: u8 = 50;
pub const WEBHOOK_TARGET_P99_MS: f64 = 10.0;

/// Issue #15: the mixed load at 16 concurrent clients ÷ the one-row INSERT ceiling at 16.
pub const COMMANDS_TARGET_CONCURRENCY: usize = 16;
pub const COMMANDS_TARGET_RATIO: f64 = 0.5;
/// The stretch: only committing several commands per transaction can reach it.
pub const COMMANDS_STRETCH_RATIO: f64 = 1.0;

/// One target: the measured value, the bound it must meet, and whether it does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    /// `None` when nothing was measured.
    pub value: Option<f64>,
    pub target: String,
    pub pass: bool,
}

/// p99 < 10 ms and none refused; neither passes when the run asked less than the target's
/// rate or hot share.
pub fn webhook_ingest(w: &WebhookRateResult) -> Vec<Target> {
    let load_as_asked = w.target_per_s >= WEBHOOK_TARGET_RATE_PER_S && w.hot_pct >= WEBHOOK_TARGET_HOT_PCT;
    let at = format!("at {}/s, {}% to one endpoint", w.target_per_s, w.hot_pct);
    let bound_of_load = format!("(at ≥ {WEBHOOK_TARGET_RATE_PER_S}/s, ≥ {WEBHOOK_TARGET_HOT_PCT}% to one endpoint)");
    let p99_ms = w.latency.as_ref().map(|l| l.p99_ms);
    vec![
        Target {
            name: format!("webhook ingest p99 ms {at}"),
            value: p99_ms,
            target: format!("< {WEBHOOK_TARGET_P99_MS} {bound_of_load}"),
            pass: load_as_asked && p99_ms.is_some_and(|p| p < WEBHOOK_TARGET_P99_MS),
        },
        Target {
            name: format!("webhook ingest refused {at}"),
            value: Some(w.refused as f64),
            target: format!("= 0 {bound_of_load}"),
            pass: load_as_asked && w.sent > 0 && w.refused == 0,
        },
    ]
}

/// 2xx requests/s of the mixed load ÷ the Rust one-row INSERT ceiling at the same
/// concurrency: ≥ 0.5 (and the stretch ≥ 1.0); neither passes at another concurrency.
pub fn http_commands(r: &ApiCeilingRatio) -> Vec<Target> {
    let as_asked = r.concurrency == COMMANDS_TARGET_CONCURRENCY;
    let name = format!("HTTP commands (mixed load) at {} clients / 1-row INSERT ceiling", r.concurrency);
    let bound = format!("(at {COMMANDS_TARGET_CONCURRENCY} clients)");
    let target = |min: f64, label: &str| Target {
        name: format!("{name}{label}"),
        value: r.requests_vs_rust,
        target: format!(">= {min} {bound}"),
        pass: as_asked && r.requests_vs_rust.is_some_and(|v| v >= min),
    };
    vec![target(COMMANDS_TARGET_RATIO, ""), target(COMMANDS_STRETCH_RATIO, ", stretch")]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ratio(concurrency: usize, requests_vs_rust: Option<f64>) -> ApiCeilingRatio {
        ApiCeilingRatio {
            concurrency,
            ok_requests_per_s: 0.0,
            events_per_s: 0.0,
            ceiling_rust_tx_per_s: None,
            ceiling_pgbench_tx_per_s: None,
            requests_vs_rust,
            requests_vs_pgbench: None,
            events_vs_rust: None,
            events_vs_pgbench: None,
        }
    }

    #[test]
    fn http_commands_pass_only_at_16_clients_and_at_the_ratio() {
        let passes = |c, v| http_commands(&ratio(c, v)).iter().map(|t| t.pass).collect::<Vec<_>>();
        assert_eq!(passes(16, Some(0.49)), [false, false]);
        assert_eq!(passes(16, Some(0.5)), [true, false]);
        assert_eq!(passes(16, Some(1.0)), [true, true]);
        assert_eq!(passes(8, Some(2.0)), [false, false], "another concurrency is not the target's");
        assert_eq!(passes(16, None), [false, false], "no ceiling measured");
    }
}
