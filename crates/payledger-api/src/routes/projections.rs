//! Projection status, rebuild and verify. Owned by the projector work.

use crate::error::ApiError;

pub async fn list() -> ApiError {
    not_yet()
}
pub async fn rebuild() -> ApiError {
    not_yet()
}
pub async fn verify() -> ApiError {
    not_yet()
}

fn not_yet() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        crate::error::ErrorType::Internal,
        "not_implemented",
        "projections are not served yet",
    )
}
