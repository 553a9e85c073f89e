//! The read-model tables of one version: one PostgreSQL schema per version, created and
//! dropped by the projector (the registry tables are in `migrations/V5__read_models.sql`).
//!
//! Identifiers are built only from the projection's name (a constant checked against
//! `^[a-z][a-z0-9_]*$` by the registry) and an integer version, never from input.

use tokio_postgres::GenericClient;

use crate::error::ProjectorError;

/// The read-model tables, in the order they are compared by verify.
pub const TABLES: [&str; 8] = [
    "orders",
    "payments",
    "refunds",
    "disputes",
    "settlement_reports",
    "settlement_lines",
    "journal_entries",
    "account_balances",
];

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
        "settlement_reports" => &["tenant_id", "report_id"],
        "settlement_lines" => &["tenant_id", "report_id", "line_number"],
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
            payment_id     uuid,
            order_id       uuid,
            report_id      uuid,
            report_line    integer,
            kind           text        NOT NULL,
            account        text        NOT NULL,
            side           text        NOT NULL CHECK (side IN ('debit', 'credit')),
            amount_minor   bigint      NOT NULL CHECK (amount_minor > 0),
            currency       text        NOT NULL,
            recorded_at    timestamptz NOT NULL,
            PRIMARY KEY (tenant_id, event_position, line)
        );
        {settlement}
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
        );",
        settlement = settlement_tables_ddl(s),
    )
}

/// The settlement read-models (also created in existing versions by migration V9).
pub fn settlement_tables_ddl(s: &str) -> String {
    format!(
        "CREATE TABLE {s}.settlement_reports (
            tenant_id       uuid        NOT NULL,
            report_id       uuid        NOT NULL,
            provider        text        NOT NULL,
            sha256          text        NOT NULL,
            size_bytes      bigint      NOT NULL,
            line_count      integer     NOT NULL,
            duplicate_lines integer     NOT NULL,
            period_from     timestamptz,
            period_to       timestamptz,
            received_at     timestamptz NOT NULL,
            event_position  bigint      NOT NULL,
            PRIMARY KEY (tenant_id, report_id)
        );
        CREATE TABLE {s}.settlement_lines (
            tenant_id              uuid        NOT NULL,
            report_id              uuid        NOT NULL,
            line_number            integer     NOT NULL,
            provider               text        NOT NULL,
            kind                   text        NOT NULL,
            category               text        NOT NULL,
            gross_currency         text        NOT NULL,
            gross_minor            bigint      NOT NULL,
            currency               text        NOT NULL,
            fee_minor              bigint      NOT NULL,
            net_minor              bigint      NOT NULL,
            created_at             timestamptz NOT NULL,
            available_on           date,
            balance_transaction_id text,
            source_id              text,
            charge_id              text,
            payment_intent_id      text,
            payout_id              text,
            psp_reference          text,
            modification_reference text,
            merchant_reference     text,
            dedupe_key             text        NOT NULL,
            duplicate_of_report_id uuid,
            duplicate_of_line      integer,
            raw                    text        NOT NULL,
            event_position         bigint      NOT NULL,
            PRIMARY KEY (tenant_id, report_id, line_number)
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
        CREATE INDEX journal_entries_payment ON {s}.journal_entries (tenant_id, payment_id);
        {settlement}",
        settlement = settlement_query_indexes_ddl(s),
    )
}

/// The settlement lines' and the reconciliation's query indexes (also created in existing
/// versions by migration V9).
pub fn settlement_query_indexes_ddl(s: &str) -> String {
    format!(
        "CREATE INDEX settlement_lines_created ON {s}.settlement_lines (tenant_id, provider, created_at);
        CREATE INDEX settlement_lines_payout ON {s}.settlement_lines (tenant_id, provider, payout_id);
        CREATE INDEX settlement_reports_received ON {s}.settlement_reports (tenant_id, received_at);
        CREATE INDEX payments_provider_reference ON {s}.payments (tenant_id, provider, provider_reference);
        CREATE INDEX refunds_provider_reference ON {s}.refunds (tenant_id, provider_reference);
        CREATE INDEX disputes_provider_reference ON {s}.disputes (tenant_id, provider_reference);
        CREATE INDEX journal_entries_recorded ON {s}.journal_entries (tenant_id, recorded_at);"
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
