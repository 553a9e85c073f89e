-- The projector's registry. See DESIGN.md §5 and the docs of the payledger-projector crate.
--
-- Only what never changes shape lives here: which projections exist, which version of each
-- is live, and one row per version with its checkpoint and progress. The read-model tables
-- themselves (orders, payments, refunds, disputes, journal_entries, account_balances) are
-- created by the projector, one PostgreSQL schema per version ("read_models_v1",
-- "read_models_v2", ...), so that a rebuild fills a fresh set while the live one keeps
-- serving, and the swap is one UPDATE of `projections.live_version`.

CREATE TABLE projections (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,40}$'),
    live_version integer CHECK (live_version >= 1),
    -- Version numbers are never reused, so a schema name always means one set of tables.
    next_version integer NOT NULL DEFAULT 1 CHECK (next_version >= 1),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE projection_versions (
    name                   text        NOT NULL REFERENCES projections (name),
    version                integer     NOT NULL CHECK (version >= 1),
    -- building: being filled by a rebuild or a verify; live: served and kept current by the
    -- projector; retired: replaced by a newer version, kept a while for in-flight readers;
    -- dropped: its tables are gone, the row stays as history.
    state                  text        NOT NULL CHECK (state IN ('building', 'live', 'retired', 'dropped')),
    purpose                text        NOT NULL CHECK (purpose IN ('initial', 'rebuild', 'verify')),
    -- The checkpoint: the read-order pair (tx_id, global_position) of the last event applied.
    -- Advanced only by compare-and-set, in the transaction that writes the read-models.
    checkpoint_tx_id       xid8        NOT NULL DEFAULT '0',
    checkpoint_position    bigint      NOT NULL DEFAULT 0,
    events_applied         bigint      NOT NULL DEFAULT 0 CHECK (events_applied >= 0),
    events_total_estimate  bigint      CHECK (events_total_estimate >= 0),
    last_event_recorded_at timestamptz,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    live_at                timestamptz,
    retired_at             timestamptz,
    dropped_at             timestamptz,
    PRIMARY KEY (name, version)
);

-- At most one live version per projection.
CREATE UNIQUE INDEX projection_versions_one_live ON projection_versions (name) WHERE state = 'live';

ALTER TABLE projections
    ADD CONSTRAINT projections_live_version_fkey
    FOREIGN KEY (name, live_version) REFERENCES projection_versions (name, version);

INSERT INTO projections (name) VALUES ('read_models');

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        GRANT SELECT, INSERT, UPDATE, DELETE ON projections, projection_versions TO payledger_app;
    END IF;
END
$$;
