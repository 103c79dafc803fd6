# shellcheck shell=bash
# Sourced by tests/integration/e2e.sh (after lib.sh): streaming rows into Kafka: column types and
# exact JSON bodies, table and column names, quoting, custom.query with the text format and the
# logger sink, rows inserted while the agent runs and a restart.

# every column type, NULLs, 4-byte UTF-8, escapes, binary with NUL bytes, a 10 MB text
s_types() {
    t types
    db_create_types
    local want1=$TYPES_WANT1 want2=$TYPES_WANT2
    # the mock broker keeps 5 MiB per partition: the 10 MB row travels compressed
    write_conf "$WORK/types.conf" types types "a1.sinks.k1.kafka.producer.message.max.bytes = 20000000" \
        "a1.sinks.k1.kafka.producer.compression.codec = lz4"
    agent_start "$WORK/types.conf" "$WORK/types.log"
    consume types 3 "$WORK/types.out"
    agent_term
    sfcheck types "$WORK/types.out" "$want1" "$want2" >"$WORK/types.check"
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
    assert_eq "$want" "$(sfcheck by_id "$WORK/types2.out")" "YEAR and negative zero" || return
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
