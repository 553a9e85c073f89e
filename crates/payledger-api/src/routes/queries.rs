//! Read-model queries (GET orders, payments, refunds, ledger). Owned by the projector work.

use crate::error::ApiError;

pub async fn list_orders() -> ApiError {
    not_yet()
}
pub async fn get_order() -> ApiError {
    not_yet()
}
pub async fn list_payments() -> ApiError {
    not_yet()
}
pub async fn get_payment() -> ApiError {
    not_yet()
}
pub async fn list_refunds() -> ApiError {
    not_yet()
}
pub async fn get_refund() -> ApiError {
    not_yet()
}
pub async fn list_ledger_accounts() -> ApiError {
    not_yet()
}
pub async fn list_ledger_entries() -> ApiError {
    not_yet()
}

fn not_yet() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        crate::error::ErrorType::Internal,
        "not_implemented",
        "read-models are not served yet",
    )
}
