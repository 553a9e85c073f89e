//! Webhook ingest latency at a fixed rate, open loop: delivery `i` is due at
//! `start + i / rate` whatever happened to the ones before, and its latency is measured
//! from when it was due (so a server that falls behind shows it, instead of slowing the
//! sender down: no coordinated omission). `hot_pct` % of them go to the client's first
//! endpoint, spread evenly over the run; the rest round-robin over the others.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::client::{webhook_body, ApiClient, Confirmation};
use super::mix::Operation;
use super::traffic::{Lifecycle, Record, RequestKey};
use crate::stats::Latency;

/// What was asked of the fixed-rate phase.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateSpec {
    pub rate_per_s: u32,
    pub deliveries: u64,
    pub max_in_flight: usize,
    pub hot_pct: u8,
}

/// Whether delivery `i` goes to the hot endpoint: evenly spread, `hot_pct` of every 100.
fn is_hot(i: u64, hot_pct: u8) -> bool {
    let pct = u64::from(hot_pct.min(100));
    (i + 1) * pct / 100 != i * pct / 100
}

/// The fixed-rate webhook phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookRateResult {
    pub target_per_s: u32,
    /// Deliveries due (rate × duration).
    pub scheduled: u64,
    /// Sent; the rest were skipped because `max_in_flight` were still unanswered.
    pub sent: u64,
    pub skipped_in_flight_limit: u64,
    pub max_in_flight: usize,
    /// Share sent to the one hot endpoint, and how many endpoints there were in all.
    pub hot_pct: u8,
    pub endpoints: usize,
    pub sent_to_hot_endpoint: u64,
    pub ok: u64,
    /// Deliveries not recorded: answered other than 2xx, not answered, or skipped.
    pub refused: u64,
    /// From the first due time to the last answer.
    pub duration_ms: f64,
    pub answered_per_s: f64,
    /// From the time each delivery was due to its answer.
    pub latency: Option<Latency>,
    /// The same, of the deliveries to the hot endpoint alone.
    pub latency_hot_endpoint: Option<Latency>,
    /// Answers other than 2xx by status with the error code and message (`transport` when there
    /// was no answer).
    pub errors_by_status: BTreeMap<String, u64>,
    /// The worst p99 of any one second of due times (a stall shows here, not in the whole).
    #[serde(default)]
    pub worst_second_p99_ms: Option<f64>,
    /// Who used the CPUs from the first due time to the last answer.
    #[serde(default)]
    pub cpu: Option<crate::cpu::CpuShares>,
    /// Deliveries recorded but not yet interpreted when the last answer came (interpretation
    /// runs after the answer, behind the receipts), and how long after that until none was.
    #[serde(default)]
    pub uninterpreted_at_end: Option<i64>,
    #[serde(default)]
    pub all_interpreted_after_ms: Option<f64>,
}

/// The highest p99 of the deliveries due in any one second; `(due offset µs, latency µs)`.
fn worst_second_p99_ms(samples: &[(u64, u64)]) -> Option<f64> {
    let mut by_second: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for &(due_us, latency_us) in samples {
        by_second.entry(due_us / 1_000_000).or_default().push(latency_us);
    }
    by_second.into_values().filter_map(|latencies| Latency::from_micros(latencies).map(|l| l.p99_ms)).reduce(f64::max)
}

/// Sends `spec.deliveries` `payment_intent.succeeded` confirmations of captured payments
/// (cycling through `payments`; new event ids each) at `spec.rate_per_s`.
pub(crate) async fn run(
    client: &ApiClient,
    spec: RateSpec,
    payments: &[Lifecycle],
) -> (WebhookRateResult, Vec<Record>) {
    let interval_ns = 1_000_000_000u64 / u64::from(spec.rate_per_s.max(1));
    let limit = Arc::new(Semaphore::new(spec.max_in_flight));
    let mut tasks = Vec::with_capacity(usize::try_from(spec.deliveries).unwrap_or(0));
    let mut skipped = 0u64;
    let others = client.webhook_endpoint_count().saturating_sub(1);
    let mut next_other = 0usize;
    let first_due = Instant::now();
    let cpu_before = crate::cpu::sample();
    for i in 0..spec.deliveries {
        let due = first_due + Duration::from_nanos(interval_ns.saturating_mul(i));
        tokio::time::sleep_until(due).await;
        let Ok(permit) = limit.clone().try_acquire_owned() else {
            skipped += 1;
            continue;
        };
        let event_id = format!("evt_bench_rate_{i}");
        let (reference, amount_minor) = match payments.get(usize::try_from(i).unwrap_or(0) % payments.len().max(1)) {
            Some(p) => (p.reference.clone(), p.amount_minor),
            None => (format!("pi_bench_unknown_{i}"), 1_000),
        };
        let body = webhook_body(&event_id, &reference, amount_minor, Confirmation::Captured);
        let endpoint = if others == 0 || is_hot(i, spec.hot_pct) {
            0
        } else {
            next_other += 1;
            1 + next_other % others
        };
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let answer = client.webhook_to(endpoint, &body).await;
            drop(permit);
            let since_due = due.elapsed();
            let due_us = u64::try_from((due - first_due).as_micros()).unwrap_or(u64::MAX);
            (event_id, endpoint == 0, answer.status, refusal(&answer), since_due, due_us)
        }));
    }
    let mut records = Vec::with_capacity(tasks.len());
    let mut latencies_us = Vec::with_capacity(tasks.len());
    let mut hot_latencies_us = Vec::new();
    let mut by_due = Vec::with_capacity(tasks.len());
    let mut errors_by_status = BTreeMap::new();
    let mut ok = 0;
    for task in tasks {
        let Ok((event_id, hot, status, refusal, since_due, due_us)) = task.await else {
            *errors_by_status.entry("task".to_owned()).or_insert(0) += 1;
            continue;
        };
        let latency_us = u64::try_from(since_due.as_micros()).unwrap_or(u64::MAX);
        match status {
            Some(s) if (200..300).contains(&s) => ok += 1,
            Some(_) => *errors_by_status.entry(refusal).or_insert(0) += 1,
            None => *errors_by_status.entry("transport".to_owned()).or_insert(0) += 1,
        }
        latencies_us.push(latency_us);
        by_due.push((due_us, latency_us));
        if hot {
            hot_latencies_us.push(latency_us);
        }
        records.push(Record {
            op: Operation::Webhook,
            status,
            latency_us,
            measured: true,
            key: RequestKey::Webhook { event_id, redelivery: false },
        });
    }
    let duration_s = first_due.elapsed().as_secs_f64().max(1e-9);
    let cpu = cpu_before.zip(crate::cpu::sample()).and_then(|(b, a)| crate::cpu::shares(b, a));
    let sent = records.len() as u64;
    let sent_to_hot_endpoint = hot_latencies_us.len() as u64;
    let result = WebhookRateResult {
        target_per_s: spec.rate_per_s,
        scheduled: spec.deliveries,
        sent,
        skipped_in_flight_limit: skipped,
        max_in_flight: spec.max_in_flight,
        hot_pct: spec.hot_pct,
        endpoints: others + 1,
        sent_to_hot_endpoint,
        ok,
        refused: spec.deliveries - ok,
        duration_ms: duration_s * 1_000.0,
        answered_per_s: sent as f64 / duration_s,
        latency: Latency::from_micros(latencies_us),
        latency_hot_endpoint: Latency::from_micros(hot_latencies_us),
        errors_by_status,
        worst_second_p99_ms: worst_second_p99_ms(&by_due),
        cpu,
        uninterpreted_at_end: None,
        all_interpreted_after_ms: None,
    };
    (result, records)
}

/// A refusal's status with its error code and message (which 503 it was), for the report.
fn refusal(answer: &super::client::Answer) -> String {
    let status = answer.status.map_or("transport".to_owned(), |s| s.to_string());
    let error = &answer.body["error"];
    match (error["code"].as_str(), error["message"].as_str()) {
        (Some(code), Some(message)) => format!("{status} {code}: {message}"),
        (Some(code), None) => format!("{status} {code}"),
        _ => match answer.body.as_str() {
            Some(raw) => format!("{status} (not the error shape) {raw:?}"),
            None => status,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::{is_hot, worst_second_p99_ms};

    #[test]
    fn the_worst_second_is_the_one_with_the_stall() {
        let mut samples: Vec<(u64, u64)> = (0..300).map(|i| (i * 10_000, 2_000)).collect();
        // In second 1 a hundredth of the deliveries took 400 ms.
        samples.extend((0..5).map(|i| (1_000_000 + i, 400_000)));
        let worst = worst_second_p99_ms(&samples).unwrap();
        assert!((worst - 400.0).abs() < 1.0, "{worst}");
        assert_eq!(worst_second_p99_ms(&[]), None);
    }

    #[test]
    fn the_hot_share_is_exact_and_spread_evenly() {
        for pct in [0u8, 1, 33, 50, 100] {
            let hot = (0..1_000).filter(|&i| is_hot(i, pct)).count();
            assert_eq!(hot, usize::from(pct) * 10, "{pct}%");
        }
        let half: Vec<bool> = (0..4).map(|i| is_hot(i, 50)).collect();
        assert_eq!(half, [false, true, false, true]);
    }
}
