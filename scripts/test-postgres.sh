#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster on loopback for the tests of
# store/postgres and prints the URL to use as APPTBRIDGE_TEST_POSTGRES.
#
#   eval "$(scripts/test-postgres.sh start)"   # exports APPTBRIDGE_TEST_POSTGRES
#   scripts/test-postgres.sh stop
#
# It needs Debian's server binaries (apt-get install postgresql) and runs
# the server as the postgres user when started as root. Durable settings
# (fsync on) as in production; each test uses its own schema.
set -euo pipefail
DIR="${APPTBRIDGE_PG_DIR:-/tmp/apptbridge-pg}"
PORT="${APPTBRIDGE_PG_PORT:-55432}"
BIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
[ -x "$BIN/pg_ctl" ] || { echo "test-postgres: PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

case "${1:-start}" in
start)
  if [ ! -f "$DIR/PG_VERSION" ]; then
    mkdir -p "$DIR"
    [ "$(id -u)" = 0 ] && chown postgres "$DIR"
    as_pg "'$BIN/initdb' -D '$DIR' -A trust -U postgres -E UTF8 --locale=C.UTF-8" >/dev/null
  fi
  if ! as_pg "'$BIN/pg_ctl' -D '$DIR' status" >/dev/null 2>&1; then
    as_pg "'$BIN/pg_ctl' -D '$DIR' -l '$DIR/server.log' -w -o \"-c listen_addresses=127.0.0.1 -p $PORT -k /tmp -c max_connections=300\" start" >/dev/null
  fi
  echo "export APPTBRIDGE_TEST_POSTGRES='postgres://postgres@127.0.0.1:$PORT/postgres?sslmode=disable'"
  ;;
stop)
  as_pg "'$BIN/pg_ctl' -D '$DIR' -m fast stop" >/dev/null 2>&1 || true
  ;;
*)
  echo "usage: $0 start|stop" >&2; exit 2
  ;;
esac
