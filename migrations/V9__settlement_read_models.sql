-- Settlement reports in the read-models. See docs/SETTLEMENT.md and the payledger-projector
-- crate (schema.rs creates new versions this way; the versions that already exist get the
-- same tables, indexes and journal columns here).
--
-- A report line's postings belong to no payment: journal_entries.payment_id and order_id
-- become nullable, and report_id / report_line name the line.
DO $$
DECLARE
    s text;
    building boolean;
BEGIN
    FOR s, building IN
        SELECT v.name || '_v' || v.version, v.state = 'building' FROM projection_versions v
        JOIN pg_namespace n ON n.nspname = v.name || '_v' || v.version
        WHERE v.state <> 'dropped'
    LOOP
        EXECUTE format('ALTER TABLE %I.journal_entries
                            ALTER COLUMN payment_id DROP NOT NULL, ALTER COLUMN order_id DROP NOT NULL,
                            ADD COLUMN report_id uuid, ADD COLUMN report_line integer', s);
        EXECUTE format('CREATE TABLE %I.settlement_reports (
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
        )', s);
        EXECUTE format('CREATE TABLE %I.settlement_lines (
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
        )', s);
        -- A version being built gets its query indexes when its load is done.
        IF NOT building THEN
            EXECUTE format('CREATE INDEX settlement_lines_created ON %I.settlement_lines (tenant_id, provider, created_at)', s);
            EXECUTE format('CREATE INDEX settlement_lines_payout ON %I.settlement_lines (tenant_id, provider, payout_id)', s);
            EXECUTE format('CREATE INDEX settlement_reports_received ON %I.settlement_reports (tenant_id, received_at)', s);
            EXECUTE format('CREATE INDEX payments_provider_reference ON %I.payments (tenant_id, provider, provider_reference)', s);
            EXECUTE format('CREATE INDEX refunds_provider_reference ON %I.refunds (tenant_id, provider_reference)', s);
            EXECUTE format('CREATE INDEX disputes_provider_reference ON %I.disputes (tenant_id, provider_reference)', s);
            EXECUTE format('CREATE INDEX journal_entries_recorded ON %I.journal_entries (tenant_id, recorded_at)', s);
        END IF;
    END LOOP;
END
$$;
