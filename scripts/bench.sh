#!/usr/bin/env bash
# The store benchmark: `make bench` builds the release binary, then runs this under
# scripts/pg.sh (which sets DATABASE_URL, starting a throwaway PostgreSQL if needed).
#
#   scripts/bench.sh [ARGS..]    runs `target/release/payledger bench store ARGS..`
#
# ARGS go to `payledger bench store` (see `payledger bench store --help`; e.g. --json).
# The run creates a database of its own on that server, measures for about a minute with
# the defaults (11 phases of 5 s, plus warm-ups), and drops the database.
# PAYLEDGER_BIN overrides the binary.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${PAYLEDGER_BIN:-$ROOT/target/release/payledger}"

if [[ ! -x "$BIN" ]]; then
  echo "payledger: $BIN not found; build it first: cargo build --release --bin payledger (or run make bench)" >&2
  exit 1
fi
if [[ -z "${DATABASE_URL:-}" ]]; then
  echo "payledger: DATABASE_URL is not set; run: scripts/pg.sh with scripts/bench.sh (or make bench)" >&2
  exit 1
fi

echo "bench: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) before the run" >&2
exec "$BIN" bench store "$@"
