//! The payledger HTTP server (axum): routes, auth, idempotency, errors.
//!
//! Handlers are thin: they parse the request into domain types, check the caller's role,
//! and run a command through `payledger_service::command::execute` or a query. Every error becomes HTTP in
//! one place, [`error::ApiError`].

mod auth;
mod client_ip;
mod command;
pub mod error;
mod extract;
pub mod live;
mod livemode;
mod metrics;
pub mod openapi;
mod params;
mod query;
pub mod rate_limit;
mod request_id;
mod routes;
mod state;
mod strict_json;
mod trace;
mod views;
mod webhooks;

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use tower::ServiceBuilder;

use crate::error::{ApiCode, ApiError};
pub use crate::live::LiveConfig;
pub use crate::state::{
    ApiConfig, AppState, RATE_LIMIT_BURST_DEFAULT, RATE_LIMIT_PER_S_DEFAULT, SETTLEMENT_JOB_MIN_BYTES_DEFAULT,
    SETTLEMENT_MAX_BYTES_DEFAULT, WEBHOOK_RATE_LIMIT_BURST_DEFAULT, WEBHOOK_RATE_LIMIT_PER_S_DEFAULT,
};

/// Every route of the API, grouped by the roles admitted (checked before a handler runs).
pub fn router(state: AppState) -> Router {
    use auth::{ADMIN_ROLES, COMMAND_ROLES, EVENT_READ_ROLES, PROJECTION_ROLES, READ_MODEL_ROLES};
    use routes::*;
    let config = state.config.clone();
    let roles = |roles: &'static [auth::Role]| axum::middleware::from_fn_with_state((state.clone(), roles), auth::gate);
    let commands = Router::new()
        .route("/v1/orders", post(orders::create))
        .route("/v1/orders/{id}/cancel", post(orders::cancel))
        .route("/v1/payments", post(payments::create))
        .route("/v1/payments/{id}/authorize", post(payments::authorize))
        .route("/v1/payments/{id}/capture", post(payments::capture))
        .route("/v1/payments/{id}/void", post(payments::void))
        .route("/v1/payments/{id}/fail", post(payments::fail))
        .route("/v1/payments/{id}/refunds", post(refunds::create))
        .route("/v1/refunds/{id}/succeed", post(refunds::succeed))
        .route("/v1/refunds/{id}/fail", post(refunds::fail))
        .route("/v1/payments/{id}/disputes", post(disputes::open))
        .route("/v1/disputes/{id}/resolve", post(disputes::resolve))
        .route_layer(roles(COMMAND_ROLES));
    let read_models = Router::new()
        .route("/v1/orders", get(queries::list_orders))
        .route("/v1/orders/{id}", get(queries::get_order))
        .route("/v1/payments", get(queries::list_payments))
        .route("/v1/payments/{id}", get(queries::get_payment))
        .route("/v1/refunds", get(queries::list_refunds))
        .route("/v1/refunds/{id}", get(queries::get_refund))
        .route("/v1/ledger/accounts", get(queries::list_ledger_accounts))
        .route("/v1/ledger/entries", get(queries::list_ledger_entries))
        .route("/v1/ledger/trial-balance", get(queries::trial_balance))
        .route("/v1/reconciliation/days", get(reconciliation::days))
        .route("/v1/reconciliation/items", get(reconciliation::items))
        .route_layer(roles(READ_MODEL_ROLES));
    let settlements = Router::new()
        .route("/v1/settlement-reports", post(settlements::import))
        .route_layer(roles(settlements::IMPORT_ROLES))
        .merge(
            Router::new()
                .route("/v1/settlement-reports", get(settlements::list))
                .route("/v1/settlement-reports/{id}", get(settlements::get))
                .route("/v1/settlement-reports/{id}/lines", get(settlements::lines))
                .route("/v1/settlement-reports/{id}/file", get(settlements::file))
                .route_layer(roles(EVENT_READ_ROLES)),
        );
    let job_routes = Router::new()
        .route("/v1/jobs", get(jobs::list))
        .route("/v1/jobs/{id}", get(jobs::get))
        .route_layer(roles(jobs::JOB_READ_ROLES));
    let job_cancel =
        Router::new().route("/v1/jobs/{id}/cancel", post(jobs::cancel)).route_layer(roles(jobs::JOB_CANCEL_ROLES));
    let events = Router::new()
        .route("/v1/events", get(events::list_events))
        .route("/v1/streams/{stream_id}/events", get(events::list_stream_events))
        .route("/v1/seals", get(seals::list))
        .route_layer(roles(EVENT_READ_ROLES));
    let projections = Router::new()
        .route("/v1/projections", get(projections::list))
        .route("/v1/projections/rebuild", post(projections::rebuild))
        .route("/v1/projections/verify", post(projections::verify))
        .route_layer(roles(PROJECTION_ROLES));
    let admin = Router::new()
        .route("/v1/admin/webhook-endpoints", post(webhook_endpoints::create).get(webhook_endpoints::list))
        .route("/v1/admin/webhook-endpoints/{id}/secrets", post(webhook_endpoints::add_secret))
        .route("/v1/admin/webhook-endpoints/{id}/reprocess", post(webhook_endpoints::reprocess))
        .route("/v1/admin/webhook-endpoints/{id}/secrets/{secret_id}/retire", post(webhook_endpoints::retire_secret))
        .route("/v1/admin/keys", post(admin::create_key).get(admin::list_keys))
        .route("/v1/admin/keys/{id}/revoke", post(admin::revoke_key))
        .route("/v1/admin/keys/{id}/roll", post(admin::roll_key))
        .route("/v1/admin/keys/{id}/rate-limit", post(admin::set_rate_limit))
        .route("/v1/admin/keys/{id}/allowed-ips", post(admin::set_allowed_ips))
        .route_layer(roles(ADMIN_ROLES));
    // The webhook route is public too; it is added below, outside the overload layer.
    let public = Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(crate::openapi::serve))
        .route("/v1/oauth/token", post(oauth::token));
    let api = Router::new()
        .merge(public)
        .merge(commands)
        .merge(read_models)
        .merge(events)
        .merge(settlements)
        .merge(projections)
        .merge(job_routes)
        .merge(job_cancel)
        .merge(admin)
        .fallback(not_found);

    // Applied to each route on its own (axum layers every route separately).
    let overload = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .load_shed()
        .concurrency_limit(config.max_in_flight_requests)
        .timeout(Duration::from_millis(config.request_timeout_ms));
    // Webhook deliveries come from anyone: they are bounded per endpoint instead
    // (crate::webhooks::admission), so a flood cannot fill a limit genuine deliveries need.
    let hook_timeout = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(overloaded))
        .timeout(Duration::from_millis(config.request_timeout_ms));
    let hooks = webhooks::WebhookState::new(&state);

    api.layer(overload)
        .route("/v1/webhooks/{provider}/{endpoint_id}", post(webhooks::receive).layer(hook_timeout).with_state(hooks))
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn(metrics::track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn(extract::head_limits))
        .layer(axum::middleware::from_fn(trace::span))
        .layer(axum::middleware::from_fn(error::shape_stray_errors))
        .layer(axum::middleware::from_fn(request_id::middleware))
}

async fn not_found() -> ApiError {
    ApiError::of(ApiCode::RouteNotFound, "no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::of(ApiCode::MethodNotAllowed, "method not allowed on this route")
}

async fn overloaded(err: tower::BoxError) -> ApiError {
    if err.is::<tower::timeout::error::Elapsed>() {
        ApiError::of(ApiCode::Timeout, "the request took too long; a command may still complete: retry with the same Idempotency-Key to learn its outcome")
    } else if err.is::<tower::load_shed::error::Overloaded>() {
        ApiError::overloaded("too many requests in flight; retry shortly")
    } else {
        ApiError::internal(err)
    }
}

fn panicked(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    // The panic text stays in the log (the panic hook prints it); the client gets no detail.
    ApiError::internal("handler panicked").into_response()
}

/// Serves until `shutdown` resolves, then finishes in-flight requests.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _ = metrics::handle();
    let live = state.live.clone();
    let (begun_tx, begun_rx) = tokio::sync::oneshot::channel::<()>();
    // Live streams never end by themselves: end them first, so the graceful shutdown can.
    let shutdown = async move {
        shutdown.await;
        live.close();
        let _ = begun_tx.send(());
    };
    // The peer's address is what an API key's allow-list is checked against.
    let app = router(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let server = axum::serve(listener, app).with_graceful_shutdown(shutdown);
    let server = std::future::IntoFuture::into_future(server);
    let mut server = std::pin::pin!(server);
    // A client that stopped reading holds its connection (and the stream's last frame)
    // forever: after the grace, the process stops without it.
    let grace_over = async move {
        if begun_rx.await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(Duration::from_millis(SHUTDOWN_GRACE_MS)).await;
    };
    tokio::select! {
        served = &mut server => served,
        () = grace_over => {
            tracing::warn!(grace_ms = SHUTDOWN_GRACE_MS, "connections still open after the shutdown grace; stopping without them");
            Ok(())
        }
    }
}

/// How long a shutdown waits for open connections to finish.
pub const SHUTDOWN_GRACE_MS: u64 = 10_000;
