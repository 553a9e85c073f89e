//! The JSON shapes of resources (field names are part of the contract: add, never rename).

use payledger_core::order::OrderReadStatus;
use payledger_core::order::{Order, OrderPayments};
use payledger_core::payment::{Dispute, Payment, Refund};
use serde_json::{json, Value};

/// The order with its payments' sums and the status the read-model derives from them, so a
/// command's answer matches what `GET /v1/orders/{id}` shows once projected.
pub fn order_view(order: &Order, payments: &OrderPayments) -> Value {
    let status = OrderReadStatus::derive(
        order.amount_minor.get(),
        order.cancelled_at.is_some(),
        payments.amount_captured.get(),
        payments.amount_refunded.get(),
    );
    json!({
        "id": order.id,
        "object": "order",
        "status": status.as_str(),
        "amount": order.amount_minor,
        "currency": order.currency,
        "reference": order.reference,
        "metadata": order.metadata,
        "amount_captured": payments.amount_captured.get(),
        "amount_refunded": payments.amount_refunded.get(),
        "created_at": order.created_at,
        "cancelled_at": order.cancelled_at,
        "cancel_reason": order.cancel_reason,
    })
}

pub fn payment_view(p: &Payment) -> Value {
    json!({
        "id": p.id,
        "object": "payment",
        "order_id": p.order_id,
        "status": p.status.as_str(),
        "amount": p.amount_minor,
        "currency": p.currency,
        "capture_method": p.capture_method.as_str(),
        "amount_authorized": p.amount_authorized,
        "amount_captured": p.amount_captured,
        "amount_refunded": p.amount_refunded,
        "amount_refund_pending": p.amount_refund_pending,
        "amount_disputed": p.amount_disputed,
        "amount_capturable": p.amount_capturable(),
        "amount_refundable": p.amount_refundable(),
        "provider": p.provider.as_str(),
        "provider_reference": p.provider_reference,
        "failure_code": p.failure_code,
        "failure_message": p.failure_message,
        "refunds": p.refunds.iter().map(|r| refund_view(p, r)).collect::<Vec<_>>(),
        "disputes": p.disputes.iter().map(|d| dispute_view(p, d)).collect::<Vec<_>>(),
        "created_at": p.created_at,
    })
}

pub fn refund_view(p: &Payment, r: &Refund) -> Value {
    json!({
        "id": r.id,
        "object": "refund",
        "payment_id": p.id,
        "amount": r.amount_minor,
        "currency": p.currency,
        "status": r.status.as_str(),
        "reason": r.reason,
        "provider_reference": r.provider_reference,
        "failure_code": r.failure_code,
        "failure_message": r.failure_message,
        "created_at": r.requested_at,
    })
}

pub fn dispute_view(p: &Payment, d: &Dispute) -> Value {
    json!({
        "id": d.id,
        "object": "dispute",
        "payment_id": p.id,
        "amount": d.amount_minor,
        "currency": p.currency,
        "status": d.status.as_str(),
        "reason": d.reason,
        "provider_reference": d.provider_reference,
        "created_at": d.opened_at,
    })
}
