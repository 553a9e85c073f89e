-- A key's own rate limit (requests per second and burst), overriding the server's default
-- (PAYLEDGER_RATE_LIMIT_PER_S / _BURST) where set. Enforced per server process.
ALTER TABLE api_keys
    ADD COLUMN rate_limit_per_s integer CHECK (rate_limit_per_s BETWEEN 1 AND 1000000),
    ADD COLUMN rate_limit_burst integer CHECK (rate_limit_burst BETWEEN 1 AND 1000000);
