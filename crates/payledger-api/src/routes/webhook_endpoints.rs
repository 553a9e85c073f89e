//! Admin routes for webhook endpoints and their secrets. Owned by the webhook work.

use crate::error::ApiError;

pub async fn create() -> ApiError {
    not_yet()
}
pub async fn list() -> ApiError {
    not_yet()
}
pub async fn add_secret() -> ApiError {
    not_yet()
}
pub async fn retire_secret() -> ApiError {
    not_yet()
}

fn not_yet() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        crate::error::ErrorType::Internal,
        "not_implemented",
        "webhook endpoints are not managed yet",
    )
}
