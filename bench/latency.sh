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
source tests/support/db.sh
source bench/lib.sh
sf_bench_build

sf_bench_work latency
mkdir -p "$WORK/my" "$WORK/pg"
sf_mariadb_start "$WORK/my" "$MY_PORT" >/dev/null
sf_pg_start "$WORK/pg" "$PG_PORT" >/dev/null
sf_bench_kafka_start -t lat-postgresql -t lat-mysql
sf_mysql_exec "$MY_PORT" "CREATE TABLE lat (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, committed_ms BIGINT NOT NULL, v VARCHAR(20))"
sf_pg_exec "$PG_PORT" "CREATE TABLE lat (id BIGSERIAL PRIMARY KEY, committed_ms BIGINT NOT NULL, v VARCHAR(20))"
export PGPASSWORD=sqlflume-pw

printf '| database | rows | p50 ms | p90 ms | p99 ms | max ms | mean ms | target p99 |\n|---|---|---|---|---|---|---|---|\n' >"$WORK/table"
for db in postgresql mysql; do
    if [ $db = mysql ]; then
        ins="mariadb -h 127.0.0.1 -P $MY_PORT -u sqlflume -psqlflume-pw sqlflume_test -e \"INSERT INTO lat (committed_ms, v) VALUES (CAST(UNIX_TIMESTAMP(NOW(6)) * 1000 AS SIGNED), 'x')\""
    else
        ins="psql -h 127.0.0.1 -p $PG_PORT -U sqlflume -d sqlflume_test -X -q -c \"INSERT INTO lat (committed_ms, v) VALUES ((extract(epoch FROM clock_timestamp()) * 1000)::bigint, 'x')\""
    fi
    sf_bench_conf "$WORK/agent.conf" url="$(sf_bench_url $db)" table=lat key="lat-$db" \
        run.query.delay="$DELAY" topic="lat-$db"
    "$BIN" agent -n a1 -f "$WORK/agent.conf" -Dflume.root.logger=WARN,console >"$WORK/agent-$db.log" 2>&1 &
    AGENT_PID=$!
    BENCH_PIDS="$BENCH_PIDS $AGENT_PID"
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
