#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine:
#   1. install the Debian packages (tests/support/deps.sh),
#   2. build with -Werror, and again with ASan+UBSan,
#   3. unit tests (ctest) in both builds,
#   4. end-to-end tests against real MariaDB and PostgreSQL servers and the mock Kafka broker
#      (started and torn down by the scripts), with the normal build and then with the ASan build;
#      the exactly-once tests use tests/support/mock_txn.sh's build of the mock, which writes
#      transaction markers,
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
(cd build && ctest --output-on-failure)
echo "== the same under ASan/UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 SF_TIME_MULT=3 ctest --output-on-failure)

fail=0
bash tests/support/readme_ref.sh check build || fail=1
echo "== end-to-end, MariaDB"
SF_BUILD=$ROOT/build bash tests/integration/e2e.sh mysql 43306 || fail=1
echo "== end-to-end, PostgreSQL"
SF_BUILD=$ROOT/build bash tests/integration/e2e.sh postgresql 45432 || fail=1
echo "== check --connect against both databases (ports 43311-43312, 45437-45438)"
SF_BUILD=$ROOT/build bash tests/integration/check_connect.sh mysql 43311 || fail=1
SF_BUILD=$ROOT/build bash tests/integration/check_connect.sh postgresql 45437 || fail=1
echo "== exactly-once into Kafka (transactional producer), both databases"
SF_BUILD=$ROOT/build bash tests/integration/kafka_eos.sh mysql 43309 || fail=1
SF_BUILD=$ROOT/build bash tests/integration/kafka_eos.sh postgresql 45435 || fail=1
# torture DB PORT CHANNEL MODE PASS_PATTERN: torture.sh's TORTURE lines shown; it passes when its
# result line matches PASS_PATTERN and it reported no FAIL
torture() {
    local log=/tmp/sqlflume-torture-$1-$3-$4-${IDS:-dense}.log
    SF_BUILD=$ROOT/build bash tests/integration/torture.sh "$1" "$2" "$3" 20 200000 "$4" 2>&1 |
        tee "$log" | grep -E '^(TORTURE|FAIL)' || true
    grep -q "^TORTURE.*$5" "$log" && ! grep -q '^FAIL' "$log" || fail=1
}
echo "== kill -9 torture: 20 kills, 200,000 rows plus live inserts, memory and file channels"
for ch in memory file; do torture mysql 43308 $ch alo "lost=0"; done
for ch in memory file; do torture postgresql 45434 $ch alo "lost=0"; done
echo "== kill -9 torture, exactly-once (transactional producer, read_committed consumer): 0 lost, 0 duplicates"
for ch in memory file; do torture mysql 43310 $ch eos "lost=0 dup=0 extra=0"; done
for ch in memory file; do torture postgresql 45436 $ch eos "lost=0 dup=0 extra=0"; done
echo "== the same on a table whose ids step by 7 with every third one deleted (a hole after almost every row)"
export IDS=sparse
for ch in memory file; do torture mysql 43313 $ch eos "lost=0 dup=0 extra=0"; done
for ch in memory file; do torture postgresql 45439 $ch eos "lost=0 dup=0 extra=0"; done
unset IDS
echo "== end-to-end under ASan/UBSan (both databases)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
SF_BUILD=$ROOT/build-asan SF_TIME_MULT=3 bash tests/integration/e2e.sh mysql 43307 || fail=1
SF_BUILD=$ROOT/build-asan SF_TIME_MULT=3 bash tests/integration/e2e.sh postgresql 45433 || fail=1
SF_BUILD=$ROOT/build-asan SF_TIME_MULT=3 bash tests/integration/check_connect.sh mysql 43311 || fail=1
SF_BUILD=$ROOT/build-asan SF_TIME_MULT=3 bash tests/integration/check_connect.sh postgresql 45437 || fail=1

echo "== docker-compose.yml"
docker-compose -f docker-compose.yml config -q || fail=1

if [ "$fail" -ne 0 ]; then
    echo "SOME TESTS FAILED"
    exit 1
fi
echo "ALL TESTS PASSED"
