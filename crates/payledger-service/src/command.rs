//! The command pipeline: claim the idempotency key, lock and load the streams, decide, append
//! with the loaded version as the expected one, record the response, commit — all in one
//! transaction. A lost race (the stream moved) rolls back and starts over, a bounded number
//! of times. Webhook interpretation appends through [`run_in_tx`], the same lock → load →
//! decide → append.

use std::future::Future;
use std::time::Duration;

use deadpool_postgres::{Pool, Transaction};
use payledger_core::order::{OrderPayments, OrderState};
use payledger_core::OrderId;
use payledger_store::idempotency::{self, Claim, StoredResponse};
use payledger_store::{
    append_in_tx, lock_stream, notify_committed, prepare_command_statements, set_lock_timeout, AppendOutcome,
    BatchItem, ExpectedVersion, Queries, StoreError, StreamKey,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tracing::Instrument;
use uuid::Uuid;

use crate::aggregate::{encode, fold_after, fold_cached, load, Aggregate, OrderAggregate, StateCache};
use crate::error::{ServiceError, ServiceResult};
use crate::order_payments::tally_order_payments;
use crate::retry::backoff;

/// The key under which a stored answer keeps the position of its last event (a stored
/// format: answers recorded earlier carry it too).
const STORED_POSITION: &str = "payledger-position";
const RETRY_BASE: Duration = Duration::from_millis(2);
/// 2, 4 ... 64 ms, as the pipeline has always waited.
const RETRY_CAP: Duration = Duration::from_millis(64);

/// Who is calling: an API key or an OAuth client of a tenant (`key_id` is the id of either).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actor {
    pub tenant_id: Uuid,
    pub key_id: Uuid,
    pub credential: crate::tenants::Credential,
}

/// The pipeline's bounds.
#[derive(Debug, Clone, Copy)]
pub struct CommandConfig {
    /// Attempts of a command when its stream changed under it.
    pub max_attempts: u32,
    /// Longest a command waits for a stream's lock.
    pub stream_lock_timeout_ms: u64,
    /// How long idempotency records are kept.
    pub idempotency_retention: Duration,
}

/// Who asked, and the idempotency key with the request's fingerprint.
pub struct CommandContext {
    pub pool: Pool,
    pub config: CommandConfig,
    pub actor: Actor,
    pub idempotency_key: Option<String>,
    pub fingerprint: [u8; 32],
    /// The request's id, for the events' metadata.
    pub request_id: Option<String>,
    /// Decided states of streams, shared by the process's commands.
    pub states: StateCache,
}

impl CommandContext {
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
            "actor": format!("{}:{}", self.actor.credential.as_str(), self.actor.key_id),
            "request_id": self.request_id,
            "correlation_id": self.request_id,
            "idempotency_key": self.idempotency_key,
        })
    }
}

/// The status a command answers with when it succeeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    Created,
    Ok,
}

impl Success {
    pub fn status(self) -> u16 {
        match self {
            Success::Created => 201,
            Success::Ok => 200,
        }
    }
}

/// A command's answer: fresh, or replayed from its idempotency record.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    pub status: u16,
    pub body: Value,
    /// The global position of the command's last event.
    pub position: Option<i64>,
    pub replayed: bool,
}

impl Executed {
    fn from_stored(stored: StoredResponse, replayed: bool) -> Executed {
        let position = stored.headers.get(STORED_POSITION).and_then(Value::as_str).and_then(|p| p.parse().ok());
        Executed { status: stored.status, body: stored.body, position, replayed }
    }
}

/// What a command reads besides its own stream, locked and loaded in its transaction. The
/// command's closures receive exactly [`Needs::Loaded`].
pub trait Needs: Send + Sync + 'static {
    type Early: Send;
    type Loaded: Send + Sync;
    /// Locks and loads what comes before the command's own stream: always an order before a
    /// payment, so there is one lock order and no deadlock.
    fn lock_early(
        &self,
        tx: &Transaction<'_>,
        tenant_id: Uuid,
    ) -> impl Future<Output = ServiceResult<Self::Early>> + Send;
    /// Loads what must be read once every stream is locked.
    fn load_late(
        &self,
        tx: &Transaction<'_>,
        tenant_id: Uuid,
        early: Self::Early,
    ) -> impl Future<Output = ServiceResult<Self::Loaded>> + Send;
}

/// Only the command's own stream.
pub struct Own;

impl Needs for Own {
    type Early = ();
    type Loaded = ();
    async fn lock_early(&self, _: &Transaction<'_>, _: Uuid) -> ServiceResult<()> {
        Ok(())
    }
    async fn load_late(&self, _: &Transaction<'_>, _: Uuid, _: ()) -> ServiceResult<()> {
        Ok(())
    }
}

/// The order a payment is created on, and that order's payments: the order is locked first,
/// so no payment of it can appear, and it cannot be cancelled, meanwhile.
pub struct OrderToo(pub OrderId);

/// What [`OrderToo`] loads.
pub struct OrderAndPayments {
    pub order: OrderState,
    pub payments: OrderPayments,
}

impl Needs for OrderToo {
    type Early = OrderState;
    type Loaded = OrderAndPayments;
    async fn lock_early(&self, tx: &Transaction<'_>, tenant_id: Uuid) -> ServiceResult<OrderState> {
        let stream = StreamKey::new(tenant_id, self.0.stream_id());
        lock_stream(tx, &stream).await?;
        Ok(load::<OrderAggregate, _>(tx, &stream).await?.0)
    }
    async fn load_late(&self, tx: &Transaction<'_>, tenant_id: Uuid, order: OrderState) -> ServiceResult<Self::Loaded> {
        Ok(OrderAndPayments { order, payments: tally_order_payments(&**tx, tenant_id, self.0).await? })
    }
}

/// The payments of the order that is the command's own stream (tallied once it is locked).
pub struct PaymentsOf(pub OrderId);

impl Needs for PaymentsOf {
    type Early = ();
    type Loaded = OrderPayments;
    async fn lock_early(&self, _: &Transaction<'_>, _: Uuid) -> ServiceResult<()> {
        Ok(())
    }
    async fn load_late(&self, tx: &Transaction<'_>, tenant_id: Uuid, _: ()) -> ServiceResult<OrderPayments> {
        tally_order_payments(&**tx, tenant_id, self.0).await
    }
}

/// The time a command happens, at PostgreSQL's precision (microseconds), so that what a
/// response shows equals what a read-model later stores.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6)
}

/// Runs one command against one stream and answers with `respond(new_state, loaded)`.
///
/// The work runs in a task of its own: if the caller times out or goes away, the command
/// still finishes (commits or rolls back) instead of being cut mid-transaction, and a retry
/// with the same Idempotency-Key learns the outcome. The task keeps the caller's span.
pub async fn execute<A, N, F, R>(
    ctx: CommandContext,
    stream: StreamKey,
    needs: N,
    success: Success,
    make_command: F,
    respond: R,
) -> ServiceResult<Executed>
where
    A: Aggregate + 'static,
    A::Command: 'static,
    N: Needs,
    F: Fn(&A::State, &N::Loaded) -> ServiceResult<A::Command> + Send + Sync + 'static,
    R: Fn(&A::State, &N::Loaded) -> ServiceResult<Value> + Send + Sync + 'static,
{
    let pipeline = Pipeline { ctx, stream, needs, success, make_command, respond };
    let work = tokio::spawn(pipeline.run::<A>().instrument(tracing::Span::current()));
    match work.await {
        Ok(result) => result,
        Err(join_error) => Err(ServiceError::internal(format!("command task failed: {join_error}"))),
    }
}

struct Pipeline<N, F, R> {
    ctx: CommandContext,
    stream: StreamKey,
    needs: N,
    success: Success,
    make_command: F,
    respond: R,
}

/// One attempt's result: done, or lost a race and should start over.
enum Attempt {
    Done(Executed),
    Conflict,
}

/// Why the pipelined claim and load stopped short: a replay answers, an error fails.
enum Stop {
    Replay(Executed),
    Failed(ServiceError),
}

impl<N: Needs, F, R> Pipeline<N, F, R> {
    async fn run<A>(self) -> ServiceResult<Executed>
    where
        A: Aggregate + 'static,
        F: Fn(&A::State, &N::Loaded) -> ServiceResult<A::Command>,
        R: Fn(&A::State, &N::Loaded) -> ServiceResult<Value>,
    {
        let max_attempts = self.ctx.config.max_attempts.max(1);
        for attempt in 1..=max_attempts {
            match self.attempt::<A>(attempt < max_attempts).await? {
                Attempt::Done(executed) => return Ok(executed),
                Attempt::Conflict => {
                    metrics::counter!("payledger_append_conflicts_total").increment(1);
                    tokio::time::sleep(backoff(RETRY_BASE, RETRY_CAP, attempt)).await;
                }
            }
        }
        Err(ServiceError::ConcurrentUpdate)
    }

    async fn attempt<A>(&self, may_retry: bool) -> ServiceResult<Attempt>
    where
        A: Aggregate + 'static,
        F: Fn(&A::State, &N::Loaded) -> ServiceResult<A::Command>,
        R: Fn(&A::State, &N::Loaded) -> ServiceResult<Value>,
    {
        let mut client = self.ctx.pool.get().await?;
        let tx = client.transaction().await?;
        let (state, version, loaded) = match self.claim_and_load::<A>(&tx).await {
            Ok(loaded) => loaded,
            Err(Stop::Failed(ServiceError::IdempotencyKeyInUse)) => {
                // The key is not ours; the stream's lock sent behind the claim may wait long.
                drop(tx);
                tokio::spawn(drain(client));
                return Err(ServiceError::IdempotencyKeyInUse);
            }
            Err(stop) => {
                // This transaction holds the key's lock: released before the answer, so that a
                // request sent after it finds the key free (not "in use").
                if let Err(error) = tx.rollback().await {
                    tracing::debug!(%error, "rollback of a stopped pipeline failed; its session ends");
                }
                return match stop {
                    Stop::Replay(replayed) => Ok(Attempt::Done(replayed)),
                    Stop::Failed(e) => Err(e),
                };
            }
        };
        let (new_state, outcome) = match self.decide_and_append::<A>(&tx, state, version, &loaded).await {
            Ok(done) => done,
            Err(e) => {
                if matches!(e, ServiceError::Store(StoreError::Conflict { .. })) {
                    // Under the stream's lock a conflict means the cached state is wrong.
                    self.ctx.states.remove::<A>(&self.stream);
                    if may_retry {
                        return Ok(Attempt::Conflict);
                    }
                }
                // Released before the answer, so a retry under the same key finds it free.
                if let Err(error) = tx.rollback().await {
                    tracing::debug!(%error, "rollback of a refused command failed; its session ends");
                }
                return Err(e);
            }
        };
        let stored = self.record(&tx, &new_state, &loaded, &outcome).await?;
        tx.commit().await?;
        if let Some(last) = outcome.last_of(&self.stream.stream_id) {
            self.ctx.states.put::<A>(&self.stream, last.stream_version, last.event_id, &new_state);
        }
        notify_committed(&self.ctx.pool);
        Ok(Attempt::Done(Executed::from_stored(stored, false)))
    }

    /// The lock timeout, the claim and the locks with their loads, pipelined: sent together,
    /// run by PostgreSQL in that order. Polled in that order too (`biased`), and answers come
    /// in send order, so the error reported is the first statement's that failed, not a later
    /// one's "transaction aborted". A key in flight is refused without waiting for the
    /// stream's lock (the rollback then waits behind it, on the connection); a replay answers
    /// once its transaction, which holds the key's lock, has rolled back.
    async fn claim_and_load<A: Aggregate + 'static>(
        &self,
        tx: &Transaction<'_>,
    ) -> Result<(A::State, i64, N::Loaded), Stop> {
        // Statements not yet cached on this connection would be sent only after their
        // PREPARE's answer, out of order: prepare them all first (a no-op once cached).
        prepare_command_statements(tx).await.map_err(|e| Stop::Failed(e.into()))?;
        let lock_timeout_ms = self.ctx.config.stream_lock_timeout_ms;
        let (_, _, loaded) = tokio::try_join!(
            biased;
            async { set_lock_timeout(tx, lock_timeout_ms).await.map_err(|e| Stop::Failed(e.into())) },
            async {
                match self.claim(tx).await {
                    Ok(None) => Ok(()),
                    Ok(Some(replayed)) => Err(Stop::Replay(replayed)),
                    Err(e) => Err(Stop::Failed(e)),
                }
            },
            async { self.lock_and_load::<A>(tx).await.map_err(Stop::Failed) },
        )?;
        Ok(loaded)
    }

    /// Claims the idempotency key; a stored answer of the same request is replayed.
    async fn claim(&self, tx: &Transaction<'_>) -> ServiceResult<Option<Executed>> {
        let Some(key) = &self.ctx.idempotency_key else { return Ok(None) };
        match idempotency::claim(tx, self.ctx.actor.tenant_id, key, &self.ctx.fingerprint).await? {
            Claim::Fresh => Ok(None),
            Claim::Replay(stored) => Ok(Some(Executed::from_stored(stored, true))),
            Claim::Mismatch => Err(ServiceError::IdempotencyKeyReused),
            Claim::InFlight => Err(ServiceError::IdempotencyKeyInUse),
        }
    }

    async fn lock_and_load<A: Aggregate + 'static>(
        &self,
        tx: &Transaction<'_>,
    ) -> ServiceResult<(A::State, i64, N::Loaded)> {
        let tenant_id = self.ctx.actor.tenant_id;
        let early = self.needs.lock_early(tx, tenant_id).await?;
        let (state, version) = lock_and_load::<A, _>(tx, &self.stream, &self.ctx.states).await?;
        let loaded = self.needs.load_late(tx, tenant_id, early).await?;
        Ok((state, version, loaded))
    }

    async fn decide_and_append<A>(
        &self,
        tx: &Transaction<'_>,
        state: A::State,
        version: i64,
        loaded: &N::Loaded,
    ) -> ServiceResult<(A::State, AppendOutcome)>
    where
        A: Aggregate,
        F: Fn(&A::State, &N::Loaded) -> ServiceResult<A::Command>,
    {
        let command = (self.make_command)(&state, loaded)?;
        let events = A::decide(&state, command)?;
        if events.is_empty() {
            return Err(ServiceError::internal("a command decided no events"));
        }
        let outcome = append_decided::<A, _>(tx, &self.stream, version, &events, &self.ctx.metadata()).await?;
        Ok((events.iter().fold(state, A::evolve), outcome))
    }

    /// The answer, with the position of the last event, kept under the idempotency key.
    async fn record<S>(
        &self,
        tx: &Transaction<'_>,
        new_state: &S,
        loaded: &N::Loaded,
        outcome: &AppendOutcome,
    ) -> ServiceResult<StoredResponse>
    where
        R: Fn(&S, &N::Loaded) -> ServiceResult<Value>,
    {
        let position = outcome.checkpoint().position;
        let mut body = (self.respond)(new_state, loaded)?;
        if let Value::Object(map) = &mut body {
            map.insert("position".into(), json!(position));
        }
        let stored = StoredResponse {
            status: self.success.status(),
            body,
            headers: json!({ STORED_POSITION: position.to_string() }),
        };
        if let Some(key) = &self.ctx.idempotency_key {
            let (tenant_id, retention) = (self.ctx.actor.tenant_id, self.ctx.config.idempotency_retention);
            idempotency::record(tx, tenant_id, key, &self.ctx.fingerprint, &stored, retention).await?;
        }
        Ok(stored)
    }
}

/// After a pipeline stopped short, its later statements may still wait for a stream's lock,
/// the rollback behind them: the connection goes back to the pool only once they are done,
/// so that its next user does not inherit the wait.
async fn drain(client: deadpool_postgres::Client) {
    if let Err(error) = client.batch_execute("").await {
        tracing::debug!(%error, "draining a stopped pipeline failed; the pool drops the connection");
    }
}

/// Locks a stream and folds it: `(state, version)`, version 0 for a stream not yet written.
/// Starts from the cached state, if any: only the events after it are read.
pub async fn lock_and_load<A: Aggregate + 'static, C: Queries>(
    tx: &C,
    stream: &StreamKey,
    states: &StateCache,
) -> ServiceResult<(A::State, i64)> {
    lock_stream(tx, stream).await?;
    if let Some(cached) = states.get_cached::<A>(stream) {
        if let Some(loaded) = fold_cached::<A, _>(tx, stream, cached).await? {
            return Ok(loaded);
        }
        states.remove::<A>(stream);
        tracing::warn!(stream = %stream.stream_id, "cached state does not match the stored stream; folded afresh");
    }
    fold_after::<A, _>(tx, stream, (A::State::default(), 0), None).await
}

/// Appends decided events at the loaded version (a moved stream is a conflict).
async fn append_decided<A: Aggregate, C: Queries>(
    tx: &C,
    stream: &StreamKey,
    version: i64,
    events: &[A::Event],
    metadata: &Value,
) -> ServiceResult<AppendOutcome> {
    let expected = if version == 0 { ExpectedVersion::NoStream } else { ExpectedVersion::Exact(version) };
    let item = BatchItem {
        stream: stream.clone(),
        expected,
        events: events.iter().map(|e| encode::<A>(e, metadata.clone())).collect(),
    };
    Ok(append_in_tx(tx, &[item]).await?)
}

/// What [`run_in_tx`] appended.
pub struct Ran<A: Aggregate> {
    pub state: A::State,
    pub events: Vec<A::Event>,
}

/// Lock → load → decide → append inside the caller's transaction (the caller commits). `decide`
/// may decide nothing, and then nothing is appended.
pub async fn run_in_tx<A, C, D>(tx: &C, stream: &StreamKey, metadata: &Value, decide: D) -> ServiceResult<Ran<A>>
where
    A: Aggregate + 'static,
    C: Queries,
    D: FnOnce(&A::State) -> ServiceResult<Vec<A::Event>>,
{
    // No cache: the caller commits, so nothing here knows when a state may be kept.
    let (state, version) = lock_and_load::<A, _>(tx, stream, &StateCache::default()).await?;
    let events = decide(&state)?;
    if !events.is_empty() {
        append_decided::<A, _>(tx, stream, version, &events, metadata).await?;
    }
    Ok(Ran { state: events.iter().fold(state, A::evolve), events })
}
