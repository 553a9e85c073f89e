//! Applying a notification to its payment's stream, inside the caller's transaction: lock
//! the stream, load, decide, append at the loaded version. The caller commits.

use chrono::{DateTime, Utc};
use payledger_core::payment::{PaymentCommand, PaymentEvent};
use payledger_gateways::{Notification, Provider};
use payledger_store::{append_in_tx, lock_stream, BatchItem, ExpectedVersion, StreamKey};
use tokio_postgres::{GenericClient, Transaction};
use uuid::Uuid;

use super::error::WebhookResult;
use super::inbox::Cause;
use payledger_gateways::report::{decide, Decision};
use payledger_service::aggregate::{load, Aggregate, PaymentAggregate};
use payledger_service::ServiceError;

/// The payment a gateway reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentLookup {
    Found(StreamKey),
    Missing,
    /// More than one payment claims the reference: applying to either could be wrong.
    Ambiguous,
}

/// Finds the payment by `(provider, provider_reference)` through the expression index
/// `events_provider_reference` (migration V3) over `PaymentInitiated` events.
pub async fn find_payment<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    provider: Provider,
    reference: &str,
) -> WebhookResult<PaymentLookup> {
    let rows = client
        .query(
            "SELECT stream_id FROM events
             WHERE tenant_id = $1 AND event_type = 'PaymentInitiated'
               AND payload->>'provider' = $2 AND payload->>'provider_reference' = $3
             LIMIT 2",
            &[&tenant_id, &provider.as_str(), &reference],
        )
        .await?;
    Ok(match rows.as_slice() {
        [] => PaymentLookup::Missing,
        [row] => PaymentLookup::Found(StreamKey::new(tenant_id, row.try_get::<_, String>(0)?)),
        _ => PaymentLookup::Ambiguous,
    })
}

/// What applying did to the payment stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Events that change the payment were appended.
    Changed { events: usize },
    /// The payment refused the report as stale, duplicate or impossible: `WebhookIgnored`
    /// with this reason was appended to the payment stream.
    IgnoredByPayment { reason: String },
    /// The report was applied (or ignored) before: nothing appended. Reprocessing is a no-op.
    AlreadyApplied,
}

pub async fn apply_to_payment(
    tx: &Transaction<'_>,
    stream: &StreamKey,
    notification: &Notification,
    cause: &Cause,
    received_at: DateTime<Utc>,
) -> WebhookResult<Applied> {
    lock_stream(tx, stream).await?;
    let (state, version) = load::<PaymentAggregate, _>(tx, stream).await?;
    let Some(payment) = &state else {
        return Err(
            ServiceError::internal(format!("payment stream {} has no PaymentInitiated", stream.stream_id)).into()
        );
    };
    let report_key = notification.dedupe_key.as_str();
    if payment.applied_report_keys.contains(report_key) {
        return Ok(Applied::AlreadyApplied);
    }
    let events = match decide(notification, received_at) {
        Decision::Apply(report) => {
            PaymentAggregate::decide(&state, PaymentCommand::ApplyGatewayReport(report)).map_err(ServiceError::from)?
        }
        Decision::Ignore(reason) => vec![PaymentEvent::WebhookIgnored { report_key: report_key.to_owned(), reason }],
    };
    let ignored_reason = match events.as_slice() {
        [PaymentEvent::WebhookIgnored { reason, .. }] => Some(reason.clone()),
        _ => None,
    };
    let metadata = cause.metadata();
    let item = BatchItem {
        stream: stream.clone(),
        expected: ExpectedVersion::Exact(version),
        events: events.iter().map(|e| PaymentAggregate::encode(e, metadata.clone())).collect(),
    };
    append_in_tx(tx, &[item]).await?;
    metrics::counter!("payledger_events_appended_total").increment(events.len() as u64);
    Ok(match ignored_reason {
        Some(reason) => Applied::IgnoredByPayment { reason },
        None => Applied::Changed { events: events.len() },
    })
}
