-- Keys and OAuth clients made before V21 acted on the one data set there was, which V21 made
-- the tenant's live data. Those of mode test keep acting on it (an integration upgraded in
-- place sees its payments and its idempotency keys, and repeats nothing); they count as live
-- credentials (`livemode: true`). Keys and clients made from V21 on act on their mode's scope.
ALTER TABLE api_keys ADD COLUMN legacy_live boolean NOT NULL DEFAULT false;
ALTER TABLE oauth_clients ADD COLUMN legacy_live boolean NOT NULL DEFAULT false;
UPDATE api_keys SET legacy_live = true WHERE mode = 'test';
UPDATE oauth_clients SET legacy_live = true WHERE mode = 'test';

-- Locking a tenant row (FOR KEY SHARE while a key, client or endpoint is added) and setting
-- its time zone need UPDATE on one of its columns.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        GRANT UPDATE (time_zone) ON tenants TO payledger_app;
    END IF;
END
$$;
