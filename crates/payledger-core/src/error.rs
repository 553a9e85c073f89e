//! The refusals of `decide`. Each variant has a stable snake_case [`code`]
//! (part of the API contract: clients branch on it) and a human message.
//!
//! [`code`]: DomainError::code

use crate::ids::{DisputeId, OrderId, RefundId};
use crate::money::{AmountMinor, Currency, MinorUnits};
use crate::order::OrderStatus;
use crate::payment::{DisputeStatus, PaymentStatus, RefundStatus};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("order {order_id} already exists")]
    OrderAlreadyExists { order_id: OrderId },
    #[error("order not found")]
    OrderNotFound,
    #[error("order is {}, not open", status.as_str())]
    OrderNotOpen { status: OrderStatus },
    #[error("order has {count} payment(s) in progress; void them (failed ones too: they may be retried), or settle their money (refunds, disputes), before cancelling")]
    OrderHasPaymentsInProgress { count: usize },
    #[error("an order may have at most {max} payments")]
    OrderPaymentLimitReached { max: usize },

    #[error("payment already exists")]
    PaymentAlreadyExists,
    #[error("payment not found")]
    PaymentNotFound,
    #[error("a payment in status {} cannot be authorized", status.as_str())]
    PaymentNotAuthorizable { status: PaymentStatus },
    #[error("a payment in status {} cannot be captured", status.as_str())]
    PaymentNotCapturable { status: PaymentStatus },
    #[error("a payment in status {} cannot be voided", status.as_str())]
    PaymentNotVoidable { status: PaymentStatus },
    #[error("a payment in status {} cannot be marked failed", status.as_str())]
    PaymentNotFailable { status: PaymentStatus },
    #[error("a payment in status {} cannot be refunded", status.as_str())]
    PaymentNotRefundable { status: PaymentStatus },
    #[error("a payment in status {} cannot be disputed", status.as_str())]
    PaymentNotDisputable { status: PaymentStatus },

    #[error(
        "amount {requested} exceeds what the order has left to pay, {available} of {order_amount} \
         ({currency} minor units; the rest is held by its other payments)"
    )]
    AmountExceedsOrder { requested: AmountMinor, available: MinorUnits, order_amount: AmountMinor, currency: Currency },
    #[error("amount {requested} exceeds the authorizable {available} ({currency} minor units)")]
    AmountExceedsAuthorizable { requested: AmountMinor, available: MinorUnits, currency: Currency },
    #[error("amount {requested} exceeds the capturable {available} ({currency} minor units)")]
    AmountExceedsCapturable { requested: AmountMinor, available: MinorUnits, currency: Currency },
    #[error("amount {requested} exceeds the refundable {available} ({currency} minor units)")]
    AmountExceedsRefundable { requested: AmountMinor, available: MinorUnits, currency: Currency },
    #[error("amount {requested} exceeds the disputable {available} ({currency} minor units)")]
    AmountExceedsDisputable { requested: AmountMinor, available: MinorUnits, currency: Currency },
    #[error("currency {actual} does not match {expected}")]
    CurrencyMismatch { expected: Currency, actual: Currency },
    #[error("amount arithmetic overflowed")]
    AmountOverflow,

    #[error("refund {refund_id} already exists")]
    RefundAlreadyExists { refund_id: RefundId },
    #[error("refund {refund_id} not found on this payment")]
    RefundNotFound { refund_id: RefundId },
    #[error("refund {refund_id} is {}, not pending", status.as_str())]
    RefundNotPending { refund_id: RefundId, status: RefundStatus },
    #[error("dispute {dispute_id} already exists")]
    DisputeAlreadyExists { dispute_id: DisputeId },
    #[error("dispute {dispute_id} not found on this payment")]
    DisputeNotFound { dispute_id: DisputeId },
    #[error("dispute {dispute_id} is {}, not open", status.as_str())]
    DisputeNotOpen { dispute_id: DisputeId, status: DisputeStatus },

    #[error("{param} must not be empty")]
    FieldEmpty { param: &'static str },
    #[error("{param} is longer than {max_chars} characters")]
    FieldTooLong { param: &'static str, max_chars: usize },
    #[error("metadata must be a JSON object")]
    MetadataNotObject,
}

/// How a caller (the HTTP API) should classify a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The aggregate or entity does not exist (404).
    NotFound,
    /// It exists already (409).
    AlreadyExists,
    /// The input is malformed regardless of state (400).
    InvalidInput,
    /// A business rule refuses it in the current state (422).
    RuleViolated,
}

impl DomainError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            DomainError::OrderAlreadyExists { .. } => "order_already_exists",
            DomainError::OrderNotFound => "order_not_found",
            DomainError::OrderNotOpen { .. } => "order_not_open",
            DomainError::OrderHasPaymentsInProgress { .. } => "order_has_payments_in_progress",
            DomainError::OrderPaymentLimitReached { .. } => "order_payment_limit_reached",
            DomainError::PaymentAlreadyExists => "payment_already_exists",
            DomainError::PaymentNotFound => "payment_not_found",
            DomainError::PaymentNotAuthorizable { .. } => "payment_not_authorizable",
            DomainError::PaymentNotCapturable { .. } => "payment_not_capturable",
            DomainError::PaymentNotVoidable { .. } => "payment_not_voidable",
            DomainError::PaymentNotFailable { .. } => "payment_not_failable",
            DomainError::PaymentNotRefundable { .. } => "payment_not_refundable",
            DomainError::PaymentNotDisputable { .. } => "payment_not_disputable",
            DomainError::AmountExceedsOrder { .. } => "amount_exceeds_order",
            DomainError::AmountExceedsAuthorizable { .. } => "amount_exceeds_authorizable",
            DomainError::AmountExceedsCapturable { .. } => "amount_exceeds_capturable",
            DomainError::AmountExceedsRefundable { .. } => "amount_exceeds_refundable",
            DomainError::AmountExceedsDisputable { .. } => "amount_exceeds_disputable",
            DomainError::CurrencyMismatch { .. } => "currency_mismatch",
            DomainError::AmountOverflow => "amount_overflow",
            DomainError::RefundAlreadyExists { .. } => "refund_already_exists",
            DomainError::RefundNotFound { .. } => "refund_not_found",
            DomainError::RefundNotPending { .. } => "refund_not_pending",
            DomainError::DisputeAlreadyExists { .. } => "dispute_already_exists",
            DomainError::DisputeNotFound { .. } => "dispute_not_found",
            DomainError::DisputeNotOpen { .. } => "dispute_not_open",
            DomainError::FieldEmpty { .. } => "field_empty",
            DomainError::FieldTooLong { .. } => "field_too_long",
            DomainError::MetadataNotObject => "metadata_not_object",
        }
    }

    /// The request field at fault, when one is (`{"error": {"param": ...}}`).
    pub fn param(&self) -> Option<&'static str> {
        match self {
            DomainError::AmountExceedsOrder { .. }
            | DomainError::AmountExceedsAuthorizable { .. }
            | DomainError::AmountExceedsCapturable { .. }
            | DomainError::AmountExceedsRefundable { .. }
            | DomainError::AmountExceedsDisputable { .. }
            | DomainError::AmountOverflow => Some("amount"),
            DomainError::CurrencyMismatch { .. } => Some("currency"),
            DomainError::FieldEmpty { param } | DomainError::FieldTooLong { param, .. } => Some(param),
            DomainError::MetadataNotObject => Some("metadata"),
            DomainError::OrderAlreadyExists { .. }
            | DomainError::OrderNotFound
            | DomainError::OrderNotOpen { .. }
            | DomainError::OrderHasPaymentsInProgress { .. }
            | DomainError::OrderPaymentLimitReached { .. }
            | DomainError::PaymentAlreadyExists
            | DomainError::PaymentNotFound
            | DomainError::PaymentNotAuthorizable { .. }
            | DomainError::PaymentNotCapturable { .. }
            | DomainError::PaymentNotVoidable { .. }
            | DomainError::PaymentNotFailable { .. }
            | DomainError::PaymentNotRefundable { .. }
            | DomainError::PaymentNotDisputable { .. }
            | DomainError::RefundAlreadyExists { .. }
            | DomainError::RefundNotFound { .. }
            | DomainError::RefundNotPending { .. }
            | DomainError::DisputeAlreadyExists { .. }
            | DomainError::DisputeNotFound { .. }
            | DomainError::DisputeNotOpen { .. } => None,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            DomainError::OrderNotFound
            | DomainError::PaymentNotFound
            | DomainError::RefundNotFound { .. }
            | DomainError::DisputeNotFound { .. } => ErrorKind::NotFound,
            DomainError::OrderAlreadyExists { .. }
            | DomainError::PaymentAlreadyExists
            | DomainError::RefundAlreadyExists { .. }
            | DomainError::DisputeAlreadyExists { .. } => ErrorKind::AlreadyExists,
            DomainError::FieldEmpty { .. } | DomainError::FieldTooLong { .. } | DomainError::MetadataNotObject => {
                ErrorKind::InvalidInput
            }
            DomainError::OrderNotOpen { .. }
            | DomainError::OrderHasPaymentsInProgress { .. }
            | DomainError::OrderPaymentLimitReached { .. }
            | DomainError::PaymentNotAuthorizable { .. }
            | DomainError::PaymentNotCapturable { .. }
            | DomainError::PaymentNotVoidable { .. }
            | DomainError::PaymentNotFailable { .. }
            | DomainError::PaymentNotRefundable { .. }
            | DomainError::PaymentNotDisputable { .. }
            | DomainError::AmountExceedsOrder { .. }
            | DomainError::AmountExceedsAuthorizable { .. }
            | DomainError::AmountExceedsCapturable { .. }
            | DomainError::AmountExceedsRefundable { .. }
            | DomainError::AmountExceedsDisputable { .. }
            | DomainError::CurrencyMismatch { .. }
            | DomainError::AmountOverflow
            | DomainError::RefundNotPending { .. }
            | DomainError::DisputeNotOpen { .. } => ErrorKind::RuleViolated,
        }
    }
}
