//! Commands over HTTP: the request's context for the service's pipeline, and its answer as
//! the HTTP reply (status, body, position and replay headers).

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use payledger_service::aggregate::Aggregate;
use payledger_service::command::{self, Actor, CommandConfig, CommandContext, Executed, Needs, Success};
use payledger_service::ServiceResult;
use payledger_store::StreamKey;
use serde_json::Value;

use crate::auth::Principal;
use crate::error::ApiResult;
use crate::request_id;
use crate::state::AppState;

pub const POSITION_HEADER: &str = "payledger-position";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";

/// The context of one request on `route` (e.g. "POST /v1/orders") with its body's fingerprint.
pub fn context(
    state: &AppState,
    principal: &Principal,
    idempotency_key: Option<String>,
    route: &str,
    body_fingerprint: &[u8; 32],
) -> CommandContext {
    let config = CommandConfig {
        max_attempts: state.config.command_max_attempts,
        stream_lock_timeout_ms: state.config.stream_lock_timeout_ms,
        idempotency_retention: state.config.idempotency_retention,
    };
    CommandContext {
        pool: state.pool.clone(),
        config,
        actor: Actor { tenant_id: principal.tenant_id, key_id: principal.key_id, credential: principal.credential },
        idempotency_key,
        fingerprint: CommandContext::fingerprint(route, body_fingerprint),
        request_id: request_id::current(),
        states: state.states.clone(),
    }
}

/// Runs the command through the service's pipeline and answers over HTTP.
pub async fn execute<A, N, F, R>(
    ctx: CommandContext,
    stream: StreamKey,
    needs: N,
    success: Success,
    make_command: F,
    respond: R,
) -> ApiResult<Response>
where
    A: Aggregate + 'static,
    A::Command: 'static,
    N: Needs,
    F: Fn(&A::State, &N::Loaded) -> ServiceResult<A::Command> + Send + Sync + 'static,
    R: Fn(&A::State, &N::Loaded) -> ServiceResult<Value> + Send + Sync + 'static,
{
    let executed = command::execute::<A, N, F, R>(ctx, stream, needs, success, make_command, respond).await?;
    Ok(reply(executed))
}

fn reply(executed: Executed) -> Response {
    let status = StatusCode::from_u16(executed.status).unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    if let Some(position) = executed.position {
        headers.insert(POSITION_HEADER, HeaderValue::from(position));
    }
    if executed.replayed {
        headers.insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
    }
    (status, headers, Json(executed.body)).into_response()
}
