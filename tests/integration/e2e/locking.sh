# shellcheck shell=bash
# Sourced by tests/integration/e2e.sh (after lib.sh): one agent per status key: the status-key lock,
# the status table created concurrently or not at all.

# the lock id of a status key in flume_meta of sqlflume_test (64-bit FNV-1a of "db\ntable\nkey",
# computed here independently of the C code): signed decimal for PostgreSQL, the name for MySQL
lock_of() { # key
    sfcheck lock_id "$1" "$DB_KIND"
}

# the lock as the agent's message shows it: the name in quotes (MySQL), the id (PostgreSQL)
lock_shown() { if [ "$DB_KIND" = mysql ]; then echo "\"$(lock_of "$1")\""; else lock_of "$1"; fi; }

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
