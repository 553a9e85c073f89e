-- Webhook signing secrets sealed at rest (docs/SECRETS.md): AES-256-GCM under the master
-- key, whose id is kept beside each. The clear column stays only for rows written before
-- this migration; the server seals them at its first start with a master key.
ALTER TABLE webhook_secrets
    ALTER COLUMN secret DROP NOT NULL,
    ADD COLUMN secret_sealed bytea CHECK (length(secret_sealed) BETWEEN 29 AND 2048),
    ADD COLUMN master_key_id text CHECK (master_key_id ~ '^[0-9a-f]{16}$'),
    -- Exactly one of clear and sealed; a sealed value always names its key.
    ADD CONSTRAINT webhook_secrets_clear_or_sealed
        CHECK ((secret IS NULL) <> (secret_sealed IS NULL)
               AND (secret_sealed IS NULL) = (master_key_id IS NULL));
