//! An aggregate as the pair every command needs: a pure `decide` (may this command happen,
//! and what events say it did) and `evolve` (the state after an event), with the codec of its
//! events. The command pipeline (`payledger-service`) is written once against this trait, for
//! orders and payments alike; nothing here does I/O.

use serde_json::Value;

use crate::{order, payment, DecodeError, DomainError};

pub trait Aggregate {
    type State: Default + Clone + Send + Sync;
    type Event: Clone + Send + Sync;
    type Command: Send;

    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, DomainError>;
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;

    /// The event stored as `event_type` at `schema_version` with `payload`.
    fn decode(event_type: &str, schema_version: i32, payload: &Value) -> Result<Self::Event, DecodeError>;
    /// The stored form of an event: its type, schema version and payload.
    fn encode(event: &Self::Event) -> (&'static str, i32, Value);
}

/// Orders: create and cancel.
pub struct OrderAggregate;

impl Aggregate for OrderAggregate {
    type State = order::OrderState;
    type Event = order::OrderEvent;
    type Command = order::OrderCommand;

    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, DomainError> {
        order::decide(state, command)
    }
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        order::evolve(state, event)
    }
    fn decode(event_type: &str, schema_version: i32, payload: &Value) -> Result<Self::Event, DecodeError> {
        order::OrderEvent::decode(event_type, schema_version, payload)
    }
    fn encode(event: &Self::Event) -> (&'static str, i32, Value) {
        (event.event_type(), event.schema_version(), event.to_payload())
    }
}

/// Payments with their refunds and disputes.
pub struct PaymentAggregate;

impl Aggregate for PaymentAggregate {
    type State = payment::PaymentState;
    type Event = payment::PaymentEvent;
    type Command = payment::PaymentCommand;

    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, DomainError> {
        payment::decide(state, command)
    }
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        payment::evolve(state, event)
    }
    fn decode(event_type: &str, schema_version: i32, payload: &Value) -> Result<Self::Event, DecodeError> {
        payment::PaymentEvent::decode(event_type, schema_version, payload)
    }
    fn encode(event: &Self::Event) -> (&'static str, i32, Value) {
        (event.event_type(), event.schema_version(), event.to_payload())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order::{OrderCommand, OrderEvent};
    use crate::{Currency, OrderId};

    /// What `encode` writes, `decode` reads back as the same event.
    #[test]
    fn an_order_event_survives_encode_and_decode() {
        let command = OrderCommand::Create {
            order_id: OrderId::new(),
            amount_minor: crate::AmountMinor::new(7500).unwrap(),
            currency: Currency::parse("USD").unwrap(),
            reference: "ORD-1".into(),
            metadata: serde_json::json!({}),
            at: chrono::Utc::now(),
        };
        let events = OrderAggregate::decide(&Default::default(), command).unwrap();
        let (event_type, version, payload) = OrderAggregate::encode(&events[0]);
        let decoded: OrderEvent = OrderAggregate::decode(event_type, version, &payload).unwrap();
        assert_eq!(decoded, events[0]);
    }
}
