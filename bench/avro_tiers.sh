#!/usr/bin/env bash
# Two tiers over Avro RPC against the Kafka path, side by side in one run, on the benchmarks'
# PostgreSQL table (bench/lib.sh):
#   (k) sqlflume: SQL source -> memory -> Kafka sink (the mock cluster), as bench/run.sh's (a)
#   (v) sqlflume A: SQL source -> memory -> Avro sink  ==>  sqlflume B: Avro source -> memory ->
#       null sink; done when B's null sink has taken every row (its EventDrainSuccessCount)
#   (p) sqlflume A as in (v) ==> tests/support/flume_avro_server.py, the independent python3-avro
#       AvroSourceProtocol server (it writes each event to a JSON-lines file before its OK)
# Channels 20000/1000, batches of 1000 (flumeBatchSize, batch-size, batchSize), format json.
# Prints wall time, rows/s and the peak RSS of each agent, best of REPEAT interleaved rounds.
#   bash bench/avro_tiers.sh [ROWS]     (default 1000000; SF_BENCH_REPEAT rounds, default 3)
# Ports: SF_BENCH_PG_PORT (45492), the Avro source on SF_BENCH_AVRO_PORT (45493), B's monitoring
# on 45494.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${1:-1000000}
REPEAT=${SF_BENCH_REPEAT:-3}
source tests/support/db.sh
source bench/lib.sh
sf_bench_build
sf_bench_work avro
PG_PORT=${SF_BENCH_PG_PORT:-45492}
AV_PORT=${SF_BENCH_AVRO_PORT:-45493}
MON_PORT=$((AV_PORT + 1))
mkdir -p "$WORK/pg"
sf_pg_start "$WORK/pg" "$PG_PORT" >/dev/null
sf_bench_kafka_start
echo "loading $ROWS rows..."
sf_bench_pg_table "$PG_PORT" "$ROWS"
sync
PY=/usr/bin/python3

n=0
up_conf() { # sink(kafka|avro) key
    sf_bench_conf "$WORK/a.conf" url="$(sf_bench_url postgresql)" table=bench format=json \
        max.rows=100000 batch.size=1000 key="$2" run.query.delay=60000 capacity=20000 \
        transactionCapacity=1000 sink=kafka topic="bench-$2" flumeBatchSize=1000
    if [ "$1" = avro ]; then
        sed -i -e '/^a1\.sinks\.k1\.kafka\./d' -e '/^a1\.sinks\.k1\.flumeBatchSize/d' \
            -e 's/^a1\.sinks\.k1\.type = kafka$/a1.sinks.k1.type = avro/' "$WORK/a.conf"
        printf '%s\n' "a1.sinks.k1.hostname = 127.0.0.1" "a1.sinks.k1.port = $AV_PORT" \
            "a1.sinks.k1.batch-size = 1000" >>"$WORK/a.conf"
    fi
}
cat >"$WORK/b.conf" <<CONF
b1.sources = r1
b1.channels = c1
b1.sinks = k1
b1.sources.r1.type = avro
b1.sources.r1.bind = 127.0.0.1
b1.sources.r1.port = $AV_PORT
b1.sources.r1.channels = c1
b1.channels.c1.type = memory
b1.channels.c1.capacity = 20000
b1.channels.c1.transactionCapacity = 1000
b1.sinks.k1.type = null
b1.sinks.k1.batchSize = 1000
b1.sinks.k1.channel = c1
CONF
A_CMD() { echo "$BIN" agent -n a1 -f "$WORK/a.conf" -Dflume.root.logger=WARN,console; }

declare -A W RA RB ALL
record() { # key "wall rssA rssB"
    local w a b
    read -r w a b <<<"$2"
    ALL[$1]="${ALL[$1]:-}$w "
    if [ -z "${W[$1]:-}" ] || awk "BEGIN{exit !($w < ${W[$1]})}"; then W[$1]=$w; RA[$1]=$a; RB[$1]=$b; fi
}
for round in $(seq 1 "$REPEAT"); do
    n=$((n + 1))
    up_conf kafka "k$n"
    sync
    out=$($PY bench/measure_agent.py "$BOOTSTRAP" "bench-k$n" "$ROWS" -- $(A_CMD))
    read -r w r _ <<<"$out"
    record k "$w $r 0"
    up_conf avro "v$n"
    sync
    record v "$($PY bench/measure_tier.py "$ROWS" "$AV_PORT" \
        "metrics:http://127.0.0.1:$MON_PORT/metrics:SINK.k1:EventDrainSuccessCount" -- \
        "$BIN" agent -n b1 -f "$WORK/b.conf" -Dflume.root.logger=WARN,console \
        -Dflume.monitoring.type=http -Dflume.monitoring.port=$MON_PORT -Dflume.monitoring.host=127.0.0.1 \
        -- $(A_CMD))"
    up_conf avro "p$n"
    rm -f "$WORK/p.jsonl"
    sync
    record p "$($PY bench/measure_tier.py "$ROWS" "$AV_PORT" "lines:$WORK/p.jsonl" -- \
        $PY tests/support/flume_avro_server.py --port "$AV_PORT" --out "$WORK/p.jsonl" -- $(A_CMD))"
    echo "round $round: k ${ALL[k]}/ v ${ALL[v]}/ p ${ALL[p]}"
done
printf '\n%s rows, PostgreSQL, best of %s interleaved rounds, 2-core machine\n\n' "$ROWS" "$REPEAT"
printf '| run | wall s | rows/s | peak RSS MiB, upstream | downstream | vs (k) |\n|---|---|---|---|---|---|\n'
for k in k v p; do
    case $k in
    k) name="(k) sqlflume -> Kafka (mock cluster)"; down="-" ;;
    v) name="(v) sqlflume -> Avro -> sqlflume -> null sink" ;;
    p) name="(p) sqlflume -> Avro -> python3-avro server" ;;
    esac
    NAME="$name" awk -v w="${W[$k]}" -v a="${RA[$k]}" -v b="${RB[$k]}" -v kk="${W[k]}" -v rows="$ROWS" -v key=$k \
        'BEGIN{d = key == "k" ? "-" : sprintf("%.1f", b / 1024); printf "| %s | %.2f | %.0f | %.1f | %s | %.2fx |\n", ENVIRON["NAME"], w, rows / w, a / 1024, d, w / kk}'
done
