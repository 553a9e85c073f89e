-- OAuth2 client credentials (RFC 6749 §4.4; DESIGN §12). A client belongs to one tenant,
-- holds one role and one mode; its secret is stored as SHA-256, like API keys (random
-- secrets need no slow hash). Tokens are stored as SHA-256 too and end with their expiry
-- or with their client's revocation.
CREATE TABLE oauth_clients (
    client_id   uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES tenants (tenant_id),
    role        text        NOT NULL CHECK (role IN ('writer', 'finance', 'auditor', 'admin')),
    mode        text        NOT NULL CHECK (mode IN ('test', 'live')),
    secret_hash bytea       NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    label       text,
    allowed_ips text[]      CHECK (cardinality(allowed_ips) BETWEEN 1 AND 100),
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX oauth_clients_tenant ON oauth_clients (tenant_id, created_at);

CREATE TABLE oauth_tokens (
    token_hash bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
    client_id  uuid        NOT NULL REFERENCES oauth_clients (client_id),
    scope      text        NOT NULL CHECK (scope IN ('writer', 'finance', 'auditor', 'admin')),
    issued_at  timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL CHECK (expires_at > issued_at)
);
-- Counting a client's live tokens and pruning its expired ones.
CREATE INDEX oauth_tokens_client ON oauth_tokens (client_id, expires_at);

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        GRANT SELECT, INSERT, UPDATE ON oauth_clients TO payledger_app;
        GRANT SELECT, INSERT, DELETE ON oauth_tokens TO payledger_app;
    END IF;
END
$$;
