# shellcheck shell=bash
# Sourced by tests/integration/e2e.sh (after lib.sh): faults: kill -9, the database restarted or
# down at start, the broker down, a poison row (errors.tolerance, the dead-letter topic).

# kill -9 in the middle of a large export, restart: nothing lost; duplicates only after the offset
s_kill9() {
    t kill9
    local rows=200000
    db_create_idv k9
    db_insert_range k9 1 $rows
    # 1000 rows a second at most per poll keeps the export running long enough to kill it mid-way
    write_conf "$WORK/k9.conf" k9 k9 "a1.sources.r1.max.rows = 2000" "a1.sources.r1.batch.size = 500" \
        "a1.sinks.k1.flumeBatchSize = 500" "a1.channels.c1.capacity = 2000" \
        "a1.sinks.k1.kafka.producer.compression.codec = lz4"
    : >"$WORK/k9.offsets"
    # rows keep arriving during the kills, so every kill lands mid-export
    (
        next=$((rows + 1))
        while [ ! -e "$WORK/k9.stop" ]; do
            db_insert_range k9 $next $((next + 499)) >/dev/null
            next=$((next + 500))
            echo $((next - 1)) >"$WORK/k9.last"
            sleep 0.05
        done
    ) &
    local inserter=$!
    for round in 1 2 3; do
        agent_start "$WORK/k9.conf" "$WORK/k9.log"
        sleep "$((1 + RANDOM % 2)).$((RANDOM % 9))"
        agent_kill9
        local off
        off=$(db_offset k9)
        echo "${off:-0}" >>"$WORK/k9.offsets"
        log "kill -9 #$round with offset ${off:-none} in flume_meta"
    done
    touch "$WORK/k9.stop"
    wait $inserter
    rows=$(cat "$WORK/k9.last")
    agent_start "$WORK/k9.conf" "$WORK/k9.log"
    wait_offset k9 $rows 120 || return
    agent_term
    consume k9 0 "$WORK/k9.out"
    local res
    res=$(check_range "$WORK/k9.out" 1 $rows)
    log "after 3 kills: $res"
    case "$res" in
    "lost=0 dup="*" extra=0") ;;
    *) fail "kill -9 lost rows: $res"; return ;;
    esac
    # at-least-once, and only after the stored offset: every duplicate lies above an offset that
    # was in flume_meta when the agent was killed
    assert_eq "ok" "$(sfcheck dups_above "$WORK/k9.out" "$WORK/k9.offsets")" "duplicates only above the stored offset" || return
    assert_contains "$WORK/k9.log" "; resuming after" "resumed from flume_meta" || return
    pass
}

# the database restarted mid-run: retried with backoff, no row lost or skipped
s_db_restart() {
    t db_restart
    db_create_idv dbr
    db_insert_range dbr 1 100
    write_conf "$WORK/dbr.conf" dbr dbr
    agent_start "$WORK/dbr.conf" "$WORK/dbr.log"
    wait_offset dbr 100 30 || return
    db_kill
    sleep 2
    db_restart
    db_insert_range dbr 101 300
    wait_offset dbr 300 60 || return
    kill -0 "$AGENT_PID" || { fail "agent died"; return; }
    agent_term
    assert_contains "$WORK/dbr.log" "retrying in" "retry logged" || return
    consume dbr 300 "$WORK/dbr.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/dbr.out" 1 300)" "exactly once across a database restart" || return
    pass
}

# the database is down when the agent starts: it waits and exports once the server is up
s_db_down_at_start() {
    t db_down_at_start
    db_create_idv dbd
    db_insert_range dbd 1 50
    db_stop
    write_conf "$WORK/dbd.conf" dbd dbd
    agent_start "$WORK/dbd.conf" "$WORK/dbd.log"
    wait_log "$WORK/dbd.log" "could not connect" 20 || { db_restart; return; }
    db_restart
    # one message per failure: the connector's, not wrapped in a second "could not connect"
    assert_contains "$WORK/dbd.log" "WARN  [source r1 sql] could not connect to $DB_KIND at 127.0.0.1:$DB_PORT: " "connect failure logged once" || return
    assert_not_contains "$WORK/dbd.log" "could not connect: could not connect" "no doubled prefix" || return
    wait_offset dbd 50 60 || return
    agent_term
    consume dbd 50 "$WORK/dbd.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/dbd.out" 1 50)" "export after the database came up" || return
    pass
}

# broker down: the channel fills, the source waits; broker up: everything arrives exactly once
s_broker_down() {
    t broker_down
    db_create_idv bd
    db_insert_range bd 1 100
    write_conf "$WORK/bd.conf" bd bd "a1.channels.c1.capacity = 200" "a1.channels.c1.transactionCapacity = 100" \
        "a1.sources.r1.batch.size = 100" "a1.sinks.k1.flumeBatchSize = 100"
    agent_start "$WORK/bd.conf" "$WORK/bd.log"
    wait_offset bd 100 30 || return
    kafka_cmd "down 1"
    db_insert_range bd 101 1000
    sleep "$(secs 8)"
    local off
    off=$(db_offset bd)
    assert_eq 100 "$off" "offset must not move while the broker is down" || { kafka_cmd "up 1"; return; }
    assert_contains "$WORK/bd.log" "is full" "source waits on a full channel" || { kafka_cmd "up 1"; return; }
    kafka_cmd "up 1"
    wait_offset bd 1000 60 || return
    agent_term
    consume bd 1000 "$WORK/bd.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/bd.out" 1 1000)" "exactly once across a broker outage" || return
    pass
}

# poison_rows TABLE: ids 1..100 and 102..200 small, id 101 a 2 MB TEXT (LONGTEXT) value (over the producer's
# default message.max.bytes of 1000000)
poison_rows() {
    db_exec "DROP TABLE IF EXISTS $1"
    if [ "$DB_KIND" = mysql ]; then
        db_exec "CREATE TABLE $1 (id BIGINT NOT NULL PRIMARY KEY, v LONGTEXT)" # TEXT: 64 KB at most
        db_exec "INSERT INTO $1 (id, v) SELECT seq, CONCAT('row-', seq) FROM seq_1_to_200 WHERE seq <> 101"
        db_exec "INSERT INTO $1 (id, v) VALUES (101, REPEAT('x', 2097152))"
    else
        db_exec "CREATE TABLE $1 (id BIGINT NOT NULL PRIMARY KEY, v TEXT)"
        db_exec "INSERT INTO $1 (id, v) SELECT g, 'row-' || g FROM generate_series(1, 200) g WHERE g <> 101"
        db_exec "INSERT INTO $1 (id, v) VALUES (101, repeat('x', 2097152))"
    fi
}

# agent_exit_within SECONDS: wait for the agent to exit by itself; AGENT_RC gets its exit code
agent_exit_within() {
    local end=$((SECONDS + $(secs "$1")))
    while kill -0 "$AGENT_PID" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.2; done
    if kill -0 "$AGENT_PID" 2>/dev/null; then
        agent_kill9
        fail "the agent did not exit within $1 s"
        return 1
    fi
    AGENT_RC=0
    wait "$AGENT_PID" || AGENT_RC=$?
    AGENT_PID=""
}

# a poison event: a 2 MB row among small ones. errors.tolerance = none (default): the agent exits
# 1 with one ERROR line naming the row and the setting; Kafka has every row before it once and
# nothing after; the offset stays below it; a restart with kafka.producer.message.max.bytes raised
# delivers it and the rest, with no duplicate. errors.tolerance = all with a dead-letter topic:
# every small row once, the big one once in the dead-letter topic with the error headers.
# The source's offset moves per batch (batch.size = 10 here, so the big row starts a batch): rows
# of its batch before it would be read again after the restart.
s_poison() {
    t poison
    poison_rows poison
    write_conf "$WORK/poison.conf" poison poison "a1.sources.r1.batch.size = 10" \
        "a1.sinks.k1.flumeBatchSize = 100"
    agent_start "$WORK/poison.conf" "$WORK/poison.log"
    agent_exit_within 60 || return
    assert_eq 1 "$AGENT_RC" "exit code after a poison event" || { tail -20 "$WORK/poison.log" >&2; return; }
    assert_eq 1 "$(grep -c ' ERROR ' "$WORK/poison.log")" "exactly one error line" || { grep ' ERROR ' "$WORK/poison.log" >&2; return; }
    grep ' ERROR ' "$WORK/poison.log" | grep -qE '\[sink k1 kafka\] event of table "poison" \(key "101", offset "101"\) cannot be delivered to topic "poison": its message of 2097[0-9]{3} bytes is over the limit: kafka.producer.message.max.bytes = 1000000 \(raise it, and the topic.s max.message.bytes if that is lower\); errors.tolerance = none: the sink stops, nothing from this event on is delivered' \
        || { fail "the ERROR line"; grep ' ERROR ' "$WORK/poison.log" >&2; return; }
    assert_eq 100 "$(db_offset poison)" "offset stays below the poison row" || return
    consume poison 100 "$WORK/poison1.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/poison1.out" 1 100)" "rows before the poison row, once" || return
    # restart with the limit raised: the big row and the rest, nothing twice
    write_conf "$WORK/poison2.conf" poison poison "a1.sources.r1.batch.size = 10" \
        "a1.sinks.k1.flumeBatchSize = 100" "a1.sinks.k1.kafka.producer.message.max.bytes = 3000000"
    agent_start "$WORK/poison2.conf" "$WORK/poison2.log"
    wait_offset poison 200 60 || return
    agent_term || return
    consume poison 200 "$WORK/poison2.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/poison2.out" 1 200)" "every row once after the restart" || return
    assert_eq 0 "$(grep -c ' ERROR ' "$WORK/poison2.log")" "no error after the restart" || return

    # errors.tolerance = all with a dead-letter topic
    poison_rows poison_all
    write_conf "$WORK/poison3.conf" poison_all poison_all "a1.sources.r1.batch.size = 10" \
        "a1.sinks.k1.errors.tolerance = all" \
        "a1.sinks.k1.errors.deadletterqueue.topic.name = poison_dlq" \
        "a1.sinks.k1.errors.log.enable = true"
    agent_start "$WORK/poison3.conf" "$WORK/poison3.log" -Dflume.monitoring.type=http -Dflume.monitoring.port=0
    wait_offset poison_all 200 60 || return
    wait_log "$WORK/poison3.log" "serving metrics at http://" 10 || return
    local port
    port=$(sed -n 's|.*serving metrics at http://[^:]*:\([0-9]*\)/metrics.*|\1|p' "$WORK/poison3.log" | head -1)
    curl -s -o "$WORK/poison3.json" "http://127.0.0.1:$port/metrics"
    agent_term || return
    assert_eq "EventFailedCount=1 EventDeadLetteredCount=1 SinkFailed=0" "$(sfcheck sink_errors "$WORK/poison3.json")" "sink metrics" || return
    consume poison_all 199 "$WORK/poison3.out"
    assert_eq "lost=1 dup=0 extra=0" "$(check_range "$WORK/poison3.out" 1 200)" "every small row once (101 in the dead-letter topic)" || return
    assert_eq 0 "$(ids_of "$WORK/poison3.out" | grep -c '^101$')" "the big row is not in the topic" || return
    consume poison_dlq 1 "$WORK/poison_dlq.out"
    assert_eq "1 101 poison_all poison_all 101 k1 2097169 yes" "$(sfcheck dead_letter "$WORK/poison_dlq.out")" "dead-letter record" || return
    assert_contains "$WORK/poison3.log" 'errors.tolerance = all: sending it to dead-letter topic poison_dlq' "the failed row is logged" || return
    pass
}
