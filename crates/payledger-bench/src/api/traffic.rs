//! The mixed load: closed-loop workers, each walking its own payments through their
//! lifecycle (order → payment → authorize → capture → refund) with gateway webhooks in
//! between, picking each next request at random by the mix's weights.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::distributions::{Distribution, WeightedIndex};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio::sync::Barrier;
use uuid::Uuid;

use super::client::{webhook_body, Answer, ApiClient, Confirmation};
use super::mix::{Mix, Operation};
use crate::error::BenchError;
use crate::store::PhaseLimit;

/// Work items a worker keeps per lifecycle step; beyond, the oldest is forgotten.
const MAX_PENDING_PER_STEP: usize = 1_000;
/// Captured payments a worker hands to the fixed-rate webhook phase.
pub(crate) const MAX_CAPTURED_KEPT_PER_WORKER: usize = 10_000;

/// How a request is recognised in the events table afterwards.
#[derive(Debug, Clone)]
pub(crate) enum RequestKey {
    /// The `Idempotency-Key` of a command (stored in its events' metadata).
    Command(String),
    /// The provider event id of a webhook delivery (its dedupe key); `redelivery` when the
    /// same event was already sent once.
    Webhook { event_id: String, redelivery: bool },
}

/// One request as sent and answered.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    pub op: Operation,
    pub status: Option<u16>,
    pub latency_us: u64,
    /// Within the measured interval (not warm-up).
    pub measured: bool,
    pub key: RequestKey,
}

/// A payment this worker created, as the gateway knows it.
#[derive(Debug, Clone)]
pub(crate) struct Lifecycle {
    pub payment_id: String,
    pub reference: String,
    pub amount_minor: i64,
}

/// What one worker did.
pub(crate) struct WorkerOutcome {
    pub records: Vec<Record>,
    pub started: Instant,
    pub ended: Instant,
    pub captured: Vec<Lifecycle>,
    pub records_dropped: bool,
}

pub(crate) struct WorkerSpec {
    pub client: ApiClient,
    pub worker: usize,
    pub mix: Mix,
    pub limit: PhaseLimit,
    pub warmup: Duration,
    pub redelivery_pct: u8,
    pub max_records: usize,
    pub start: Arc<Barrier>,
    pub seed: u64,
}

#[derive(Default)]
struct Pending {
    orders: VecDeque<(String, i64)>,
    initiated: VecDeque<Lifecycle>,
    authorized: VecDeque<Lifecycle>,
    captured: VecDeque<Lifecycle>,
    confirmable: VecDeque<(Lifecycle, Confirmation)>,
}

fn push<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.len() >= MAX_PENDING_PER_STEP {
        queue.pop_front();
    }
    queue.push_back(item);
}

struct Worker {
    spec: WorkerSpec,
    rng: StdRng,
    pending: Pending,
    seq: u64,
    last_delivery: Option<(String, Vec<u8>)>,
    captured_kept: Vec<Lifecycle>,
}

/// Runs one worker: waits for the common start, warms up, then measures.
pub(crate) async fn run_worker(spec: WorkerSpec) -> Result<WorkerOutcome, BenchError> {
    let weights: Vec<u32> = Operation::ALL.iter().map(|&op| spec.mix.weight(op)).collect();
    let choose = WeightedIndex::new(&weights).map_err(|e| BenchError::InvalidOptions(format!("mix: {e}")))?;
    let mut worker = Worker {
        rng: StdRng::seed_from_u64(spec.seed),
        spec,
        pending: Pending::default(),
        seq: 0,
        last_delivery: None,
        captured_kept: Vec::new(),
    };
    let mut records = Vec::new();
    let mut records_dropped = false;
    worker.spec.start.wait().await;
    let warm_until = Instant::now() + worker.spec.warmup;
    while Instant::now() < warm_until {
        let op = Operation::ALL[choose.sample(&mut worker.rng)];
        let record = worker.step(op, false).await;
        keep(&mut records, record, worker.spec.max_records, &mut records_dropped);
    }
    let started = Instant::now();
    let mut done: u64 = 0;
    loop {
        let over = match worker.spec.limit {
            PhaseLimit::Duration(duration) => started.elapsed() >= duration,
            PhaseLimit::Operations(count) => done >= count,
        };
        if over {
            break;
        }
        let op = Operation::ALL[choose.sample(&mut worker.rng)];
        let record = worker.step(op, true).await;
        done += 1;
        keep(&mut records, record, worker.spec.max_records, &mut records_dropped);
    }
    let ended = Instant::now();
    Ok(WorkerOutcome { records, started, ended, captured: worker.captured_kept, records_dropped })
}

fn keep(records: &mut Vec<Record>, record: Record, max: usize, dropped: &mut bool) {
    if records.len() < max {
        records.push(record);
    } else {
        *dropped = true;
    }
}

impl Worker {
    /// Runs `wanted`, or the step before it when there is nothing to act on.
    async fn step(&mut self, wanted: Operation, measured: bool) -> Record {
        let mut op = wanted;
        while !self.can(op) {
            op = op.fallback();
        }
        self.seq += 1;
        let key = format!("bench-w{}-{}", self.spec.worker, self.seq);
        let (answer, request_key) = match op {
            Operation::CreateOrder => (self.create_order(&key).await, RequestKey::Command(key)),
            Operation::CreatePayment => (self.create_payment(&key).await, RequestKey::Command(key)),
            Operation::Authorize => (self.authorize(&key).await, RequestKey::Command(key)),
            Operation::Capture => (self.capture(&key).await, RequestKey::Command(key)),
            Operation::Refund => (self.refund(&key).await, RequestKey::Command(key)),
            Operation::Webhook => self.webhook().await,
        };
        Record {
            op,
            status: answer.status,
            latency_us: u64::try_from(answer.latency.as_micros()).unwrap_or(u64::MAX),
            measured,
            key: request_key,
        }
    }

    fn can(&self, op: Operation) -> bool {
        let p = &self.pending;
        match op {
            Operation::CreateOrder => true,
            Operation::CreatePayment => !p.orders.is_empty(),
            Operation::Authorize => !p.initiated.is_empty(),
            Operation::Capture => !p.authorized.is_empty(),
            Operation::Refund => !p.captured.is_empty(),
            Operation::Webhook => !p.confirmable.is_empty() || self.last_delivery.is_some(),
        }
    }

    async fn create_order(&mut self, key: &str) -> Answer {
        let amount_minor: i64 = self.rng.gen_range(1_000..100_000);
        let body = json!({
            "amount": amount_minor,
            "currency": "USD",
            "reference": format!("bench-order-{}-{}", self.spec.worker, self.seq),
            "metadata": { "channel": "web", "cart_items": 1 + self.seq % 5 },
        });
        let answer = self.spec.client.command("/v1/orders", &body, key).await;
        if let (true, Some(id)) = (answer.ok(), id_of(&answer.body)) {
            push(&mut self.pending.orders, (id, amount_minor));
        }
        answer
    }

    async fn create_payment(&mut self, key: &str) -> Answer {
        let Some((order_id, amount_minor)) = self.pending.orders.pop_front() else {
            return no_work();
        };
        let reference = format!("pi_bench_{}", Uuid::now_v7().simple());
        let body = json!({
            "order_id": order_id,
            "amount": amount_minor,
            "currency": "USD",
            "capture_method": "manual",
            "provider": "generic",
            "provider_reference": reference,
        });
        let answer = self.spec.client.command("/v1/payments", &body, key).await;
        if let (true, Some(payment_id)) = (answer.ok(), id_of(&answer.body)) {
            push(&mut self.pending.initiated, Lifecycle { payment_id, reference, amount_minor });
        }
        answer
    }

    async fn authorize(&mut self, key: &str) -> Answer {
        let Some(payment) = self.pending.initiated.pop_front() else {
            return no_work();
        };
        let path = format!("/v1/payments/{}/authorize", payment.payment_id);
        let answer = self.spec.client.command(&path, &json!({}), key).await;
        if answer.ok() {
            push(&mut self.pending.confirmable, (payment.clone(), Confirmation::Authorized));
            push(&mut self.pending.authorized, payment);
        }
        answer
    }

    async fn capture(&mut self, key: &str) -> Answer {
        let Some(payment) = self.pending.authorized.pop_front() else {
            return no_work();
        };
        let path = format!("/v1/payments/{}/capture", payment.payment_id);
        let answer = self.spec.client.command(&path, &json!({}), key).await;
        if answer.ok() {
            push(&mut self.pending.confirmable, (payment.clone(), Confirmation::Captured));
            if self.captured_kept.len() < MAX_CAPTURED_KEPT_PER_WORKER {
                self.captured_kept.push(payment.clone());
            }
            push(&mut self.pending.captured, payment);
        }
        answer
    }

    async fn refund(&mut self, key: &str) -> Answer {
        let Some(payment) = self.pending.captured.pop_front() else {
            return no_work();
        };
        let path = format!("/v1/payments/{}/refunds", payment.payment_id);
        let body = json!({ "amount": (payment.amount_minor / 2).max(1), "reason": "requested_by_customer" });
        self.spec.client.command(&path, &body, key).await
    }

    /// A confirmation of something the API did, or (by `redelivery_pct`) the last
    /// delivery again, as gateways do when they miss an answer.
    async fn webhook(&mut self) -> (Answer, RequestKey) {
        let redeliver = self.rng.gen_range(0..100u8) < self.spec.redelivery_pct || self.pending.confirmable.is_empty();
        if let (true, Some((event_id, body))) = (redeliver, self.last_delivery.as_ref()) {
            let answer = self.spec.client.webhook(body).await;
            return (answer, RequestKey::Webhook { event_id: event_id.clone(), redelivery: true });
        }
        let Some((payment, confirms)) = self.pending.confirmable.pop_front() else {
            return (no_work(), RequestKey::Webhook { event_id: String::new(), redelivery: true });
        };
        let event_id = format!("evt_bench_w{}_{}", self.spec.worker, self.seq);
        let body = webhook_body(&event_id, &payment.reference, payment.amount_minor, confirms);
        let answer = self.spec.client.webhook(&body).await;
        self.last_delivery = Some((event_id.clone(), body));
        (answer, RequestKey::Webhook { event_id, redelivery: false })
    }
}

fn id_of(body: &Value) -> Option<String> {
    body.get("id").and_then(Value::as_str).map(str::to_owned)
}

/// Unreachable through `can`; an answer that counts as a transport error if it ever happens.
fn no_work() -> Answer {
    Answer { status: None, body: Value::Null, latency: Duration::ZERO }
}
