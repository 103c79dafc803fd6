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
source tests/support/db.sh
source bench/lib.sh
sf_bench_build

sf_bench_work gaps
MY_PORT=${SF_BENCH_MY_PORT:-43393}
PG_PORT=${SF_BENCH_PG_PORT:-45493}
mkdir -p "$WORK/my" "$WORK/pg"
sf_mariadb_start "$WORK/my" $MY_PORT >/dev/null
sf_pg_start "$WORK/pg" $PG_PORT >/dev/null
sf_bench_kafka_start

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
    sf_bench_conf "$WORK/agent.conf" url="$(sf_bench_url "$1")" table="$2" key="gaps-$3" \
        capacity=10000 transactionCapacity=1000 topic="gaps-$3" flumeBatchSize=1000
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
