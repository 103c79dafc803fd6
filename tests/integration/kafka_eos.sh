#!/usr/bin/env bash
# Exactly-once into Kafka (kafka.producer.transactional.id) with the whole agent, a real database
# server and the mock Kafka broker process:
#   tests/integration/kafka_eos.sh mysql|postgresql PORT [SCENARIO...]
#   s_mock_markers    the mock itself, with an independent producer and consumers: committed,
#                     aborted, fenced and open transactions as a broker shows them
#   s_eos_crash       the agent dies by SIGKILL right after a Kafka commit and before the channel
#                     commit (the sink's test hook testCrashAfterCommits = N, testCrashKill), once
#                     before the source wrote any offset and once with rows arriving and
#                     flume_meta lagging behind Kafka; each restarted agent reads again what
#                     flume_meta does not cover and the sink skips what Kafka has: every id exactly
#                     once, and the newest position record holds the last id
#   s_eos_kill_in_txn the agent dies by SIGKILL in the middle of a Kafka transaction (hook
#                     testCrashBeforeCommit = 3, its messages in the log): the restart aborts it,
#                     and a read_committed consumer sees every row once
#   s_eos_late_row    a row whose transaction commits late (an id below ids already delivered,
#                     the source's gap tracking) is delivered, once
#   s_eos_throughput  rows/s of the same export at least once and exactly once (flumeBatchSize
#                     1000), logged, not asserted
# The mock is tests/support/mock_txn.sh's build: librdkafka's mock cluster patched to write
# transaction markers, so read_committed consumers (the independent consumer here, and the sink's
# own positions reader) see committed transactions only, as with a broker. Random kill -9 in the
# middle of transactions is torture.sh's eos mode. The mock runs 2 brokers: data topics on broker
# 1, the positions topic on broker 2 (two responses back to back on one connection of the mock
# can wait 40 ms for a delayed ACK).
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2
POSITIONS=__sqlflume_positions

# the mock with 2 brokers and transaction markers
kafka_start2() {
    SF_MOCK=$SF_MOCK_TXN kafka_start -b 2
    kafka_cmd "topic $POSITIONS 1"
    kafka_cmd "leader $POSITIONS 0 2"
}
topic1() { kafka_cmd "topic $1 1"; kafka_cmd "leader $1 0 1"; }

# the newest position record of transactional.id $1 (printed with its lines on one line, ' | ')
last_position_record() {
    $PY "$SF_ROOT/tests/support/consume.py" --bootstrap "$BOOTSTRAP" --topic "$POSITIONS" \
        --idle "$(secs 10)" --timeout "$(secs 60)" --committed | $PY -c '
import json, sys
recs = [json.loads(l) for l in sys.stdin]
recs = [r for r in recs if r["key"] == sys.argv[1]]
recs.sort(key=lambda r: r["offset"])
print(recs[-1]["value"].replace("\n", " | ") if recs else "none")' "$1"
}

# wait up to SECONDS for the agent to exit; EXIT_RC gets its exit status ("timeout" after
# killing it)
EXIT_RC=""
wait_exit() {
    local end=$((SECONDS + $(secs "$1")))
    while kill -0 "$AGENT_PID" 2>/dev/null && [ $SECONDS -lt $end ]; do
        sleep 0.2
    done
    if kill -0 "$AGENT_PID" 2>/dev/null; then
        agent_kill9
        EXIT_RC=timeout
        return
    fi
    EXIT_RC=0
    wait "$AGENT_PID" 2>/dev/null || EXIT_RC=$?
    AGENT_PID=""
}

eos_conf() { # file table topic txn_id [extra lines...]
    local f=$1 table=$2 topic=$3 tid=$4
    shift 4
    write_conf "$f" "$table" "$topic" "a1.sources.r1.max.rows = 5000" "a1.sources.r1.batch.size = 1000" \
        "a1.sinks.k1.flumeBatchSize = 1000" "a1.sinks.k1.kafka.producer.transactional.id = $tid" "$@"
}

# The mock itself, with an independent transactional producer and consumers: what a broker shows
# read_committed and read_uncommitted consumers after commits, an abort, a producer killed in a
# transaction and fenced by its successor, and another producer's open transaction.
s_mock_markers() {
    t mock_markers
    topic1 probe
    values() { # consume.py output -> the values on one line
        $PY -c 'import json, sys; print(" ".join(json.loads(l)["value"] for l in sys.stdin))'
    }
    $PY "$SF_ROOT/tests/support/txn_probe.py" "$BOOTSTRAP" probe first 2>/dev/null
    consume probe 5 "$WORK/probe.rc" --committed
    assert_eq "c1-0 c1-1 c1-2 c2-0 c2-1" "$(values <"$WORK/probe.rc")" "read_committed: committed only" || return
    consume probe 10 "$WORK/probe.ru"
    assert_eq "c1-0 c1-1 c1-2 a1-0 a1-1 a1-2 c2-0 c2-1 open-0 open-1" "$(values <"$WORK/probe.ru")" \
        "read_uncommitted: everything" || return
    $PY "$SF_ROOT/tests/support/txn_probe.py" "$BOOTSTRAP" probe fence
    consume probe 6 "$WORK/probe.rc" --committed
    assert_eq "c1-0 c1-1 c1-2 c2-0 c2-1 c3" "$(values <"$WORK/probe.rc")" \
        "the successor's init_transactions aborted the open transaction" || return
    $PY "$SF_ROOT/tests/support/txn_probe.py" "$BOOTSTRAP" probe open 2>/dev/null
    consume probe 0 "$WORK/probe.rc" --committed
    assert_eq "c1-0 c1-1 c1-2 c2-0 c2-1 c3 plain" "$(values <"$WORK/probe.rc")" \
        "nothing after an open transaction (last stable offset)" || return
    local lso
    lso=$(kcat -Q -b "$BOOTSTRAP" -t probe:0:-1 -X isolation.level=read_committed 2>/dev/null)
    assert_eq "probe [0] offset 17" "$lso" "read_committed end offset = the open transaction's first" || return
    pass
}

s_eos_crash() {
    t eos_crash
    topic1 eosc
    db_create_idv eosc
    db_insert_range eosc 1 20000
    eos_conf "$WORK/eosc.conf" eosc eosc "eos-it-crash"
    # copies with the sink's test hook on: SIGKILL right after the Nth Kafka commit
    local n
    for n in 5 22; do
        eos_conf "$WORK/eosc-crash$n.conf" eosc eosc "eos-it-crash" \
            "a1.sinks.k1.testCrashAfterCommits = $n" "a1.sinks.k1.testCrashKill = true"
    done
    # crash 1: right after the 5th Kafka commit, before its channel commit
    agent_start "$WORK/eosc-crash5.conf" "$WORK/eosc.log"
    wait_exit 30
    assert_eq 137 "$EXIT_RC" "exit status after the hook's SIGKILL" || return
    assert_contains "$WORK/eosc.log" "crashing after Kafka commit 5, before the channel commit" "hook" || return
    local off1
    off1=$(db_offset eosc)
    log "crash 1: flume_meta has \"${off1:-none}\""
    # crash 2, with rows arriving meanwhile (200 every 0.1 s): the restarted agent reads again
    # from the start, skips what Kafka has, and after a few seconds (flume_meta written, lagging
    # behind Kafka by up to a second) dies again after its 22nd Kafka commit
    (
        next=20001
        while [ ! -e "$WORK/eosc.stop" ] && [ $next -le 30000 ]; do
            db_insert_range eosc $next $((next + 199)) >/dev/null
            next=$((next + 200))
            sleep 0.1
        done
    ) &
    local inserter=$!
    agent_start "$WORK/eosc-crash22.conf" "$WORK/eosc.log"
    wait_exit 30
    assert_eq 137 "$EXIT_RC" "exit status after the second SIGKILL" || { touch "$WORK/eosc.stop"; wait $inserter; return; }
    log "crash 2: flume_meta has \"$(db_offset eosc)\""
    agent_start "$WORK/eosc.conf" "$WORK/eosc.log"
    wait $inserter
    wait_offset eosc 30000 60 || return
    db_insert_range eosc 30001 31000
    wait_offset eosc 31000 30 || return
    agent_term
    consume eosc 31000 "$WORK/eosc.out" --committed
    local res
    res=$(check_range "$WORK/eosc.out" 1 31000)
    log "after 2 crashes between the Kafka and the channel commit: $res"
    assert_eq "lost=0 dup=0 extra=0" "$res" "exactly once" || return
    assert_contains "$WORK/eosc.log" "exactly-once: skipped" "rows read again were skipped" || return
    assert_contains "$WORK/eosc.log" "exactly-once: resuming after Kafka transaction 5 " "resumed after the crash" || return
    local rec
    rec=$(last_position_record "eos-it-crash")
    log "newest position record: ${rec:0:200}"
    case "$rec" in
    *"| pos eosc eosc 31000 | ids eosc eosc 1 31000 |"*) ;;
    *) fail "position record: $rec"; return ;;
    esac
    pass
}

# A crash in the middle of a Kafka transaction: the agent kills itself before its 3rd commit,
# once that transaction's 1000 messages (and its position record) are in the log. The restarted
# producer's init_transactions aborts it; the sink must not take the aborted position record for
# delivered (with the plain mock, whose read_committed consumers see it, 1000 rows were lost here).
s_eos_kill_in_txn() {
    t eos_kill_in_txn
    topic1 eosk
    db_create_idv eosk
    db_insert_range eosk 1 5000
    eos_conf "$WORK/eosk-crash.conf" eosk eosk "eos-it-kill" "a1.sinks.k1.testCrashBeforeCommit = 3"
    eos_conf "$WORK/eosk.conf" eosk eosk "eos-it-kill"
    agent_start "$WORK/eosk-crash.conf" "$WORK/eosk.log"
    wait_exit 30
    assert_eq 137 "$EXIT_RC" "exit status after the hook's SIGKILL" || return
    assert_contains "$WORK/eosk.log" "killing the agent before committing Kafka transaction 3 (its messages flushed: Success)" "hook" || return
    consume eosk 3000 "$WORK/eosk.ru"
    assert_eq "lost=2000 dup=0 extra=0" "$(check_range "$WORK/eosk.ru" 1 5000)" \
        "read_uncommitted after the kill: 3 transactions' messages" || return
    agent_start "$WORK/eosk.conf" "$WORK/eosk.log"
    wait_offset eosk 5000 30 || return
    agent_term
    assert_contains "$WORK/eosk.log" "exactly-once: resuming after Kafka transaction 2 " "resumed after the last committed transaction" || return
    consume eosk 5000 "$WORK/eosk.rc" --committed
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/eosk.rc" 1 5000)" "read_committed: exactly once" || return
    consume eosk 6000 "$WORK/eosk.ru"
    assert_eq "lost=0 dup=1000 extra=0" "$(check_range "$WORK/eosk.ru" 1 5000)" \
        "read_uncommitted: the aborted transaction's 1000 messages as well" || return
    pass
}

s_eos_late_row() {
    t eos_late_row
    topic1 eosl
    db_exec "DROP TABLE IF EXISTS eosl"
    local sleep3
    if [ "$DB_KIND" = mysql ]; then
        db_exec "CREATE TABLE eosl (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))"
        sleep3="SELECT SLEEP(3)"
    else
        db_exec "CREATE TABLE eosl (id BIGSERIAL PRIMARY KEY, v VARCHAR(64))"
        sleep3="SELECT pg_sleep(3)"
    fi
    db_exec "INSERT INTO eosl (v) VALUES ('a'), ('b')"
    eos_conf "$WORK/eosl.conf" eosl eosl "eos-it-late" "a1.sources.r1.incremental.gap.timeout.ms = 30000"
    agent_start "$WORK/eosl.conf" "$WORK/eosl.log"
    wait_offset eosl 2 30 || return
    # id 3 is taken by a transaction that commits after 4 and 5 are delivered
    (db_exec "BEGIN; INSERT INTO eosl (v) VALUES ('late'); $sleep3; COMMIT;" >/dev/null) &
    local late=$!
    sleep 0.5
    db_exec "INSERT INTO eosl (v) VALUES ('d'), ('e')"
    wait_offset eosl "5;3" 10 || { wait $late; return; }
    # restart while id 3 is still open: the sink's stored gaps say 3 was not delivered
    agent_term
    agent_start "$WORK/eosl.conf" "$WORK/eosl.log"
    wait $late
    wait_offset eosl 5 20 || return
    agent_term
    consume eosl 5 "$WORK/eosl.out" --committed
    assert_eq "1 2 3 4 5" "$(ids_of "$WORK/eosl.out" | sort -n | tr '\n' ' ' | sed 's/ $//')" "late row delivered once" || return
    local rec
    rec=$(last_position_record "eos-it-late")
    log "newest position record: $rec"
    case "$rec" in
    *"| ids eosl eosl 1 5 |"*) ;;
    *) fail "position record: $rec"; return ;;
    esac
    pass
}

s_eos_throughput() {
    t eos_throughput
    local rows=1000000
    for mode in alo eos; do
        topic1 "tp_$mode"
        db_create_idv "tp_$mode"
        db_insert_range "tp_$mode" 1 $rows
        if [ $mode = eos ]; then
            eos_conf "$WORK/tp_$mode.conf" "tp_$mode" "tp_$mode" "eos-it-tp" "a1.channels.c1.capacity = 20000"
        else
            write_conf "$WORK/tp_$mode.conf" "tp_$mode" "tp_$mode" "a1.sources.r1.max.rows = 5000" \
                "a1.sources.r1.batch.size = 1000" "a1.sinks.k1.flumeBatchSize = 1000" \
                "a1.channels.c1.capacity = 20000"
        fi
        local t0 t1
        t0=$(date +%s.%N)
        agent_start "$WORK/tp_$mode.conf" "$WORK/tp_$mode.log"
        wait_offset "tp_$mode" $rows 120 || return
        t1=$(date +%s.%N)
        agent_term
        log "throughput $mode: $rows rows in $(echo "$t1 - $t0" | bc) s: $(echo "$rows / ($t1 - $t0)" | bc) rows/s (agent start to flume_meta = last id, 0.3 s polling)"
    done
    pass
}

ALL="s_mock_markers s_eos_crash s_eos_kill_in_txn s_eos_late_row s_eos_throughput"
db_start "$KIND" "$PORT"
kafka_start2
for s in ${*:-$ALL}; do
    "$s"
done
finish
