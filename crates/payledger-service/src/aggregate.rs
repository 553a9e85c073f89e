//! The two aggregates behind one interface, so the command pipeline is written once.

use payledger_core::{order, payment, DecodeError, DomainError};
use payledger_store::{read_stream, NewEvent, RecordedEvent, StreamKey};
use tokio_postgres::GenericClient;

use crate::error::{ServiceError, ServiceResult};

pub trait Aggregate {
    type State: Default + Clone + Send + Sync;
    type Event: Clone + Send + Sync;
    type Command: Send;

    fn decode(recorded: &RecordedEvent) -> Result<Self::Event, DecodeError>;
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State;
    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, DomainError>;
    fn encode(event: &Self::Event, metadata: serde_json::Value) -> NewEvent;
}

pub struct OrderAggregate;

impl Aggregate for OrderAggregate {
    type State = order::OrderState;
    type Event = order::OrderEvent;
    type Command = order::OrderCommand;

    fn decode(r: &RecordedEvent) -> Result<Self::Event, DecodeError> {
        order::OrderEvent::decode(&r.event_type, r.schema_version, &r.payload)
    }
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        order::evolve(state, event)
    }
    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, DomainError> {
        order::decide(state, command)
    }
    fn encode(event: &Self::Event, metadata: serde_json::Value) -> NewEvent {
        NewEvent::new(event.event_type(), event.schema_version(), event.to_payload()).with_metadata(metadata)
    }
}

pub struct PaymentAggregate;

impl Aggregate for PaymentAggregate {
    type State = payment::PaymentState;
    type Event = payment::PaymentEvent;
    type Command = payment::PaymentCommand;

    fn decode(r: &RecordedEvent) -> Result<Self::Event, DecodeError> {
        payment::PaymentEvent::decode(&r.event_type, r.schema_version, &r.payload)
    }
    fn evolve(state: Self::State, event: &Self::Event) -> Self::State {
        payment::evolve(state, event)
    }
    fn decide(state: &Self::State, command: Self::Command) -> Result<Vec<Self::Event>, DomainError> {
        payment::decide(state, command)
    }
    fn encode(event: &Self::Event, metadata: serde_json::Value) -> NewEvent {
        NewEvent::new(event.event_type(), event.schema_version(), event.to_payload()).with_metadata(metadata)
    }
}

/// Most events a stream may hold before a command refuses to load it (a payment has a few dozen).
pub const STREAM_MAX_EVENTS: i64 = 10_000;

/// Loads a stream and folds it.
pub async fn load<A: Aggregate, C: GenericClient>(client: &C, stream: &StreamKey) -> ServiceResult<(A::State, i64)> {
    let recorded = read_stream(client, stream, 1, STREAM_MAX_EVENTS + 1).await?;
    if recorded.len() as i64 > STREAM_MAX_EVENTS {
        return Err(ServiceError::internal(format!("stream {} exceeds {STREAM_MAX_EVENTS} events", stream.stream_id)));
    }
    let mut state = A::State::default();
    let mut version = 0;
    for r in &recorded {
        let event =
            A::decode(r).map_err(|e| ServiceError::internal(format!("undecodable event {}: {e}", r.event_id)))?;
        state = A::evolve(state, &event);
        version = r.stream_version;
    }
    Ok((state, version))
}
