//! The issue #15 targets a run measured, each with its PASS/FAIL.

use serde::{Deserialize, Serialize};

use super::WebhookRateResult;

/// Issue #15: webhook ingest at a fixed 500 deliveries/s, half of them to one endpoint.
pub const WEBHOOK_TARGET_RATE_PER_S: u32 = 500;
pub const WEBHOOK_TARGET_HOT_PCT: u8 = 50;
pub const WEBHOOK_TARGET_P99_MS: f64 = 10.0;

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
