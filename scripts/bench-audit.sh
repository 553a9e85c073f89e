#!/usr/bin/env bash
# Verification rate of the audit trail (issue #16): generates EVENTS events with the rebuild
# benchmark's generator (kept), seals them, then times `payledger verify --chains-only` and
# `payledger audit export` + `python3 tools/verify_export.py` with /usr/bin/time -v (peak RSS).
# Usage: DATABASE_URL=postgres://.../postgres scripts/bench-audit.sh [EVENTS]   (release binaries)
set -euo pipefail
events=${1:-1000000}
bin=target/release
out=target/bench/audit
mkdir -p "$out"
admin_url=${DATABASE_URL:?set DATABASE_URL to the server (any database)}
RUST_LOG=info "$bin/payledger-bench" rebuild --events "$events" --keep-database --json-file "$out/generate-$events.json" \
    2> "$out/generate-$events.log"
db=$(grep -o 'payledger_bench_[0-9a-f]*' "$out/generate-$events.log" | head -1)
url="${admin_url%/*}/$db"
echo "database $db"
tenant=$(psql -XAtq "$url" -c "SELECT tenant_id FROM events LIMIT 1")
psql -XAtq "$url" -c "INSERT INTO tenants (tenant_id, name) VALUES ('$tenant', 'bench') ON CONFLICT DO NOTHING"
timed() { # name, command...
    local name=$1; shift
    /usr/bin/time -v "$@" > "$out/$name-$events.out" 2> "$out/$name-$events.time" || true
    local wall rss
    wall=$(grep 'Elapsed (wall clock)' "$out/$name-$events.time" | awk '{print $NF}')
    rss=$(grep 'Maximum resident set size' "$out/$name-$events.time" | awk '{print $NF}')
    echo "$name: wall $wall, peak RSS $((rss / 1024)) MiB"
}
DATABASE_URL=$url timed seal "$bin/payledger" audit seal --every-events 10000
DATABASE_URL=$url timed verify "$bin/payledger" verify --chains-only
DATABASE_URL=$url timed export "$bin/payledger" audit export --tenant bench --output "$out/export-$events.ndjson"
timed script python3 tools/verify_export.py "$out/export-$events.ndjson" --json
grep -o '"intact": [a-z]*' "$out/script-$events.out" || true
psql -XAtq "$admin_url" -c "DROP DATABASE $db WITH (FORCE)"
rm -f "$out/export-$events.ndjson"
