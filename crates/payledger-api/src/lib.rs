//! The payledger HTTP server.

use axum::routing::get;
use axum::Router;

/// The router. Grows with the API issue.
pub fn router() -> Router {
    Router::new().route("/healthz", get(|| async { "ok" }))
}
