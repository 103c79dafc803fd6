#!/usr/bin/env bash
# The configuration grid of issue 12, side by side in one run on one mock Kafka cluster: the
# bench/run.sh table (ROWS rows) in PostgreSQL and MariaDB exported by sqlflume (memory channel,
# Kafka sink, format json) with
#   channel capacity 1000 / 10000 / 100000
#   x batch size 100 / 1000 (source batch.size = channel transactionCapacity = sink flumeBatchSize)
#   x max.rows 2000 / 100000
# against the shell pipe of the same database (psql COPY | kcat -P, mariadb --quick | kcat -P),
# REPEAT interleaved rounds, the fastest run of each cell counting. Prints wall time, rows/s,
# peak RSS and the ratio of each cell to the pipe and to the best cell.
#   bash bench/grid.sh [ROWS]          (default 1000000)
# Environment: SF_BENCH_REPEAT (2), SF_BENCH_MY_PORT (43393), SF_BENCH_PG_PORT (45493),
# SF_BENCH_BIN (the sqlflume binary; default build-bench/sqlflume, built Release here),
# SF_BENCH_DBS ("postgresql mysql"), SF_BENCH_FORMAT (json), SF_BENCH_CELLS (the cells to run, as
# "capacity/batch/max.rows ...", default the whole grid).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${1:-1000000}
REPEAT=${SF_BENCH_REPEAT:-2}
MY_PORT=${SF_BENCH_MY_PORT:-43393}
PG_PORT=${SF_BENCH_PG_PORT:-45493}
DBS=${SF_BENCH_DBS:-postgresql mysql}
FORMAT=${SF_BENCH_FORMAT:-json}
source tests/support/db.sh
source bench/lib.sh
sf_bench_build

sf_bench_work grid
sf_bench_kafka_start

COLS="id, name, amount, created, note"
export PGPASSWORD=sqlflume-pw
# shellcheck disable=SC2086 # DBS: a list of words
sf_bench_load_dbs "$ROWS" $DBS
sync

run_agent() { # db capacity batch max.rows -> "wall rss cpu"
    local n
    n=$(($(cat "$WORK/runs" 2>/dev/null || echo 0) + 1))
    echo $n >"$WORK/runs"
    sf_bench_conf "$WORK/agent.conf" url="$(sf_bench_url "$1")" table=bench format="$FORMAT" \
        max.rows="$4" batch.size="$3" key="grid-$n" run.query.delay=60000 capacity="$2" \
        transactionCapacity="$3" topic="grid-$n" flumeBatchSize="$3"
    /usr/bin/python3 bench/measure_agent.py "$BOOTSTRAP" "grid-$n" "$ROWS" -- \
        "$BIN" agent -n a1 -f "$WORK/agent.conf" -Dflume.root.logger=WARN,console
}

declare -A W R
record() { # key "wall rss cpu"
    local w r
    read -r w r _ <<<"$2"
    if [ -z "${W[$1]:-}" ] || awk "BEGIN{exit !($w < ${W[$1]})}"; then W[$1]=$w; R[$1]=$r; fi
}
CELLS=${SF_BENCH_CELLS:-}
if [ -z "$CELLS" ]; then
    for cap in 1000 10000 100000; do for b in 100 1000; do for m in 2000 100000; do CELLS="$CELLS $cap/$b/$m"; done; done; done
fi
for db in $DBS; do
    if [ "$db" = postgresql ]; then
        pipe="psql -h 127.0.0.1 -p $PG_PORT -U sqlflume -d sqlflume_test -X -q -c \"COPY (SELECT $COLS FROM bench ORDER BY id) TO STDOUT\""
    else
        pipe="mariadb -h 127.0.0.1 -P $MY_PORT -u sqlflume -psqlflume-pw sqlflume_test --quick -B -N -e \"SELECT $COLS FROM bench ORDER BY id\""
    fi
    for round in $(seq 1 "$REPEAT"); do
        echo "== $db, round $round"
        sync
        record "$db.pipe" "$(sf_bench_time "$pipe | kcat -P -b $BOOTSTRAP -t pipe-$db")"
        for cell in $CELLS; do
            IFS=/ read -r cap b m <<<"$cell"
            sync
            out=$(run_agent "$db" "$cap" "$b" "$m") || { echo "benchmark run failed: $db $cell" >&2; exit 1; }
            echo "  $cell: $out"
            record "$db.$cell" "$out"
        done
    done
done

printf '\n%s rows, format %s, memory channel, best of %s interleaved rounds, 2-core machine, mock Kafka cluster over TCP\n\n' "$ROWS" "$FORMAT" "$REPEAT"
printf '| database | capacity | batch | max.rows | wall s | rows/s | peak RSS MiB | vs the pipe (wall) | vs the best cell (rows/s) |\n|---|---|---|---|---|---|---|---|---|\n'
for db in $DBS; do
    best=""
    for cell in $CELLS; do
        w=${W[$db.$cell]}
        if [ -z "$best" ] || awk "BEGIN{exit !($w < $best)}"; then best=$w; fi
    done
    awk -v db="$db" -v w="${W[$db.pipe]}" -v r="${R[$db.pipe]}" -v rows="$ROWS" \
        'BEGIN{printf "| %s | the pipe | - | - | %.2f | %.0f | %.1f | 1.00x | - |\n", db, w, rows / w, r / 1024}'
    for cell in $CELLS; do
        IFS=/ read -r cap b m <<<"$cell"
        awk -v db="$db" -v cap="$cap" -v b="$b" -v m="$m" -v w="${W[$db.$cell]}" -v r="${R[$db.$cell]}" \
            -v p="${W[$db.pipe]}" -v best="$best" -v rows="$ROWS" \
            'BEGIN{printf "| %s | %s | %s | %s | %.2f | %.0f | %.1f | %.2fx | %.2f |\n", db, cap, b, m, w, rows / w, r / 1024, w / p, best / w}'
    done
done
echo
echo "targets (issue 12): every cell >= 0.80 of the best cell's rows/s; the best cell <= 1.00x the pipe's wall time; peak RSS <= 64 MiB"
