#!/usr/bin/env bash
# The main job on an embedded default, from a fresh Debian 12 machine: installs what is needed,
# builds sqlflume, starts a throwaway MariaDB with a sample table (sql/demo.mysql.sql) and the
# mock Kafka broker, runs the agent (one source, replicated to a logger sink and a Kafka sink),
# inserts a row while it runs, stops it with SIGTERM, then shows what reached Kafka (read back with
# kcat) and the offset stored in flume_meta. Everything is torn down at the end.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
bash tests/support/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
source tests/support/db.sh

WORK=$(mktemp -d /tmp/sqlflume-demo.XXXXXX)
chmod 755 "$WORK"
PORT=43399
KAFKA_PID=""
AGENT_PID=""
teardown() {
    [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
    [ -n "$KAFKA_PID" ] && kill "$KAFKA_PID" 2>/dev/null
    sf_mariadb_stop "$WORK/db" >/dev/null 2>&1
    rm -rf "$WORK"
}
trap teardown EXIT

echo "== starting a throwaway MariaDB on 127.0.0.1:$PORT with the demo table 'orders'"
mkdir -p "$WORK/db"
sf_mariadb_start "$WORK/db" $PORT >/dev/null
sf_mysql_exec $PORT "$(cat sql/demo.mysql.sql)"

echo "== starting the mock Kafka broker"
"$ROOT/build/mock_kafka" -p 1 >"$WORK/kafka.out" 2>"$WORK/kafka.err" </dev/null &
KAFKA_PID=$!
BOOTSTRAP=""
for _ in $(seq 1 100); do
    BOOTSTRAP=$(sed -n 's/^BOOTSTRAP=//p' "$WORK/kafka.out" | head -1)
    [ -n "$BOOTSTRAP" ] && break
    sleep 0.1
done
echo "   bootstrap.servers = $BOOTSTRAP"

cat >"$WORK/demo.conf" <<EOF
a1.sources = r1
a1.channels = c1 c2
a1.sinks = log kafka

a1.sources.r1.type = sql
a1.sources.r1.connection.url = mysql://sqlflume:sqlflume-pw@127.0.0.1:$PORT/sqlflume_test
a1.sources.r1.table = orders
a1.sources.r1.run.query.delay = 1000
a1.sources.r1.channels = c1 c2

a1.channels.c1.type = memory
a1.channels.c2.type = memory

a1.sinks.log.type = logger
a1.sinks.log.channel = c1
a1.sinks.log.maxBytesToLog = 64

a1.sinks.kafka.type = kafka
a1.sinks.kafka.channel = c2
a1.sinks.kafka.kafka.bootstrap.servers = $BOOTSTRAP
a1.sinks.kafka.kafka.topic = demo.%{table}
EOF
echo "== configuration"
sed 's/^/   /' "$WORK/demo.conf"
echo "== running: build/sqlflume agent -n a1 -f demo.conf (stopped with SIGTERM after 6 s)"
"$ROOT/build/sqlflume" agent -n a1 -f "$WORK/demo.conf" &
AGENT_PID=$!
sleep 3
echo "== inserting order 41 while the agent runs"
sf_mysql_exec $PORT "INSERT INTO orders (id, customer, amount, note) VALUES (41, 'Margaret', 7.00, 'arrived live')"
sleep 3
kill -TERM $AGENT_PID
wait $AGENT_PID
AGENT_PID=""
echo
echo "== what Kafka holds in topic demo.orders (read back with kcat: key, then value)"
kcat -C -b "$BOOTSTRAP" -t demo.orders -o beginning -e -q -f 'key=%k  %s\n'
echo
echo "== flume_meta: the last delivered id (not a row count). The demo ids have gaps (1, 2, 5, 40, 41):"
echo "   '41;3-4,6-39' means everything up to 41 is delivered and ids 3-4 and 6-39 are still awaited,"
echo "   for incremental.gap.timeout.ms (60 s), in case their transactions commit late"
sf_mysql_exec $PORT "SELECT source_tab, currentIndex FROM flume_meta"
