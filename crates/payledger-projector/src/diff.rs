//! Row-by-row, field-by-field comparison of two versions of a read-model table, and the
//! ledger's own consistency checks. Everything streams; only the differences are kept (up
//! to a bound, then counted).

use futures::{pin_mut, TryStreamExt};
use serde::Serialize;
use serde_json::Value;
use tokio_postgres::types::ToSql;
use tokio_postgres::GenericClient;
use uuid::Uuid;

use crate::error::ProjectorError;
use crate::schema::key_columns;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DifferenceKind {
    /// A field of a row differs from the fresh fold.
    Changed,
    /// The fresh fold has a row the live read-models lack.
    Missing,
    /// The live read-models have a row the fresh fold does not.
    Extra,
    /// Debits and credits differ in one currency (per tenant, or per journal transaction).
    Unbalanced,
    /// An account balance is not the sum of its journal entries.
    BalanceMismatch,
    /// The live version counts another number of applied events than the log holds up to
    /// its checkpoint: an event was applied twice or skipped.
    AppliedCount,
    /// A stream is parked in the live read-models: its events from `key`'s position on are
    /// not shown (`actual` is the reason).
    Parked,
}

/// One difference: which table, which row (`key`, without the tenant), which field, what a
/// fresh fold says and what the live read-model holds. `field` is `*` for whole rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    pub table: String,
    pub kind: DifferenceKind,
    pub tenant_id: Option<Uuid>,
    pub key: String,
    pub field: String,
    pub expected: Value,
    pub actual: Value,
}

/// Collects differences, keeping the first `max` and counting all.
#[derive(Debug)]
pub(crate) struct DiffSink {
    pub differences: Vec<Difference>,
    pub total: u64,
    max: usize,
}

impl DiffSink {
    pub(crate) fn new(max: usize) -> DiffSink {
        DiffSink { differences: Vec::new(), total: 0, max }
    }

    pub(crate) fn push(&mut self, difference: Difference) {
        self.total += 1;
        if self.differences.len() < self.max {
            self.differences.push(difference);
        }
    }

    pub(crate) fn truncated(&self) -> bool {
        self.total > self.differences.len() as u64
    }
}

/// Compares `table` of the `expected` schema (a fresh fold) with the `actual` one (live).
pub(crate) async fn diff_table<C: GenericClient>(
    client: &C,
    table: &str,
    expected: &str,
    actual: &str,
    tenant_id: Option<Uuid>,
    sink: &mut DiffSink,
) -> Result<u64, ProjectorError> {
    let keys = key_columns(table);
    let join = keys.iter().map(|k| format!("e.{k} = a.{k}")).collect::<Vec<_>>().join(" AND ");
    let order = keys.iter().map(|k| format!("coalesce(e.{k}, a.{k})")).collect::<Vec<_>>().join(", ");
    let first = keys.first().copied().unwrap_or("tenant_id");
    let sql = format!(
        "SELECT CASE WHEN e.{first} IS NULL THEN NULL ELSE to_jsonb(e) END,
                CASE WHEN a.{first} IS NULL THEN NULL ELSE to_jsonb(a) END
         FROM {expected}.{table} e FULL OUTER JOIN {actual}.{table} a ON {join}
         WHERE ($1::uuid IS NULL OR coalesce(e.tenant_id, a.tenant_id) = $1)
           AND (e.{first} IS NULL OR a.{first} IS NULL OR to_jsonb(e) <> to_jsonb(a))
         ORDER BY {order}"
    );
    let rows = client.query_raw(&sql, [&tenant_id as &(dyn ToSql + Sync)]).await?;
    pin_mut!(rows);
    let mut differing_rows = 0;
    while let Some(row) = rows.try_next().await? {
        differing_rows += 1;
        let expected_row: Option<Value> = row.try_get(0)?;
        let actual_row: Option<Value> = row.try_get(1)?;
        record_row(table, keys, expected_row, actual_row, sink);
    }
    Ok(differing_rows)
}

fn record_row(table: &str, keys: &[&str], expected: Option<Value>, actual: Option<Value>, sink: &mut DiffSink) {
    let some_row = expected.as_ref().or(actual.as_ref());
    let tenant_id = some_row.and_then(|r| r.get("tenant_id")).and_then(Value::as_str).and_then(|t| t.parse().ok());
    let key = some_row.map(|r| key_text(r, keys)).unwrap_or_default();
    let base = |kind, field: &str, expected: Value, actual: Value| Difference {
        table: table.to_owned(),
        kind,
        tenant_id,
        key: key.clone(),
        field: field.to_owned(),
        expected,
        actual,
    };
    match (expected, actual) {
        (Some(e), None) => sink.push(base(DifferenceKind::Missing, "*", e, Value::Null)),
        (None, Some(a)) => sink.push(base(DifferenceKind::Extra, "*", Value::Null, a)),
        (Some(Value::Object(e)), Some(Value::Object(a))) => {
            for (field, expected_value) in &e {
                let actual_value = a.get(field).cloned().unwrap_or(Value::Null);
                if *expected_value != actual_value {
                    sink.push(base(DifferenceKind::Changed, field, expected_value.clone(), actual_value));
                }
            }
            for (field, actual_value) in a.iter().filter(|(f, _)| !e.contains_key(*f)) {
                sink.push(base(DifferenceKind::Changed, field, Value::Null, actual_value.clone()));
            }
        }
        (Some(e), Some(a)) => sink.push(base(DifferenceKind::Changed, "*", e, a)),
        (None, None) => {}
    }
}

/// `order_id=...` (the key without the tenant, which has its own field).
fn key_text(row: &Value, keys: &[&str]) -> String {
    keys.iter()
        .filter(|k| **k != "tenant_id")
        .map(|k| {
            let value = match row.get(*k) {
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
                None => "null".to_owned(),
            };
            format!("{k}={value}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The journal balances (debits = credits) per tenant and currency, and per journal
/// transaction; and each account balance is the sum of its entries.
pub(crate) async fn check_ledger<C: GenericClient>(
    client: &C,
    schema: &str,
    tenant_id: Option<Uuid>,
    sink: &mut DiffSink,
) -> Result<(), ProjectorError> {
    let signed = "CASE WHEN side = 'debit' THEN amount_minor ELSE -amount_minor END";
    let per_currency = format!(
        "SELECT tenant_id, NULL::bigint, currency, to_jsonb(sum({signed})) FROM {schema}.journal_entries
         WHERE ($1::uuid IS NULL OR tenant_id = $1)
         GROUP BY tenant_id, currency HAVING sum({signed}) <> 0
         UNION ALL
         SELECT tenant_id, event_position, currency, to_jsonb(sum({signed})) FROM {schema}.journal_entries
         WHERE ($1::uuid IS NULL OR tenant_id = $1)
         GROUP BY tenant_id, event_position, currency HAVING sum({signed}) <> 0
         ORDER BY 1, 2 NULLS FIRST, 3"
    );
    for row in client.query(&per_currency, &[&tenant_id]).await? {
        let position: Option<i64> = row.try_get(1)?;
        let currency: String = row.try_get(2)?;
        let key = match position {
            Some(p) => format!("event_position={p}, currency={currency}"),
            None => format!("currency={currency}"),
        };
        sink.push(Difference {
            table: "journal_entries".into(),
            kind: DifferenceKind::Unbalanced,
            tenant_id: Some(row.try_get(0)?),
            key,
            field: "debits_minus_credits_minor".into(),
            expected: Value::from(0),
            actual: row.try_get::<_, Value>(3)?,
        });
    }

    let balances = format!(
        "WITH sums AS (
             SELECT tenant_id, account, currency,
                    coalesce(sum(amount_minor) FILTER (WHERE side = 'debit'), 0) AS debit,
                    coalesce(sum(amount_minor) FILTER (WHERE side = 'credit'), 0) AS credit,
                    count(*) AS entries
             FROM {schema}.journal_entries WHERE ($1::uuid IS NULL OR tenant_id = $1)
             GROUP BY tenant_id, account, currency),
         balances AS (SELECT * FROM {schema}.account_balances WHERE ($1::uuid IS NULL OR tenant_id = $1))
         SELECT coalesce(b.tenant_id, s.tenant_id), coalesce(b.account, s.account), coalesce(b.currency, s.currency),
                to_jsonb(b.debit_minor), to_jsonb(b.credit_minor), to_jsonb(b.entry_count),
                to_jsonb(coalesce(s.debit, 0)), to_jsonb(coalesce(s.credit, 0)), to_jsonb(coalesce(s.entries, 0))
         FROM balances b FULL OUTER JOIN sums s
              ON s.tenant_id = b.tenant_id AND s.account = b.account AND s.currency = b.currency
         WHERE b.debit_minor IS DISTINCT FROM coalesce(s.debit, 0)
            OR b.credit_minor IS DISTINCT FROM coalesce(s.credit, 0)
            OR b.entry_count IS DISTINCT FROM coalesce(s.entries, 0)
         ORDER BY 1, 2, 3"
    );
    for row in client.query(&balances, &[&tenant_id]).await? {
        let tenant: Uuid = row.try_get(0)?;
        let key = format!("account={}, currency={}", row.try_get::<_, String>(1)?, row.try_get::<_, String>(2)?);
        for (index, field) in ["debit_minor", "credit_minor", "entry_count"].into_iter().enumerate() {
            let actual: Option<Value> = row.try_get(3 + index)?;
            let actual = actual.unwrap_or(Value::Null);
            let expected: Value = row.try_get(6 + index)?;
            if actual != expected {
                sink.push(Difference {
                    table: "account_balances".into(),
                    kind: DifferenceKind::BalanceMismatch,
                    tenant_id: Some(tenant),
                    key: key.clone(),
                    field: format!("{field} (sum of journal entries)"),
                    expected,
                    actual,
                });
            }
        }
    }
    Ok(())
}
