-- API keys may expire (set at creation, or when a key is rolled: the old key keeps working
-- until then beside its successor), and record when they were last used and how often.
-- last_used_at and use_count are written at most once a minute per key and server process,
-- not per request, so a process that stops may leave up to a minute of its uses uncounted.
ALTER TABLE api_keys
    ADD COLUMN expires_at   timestamptz,
    ADD COLUMN rolled_to    uuid REFERENCES api_keys (key_id),
    ADD COLUMN last_used_at timestamptz,
    ADD COLUMN use_count    bigint NOT NULL DEFAULT 0 CHECK (use_count >= 0);
