#!/usr/bin/env bash
# The cost of exactly once into files: the bench/run.sh table (ROWS rows, PostgreSQL) exported by
# sqlflume (memory channel 10000 / 1000, format json) into the HDFS sink on file:// (DataStream,
# rolling by size at 128 MB) and into file_roll (no rolling), each with its exactly-once state
# (hdfs.exactlyOnce / sink.exactlyOnce = true, the default) and without, in REPEAT interleaved
# rounds; the fastest run of each counts. The end of a run is the source's flume_meta offset
# reaching ROWS (written every 200 ms after delivery, the same for every run). Prints wall time,
# rows/s, peak RSS, the state records written, and the ratio with / without.
#   bash bench/files_exactly_once.sh [ROWS] [BATCH]   (default 1000000, 1000)
# Environment: SF_BENCH_REPEAT (3), SF_BENCH_PG_PORT (45494), SF_BENCH_BIN.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${1:-1000000}
BATCH=${2:-1000}
REPEAT=${SF_BENCH_REPEAT:-3}
PG_PORT=${SF_BENCH_PG_PORT:-45494}
source tests/support/db.sh
source bench/lib.sh
sf_bench_build
sf_bench_work files-eo
mkdir -p "$WORK/pg" && sf_pg_start "$WORK/pg" "$PG_PORT" >/dev/null
echo "loading $ROWS rows into postgresql..."
sf_bench_pg_table "$PG_PORT" "$ROWS"
sync

run() { # sink eo -> "wall rss records"
    local sink=$1 eo=$2 n
    n=$(($(cat "$WORK/runs" 2>/dev/null || echo 0) + 1))
    echo $n >"$WORK/runs"
    local out=$WORK/out-$n
    mkdir -p "$out"
    sf_bench_conf "$WORK/a.conf" url="$(sf_bench_url postgresql)" table=bench format=json \
        batch.size="$BATCH" key="eo-$n" run.query.delay=60000 capacity=10000 \
        transactionCapacity="$BATCH" sink=null
    sed -i "s/^a1.sinks.k1.type = null$/a1.sinks.k1.type = $sink/" "$WORK/a.conf"
    if [ "$sink" = hdfs ]; then
        printf '%s\n' "a1.sinks.k1.hdfs.path = file://$out" "a1.sinks.k1.hdfs.fileType = DataStream" \
            "a1.sinks.k1.hdfs.rollSize = 134217700" "a1.sinks.k1.hdfs.rollCount = 0" \
            "a1.sinks.k1.hdfs.rollInterval = 0" "a1.sinks.k1.hdfs.batchSize = $BATCH" \
            "a1.sinks.k1.hdfs.exactlyOnce = $eo" >>"$WORK/a.conf"
    else
        printf '%s\n' "a1.sinks.k1.sink.directory = $out" "a1.sinks.k1.sink.rollInterval = 0" \
            "a1.sinks.k1.sink.batchSize = $BATCH" "a1.sinks.k1.sink.exactlyOnce = $eo" >>"$WORK/a.conf"
    fi
    /usr/bin/python3 - "$PG_PORT" "eo-$n" "$ROWS" "$BIN" "$WORK/a.conf" "$WORK/agent-$n.log" <<'EOF'
import os, signal, subprocess, sys, time
port, key, rows, binary, conf, log = sys.argv[1:7]
env = dict(os.environ, PGPASSWORD="sqlflume-pw")
def offset():
    r = subprocess.run(["psql", "-h", "127.0.0.1", "-p", port, "-U", "sqlflume", "-d",
                        "sqlflume_test", "-Atc",
                        "SELECT currentIndex FROM flume_meta WHERE source_tab = '%s'" % key],
                       env=env, capture_output=True, text=True)
    return r.stdout.strip()
t0 = time.time()
p = subprocess.Popen([binary, "agent", "-n", "a1", "-f", conf,
                      "-Dflume.root.logger=INFO,console"], stdout=open(log, "w"),
                     stderr=subprocess.STDOUT)
while offset() != rows:
    if p.poll() is not None or time.time() - t0 > 600:
        sys.exit("the agent stopped or took too long: see " + log)
    time.sleep(0.05)
wall = time.time() - t0
p.send_signal(signal.SIGTERM)
_, status, ru = os.wait4(p.pid, 0)
print("%.2f %d" % (wall, ru.ru_maxrss))
EOF
    local recs
    recs=$(sed -n 's/.*exactly-once: \([0-9]*\) state records.*/\1/p' "$WORK/agent-$n.log" | tail -1)
    echo " ${recs:-0}"
    rm -rf "$out"
}

declare -A W R N
for round in $(seq 1 "$REPEAT"); do
    for sink in hdfs file_roll; do
        for eo in true false; do
            read -r w r c <<<"$(run $sink $eo | tr '\n' ' ')"
            k=$sink-$eo
            echo "round $round: $k ${w}s RSS ${r} KiB state records ${c}"
            if [ -z "${W[$k]:-}" ] || awk -v a="$w" -v b="${W[$k]}" 'BEGIN{exit !(a<b)}'; then
                W[$k]=$w R[$k]=$r N[$k]=$c
            fi
        done
    done
done
echo
echo "| sink | exactly once | wall s | rows/s | peak RSS MiB | state records | with / without |"
echo "|---|---|---|---|---|---|---|"
for sink in hdfs file_roll; do
    for eo in true false; do
        k=$sink-$eo
        ratio=$(awk -v a="${W[$sink-true]}" -v b="${W[$sink-false]}" 'BEGIN{printf "%.2fx", a/b}')
        awk -v s="$sink" -v e="$eo" -v w="${W[$k]}" -v r="${R[$k]}" -v n="${N[$k]}" -v rows="$ROWS" \
            -v x="$([ "$eo" = true ] && echo "$ratio" || echo "")" \
            'BEGIN{printf "| %s | %s | %.2f | %.0f | %.1f | %s | %s |\n", s, e, w, rows/w, r/1024, n, x}'
    done
done
