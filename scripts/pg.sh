#!/usr/bin/env bash
# Throwaway local PostgreSQL for development and tests.
#
#   scripts/pg.sh start      start the cluster under target/pg (if not running); print its URL
#   scripts/pg.sh stop       stop it
#   scripts/pg.sh url        print its URL
#   scripts/pg.sh reset      drop and recreate the local database (all its data is lost)
#   scripts/pg.sh with [--dev] CMD..
#                            run CMD with DATABASE_URL set. If DATABASE_URL is already set it is
#                            used as is. Otherwise the local cluster is started, and stopped
#                            when CMD ends (however it ends) if this call started it. With --dev,
#                            `--dev` is appended to CMD only when the local cluster is used, so
#                            a dev tenant is never created in a database given by DATABASE_URL.
#                            SIGTERM, SIGINT and SIGHUP are passed on to CMD, which is waited for.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Absolute: the server resolves the socket directory from its own working directory.
PG_HOME="$(realpath -m "${PAYLEDGER_PG_HOME:-$ROOT/target/pg}")"
PG_DATA="$PG_HOME/data"
PG_PORT_FILE="$PG_HOME/port"
PG_DEFAULT_PORT="${PAYLEDGER_PG_PORT:-54329}"
PG_DATABASE="payledger"

pg_port() {
  if [[ -f "$PG_PORT_FILE" ]]; then cat "$PG_PORT_FILE"; else echo "$PG_DEFAULT_PORT"; fi
}

pg_url() {
  echo "postgres://postgres@127.0.0.1:$(pg_port)/$PG_DATABASE"
}

port_is_free() {
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# The default port, or the next free one when something else listens there.
choose_port() {
  local port="$PG_DEFAULT_PORT" tries=0
  while ! port_is_free "$port"; do
    port=$((port + 1)); tries=$((tries + 1))
    if (( tries > 50 )); then echo "payledger: no free port from $PG_DEFAULT_PORT" >&2; exit 1; fi
  done
  echo "$port"
}

# Dev mode's master key (docs/SECRETS.md), unless one is given: made once under target/,
# readable by this user only, and kept so later starts open the secrets it sealed.
DEV_MASTER_KEY_FILE="${PAYLEDGER_DEV_MASTER_KEY_FILE:-target/dev-master-key}"
use_dev_master_key() {
  if [[ -n "${PAYLEDGER_MASTER_KEY:-}" || -n "${PAYLEDGER_MASTER_KEY_FILE:-}" ]]; then return 0; fi
  if [[ ! -s "$DEV_MASTER_KEY_FILE" ]]; then
    mkdir -p "$(dirname "$DEV_MASTER_KEY_FILE")"
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$DEV_MASTER_KEY_FILE" && echo >> "$DEV_MASTER_KEY_FILE")
    echo "payledger: development master key written to $DEV_MASTER_KEY_FILE (not for production)" >&2
  fi
  export PAYLEDGER_MASTER_KEY_FILE="$DEV_MASTER_KEY_FILE"
}

find_bindir() {
  if command -v pg_config >/dev/null 2>&1; then
    local d; d="$(pg_config --bindir 2>/dev/null || true)"
    if [[ -x "$d/initdb" ]]; then echo "$d"; return 0; fi
  fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) /usr/local/pgsql/bin /usr/bin; do
    if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then echo "$d"; return 0; fi
  done
  echo "payledger: PostgreSQL server binaries (initdb, pg_ctl) not found." >&2
  echo "  Install them, e.g.:  apt-get install postgresql   (Debian/Ubuntu)" >&2
  echo "  or set DATABASE_URL to an existing PostgreSQL server." >&2
  exit 1
}

# initdb and postgres refuse to run as root: run them as the postgres system user then.
as_pg() {
  if [[ "$(id -u)" == "0" ]]; then
    if ! id postgres >/dev/null 2>&1; then
      echo "payledger: running as root and there is no 'postgres' user to run the server as." >&2
      echo "  Create one (useradd --system postgres) or set DATABASE_URL." >&2
      exit 1
    fi
    if command -v runuser >/dev/null 2>&1; then runuser -u postgres -- "$@"; else su postgres -s /bin/sh -c "$(printf '%q ' "$@")"; fi
  else
    "$@"
  fi
}

is_running() {
  [[ -f "$PG_DATA/postmaster.pid" ]] && as_pg "$BINDIR/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

start() {
  BINDIR="$(find_bindir)"
  if is_running; then return 1; fi
  mkdir -p "$PG_HOME"
  if [[ "$(id -u)" == "0" ]]; then chown postgres "$PG_HOME"; fi
  local port; port="$(choose_port)"
  echo "$port" > "$PG_PORT_FILE"
  if [[ ! -f "$PG_DATA/PG_VERSION" ]]; then
    as_pg "$BINDIR/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$PG_HOME/initdb.log" 2>&1 \
      || as_pg "$BINDIR/initdb" -D "$PG_DATA" -U postgres --auth=trust --encoding=UTF8 --no-locale >"$PG_HOME/initdb.log" 2>&1 \
      || { echo "payledger: initdb failed, see $PG_HOME/initdb.log" >&2; cat "$PG_HOME/initdb.log" >&2; exit 1; }
  fi
  # From here on the cluster is ours to stop, even if a signal cuts this function short.
  STARTED=1
  # Loopback only, its own port, socket in the data dir; sized for a parallel test suite.
  as_pg "$BINDIR/pg_ctl" -D "$PG_DATA" -l "$PG_HOME/server.log" -w -t 60 start \
    -o "-h 127.0.0.1 -p $port -k $PG_DATA -c max_connections=500 -c shared_buffers=256MB -c fsync=${PAYLEDGER_PG_FSYNC:-on} -c synchronous_commit=${PAYLEDGER_PG_SYNC_COMMIT:-on}" >/dev/null \
    || { echo "payledger: PostgreSQL failed to start, see $PG_HOME/server.log" >&2; tail -20 "$PG_HOME/server.log" >&2; exit 1; }
  return 0
}

# The application's database on the cluster (tests create theirs beside it).
ensure_database() {
  BINDIR="$(find_bindir)"
  local admin="postgres://postgres@127.0.0.1:$(pg_port)/postgres"
  if ! "$BINDIR/psql" -X -q "$admin" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DATABASE'" | grep -q 1; then
    "$BINDIR/psql" -X -q "$admin" -c "CREATE DATABASE $PG_DATABASE" >/dev/null
  fi
}

stop() {
  BINDIR="${BINDIR:-$(find_bindir)}"
  if is_running; then as_pg "$BINDIR/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null; fi
}

reset_database() {
  local admin="postgres://postgres@127.0.0.1:$(pg_port)/postgres"
  "$BINDIR/psql" -X -q "$admin" -c "DROP DATABASE IF EXISTS $PG_DATABASE WITH (FORCE)" >/dev/null
  ensure_database
}

# The URL without its password, for messages.
redacted() {
  sed -E 's#(://[^:/@]+):[^@/]*@#\1:***@#' <<<"$1"
}

pass_on() {
  GOT_SIGNAL=1
  kill -"$1" -- -"$CHILD" 2>/dev/null || true
}

# Runs CMD in its own process group, passes SIGTERM/SIGINT/SIGHUP/SIGQUIT on to that group
# and waits for CMD to end; returns CMD's status.
run_child() {
  set -m
  "$@" &
  CHILD=$!
  set +m
  trap 'pass_on TERM' TERM
  trap 'pass_on INT' INT
  trap 'pass_on HUP' HUP
  trap 'pass_on QUIT' QUIT
  local status=0 before
  while :; do
    GOT_SIGNAL=0; before=$status
    status=0; wait "$CHILD" || status=$?
    # A trapped signal ends `wait` early, with 128+signal: wait again for CMD's own status
    # (127 then means CMD had ended just before the signal: its status was the one before).
    if [[ $GOT_SIGNAL == 0 ]]; then break; fi
  done
  if [[ $status == 127 ]] && (( before < 128 )); then status=$before; fi
  return "$status"
}

# On exit, however it comes: end CMD if it still runs (it must not outlive its database),
# then stop the cluster if this call started it.
cleanup() {
  local status=$?
  set +e
  if [[ -n "${CHILD:-}" ]] && kill -0 "$CHILD" 2>/dev/null; then
    kill -TERM -- -"$CHILD" 2>/dev/null
    for _ in $(seq 100); do kill -0 "$CHILD" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- -"$CHILD" 2>/dev/null
  fi
  if [[ "${STARTED:-0}" == 1 ]]; then stop; fi
  exit "$status"
}

cmd="${1:-}"; shift || true
# Checked here, at top level, so that a missing install stops the script with its hint
# (inside `if start` below, `set -e` would not stop it).
if [[ "$cmd" == "start" || "$cmd" == "reset" || ( "$cmd" == "with" && -z "${DATABASE_URL:-}" ) ]]; then
  BINDIR="$(find_bindir)"
fi
case "$cmd" in
  start) start || true; ensure_database; pg_url ;;
  stop) stop ;;
  url) pg_url ;;
  reset)
    if ! is_running; then echo "payledger: the local cluster is not running; start it with: make db" >&2; exit 1; fi
    reset_database
    echo "payledger: database $PG_DATABASE dropped and created again at $(pg_url)" >&2
    ;;
  with)
    dev=0
    if [[ "${1:-}" == "--dev" ]]; then dev=1; shift; fi
    if [[ $# == 0 ]]; then echo "usage: scripts/pg.sh with [--dev] CMD..." >&2; exit 2; fi
    if [[ -n "${DATABASE_URL:-}" ]]; then
      echo "payledger: PostgreSQL at $(redacted "$DATABASE_URL") (from DATABASE_URL)" >&2
      if [[ $dev == 1 ]]; then
        echo "payledger: DATABASE_URL is set, so no dev mode: no dev tenant or keys are created" >&2
      fi
      exec "$@"
    fi
    STARTED=0
    trap cleanup EXIT
    # A signal before CMD runs: exit, and the EXIT trap stops what was started.
    trap 'exit 143' TERM; trap 'exit 130' INT; trap 'exit 129' HUP; trap 'exit 131' QUIT
    # Any other ending signal: exit too, so that the EXIT trap ends CMD and the cluster.
    trap 'exit 138' USR1; trap 'exit 140' USR2; trap 'exit 141' PIPE
    start || true
    ensure_database
    if [[ $dev == 1 ]]; then
      set -- "$@" --dev
      use_dev_master_key
    fi
    if [[ $STARTED == 1 ]]; then how="stopped when this command ends"; else how="already running; left running"; fi
    echo "payledger: PostgreSQL at $(pg_url) (local cluster under $PG_HOME, $how)" >&2
    export DATABASE_URL; DATABASE_URL="$(pg_url)"
    run_child "$@"
    ;;
  *) echo "usage: scripts/pg.sh start|stop|url|reset|with [--dev] CMD..." >&2; exit 2 ;;
esac
