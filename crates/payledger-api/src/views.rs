//! The JSON shape of each resource, once: command answers, GET answers and `/openapi.json`
//! all use these structs (field names are part of the contract: add, never rename).
//!
//! Each view is made from the core's state (what a command answers) and from the
//! projector's row (what a GET answers), so both show the same fields with the same types.

use chrono::{DateTime, Utc};
use payledger_core::order::{Order, OrderPayments, OrderReadStatus};
use payledger_core::payment::{Dispute, Payment, Refund};
use payledger_projector::{AccountBalanceRow, DisputeRow, JournalEntryRow, OrderRow, PaymentRow, RefundRow, WideMinor};
use payledger_service::{ServiceError, ServiceResult};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

/// A page: `has_more` says whether the item after the last one exists.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct List<T> {
    pub data: Vec<T>,
    pub has_more: bool,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Order)]
pub struct OrderView {
    pub id: Uuid,
    #[schema(value_type = String, pattern = "^order$")]
    pub object: &'static str,
    #[schema(value_type = OrderStatus)]
    pub status: String,
    pub amount: i64,
    pub currency: String,
    pub reference: String,
    /// Any JSON object, returned exactly as sent.
    #[schema(value_type = Object)]
    pub metadata: Value,
    /// Summed over the order's payments.
    #[schema(value_type = i64)]
    pub amount_captured: WideMinor,
    #[schema(value_type = i64)]
    pub amount_refunded: WideMinor,
    pub created_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    /// The event position the command reached (command answers only; see `min_position`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Payment)]
pub struct PaymentView {
    pub id: Uuid,
    #[schema(value_type = String, pattern = "^payment$")]
    pub object: &'static str,
    pub order_id: Uuid,
    #[schema(value_type = PaymentStatus)]
    pub status: String,
    pub amount: i64,
    pub currency: String,
    #[schema(value_type = CaptureMethod)]
    pub capture_method: String,
    pub amount_authorized: i64,
    pub amount_captured: i64,
    pub amount_refunded: i64,
    pub amount_refund_pending: i64,
    pub amount_disputed: i64,
    pub amount_capturable: i64,
    pub amount_refundable: i64,
    #[schema(value_type = Provider)]
    pub provider: String,
    pub provider_reference: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub refunds: Vec<RefundView>,
    pub disputes: Vec<DisputeView>,
    pub created_at: DateTime<Utc>,
    /// The event position the command reached (command answers only; see `min_position`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Refund)]
pub struct RefundView {
    pub id: Uuid,
    #[schema(value_type = String, pattern = "^refund$")]
    pub object: &'static str,
    pub payment_id: Uuid,
    pub amount: i64,
    pub currency: String,
    #[schema(value_type = RefundStatus)]
    pub status: String,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The event position the command reached (command answers only; see `min_position`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Dispute)]
pub struct DisputeView {
    pub id: Uuid,
    #[schema(value_type = String, pattern = "^dispute$")]
    pub object: &'static str,
    pub payment_id: Uuid,
    pub amount: i64,
    pub currency: String,
    #[schema(value_type = DisputeStatus)]
    pub status: String,
    pub reason: Option<String>,
    pub provider_reference: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The event position the command reached (command answers only; see `min_position`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<i64>,
}

/// One account's balance in one currency; `id` is `{account}:{currency}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = LedgerAccount)]
pub struct LedgerAccountView {
    pub id: String,
    #[schema(value_type = String, pattern = "^ledger_account$")]
    pub object: &'static str,
    pub account: String,
    pub account_type: String,
    pub normal_side: String,
    pub currency: String,
    /// On the account's normal side.
    #[schema(value_type = i64)]
    pub balance: WideMinor,
    #[schema(value_type = i64)]
    pub debits: WideMinor,
    #[schema(value_type = i64)]
    pub credits: WideMinor,
    pub entry_count: i64,
}

/// One posting line of the journal; `id` is `je_{position}_{line}`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = LedgerEntry)]
pub struct LedgerEntryView {
    pub id: String,
    #[schema(value_type = String, pattern = "^ledger_entry$")]
    pub object: &'static str,
    pub event_id: Uuid,
    pub position: i64,
    pub line: i16,
    pub kind: String,
    pub account: String,
    pub side: String,
    pub amount: i64,
    pub currency: String,
    /// None for a settlement report line's posting (fees, payouts, adjustments).
    pub payment_id: Option<Uuid>,
    pub order_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

// ---- From the core's state (command answers)

/// The order with its payments' sums and the status the read-model derives from them, so a
/// command's answer matches what `GET /v1/orders/{id}` shows once projected.
impl From<(&Order, &OrderPayments)> for OrderView {
    fn from((order, payments): (&Order, &OrderPayments)) -> OrderView {
        let status = OrderReadStatus::derive(
            order.amount_minor.get(),
            order.cancelled_at.is_some(),
            payments.amount_captured.get(),
            payments.amount_refunded.get(),
        );
        OrderView {
            id: *order.id.as_uuid(),
            object: "order",
            status: status.as_str().to_owned(),
            amount: order.amount_minor.get(),
            currency: order.currency.code().to_owned(),
            reference: order.reference.clone(),
            metadata: order.metadata.clone(),
            amount_captured: payments.amount_captured.get().into(),
            amount_refunded: payments.amount_refunded.get().into(),
            created_at: order.created_at,
            cancelled_at: order.cancelled_at,
            cancel_reason: order.cancel_reason.clone(),
            position: None,
        }
    }
}

impl From<&Payment> for PaymentView {
    fn from(p: &Payment) -> PaymentView {
        PaymentView {
            id: *p.id.as_uuid(),
            object: "payment",
            order_id: *p.order_id.as_uuid(),
            status: p.status.as_str().to_owned(),
            amount: p.amount_minor.get(),
            currency: p.currency.code().to_owned(),
            capture_method: p.capture_method.as_str().to_owned(),
            amount_authorized: p.amount_authorized.get(),
            amount_captured: p.amount_captured.get(),
            amount_refunded: p.amount_refunded.get(),
            amount_refund_pending: p.amount_refund_pending.get(),
            amount_disputed: p.amount_disputed.get(),
            amount_capturable: p.amount_capturable().get(),
            amount_refundable: p.amount_refundable().get(),
            provider: p.provider.as_str().to_owned(),
            provider_reference: p.provider_reference.clone(),
            failure_code: p.failure_code.clone(),
            failure_message: p.failure_message.clone(),
            refunds: p.refunds.iter().map(|r| RefundView::from((p, r))).collect(),
            disputes: p.disputes.iter().map(|d| DisputeView::from((p, d))).collect(),
            created_at: p.created_at,
            position: None,
        }
    }
}

impl From<(&Payment, &Refund)> for RefundView {
    fn from((p, r): (&Payment, &Refund)) -> RefundView {
        RefundView {
            id: *r.id.as_uuid(),
            object: "refund",
            payment_id: *p.id.as_uuid(),
            amount: r.amount_minor.get(),
            currency: p.currency.code().to_owned(),
            status: r.status.as_str().to_owned(),
            reason: r.reason.clone(),
            provider_reference: r.provider_reference.clone(),
            failure_code: r.failure_code.clone(),
            failure_message: r.failure_message.clone(),
            created_at: r.requested_at,
            position: None,
        }
    }
}

impl From<(&Payment, &Dispute)> for DisputeView {
    fn from((p, d): (&Payment, &Dispute)) -> DisputeView {
        DisputeView {
            id: *d.id.as_uuid(),
            object: "dispute",
            payment_id: *p.id.as_uuid(),
            amount: d.amount_minor.get(),
            currency: p.currency.code().to_owned(),
            status: d.status.as_str().to_owned(),
            reason: d.reason.clone(),
            provider_reference: d.provider_reference.clone(),
            created_at: d.opened_at,
            position: None,
        }
    }
}

// ---- From the projector's rows (GET answers)

impl From<&OrderRow> for OrderView {
    fn from(o: &OrderRow) -> OrderView {
        OrderView {
            id: o.order_id,
            object: "order",
            status: o.status.clone(),
            amount: o.amount_minor,
            currency: o.currency.clone(),
            reference: o.reference.clone(),
            metadata: o.metadata.clone(),
            amount_captured: o.amount_captured_minor,
            amount_refunded: o.amount_refunded_minor,
            created_at: o.created_at,
            cancelled_at: o.cancelled_at,
            cancel_reason: o.cancel_reason.clone(),
            position: None,
        }
    }
}

impl PaymentView {
    /// The payment's row with those of `refunds` and `disputes` that are its own.
    pub fn from_rows(p: &PaymentRow, refunds: &[RefundRow], disputes: &[DisputeRow]) -> PaymentView {
        PaymentView {
            id: p.payment_id,
            object: "payment",
            order_id: p.order_id,
            status: p.status.clone(),
            amount: p.amount_minor,
            currency: p.currency.clone(),
            capture_method: p.capture_method.clone(),
            amount_authorized: p.amount_authorized_minor,
            amount_captured: p.amount_captured_minor,
            amount_refunded: p.amount_refunded_minor,
            amount_refund_pending: p.amount_refund_pending_minor,
            amount_disputed: p.amount_disputed_minor,
            amount_capturable: p.amount_capturable_minor,
            amount_refundable: p.amount_refundable_minor,
            provider: p.provider.clone(),
            provider_reference: p.provider_reference.clone(),
            failure_code: p.failure_code.clone(),
            failure_message: p.failure_message.clone(),
            refunds: refunds.iter().filter(|r| r.payment_id == p.payment_id).map(RefundView::from).collect(),
            disputes: disputes.iter().filter(|d| d.payment_id == p.payment_id).map(DisputeView::from).collect(),
            created_at: p.created_at,
            position: None,
        }
    }
}

impl From<&RefundRow> for RefundView {
    fn from(r: &RefundRow) -> RefundView {
        RefundView {
            id: r.refund_id,
            object: "refund",
            payment_id: r.payment_id,
            amount: r.amount_minor,
            currency: r.currency.clone(),
            status: r.status.clone(),
            reason: r.reason.clone(),
            provider_reference: r.provider_reference.clone(),
            failure_code: r.failure_code.clone(),
            failure_message: r.failure_message.clone(),
            created_at: r.created_at,
            position: None,
        }
    }
}

impl From<&DisputeRow> for DisputeView {
    fn from(d: &DisputeRow) -> DisputeView {
        DisputeView {
            id: d.dispute_id,
            object: "dispute",
            payment_id: d.payment_id,
            amount: d.amount_minor,
            currency: d.currency.clone(),
            status: d.status.clone(),
            reason: d.reason.clone(),
            provider_reference: d.provider_reference.clone(),
            created_at: d.created_at,
            position: None,
        }
    }
}

impl From<&AccountBalanceRow> for LedgerAccountView {
    fn from(a: &AccountBalanceRow) -> LedgerAccountView {
        LedgerAccountView {
            id: a.id(),
            object: "ledger_account",
            account: a.account.clone(),
            account_type: a.account_type.clone(),
            normal_side: a.normal_side.clone(),
            currency: a.currency.clone(),
            balance: a.balance_minor,
            debits: a.debit_minor,
            credits: a.credit_minor,
            entry_count: a.entry_count,
        }
    }
}

impl From<&JournalEntryRow> for LedgerEntryView {
    fn from(e: &JournalEntryRow) -> LedgerEntryView {
        LedgerEntryView {
            id: e.id(),
            object: "ledger_entry",
            event_id: e.event_id,
            position: e.event_position,
            line: e.line,
            kind: e.kind.clone(),
            account: e.account.clone(),
            side: e.side.clone(),
            amount: e.amount_minor,
            currency: e.currency.clone(),
            payment_id: e.payment_id,
            order_id: e.order_id,
            created_at: e.recorded_at,
        }
    }
}

// ---- As JSON values, for the command pipeline (which adds `position`)

pub fn order_view(order: &Order, payments: &OrderPayments) -> ServiceResult<Value> {
    to_json(OrderView::from((order, payments)))
}

pub fn payment_view(p: &Payment) -> ServiceResult<Value> {
    to_json(PaymentView::from(p))
}

pub fn refund_view(p: &Payment, r: &Refund) -> ServiceResult<Value> {
    to_json(RefundView::from((p, r)))
}

pub fn dispute_view(p: &Payment, d: &Dispute) -> ServiceResult<Value> {
    to_json(DisputeView::from((p, d)))
}

/// A view as a JSON value. The views hold only strings, numbers, ids, times and JSON values
/// under string keys, which always serialize; should that ever change, the request fails
/// (an answer of `null` would be stored as the command's idempotent answer).
pub fn to_json<T: Serialize>(view: T) -> ServiceResult<Value> {
    serde_json::to_value(view).map_err(|e| ServiceError::internal(format!("a view did not serialize: {e}")))
}

// ---- The strings the status fields take (schemas only)

/// The schema of a status field: a string taking exactly the names the core's enum lists, so
/// the document follows the domain instead of a copy of it.
macro_rules! names_schema {
    ($(#[$doc:meta])* $marker:ident, $values:expr) => {
        $(#[$doc])*
        pub struct $marker;

        impl utoipa::PartialSchema for $marker {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($values.map(|value| value.as_str())))
                    .into()
            }
        }

        impl ToSchema for $marker {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($marker))
            }
        }
    };
}

names_schema!(
    /// `payledger_core::order::OrderReadStatus`.
    OrderStatus,
    OrderReadStatus::ALL
);
names_schema!(
    /// `payledger_core::payment::PaymentStatus`.
    PaymentStatus,
    payledger_core::payment::PaymentStatus::ALL
);
names_schema!(
    /// `payledger_core::payment::RefundStatus`.
    RefundStatus,
    payledger_core::payment::RefundStatus::ALL
);
names_schema!(
    /// `payledger_core::payment::DisputeStatus`.
    DisputeStatus,
    payledger_core::payment::DisputeStatus::ALL
);
names_schema!(
    /// `payledger_core::payment::CaptureMethod`.
    CaptureMethod,
    payledger_core::payment::CaptureMethod::ALL
);
names_schema!(
    /// `payledger_service::tenants::Role`.
    Role,
    payledger_service::tenants::Role::ALL
);
names_schema!(
    /// `payledger_service::tenants::KeyMode`.
    KeyMode,
    payledger_service::tenants::KeyMode::ALL
);
names_schema!(
    /// `payledger_core::payment::Provider` (the only provider enum).
    Provider,
    payledger_core::payment::Provider::ALL
);

/// Settlement reports and their lines.
pub mod job;
pub mod settlement;

names_schema!(
    /// `payledger_core::reconciliation::ReconStatus` (docs/SETTLEMENT.md).
    ReconStatus,
    payledger_core::reconciliation::ReconStatus::ALL
);
