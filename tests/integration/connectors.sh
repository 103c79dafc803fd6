#!/usr/bin/env bash
# Runs the connector integration tests (test_connectors) against a throwaway MariaDB and
# PostgreSQL server started in a temporary directory with tests/support/db.sh; the servers and
# the directory are always removed on exit (kept, with the server logs, when a test failed or
# SF_KEEP_WORK is set).
#
# Usage: tests/integration/connectors.sh [path/to/test_connectors]
# Environment: SF_BUILD (build directory, default build), SF_TIME_MULT (timeout multiplier),
#              SF_MYSQL_PORT / SF_PG_PORT (default 43301 / 43302).
set -u
SF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${1:-${SF_BUILD:-$SF_ROOT/build}/test_connectors}
MY_PORT=${SF_MYSQL_PORT:-43301}
PG_PORT=${SF_PG_PORT:-43302}
# shellcheck source=../support/db.sh
source "$SF_ROOT/tests/support/db.sh"

if [ ! -x "$BIN" ]; then
    echo "connectors.sh: test binary $BIN not found (build the test_connectors target)" >&2
    exit 2
fi

WORK=$(mktemp -d /tmp/sqlflume-conn.XXXXXX)
chmod 755 "$WORK" # the postgres user must reach its data directory inside
RC=1
# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    sf_mariadb_stop "$WORK/mysql" >/dev/null 2>&1 || sf_mariadb_kill "$WORK/mysql"
    sf_pg_stop "$WORK/pg" >/dev/null 2>&1 || sf_pg_kill "$WORK/pg"
    if [ "$RC" -eq 0 ] && [ -z "${SF_KEEP_WORK:-}" ]; then
        rm -rf "$WORK"
    else
        echo "connectors.sh: work directory kept: $WORK" >&2
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

sf_mariadb_start "$WORK/mysql" "$MY_PORT" || exit 1
sf_pg_start "$WORK/pg" "$PG_PORT" || exit 1

export SF_MYSQL_URL="mysql://$SF_DB_USER:$SF_DB_PASSWORD@127.0.0.1:$MY_PORT/$SF_DB_NAME"
export SF_PG_URL="postgresql://$SF_DB_USER:$SF_DB_PASSWORD@127.0.0.1:$PG_PORT/$SF_DB_NAME"
"$BIN"
RC=$?
exit $RC
