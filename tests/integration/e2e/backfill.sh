# shellcheck shell=bash
# Sourced by tests/integration/e2e.sh (after lib.sh): the backfill: chunks up to a high-water mark,
# kills and restarts, a transaction open below the high-water mark.

# backfill: a 500,000-row table exported in primary-key chunks up to the high-water mark fixed at
# the start, while rows keep arriving for streaming; kill -9 three times mid-backfill and stop
# cleanly once, restarting each time. Nothing lost or extra; each restart resumes after the key
# recorded in "bf.backfill" (at a chunk > 0); duplicates only just above a key recorded at a kill,
# none after the clean stop, none among the streamed rows; then "done" and the last id.
#
# The duplicate bound per kill, from the design: the .backfill row is written from delivered
# progress (per batch) at most once a second, so a kill repeats what the sink had sent but not yet
# confirmed (maxInFlightBatches x flumeBatchSize = 1,000 here) plus what it confirmed since the
# last write (about one second of delivery). The test holds delivery to at most
# 2 x 500 rows per 50 ms broker round trip = 20,000 rows/s, so a kill repeats at most about
# 1,000 + 21,000 rows, within chunk + capacity = 30,000, the bound asserted per kill.
s_backfill() {
    t backfill
    local rows=500000 chunk=10000 cap=20000
    local bound=$((chunk + cap))
    db_create_idv bf
    db_insert_range bf 1 $rows
    write_conf "$WORK/bf.conf" bf bf "a1.sources.r1.backfill = true" \
        "a1.sources.r1.backfill.chunk.size = $chunk" "a1.sources.r1.batch.size = 500" \
        "a1.channels.c1.capacity = $cap" "a1.sinks.k1.flumeBatchSize = 500" \
        "a1.sinks.k1.maxInFlightBatches = 2" "a1.sinks.k1.kafka.producer.compression.codec = lz4"
    # throttle delivery (see above) so that every kill lands mid-backfill
    kafka_cmd "rtt -1 50"
    rm -f "$WORK/bf.stop" "$WORK/bf.last"
    : >"$WORK/bf.kills"
    # rows keep arriving above the high-water mark: streaming's, after the backfill
    (
        next=$((rows + 1))
        while [ ! -e "$WORK/bf.stop" ]; do
            db_insert_range bf $next $((next + 99)) >/dev/null
            next=$((next + 100))
            echo $((next - 1)) >"$WORK/bf.last"
            sleep 0.1
        done
    ) &
    local inserter=$!
    local prev=0 round val key done_early=""
    for round in 1 2 3 4; do
        agent_start "$WORK/bf.conf" "$WORK/bf.log"
        # each run gets past the previous run's repeats before it is interrupted, so that the
        # duplicates of each kill can be told apart
        local end=$((SECONDS + $(secs 90)))
        while [ $SECONDS -lt $end ]; do
            val=$(db_offset bf.backfill)
            key=$(sed -n 's/.*;key=\([0-9]*\).*/\1/p' <<<"$val")
            [ -n "$key" ] && [ "$key" -ge $((prev + bound)) ] && break
            case "$val" in done*) break ;; esac
            sleep 0.2
        done
        sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
        val=$(db_offset bf.backfill)
        case "$val" in
        chunk=*) ;;
        *) done_early="round $round: bf.backfill is [$val] before the interruption" ;;
        esac
        if [ "$round" -le 3 ]; then agent_kill9; else agent_term; fi
        val=$(db_offset bf.backfill)
        key=$(sed -n 's/.*;key=\([0-9]*\).*/\1/p' <<<"$val")
        echo "$round ${key:-0} $val" >>"$WORK/bf.kills"
        log "$([ "$round" -le 3 ] && echo "kill -9" || echo "SIGTERM") #$round mid-backfill: bf.backfill=$val"
        prev=${key:-0}
        kill -0 "$KAFKA_PID" 2>/dev/null || done_early="the mock Kafka broker died"
        [ -n "$done_early" ] && break
    done
    touch "$WORK/bf.stop"
    wait $inserter
    if [ -n "$done_early" ]; then
        kafka_cmd "rtt -1 0"
        fail "an interruption did not land mid-backfill: $done_early"
        return
    fi
    local last hwm
    last=$(cat "$WORK/bf.last")
    agent_start "$WORK/bf.conf" "$WORK/bf.log"
    wait_offset bf $last $((120 + last / 2000)) || { kafka_cmd "rtt -1 0"; return; }
    hwm=$(sed -n 's/.*;hwm=\([0-9]*\).*/\1/p' <<<"$(head -1 "$WORK/bf.kills")")
    wait_offset bf.backfill "done;rows=$hwm;hwm=$hwm" 30 || { kafka_cmd "rtt -1 0"; return; }
    agent_term
    kafka_cmd "rtt -1 0"
    consume bf 0 "$WORK/bf.out"
    local res
    res=$(check_range "$WORK/bf.out" 1 "$last")
    log "backfill of $hwm rows + $((last - hwm)) streamed, 3 kills and a clean stop: $res"
    case "$res" in
    "lost=0 dup="*" extra=0") ;;
    *) fail "rows lost or extra: $res"; return ;;
    esac
    # every restart resumed where its predecessor's delivered progress ended, at a chunk > 0
    assert_eq "ok" "$(sfcheck backfill_resumes "$WORK/bf.log" "$WORK/bf.kills" "$chunk")" "restarts resume after the recorded key" || return
    # duplicates: only just above a key recorded at a kill (at most chunk + capacity per kill),
    # none after the clean stop, none among the streamed rows above the high-water mark
    local dupcheck
    dupcheck=$(sfcheck backfill_dups "$WORK/bf.out" "$WORK/bf.kills" "$bound" "$hwm")
    log "duplicates $dupcheck (bound per kill: $bound)"
    case "$dupcheck" in
    *" ok") ;;
    *) fail "duplicates: $dupcheck"; return ;;
    esac
    assert_eq "done;rows=$hwm;hwm=$hwm" "$(db_offset bf.backfill)" "backfill row at the end" || return
    assert_eq "$last" "$(db_offset bf)" "main offset = last id" || return
    assert_contains "$WORK/bf.log" 'stopped mid-backfill of "bf"; delivered progress "chunk=' "clean stop records progress" || return
    pass
}

# A backfill starts while transaction T1 holds id 500 (below the high-water mark 2000) and commits
# 6 s later: the backfill waits for T1 before reading chunks, so id 500 arrives, exactly once.
s_backfill_late_commit() {
    t backfill_late_commit
    local sleep6
    if [ "$DB_KIND" = mysql ]; then sleep6="SELECT SLEEP(6)"; else sleep6="SELECT pg_sleep(6)"; fi
    db_create_idv bflate
    db_exec "DELETE FROM flume_meta WHERE source_tab LIKE 'bflate%'" 2>/dev/null
    db_insert_range bflate 1 499
    db_insert_range bflate 501 2000
    (db_exec "BEGIN; INSERT INTO bflate (id, v) VALUES (500, 'commits late'); $sleep6; COMMIT;" >/dev/null) &
    local t1=$!
    sleep 1
    write_conf "$WORK/bflate.conf" bflate bflate "a1.sources.r1.backfill = true" \
        "a1.sources.r1.backfill.chunk.size = 100"
    agent_start "$WORK/bflate.conf" "$WORK/bflate.log"
    wait_log "$WORK/bflate.log" "the backfill first waits for the write transactions open now" 20 || { wait $t1; return; }
    wait $t1
    wait_offset bflate.backfill "done;rows=2000;hwm=2000" 30 || return
    agent_term
    consume bflate 2000 "$WORK/bflate.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/bflate.out" 1 2000)" "every row once, the late one included" || return
    assert_contains "$WORK/bflate.out" "commits late" "the late row" || return
    assert_contains "$WORK/bflate.log" "the transactions open at the start of the backfill have ended" "the wait ended" || return
    pass
}
