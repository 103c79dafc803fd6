# shellcheck shell=bash
# Sourced by tests/integration/e2e.sh (after lib.sh): Flume's HTTP monitoring.

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
all values are strings; start times set" "$(sfcheck monitoring "$WORK/mon.json")" "metrics" || return
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
