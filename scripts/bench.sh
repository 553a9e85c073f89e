#!/usr/bin/env bash
# The benchmark set: `make bench` builds the release binary, then runs this under
# scripts/pg.sh (which sets DATABASE_URL, starting a throwaway PostgreSQL if needed).
#
#   scripts/bench.sh                 runs store, api, rebuild, settlement and stream with their defaults
#   scripts/bench.sh store|api|rebuild|settlement|stream [ARGS..]   runs one, ARGS going to `payledger-bench <name>`
#
# Each benchmark creates a database of its own on that server and drops it. Reports are
# printed as text and written as JSON to target/bench/<name>.json (BENCH_OUT overrides the
# directory). The defaults take about 6 minutes on 2 CPUs (release, quiet machine): store
# ~80 s, api ~80 s, rebuild of 200 000 events ~30 s, settlement (100 000 lines) ~100 s,
# stream ~25 s. The exit status is non-zero if any benchmark failed,
# including the API benchmark's exactly-once / verify check and the settlement benchmark's
# reconciliation check; the others still run.
# PAYLEDGER_BENCH_BIN overrides the binary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PAYLEDGER_BENCH_BIN:-$ROOT/target/release/payledger-bench}"
OUT="${BENCH_OUT:-$ROOT/target/bench}"

if [[ ! -x "$BIN" ]]; then
  echo "payledger: $BIN not found; build it first: cargo build --release -p payledger-bench (or run make bench)" >&2
  exit 1
fi
if [[ -z "${DATABASE_URL:-}" ]]; then
  echo "payledger: DATABASE_URL is not set; run: scripts/pg.sh with scripts/bench.sh (or make bench)" >&2
  exit 1
fi
mkdir -p "$OUT"

run_one() {
  local name="$1"; shift
  echo "bench $name: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" >&2
  if "$BIN" "$name" --json-file "$OUT/$name.json" "$@"; then
    echo "bench $name: report in $OUT/$name.json" >&2
    return 0
  fi
  echo "bench $name: FAILED" >&2
  return 1
}

case "${1:-all}" in
  store|api|rebuild|settlement|stream)
    name="$1"; shift
    run_one "$name" "$@"
    ;;
  all)
    failed=()
    for name in store api rebuild settlement stream; do
      run_one "$name" || failed+=("$name")
      echo
    done
    if (( ${#failed[@]} > 0 )); then
      echo "bench: failed: ${failed[*]}" >&2
      exit 1
    fi
    ;;
  *)
    echo "usage: scripts/bench.sh [store|api|rebuild|settlement|stream [ARGS..]]" >&2
    exit 2
    ;;
esac
