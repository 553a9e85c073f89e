#!/usr/bin/env bash
# Runs the schema-driven fuzzer (schemathesis, pinned) against a running payledger server and
# fails on any 5xx or any answer that /openapi.json does not describe.
#
#   scripts/schemathesis.sh BASE_URL
#
# Keys come from the environment, one per role, so that each operation is fuzzed as a caller
# allowed to use it: PL_KEY_WRITER, PL_KEY_FINANCE, PL_KEY_AUDITOR, PL_KEY_ADMIN.
# Tuning: SCHEMATHESIS_MAX_EXAMPLES (per operation), SCHEMATHESIS_VENV. Generation is deterministic,
# so a failure reproduces on the next run.
# The venv is made once under target/ and reused while the pinned version matches.
set -euo pipefail

VERSION=4.32.5
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SCHEMATHESIS_VENV:-$ROOT/target/schemathesis-$VERSION}"
ST="$VENV/bin/st"
BASE_URL="${1:?usage: scripts/schemathesis.sh BASE_URL}"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-25}"

install() {
    if [[ -x "$ST" ]] && "$ST" --version 2>/dev/null | grep -qF "$VERSION"; then
        return 0
    fi
    echo "schemathesis.sh: installing schemathesis==$VERSION into $VENV (PyPI)" >&2
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >&2 || ! "$VENV/bin/pip" install --quiet "schemathesis==$VERSION" >&2; then
        rm -rf "$VENV"
        echo "schemathesis.sh: could not install schemathesis==$VERSION with pip (needs python3 with venv" \
            "and access to PyPI); the OpenAPI fuzz test cannot run" >&2
        exit 3
    fi
}

# One run per group of operations: a path regex and the key (empty: no Authorization header).
run_group() {
    local name="$1" paths="$2" key="$3"
    local auth=()
    [[ -n "$key" ]] && auth=(--header "Authorization: Bearer $key")
    echo "== schemathesis: $name ($paths)"
    "$ST" run "$BASE_URL/openapi.json" --url "$BASE_URL" \
        --include-path-regex "$paths" "${auth[@]}" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
        --phases examples,coverage,fuzzing \
        --max-examples "$MAX_EXAMPLES" --generation-deterministic \
        --request-timeout 20 --workers 1 \
        --no-color --warnings off
}

install
# schemathesis keeps its own files in the working directory: keep them under target/.
mkdir -p "$ROOT/target/schemathesis-run" && cd "$ROOT/target/schemathesis-run"
status=0
run_group public '^/(healthz|readyz|metrics|openapi\.json|v1/webhooks/|v1/oauth/)' "" || status=1
run_group writer '^/v1/(orders|payments|refunds|disputes)' "${PL_KEY_WRITER:?}" || status=1
run_group finance '^/v1/(ledger|projections|settlement-reports|reconciliation|jobs)' "${PL_KEY_FINANCE:?}" || status=1
run_group auditor '^/v1/(events|streams|seals)' "${PL_KEY_AUDITOR:?}" || status=1
run_group admin '^/v1/admin/' "${PL_KEY_ADMIN:?}" || status=1
exit "$status"
