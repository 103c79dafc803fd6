# shellcheck shell=bash
# Sourced by tests/integration/e2e.sh (after lib.sh): configuration: broken configs (file, line and
# key), keys that would change behaviour, a wrong password, a table without a primary key.

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

    # Flume keys sqlflume does not implement are errors, never ignored, as are selector
    # mappings to channels the source does not have; a misspelt selector key, a key given twice
    # and a component not listed are warnings; the agent starts nothing and never connects
    write_conf "$WORK/unsup.conf" unsup unsup \
        "a1.sources.r1.selector.type = multiplexing" \
        "a1.sources.r1.selector.mapping.x = c9" \
        "a1.configfilters = f1" \
        "a1.sources.r1.selector.defualt = c1" \
        "a1.channels.c1.capacity = 20000" \
        "a1.sinks.k2.type = logger" \
        "a1.sinks.k2.channel = c1" \
        "a1.sinkgroups = g1" \
        "a1.sinkgroups.g1.sinks = k1 k9 k1" \
        "a1.sinkgroups.g1.processor.type = failvoer"
    local f="$WORK/unsup.conf"
    rc=0
    "$SF_BIN" check -n a1 -f "$f" >"$WORK/unsup.out" 2>&1 || rc=$?
    assert_eq 2 "$rc" "check exit code, unsupported keys" || return
    assert_contains "$WORK/unsup.out" "error: $f:19: a1.sources.r1.selector.mapping.x: channel \"c9\" is not one of source \"r1\"'s channels" "selector mapping to another channel" || return
    assert_contains "$WORK/unsup.out" "error: $f:20: a1.configfilters = f1 is not supported (sqlflume has no config filters; use \${VAR} for environment variables)" "config filters" || return
    assert_contains "$WORK/unsup.out" "warning: $f:21: a1.sources.r1.selector.defualt: unknown key for the multiplexing channel selector of source \"r1\"; did you mean \"selector.default\"?" "misspelt selector key" || return
    assert_contains "$WORK/unsup.out" "warning: $f:22: a1.channels.c1.capacity: set twice, on lines 12 and 22; the value of line 22 is used" "key set twice" || return
    assert_contains "$WORK/unsup.out" "warning: $f:23: a1.sinks.k2.type: sink \"k2\" is not listed in a1.sinks, so it is neither checked nor started (2 key(s) ignored)" "unlisted sink" || return
    # a sink group's errors: an undefined sink, a sink listed twice, an unknown processor
    assert_contains "$WORK/unsup.out" "error: $f:26: a1.sinkgroups.g1.sinks: sink \"k9\" is referenced but not defined in a1.sinks" "sink group: undefined sink" || return
    assert_contains "$WORK/unsup.out" "error: $f:26: a1.sinkgroups.g1.sinks: sink \"k1\" is listed twice" "sink group: sink listed twice" || return
    assert_contains "$WORK/unsup.out" "error: $f:27: a1.sinkgroups.g1.processor.type: unknown sink processor type \"failvoer\"; did you mean \"failover\"? (known: default, failover, load_balance)" "sink group: unknown processor" || return
    assert_eq "5 3" "$(grep -c '^error: ' "$WORK/unsup.out") $(grep -c '^warning: ' "$WORK/unsup.out")" "errors and warnings, one per problem" || return
    rc=0
    "$SF_BIN" agent -n a1 -f "$f" >"$WORK/unsup.agent" 2>&1 || rc=$?
    assert_eq 2 "$rc" "agent exit code, unsupported keys" || return
    assert_contains "$WORK/unsup.agent" "configuration \"$f\" is invalid (5 error(s)); nothing started" "nothing started" || return
    assert_contains "$WORK/unsup.agent" "a1.configfilters = f1 is not supported" "agent names the key" || return
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
    # (two rows with a NULL id: never selected by "id > offset", so the agent says so, once)
    db_exec "INSERT INTO nopk VALUES (5, 'x'), (6, 'y'), (NULL, 'n1'), (NULL, 'n2')"
    write_conf "$WORK/nopk2.conf" nopk nopk "a1.sources.r1.incremental.column.name = id"
    agent_start "$WORK/nopk2.conf" "$WORK/nopk2.log"
    consume nopk 2 "$WORK/nopk.out"
    agent_term
    assert_eq 1 "$(grep -c 'WARN .*table "nopk": 2 rows have NULL in the incremental column "id" and they are never exported' "$WORK/nopk2.log")" "one warning about the NULL ids" || return
    assert_eq "5 6" "$(ids_of "$WORK/nopk.out" | sort -n | tr '\n' ' ' | sed 's/ $//')" "rows by incremental.column.name" || return
    pass
}
