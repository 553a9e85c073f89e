//! Webhook ingest latency at a fixed rate, open loop: delivery `i` is due at
//! `start + i / rate` whatever happened to the ones before, and its latency is measured
//! from when it was due (so a server that falls behind shows it, instead of slowing the
//! sender down: no coordinated omission).

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
    pub ok: u64,
    /// From the first due time to the last answer.
    pub duration_ms: f64,
    pub answered_per_s: f64,
    /// From the time each delivery was due to its answer.
    pub latency: Option<Latency>,
    /// Answers other than 2xx by status (`transport` when there was no answer).
    pub errors_by_status: BTreeMap<String, u64>,
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
    let first_due = Instant::now();
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
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let answer = client.webhook(&body).await;
            drop(permit);
            let since_due = due.elapsed();
            (event_id, answer.status, since_due)
        }));
    }
    let mut records = Vec::with_capacity(tasks.len());
    let mut latencies_us = Vec::with_capacity(tasks.len());
    let mut errors_by_status = BTreeMap::new();
    let mut ok = 0;
    for task in tasks {
        let Ok((event_id, status, since_due)) = task.await else {
            *errors_by_status.entry("task".to_owned()).or_insert(0) += 1;
            continue;
        };
        let latency_us = u64::try_from(since_due.as_micros()).unwrap_or(u64::MAX);
        match status {
            Some(s) if (200..300).contains(&s) => ok += 1,
            Some(s) => *errors_by_status.entry(s.to_string()).or_insert(0) += 1,
            None => *errors_by_status.entry("transport".to_owned()).or_insert(0) += 1,
        }
        latencies_us.push(latency_us);
        records.push(Record {
            op: Operation::Webhook,
            status,
            latency_us,
            measured: true,
            key: RequestKey::Webhook { event_id, redelivery: false },
        });
    }
    let duration_s = first_due.elapsed().as_secs_f64().max(1e-9);
    let sent = records.len() as u64;
    let result = WebhookRateResult {
        target_per_s: spec.rate_per_s,
        scheduled: spec.deliveries,
        sent,
        skipped_in_flight_limit: skipped,
        max_in_flight: spec.max_in_flight,
        ok,
        duration_ms: duration_s * 1_000.0,
        answered_per_s: sent as f64 / duration_s,
        latency: Latency::from_micros(latencies_us),
        errors_by_status,
    };
    (result, records)
}
