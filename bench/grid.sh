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
bash tests/support/deps.sh
if [ -z "${SF_BENCH_BIN:-}" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j"$(nproc)" >/dev/null
    SF_BENCH_BIN=$ROOT/build-bench/sqlflume
fi
BIN=$SF_BENCH_BIN
source tests/support/db.sh
source bench/lib.sh

WORK=$(mktemp -d /tmp/sqlflume-grid.XXXXXX)
chmod 755 "$WORK"
KAFKA_PID=""
teardown() {
    [ -n "$KAFKA_PID" ] && kill "$KAFKA_PID" 2>/dev/null
    sf_mariadb_stop "$WORK/my" >/dev/null 2>&1
    sf_pg_stop "$WORK/pg" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap teardown EXIT
"$(dirname "$BIN")/mock_kafka" -p 1 >"$WORK/kafka.out" 2>"$WORK/kafka.err" </dev/null &
KAFKA_PID=$!
for _ in $(seq 1 100); do
    BOOTSTRAP=$(sed -n 's/^BOOTSTRAP=//p' "$WORK/kafka.out" | head -1)
    [ -n "$BOOTSTRAP" ] && break
    sleep 0.1
done

COLS="id, name, amount, created, note"
export PGPASSWORD=sqlflume-pw
for db in $DBS; do
    echo "loading $ROWS rows into $db..."
    if [ "$db" = mysql ]; then
        mkdir -p "$WORK/my" && sf_mariadb_start "$WORK/my" "$MY_PORT" >/dev/null
        sf_mysql_exec "$MY_PORT" "CREATE TABLE bench (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(32) NOT NULL,
            amount DECIMAL(12,2) NOT NULL, created TIMESTAMP NOT NULL, note VARCHAR(20) NOT NULL)"
        sf_mysql_exec "$MY_PORT" "INSERT INTO bench SELECT seq, CONCAT('customer-', seq), (seq % 1000000) / 100,
            FROM_UNIXTIME(1700000000 + seq), LPAD(seq, 20, 'n') FROM seq_1_to_$ROWS"
        sf_mysql_exec "$MY_PORT" "FLUSH TABLES bench FOR EXPORT; UNLOCK TABLES" >/dev/null
    else
        mkdir -p "$WORK/pg" && sf_pg_start "$WORK/pg" "$PG_PORT" >/dev/null
        sf_bench_pg_table "$PG_PORT" "$ROWS"
    fi
done
sync

time_cmd() { # CMD -> "wall_s rss_kib cpu_s"
    /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" bash -c "$1" >/dev/null 2>"$WORK/cmd.err" || {
        cat "$WORK/cmd.err" >&2
        return 1
    }
    awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$WORK/time"
}
run_agent() { # db capacity batch max.rows -> "wall rss cpu"
    local url n
    n=$(($(cat "$WORK/runs" 2>/dev/null || echo 0) + 1))
    echo $n >"$WORK/runs"
    if [ "$1" = mysql ]; then url="mysql://sqlflume:sqlflume-pw@127.0.0.1:$MY_PORT/sqlflume_test"; else url="postgresql://sqlflume:sqlflume-pw@127.0.0.1:$PG_PORT/sqlflume_test"; fi
    cat >"$WORK/agent.conf" <<CONF
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = sql
a1.sources.r1.connection.url = $url
a1.sources.r1.table = bench
a1.sources.r1.format = $FORMAT
a1.sources.r1.max.rows = $4
a1.sources.r1.batch.size = $3
a1.sources.r1.status.key = grid-$n
a1.sources.r1.run.query.delay = 60000
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.channels.c1.capacity = $2
a1.channels.c1.transactionCapacity = $3
a1.sinks.k1.type = kafka
a1.sinks.k1.channel = c1
a1.sinks.k1.kafka.bootstrap.servers = $BOOTSTRAP
a1.sinks.k1.kafka.topic = grid-$n
a1.sinks.k1.flumeBatchSize = $3
CONF
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
        record "$db.pipe" "$(time_cmd "$pipe | kcat -P -b $BOOTSTRAP -t pipe-$db")"
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
