//! Interpreting one stored delivery, exactly once per run: the delivery row is locked, the
//! effect appended and the row updated in one transaction. A failure rolls all of it back
//! and schedules a retry with backoff (up to [`RetryPolicy::max_attempts`]).

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use deadpool_postgres::Transaction;
use payledger_core::payment::{PaymentCommand, PaymentEvent};
use payledger_gateways::report::{decide, Decision};
use payledger_gateways::{parse, Notification};
use payledger_store::{
    append_in_tx, lock_stream, notify_committed, set_lock_timeout, BatchItem, ExpectedVersion, StreamKey,
};
use serde_json::Value;
use uuid::Uuid;

use super::error::{WebhookError, WebhookResult};
use super::inbox::{ignored_event, Cause, ReceivedPayload};
use super::metrics::{count_delivery, Outcome as MetricOutcome};
use crate::aggregate::{Aggregate, PaymentAggregate};
use crate::command::run_in_tx;
use crate::error::ServiceError;
use crate::lookup::{payment_by_provider_reference, PaymentLookup};
use payledger_gateways::report::{payment_reference, InboxIgnore};

/// How failed interpretations are retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts before a delivery is marked `failed` (then only `reprocess` retries it).
    pub max_attempts: i32,
    /// Wait after the first failure; doubles with each further one (with jitter).
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// Longest wait for a lock (the payment stream, the delivery row) before failing.
    pub lock_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 12,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(3600),
            lock_timeout: Duration::from_secs(5),
        }
    }
}

/// Which deliveries a run may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Right after receipt: a pending delivery, whether due or not; skip it if busy.
    Inline,
    /// The background sweep: a pending delivery whose time has come; skip it if busy.
    Due,
    /// `reprocess`: any delivery, waiting for a busy one. Idempotent: an effect already on
    /// the payment, or the same ignore reason as before, appends nothing.
    Redo,
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not taken: busy elsewhere, not pending, or not due.
    Skipped,
    /// Events changing the payment were appended.
    Applied,
    /// The effect was already on the payment stream: nothing appended.
    AlreadyApplied,
    /// Recorded as ignored (on the payment or the inbox stream) with this reason.
    Ignored { reason: String },
    /// Ignored for the same reason as last time: nothing appended.
    IgnoredAgain { reason: String },
}

pub async fn process_delivery(
    pool: &Pool,
    delivery_id: Uuid,
    mode: Mode,
    policy: &RetryPolicy,
) -> WebhookResult<Outcome> {
    match try_process(pool, delivery_id, mode, policy).await {
        Ok(outcome) => Ok(outcome),
        Err(error) => {
            tracing::warn!(%delivery_id, error = %describe(&error), "webhook interpretation failed");
            if let Err(record_error) = record_failure(pool, delivery_id, &error, policy).await {
                tracing::error!(%delivery_id, error = %record_error, "could not record a webhook failure");
            }
            Err(error)
        }
    }
}

/// The stored delivery, as locked for this run.
struct Locked {
    provider: payledger_gateways::Provider,
    status: String,
    outcome_reason: Option<String>,
    tenant_id: Uuid,
    /// The stream holding the `WebhookReceived`: the delivery's own, or (recorded before
    /// deliveries had their own) the endpoint's single inbox stream.
    stream_id: String,
    payload: ReceivedPayload,
    cause: Cause,
    received_at: DateTime<Utc>,
}

async fn try_process(pool: &Pool, delivery_id: Uuid, mode: Mode, policy: &RetryPolicy) -> WebhookResult<Outcome> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    set_lock_timeout(&tx, u64::try_from(policy.lock_timeout.as_millis()).unwrap_or(u64::MAX)).await?;
    let Some(locked) = lock_delivery(&tx, delivery_id, mode).await? else {
        return Ok(Outcome::Skipped);
    };
    let outcome = interpret(&tx, &locked).await?;
    let (status, reason) = match &outcome {
        Outcome::Applied | Outcome::AlreadyApplied => ("applied", None),
        Outcome::Ignored { reason } | Outcome::IgnoredAgain { reason } => ("ignored", Some(reason.as_str())),
        Outcome::Skipped => return Ok(Outcome::Skipped),
    };
    let update = tx
        .prepare_cached(
            "UPDATE webhook_deliveries SET status = $2, outcome_reason = $3, attempts = attempts + 1,
                    last_error = NULL, processed_at = now()
             WHERE delivery_id = $1",
        )
        .await?;
    tx.execute(&update, &[&delivery_id, &status, &reason.map(bounded_text)]).await?;
    tx.commit().await?;
    // Only these two appended events (the others found their work already done).
    if matches!(outcome, Outcome::Applied | Outcome::Ignored { .. }) {
        notify_committed(pool);
    }
    tracing::info!(%delivery_id, provider = locked.provider.as_str(), ?outcome, "webhook delivery interpreted");
    count_delivery(
        locked.provider,
        match outcome {
            Outcome::Applied => MetricOutcome::Applied,
            Outcome::Ignored { .. } => MetricOutcome::Ignored,
            Outcome::Skipped | Outcome::AlreadyApplied | Outcome::IgnoredAgain { .. } => MetricOutcome::Unchanged,
        },
    );
    Ok(outcome)
}

async fn lock_delivery(tx: &Transaction<'_>, delivery_id: Uuid, mode: Mode) -> WebhookResult<Option<Locked>> {
    let (filter, lock) = match mode {
        Mode::Inline => ("AND d.status = 'pending'", "FOR UPDATE OF d SKIP LOCKED"),
        Mode::Due => ("AND d.status = 'pending' AND d.next_attempt_at <= now()", "FOR UPDATE OF d SKIP LOCKED"),
        Mode::Redo => ("", "FOR UPDATE OF d"),
    };
    // One prepared statement per mode and connection.
    let select = tx
        .prepare_cached(&format!(
            "SELECT d.status, d.outcome_reason, e.tenant_id, e.payload, e.metadata, e.recorded_at, e.stream_id
             FROM webhook_deliveries d JOIN events e ON e.event_id = d.delivery_id
             WHERE d.delivery_id = $1 {filter} {lock}"
        ))
        .await?;
    let row = tx.query_opt(&select, &[&delivery_id]).await?;
    let Some(row) = row else { return Ok(None) };
    let payload: ReceivedPayload = serde_json::from_value(row.try_get(3)?)
        .map_err(|e| WebhookError::Corrupt(format!("WebhookReceived {delivery_id}: {e}")))?;
    let metadata: Value = row.try_get(4)?;
    let cause = Cause {
        received_event_id: delivery_id,
        provider: payload.provider,
        endpoint_id: payload.endpoint_id,
        provider_event_id: payload.provider_event_id.clone(),
        correlation_id: metadata.get("correlation_id").cloned().unwrap_or(Value::Null),
    };
    Ok(Some(Locked {
        provider: payload.provider,
        status: row.try_get(0)?,
        outcome_reason: row.try_get(1)?,
        tenant_id: row.try_get(2)?,
        stream_id: row.try_get(6)?,
        payload,
        cause,
        received_at: row.try_get(5)?,
    }))
}

async fn interpret(tx: &Transaction<'_>, locked: &Locked) -> WebhookResult<Outcome> {
    let notification = match notification(tx, locked).await? {
        Ok(notification) => notification,
        Err(ignore) => return ignore_in_inbox(tx, locked, &locked.payload.provider_event_id, ignore).await,
    };
    let reference = match payment_reference(&notification) {
        Ok(reference) => reference,
        Err(ignore) => return ignore_in_inbox(tx, locked, &notification.dedupe_key, ignore).await,
    };
    let stream = match payment_by_provider_reference(tx, locked.tenant_id, locked.provider, reference).await? {
        PaymentLookup::Found(stream) => stream,
        PaymentLookup::Missing => {
            let reason = format!("unknown_payment: no {} payment has reference {reference:?}", locked.provider);
            return ignore_in_inbox(tx, locked, &notification.dedupe_key, InboxIgnore { reason }).await;
        }
        PaymentLookup::Ambiguous => {
            let reason = format!("ambiguous_payment_reference: several payments have reference {reference:?}");
            return ignore_in_inbox(tx, locked, &notification.dedupe_key, InboxIgnore { reason }).await;
        }
    };
    apply_to_payment(tx, &stream, &notification, locked).await
}

/// The report applied to its payment through the command pipeline, inside this transaction.
/// A report the payment refuses as stale, duplicate or impossible is recorded on the payment
/// as `WebhookIgnored`; a report applied (or ignored) before appends nothing.
async fn apply_to_payment(
    tx: &Transaction<'_>,
    stream: &StreamKey,
    notification: &Notification,
    locked: &Locked,
) -> WebhookResult<Outcome> {
    let report_key = notification.dedupe_key.as_str();
    let ran = run_in_tx::<PaymentAggregate, _, _>(tx, stream, &locked.cause.metadata(), |state| {
        let Some(payment) = state else {
            return Err(ServiceError::internal(format!("payment stream {} has no PaymentInitiated", stream.stream_id)));
        };
        if payment.applied_report_keys.contains(report_key) {
            return Ok(Vec::new());
        }
        Ok(match decide(notification, locked.received_at) {
            Decision::Apply(report) => PaymentAggregate::decide(state, PaymentCommand::ApplyGatewayReport(report))?,
            Decision::Ignore(reason) => {
                vec![PaymentEvent::WebhookIgnored { report_key: report_key.to_owned(), reason }]
            }
        })
    })
    .await?;
    Ok(match ran.events.as_slice() {
        [] => Outcome::AlreadyApplied,
        [PaymentEvent::WebhookIgnored { reason, .. }] => Outcome::Ignored { reason: reason.clone() },
        _ => Outcome::Applied,
    })
}

/// The notification, re-read from the stored raw body (never from a derived copy), or why
/// the body cannot be interpreted.
async fn notification(tx: &Transaction<'_>, locked: &Locked) -> WebhookResult<Result<Notification, InboxIgnore>> {
    let payload = &locked.payload;
    if let Some(error) = &payload.parse_error {
        return Ok(Err(InboxIgnore { reason: format!("unparseable: {error}") }));
    }
    let body = raw_body(tx, locked).await?;
    let mut notifications = match parse(payload.provider, &body) {
        Ok(notifications) => notifications,
        Err(e) => return Ok(Err(InboxIgnore { reason: format!("unparseable: {e}") })),
    };
    if payload.item_index >= notifications.len() {
        return Err(WebhookError::Corrupt(format!("item {} of a body with fewer items", payload.item_index)));
    }
    Ok(Ok(notifications.swap_remove(payload.item_index)))
}

async fn raw_body(tx: &Transaction<'_>, locked: &Locked) -> WebhookResult<Vec<u8>> {
    let payload = &locked.payload;
    let holder = match payload.body_event_id {
        None => payload.clone(),
        Some(event_id) => {
            let select = tx.prepare_cached("SELECT payload FROM events WHERE event_id = $1 AND tenant_id = $2").await?;
            let row = tx
                .query_opt(&select, &[&event_id, &locked.tenant_id])
                .await?
                .ok_or_else(|| WebhookError::Corrupt(format!("body event {event_id} is missing")))?;
            serde_json::from_value(row.try_get(0)?)
                .map_err(|e| WebhookError::Corrupt(format!("body event {event_id}: {e}")))?
        }
    };
    match (holder.body, holder.body_base64) {
        (Some(text), _) => Ok(text.into_bytes()),
        (None, Some(encoded)) => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|e| WebhookError::Corrupt(format!("body_base64: {e}")))
        }
        (None, None) => Err(WebhookError::Corrupt("a delivery without its body".into())),
    }
}

/// Records `WebhookIgnored` in the delivery's inbox stream, unless this delivery was last
/// ignored for the same reason (reprocessing appends nothing new then). The lock queues
/// the items of one Adyen batch (or, in the earlier layout, an endpoint's deliveries).
async fn ignore_in_inbox(
    tx: &Transaction<'_>,
    locked: &Locked,
    report_key: &str,
    ignore: InboxIgnore,
) -> WebhookResult<Outcome> {
    let reason = bounded_text(&ignore.reason);
    if locked.status == "ignored" && locked.outcome_reason.as_deref() == Some(reason.as_str()) {
        return Ok(Outcome::IgnoredAgain { reason });
    }
    let stream = StreamKey::new(locked.tenant_id, locked.stream_id.clone());
    lock_stream(tx, &stream).await?;
    let event = ignored_event(&locked.cause, report_key, &reason);
    append_in_tx(tx, &[BatchItem { stream, expected: ExpectedVersion::Any, events: vec![event] }]).await?;
    Ok(Outcome::Ignored { reason })
}

/// Counts the failed attempt and schedules the next one, or gives up after the last.
/// A delivery already applied stays applied (a failed `Redo` of it changes nothing).
async fn record_failure(
    pool: &Pool,
    delivery_id: Uuid,
    error: &WebhookError,
    policy: &RetryPolicy,
) -> WebhookResult<()> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "UPDATE webhook_deliveries
             SET attempts = attempts + 1, last_error = $2,
                 status = CASE WHEN attempts + 1 >= $3 THEN 'failed' ELSE 'pending' END
             WHERE delivery_id = $1 AND status <> 'applied'
             RETURNING attempts, status, provider",
            &[&delivery_id, &bounded_text(&describe(error)), &policy.max_attempts],
        )
        .await?;
    let Some(row) = row else { return Ok(()) };
    let attempts: i32 = row.try_get(0)?;
    let delay_s = backoff(policy, attempts).as_secs_f64();
    client
        .execute(
            "UPDATE webhook_deliveries SET next_attempt_at = now() + make_interval(secs => $2) WHERE delivery_id = $1",
            &[&delivery_id, &delay_s],
        )
        .await?;
    let status: String = row.try_get(1)?;
    if let Ok(provider) = row.try_get::<_, &str>(2)?.parse() {
        count_delivery(provider, if status == "failed" { MetricOutcome::GaveUp } else { MetricOutcome::Retrying });
    }
    Ok(())
}

/// The wait before the next attempt, after `attempts` failed ones ([`crate::retry::backoff`]).
pub fn backoff(policy: &RetryPolicy, attempts: i32) -> Duration {
    let attempts = u32::try_from(attempts).unwrap_or(0);
    crate::retry::backoff(policy.backoff_base, policy.backoff_max, attempts)
}

/// The error with its causes (a database error's detail is in its source).
fn describe(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// An error kept with a delivery is cut like any long text the ledger stores.
fn bounded_text(text: &str) -> String {
    text.chars().take(payledger_core::LONG_TEXT_MAX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy::default();
        for attempts in 1..40 {
            let wait = backoff(&policy, attempts);
            let ceiling = policy.backoff_base.saturating_mul(1 << (attempts - 1).min(30)).min(policy.backoff_max);
            assert!(wait <= ceiling && wait >= ceiling / 2, "{attempts}: {wait:?}");
        }
        assert!(backoff(&policy, 40) >= policy.backoff_max / 2);
    }
}
