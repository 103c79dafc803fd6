#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   1. install the Debian packages (tests/support/deps.sh),
#   2. build with -Werror, and again with ASan+UBSan,
#   3. unit tests (ctest) in both builds,
#   4. end-to-end tests against real MariaDB and PostgreSQL servers and the mock Kafka broker
#      (started and torn down by the scripts), with the normal build and then with the ASan build;
#      the exactly-once tests use tests/support/mock_txn.sh's build of the mock, which writes
#      transaction markers. One lane per database (e2e, check --connect, exactly-once, the kill -9
#      tortures, e2e under ASan); the two lanes run side by side (SF_SERIAL=1: one after the other),
#   5. the docker-compose file is checked with `docker-compose config -q`.
# Exit code 0 only if everything passed.
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
bash tests/support/deps.sh
# The servers the tests start listen on fixed loopback ports (43300-43399, 45400-45499) inside
# Linux's ephemeral range, so a client connection of an earlier test could hold one as its local
# port and a server's bind fail ("Address already in use": seen once for 45434). Reserve them.
if [ -w /proc/sys/net/ipv4/ip_local_reserved_ports ]; then
    cur=$(cat /proc/sys/net/ipv4/ip_local_reserved_ports)
    echo "${cur:+$cur,}43300-43399,45400-45499" >/proc/sys/net/ipv4/ip_local_reserved_ports
fi

JOBS=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DSF_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$JOBS"
# the mock Kafka cluster with transaction markers, for the exactly-once tests
bash tests/support/mock_txn.sh build

echo "== unit tests and connector integration tests (release build)"
(cd build && SF_WEBHDFS_PORT=43384 ctest --output-on-failure)
echo "== the same under ASan/UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 SF_TIME_MULT=3 SF_WEBHDFS_PORT=43386 ctest --output-on-failure)

fail=0
bash tests/support/readme_ref.sh check build || fail=1
echo "== the test servers and readers of the file sinks: WebHDFS server (curl), SequenceFile reader"
bash tests/support/webhdfs_selftest.sh 43380 43381 || fail=1
/usr/bin/python3 tests/support/seqfile_read_test.py || fail=1
echo "== sqlflume avro-client: files, stdin, headers, into our Avro source and the python3-avro server; errors"
SF_BUILD=$ROOT/build bash tests/integration/avro_client.sh 43390 || fail=1
echo "== Avro sink and source with ssl = true (openssl-made certificates; Python's ssl for the independent peers)"
SF_BUILD=$ROOT/build bash tests/integration/avro_tls.sh 43394 || fail=1

# torture DB PORT CHANNEL MODE PASS_PATTERN: torture.sh's TORTURE lines shown; it passes when its
# result line matches PASS_PATTERN and it reported no FAIL
torture() {
    local log=/tmp/sqlflume-torture-$1-$3-$4-${IDS:-dense}-${SINK:-kafka}.log rc=0
    SF_BUILD=$ROOT/build bash tests/integration/torture.sh "$1" "$2" "$3" 20 200000 "$4" >"$log" 2>&1
    grep -E '^(TORTURE|FAIL)' "$log" || true
    grep -q "^TORTURE.*$5" "$log" && ! grep -q '^FAIL' "$log" || rc=1
    return $rc
}
# lane DB E2E_PORT CHECK_PORT EOS_PORT ALO_PORT EOS_TORTURE_PORT SPARSE_PORT ASAN_E2E_PORT
#      FILE_ROLL_PORT SPACE_PORT ASAN_FILE_ROLL_PORT AVRO_PORT AVRO_SRC_PORT HDFS_PORT TOPO_PORT
#      GROUPS_PORT AVRO_ROWS_PORT: every suite of one
# database, in order (AVRO_PORT and AVRO_PORT+1: the database and the Avro server of
# avro_sink.sh; AVRO_SRC_PORT..+3: the database, agent B's Avro source, the Avro server and B's
# monitoring of avro_source.sh; TOPO_PORT..+2: the database and the downstream agents' Avro
# sources of topologies.sh; GROUPS_PORT..+2: the database and the two Avro servers of
# sink_groups.sh). The two
# lanes share no server (each starts its own on its own ports), so they run side by side.
lane() {
    local db=$1 rc=0 ch
    export ASAN_OPTIONS= UBSAN_OPTIONS=
    echo "== end-to-end, $db"
    SF_BUILD=$ROOT/build bash tests/integration/e2e.sh "$db" "$2" || rc=1
    echo "== check --connect, $db"
    SF_BUILD=$ROOT/build bash tests/integration/check_connect.sh "$db" "$3" || rc=1
    echo "== exactly-once into Kafka (transactional producer), $db"
    SF_BUILD=$ROOT/build bash tests/integration/kafka_eos.sh "$db" "$4" || rc=1
    echo "== file_roll sink, $db: rolling, serializers, disk full, kill -9"
    SF_BUILD=$ROOT/build bash tests/integration/file_roll.sh "$db" "$9" || rc=1
    echo "== Avro sink, $db: into a python3-avro AvroSourceProtocol server, FAILED answers, restarts"
    SF_BUILD=$ROOT/build bash tests/integration/avro_sink.sh "$db" "${12}" || rc=1
    echo "== Avro source, $db: a python3-avro client, two tiers (SQL -> avro sink -> avro source), channel full, kill -9"
    SF_BUILD=$ROOT/build bash tests/integration/avro_source.sh "$db" "${13}" || rc=1
    echo "== HDFS sink, $db: file:// text, SequenceFile, gzip'd text, CompressedStream, kill -9; hdfs:// over WebHDFS with faults"
    SF_BUILD=$ROOT/build bash tests/integration/hdfs_sink.sh "$db" "${14}" || rc=1
    echo "== sink groups, $db: failover and load_balance over two Avro sinks"
    SF_BUILD=$ROOT/build bash tests/integration/sink_groups.sh "$db" "${16}" || rc=1
    echo "== format = avro rows and the avro serializer, $db: file_roll and HDFS, read by python3-avro and avro-c"
    SF_BUILD=$ROOT/build bash tests/integration/avro_rows.sh "$db" "${17}" || rc=1
    echo "== topologies, $db: the seed's case studies (selectors, sink groups, interceptors) over Avro tiers"
    SF_BUILD=$ROOT/build bash tests/integration/topologies.sh "$db" "${15}" || rc=1
    echo "== file channel on a small file system, $db: 200,000 rows through a 2 MiB tmpfs"
    SF_BUILD=$ROOT/build bash tests/integration/file_channel_space.sh "$db" "${10}" || rc=1
    echo "== kill -9 torture, $db: 20 kills, 200,000 rows plus live inserts, memory and file channels"
    for ch in memory file; do torture "$db" "$5" $ch alo "lost=0" || rc=1; done
    echo "== kill -9 torture, exactly-once (transactional producer, read_committed consumer), $db: 0 lost, 0 duplicates"
    for ch in memory file; do torture "$db" "$6" $ch eos "lost=0 dup=0 extra=0" || rc=1; done
    echo "== the same on a table whose ids step by 7 with every third one deleted (a hole after almost every row), $db"
    for ch in memory file; do IDS=sparse torture "$db" "$7" $ch eos "lost=0 dup=0 extra=0" || rc=1; done
    echo "== kill -9 torture into files (HDFS sink over WebHDFS and on file://, file_roll), exactly once, $db: 20 kills, 0 lost, 0 duplicates, no in-use file"
    for s in webhdfs file_roll; do
        for ch in memory file; do SINK=$s torture "$db" "$5" $ch alo "lost=0 dup=0 extra=0 bad=0 tmp=0" || rc=1; done
    done
    SINK=hdfs torture "$db" "$5" memory alo "lost=0 dup=0 extra=0 bad=0 tmp=0" || rc=1
    echo "== end-to-end, check --connect and file_roll under ASan/UBSan, $db"
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    SF_BUILD=$ROOT/build-asan SF_TIME_MULT=3 bash tests/integration/e2e.sh "$db" "$8" || rc=1
    SF_BUILD=$ROOT/build-asan SF_TIME_MULT=3 bash tests/integration/check_connect.sh "$db" "$3" || rc=1
    SF_BUILD=$ROOT/build-asan SF_TIME_MULT=3 bash tests/integration/file_roll.sh "$db" "${11}" || rc=1
    echo "== lane $db: $([ $rc -eq 0 ] && echo passed || echo FAILED)"
    return $rc
}
# SF_SERIAL=1 runs the lanes one after the other (for debugging; the timings in the README's
# test table come from the parallel run)
LANE_MY=(mysql 43306 43311 43309 43308 43310 43313 43307 43314 43315 43316 43317 43320 43324 43360 43327 43361)
LANE_PG=(postgresql 45432 45437 45435 45434 45436 45439 45433 45440 45441 45442 45443 45446 45450 45460 45453 45461)
if [ "${SF_SERIAL:-0}" = 1 ]; then
    lane "${LANE_MY[@]}" || fail=1
    lane "${LANE_PG[@]}" || fail=1
else
    echo "== the MariaDB and PostgreSQL lanes, side by side (logs: /tmp/sqlflume-lane-*.log)"
    start=$SECONDS
    lane "${LANE_MY[@]}" >/tmp/sqlflume-lane-mysql.log 2>&1 &
    my=$!
    lane "${LANE_PG[@]}" >/tmp/sqlflume-lane-postgresql.log 2>&1 &
    pg=$!
    wait $my || fail=1
    wait $pg || fail=1
    for db in mysql postgresql; do
        echo "---- lane $db"
        # the scenario results, torture lines and section headers; the whole log on failure
        if grep -q "^== lane $db: passed" /tmp/sqlflume-lane-$db.log; then
            grep -E '^(==|TORTURE|FAIL)|\] (ok|FAIL) |passed, [0-9]+ failed' /tmp/sqlflume-lane-$db.log
        else
            cat /tmp/sqlflume-lane-$db.log
        fi
    done
    echo "== lanes took $((SECONDS - start)) s"
fi

echo "== docker-compose.yml"
docker-compose -f docker-compose.yml config -q || fail=1

if [ "$fail" -ne 0 ]; then
    echo "SOME TESTS FAILED"
    exit 1
fi
echo "ALL TESTS PASSED"
