-- Webhook endpoints, their signing secrets, and the interpretation progress of received
-- deliveries. See DESIGN.md §6 and crates/payledger-api/src/webhooks.
--
-- The raw deliveries themselves are events (`WebhookReceived` in the stream
-- `webhook-inbox-{endpoint_id}`); `webhook_deliveries` only tracks what is left to do with
-- them and can be rebuilt from those events (`payledger webhooks reprocess --all`).

-- One URL `POST /v1/webhooks/{provider}/{endpoint_id}` of one tenant.
CREATE TABLE webhook_endpoints (
    endpoint_id uuid        PRIMARY KEY,
    tenant_id   uuid        NOT NULL REFERENCES tenants (tenant_id),
    provider    text        NOT NULL CHECK (provider IN ('stripe', 'adyen', 'generic')),
    label       text        CHECK (label IS NULL OR length(label) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id, endpoint_id);

-- Signing secrets. Any active secret (retired_at IS NULL) verifies, which is how rotation
-- works: add the new secret, let both verify while the gateway switches, retire the old one.
--
-- Secrets are stored in clear text because HMAC verification needs the raw key (unlike API
-- keys, which are stored hashed). Encrypting them at rest (pgcrypto, a KMS envelope) is out
-- of scope for now: restrict SELECT on this table to the application role.
CREATE TABLE webhook_secrets (
    secret_id   uuid        PRIMARY KEY,
    endpoint_id uuid        NOT NULL REFERENCES webhook_endpoints (endpoint_id),
    secret      text        NOT NULL CHECK (length(secret) BETWEEN 1 AND 1024),
    -- The last characters, to recognise a secret in a list without showing it.
    secret_hint text        NOT NULL CHECK (length(secret_hint) <= 8),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);
CREATE INDEX webhook_secrets_endpoint ON webhook_secrets (endpoint_id, created_at);

-- One row per `WebhookReceived` event, written in the same transaction as the event, so a
-- delivery that was acknowledged is never forgotten, even across a crash.
--
--   pending  to interpret, when next_attempt_at has come (retries back off)
--   applied  its effect is on the payment stream (or was already there)
--   ignored  recorded as ignored, with the reason (unknown type or payment, stale, ...)
--   failed   interpretation kept failing up to the attempt limit; `reprocess` retries it
CREATE TABLE webhook_deliveries (
    delivery_id     uuid        PRIMARY KEY,  -- the event_id of the WebhookReceived event
    tenant_id       uuid        NOT NULL,
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (endpoint_id),
    provider        text        NOT NULL CHECK (provider IN ('stripe', 'adyen', 'generic')),
    status          text        NOT NULL DEFAULT 'pending'
                                CHECK (status IN ('pending', 'applied', 'ignored', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text        CHECK (last_error IS NULL OR length(last_error) <= 2000),
    outcome_reason  text        CHECK (outcome_reason IS NULL OR length(outcome_reason) <= 2000),
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, delivery_id);
CREATE INDEX webhook_deliveries_unfinished ON webhook_deliveries (delivery_id) WHERE status <> 'applied';

-- Reprocessing finds the stored raw deliveries by type.
CREATE INDEX events_webhook_received ON events (global_position) WHERE event_type = 'WebhookReceived';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        GRANT SELECT, INSERT, UPDATE ON webhook_endpoints, webhook_secrets, webhook_deliveries TO payledger_app;
    END IF;
END
$$;
