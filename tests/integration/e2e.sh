#!/usr/bin/env bash
# End-to-end scenarios of the main job against a real database server and the mock Kafka broker:
#   tests/integration/e2e.sh mysql|postgresql PORT [SCENARIO...]
# Every scenario asserts exact outcomes (rows in Kafka by id: none lost, none duplicated; exact
# JSON bodies; exit codes; log lines). Runs every scenario when none is named.
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2

# ---------------------------------------------------------------- scenarios

# ids with gaps, paged by max.rows, exactly once; flume_meta holds the last id (not a count)
s_gaps() {
    t gaps
    db_create_idv gaps
    db_exec "INSERT INTO gaps (id, v) VALUES (1,'a'),(2,'b'),(3,'c'),(7,'d'),(50,'e'),(51,'f'),(1000,'g'),(1001,'h'),(99999,'i')"
    # ids with permanent gaps: the seed-compatible offset (no waiting for missing ids)
    write_conf "$WORK/gaps.conf" gaps gaps "a1.sources.r1.max.rows = 2" "a1.sources.r1.batch.size = 2" \
        "a1.sources.r1.incremental.gap.timeout.ms = 0"
    agent_start "$WORK/gaps.conf" "$WORK/gaps.log"
    consume gaps 9 "$WORK/gaps.out"
    wait_offset gaps 99999 20
    agent_term
    # partitions interleave in the consumer: compare the sorted ids (order per key is Kafka's)
    assert_eq "1 2 3 7 50 51 1000 1001 99999" "$(ids_of "$WORK/gaps.out" | sort -n | tr '\n' ' ' | sed 's/ $//')" "ids" || return
    # key and topic: the key is the primary key
    assert_eq "9" "$($PY -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(sum(1 for r in rows if r["key"] == str(json.loads(r["value"])["id"])))' "$WORK/gaps.out")" "message key = primary key" || return
    assert_contains "$WORK/gaps.out" '"value": "{\"id\":7,\"v\":\"d\"}"' "json body" || return
    pass
}

# every column type, NULLs, 4-byte UTF-8, escapes, binary with NUL bytes, a 10 MB text
s_types() {
    t types
    db_exec "DROP TABLE IF EXISTS types"
    if [ "$DB_KIND" = mysql ]; then
        db_exec "CREATE TABLE types (id BIGINT PRIMARY KEY, t TEXT, vc VARCHAR(100), b BLOB, vb VARBINARY(20),
                 d DECIMAL(30,10), f DOUBLE, fl FLOAT, i INT, si SMALLINT, ti TINYINT, dt DATETIME(6), ts TIMESTAMP(3) NULL,
                 dd DATE, tm TIME, e ENUM('x','y'), lt LONGTEXT) CHARACTER SET utf8mb4"
        db_exec "INSERT INTO types (id) VALUES (1)"
        db_exec "INSERT INTO types VALUES (2, CONCAT('q\"b\\\\\\\\n', CHAR(10), 't', CHAR(9), CHAR(1), '😀é'), 'ü', X'00FF0041', X'000000',
                 12345678901234567890.1234567890, 1.5, -0.25, -2147483648, 32767, -128, '2024-02-29 23:59:59.123456',
                 '2024-01-02 03:04:05.678', '2024-01-01', '-838:59:59', 'y', '')"
        db_exec "INSERT INTO types (id, lt) VALUES (3, REPEAT('x', 10485760))"
        want2='{"id":2,"t":"q\"b\\\\n\nt\t\u0001😀é","vc":"ü","b":"AP8AQQ==","vb":"AAAA","d":"12345678901234567890.1234567890","f":1.5,"fl":-0.25,"i":-2147483648,"si":32767,"ti":-128,"dt":"2024-02-29 23:59:59.123456","ts":"2024-01-02 03:04:05.678","dd":"2024-01-01","tm":"-838:59:59","e":"y","lt":""}'
        want1='{"id":1,"t":null,"vc":null,"b":null,"vb":null,"d":null,"f":null,"fl":null,"i":null,"si":null,"ti":null,"dt":null,"ts":null,"dd":null,"tm":null,"e":null,"lt":null}'
    else
        db_exec "CREATE TABLE types (id BIGINT PRIMARY KEY, t TEXT, vc VARCHAR(100), b BYTEA, bo BOOLEAN,
                 d NUMERIC(30,10), f DOUBLE PRECISION, fl REAL, i INT, si SMALLINT, dt TIMESTAMP(6), ts TIMESTAMPTZ,
                 dd DATE, tm TIME, iv INTERVAL, j JSONB, u UUID, arr INT[], lt TEXT)"
        db_exec "INSERT INTO types (id) VALUES (1)"
        db_exec "INSERT INTO types VALUES (2, E'q\"b\\\\\\\\n\nt\t\\x01😀é', 'ü', '\\x00ff0041', true,
                 12345678901234567890.1234567890, 1.5, -0.25, -2147483648, 32767, '2024-02-29 23:59:59.123456',
                 '2024-01-02 03:04:05.678+02', '2024-01-01', '12:34:56', '1 day 02:00:00', '{\"k\": [1, 2]}',
                 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{1,2,3}', '')"
        db_exec "INSERT INTO types (id, lt) VALUES (3, repeat('x', 10485760))"
        want2='{"id":2,"t":"q\"b\\\\n\nt\t\u0001😀é","vc":"ü","b":"AP8AQQ==","bo":true,"d":"12345678901234567890.1234567890","f":1.5,"fl":-0.25,"i":-2147483648,"si":32767,"dt":"2024-02-29 23:59:59.123456","ts":"2024-01-02 01:04:05.678+00","dd":"2024-01-01","tm":"12:34:56","iv":"1 day 02:00:00","j":"{\"k\": [1, 2]}","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","arr":"{1,2,3}","lt":""}'
        want1='{"id":1,"t":null,"vc":null,"b":null,"bo":null,"d":null,"f":null,"fl":null,"i":null,"si":null,"dt":null,"ts":null,"dd":null,"tm":null,"iv":null,"j":null,"u":null,"arr":null,"lt":null}'
    fi
    # the mock broker keeps 5 MiB per partition: the 10 MB row travels compressed
    write_conf "$WORK/types.conf" types types "a1.sinks.k1.kafka.producer.message.max.bytes = 20000000" \
        "a1.sinks.k1.kafka.producer.compression.codec = lz4"
    agent_start "$WORK/types.conf" "$WORK/types.log"
    consume types 3 "$WORK/types.out"
    agent_term
    $PY - "$WORK/types.out" "$want1" "$want2" >"$WORK/types.check" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
vals = {json.loads(r["value"])["id"]: r["value"] for r in rows}
print("count", len(rows))
print("row1", "ok" if vals.get(1) == sys.argv[2] else "DIFF %r" % vals.get(1))
print("row2", "ok" if vals.get(2) == sys.argv[3] else "DIFF %r" % vals.get(2))
v3 = json.loads(vals.get(3, "{}"))
print("row3", "ok" if v3.get("lt") == "x" * 10485760 else "DIFF len %d" % len(v3.get("lt") or ""))
EOF
    assert_eq "count 3
row1 ok
row2 ok
row3 ok" "$(cat "$WORK/types.check")" "typed values" || { cat "$WORK/types.check" >&2; echo "want: $want2" >&2; return; }
    # MariaDB's YEAR is a JSON number for every year (0000 too); a double's negative zero is -0.0
    # (PostgreSQL; MariaDB stores -0 as 0)
    db_exec "DROP TABLE IF EXISTS types2"
    if [ "$DB_KIND" = mysql ]; then
        db_exec "CREATE TABLE types2 (id BIGINT PRIMARY KEY, y YEAR, f DOUBLE)"
        db_exec "INSERT INTO types2 VALUES (1, 0, 0), (2, 1901, -1.5), (3, 2155, 2.5), (4, NULL, NULL)"
        want='{"id":1,"y":0,"f":0} {"id":2,"y":1901,"f":-1.5} {"id":3,"y":2155,"f":2.5} {"id":4,"y":null,"f":null}'
    else
        db_exec "CREATE TABLE types2 (id BIGINT PRIMARY KEY, f DOUBLE PRECISION, r REAL)"
        db_exec "INSERT INTO types2 VALUES (1, '-0', '-0'), (2, 0, 0), (3, -1.5, 2.5), (4, NULL, NULL)"
        want='{"id":1,"f":-0.0,"r":-0.0} {"id":2,"f":0,"r":0} {"id":3,"f":-1.5,"r":2.5} {"id":4,"f":null,"r":null}'
    fi
    write_conf "$WORK/types2.conf" types2 types2
    agent_start "$WORK/types2.conf" "$WORK/types2.log"
    consume types2 4 "$WORK/types2.out"
    agent_term
    assert_eq "$want" "$($PY -c '
import json, sys
rows = [json.loads(l)["value"] for l in open(sys.argv[1])]
print(" ".join(sorted(rows, key=lambda v: json.loads(v)["id"])))' "$WORK/types2.out")" "YEAR and negative zero" || return
    pass
}

# a reserved-word table, a mixed-case name with a space, a name with quotes; explicit columns
s_names() {
    t names
    db_exec "DROP TABLE IF EXISTS $(qi order)"
    db_exec "DROP TABLE IF EXISTS $(qi 'My Table')"
    db_exec "CREATE TABLE $(qi order) (id BIGINT NOT NULL PRIMARY KEY, $(qi select) VARCHAR(10))"
    db_exec "CREATE TABLE $(qi 'My Table') ($(qi 'Id') BIGINT NOT NULL PRIMARY KEY, $(qi 'Some Col') VARCHAR(10), $(qi 'we"ird') INT)"
    db_exec "INSERT INTO $(qi order) VALUES (1, 'x'), (2, 'y')"
    db_exec "INSERT INTO $(qi 'My Table') VALUES (10, 'a', 1), (20, 'b', 2)"
    write_conf "$WORK/n1.conf" order names1 "a1.sources.r1.incremental.gap.timeout.ms = 0"
    agent_start "$WORK/n1.conf" "$WORK/n1.log"
    consume names1 2 "$WORK/n1.out"
    agent_term
    assert_contains "$WORK/n1.out" '{\"id\":2,\"select\":\"y\"}' "reserved-word table" || return
    write_conf "$WORK/n2.conf" "My Table" names2 'a1.sources.r1.columns.to.select = Some Col, we"ird' \
        "a1.sources.r1.incremental.gap.timeout.ms = 0"
    agent_start "$WORK/n2.conf" "$WORK/n2.log"
    consume names2 2 "$WORK/n2.out"
    agent_term
    assert_contains "$WORK/n2.out" '"value": "{\"Some Col\":\"b\",\"we\\\"ird\":2}"' "mixed-case table, explicit columns" || return
    assert_eq "20" "$(db_offset 'My Table')" "offset of the mixed-case table" || return
    # tables = with quoted names (double quotes and backquotes keep the blank)
    write_conf "$WORK/n3.conf" unused names3 "a1.sources.r1.incremental.gap.timeout.ms = 0" \
        "a1.sources.r1.status.key = n3/" 'a1.sources.r1.tables = "My Table", `order`'
    sed -i '/^a1.sources.r1.table = /d' "$WORK/n3.conf"
    agent_start "$WORK/n3.conf" "$WORK/n3.log"
    consume names3 4 "$WORK/n3.out"
    agent_term
    assert_contains "$WORK/n3.out" '"value": "{\"Id\":20,\"Some Col\":\"b\",\"we\\\"ird\":2}"' "quoted table name with a blank" || return
    assert_contains "$WORK/n3.out" '{\"id\":2,\"select\":\"y\"}' "backquoted table name" || return
    assert_eq "20 2" "$(db_offset 'n3/My Table') $(db_offset 'n3/order')" "offsets of the quoted tables" || return
    write_conf "$WORK/n4.conf" unused names4 'a1.sources.r1.tables = "My Table, order'
    sed -i '/^a1.sources.r1.table = /d' "$WORK/n4.conf"
    local rc=0
    "$SF_BIN" check -n a1 -f "$WORK/n4.conf" >"$WORK/n4.out" 2>&1 || rc=$?
    assert_eq 2 "$rc" "unclosed quote: check exit code" || return
    assert_contains "$WORK/n4.out" "error: $WORK/n4.conf:17: a1.sources.r1.tables: a name opened with \" is not closed" "unclosed quote" || return
    pass
}

# hostile names are quoted: no SQL runs but the SELECT, the table named by the string is missing
s_injection() {
    t injection
    db_create_idv keepme
    db_exec "INSERT INTO keepme VALUES (1, 'safe')"
    write_conf "$WORK/inj.conf" 'keepme; DROP TABLE keepme; --' inj
    agent_start "$WORK/inj.conf" "$WORK/inj.log"
    local rc=0
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=""
    assert_eq 1 "$rc" "exit code for a missing table" || return
    assert_contains "$WORK/inj.log" 'table "keepme; DROP TABLE keepme; --" does not exist' "clear error" || return
    assert_eq 1 "$(db_exec 'SELECT COUNT(*) FROM keepme' | tr -d ' ')" "table still there" || return
    pass
}

# rows inserted while the agent runs arrive; stop and restart resumes with no duplicate or gap
s_live_and_restart() {
    t live_and_restart
    db_create_idv live
    db_insert_range live 1 500
    write_conf "$WORK/live.conf" live live
    agent_start "$WORK/live.conf" "$WORK/live.log"
    wait_offset live 500 30 || return
    db_insert_range live 501 1000
    wait_offset live 1000 30 || return
    agent_term
    assert_contains "$WORK/live.log" 'delivered offset "1000" is in flume_meta' "final offset logged" || return
    db_insert_range live 1001 1500
    agent_start "$WORK/live.conf" "$WORK/live.log"
    wait_offset live 1500 30 || return
    agent_term
    assert_contains "$WORK/live.log" 'flume_meta has "1000"; resuming after "1000"' "resume logged" || return
    consume live 1500 "$WORK/live.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/live.out" 1 1500)" "exactly once across restart" || return
    pass
}

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
    assert_eq "ok" "$($PY -c '
import json, sys, collections
seen = collections.Counter(int(json.loads(json.loads(l)["value"])["id"]) for l in open(sys.argv[1]))
floor = min(int(x) for x in open(sys.argv[2]).read().split())
bad = [i for i, c in seen.items() if c > 1 and i <= floor]
print("ok" if not bad else "duplicates at or below offset %d: %s" % (floor, bad[:5]))' "$WORK/k9.out" "$WORK/k9.offsets")" "duplicates only above the stored offset" || return
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
    assert_eq "EventFailedCount=1 EventDeadLetteredCount=1 SinkFailed=0" "$($PY -c '
import json, sys
k = json.load(open(sys.argv[1]))["SINK.k1"]
print(" ".join("%s=%s" % (n, k[n]) for n in ("EventFailedCount", "EventDeadLetteredCount", "SinkFailed")))' "$WORK/poison3.json")" "sink metrics" || return
    consume poison_all 199 "$WORK/poison3.out"
    assert_eq "lost=1 dup=0 extra=0" "$(check_range "$WORK/poison3.out" 1 200)" "every small row once (101 in the dead-letter topic)" || return
    assert_eq 0 "$(ids_of "$WORK/poison3.out" | grep -c '^101$')" "the big row is not in the topic" || return
    consume poison_dlq 1 "$WORK/poison_dlq.out"
    assert_eq "1 101 poison_all poison_all 101 k1 2097169 yes" "$($PY -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
r = rows[0]
h = r["headers"]
print(len(rows), r["key"], h.get("__sqlflume.errors.topic"), h.get("__sqlflume.errors.table"),
      h.get("__sqlflume.errors.offset"), h.get("__sqlflume.errors.sink.name"),
      h.get("__sqlflume.errors.body.truncated"),
      "yes" if "MSG_SIZE_TOO_LARGE" in h.get("__sqlflume.errors.exception.message", "") and
      900000 < len(r["value"]) <= 1000000 and r["value"].startswith("{\"id\":101,\"v\":\"xxx") else "no")' "$WORK/poison_dlq.out")" "dead-letter record" || return
    assert_contains "$WORK/poison3.log" 'errors.tolerance = all: sending it to dead-letter topic poison_dlq' "the failed row is logged" || return
    pass
}

# a seed-shaped flume_meta created beforehand, with a row: export starts after its currentIndex
s_seed_meta() {
    t seed_meta
    db_exec "DROP TABLE IF EXISTS flume_meta_seed"
    db_exec "CREATE TABLE flume_meta_seed (source_tab VARCHAR(255) NOT NULL PRIMARY KEY, currentIndex VARCHAR(255) NOT NULL)"
    db_exec "INSERT INTO flume_meta_seed VALUES ('student', '3')"
    db_create_idv student
    db_insert_range student 1 6
    write_conf "$WORK/seed.conf" student seed "a1.sources.r1.status.table = flume_meta_seed" \
        "a1.sources.r1.status.table.create = false"
    sed -i 's/^a1.sources.r1.type = sql/a1.sources.r1.type = com.atguigu.source.SQLSource/' "$WORK/seed.conf"
    agent_start "$WORK/seed.conf" "$WORK/seed.log"
    consume seed 3 "$WORK/seed.out"
    agent_term
    assert_eq "4 5 6" "$(ids_of "$WORK/seed.out" | sort -n | tr '\n' ' ' | sed 's/ $//')" "rows after the seed's offset" || return
    assert_eq 6 "$(db_exec "SELECT currentIndex FROM flume_meta_seed WHERE source_tab = 'student'" | tr -d ' ')" "seed table updated" || return
    pass
}

# wrong password: one clear error line, exit 1, and no password anywhere in the output
s_wrong_password() {
    t wrong_password
    write_conf "$WORK/pw.conf" gaps pw
    sed -i 's/^a1.sources.r1.connection.password = .*/a1.sources.r1.connection.password = Wr0ngPassw0rd!/' "$WORK/pw.conf"
    echo "a1.sources.r1.connection.url = ${DB_URL/sqlflume-pw/UrlPassw0rd}" >>"$WORK/pw.conf"
    agent_start "$WORK/pw.conf" "$WORK/pw.log"
    local rc=0
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=""
    assert_eq 1 "$rc" "exit code" || return
    assert_eq 1 "$(grep -c ' ERROR ' "$WORK/pw.log")" "exactly one error line" || { cat "$WORK/pw.log" >&2; return; }
    grep -i 'auth\|denied\|password' "$WORK/pw.log" | grep -q ERROR || { fail "error does not say authentication failed"; cat "$WORK/pw.log" >&2; return; }
    assert_not_contains "$WORK/pw.log" 'Wr0ngPassw0rd' "password in log" || return
    assert_not_contains "$WORK/pw.log" 'UrlPassw0rd' "URL password in log" || return
    pass
}

# no primary key and no incremental.column.name: a clear error naming the fix
s_no_pk() {
    t no_pk
    db_exec "DROP TABLE IF EXISTS nopk"
    db_exec "CREATE TABLE nopk (id BIGINT, v VARCHAR(10))"
    write_conf "$WORK/nopk.conf" nopk nopk
    agent_start "$WORK/nopk.conf" "$WORK/nopk.log"
    local rc=0
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=""
    assert_eq 1 "$rc" "exit code" || return
    assert_contains "$WORK/nopk.log" 'table "nopk" has no primary key; set incremental.column.name' "error" || return
    # with incremental.column.name it works
    db_exec "INSERT INTO nopk VALUES (5, 'x'), (6, 'y')"
    write_conf "$WORK/nopk2.conf" nopk nopk "a1.sources.r1.incremental.column.name = id"
    agent_start "$WORK/nopk2.conf" "$WORK/nopk2.log"
    consume nopk 2 "$WORK/nopk.out"
    agent_term
    assert_eq "5 6" "$(ids_of "$WORK/nopk.out" | sort -n | tr '\n' ' ' | sed 's/ $//')" "rows by incremental.column.name" || return
    pass
}

# custom.query with $@$ bound as a parameter, text format, logger sink line
s_custom_query_text_logger() {
    t custom_query_text_logger
    db_create_idv cq
    db_exec "INSERT INTO cq VALUES (1, 'a,b'), (2, 'skip'), (3, 'c')"
    cat >"$WORK/cq.conf" <<EOF
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = $DB_KIND
a1.sources.r1.connection.url = $DB_URL
a1.sources.r1.custom.query = SELECT id, v FROM cq WHERE id > \$@\$ AND v <> 'skip' ORDER BY id
a1.sources.r1.status.key = cq-custom
a1.sources.r1.incremental.column.name = id
a1.sources.r1.format = text
a1.sources.r1.delimiter.entry = |
a1.sources.r1.run.query.delay = 300
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
EOF
    agent_start "$WORK/cq.conf" "$WORK/cq.log"
    wait_offset cq-custom 3 30 || return
    agent_term
    assert_contains "$WORK/cq.log" "$(printf 'body: 31 7C 61 2C 62 %33s1|a,b }' '')" "logger line of row 1" || return
    assert_not_contains "$WORK/cq.log" 'skip' "filtered row" || return
    assert_contains "$WORK/cq.log" 'headers:{table=cq-custom, offset=3' "headers" || return
    assert_not_contains "$WORK/cq.log" 'sqlflume-pw' "password in log" || return
    pass
}

# broken configs: check names file, line and key; the agent starts nothing
s_config_errors() {
    t config_errors
    cat >"$WORK/bad.conf" <<EOF
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = sql
a1.sources.r1.connection.url = $DB_URL_NOPW
a1.sources.r1.tabel = x
a1.sources.r1.max.rows = many
a1.sources.r1.channels = c1 c2
a1.channels.c1.type = memroy
a1.sinks.k1.type = kafka
a1.sinks.k1.channel = c1
EOF
    local rc=0
    "$SF_BIN" check -n a1 -f "$WORK/bad.conf" >"$WORK/bad.out" 2>&1 || rc=$?
    assert_eq 2 "$rc" "check exit code" || return
    assert_contains "$WORK/bad.out" "bad.conf:6: a1.sources.r1.tabel: unknown key for source \"r1\"; did you mean \"table\"?" "nearest key" || return
    assert_contains "$WORK/bad.out" "bad.conf:7: a1.sources.r1.max.rows: bad number \"many\"" "bad number" || return
    assert_contains "$WORK/bad.out" "bad.conf:8: a1.sources.r1.channels: channel \"c2\" is referenced but not defined" "undefined channel" || return
    assert_contains "$WORK/bad.out" "bad.conf:9: a1.channels.c1.type: unknown channel type \"memroy\"" "unknown type" || return
    assert_contains "$WORK/bad.out" "a1.sinks.k1.kafka.bootstrap.servers: missing required key" "missing key" || return
    assert_contains "$WORK/bad.out" "needs \"table\", \"tables\" or \"custom.query\"" "no table" || return
    rc=0
    "$SF_BIN" agent -n a1 -f "$WORK/bad.conf" >"$WORK/bad.agent" 2>&1 || rc=$?
    assert_eq 2 "$rc" "agent exit code on a bad config" || return
    assert_contains "$WORK/bad.agent" "nothing started" "nothing started" || return
    assert_not_contains "$WORK/bad.agent" "started:" "no component started" || return
    rc=0
    "$SF_BIN" check -n a1 -f "$WORK/missing.conf" >"$WORK/bad.out2" 2>&1 || rc=$?
    assert_eq 2 "$rc" "missing file" || return
    assert_contains "$WORK/bad.out2" "could not open configuration file" "missing file message" || return
    # the unknown channel type is one error: no "not listed", "no sink" or "unknown key" noise
    # about the channel's keys or the sink reading from it
    assert_eq 1 "$(grep -c '^warning: ' "$WORK/bad.out")" "one warning (the misspelt key)" || return

    # Flume keys sqlflume does not implement are errors, never ignored; a key given twice and a
    # component not listed are warnings; the agent starts nothing and never connects
    write_conf "$WORK/unsup.conf" unsup unsup \
        "a1.sources.r1.selector.type = multiplexing" \
        "a1.sources.r1.selector.header = table" \
        "a1.sources.r1.interceptors = i1" \
        "a1.sources.r1.interceptors.i1.type = timestamp" \
        "a1.sinkgroups = g1" \
        "a1.sinkgroups.g1.sinks = k1" \
        "a1.sinkgroups.g1.processor.type = failover" \
        "a1.channels.c1.capacity = 20000" \
        "a1.sinks.k2.type = logger" \
        "a1.sinks.k2.channel = c1"
    local f="$WORK/unsup.conf" sel="(sqlflume has only Flume's default replicating channel selector, which puts every event into every channel of the source)"
    local grp="(sqlflume has no sink groups or sink processors such as failover and load_balance: each sink takes from its channel on its own)"
    local int="(sqlflume has no interceptors: events go to the channels as the source made them)"
    rc=0
    "$SF_BIN" check -n a1 -f "$f" >"$WORK/unsup.out" 2>&1 || rc=$?
    assert_eq 2 "$rc" "check exit code, unsupported keys" || return
    assert_contains "$WORK/unsup.out" "error: $f:18: a1.sources.r1.selector.type = multiplexing is not supported $sel" "multiplexing selector" || return
    assert_contains "$WORK/unsup.out" "error: $f:19: a1.sources.r1.selector.header = table is not supported $sel" "selector key" || return
    assert_contains "$WORK/unsup.out" "error: $f:20: a1.sources.r1.interceptors = i1 is not supported $int" "interceptors" || return
    assert_contains "$WORK/unsup.out" "error: $f:21: a1.sources.r1.interceptors.i1.type = timestamp is not supported $int" "interceptor key" || return
    assert_contains "$WORK/unsup.out" "error: $f:22: a1.sinkgroups = g1 is not supported $grp" "sink groups" || return
    assert_contains "$WORK/unsup.out" "error: $f:23: a1.sinkgroups.g1.sinks = k1 is not supported $grp" "sink group key" || return
    assert_contains "$WORK/unsup.out" "error: $f:24: a1.sinkgroups.g1.processor.type = failover is not supported $grp" "sink processor" || return
    assert_contains "$WORK/unsup.out" "warning: $f:25: a1.channels.c1.capacity: set twice, on lines 12 and 25; the value of line 25 is used" "key set twice" || return
    assert_contains "$WORK/unsup.out" "warning: $f:26: a1.sinks.k2.type: sink \"k2\" is not listed in a1.sinks, so it is neither checked nor started (2 key(s) ignored)" "unlisted sink" || return
    assert_eq "7 2" "$(grep -c '^error: ' "$WORK/unsup.out") $(grep -c '^warning: ' "$WORK/unsup.out")" "errors and warnings, one per problem" || return
    rc=0
    "$SF_BIN" agent -n a1 -f "$f" >"$WORK/unsup.agent" 2>&1 || rc=$?
    assert_eq 2 "$rc" "agent exit code, unsupported keys" || return
    assert_contains "$WORK/unsup.agent" "configuration \"$f\" is invalid (7 error(s)); nothing started" "nothing started" || return
    assert_contains "$WORK/unsup.agent" "a1.sources.r1.selector.type = multiplexing is not supported" "agent names the key" || return
    assert_not_contains "$WORK/unsup.agent" "started:" "no component started" || return
    assert_eq "" "$(db_offset unsup)" "no flume_meta row: the database was not touched" || return
    # Flume's default selector, named explicitly, is what sqlflume does: accepted
    write_conf "$WORK/repl.conf" unsup unsup "a1.sources.r1.selector.type = replicating"
    rc=0
    "$SF_BIN" check -n a1 -f "$WORK/repl.conf" >"$WORK/repl.out" 2>&1 || rc=$?
    assert_eq 0 "$rc" "replicating selector accepted" || return
    assert_eq "$WORK/repl.conf: agent \"a1\" is valid" "$(cat "$WORK/repl.out")" "no warning for the replicating selector" || return
    pass
}

# keedio keys that would change behaviour are warned about (not ignored silently); -D properties:
# an unknown flume.monitoring.* one is an error, any other a warning
s_compat_keys() {
    t compat_keys
    cat >"$WORK/keedio.conf" <<EOF
a1.sources = r1
a1.channels = c1
a1.sinks = k1
a1.sources.r1.type = org.keedio.flume.source.SQLSource
a1.sources.r1.hibernate.connection.url = $DB_URL_NOPW
a1.sources.r1.table = t
a1.sources.r1.status.file.path = /var/lib/flume
a1.sources.r1.enclose.by.quotes = false
a1.sources.r1.channels = c1
a1.channels.c1.type = memory
a1.sinks.k1.type = logger
a1.sinks.k1.channel = c1
EOF
    local rc=0
    "$SF_BIN" check -n a1 -f "$WORK/keedio.conf" -Duser.timezone=UTC >"$WORK/keedio.out" 2>&1 || rc=$?
    assert_eq 0 "$rc" "check exit code (warnings only)" || return
    assert_contains "$WORK/keedio.out" "keedio.conf:7: a1.sources.r1.status.file.path: status.file.path has no effect in sqlflume: keedio's position file is not read" "position file" || return
    assert_contains "$WORK/keedio.out" "keedio.conf:8: a1.sources.r1.enclose.by.quotes: enclose.by.quotes has no effect in sqlflume" "quoting" || return
    assert_contains "$WORK/keedio.out" "warning: -Duser.timezone has no meaning for sqlflume; ignored" "other -D" || return
    rc=0
    "$SF_BIN" agent -n a1 -f "$WORK/keedio.conf" -Dflume.monitoring.hosts=h:8649 >"$WORK/keedio.agent" 2>&1 || rc=$?
    assert_eq 2 "$rc" "agent exit code with an unknown monitoring property" || return
    assert_contains "$WORK/keedio.agent" "-Dflume.monitoring.hosts is not supported" "monitoring property" || return
    pass
}


# timestamp+incrementing: 10,000 rows sharing one timestamp across max.rows = 100 pages arrive
# exactly once (the pair offset breaks the tie); the stored offset is the encoded pair
s_ts_inc_ties() {
    t ts_inc_ties
    db_exec "DROP TABLE IF EXISTS tie"
    db_exec "CREATE TABLE tie (id BIGINT NOT NULL PRIMARY KEY, ts TIMESTAMP NOT NULL, v VARCHAR(64))"
    if [ "$DB_KIND" = mysql ]; then
        db_exec "INSERT INTO tie SELECT seq, '2024-01-01 00:00:00', CONCAT('row-', seq) FROM seq_1_to_10000"
    else
        db_exec "INSERT INTO tie SELECT g, '2024-01-01 00:00:00', 'row-' || g FROM generate_series(1, 10000) g"
    fi
    write_conf "$WORK/tie.conf" tie tie "a1.sources.r1.incremental.mode = timestamp+incrementing" \
        "a1.sources.r1.timestamp.column.name = ts" "a1.sources.r1.max.rows = 100"
    agent_start "$WORK/tie.conf" "$WORK/tie.log"
    wait_offset tie "2024-01-0100:00:00,10000" 60 || return
    db_exec "INSERT INTO tie VALUES (10001, '2024-01-01 00:00:00', 'late, same ts, higher id')"
    db_exec "UPDATE tie SET ts = '2024-01-02 00:00:00', v = 'updated' WHERE id = 7"
    wait_offset tie "2024-01-0200:00:00,7" 30 || return
    agent_term
    consume tie 10002 "$WORK/tie.out"
    assert_eq "lost=0 dup=1 extra=1" "$(check_range "$WORK/tie.out" 1 10000)" "10,000 tied rows once, the updated row again, the late row" || return
    assert_contains "$WORK/tie.out" 'updated' "updated row re-read" || return
    pass
}

# timestamp mode picks up inserted and updated rows
s_timestamp_mode() {
    t timestamp_mode
    db_exec "DROP TABLE IF EXISTS tsm"
    db_exec "CREATE TABLE tsm (id BIGINT NOT NULL PRIMARY KEY, ts TIMESTAMP(3) NOT NULL, v VARCHAR(64))"
    db_exec "INSERT INTO tsm VALUES (1, '2024-01-01 00:00:01', 'a'), (2, '2024-01-01 00:00:02', 'b'), (3, '2024-01-01 00:00:03', 'c')"
    write_conf "$WORK/tsm.conf" tsm tsm "a1.sources.r1.incremental.mode = timestamp" "a1.sources.r1.timestamp.column.name = ts"
    agent_start "$WORK/tsm.conf" "$WORK/tsm.log"
    local ms=".000"
    [ "$DB_KIND" = postgresql ] && ms="" # PostgreSQL prints no trailing zero fractions
    wait_offset tsm "2024-01-0100:00:03$ms" 30 || return
    db_exec "UPDATE tsm SET v = 'b2', ts = '2024-01-01 00:00:04' WHERE id = 2"
    wait_offset tsm "2024-01-0100:00:04$ms" 30 || return
    agent_term
    consume tsm 4 "$WORK/tsm.out"
    assert_eq "1 2 2 3" "$(ids_of "$WORK/tsm.out" | sort -n | tr '\n' ' ' | sed 's/ $//')" "inserted and updated rows" || return
    assert_contains "$WORK/tsm.out" 'b2' "the updated version" || return
    pass
}

# bulk mode: the whole table each poll
s_bulk_mode() {
    t bulk_mode
    db_create_idv bulk
    db_exec "INSERT INTO bulk VALUES (1, 'a'), (2, 'b'), (3, 'c')"
    write_conf "$WORK/bulk.conf" bulk bulk "a1.sources.r1.incremental.mode = bulk"
    agent_start "$WORK/bulk.conf" "$WORK/bulk.log"
    # five polls' worth: the consumer reads the partitions in its own order, so of the first nine
    # messages one id may have fewer than three (seen once under ASan)
    consume bulk 15 "$WORK/bulk.out"
    agent_term
    # every poll delivers the whole table: ids 1, 2, 3 each at least three times, nothing else
    assert_eq "1 2 3" "$(ids_of "$WORK/bulk.out" | sort -n | uniq -c | awk '$1 >= 3 {print $2}' | tr '\n' ' ' | sed 's/ $//')" "three polls of the whole table" || return
    assert_eq "1 2 3" "$(ids_of "$WORK/bulk.out" | sort -un | tr '\n' ' ' | sed 's/ $//')" "only the table's rows" || return
    assert_eq "" "$(db_offset bulk)" "no offset for bulk" || return
    pass
}

# several tables on one source: one offset row each (status.key prefix + table), %{table} topics,
# round-robin (a busy table does not hold back the others); flume_meta in another database
s_multi_table_status_db() {
    t multi_table_status_db
    for x in mt_a mt_b mt_c; do db_create_idv $x; done
    db_insert_range mt_a 1 20000
    db_insert_range mt_b 1 30
    db_insert_range mt_c 1 40
    if [ "$DB_KIND" = mysql ]; then
        db_exec "CREATE DATABASE IF NOT EXISTS sf_status"
        status_url="mysql://sqlflume:sqlflume-pw@127.0.0.1:$DB_PORT/sf_status"
    else
        db_exec "DROP DATABASE IF EXISTS sf_status"
        db_exec "CREATE DATABASE sf_status"
        status_url="postgresql://sqlflume:sqlflume-pw@127.0.0.1:$DB_PORT/sf_status"
    fi
    write_conf "$WORK/mt.conf" unused "%{table}" "a1.sources.r1.tables = mt_a, mt_b mt_c" \
        "a1.sources.r1.status.key = agentA." "a1.sources.r1.max.rows = 500" \
        "a1.sources.r1.status.connection.url = $status_url"
    sed -i '/^a1.sources.r1.table = /d' "$WORK/mt.conf"
    SF_LOG_LEVEL=DEBUG agent_start "$WORK/mt.conf" "$WORK/mt.log"
    local end=$((SECONDS + $(secs 60))) got=""
    while [ $SECONDS -lt $end ]; do
        got=$(sf_status_offsets)
        [ "$got" = "agentA.mt_a=20000 agentA.mt_b=30 agentA.mt_c=40" ] && break
        sleep 0.3
    done
    agent_term
    assert_eq "agentA.mt_a=20000 agentA.mt_b=30 agentA.mt_c=40" "$got" "one offset row per table in the status database" || return
    assert_eq "0" "$(db_exec "SELECT COUNT(*) FROM flume_meta WHERE source_tab LIKE 'agentA.%'" 2>/dev/null | tr -d ' ' || echo 0)" "nothing in the source database's flume_meta" || return
    consume mt_b 30 "$WORK/mt_b.out"
    consume mt_c 40 "$WORK/mt_c.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/mt_b.out" 1 30)" "table mt_b in its topic" || return
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/mt_c.out" 1 40)" "table mt_c in its topic" || return
    # round-robin: the small tables' rows were read before the busy table's last page
    assert_eq "ok" "$($PY -c '
import sys
lines = open(sys.argv[1]).read().splitlines()
def first(needle):
    for i, l in enumerate(lines):
        if needle in l:
            return i
    return -1
a = first("read 500 rows of \"agentA.mt_a\" up to offset \"20000\"")
b = first("rows of \"agentA.mt_b\"")
print("ok" if 0 <= b < a else "order: mt_b at %d, mt_a last page at %d" % (b, a))' "$WORK/mt.log")" "round-robin" || return
    pass
}
sf_status_offsets() {
    if [ "$DB_KIND" = mysql ]; then
        sf_mysql_exec "$DB_PORT" "SELECT CONCAT(source_tab, '=', currentIndex) FROM sf_status.flume_meta ORDER BY source_tab" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'
    else
        PGPASSWORD=sqlflume-pw psql -h 127.0.0.1 -p "$DB_PORT" -U sqlflume -d sf_status -X -q -t -A \
            -c "SELECT source_tab || '=' || currentIndex FROM flume_meta ORDER BY source_tab" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'
    fi
}

# out-of-order commits: T1 takes id 9 and commits 5 s later, T2 takes id 10 and commits at once,
# T3's id 11 is rolled back (a permanent gap); rows flow meanwhile; 9 arrives exactly once and the
# rolled-back id delays nothing beyond incremental.gap.timeout.ms
s_out_of_order() {
    t "out_of_order${1:+_$1}"
    db_exec "DROP TABLE IF EXISTS ooo"
    db_exec "DELETE FROM flume_meta WHERE source_tab = 'ooo'" 2>/dev/null
    local sleep5
    if [ "$DB_KIND" = mysql ]; then
        db_exec "CREATE TABLE ooo (id BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY, v VARCHAR(64))"
        sleep5="SELECT SLEEP(5)"
    else
        db_exec "CREATE TABLE ooo (id BIGSERIAL PRIMARY KEY, v VARCHAR(64))"
        sleep5="SELECT pg_sleep(5)"
    fi
    db_exec "INSERT INTO ooo (v) VALUES ('a'), ('b'), ('c'), ('d'), ('e'), ('f'), ('g'), ('h')"
    local topic="ooo${1:+-$1}"
    write_conf "$WORK/ooo.conf" ooo "$topic" "a1.sources.r1.incremental.gap.timeout.ms = 8000"
    agent_start "$WORK/ooo.conf" "$WORK/ooo.log"
    wait_offset ooo 8 30 || return
    (db_exec "BEGIN; INSERT INTO ooo (v) VALUES ('t1 commits late'); $sleep5; COMMIT;" >/dev/null) &
    local t1=$!
    sleep 0.5
    db_exec "INSERT INTO ooo (v) VALUES ('t2 commits at once')"
    db_exec "BEGIN; INSERT INTO ooo (v) VALUES ('t3 rolls back'); ROLLBACK;"
    db_exec "INSERT INTO ooo (v) VALUES ('t4')"
    # while T1 is open, 10 and 12 are delivered and flume_meta keeps 9 and 11 open
    wait_offset ooo "12;9,11" 4 || { wait $t1; return; }
    if [ "${1:-}" = restart ]; then
        # stop and start again while T1 is still open: the stored gaps come back, nothing is resent
        agent_term
        agent_start "$WORK/ooo.conf" "$WORK/ooo.log"
        wait_log "$WORK/ooo.log" 'flume_meta has "12;9,11"' 10 || { wait $t1; return; }
    fi
    wait $t1
    wait_offset ooo 12 15 || return
    agent_term
    consume "$topic" 11 "$WORK/ooo.out"
    assert_eq "1 2 3 4 5 6 7 8 9 10 12" "$(ids_of "$WORK/ooo.out" | sort -n | tr '\n' ' ' | sed 's/ $//')" "late commit delivered once, rolled-back id skipped" || return
    assert_contains "$WORK/ooo.out" 't1 commits late' "the late row" || return
    assert_contains "$WORK/ooo.log" "1 (1 ids) given up after incremental.gap.timeout.ms = 8000" "permanent gap logged" || return
    pass
}

# a 30,000-id table with every third id deleted (a hole after two rows in three): every row
# delivered once, and gap tracking's warnings come as a summary line, not one per range
s_sparse_gaps() {
    t sparse_gaps
    db_create_idv sparse
    db_insert_range sparse 1 30000
    db_exec "DELETE FROM sparse WHERE id % 3 = 0"
    write_conf "$WORK/sparse.conf" sparse sparse
    agent_start "$WORK/sparse.conf" "$WORK/sparse.log"
    consume sparse 20000 "$WORK/sparse.out"
    wait_hw sparse 29999 30 || return
    agent_term
    assert_eq "lost=0 dup=0 extra=0" "$($PY -c '
import json, sys, collections
seen = collections.Counter(int(json.loads(json.loads(l)["value"])["id"]) for l in open(sys.argv[1]))
want = set(i for i in range(1, 30001) if i % 3)
print("lost=%d dup=%d extra=%d" % (len(want - set(seen)), sum(c - 1 for c in seen.values() if c > 1), len(set(seen) - want)))' "$WORK/sparse.out")" "every row once" || return
    local n
    n=$(grep -c 'ranges of missing ids in the last' "$WORK/sparse.log")
    [ "$n" -ge 1 ] && [ "$n" -le 3 ] || { fail "$n gap summary lines (want 1 to 3)"; return; }
    assert_eq 0 "$(grep WARN "$WORK/sparse.log" | grep -vc 'ranges of missing ids in the last')" "other WARN lines" || return
    # the ranges 3, 6, ..., 29997 were opened, counted over the summary lines
    assert_eq 9999 "$(sed -n 's/.*ranges of missing ids in the last [0-9]* s: \([0-9]*\) opened.*/\1/p' "$WORK/sparse.log" | awk '{s += $1} END {print s}')" "ranges opened" || return
    pass
}
s_out_of_order_restart() { s_out_of_order restart; }

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
    assert_eq "ok" "$($PY - "$WORK/bf.log" "$WORK/bf.kills" "$chunk" <<'PYEOF'
import re, sys
log = open(sys.argv[1]).read()
kills = [l.split() for l in open(sys.argv[2])]
chunk = int(sys.argv[3])
res = re.findall(r'resuming backfill at chunk (\d+) after key "(\d+)"', log)
bad = []
if len(res) != len(kills):
    bad.append("%d resume lines for %d interruptions" % (len(res), len(kills)))
hwms = set()
for (n, key), (rnd, k, val) in zip(res, kills):
    f = dict(x.split("=", 1) for x in val.split(";"))
    hwms.add(f["hwm"])
    if int(n) < 1 or key != k or n != f["chunk"]:
        bad.append("round %s: resumed at chunk %s after %s, recorded %s" % (rnd, n, key, val))
    # dense ids from 1: the last key delivered equals the rows delivered, and lies in its chunk
    if f["rows"] != k or not int(f["chunk"]) * chunk <= int(k) < (int(f["chunk"]) + 1) * chunk:
        bad.append("round %s: progress %s is inconsistent" % (rnd, val))
if len(hwms) != 1:
    bad.append("the high-water mark changed: %s" % sorted(hwms))
print("ok" if not bad else "; ".join(bad))
PYEOF
)" "restarts resume after the recorded key" || return
    # duplicates: only just above a key recorded at a kill (at most chunk + capacity per kill),
    # none after the clean stop, none among the streamed rows above the high-water mark
    local dupcheck
    dupcheck=$($PY - "$WORK/bf.out" "$WORK/bf.kills" "$bound" "$hwm" <<'PYEOF'
import collections, json, sys
seen = collections.Counter(int(json.loads(json.loads(l)["value"])["id"]) for l in open(sys.argv[1]))
kills = [l.split() for l in open(sys.argv[2])]
bound, hwm = int(sys.argv[3]), int(sys.argv[4])
keys = [int(k[1]) for k in kills[:3]]
per = [0, 0, 0]
bad = []
for i, c in seen.items():
    if c < 2:
        continue
    if i > hwm:
        bad.append("streamed row %d sent %d times" % (i, c))
        continue
    for j, k in enumerate(keys):
        if k < i <= k + bound:
            per[j] += c - 1
            break
    else:
        bad.append("id %d (x%d) is not just above a key recorded at a kill" % (i, c))
over = [p for p in per if p > bound]
print("per-kill %s %s" % (per, "ok" if not bad and not over else "BAD " + "; ".join(bad[:5])))
PYEOF
)
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

# ---------------------------------------------------------------- main
# Flume's HTTP monitoring (-Dflume.monitoring.type=http): /metrics is Flume's JSON, every counter a
# string and exact after an export of 300 rows; / links to it, other paths 404, POST 405; an
# unsupported type and a port already in use are errors
s_monitoring() {
    t monitoring
    db_create_idv mon
    db_insert_range mon 1 300
    write_conf "$WORK/mon.conf" mon mon "a1.sources.r1.batch.size = 50" "a1.sinks.k1.flumeBatchSize = 100"
    agent_start "$WORK/mon.conf" "$WORK/mon.log" -Dflume.monitoring.type=http \
        -Dflume.monitoring.port=0 -Dflume.monitoring.host=127.0.0.1
    wait_log "$WORK/mon.log" "serving metrics at http://127.0.0.1:" 20 || return
    local port
    port=$(sed -n 's|.*serving metrics at http://127.0.0.1:\([0-9]*\)/metrics.*|\1|p' "$WORK/mon.log" | head -1)
    wait_offset mon 300 30 || return
    curl -s -o "$WORK/mon.json" -w '%{http_code} %{content_type}\n' "http://127.0.0.1:$port/metrics" >"$WORK/mon.http"
    assert_eq "200 application/json;charset=utf-8" "$(cat "$WORK/mon.http")" "GET /metrics" || return
    assert_eq "SOURCE.r1 EventReceivedCount=300 EventAcceptedCount=300 AppendBatchAcceptedCount=6 Type=SOURCE
CHANNEL.c1 ChannelCapacity=10000 ChannelSize=0 ChannelFillPercentage=0.0 EventPutSuccessCount=300 EventTakeSuccessCount=300 Type=CHANNEL
SINK.k1 EventDrainAttemptCount=300 EventDrainSuccessCount=300 EventWriteFail=0 Type=SINK
all values are strings; start times set" "$($PY -c '
import json, sys, time
m = json.load(open(sys.argv[1]))
want = {"SOURCE.r1": ["EventReceivedCount", "EventAcceptedCount", "AppendBatchAcceptedCount", "Type"],
        "CHANNEL.c1": ["ChannelCapacity", "ChannelSize", "ChannelFillPercentage", "EventPutSuccessCount",
                       "EventTakeSuccessCount", "Type"],
        "SINK.k1": ["EventDrainAttemptCount", "EventDrainSuccessCount", "EventWriteFail", "Type"]}
assert sorted(m) == sorted(want), sorted(m)
for comp, keys in want.items():
    print(comp, " ".join("%s=%s" % (k, m[comp][k]) for k in keys))
ok = all(isinstance(v, str) for c in m.values() for v in c.values())
now = time.time() * 1000
ok = ok and all(now - 600000 < int(c["StartTime"]) <= now and c["StopTime"] == "0" for c in m.values())
print("all values are strings; start times set" if ok else "bad values: %r" % m)' "$WORK/mon.json")" "metrics" || return
    assert_eq "200" "$(curl -s -o "$WORK/mon.root" -w '%{http_code}' "http://127.0.0.1:$port/")" "GET /" || return
    assert_contains "$WORK/mon.root" 'href="./metrics"' "root page links to /metrics" || return
    assert_eq "404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope")" "GET /nope" || return
    assert_eq "405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/metrics")" "POST /metrics" || return
    # the port is taken: the second agent says so and exits 1 without exporting anything
    db_create_idv mon2
    write_conf "$WORK/mon2.conf" mon2 mon2
    local rc=0
    timeout "$(secs 30)" "$SF_BIN" agent -n a1 -f "$WORK/mon2.conf" -Dflume.monitoring.type=http \
        -Dflume.monitoring.port="$port" -Dflume.monitoring.host=127.0.0.1 >"$WORK/mon2.log" 2>&1 || rc=$?
    assert_eq 1 "$rc" "exit code with the monitoring port taken" || return
    assert_contains "$WORK/mon2.log" "ERROR could not serve metrics on 127.0.0.1:$port: Address already in use; nothing started" "port in use logged" || return
    # the port is bound before any component starts: the database is never touched
    assert_not_contains "$WORK/mon2.log" "connected to" "no database connection" || return
    assert_not_contains "$WORK/mon2.log" "started:" "no component started" || return
    assert_eq "" "$(db_offset mon2)" "no flume_meta row for the second agent" || return
    agent_term
    # an IPv6 address for flume.monitoring.host
    agent_start "$WORK/mon.conf" "$WORK/mon6.log" -Dflume.monitoring.type=http \
        -Dflume.monitoring.port=0 -Dflume.monitoring.host=::1
    wait_log "$WORK/mon6.log" "serving metrics at http://[::1]:" 20 || return
    port=$(sed -n 's|.*serving metrics at http://\[::1\]:\([0-9]*\)/metrics.*|\1|p' "$WORK/mon6.log" | head -1)
    assert_eq "200" "$(curl -s -g -o "$WORK/mon6.json" -w '%{http_code}' "http://[::1]:$port/metrics")" "GET /metrics over IPv6" || return
    assert_contains "$WORK/mon6.json" '"SOURCE.r1":{' "metrics over IPv6" || return
    agent_term
    rc=0
    "$SF_BIN" agent -n a1 -f "$WORK/mon.conf" -Dflume.monitoring.type=ganglia >"$WORK/mon3.log" 2>&1 || rc=$?
    assert_eq 2 "$rc" "exit code of an unsupported monitoring type" || return
    assert_contains "$WORK/mon3.log" "flume.monitoring.type=ganglia is not supported" "unsupported type logged" || return
    pass
}

# the seed tutorials' configuration as users copy it: a memory channel of capacity 1000 and
# transactionCapacity 100, every batch size and max.rows at its default; two agents at once on
# production-like tables (holes, deleted rows, NULLs everywhere, text, a 2 MB row), rows inserted
# while they run; agent A killed -9 mid-export and restarted: A loses nothing (at-least-once with
# a memory channel), B, running on beside it, delivers every row exactly once
s_seed_channel() {
    t seed_channel
    local tb
    for tb in seed_a seed_b; do
        db_exec "DROP TABLE IF EXISTS $tb"
        # MEDIUMTEXT on MariaDB: its TEXT holds 64 KiB
        db_exec "CREATE TABLE $tb (id BIGINT NOT NULL PRIMARY KEY, name VARCHAR(64), note $([ "$DB_KIND" = mysql ] && echo MEDIUMTEXT || echo TEXT), amount DECIMAL(12,2), created DATE)"
    done
    # seed_insert TABLE FROM TO: ids FROM..TO except every third; NULLs in every column but id
    seed_insert() {
        if [ "$DB_KIND" = mysql ]; then
            db_exec "INSERT INTO $1 SELECT seq, IF(seq % 4 = 0, NULL, CONCAT('n', seq)), IF(seq % 5 = 0, NULL, REPEAT('x', seq % 300)),
                     IF(seq % 7 = 0, NULL, seq / 100), IF(seq % 6 = 1, NULL, DATE('2024-01-01') + INTERVAL (seq % 365) DAY)
                     FROM seq_$2_to_$3 WHERE seq % 3 <> 0"
        else
            db_exec "INSERT INTO $1 SELECT g, CASE WHEN g % 4 = 0 THEN NULL ELSE 'n' || g END,
                     CASE WHEN g % 5 = 0 THEN NULL ELSE repeat('x', g % 300) END, CASE WHEN g % 7 = 0 THEN NULL ELSE g / 100.0 END,
                     CASE WHEN g % 6 = 1 THEN NULL ELSE DATE '2024-01-01' + (g % 365) END FROM generate_series($2, $3) g WHERE g % 3 <> 0"
        fi
    }
    seed_insert seed_a 1 15000
    seed_insert seed_b 1 15000
    # deleted rows, and one row of 2 MB in B
    db_exec "DELETE FROM seed_a WHERE id % 11 = 0"
    db_exec "DELETE FROM seed_b WHERE id % 13 = 0"
    if [ "$DB_KIND" = mysql ]; then
        db_exec "UPDATE seed_b SET note = REPEAT('y', 2097152) WHERE id = 5000"
    else
        db_exec "UPDATE seed_b SET note = repeat('y', 2097152) WHERE id = 5000"
    fi
    for tb in seed_a seed_b; do
        {
            echo "a1.sources = r1"
            echo "a1.channels = c1"
            echo "a1.sinks = k1"
            echo "a1.sources.r1.type = org.keedio.flume.source.SQLSource"
            echo "a1.sources.r1.connection.url = $DB_URL_NOPW"
            echo "a1.sources.r1.connection.user = sqlflume"
            echo "a1.sources.r1.connection.password = \${SF_TEST_DB_PASSWORD}"
            echo "a1.sources.r1.table = $tb"
            echo "a1.sources.r1.columns.to.select = *"
            echo "a1.sources.r1.run.query.delay = 1000"
            echo "a1.sources.r1.channels = c1"
            echo "a1.channels.c1.type = memory"
            echo "a1.channels.c1.capacity = 1000"
            echo "a1.channels.c1.transactionCapacity = 100"
            echo "a1.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink"
            echo "a1.sinks.k1.channel = c1"
            echo "a1.sinks.k1.kafka.bootstrap.servers = $BOOTSTRAP"
            echo "a1.sinks.k1.kafka.topic = $tb"
            echo "a1.sinks.k1.kafka.producer.message.max.bytes = 10000000"
        } >"$WORK/$tb.conf"
    done
    # rows keep arriving in both tables while the agents run
    (
        local next=15001
        while [ ! -e "$WORK/seed.stop" ]; do
            seed_insert seed_a $next $((next + 149)) >/dev/null
            seed_insert seed_b $next $((next + 149)) >/dev/null
            next=$((next + 150))
            sleep 0.1
        done
    ) &
    local inserter=$!
    agent_start "$WORK/seed_b.conf" "$WORK/seed_b.log"
    local pid_b=$AGENT_PID
    agent_start "$WORK/seed_a.conf" "$WORK/seed_a.log"
    sleep 2
    agent_kill9
    log "seed_a: kill -9 with offset $(db_offset seed_a) in flume_meta"
    agent_start "$WORK/seed_a.conf" "$WORK/seed_a.log"
    sleep 2
    touch "$WORK/seed.stop"
    wait $inserter
    local last_a last_b
    last_a=$(db_exec "SELECT MAX(id) FROM seed_a" | tr -d ' ')
    last_b=$(db_exec "SELECT MAX(id) FROM seed_b" | tr -d ' ')
    # the highest id: the holes of the last rows stay open gaps until incremental.gap.timeout.ms
    wait_hw seed_a "$last_a" 120 || return
    agent_term
    AGENT_PID=$pid_b
    wait_hw seed_b "$last_b" 120 || return
    agent_term
    for tb in seed_a seed_b; do
        db_exec "SELECT id FROM $tb ORDER BY id" >"$WORK/$tb.want"
        consume $tb 0 "$WORK/$tb.out"
    done
    # lost / duplicated / unexpected ids against the table itself
    seed_check() { $PY -c '
import json, sys, collections
seen = collections.Counter(int(json.loads(json.loads(l)["value"])["id"]) for l in open(sys.argv[1]))
want = set(int(x) for x in open(sys.argv[2]).read().split())
print("rows=%d lost=%d dup=%d extra=%d" % (len(want), len(want - set(seen)), sum(c - 1 for c in seen.values() if c > 1), len(set(seen) - want)))' "$1" "$2"; }
    local res_a res_b
    res_a=$(seed_check "$WORK/seed_a.out" "$WORK/seed_a.want")
    res_b=$(seed_check "$WORK/seed_b.out" "$WORK/seed_b.want")
    log "seed_a (killed once): $res_a; seed_b: $res_b"
    case "$res_a" in *" lost=0 dup="*" extra=0") ;; *) fail "seed_a: $res_a"; return ;; esac
    case "$res_b" in *" lost=0 dup=0 extra=0") ;; *) fail "seed_b: $res_b"; return ;; esac
    # NULLs stay JSON nulls; the 2 MB row arrived whole
    assert_contains "$WORK/seed_b.out" '"value": "{\"id\":20,\"name\":null,\"note\":null,\"amount\":\"0.20\",\"created\":\"2024-01-21\"}"' "a row with NULLs, exact JSON" || return
    assert_contains "$WORK/seed_b.out" '"value": "{\"id\":22,\"name\":\"n22\",\"note\":\"xxxxxxxxxxxxxxxxxxxxxx\",\"amount\":\"0.22\",\"created\":\"2024-01-23\"}"' "a row without NULLs, exact JSON" || return
    assert_eq "2097152" "$($PY -c '
import json, sys
for l in open(sys.argv[1]):
    v = json.loads(json.loads(l)["value"])
    if v["id"] == 5000: print(len(v["note"]))' "$WORK/seed_b.out")" "the 2 MB row, whole" || return
    pass
}

# ---------------------------------------------------------------- issue 10: no row skipped, one agent per key

# sorted values of FIELD of the JSON bodies of a consume output, space-separated
field_of() { # file field
    $PY -c '
import json, sys
print(" ".join(sorted(str(json.loads(json.loads(l)["value"])[sys.argv[2]]) for l in open(sys.argv[1]))))' "$1" "$2"
}
# the lock id of a status key in flume_meta of sqlflume_test (64-bit FNV-1a of "db\ntable\nkey",
# computed here independently of the C code): signed decimal for PostgreSQL, the name for MySQL
lock_of() { # key
    $PY -c '
import sys
h = 0xcbf29ce484222325
for b in ("sqlflume_test\nflume_meta\n" + sys.argv[1]).encode():
    h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print(("sqlflume.%016x" % h) if sys.argv[2] == "mysql" else (h - (1 << 64) if h >= 1 << 63 else h))' "$1" "$DB_KIND"
}
# the lock as the agent's message shows it: the name in quotes (MySQL), the id (PostgreSQL)
lock_shown() { if [ "$DB_KIND" = mysql ]; then echo "\"$(lock_of "$1")\""; else lock_of "$1"; fi; }
# wait_exit SECONDS: the agent's exit code once it ended by itself (124 = still running: killed)
wait_exit() {
    local end=$((SECONDS + $(secs "$1")))
    while [ $SECONDS -lt $end ] && kill -0 "$AGENT_PID" 2>/dev/null; do sleep 0.2; done
    if kill -0 "$AGENT_PID" 2>/dev/null; then agent_kill9; RC=124; return; fi
    RC=0
    wait "$AGENT_PID" || RC=$?
    AGENT_PID=""
}

# no flume_meta row and no start.from: the first query has no lower bound (ids 0 and -5, the
# earliest timestamp); an explicit start.from = 0 keeps the seed's meaning (> 0)
s_no_lower_bound() {
    t no_lower_bound
    db_create_idv nlb
    db_exec "INSERT INTO nlb (id, v) VALUES (-5, 'm'), (0, 'z'), (1, 'o')"
    write_conf "$WORK/nlb.conf" nlb nlb
    agent_start "$WORK/nlb.conf" "$WORK/nlb.log"
    wait_hw nlb 1 20 || return
    agent_term
    assert_contains "$WORK/nlb.log" 'table "nlb": flume_meta has no row and start.from is not set: the first query has no lower bound; reading from the first row' "no lower bound logged" || return
    db_exec "INSERT INTO nlb (id, v) VALUES (2, 't')"
    agent_start "$WORK/nlb.conf" "$WORK/nlb.log"
    wait_hw nlb 2 20 || return
    agent_term
    consume nlb 0 "$WORK/nlb.out"
    assert_eq "-5 0 1 2" "$(ids_of "$WORK/nlb.out" | sort -n | tr '\n' ' ' | sed 's/ $//')" "every id exactly once" || return
    # explicit start.from = 0: rows above 0 only, and the log says where it started
    db_create_idv nlb0
    db_exec "INSERT INTO nlb0 (id, v) VALUES (-5, 'm'), (0, 'z'), (1, 'o')"
    write_conf "$WORK/nlb0.conf" nlb0 nlb0 "a1.sources.r1.start.from = 0"
    agent_start "$WORK/nlb0.conf" "$WORK/nlb0.log"
    wait_offset nlb0 1 20 || return
    agent_term
    assert_contains "$WORK/nlb0.log" 'table "nlb0": flume_meta has no row; start.from "0"; resuming after "0"' "start.from logged" || return
    consume nlb0 0 "$WORK/nlb0.out"
    assert_eq "1" "$(ids_of "$WORK/nlb0.out" | tr '\n' ' ' | sed 's/ $//')" "explicit start.from = 0 skips 0 and -5" || return
    # timestamp mode: the earliest timestamp a column holds is read too
    local tst=TIMESTAMP
    [ "$DB_KIND" = mysql ] && tst=DATETIME
    db_exec "DROP TABLE IF EXISTS nlbts"
    db_exec "CREATE TABLE nlbts (id BIGINT NOT NULL PRIMARY KEY, ts $tst NOT NULL)"
    db_exec "INSERT INTO nlbts VALUES (1, '0001-01-01 00:00:00'), (2, '2020-01-01 00:00:00')"
    write_conf "$WORK/nlbts.conf" nlbts nlbts "a1.sources.r1.incremental.mode = timestamp" \
        "a1.sources.r1.timestamp.column.name = ts"
    agent_start "$WORK/nlbts.conf" "$WORK/nlbts.log"
    wait_offset nlbts "2020-01-0100:00:00" 20 || return
    agent_term
    consume nlbts 0 "$WORK/nlbts.out"
    assert_eq "1 2" "$(field_of "$WORK/nlbts.out" id)" "the earliest timestamp is read" || return
    pass
}

# a text primary key as the default incremental column: refused at start with one ERROR naming
# the ways out, nothing produced; check --connect reports the same
s_text_pk_refused() {
    t text_pk_refused
    db_exec "DROP TABLE IF EXISTS txtpk"
    db_exec "CREATE TABLE txtpk (code VARCHAR(20) NOT NULL PRIMARY KEY, v VARCHAR(10))"
    db_exec "INSERT INTO txtpk VALUES ('a', 'x'), ('b', 'y')"
    kafka_cmd "topic txtpk"
    write_conf "$WORK/txtpk.conf" txtpk txtpk
    local msg='table "txtpk": the primary key "code", the incremental column by default, is text, not an integer, decimal or date/time column (whose order grows with inserts): set incremental.column.name to such a column, or use incremental.mode = timestamp (with timestamp.column.name) or incremental.mode = bulk'
    agent_start "$WORK/txtpk.conf" "$WORK/txtpk.log"
    wait_exit 30
    assert_eq 1 "$RC" "exit code" || { cat "$WORK/txtpk.log" >&2; return; }
    assert_contains "$WORK/txtpk.log" "$msg" "error message" || return
    assert_eq 1 "$(grep -c ' ERROR ' "$WORK/txtpk.log")" "exactly one error line" || { cat "$WORK/txtpk.log" >&2; return; }
    assert_eq "" "$(db_offset txtpk)" "no offset written" || return
    consume txtpk 0 "$WORK/txtpk.out" --idle 3
    assert_eq 0 "$(wc -l <"$WORK/txtpk.out")" "nothing produced" || return
    RC=0
    timeout "$(secs 60)" "$SF_BIN" check --connect -n a1 -f "$WORK/txtpk.conf" >"$WORK/txtpk.chk" 2>&1 || RC=$?
    assert_eq 1 "$RC" "check --connect exit code" || { cat "$WORK/txtpk.chk" >&2; return; }
    assert_contains "$WORK/txtpk.chk" "FAIL r1 txtpk: the primary key \"code\", the incremental column by default, is text, not an integer, decimal or date/time column" "check --connect" || return
    pass
}

# an explicitly named text incremental column runs, with one WARN; a restart resumes after the
# last key: 'a', 'b', 'c', restart, 'd' arrive exactly once
s_text_incremental() {
    t text_incremental
    db_exec "DROP TABLE IF EXISTS txtinc"
    db_exec "CREATE TABLE txtinc (code VARCHAR(20) NOT NULL PRIMARY KEY, v VARCHAR(10))"
    db_exec "INSERT INTO txtinc VALUES ('a', '1'), ('b', '2'), ('c', '3')"
    write_conf "$WORK/txtinc.conf" txtinc txtinc "a1.sources.r1.incremental.column.name = code"
    agent_start "$WORK/txtinc.conf" "$WORK/txtinc1.log"
    wait_offset txtinc c 20 || return
    agent_term
    local warn='table "txtinc": incremental.column.name "code" is text: rows are read in the database'"'"'s order of its values (its collation), and a row whose value sorts at or below the offset already read is never read'
    assert_contains "$WORK/txtinc1.log" "$warn" "warning" || return
    assert_eq 1 "$(grep -c ' WARN .*incremental.column.name "code" is text' "$WORK/txtinc1.log")" "one warning" || return
    db_exec "INSERT INTO txtinc VALUES ('d', '4')"
    agent_start "$WORK/txtinc.conf" "$WORK/txtinc2.log"
    wait_offset txtinc d 20 || return
    agent_term
    assert_contains "$WORK/txtinc2.log" 'flume_meta has "c"; resuming after "c"' "resume logged" || return
    consume txtinc 0 "$WORK/txtinc.out"
    assert_eq "a b c d" "$(field_of "$WORK/txtinc.out" code)" "every key exactly once" || return
    # two offsets are ordered by the column's collation, not by bytes: under a case-insensitive
    # (or ICU) collation 'a' < 'B' < 'c', in bytes 'B' < 'a'. A file channel recorded "B", the
    # lagging flume_meta row says "a": the restart resumes after "B" (the channel's), so 'B' is
    # not sent again and 'c' is
    local coll='COLLATE "und-x-icu"'
    [ "$DB_KIND" = mysql ] && coll='CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci'
    db_exec "DROP TABLE IF EXISTS txtcoll"
    db_exec "CREATE TABLE txtcoll (code VARCHAR(20) $coll NOT NULL PRIMARY KEY, v VARCHAR(10))"
    db_exec "INSERT INTO txtcoll VALUES ('a', '1'), ('B', '2')"
    write_conf "$WORK/txtcoll.conf" txtcoll txtcoll "a1.sources.r1.incremental.column.name = code" \
        "a1.channels.c1.type = file" "a1.channels.c1.checkpointDir = $WORK/txtcoll-fc/checkpoint" \
        "a1.channels.c1.dataDirs = $WORK/txtcoll-fc/data" "a1.channels.c1.minimumRequiredSpace = 1048576"
    sed -i '/^a1.channels.c1.capacity\|^a1.channels.c1.transactionCapacity/d' "$WORK/txtcoll.conf"
    agent_start "$WORK/txtcoll.conf" "$WORK/txtcoll1.log"
    wait_offset txtcoll B 20 || return
    agent_term
    db_exec "UPDATE flume_meta SET currentIndex = 'a' WHERE source_tab = 'txtcoll'"
    db_exec "INSERT INTO txtcoll VALUES ('c', '3')"
    agent_start "$WORK/txtcoll.conf" "$WORK/txtcoll2.log"
    wait_offset txtcoll c 20 || return
    agent_term
    assert_contains "$WORK/txtcoll2.log" 'flume_meta has "a", channel "c1" recorded "B" (flume_meta is brought up to the channels'"'"' offset); resuming after "B"' "resume after the channel's offset by the collation" || { cat "$WORK/txtcoll2.log" >&2; return; }
    consume txtcoll 0 "$WORK/txtcoll.out"
    assert_eq "B a c" "$(field_of "$WORK/txtcoll.out" code)" "every key exactly once" || return
    pass
}

# a second agent on the same status key refuses to start, naming the key and the holder; the
# first goes on delivering
s_two_agents_one_key() {
    t two_agents_one_key
    db_create_idv twoa
    db_insert_range twoa 1 10
    write_conf "$WORK/twoa.conf" twoa twoa
    agent_start "$WORK/twoa.conf" "$WORK/twoa1.log"
    wait_offset twoa 10 20 || return
    local first=$AGENT_PID
    agent_start "$WORK/twoa.conf" "$WORK/twoa2.log"
    wait_exit 30
    AGENT_PID=$first
    assert_eq 1 "$RC" "exit code of the second agent" || { cat "$WORK/twoa2.log" >&2; return; }
    assert_contains "$WORK/twoa2.log" "status key \"twoa\" (its row in flume_meta) is in use by another running agent: the database lock $(lock_shown twoa) is held by " "refusal" || { cat "$WORK/twoa2.log" >&2; return; }
    if [ "$DB_KIND" = mysql ]; then
        assert_contains "$WORK/twoa2.log" "is held by connection " "holder named" || return
        assert_contains "$WORK/twoa2.log" " of sqlflume@" "holder's user and host" || return
    else
        assert_contains "$WORK/twoa2.log" "is held by pid " "holder named" || return
        assert_contains "$WORK/twoa2.log" "(application sqlflume pid $first on " "holder's application_name" || return
    fi
    assert_eq 1 "$(grep -c ' ERROR ' "$WORK/twoa2.log")" "one error line" || return
    db_insert_range twoa 11 20
    wait_offset twoa 20 20 || return
    agent_term
    consume twoa 20 "$WORK/twoa.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/twoa.out" 1 20)" "the first agent delivers" || return
    pass
}

# one agent, two sources, one status key: refused at start
s_two_sources_one_key() {
    t two_sources_one_key
    db_create_idv twos
    db_insert_range twos 1 5
    write_conf "$WORK/twos.conf" twos twos "a1.sources = r1 r2"
    sed -n 's/^a1\.sources\.r1\./a1.sources.r2./p' "$WORK/twos.conf" >>"$WORK/twos.conf"
    agent_start "$WORK/twos.conf" "$WORK/twos.log"
    wait_exit 30
    assert_eq 1 "$RC" "exit code" || { cat "$WORK/twos.log" >&2; return; }
    assert_contains "$WORK/twos.log" 'status key "twos" (its row in flume_meta) is in use by another running agent: the database lock ' "refusal" || { cat "$WORK/twos.log" >&2; return; }
    assert_eq 1 "$(grep -c ' ERROR ' "$WORK/twos.log")" "one error line" || { cat "$WORK/twos.log" >&2; return; }
    pass
}

# four sources starting at once on a database without the status table, ten times: every start
# succeeds
s_status_table_race() {
    t status_table_race
    local i s
    for i in 1 2 3 4; do db_create_idv "race$i"; db_insert_range "race$i" 1 3; done
    for round in $(seq 1 10); do
        db_exec "DROP TABLE IF EXISTS flume_race"
        local pids=""
        for s in 1 2 3 4; do
            write_conf "$WORK/race$s.conf" "race$s" race "a1.sources.r1.status.table = flume_race"
            agent_start "$WORK/race$s.conf" "$WORK/race$round-$s.log"
            pids="$pids $AGENT_PID"
        done
        local end=$((SECONDS + $(secs 20))) n=0
        while [ $SECONDS -lt $end ]; do
            n=$(db_exec "SELECT COUNT(*) FROM flume_race WHERE currentIndex = '3'" 2>/dev/null | tr -d ' ')
            [ "$n" = 4 ] && break
            sleep 0.2
        done
        for AGENT_PID in $pids; do agent_term; done
        assert_eq 4 "$n" "round $round: every source started and wrote its offset" || { cat "$WORK/race$round"-*.log | grep -E 'ERROR|WARN' >&2; return; }
        assert_eq 0 "$(cat "$WORK/race$round"-*.log | grep -c ' ERROR ')" "round $round: no error" || return
    done
    pass
}

# the status connection is killed server-side: nobody takes the lock meanwhile, the agent takes it
# back and goes on; another session takes it meanwhile: the agent waits, then stops with exit 1
s_lock_lost() {
    t lock_lost
    db_create_idv lost
    db_insert_range lost 1 5
    write_conf "$WORK/lost.conf" lost lost
    agent_start "$WORK/lost.conf" "$WORK/lost.log"
    wait_offset lost 5 20 || return
    local lock
    lock=$(lock_of lost)
    kill_holder() {
        if [ "$DB_KIND" = mysql ]; then
            db_exec "KILL $(db_exec "SELECT IS_USED_LOCK('$lock')")"
        else
            db_exec "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 1 AND classid::bigint = ($lock::bigint >> 32) & 4294967295 AND objid::bigint = $lock::bigint & 4294967295" >/dev/null
        fi
    }
    kill_holder
    wait_log "$WORK/lost.log" "status-key lock(s) taken back" 20 || return
    db_insert_range lost 6 10
    wait_offset lost 10 20 || return
    # now a client session takes the lock as soon as the agent's session is gone
    kill_holder
    if [ "$DB_KIND" = mysql ]; then
        sf_mysql_exec "$DB_PORT" "SELECT GET_LOCK('$lock', 10), SLEEP($(secs 60))" >/dev/null 2>&1 &
    else
        PGPASSWORD=$SF_DB_PASSWORD PGAPPNAME=lockholder "$SF_PG_BIN/psql" -X -q -h 127.0.0.1 -p "$DB_PORT" \
            -U "$SF_DB_USER" -d "$SF_DB_NAME" -c "SELECT pg_advisory_lock($lock), pg_sleep($(secs 60))" >/dev/null 2>&1 &
    fi
    local holder=$!
    wait_log "$WORK/lost.log" "the status connection was lost and status key \"lost\"" 20 || { kill "$holder"; return; }
    wait_exit 45
    if [ "$DB_KIND" = mysql ]; then
        db_exec "KILL $(db_exec "SELECT IS_USED_LOCK('$lock')")" 2>/dev/null
    else
        db_exec "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lockholder'" >/dev/null
    fi
    wait "$holder" 2>/dev/null
    assert_eq 1 "$RC" "exit code after the wait" || { tail -20 "$WORK/lost.log" >&2; return; }
    assert_contains "$WORK/lost.log" "lost the status-key lock after the status connection was lost and could not take it back within 30 s: status key \"lost\"" "error" || return
    consume lost 10 "$WORK/lost.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/lost.out" 1 10)" "rows exactly once" || return
    pass
}

# an existing status table needs no CREATE privilege (status.table.create = true, the default):
# a user with SELECT on the table and SELECT, INSERT, UPDATE on the status table exports
s_status_table_no_create() {
    t status_table_no_create
    db_create_idv nocr
    db_insert_range nocr 1 3
    db_exec "DROP TABLE IF EXISTS flume_nocr"
    db_exec "CREATE TABLE flume_nocr (source_tab VARCHAR(255) NOT NULL PRIMARY KEY, currentIndex VARCHAR(255) NOT NULL)"
    if [ "$DB_KIND" = mysql ]; then
        db_exec "DROP USER IF EXISTS 'nocr'@'%', 'nocr'@'localhost'"
        local h
        for h in "'%'" "'localhost'"; do
            db_exec "CREATE USER 'nocr'@$h IDENTIFIED BY 'nocr-pw'"
            db_exec "GRANT SELECT ON sqlflume_test.nocr TO 'nocr'@$h"
            db_exec "GRANT SELECT, INSERT, UPDATE ON sqlflume_test.flume_nocr TO 'nocr'@$h"
        done
    else
        db_exec "DROP OWNED BY nocr" 2>/dev/null
        db_exec "DROP ROLE IF EXISTS nocr"
        db_exec "CREATE ROLE nocr LOGIN PASSWORD 'nocr-pw'"
        db_exec "REVOKE CREATE ON SCHEMA public FROM PUBLIC"
        db_exec "GRANT SELECT ON nocr TO nocr"
        db_exec "GRANT SELECT, INSERT, UPDATE ON flume_nocr TO nocr"
    fi
    write_conf "$WORK/nocr.conf" nocr nocr "a1.sources.r1.status.table = flume_nocr"
    sed -i -e 's/^a1.sources.r1.connection.user = .*/a1.sources.r1.connection.user = nocr/' \
        -e 's/^a1.sources.r1.connection.password = .*/a1.sources.r1.connection.password = nocr-pw/' "$WORK/nocr.conf"
    agent_start "$WORK/nocr.conf" "$WORK/nocr.log"
    local end=$((SECONDS + $(secs 20))) cur=""
    while [ $SECONDS -lt $end ]; do
        cur=$(db_exec "SELECT currentIndex FROM flume_nocr WHERE source_tab = 'nocr'" | tr -d ' ')
        [ "$cur" = 3 ] && break
        sleep 0.3
    done
    agent_term
    assert_eq 3 "$cur" "offset written by a user without CREATE" || { cat "$WORK/nocr.log" >&2; return; }
    assert_eq 0 "$(grep -c ' ERROR \| WARN ' "$WORK/nocr.log")" "no error or warning" || { cat "$WORK/nocr.log" >&2; return; }
    pass
}

ALL="s_config_errors s_compat_keys s_gaps s_types s_names s_injection s_seed_meta s_custom_query_text_logger s_no_pk
     s_wrong_password s_live_and_restart s_kill9 s_db_restart s_db_down_at_start s_broker_down
     s_ts_inc_ties s_timestamp_mode s_bulk_mode s_multi_table_status_db s_out_of_order s_out_of_order_restart
     s_sparse_gaps s_backfill s_backfill_late_commit s_monitoring s_seed_channel
     s_no_lower_bound s_text_pk_refused s_text_incremental s_two_agents_one_key s_two_sources_one_key
     s_status_table_race s_status_table_no_create s_lock_lost s_poison"
db_start "$KIND" "$PORT"
kafka_start
for s in ${*:-$ALL}; do
    "$s"
done
finish
