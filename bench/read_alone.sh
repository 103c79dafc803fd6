#!/usr/bin/env bash
# The SQL source's read path alone on PostgreSQL (issue 12): the bench/run.sh table (ROWS rows)
# exported by sqlflume into the null sink (memory channel), the time from the source's first
# query to its log line for the last row (DEBUG "read N rows ... up to offset ROWS"), with the
# agent's and the source thread's CPU time; then bench/pg_read_paths.c, the connector's cursor
# read against COPY ... TO STDOUT on one connection, in the same run. Every binary of
# SF_BENCH_BINS runs once per round, REPEAT interleaved rounds, for each cell of SF_BENCH_CELLS.
#   bash bench/read_alone.sh [ROWS]          (default 1000000)
# Environment: SF_BENCH_PG_PORT (45497), SF_BENCH_REPEAT (3), SF_BENCH_BINS (sqlflume binaries,
# default build-bench/sqlflume, built Release here), SF_BENCH_CELLS ("max.rows/batch/capacity ...",
# default "100000/1000/20000 2000/100/1000"; transactionCapacity = the batch).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${1:-1000000}
REPEAT=${SF_BENCH_REPEAT:-3}
PG_PORT=${SF_BENCH_PG_PORT:-45497}
CELLS=${SF_BENCH_CELLS:-100000/1000/20000 2000/100/1000}
bash tests/support/deps.sh
if [ -z "${SF_BENCH_BINS:-}" ]; then
    cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-bench -j"$(nproc)" --target sqlflume >/dev/null
    SF_BENCH_BINS=$ROOT/build-bench/sqlflume
fi
source tests/support/db.sh
source bench/lib.sh

sf_bench_work readalone
mkdir -p "$WORK/pg"
sf_pg_start "$WORK/pg" "$PG_PORT" >/dev/null
echo "loading $ROWS rows..."
sf_bench_pg_table "$PG_PORT" "$ROWS"
sync

# seconds of HH:MM:SS.mmm (the log's time of day)
tod() { echo "$1" | awk -F: '{printf "%.3f", $1 * 3600 + $2 * 60 + $3}'; }

# run_one runs in a command substitution (a subshell without the EXIT trap): it stops its agent
# itself
run_one() { # bin key max.rows batch capacity -> "read_s agent_cpu_s source_cpu_s"
    local log=$WORK/$2.log src_cpu cpu t0 t1 AGENT_PID
    sf_bench_conf "$WORK/$2.conf" url="$(sf_bench_url postgresql)" table=bench format=json \
        max.rows="$3" batch.size="$4" key="$2" run.query.delay=60000 capacity="$5" \
        transactionCapacity="$4" sink=null batchSize="$4"
    local start=$SECONDS
    "$1" agent -n a1 -f "$WORK/$2.conf" -Dflume.root.logger=DEBUG,console 2>"$log" &
    AGENT_PID=$!
    until grep -q "up to offset \"$ROWS\"" "$log"; do
        kill -0 "$AGENT_PID" 2>/dev/null || { cat "$log" >&2; exit 1; }
        if [ $SECONDS -gt $((start + 600)) ]; then
            kill "$AGENT_PID"
            echo "the agent did not read $ROWS rows in 600 s" >&2
            exit 1
        fi
        sleep 0.05
    done
    src_cpu=$(for t in /proc/$AGENT_PID/task/*; do
        grep -q '^src:' "$t/comm" && awk '{printf "%.2f", ($14 + $15) / 100}' "$t/stat"
    done)
    cpu=$(awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$AGENT_PID/stat")
    kill "$AGENT_PID"
    wait "$AGENT_PID" 2>/dev/null || true
    t0=$(tod "$(grep -m1 'polling ' "$log" | cut -c12-23)")
    t1=$(tod "$(grep -m1 "up to offset \"$ROWS\"" "$log" | cut -c12-23)")
    awk -v a="$t0" -v b="$t1" -v c="$cpu" -v s="$src_cpu" 'BEGIN{printf "%.3f %s %s\n", b - a, c, s}'
}

cc -std=gnu11 -O2 -Wall -Wextra bench/pg_read_paths.c -I"$(pg_config --includedir)" -lpq -o "$WORK/pg_read_paths"
CONNINFO="host=127.0.0.1 port=$PG_PORT user=sqlflume password=sqlflume-pw dbname=sqlflume_test options='-c cursor_tuple_fraction=1'"
n=0
for round in $(seq 1 "$REPEAT"); do
    echo "== round $round"
    for cell in $CELLS; do
        IFS=/ read -r m b cap <<<"$cell"
        for bin in $SF_BENCH_BINS; do
            n=$((n + 1))
            read -r w c s <<<"$(run_one "$bin" "ra-$n" "$m" "$b" "$cap")"
            printf '  sqlflume %s max.rows %s batch %s capacity %s: read %s s, agent CPU %s s, source thread CPU %s s\n' \
                "$bin" "$m" "$b" "$cap" "$w" "$c" "$s"
        done
        "$WORK/pg_read_paths" "$CONNINFO" "$m" 1 "$ROWS" 2>/dev/null | sed 's/^/  /'
    done
done
