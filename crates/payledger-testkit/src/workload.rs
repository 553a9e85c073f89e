//! Generated histories, decided by `payledger_core` (so every event is one the domain would
//! produce) and appended with `payledger_store`: a random [`Workload`] over many streams for
//! the projector's tests, and fixed-shape [`lifecycle`]s for the rebuild benchmark.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test support: a bad draw is a test bug

use std::collections::BTreeSet;

use chrono::{SubsecRound, TimeZone, Utc};
use deadpool_postgres::Pool;
use payledger_core::order::{self, OrderCommand, OrderState, OrderStatus};
use payledger_core::payment::{
    self, CaptureMethod, DisputeOutcome, GatewayReport, PaymentCommand, PaymentState, Provider, ReportKind,
};
use payledger_core::{
    AmountMinor, Currency, DisputeId, DomainError, DomainEvent, MinorUnits, MoneyError, OrderId, PaymentId, RefundId,
};
use payledger_store::{append_batch, BatchItem, ExpectedVersion, NewEvent, StreamKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use uuid::Uuid;

struct OrderSim {
    tenant: Uuid,
    id: OrderId,
    state: OrderState,
    version: i64,
}

struct PaymentSim {
    tenant: Uuid,
    id: PaymentId,
    state: PaymentState,
    version: i64,
    refunds: Vec<RefundId>,
    disputes: Vec<DisputeId>,
}

/// Random commands and gateway reports over many orders and payments of some tenants, plus
/// webhook-inbox events (a stream kind the projector must skip). Refused commands are
/// dropped, as the API would answer them 422.
pub struct Workload {
    rng: StdRng,
    tenants: Vec<Uuid>,
    orders: Vec<OrderSim>,
    payments: Vec<PaymentSim>,
    inbox_events: u64,
    pub commands_appended: u64,
}

/// Updates the simulation once its command is appended.
type Apply = Box<dyn FnOnce(&mut Workload) + Send>;

const CURRENCIES: [Currency; 4] = [Currency::USD, Currency::EUR, Currency::JPY, Currency::KWD];

impl Workload {
    pub fn new(seed: u64, tenants: usize) -> Workload {
        Workload {
            rng: StdRng::seed_from_u64(seed),
            tenants: (0..tenants).map(|_| Uuid::now_v7()).collect(),
            orders: Vec::new(),
            payments: Vec::new(),
            inbox_events: 0,
            commands_appended: 0,
        }
    }

    pub fn tenants(&self) -> &[Uuid] {
        &self.tenants
    }

    /// Appends transactions until `commands` commands went in.
    pub async fn run(&mut self, pool: &Pool, commands: u64) {
        let target = self.commands_appended + commands;
        while self.commands_appended < target {
            self.step(pool).await;
        }
    }

    /// One transaction of 1 to 8 commands, each on its own stream.
    pub async fn step(&mut self, pool: &Pool) {
        let streams = self.rng.gen_range(1..=8);
        let mut items: Vec<BatchItem> = Vec::new();
        let mut used: BTreeSet<String> = BTreeSet::new();
        let mut applied: Vec<Apply> = Vec::new();
        for _ in 0..streams {
            if let Some((item, apply)) = self.next_command(&used) {
                used.insert(item.stream.stream_id.clone());
                items.push(item);
                applied.push(apply);
            }
        }
        if items.is_empty() {
            return;
        }
        let count = items.iter().filter(|i| !i.stream.stream_id.starts_with("webhook-")).count() as u64;
        append_batch(pool, items).await.unwrap_or_else(|e| panic!("workload append: {e}"));
        for apply in applied {
            apply(self);
        }
        self.commands_appended += count.max(1);
    }

    fn at(&mut self) -> chrono::DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap()
            + chrono::Duration::seconds(self.rng.gen_range(0..86_400 * 30))
    }

    fn amount(&mut self, max: i64) -> AmountMinor {
        AmountMinor::new(self.rng.gen_range(1..=max.max(1))).unwrap()
    }

    /// A decided command as an append item, and how to update the simulation once appended.
    fn next_command(&mut self, used: &BTreeSet<String>) -> Option<(BatchItem, Apply)> {
        let roll = self.rng.gen_range(0..100);
        if roll < 3 {
            return Some(self.inbox_event());
        }
        if roll < 13 || self.orders.is_empty() {
            return Some(self.create_order());
        }
        if roll < 16 {
            let index = self.rng.gen_range(0..self.orders.len());
            return self.order_command(
                index,
                used,
                // Histories from before the in-progress rule, or where a gateway took money
                // after all, hold cancelled orders with payments: the fold must cope.
                OrderCommand::Cancel { at: Utc::now(), reason: Some("test".into()), payments_in_progress: 0 },
            );
        }
        if roll < 28 || self.payments.is_empty() {
            let index = self.rng.gen_range(0..self.orders.len());
            return self.initiate_payment(index, used);
        }
        let index = self.rng.gen_range(0..self.payments.len());
        let command = self.payment_command(index);
        self.payment_decided(index, used, command)
    }

    fn inbox_event(&mut self) -> (BatchItem, Apply) {
        self.inbox_events += 1;
        let tenant = self.tenants[self.rng.gen_range(0..self.tenants.len())];
        let n = self.inbox_events;
        let event = NewEvent::new("WebhookReceived", 1, json!({"body": format!("{{\"id\": \"evt_{n}\"}}")}))
            .with_dedupe_key(format!("inbox-{}-{n}", Uuid::now_v7()));
        let item = BatchItem {
            stream: StreamKey::new(tenant, format!("webhook-inbox-stripe-{}", n % 3)),
            expected: ExpectedVersion::Any,
            events: vec![event],
        };
        (item, Box::new(|_| {}))
    }

    fn create_order(&mut self) -> (BatchItem, Apply) {
        let tenant = self.tenants[self.rng.gen_range(0..self.tenants.len())];
        let id = OrderId::new();
        let currency = CURRENCIES[self.rng.gen_range(0..CURRENCIES.len())];
        let amount_minor = self.amount(50_000);
        let at = self.at();
        let command = OrderCommand::Create {
            order_id: id,
            amount_minor,
            currency,
            reference: format!("ORD-{}", self.orders.len()),
            metadata: json!({"n": self.orders.len()}),
            at,
        };
        let events = order::decide(&None, command).unwrap();
        let state = order::fold(&events);
        let version = events.len() as i64;
        self.orders.push(OrderSim { tenant, id, state: None, version: 0 });
        let index = self.orders.len() - 1;
        let item = BatchItem {
            stream: StreamKey::new(tenant, id.stream_id()),
            expected: ExpectedVersion::NoStream,
            events: events.iter().map(|e| encode(&DomainEvent::Order(e.clone()))).collect(),
        };
        let apply = Box::new(move |w: &mut Workload| {
            w.orders[index].state = state;
            w.orders[index].version = version;
        });
        (item, apply)
    }

    fn order_command(
        &mut self,
        index: usize,
        used: &BTreeSet<String>,
        command: OrderCommand,
    ) -> Option<(BatchItem, Apply)> {
        let sim = &self.orders[index];
        if sim.version == 0 || used.contains(&sim.id.stream_id()) {
            return None;
        }
        let events = order::decide(&sim.state, command).ok()?;
        let state = events.iter().fold(sim.state.clone(), order::evolve);
        let version = sim.version + events.len() as i64;
        let item = BatchItem {
            stream: StreamKey::new(sim.tenant, sim.id.stream_id()),
            expected: ExpectedVersion::Exact(sim.version),
            events: events.iter().map(|e| encode(&DomainEvent::Order(e.clone()))).collect(),
        };
        Some((
            item,
            Box::new(move |w: &mut Workload| {
                w.orders[index].state = state;
                w.orders[index].version = version;
            }),
        ))
    }

    fn initiate_payment(&mut self, order_index: usize, used: &BTreeSet<String>) -> Option<(BatchItem, Apply)> {
        let order = self.orders[order_index].state.as_ref()?.clone();
        if order.status != OrderStatus::Open {
            return None;
        }
        let tenant = self.orders[order_index].tenant;
        let id = PaymentId::new();
        if used.contains(&id.stream_id()) {
            return None;
        }
        let amount_minor = self.amount(order.amount_minor.get());
        let capture_method = if self.rng.gen_bool(0.7) { CaptureMethod::Manual } else { CaptureMethod::Automatic };
        let provider = [Provider::Stripe, Provider::Adyen, Provider::Generic][self.rng.gen_range(0..3)];
        let at = self.at();
        let command = PaymentCommand::Initiate {
            payment_id: id,
            order: order.snapshot(MinorUnits::ZERO),
            amount_minor,
            currency: order.currency,
            capture_method,
            provider,
            provider_reference: Some(format!("pi_{}", id.as_uuid().simple())),
            at,
        };
        let events = payment::decide(&None, command).ok()?;
        let state = payment::fold(&events);
        let version = events.len() as i64;
        self.payments.push(PaymentSim {
            tenant,
            id,
            state: None,
            version: 0,
            refunds: Vec::new(),
            disputes: Vec::new(),
        });
        let index = self.payments.len() - 1;
        let item = BatchItem {
            stream: StreamKey::new(tenant, id.stream_id()),
            expected: ExpectedVersion::NoStream,
            events: events.iter().map(|e| encode(&DomainEvent::Payment(e.clone()))).collect(),
        };
        Some((
            item,
            Box::new(move |w: &mut Workload| {
                w.payments[index].state = state;
                w.payments[index].version = version;
            }),
        ))
    }

    fn payment_command(&mut self, index: usize) -> PaymentCommand {
        let amount_max = self.payments[index].state.as_ref().map(|p| p.amount_minor.get()).unwrap_or(1_000);
        let refunds = self.payments[index].refunds.clone();
        let disputes = self.payments[index].disputes.clone();
        let pick_refund = |rng: &mut StdRng| {
            if refunds.is_empty() || rng.gen_bool(0.1) {
                RefundId::new()
            } else {
                refunds[rng.gen_range(0..refunds.len())]
            }
        };
        let pick_dispute = |rng: &mut StdRng| {
            if disputes.is_empty() || rng.gen_bool(0.1) {
                DisputeId::new()
            } else {
                disputes[rng.gen_range(0..disputes.len())]
            }
        };
        let amount = |rng: &mut StdRng, max: i64| AmountMinor::new(rng.gen_range(1..=max.max(1))).unwrap();
        let small = (amount_max / 3).max(1);
        match self.rng.gen_range(0..100) {
            0..=11 => PaymentCommand::Authorize {
                amount_minor: self.rng.gen_bool(0.7).then(|| amount(&mut self.rng, amount_max)),
            },
            12..=25 => PaymentCommand::Capture {
                amount_minor: self.rng.gen_bool(0.5).then(|| amount(&mut self.rng, amount_max)),
                final_capture: self.rng.gen_bool(0.2),
            },
            26..=28 => PaymentCommand::Void,
            29..=30 => PaymentCommand::Fail { code: "card_declined".into(), message: "declined".into() },
            31..=40 => PaymentCommand::RequestRefund {
                refund_id: RefundId::new(),
                amount_minor: amount(&mut self.rng, small),
                reason: Some("requested_by_customer".into()),
                provider_reference: None,
                at: self.at(),
            },
            41..=45 => PaymentCommand::SucceedRefund { refund_id: pick_refund(&mut self.rng) },
            46..=48 => PaymentCommand::FailRefund {
                refund_id: pick_refund(&mut self.rng),
                code: Some("insufficient_funds".into()),
                message: None,
            },
            49..=52 => PaymentCommand::OpenDispute {
                dispute_id: DisputeId::new(),
                amount_minor: amount(&mut self.rng, small),
                reason: Some("fraudulent".into()),
                provider_reference: None,
                at: self.at(),
            },
            53..=56 => PaymentCommand::ResolveDispute {
                dispute_id: pick_dispute(&mut self.rng),
                outcome: if self.rng.gen_bool(0.5) { DisputeOutcome::Won } else { DisputeOutcome::Lost },
            },
            _ => {
                let key = format!("evt_{}_{}", self.payments[index].id, self.rng.gen_range(0..25));
                let kind = self.report_kind(amount_max);
                PaymentCommand::ApplyGatewayReport(GatewayReport::new(key, kind, self.at()))
            }
        }
    }

    fn report_kind(&mut self, amount_max: i64) -> ReportKind {
        let amount = |rng: &mut StdRng| AmountMinor::new(rng.gen_range(1..=amount_max.max(1))).unwrap();
        let reference = |rng: &mut StdRng, prefix: &str| format!("{prefix}_{}", rng.gen_range(0..4));
        match self.rng.gen_range(0..8) {
            0 => ReportKind::Authorized { amount_minor: amount(&mut self.rng) },
            1 | 2 => ReportKind::Captured { amount_minor: amount(&mut self.rng), cumulative: self.rng.gen_bool(0.5) },
            3 => ReportKind::Failed { code: "card_declined".into(), message: "declined".into() },
            4 => ReportKind::Refunded {
                provider_refund_reference: reference(&mut self.rng, "re"),
                amount_minor: AmountMinor::new(self.rng.gen_range(1..=(amount_max / 3).max(1))).unwrap(),
            },
            5 => ReportKind::RefundFailed { provider_refund_reference: reference(&mut self.rng, "re") },
            6 => ReportKind::DisputeOpened {
                provider_dispute_reference: reference(&mut self.rng, "dp"),
                amount_minor: AmountMinor::new(self.rng.gen_range(1..=(amount_max / 3).max(1))).unwrap(),
            },
            _ => ReportKind::DisputeClosed {
                provider_dispute_reference: reference(&mut self.rng, "dp"),
                won: self.rng.gen_bool(0.5),
            },
        }
    }

    fn payment_decided(
        &mut self,
        index: usize,
        used: &BTreeSet<String>,
        command: PaymentCommand,
    ) -> Option<(BatchItem, Apply)> {
        let sim = &self.payments[index];
        if sim.version == 0 || used.contains(&sim.id.stream_id()) {
            return None;
        }
        let events = payment::decide(&sim.state, command).ok()?;
        if events.is_empty() {
            return None;
        }
        let state = events.iter().fold(sim.state.clone(), payment::evolve);
        let version = sim.version + events.len() as i64;
        let item = BatchItem {
            stream: StreamKey::new(sim.tenant, sim.id.stream_id()),
            expected: ExpectedVersion::Exact(sim.version),
            events: events.iter().map(|e| encode(&DomainEvent::Payment(e.clone()))).collect(),
        };
        Some((
            item,
            Box::new(move |w: &mut Workload| {
                let sim = &mut w.payments[index];
                if let Some(p) = &state {
                    sim.refunds = p.refunds.iter().map(|r| r.id).collect();
                    sim.disputes = p.disputes.iter().map(|d| d.id).collect();
                }
                sim.state = state;
                sim.version = version;
            }),
        ))
    }
}

pub fn encode(event: &DomainEvent) -> NewEvent {
    NewEvent::new(event.event_type(), event.schema_version(), event.to_payload())
        .with_metadata(json!({"source": "test"}))
}

/// Why a fixed-shape lifecycle could not be generated: a domain rule changed under the
/// generator. The benchmark reports it instead of panicking.
#[derive(Debug, thiserror::Error)]
pub enum WorkloadError {
    #[error("the domain refused a generated command: {0:?}")]
    Refused(#[from] DomainError),
    #[error("a generated amount or currency is invalid: {0:?}")]
    Money(#[from] MoneyError),
    #[error("the generated order folded to nothing")]
    OrderMissing,
}

/// How a lifecycle ends, by its number modulo 20: 12 captured, 3 captured and half refunded,
/// 2 authorized only, 2 voided, 1 failed (about 4.15 events per lifecycle, the order's included).
fn ending(n: u64) -> Ending {
    match n % 20 {
        0..=11 => Ending::Captured,
        12..=14 => Ending::Refunded,
        15..=16 => Ending::Authorized,
        17..=18 => Ending::Voided,
        _ => Ending::Failed,
    }
}

#[derive(Debug, Clone, Copy)]
enum Ending {
    Captured,
    Refunded,
    Authorized,
    Voided,
    Failed,
}

/// Metadata shaped like the API's, so a generated history reads like a recorded one.
fn api_metadata(key_id: &str) -> Value {
    let request_id = format!("req_{}", Uuid::new_v4().simple());
    json!({
        "source": "api",
        "actor": format!("api_key:{key_id}"),
        "request_id": request_id,
        "correlation_id": request_id,
        "idempotency_key": Uuid::new_v4().to_string(),
    })
}

/// Lifecycle number `n` of a tenant: an order and its payment, as two batch items (new
/// streams) with API-shaped metadata.
pub fn lifecycle(tenant_id: Uuid, n: u64, key_id: &str) -> Result<[BatchItem; 2], WorkloadError> {
    let at = Utc::now().trunc_subsecs(6);
    let currency = Currency::parse(if matches!(n % 7, 0) { "EUR" } else { "USD" })?;
    let amount_minor = AmountMinor::new(1_000 + i64::try_from(n % 99_000).unwrap_or(0))?;

    let order_id = OrderId::new();
    let create = OrderCommand::Create {
        order_id,
        amount_minor,
        currency,
        reference: format!("gen-order-{n}"),
        metadata: json!({ "channel": "web", "cart_items": 1 + n % 5 }),
        at,
    };
    let order_events = order::decide(&OrderState::default(), create)?;
    let order_state = order_events.iter().fold(OrderState::default(), order::evolve);
    let order = order_state.as_ref().ok_or(WorkloadError::OrderMissing)?;

    let payment_id = PaymentId::new();
    let initiate = PaymentCommand::Initiate {
        payment_id,
        order: order.snapshot(MinorUnits::ZERO),
        amount_minor,
        currency,
        capture_method: CaptureMethod::Manual,
        provider: Provider::Generic,
        provider_reference: Some(format!("pi_gen_{}", Uuid::now_v7().simple())),
        at,
    };
    let mut state = PaymentState::default();
    let mut payment_events = Vec::new();
    for command in std::iter::once(initiate).chain(lifecycle_commands(ending(n), amount_minor, at)?) {
        for event in payment::decide(&state, command)? {
            state = payment::evolve(state, &event);
            payment_events.push(event);
        }
    }

    let with_metadata = |e: DomainEvent| encode(&e).with_metadata(api_metadata(key_id));
    Ok([
        BatchItem {
            stream: StreamKey::new(tenant_id, order_id.stream_id()),
            expected: ExpectedVersion::NoStream,
            events: order_events.into_iter().map(|e| with_metadata(DomainEvent::Order(e))).collect(),
        },
        BatchItem {
            stream: StreamKey::new(tenant_id, payment_id.stream_id()),
            expected: ExpectedVersion::NoStream,
            events: payment_events.into_iter().map(|e| with_metadata(DomainEvent::Payment(e))).collect(),
        },
    ])
}

/// The commands after `Initiate` that lead to `ending`.
fn lifecycle_commands(
    ending: Ending,
    amount_minor: AmountMinor,
    at: chrono::DateTime<Utc>,
) -> Result<Vec<PaymentCommand>, WorkloadError> {
    let mut commands = Vec::new();
    match ending {
        Ending::Failed => commands
            .push(PaymentCommand::Fail { code: "card_declined".into(), message: "Your card was declined.".into() }),
        _ => commands.push(PaymentCommand::Authorize { amount_minor: None }),
    }
    match ending {
        Ending::Captured | Ending::Refunded => {
            commands.push(PaymentCommand::Capture { amount_minor: None, final_capture: false })
        }
        Ending::Voided => commands.push(PaymentCommand::Void),
        Ending::Authorized | Ending::Failed => {}
    }
    if let Ending::Refunded = ending {
        let refund_id = RefundId::new();
        commands.push(PaymentCommand::RequestRefund {
            refund_id,
            amount_minor: AmountMinor::new((amount_minor.get() / 2).max(1))?,
            reason: Some("requested_by_customer".into()),
            provider_reference: None,
            at,
        });
        commands.push(PaymentCommand::SucceedRefund { refund_id });
    }
    Ok(commands)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ending_is_a_valid_lifecycle() {
        let tenant = Uuid::new_v4();
        let mut total = 0;
        for n in 0..20 {
            let [order, payment] = lifecycle(tenant, n, "key").unwrap();
            assert_eq!(order.events.len(), 1);
            assert_eq!(order.events[0].event_type, "OrderCreated");
            assert_eq!(payment.events[0].event_type, "PaymentInitiated");
            assert_eq!(payment.events[0].metadata["source"], "api");
            total += order.events.len() + payment.events.len();
        }
        assert!((70..=100).contains(&total), "{total} events in 20 lifecycles");
    }
}
