-- Jobs: work that outlasts a request, run by any server process (docs/JOBS.md).
-- A process claims a job with FOR UPDATE SKIP LOCKED and holds it by a lease it renews
-- while the work runs; a job whose lease expired is claimed again by another process.
CREATE TABLE jobs (
    job_id              uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (tenant_id),
    kind                text NOT NULL CHECK (kind IN
                            ('projection_rebuild', 'projection_verify', 'settlement_import', 'webhook_reprocess')),
    status              text NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    params              jsonb NOT NULL,
    -- A settlement report's bytes until the job has imported it.
    input               bytea,
    requested_by        text NOT NULL,
    progress_done       bigint NOT NULL DEFAULT 0 CHECK (progress_done >= 0),
    progress_total      bigint CHECK (progress_total >= 0),
    result              jsonb,
    error               jsonb,
    -- Claims so far; past the runner's limit a job whose processes keep dying fails.
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_owner         uuid,
    lease_expires_at    timestamptz,
    cancel_requested_by text,
    run_after           timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    finished_at         timestamptz,
    CHECK ((status = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL)),
    CHECK ((status IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL))
);

-- The claim's scan: only unfinished jobs.
CREATE INDEX jobs_unfinished ON jobs (run_after, created_at) WHERE status IN ('queued', 'running');
CREATE INDEX jobs_by_tenant ON jobs (tenant_id, created_at DESC, job_id DESC);
-- One rebuild per tenant at a time.
CREATE UNIQUE INDEX jobs_one_rebuild_per_tenant ON jobs (tenant_id)
    WHERE kind = 'projection_rebuild' AND status IN ('queued', 'running');

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'payledger_app') THEN
        GRANT SELECT, INSERT, UPDATE ON jobs TO payledger_app;
    END IF;
END
$$;
