//! Queries of the live read-models, for the API. Every query is tenant-scoped and bounded.
//!
//! Orders, payments and refunds list newest first (`created_at`, then id, descending); the
//! cursor `starting_after` is the id of the last item of the previous page. Ledger entries
//! list in the journal's order (the log's read order), oldest first, so that a reader paging
//! forward never misses an entry that is booked later. Accounts list by (account, currency).

use chrono::{DateTime, Utc};
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::ProjectorError;
use crate::registry::{live_version, PROJECTION};
use crate::rows::{AccountBalanceRow, DisputeRow, JournalEntryRow, OrderRow, PaymentRow, RefundRow};
use crate::schema::schema_name;

/// Largest page.
pub const PAGE_MAX: i64 = 100;
/// Most refunds, and most disputes, listed inside one payment (each payment has its own
/// bound, so one payment with many refunds does not crowd out the others of a page);
/// `GET /v1/refunds?payment_id=` pages through all of them.
pub const CHILDREN_PER_PAYMENT_MAX: i64 = 1_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_more: bool,
}

/// Filters of the order, payment and refund lists.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    /// 1 to [`PAGE_MAX`] (clamped).
    pub limit: i64,
    pub starting_after: Option<Uuid>,
    pub status: Option<String>,
    pub created_gte: Option<DateTime<Utc>>,
    pub created_lt: Option<DateTime<Utc>>,
    /// Payments of this order; refunds of this payment.
    pub parent_id: Option<Uuid>,
}

#[derive(Debug, Clone, Default)]
pub struct AccountFilter {
    pub limit: i64,
    /// An account id, `{account}:{currency}`.
    pub starting_after: Option<String>,
    pub account: Option<String>,
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EntryFilter {
    pub limit: i64,
    /// An entry id, `je_{position}_{line}`.
    pub starting_after: Option<String>,
    pub account: Option<String>,
    pub currency: Option<String>,
    pub payment_id: Option<Uuid>,
    pub created_gte: Option<DateTime<Utc>>,
    pub created_lt: Option<DateTime<Utc>>,
}

/// The live read-models, as of the moment they were looked up. A swap after that leaves the
/// version readable for [`crate::RETIRED_GRACE_SECONDS`].
#[derive(Debug, Clone)]
pub struct ReadModels {
    schema: String,
}

struct Listed {
    table: &'static str,
    id: &'static str,
    parent: Option<&'static str>,
    columns: &'static str,
}

const ORDERS: Listed = Listed { table: "orders", id: "order_id", parent: None, columns: OrderRow::SELECT_COLUMNS };
const PAYMENTS: Listed =
    Listed { table: "payments", id: "payment_id", parent: Some("order_id"), columns: PaymentRow::COLUMNS };
const REFUNDS: Listed =
    Listed { table: "refunds", id: "refund_id", parent: Some("payment_id"), columns: RefundRow::COLUMNS };

impl ReadModels {
    /// The live version, or `None` before the projector first ran.
    pub async fn live<C: GenericClient>(client: &C) -> Result<Option<ReadModels>, ProjectorError> {
        Ok(live_version(client).await?.map(|version| ReadModels { schema: schema_name(PROJECTION, version) }))
    }

    /// The PostgreSQL schema of this version (for queries of other modules and crates).
    pub fn schema(&self) -> &str {
        &self.schema
    }

    pub async fn order<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<OrderRow>, ProjectorError> {
        let row = self.get(client, &ORDERS, tenant_id, id).await?;
        Ok(row.as_ref().map(OrderRow::from_row).transpose()?)
    }

    pub async fn orders<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        filter: &ListFilter,
    ) -> Result<Page<OrderRow>, ProjectorError> {
        let (rows, has_more) = self.list(client, &ORDERS, tenant_id, filter).await?;
        Ok(Page { items: rows.iter().map(OrderRow::from_row).collect::<Result<_, _>>()?, has_more })
    }

    pub async fn payment<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<PaymentRow>, ProjectorError> {
        let row = self.get(client, &PAYMENTS, tenant_id, id).await?;
        Ok(row.as_ref().map(PaymentRow::from_row).transpose()?)
    }

    pub async fn payments<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        filter: &ListFilter,
    ) -> Result<Page<PaymentRow>, ProjectorError> {
        let (rows, has_more) = self.list(client, &PAYMENTS, tenant_id, filter).await?;
        Ok(Page { items: rows.iter().map(PaymentRow::from_row).collect::<Result<_, _>>()?, has_more })
    }

    pub async fn refund<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<RefundRow>, ProjectorError> {
        let row = self.get(client, &REFUNDS, tenant_id, id).await?;
        Ok(row.as_ref().map(RefundRow::from_row).transpose()?)
    }

    pub async fn refunds<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        filter: &ListFilter,
    ) -> Result<Page<RefundRow>, ProjectorError> {
        let (rows, has_more) = self.list(client, &REFUNDS, tenant_id, filter).await?;
        Ok(Page { items: rows.iter().map(RefundRow::from_row).collect::<Result<_, _>>()?, has_more })
    }

    /// The refunds of these payments, oldest first.
    pub async fn refunds_of<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        payment_ids: &[Uuid],
    ) -> Result<Vec<RefundRow>, ProjectorError> {
        let sql = format!(
            "SELECT c.* FROM unnest($2::uuid[]) AS p(payment_id) CROSS JOIN LATERAL (
                 SELECT {cols} FROM {s}.refunds
                 WHERE tenant_id = $1 AND payment_id = p.payment_id
                 ORDER BY created_at, refund_id LIMIT $3) c
             ORDER BY c.created_at, c.refund_id",
            cols = RefundRow::COLUMNS,
            s = self.schema
        );
        let rows = client.query(&sql, &[&tenant_id, &payment_ids, &CHILDREN_PER_PAYMENT_MAX]).await?;
        Ok(rows.iter().map(RefundRow::from_row).collect::<Result<_, _>>()?)
    }

    /// The disputes of these payments, oldest first.
    pub async fn disputes_of<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        payment_ids: &[Uuid],
    ) -> Result<Vec<DisputeRow>, ProjectorError> {
        let sql = format!(
            "SELECT c.* FROM unnest($2::uuid[]) AS p(payment_id) CROSS JOIN LATERAL (
                 SELECT {cols} FROM {s}.disputes
                 WHERE tenant_id = $1 AND payment_id = p.payment_id
                 ORDER BY created_at, dispute_id LIMIT $3) c
             ORDER BY c.created_at, c.dispute_id",
            cols = DisputeRow::COLUMNS,
            s = self.schema
        );
        let rows = client.query(&sql, &[&tenant_id, &payment_ids, &CHILDREN_PER_PAYMENT_MAX]).await?;
        Ok(rows.iter().map(DisputeRow::from_row).collect::<Result<_, _>>()?)
    }

    pub async fn accounts<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        filter: &AccountFilter,
    ) -> Result<Page<AccountBalanceRow>, ProjectorError> {
        let cursor = match &filter.starting_after {
            Some(id) => {
                let (account, currency) =
                    id.split_once(':').ok_or_else(|| ProjectorError::CursorNotFound(id.clone()))?;
                let sql = format!(
                    "SELECT 1 FROM {}.account_balances WHERE tenant_id = $1 AND account = $2 AND currency = $3",
                    self.schema
                );
                if client.query_opt(&sql, &[&tenant_id, &account, &currency]).await?.is_none() {
                    return Err(ProjectorError::CursorNotFound(id.clone()));
                }
                Some((account.to_owned(), currency.to_owned()))
            }
            None => None,
        };
        let limit = filter.limit.clamp(1, PAGE_MAX);
        let sql = format!(
            "SELECT {cols} FROM {s}.account_balances
             WHERE tenant_id = $1 AND ($2::text IS NULL OR account = $2) AND ($3::text IS NULL OR currency = $3)
               AND ($4::text IS NULL OR (account, currency) > ($4, $5))
             ORDER BY account, currency LIMIT $6",
            cols = AccountBalanceRow::SELECT_COLUMNS,
            s = self.schema
        );
        let (after_account, after_currency) = cursor.unzip();
        let rows = client
            .query(
                &sql,
                &[&tenant_id, &filter.account, &filter.currency, &after_account, &after_currency, &(limit + 1)],
            )
            .await?;
        let has_more = rows.len() as i64 > limit;
        let items = rows.iter().take(limit as usize).map(AccountBalanceRow::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, has_more })
    }

    pub async fn entries<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        filter: &EntryFilter,
    ) -> Result<Page<JournalEntryRow>, ProjectorError> {
        let cursor = match &filter.starting_after {
            Some(id) => {
                let (position, line) =
                    JournalEntryRow::parse_id(id).ok_or_else(|| ProjectorError::CursorNotFound(id.clone()))?;
                let sql = format!(
                    "SELECT event_tx_id FROM {}.journal_entries WHERE tenant_id = $1 AND event_position = $2 AND line = $3",
                    self.schema
                );
                let row = client
                    .query_opt(&sql, &[&tenant_id, &position, &line])
                    .await?
                    .ok_or_else(|| ProjectorError::CursorNotFound(id.clone()))?;
                Some((row.try_get::<_, i64>(0)?, position, line))
            }
            None => None,
        };
        let limit = filter.limit.clamp(1, PAGE_MAX);
        let sql = format!(
            "SELECT {cols} FROM {s}.journal_entries
             WHERE tenant_id = $1 AND ($2::text IS NULL OR account = $2) AND ($3::text IS NULL OR currency = $3)
               AND ($4::uuid IS NULL OR payment_id = $4)
               AND ($5::timestamptz IS NULL OR recorded_at >= $5) AND ($6::timestamptz IS NULL OR recorded_at < $6)
               AND ($7::int8 IS NULL OR (event_tx_id, event_position, line) > ($7, $8, $9))
             ORDER BY event_tx_id, event_position, line LIMIT $10",
            cols = JournalEntryRow::COLUMNS,
            s = self.schema
        );
        let rows = client
            .query(
                &sql,
                &[
                    &tenant_id,
                    &filter.account,
                    &filter.currency,
                    &filter.payment_id,
                    &filter.created_gte,
                    &filter.created_lt,
                    &cursor.map(|c| c.0),
                    &cursor.map(|c| c.1),
                    &cursor.map(|c| c.2),
                    &(limit + 1),
                ],
            )
            .await?;
        let has_more = rows.len() as i64 > limit;
        let items = rows.iter().take(limit as usize).map(JournalEntryRow::from_row).collect::<Result<Vec<_>, _>>()?;
        Ok(Page { items, has_more })
    }

    async fn get<C: GenericClient>(
        &self,
        client: &C,
        listed: &Listed,
        tenant_id: Uuid,
        id: Uuid,
    ) -> Result<Option<tokio_postgres::Row>, ProjectorError> {
        let sql = format!(
            "SELECT {cols} FROM {s}.{t} WHERE tenant_id = $1 AND {id} = $2",
            cols = listed.columns,
            s = self.schema,
            t = listed.table,
            id = listed.id
        );
        Ok(client.query_opt(&sql, &[&tenant_id, &id]).await?)
    }

    async fn list<C: GenericClient>(
        &self,
        client: &C,
        listed: &Listed,
        tenant_id: Uuid,
        filter: &ListFilter,
    ) -> Result<(Vec<tokio_postgres::Row>, bool), ProjectorError> {
        let (s, t, id) = (&self.schema, listed.table, listed.id);
        let cursor: Option<DateTime<Utc>> = match filter.starting_after {
            Some(after) => {
                let sql = format!("SELECT created_at FROM {s}.{t} WHERE tenant_id = $1 AND {id} = $2");
                let row = client
                    .query_opt(&sql, &[&tenant_id, &after])
                    .await?
                    .ok_or_else(|| ProjectorError::CursorNotFound(after.to_string()))?;
                Some(row.try_get(0)?)
            }
            None => None,
        };
        let parent = match listed.parent {
            Some(column) => format!("($5::uuid IS NULL OR {column} = $5)"),
            None => "$5::uuid IS NULL".to_owned(),
        };
        let limit = filter.limit.clamp(1, PAGE_MAX);
        let sql = format!(
            "SELECT {cols} FROM {s}.{t}
             WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2)
               AND ($3::timestamptz IS NULL OR created_at >= $3) AND ($4::timestamptz IS NULL OR created_at < $4)
               AND {parent}
               AND ($6::timestamptz IS NULL OR (created_at, {id}) < ($6, $7))
             ORDER BY created_at DESC, {id} DESC LIMIT $8",
            cols = listed.columns
        );
        let rows = client
            .query(
                &sql,
                &[
                    &tenant_id,
                    &filter.status,
                    &filter.created_gte,
                    &filter.created_lt,
                    &filter.parent_id,
                    &cursor,
                    &filter.starting_after,
                    &(limit + 1),
                ],
            )
            .await?;
        let has_more = rows.len() as i64 > limit;
        let mut rows = rows;
        rows.truncate(limit as usize);
        Ok((rows, has_more))
    }
}
