#!/usr/bin/env bash
# `sqlflume check --connect` against a real database server and the mock Kafka broker:
#   tests/integration/check_connect.sh mysql|postgresql PORT [SCENARIO...]
# Every scenario asserts the exit code and the exact lines of the checks it provokes: a passing
# check (every line), a missing table, a user without SELECT, a status table without INSERT and
# UPDATE, a status key whose lock a client session holds, Kafka down, a topic that does not exist,
# and (PostgreSQL) a URL parameter libpq refuses. Uses PORT and PORT+1 (a port nothing listens on).
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2
CLOSED_PORT=$((PORT + 1))

# run_check CONF OUT: check --connect, sets RC
run_check() {
    RC=0
    timeout "$(secs 60)" "$SF_BIN" check --connect -n a1 -f "$1" >"$2" 2>"$2.err" || RC=$?
}
db_url_shown() { echo "$DB_URL_NOPW"; }
# the lock id of a status key (the agents' scheme: 64-bit FNV-1a of "db\ntable\nkey"), computed
# here independently of the C code: signed decimal for PostgreSQL, the lock name for MySQL
lock_of() { # key
    $PY -c '
import sys
h = 0xcbf29ce484222325
for b in ("sqlflume_test\nflume_meta\n" + sys.argv[1]).encode():
    h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print(("sqlflume.%016x" % h) if sys.argv[2] == "mysql" else (h - (1 << 64) if h >= 1 << 63 else h))' "$1" "$DB_KIND"
}
status_table_ready() {
    if [ "$DB_KIND" = mysql ]; then
        db_exec "CREATE TABLE IF NOT EXISTS flume_meta (source_tab VARCHAR(255) NOT NULL PRIMARY KEY, currentIndex VARCHAR(255) NOT NULL) ENGINE=InnoDB"
    else
        db_exec "CREATE TABLE IF NOT EXISTS flume_meta (source_tab VARCHAR(255) NOT NULL PRIMARY KEY, currentIndex VARCHAR(255) NOT NULL)"
    fi
}
# a second database user, reader / reader-pw, holding only the privileges granted below
reader_create() {
    if [ "$DB_KIND" = mysql ]; then
        db_exec "DROP USER IF EXISTS 'reader'@'%', 'reader'@'localhost'"
        db_exec "CREATE USER 'reader'@'%' IDENTIFIED BY 'reader-pw'"
        db_exec "CREATE USER 'reader'@'localhost' IDENTIFIED BY 'reader-pw'"
    else
        db_exec "DROP OWNED BY reader" 2>/dev/null
        db_exec "DROP ROLE IF EXISTS reader"
        db_exec "CREATE ROLE reader LOGIN PASSWORD 'reader-pw'"
    fi
}
grant_reader() { # privileges table
    if [ "$DB_KIND" = mysql ]; then
        db_exec "GRANT $1 ON sqlflume_test.$2 TO 'reader'@'%'"
        db_exec "GRANT $1 ON sqlflume_test.$2 TO 'reader'@'localhost'"
    else
        db_exec "GRANT $1 ON $2 TO reader"
    fi
}
as_reader() { # conf: connect as reader instead of sqlflume
    sed -i -e 's/^a1.sources.r1.connection.user = .*/a1.sources.r1.connection.user = reader/' \
        -e 's/^a1.sources.r1.connection.password = .*/a1.sources.r1.connection.password = reader-pw/' "$1"
}

# ---------------------------------------------------------------- scenarios

# everything in place: exit 0 and every line as expected
s_check_pass() {
    t check_pass
    db_create_idv chk
    status_table_ready
    kafka_cmd "topic chk"
    write_conf "$WORK/pass.conf" chk chk
    run_check "$WORK/pass.conf" "$WORK/pass.out"
    assert_eq 0 "$RC" "exit code" || { cat "$WORK/pass.out" "$WORK/pass.out.err" >&2; return; }
    assert_eq "$WORK/pass.conf: agent \"a1\" is valid
ok   r1: database answers at $DB_URL_NOPW as user sqlflume
ok   r1: status table flume_meta exists; user sqlflume may SELECT, INSERT and UPDATE it
ok   r1 chk: table exists (primary key id)
ok   r1 chk: user sqlflume may SELECT from chk
ok   r1 chk: incremental column \"id\" is an integer
ok   r1 chk: status key \"chk\" is not held by a running agent
ok   k1: Kafka at $BOOTSTRAP answers (1 broker)
ok   k1: topic \"chk\" exists (1 partition)
every check passed" "$(cat "$WORK/pass.out")" "output" || return
    assert_not_contains "$WORK/pass.out" "sqlflume-pw" "password printed" || return
    # the lock was released: a second check passes too
    run_check "$WORK/pass.conf" "$WORK/pass2.out"
    assert_eq 0 "$RC" "exit code of a second check" || return
    pass
}

# a missing table, a text primary key used by default, a missing status table that may be created
s_check_table_problems() {
    t check_table_problems
    db_exec "DROP TABLE IF EXISTS nosuch"
    db_exec "DROP TABLE IF EXISTS txtpk"
    db_exec "CREATE TABLE txtpk (code VARCHAR(20) NOT NULL PRIMARY KEY, v INT)"
    db_exec "DROP TABLE IF EXISTS meta_new"
    kafka_cmd "topic chk"
    write_conf "$WORK/tp.conf" nosuch chk "a1.sources.r1.status.table = meta_new"
    sed -i 's/^a1.sources.r1.table = .*/a1.sources.r1.tables = nosuch, txtpk/' "$WORK/tp.conf"
    run_check "$WORK/tp.conf" "$WORK/tp.out"
    assert_eq 1 "$RC" "exit code" || { cat "$WORK/tp.out" "$WORK/tp.out.err" >&2; return; }
    assert_eq "$WORK/tp.conf: agent \"a1\" is valid
ok   r1: database answers at $DB_URL_NOPW as user sqlflume
ok   r1: status table meta_new does not exist yet; user sqlflume may create it (status.table.create = true)
FAIL r1 nosuch: table nosuch does not exist
ok   r1 nosuch: status key \"nosuch\" is not held by a running agent
ok   r1 txtpk: table exists (primary key code)
ok   r1 txtpk: user sqlflume may SELECT from txtpk
FAIL r1 txtpk: the primary key \"code\", the incremental column by default, is text, not an integer, decimal or date/time column (whose order grows with inserts): set incremental.column.name to such a column, or use incremental.mode = timestamp (with timestamp.column.name) or incremental.mode = bulk
ok   r1 txtpk: status key \"txtpk\" is not held by a running agent
ok   k1: Kafka at $BOOTSTRAP answers (1 broker)
ok   k1: topic \"chk\" exists (1 partition)
2 checks failed" "$(cat "$WORK/tp.out")" "output" || return
    # the check created nothing
    assert_eq "0" "$(db_exec "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = 'meta_new'" | tr -d ' ')" "status table not created" || return
    # status.table.create = false and no status table: a failure
    echo "a1.sources.r1.status.table.create = false" >>"$WORK/tp.conf"
    run_check "$WORK/tp.conf" "$WORK/tp2.out"
    assert_eq 1 "$RC" "exit code without status.table.create" || return
    assert_contains "$WORK/tp2.out" "FAIL r1: status table meta_new does not exist and status.table.create = false" "no status table" || return
    pass
}

# a second user without SELECT on the table, then without INSERT/UPDATE on the status table
s_check_grants() {
    t check_grants
    db_create_idv chk
    status_table_ready
    kafka_cmd "topic chk"
    reader_create
    grant_reader "SELECT, INSERT, UPDATE" flume_meta
    write_conf "$WORK/gr.conf" chk chk
    as_reader "$WORK/gr.conf"
    run_check "$WORK/gr.conf" "$WORK/gr.out"
    assert_eq 1 "$RC" "exit code without SELECT" || { cat "$WORK/gr.out" "$WORK/gr.out.err" >&2; return; }
    assert_contains "$WORK/gr.out" "ok   r1: status table flume_meta exists; user reader may SELECT, INSERT and UPDATE it" "status table fine" || return
    if [ "$DB_KIND" = mysql ]; then
        # MySQL hides the table from a user without any privilege on it; the denial names it
        assert_contains "$WORK/gr.out" "FAIL r1 chk: user reader lacks SELECT on chk: " "no SELECT" || return
        assert_contains "$WORK/gr.out" "SELECT command denied to user 'reader'@'127.0.0.1' for table \`sqlflume_test\`.\`chk\`" "database's reason" || return
    else
        assert_contains "$WORK/gr.out" "ok   r1 chk: table exists (primary key id)" "table seen" || return
        assert_contains "$WORK/gr.out" "FAIL r1 chk: user reader lacks SELECT on chk: " "no SELECT" || return
        assert_contains "$WORK/gr.out" "permission denied for table chk" "database's reason" || return
    fi
    assert_eq "1 checks failed" "$(grep -c '^FAIL' "$WORK/gr.out") checks failed" "one failure" || return
    # SELECT on the table, but only SELECT on the status table
    grant_reader SELECT chk
    if [ "$DB_KIND" = mysql ]; then
        db_exec "REVOKE INSERT, UPDATE ON sqlflume_test.flume_meta FROM 'reader'@'%'"
        db_exec "REVOKE INSERT, UPDATE ON sqlflume_test.flume_meta FROM 'reader'@'localhost'"
    else
        db_exec "REVOKE INSERT, UPDATE ON flume_meta FROM reader"
    fi
    run_check "$WORK/gr.conf" "$WORK/gr2.out"
    assert_eq 1 "$RC" "exit code without INSERT/UPDATE on flume_meta" || return
    assert_contains "$WORK/gr2.out" "FAIL r1: user reader lacks INSERT, UPDATE on the status table flume_meta" "status grants" || return
    assert_contains "$WORK/gr2.out" "ok   r1 chk: user reader may SELECT from chk" "SELECT now granted" || return
    assert_eq 1 "$(grep -c '^FAIL' "$WORK/gr2.out")" "one failure" || { cat "$WORK/gr2.out" >&2; return; }
    # a status table that does not exist, which the user may not create
    db_exec "DROP TABLE IF EXISTS meta_none"
    grep -v '^a1.sources.r1.status.table' "$WORK/gr.conf" >"$WORK/gr4.conf"
    echo "a1.sources.r1.status.table = meta_none" >>"$WORK/gr4.conf"
    run_check "$WORK/gr4.conf" "$WORK/gr4.out"
    assert_eq 1 "$RC" "exit code without CREATE" || { cat "$WORK/gr4.out" >&2; return; }
    if [ "$DB_KIND" = mysql ]; then
        # MySQL grants no privilege on a table that does not exist yet to its creator
        assert_contains "$WORK/gr4.out" "FAIL r1: status table meta_none does not exist and user reader may not create and write it (lacks CREATE, SELECT, INSERT, UPDATE)" "no CREATE" || return
    else
        assert_contains "$WORK/gr4.out" "FAIL r1: status table meta_none does not exist and user reader may not create and write it (lacks CREATE)" "no CREATE" || return
    fi
    # every grant of the table and the status table; a backfill also lists the open transactions,
    # which MySQL/MariaDB allow only with the PROCESS privilege
    grant_reader "INSERT, UPDATE" flume_meta
    echo "a1.sources.r1.backfill = true" >>"$WORK/gr.conf"
    run_check "$WORK/gr.conf" "$WORK/gr3.out"
    if [ "$DB_KIND" = mysql ]; then
        assert_eq 1 "$RC" "exit code without PROCESS" || { cat "$WORK/gr3.out" >&2; return; }
        assert_contains "$WORK/gr3.out" "FAIL r1: user reader cannot list the open write transactions a backfill waits for (needs the PROCESS privilege): " "no PROCESS" || return
        assert_eq 1 "$(grep -c '^FAIL' "$WORK/gr3.out")" "one failure" || { cat "$WORK/gr3.out" >&2; return; }
        db_exec "GRANT PROCESS ON *.* TO 'reader'@'%'"
        db_exec "GRANT PROCESS ON *.* TO 'reader'@'localhost'"
        run_check "$WORK/gr.conf" "$WORK/gr3.out"
    fi
    assert_eq 0 "$RC" "exit code with every grant" || { cat "$WORK/gr3.out" >&2; return; }
    assert_contains "$WORK/gr3.out" "ok   r1: user reader may list the open write transactions (backfill)" "backfill" || return
    pass
}

# a client session holds the status key's lock (as a running agent does): the check names it
s_check_lock_held() {
    t check_lock_held
    db_create_idv chk
    status_table_ready
    kafka_cmd "topic chk"
    write_conf "$WORK/lk.conf" chk chk
    local lock holder
    lock=$(lock_of chk)
    if [ "$DB_KIND" = mysql ]; then
        sf_mysql_exec "$DB_PORT" "SELECT GET_LOCK('$lock', 0), SLEEP($(secs 60))" >/dev/null 2>&1 &
    else
        PGPASSWORD=$SF_DB_PASSWORD PGAPPNAME=lockholder "$SF_PG_BIN/psql" -X -q -h 127.0.0.1 -p "$DB_PORT" \
            -U "$SF_DB_USER" -d "$SF_DB_NAME" -c "SELECT pg_advisory_lock($lock), pg_sleep($(secs 60))" >/dev/null 2>&1 &
    fi
    holder=$!
    local held=0
    for _ in $(seq 1 50); do
        if [ "$DB_KIND" = mysql ]; then
            [ "$(db_exec "SELECT IS_USED_LOCK('$lock') IS NOT NULL")" = 1 ] && { held=1; break; }
        else
            [ "$(db_exec "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" -ge 1 ] && { held=1; break; }
        fi
        sleep 0.1
    done
    assert_eq 1 "$held" "the client session took the lock" || { kill "$holder"; return; }
    run_check "$WORK/lk.conf" "$WORK/lk.out"
    # end the client session (its server side would sleep on after the client is gone)
    if [ "$DB_KIND" = mysql ]; then
        db_exec "KILL $(db_exec "SELECT IS_USED_LOCK('$lock')")"
    else
        db_exec "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'lockholder'" >/dev/null
    fi
    wait "$holder" 2>/dev/null
    assert_eq 1 "$RC" "exit code" || { cat "$WORK/lk.out" "$WORK/lk.out.err" >&2; return; }
    if [ "$DB_KIND" = mysql ]; then
        assert_contains "$WORK/lk.out" "FAIL r1 chk: status key \"chk\" is held by a running agent (connection " "held" || return
        assert_contains "$WORK/lk.out" " of sqlflume@" "holder's user and host" || return
    else
        assert_contains "$WORK/lk.out" "FAIL r1 chk: status key \"chk\" is held by a running agent (pid " "held" || return
        assert_contains "$WORK/lk.out" " from 127.0.0.1 (application lockholder))" "holder's address and application" || return
    fi
    assert_eq 1 "$(grep -c '^FAIL' "$WORK/lk.out")" "one failure" || { cat "$WORK/lk.out" >&2; return; }
    # the client session ended: the key is free again
    run_check "$WORK/lk.conf" "$WORK/lk2.out"
    assert_eq 0 "$RC" "exit code once released" || { cat "$WORK/lk2.out" >&2; return; }
    pass
}

# Kafka down (nothing listens on the bootstrap port), and a topic that does not exist
s_check_kafka() {
    t check_kafka
    db_create_idv chk
    status_table_ready
    write_conf "$WORK/kd.conf" chk chk
    sed -i "s/^a1.sinks.k1.kafka.bootstrap.servers = .*/a1.sinks.k1.kafka.bootstrap.servers = 127.0.0.1:$CLOSED_PORT/" "$WORK/kd.conf"
    run_check "$WORK/kd.conf" "$WORK/kd.out"
    assert_eq 1 "$RC" "exit code with Kafka down" || { cat "$WORK/kd.out" "$WORK/kd.out.err" >&2; return; }
    assert_contains "$WORK/kd.out" "FAIL k1: Kafka at 127.0.0.1:$CLOSED_PORT does not answer: " "Kafka down" || return
    assert_contains "$WORK/kd.out" "Connection refused" "reason" || return
    assert_eq 1 "$(grep -c '^FAIL' "$WORK/kd.out")" "one failure" || { cat "$WORK/kd.out" >&2; return; }
    # a topic that does not exist: librdkafka's mock creates any topic a client asks for and
    # answers no DescribeConfigs, so the check says it cannot tell (a real broker answers)
    write_conf "$WORK/kt.conf" chk nosuch-topic
    run_check "$WORK/kt.conf" "$WORK/kt.out"
    assert_eq 0 "$RC" "exit code of an unknown topic" || { cat "$WORK/kt.out" >&2; return; }
    assert_contains "$WORK/kt.out" "skip k1: topic \"nosuch-topic\" does not exist; whether the broker creates it (auto.create.topics.enable) could not be read: " "unknown topic" || return
    # the check created no topic
    run_check "$WORK/kt.conf" "$WORK/kt2.out"
    assert_contains "$WORK/kt2.out" "skip k1: topic \"nosuch-topic\" does not exist" "still no topic" || return
    # auto-creation off on the producer: a failure
    echo "a1.sinks.k1.kafka.producer.allow.auto.create.topics = false" >>"$WORK/kt.conf"
    run_check "$WORK/kt.conf" "$WORK/kt3.out"
    assert_eq 1 "$RC" "exit code with allow.auto.create.topics = false" || return
    assert_contains "$WORK/kt3.out" "FAIL k1: topic \"nosuch-topic\" does not exist and kafka.producer.allow.auto.create.topics = false" "no auto-creation" || return
    # a header template cannot be checked; %{table} names the topics of the tables
    write_conf "$WORK/kh.conf" chk '%{table}'
    run_check "$WORK/kh.conf" "$WORK/kh.out"
    assert_eq 0 "$RC" "exit code with a template topic" || { cat "$WORK/kh.out" >&2; return; }
    assert_contains "$WORK/kh.out" "skip k1: kafka.topic \"%{table}\" is chosen per event from its headers and cannot be checked; the tables map to the topics \"chk\" (r1)" "template" || return
    pass
}

# PostgreSQL: a URL parameter libpq refuses is a configuration error (check and agent: exit 2)
s_check_bad_url_param() {
    t check_bad_url_param
    if [ "$DB_KIND" != postgresql ]; then
        log "sslmode is a PostgreSQL parameter: nothing to test on $DB_KIND"
        pass
        return
    fi
    db_create_idv chk
    write_conf "$WORK/ssl.conf" chk chk
    sed -i "s|^a1.sources.r1.connection.url = .*|a1.sources.r1.connection.url = $DB_URL_NOPW?sslmode=bogus|" "$WORK/ssl.conf"
    local rc=0
    "$SF_BIN" check -n a1 -f "$WORK/ssl.conf" >"$WORK/ssl.out" 2>&1 || rc=$?
    assert_eq 2 "$rc" "check exit code" || { cat "$WORK/ssl.out" >&2; return; }
    assert_contains "$WORK/ssl.out" "error: $WORK/ssl.conf:5: a1.sources.r1.connection.url: libpq rejects the connection parameters: invalid sslmode value: \"bogus\"" "libpq's message" || return
    rc=0
    "$SF_BIN" check --connect -n a1 -f "$WORK/ssl.conf" >"$WORK/ssl.out2" 2>&1 || rc=$?
    assert_eq 2 "$rc" "check --connect exit code" || return
    rc=0
    timeout "$(secs 30)" "$SF_BIN" agent -n a1 -f "$WORK/ssl.conf" >"$WORK/ssl.log" 2>&1 || rc=$?
    assert_eq 2 "$rc" "agent exit code" || { cat "$WORK/ssl.log" >&2; return; }
    assert_contains "$WORK/ssl.log" "invalid sslmode value: \"bogus\"" "agent's message" || return
    assert_not_contains "$WORK/ssl.log" "retrying" "not retried" || return
    pass
}

# the timestamp modes' columns, explicit columns of the wrong type or missing, the status table
# in another database (status.connection.url), a custom query
s_check_modes() {
    t check_modes
    db_exec "DROP TABLE IF EXISTS tsm"
    db_exec "CREATE TABLE tsm (id BIGINT NOT NULL PRIMARY KEY, v VARCHAR(10), ts TIMESTAMP NULL, d DECIMAL(20,0))"
    status_table_ready
    kafka_cmd "topic tsm"
    write_conf "$WORK/m1.conf" tsm tsm "a1.sources.r1.incremental.mode = timestamp+incrementing" \
        "a1.sources.r1.timestamp.column.name = ts" "a1.sources.r1.incremental.column.name = d" \
        "a1.sources.r1.status.connection.url = $DB_URL"
    run_check "$WORK/m1.conf" "$WORK/m1.out"
    assert_eq 0 "$RC" "exit code" || { cat "$WORK/m1.out" "$WORK/m1.out.err" >&2; return; }
    assert_eq "$WORK/m1.conf: agent \"a1\" is valid
ok   r1: database answers at $DB_URL_NOPW as user sqlflume
ok   r1: status database answers at ${DB_URL/sqlflume-pw/***} as user sqlflume
ok   r1: status table flume_meta exists; user sqlflume may SELECT, INSERT and UPDATE it
ok   r1 tsm: table exists (primary key id)
ok   r1 tsm: user sqlflume may SELECT from tsm
ok   r1 tsm: incremental column \"d\" is a decimal
ok   r1 tsm: timestamp column \"ts\" is a date/time
ok   r1 tsm: status key \"tsm\" is not held by a running agent
ok   k1: Kafka at $BOOTSTRAP answers (1 broker)
ok   k1: topic \"tsm\" exists (1 partition)
every check passed" "$(cat "$WORK/m1.out")" "output" || return
    write_conf "$WORK/m2.conf" tsm tsm "a1.sources.r1.incremental.mode = timestamp+incrementing" \
        "a1.sources.r1.timestamp.column.name = v" "a1.sources.r1.incremental.column.name = nope"
    run_check "$WORK/m2.conf" "$WORK/m2.out"
    assert_eq 1 "$RC" "exit code of unusable columns" || { cat "$WORK/m2.out" >&2; return; }
    assert_contains "$WORK/m2.out" "FAIL r1 tsm: incremental column \"nope\" cannot be read: " "missing column" || return
    assert_contains "$WORK/m2.out" "FAIL r1 tsm: timestamp.column.name \"v\" is text, not a date/time column" "text timestamp" || return
    write_conf "$WORK/m3.conf" tsm tsm "a1.sources.r1.incremental.column.name = v"
    run_check "$WORK/m3.conf" "$WORK/m3.out"
    # an explicitly named text column is the user's choice: it runs (with the agent's WARN)
    assert_eq 0 "$RC" "exit code of a text incremental column" || { cat "$WORK/m3.out" >&2; return; }
    assert_contains "$WORK/m3.out" "ok   r1 tsm: incremental.column.name \"v\" is text: rows are read in the database's order of its values, and a row whose value sorts at or below the offset already read is never read" "text incremental column" || return
    assert_eq 0 "$(grep -c '^FAIL' "$WORK/m3.out")" "no failure" || { cat "$WORK/m3.out" >&2; return; }
    # a custom query is not run; its status key is checked
    write_conf "$WORK/m4.conf" tsm tsm "a1.sources.r1.custom.query = SELECT id FROM tsm WHERE id > \$@\$" \
        "a1.sources.r1.status.key = tsm-custom"
    sed -i '/^a1.sources.r1.table = /d' "$WORK/m4.conf"
    run_check "$WORK/m4.conf" "$WORK/m4.out"
    assert_eq 0 "$RC" "exit code of a custom query" || { cat "$WORK/m4.out" "$WORK/m4.out.err" >&2; return; }
    assert_contains "$WORK/m4.out" "skip r1: custom.query is not run by check --connect" "custom query skipped" || return
    assert_contains "$WORK/m4.out" "ok   r1: status key \"tsm-custom\" is not held by a running agent" "custom query status key" || return
    pass
}

ALL="s_check_pass s_check_table_problems s_check_modes s_check_grants s_check_lock_held s_check_kafka
     s_check_bad_url_param"
db_start "$KIND" "$PORT"
kafka_start
for s in ${*:-$ALL}; do
    "$s"
done
finish
