//! Recording a verified delivery: its `WebhookReceived` events in a stream of its own (see
//! [`super::inbox`]) and their `webhook_deliveries` rows, in one transaction. No lock is
//! shared between deliveries: the store's unique dedupe index is the guard against a
//! redelivery, so a busy endpoint is not a single lane.

use std::collections::{BTreeMap, BTreeSet};

use deadpool_postgres::Pool;
use payledger_gateways::{parse, Provider};
use payledger_store::{
    append_in_tx, notify_committed, set_lock_timeout, BatchItem, ExpectedVersion, NewEvent, StoreError, StreamKey,
};
use serde_json::json;
use uuid::Uuid;

use super::error::{WebhookError, WebhookResult};
use super::inbox::{
    dedupe_key, delivery_stream_id, sha256_hex, stored_body, ReceivedPayload, RECEIVED_SCHEMA_VERSION, WEBHOOK_RECEIVED,
};

/// Attempts when a concurrent delivery of the same event wins the race for its dedupe key.
const INGEST_MAX_ATTEMPTS: u32 = 4;
/// Longest wait for a concurrent delivery of the same event to commit or roll back (its
/// dedupe key's index entry); beyond it the gateway is answered 503 and retries.
const DEDUPE_WAIT_TIMEOUT_MS: u64 = 5_000;

/// A delivery whose signature checked out.
pub struct VerifiedDelivery<'a> {
    pub tenant_id: Uuid,
    pub endpoint_id: Uuid,
    pub provider: Provider,
    pub secret_id: Uuid,
    pub signed_at_unix_s: Option<i64>,
    pub headers: BTreeMap<String, String>,
    pub body: &'a [u8],
    pub request_id: Option<String>,
}

/// What was recorded.
#[derive(Debug, Clone, Default)]
pub struct Ingested {
    /// The new `WebhookReceived` event ids, which are also the delivery ids.
    pub new_delivery_ids: Vec<Uuid>,
    /// Provider events of this delivery that had been received before.
    pub duplicates: usize,
}

/// One provider event of a delivery, before it is recorded.
struct Candidate {
    provider_event_id: String,
    provider_event_type: Option<String>,
    payment_reference: Option<String>,
    item_index: usize,
    parse_error: Option<String>,
}

/// The provider events of a body: one per notification; a body that does not parse is one
/// event named by its hash (recorded, then ignored with the reason).
fn candidates(provider: Provider, body: &[u8]) -> Vec<Candidate> {
    match parse(provider, body) {
        Ok(notifications) => {
            let mut seen = BTreeSet::new();
            notifications
                .into_iter()
                .enumerate()
                // The same item twice in one batch is one event.
                .filter(|(_, n)| seen.insert(n.dedupe_key.clone()))
                .map(|(item_index, n)| Candidate {
                    provider_event_id: n.dedupe_key,
                    provider_event_type: Some(n.provider_event_type),
                    payment_reference: n.payment_reference,
                    item_index,
                    parse_error: None,
                })
                .collect()
        }
        Err(e) => vec![Candidate {
            provider_event_id: format!("sha256:{}", sha256_hex(body)),
            provider_event_type: None,
            payment_reference: None,
            item_index: 0,
            parse_error: Some(e.to_string()),
        }],
    }
}

/// Appends the delivery's new provider events; those received before are left out (the
/// store's dedupe index is the final guard, and a lost race is retried).
///
/// `first_attempt_delay_s`: when the background sweep may first pick the deliveries up,
/// leaving time to the inline interpretation that follows the answer.
pub async fn ingest(
    pool: &Pool,
    delivery: &VerifiedDelivery<'_>,
    first_attempt_delay_s: f64,
) -> WebhookResult<Ingested> {
    let candidates = candidates(delivery.provider, delivery.body);
    let mut attempt = 1;
    loop {
        match try_ingest(pool, delivery, &candidates, first_attempt_delay_s).await {
            Err(WebhookError::Store(e @ (StoreError::Duplicate { .. } | StoreError::Conflict { .. })))
                if attempt < INGEST_MAX_ATTEMPTS =>
            {
                tracing::debug!(error = %e, attempt, "webhook ingest raced; retrying");
                attempt += 1;
            }
            other => return other,
        }
    }
}

async fn try_ingest(
    pool: &Pool,
    delivery: &VerifiedDelivery<'_>,
    candidates: &[Candidate],
    first_attempt_delay_s: f64,
) -> WebhookResult<Ingested> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let keys: Vec<String> = candidates.iter().map(|c| dedupe_key(delivery.provider, &c.provider_event_id)).collect();
    // Both in one round trip (pipelined on the connection). This check only leaves out what
    // was received before; two copies racing both pass it, and the insert's unique dedupe
    // index then refuses the later one (retried, and found here).
    // Prepared once per connection, so PostgreSQL does not plan them for every delivery.
    let (_, known) = tokio::try_join!(
        set_lock_timeout(&tx, DEDUPE_WAIT_TIMEOUT_MS),
        received_before(&tx, delivery.tenant_id, &keys)
    )?;
    let fresh: Vec<(&Candidate, &String)> =
        candidates.iter().zip(&keys).filter(|(_, key)| !known.contains(*key)).collect();
    let duplicates = candidates.len() - fresh.len();
    if fresh.is_empty() {
        return Ok(Ingested { new_delivery_ids: Vec::new(), duplicates });
    }

    let events = received_events(delivery, candidates.len(), &fresh)?;
    let ids: Vec<Uuid> = events.iter().map(|e| e.event_id).collect();
    // The first event's id names the stream: new, so no other transaction appends to it.
    let first_id = ids.first().copied().unwrap_or_else(Uuid::now_v7);
    let stream = StreamKey::new(delivery.tenant_id, delivery_stream_id(delivery.endpoint_id, first_id));
    let items = [BatchItem { stream, expected: ExpectedVersion::NoStream, events }];
    let provider = delivery.provider.as_str();
    // Pipelined with the append: the rows only reference the endpoint, and either statement
    // failing rolls back both.
    let record = async {
        let insert = tx.prepare_cached(
            "INSERT INTO webhook_deliveries (delivery_id, tenant_id, endpoint_id, provider, next_attempt_at)
             SELECT id, $2, $3, $4, now() + make_interval(secs => $5) FROM unnest($1::uuid[]) AS id",
        );
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&ids, &delivery.tenant_id, &delivery.endpoint_id, &provider, &first_attempt_delay_s];
        tx.execute(&insert.await?, &params).await.map_err(StoreError::Db)
    };
    // The append's error first: when it fails (a raced duplicate), the pipelined insert only
    // reports the aborted transaction. Polled in order (biased), so the append runs first
    // also on a connection that prepares both statements now.
    let (appended, recorded) = tokio::join!(biased; append_in_tx(&tx, &items), record);
    appended?;
    recorded?;
    tx.commit().await?;
    notify_committed(pool);
    Ok(Ingested { new_delivery_ids: ids, duplicates })
}

/// The keys among `keys` already recorded for the tenant. One equality lookup per key, all
/// pipelined: its generic plan is the unique index's, so it is planned once per connection
/// (`dedupe_key = ANY($2)` was planned again for every delivery).
async fn received_before(
    tx: &deadpool_postgres::Transaction<'_>,
    tenant_id: Uuid,
    keys: &[String],
) -> Result<BTreeSet<String>, StoreError> {
    let select = tx.prepare_cached("SELECT dedupe_key FROM events WHERE tenant_id = $1 AND dedupe_key = $2").await?;
    let select = &select;
    let lookups = keys.iter().map(|key| async move { tx.query_opt(select, &[&tenant_id, key]).await });
    let found = futures::future::try_join_all(lookups).await?;
    found.into_iter().flatten().map(|row| row.try_get(0).map_err(StoreError::Db)).collect()
}

/// The `WebhookReceived` events: the first carries the body, the others point at it.
fn received_events(
    delivery: &VerifiedDelivery<'_>,
    item_count: usize,
    fresh: &[(&Candidate, &String)],
) -> WebhookResult<Vec<NewEvent>> {
    let (body, body_base64) = stored_body(delivery.body);
    let body_sha256 = sha256_hex(delivery.body);
    let metadata = json!({
        "source": "webhook",
        "actor": delivery.provider.as_str(),
        "request_id": delivery.request_id,
        "correlation_id": delivery.request_id,
        "webhook_endpoint_id": delivery.endpoint_id,
    });
    let mut body_event_id = None;
    let mut events = Vec::with_capacity(fresh.len());
    for (candidate, key) in fresh {
        let event_id = Uuid::now_v7();
        let carries_body = body_event_id.is_none();
        let payload = ReceivedPayload {
            endpoint_id: delivery.endpoint_id,
            provider: delivery.provider,
            provider_event_id: candidate.provider_event_id.clone(),
            provider_event_type: candidate.provider_event_type.clone(),
            payment_reference: candidate.payment_reference.clone(),
            headers: delivery.headers.clone(),
            body: if carries_body { body.clone() } else { None },
            body_base64: if carries_body { body_base64.clone() } else { None },
            body_event_id,
            body_sha256: body_sha256.clone(),
            item_index: candidate.item_index,
            item_count,
            signed_at_unix_s: delivery.signed_at_unix_s,
            secret_id: delivery.secret_id,
            parse_error: candidate.parse_error.clone(),
        };
        let payload = serde_json::to_value(&payload)
            .map_err(|e| WebhookError::Corrupt(format!("WebhookReceived payload: {e}")))?;
        let mut event = NewEvent::new(WEBHOOK_RECEIVED, RECEIVED_SCHEMA_VERSION, payload)
            .with_metadata(metadata.clone())
            .with_dedupe_key((*key).clone());
        event.event_id = event_id;
        body_event_id.get_or_insert(event_id);
        events.push(event);
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unparseable_body_is_one_event_named_by_its_hash() {
        let found = candidates(Provider::Stripe, b"not json");
        assert_eq!(found.len(), 1);
        assert!(found[0].provider_event_id.starts_with("sha256:"));
        assert!(found[0].parse_error.is_some());
    }

    #[test]
    fn a_repeated_adyen_item_is_one_event() {
        let item = json!({ "NotificationRequestItem": {
            "pspReference": "P", "eventCode": "CAPTURE", "success": "true", "originalReference": "Q",
            "amount": { "value": 5, "currency": "EUR" } } });
        let body = serde_json::to_vec(&json!({ "live": "false", "notificationItems": [item.clone(), item] })).unwrap();
        let found = candidates(Provider::Adyen, &body);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].provider_event_id, "P:CAPTURE:true");
        assert_eq!(found[0].payment_reference.as_deref(), Some("Q"));
    }
}
