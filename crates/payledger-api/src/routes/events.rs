//! Auditors' raw history: `GET /v1/events` and `GET /v1/streams/{stream_id}/events`, as JSON
//! pages, or streamed whole as CSV (RFC 4180) or NDJSON.
//!
//! Events are listed in the store's gap-free read order `(tx_id, position)`, and the cursor
//! `starting_after` is an event's position: paging never skips an event that committed late.

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use futures::stream;
use payledger_projector::checkpoint_of_position;
use payledger_store::{read_all, Checkpoint, ReadAllFilter};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use payledger_service::export::{csv_lines, event_json, ndjson_lines, ExportReader};

use crate::auth::Principal;
use crate::error::{describe_store_error, ApiCode, ApiError, ApiResult};
use crate::extract::{PathText, QueryParams};
use crate::state::AppState;

/// Largest page of a JSON listing.
pub const PAGE_MAX: i64 = 100;
/// Events fetched per database round trip while exporting.
const EXPORT_BATCH: i64 = 1_000;
/// Most events one export streams; continue with `starting_after` past this.
const EXPORT_MAX_EVENTS: u64 = 1_000_000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    pub limit: Option<i64>,
    pub starting_after: Option<i64>,
    pub stream_id: Option<String>,
    pub event_type: Option<String>,
    pub recorded_from: Option<DateTime<Utc>>,
    pub recorded_before: Option<DateTime<Utc>>,
    pub format: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Ndjson,
}

fn negotiate(headers: &HeaderMap, format: Option<&str>) -> ApiResult<Format> {
    if let Some(f) = format {
        return match f {
            "json" => Ok(Format::Json),
            "csv" => Ok(Format::Csv),
            "ndjson" => Ok(Format::Ndjson),
            _ => Err(ApiError::invalid_param("format", ApiCode::FormatInvalid, "format is json, csv or ndjson")),
        };
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    Ok(if accept.contains("text/csv") {
        Format::Csv
    } else if accept.contains("application/x-ndjson") {
        Format::Ndjson
    } else {
        Format::Json
    })
}

pub async fn list_events(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    QueryParams(query): QueryParams<EventsQuery>,
) -> ApiResult<Response> {
    let filter = ReadAllFilter {
        tenant_id: Some(principal.tenant_id),
        stream_id: query.stream_id.clone(),
        event_type: query.event_type.clone(),
        recorded_from: query.recorded_from,
        recorded_before: query.recorded_before,
    };
    if query.format.is_none() && crate::live::wants_event_stream(&headers) {
        return live_feed(&state, &principal, &headers, &query, filter).await;
    }
    respond(&state, principal.tenant_id, &headers, &query, filter).await
}

/// The live feed (`Accept: text/event-stream`), from `Last-Event-ID` or else `starting_after`.
async fn live_feed(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    query: &EventsQuery,
    filter: ReadAllFilter,
) -> ApiResult<Response> {
    if query.limit.is_some() {
        return Err(ApiError::invalid_param("limit", ApiCode::LimitInvalid, "a live feed has no limit"));
    }
    let position =
        match headers.get("last-event-id") {
            Some(value) => Some(value.to_str().ok().and_then(|v| v.trim().parse::<i64>().ok()).ok_or_else(|| {
                ApiError::invalid_param("Last-Event-ID", ApiCode::CursorInvalid, "an event position")
            })?),
            None => query.starting_after,
        };
    let after = cursor_checkpoint(state, principal.tenant_id, position).await?;
    let slot = state.live.admit(principal.key_id)?;
    Ok(crate::live::feed::respond(state.pool.clone(), state.live.clone(), slot, filter, after, principal.is_live()))
}

pub async fn list_stream_events(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    PathText(stream_id): PathText,
    QueryParams(query): QueryParams<EventsQuery>,
) -> ApiResult<Response> {
    if query.stream_id.is_some() {
        return Err(ApiError::invalid_param("stream_id", ApiCode::UnknownField, "the stream is given by the path"));
    }
    let filter = ReadAllFilter {
        tenant_id: Some(principal.tenant_id),
        stream_id: Some(stream_id.clone()),
        event_type: query.event_type.clone(),
        recorded_from: query.recorded_from,
        recorded_before: query.recorded_before,
    };
    let client = state.pool.get().await?;
    if !payledger_service::lookup::stream_exists(&**client, principal.tenant_id, &stream_id).await? {
        return Err(ApiError::not_found("stream"));
    }
    drop(client);
    respond(&state, principal.tenant_id, &headers, &query, filter).await
}

async fn respond(
    state: &AppState,
    tenant_id: Uuid,
    headers: &HeaderMap,
    query: &EventsQuery,
    filter: ReadAllFilter,
) -> ApiResult<Response> {
    let format = negotiate(headers, query.format.as_deref())?;
    let after = cursor_checkpoint(state, tenant_id, query.starting_after).await?;
    match format {
        Format::Json => {
            let limit = query.limit.unwrap_or(PAGE_MAX);
            if !(1..=PAGE_MAX).contains(&limit) {
                return Err(ApiError::invalid_param("limit", ApiCode::LimitInvalid, "limit is between 1 and 100"));
            }
            let client = state.pool.get().await?;
            let mut events = read_all(&**client, after, &filter, limit + 1).await?;
            let has_more = events.len() as i64 > limit;
            events.truncate(limit as usize);
            let data: Vec<Value> = events.iter().map(event_json).collect();
            Ok(Json(json!({ "data": data, "has_more": has_more })).into_response())
        }
        Format::Csv | Format::Ndjson => {
            let max_events = match query.limit {
                Some(l) if l >= 1 => (l as u64).min(EXPORT_MAX_EVENTS),
                Some(_) => return Err(ApiError::invalid_param("limit", ApiCode::LimitInvalid, "limit is at least 1")),
                None => EXPORT_MAX_EVENTS,
            };
            Ok(export(state.clone(), filter, after, format, max_events))
        }
    }
}

/// `starting_after` names a position; the read order needs that event's transaction too.
async fn cursor_checkpoint(state: &AppState, tenant_id: Uuid, position: Option<i64>) -> ApiResult<Checkpoint> {
    let Some(position) = position else { return Ok(Checkpoint::START) };
    let client = state.pool.get().await?;
    checkpoint_of_position(&**client, Some(tenant_id), position)
        .await?
        .ok_or_else(|| ApiError::invalid_param("starting_after", ApiCode::CursorInvalid, "no event at that position"))
}

enum ExportState {
    Start { state: AppState, filter: ReadAllFilter, after: Checkpoint, max_events: u64 },
    Reading { state: AppState, reader: ExportReader, first: bool },
    Done,
}

/// Streams the export chunk by chunk (the events, then the seals): memory stays flat
/// whatever the history's size.
fn export(state: AppState, filter: ReadAllFilter, after: Checkpoint, format: Format, max_events: u64) -> Response {
    let start = ExportState::Start { state, filter, after, max_events };
    let body = stream::unfold(start, move |export| async move {
        let (state, mut reader, first) = match export {
            ExportState::Done => return None,
            ExportState::Reading { state, reader, first } => (state, reader, first),
            ExportState::Start { state, filter, after, max_events } => {
                match start_reader(&state, filter, after, max_events).await {
                    Ok(reader) => (state, reader, true),
                    Err(e) => return Some((Err(export_failed(&e)), ExportState::Done)),
                }
            }
        };
        let lines = match state.pool.get().await {
            Ok(client) => reader.next_chunk(&**client).await.map_err(|e| describe_store_error(&e)),
            Err(e) => Err(e.to_string()),
        };
        let lines = match lines {
            Ok(lines) => lines,
            Err(e) => return Some((Err(export_failed(&e)), ExportState::Done)),
        };
        let chunk = match format {
            Format::Csv => csv_lines(&lines, first, reader.livemode()).map_err(std::io::Error::other),
            Format::Ndjson | Format::Json => Ok(ndjson_lines(&lines, reader.livemode())),
        };
        let next =
            if reader.is_done() { ExportState::Done } else { ExportState::Reading { state, reader, first: false } };
        Some((chunk, next))
    });
    let content_type = match format {
        Format::Csv => "text/csv; charset=utf-8",
        Format::Ndjson | Format::Json => "application/x-ndjson",
    };
    let mut response = Body::from_stream(body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn start_reader(
    state: &AppState,
    filter: ReadAllFilter,
    after: Checkpoint,
    max_events: u64,
) -> Result<ExportReader, String> {
    let client = state.pool.get().await.map_err(|e| e.to_string())?;
    ExportReader::start(&**client, filter, after, EXPORT_BATCH, max_events).await.map_err(|e| describe_store_error(&e))
}

/// Headers are gone; all that can be done is to end the body early, loudly in the log.
fn export_failed(error: &str) -> std::io::Error {
    tracing::error!(error = %error, "event export failed mid-stream");
    std::io::Error::other("export failed")
}
