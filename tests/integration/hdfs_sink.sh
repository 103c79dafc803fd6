#!/usr/bin/env bash
# End-to-end tests of the HDFS sink on its local file system (file:///): a MariaDB or PostgreSQL
# table through the SQL source and a memory channel into files, read back and checked by id and
# value:
#   tests/integration/hdfs_sink.sh mysql|postgresql PORT [SCENARIO...]
# s_text: DataStream + text serializer, hdfs.path = file://DIR/%{table}/%Y%m%d (UTC, local time
#   stamp), rollCount 100: every row exactly once, every file but the newest exactly 100 rows,
#   file names FlumeData.COUNTER.txt with increasing counters, no in-use file after the stop.
# s_seq: SequenceFile (BytesWritable values, LongWritable keys = the events' timestamp header)
#   read back by tests/support/seqfile_read.py, rollSize 2000 body bytes: every row once, each
#   file closed at the first event that reached rollSize; rows inserted after a pause go to new
#   files (rollInterval 1).
# s_seq_text_gzip: SequenceFile with writeFormat Text and codeC gzip (block-compressed, .gz
#   names, inUsePrefix "_"), read back by seqfile_read.py.
# s_compressed: CompressedStream with codeC gzip and bzip2, read back by the gzip and bzip2
#   programs, codec extensions, one member per batch.
# s_webhdfs: hdfs:// over WebHDFS into webhdfs_server.py with namenode 503s and a datanode down.
# s_wh_nn503, s_wh_dn_down, s_wh_dn_slow: over WebHDFS with the namenode answering 503 for 20 s,
#   the datanode down for 10 s, the datanode's APPENDs answered after hdfs.callTimeout for 10 s:
#   every row once, the agent running, the ERROR lines counted (rate-limited), one INFO "writing
#   again" (see hs_fault).
# s_seed: conf/mysql-hdfs.conf (the seed tutorials' HDFS keys) passes check and exports into the
#   hour's directory over WebHDFS.
# s_paths: two tables, %{table} and time escapes with hdfs.round, hdfs.timeZone, maxOpenFiles 1.
# s_kill9: at least once: kill -9 twice during an export, then a restart (see the scenario).
# s_typed: the core tests' typed values (NULLs, escapes, binary, a 10 MB row) over WebHDFS, as
#   SequenceFile, gzip and bzip2, each body exact when read back.
# Runs every scenario when none is named. Uses lib.sh (database servers, the agent, assertions).
# Ports: PORT (the database), PORT+30 and PORT+31 (the WebHDFS server's namenode and datanode).
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2

# hs_conf FILE TABLE [extra properties lines...]: SQL source -> memory channel -> hdfs (lib.sh's
# write_conf with its Kafka sink replaced)
hs_conf() {
    local f=$1 table=$2
    shift 2
    write_conf "$f" "$table" unused "$@"
    sed -i -e '/^a1\.sinks\.k1\.kafka\./d' -e 's/^a1\.sinks\.k1\.type = kafka$/a1.sinks.k1.type = hdfs/' "$f"
}

# hs_check DIR FIRST LAST MODE [withtmp]: read every file under DIR (MODE text: JSON lines; gzip,
# bzip2: JSON lines compressed, read through gzip -dc / bzip2 -dc; seq: a
# SequenceFile through seqfile_read.py, whose keys must equal the rows' timestamp header, i.e. be
# a time in ms within the last hour) and check each body is the row {"id": N, "v": "row-N"}.
# Prints "files=F lost=L dup=D extra=E bad=B tmp=T" (T: in-use files left, whose rows are counted
# too with withtmp) and writes the ids seen more than once to DIR.count, and for each
# file in name order, "NAME EVENTS BODYBYTES LASTBODYBYTES" to DIR.files.
hs_check() {
    $PY - "$@" <<'EOF'
import collections, json, os, subprocess, sys, time
d, lo, hi, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
withtmp = len(sys.argv) > 5
seen = collections.Counter()
bad = tmp = 0
now = time.time() * 1000
paths = []
for root, dirs, names in os.walk(d):
    for n in names:
        if not n.startswith(".sqlflume-state."):  # the exactly-once state logs
            paths.append(os.path.join(root, n))
def counter(p):
    return int(os.path.basename(p).split(".")[1])
paths.sort(key=lambda p: (os.path.dirname(p), counter(p) if not p.endswith(".tmp") else 0))
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
listing = open(d + ".files", "w")
for path in paths:
    name = os.path.relpath(path, d)
    if name.endswith(".tmp") or os.path.basename(name).startswith("_"):
        tmp += 1
        if not withtmp:
            continue
    bodies = []
    if mode in ("text", "gzip", "bzip2"):
        # gzip / bzip2: CompressedStream, read back by the gzip and bzip2 programs (which also
        # check every member's CRC)
        data = (open(path, "rb").read() if mode == "text" else
                subprocess.run([mode, "-dc", path], check=True, capture_output=True).stdout)
        if not data.endswith(b"\n"):
            bad += 1
            print("%s does not end with a newline" % name, file=sys.stderr)
        bodies = data.split(b"\n")[:-1]
    else:
        out = subprocess.run([sys.executable, os.environ["SEQREAD"], path], check=True,
                             capture_output=True).stdout.decode()
        for line in out.splitlines():
            rec = json.loads(line)
            if not (now - 3600000 < rec["key"] <= now + 1000):
                bad += 1
                print("%s: key %r is not a recent time in ms" % (name, rec["key"]), file=sys.stderr)
            bodies.append(rec["value"].encode())
    for b in bodies:
        body_ok(b.decode("utf-8"))
    listing.write("%s %d %d %d\n" % (name, len(bodies), sum(len(b) for b in bodies),
                                     len(bodies[-1]) if bodies else 0))
want = set(range(lo, hi + 1))
lost = len(want - set(seen))
dup = sum(c - 1 for c in seen.values() if c > 1)
extra = len(set(seen) - want)
with open(d + ".count", "w") as out:
    for i, c in sorted(seen.items()):
        if c > 1:
            out.write("%d %d\n" % (i, c))
print("files=%d lost=%d dup=%d extra=%d bad=%d tmp=%d" % (len(paths) - tmp, lost, dup, extra, bad, tmp))
EOF
}
export SEQREAD=$SF_ROOT/tests/support/seqfile_read.py

s_text() {
    t text
    db_create_idv hst
    db_insert_range hst 1 1234
    local dir=$WORK/hst
    hs_conf "$WORK/hst.conf" hst "a1.sinks.k1.hdfs.path = file://$dir/%{table}/%Y%m%d" \
        "a1.sinks.k1.hdfs.fileType = DataStream" "a1.sinks.k1.hdfs.fileSuffix = .txt" \
        "a1.sinks.k1.hdfs.useLocalTimeStamp = true" "a1.sinks.k1.hdfs.timeZone = UTC" \
        "a1.sinks.k1.hdfs.rollCount = 100" "a1.sinks.k1.hdfs.rollSize = 0" \
        "a1.sinks.k1.hdfs.rollInterval = 0" "a1.sinks.k1.hdfs.batchSize = 250"
    local day
    day=$(date -u +%Y%m%d)
    agent_start "$WORK/hst.conf" "$WORK/hst.log"
    wait_offset hst 1234 60 || return
    # the newest file is still in use while the agent runs
    assert_eq 1 "$(find "$dir" -name '*.tmp' | wc -l)" "one in-use file while running" || return
    agent_term
    local res
    res=$(hs_check "$dir" 1 1234 text)
    log "text: $res"
    assert_eq "files=13 lost=0 dup=0 extra=0 bad=0 tmp=0" "$res" "rows in the files" || return
    assert_eq "$day" "$(ls "$dir/hst")" "the %{table}/%Y%m%d directory" || return
    assert_eq 0 "$(ls "$dir/hst/$day" | grep -cv '^FlumeData\.[0-9]\{13\}\.txt$')" "file names" || return
    # every file but the newest holds exactly rollCount rows
    assert_eq "12x100 1x34" "$(awk '{print $2}' "$dir.files" | uniq -c | awk '{printf "%s%sx%s", (NR > 1 ? " " : ""), $1, $2}')" "rows per file" || return
    # the counters go up by one per file
    assert_eq 1 "$(ls "$dir/hst/$day" | cut -d. -f2 | sort -n | awk 'NR > 1 && $1 != p + 1 {bad = 1} {p = $1} END {print bad ? 0 : 1}')" "consecutive counters" || return
    assert_not_contains "$WORK/hst.log" " ERROR " "no error" || return
    pass
}

s_seq() {
    t seq
    db_create_idv hss
    db_insert_range hss 1 1000
    local dir=$WORK/hss
    hs_conf "$WORK/hss.conf" hss "a1.sinks.k1.hdfs.path = file://$dir" \
        "a1.sinks.k1.hdfs.rollCount = 0" "a1.sinks.k1.hdfs.rollSize = 2000" \
        "a1.sinks.k1.hdfs.rollInterval = 1" "a1.sinks.k1.hdfs.batchSize = 77"
    agent_start "$WORK/hss.conf" "$WORK/hss.log"
    wait_offset hss 1000 60 || return
    sleep "$(secs 3)" # rollInterval closes the open file
    assert_eq 0 "$(find "$dir" -name '*.tmp' | wc -l)" "rollInterval closed the file" || return
    db_insert_range hss 1001 1100
    wait_offset hss 1100 60 || return
    agent_term
    local res
    res=$(hs_check "$dir" 1 1100 seq)
    log "SequenceFile: $res"
    case "$res" in
    *" lost=0 dup=0 extra=0 bad=0 tmp=0") ;;
    *) fail "rows in the files: $res"; return ;;
    esac
    # rollSize: a file is closed at the first event that brings its bodies to 2000 bytes, so each
    # file but the last of a run holds >= 2000 bytes and less than 2000 without its last event
    assert_eq "ok" "$(awk '{ if ($3 - $4 >= 2000) print "too big: " $0; else if ($3 < 2000) small++ }
        END { if (small > 2) print small " files under rollSize"; else print "ok" }' "$dir.files")" "bodies per file" || return
    assert_eq 0 "$(ls "$dir" | grep -cv '^FlumeData\.[0-9]\{13\}$')" "file names" || return
    assert_not_contains "$WORK/hss.log" " ERROR " "no error" || return
    pass
}

s_seq_text_gzip() {
    t seq_text_gzip
    db_create_idv hsz
    db_insert_range hsz 1 3000
    local dir=$WORK/hsz
    hs_conf "$WORK/hsz.conf" hsz "a1.sinks.k1.hdfs.path = file://$dir/" \
        "a1.sinks.k1.hdfs.writeFormat = Text" "a1.sinks.k1.hdfs.codeC = gzip" \
        "a1.sinks.k1.hdfs.inUsePrefix = _" "a1.sinks.k1.hdfs.rollCount = 1000" \
        "a1.sinks.k1.hdfs.rollSize = 0" "a1.sinks.k1.hdfs.filePrefix = %{table}"
    agent_start "$WORK/hsz.conf" "$WORK/hsz.log"
    wait_offset hsz 3000 60 || return
    agent_term
    local res
    res=$(hs_check "$dir" 1 3000 seq)
    log "SequenceFile Text gzip: $res"
    assert_eq "files=3 lost=0 dup=0 extra=0 bad=0 tmp=0" "$res" "rows in the files" || return
    assert_eq 0 "$(ls "$dir" | grep -cv '^hsz\.[0-9]\{13\}\.gz$')" "file names" || return
    $PY "$SEQREAD" --header "$(ls -d "$dir"/* | head -1)" >"$WORK/hsz.records"
    assert_contains "$WORK/hsz.records" '"codec": "org.apache.hadoop.io.compress.GzipCodec"' \
        "GzipCodec in the header" || return
    assert_contains "$WORK/hsz.records" '"value_class": "org.apache.hadoop.io.Text"' "Text values" || return
    pass
}

# CompressedStream with gzip and with bzip2 (Flume's hdfs.codeC names): every row once through the
# gzip and bzip2 programs, files named with the codec's extension, one member per batch (more
# members than files: a batch of hdfs.batchSize events ends its member).
s_compressed() {
    t compressed
    local codec ext
    for codec in gzip bzip2; do
        ext=$([ $codec = gzip ] && echo gz || echo bz2)
        db_create_idv "hc$ext"
        db_insert_range "hc$ext" 1 2500
        local dir=$WORK/hc$ext
        hs_conf "$WORK/hc$ext.conf" "hc$ext" "a1.sinks.k1.hdfs.path = file://$dir/" \
            "a1.sinks.k1.hdfs.fileType = CompressedStream" "a1.sinks.k1.hdfs.codeC = $codec" \
            "a1.sinks.k1.hdfs.rollCount = 1000" "a1.sinks.k1.hdfs.rollSize = 0" \
            "a1.sinks.k1.hdfs.batchSize = 100"
        agent_start "$WORK/hc$ext.conf" "$WORK/hc$ext.log"
        wait_offset "hc$ext" 2500 60 || return
        agent_term
        local res
        res=$(hs_check "$dir" 1 2500 $codec)
        log "CompressedStream $codec: $res"
        assert_eq "files=3 lost=0 dup=0 extra=0 bad=0 tmp=0" "$res" "rows in the files" || return
        assert_eq 0 "$(ls "$dir" | grep -cv "^FlumeData\.[0-9]\{13\}\.$ext\$")" "file names" || return
        assert_contains "$WORK/hc$ext.log" "CompressedStream, $codec" "the start line" || return
    done
    # members: gzip's header magic 1f 8b 08 at the start of each member (python counts them)
    local members
    members=$($PY -c 'import gzip, sys, zlib
n = 0
d = open(sys.argv[1], "rb").read()
while d:
    o = zlib.decompressobj(31)
    o.decompress(d)
    assert o.eof
    d = o.unused_data
    n += 1
print(n)' "$(ls -d "$WORK"/hcgz/* | head -1)")
    log "gzip members in the first file: $members"
    [ "$members" -ge 10 ] || { fail "one member per batch of 100: $members members for 1000 rows"; return; }
    pass
}

# At least once (hdfs.exactlyOnce = false, Flume's guarantee; exactly once is torture.sh's,
# SINK=hdfs): kill -9 of the agent twice during the export, then a restart to the end: no row lost
# (counting the in-use files the kills left: without the state the sink does not rename them), every line a whole
# row, repeats only above the offset stored in flume_meta at a kill (memory channel: the source
# reads again from there), at most two in-use files left per kill after the clean stop: a file
# rolls at the first event of the next batch (as Flume's BucketWriter rotates before an append)
# and is renamed when that batch is durable, so a kill inside the batch leaves the rolled file
# and its successor in use.
s_kill9() {
    t kill9
    local rows=300000 dir=$WORK/hsk
    db_create_idv hsk
    db_insert_range hsk 1 $rows
    hs_conf "$WORK/hsk.conf" hsk "a1.sinks.k1.hdfs.path = file://$dir" \
        "a1.sinks.k1.hdfs.fileType = DataStream" "a1.sinks.k1.hdfs.rollCount = 5000" \
        "a1.sinks.k1.hdfs.rollSize = 0" "a1.sinks.k1.hdfs.batchSize = 500" \
        "a1.sources.r1.max.rows = 2000" "a1.sources.r1.batch.size = 500" \
        "a1.channels.c1.capacity = 2000" "a1.sinks.k1.hdfs.exactlyOnce = false"
    : >"$WORK/hsk.offsets"
    local round
    for round in 1 2; do
        agent_start "$WORK/hsk.conf" "$WORK/hsk.log"
        sleep "$((RANDOM % 2)).$((1 + RANDOM % 9))"
        agent_kill9
        local off
        off=$(db_offset hsk)
        echo "${off:-0}" >>"$WORK/hsk.offsets"
        log "kill -9 #$round with offset ${off:-none} in flume_meta, $(find "$dir" -type f 2>/dev/null | wc -l) files"
    done
    agent_start "$WORK/hsk.conf" "$WORK/hsk.log"
    wait_offset hsk $rows 120 || return
    agent_term
    local res
    res=$(hs_check "$dir" 1 $rows text withtmp)
    log "after 2 kills: $res"
    # at least once: an in-use file a kill cut may end with a torn line (the README says so), so
    # at most one bad line per in-use file left
    local bad=${res#* bad=} tmp=${res#* tmp=}
    bad=${bad%% *}
    case "$res" in
    *" lost=0 dup="*" extra=0 bad="*" tmp="[0-4]) [ "$bad" -le "$tmp" ] || { fail "kill -9: $res"; return; } ;;
    *) fail "kill -9: $res"; return ;;
    esac
    assert_eq "ok" "$($PY -c '
import sys
floor = min(int(x) for x in open(sys.argv[2]).read().split())
bad = [l.split()[0] for l in open(sys.argv[1]) if int(l.split()[0]) <= floor]
print("ok" if not bad else "duplicates at or below offset %d: %s" % (floor, bad[:5]))' "$dir.count" "$WORK/hsk.offsets")" "duplicates only above the stored offset" || return
    pass
}

# wh_start ROOT: start tests/support/webhdfs_server.py (a namenode on PORT+30 and a datanode on
# PORT+31, files under ROOT); sets WH_PID and NN (the namenode's port). Fails the scenario if it
# does not start within 5 s.
wh_start() {
    NN=$((PORT + 30))
    mkdir -p "$1"
    /usr/bin/python3 "$SF_ROOT/tests/support/webhdfs_server.py" --root "$1" --nn-port $NN \
        --dn-port $((NN + 1)) >"$WORK/wh.out" 2>"$WORK/wh.err" &
    WH_PID=$!
    local i
    for i in $(seq 1 50); do grep -q '^READY' "$WORK/wh.out" && return 0; sleep 0.1; done
    fail "webhdfs_server.py did not start: $(cat "$WORK/wh.err")"
    wh_stop
    return 1
}
wh_stop() {
    [ -n "${WH_PID:-}" ] || return 0
    kill "$WH_PID" 2>/dev/null
    wait "$WH_PID" 2>/dev/null
    WH_PID=""
}
# wh_fault QUERY: set a fault of the server through its control endpoint (e.g. fault=nn503&seconds=4)
wh_fault() { curl -sS -f -X POST "http://127.0.0.1:$NN/control?$1" >/dev/null; }
# wh_stats: the server's request counters (JSON)
wh_stats() { curl -sS "http://127.0.0.1:$NN/control/stats"; }
# hs_wait_lines DIR N SECONDS: wait until the files under DIR (in-use ones too) hold N lines
hs_wait_lines() {
    local end=$((SECONDS + $(secs "$3"))) n=0
    while [ $SECONDS -lt $end ]; do
        n=$(find "$1" -type f ! -name ".sqlflume-state.*" -exec cat {} + 2>/dev/null | wc -l)
        [ "$n" -ge "$2" ] && return 0
        sleep 0.3
    done
    fail "the files under $1 hold $n lines, not $2, after $3 s"
    return 1
}

# hdfs:// through WebHDFS into tests/support/webhdfs_server.py: 3,000 rows as DataStream text,
# rollCount 1000; the namenode answering 503 for 4 s and the datanode refusing connections for 3 s
# mid-export: the sink retries (rolled-back batches), every row exactly once, no in-use file after
# the stop, the failures logged.
s_webhdfs() {
    t webhdfs
    local root=$WORK/whroot
    wh_start "$root" || return
    db_create_idv hsw
    db_insert_range hsw 1 1000
    hs_conf "$WORK/hsw.conf" hsw "a1.sinks.k1.hdfs.path = hdfs://127.0.0.1:$NN/flume/%{table}" \
        "a1.sinks.k1.hdfs.webhdfs.url = http://127.0.0.1:$NN" \
        "a1.sinks.k1.hdfs.fileType = DataStream" "a1.sinks.k1.hdfs.rollCount = 1000" \
        "a1.sinks.k1.hdfs.rollSize = 0" "a1.sinks.k1.hdfs.callTimeout = 2000" \
        "a1.sinks.k1.hdfs.proxyUser = etl"
    agent_start "$WORK/hsw.conf" "$WORK/hsw.log"
    wait_offset hsw 1000 60 || { wh_stop; return; }
    wh_fault "fault=nn503&seconds=4"
    db_insert_range hsw 1001 2000
    sleep 2
    wh_fault "fault=dn_refuse&on=true"
    sleep 3
    wh_fault "fault=dn_refuse&on=false"
    db_insert_range hsw 2001 3000
    wait_offset hsw 3000 90 || { wh_stop; return; }
    agent_term
    local stats
    stats=$(wh_stats)
    wh_stop
    local res
    res=$(hs_check "$root/flume/hsw" 1 3000 text)
    log "WebHDFS: $res"
    assert_eq "files=3 lost=0 dup=0 extra=0 bad=0 tmp=0" "$res" "rows in the files" || return
    assert_contains "$WORK/hsw.log" "could not write a batch" "the failed batches logged" || return
    case "$stats" in
    *'"user.name etl"'*) ;;
    *) fail "the requests did not carry user.name=etl (hdfs.proxyUser): $stats"; return ;;
    esac
    pass
}

# The typed values of the core tests (lib.sh's db_create_types: NULLs everywhere, quotes,
# control characters, emoji, binary with NUL bytes, a 30-digit decimal, fractional seconds, a
# 10 MB row) into files, each export read back as it is and compared body by body with the exact
# JSON of the Kafka tests: hdfs:// over WebHDFS as DataStream; file:// as SequenceFile (Writable,
# through the independent reader) and as CompressedStream gzip and bzip2 (through gzip -dc and
# bzip2 -dc).
s_typed() {
    t typed
    local nn=$((PORT + 32)) dn=$((PORT + 33)) root=$WORK/tyroot
    mkdir -p "$root"
    /usr/bin/python3 "$SF_ROOT/tests/support/webhdfs_server.py" --root "$root" --nn-port $nn \
        --dn-port $dn >"$WORK/ty-wh.out" 2>"$WORK/ty-wh.err" &
    local wh=$! i
    for i in $(seq 1 50); do grep -q '^READY' "$WORK/ty-wh.out" && break; sleep 0.1; done
    grep -q '^READY' "$WORK/ty-wh.out" || { fail "webhdfs_server.py did not start: $(cat "$WORK/ty-wh.err")"; kill $wh; return; }
    db_create_types
    local kind
    for kind in webhdfs seq gzip bzip2; do
        local conf=$WORK/ty-$kind.conf dir=$WORK/ty-$kind
        local keys=("a1.sources.r1.status.key = types-$kind" "a1.sinks.k1.hdfs.rollCount = 0"
            "a1.sinks.k1.hdfs.rollSize = 0" "a1.sinks.k1.hdfs.rollInterval = 0")
        case $kind in
        webhdfs) keys+=("a1.sinks.k1.hdfs.path = hdfs://127.0.0.1:$nn/types"
            "a1.sinks.k1.hdfs.webhdfs.url = http://127.0.0.1:$nn" "a1.sinks.k1.hdfs.fileType = DataStream")
            dir=$root/types ;;
        seq) keys+=("a1.sinks.k1.hdfs.path = file://$dir") ;;
        *) keys+=("a1.sinks.k1.hdfs.path = file://$dir" "a1.sinks.k1.hdfs.fileType = CompressedStream"
            "a1.sinks.k1.hdfs.codeC = $kind") ;;
        esac
        hs_conf "$conf" types "${keys[@]}"
        agent_start "$conf" "$WORK/ty-$kind.log"
        wait_offset "types-$kind" 3 60 || { kill $wh; return; }
        agent_term
        # the files as a consumer dump ({"value": body} lines) for sfcheck types
        $PY - "$dir" "$kind" "$SEQREAD" >"$WORK/ty-$kind.out" <<'EOF2' || { fail "$kind: unreadable files"; kill $wh; return; }
import json, os, subprocess, sys
d, kind, seqread = sys.argv[1:4]
names = sorted(n for n in os.listdir(d) if not n.startswith(".sqlflume-state."))
for n in names:
    p = os.path.join(d, n)
    if n.endswith(".tmp"):
        sys.exit("in-use file left: " + n)
    if kind == "seq":
        out = subprocess.run([sys.executable, seqread, p], check=True, capture_output=True).stdout
        for line in out.decode().splitlines():
            print(json.dumps({"value": json.loads(line)["value"]}))
        continue
    data = open(p, "rb").read() if kind == "webhdfs" else subprocess.run(
        [kind, "-dc", p], check=True, capture_output=True).stdout
    for body in data.decode("utf-8").split("\n")[:-1]:
        print(json.dumps({"value": body}))
EOF2
        sfcheck types "$WORK/ty-$kind.out" "$TYPES_WANT1" "$TYPES_WANT2" >"$WORK/ty-$kind.check"
        assert_eq "count 3
row1 ok
row2 ok
row3 ok" "$(cat "$WORK/ty-$kind.check")" "$kind: typed values read back" || { kill $wh; return; }
    done
    kill $wh
    wait $wh 2>/dev/null
    pass
}

# hs_fault TABLE SECONDS ON OFF NERR [properties...]: TABLE exported over WebHDFS (DataStream
# text, rollCount 500, hdfs.batchSize 100, and the properties given) while the server has a
# fault: 1,000 rows written, the fault set (control query ON) for SECONDS while 2,000 more rows
# are inserted (half at once, half midway), then cleared (OFF). Then every row is in the files
# exactly once (in-use files counted: the agent still runs), the agent ran through, exactly NERR
# ERROR lines of any kind, one of them "could not write a batch" (rate-limited: once a minute for
# the same failure, a failed rename once per hdfs.retryInterval, 180 s, not at every retry) for
# more failed attempts than that, one INFO "writing again after N failed
# attempts", and after the stop no in-use file is left (the stop's last attempt at a pending
# rename). Sets HS_ATTEMPTS (N) and HS_STATS (the server's counters).
hs_fault() {
    local table=$1 dur=$2 on=$3 off=$4 want=$5
    shift 5
    local root=$WORK/$table-root dir log=$WORK/$table.log
    dir=$root/flume/$table
    wh_start "$root" || return
    db_create_idv "$table"
    db_insert_range "$table" 1 1000
    hs_conf "$WORK/$table.conf" "$table" "a1.sinks.k1.hdfs.path = hdfs://127.0.0.1:$NN/flume/%{table}" \
        "a1.sinks.k1.hdfs.webhdfs.url = http://127.0.0.1:$NN" \
        "a1.sinks.k1.hdfs.fileType = DataStream" "a1.sinks.k1.hdfs.rollCount = 500" \
        "a1.sinks.k1.hdfs.rollSize = 0" "a1.sinks.k1.hdfs.batchSize = 100" "$@"
    agent_start "$WORK/$table.conf" "$log"
    hs_wait_lines "$dir" 1000 60 || { hs_abort; return 1; }
    local t0=$SECONDS
    wh_fault "$on" || { hs_abort "could not set the fault $on"; return 1; }
    db_insert_range "$table" 1001 2000
    sleep "$((dur / 2))"
    db_insert_range "$table" 2001 3000
    sleep "$((dur - (SECONDS - t0)))" 2>/dev/null
    wh_fault "$off" || { hs_abort "could not clear the fault $off"; return 1; }
    log "fault $on for $((SECONDS - t0)) s"
    hs_wait_lines "$dir" 3000 90 || { hs_abort; return 1; }
    sleep 1 # a late write would show now
    kill -0 "$AGENT_PID" 2>/dev/null || { hs_abort "the agent exited during the fault"; return 1; }
    local res
    res=$(hs_check "$dir" 1 3000 text withtmp)
    log "$table with the fault: $res"
    case "$res" in
    *" lost=0 dup=0 extra=0 bad=0 tmp="[012]) ;;
    *) hs_abort "rows in the files during the run: $res"; return 1 ;;
    esac
    agent_term
    HS_STATS=$(wh_stats)
    wh_stop
    res=$(hs_check "$dir" 1 3000 text)
    case "$res" in
    *" lost=0 dup=0 extra=0 bad=0 tmp=0") ;;
    *) fail "rows in the files after the stop: $res"; return 1 ;;
    esac
    local nbatch nerr
    nbatch=$(grep -c " ERROR .*could not write a batch" "$log")
    nerr=$(grep -c " ERROR " "$log")
    HS_ATTEMPTS=$(sed -n 's/.*writing again after \([0-9]*\) failed attempts.*/\1/p' "$log")
    log "$nerr ERROR lines ($nbatch 'could not write a batch') for ${HS_ATTEMPTS:-no} failed attempts"
    assert_eq 1 "$(grep -c "writing again after [0-9]* failed attempts" "$log")" "one INFO writing again" || return 1
    [ "$nbatch" = 1 ] && [ "$nerr" = "$want" ] || {
        grep " ERROR " "$log" | cut -c1-250 | head -8
        fail "$nerr ERROR lines, $nbatch 'could not write a batch' ($want and 1 expected)"
        return 1
    }
    [ "$HS_ATTEMPTS" -gt "$nerr" ] ||
        { fail "$HS_ATTEMPTS failed attempts for $nerr ERROR lines: not rate-limited"; return 1; }
}

# hs_abort [MESSAGE]: a failed hs_fault: fail with MESSAGE (if given), kill the agent and the
# server, so that the next scenario starts with neither
hs_abort() {
    [ -z "${1:-}" ] || fail "$1"
    agent_kill9
    wh_stop
}

# The namenode answering 503 (RetriableException) to every request for 20 s. Three ERROR lines:
# the batch (its CREATE of the next file: the full one rolled), the cut back of the rolled file
# (its GETFILESTATUS) and its rename; the stop renames it.
s_wh_nn503() {
    t wh_nn503
    hs_fault hsn 20 "fault=nn503&seconds=20" "fault=clear" 3 || return
    pass
}

# The datanode down (its port refusing connections, the open ones shut) for 10 s: one ERROR line.
s_wh_dn_down() {
    t wh_dn_down
    hs_fault hsd 10 "fault=dn_refuse&on=true" "fault=dn_refuse&on=false" 1 || return
    pass
}

# A slow datanode: each APPEND answered 3 s late (the request read only then) for 10 s, with
# hdfs.callTimeout 1000: the APPENDs time out, the batch is rolled back and retried; the late
# APPENDs find their in-use file closed (renamed) and write nothing. One ERROR line, though each
# retry fails on a new in-use file and after another number of ms.
s_wh_dn_slow() {
    t wh_dn_slow
    hs_fault hsl 10 "fault=dn_delay&seconds=3&op=APPEND" "fault=clear" 1 \
        "a1.sinks.k1.hdfs.callTimeout = 1000" || return
    case "$HS_STATS" in
    *'"dn delayed APPEND": '[1-9]*) ;;
    *) fail "no APPEND was delayed: $HS_STATS"; return ;;
    esac
    pass
}

# Paths and rolling by maxOpenFiles end to end: two tables on one source (tables = hpa hpb,
# max.rows 100: the queries alternate between them) into
# hdfs.path = file://DIR/%{table}/%Y-%m-%d/%H%M with hdfs.round (10 minutes), hdfs.timeZone
# Asia/Kolkata (UTC+05:30: neither UTC nor this machine's zone) and hdfs.maxOpenFiles 1, no other
# roll: each table's rows exactly once in its own directory, named from the local time stamp in
# that zone rounded down to 10 minutes; more than one file per table (each switch of table closes
# the least recently used writer) and never more than one in-use file.
s_paths() {
    t paths
    local dir=$WORK/hsp
    db_create_idv hpa
    db_create_idv hpb
    db_insert_range hpa 1 1500
    db_insert_range hpb 1 700
    hs_conf "$WORK/hsp.conf" hpa "a1.sinks.k1.hdfs.path = file://$dir/%{table}/%Y-%m-%d/%H%M" \
        "a1.sinks.k1.hdfs.fileType = DataStream" "a1.sinks.k1.hdfs.useLocalTimeStamp = true" \
        "a1.sinks.k1.hdfs.round = true" "a1.sinks.k1.hdfs.roundValue = 10" \
        "a1.sinks.k1.hdfs.roundUnit = minute" "a1.sinks.k1.hdfs.timeZone = Asia/Kolkata" \
        "a1.sinks.k1.hdfs.maxOpenFiles = 1" "a1.sinks.k1.hdfs.rollCount = 0" \
        "a1.sinks.k1.hdfs.rollSize = 0" "a1.sinks.k1.hdfs.rollInterval = 0" \
        "a1.sinks.k1.hdfs.batchSize = 100" "a1.sources.r1.max.rows = 100" \
        "a1.sources.r1.batch.size = 100"
    sed -i 's/^a1.sources.r1.table = hpa$/a1.sources.r1.tables = hpa hpb/' "$WORK/hsp.conf"
    local slot='import datetime, zoneinfo
t = datetime.datetime.now(zoneinfo.ZoneInfo("Asia/Kolkata"))
print(t.replace(minute=t.minute - t.minute % 10).strftime("%Y-%m-%d/%H%M"))'
    local d0 d1 maxtmp=0 n
    d0=$($PY -c "$slot")
    agent_start "$WORK/hsp.conf" "$WORK/hsp.log"
    local end=$((SECONDS + $(secs 60)))
    while [ $SECONDS -lt $end ]; do
        n=$(find "$dir" -name '*.tmp' 2>/dev/null | wc -l)
        [ "$n" -gt "$maxtmp" ] && maxtmp=$n
        [ "$(find "$dir" -type f ! -name ".sqlflume-state.*" -exec cat {} + 2>/dev/null | wc -l)" -ge 2200 ] && break
        sleep 0.1
    done
    agent_term
    d1=$($PY -c "$slot")
    local tb res files
    for tb in hpa hpb; do
        res=$(hs_check "$dir/$tb" 1 "$([ $tb = hpa ] && echo 1500 || echo 700)" text)
        log "$tb: $res"
        case "$res" in
        *" lost=0 dup=0 extra=0 bad=0 tmp=0") ;;
        *) fail "rows of $tb: $res"; return ;;
        esac
        files=${res#files=}
        files=${files%% *}
        [ "$files" -ge 2 ] || { fail "$tb: $files file(s): maxOpenFiles 1 closed none"; return; }
        local dirs
        dirs=$(cd "$dir/$tb" && find . -mindepth 2 -maxdepth 2 -type d | sed 's|^\./||' | sort | tr '\n' ' ')
        case "$dirs" in
        "$d0 " | "$d0 $d1 ") ;;
        *) fail "$tb: directories $dirs, not $d0 (to $d1) in Asia/Kolkata rounded to 10 minutes"; return ;;
        esac
    done
    assert_eq 1 "$maxtmp" "at most one in-use file at a time (maxOpenFiles 1)" || return
    assert_not_contains "$WORK/hsp.log" " ERROR " "no error" || return
    pass
}

# The seed tutorials' HDFS sink keys (conf/mysql-hdfs.conf: hdfs.path = hdfs://namenode:9000/
# flume2/%Y%m%d/%H, filePrefix upload-, round to the hour, local time stamps, batchSize 100,
# rollInterval 60, rollSize 134217700, rollCount 0, DataStream; channel capacity 1000 /
# transactionCapacity 100) unchanged, the source's connection and table and the namenode's
# address replaced for the test (hdfs.webhdfs.url added: the test server is not at port 9870):
# `sqlflume check` accepts it, and 2,500 rows land once in the hour's directory as upload-*
# files, none in use after the stop.
s_seed() {
    t seed
    local root=$WORK/seedroot
    wh_start "$root" || return
    db_create_idv hseed
    db_insert_range hseed 1 2500
    sed -e "s|^a1.sources.r1.connection.url = .*|a1.sources.r1.connection.url = $DB_URL_NOPW|" \
        -e "s|^a1.sources.r1.connection.password.file = .*|a1.sources.r1.connection.user = sqlflume\\
a1.sources.r1.connection.password = \${SF_TEST_DB_PASSWORD}|" \
        -e "s|^a1.sources.r1.table = .*|a1.sources.r1.table = hseed|" \
        -e "s|hdfs://namenode:9000/|hdfs://127.0.0.1:$NN/|" "$SF_ROOT/conf/mysql-hdfs.conf" >"$WORK/seed.conf"
    echo "a1.sinks.k1.hdfs.webhdfs.url = http://127.0.0.1:$NN" >>"$WORK/seed.conf"
    # every hdfs.* key of the seed is there as it was
    assert_eq "" "$(grep '^a1.sinks.k1.hdfs\.' "$SF_ROOT/conf/mysql-hdfs.conf" | sed "s|namenode:9000|127.0.0.1:$NN|" |
        grep -vxFf "$WORK/seed.conf")" "the seed's hdfs keys unchanged" || { wh_stop; return; }
    "$SF_BIN" check -f "$WORK/seed.conf" -n a1 >"$WORK/seed.check" 2>&1
    assert_eq 0 $? "sqlflume check of the seed's config: $(cat "$WORK/seed.check")" || { wh_stop; return; }
    local h0 h1
    h0=$(date +%Y%m%d/%H)
    agent_start "$WORK/seed.conf" "$WORK/seed.log"
    wait_offset hseed 2500 60 || { hs_abort; return; }
    hs_wait_lines "$root/flume2" 2500 30 || { hs_abort; return; }
    agent_term
    h1=$(date +%Y%m%d/%H)
    wh_stop
    local res dirs
    res=$(hs_check "$root/flume2" 1 2500 text)
    log "seed config: $res"
    case "$res" in
    *" lost=0 dup=0 extra=0 bad=0 tmp=0") ;;
    *) fail "rows in the files: $res"; return ;;
    esac
    # the hour's directory (local time, rounded down to the hour); two if the hour turned meanwhile
    dirs=$(cd "$root/flume2" && find . -mindepth 2 -maxdepth 2 -type d | sed 's|^\./||' | sort | tr '\n' ' ')
    case "$dirs" in
    "$h0 " | "$h0 $h1 ") ;;
    *) fail "directories $dirs, not $h0 (to $h1)"; return ;;
    esac
    assert_eq 0 "$(find "$root/flume2" -type f ! -name 'upload-.[0-9]*' ! -name '.sqlflume-state.*' | wc -l)" "upload-.COUNTER names" || return
    assert_not_contains "$WORK/seed.log" " ERROR " "no error" || return
    pass
}

ALL="s_text s_seq s_seq_text_gzip s_compressed s_webhdfs s_wh_nn503 s_wh_dn_down s_wh_dn_slow s_seed s_paths s_kill9 s_typed"
db_start "$KIND" "$PORT"
for s in ${*:-$ALL}; do
    "$s"
done
finish
