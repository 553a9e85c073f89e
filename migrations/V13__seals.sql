-- Seals over the read order (docs/AUDIT.md §3): seal k commits to every event whose
-- checkpoint (tx_id, global_position) lies after seal k-1's and at or before its own, and to
-- seal k-1's hash. Written by the sealer behind the writers; never changed.
CREATE TABLE seals (
    seal_number   bigint      PRIMARY KEY CHECK (seal_number >= 1),
    prev_hash     bytea       NOT NULL CHECK (length(prev_hash) = 32),
    hash          bytea       NOT NULL UNIQUE CHECK (length(hash) = 32),
    to_tx_id      xid8        NOT NULL,
    to_position   bigint      NOT NULL,
    event_count   bigint      NOT NULL CHECK (event_count >= 1),
    tenant_count  integer     NOT NULL CHECK (tenant_count >= 1),
    merkle_root   bytea       NOT NULL CHECK (length(merkle_root) = 32),
    sealed_at     timestamptz NOT NULL
);

-- One Merkle leaf per tenant with events in the seal, with its audit path, so that a
-- tenant's export can prove its part without other tenants' events.
CREATE TABLE seal_tenants (
    seal_number  bigint  NOT NULL REFERENCES seals (seal_number),
    tenant_id    uuid    NOT NULL,
    leaf_index   integer NOT NULL CHECK (leaf_index >= 0),
    event_count  bigint  NOT NULL CHECK (event_count >= 1),
    digest       bytea   NOT NULL CHECK (length(digest) = 32),
    -- The RFC 6962 audit path: its sibling hashes, 32 bytes each, leaf to root.
    audit_path   bytea   NOT NULL CHECK (length(audit_path) % 32 = 0),
    PRIMARY KEY (seal_number, tenant_id)
);

CREATE FUNCTION seals_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'seals are immutable: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER seals_refuse_update_delete BEFORE UPDATE OR DELETE ON seals
    FOR EACH STATEMENT EXECUTE FUNCTION seals_refuse_change();
CREATE TRIGGER seals_refuse_truncate BEFORE TRUNCATE ON seals
    FOR EACH STATEMENT EXECUTE FUNCTION seals_refuse_change();
CREATE TRIGGER seal_tenants_refuse_update_delete BEFORE UPDATE OR DELETE ON seal_tenants
    FOR EACH STATEMENT EXECUTE FUNCTION seals_refuse_change();
CREATE TRIGGER seal_tenants_refuse_truncate BEFORE TRUNCATE ON seal_tenants
    FOR EACH STATEMENT EXECUTE FUNCTION seals_refuse_change();

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        REVOKE ALL ON seals, seal_tenants FROM payledger_app;
        GRANT SELECT, INSERT ON seals, seal_tenants TO payledger_app;
    END IF;
END
$$;
