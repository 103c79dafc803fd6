#!/usr/bin/env bash
# End-to-end tests of sink groups (failover and load_balance sink processors) with two Avro sinks
# and two independent AvroSourceProtocol servers (tests/support/flume_avro_server.py):
#   tests/integration/sink_groups.sh mysql|postgresql PORT [SCENARIO...]
# The database listens on PORT, the Avro servers on PORT+1 (A) and PORT+2 (B).
# s_failover: k1 (priority 10) -> A, which is down; k2 (priority 5) -> B. The first 1500 rows all
#   reach B; then A starts, and once k1's penalty (maxpenalty 2000 ms) passed, the next 1500 rows
#   all reach A: each row exactly once, on the server its phase expects.
# s_load_balance: round_robin over k1 -> A and k2 -> B, with backoff: 2000 rows spread over both;
#   then B stops and 2000 more rows all reach A (k2 left out): each row exactly once.
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2
A_PORT=$((PORT + 1))
B_PORT=$((PORT + 2))
declare -A SRV_PID=()

srv_start() { # name port events-file
    echo ok >"$WORK/$1.ctl"
    $PY "$SF_ROOT/tests/support/flume_avro_server.py" --port "$2" --out "$3" \
        --control "$WORK/$1.ctl" >>"$WORK/server-$1.log" 2>&1 &
    SRV_PID[$1]=$!
    local end=$((SECONDS + 20))
    until grep -q "listening on 127.0.0.1:$2" "$WORK/server-$1.log" 2>/dev/null &&
        (exec 3<>/dev/tcp/127.0.0.1/$2) 2>/dev/null; do
        [ $SECONDS -lt $end ] || { fail "the Avro server $1 did not start"; return 1; }
        sleep 0.1
    done
}
srv_stop() { # name
    local p=${SRV_PID[$1]:-}
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
    SRV_PID[$1]=""
}
trap 'srv_stop A; srv_stop B; cleanup' EXIT

# sg_conf FILE TABLE [extra lines...]: SQL source -> memory channel -> avro sinks k1 (A), k2 (B)
sg_conf() {
    local f=$1 table=$2
    shift 2
    write_conf "$f" "$table" unused "$@"
    sed -i -e '/^a1\.sinks\.k1\./d' -e 's/^a1\.sinks = k1$/a1.sinks = k1 k2/' "$f"
    for k in k1 k2; do
        local p=$A_PORT
        [ $k = k2 ] && p=$B_PORT
        {
            echo "a1.sinks.$k.type = avro"
            echo "a1.sinks.$k.channel = c1"
            echo "a1.sinks.$k.hostname = 127.0.0.1"
            echo "a1.sinks.$k.port = $p"
            echo "a1.sinks.$k.batch-size = 100"
        } >>"$f"
    done
}

# sg_ids EVENTS: the ids of the rows received, one per line, sorted numerically (repeats kept)
sg_ids() {
    [ -f "$1" ] || return 0
    $PY -c '
import json, sys
for line in open(sys.argv[1]):
    print(json.loads(json.loads(line)["body"])["id"])' "$1" | sort -n
}

s_failover() {
    t failover
    db_create_idv sgf
    srv_start B "$B_PORT" "$WORK/sgf-B.events" || return
    sg_conf "$WORK/sgf.conf" sgf "a1.sinkgroups = g1" "a1.sinkgroups.g1.sinks = k1 k2" \
        "a1.sinkgroups.g1.processor.type = failover" \
        "a1.sinkgroups.g1.processor.priority.k1 = 10" \
        "a1.sinkgroups.g1.processor.priority.k2 = 5" \
        "a1.sinkgroups.g1.processor.maxpenalty = 2000"
    "$SF_BIN" check -n a1 -f "$WORK/sgf.conf" >"$WORK/sgf.check" 2>&1
    assert_eq 0 $? "sqlflume check accepts the group" || return
    db_insert_range sgf 1 1500
    agent_start "$WORK/sgf.conf" "$WORK/sgf.log"
    wait_offset sgf 1500 60 || return
    assert_contains "$WORK/sgf.log" 'sink "k1" failed and was sent to the failover list' \
        "the primary failed over" || return
    srv_start A "$A_PORT" "$WORK/sgf-A.events" || return
    sleep "$(secs 3)" # past k1's penalty: it is tried first again
    db_insert_range sgf 1501 3000
    wait_offset sgf 3000 60 || return
    agent_term
    srv_stop A
    srv_stop B
    assert_eq "$(seq 1 1500)" "$(sg_ids "$WORK/sgf-B.events")" "rows 1-1500 once each on B" || return
    assert_eq "$(seq 1501 3000)" "$(sg_ids "$WORK/sgf-A.events")" "rows 1501-3000 once each on A" ||
        return
    assert_contains "$WORK/sgf.log" '[sinkgroup g1 failover] sink "k1" delivers again' \
        "the primary's recovery logged" || return
    pass
}

s_load_balance() {
    t load_balance
    db_create_idv sgl
    srv_start A "$A_PORT" "$WORK/sgl-A.events" || return
    srv_start B "$B_PORT" "$WORK/sgl-B.events" || return
    sg_conf "$WORK/sgl.conf" sgl "a1.sinkgroups = g1" "a1.sinkgroups.g1.sinks = k1 k2" \
        "a1.sinkgroups.g1.processor.type = load_balance" \
        "a1.sinkgroups.g1.processor.backoff = true"
    db_insert_range sgl 1 2000
    agent_start "$WORK/sgl.conf" "$WORK/sgl.log"
    wait_offset sgl 2000 60 || return
    local na nb
    na=$(sg_ids "$WORK/sgl-A.events" | wc -l)
    nb=$(sg_ids "$WORK/sgl-B.events" | wc -l)
    log "load_balance: A $na rows, B $nb rows"
    [ "$na" -gt 0 ] && [ "$nb" -gt 0 ] || { fail "both servers receive rows (A $na, B $nb)"; return; }
    srv_stop B
    sleep "$(secs 1)"
    db_insert_range sgl 2001 4000
    wait_offset sgl 4000 60 || return
    agent_term
    srv_stop A
    assert_eq "$(seq 1 4000)" "$(sort -n <(sg_ids "$WORK/sgl-A.events") <(sg_ids "$WORK/sgl-B.events"))" \
        "rows 1-4000 once each over A and B" || return
    assert_eq "$nb" "$(sg_ids "$WORK/sgl-B.events" | wc -l)" "nothing more on B once it stopped" ||
        return
    assert_contains "$WORK/sgl.log" '[sinkgroup g1 load_balance] sink "k2" failed; left out for' \
        "k2 left out" || return
    pass
}

ALL="s_failover s_load_balance"
db_start "$KIND" "$PORT"
for s in ${*:-$ALL}; do
    "$s"
done
finish
