-- An auditor's or a tenant-scoped reader's walk in read order must not scan every
-- other tenant's events: index the read order per tenant.
CREATE INDEX events_tenant_read_order ON events (tenant_id, tx_id, global_position);

-- Where an application role is configured, grant it what the API needs on the tables that
-- came after V1 (events stay INSERT and SELECT only).
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO payledger_app;
        GRANT SELECT, INSERT ON tenants TO payledger_app;
        GRANT SELECT, INSERT, UPDATE ON api_keys TO payledger_app;
    END IF;
END
$$;
