#!/usr/bin/env bash
# Files and HDFS, side by side in one run (issue 13): the bench/run.sh table (ROWS rows) in
# PostgreSQL and MariaDB exported
#   (h)  by sqlflume into the test WebHDFS server (tests/support/webhdfs_server.py): hdfs:// path,
#        DataStream, text serializer, format text with delimiter.entry = \t (the bytes of COPY's
#        text format), rollSize 134217700, rollCount 0, hdfs.batchSize 1000, memory channel
#   (h') the same with format json
#   (p)  by the shell pipe into the same server: a CREATE with noredirect=true at the namenode,
#        then  psql -c "COPY (SELECT ...) TO STDOUT" | curl -T - <the datanode's CREATE URL>
#        (mariadb --quick -B -N -e "SELECT ..." for MariaDB): the same bytes as (h)
#   (f)  by sqlflume into file_roll (sink.batchSize 1000, sink.rollInterval 0), format text
#   (f') the same with format json
#   (c)  COPY ... TO STDOUT > file (mariadb ... > file)
#   (c') the same, then the file's fsync (sync FILE): as durable as file_roll's files, which
#        sqlflume fdatasyncs once per batch
# REPEAT interleaved rounds (c c' p h h' f f'), the fastest run of each kind counting. Prints wall
# time, rows/s, peak RSS, CPU (the agent's, or the pipe's processes'), the WebHDFS server's CPU
# and the ratios h/p and f/c. Every text export is compared byte for byte with the pipe's file,
# every json export counted by lines (untimed). Then the cost of the exactly-once state file:
# one extra CREATE (namenode + datanode) + RENAME + DELETE round trip on the same server, timed by
# curl (%{time_total}), per batch and against (h)'s wall time.
#   bash bench/hdfs.sh [ROWS]        (default 1000000)
# Environment: SF_BENCH_REPEAT (3), SF_BENCH_DBS ("postgresql mysql"), SF_BENCH_PG_PORT (46491),
# SF_BENCH_MY_PORT (46490), SF_BENCH_NN_PORT (46492; the datanode on the next port),
# SF_BENCH_BIN (the sqlflume binary; default build-bench/sqlflume, built Release here),
# SF_BENCH_BATCH (1000: source batch.size, channel transactionCapacity, sink batch size).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
ROWS=${1:-1000000}
REPEAT=${SF_BENCH_REPEAT:-3}
DBS=${SF_BENCH_DBS:-postgresql mysql}
PG_PORT=${SF_BENCH_PG_PORT:-46491}
MY_PORT=${SF_BENCH_MY_PORT:-46490}
NN=${SF_BENCH_NN_PORT:-46492}
DN=$((NN + 1))
BATCH=${SF_BENCH_BATCH:-1000}
source tests/support/db.sh
source bench/lib.sh
sf_bench_build

sf_bench_work hdfsbench
# shellcheck disable=SC2086 # DBS: a list of words
sf_bench_load_dbs "$ROWS" $DBS
mkdir -p "$WORK/hdfs"
/usr/bin/python3 tests/support/webhdfs_server.py --root "$WORK/hdfs" --nn-port "$NN" --dn-port "$DN" \
    >"$WORK/wh.out" 2>"$WORK/wh.err" </dev/null &
WH=$!
BENCH_PIDS="$BENCH_PIDS $WH"
for _ in $(seq 1 50); do grep -q '^READY' "$WORK/wh.out" && break; sleep 0.1; done
grep -q '^READY' "$WORK/wh.out" || { echo "webhdfs_server.py did not start: $(cat "$WORK/wh.err")" >&2; exit 1; }
sync

COLS="id, name, amount, created, note"
export PGPASSWORD=sqlflume-pw
NNURL="http://127.0.0.1:$NN/webhdfs/v1"

read_cmd() { # db: the database's export to stdout, tab-separated
    if [ "$1" = postgresql ]; then
        echo "psql -h 127.0.0.1 -p $PG_PORT -U sqlflume -d sqlflume_test -X -q -c \"COPY (SELECT $COLS FROM bench ORDER BY id) TO STDOUT\""
    else
        echo "mariadb -h 127.0.0.1 -P $MY_PORT -u sqlflume -psqlflume-pw sqlflume_test --quick -B -N -e \"SELECT $COLS FROM bench ORDER BY id\""
    fi
}

server_cpu() { # the WebHDFS server's CPU seconds so far (user + system)
    awk -v t="$(getconf CLK_TCK)" '{sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / t}' "/proc/$WH/stat"
}

next_run() {
    N=$(($(cat "$WORK/runs" 2>/dev/null || echo 0) + 1))
    echo $N >"$WORK/runs"
}

# agent DB SINK FORMAT -> "wall rss cpu": sqlflume from DB into SINK (hdfs | file_roll), the
# output in $WORK/out (file_roll) or the server's /bench/N (hdfs)
agent() {
    local dir last
    next_run
    sf_bench_conf "$WORK/agent.conf" url="$(sf_bench_url "$1")" table=bench format="$3" \
        max.rows=100000 batch.size="$BATCH" key="hb-$N" run.query.delay=60000 capacity=20000 \
        transactionCapacity="$BATCH" sink="$2"
    [ "$3" = text ] && printf '%s\n' 'a1.sources.r1.delimiter.entry = \t' >>"$WORK/agent.conf"
    if [ "$2" = hdfs ]; then
        dir=$WORK/hdfs/bench/$N
        printf '%s\n' "a1.sinks.k1.hdfs.path = hdfs://127.0.0.1:$NN/bench/$N" \
            "a1.sinks.k1.hdfs.webhdfs.url = http://127.0.0.1:$NN" \
            "a1.sinks.k1.hdfs.fileType = DataStream" "a1.sinks.k1.hdfs.rollSize = 134217700" \
            "a1.sinks.k1.hdfs.rollCount = 0" "a1.sinks.k1.hdfs.rollInterval = 60" \
            "a1.sinks.k1.hdfs.batchSize = $BATCH" >>"$WORK/agent.conf"
    else
        dir=$WORK/out
        rm -rf "$dir" && mkdir -p "$dir"
        printf '%s\n' "a1.sinks.k1.sink.directory = $dir" "a1.sinks.k1.sink.rollInterval = 0" \
            "a1.sinks.k1.sink.batchSize = $BATCH" >>"$WORK/agent.conf"
    fi
    if [ "$3" = text ]; then last="^$ROWS	"; else last="\"id\": ?$ROWS[,}]"; fi
    /usr/bin/python3 bench/measure_files.py "$dir" "$last" -- \
        "$BIN" agent -n a1 -f "$WORK/agent.conf" -Dflume.root.logger=WARN,console
    check "$1" "$3" "$dir" "sqlflume $2 $3"
    rm -rf "$dir"
}

# check DB FORMAT DIR WHAT: text: the files of DIR, in name order, are the pipe's bytes; json:
# ROWS lines. Exits on a mismatch.
check() {
    local got
    if [ "$2" = text ]; then
        find "$3" -type f | sort | xargs cat | cmp -s - "$WORK/ref-$1.txt" ||
            { echo "$4: the files differ from the pipe's output" >&2; exit 1; }
    else
        got=$(find "$3" -type f | sort | xargs cat | wc -l)
        [ "$got" = "$ROWS" ] || { echo "$4: $got lines, not $ROWS" >&2; exit 1; }
    fi
}

pipe_hdfs() { # DB -> "wall rss cpu": CREATE at the namenode, then the export into the datanode
    next_run
    cat >"$WORK/pipe_hdfs.sh" <<EOF
set -eo pipefail
loc=\$(curl -sS -f -X PUT "$NNURL/pipe/$N.txt?op=CREATE&user.name=bench&noredirect=true" |
    sed -n 's/.*"Location": *"\\([^"]*\\)".*/\\1/p')
$(read_cmd "$1") | curl -sS -f -T - -H 'Expect:' -H 'Content-Type: application/octet-stream' "\$loc"
EOF
    sf_bench_time "bash $WORK/pipe_hdfs.sh"
    mkdir -p "$WORK/pipe-check" && mv "$WORK/hdfs/pipe/$N.txt" "$WORK/pipe-check/"
    check "$1" text "$WORK/pipe-check" "the pipe into WebHDFS"
    rm -rf "$WORK/pipe-check"
}

pipe_file() { # DB [sync] -> "wall rss cpu"; the first run's file is the reference of the text checks
    sf_bench_time "$(read_cmd "$1") > $WORK/pipe.txt${2:+ && sync $WORK/pipe.txt}"
    [ -f "$WORK/ref-$1.txt" ] || cp "$WORK/pipe.txt" "$WORK/ref-$1.txt"
    cmp -s "$WORK/pipe.txt" "$WORK/ref-$1.txt" || { echo "COPY > file: a different output" >&2; exit 1; }
    rm -f "$WORK/pipe.txt"
}

# keep the fastest run of each kind: record KEY "wall rss cpu" SERVER_CPU
declare -A W R C S ALL
record() {
    local w r c
    read -r w r c <<<"$2"
    ALL[$1]="${ALL[$1]:-}$w "
    if [ -z "${W[$1]:-}" ] || awk "BEGIN{exit !($w < ${W[$1]})}"; then
        W[$1]=$w R[$1]=$r C[$1]=$c S[$1]=$3
    fi
}
run_rec() { # KEY CMD...: run CMD (it prints "wall rss cpu") and record it with the server's CPU
    local out s0 s1
    sync
    s0=$(server_cpu)
    out=$("${@:2}") || { echo "benchmark run failed: ${*:2}" >&2; exit 1; }
    s1=$(server_cpu)
    record "$1" "$out" "$(awk -v a="$s0" -v b="$s1" 'BEGIN{printf "%.2f", b - a}')"
}

KINDS="c cs p h ht f ft"
for db in $DBS; do
    echo "== $db"
    for round in $(seq 1 "$REPEAT"); do
        run_rec "$db.c" pipe_file "$db" # first: it writes the reference file
        run_rec "$db.cs" pipe_file "$db" sync
        run_rec "$db.p" pipe_hdfs "$db"
        run_rec "$db.h" agent "$db" hdfs text
        run_rec "$db.ht" agent "$db" hdfs json
        run_rec "$db.f" agent "$db" file_roll text
        run_rec "$db.ft" agent "$db" file_roll json
        echo "  round $round done"
    done
    for k in $KINDS; do echo "  $k: ${ALL[$db.$k]}"; done
done

printf '\n%s rows per table, batches of %s, best of %s interleaved runs, %s-core machine, the WebHDFS test server on localhost\n\n' \
    "$ROWS" "$BATCH" "$REPEAT" "$(nproc)"
printf '| database | run | wall s | rows/s | peak RSS MiB | client CPU s | server CPU s | ratio |\n|---|---|---|---|---|---|---|---|\n'
for db in $DBS; do
    for k in $KINDS; do
        case $k in
        c) name="(c) COPY > file"; ref=c ;;
        cs) name="(c') COPY > file; sync file"; ref=c ;;
        p) name="(p) COPY \\| curl -T - (WebHDFS)"; ref=p ;;
        h) name="(h) sqlflume hdfs DataStream, text"; ref=p ;;
        ht) name="(h') sqlflume hdfs DataStream, json"; ref=p ;;
        f) name="(f) sqlflume file_roll, text"; ref=c ;;
        ft) name="(f') sqlflume file_roll, json"; ref=c ;;
        esac
        [ "$db" = mysql ] && name=${name//COPY/mariadb --quick}
        s="-"
        case $k in p | h | ht) s=${S[$db.$k]} ;; esac
        NAME="$name" awk -v db="$db" -v w="${W[$db.$k]}" -v r="${R[$db.$k]}" -v c="${C[$db.$k]}" -v s="$s" \
            -v b="${W[$db.$ref]}" -v ref="$ref" -v rows="$ROWS" \
            'BEGIN{printf "| %s | %s | %.2f | %.0f | %.1f | %.2f | %s | %.2fx (%s) |\n", db, ENVIRON["NAME"], w, rows / w, r / 1024, c, s, w / b, ref}'
    done
done
echo
awk -v f="${W[postgresql.f]:-0}" -v cs="${W[postgresql.cs]:-0}" 'BEGIN{if (cs > 0) printf "postgresql: (f) / (c'"'"') = %.2fx\n", f / cs}'
awk -v f="${W[mysql.f]:-0}" -v cs="${W[mysql.cs]:-0}" 'BEGIN{if (cs > 0) printf "mysql: (f) / (c'"'"') = %.2fx\n", f / cs}'
echo "target (issue 13): (h) <= 1.2x (p)"

# The exactly-once state file's round trip: CREATE at the namenode (noredirect), the datanode's
# CREATE of 200 bytes, RENAME, DELETE; timed by curl (%{time_total} of each request), first with
# a curl process per request (a new connection each time), then with one curl process for all of
# them (--next: its connections kept alive, as sqlflume keeps its own)
echo
echo "== one state-file round trip per batch (CREATE + upload + RENAME + DELETE), 200 times"
head -c 200 /dev/zero | tr '\0' s >"$WORK/state"
: >"$WORK/rt-new"
: >"$WORK/rt.cfg"
q="user.name=bench"
out='output = "/dev/null"
write-out = "%{time_total}\\n"'
for i in $(seq 1 200); do
    t1=$(curl -sS -o "$WORK/loc" -w '%{time_total}' -X PUT "$NNURL/state/a-$i.tmp?op=CREATE&$q&noredirect=true")
    loc=$(sed -n 's/.*"Location": *"\([^"]*\)".*/\1/p' "$WORK/loc")
    t2=$(curl -sS -o /dev/null -w '%{time_total}' -T "$WORK/state" -H 'Expect:' "$loc")
    t3=$(curl -sS -o /dev/null -w '%{time_total}' -X PUT "$NNURL/state/a-$i.tmp?op=RENAME&$q&destination=/state/a-$i")
    t4=$(curl -sS -o /dev/null -w '%{time_total}' -X DELETE "$NNURL/state/a-$i?op=DELETE&$q")
    echo "$t1 $t2 $t3 $t4" >>"$WORK/rt-new"
    # the same four for the keep-alive run (the datanode URL as the namenode gives it)
    {
        [ "$i" = 1 ] || echo next
        printf 'url = "%s"\nrequest = PUT\n%s\nnext\n' "$NNURL/state/b-$i.tmp?op=CREATE&$q&noredirect=true" "$out"
        printf 'url = "%s"\nupload-file = "%s"\nheader = "Expect:"\n%s\nnext\n' \
            "${loc/a-$i.tmp/b-$i.tmp}" "$WORK/state" "$out"
        printf 'url = "%s"\nrequest = PUT\n%s\nnext\n' "$NNURL/state/b-$i.tmp?op=RENAME&$q&destination=/state/b-$i" "$out"
        printf 'url = "%s"\nrequest = DELETE\n%s\n' "$NNURL/state/b-$i?op=DELETE&$q" "$out"
    } >>"$WORK/rt.cfg"
done
curl -sS -K "$WORK/rt.cfg" | paste -d' ' - - - - >"$WORK/rt-keep"
[ -z "$(ls -A "$WORK/hdfs/state")" ] || { echo "the state files were not all deleted: $(ls "$WORK/hdfs/state" | head)" >&2; exit 1; }
[ "$(wc -l <"$WORK/rt-keep")" = 200 ] || { echo "the keep-alive run did not make 800 requests" >&2; exit 1; }
for f in new keep; do
    for db in $DBS; do
        awk -v w="${W[$db.h]}" -v rows="$ROWS" -v batch="$BATCH" -v db="$db" -v f="$f" '
            { a += $1; b += $2; c += $3; d += $4; n++ }
            END {
                t = (a + b + c + d) / n * 1000; batches = rows / batch
                printf "%s, %s: CREATE %.2f ms + upload %.2f ms + RENAME %.2f ms + DELETE %.2f ms = %.2f ms per batch; x %d batches = %.2f s, %.1f%% of (h) %.2f s\n",
                    db, f == "new" ? "a connection per request" : "connections kept alive",
                    a / n * 1000, b / n * 1000, c / n * 1000, d / n * 1000, t, batches, t * batches / 1000, t * batches / 10 / w, w
            }' "$WORK/rt-$f"
    done
done
