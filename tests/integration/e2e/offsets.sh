# shellcheck shell=bash
# Sourced by tests/integration/e2e.sh (after lib.sh): offsets and incremental modes: ids with gaps,
# timestamp+incrementing ties, timestamp and bulk modes, several tables with the status table in
# another database, out-of-order commits, sparse ids, the first query's lower bound, text primary
# keys and text incremental columns.

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
    assert_eq "9" "$(sfcheck key_is_id "$WORK/gaps.out")" "message key = primary key" || return
    assert_contains "$WORK/gaps.out" '"value": "{\"id\":7,\"v\":\"d\"}"' "json body" || return
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

sf_status_offsets() {
    if [ "$DB_KIND" = mysql ]; then
        sf_mysql_exec "$DB_PORT" "SELECT CONCAT(source_tab, '=', currentIndex) FROM sf_status.flume_meta ORDER BY source_tab" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'
    else
        PGPASSWORD=sqlflume-pw psql -h 127.0.0.1 -p "$DB_PORT" -U sqlflume -d sf_status -X -q -t -A \
            -c "SELECT source_tab || '=' || currentIndex FROM flume_meta ORDER BY source_tab" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'
    fi
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
    assert_eq "ok" "$(sfcheck round_robin "$WORK/mt.log")" "round-robin" || return
    pass
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

s_out_of_order_restart() { s_out_of_order restart; }

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
    assert_eq "lost=0 dup=0 extra=0" "$(sfcheck range "$WORK/sparse.out" 1 30000 --not-multiple-of 3)" "every row once" || return
    local n
    n=$(grep -c 'ranges of missing ids in the last' "$WORK/sparse.log")
    [ "$n" -ge 1 ] && [ "$n" -le 3 ] || { fail "$n gap summary lines (want 1 to 3)"; return; }
    assert_eq 0 "$(grep WARN "$WORK/sparse.log" | grep -vc 'ranges of missing ids in the last')" "other WARN lines" || return
    assert_eq 0 "$(grep -c 'ranges of missing ids in the last 0 s' "$WORK/sparse.log")" "a summary over no time" || return
    # the ranges 3, 6, ..., 29997 were opened, counted over the summary lines
    assert_eq 9999 "$(sed -n 's/.*ranges of missing ids in the last [0-9]* s: \([0-9]*\) opened.*/\1/p' "$WORK/sparse.log" | awk '{s += $1} END {print s}')" "ranges opened" || return
    pass
}

# sorted values of FIELD of the JSON bodies of a consume output, space-separated
field_of() { # file field
    sfcheck field "$1" "$2"
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
