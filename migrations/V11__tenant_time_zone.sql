-- The time zone a tenant's days are counted in (reconciliation days, the trial balance of a
-- date). An IANA name PostgreSQL knows; the service checks it when it is set.
ALTER TABLE tenants ADD COLUMN time_zone text NOT NULL DEFAULT 'UTC';
