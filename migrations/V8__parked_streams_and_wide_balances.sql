-- Parked streams and sums that cannot overflow. See the docs of the payledger-projector crate.
--
-- A stream whose event cannot be projected is parked in one version of the read-models: its
-- later events are skipped there and every other stream goes on. One row per parked stream
-- and version, written in the batch transaction that moves the checkpoint.
CREATE TABLE parked_streams (
    projection     text        NOT NULL,
    version        integer     NOT NULL,
    tenant_id      uuid        NOT NULL,
    stream_id      text        NOT NULL,
    -- The first event skipped (every event of the stream read at or after it is skipped).
    event_position bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    stream_version bigint      NOT NULL,
    reason         text        NOT NULL,
    parked_at      timestamptz NOT NULL DEFAULT now(),
    retried_at     timestamptz,
    retries        integer     NOT NULL DEFAULT 0 CHECK (retries >= 0),
    PRIMARY KEY (projection, version, tenant_id, stream_id),
    FOREIGN KEY (projection, version) REFERENCES projection_versions (name, version)
);

-- Sums over many amounts (balances, an order's captured and refunded totals) are numeric: a
-- bigint sum of bigint amounts can overflow. The projector creates new versions this way;
-- the versions that already exist are widened here.
DO $$
DECLARE
    s text;
BEGIN
    FOR s IN
        SELECT v.name || '_v' || v.version FROM projection_versions v
        JOIN pg_namespace n ON n.nspname = v.name || '_v' || v.version
        WHERE v.state <> 'dropped'
    LOOP
        EXECUTE format('ALTER TABLE %I.account_balances DROP COLUMN balance_minor', s);
        EXECUTE format('ALTER TABLE %I.account_balances
                            ALTER COLUMN debit_minor TYPE numeric, ALTER COLUMN credit_minor TYPE numeric', s);
        EXECUTE format('ALTER TABLE %I.account_balances ADD COLUMN balance_minor numeric GENERATED ALWAYS AS (
                            CASE WHEN normal_side = ''debit'' THEN debit_minor - credit_minor
                                 ELSE credit_minor - debit_minor END) STORED', s);
        EXECUTE format('ALTER TABLE %I.orders ALTER COLUMN amount_captured_minor TYPE numeric,
                            ALTER COLUMN amount_refunded_minor TYPE numeric', s);
    END LOOP;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON parked_streams TO payledger_app;
    END IF;
END
$$;
