#!/usr/bin/env bash
# Incremental latency (issue 12): N single-row inserts into an idle table, one every INTERVAL ms,
# exported by sqlflume (memory channel, Kafka sink, json, run.query.delay = DELAY ms) to the mock
# Kafka cluster; an independent consumer (bench/latency.py) measures, per row, the time from its
# commit (a column the database fills at insert) to the message's arrival. Both databases.
# Prints p50, p90, p99, max and mean in ms; the target is p99 <= run.query.delay + 50 ms.
#   bash bench/latency.sh [N] [INTERVAL_MS] [DELAY_MS]     (defaults 100, 200, 1000)
# Ports: SF_BENCH_MY_PORT (43394), SF_BENCH_PG_PORT (45494). SF_BENCH_BIN: the sqlflume binary.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
N=${1:-100}
INTERVAL=${2:-200}
DELAY=${3:-1000}
MY_PORT=${SF_BENCH_MY_PORT:-43394}
PG_PORT=${SF_BENCH_PG_PORT:-45494}
bash tests/support/deps.sh
if [ -z "${SF_BENCH_BIN:-}" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j"$(nproc)" >/dev/null
    SF_BENCH_BIN=$ROOT/build-bench/sqlflume
fi
BIN=$SF_BENCH_BIN
source tests/support/db.sh
WORK=$(mktemp -d /tmp/sqlflume-latency.XXXXXX)
chmod 755 "$WORK"
KAFKA_PID="" AGENT_PID=""
teardown() {
    [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
    [ -n "$KAFKA_PID" ] && kill "$KAFKA_PID" 2>/dev/null
    sf_mariadb_stop "$WORK/my" >/dev/null 2>&1
    sf_pg_stop "$WORK/pg" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap teardown EXIT
mkdir -p "$WORK/my" "$WORK/pg"
sf_mariadb_start "$WORK/my" "$MY_PORT" >/dev/null
sf_pg_start "$WORK/pg" "$PG_PORT" >/dev/null
"$(dirname "$BIN")/mock_kafka" -p 1 -t lat-postgresql -t lat-mysql >"$WORK/kafka.out" 2>"$WORK/kafka.err" </dev/null &
KAFKA_PID=$!
for _ in $(seq 1 100); do
    BOOTSTRAP=$(sed -n 's/^BOOTSTRAP=//p' "$WORK/kafka.out" | head -1)
    [ -n "$BOOTSTRAP" ] && break
    sleep 0.1
done
sf_mysql_exec "$MY_PORT" "CREATE TABLE lat (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, committed_ms BIGINT NOT NULL, v VARCHAR(20))"
sf_pg_exec "$PG_PORT" "CREATE TABLE lat (id BIGSERIAL PRIMARY KEY, committed_ms BIGINT NOT NULL, v VARCHAR(20))"
export PGPASSWORD=sqlflume-pw

printf '| database | rows | p50 ms | p90 ms | p99 ms | max ms | mean ms | target p99 |\n|---|---|---|---|---|---|---|---|\n' >"$WORK/table"
for db in postgresql mysql; do
    if [ $db = mysql ]; then
        url="mysql://sqlflume:sqlflume-pw@127.0.0.1:$MY_PORT/sqlflume_test"
        ins="mariadb -h 127.0.0.1 -P $MY_PORT -u sqlflume -psqlflume-pw sqlflume_test -e \"INSERT INTO lat (committed_ms, v) VALUES (CAST(UNIX_TIMESTAMP(NOW(6)) * 1000 AS SIGNED), 'x')\""
    else
        url="postgresql://sqlflume:sqlflume-pw@127.0.0.1:$PG_PORT/sqlflume_test"
        ins="psql -h 127.0.0.1 -p $PG_PORT -U sqlflume -d sqlflume_test -X -q -c \"INSERT INTO lat (committed_ms, v) VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint, 'x')\""
    fi
    cat >"$WORK/agent.conf" <<CONF
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = sql
a1.sources.r1.connection.url = $url
a1.sources.r1.table = lat
a1.sources.r1.status.key = lat-$db
a1.sources.r1.run.query.delay = $DELAY
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = kafka
a1.sinks.k1.channel = c1
a1.sinks.k1.kafka.bootstrap.servers = $BOOTSTRAP
a1.sinks.k1.kafka.topic = lat-$db
CONF
    "$BIN" agent -n a1 -f "$WORK/agent.conf" -Dflume.root.logger=WARN,console >"$WORK/agent-$db.log" 2>&1 &
    AGENT_PID=$!
    sleep 2 # connected, first (empty) poll done: the table is idle when the inserts start
    /usr/bin/python3 bench/latency.py "$BOOTSTRAP" "lat-$db" "$N" 300 >"$WORK/lat-$db.out" &
    cons=$!
    sleep 1
    for _ in $(seq 1 "$N"); do
        bash -c "$ins"
        sleep "$(awk -v ms="$INTERVAL" 'BEGIN{printf "%.3f", ms / 1000}')"
    done
    wait $cons || { cat "$WORK/lat-$db.out" "$WORK/agent-$db.log"; exit 1; }
    kill "$AGENT_PID"
    wait "$AGENT_PID" || true
    AGENT_PID=""
    read -r p50 p90 p99 max mean <"$WORK/lat-$db.out"
    [ -z "${SF_BENCH_SHOW:-}" ] || tail -n +2 "$WORK/lat-$db.out" | tr "\n" " "
    echo "$db: p50 $p50 ms, p90 $p90 ms, p99 $p99 ms, max $max ms, mean $mean ms"
    awk -v db=$db -v n="$N" -v a="$p50" -v b="$p90" -v c="$p99" -v d="$max" -v e="$mean" -v t=$((DELAY + 50)) \
        'BEGIN{printf "| %s | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %s |\n", db, n, a, b, c, d, e, (c <= t ? "<= " t " ms: met" : "> " t " ms: missed")}' >>"$WORK/table"
done
printf '\n%s single-row inserts, one every %s ms, run.query.delay = %s ms, memory channel, Kafka sink (mock cluster), from commit to arrival at a consumer\n\n' "$N" "$INTERVAL" "$DELAY"
cat "$WORK/table"
