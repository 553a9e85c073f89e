//! The payments of one order, folded from their streams, for the rules that span an order and
//! its payments (a payment takes at most what the others leave; no cancel while one is in
//! progress). Called with the order's stream locked, so no payment of it can appear meanwhile.

use payledger_core::order::{OrderPayments, ORDER_PAYMENTS_MAX};
use payledger_core::payment::Payment;
use payledger_core::DomainError;
use payledger_core::OrderId;
use payledger_store::{Queries, StreamKey};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::aggregate::{load, PaymentAggregate};
use crate::error::{ServiceError, ServiceResult};
use crate::lookup::payment_streams_of_order;

pub async fn tally_order_payments<C: GenericClient + Queries>(
    client: &C,
    tenant_id: Uuid,
    order_id: OrderId,
) -> ServiceResult<OrderPayments> {
    let stream_ids = payment_streams_of_order(client, tenant_id, order_id, ORDER_PAYMENTS_MAX as i64 + 1).await?;
    if stream_ids.len() > ORDER_PAYMENTS_MAX {
        // Only an order from before the limit can get here.
        return Err(DomainError::OrderPaymentLimitReached { max: ORDER_PAYMENTS_MAX }.into());
    }
    let mut payments: Vec<Payment> = Vec::with_capacity(stream_ids.len());
    for stream_id in stream_ids {
        let (state, _) = load::<PaymentAggregate, _>(client, &StreamKey::new(tenant_id, stream_id.clone())).await?;
        let payment =
            state.ok_or_else(|| ServiceError::internal(format!("payment stream {stream_id} folds to nothing")))?;
        if payment.order_id != order_id {
            return Err(ServiceError::internal(format!("payment stream {stream_id} belongs to another order")));
        }
        payments.push(payment);
    }
    Ok(OrderPayments::tally(&payments))
}
