//! The command pipeline: claim the idempotency key, load the stream, decide, append with the
//! loaded version as the expected one, record the response, commit — all in one transaction.
//! A lost race (the stream moved) rolls back and starts over, a bounded number of times.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use payledger_core::order::OrderPayments;
use payledger_core::OrderId;
use payledger_store::idempotency::{self, Claim, StoredResponse};
use payledger_store::{append_in_tx, lock_stream, set_lock_timeout, BatchItem, ExpectedVersion, StoreError, StreamKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::aggregate::{load, Aggregate};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::order_payments::tally_order_payments;
use crate::request_id;
use crate::state::AppState;

pub const POSITION_HEADER: &str = "payledger-position";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// Who asked, and the idempotency key with the request's fingerprint.
pub struct CommandContext {
    pub state: AppState,
    pub principal: Principal,
    pub idempotency_key: Option<String>,
    pub fingerprint: [u8; 32],
    /// An order stream the command depends on: locked and loaded in the same transaction,
    /// so that e.g. a payment cannot be created on an order being cancelled at that moment.
    pub related_order: Option<StreamKey>,
    /// An order whose payments the command weighs: folded after the order's stream is locked
    /// (as `related_order` or as the command's own stream), so none can appear meanwhile.
    pub payments_of_order: Option<OrderId>,
    /// The request's id, taken here: the command runs in a task of its own, where the
    /// request's task-local is not set.
    pub request_id: Option<String>,
}

/// What a command may read besides its own stream, loaded under lock in its transaction.
#[derive(Default)]
pub struct Related {
    pub order: Option<payledger_core::order::OrderState>,
    pub order_payments: Option<OrderPayments>,
}

impl Related {
    /// The tally of `payments_of_order`; an error if the command did not ask for it.
    pub fn order_payments(&self) -> ApiResult<OrderPayments> {
        self.order_payments.ok_or_else(|| ApiError::internal("the order's payments were not loaded"))
    }
}

impl CommandContext {
    /// The context of one request on `route` (e.g. "POST /v1/orders") with its body's fingerprint.
    pub fn new(
        state: &AppState,
        principal: &Principal,
        idempotency_key: Option<String>,
        route: &str,
        body_fingerprint: &[u8; 32],
    ) -> CommandContext {
        CommandContext {
            state: state.clone(),
            principal: principal.clone(),
            idempotency_key,
            related_order: None,
            payments_of_order: None,
            request_id: request_id::current(),
            fingerprint: CommandContext::fingerprint(route, body_fingerprint),
        }
    }

    /// Fingerprint of the request: route and canonical body, so a key reused on another
    /// route or with another body is recognised as a different request.
    pub fn fingerprint(route: &str, body_fingerprint: &[u8; 32]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(route.as_bytes());
        hasher.update([0]);
        hasher.update(body_fingerprint);
        hasher.finalize().into()
    }

    fn metadata(&self) -> Value {
        json!({
            "source": "api",
            "actor": format!("api_key:{}", self.principal.key_id),
            "request_id": self.request_id,
            "correlation_id": self.request_id,
            "idempotency_key": self.idempotency_key,
        })
    }
}

/// The time a command happens, at PostgreSQL's precision (microseconds), so that what a
/// response shows equals what a read-model later stores.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6)
}

/// Runs one command against one stream and answers with `respond(new_state)`.
///
/// The work runs in a task of its own: if the request times out or the client goes away,
/// the command still finishes (commits or rolls back) instead of being cut mid-transaction,
/// and a retry with the same Idempotency-Key learns the outcome.
pub async fn execute<A, F, R>(
    ctx: CommandContext,
    stream: StreamKey,
    success: StatusCode,
    make_command: F,
    respond: R,
) -> ApiResult<Response>
where
    A: Aggregate + 'static,
    A::Command: 'static,
    F: Fn(&A::State, &Related) -> ApiResult<A::Command> + Send + 'static,
    R: Fn(&A::State, &Related) -> ApiResult<Value> + Send + 'static,
{
    // The task keeps the request's span and id, so its logs and errors still name the request.
    let work = execute_here::<A, F, R>(ctx, stream, success, make_command, respond);
    let work = request_id::scope(request_id::current(), work).instrument(tracing::Span::current());
    let work = tokio::spawn(work);
    match work.await {
        Ok(result) => result,
        Err(join_error) => Err(ApiError::internal(format!("command task failed: {join_error}"))),
    }
}

async fn execute_here<A, F, R>(
    ctx: CommandContext,
    stream: StreamKey,
    success: StatusCode,
    make_command: F,
    respond: R,
) -> ApiResult<Response>
where
    A: Aggregate,
    F: Fn(&A::State, &Related) -> ApiResult<A::Command>,
    R: Fn(&A::State, &Related) -> ApiResult<Value>,
{
    let tenant_id = ctx.principal.tenant_id;
    let max_attempts = ctx.state.config.command_max_attempts.max(1);
    for attempt in 1..=max_attempts {
        let mut client = ctx.state.pool.get().await?;
        let tx = client.transaction().await?;
        if let Some(key) = &ctx.idempotency_key {
            match idempotency::claim(&tx, tenant_id, key, &ctx.fingerprint).await? {
                Claim::Fresh => {}
                Claim::Replay(stored) => return Ok(replay(stored)),
                Claim::Mismatch => {
                    return Err(ApiError::unprocessable(
                        "idempotency_key_reused",
                        "this Idempotency-Key was used with a different request",
                    ))
                }
                Claim::InFlight => {
                    return Err(ApiError::conflict(
                        "idempotency_key_in_use",
                        "a request with this Idempotency-Key is in progress; retry later",
                    ))
                }
            }
        }
        set_lock_timeout(&tx, ctx.state.config.stream_lock_timeout_ms).await?;
        let mut related = Related::default();
        if let Some(order_stream) = &ctx.related_order {
            // Always the order before the payment: one lock order, no deadlock.
            lock_stream(&tx, order_stream).await?;
            related.order = Some(load::<crate::aggregate::OrderAggregate, _>(&*tx, order_stream).await?.0);
        }
        lock_stream(&tx, &stream).await?;
        let (state, version) = load::<A, _>(&*tx, &stream).await?;
        if let Some(order_id) = ctx.payments_of_order {
            related.order_payments = Some(tally_order_payments(&*tx, tenant_id, order_id).await?);
        }
        let command = make_command(&state, &related)?;
        let events = A::decide(&state, command)?;
        if events.is_empty() {
            return Err(ApiError::internal("a command decided no events"));
        }
        let metadata = ctx.metadata();
        let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
        let item = BatchItem {
            stream: stream.clone(),
            expected,
            events: events.iter().map(|e| A::encode(e, metadata.clone())).collect(),
        };
        let outcome = match append_in_tx(&tx, &[item]).await {
            Ok(outcome) => outcome,
            Err(StoreError::Conflict { .. }) if attempt < max_attempts => {
                drop(tx);
                metrics::counter!("payledger_append_conflicts_total").increment(1);
                backoff(attempt).await;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let new_state = events.iter().fold(state, A::evolve);
        let position = outcome.checkpoint().position;
        let mut body = respond(&new_state, &related)?;
        if let Value::Object(map) = &mut body {
            map.insert("position".into(), json!(position));
        }
        let stored = StoredResponse {
            status: success.as_u16(),
            body,
            headers: json!({ POSITION_HEADER: position.to_string() }),
        };
        if let Some(key) = &ctx.idempotency_key {
            idempotency::record(&tx, tenant_id, key, &ctx.fingerprint, &stored, ctx.state.config.idempotency_retention)
                .await?;
        }
        tx.commit().await?;
        metrics::counter!("payledger_events_appended_total").increment(outcome.events.len() as u64);
        return Ok(respond_stored(stored, false));
    }
    Err(ApiError::conflict("concurrent_update", "the resource kept changing concurrently; retry the request"))
}

/// Jittered exponential backoff between attempts: 2, 4, 8 ... ms, capped at 100 ms.
async fn backoff(attempt: u32) {
    let ceiling_ms = (1u64 << attempt.min(6)).min(100);
    let wait_ms = rand::Rng::gen_range(&mut rand::thread_rng(), ceiling_ms / 2..=ceiling_ms);
    tokio::time::sleep(std::time::Duration::from_millis(wait_ms)).await;
}

fn replay(stored: StoredResponse) -> Response {
    respond_stored(stored, true)
}

fn respond_stored(stored: StoredResponse, replayed: bool) -> Response {
    let status = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    if let Value::Object(map) = &stored.headers {
        for (name, value) in map {
            if let (Ok(name), Some(Ok(value))) =
                (axum::http::HeaderName::from_bytes(name.as_bytes()), value.as_str().map(HeaderValue::from_str))
            {
                headers.insert(name, value);
            }
        }
    }
    if replayed {
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    (status, headers, Json(stored.body)).into_response()
}
