#!/usr/bin/env bash
# Installs every Debian package sqlflume needs to build, test, benchmark and run its demo.
# Idempotent: does nothing when everything is present. Needs root (or sudo).
set -eu
PKGS="build-essential cmake pkg-config librdkafka-dev default-libmysqlclient-dev libpq-dev check
      libsubunit-dev mariadb-server mariadb-client postgresql postgresql-client kcat
      python3-confluent-kafka docker-compose time procps libmimalloc-dev libavro-dev libmicrohttpd-dev curl
      zlib1g-dev libsnappy-dev python3-avro python3-snappy avro-bin bzip2 libcurl4-openssl-dev libbz2-dev
      libjansson-dev libpcre2-dev libssl-dev openssl"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO=sudo
    echo "installing:$missing"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
# The packages' own service scripts may have started servers on the default ports; the tests
# start their own on unusual ports and need none of them.
