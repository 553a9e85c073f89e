//! One `tracing` span per request: request id, tenant, route, status, latency.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub async fn span(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let request_id =
        request.headers().get(crate::request_id::HEADER).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        route = %route,
        request_id = %request_id,
        tenant_id = tracing::field::Empty,
    );
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status = response.status().as_u16(), latency_ms, "served"));
    response
}
