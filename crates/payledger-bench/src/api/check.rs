//! After the load: every request answered 2xx has its event(s) exactly once, no request
//! answered 4xx has any, the hash chains are intact and the read-models equal a fresh fold.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use payledger_gateways::Provider;
use payledger_projector::VerifyOptions;
use payledger_service::webhooks::inbox::dedupe_key;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::traffic::{Record, RequestKey};
use crate::error::BenchError;

/// How long the check waits for received deliveries to be interpreted.
const DELIVERIES_SETTLE_TIMEOUT_MS: u64 = 60_000;
/// How long the check waits for the projector to reach the head of the log.
const PROJECTOR_CATCH_UP_TIMEOUT_MS: u64 = 60_000;
/// Failures listed in full; beyond, only counted.
const MAX_FAILURES_LISTED: usize = 20;

/// The result of the check. `passed` is false when anything below is off.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct IntegrityCheck {
    pub passed: bool,
    /// Commands answered 2xx; of them, those whose events were all written by one
    /// transaction (exactly once), missing (no event), or written by several transactions.
    pub commands_ok: u64,
    pub commands_exactly_once: u64,
    pub commands_missing: u64,
    pub commands_duplicated: u64,
    /// Events written by the 2xx commands.
    pub command_events: u64,
    /// Commands answered 4xx that nevertheless have events (must be 0).
    pub commands_refused_with_events: u64,
    /// Commands with no answer or a 5xx: their outcome is not known to the client, so they
    /// are not held to either rule; how many of them did write.
    pub commands_unknown_outcome: u64,
    pub commands_unknown_outcome_written: u64,
    /// Distinct webhook event ids answered 2xx at least once (first deliveries and
    /// redeliveries), and of them those with exactly one `WebhookReceived` event.
    pub webhooks_ok: u64,
    pub webhooks_exactly_once: u64,
    pub webhooks_missing: u64,
    /// Redeliveries answered 2xx (each must have added nothing).
    pub webhook_redeliveries_ok: u64,
    /// `WebhookReceived` events in the tenant with no 2xx delivery behind them.
    pub webhook_events_unexplained: u64,
    /// Deliveries still `pending` interpretation after waiting.
    pub deliveries_pending: i64,
    /// The live projector reached the head of the log (within a bounded wait), and the
    /// events it had not applied when the wait ended.
    pub projector_caught_up: bool,
    pub projector_events_behind: i64,
    pub events_total: i64,
    pub chains_intact: bool,
    pub streams_checked: u64,
    pub events_checked: u64,
    pub broken_links: u64,
    pub read_models_clean: bool,
    pub read_model_differences: u64,
    pub verified_at_position: i64,
    pub duration_ms: u64,
    /// What failed, first ones in full.
    pub failures: Vec<String>,
}

pub(crate) async fn run(database_url: &str, tenant_id: Uuid, records: &[Record]) -> Result<IntegrityCheck, BenchError> {
    let started = Instant::now();
    let client = crate::store::connect(database_url).await?;
    let mut check = IntegrityCheck { deliveries_pending: settle_deliveries(&client).await?, ..Default::default() };
    let mut failures = Vec::new();
    let fail = |msg: String, failures: &mut Vec<String>| {
        if failures.len() < MAX_FAILURES_LISTED {
            failures.push(msg);
        }
    };
    if check.deliveries_pending > 0 {
        fail(format!("{} webhook deliveries still pending interpretation", check.deliveries_pending), &mut failures);
    }
    check.projector_events_behind = projector_catch_up(&client).await?;
    check.projector_caught_up = check.projector_events_behind == 0;
    if !check.projector_caught_up {
        fail(
            format!(
                "the live projector stopped {} events short of the head (see the log for its error); \
                 the read-models were verified only up to its checkpoint",
                check.projector_events_behind
            ),
            &mut failures,
        );
    }

    // Commands: events by idempotency key.
    let rows = client
        .query(
            "SELECT metadata->>'idempotency_key', count(*), count(DISTINCT tx_id) FROM events
             WHERE tenant_id = $1 AND metadata ? 'idempotency_key' AND metadata->>'idempotency_key' IS NOT NULL
             GROUP BY 1",
            &[&tenant_id],
        )
        .await?;
    let mut by_key: HashMap<String, (i64, i64)> = HashMap::with_capacity(rows.len());
    for row in rows {
        by_key.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
    }
    // Webhooks: WebhookReceived events by dedupe key.
    let rows = client
        .query(
            "SELECT dedupe_key, count(*) FROM events WHERE tenant_id = $1 AND event_type = 'WebhookReceived'
             GROUP BY 1",
            &[&tenant_id],
        )
        .await?;
    let mut by_dedupe: HashMap<String, i64> = HashMap::with_capacity(rows.len());
    for row in rows {
        let key: Option<String> = row.try_get(0)?;
        by_dedupe.insert(key.unwrap_or_default(), row.try_get(1)?);
    }

    let mut webhook_ids: BTreeMap<&str, bool> = BTreeMap::new();
    for record in records {
        let status = record.status;
        let ok = status.is_some_and(|s| (200..300).contains(&s));
        let refused = status.is_some_and(|s| (400..500).contains(&s));
        match &record.key {
            RequestKey::Command(key) => {
                let found = by_key.get(key.as_str()).copied();
                if ok {
                    check.commands_ok += 1;
                    match found {
                        Some((events, 1)) => {
                            check.commands_exactly_once += 1;
                            check.command_events += u64::try_from(events).unwrap_or(0);
                        }
                        Some((_, txs)) => {
                            check.commands_duplicated += 1;
                            fail(
                                format!("command {key} ({:?}) written by {txs} transactions", record.op),
                                &mut failures,
                            );
                        }
                        None => {
                            check.commands_missing += 1;
                            fail(
                                format!("command {key} ({:?}) answered {status:?} has no event", record.op),
                                &mut failures,
                            );
                        }
                    }
                } else if refused {
                    if found.is_some() {
                        check.commands_refused_with_events += 1;
                        fail(format!("command {key} ({:?}) answered {status:?} has events", record.op), &mut failures);
                    }
                } else {
                    check.commands_unknown_outcome += 1;
                    check.commands_unknown_outcome_written += u64::from(found.is_some());
                }
            }
            RequestKey::Webhook { event_id, redelivery } => {
                if event_id.is_empty() {
                    continue;
                }
                let entry = webhook_ids.entry(event_id.as_str()).or_insert(false);
                *entry |= ok;
                if ok && *redelivery {
                    check.webhook_redeliveries_ok += 1;
                }
            }
        }
    }
    let mut explained = 0u64;
    for (event_id, ok) in &webhook_ids {
        let key = dedupe_key(Provider::Generic, event_id);
        let found = by_dedupe.get(&key).copied().unwrap_or(0);
        explained += u64::from(found > 0);
        if !ok {
            continue;
        }
        check.webhooks_ok += 1;
        if found == 1 {
            check.webhooks_exactly_once += 1;
        } else {
            check.webhooks_missing += 1;
            fail(format!("webhook {event_id} answered 2xx has {found} WebhookReceived events"), &mut failures);
        }
    }
    let received_total: i64 = by_dedupe.values().sum();
    check.webhook_events_unexplained = u64::try_from(received_total).unwrap_or(0).saturating_sub(explained);
    if check.webhook_events_unexplained > 0 {
        fail(format!("{} WebhookReceived events without a delivery", check.webhook_events_unexplained), &mut failures);
    }
    check.events_total = client.query_one("SELECT count(*) FROM events", &[]).await?.try_get(0)?;

    let chains = payledger_store::verify_chains(&client, None).await?;
    check.chains_intact = chains.is_intact();
    check.streams_checked = chains.streams_checked;
    check.events_checked = chains.events_checked;
    check.broken_links = chains.broken.len() as u64;
    if let Some(link) = chains.broken.first() {
        fail(format!("broken chain: {} v{}: {:?}", link.stream_id, link.stream_version, link.fault), &mut failures);
    }
    let verify = payledger_projector::verify(database_url, &VerifyOptions::default())
        .await
        .map_err(|e| BenchError::Setup(format!("verify: {e}")))?;
    check.read_models_clean = verify.is_clean();
    check.read_model_differences = verify.differences_total;
    check.verified_at_position = verify.checkpoint.position;
    if let Some(d) = verify.differences.first() {
        fail(
            format!(
                "read-models differ from a fresh fold: {} {} field {} ({} in all)",
                d.table, d.key, d.field, verify.differences_total
            ),
            &mut failures,
        );
    }
    let failed_count = check.commands_missing
        + check.commands_duplicated
        + check.commands_refused_with_events
        + check.webhooks_missing
        + check.webhook_events_unexplained;
    check.passed = failed_count == 0
        && check.deliveries_pending == 0
        && check.projector_caught_up
        && check.chains_intact
        && check.read_models_clean
        && check.commands_ok > 0;
    if check.commands_ok == 0 {
        fail("no command was answered 2xx".into(), &mut failures);
    }
    check.failures = failures;
    check.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    Ok(check)
}

/// Waits (bounded) until the live projector has applied every event; returns how many it
/// has not (counted over the gap-free read order after its checkpoint).
async fn projector_catch_up(client: &tokio_postgres::Client) -> Result<i64, BenchError> {
    let deadline = Instant::now() + Duration::from_millis(PROJECTOR_CATCH_UP_TIMEOUT_MS);
    let projector = |e: payledger_projector::ProjectorError| BenchError::Setup(format!("projector: {e}"));
    loop {
        let checkpoint = payledger_projector::live_checkpoint(client)
            .await
            .map_err(projector)?
            .map(|(_, c)| c)
            .unwrap_or(payledger_store::Checkpoint::START);
        let behind: i64 = client
            .query_one(
                "SELECT count(*) FROM events WHERE (tx_id, global_position) > ($1::text::xid8, $2)",
                &[&checkpoint.tx_id.to_string(), &checkpoint.position],
            )
            .await?
            .try_get(0)?;
        if behind == 0 || Instant::now() >= deadline {
            return Ok(behind);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits (bounded) until no received delivery is pending interpretation; returns how many still are.
async fn settle_deliveries(client: &tokio_postgres::Client) -> Result<i64, BenchError> {
    let deadline = Instant::now() + Duration::from_millis(DELIVERIES_SETTLE_TIMEOUT_MS);
    loop {
        let pending: i64 = client
            .query_one("SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'", &[])
            .await?
            .try_get(0)?;
        if pending == 0 || Instant::now() >= deadline {
            return Ok(pending);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
