# Shared by the bench/ scripts (sourced after tests/support/db.sh).

# sf_bench_pg_table PORT ROWS: create and fill the benchmarks' PostgreSQL table bench (bigint id,
# short text, numeric(12,2), timestamp, 20-char note; ROWS rows), analysed and checkpointed so
# that the first runs do not pay for the load's dirty pages.
sf_bench_pg_table() {
    sf_pg_exec "$1" "CREATE TABLE bench (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(32) NOT NULL,
        amount NUMERIC(12,2) NOT NULL, created TIMESTAMP NOT NULL, note VARCHAR(20) NOT NULL)"
    sf_pg_exec "$1" "INSERT INTO bench SELECT g, 'customer-' || g, (g % 1000000) / 100.0,
        to_timestamp(1700000000 + g) AT TIME ZONE 'UTC', lpad(g::text, 20, 'n') FROM generate_series(1, $2) g"
    sf_pg_exec "$1" "VACUUM ANALYZE bench" >/dev/null
    sf_pg_exec "$1" "CHECKPOINT" >/dev/null
}

# sf_bench_work NAME: make the run's directory WORK (/tmp/sqlflume-NAME.XXXXXX, traversable by the
# servers' users) and remove it at exit, after killing the processes listed in BENCH_PIDS and
# stopping the servers started in $WORK/pg and $WORK/my.
sf_bench_work() {
    WORK=$(mktemp -d "/tmp/sqlflume-$1.XXXXXX")
    chmod 755 "$WORK"
    BENCH_PIDS=""
    trap sf_bench_teardown EXIT
}
sf_bench_teardown() {
    local pid
    for pid in $BENCH_PIDS; do kill "$pid" 2>/dev/null; done
    [ -d "$WORK/pg" ] && sf_pg_stop "$WORK/pg" >/dev/null 2>&1
    [ -d "$WORK/my" ] && sf_mariadb_stop "$WORK/my" >/dev/null 2>&1
    rm -rf "$WORK"
}
