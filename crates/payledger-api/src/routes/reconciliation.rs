//! Daily reconciliation (docs/SETTLEMENT.md): `GET /v1/reconciliation/days` sums each day,
//! provider and currency; `GET /v1/reconciliation/items` lists a day's lines and missing
//! ledger facts, as JSON or (`Accept: text/csv`) CSV.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{Days, NaiveDate, Utc};
use payledger_core::payment::Provider;
use payledger_core::reconciliation::ReconStatus;
use payledger_projector::read::ReadModels;
use payledger_service::reconciliation::{self, Period};
use serde::Deserialize;
use serde_json::json;

use crate::auth::{Principal, RECONCILIATION_ROLES};
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DaysQuery {
    pub provider: Option<String>,
    pub currency: Option<String>,
    /// Inclusive; default 6 days before `to`.
    pub from: Option<NaiveDate>,
    /// Inclusive; default today (UTC).
    pub to: Option<NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemsQuery {
    pub date: NaiveDate,
    pub provider: Option<String>,
    pub currency: Option<String>,
    pub status: Option<String>,
}

pub async fn days(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<DaysQuery>,
) -> ApiResult<Response> {
    principal.require(RECONCILIATION_ROLES)?;
    let to = query.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = query.from.unwrap_or_else(|| to.checked_sub_days(Days::new(6)).unwrap_or(to));
    let period = period(&state, &principal, query.provider.as_deref(), query.currency, from, to)?;
    let items = read_items(&state, &period).await?;
    Ok(Json(json!({ "data": reconciliation::days(&items) })).into_response())
}

pub async fn items(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
    QueryParams(query): QueryParams<ItemsQuery>,
) -> ApiResult<Response> {
    principal.require(RECONCILIATION_ROLES)?;
    let status = query.status.as_deref().map(parse_status).transpose()?;
    let period = period(&state, &principal, query.provider.as_deref(), query.currency, query.date, query.date)?;
    let mut items = read_items(&state, &period).await?;
    items.retain(|item| status.is_none_or(|s| item.status == s));
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("text/csv") {
        let body = reconciliation::items_csv(&items)?;
        return Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response());
    }
    Ok(Json(json!({ "data": items })).into_response())
}

fn period(
    state: &AppState,
    principal: &Principal,
    provider: Option<&str>,
    currency: Option<String>,
    from: NaiveDate,
    to: NaiveDate,
) -> ApiResult<Period> {
    let provider = provider
        .map(|p| p.parse::<Provider>())
        .transpose()
        .map_err(|e| ApiError::invalid_param("provider", ApiCode::InvalidParameter, e.to_string()))?;
    let currency = currency.map(|c| c.to_ascii_uppercase());
    Ok(Period {
        tenant_id: principal.tenant_id,
        provider,
        currency,
        from,
        to,
        lag_days: state.config.reconciliation_lag_days,
    })
}

fn parse_status(text: &str) -> ApiResult<ReconStatus> {
    ReconStatus::parse(text).ok_or_else(|| {
        let names: Vec<&str> = ReconStatus::ALL.iter().map(|s| s.as_str()).collect();
        ApiError::invalid_param("status", ApiCode::InvalidParameter, format!("status is one of {}", names.join(", ")))
    })
}

async fn read_items(state: &AppState, period: &Period) -> ApiResult<Vec<reconciliation::Item>> {
    reconciliation::check_period(period)?;
    let client = state.pool.get().await?;
    let Some(models) = ReadModels::live(&**client).await? else { return Ok(Vec::new()) };
    Ok(reconciliation::items(&**client, models.schema(), period).await?)
}
