-- Test mode that isolates (DESIGN §12): each tenant has two data scopes. The live scope is
-- the tenant's own row (all data written before this migration stays there); the test scope
-- is a second `tenants` row, made with it, named alike, marked livemode = false and pointing
-- at its live tenant. Every table already filters by tenant_id, so a test key, whose
-- requests carry the test scope's id, reads and writes only test data.
ALTER TABLE tenants
    ADD COLUMN livemode boolean NOT NULL DEFAULT true,
    ADD COLUMN live_tenant_id uuid REFERENCES tenants (tenant_id),
    ADD CONSTRAINT tenants_scope_shape CHECK (livemode = (live_tenant_id IS NULL));
-- Names are unique among tenants; a test scope repeats its tenant's name.
ALTER TABLE tenants DROP CONSTRAINT tenants_name_key;
CREATE UNIQUE INDEX tenants_name ON tenants (name) WHERE livemode;
CREATE UNIQUE INDEX tenants_test_scope ON tenants (live_tenant_id) WHERE NOT livemode;

-- However a tenant is made (the service, a test, an operator's INSERT), its test scope is made with it.
CREATE FUNCTION payledger_make_test_scope() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO tenants (tenant_id, name, time_zone, livemode, live_tenant_id, created_at)
    VALUES (gen_random_uuid(), NEW.name, NEW.time_zone, false, NEW.tenant_id, NEW.created_at);
    RETURN NULL;
END
$$;
CREATE TRIGGER tenants_test_scope AFTER INSERT ON tenants
    FOR EACH ROW WHEN (NEW.livemode) EXECUTE FUNCTION payledger_make_test_scope();

INSERT INTO tenants (tenant_id, name, time_zone, livemode, live_tenant_id, created_at)
SELECT gen_random_uuid(), name, time_zone, false, tenant_id, created_at FROM tenants WHERE livemode;
