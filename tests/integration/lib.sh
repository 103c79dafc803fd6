# Shared helpers of the end-to-end tests: a throwaway MariaDB or PostgreSQL server (db.sh), the
# mock Kafka broker process (tests/support/mock_kafka), the agent under test, an independent
# consumer (consume.py, python3-confluent-kafka) and exact assertions. Sourced by the scenario
# scripts; everything is torn down on exit.
#
# Environment: SF_BUILD (default build), SF_TIME_MULT (timeouts multiplier, e.g. 3 under ASan).

set -u
SF_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
SF_BUILD=${SF_BUILD:-$SF_ROOT/build}
SF_BIN=$SF_BUILD/sqlflume
SF_MOCK=$SF_BUILD/mock_kafka
# the mock with transaction markers (tests/support/mock_txn.sh), for exactly-once tests
SF_MOCK_TXN=${SF_MOCK_TXN:-$SF_ROOT/build/mock_kafka_txn}
SF_TIME_MULT=${SF_TIME_MULT:-1}
PY=/usr/bin/python3
export PGOPTIONS='-c client_min_messages=warning'
# shellcheck source=../support/db.sh
source "$SF_ROOT/tests/support/db.sh"

WORK=$(mktemp -d /tmp/sqlflume-it.XXXXXX)
chmod 755 "$WORK"
DB_KIND=""
DB_PORT=""
DB_DIR=""
KAFKA_PID=""
BOOTSTRAP=""
AGENT_PID=""
FAILURES=0
PASSES=0
CURRENT=""

cleanup() {
    [ -n "$AGENT_PID" ] && kill -9 "$AGENT_PID" 2>/dev/null
    [ -n "$KAFKA_PID" ] && kill "$KAFKA_PID" 2>/dev/null
    exec 7>&- 2>/dev/null
    if [ -n "$DB_DIR" ]; then
        if [ "$DB_KIND" = mysql ]; then sf_mariadb_stop "$DB_DIR" >/dev/null 2>&1; else sf_pg_stop "$DB_DIR" >/dev/null 2>&1; fi
    fi
    if [ "$FAILURES" -eq 0 ] && [ -z "${SF_KEEP_WORK:-}" ]; then rm -rf "$WORK"; else echo "work directory kept: $WORK"; fi
}
trap cleanup EXIT

log() { echo "[$(date +%H:%M:%S)] $*"; }

# t NAME: start a test case (its failures are counted under NAME)
t() { CURRENT=$1; log "=== $DB_KIND: $1"; }
fail() {
    echo "FAIL [$DB_KIND $CURRENT]: $*" >&2
    FAILURES=$((FAILURES + 1))
}
pass() { PASSES=$((PASSES + 1)); log "ok   $DB_KIND: $CURRENT"; }
assert_eq() { # expected actual message
    if [ "$1" != "$2" ]; then fail "$3: expected [$1], got [$2]"; return 1; fi
}
assert_contains() { # file needle message
    if ! grep -qF -- "$2" "$1"; then fail "$3: [$2] not found in $1"; tail -20 "$1" >&2; return 1; fi
}
assert_not_contains() {
    if grep -qF -- "$2" "$1"; then fail "$3: [$2] found in $1"; grep -F -- "$2" "$1" | head -3 >&2; return 1; fi
}
finish() {
    log "$DB_KIND: $PASSES passed, $FAILURES failed"
    [ "$FAILURES" -eq 0 ]
}

secs() { echo $(($1 * SF_TIME_MULT)); }

# ---- database ----
db_start() { # kind port
    DB_KIND=$1
    DB_PORT=$2
    DB_DIR=$WORK/db-$DB_KIND
    mkdir -p "$DB_DIR"
    if [ "$DB_KIND" = mysql ]; then
        sf_mariadb_start "$DB_DIR" "$DB_PORT" || { echo "could not start mariadb"; exit 1; }
        DB_URL="mysql://sqlflume:sqlflume-pw@127.0.0.1:$DB_PORT/sqlflume_test"
        DB_URL_NOPW="jdbc:mysql://127.0.0.1:$DB_PORT/sqlflume_test"
    else
        sf_pg_start "$DB_DIR" "$DB_PORT" || { echo "could not start postgresql"; exit 1; }
        DB_URL="postgresql://sqlflume:sqlflume-pw@127.0.0.1:$DB_PORT/sqlflume_test"
        DB_URL_NOPW="jdbc:postgresql://127.0.0.1:$DB_PORT/sqlflume_test"
    fi
}
db_exec() { if [ "$DB_KIND" = mysql ]; then sf_mysql_exec "$DB_PORT" "$1"; else sf_pg_exec "$DB_PORT" "$1"; fi; }
db_kill() { if [ "$DB_KIND" = mysql ]; then sf_mariadb_kill "$DB_DIR"; else sf_pg_kill "$DB_DIR"; fi; }
db_stop() { if [ "$DB_KIND" = mysql ]; then sf_mariadb_stop "$DB_DIR"; else sf_pg_stop "$DB_DIR"; fi; }
db_restart() { if [ "$DB_KIND" = mysql ]; then sf_mariadb_restart "$DB_DIR" "$DB_PORT"; else sf_pg_restart "$DB_DIR" "$DB_PORT"; fi; }
# identifier quoting for test SQL
qi() { if [ "$DB_KIND" = mysql ]; then printf '`%s`' "${1//\`/\`\`}"; else printf '"%s"' "${1//\"/\"\"}"; fi; }
# stored offset of a status key
db_offset() { db_exec "SELECT currentIndex FROM flume_meta WHERE source_tab = '$1'" 2>/dev/null | tr -d ' \r'; }
# insert ids FROM..TO into a (id, v) table in one statement (generate_series / seq table)
db_insert_range() { # table from to
    if [ "$DB_KIND" = mysql ]; then
        db_exec "INSERT INTO $(qi "$1") (id, v) SELECT seq, CONCAT('row-', seq) FROM seq_$2_to_$3"
    else
        db_exec "INSERT INTO $(qi "$1") (id, v) SELECT g, 'row-' || g FROM generate_series($2, $3) g"
    fi
}
# insert the sparse ids of k = FROM..TO: 7k, every third k left out (a deleted row), so almost
# every row has a hole after it
db_insert_sparse() { # table from to
    if [ "$DB_KIND" = mysql ]; then
        db_exec "INSERT INTO $(qi "$1") (id, v) SELECT 7 * seq, CONCAT('row-', 7 * seq) FROM seq_$2_to_$3 WHERE seq % 3 <> 0"
    else
        db_exec "INSERT INTO $(qi "$1") (id, v) SELECT 7 * g, 'row-' || 7 * g FROM generate_series($2, $3) g WHERE g % 3 <> 0"
    fi
}
db_create_idv() { # table
    db_exec "DROP TABLE IF EXISTS $(qi "$1")"
    db_exec "CREATE TABLE $(qi "$1") (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(64))"
}

# ---- kafka ----
kafka_start() { # [mock_kafka options, e.g. -b 2]
    mkfifo "$WORK/kafka.ctl"
    "$SF_MOCK" -p 1 "$@" <"$WORK/kafka.ctl" >"$WORK/kafka.out" 2>"$WORK/kafka.err" &
    KAFKA_PID=$!
    exec 7>"$WORK/kafka.ctl"
    for _ in $(seq 1 100); do
        BOOTSTRAP=$(sed -n 's/^BOOTSTRAP=//p' "$WORK/kafka.out" | head -1)
        [ -n "$BOOTSTRAP" ] && return 0
        sleep 0.1
    done
    echo "mock kafka did not start"; cat "$WORK/kafka.err"; exit 1
}
kafka_cmd() { # command line; waits for its answer
    local before
    before=$(grep -cE '^(OK|ERR)' "$WORK/kafka.out")
    echo "$*" >&7
    for _ in $(seq 1 50); do
        [ "$(grep -cE '^(OK|ERR)' "$WORK/kafka.out")" -gt "$before" ] && return 0
        sleep 0.1
    done
    fail "mock kafka did not answer '$*'"
}
# consume TOPIC EXPECT OUTFILE [extra consume.py args]
consume() {
    local topic=$1 expect=$2 out=$3
    shift 3
    $PY "$SF_ROOT/tests/support/consume.py" --bootstrap "$BOOTSTRAP" --topic "$topic" \
        --expect "$expect" --idle "$(secs 8)" --timeout "$(secs 120)" "$@" >"$out"
}
# sfcheck COMMAND ARG...: the scenarios' checks of consumer dumps, logs and metrics
# (tests/support/sfcheck.py; its docstrings say what each command prints)
# db_create_types: the table "types" of every column type the connectors class, with row 1 all
# NULLs, row 2 the tricky values (quotes, backslashes, control characters, emoji, binary with NUL
# bytes, a 30-digit decimal, extreme integers, fractional seconds, a time zone) and row 3 a 10 MB
# text; sets TYPES_WANT1 and TYPES_WANT2 to the exact JSON bodies of rows 1 and 2 (format json).
db_create_types() {
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
        TYPES_WANT2='{"id":2,"t":"q\"b\\\\n\nt\t\u0001😀é","vc":"ü","b":"AP8AQQ==","vb":"AAAA","d":"12345678901234567890.1234567890","f":1.5,"fl":-0.25,"i":-2147483648,"si":32767,"ti":-128,"dt":"2024-02-29 23:59:59.123456","ts":"2024-01-02 03:04:05.678","dd":"2024-01-01","tm":"-838:59:59","e":"y","lt":""}'
        TYPES_WANT1='{"id":1,"t":null,"vc":null,"b":null,"vb":null,"d":null,"f":null,"fl":null,"i":null,"si":null,"ti":null,"dt":null,"ts":null,"dd":null,"tm":null,"e":null,"lt":null}'
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
        TYPES_WANT2='{"id":2,"t":"q\"b\\\\n\nt\t\u0001😀é","vc":"ü","b":"AP8AQQ==","bo":true,"d":"12345678901234567890.1234567890","f":1.5,"fl":-0.25,"i":-2147483648,"si":32767,"dt":"2024-02-29 23:59:59.123456","ts":"2024-01-02 01:04:05.678+00","dd":"2024-01-01","tm":"12:34:56","iv":"1 day 02:00:00","j":"{\"k\": [1, 2]}","u":"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11","arr":"{1,2,3}","lt":""}'
        TYPES_WANT1='{"id":1,"t":null,"vc":null,"b":null,"bo":null,"d":null,"f":null,"fl":null,"i":null,"si":null,"dt":null,"ts":null,"dd":null,"tm":null,"iv":null,"j":null,"u":null,"arr":null,"lt":null}'
    fi
}
sfcheck() { $PY "$SF_ROOT/tests/support/sfcheck.py" "$@"; }
# ids of the JSON bodies in a consume output, one per line, in arrival order
ids_of() { sfcheck ids "$1"; }
# check_range CONSUMED_FILE FIRST LAST -> "lost=N dup=M extra=K"
# (expected ids: every integer FIRST..LAST)
check_range() {
    sfcheck range "$1" "$2" "$3"
}
# check_sparse FILE FROM TO: as check_range, for the ids of db_insert_sparse FROM TO
check_sparse() {
    sfcheck range "$1" "$2" "$3" --sparse
}

# ---- agent ----
# write_conf FILE TABLE TOPIC [extra properties lines...]
write_conf() {
    local f=$1 table=$2 topic=$3
    shift 3
    {
        echo "a1.sources = r1"
        echo "a1.channels = c1"
        echo "a1.sinks = k1"
        echo "a1.sources.r1.type = sql"
        echo "a1.sources.r1.connection.url = $DB_URL_NOPW"
        echo "a1.sources.r1.connection.user = sqlflume"
        echo "a1.sources.r1.connection.password = \${SF_TEST_DB_PASSWORD}"
        echo "a1.sources.r1.table = $table"
        echo "a1.sources.r1.run.query.delay = 300"
        echo "a1.sources.r1.channels = c1"
        echo "a1.channels.c1.type = memory"
        echo "a1.channels.c1.capacity = 10000"
        echo "a1.channels.c1.transactionCapacity = 1000"
        echo "a1.sinks.k1.type = kafka"
        echo "a1.sinks.k1.channel = c1"
        echo "a1.sinks.k1.kafka.bootstrap.servers = $BOOTSTRAP"
        echo "a1.sinks.k1.kafka.topic = $topic"
        for l in "$@"; do echo "$l"; done
    } >"$f"
}
export SF_TEST_DB_PASSWORD=sqlflume-pw

agent_start() { # conf log [more agent arguments...]
    "$SF_BIN" agent -n a1 -f "$1" -Dflume.root.logger=${SF_LOG_LEVEL:-INFO},console "${@:3}" >>"$2" 2>&1 &
    AGENT_PID=$!
}
term_expect0() { # PID LABEL: stop PID with SIGTERM, expect exit 0
    local rc=0
    kill -TERM "$1"
    wait "$1" || rc=$?
    assert_eq 0 "$rc" "$2 exit code after SIGTERM"
}
term_pid_var() { # VAR LABEL: stop the agent whose pid is in $VAR (if any) with SIGTERM, expect
    # exit 0; VAR is emptied
    local pid=${!1}
    [ -z "$pid" ] && return 0
    printf -v "$1" '%s' ""
    term_expect0 "$pid" "$2"
}
agent_term() { term_pid_var AGENT_PID agent; } # stop with SIGTERM, expect exit 0
# the second agent of the Avro tests (avro_source.sh, avro_client.sh), started by the script
# into B_PID: stop it with SIGTERM, expect exit 0
B_PID=""
b_term() { term_pid_var B_PID "agent B"; }
agent_kill9() {
    kill -9 "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
    AGENT_PID=""
}
# wait until the stored offset of KEY equals VALUE (or timeout)
# wait_offset KEY VALUE SECONDS [FIELD]: until the stored offset of KEY (with FIELD = hw, only its
# highest id, the part of "hw;gaps" before the ';') is VALUE
wait_offset() {
    local end=$((SECONDS + $(secs "$3"))) what="offset of $1" cur
    [ "${4:-}" = hw ] && what="highest id of $1"
    while [ $SECONDS -lt $end ]; do
        cur=$(db_offset "$1")
        [ "${4:-}" = hw ] && cur=${cur%%;*}
        [ "$cur" = "$2" ] && return 0
        sleep 0.3
    done
    fail "$what did not reach $2 (is $(db_offset "$1"))"
    return 1
}
# wait_hw KEY ID SECONDS: as wait_offset, for the highest id of a gap-tracking offset ("hw;gaps")
wait_hw() { wait_offset "$1" "$2" "$3" hw; }
wait_log() { # file needle seconds
    local end=$((SECONDS + $(secs "$3")))
    while [ $SECONDS -lt $end ]; do
        grep -qF -- "$2" "$1" && return 0
        sleep 0.2
    done
    fail "log $1 never said [$2]"
    tail -20 "$1" >&2
    return 1
}
