//! The payments of one order, folded from their streams, for the rules that span an order and
//! its payments (a payment takes at most what the others leave; no cancel while one is in
//! progress). Called with the order's stream locked, so no payment of it can appear meanwhile.

use payledger_core::order::{OrderPayments, ORDER_PAYMENTS_MAX};
use payledger_core::payment::Payment;
use payledger_core::DomainError;
use payledger_core::OrderId;
use payledger_store::StreamKey;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::aggregate::load;
use crate::aggregate::PaymentAggregate;
use crate::error::{ApiError, ApiResult};

/// Uses the partial index `events_payments_by_order` (migration V7).
const PAYMENT_STREAMS_OF_ORDER: &str = "SELECT stream_id FROM events
     WHERE tenant_id = $1 AND event_type = 'PaymentInitiated' AND payload->>'order_id' = $2
     ORDER BY global_position LIMIT $3";

pub async fn tally_order_payments<C: GenericClient>(
    client: &C,
    tenant_id: Uuid,
    order_id: OrderId,
) -> ApiResult<OrderPayments> {
    let limit = ORDER_PAYMENTS_MAX as i64 + 1;
    let rows = client
        .query_typed(
            PAYMENT_STREAMS_OF_ORDER,
            &[(&tenant_id, Type::UUID), (&order_id.to_string(), Type::TEXT), (&limit, Type::INT8)],
        )
        .await?;
    if rows.len() > ORDER_PAYMENTS_MAX {
        // Only an order from before the limit can get here.
        return Err(DomainError::OrderPaymentLimitReached { max: ORDER_PAYMENTS_MAX }.into());
    }
    let mut payments: Vec<Payment> = Vec::with_capacity(rows.len());
    for row in &rows {
        let stream_id: String = row.try_get(0)?;
        let (state, _) = load::<PaymentAggregate, _>(client, &StreamKey::new(tenant_id, stream_id.clone())).await?;
        let payment =
            state.ok_or_else(|| ApiError::internal(format!("payment stream {stream_id} folds to nothing")))?;
        if payment.order_id != order_id {
            return Err(ApiError::internal(format!("payment stream {stream_id} belongs to another order")));
        }
        payments.push(payment);
    }
    Ok(OrderPayments::tally(&payments))
}
