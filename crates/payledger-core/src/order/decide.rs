use super::{Order, OrderCommand, OrderEvent, OrderState, OrderStatus};
use crate::error::DomainError;
use crate::text;

pub fn decide(state: &OrderState, command: OrderCommand) -> Result<Vec<OrderEvent>, DomainError> {
    match (state, command) {
        (None, OrderCommand::Create { order_id, amount_minor, currency, reference, metadata, at }) => {
            text::required("reference", &reference, text::SHORT_TEXT_MAX_CHARS)?;
            if !metadata.is_object() {
                return Err(DomainError::MetadataNotObject);
            }
            Ok(vec![OrderEvent::OrderCreated { order_id, amount_minor, currency, reference, metadata, created_at: at }])
        }
        (Some(order), OrderCommand::Create { .. }) => Err(DomainError::OrderAlreadyExists { order_id: order.id }),
        (None, OrderCommand::Cancel { .. }) => Err(DomainError::OrderNotFound),
        (Some(order), OrderCommand::Cancel { at, reason, payments_in_progress }) => match order.status {
            OrderStatus::Open => {
                if payments_in_progress > 0 {
                    return Err(DomainError::OrderHasPaymentsInProgress { count: payments_in_progress });
                }
                text::optional("reason", reason.as_deref(), text::LONG_TEXT_MAX_CHARS)?;
                Ok(vec![OrderEvent::OrderCancelled { reason, cancelled_at: at }])
            }
            OrderStatus::Cancelled => Err(DomainError::OrderNotOpen { status: order.status }),
        },
    }
}

pub fn evolve(state: OrderState, event: &OrderEvent) -> OrderState {
    match (state, event) {
        (None, OrderEvent::OrderCreated { order_id, amount_minor, currency, reference, metadata, created_at }) => {
            Some(Order {
                id: *order_id,
                amount_minor: *amount_minor,
                currency: *currency,
                reference: reference.clone(),
                metadata: metadata.clone(),
                status: OrderStatus::Open,
                created_at: *created_at,
                cancelled_at: None,
                cancel_reason: None,
            })
        }
        (Some(mut order), OrderEvent::OrderCancelled { reason, cancelled_at }) => {
            debug_assert_eq!(order.status, OrderStatus::Open, "only open orders are cancelled");
            order.status = OrderStatus::Cancelled;
            order.cancelled_at = Some(*cancelled_at);
            order.cancel_reason = reason.clone();
            Some(order)
        }
        // A stored stream never holds these (decide refuses them); replay
        // keeps the state it has rather than inventing one.
        (state @ Some(_), OrderEvent::OrderCreated { .. }) | (state @ None, OrderEvent::OrderCancelled { .. }) => {
            debug_assert!(false, "impossible order event {event:?} for state {state:?}");
            state
        }
    }
}

/// Replays an order stream from nothing.
pub fn fold<'a>(events: impl IntoIterator<Item = &'a OrderEvent>) -> OrderState {
    events.into_iter().fold(None, evolve)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    use super::*;
    use crate::ids::OrderId;
    use crate::money::{AmountMinor, Currency};

    fn create(order_id: OrderId) -> OrderCommand {
        OrderCommand::Create {
            order_id,
            amount_minor: AmountMinor::new(7500).unwrap(),
            currency: Currency::USD,
            reference: "ORD-7890".into(),
            metadata: json!({"cart": 1}),
            at: Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap(),
        }
    }

    fn cancel() -> OrderCommand {
        cancel_with(0)
    }

    fn cancel_with(payments_in_progress: usize) -> OrderCommand {
        OrderCommand::Cancel {
            at: Utc.with_ymd_and_hms(2025, 1, 3, 0, 0, 0).unwrap(),
            reason: Some("customer asked".into()),
            payments_in_progress,
        }
    }

    fn given(events: &[OrderEvent]) -> OrderState {
        fold(events)
    }

    #[test]
    fn create_on_nothing_emits_order_created_and_the_order_is_open() {
        let id = OrderId::new();
        let events = decide(&given(&[]), create(id)).unwrap();
        assert!(matches!(events.as_slice(), [OrderEvent::OrderCreated { order_id, .. }] if *order_id == id));
        let order = given(&events).unwrap();
        assert_eq!(order.status, OrderStatus::Open);
        assert_eq!(order.amount_minor.get(), 7500);
    }

    #[test]
    fn create_twice_is_refused() {
        let id = OrderId::new();
        let history = decide(&None, create(id)).unwrap();
        let err = decide(&given(&history), create(id)).unwrap_err();
        assert_eq!(err.code(), "order_already_exists");
    }

    #[test]
    fn create_validates_reference_and_metadata() {
        let id = OrderId::new();
        let OrderCommand::Create { order_id, amount_minor, currency, at, .. } = create(id) else { unreachable!() };
        let with = |reference: &str, metadata| OrderCommand::Create {
            order_id,
            amount_minor,
            currency,
            reference: reference.into(),
            metadata,
            at,
        };
        assert_eq!(decide(&None, with(" ", json!({}))).unwrap_err().code(), "field_empty");
        assert_eq!(decide(&None, with(&"x".repeat(256), json!({}))).unwrap_err().code(), "field_too_long");
        assert_eq!(decide(&None, with("R", json!([1]))).unwrap_err().code(), "metadata_not_object");
    }

    #[test]
    fn cancel_open_order_then_cancel_again_is_refused() {
        let history = decide(&None, create(OrderId::new())).unwrap();
        let cancelled = decide(&given(&history), cancel()).unwrap();
        let all: Vec<_> = history.into_iter().chain(cancelled).collect();
        let order = given(&all).unwrap();
        assert_eq!(order.status, OrderStatus::Cancelled);
        assert_eq!(order.cancel_reason.as_deref(), Some("customer asked"));
        let err = decide(&given(&all), cancel()).unwrap_err();
        assert_eq!(err.code(), "order_not_open");
    }

    #[test]
    fn cancel_with_a_payment_in_progress_is_refused_and_records_nothing() {
        let history = decide(&None, create(OrderId::new())).unwrap();
        let err = decide(&given(&history), cancel_with(2)).unwrap_err();
        assert_eq!(err, DomainError::OrderHasPaymentsInProgress { count: 2 });
        assert_eq!(err.code(), "order_has_payments_in_progress");
        assert!(decide(&given(&history), cancel_with(0)).is_ok());
    }

    #[test]
    fn cancel_missing_order_is_not_found() {
        assert_eq!(decide(&None, cancel()).unwrap_err().code(), "order_not_found");
    }
}
