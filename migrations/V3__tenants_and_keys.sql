-- Tenants and their API keys. Keys are stored as SHA-256 of the full key: keys are 192-bit
-- random, so a fast hash is enough, and the plain key is shown once at creation only.
CREATE TABLE tenants (
    tenant_id  uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
    key_id      uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (tenant_id),
    role        text NOT NULL CHECK (role IN ('writer', 'finance', 'auditor', 'admin')),
    mode        text NOT NULL CHECK (mode IN ('test', 'live')),
    key_prefix  text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    label       text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- Command-side lookups, derived from the immutable events themselves so they can never drift:
-- a refund or dispute id to its payment stream, and a gateway reference to its payment.
CREATE INDEX events_refund_id ON events (tenant_id, (payload->>'refund_id'))
    WHERE event_type = 'RefundRequested';
CREATE INDEX events_dispute_id ON events (tenant_id, (payload->>'dispute_id'))
    WHERE event_type = 'DisputeOpened';
CREATE INDEX events_provider_reference ON events (tenant_id, (payload->>'provider'), (payload->>'provider_reference'))
    WHERE event_type = 'PaymentInitiated';
