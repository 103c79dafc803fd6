#!/usr/bin/env bash
# Gap tracking's cost, side by side in one run: the same export (memory channel, Kafka sink on
# the mock cluster, json, default max.rows and batch sizes) of
#   (g) a ROWS-row table without holes (ids 1..ROWS), and
#   (h) a ROWS-row table with every third id deleted (ids 1..1.5 x ROWS, a hole after every
#       second row: a range of missing ids opened per two rows),
# in MariaDB and PostgreSQL, interleaved REPEAT times. Prints the best wall times, the ratio h/g
# (target <= 1.2x) and the WARN lines each run wrote (target: a handful).
#   bash bench/gaps.sh [ROWS]        (default 100000)
# Ports: SF_BENCH_MY_PORT (43393), SF_BENCH_PG_PORT (45493).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${1:-100000}
REPEAT=${SF_BENCH_REPEAT:-3}
bash tests/support/deps.sh
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" >/dev/null
BIN=$ROOT/build-bench/sqlflume
source tests/support/db.sh

WORK=$(mktemp -d /tmp/sqlflume-gaps.XXXXXX)
chmod 755 "$WORK"
MY_PORT=${SF_BENCH_MY_PORT:-43393}
PG_PORT=${SF_BENCH_PG_PORT:-45493}
KAFKA_PID=""
teardown() {
    [ -n "$KAFKA_PID" ] && kill "$KAFKA_PID" 2>/dev/null
    sf_mariadb_stop "$WORK/my" >/dev/null 2>&1
    sf_pg_stop "$WORK/pg" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap teardown EXIT
mkdir -p "$WORK/my" "$WORK/pg"
sf_mariadb_start "$WORK/my" $MY_PORT >/dev/null
sf_pg_start "$WORK/pg" $PG_PORT >/dev/null
"$ROOT/build-bench/mock_kafka" -p 1 >"$WORK/kafka.out" 2>"$WORK/kafka.err" </dev/null &
KAFKA_PID=$!
for _ in $(seq 1 100); do
    BOOTSTRAP=$(sed -n 's/^BOOTSTRAP=//p' "$WORK/kafka.out" | head -1)
    [ -n "$BOOTSTRAP" ] && break
    sleep 0.1
done

HOLEY=$((ROWS * 3 / 2))
echo "loading $ROWS rows into each table..."
for t in dense holey; do
    sf_mysql_exec $MY_PORT "CREATE TABLE $t (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(32) NOT NULL, note VARCHAR(20) NOT NULL)"
    sf_pg_exec $PG_PORT "CREATE TABLE $t (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(32) NOT NULL, note VARCHAR(20) NOT NULL)"
done
sf_mysql_exec $MY_PORT "INSERT INTO dense SELECT seq, CONCAT('customer-', seq), LPAD(seq, 20, 'n') FROM seq_1_to_$ROWS"
sf_mysql_exec $MY_PORT "INSERT INTO holey SELECT seq, CONCAT('customer-', seq), LPAD(seq, 20, 'n') FROM seq_1_to_$HOLEY WHERE seq % 3 <> 0"
sf_pg_exec $PG_PORT "INSERT INTO dense SELECT g, 'customer-' || g, lpad(g::text, 20, 'n') FROM generate_series(1, $ROWS) g"
sf_pg_exec $PG_PORT "INSERT INTO holey SELECT g, 'customer-' || g, lpad(g::text, 20, 'n') FROM generate_series(1, $HOLEY) g WHERE g % 3 <> 0"
for t in dense holey; do sf_pg_exec $PG_PORT "VACUUM ANALYZE $t" >/dev/null; done
sf_pg_exec $PG_PORT "CHECKPOINT" >/dev/null
sf_mysql_exec $MY_PORT "FLUSH TABLES dense, holey FOR EXPORT; UNLOCK TABLES" >/dev/null
sync

run_agent() { # db table n -> "wall rss cpu warns"
    local url
    if [ "$1" = mysql ]; then url="mysql://sqlflume:sqlflume-pw@127.0.0.1:$MY_PORT/sqlflume_test"; else url="postgresql://sqlflume:sqlflume-pw@127.0.0.1:$PG_PORT/sqlflume_test"; fi
    cat >"$WORK/agent.conf" <<EOF
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = sql
a1.sources.r1.connection.url = $url
a1.sources.r1.table = $2
a1.sources.r1.status.key = gaps-$3
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = 10000
a1.channels.c1.transactionCapacity = 1000
a1.sinks.k1.type = kafka
a1.sinks.k1.channel = c1
a1.sinks.k1.kafka.bootstrap.servers = $BOOTSTRAP
a1.sinks.k1.kafka.topic = gaps-$3
a1.sinks.k1.flumeBatchSize = 1000
EOF
    local out
    out=$(/usr/bin/python3 bench/measure_agent.py "$BOOTSTRAP" "gaps-$3" "$ROWS" -- \
        "$BIN" agent -n a1 -f "$WORK/agent.conf" -Dflume.root.logger=WARN,console 2>"$WORK/agent-$3.log")
    echo "$out $(grep -c WARN "$WORK/agent-$3.log" || true)"
}

declare -A W WARNS
n=0
for db in postgresql mysql; do
    for _ in $(seq 1 "$REPEAT"); do
        for t in dense holey; do
            n=$((n + 1))
            sync
            read -r w _ _ warns <<<"$(run_agent $db $t $n)"
            echo "  $db $t: ${w}s, $warns WARN line(s)"
            if [ -z "${W[$db.$t]:-}" ] || awk "BEGIN{exit !($w < ${W[$db.$t]})}"; then W[$db.$t]=$w; fi
            WARNS[$db.$t]=$warns
        done
    done
done
printf '\n%s rows per table, best of %s interleaved runs\n\n' "$ROWS" "$REPEAT"
printf '| database | (g) no holes, s | (h) every third id deleted, s | h / g | WARN lines (h) |\n|---|---|---|---|---|\n'
for db in postgresql mysql; do
    awk -v db=$db -v g="${W[$db.dense]}" -v h="${W[$db.holey]}" -v wn="${WARNS[$db.holey]}" \
        'BEGIN{printf "| %s | %.2f | %.2f | %.2fx | %s |\n", db, g, h, h / g, wn}'
done
echo
echo "targets: h / g <= 1.2x, a handful of WARN lines"
