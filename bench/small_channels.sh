#!/usr/bin/env bash
# The Kafka sink with small channels (issue 12), side by side in one run on one mock Kafka cluster:
# a ROWS-row PostgreSQL table (the bench/run.sh table) exported by sqlflume (memory channel, Kafka
# sink, json, max.rows 2000, source batch.size = flumeBatchSize = transactionCapacity) with
#   seed   capacity 1000,  transactionCapacity 100  (the seed tutorials' channel)
#   10k    capacity 10000, transactionCapacity 100
#   20k    capacity 20000, transactionCapacity 1000
# against the shell pipe `psql COPY ... TO STDOUT | kcat -P` (b), REPEAT interleaved rounds, the
# best run of each kind counting. Prints rows/s and the ratio of each to (b).
#   bash bench/small_channels.sh [ROWS]          (default 1000000)
#   bash bench/small_channels.sh rtt [ROWS]      (default 200000) the sink's batch round trip:
#       the seed channel's export with the sink's DEBUG lines ("batch ... delivered in X ms",
#       from produce to the batch's last delivery report) summarised: count, median, p90, max
# Environment: SF_BENCH_REPEAT (3), SF_BENCH_PG_PORT (45495), SF_BENCH_BIN (the sqlflume binary;
# default: build-bench/sqlflume, built Release here), SF_BENCH_BASELINE (a second sqlflume binary,
# e.g. a build of an older commit, run interleaved with the first: rows "old ..."), SF_BENCH_EXTRA
# (lines added to the agent's configuration, \n-separated, e.g. a1.sinks.k1.kafka.producer.linger.ms = 0).
# SF_BENCH_KINDS (the kinds to run, default "b seed 10k 20k"; (b) is needed for the ratios).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=export
if [ "${1:-}" = rtt ]; then
    MODE=rtt
    shift
fi
if [ $MODE = rtt ]; then ROWS=${1:-200000}; else ROWS=${1:-1000000}; fi
REPEAT=${SF_BENCH_REPEAT:-3}
PG_PORT=${SF_BENCH_PG_PORT:-45495}
source tests/support/db.sh
source bench/lib.sh
sf_bench_build
sf_bench_work small

mkdir -p "$WORK/pg"
sf_pg_start "$WORK/pg" "$PG_PORT" >/dev/null
sf_bench_kafka_start

echo "loading $ROWS rows..."
sf_bench_pg_table "$PG_PORT" "$ROWS"
sync

agent_conf() { # topic key capacity transactionCapacity
    sf_bench_conf "$WORK/agent.conf" url="$(sf_bench_url postgresql)" table=bench format=json \
        max.rows=2000 batch.size="$4" key="$2" run.query.delay=60000 capacity="$3" \
        transactionCapacity="$4" topic="$1" flumeBatchSize="$4"
    [ -z "${SF_BENCH_EXTRA:-}" ] || printf '%b\n' "$SF_BENCH_EXTRA" >>"$WORK/agent.conf"
}

run_agent() { # bin capacity transactionCapacity [logger] -> "wall rss cpu"
    n=$(($(cat "$WORK/runs" 2>/dev/null || echo 0) + 1))
    echo $n >"$WORK/runs"
    agent_conf "small-$n" "small-$n" "$2" "$3"
    /usr/bin/python3 bench/measure_agent.py "$BOOTSTRAP" "small-$n" "$ROWS" -- \
        "$1" agent -n a1 -f "$WORK/agent.conf" -Dflume.root.logger="${4:-WARN},console"
}

if [ $MODE = rtt ]; then
    run_agent "$BIN" 1000 100 DEBUG 2>"$WORK/agent.log" >/dev/null
    grep -o 'delivered in [0-9.]* ms' "$WORK/agent.log" | awk '{print $3}' | sort -n >"$WORK/rtt"
    awk 'function at(q,  i) { i = int(NR * q); if (i < 1) i = 1; return v[i] }
        {v[NR] = $1; s += $1} END {
        if (NR == 0) { print "no batch round trip lines (DEBUG) in the agent log"; exit 1 }
        printf "%d batches of up to 100 events (seed channel 1000/100), round trip from produce to the last delivery report:\n", NR
        printf "  median %.3f ms, mean %.3f ms, p90 %.3f ms, p99 %.3f ms, max %.3f ms\n", at(0.5), s / NR, at(0.9), at(0.99), v[NR] }' "$WORK/rtt"
    grep 'round trip from send' "$WORK/agent.log" | sed 's/^/  agent: /' || true
    exit 0
fi

export PGPASSWORD=sqlflume-pw
PSQL="psql -h 127.0.0.1 -p $PG_PORT -U sqlflume -d sqlflume_test -X -q"
read_cmd="$PSQL -c \"COPY (SELECT id, name, amount, created, note FROM bench ORDER BY id) TO STDOUT\""

declare -A W ALL
KINDS=${SF_BENCH_KINDS:-b seed 10k 20k}
[ -n "${SF_BENCH_BASELINE:-}" ] && KINDS="$KINDS old-seed old-10k old-20k"
record() { # kind "wall rss cpu"
    local w
    read -r w _ _ <<<"$2"
    ALL[$1]="${ALL[$1]:-}$w "
    if [ -z "${W[$1]:-}" ] || awk "BEGIN{exit !($w < ${W[$1]})}"; then W[$1]=$w; fi
}
run_kind() { # kind
    local bin=$BIN k=$1 out
    case $k in old-*) bin=$SF_BENCH_BASELINE k=${k#old-} ;; esac
    sync
    case $k in
    b) out=$(sf_bench_time "$read_cmd | kcat -P -b $BOOTSTRAP -t pipe") ;;
    seed) out=$(run_agent "$bin" 1000 100) ;;
    10k) out=$(run_agent "$bin" 10000 100) ;;
    20k) out=$(run_agent "$bin" 20000 1000) ;;
    esac || { echo "benchmark run failed: $1" >&2; exit 1; }
    record "$1" "$out"
}
for _ in $(seq 1 "$REPEAT"); do
    for k in $KINDS; do run_kind "$k"; done
done
for k in $KINDS; do echo "  $k: ${ALL[$k]}"; done

printf '\n%s rows, PostgreSQL, best of %s interleaved runs, mock Kafka cluster over TCP\n\n' "$ROWS" "$REPEAT"
printf '| run | channel capacity / transactionCapacity, batch | wall s | rows/s | vs (b) |\n|---|---|---|---|---|\n'
for k in $KINDS; do
    case ${k#old-} in
    b) name="(b) psql COPY \\| kcat -P" chan="-" ;;
    seed) name="sqlflume json" chan="1000 / 100, 100 (seed tutorials)" ;;
    10k) name="sqlflume json" chan="10000 / 100, 100" ;;
    20k) name="sqlflume json" chan="20000 / 1000, 1000" ;;
    esac
    case $k in old-*) name="$name, baseline" ;; esac
    NAME="$name" CHAN="$chan" awk -v w="${W[$k]}" -v b="${W[b]}" -v rows="$ROWS" \
        'BEGIN{printf "| %s | %s | %.2f | %.0f | %.2fx |\n", ENVIRON["NAME"], ENVIRON["CHAN"], w, rows / w, w / b}'
done
