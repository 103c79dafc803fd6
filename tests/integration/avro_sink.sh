#!/usr/bin/env bash
# End-to-end tests of the Avro sink against an independent AvroSourceProtocol server
# (tests/support/flume_avro_server.py on python3-avro's avro.ipc, Netty framing):
#   tests/integration/avro_sink.sh mysql|postgresql PORT [SCENARIO...]
# The database listens on PORT, the Avro server on PORT+1.
# s_basic: 3000 rows, every one received exactly once with its headers (table, offset, key,
#   timestamp) and its JSON body {"id": N, "v": "row-N"}.
# s_failed: the server answers FAILED, then errors, for a while: the batches are rolled back and
#   sent again; every row exactly once (FAILED batches are not recorded), ERROR lines logged.
# s_restart: the server stalls (request-timeout passes), then is killed and restarted mid-run:
#   nothing lost (a batch whose OK was lost may repeat: at-least-once).
# s_deflate: compression-type = deflate (compression-level 9) into the server with --deflate
#   (Python's zlib, Z_SYNC_FLUSH each write): 3000 rows, every one exactly once; the server's
#   connections were compressed (a plain call would not decompress and the server would log).
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2
AVRO_PORT=$((PORT + 1))
SRV_PID=""

srv_start() { # events-file control-file [server options...]
    local out=$1 ctl=$2
    shift 2
    $PY "$SF_ROOT/tests/support/flume_avro_server.py" --port "$AVRO_PORT" --out "$out" \
        --control "$ctl" "$@" >>"$WORK/server.log" 2>&1 &
    SRV_PID=$!
    local end=$((SECONDS + 20))
    until grep -q "listening on 127.0.0.1:$AVRO_PORT" "$WORK/server.log" 2>/dev/null &&
        (exec 3<>/dev/tcp/127.0.0.1/$AVRO_PORT) 2>/dev/null; do
        [ $SECONDS -lt $end ] || { fail "the Avro server did not start"; return 1; }
        sleep 0.1
    done
}
srv_stop() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
trap 'srv_stop; cleanup' EXIT

av_conf() { # file table [extra properties lines...]
    local f=$1 table=$2
    shift 2
    write_conf "$f" "$table" unused "a1.sinks.k1.hostname = 127.0.0.1" \
        "a1.sinks.k1.port = $AVRO_PORT" "$@"
    sed -i -e '/^a1\.sinks\.k1\.kafka\./d' -e 's/^a1\.sinks\.k1\.type = kafka$/a1.sinks.k1.type = avro/' "$f"
}

# av_check EVENTS TABLE FIRST LAST: prints "lost=L dup=D extra=E bad=B"
av_check() {
    $PY - "$@" <<'PYEOF'
import collections, json, sys
path, table, lo, hi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
seen, bad = collections.Counter(), 0
for line in open(path):
    ev = json.loads(line)
    try:
        row = json.loads(ev["body"])
        h = ev["headers"]
        i = int(row["id"])
        if row["v"] != "row-%d" % i or h["table"] != table or h["offset"] != str(i) \
                or h["key"] != str(i) or not h["timestamp"].isdigit():
            raise ValueError(ev)
        seen[i] += 1
    except Exception as e:
        bad += 1
        if bad < 5:
            print("bad event %r: %s" % (line[:200], e), file=sys.stderr)
want = set(range(lo, hi + 1))
print("lost=%d dup=%d extra=%d bad=%d" % (len(want - set(seen)),
      sum(c - 1 for c in seen.values() if c > 1), len(set(seen) - want), bad))
PYEOF
}

s_basic() {
    t basic
    db_create_idv avb
    db_insert_range avb 1 3000
    echo ok >"$WORK/avb.ctl"
    srv_start "$WORK/avb.events" "$WORK/avb.ctl" || return
    av_conf "$WORK/avb.conf" avb "a1.sinks.k1.batch-size = 250"
    agent_start "$WORK/avb.conf" "$WORK/avb.log"
    wait_offset avb 3000 60 || return
    agent_term
    srv_stop
    local res
    res=$(av_check "$WORK/avb.events" avb 1 3000)
    log "basic: $res"
    assert_eq "lost=0 dup=0 extra=0 bad=0" "$res" "events received" || return
    assert_not_contains "$WORK/avb.log" " ERROR " "no error" || return
    pass
}

s_failed() {
    t failed
    db_create_idv avf
    db_insert_range avf 1 2000
    echo failed >"$WORK/avf.ctl"
    srv_start "$WORK/avf.events" "$WORK/avf.ctl" || return
    av_conf "$WORK/avf.conf" avf "a1.sinks.k1.batch-size = 100"
    agent_start "$WORK/avf.conf" "$WORK/avf.log"
    wait_log "$WORK/avf.log" "the server answered: FAILED" 30 || return
    sleep "$(secs 2)"
    echo error >"$WORK/avf.ctl"
    wait_log "$WORK/avf.log" "the server answered an error: told to fail" 30 || return
    assert_eq "" "$(db_offset avf | grep -x 2000)" "offset not at the end while refused"
    echo ok >"$WORK/avf.ctl"
    wait_offset avf 2000 60 || return
    agent_term
    srv_stop
    local res
    res=$(av_check "$WORK/avf.events" avf 1 2000)
    log "failed: $res"
    assert_eq "lost=0 dup=0 extra=0 bad=0" "$res" "events received" || return
    assert_eq 1 "$(grep -c 'the server answered: FAILED' "$WORK/avf.log")" "one ERROR line per cause" || return
    assert_contains "$WORK/avf.log" "again after" "recovery logged" || return
    pass
}

s_restart() {
    t restart
    db_create_idv avr
    db_insert_range avr 1 1000
    echo ok >"$WORK/avr.ctl"
    srv_start "$WORK/avr.events" "$WORK/avr.ctl" || return
    av_conf "$WORK/avr.conf" avr "a1.sinks.k1.batch-size = 50" "a1.sinks.k1.request-timeout = 1000"
    agent_start "$WORK/avr.conf" "$WORK/avr.log"
    wait_offset avr 1000 60 || return
    echo stall >"$WORK/avr.ctl"
    db_insert_range avr 1001 2000
    wait_log "$WORK/avr.log" "request-timeout passed" 30 || return
    srv_stop
    echo ok >"$WORK/avr.ctl"
    wait_log "$WORK/avr.log" "could not connect" 30 || return
    db_insert_range avr 2001 3000
    srv_start "$WORK/avr.events" "$WORK/avr.ctl" || return
    wait_offset avr 3000 60 || return
    agent_term
    srv_stop
    local res
    res=$(av_check "$WORK/avr.events" avr 1 3000)
    log "restart: $res"
    case "$res" in
    "lost=0 dup="*" extra=0 bad=0") ;;
    *) fail "events received: $res"; return ;;
    esac
    pass
}

s_deflate() {
    t deflate
    db_create_idv avd
    db_insert_range avd 1 3000
    echo ok >"$WORK/avd.ctl"
    : >"$WORK/server.log"
    srv_start "$WORK/avd.events" "$WORK/avd.ctl" --deflate || return
    av_conf "$WORK/avd.conf" avd "a1.sinks.k1.batch-size = 250" \
        "a1.sinks.k1.compression-type = deflate" "a1.sinks.k1.compression-level = 9"
    agent_start "$WORK/avd.conf" "$WORK/avd.log"
    wait_offset avd 3000 60 || return
    agent_term
    srv_stop
    local res
    res=$(av_check "$WORK/avd.events" avd 1 3000)
    log "deflate: $res"
    assert_eq "lost=0 dup=0 extra=0 bad=0" "$res" "events received" || return
    assert_not_contains "$WORK/avd.log" " ERROR " "no error" || return
    assert_not_contains "$WORK/server.log" "Error" "no error in the server" || return
    pass
}

ALL="s_basic s_failed s_restart s_deflate"
db_start "$KIND" "$PORT"
for s in ${*:-$ALL}; do
    "$s"
done
finish
