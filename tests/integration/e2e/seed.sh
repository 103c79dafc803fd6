# shellcheck shell=bash
# Sourced by tests/integration/e2e.sh (after lib.sh): compatibility with the seed (keedio
# flume-ng-sql-source): its flume_meta and its tutorials' configuration.

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
    seed_check() { sfcheck against "$1" "$2"; }
    local res_a res_b
    res_a=$(seed_check "$WORK/seed_a.out" "$WORK/seed_a.want")
    res_b=$(seed_check "$WORK/seed_b.out" "$WORK/seed_b.want")
    log "seed_a (killed once): $res_a; seed_b: $res_b"
    case "$res_a" in *" lost=0 dup="*" extra=0") ;; *) fail "seed_a: $res_a"; return ;; esac
    case "$res_b" in *" lost=0 dup=0 extra=0") ;; *) fail "seed_b: $res_b"; return ;; esac
    # NULLs stay JSON nulls; the 2 MB row arrived whole
    assert_contains "$WORK/seed_b.out" '"value": "{\"id\":20,\"name\":null,\"note\":null,\"amount\":\"0.20\",\"created\":\"2024-01-21\"}"' "a row with NULLs, exact JSON" || return
    assert_contains "$WORK/seed_b.out" '"value": "{\"id\":22,\"name\":\"n22\",\"note\":\"xxxxxxxxxxxxxxxxxxxxxx\",\"amount\":\"0.22\",\"created\":\"2024-01-23\"}"' "a row without NULLs, exact JSON" || return
    assert_eq "2097152" "$(sfcheck field_len "$WORK/seed_b.out" 5000 note)" "the 2 MB row, whole" || return
    pass
}
