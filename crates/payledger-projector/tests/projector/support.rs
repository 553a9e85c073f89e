//! Shared by the projector's tests: a random workload that drives the core's `decide` and the
//! store's append directly (fast: thousands of commands in seconds), an independent oracle
//! that folds the log with the core alone, and waits that poll instead of sleeping blindly.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use deadpool_postgres::Pool;
use payledger_core::ledger::{postings_for, Account, AccountBalances};
use payledger_core::order::{self, OrderCommand, OrderState, OrderStatus};
use payledger_core::payment::{
    self, CaptureMethod, DisputeOutcome, GatewayReport, PaymentCommand, PaymentState, Provider, ReportKind,
};
use payledger_core::{
    AmountMinor, Currency, DisputeId, DomainEvent, MinorUnits, OrderId, PaymentId, RefundId, StreamRef,
};
use payledger_projector::{live_checkpoint, schema::schema_name, Projector, ProjectorConfig, PROJECTION};
use payledger_store::{append_batch, has_events_after, BatchItem, Checkpoint, ExpectedVersion, NewEvent, StreamKey};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use uuid::Uuid;

/// A projector tuned for tests: small batches (many transactions), quick polls and take-overs.
pub fn test_config() -> ProjectorConfig {
    ProjectorConfig {
        batch_size: 97,
        poll_interval: Duration::from_millis(50),
        standby_retry: Duration::from_millis(50),
        error_backoff_max: Duration::from_millis(200),
        cache_max_streams: 64,
        ..ProjectorConfig::default()
    }
}

pub fn spawn_projector(url: &str) -> tokio::task::JoinHandle<()> {
    Projector::new(url, test_config()).spawn()
}

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

/// Waits until the live read-models have applied every event in the log (bounded).
pub async fn wait_projected(pool: &Pool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        {
            let client = pool.get().await.unwrap();
            if let Some((_, checkpoint)) = live_checkpoint(&**client).await.unwrap() {
                if !has_events_after(&**client, checkpoint).await.unwrap() {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "the projector did not catch up in time");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The live version's schema.
pub async fn live_schema(pool: &Pool) -> String {
    let client = pool.get().await.unwrap();
    let (version, _) = live_checkpoint(&**client).await.unwrap().expect("a live version");
    schema_name(PROJECTION, version)
}

pub async fn live(pool: &Pool) -> (i32, Checkpoint) {
    let client = pool.get().await.unwrap();
    live_checkpoint(&**client).await.unwrap().expect("a live version")
}

// ---------------------------------------------------------------------------------------
// The oracle: the log folded with the core alone, nothing of the projector.

#[derive(Debug, Default)]
pub struct Oracle {
    pub orders: BTreeMap<(Uuid, Uuid), (String, i64, i64)>,
    pub payments: BTreeMap<(Uuid, Uuid), payment::Payment>,
    pub balances: BTreeMap<(Uuid, String, String), i64>,
    pub journal_lines: i64,
    pub events: i64,
}

/// The order status rule as documented on `OrderReadStatus`, restated here.
fn oracle_order_status(amount: i64, cancelled: bool, captured: i64, refunded: i64) -> &'static str {
    if captured > 0 && refunded >= captured {
        "refunded"
    } else if captured > 0 && captured >= amount {
        "paid"
    } else if cancelled {
        "cancelled"
    } else {
        "open"
    }
}

pub async fn oracle(pool: &Pool) -> Oracle {
    let client = pool.get().await.unwrap();
    let rows = client
        .query(
            "SELECT tenant_id, stream_id, event_type, schema_version, payload FROM events
             ORDER BY tenant_id, stream_id, stream_version",
            &[],
        )
        .await
        .unwrap();
    let mut orders: BTreeMap<(Uuid, Uuid), OrderState> = BTreeMap::new();
    let mut payments: BTreeMap<(Uuid, Uuid), PaymentState> = BTreeMap::new();
    let mut balances: BTreeMap<Uuid, AccountBalances> = BTreeMap::new();
    let mut journal_lines = 0;
    for row in &rows {
        let tenant: Uuid = row.get(0);
        let stream: String = row.get(1);
        let event = match StreamRef::parse(&stream) {
            Ok(_) => DomainEvent::decode(row.get::<_, &str>(2), row.get(3), &row.get(4)).unwrap(),
            Err(_) => continue,
        };
        match (StreamRef::parse(&stream).unwrap(), event) {
            (StreamRef::Order(id), DomainEvent::Order(e)) => {
                let slot = orders.entry((tenant, *id.as_uuid())).or_default();
                *slot = order::evolve(slot.take(), &e);
            }
            (StreamRef::Payment(id), DomainEvent::Payment(e)) => {
                if let Some(transaction) = postings_for(&e) {
                    journal_lines += transaction.lines.len() as i64;
                    balances.entry(tenant).or_default().post(&transaction);
                }
                let slot = payments.entry((tenant, *id.as_uuid())).or_default();
                *slot = payment::evolve(slot.take(), &e);
            }
            other => panic!("mismatched event {other:?}"),
        }
    }
    let payments: BTreeMap<(Uuid, Uuid), payment::Payment> =
        payments.into_iter().filter_map(|(k, p)| p.map(|p| (k, p))).collect();
    let mut sums: BTreeMap<(Uuid, Uuid), (i64, i64)> = BTreeMap::new();
    for ((tenant, _), p) in &payments {
        let sum = sums.entry((*tenant, *p.order_id.as_uuid())).or_default();
        sum.0 += p.amount_captured.get();
        sum.1 += p.amount_refunded.get();
    }
    let orders = orders
        .into_iter()
        .filter_map(|(key, o)| {
            let o = o?;
            let (captured, refunded) = sums.get(&key).copied().unwrap_or((0, 0));
            let status =
                oracle_order_status(o.amount_minor.get(), o.status == OrderStatus::Cancelled, captured, refunded);
            Some((key, (status.to_owned(), captured, refunded)))
        })
        .collect();
    let mut balance_rows = BTreeMap::new();
    for (tenant, b) in &balances {
        assert!(b.trial_balance_is_zero(), "the core's own journal balances");
        for (account, currency, balance) in b.iter() {
            let balance = i64::try_from(balance).unwrap();
            balance_rows.insert((*tenant, account_name(account), currency.code().to_owned()), balance);
        }
    }
    Oracle { orders, payments, balances: balance_rows, journal_lines, events: rows.len() as i64 }
}

fn account_name(account: Account) -> String {
    account.as_str().to_owned()
}

/// Compares the live read-models with the oracle, table by table.
pub async fn assert_matches_oracle(pool: &Pool) {
    let expected = oracle(pool).await;
    let schema = live_schema(pool).await;
    let client = pool.get().await.unwrap();

    let rows = client
        .query(
            &format!(
                "SELECT tenant_id, payment_id, status, amount_authorized_minor, amount_captured_minor,
                        amount_refunded_minor, amount_refund_pending_minor, amount_disputed_minor, order_id
                 FROM {schema}.payments"
            ),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), expected.payments.len(), "payments count");
    for row in &rows {
        let key: (Uuid, Uuid) = (row.get(0), row.get(1));
        let p = expected.payments.get(&key).unwrap_or_else(|| panic!("unexpected payment {key:?}"));
        let actual: (String, i64, i64, i64, i64, i64, Uuid) =
            (row.get(2), row.get(3), row.get(4), row.get(5), row.get(6), row.get(7), row.get(8));
        let wanted = (
            p.status.as_str().to_owned(),
            p.amount_authorized.get(),
            p.amount_captured.get(),
            p.amount_refunded.get(),
            p.amount_refund_pending.get(),
            p.amount_disputed.get(),
            *p.order_id.as_uuid(),
        );
        assert_eq!(actual, wanted, "payment {key:?}");
    }

    let refunds: BTreeSet<(Uuid, String, i64)> = client
        .query(&format!("SELECT refund_id, status, amount_minor FROM {schema}.refunds"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected_refunds: BTreeSet<(Uuid, String, i64)> = expected
        .payments
        .values()
        .flat_map(|p| p.refunds.iter().map(|r| (*r.id.as_uuid(), r.status.as_str().to_owned(), r.amount_minor.get())))
        .collect();
    assert_eq!(refunds, expected_refunds, "refunds");

    let disputes: BTreeSet<(Uuid, String, i64)> = client
        .query(&format!("SELECT dispute_id, status, amount_minor FROM {schema}.disputes"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    let expected_disputes: BTreeSet<(Uuid, String, i64)> = expected
        .payments
        .values()
        .flat_map(|p| p.disputes.iter().map(|d| (*d.id.as_uuid(), d.status.as_str().to_owned(), d.amount_minor.get())))
        .collect();
    assert_eq!(disputes, expected_disputes, "disputes");

    let orders: BTreeMap<(Uuid, Uuid), (String, i64, i64)> = client
        .query(
            &format!(
                "SELECT tenant_id, order_id, status, amount_captured_minor::int8, amount_refunded_minor::int8 FROM {schema}.orders"
            ),
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1)), (r.get(2), r.get(3), r.get(4))))
        .collect();
    assert_eq!(orders, expected.orders, "orders");

    let balances: BTreeMap<(Uuid, String, String), i64> = client
        .query(&format!("SELECT tenant_id, account, currency, balance_minor::int8 FROM {schema}.account_balances"), &[])
        .await
        .unwrap()
        .iter()
        .map(|r| ((r.get(0), r.get(1), r.get(2)), r.get(3)))
        .collect();
    assert_eq!(balances, expected.balances, "account balances");

    let lines: i64 =
        client.query_one(&format!("SELECT count(*) FROM {schema}.journal_entries"), &[]).await.unwrap().get(0);
    assert_eq!(lines, expected.journal_lines, "journal lines");

    // Equal rows alone cannot show an event applied twice (a stream's state is folded by
    // version, journal lines are keyed): the live version's count of applied events can.
    let (version, checkpoint) = live(pool).await;
    let applied: i64 = client
        .query_one(
            "SELECT events_applied FROM projection_versions WHERE name = $1 AND version = $2",
            &[&PROJECTION, &version],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(applied, events_up_to(pool, checkpoint).await, "every event up to the checkpoint applied exactly once");
}

/// How many events the log holds up to `checkpoint` in read order.
pub async fn events_up_to(pool: &Pool, checkpoint: Checkpoint) -> i64 {
    let client = pool.get().await.unwrap();
    client
        .query_one(
            "SELECT count(*) FROM events WHERE (tx_id, global_position) <= ($1::text::xid8, $2)",
            &[&checkpoint.tx_id.to_string(), &checkpoint.position],
        )
        .await
        .unwrap()
        .get(0)
}
