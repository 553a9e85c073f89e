-- The immutable event log. See DESIGN.md §3.
-- Read order is (tx_id, global_position), never global_position alone: identity values are
-- handed out at insert time but transactions commit in another order.
CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    tenant_id       uuid        NOT NULL,
    stream_id       text        NOT NULL CHECK (length(stream_id) BETWEEN 1 AND 200),
    stream_version  bigint      NOT NULL CHECK (stream_version >= 1),
    event_type      text        NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
    schema_version  integer     NOT NULL CHECK (schema_version >= 1),
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL,
    dedupe_key      text        CHECK (dedupe_key IS NULL OR length(dedupe_key) BETWEEN 1 AND 300),
    prev_hash       bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash            bytea       NOT NULL CHECK (length(hash) = 32),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_version_key UNIQUE (tenant_id, stream_id, stream_version)
);

CREATE UNIQUE INDEX events_dedupe_key ON events (tenant_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX events_read_order ON events (tx_id, global_position);
CREATE INDEX events_tenant_recorded ON events (tenant_id, recorded_at);
CREATE INDEX events_tenant_type ON events (tenant_id, event_type, global_position);

CREATE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Statement-level so that even a change matching no row is refused.
CREATE TRIGGER events_refuse_update_delete BEFORE UPDATE OR DELETE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();
CREATE TRIGGER events_refuse_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION events_refuse_change();

-- Where an application role is configured, it may only add and read events.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        REVOKE ALL ON events FROM payledger_app;
        GRANT SELECT, INSERT ON events TO payledger_app;
    END IF;
END
$$;
