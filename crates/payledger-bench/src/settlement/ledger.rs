//! Seeding the ledger the report settles: per payment an order and a payment stream,
//! decided by `payledger_core` (initiated with its `pi_…` reference, authorized, captured,
//! maybe refunded with its `re_…` or disputed with its `du_…`), appended straight to the
//! store in batches from concurrent writers, not through HTTP.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use payledger_core::order::{self, OrderCommand, OrderState};
use payledger_core::payment::{self, CaptureMethod, PaymentCommand, PaymentState, Provider};
use payledger_core::{AmountMinor, Currency, DisputeId, DomainEvent, MinorUnits, OrderId, PaymentId, RefundId};
use payledger_store::{append_batch, BatchItem, ExpectedVersion, Pool, StreamKey};
use serde_json::json;
use uuid::Uuid;

use super::generate::LedgerPayment;
use super::Seeding;
use crate::error::BenchError;

fn refused(e: impl std::fmt::Debug) -> BenchError {
    BenchError::Setup(format!("seeding the ledger: the domain refused a command: {e:?}"))
}

/// The order and payment streams of one payment.
fn payment_items(tenant_id: Uuid, p: &LedgerPayment, at: DateTime<Utc>) -> Result<[BatchItem; 2], BenchError> {
    let amount_minor = AmountMinor::new(p.captured_minor).map_err(refused)?;
    let currency = Currency::USD;
    let order_id = OrderId::new();
    let create = OrderCommand::Create {
        order_id,
        amount_minor,
        currency,
        reference: p.payment_intent_id.replace("pi_", "order_"),
        metadata: json!({}),
        at,
    };
    let order_events = order::decide(&OrderState::default(), create).map_err(refused)?;
    let order_state = order_events.iter().fold(OrderState::default(), order::evolve);
    let order = order_state.as_ref().ok_or_else(|| refused("the order folded to nothing"))?;
    let payment_id = PaymentId::new();
    let mut commands = vec![
        PaymentCommand::Initiate {
            payment_id,
            order: order.snapshot(MinorUnits::ZERO),
            amount_minor,
            currency,
            capture_method: CaptureMethod::Manual,
            provider: Provider::Stripe,
            provider_reference: Some(p.payment_intent_id.clone()),
            at,
        },
        PaymentCommand::Authorize { amount_minor: None },
        PaymentCommand::Capture { amount_minor: None, final_capture: false },
    ];
    if let Some((reference, amount)) = &p.refund {
        let refund_id = RefundId::new();
        commands.push(PaymentCommand::RequestRefund {
            refund_id,
            amount_minor: AmountMinor::new(*amount).map_err(refused)?,
            reason: Some("requested_by_customer".into()),
            provider_reference: Some(reference.clone()),
            at,
        });
        commands.push(PaymentCommand::SucceedRefund { refund_id });
    }
    if let Some((reference, amount)) = &p.dispute {
        commands.push(PaymentCommand::OpenDispute {
            dispute_id: DisputeId::new(),
            amount_minor: AmountMinor::new(*amount).map_err(refused)?,
            reason: Some("fraudulent".into()),
            provider_reference: Some(reference.clone()),
            at,
        });
    }
    let mut state = PaymentState::default();
    let mut payment_events = Vec::new();
    for command in commands {
        for event in payment::decide(&state, command).map_err(refused)? {
            state = payment::evolve(state, &event);
            payment_events.push(event);
        }
    }
    let encode = |e: DomainEvent| {
        payledger_testkit::workload::encode(&e).with_metadata(json!({"source": "bench", "actor": "bench:settlement"}))
    };
    Ok([
        BatchItem {
            stream: StreamKey::new(tenant_id, order_id.stream_id()),
            expected: ExpectedVersion::NoStream,
            events: order_events.into_iter().map(|e| encode(DomainEvent::Order(e))).collect(),
        },
        BatchItem {
            stream: StreamKey::new(tenant_id, payment_id.stream_id()),
            expected: ExpectedVersion::NoStream,
            events: payment_events.into_iter().map(|e| encode(DomainEvent::Payment(e))).collect(),
        },
    ])
}

/// Appends the ledger, `per_batch` payments per transaction from `writers` tasks.
pub(crate) async fn seed(
    pool: &Pool,
    tenant_id: Uuid,
    ledger: Arc<Vec<LedgerPayment>>,
    per_batch: usize,
    writers: usize,
) -> Result<Seeding, BenchError> {
    let started = Instant::now();
    let at = Utc::now();
    let chunks: Vec<(usize, usize)> =
        (0..ledger.len()).step_by(per_batch).map(|start| (start, (start + per_batch).min(ledger.len()))).collect();
    let chunks = Arc::new(chunks);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (pool, ledger, chunks) = (pool.clone(), ledger.clone(), chunks.clone());
            tokio::spawn(async move {
                let mut events = 0u64;
                for &(start, end) in chunks.iter().skip(w).step_by(writers) {
                    let mut items = Vec::with_capacity(2 * (end - start));
                    for p in &ledger[start..end] {
                        items.extend(payment_items(tenant_id, p, at)?);
                    }
                    events += append_batch(&pool, items).await?.events.len() as u64;
                }
                Ok::<u64, BenchError>(events)
            })
        })
        .collect();
    let mut events = 0;
    for task in tasks {
        events += task.await.map_err(|e| BenchError::Task(e.to_string()))??;
    }
    let duration_s = started.elapsed().as_secs_f64().max(1e-9);
    Ok(Seeding {
        payments: ledger.len() as u64,
        events,
        batches: chunks.len() as u64,
        duration_ms: duration_s * 1_000.0,
        events_per_s: events as f64 / duration_s,
        projected_ms: 0.0,
        projected_events_per_s: 0.0,
    })
}
