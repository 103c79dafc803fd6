#!/usr/bin/env bash
# Side-by-side benchmark of the main job, in one run on one mock Kafka cluster:
#   (a)  sqlflume, memory channel, Kafka sink, format json
#   (a') the same with format text
#   (b)  psql COPY ... TO STDOUT | kcat -P   and   mariadb --quick -B -e SELECT | kcat -P
#   (c)  the database read alone, to /dev/null
# on a ROWS-row table (bigint id, short text, decimal(12,2), timestamp, 20-char note) in MariaDB
# and PostgreSQL. Prints wall time, rows/s, peak RSS and the ratios a/b and a'/b.
#   bash bench/run.sh [ROWS]        (default 1000000)
# Ports: SF_BENCH_MY_PORT (43391), SF_BENCH_PG_PORT (45491). SF_BENCH_BIN: the sqlflume binary to
# time instead of this tree's build (bench/ab.sh compares two builds that way); SF_BENCH_REPEAT:
# rounds (3); SF_BENCH_CHANNEL_ALONE=0 skips the channel-alone benchmark at the end.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${1:-1000000}
REPEAT=${SF_BENCH_REPEAT:-3}
source tests/support/db.sh
source bench/lib.sh
sf_bench_build

sf_bench_work bench
MY_PORT=${SF_BENCH_MY_PORT:-43391}
PG_PORT=${SF_BENCH_PG_PORT:-45491}
mkdir -p "$WORK/my" "$WORK/pg"
sf_mariadb_start "$WORK/my" $MY_PORT >/dev/null
sf_pg_start "$WORK/pg" $PG_PORT >/dev/null
sf_bench_kafka_start

echo "loading $ROWS rows into each database..."
sf_bench_my_table $MY_PORT "$ROWS"
# (sf_bench_pg_table writes the loaded table out too: the servers' dirty pages, then the kernel's,
# so that a checkpoint or page flusher does not slow whichever runs come first, the file
# channel's fdatasync most of all)
sf_bench_pg_table $PG_PORT "$ROWS"
sync

COLS="id, name, amount, created, note"
export PGPASSWORD=sqlflume-pw
PSQL="psql -h 127.0.0.1 -p $PG_PORT -U sqlflume -d sqlflume_test -X -q"
MYSQL="mariadb -h 127.0.0.1 -P $MY_PORT -u sqlflume -psqlflume-pw sqlflume_test"

agent_conf() { # db format topic key [channel type]
    sf_bench_conf "$WORK/agent.conf" url="$(sf_bench_url "$1")" table=bench format="$2" max.rows=100000 \
        batch.size=1000 key="$4" run.query.delay=60000 channel="${5:-memory}" capacity=20000 \
        transactionCapacity=1000 topic="$3" flumeBatchSize=1000
    if [ "${5:-memory}" = file ]; then
        printf '%s\n' "a1.channels.c1.checkpointDir = $WORK/fc-$4/checkpoint" \
            "a1.channels.c1.dataDirs = $WORK/fc-$4/data" \
            "a1.channels.c1.minimumRequiredSpace = 1048576" >>"$WORK/agent.conf"
    fi
}

run_agent() { # db format [channel] -> "wall rss"  (runs in a subshell: the run number is in a file)
    n=$(($(cat "$WORK/runs" 2>/dev/null || echo 0) + 1))
    echo $n >"$WORK/runs"
    agent_conf "$1" "$2" "bench-$1-$2-$n" "bench-$n" "${3:-memory}"
    local rc=0
    /usr/bin/python3 bench/measure_agent.py "$BOOTSTRAP" "bench-$1-$2-$n" "$ROWS" -- \
        "$BIN" agent -n a1 -f "$WORK/agent.conf" -Dflume.root.logger=WARN,console || rc=$?
    rm -rf "$WORK/fc-bench-$n" # its dirty pages would be written back during the next runs
    return $rc
}

# keep the fastest run of each kind: record KEY "wall rss cpu"
declare -A W R C ALL
record() {
    local w r c
    read -r w r c <<<"$2"
    ALL[$1]="${ALL[$1]:-}$w "
    if [ -z "${W[$1]:-}" ] || awk "BEGIN{exit !($w < ${W[$1]})}"; then W[$1]=$w; R[$1]=$r; C[$1]=$c; fi
}

run_rec() { # KEY CMD...: run CMD (it prints "wall rss cpu") and record it; stop on failure
    local out
    sync # every run starts with nothing of the previous ones left to write back
    out=$("${@:2}") || { echo "benchmark run failed: ${*:2}" >&2; exit 1; }
    record "$1" "$out"
}

# The runs of each database are interleaved, REPEAT rounds of c b a t f, so that a slow phase of
# the machine (the servers' writeback, another tenant of the host) does not fall on one kind only.
for db in postgresql mysql; do
    echo "== $db"
    if [ $db = postgresql ]; then
        read_cmd="$PSQL -c \"COPY (SELECT $COLS FROM bench ORDER BY id) TO STDOUT\""
    else
        read_cmd="$MYSQL --quick -B -N -e \"SELECT $COLS FROM bench ORDER BY id\""
    fi
    for _ in $(seq 1 "$REPEAT"); do
        run_rec "$db.c" sf_bench_time "$read_cmd > /dev/null"
        run_rec "$db.b" sf_bench_time "$read_cmd | kcat -P -b $BOOTSTRAP -t pipe-$db"
        run_rec "$db.a" run_agent $db json
        run_rec "$db.t" run_agent $db text
        run_rec "$db.f" run_agent $db json file
    done
    for k in c b a t f; do echo "  $k: ${ALL[$db.$k]}"; done
done

printf '\n%s rows per table, best of %s interleaved runs, 2-core machine, mock Kafka cluster over TCP\n\n' "$ROWS" "$REPEAT"
printf '| database | run | wall s | rows/s | peak RSS MiB | client CPU s | vs (b) |\n|---|---|---|---|---|---|---|\n'
for db in postgresql mysql; do
    for k in c b a t f; do
        case $k in
        c) name="(c) read alone to /dev/null" ;;
        b) if [ $db = postgresql ]; then name="(b) psql COPY \\| kcat -P"; else name="(b) mariadb --quick \\| kcat -P"; fi ;;
        a) name="(a) sqlflume json" ;;
        t) name="(a') sqlflume text" ;;
        f) name="(f) sqlflume json, file channel" ;;
        esac
        w=${W[$db.$k]}
        NAME="$name" awk -v db=$db -v w="$w" -v r="${R[$db.$k]}" -v c="${C[$db.$k]}" -v b="${W[$db.b]}" -v rows="$ROWS" \
            'BEGIN{printf "| %s | %s | %.2f | %.0f | %.1f | %.2f | %.2fx |\n", db, ENVIRON["NAME"], w, rows / w, r / 1024, c, w / b}'
    done
done
for db in postgresql mysql; do
    awk -v db=$db -v f="${W[$db.f]}" -v a="${W[$db.a]}" 'BEGIN{printf "%s: file channel / memory channel wall time = %.2fx\n", db, f / a}'
done
echo
echo "targets: (a) <= 1.10x (b), (a') <= 0.90x (b), sqlflume peak RSS <= 64 MiB, (f) <= 1.2x (a)"
echo
[ "${SF_BENCH_CHANNEL_ALONE:-1}" = 0 ] && exit 0
echo "== channel alone: 1M events of 120 bytes, 1000-event transactions (bench/file_channel_bench.c)"
cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc/include bench/file_channel_bench.c \
    src/channels/file/*.c \
    src/channels/memory.c src/core/channel.c src/core/event.c src/core/option.c \
    src/core/buf.c src/core/log.c src/core/clock.c src/core/mem.c -lpthread -o "$WORK/fc_bench"
sync
"$WORK/fc_bench" 1000000 "$WORK" 3
