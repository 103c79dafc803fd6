#!/usr/bin/env bash
# End-to-end tests of the file_roll sink: a MariaDB or PostgreSQL table through the SQL source
# and a channel into files, read back and checked by id and value:
#   tests/integration/file_roll.sh mysql|postgresql PORT [SCENARIO...]
# s_text: 3000 rows (JSON bodies, text serializer, rolling every 2 s): every row exactly once,
#   several files, nothing else in them. s_avro: avro_event files read back with python3-avro.
# s_kill9_memory / s_kill9_file: at least once (sink.exactlyOnce = false; exactly once is
#   torture.sh's, SINK=file_roll): kill -9 of the agent three times while rows are inserted, then
#   a restart to the end: no row lost; with the memory channel rows repeat only above the offset
#   that was in flume_meta at a kill (the source reads them again); with the file channel only
#   the batch in flight at a kill (written and fsync'd, its take not yet committed) repeats, so at
#   most sink.batchSize rows per kill. Every line of every file is a whole JSON row.
# s_typed: the core tests' typed values (NULLs, escapes, binary, a 10 MB row), exact bodies.
# s_disk_full (root; skipped with a message otherwise): the directory's file system full, then
#   grown: one ERROR line, the agent keeps running, every row once.
# Runs every scenario when none is named. Uses lib.sh (database servers, the agent, assertions).
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2

# fr_conf FILE TABLE DIR [extra properties lines...]: SQL source -> memory channel -> file_roll
# (lib.sh's write_conf with its Kafka sink replaced)
fr_conf() {
    local f=$1 table=$2 dir=$3
    shift 3
    mkdir -p "$dir"
    write_conf "$f" "$table" unused "a1.sinks.k1.sink.directory = $dir" "$@"
    sed -i -e '/^a1\.sinks\.k1\.kafka\./d' -e 's/^a1\.sinks\.k1\.type = kafka$/a1.sinks.k1.type = file_roll/' "$f"
}

# fr_check DIR FIRST LAST [avro]: read every file of DIR (JSON lines, or avro_event containers),
# check each body is the row {"id": N, "v": "row-N"}; prints "files=F lost=L dup=D extra=E bad=B"
# and writes the ids with their counts to DIR.count ("id count" lines for the duplicated ones).
fr_check() {
    $PY - "$@" <<'EOF'
import collections, json, os, sys
d, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
avro = len(sys.argv) > 4
seen = collections.Counter()
bad = 0
files = sorted(n for n in os.listdir(d) if not n.startswith(".sqlflume-state."))
def body_ok(b):
    global bad
    try:
        row = json.loads(b)
        if row["v"] != "row-%d" % row["id"]:
            raise ValueError(row)
        seen[int(row["id"])] += 1
    except Exception as e:
        bad += 1
        if bad < 5:
            print("bad body %r: %s" % (b[:80], e), file=sys.stderr)
for name in files:
    path = os.path.join(d, name)
    if avro:
        import avro.datafile, avro.io
        with open(path, "rb") as f:
            for rec in avro.datafile.DataFileReader(f, avro.io.DatumReader()):
                body_ok(rec["body"].decode("utf-8"))
    else:
        data = open(path, "rb").read()
        if data and not data.endswith(b"\n"):
            bad += 1
            print("%s does not end with a newline" % name, file=sys.stderr)
        for line in data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"):
            body_ok(line.decode("utf-8"))
want = set(range(lo, hi + 1))
lost = len(want - set(seen))
dup = sum(c - 1 for c in seen.values() if c > 1)
extra = len(set(seen) - want)
with open(d + ".count", "w") as out:
    for i, c in sorted(seen.items()):
        if c > 1:
            out.write("%d %d\n" % (i, c))
print("files=%d lost=%d dup=%d extra=%d bad=%d" % (len(files), lost, dup, extra, bad))
EOF
}

s_text() {
    t text
    db_create_idv frt
    db_insert_range frt 1 1500
    fr_conf "$WORK/frt.conf" frt "$WORK/frt" "a1.sinks.k1.sink.rollInterval = 2" \
        "a1.sinks.k1.sink.pathManager.prefix = frt-" "a1.sinks.k1.sink.pathManager.extension = json"
    agent_start "$WORK/frt.conf" "$WORK/frt.log"
    wait_offset frt 1500 60 || return
    sleep "$(secs 3)"
    db_insert_range frt 1501 3000
    wait_offset frt 3000 60 || return
    agent_term
    local res
    res=$(fr_check "$WORK/frt" 1 3000)
    log "text: $res"
    case "$res" in
    "files=1 "*) fail "no roll: $res"; return ;;
    *" lost=0 dup=0 extra=0 bad=0") ;;
    *) fail "rows in the files: $res"; return ;;
    esac
    assert_eq 0 "$(ls "$WORK/frt" | grep -cv '^frt-[0-9]*-[0-9]*\.json$')" "file names" || return
    assert_not_contains "$WORK/frt.log" " ERROR " "no error" || return
    pass
}

s_avro() {
    t avro
    db_create_idv fra
    db_insert_range fra 1 2000
    fr_conf "$WORK/fra.conf" fra "$WORK/fra" "a1.sinks.k1.sink.serializer = avro_event" \
        "a1.sinks.k1.sink.serializer.compressionCodec = snappy" "a1.sinks.k1.sink.batchSize = 250"
    agent_start "$WORK/fra.conf" "$WORK/fra.log"
    wait_offset fra 2000 60 || return
    agent_term
    local res
    res=$(fr_check "$WORK/fra" 1 2000 avro)
    log "avro_event: $res"
    assert_eq "files=1 lost=0 dup=0 extra=0 bad=0" "$res" "rows in the avro files" || return
    pass
}

# kill9 CHANNEL: see the header
kill9() {
    local ch=$1 tab=k9$1 rows=100000 batch=500
    db_create_idv "$tab"
    db_insert_range "$tab" 1 $rows
    local extra=("a1.sources.r1.max.rows = 2000" "a1.sources.r1.batch.size = 500"
        "a1.sinks.k1.sink.batchSize = $batch" "a1.sinks.k1.sink.rollInterval = 1"
        "a1.sinks.k1.sink.exactlyOnce = false"
        "a1.channels.c1.capacity = 2000")
    if [ "$ch" = file ]; then
        extra+=("a1.channels.c1.type = file" "a1.channels.c1.checkpointDir = $WORK/$tab-fc/checkpoint"
            "a1.channels.c1.dataDirs = $WORK/$tab-fc/data" "a1.channels.c1.minimumRequiredSpace = 1048576")
    fi
    fr_conf "$WORK/$tab.conf" "$tab" "$WORK/$tab" "${extra[@]}"
    : >"$WORK/$tab.offsets"
    rm -f "$WORK/$tab.stop"
    (
        next=$((rows + 1))
        while [ ! -e "$WORK/$tab.stop" ]; do
            db_insert_range "$tab" $next $((next + 199)) >/dev/null
            next=$((next + 200))
            echo $((next - 1)) >"$WORK/$tab.last"
            sleep 0.1
        done
    ) &
    local inserter=$! kills=3
    for round in $(seq 1 $kills); do
        agent_start "$WORK/$tab.conf" "$WORK/$tab.log"
        sleep "$((RANDOM % 2)).$((1 + RANDOM % 9))"
        agent_kill9
        local off
        off=$(db_offset "$tab")
        echo "${off:-0}" >>"$WORK/$tab.offsets"
        log "kill -9 #$round with offset ${off:-none} in flume_meta, $(ls "$WORK/$tab" | wc -l) files"
    done
    touch "$WORK/$tab.stop"
    wait $inserter
    rows=$(cat "$WORK/$tab.last")
    agent_start "$WORK/$tab.conf" "$WORK/$tab.log"
    wait_offset "$tab" "$rows" 120 || return
    # the offset is written once the sink committed: the files hold everything now
    agent_term
    local res
    res=$(fr_check "$WORK/$tab" 1 "$rows")
    log "$ch channel, after $kills kills: $res"
    case "$res" in
    *" lost=0 dup="*" extra=0 bad=0") ;;
    *) fail "kill -9: $res"; return ;;
    esac
    local dup=${res#* dup=}
    dup=${dup%% *}
    if [ "$ch" = file ]; then
        # only the batch in flight at each kill may repeat
        [ "$dup" -le $((kills * batch)) ] || { fail "$dup rows repeated, more than $kills batches of $batch"; return; }
    else
        assert_eq "ok" "$($PY -c '
import sys
floor = min(int(x) for x in open(sys.argv[2]).read().split())
bad = [l.split()[0] for l in open(sys.argv[1]) if int(l.split()[0]) <= floor]
print("ok" if not bad else "duplicates at or below offset %d: %s" % (floor, bad[:5]))' "$WORK/$tab.count" "$WORK/$tab.offsets")" "duplicates only above the stored offset" || return
    fi
    pass
}
s_kill9_memory() { t kill9_memory; kill9 memory; }
s_kill9_file() { t kill9_file; kill9 file; }

# the directory's file system full (a 32 KiB tmpfs, root only): the sink logs one ERROR, keeps
# retrying, the agent keeps running; once there is room every row is in the files exactly once
s_disk_full() {
    t disk_full
    if [ "$(id -u)" != 0 ]; then
        log "SKIP disk_full: mounting a small tmpfs needs root"
        return
    fi
    local dir=$WORK/frf
    mkdir -p "$dir"
    mount -t tmpfs -o size=32k tmpfs "$dir" || { fail "cannot mount a tmpfs on $dir"; return; }
    db_create_idv frf
    db_insert_range frf 1 3000
    fr_conf "$WORK/frf.conf" frf "$dir" "a1.sinks.k1.sink.batchSize = 200"
    agent_start "$WORK/frf.conf" "$WORK/frf.log"
    wait_log "$WORK/frf.log" "No space left on device" 30 || { umount "$dir"; return; }
    sleep "$(secs 4)" # a few retries
    kill -0 "$AGENT_PID" || { fail "the agent stopped"; umount "$dir"; return; }
    assert_eq "" "$(db_offset frf | grep -x 3000)" "offset not at the end while the disk is full"
    mount -o remount,size=4m "$dir"
    wait_offset frf 3000 60 || { umount "$dir"; return; }
    agent_term
    local res
    res=$(fr_check "$dir" 1 3000)
    log "disk full: $res, $(grep -c 'No space left on device' "$WORK/frf.log") ERROR line(s)"
    umount "$dir"
    case "$res" in
    *" lost=0 dup=0 extra=0 bad=0") ;;
    *) fail "rows in the files: $res"; return ;;
    esac
    assert_eq 1 "$(grep -c 'No space left on device' "$WORK/frf.log")" "one ERROR line while the cause stays the same" || return
    assert_contains "$WORK/frf.log" "again after" "recovery logged" || return
    pass
}

# The typed values of the core tests (lib.sh's db_create_types, a 10 MB row among them) through
# the text serializer: every body exactly the JSON of the Kafka tests.
s_typed() {
    t typed
    db_create_types
    fr_conf "$WORK/typed.conf" types "$WORK/typed" "a1.sinks.k1.sink.rollInterval = 0"
    agent_start "$WORK/typed.conf" "$WORK/typed.log"
    wait_offset types 3 60 || return
    agent_term
    $PY - "$WORK/typed" >"$WORK/typed.out" <<'EOF2'
import json, os, sys
d = sys.argv[1]
for n in sorted(os.listdir(d)):
    if not n.startswith(".sqlflume-state."):
        for body in open(os.path.join(d, n), "rb").read().decode("utf-8").split("\n")[:-1]:
            print(json.dumps({"value": body}))
EOF2
    assert_eq "count 3
row1 ok
row2 ok
row3 ok" "$(sfcheck types "$WORK/typed.out" "$TYPES_WANT1" "$TYPES_WANT2")" "typed values read back" || return
    pass
}

ALL="s_text s_avro s_disk_full s_kill9_memory s_kill9_file s_typed"
db_start "$KIND" "$PORT"
for s in ${*:-$ALL}; do
    "$s"
done
finish
