//! `GET /v1/seals`: the seals over the read order, oldest first, each with the calling
//! tenant's part (docs/AUDIT.md §3). Seals are global; a tenant sees only its own leaf.

use axum::extract::State;
use axum::Json;
use payledger_service::export::export_seal_json;
use payledger_store::seal::tenant_seals;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::auth::Principal;
use crate::error::{ApiCode, ApiError, ApiResult};
use crate::extract::QueryParams;
use crate::state::AppState;

/// Largest page of seals.
pub const SEALS_PAGE_MAX: i64 = 100;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealsQuery {
    pub limit: Option<i64>,
    /// A seal number: the page starts after it.
    pub starting_after: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    principal: Principal,
    QueryParams(query): QueryParams<SealsQuery>,
) -> ApiResult<Json<Value>> {
    let limit = query.limit.unwrap_or(SEALS_PAGE_MAX);
    if !(1..=SEALS_PAGE_MAX).contains(&limit) {
        return Err(ApiError::invalid_param("limit", ApiCode::LimitInvalid, "limit is between 1 and 100"));
    }
    let after = query.starting_after.unwrap_or(0);
    if after < 0 {
        return Err(ApiError::invalid_param("starting_after", ApiCode::CursorInvalid, "a seal number is at least 0"));
    }
    let client = state.pool.get().await?;
    let mut seals = tenant_seals(&**client, principal.tenant_id, after, i64::MAX, limit + 1).await?;
    let has_more = seals.len() as i64 > limit;
    seals.truncate(limit as usize);
    let data: Vec<Value> = seals.iter().map(export_seal_json).collect();
    Ok(Json(json!({ "data": data, "has_more": has_more })))
}
