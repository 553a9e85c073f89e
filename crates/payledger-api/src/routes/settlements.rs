//! Settlement reports (docs/SETTLEMENT.md): `POST /v1/settlement-reports?provider=` (finance,
//! admin) takes the gateway's CSV, at most `settlement_max_bytes`; `GET` lists them, shows
//! one, its lines (paged by line number) and its file byte for byte (auditor, finance, admin).

use axum::body::Body;
use axum::extract::State;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use payledger_core::payment::Provider;
use payledger_core::SettlementReportId;
use payledger_service::settlement::{self, Origin, LINES_PAGE_MAX};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{Principal, Role};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::{PathId, QueryParams};
use crate::state::AppState;
use crate::views::settlement::{SettlementLineView, SettlementReportView};
use crate::views::{to_json, List};

/// Who may import a report.
pub const IMPORT_ROLES: &[Role] = &[Role::Finance, Role::Admin];
/// Page size when `limit` is not given.
const PAGE_DEFAULT: i64 = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    provider: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportsQuery {
    limit: Option<i64>,
    starting_after: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinesQuery {
    limit: Option<i64>,
    /// A line number.
    starting_after: Option<u32>,
}

pub async fn import(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ImportQuery>,
    headers: HeaderMap,
    body: Body,
) -> ApiResult<Response> {
    let provider: Provider = query.provider.parse().map_err(|e: payledger_core::payment::UnknownProvider| {
        ApiError::invalid_param("provider", ApiCode::ProviderInvalid, e.to_string())
    })?;
    if !is_csv(headers.get(CONTENT_TYPE)) {
        return Err(ApiError::of(ApiCode::UnsupportedMediaType, "a settlement report must be sent as text/csv"));
    }
    let bytes = read_body(body, &headers, state.config.settlement_max_bytes).await?;
    if bytes.len() > state.config.settlement_job_min_bytes {
        let params = serde_json::json!({ "provider": provider.as_str(), "size_bytes": bytes.len() });
        let kind = payledger_core::job::JobKind::SettlementImport;
        return crate::routes::jobs::accept(&state, &principal, kind, params, Some(bytes.to_vec())).await;
    }
    let origin = Origin { source: "api", actor: principal.actor_name(), request_id: crate::request_id::current() };
    let imported = settlement::import(&state.pool, principal.tenant_id, provider, &bytes, &origin).await?;
    let status = if imported.duplicate { StatusCode::OK } else { StatusCode::CREATED };
    let view = to_json(SettlementReportView::new(&imported.report, imported.duplicate))?;
    Ok((status, Json(view)).into_response())
}

fn is_csv(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else { return false };
    value.split(';').next().unwrap_or("").trim().eq_ignore_ascii_case("text/csv")
}

/// The body, refused with 413 past `limit_bytes` (at once when its declared length says so).
async fn read_body(body: Body, headers: &HeaderMap, limit_bytes: usize) -> ApiResult<axum::body::Bytes> {
    let too_large =
        || ApiError::of(ApiCode::BodyTooLarge, format!("settlement reports are limited to {limit_bytes} bytes"));
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit_bytes as u64) {
        return Err(too_large());
    }
    axum::body::to_bytes(body, limit_bytes).await.map_err(|e| {
        if e.into_inner().is::<http_body_util::LengthLimitError>() {
            too_large()
        } else {
            ApiError::of(ApiCode::BodyIncomplete, "the request body ended before it was complete")
        }
    })
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<ReportsQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = page_limit(query.limit)?;
    let client = state.pool.get().await?;
    let after = query.starting_after.map(SettlementReportId::from);
    let page = settlement::list_reports(&**client, principal.tenant_id, limit, after).await?;
    let data: Vec<SettlementReportView> = page.items.iter().map(SettlementReportView::from).collect();
    Ok(Json(to_json(List { data, has_more: page.has_more })?))
}

pub async fn get(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
) -> ApiResult<Json<serde_json::Value>> {
    let client = state.pool.get().await?;
    let report = settlement::get_report(&**client, principal.tenant_id, id.into()).await?;
    let report = report.ok_or_else(|| ApiError::not_found("settlement report"))?;
    Ok(Json(to_json(SettlementReportView::from(&report))?))
}

pub async fn lines(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    QueryParams(query): QueryParams<LinesQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let limit = page_limit(query.limit)?;
    let client = state.pool.get().await?;
    let page = settlement::report_lines(&**client, principal.tenant_id, id.into(), limit, query.starting_after).await?;
    let page = page.ok_or_else(|| ApiError::not_found("settlement report"))?;
    let data: Vec<SettlementLineView> = page.items.iter().map(SettlementLineView::from).collect();
    Ok(Json(to_json(List { data, has_more: page.has_more })?))
}

/// The file as received; its ETag is its SHA-256.
pub async fn file(State(state): State<AppState>, principal: Principal, PathId(id): PathId) -> ApiResult<Response> {
    let client = state.pool.get().await?;
    let found = settlement::report_file(&**client, principal.tenant_id, id.into()).await?;
    let (report, bytes) = found.ok_or_else(|| ApiError::not_found("settlement report"))?;
    let etag = HeaderValue::from_str(&format!("\"{}\"", report.sha256)).map_err(ApiError::internal)?;
    let headers = [(CONTENT_TYPE, HeaderValue::from_static("text/csv")), (ETAG, etag)];
    Ok((headers, bytes).into_response())
}

fn page_limit(limit: Option<i64>) -> ApiResult<i64> {
    let limit = limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=LINES_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid_param(
            "limit",
            ApiCode::LimitInvalid,
            format!("limit is between 1 and {LINES_PAGE_MAX}"),
        ));
    }
    Ok(limit)
}
