//! A generated history: payment lifecycles decided by `payledger_core` (so that every
//! event is one the domain would produce) and appended in batches with
//! `payledger_store::append_batch`, the way the API records them (same metadata shape).

use chrono::SubsecRound;
use payledger_core::money::{AmountMinor, Currency, MinorUnits};
use payledger_core::order::{self, OrderCommand, OrderState};
use payledger_core::payment::{self, CaptureMethod, PaymentCommand, PaymentState, Provider};
use payledger_core::{DomainError, OrderId, PaymentId, RefundId};
use payledger_store::{BatchItem, ExpectedVersion, NewEvent, StreamKey};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::error::BenchError;

/// How a generated payment ends, by lifecycle number modulo 20: 12 captured, 3 captured
/// and half refunded, 2 authorized only, 2 voided, 1 failed (about 4.15 events per
/// lifecycle, the order's included).
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

fn domain(e: DomainError) -> BenchError {
    BenchError::Setup(format!("generated history: the domain refused a command: {e:?}"))
}

fn metadata(key_id: &str) -> Value {
    let request_id = format!("req_{}", Uuid::new_v4().simple());
    json!({
        "source": "api",
        "actor": format!("api_key:{key_id}"),
        "request_id": request_id,
        "correlation_id": request_id,
        "idempotency_key": Uuid::new_v4().to_string(),
    })
}

/// The events of one order and its payment, as two batch items (new streams).
pub(crate) fn lifecycle(tenant_id: Uuid, n: u64, key_id: &str) -> Result<[BatchItem; 2], BenchError> {
    let at = chrono::Utc::now().trunc_subsecs(6);
    let currency = Currency::parse(if matches!(n % 7, 0) { "EUR" } else { "USD" })
        .map_err(|e| BenchError::Setup(format!("{e:?}")))?;
    let amount_minor = AmountMinor::new(1_000 + i64::try_from(n % 99_000).unwrap_or(0))
        .map_err(|e| BenchError::Setup(format!("{e:?}")))?;

    let order_id = OrderId::new();
    let create = OrderCommand::Create {
        order_id,
        amount_minor,
        currency,
        reference: format!("gen-order-{n}"),
        metadata: json!({ "channel": "web", "cart_items": 1 + n % 5 }),
        at,
    };
    let order_events = order::decide(&OrderState::default(), create).map_err(domain)?;
    let order_state = order_events.iter().fold(OrderState::default(), order::evolve);
    let order = order_state.as_ref().ok_or_else(|| BenchError::Setup("generated order missing".into()))?;

    let payment_id = PaymentId::new();
    let mut commands = vec![PaymentCommand::Initiate {
        payment_id,
        order: order.snapshot(MinorUnits::ZERO),
        amount_minor,
        currency,
        capture_method: CaptureMethod::Manual,
        provider: Provider::Generic,
        provider_reference: Some(format!("pi_gen_{}", Uuid::now_v7().simple())),
        at,
    }];
    let ending = ending(n);
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
        let half =
            AmountMinor::new((amount_minor.get() / 2).max(1)).map_err(|e| BenchError::Setup(format!("{e:?}")))?;
        commands.push(PaymentCommand::RequestRefund {
            refund_id,
            amount_minor: half,
            reason: Some("requested_by_customer".into()),
            provider_reference: None,
            at,
        });
        commands.push(PaymentCommand::SucceedRefund { refund_id });
    }
    let mut state = PaymentState::default();
    let mut payment_events = Vec::with_capacity(commands.len() + 1);
    for command in commands {
        for event in payment::decide(&state, command).map_err(domain)? {
            state = payment::evolve(state, &event);
            payment_events.push(event);
        }
    }

    let order_stream = StreamKey::new(tenant_id, order_id.stream_id());
    let payment_stream = StreamKey::new(tenant_id, payment_id.stream_id());
    let order_new: Vec<NewEvent> = order_events
        .iter()
        .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.to_payload()).with_metadata(metadata(key_id)))
        .collect();
    let payment_new: Vec<NewEvent> = payment_events
        .iter()
        .map(|e| NewEvent::new(e.event_type(), e.schema_version(), e.to_payload()).with_metadata(metadata(key_id)))
        .collect();
    Ok([
        BatchItem { stream: order_stream, expected: ExpectedVersion::NoStream, events: order_new },
        BatchItem { stream: payment_stream, expected: ExpectedVersion::NoStream, events: payment_new },
    ])
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
            total += order.events.len() + payment.events.len();
        }
        assert!((70..=100).contains(&total), "{total} events in 20 lifecycles");
    }
}
