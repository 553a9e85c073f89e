//! `POST /v1/webhooks/{provider}/{endpoint_id}`. Owned by the webhook work.

use crate::error::ApiError;

pub async fn receive() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::NOT_IMPLEMENTED,
        crate::error::ErrorType::Internal,
        "not_implemented",
        "webhooks are not received yet",
    )
}
