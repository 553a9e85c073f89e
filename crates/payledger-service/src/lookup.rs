//! Every index query over `events`: each answers "which stream?" from the immutable events
//! themselves, so it can never drift from them. Each names the index it relies on.

use payledger_core::{OrderId, PaymentId};
use payledger_gateways::Provider;
use payledger_store::StreamKey;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::{ServiceError, ServiceResult};

/// Uses the partial index `events_payments_by_order` (migration V7).
const PAYMENT_STREAMS_OF_ORDER: &str = "SELECT stream_id FROM events
     WHERE tenant_id = $1 AND event_type = 'PaymentInitiated' AND payload->>'order_id' = $2
     ORDER BY global_position LIMIT $3";

/// Uses the partial index `events_refund_id` (migration V3).
const PAYMENT_OF_REFUND: &str = "SELECT stream_id FROM events
     WHERE tenant_id = $1 AND event_type = 'RefundRequested' AND payload->>'refund_id' = $2 LIMIT 1";

/// Uses the partial index `events_dispute_id` (migration V3).
const PAYMENT_OF_DISPUTE: &str = "SELECT stream_id FROM events
     WHERE tenant_id = $1 AND event_type = 'DisputeOpened' AND payload->>'dispute_id' = $2 LIMIT 1";

/// Uses the expression index `events_provider_reference` (migration V3).
const PAYMENT_BY_PROVIDER_REFERENCE: &str = "SELECT stream_id FROM events
     WHERE tenant_id = $1 AND event_type = 'PaymentInitiated'
       AND payload->>'provider' = $2 AND payload->>'provider_reference' = $3
     LIMIT 2";

/// Uses the unique constraint `events_stream_version_key` (migration V1).
const STREAM_EXISTS: &str = "SELECT 1 FROM events WHERE tenant_id = $1 AND stream_id = $2 LIMIT 1";

/// The payment streams of an order, oldest first, at most `limit`.
pub async fn payment_streams_of_order<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    order_id: OrderId,
    limit: i64,
) -> ServiceResult<Vec<String>> {
    let rows = client
        .query_typed(
            PAYMENT_STREAMS_OF_ORDER,
            &[(&tenant_id, Type::UUID), (&order_id.to_string(), Type::TEXT), (&limit, Type::INT8)],
        )
        .await?;
    rows.iter().map(|row| row.try_get(0).map_err(ServiceError::from)).collect()
}

/// The payment a refund lives in, if the tenant has that refund.
pub async fn payment_of_refund<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    refund_id: Uuid,
) -> ServiceResult<Option<PaymentId>> {
    owning_payment(client, PAYMENT_OF_REFUND, tenant_id, refund_id).await
}

/// The payment a dispute lives in, if the tenant has that dispute.
pub async fn payment_of_dispute<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    dispute_id: Uuid,
) -> ServiceResult<Option<PaymentId>> {
    owning_payment(client, PAYMENT_OF_DISPUTE, tenant_id, dispute_id).await
}

async fn owning_payment<C: GenericClient>(
    client: &C,
    sql: &str,
    tenant_id: Uuid,
    id: Uuid,
) -> ServiceResult<Option<PaymentId>> {
    let Some(row) = client.query_opt(sql, &[&tenant_id, &id.to_string()]).await? else { return Ok(None) };
    let stream_id: String = row.try_get(0)?;
    PaymentId::from_stream_id(&stream_id)
        .map(Some)
        .map_err(|e| ServiceError::internal(format!("stream {stream_id}: {e}")))
}

/// The payment a gateway reference names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentLookup {
    Found(StreamKey),
    Missing,
    /// More than one payment claims the reference: applying to either could be wrong.
    Ambiguous,
}

/// Finds the payment by `(provider, provider_reference)` over `PaymentInitiated` events.
///
/// Prepared once per connection: PostgreSQL plans it once, not for every delivery.
pub async fn payment_by_provider_reference<C: deadpool_postgres::GenericClient>(
    client: &C,
    tenant_id: Uuid,
    provider: Provider,
    reference: &str,
) -> ServiceResult<PaymentLookup> {
    let statement = client.prepare_cached(PAYMENT_BY_PROVIDER_REFERENCE).await?;
    let rows = client.query(&statement, &[&tenant_id, &provider.as_str(), &reference]).await?;
    Ok(match rows.as_slice() {
        [] => PaymentLookup::Missing,
        [row] => PaymentLookup::Found(StreamKey::new(tenant_id, row.try_get::<_, String>(0)?)),
        _ => PaymentLookup::Ambiguous,
    })
}

/// Whether the tenant has a stream of this id.
pub async fn stream_exists<C: GenericClient>(client: &C, tenant_id: Uuid, stream_id: &str) -> ServiceResult<bool> {
    Ok(client.query_opt(STREAM_EXISTS, &[&tenant_id, &stream_id]).await?.is_some())
}
