-- Settlement report files, kept byte for byte as the raw evidence (docs/SETTLEMENT.md), and the
-- indexes of the import's lookups over the events.
CREATE TABLE settlement_files (
    tenant_id   uuid        NOT NULL,
    sha256      text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    bytes       bytea       NOT NULL,
    size_bytes  bigint      NOT NULL CHECK (size_bytes = length(bytes)),
    received_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, sha256)
);

CREATE FUNCTION settlement_files_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'settlement files are immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Statement-level so that even a change matching no row is refused (as for events).
CREATE TRIGGER settlement_files_refuse_update_delete BEFORE UPDATE OR DELETE ON settlement_files
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_files_refuse_change();
CREATE TRIGGER settlement_files_refuse_truncate BEFORE TRUNCATE ON settlement_files
    FOR EACH STATEMENT EXECUTE FUNCTION settlement_files_refuse_change();

-- "Was this file imported?" and "which earlier line reported this fact?"
CREATE INDEX events_settlement_report_sha256 ON events (tenant_id, (payload->>'sha256'))
    WHERE event_type = 'SettlementReportReceived';
CREATE INDEX events_settlement_line_dedupe ON events (tenant_id, (payload->'line'->>'dedupe_key'))
    WHERE event_type = 'SettlementLineReported';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        REVOKE ALL ON settlement_files FROM payledger_app;
        GRANT SELECT, INSERT ON settlement_files TO payledger_app;
    END IF;
END
$$;
