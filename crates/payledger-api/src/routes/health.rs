//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::json;

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// The database answers and carries every migration this binary knows.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let expected = payledger_store::latest_migration_version();
    let applied = match state.pool.get().await {
        Ok(client) => payledger_store::applied_migration_version(&**client).await.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match applied {
        Ok(Some(v)) if v >= expected => (StatusCode::OK, Json(json!({ "status": "ready", "migration_version": v }))),
        Ok(v) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "migrations_pending", "migration_version": v, "expected": expected })),
        ),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "database_unreachable" })))
        }
    }
}

pub async fn metrics() -> impl IntoResponse {
    let body = crate::metrics::handle().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}
