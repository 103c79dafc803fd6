#!/usr/bin/env bash
# End-to-end tests of `sqlflume avro-client` (Flume's flume-ng avro-client) into our Avro source
# (agent B: avro source -> memory -> file_roll with the avro_event serializer, read back with
# python3-avro) and into the independent python3-avro server (tests/support/flume_avro_server.py):
#   tests/integration/avro_client.sh PORT [SCENARIO...]
# B's Avro source listens on PORT, its monitoring on PORT+1, the Python server on PORT+2; PORT+3
# is a port nothing listens on. No database.
# s_file: -F with lines ending in \n, \r\n and \r, an empty line, UTF-8, bytes that are not
#   UTF-8, a last line without its end, and -R headers (Java properties: ':' and '=', escapes,
#   a comment): every event in order, its exact body and exactly those headers; appendBatch
#   calls of 5 (23 lines: 5 calls); 10,000 lines exactly, in order.
# s_stdin: the lines of stdin (no -F); empty stdin sends nothing and exits 0.
# s_errors: a closed port exits 1 with "could not connect to ...: Connection refused"; a server
#   answering FAILED exits 1 naming it and how many events got in before; missing -p, a bad
#   port, -P and a missing -F file exit 2 with a message.
set -u
source "$(dirname "$0")/lib.sh"

B_PORT=$1
shift
MON_PORT=$((B_PORT + 1))
SRV_PORT=$((B_PORT + 2))
CLOSED_PORT=$((B_PORT + 3))
DB_KIND=avro-client
B_PID=""
SRV_PID=""

b_start() { # out-dir log
    mkdir -p "$1"
    cat >"$WORK/b.conf" <<EOF
b1.sources = r1
b1.channels = c1
b1.sinks = k1
b1.sources.r1.type = avro
b1.sources.r1.bind = 127.0.0.1
b1.sources.r1.port = $B_PORT
b1.sources.r1.channels = c1
b1.channels.c1.type = memory
b1.channels.c1.capacity = 20000
b1.channels.c1.transactionCapacity = 1000
b1.sinks.k1.channel = c1
b1.sinks.k1.type = file_roll
b1.sinks.k1.sink.directory = $1
b1.sinks.k1.sink.serializer = avro_event
b1.sinks.k1.sink.rollInterval = 0
EOF
    "$SF_BIN" agent -n b1 -f "$WORK/b.conf" -Dflume.monitoring.type=http \
        -Dflume.monitoring.port="$MON_PORT" -Dflume.monitoring.host=127.0.0.1 >>"$2" 2>&1 &
    B_PID=$!
    local end=$((SECONDS + $(secs 20)))
    until (exec 3<>/dev/tcp/127.0.0.1/$B_PORT) 2>/dev/null; do
        [ $SECONDS -lt $end ] || { fail "agent B did not listen on $B_PORT"; return 1; }
        sleep 0.1
    done
}
srv_stop() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
trap '[ -n "$B_PID" ] && kill -9 "$B_PID" 2>/dev/null; srv_stop; cleanup' EXIT
metric() { # component counter
    $PY -c 'import json, sys, urllib.request
m = json.load(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]))
print(m[sys.argv[2]][sys.argv[3]])' "$MON_PORT" "$1" "$2"
}

# events DIR: every record of DIR's avro_event files, one JSON line each (body as latin-1)
events() {
    $PY - "$1" <<'EOF'
import json, os, sys
sys.path.insert(0, os.path.join(os.environ["SF_ROOT"], "tests", "support"))
import flume_avro_client
for rec in flume_avro_client.read_dir(sys.argv[1]):
    print(json.dumps({"headers": rec["headers"], "body": rec["body"].decode("latin-1")},
                     sort_keys=True))
EOF
}
export SF_ROOT

s_file() {
    t file
    # 23 lines: \n, \r\n, \r ends, an empty line, UTF-8, two bytes that are not UTF-8, no end
    {
        printf 'line 1\nline 2\r\nline 3\rline 4\n\nline 6 \xc3\xa9 \xe2\x9c\x93\n'
        printf 'line 7 \xff\xfe\n'
        for i in $(seq 8 22); do printf 'line %d\n' "$i"; done
        printf 'line 23'
    } >"$WORK/in.txt"
    cat >"$WORK/h.properties" <<'EOF'
# a comment
host = web-1
tag: two words
path=C\:\\logs
text = \u00e9t\u00e9
EOF
    b_start "$WORK/out1" "$WORK/b1.log" || return
    "$SF_BIN" avro-client -H 127.0.0.1 -p "$B_PORT" -F "$WORK/in.txt" -R "$WORK/h.properties" \
        -c /nonexistent >"$WORK/c1.out" 2>&1 || { fail "avro-client failed: $(cat "$WORK/c1.out")"; return; }
    assert_eq "" "$(cat "$WORK/c1.out")" "nothing printed" || return
    assert_eq 5 "$(metric SOURCE.r1 AppendBatchReceivedCount)" "appendBatch calls of 5" || return
    assert_eq 23 "$(metric SOURCE.r1 EventAcceptedCount)" "events accepted" || return
    b_term
    events "$WORK/out1" >"$WORK/got1.jsonl"
    $PY - "$WORK/got1.jsonl" <<'EOF' || { fail "events differ"; return; }
import json, sys
want_h = {"host": "web-1", "tag": "two words", "path": "C:\\logs", "text": "\u00e9t\u00e9"}
bodies = [b"line 1", b"line 2", b"line 3", b"line 4", b"", "line 6 é ✓".encode(),
          b"line 7 \xff\xfe"] + [b"line %d" % i for i in range(8, 24)]
got = [json.loads(l) for l in open(sys.argv[1])]
assert len(got) == len(bodies), (len(got), len(bodies))
for g, b in zip(got, bodies):
    assert g["body"].encode("latin-1") == b, (g["body"], b)
    assert g["headers"] == want_h, g["headers"]
EOF
    # 10,000 lines, in order
    seq 1 10000 | sed 's/^/event /' >"$WORK/big.txt"
    b_start "$WORK/out2" "$WORK/b2.log" || return
    "$SF_BIN" avro-client -H 127.0.0.1 -p "$B_PORT" -F "$WORK/big.txt" || { fail "avro-client (10,000 lines) failed"; return; }
    assert_eq 2000 "$(metric SOURCE.r1 AppendBatchReceivedCount)" "appendBatch calls" || return
    b_term
    events "$WORK/out2" | $PY -c 'import json, sys
got = [json.loads(l) for l in sys.stdin]
assert [g["body"] for g in got] == ["event %d" % i for i in range(1, 10001)], len(got)
assert all(g["headers"] == {} for g in got)' || { fail "10,000 lines differ"; return; }
    pass
}

s_stdin() {
    t stdin
    b_start "$WORK/out3" "$WORK/b3.log" || return
    printf 'a\nb\nc\nd\ne\nf\ng\n' | "$SF_BIN" avro-client -H 127.0.0.1 -p "$B_PORT" ||
        { fail "avro-client from stdin failed"; return; }
    "$SF_BIN" avro-client -H 127.0.0.1 -p "$B_PORT" </dev/null || { fail "empty stdin failed"; return; }
    assert_eq 2 "$(metric SOURCE.r1 AppendBatchReceivedCount)" "appendBatch calls (5 + 2)" || return
    b_term
    assert_eq "a b c d e f g" "$(events "$WORK/out3" | $PY -c 'import json, sys
print(" ".join(json.loads(l)["body"] for l in sys.stdin))')" "stdin lines" || return
    pass
}

s_errors() {
    t errors
    local rc=0
    printf 'x\n' >"$WORK/one.txt"
    "$SF_BIN" avro-client -H 127.0.0.1 -p "$CLOSED_PORT" -F "$WORK/one.txt" >"$WORK/e1" 2>&1 || rc=$?
    assert_eq 1 "$rc" "exit code, closed port" || return
    assert_eq "sqlflume avro-client: could not connect to 127.0.0.1:$CLOSED_PORT: Connection refused" \
        "$(cat "$WORK/e1")" "message, closed port" || return
    # a server that answers FAILED after the first batch
    echo ok >"$WORK/srv.ctl"
    $PY "$SF_ROOT/tests/support/flume_avro_server.py" --port "$SRV_PORT" --out "$WORK/srv.events" \
        --control "$WORK/srv.ctl" >>"$WORK/srv.log" 2>&1 &
    SRV_PID=$!
    local end=$((SECONDS + 20))
    until grep -q "listening on" "$WORK/srv.log" 2>/dev/null; do
        [ $SECONDS -lt $end ] || { fail "the Python server did not start"; return; }
        sleep 0.1
    done
    seq 1 12 >"$WORK/twelve.txt"
    "$SF_BIN" avro-client -H 127.0.0.1 -p "$SRV_PORT" -F "$WORK/twelve.txt" || { fail "into the Python server"; return; }
    assert_eq "$(seq 1 12 | tr '\n' ' ')" "$($PY -c 'import json, sys
print(" ".join(json.loads(l)["body"] for l in open(sys.argv[1])), end=" ")' "$WORK/srv.events")" "the Python server got the lines" || return
    echo failed >"$WORK/srv.ctl"
    rc=0
    "$SF_BIN" avro-client -H 127.0.0.1 -p "$SRV_PORT" -F "$WORK/twelve.txt" >"$WORK/e2" 2>&1 || rc=$?
    assert_eq 1 "$rc" "exit code, FAILED" || return
    assert_eq "sqlflume avro-client: appendBatch of 5 events to 127.0.0.1:$SRV_PORT: the server answered: FAILED (0 events sent before it)" \
        "$(cat "$WORK/e2")" "message, FAILED" || return
    srv_stop
    # bad arguments: exit 2
    for args in "-H 127.0.0.1" "-H 127.0.0.1 -p 0" "-H 127.0.0.1 -p 12x" "-P rpc.properties" \
        "-H 127.0.0.1 -p $B_PORT -F $WORK/nosuchfile" "-H 127.0.0.1 -p $B_PORT -R $WORK/nosuchfile" \
        "-H 127.0.0.1 -p $B_PORT extra"; do
        rc=0
        # shellcheck disable=SC2086
        "$SF_BIN" avro-client $args >"$WORK/e3" 2>&1 </dev/null || rc=$?
        assert_eq 2 "$rc" "exit code of avro-client $args" || return
        grep -q "^sqlflume avro-client: " "$WORK/e3" || { fail "no message for $args: $(cat "$WORK/e3")"; return; }
    done
    pass
}

ALL="s_file s_stdin s_errors"
for s in ${*:-$ALL}; do
    "$s"
done
finish
