#!/usr/bin/env bash
# The seed tutorials' case studies, with the SQL source in front and otherwise the seed's keys
# (channels of capacity 1000 / transactionCapacity 100, Avro sinks between tiers):
#   tests/integration/topologies.sh mysql|postgresql PORT [SCENARIO...]
# The database listens on PORT; downstream agents' Avro sources on PORT+1 and PORT+2.
# Rows: ids 1..N less every 7th, v NULL every 10th (holes and NULLs, as in production).
# s_replicate: (1) one source, a replicating selector into two channels, an Avro sink each, to
#   agent B (avro source -> file_roll, avro_event) and agent C (avro source -> HDFS sink on
#   file://, DataStream of avro_event): each of B and C has every row exactly once.
# s_multiplex: (4) one source over two tables, a multiplexing selector on the `table` header
#   into two channels, each to its own downstream agent: B has exactly table one's rows, C
#   exactly table two's; flume_meta of both tables reaches their last id.
# s_load_balance: (2) a load_balance sink group of two Avro sinks into two agents with file
#   channels, one killed with kill -9 and restarted mid-run: every row once in one of them (at
#   most one batch repeated), both used.
# s_failover: (3) a failover group: the active sink's agent stops, the standby takes over, the
#   active one comes back and takes over again after its penalty; rows per wave exact.
# s_interceptors: (5) timestamp, host, static and regex_filter on the SQL source: the headers on
#   every event, the filtered rows absent and flume_meta past them.
# s_conf: every agent of the example configurations conf/case-*.conf passes `sqlflume check`.
# s_chain: three agents with file channels, SQL -> A -> Avro -> B -> Avro -> C -> Kafka, 200,000
#   rows, each agent killed with kill -9 once in turn: every row in Kafka (an independent
#   consumer), duplicates at most one batch per kill and hop; the figures on a CHAIN line.
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2
B_PORT=$((PORT + 1))
C_PORT=$((PORT + 2))
CLIENT="$PY $SF_ROOT/tests/support/flume_avro_client.py"
declare -A DPID=()

# down_start NAME PORT CONF LOG: start downstream agent NAME and wait for its Avro source
down_start() {
    "$SF_BIN" agent -n "$1" -f "$3" -Dflume.root.logger=${SF_LOG_LEVEL:-INFO},console >>"$4" 2>&1 &
    DPID[$1]=$!
    local end=$((SECONDS + $(secs 20)))
    until (exec 3<>/dev/tcp/127.0.0.1/"$2") 2>/dev/null; do
        [ $SECONDS -lt $end ] || { fail "agent $1 did not listen on $2"; tail -5 "$4" >&2; return 1; }
        sleep 0.1
    done
}
down_term() { # NAME
    local pid=${DPID[$1]:-} rc=0
    [ -z "$pid" ] && return 0
    kill -TERM "$pid"
    wait "$pid" || rc=$?
    DPID[$1]=""
    assert_eq 0 "$rc" "agent $1 exit code after SIGTERM"
}
trap 'for p in "${DPID[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done; cleanup' EXIT

# fc_lines NAME CH DIR: the file channel lines of channel CH of agent NAME, in DIR
fc_lines() {
    mkdir -p "$3/cp" "$3/data"
    printf '%s\n' "$1.channels.$2.type = file" "$1.channels.$2.checkpointDir = $3/cp" \
        "$1.channels.$2.dataDirs = $3/data" "$1.channels.$2.minimumRequiredSpace = 1048576" \
        "$1.channels.$2.checkpointInterval = 2000"
}

# down_conf FILE NAME PORT OUTDIR file_roll|hdfs [memory|file]: NAME: avro source on PORT ->
# channel (memory 1000/100, or a file channel in OUTDIR.fc) -> sink
down_conf() {
    local f=$1 n=$2 p=$3 out=$4
    mkdir -p "$out"
    {
        echo "$n.sources = r1"
        echo "$n.channels = c1"
        echo "$n.sinks = k1"
        echo "$n.sources.r1.type = avro"
        echo "$n.sources.r1.bind = 127.0.0.1"
        echo "$n.sources.r1.port = $p"
        echo "$n.sources.r1.channels = c1"
        if [ "${6:-memory}" = file ]; then
            fc_lines "$n" c1 "$out.fc"
        else
            echo "$n.channels.c1.type = memory"
            echo "$n.channels.c1.capacity = 1000"
            echo "$n.channels.c1.transactionCapacity = 100"
        fi
        echo "$n.sinks.k1.channel = c1"
        if [ "$5" = hdfs ]; then
            echo "$n.sinks.k1.type = hdfs"
            echo "$n.sinks.k1.hdfs.path = file://$out"
            echo "$n.sinks.k1.hdfs.fileType = DataStream"
            echo "$n.sinks.k1.serializer = avro_event"
            echo "$n.sinks.k1.hdfs.rollCount = 0"
            echo "$n.sinks.k1.hdfs.rollSize = 0"
            echo "$n.sinks.k1.hdfs.rollInterval = 0"
        else
            echo "$n.sinks.k1.type = file_roll"
            echo "$n.sinks.k1.sink.directory = $out"
            echo "$n.sinks.k1.sink.serializer = avro_event"
            echo "$n.sinks.k1.sink.rollInterval = 0"
        fi
    } >"$f"
}

rows_insert() { # table from to
    if [ "$DB_KIND" = mysql ]; then
        db_exec "INSERT INTO $(qi "$1") (id, v) SELECT seq, IF(seq % 10 = 0, NULL, CONCAT('row-', seq)) FROM seq_$2_to_$3 WHERE seq % 7 <> 0"
    else
        db_exec "INSERT INTO $(qi "$1") (id, v) SELECT g, CASE WHEN g % 10 = 0 THEN NULL ELSE 'row-' || g END FROM generate_series($2, $3) g WHERE g % 7 <> 0"
    fi
}

# up_conf FILE [LINES...]: agent a1: the SQL source r1 over CHANNELS c1 c2 (memory 1000/100),
# sinks k1 -> B and k2 -> C (avro, the seed's keys); LINES add to or override it
up_conf() {
    local f=$1
    shift
    {
        echo "a1.sources = r1"
        echo "a1.channels = c1 c2"
        echo "a1.sinks = k1 k2"
        echo "a1.sources.r1.type = sql"
        echo "a1.sources.r1.connection.url = $DB_URL_NOPW"
        echo "a1.sources.r1.connection.user = sqlflume"
        echo "a1.sources.r1.connection.password = \${SF_TEST_DB_PASSWORD}"
        echo "a1.sources.r1.run.query.delay = 300"
        echo "a1.sources.r1.channels = c1 c2"
        for c in c1 c2; do
            echo "a1.channels.$c.type = memory"
            echo "a1.channels.$c.capacity = 1000"
            echo "a1.channels.$c.transactionCapacity = 100"
        done
        echo "a1.sinks.k1.type = avro"
        echo "a1.sinks.k1.channel = c1"
        echo "a1.sinks.k1.hostname = 127.0.0.1"
        echo "a1.sinks.k1.port = $B_PORT"
        echo "a1.sinks.k2.type = avro"
        echo "a1.sinks.k2.channel = c2"
        echo "a1.sinks.k2.hostname = 127.0.0.1"
        echo "a1.sinks.k2.port = $C_PORT"
        for l in "$@"; do echo "$l"; done
    } >"$f"
}

# rows_of DIR TABLE LAST: the verdict line of the rows in DIR
rows_of() { $CLIENT rows --dir "$1" --table "$2" --first 1 --last "$3"; }

s_replicate() {
    t replicate
    db_create_idv trep
    rows_insert trep 1 23333
    down_conf "$WORK/rep-b.conf" b1 "$B_PORT" "$WORK/rep-b.out" file_roll
    down_conf "$WORK/rep-c.conf" c1 "$C_PORT" "$WORK/rep-c.out" hdfs
    down_start b1 "$B_PORT" "$WORK/rep-b.conf" "$WORK/rep-b.log" || return
    down_start c1 "$C_PORT" "$WORK/rep-c.conf" "$WORK/rep-c.log" || return
    up_conf "$WORK/rep-a.conf" "a1.sources.r1.table = trep" \
        "a1.sources.r1.selector.type = replicating"
    agent_start "$WORK/rep-a.conf" "$WORK/rep-a.log"
    wait_hw trep 23333 120 || return
    agent_term
    down_term b1
    down_term c1
    local rb rc
    rb=$(rows_of "$WORK/rep-b.out" trep 23333)
    rc=$(rows_of "$WORK/rep-c.out" trep 23333)
    log "replicate: B (file_roll) $rb; C (hdfs) $rc"
    assert_eq "events=20000 distinct=20000 lost=0 dup=0 extra=0 bad=0" "$rb" "rows in B" || return
    assert_eq "events=20000 distinct=20000 lost=0 dup=0 extra=0 bad=0" "$rc" "rows in C" || return
    for f in rep-a rep-b rep-c; do
        assert_not_contains "$WORK/$f.log" " ERROR " "no error in $f" || return
    done
    pass
}

s_multiplex() {
    t multiplex
    db_create_idv tmx_orders
    db_create_idv tmx_users
    rows_insert tmx_orders 1 11666
    rows_insert tmx_users 1 4666
    down_conf "$WORK/mx-b.conf" b1 "$B_PORT" "$WORK/mx-b.out" file_roll
    down_conf "$WORK/mx-c.conf" c1 "$C_PORT" "$WORK/mx-c.out" file_roll
    down_start b1 "$B_PORT" "$WORK/mx-b.conf" "$WORK/mx-b.log" || return
    down_start c1 "$C_PORT" "$WORK/mx-c.conf" "$WORK/mx-c.log" || return
    up_conf "$WORK/mx-a.conf" "a1.sources.r1.tables = tmx_orders tmx_users" \
        "a1.sources.r1.selector.type = multiplexing" \
        "a1.sources.r1.selector.header = table" \
        "a1.sources.r1.selector.mapping.tmx_orders = c1" \
        "a1.sources.r1.selector.mapping.tmx_users = c2"
    "$SF_BIN" check -n a1 -f "$WORK/mx-a.conf" >"$WORK/mx-check.out" 2>&1
    assert_contains "$WORK/mx-check.out" "has no selector.default: events whose \"table\" header matches no mapping are dropped" \
        "check warns about the missing default" || return
    agent_start "$WORK/mx-a.conf" "$WORK/mx-a.log"
    wait_hw tmx_orders 11666 120 || return
    wait_hw tmx_users 4666 60 || return
    agent_term
    down_term b1
    down_term c1
    local rb rc
    rb=$(rows_of "$WORK/mx-b.out" tmx_orders 11666)
    rc=$(rows_of "$WORK/mx-c.out" tmx_users 4666)
    log "multiplex: B (orders) $rb; C (users) $rc"
    assert_eq "events=10000 distinct=10000 lost=0 dup=0 extra=0 bad=0" "$rb" "B: every order, nothing else" || return
    assert_eq "events=4000 distinct=4000 lost=0 dup=0 extra=0 bad=0" "$rc" "C: every user, nothing else" || return
    assert_not_contains "$WORK/mx-a.log" "event(s) dropped" "nothing dropped" || return
    for f in mx-a mx-b mx-c; do
        assert_not_contains "$WORK/$f.log" " ERROR " "no error in $f" || return
    done
    pass
}

# chain_conf FILE NAME FROM TO: agent NAME with a file channel: FROM = sql | avro:PORT, TO =
# avro:PORT | kafka (topic tchain)
chain_conf() {
    local f=$1 n=$2 from=$3 to=$4
    {
        echo "$n.sources = r1"
        echo "$n.channels = c1"
        echo "$n.sinks = k1"
        echo "$n.sources.r1.channels = c1"
        if [ "$from" = sql ]; then
            echo "$n.sources.r1.type = sql"
            echo "$n.sources.r1.connection.url = $DB_URL_NOPW"
            echo "$n.sources.r1.connection.user = sqlflume"
            echo "$n.sources.r1.connection.password = \${SF_TEST_DB_PASSWORD}"
            echo "$n.sources.r1.run.query.delay = 300"
            echo "$n.sources.r1.table = tchain"
        else
            echo "$n.sources.r1.type = avro"
            echo "$n.sources.r1.bind = 127.0.0.1"
            echo "$n.sources.r1.port = ${from#avro:}"
        fi
        fc_lines "$n" c1 "$WORK/chain-$n"
        echo "$n.sinks.k1.channel = c1"
        if [ "$to" = kafka ]; then
            echo "$n.sinks.k1.type = org.apache.flume.sink.kafka.KafkaSink"
            echo "$n.sinks.k1.kafka.bootstrap.servers = $BOOTSTRAP"
            echo "$n.sinks.k1.kafka.topic = tchain"
            echo "$n.sinks.k1.kafka.producer.compression.codec = lz4"
            echo "$n.sinks.k1.maxInFlightBatches = 1"
        else
            echo "$n.sinks.k1.type = avro"
            echo "$n.sinks.k1.hostname = 127.0.0.1"
            echo "$n.sinks.k1.port = ${to#avro:}"
            echo "$n.sinks.k1.request-timeout = 5000"
        fi
    } >"$f"
}

# chain_start NAME: start agent NAME of the chain (a1 through agent_start; b1, c1 wait for their
# Avro source)
chain_start() {
    case $1 in
    a1) agent_start "$WORK/chain-a1.conf" "$WORK/chain-a1.log" ;;
    b1) down_start b1 "$B_PORT" "$WORK/chain-b1.conf" "$WORK/chain-b1.log" ;;
    c1) down_start c1 "$C_PORT" "$WORK/chain-c1.conf" "$WORK/chain-c1.log" ;;
    esac
}
chain_kill9() {
    local pid
    if [ "$1" = a1 ]; then agent_kill9; return; fi
    pid=${DPID[$1]}
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    DPID[$1]=""
}
# the end offset of topic tchain: the rows C has written to Kafka
kafka_end() { kcat -Q -b "$BOOTSTRAP" -t tchain:0:-1 2>/dev/null | sed -n 's/.* offset //p'; }
# wait until C has written at least N rows to Kafka
wait_kafka() {
    local end=$((SECONDS + $(secs 180))) cur
    while [ $SECONDS -lt $end ]; do
        cur=$(kafka_end)
        [ "${cur:-0}" -ge "$1" ] && return 0
        sleep 0.05
    done
    fail "Kafka's end offset did not pass $1 (is $(kafka_end))"
    return 1
}

# A three-agent chain with file channels, SQL -> A -> Avro -> B -> Avro -> C -> Kafka, over
# 200,000 rows; A, B and C are each killed with kill -9 once, while rows flow through all three
# (once Kafka holds 30,000, 80,000 and 130,000 rows; each restarted a second later): every row
# arrives, and the duplicates are at most one batch (100) per kill and hop: 3 kills x 2 hops x
# 100.
s_chain() {
    t chain
    kafka_start
    kafka_cmd "topic tchain 1"
    db_create_idv tchain
    db_insert_range tchain 1 200000
    chain_conf "$WORK/chain-c1.conf" c1 "avro:$C_PORT" kafka
    chain_conf "$WORK/chain-b1.conf" b1 "avro:$B_PORT" "avro:$C_PORT"
    chain_conf "$WORK/chain-a1.conf" a1 sql "avro:$B_PORT"
    chain_start c1 || return
    chain_start b1 || return
    chain_start a1
    local t0=$SECONDS at
    for step in a1:30000 b1:80000 c1:130000; do
        at=${step#*:}
        wait_kafka "$at" || return
        chain_kill9 "${step%%:*}"
        log "chain: kill -9 of ${step%%:*} with $(kafka_end) rows in Kafka, A's offset $(db_offset tchain)"
        sleep 1
        chain_start "${step%%:*}" || return
    done
    wait_offset tchain 200000 180 || return
    # C has written the last row once Kafka's end offset stops moving
    local endo=-1 now
    for _ in $(seq 1 $(secs 120)); do
        now=$(kafka_end)
        [ "$now" = "$endo" ] && [ "${now:-0}" -ge 200000 ] && break
        endo=$now
        sleep 1
    done
    log "chain: 200,000 rows through three agents in $((SECONDS - t0)) s (Kafka end offset $now)"
    agent_term
    down_term b1
    down_term c1
    consume tchain 0 "$WORK/chain.out"
    local res dup
    res=$(check_range "$WORK/chain.out" 1 200000)
    dup=$(echo "$res" | sed 's/.*dup=\([0-9]*\).*/\1/')
    echo "CHAIN $DB_KIND: 3 kills (A, B, C), 200000 rows: $res (bound: 600)"
    case "$res" in
    "lost=0 dup="*" extra=0") ;;
    *) fail "chain: $res"; return ;;
    esac
    [ "$dup" -le 600 ] || { fail "chain: $dup duplicates > 3 kills x 2 hops x 100"; return; }
    pass
}

# union DIR1 DIR2 OUT: the files of both directories in one (names prefixed, they may collide)
union() {
    mkdir -p "$3"
    local f
    for f in "$1"/*; do [ -f "$f" ] && cp "$f" "$3/b-$(basename "$f")"; done
    for f in "$2"/*; do [ -f "$f" ] && cp "$f" "$3/c-$(basename "$f")"; done
}
# count_in DIR: the events in DIR's avro_event files
count_in() { $CLIENT rows --dir "$1" --table x --first 1 --last 0 2>/dev/null | sed 's/events=\([0-9]*\).*/\1/'; }

# (2) a load_balance sink group of two Avro sinks over one channel into two downstream agents
# with file channels; B is killed with kill -9 while rows arrive (350 every 0.1 s) and restarted
# 2 s later: every row once in B or C
# (a batch B committed whose OK A never got is sent again: at most one batch repeated), both
# got rows.
s_load_balance() {
    t load_balance
    db_create_idv tlb
    rows_insert tlb 1 11666
    down_conf "$WORK/lb-b.conf" b1 "$B_PORT" "$WORK/lb-b.out" file_roll file
    down_conf "$WORK/lb-c.conf" c1 "$C_PORT" "$WORK/lb-c.out" file_roll file
    down_start b1 "$B_PORT" "$WORK/lb-b.conf" "$WORK/lb-b.log" || return
    down_start c1 "$C_PORT" "$WORK/lb-c.conf" "$WORK/lb-c.log" || return
    up_conf "$WORK/lb-a.conf" "a1.sources.r1.table = tlb" "a1.channels = c1" \
        "a1.sources.r1.channels = c1" "a1.sinks.k2.channel = c1" "a1.sources.r1.max.rows = 500" \
        "a1.sinkgroups = g1" "a1.sinkgroups.g1.sinks = k1 k2" \
        "a1.sinkgroups.g1.processor.type = load_balance" \
        "a1.sinkgroups.g1.processor.backoff = true" \
        "a1.sinkgroups.g1.processor.selector = round_robin"
    sed -i '/^a1\.channels\.c2\./d' "$WORK/lb-a.conf"
    agent_start "$WORK/lb-a.conf" "$WORK/lb-a.log"
    wait_hw tlb 11666 60 || return
    # the second half arrives 350 rows every 0.1 s while B is killed and restarted
    (
        for from in $(seq 11667 350 23333); do
            to=$((from + 349)); [ $to -gt 23333 ] && to=23333
            rows_insert tlb $from $to
            sleep 0.1
        done
    ) &
    local ins=$!
    sleep 1
    kill -9 "${DPID[b1]}"; wait "${DPID[b1]}" 2>/dev/null; DPID[b1]=""
    log "load_balance: B killed with A's offset at $(db_offset tlb | cut -c1-12)"
    sleep 2
    down_start b1 "$B_PORT" "$WORK/lb-b.conf" "$WORK/lb-b.log" || return
    wait $ins
    wait_hw tlb 23333 120 || return
    agent_term
    down_term b1
    down_term c1
    union "$WORK/lb-b.out" "$WORK/lb-c.out" "$WORK/lb-u"
    local res nb nc dup
    res=$(rows_of "$WORK/lb-u" tlb 23333)
    nb=$(count_in "$WORK/lb-b.out")
    nc=$(count_in "$WORK/lb-c.out")
    log "load_balance: B $nb events, C $nc events; together $res"
    case "$res" in
    "events="*" distinct=20000 lost=0 dup="*" extra=0 bad=0") ;;
    *) fail "load_balance: $res"; return ;;
    esac
    dup=$(echo "$res" | sed 's/.*dup=\([0-9]*\).*/\1/')
    [ "$dup" -le 100 ] || { fail "load_balance: $dup duplicates > one batch"; return; }
    [ "$nb" -gt 1000 ] && [ "$nc" -gt 1000 ] || { fail "load_balance: B $nb, C $nc: not both used"; return; }
    assert_contains "$WORK/lb-a.log" "k1" "the failing sink is named in A's log" || return
    pass
}

# (3) failover: k1 (priority 10, to B) is the active sink, k2 (5, to C) the standby; B goes down
# mid-run (SIGTERM), the rows go on to C; B comes back, and once its penalty passed, the rows
# of a second wave go to B again. Every row once (B stopped cleanly: no repeats).
s_failover() {
    t failover
    db_create_idv tfo
    rows_insert tfo 1 11666
    down_conf "$WORK/fo-b.conf" b1 "$B_PORT" "$WORK/fo-b.out" file_roll
    down_conf "$WORK/fo-c.conf" c1 "$C_PORT" "$WORK/fo-c.out" file_roll
    down_start b1 "$B_PORT" "$WORK/fo-b.conf" "$WORK/fo-b.log" || return
    down_start c1 "$C_PORT" "$WORK/fo-c.conf" "$WORK/fo-c.log" || return
    up_conf "$WORK/fo-a.conf" "a1.sources.r1.table = tfo" "a1.channels = c1" \
        "a1.sources.r1.channels = c1" "a1.sinks.k2.channel = c1" \
        "a1.sinkgroups = g1" "a1.sinkgroups.g1.sinks = k1 k2" \
        "a1.sinkgroups.g1.processor.type = failover" \
        "a1.sinkgroups.g1.processor.priority.k1 = 10" \
        "a1.sinkgroups.g1.processor.priority.k2 = 5" \
        "a1.sinkgroups.g1.processor.maxpenalty = 4000"
    sed -i '/^a1\.channels\.c2\./d' "$WORK/fo-a.conf"
    agent_start "$WORK/fo-a.conf" "$WORK/fo-a.log"
    wait_hw tfo 11666 60 || return
    local nb1 nc1
    nb1=$(count_in "$WORK/fo-b.out")
    nc1=$(count_in "$WORK/fo-c.out")
    down_term b1
    rows_insert tfo 11667 23333
    wait_hw tfo 23333 60 || return
    down_start b1 "$B_PORT" "$WORK/fo-b.conf" "$WORK/fo-b.log" || return
    sleep "$(secs 6)" # k1's penalty (at most maxpenalty, 4 s) passes
    rows_insert tfo 23334 34999
    wait_hw tfo 34999 60 || return
    agent_term
    down_term b1
    down_term c1
    union "$WORK/fo-b.out" "$WORK/fo-c.out" "$WORK/fo-u"
    local res rb rc
    res=$(rows_of "$WORK/fo-u" tfo 34999)
    rb=$($CLIENT rows --dir "$WORK/fo-b.out" --table tfo --first 23334 --last 34999 2>/dev/null)
    rc=$($CLIENT rows --dir "$WORK/fo-c.out" --table tfo --first 11667 --last 23333 2>/dev/null)
    log "failover: wave 1 B=$nb1 C=$nc1; wave 2 in C: $rc; wave 3 in B: $rb; together $res"
    assert_eq "10000 0" "$nb1 $nc1" "wave 1 all in B (the active sink)" || return
    assert_eq "events=30000 distinct=30000 lost=0 dup=0 extra=0 bad=0" "$res" "every row once" || return
    case "$rc" in *"distinct=10000 lost=0"*) ;; *) fail "wave 2 not all in C: $rc"; return ;; esac
    case "$rb" in *"distinct=10000 lost=0"*) ;; *) fail "wave 3 not all in B: $rb"; return ;; esac
    pass
}

# (5) an interceptor chain on the SQL source: timestamp (into header ts), host, static
# (dc = eu-1), regex_filter dropping the rows whose v is NULL; every event B writes carries the
# headers, no NULL row arrives, every other row once, and flume_meta moves past the filtered
# rows (the last row is one of them).
s_interceptors() {
    t interceptors
    db_create_idv tic
    rows_insert tic 1 23330
    down_conf "$WORK/ic-b.conf" b1 "$B_PORT" "$WORK/ic-b.out" file_roll
    down_start b1 "$B_PORT" "$WORK/ic-b.conf" "$WORK/ic-b.log" || return
    up_conf "$WORK/ic-a.conf" "a1.sources.r1.table = tic" "a1.channels = c1" "a1.sinks = k1" \
        "a1.sources.r1.channels = c1" \
        "a1.sources.r1.interceptors = i1 i2 i3 i4" \
        "a1.sources.r1.interceptors.i1.type = timestamp" \
        "a1.sources.r1.interceptors.i1.headerName = ts" \
        "a1.sources.r1.interceptors.i2.type = host" \
        "a1.sources.r1.interceptors.i3.type = static" \
        "a1.sources.r1.interceptors.i3.key = dc" \
        "a1.sources.r1.interceptors.i3.value = eu-1" \
        "a1.sources.r1.interceptors.i4.type = regex_filter" \
        "a1.sources.r1.interceptors.i4.regex = \"v\":null" \
        "a1.sources.r1.interceptors.i4.excludeEvents = true"
    sed -i -e '/^a1\.channels\.c2\./d' -e '/^a1\.sinks\.k2\./d' "$WORK/ic-a.conf"
    agent_start "$WORK/ic-a.conf" "$WORK/ic-a.log"
    wait_hw tic 23330 60 || return
    agent_term
    down_term b1
    local res
    res=$($PY - "$WORK/ic-b.out" "$SF_ROOT/tests/support" <<'PYEOF'
import collections, json, sys
sys.path.insert(0, sys.argv[2])
import flume_avro_client as c
seen, bad = collections.Counter(), 0
for rec in c.read_dir(sys.argv[1]):
    h, row = rec["headers"], json.loads(rec["body"])
    i = int(row["id"])
    ok = (row["v"] == "row-%d" % i and i % 10 != 0 and h.get("dc") == "eu-1"
          and h.get("ts", "").isdigit() and h.get("host") and h.get("timestamp", "").isdigit()
          and h.get("table") == "tic")
    bad += not ok
    seen[i] += 1
want = set(i for i in range(1, 23331) if i % 7 and i % 10)
print("events=%d lost=%d dup=%d extra=%d bad=%d" % (sum(seen.values()), len(want - set(seen)),
      sum(n - 1 for n in seen.values() if n > 1), len(set(seen) - want), bad))
PYEOF
)
    log "interceptors: $res"
    assert_eq "events=17998 lost=0 dup=0 extra=0 bad=0" "$res" "rows through the chain (ids 1..23330 less every 7th and every 10th)" || return
    assert_not_contains "$WORK/ic-a.log" " ERROR " "no error in A" || return
    pass
}

# The case studies' example configurations (conf/case-*.conf): every agent of each is valid,
# without a warning.
s_conf() {
    t conf
    local f a out
    for f in "$SF_ROOT"/conf/case-*.conf; do
        for a in $(sed -n 's/^\([A-Za-z0-9_]*\)\.sources = .*/\1/p' "$f"); do
            out=$(MYSQL_PASSWORD=x "$SF_BIN" check -n "$a" -f "$f" 2>&1)
            assert_eq "$f: agent \"$a\" is valid" "$out" "check of agent $a in $(basename "$f")" || return
        done
    done
    pass
}

db_start "$KIND" "$PORT"
ALL="s_conf s_replicate s_multiplex s_load_balance s_failover s_interceptors s_chain"
for s in ${*:-$ALL}; do
    # a scenario that failed may have left its agents running: none outlives it
    for a in "${!DPID[@]}"; do [ -n "${DPID[$a]}" ] && kill -9 "${DPID[$a]}" 2>/dev/null; DPID[$a]=""; done
    [ -n "$AGENT_PID" ] && agent_kill9
    "$s"
done
finish
