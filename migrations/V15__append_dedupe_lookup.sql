-- payledger_append as in V12, with the dedupe check as one equality lookup per key.
-- PostgreSQL re-planned V12's join over unnest(p_dedupe_keys) on every call (its generic
-- plan looked costlier than a custom one), about a quarter of a webhook receipt's time in
-- the database (BENCHMARKS.md, issue #15). Same arguments, same result, same errors.
CREATE OR REPLACE FUNCTION payledger_append(
    p_tenants uuid[], p_streams text[], p_expected bigint[], p_stream_of integer[],
    p_event_ids uuid[], p_types text[], p_schema_versions integer[],
    p_payloads jsonb[], p_metadatas jsonb[], p_dedupe_keys text[],
    p_recorded_at timestamptz, p_notify boolean)
RETURNS TABLE (event_id uuid, stream_id text, stream_version bigint, global_position bigint, tx_id text)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    micros  bigint := (extract(epoch FROM p_recorded_at) * 1000000)::bigint;
    head_v  bigint[];
    head_h  bytea[];
    vers    bigint[];
    prevs   bytea[];
    hashes  bytea[];
    v       bigint;
    h       bytea;
    dup     text;
    i       integer;
    canon   text;
BEGIN
    -- In a stable order (as StreamKey sorts), so two appends cannot deadlock on each other.
    FOR i IN SELECT s.n FROM unnest(p_tenants, p_streams, p_expected) WITH ORDINALITY AS s(t, s, x, n)
             WHERE s.x = 0 ORDER BY s.t, s.s COLLATE "C" LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended(p_tenants[i]::text || '/' || p_streams[i], 0));
    END LOOP;

    FOR i IN 1 .. cardinality(p_streams) LOOP
        v := NULL;
        h := NULL;
        SELECT e.stream_version, e.hash INTO v, h FROM events e
        WHERE e.tenant_id = p_tenants[i] AND e.stream_id = p_streams[i]
        ORDER BY e.stream_version DESC LIMIT 1;
        IF (p_expected[i] = -1 AND v IS NOT NULL) OR (p_expected[i] > 0 AND v IS DISTINCT FROM p_expected[i]) THEN
            RAISE EXCEPTION 'stream % is at version %', p_streams[i], v
                USING ERRCODE = 'PLV01', DETAIL = i::text, HINT = coalesce(v::text, '');
        END IF;
        head_v[i] := coalesce(v, 0);
        head_h[i] := coalesce(h, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    END LOOP;

    -- One equality lookup per key: its generic plan is the unique index's, so it is
    -- planned once per session (the join over unnest was re-planned on every call).
    FOR j IN 1 .. cardinality(p_event_ids) LOOP
        CONTINUE WHEN p_dedupe_keys[j] IS NULL;
        dup := NULL;
        SELECT e.dedupe_key INTO dup FROM events e
        WHERE e.tenant_id = p_tenants[p_stream_of[j]] AND e.dedupe_key = p_dedupe_keys[j];
        IF dup IS NOT NULL THEN
            RAISE EXCEPTION 'dedupe key % was already recorded', dup USING ERRCODE = 'PLD01', DETAIL = dup;
        END IF;
    END LOOP;

    FOR j IN 1 .. cardinality(p_event_ids) LOOP
        i := p_stream_of[j];
        v := head_v[i] + 1;
        canon := '[' || to_json(p_tenants[i]::text)::text || ',' || to_json(p_streams[i])::text || ',' || v
            || ',' || to_json(p_event_ids[j]::text)::text || ',' || to_json(p_types[j])::text
            || ',' || p_schema_versions[j] || ',' || micros
            || ',' || coalesce(to_json(p_dedupe_keys[j])::text, 'null')
            || ',' || p_payloads[j]::text || ',' || p_metadatas[j]::text || ']';
        vers[j] := v;
        prevs[j] := head_h[i];
        hashes[j] := sha256(head_h[i] || convert_to(canon, 'UTF8'));
        head_v[i] := v;
        head_h[i] := hashes[j];
    END LOOP;

    IF p_notify THEN
        PERFORM pg_notify('payledger_events', '');
    END IF;

    RETURN QUERY
    INSERT INTO events AS e (event_id, tenant_id, stream_id, stream_version, event_type, schema_version,
                             payload, metadata, recorded_at, dedupe_key, prev_hash, hash)
    SELECT u.e, p_tenants[u.i], p_streams[u.i], u.v, u.ty, u.sv, u.p, u.m, p_recorded_at, u.d, u.ph, u.h
    FROM unnest(p_stream_of, p_event_ids, p_types, p_schema_versions, p_payloads, p_metadatas, p_dedupe_keys,
                vers, prevs, hashes) AS u(i, e, ty, sv, p, m, d, v, ph, h)
    RETURNING e.event_id, e.stream_id, e.stream_version, e.global_position, e.tx_id::text;
END
$$;
