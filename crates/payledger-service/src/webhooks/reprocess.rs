//! `payledger webhooks reprocess`: interpret stored deliveries again, from their raw events.
//!
//! First every `WebhookReceived` event without a `webhook_deliveries` row gets one (so the
//! table can be rebuilt from the events alone), then the selected deliveries are
//! interpreted in [`Mode::Redo`]: idempotent, so running it twice appends nothing new.

use deadpool_postgres::Pool;
use serde::Serialize;
use uuid::Uuid;

use super::error::WebhookResult;
use super::inbox::WEBHOOK_RECEIVED;
use super::process::{process_delivery, Mode, Outcome, RetryPolicy};

/// Rows read per query while reprocessing.
const PAGE_SIZE: i64 = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every delivery: those already applied are confirmed and left unchanged.
    All,
    /// Deliveries not applied: pending, failed, and ignored ones (e.g. whose payment did not
    /// exist yet).
    Pending,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReprocessReport {
    /// `WebhookReceived` events that had no delivery row and got one.
    pub restored: u64,
    pub examined: u64,
    pub applied: u64,
    pub ignored: u64,
    /// Nothing new to record (already applied, or ignored for the same reason).
    pub unchanged: u64,
    /// Failed again; scheduled for retry by the background processor.
    pub failed: u64,
}

/// Reprocesses the deliveries of one endpoint, or of all endpoints.
pub async fn reprocess(
    pool: &Pool,
    endpoint_id: Option<Uuid>,
    scope: Scope,
    policy: &RetryPolicy,
) -> WebhookResult<ReprocessReport> {
    let mut report = ReprocessReport { restored: restore_missing_rows(pool, endpoint_id).await?, ..Default::default() };
    let all = scope == Scope::All;
    let mut after = Uuid::nil();
    loop {
        let ids: Vec<Uuid> = {
            let client = pool.get().await?;
            client
                .query(
                    "SELECT delivery_id FROM webhook_deliveries
                     WHERE delivery_id > $1 AND ($2::uuid IS NULL OR endpoint_id = $2) AND ($3 OR status <> 'applied')
                     ORDER BY delivery_id LIMIT $4",
                    &[&after, &endpoint_id, &all, &PAGE_SIZE],
                )
                .await?
                .iter()
                .map(|row| row.try_get(0))
                .collect::<Result<_, _>>()?
        };
        let Some(last) = ids.last() else { break };
        after = *last;
        for id in ids {
            report.examined += 1;
            match process_delivery(pool, id, Mode::Redo, policy).await {
                Ok(Outcome::Applied) => report.applied += 1,
                Ok(Outcome::Ignored { .. }) => report.ignored += 1,
                Ok(Outcome::AlreadyApplied | Outcome::IgnoredAgain { .. } | Outcome::Skipped) => report.unchanged += 1,
                Err(_) => report.failed += 1,
            }
        }
    }
    Ok(report)
}

/// Gives every stored `WebhookReceived` (of the endpoint) a delivery row if it has none.
async fn restore_missing_rows(pool: &Pool, endpoint_id: Option<Uuid>) -> WebhookResult<u64> {
    let client = pool.get().await?;
    let mut restored = 0u64;
    let mut after = 0i64;
    loop {
        let row = client
            .query_one(
                // The event type is a literal so that the partial index events_webhook_received applies.
                &format!(
                    "WITH page AS (
                     SELECT event_id, tenant_id, payload, recorded_at, global_position FROM events
                     WHERE event_type = '{WEBHOOK_RECEIVED}' AND global_position > $1
                       AND ($2::uuid IS NULL OR payload->>'endpoint_id' = $2::text)
                     ORDER BY global_position LIMIT $3
                 ), inserted AS (
                     INSERT INTO webhook_deliveries (delivery_id, tenant_id, endpoint_id, provider, received_at)
                     SELECT event_id, tenant_id, (payload->>'endpoint_id')::uuid, payload->>'provider', recorded_at
                     FROM page
                     ON CONFLICT (delivery_id) DO NOTHING
                     RETURNING 1
                 )
                 SELECT (SELECT max(global_position) FROM page), (SELECT count(*) FROM inserted)"
                ),
                &[&after, &endpoint_id, &PAGE_SIZE],
            )
            .await?;
        let Some(last) = row.try_get::<_, Option<i64>>(0)? else { break };
        after = last;
        restored += row.try_get::<_, i64>(1)?.unsigned_abs();
    }
    Ok(restored)
}
