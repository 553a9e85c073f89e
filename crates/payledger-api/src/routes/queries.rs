//! Read-model queries: `GET /v1/orders`, `/v1/payments`, `/v1/refunds` (lists and single
//! items), `/v1/ledger/accounts` and `/v1/ledger/entries`.
//!
//! Every query is tenant-scoped (another tenant's id is a 404). Lists answer
//! `{"data": [...], "has_more": bool}` with `limit` (1 to 100, default 10) and
//! `starting_after` (the last item's id); orders, payments and refunds filter on `status`
//! and creation time (`created_gte`, `created_lt`) and come newest first; ledger entries
//! come in booking order. Any GET takes `min_position` (a `position` returned by a command):
//! it waits, up to `read_your_writes_timeout_ms`, until the read-models include that event,
//! and answers 503 `read_models_behind` (with `Retry-After`) if they do not in time.

use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, NaiveDate, Utc};
use payledger_core::order::OrderReadStatus;
use payledger_core::payment::{PaymentStatus, RefundStatus};
use payledger_core::PaymentId;
use payledger_projector::read::{AccountFilter, EntryFilter, ListFilter, Page, ReadModels, PAGE_MAX};
use payledger_projector::{
    checkpoint_of_position, payment_rows, wait_for_checkpoint, PaymentRow, WaitOutcome, WideMinor,
};
use payledger_service::aggregate::{load_as_of, PaymentAggregate};
use payledger_store::StreamKey;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::PathId;
use crate::state::AppState;
use crate::views::{to_json, LedgerAccountView, LedgerEntryView, List, OrderView, PaymentView, RefundView};

/// Page size when `limit` is not given.
const PAGE_DEFAULT: i64 = 10;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GetQuery {
    min_position: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PaymentQuery {
    min_position: Option<i64>,
    /// The payment as its events recorded up to then had made it.
    as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrialBalanceQuery {
    date: NaiveDate,
    min_position: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<i64>,
    starting_after: Option<Uuid>,
    status: Option<String>,
    created_gte: Option<DateTime<Utc>>,
    created_lt: Option<DateTime<Utc>>,
    min_position: Option<i64>,
    /// Payments only.
    order_id: Option<Uuid>,
    /// Refunds only.
    payment_id: Option<Uuid>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountsQuery {
    limit: Option<i64>,
    starting_after: Option<String>,
    account: Option<String>,
    currency: Option<String>,
    min_position: Option<i64>,
    /// Balances from the entries recorded up to then.
    as_of: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntriesQuery {
    limit: Option<i64>,
    starting_after: Option<String>,
    account: Option<String>,
    currency: Option<String>,
    payment_id: Option<Uuid>,
    created_gte: Option<DateTime<Utc>>,
    created_lt: Option<DateTime<Utc>>,
    min_position: Option<i64>,
}

pub async fn get_order(State(state): State<AppState>, principal: Principal, PathId(id): PathId, uri: Uri) -> Response {
    respond(async {
        let query: GetQuery = parse_query(&uri)?;
        let Some((client, models)) = open(&state, &principal, query.min_position).await? else {
            return Err(ApiError::not_found("order"));
        };
        let order = models.order(&**client, principal.tenant_id, id).await?;
        let order = order.ok_or_else(|| ApiError::not_found("order"))?;
        Ok(to_json(OrderView::from(&order))?)
    })
    .await
}

pub async fn list_orders(State(state): State<AppState>, principal: Principal, uri: Uri) -> Response {
    respond(async {
        let query: ListQuery = parse_query(&uri)?;
        refuse(query.order_id.is_some(), "order_id")?;
        refuse(query.payment_id.is_some(), "payment_id")?;
        let statuses: Vec<&str> = OrderReadStatus::ALL.iter().map(|s| s.as_str()).collect();
        let filter = list_filter(&query, &statuses, None)?;
        let Some((client, models)) = open(&state, &principal, query.min_position).await? else {
            return empty_list();
        };
        let page = models.orders(&**client, principal.tenant_id, &filter).await?;
        list_json::<OrderView, _>(page)
    })
    .await
}

pub async fn get_payment(
    State(state): State<AppState>,
    principal: Principal,
    PathId(id): PathId,
    uri: Uri,
) -> Response {
    respond(async {
        let query: PaymentQuery = parse_query(&uri)?;
        if let Some(as_of) = query.as_of {
            return payment_as_of(&state, &principal, id, query.min_position, as_of).await;
        }
        let Some((client, models)) = open(&state, &principal, query.min_position).await? else {
            return Err(ApiError::not_found("payment"));
        };
        let Some(payment) = models.payment(&**client, principal.tenant_id, id).await? else {
            return Err(ApiError::not_found("payment"));
        };
        let mut views = with_children(&models, &**client, principal.tenant_id, vec![payment]).await?;
        let view = views.pop().ok_or_else(|| ApiError::internal("payment vanished"))?;
        Ok(to_json(view)?)
    })
    .await
}

pub async fn list_payments(State(state): State<AppState>, principal: Principal, uri: Uri) -> Response {
    respond(async {
        let query: ListQuery = parse_query(&uri)?;
        refuse(query.payment_id.is_some(), "payment_id")?;
        let statuses: Vec<&str> = PaymentStatus::ALL.iter().map(|s| s.as_str()).collect();
        let filter = list_filter(&query, &statuses, query.order_id)?;
        let Some((client, models)) = open(&state, &principal, query.min_position).await? else {
            return empty_list();
        };
        let page = models.payments(&**client, principal.tenant_id, &filter).await?;
        let data = with_children(&models, &**client, principal.tenant_id, page.items).await?;
        Ok(to_json(List { data, has_more: page.has_more })?)
    })
    .await
}

pub async fn get_refund(State(state): State<AppState>, principal: Principal, PathId(id): PathId, uri: Uri) -> Response {
    respond(async {
        let query: GetQuery = parse_query(&uri)?;
        let Some((client, models)) = open(&state, &principal, query.min_position).await? else {
            return Err(ApiError::not_found("refund"));
        };
        let refund = models.refund(&**client, principal.tenant_id, id).await?;
        let refund = refund.ok_or_else(|| ApiError::not_found("refund"))?;
        Ok(to_json(RefundView::from(&refund))?)
    })
    .await
}

pub async fn list_refunds(State(state): State<AppState>, principal: Principal, uri: Uri) -> Response {
    respond(async {
        let query: ListQuery = parse_query(&uri)?;
        refuse(query.order_id.is_some(), "order_id")?;
        let statuses = RefundStatus::ALL.map(|s| s.as_str());
        let filter = list_filter(&query, &statuses, query.payment_id)?;
        let Some((client, models)) = open(&state, &principal, query.min_position).await? else {
            return empty_list();
        };
        let page = models.refunds(&**client, principal.tenant_id, &filter).await?;
        list_json::<RefundView, _>(page)
    })
    .await
}

pub async fn list_ledger_accounts(State(state): State<AppState>, principal: Principal, uri: Uri) -> Response {
    respond(async {
        let query: AccountsQuery = parse_query(&uri)?;
        let filter = AccountFilter {
            limit: limit(query.limit)?,
            starting_after: query.starting_after,
            account: query.account,
            currency: query.currency,
        };
        let Some((client, models)) = open(&state, &principal, query.min_position).await? else {
            return empty_list();
        };
        let page = match query.as_of {
            Some(as_of) => models.accounts_as_of(&**client, principal.tenant_id, &filter, as_of).await?,
            None => models.accounts(&**client, principal.tenant_id, &filter).await?,
        };
        list_json::<LedgerAccountView, _>(page)
    })
    .await
}

pub async fn list_ledger_entries(State(state): State<AppState>, principal: Principal, uri: Uri) -> Response {
    respond(async {
        let query: EntriesQuery = parse_query(&uri)?;
        let filter = EntryFilter {
            limit: limit(query.limit)?,
            starting_after: query.starting_after,
            account: query.account,
            currency: query.currency,
            payment_id: query.payment_id,
            created_gte: query.created_gte,
            created_lt: query.created_lt,
        };
        let Some((client, models)) = open(&state, &principal, query.min_position).await? else {
            return empty_list();
        };
        let page = models.entries(&**client, principal.tenant_id, &filter).await?;
        list_json::<LedgerEntryView, _>(page)
    })
    .await
}

/// The payment folded from its events recorded up to `as_of` (404 if it did not exist yet).
async fn payment_as_of(
    state: &AppState,
    principal: &Principal,
    id: Uuid,
    min_position: Option<i64>,
    as_of: DateTime<Utc>,
) -> ApiResult<Value> {
    if let Some(position) = min_position {
        read_your_writes(state, principal.tenant_id, position).await?;
    }
    let client = state.pool.get().await?;
    let stream = StreamKey::new(principal.tenant_id, PaymentId::from(id).stream_id());
    let (payment, version) = load_as_of::<PaymentAggregate, _>(&**client, &stream, as_of).await?;
    let payment = payment.ok_or_else(|| ApiError::not_found("payment"))?;
    let (row, refunds, disputes) = payment_rows(principal.tenant_id, &payment, version);
    Ok(to_json(PaymentView::from_rows(&row, &refunds, &disputes))?)
}

/// `GET /v1/ledger/trial-balance?date=`: per account and currency, the opening balance, the
/// day's debits and credits and the closing balance (days in the tenant's time zone), with
/// each currency's totals (debits equal credits in a balanced journal).
pub async fn trial_balance(State(state): State<AppState>, principal: Principal, uri: Uri) -> Response {
    respond(async {
        let query: TrialBalanceQuery = parse_query(&uri)?;
        let Some((client, models)) = open(&state, &principal, query.min_position).await? else {
            let client = state.pool.get().await?;
            let time_zone = payledger_service::tenants::time_zone(&**client, principal.tenant_id).await?;
            return Ok(json!({ "date": query.date, "time_zone": time_zone, "data": [], "totals": [] }));
        };
        let time_zone = payledger_service::tenants::time_zone(&**client, principal.tenant_id).await?;
        let rows = models.trial_balance(&**client, principal.tenant_id, query.date, &time_zone).await?;
        let mut totals: std::collections::BTreeMap<&str, (i128, i128)> = Default::default();
        for row in &rows {
            let total = totals.entry(row.currency.as_str()).or_default();
            total.0 += row.debit_minor.get();
            total.1 += row.credit_minor.get();
        }
        let totals: Vec<Value> = totals
            .into_iter()
            .map(|(currency, (debit, credit))| {
                json!({ "currency": currency, "debit_minor": WideMinor(debit), "credit_minor": WideMinor(credit) })
            })
            .collect();
        Ok(json!({ "date": query.date, "time_zone": time_zone, "data": rows, "totals": totals }))
    })
    .await
}

/// Runs a handler body; a `read_models_behind` error gets a `Retry-After`.
async fn respond(body: impl std::future::Future<Output = ApiResult<Value>>) -> Response {
    match body.await {
        Ok(value) => Json(value).into_response(),
        Err(err) => {
            let retry = err.code == ApiCode::ReadModelsBehind.as_str();
            let mut response = err.into_response();
            if retry {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            response
        }
    }
}

/// Waits for `min_position`, and opens the live read-models (`None` before
/// the projector first ran: nothing to show yet).
async fn open(
    state: &AppState,
    principal: &Principal,
    min_position: Option<i64>,
) -> ApiResult<Option<(deadpool_postgres::Object, ReadModels)>> {
    if let Some(position) = min_position {
        read_your_writes(state, principal.tenant_id, position).await?;
    }
    let client = state.pool.get().await?;
    let models = ReadModels::live(&**client).await?;
    Ok(models.map(|models| (client, models)))
}

/// Waits until the read-models include this tenant's event at `position`.
pub(crate) async fn read_your_writes(state: &AppState, tenant_id: Uuid, position: i64) -> ApiResult<()> {
    let target = {
        let client = state.pool.get().await?;
        checkpoint_of_position(&**client, Some(tenant_id), position).await?
    };
    let target = target.ok_or_else(|| {
        ApiError::invalid_param(
            "min_position",
            ApiCode::PositionUnknown,
            format!("no event of yours at position {position}"),
        )
    })?;
    let timeout = Duration::from_millis(state.config.read_your_writes_timeout_ms);
    match wait_for_checkpoint(&state.pool, target, timeout).await? {
        WaitOutcome::Reached { .. } => Ok(()),
        WaitOutcome::TimedOut { .. } => Err(ApiError::of(
            ApiCode::ReadModelsBehind,
            format!(
                "the read-models have not reached position {position} within {} ms; retry shortly",
                timeout.as_millis()
            ),
        )
        .with_param("min_position")),
    }
}

/// Projector errors as HTTP, in one place for the query and projection routes.
/// Query strings are parsed strictly; errors come in the API's format.
fn parse_query<T: DeserializeOwned>(uri: &Uri) -> ApiResult<T> {
    crate::query::parse(uri.query())
}

fn refuse(present: bool, param: &str) -> ApiResult<()> {
    if present {
        return Err(ApiError::invalid_param(
            param,
            ApiCode::UnknownField,
            format!("{param} is not a filter of this list"),
        ));
    }
    Ok(())
}

fn limit(limit: Option<i64>) -> ApiResult<i64> {
    let limit = limit.unwrap_or(PAGE_DEFAULT);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid_param(
            "limit",
            ApiCode::LimitInvalid,
            format!("limit is between 1 and {PAGE_MAX}"),
        ));
    }
    Ok(limit)
}

fn list_filter(query: &ListQuery, statuses: &[&str], parent_id: Option<Uuid>) -> ApiResult<ListFilter> {
    if let Some(status) = &query.status {
        if !statuses.contains(&status.as_str()) {
            return Err(ApiError::invalid_param(
                "status",
                ApiCode::StatusInvalid,
                format!("status is one of {}", statuses.join(", ")),
            ));
        }
    }
    Ok(ListFilter {
        limit: limit(query.limit)?,
        starting_after: query.starting_after,
        status: query.status.clone(),
        created_gte: query.created_gte,
        created_lt: query.created_lt,
        parent_id,
    })
}

fn empty_list() -> ApiResult<Value> {
    Ok(to_json(List::<Value> { data: Vec::new(), has_more: false })?)
}

/// A page of rows, each shown as its view `V`.
fn list_json<V, T>(page: Page<T>) -> ApiResult<Value>
where
    V: for<'a> From<&'a T> + Serialize,
{
    Ok(to_json(List { data: page.items.iter().map(V::from).collect::<Vec<V>>(), has_more: page.has_more })?)
}

/// Payments with their refunds and disputes (two queries for the whole page).
async fn with_children<C: tokio_postgres::GenericClient>(
    models: &ReadModels,
    client: &C,
    tenant_id: Uuid,
    payments: Vec<PaymentRow>,
) -> ApiResult<Vec<PaymentView>> {
    let ids: Vec<Uuid> = payments.iter().map(|p| p.payment_id).collect();
    let refunds = models.refunds_of(client, tenant_id, &ids).await?;
    let disputes = models.disputes_of(client, tenant_id, &ids).await?;
    Ok(payments.iter().map(|p| PaymentView::from_rows(p, &refunds, &disputes)).collect())
}
