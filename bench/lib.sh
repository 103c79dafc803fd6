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
    for pid in $BENCH_PIDS; do kill "$pid" 2>/dev/null || true; done
    [ -d "$WORK/pg" ] && sf_pg_stop "$WORK/pg" >/dev/null 2>&1
    [ -d "$WORK/my" ] && sf_mariadb_stop "$WORK/my" >/dev/null 2>&1
    rm -rf "$WORK"
}

# sf_bench_build: install the packages, build build-bench (Release) and set BIN (SF_BENCH_BIN, or
# build-bench/sqlflume) and MOCK (build-bench/mock_kafka: the mock cluster always comes from this
# tree, whichever sqlflume binary is measured). Needs ROOT.
sf_bench_build() {
    bash tests/support/deps.sh
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j"$(nproc)" >/dev/null
    BIN=${SF_BENCH_BIN:-$ROOT/build-bench/sqlflume}
    MOCK=$ROOT/build-bench/mock_kafka
}

# sf_bench_kafka_start [MOCK ARGS...]: start the mock Kafka cluster (one partition per topic, plus
# ARGS, e.g. -t TOPIC) with its output in $WORK, add it to BENCH_PIDS and set BOOTSTRAP once it
# listens (10 s at most, else exit 1).
sf_bench_kafka_start() {
    "$MOCK" -p 1 "$@" >"$WORK/kafka.out" 2>"$WORK/kafka.err" </dev/null &
    BENCH_PIDS="$BENCH_PIDS $!"
    BOOTSTRAP=""
    for _ in $(seq 1 100); do
        BOOTSTRAP=$(sed -n 's/^BOOTSTRAP=//p' "$WORK/kafka.out" | head -1)
        [ -n "$BOOTSTRAP" ] && return 0
        sleep 0.1
    done
    echo "the mock Kafka cluster did not start: $(cat "$WORK/kafka.err")" >&2
    exit 1
}

# sf_bench_my_table PORT ROWS: the MariaDB twin of sf_bench_pg_table (the same rows), its pages
# written out.
sf_bench_my_table() {
    sf_mysql_exec "$1" "CREATE TABLE bench (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(32) NOT NULL,
        amount DECIMAL(12,2) NOT NULL, created TIMESTAMP NOT NULL, note VARCHAR(20) NOT NULL)"
    sf_mysql_exec "$1" "INSERT INTO bench SELECT seq, CONCAT('customer-', seq), (seq % 1000000) / 100,
        FROM_UNIXTIME(1700000000 + seq), LPAD(seq, 20, 'n') FROM seq_1_to_$2"
    sf_mysql_exec "$1" "FLUSH TABLES bench FOR EXPORT; UNLOCK TABLES" >/dev/null
}

# sf_bench_load_dbs ROWS DB...: start each database DB (mysql: MariaDB on MY_PORT in $WORK/my;
# postgresql: on PG_PORT in $WORK/pg) and fill its bench table with ROWS rows.
sf_bench_load_dbs() {
    local rows=$1 db
    shift
    for db in "$@"; do
        echo "loading $rows rows into $db..."
        if [ "$db" = mysql ]; then
            mkdir -p "$WORK/my" && sf_mariadb_start "$WORK/my" "$MY_PORT" >/dev/null
            sf_bench_my_table "$MY_PORT" "$rows"
        else
            mkdir -p "$WORK/pg" && sf_pg_start "$WORK/pg" "$PG_PORT" >/dev/null
            sf_bench_pg_table "$PG_PORT" "$rows"
        fi
    done
}

# sf_bench_url mysql|postgresql: the connection.url of the test database on MY_PORT / PG_PORT.
sf_bench_url() {
    if [ "$1" = mysql ]; then
        echo "mysql://sqlflume:sqlflume-pw@127.0.0.1:$MY_PORT/sqlflume_test"
    else
        echo "postgresql://sqlflume:sqlflume-pw@127.0.0.1:$PG_PORT/sqlflume_test"
    fi
}

# sf_bench_time CMD -> "wall_s rss_kib cpu_s": CMD run by bash under /usr/bin/time (RSS of the
# largest process of the pipeline, CPU of all of them: user + system); its stderr is shown if
# it fails (return 1).
sf_bench_time() {
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" bash -c "$1" >/dev/null 2>"$WORK/cmd.err" || {
        cat "$WORK/cmd.err" >&2
        return 1
    }
    awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$WORK/time"
}

# sf_bench_conf FILE NAME=VALUE...: write the benchmarks' agent a1 (SQL source r1 -> channel c1 ->
# sink k1) to FILE. Names: url, table, key (status.key), and optionally format, max.rows,
# batch.size, run.query.delay (the source's keys), channel (type, default memory), capacity,
# transactionCapacity, sink (kafka, the default, or null), topic, flumeBatchSize (kafka; the
# bootstrap servers are BOOTSTRAP), batchSize (null). A key not given is not written (Flume's
# default applies).
sf_bench_conf() {
    local file=$1 kv k
    shift
    local -A o=([channel]=memory [sink]=kafka)
    for kv in "$@"; do o[${kv%%=*}]=${kv#*=}; done
    {
        printf '%s\n' "a1.sources = r1" "a1.channels = c1" "a1.sinks = k1" "a1.sources.r1.type = sql" \
            "a1.sources.r1.connection.url = ${o[url]}" "a1.sources.r1.table = ${o[table]}" \
            "a1.sources.r1.status.key = ${o[key]}" "a1.sources.r1.channels = c1"
        for k in format max.rows batch.size run.query.delay; do
            [ -z "${o[$k]:-}" ] || echo "a1.sources.r1.$k = ${o[$k]}"
        done
        echo "a1.channels.c1.type = ${o[channel]}"
        for k in capacity transactionCapacity; do
            [ -z "${o[$k]:-}" ] || echo "a1.channels.c1.$k = ${o[$k]}"
        done
        printf '%s\n' "a1.sinks.k1.type = ${o[sink]}" "a1.sinks.k1.channel = c1"
        if [ "${o[sink]}" = kafka ]; then
            printf '%s\n' "a1.sinks.k1.kafka.bootstrap.servers = $BOOTSTRAP" "a1.sinks.k1.kafka.topic = ${o[topic]}"
            [ -z "${o[flumeBatchSize]:-}" ] || echo "a1.sinks.k1.flumeBatchSize = ${o[flumeBatchSize]}"
        fi
        [ -z "${o[batchSize]:-}" ] || echo "a1.sinks.k1.batchSize = ${o[batchSize]}"
    } >"$file"
}
