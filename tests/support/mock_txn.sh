#!/usr/bin/env bash
# Builds OUTDIR/mock_kafka_txn: tests/support/mock_kafka.c linked with a copy of librdkafka whose
# mock cluster writes transaction markers (tests/support/rdkafka-mock-txn.patch).
#   tests/support/mock_txn.sh OUTDIR
#
# Why: librdkafka 2.0.2's mock cluster accepts transactional producers but writes no COMMIT or
# ABORT markers and reports no aborted transactions or last stable offset, so a read_committed
# consumer sees aborted and unfinished transactions too, and exactly-once cannot be tested across
# kill -9 (there is no Kafka broker package in Debian). The patch makes the mock do what a broker
# does (KIP-98): EndTxn appends a COMMIT/ABORT control batch to each partition the transaction
# wrote to; InitProducerId for a known transactional.id aborts its open transaction and bumps the
# epoch (fencing the old producer); Fetch returns the last stable offset, nothing beyond it, and
# the aborted transactions overlapping the returned batch to read_committed consumers; ListOffsets
# (END) returns the last stable offset to them. Consumers are unchanged: Debian's librdkafka
# (kcat, python3-confluent-kafka, sqlflume) reads what this mock serves.
#
# The source is Debian's own librdkafka source package of the installed version, fetched with
# apt-get source (signed index, checked hashes) through a temporary sources list; the system's
# apt configuration is not changed. Nothing is rebuilt when OUTDIR/mock_kafka_txn is newer than
# the patch and mock_kafka.c.
set -eu
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$OUT/mock_kafka_txn
if [ -x "$BIN" ] && [ "$BIN" -nt "$HERE/rdkafka-mock-txn.patch" ] && [ "$BIN" -nt "$HERE/mock_kafka.c" ]; then
    exit 0
fi
VER=$(dpkg-query -W -f='${Version}' librdkafka-dev)
UPSTREAM=${VER%-*}
W=$OUT/rdkafka-txn
rm -rf "$W"
mkdir -p "$W/lists/partial"
SRCLIST=$W/sources.list
# deb-src lines for the Debian mirror(s) apt already uses, for this release
. /etc/os-release
{
    sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | tr ' ' '\n' | grep -v security
    sed -n 's/^deb \(\[[^]]*\] \)\{0,1\}\([^ ]*\).*/\2/p' /etc/apt/sources.list 2>/dev/null | grep -v security
} | sort -u | sed "s|.*|deb-src & $VERSION_CODENAME main|" >"$SRCLIST"
[ -s "$SRCLIST" ] || echo "deb-src http://deb.debian.org/debian $VERSION_CODENAME main" >"$SRCLIST"
APT=(-o "Dir::Etc::SourceList=$SRCLIST" -o "Dir::Etc::SourceParts=$W/none" -o "Dir::State::Lists=$W/lists"
    -o "APT::Sandbox::User=root")
echo "mock_txn: fetching Debian's librdkafka $VER source"
apt-get "${APT[@]}" update -qq
(cd "$W" && apt-get "${APT[@]}" source --download-only -qq "librdkafka=$VER" >/dev/null)
tar -xzf "$W/librdkafka_$UPSTREAM.orig.tar.gz" -C "$W"
SRC=$W/librdkafka-$UPSTREAM
patch -d "$SRC" -p1 -s <"$HERE/rdkafka-mock-txn.patch"
echo "mock_txn: building librdkafka $UPSTREAM with the patched mock cluster"
(cd "$SRC" && ./configure --disable-ssl --disable-gssapi --disable-curl --disable-zstd \
    --disable-lz4-ext --disable-zlib --disable-syslog >"$W/configure.log" 2>&1 &&
    make -j"$(nproc)" -C src librdkafka.a >"$W/make.log" 2>&1) ||
    { tail -20 "$W/configure.log" "$W/make.log" 2>/dev/null; exit 1; }
mkdir -p "$W/include/librdkafka"
cp "$SRC/src/rdkafka.h" "$SRC/src/rdkafka_mock.h" "$W/include/librdkafka/"
cc -O2 -Wall -Wextra -Werror -I"$W/include" "$HERE/mock_kafka.c" "$SRC/src/librdkafka.a" \
    -lpthread -lm -ldl -lrt -o "$BIN.tmp"
mv "$BIN.tmp" "$BIN"
rm -rf "$SRC" "$W/lists"
echo "mock_txn: built $BIN"
