//! The read-model tables of one version: one PostgreSQL schema per version, created and
//! dropped by the projector (the registry tables are in `migrations/V5__read_models.sql`).
//!
//! Identifiers are built only from the projection's name (a constant checked against
//! `^[a-z][a-z0-9_]*$` by the registry) and an integer version, never from input.

use tokio_postgres::GenericClient;

use crate::error::ProjectorError;

/// The read-model tables, in the order they are compared by verify.
pub const TABLES: [&str; 6] = ["orders", "payments", "refunds", "disputes", "journal_entries", "account_balances"];

/// The PostgreSQL schema that holds `version` of projection `name`.
pub fn schema_name(name: &str, version: i32) -> String {
    format!("{name}_v{version}")
}

/// The key columns of a read-model table.
pub(crate) fn key_columns(table: &str) -> &'static [&'static str] {
    match table {
        "orders" => &["tenant_id", "order_id"],
        "payments" => &["tenant_id", "payment_id"],
        "refunds" => &["tenant_id", "refund_id"],
        "disputes" => &["tenant_id", "dispute_id"],
        "journal_entries" => &["tenant_id", "event_position", "line"],
        "account_balances" => &["tenant_id", "account", "currency"],
        _ => &["tenant_id"],
    }
}

/// Tables plus the indexes the projector itself needs while writing.
fn tables_ddl(s: &str) -> String {
    format!(
        "CREATE SCHEMA {s};
        CREATE TABLE {s}.orders (
            tenant_id             uuid        NOT NULL,
            order_id              uuid        NOT NULL,
            status                text        NOT NULL,
            amount_minor          bigint      NOT NULL CHECK (amount_minor > 0),
            currency              text        NOT NULL,
            reference             text        NOT NULL,
            metadata              jsonb       NOT NULL,
            amount_captured_minor numeric     NOT NULL CHECK (amount_captured_minor >= 0),
            amount_refunded_minor numeric     NOT NULL CHECK (amount_refunded_minor >= 0),
            created_at            timestamptz NOT NULL,
            cancelled_at          timestamptz,
            cancel_reason         text,
            stream_version        bigint      NOT NULL,
            PRIMARY KEY (tenant_id, order_id)
        );
        CREATE TABLE {s}.payments (
            tenant_id                   uuid        NOT NULL,
            payment_id                  uuid        NOT NULL,
            order_id                    uuid        NOT NULL,
            status                      text        NOT NULL,
            amount_minor                bigint      NOT NULL CHECK (amount_minor > 0),
            currency                    text        NOT NULL,
            capture_method              text        NOT NULL,
            provider                    text        NOT NULL,
            provider_reference          text,
            amount_authorized_minor     bigint      NOT NULL,
            amount_captured_minor       bigint      NOT NULL,
            amount_refunded_minor       bigint      NOT NULL,
            amount_refund_pending_minor bigint      NOT NULL,
            amount_disputed_minor       bigint      NOT NULL,
            amount_capturable_minor     bigint      NOT NULL,
            amount_refundable_minor     bigint      NOT NULL,
            failure_code                text,
            failure_message             text,
            created_at                  timestamptz NOT NULL,
            stream_version              bigint      NOT NULL,
            PRIMARY KEY (tenant_id, payment_id)
        );
        CREATE INDEX payments_order ON {s}.payments (tenant_id, order_id);
        CREATE TABLE {s}.refunds (
            tenant_id          uuid        NOT NULL,
            refund_id          uuid        NOT NULL,
            payment_id         uuid        NOT NULL,
            status             text        NOT NULL,
            amount_minor       bigint      NOT NULL CHECK (amount_minor > 0),
            currency           text        NOT NULL,
            reason             text,
            provider_reference text,
            failure_code       text,
            failure_message    text,
            created_at         timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, refund_id)
        );
        CREATE TABLE {s}.disputes (
            tenant_id          uuid        NOT NULL,
            dispute_id         uuid        NOT NULL,
            payment_id         uuid        NOT NULL,
            status             text        NOT NULL,
            amount_minor       bigint      NOT NULL CHECK (amount_minor > 0),
            currency           text        NOT NULL,
            reason             text,
            provider_reference text,
            created_at         timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, dispute_id)
        );
        CREATE TABLE {s}.journal_entries (
            tenant_id      uuid        NOT NULL,
            event_position bigint      NOT NULL,
            line           smallint    NOT NULL CHECK (line >= 0),
            event_tx_id    bigint      NOT NULL,
            event_id       uuid        NOT NULL,
            payment_id     uuid        NOT NULL,
            order_id       uuid        NOT NULL,
            kind           text        NOT NULL,
            account        text        NOT NULL,
            side           text        NOT NULL CHECK (side IN ('debit', 'credit')),
            amount_minor   bigint      NOT NULL CHECK (amount_minor > 0),
            currency       text        NOT NULL,
            recorded_at    timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, event_position, line)
        );
        CREATE TABLE {s}.account_balances (
            tenant_id     uuid   NOT NULL,
            account       text   NOT NULL,
            currency      text   NOT NULL,
            account_type  text   NOT NULL,
            normal_side   text   NOT NULL CHECK (normal_side IN ('debit', 'credit')),
            debit_minor   numeric NOT NULL CHECK (debit_minor >= 0),
            credit_minor  numeric NOT NULL CHECK (credit_minor >= 0),
            balance_minor numeric GENERATED ALWAYS AS (
                CASE WHEN normal_side = 'debit' THEN debit_minor - credit_minor ELSE credit_minor - debit_minor END
            ) STORED,
            entry_count   bigint NOT NULL CHECK (entry_count >= 0),
            PRIMARY KEY (tenant_id, account, currency)
        );"
    )
}

/// Indexes that only the queries need; a rebuild adds them after the bulk of the load,
/// which is faster than maintaining them row by row.
fn query_indexes_ddl(s: &str) -> String {
    format!(
        "CREATE INDEX orders_created ON {s}.orders (tenant_id, created_at, order_id);
        CREATE INDEX orders_status_created ON {s}.orders (tenant_id, status, created_at, order_id);
        CREATE INDEX payments_created ON {s}.payments (tenant_id, created_at, payment_id);
        CREATE INDEX payments_status_created ON {s}.payments (tenant_id, status, created_at, payment_id);
        CREATE INDEX refunds_created ON {s}.refunds (tenant_id, created_at, refund_id);
        CREATE INDEX refunds_status_created ON {s}.refunds (tenant_id, status, created_at, refund_id);
        CREATE INDEX refunds_payment ON {s}.refunds (tenant_id, payment_id);
        CREATE INDEX disputes_payment ON {s}.disputes (tenant_id, payment_id);
        CREATE INDEX journal_entries_order ON {s}.journal_entries (tenant_id, event_tx_id, event_position, line);
        CREATE INDEX journal_entries_account
            ON {s}.journal_entries (tenant_id, account, currency, event_tx_id, event_position, line);
        CREATE INDEX journal_entries_payment ON {s}.journal_entries (tenant_id, payment_id);"
    )
}

/// Creates the schema and tables of a version (without the query indexes).
pub(crate) async fn create_tables<C: GenericClient>(
    client: &C,
    name: &str,
    version: i32,
) -> Result<(), ProjectorError> {
    client.batch_execute(&tables_ddl(&schema_name(name, version))).await?;
    Ok(())
}

pub(crate) async fn create_query_indexes<C: GenericClient>(
    client: &C,
    name: &str,
    version: i32,
) -> Result<(), ProjectorError> {
    client.batch_execute(&query_indexes_ddl(&schema_name(name, version))).await?;
    Ok(())
}

pub(crate) async fn drop_schema<C: GenericClient>(client: &C, name: &str, version: i32) -> Result<(), ProjectorError> {
    client.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", schema_name(name, version))).await?;
    Ok(())
}
