//! The books as of a moment, summed from the journal: account balances up to a time, and the
//! trial balance of a day. The journal is append-only and every entry carries the time its
//! event was recorded, so any past moment is one aggregate query away.

use std::str::FromStr;

use chrono::{DateTime, NaiveDate, Utc};
use payledger_core::ledger::{Account, Side};
use serde::Serialize;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use crate::error::ProjectorError;
use crate::read::{AccountFilter, Page, ReadModels, PAGE_MAX};
use crate::rows::{account_type_str, side_str, AccountBalanceRow, WideMinor};

/// One account and currency of a day's trial balance, on the account's normal side.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialBalanceRow {
    pub account: String,
    pub currency: String,
    pub account_type: String,
    pub normal_side: String,
    pub opening_minor: WideMinor,
    pub debit_minor: WideMinor,
    pub credit_minor: WideMinor,
    pub closing_minor: WideMinor,
}

impl ReadModels {
    /// Balances from the journal entries recorded at or before `as_of`, paged like
    /// [`ReadModels::accounts`].
    pub async fn accounts_as_of<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        filter: &AccountFilter,
        as_of: DateTime<Utc>,
    ) -> Result<Page<AccountBalanceRow>, ProjectorError> {
        let limit = filter.limit.clamp(1, PAGE_MAX);
        let (after_account, after_currency) = match &filter.starting_after {
            Some(id) => {
                let (account, currency) =
                    id.split_once(':').ok_or_else(|| ProjectorError::CursorNotFound(id.clone()))?;
                (Some(account.to_owned()), Some(currency.to_owned()))
            }
            None => (None, None),
        };
        let sql = format!(
            "SELECT account, currency,
                    coalesce(sum(amount_minor) FILTER (WHERE side = 'debit'), 0)::text,
                    coalesce(sum(amount_minor) FILTER (WHERE side = 'credit'), 0)::text, count(*)
             FROM {s}.journal_entries
             WHERE tenant_id = $1 AND recorded_at <= $2
               AND ($3::text IS NULL OR account = $3) AND ($4::text IS NULL OR currency = $4)
               AND ($5::text IS NULL OR (account, currency) > ($5, $6))
             GROUP BY account, currency ORDER BY account, currency LIMIT $7",
            s = self.schema()
        );
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 7] =
            [&tenant_id, &as_of, &filter.account, &filter.currency, &after_account, &after_currency, &(limit + 1)];
        let rows = client.query(&sql, &params).await?;
        let has_more = rows.len() as i64 > limit;
        let items =
            rows.iter().take(limit as usize).map(|row| balance_row(tenant_id, row)).collect::<Result<_, _>>()?;
        Ok(Page { items, has_more })
    }

    /// Per account and currency: the balance before `[day_start, day_end)`, the debits and
    /// credits within it, and the balance after. Accounts without entries by then are absent.
    pub async fn trial_balance<C: GenericClient>(
        &self,
        client: &C,
        tenant_id: Uuid,
        date: NaiveDate,
        time_zone: &str,
    ) -> Result<Vec<TrialBalanceRow>, ProjectorError> {
        let sql = format!(
            "WITH bounds AS (SELECT ($2::date::timestamp AT TIME ZONE $3) AS day_start,
                                    (($2::date + 1)::timestamp AT TIME ZONE $3) AS day_end)
             SELECT account, currency,
                    coalesce(sum(CASE WHEN side = 'debit' THEN amount_minor ELSE -amount_minor END)
                        FILTER (WHERE recorded_at < day_start), 0)::text,
                    coalesce(sum(amount_minor) FILTER (WHERE side = 'debit' AND recorded_at >= day_start), 0)::text,
                    coalesce(sum(amount_minor) FILTER (WHERE side = 'credit' AND recorded_at >= day_start), 0)::text
             FROM {s}.journal_entries, bounds
             WHERE tenant_id = $1 AND recorded_at < day_end
             GROUP BY account, currency ORDER BY account, currency",
            s = self.schema()
        );
        let rows = client.query(&sql, &[&tenant_id, &date, &time_zone]).await?;
        rows.iter().map(trial_balance_row).collect()
    }
}

fn account_of(name: &str) -> Result<Account, ProjectorError> {
    Account::from_str(name).map_err(|e| ProjectorError::corrupt(format!("journal entry: {e}")))
}

/// A debit-minus-credit amount shown on the account's normal side.
fn on_normal_side(account: Account, debit_minus_credit: i128) -> WideMinor {
    match account.normal_side() {
        Side::Debit => WideMinor(debit_minus_credit),
        Side::Credit => WideMinor(-debit_minus_credit),
    }
}

fn wide(row: &Row, index: usize) -> Result<i128, ProjectorError> {
    let text: String = row.try_get(index)?;
    text.parse().map_err(|_| ProjectorError::corrupt(format!("journal sum {text:?}")))
}

fn balance_row(tenant_id: Uuid, row: &Row) -> Result<AccountBalanceRow, ProjectorError> {
    let name: String = row.try_get(0)?;
    let account = account_of(&name)?;
    let (debit, credit) = (wide(row, 2)?, wide(row, 3)?);
    Ok(AccountBalanceRow {
        tenant_id,
        account: name,
        currency: row.try_get(1)?,
        account_type: account_type_str(account).to_owned(),
        normal_side: side_str(account.normal_side()).to_owned(),
        debit_minor: WideMinor(debit),
        credit_minor: WideMinor(credit),
        balance_minor: on_normal_side(account, debit - credit),
        entry_count: row.try_get(4)?,
    })
}

fn trial_balance_row(row: &Row) -> Result<TrialBalanceRow, ProjectorError> {
    let name: String = row.try_get(0)?;
    let account = account_of(&name)?;
    let (opening, debit, credit) = (wide(row, 2)?, wide(row, 3)?, wide(row, 4)?);
    Ok(TrialBalanceRow {
        currency: row.try_get(1)?,
        account_type: account_type_str(account).to_owned(),
        normal_side: side_str(account.normal_side()).to_owned(),
        opening_minor: on_normal_side(account, opening),
        debit_minor: WideMinor(debit),
        credit_minor: WideMinor(credit),
        closing_minor: on_normal_side(account, opening + debit - credit),
        account: name,
    })
}

/// The rows a payment folded to some version shows (itself, its refunds, its disputes), for
/// reads of the past that fold the stream themselves.
pub fn payment_rows(
    tenant_id: Uuid,
    payment: &payledger_core::payment::Payment,
    stream_version: i64,
) -> (crate::PaymentRow, Vec<crate::RefundRow>, Vec<crate::DisputeRow>) {
    let refunds = payment.refunds.iter().map(|r| crate::RefundRow::from_state(tenant_id, payment, r)).collect();
    let disputes = payment.disputes.iter().map(|d| crate::DisputeRow::from_state(tenant_id, payment, d)).collect();
    (crate::PaymentRow::from_state(tenant_id, payment, stream_version), refunds, disputes)
}
