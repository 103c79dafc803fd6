#!/usr/bin/env bash
# End-to-end tests of the Avro source (type avro), against an independent client
# (tests/support/flume_avro_client.py on python3-avro's avro.ipc Requestor, Netty framing) and
# our own Avro sink one tier up:
#   tests/integration/avro_source.sh mysql|postgresql PORT [SCENARIO...]
# The database listens on PORT; agent B's Avro source on PORT+1, the Python AvroSource stand-in
# on PORT+2, B's monitoring on PORT+3.
# s_client: the Python client -> B (avro source -> memory -> file_roll, avro_event): 2000 events
#   in appendBatch calls and 50 append calls, headers outside ASCII, bodies of every byte value
#   and one of 3 MB: every event exactly once with its exact headers and bytes; the source's
#   counters; a garbage call and an oversized frame each close their connection with a WARN and
#   the next client is served.
# s_tier: agent A (SQL source over 20,000 rows with holes in the ids and NULLs, channel 1000/100,
#   avro sink) -> agent B (avro source -> memory -> file_roll): every row exactly once.
# s_full: B's channel is tiny and its sink blocked (an avro sink to the stand-in answering
#   FAILED): the client gets FAILED and sends again; once the sink drains, every event exactly
#   once.
# s_kill: s_tier with a file channel in B, B killed with SIGKILL mid-run (once A's offset is past
#   id 3000 of the first half of the rows; the second half is inserted while B is down) and
#   restarted: no row lost. Duplicates are possible (at least once, as Flume: a batch B committed whose OK A never
#   got is sent again, and file_roll's last block before the kill is written again): they are
#   counted and logged, and the number of distinct rows must be exact.
# s_limits: ipFilterRules (first match wins, name: and ip: globs) deny and allow at run time;
#   threads = 1 serves a second connection only after the first one closed; a stop with an idle
#   connection open is prompt.
# s_deflate: compression-type = deflate on both ends. The Python client with zlib (--deflate:
#   Python's zlib, Z_SYNC_FLUSH each write) -> B (deflate): 1000 events and one of 3 MB exactly;
#   a plain client into B is closed with a WARN and gets nothing in. Agent A (avro sink, deflate)
#   -> B (deflate): every row exactly once. A mismatched pair, A (deflate) -> B (none): A logs
#   the failed batch with a hint, B the zlib bytes, B's channel gets nothing; B restarted with
#   deflate then gets every row exactly once (A kept and retried them).
# s_check: `sqlflume check` rejects an avro source without a port and with bad ipFilterRules.
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2
B_PORT=$((PORT + 1))
SRV_PORT=$((PORT + 2))
MON_PORT=$((PORT + 3))
CLIENT="$PY $SF_ROOT/tests/support/flume_avro_client.py"
B_PID=""
SRV_PID=""

b_start() { # conf log
    "$SF_BIN" agent -n b1 -f "$1" -Dflume.root.logger=${SF_LOG_LEVEL:-INFO},console \
        -Dflume.monitoring.type=http -Dflume.monitoring.port="$MON_PORT" \
        -Dflume.monitoring.host=127.0.0.1 >>"$2" 2>&1 &
    B_PID=$!
    local end=$((SECONDS + $(secs 20)))
    until (exec 3<>/dev/tcp/127.0.0.1/$B_PORT) 2>/dev/null; do
        [ $SECONDS -lt $end ] || { fail "agent B did not listen on $B_PORT"; tail -5 "$2" >&2; return 1; }
        sleep 0.1
    done
}
b_kill9() { kill -9 "$B_PID" 2>/dev/null; wait "$B_PID" 2>/dev/null; B_PID=""; }
srv_stop() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
trap '[ -n "$B_PID" ] && kill -9 "$B_PID" 2>/dev/null; srv_stop; cleanup' EXIT

# b_conf FILE CHANNEL-TYPE SINK-LINES...: agent b1: avro source r1 on B_PORT -> c1 -> k1
b_conf() {
    local f=$1 ch=$2
    shift 2
    {
        echo "b1.sources = r1"
        echo "b1.channels = c1"
        echo "b1.sinks = k1"
        echo "b1.sources.r1.type = avro"
        echo "b1.sources.r1.bind = 127.0.0.1"
        echo "b1.sources.r1.port = $B_PORT"
        echo "b1.sources.r1.threads = 4"
        echo "b1.sources.r1.channels = c1"
        echo "b1.channels.c1.type = $ch"
        echo "b1.sinks.k1.channel = c1"
        for l in "$@"; do echo "$l"; done
    } >"$f"
}
# fr_lines DIR: the file_roll sink lines of b_conf
fr_lines() {
    mkdir -p "$1"
    printf '%s\n' "b1.sinks.k1.type = file_roll" "b1.sinks.k1.sink.directory = $1" \
        "b1.sinks.k1.sink.serializer = avro_event" "b1.sinks.k1.sink.rollInterval = 0"
}
metric() { # component counter
    $PY -c 'import json, sys, urllib.request
m = json.load(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]))
print(m[sys.argv[2]][sys.argv[3]])' "$MON_PORT" "$1" "$2"
}

s_client() {
    t client
    local out=$WORK/cl.out
    mapfile -t fr < <(fr_lines "$out")
    b_conf "$WORK/cl.conf" memory "b1.channels.c1.capacity = 10000" \
        "b1.channels.c1.transactionCapacity = 1000" "${fr[@]}"
    b_start "$WORK/cl.conf" "$WORK/cl.log" || return
    $CLIENT send --port "$B_PORT" --count 2000 --batch 100 --big 777:3000000 >"$WORK/cl.s1" || {
        fail "client (appendBatch) failed"; return; }
    $CLIENT send --port "$B_PORT" --first 2000 --count 50 --batch 0 >"$WORK/cl.s2" || {
        fail "client (append) failed"; return; }
    assert_eq '{"sent": 2000, "failed": 0, "reconnects": 0}' "$(cat "$WORK/cl.s1")" "appendBatch client" || return
    assert_eq '{"sent": 50, "failed": 0, "reconnects": 0}' "$(cat "$WORK/cl.s2")" "append client" || return
    # a garbage call, then a frame header over the 64 MiB bound: each connection closed
    $PY - "$B_PORT" <<'EOF' || { fail "bad frames were not answered by a close"; return; }
import socket, struct, sys
for data in (struct.pack(">iii", 1, 1, 5) + b"\x07junk",
             struct.pack(">ii", 2, 1) + struct.pack(">i", 0x7ffffff0)):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    s.sendall(data)
    assert s.recv(100) == b"", "expected the server to close the connection"
    s.close()
EOF
    assert_contains "$WORK/cl.log" "malformed call from 127.0.0.1:" "garbage call logged" || return
    assert_contains "$WORK/cl.log" "message over the size bound from 127.0.0.1:" "oversized frame logged" || return
    # the next client is served
    $CLIENT send --port "$B_PORT" --first 2050 --count 10 --batch 5 >/dev/null || {
        fail "client after the bad frames failed"; return; }
    assert_eq 22 "$(metric SOURCE.r1 AppendBatchReceivedCount)" "AppendBatchReceivedCount (20 + 2)" || return
    assert_eq 50 "$(metric SOURCE.r1 AppendReceivedCount)" "AppendReceivedCount" || return
    assert_eq 22 "$(metric SOURCE.r1 AppendBatchAcceptedCount)" "AppendBatchAcceptedCount (20 + 2)" || return
    assert_eq 50 "$(metric SOURCE.r1 AppendAcceptedCount)" "AppendAcceptedCount" || return
    assert_eq 2060 "$(metric SOURCE.r1 EventAcceptedCount)" "EventAcceptedCount" || return
    assert_eq 0 "$(metric SOURCE.r1 ChannelWriteFail)" "ChannelWriteFail" || return
    b_term
    local res
    res=$($CLIENT verify --dir "$out" --count 2060 --big 777:3000000)
    log "client: $res"
    assert_eq "events=2060 lost=0 dup=0 bad=0" "$res" "events written" || return
    assert_not_contains "$WORK/cl.log" " ERROR " "no error" || return
    pass
}

# the rows of s_tier and s_kill: ids FROM..TO less every 7th (1..23333: 20,000 rows), v NULL
# every 10th
tier_insert() { # table from to
    if [ "$DB_KIND" = mysql ]; then
        db_exec "INSERT INTO $(qi "$1") (id, v) SELECT seq, IF(seq % 10 = 0, NULL, CONCAT('row-', seq)) FROM seq_$2_to_$3 WHERE seq % 7 <> 0"
    else
        db_exec "INSERT INTO $(qi "$1") (id, v) SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'row-' || g END FROM generate_series($2, $3) g WHERE g % 7 <> 0"
    fi
}
tier_table() { db_create_idv "$1"; tier_insert "$1" 1 23333; }
# a_conf FILE TABLE [BATCH]: agent a1: SQL source -> memory 1000/100 -> avro sink to B, BATCH
# (default 100) events per appendBatch
a_conf() {
    write_conf "$1" "$2" unused "a1.sinks.k1.hostname = 127.0.0.1" "a1.sinks.k1.port = $B_PORT" \
        "a1.sinks.k1.batch-size = ${3:-100}" "a1.sinks.k1.request-timeout = 5000"
    sed -i -e '/^a1\.sinks\.k1\.kafka\./d' -e 's/^a1\.sinks\.k1\.type = kafka$/a1.sinks.k1.type = avro/' \
        -e 's/^a1\.channels\.c1\.capacity = .*/a1.channels.c1.capacity = 1000/' \
        -e 's/^a1\.channels\.c1\.transactionCapacity = .*/a1.channels.c1.transactionCapacity = 100/' "$1"
}

s_tier() {
    t tier
    tier_table avt
    local out=$WORK/tier.out
    mapfile -t fr < <(fr_lines "$out")
    b_conf "$WORK/tierb.conf" memory "b1.channels.c1.capacity = 10000" \
        "b1.channels.c1.transactionCapacity = 1000" "${fr[@]}"
    b_start "$WORK/tierb.conf" "$WORK/tierb.log" || return
    a_conf "$WORK/tiera.conf" avt
    agent_start "$WORK/tiera.conf" "$WORK/tiera.log"
    wait_hw avt 23333 120 || return
    agent_term
    b_term
    local res
    res=$($CLIENT rows --dir "$out" --table avt --first 1 --last 23333)
    log "tier: $res"
    assert_eq "events=20000 distinct=20000 lost=0 dup=0 extra=0 bad=0" "$res" "rows in B's files" || return
    assert_not_contains "$WORK/tiera.log" " ERROR " "no error in A" || return
    assert_not_contains "$WORK/tierb.log" " WARN " "no warning in B" || return
    pass
}

s_full() {
    t full
    echo failed >"$WORK/full.ctl"
    $PY "$SF_ROOT/tests/support/flume_avro_server.py" --port "$SRV_PORT" --out "$WORK/full.events" \
        --control "$WORK/full.ctl" >>"$WORK/server.log" 2>&1 &
    SRV_PID=$!
    b_conf "$WORK/full.conf" memory "b1.channels.c1.capacity = 200" \
        "b1.channels.c1.transactionCapacity = 100" "b1.channels.c1.keep-alive = 0" \
        "b1.sinks.k1.type = avro" "b1.sinks.k1.hostname = 127.0.0.1" \
        "b1.sinks.k1.port = $SRV_PORT" "b1.sinks.k1.batch-size = 50"
    b_start "$WORK/full.conf" "$WORK/full.log" || return
    $CLIENT send --port "$B_PORT" --count 1000 --batch 100 --retry-seconds 120 >"$WORK/full.s" &
    local cpid=$!
    wait_log "$WORK/full.log" "answered FAILED, the client sends them again" 30 || return
    sleep "$(secs 2)"
    echo ok >"$WORK/full.ctl"
    wait "$cpid" || { fail "client gave up"; return; }
    local failed
    failed=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["failed"])' "$WORK/full.s")
    log "full: the client got FAILED $failed times"
    [ "$failed" -gt 0 ] || { fail "the client never got FAILED"; return; }
    local end=$((SECONDS + $(secs 60)))
    while [ "$(wc -l <"$WORK/full.events" 2>/dev/null || echo 0)" -lt 1000 ] && [ $SECONDS -lt $end ]; do
        sleep 0.2
    done
    [ "$(metric SOURCE.r1 ChannelWriteFail)" -ge "$failed" ] || { fail "ChannelWriteFail below the FAILED answers"; return; }
    b_term
    srv_stop
    local res
    res=$($CLIENT verify --dir "$WORK/full.events" --count 1000)
    log "full: $res"
    assert_eq "events=1000 lost=0 dup=0 bad=0" "$res" "events delivered" || return
    assert_contains "$WORK/full.log" "the channels take events again" "recovery logged" || return
    pass
}

s_kill() {
    t kill
    db_create_idv avk
    tier_insert avk 1 11666
    local out=$WORK/kill.out
    mapfile -t fr < <(fr_lines "$out")
    b_conf "$WORK/killb.conf" file "b1.channels.c1.checkpointDir = $WORK/kill.cp" \
        "b1.channels.c1.dataDirs = $WORK/kill.data" "b1.channels.c1.capacity = 100000" \
        "b1.channels.c1.transactionCapacity = 1000" "${fr[@]}"
    b_start "$WORK/killb.conf" "$WORK/killb.log" || return
    a_conf "$WORK/killa.conf" avk 10 # small calls (each a file channel commit in B): slower
    agent_start "$WORK/killa.conf" "$WORK/killa.log"
    # kill B once a part of the rows went through
    local end=$((SECONDS + $(secs 60))) hw=0
    while [ $SECONDS -lt $end ]; do
        hw=$(db_offset avk)
        hw=${hw%%;*}
        [ -n "$hw" ] && [ "$hw" -gt 3000 ] && break
        sleep 0.05
    done
    [ -n "$hw" ] && [ "$hw" -gt 3000 ] || { fail "A did not get past id 3000"; return; }
    b_kill9
    log "kill: B killed with A's offset at $hw"
    # the rest while B is down: A's sink cannot deliver and retries
    tier_insert avk 11667 23333
    wait_log "$WORK/killa.log" "could not connect to 127.0.0.1:$B_PORT" 30 || return
    b_start "$WORK/killb.conf" "$WORK/killb.log" || return
    wait_hw avk 23333 180 || return
    agent_term
    b_term
    local res
    res=$($CLIENT rows --dir "$out" --table avk --first 1 --last 23333)
    log "kill: $res (duplicates are allowed: at least once)"
    case "$res" in
    "events="*" distinct=20000 lost=0 dup="*" extra=0 bad=0") ;;
    *) fail "rows in B's files: $res"; return ;;
    esac
    assert_contains "$WORK/killa.log" "again after" "A retried and recovered" || return
    pass
}

s_check() {
    t check
    local f=$WORK/chk.conf
    b_conf "$f" memory "b1.sinks.k1.type = null"
    sed -i '/^b1\.sources\.r1\.port/d' "$f"
    echo "b1.sources.r1.ipFilter = true" >>"$f"
    echo "b1.sources.r1.ipFilterRules = allow:ip:127.*,let:ip:*" >>"$f"
    local rc=0
    "$SF_BIN" check -n b1 -f "$f" >"$WORK/chk.out" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] || { fail "check accepted the configuration"; return; }
    assert_contains "$WORK/chk.out" "b1.sources.r1.port: missing required key" "missing port" || return
    assert_contains "$WORK/chk.out" "b1.sources.r1.ipFilterRules: rule 2 \"let:ip:*\" is not allow|deny:ip|name:PATTERN" "bad rule" || return
    # and a good one passes
    b_conf "$f" memory "b1.sinks.k1.type = null"
    echo "b1.sources.r1.ipFilter = true" >>"$f"
    echo "b1.sources.r1.ipFilterRules = allow:ip:127.*,deny:ip:*" >>"$f"
    "$SF_BIN" check -n b1 -f "$f" >"$WORK/chk2.out" 2>&1 || { fail "check refused a good configuration"; cat "$WORK/chk2.out" >&2; return; }
    pass
}

s_limits() {
    t limits
    # ipFilterRules: the first rule that matches decides (127.0.0.1's name is localhost here)
    b_conf "$WORK/lim1.conf" memory "b1.sinks.k1.type = null" "b1.sources.r1.ipFilter = true" \
        "b1.sources.r1.ipFilterRules = allow:name:nosuchname,deny:ip:127.0.0.*,allow:ip:*"
    b_start "$WORK/lim1.conf" "$WORK/lim1.log" || return
    if $CLIENT send --port "$B_PORT" --count 5 --retry-seconds 1 >/dev/null 2>&1; then
        fail "a denied client got its events in"; return
    fi
    assert_contains "$WORK/lim1.log" "connection from 127.0.0.1:" "denial logged" || return
    assert_contains "$WORK/lim1.log" "denied by ipFilterRules; closed" "denial logged" || return
    assert_eq 0 "$(metric SOURCE.r1 EventAcceptedCount)" "nothing accepted from a denied peer" || return
    b_term
    b_conf "$WORK/lim2.conf" memory "b1.sinks.k1.type = null" "b1.sources.r1.ipFilter = true" \
        "b1.sources.r1.ipFilterRules = allow:name:local*,deny:ip:*" "b1.sources.r1.threads = 1"
    b_start "$WORK/lim2.conf" "$WORK/lim2.log" || return
    # threads = 1: a second connection is served only once the first one closes (here after 3 s)
    $PY -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(3)' "$B_PORT" &
    local holder=$! t0=$SECONDS
    sleep 0.5
    $CLIENT send --port "$B_PORT" --count 5 --batch 5 >/dev/null || { fail "an allowed client failed"; return; }
    local took=$((SECONDS - t0))
    wait $holder
    [ "$took" -ge 2 ] || { fail "the second connection was served while the first was open (${took}s)"; return; }
    assert_eq 5 "$(metric SOURCE.r1 EventAcceptedCount)" "the allowed client's events" || return
    assert_not_contains "$WORK/lim2.log" "denied" "no denial" || return
    # stop closes the listener and an idle connection promptly
    $PY -c 'import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(30)' "$B_PORT" &
    holder=$!
    sleep 0.5
    t0=$SECONDS
    b_term
    kill $holder 2>/dev/null
    wait $holder 2>/dev/null
    [ $((SECONDS - t0)) -le 3 ] || { fail "stop took $((SECONDS - t0)) s with a connection open"; return; }
    pass
}

# dfl_b_conf FILE OUT-DIR COMPRESSION: b_conf with a memory channel 10000/1000 into file_roll
# at OUT-DIR, the source's compression-type COMPRESSION
dfl_b_conf() {
    local fr
    mapfile -t fr < <(fr_lines "$2")
    b_conf "$1" memory "b1.channels.c1.capacity = 10000" \
        "b1.channels.c1.transactionCapacity = 1000" "b1.sources.r1.compression-type = $3" \
        "${fr[@]}"
}

s_deflate() {
    t deflate
    local out=$WORK/dfl.out
    dfl_b_conf "$WORK/dflb.conf" "$out" deflate
    b_start "$WORK/dflb.conf" "$WORK/dflb.log" || return
    $CLIENT send --port "$B_PORT" --count 1000 --batch 100 --big 77:3000000 --deflate \
        --retry-seconds 10 >"$WORK/dfl.s1" || { fail "deflate client failed"; return; }
    assert_eq '{"sent": 1000, "failed": 0, "reconnects": 0}' "$(cat "$WORK/dfl.s1")" "deflate client" || return
    if $CLIENT send --port "$B_PORT" --first 5000 --count 5 --retry-seconds 1 >/dev/null 2>&1; then
        fail "a plain client got its events into a deflate source"; return
    fi
    assert_contains "$WORK/dflb.log" "a stream that does not inflate from 127.0.0.1:" "plain client logged" || return
    assert_contains "$WORK/dflb.log" "(this source's compression-type is deflate: is the client's?)" "hint" || return
    assert_eq 1000 "$(metric SOURCE.r1 EventAcceptedCount)" "EventAcceptedCount" || return
    b_term
    local res
    res=$($CLIENT verify --dir "$out" --count 1000 --big 77:3000000)
    log "deflate, python client: $res"
    assert_eq "events=1000 lost=0 dup=0 bad=0" "$res" "events written" || return
    # agent A, deflate -> B, deflate
    db_create_idv avd
    tier_insert avd 1 7000
    out=$WORK/dfl2.out
    dfl_b_conf "$WORK/dflb2.conf" "$out" deflate
    b_start "$WORK/dflb2.conf" "$WORK/dflb2.log" || return
    a_conf "$WORK/dfla.conf" avd
    echo "a1.sinks.k1.compression-type = deflate" >>"$WORK/dfla.conf"
    agent_start "$WORK/dfla.conf" "$WORK/dfla.log"
    wait_hw avd 6999 60 || return
    agent_term
    b_term
    res=$($CLIENT rows --dir "$out" --table avd --first 1 --last 7000)
    log "deflate, A -> B: $res"
    assert_eq "events=6000 distinct=6000 lost=0 dup=0 extra=0 bad=0" "$res" "rows in B's files" || return
    assert_not_contains "$WORK/dfla.log" " ERROR " "no error in A" || return
    assert_not_contains "$WORK/dflb2.log" " WARN " "no warning in B" || return
    # the mismatched pair: A deflate -> B none
    db_create_idv avm
    tier_insert avm 1 700
    out=$WORK/dfl3.out
    dfl_b_conf "$WORK/dflb3.conf" "$out" none
    b_start "$WORK/dflb3.conf" "$WORK/dflb3.log" || return
    a_conf "$WORK/dflm.conf" avm
    echo "a1.sinks.k1.compression-type = deflate" >>"$WORK/dflm.conf"
    agent_start "$WORK/dflm.conf" "$WORK/dflm.log"
    wait_log "$WORK/dflm.log" "(compression-type = deflate: does the AvroSource use deflate too?)" 30 || return
    wait_log "$WORK/dflb3.log" "(its bytes look like a zlib stream: the client's compression-type is deflate, this source's none)" 30 || return
    assert_eq 0 "$(metric SOURCE.r1 EventAcceptedCount)" "nothing accepted by the plain source" || return
    b_term
    assert_eq "" "$(cat "$out"/* 2>/dev/null | head -c 1)" "nothing written by the plain B" || return
    # B with deflate: A's retries get through
    dfl_b_conf "$WORK/dflb3.conf" "$out" deflate
    b_start "$WORK/dflb3.conf" "$WORK/dflb3.log" || return
    local end=$((SECONDS + $(secs 60)))
    until [ "$(metric SOURCE.r1 EventAcceptedCount)" -ge 600 ] || [ $SECONDS -ge $end ]; do
        sleep 0.2
    done
    agent_term
    b_term
    res=$($CLIENT rows --dir "$out" --table avm --first 1 --last 700)
    log "deflate, mismatch then fixed: $res"
    assert_eq "events=600 distinct=600 lost=0 dup=0 extra=0 bad=0" "$res" "rows after the fix" || return
    assert_contains "$WORK/dflm.log" "again after" "A retried and recovered" || return
    pass
}

# Bad input from the network, each on its own connection while a real client is served: a frame
# claiming 2^31 buffers (and 2^31 - 1), a frame cut short by the client's close, a message begun
# and then stalled (closed after 20 s without a byte), a handshake of another protocol (answered
# the Avro error "No such remote message", as Avro's Responder does), an idle client (kept, as
# Netty keeps one: a sink with nothing to send looks the same). Each is one WARN; afterwards the
# source serves a client again and the idle connection is still open.
s_bad_input() {
    t bad_input
    local out=$WORK/bad.out
    mapfile -t fr < <(fr_lines "$out")
    b_conf "$WORK/bad.conf" memory "b1.channels.c1.capacity = 10000" \
        "b1.channels.c1.transactionCapacity = 1000" "b1.sources.r1.threads = 8" "${fr[@]}"
    b_start "$WORK/bad.conf" "$WORK/bad.log" || return
    local res
    res=$($PY - "$B_PORT" "$SF_ROOT/tests/support" "$CLIENT" <<'PYEOF'
import json, socket, struct, subprocess, sys, threading, time
port = int(sys.argv[1])
sys.path.insert(0, sys.argv[2])
import avro.ipc, avro.protocol, avro_netty
def conn():
    return socket.create_connection(("127.0.0.1", port), timeout=40)
def closed_by_server(s, within):
    s.settimeout(within)
    try:
        return s.recv(100) == b""
    except socket.timeout:
        return False
out = []
idle = conn()                                   # sends nothing
stall = conn()                                  # half a message, then nothing
stall.sendall(struct.pack(">iii", 7, 1, 100) + b"x" * 10)
t0 = time.time()
for count in (0x80000000, 0x7fffffff):          # 2^31 and 2^31 - 1 buffers
    s = conn(); s.sendall(struct.pack(">iI", 1, count) + b"\0" * 8)
    out.append("count %#x closed=%s" % (count, closed_by_server(s, 10))); s.close()
s = conn(); s.sendall(struct.pack(">iii", 2, 1, 50) + b"y" * 20); s.close()   # cut short
P = avro.protocol.parse(json.dumps({"protocol": "Foo", "namespace": "x", "messages": {
    "hello": {"request": [{"name": "who", "type": "string"}], "response": "string"}}}))
t = avro_netty.NettyTransceiver("127.0.0.1", port, timeout=10)
try:
    avro.ipc.Requestor(P, t).request("hello", {"who": "x"}); out.append("wrong protocol: answered")
except avro.errors.AvroException as e:
    out.append("wrong protocol: %s" % e)
t.close()
r = subprocess.run(sys.argv[3].split() + ["send", "--port", str(port), "--count", "100", "--batch", "10"],
                   capture_output=True, text=True)
out.append("client: %s" % r.stdout.strip())
out.append("stalled closed=%s after %ds" % (closed_by_server(stall, 35), round(time.time() - t0) // 10 * 10))
idle.settimeout(0.5)
try:
    idle.recv(1); out.append("idle closed")
except socket.timeout:
    out.append("idle open")
print("; ".join(out))
PYEOF
)
    log "bad input: $res"
    assert_eq 'count 0x80000000 closed=True; count 0x7fffffff closed=True; wrong protocol: Unknown remote message: hello; client: {"sent": 100, "failed": 0, "reconnects": 0}; stalled closed=True after 20s; idle open' \
        "$res" "bad connections closed, the others served" || return
    assert_contains "$WORK/bad.log" "message over the size bound from 127.0.0.1:" "2^31 buffers logged" || return
    assert_eq 2 "$(grep -c 'message over the size bound from' "$WORK/bad.log")" "one WARN per oversized frame" || return
    assert_contains "$WORK/bad.log" "closed in the middle of a message; closing the connection" "cut-short frame logged" || return
    assert_contains "$WORK/bad.log" "message not completed from 127.0.0.1:" "stalled message logged" || return
    assert_contains "$WORK/bad.log" "No such remote message: hello from 127.0.0.1:" "wrong protocol logged" || return
    b_term
    pass
}

ALL="s_check s_client s_limits s_tier s_full s_kill s_deflate s_bad_input"
db_start "$KIND" "$PORT"
for s in ${*:-$ALL}; do
    "$s"
done
finish
