#!/usr/bin/env bash
# End-to-end tests of ssl = true on the Avro sink and source, with a self-signed certificate
# made here by the openssl CLI, between our own agents and against Python's ssl module under the
# python3-avro peers (tests/support/flume_avro_server.py, flume_avro_client.py):
#   tests/integration/avro_tls.sh PORT [SCENARIO...]
# Agent C (avro source, TLS -> memory -> file_roll) listens on PORT, its monitoring on PORT+3;
# agent B (avro source, plain, fed by sqlflume avro-client -> memory -> avro sink, TLS, to C or
# to the Python server) on PORT+1; the Python server on PORT+2. No database.
# s_ours: B -> C over TLS, C's keystore PKCS12 with a password, B's truststore the certificate
#   (PEM): 1000 lines exactly; again with deflate inside TLS and C's keystore as PEM.
# s_untrusted: B trusting another certificate: the handshake fails with the verify error in B's
#   ERROR line and C accepts nothing; with trust-all-certs the lines get through.
# s_python: B -> the Python TLS server: 1000 lines; the Python TLS client -> C: 300 events
#   exactly; a plain client into C is closed with a WARN and gets nothing in.
# s_check: check refuses ssl without keystore, keystore-type JKS, TLS keys without ssl = true.
set -u
source "$(dirname "$0")/lib.sh"

C_PORT=$1
shift
B_PORT=$((C_PORT + 1))
SRV_PORT=$((C_PORT + 2))
MON_PORT=$((C_PORT + 3))
DB_KIND=avro-tls
B_PID=""
C_PID=""
SRV_PID=""
CLIENT="$PY $SF_ROOT/tests/support/flume_avro_client.py"
srv_stop() { [ -n "$SRV_PID" ] && kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; SRV_PID=""; }
trap '[ -n "$B_PID" ] && kill -9 "$B_PID" 2>/dev/null; [ -n "$C_PID" ] && kill -9 "$C_PID" 2>/dev/null; srv_stop; cleanup' EXIT

certs() {
    local d=$WORK/tls
    mkdir -p "$d"
    for n in cert other; do
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$d/$n.key" -out "$d/$n.pem" -days 2 \
            -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null ||
            { fail "openssl req"; return 1; }
    done
    cat "$d/cert.pem" "$d/cert.key" >"$d/keystore.pem"
    openssl pkcs12 -export -in "$d/cert.pem" -inkey "$d/cert.key" -out "$d/keystore.p12" \
        -passout pass:s3cret || { fail "openssl pkcs12"; return 1; }
}

listen_wait() { # port
    local end=$((SECONDS + $(secs 20)))
    until (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null; do
        [ $SECONDS -lt $end ] || { fail "nothing listens on $1"; return 1; }
        sleep 0.1
    done
}

# c_start OUT-DIR LOG SOURCE-LINES...: agent c1, TLS avro source -> memory -> file_roll
c_start() {
    local out=$1 lg=$2
    shift 2
    mkdir -p "$out"
    {
        printf '%s\n' "c1.sources = r1" "c1.channels = c1" "c1.sinks = k1" \
            "c1.sources.r1.type = avro" "c1.sources.r1.bind = 127.0.0.1" \
            "c1.sources.r1.port = $C_PORT" "c1.sources.r1.channels = c1" "c1.sources.r1.ssl = true" \
            "c1.channels.c1.type = memory" "c1.channels.c1.capacity = 10000" \
            "c1.channels.c1.transactionCapacity = 1000" "c1.sinks.k1.channel = c1" \
            "c1.sinks.k1.type = file_roll" "c1.sinks.k1.sink.directory = $out" \
            "c1.sinks.k1.sink.serializer = avro_event" "c1.sinks.k1.sink.rollInterval = 0"
        printf 'c1.sources.r1.%s\n' "$@"
    } >"$WORK/c.conf"
    "$SF_BIN" agent -n c1 -f "$WORK/c.conf" -Dflume.monitoring.type=http \
        -Dflume.monitoring.port="$MON_PORT" -Dflume.monitoring.host=127.0.0.1 >>"$lg" 2>&1 &
    C_PID=$!
    listen_wait "$C_PORT"
}
c_term() { term_pid_var C_PID "agent C"; }
# b_start TARGET-PORT LOG SINK-LINES...: agent b1, plain avro source -> memory -> TLS avro sink
b_start() {
    local port=$1 lg=$2
    shift 2
    {
        printf '%s\n' "b1.sources = r1" "b1.channels = c1" "b1.sinks = k1" \
            "b1.sources.r1.type = avro" "b1.sources.r1.bind = 127.0.0.1" \
            "b1.sources.r1.port = $B_PORT" "b1.sources.r1.channels = c1" \
            "b1.channels.c1.type = memory" "b1.channels.c1.capacity = 10000" \
            "b1.channels.c1.transactionCapacity = 1000" "b1.sinks.k1.channel = c1" \
            "b1.sinks.k1.type = avro" "b1.sinks.k1.hostname = 127.0.0.1" \
            "b1.sinks.k1.port = $port" "b1.sinks.k1.batch-size = 100" "b1.sinks.k1.ssl = true"
        printf 'b1.sinks.k1.%s\n' "$@"
    } >"$WORK/b.conf"
    "$SF_BIN" agent -n b1 -f "$WORK/b.conf" >>"$lg" 2>&1 &
    B_PID=$!
    listen_wait "$B_PORT"
}
metric() { # component counter
    $PY -c 'import json, sys, urllib.request
m = json.load(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1]))
print(m[sys.argv[2]][sys.argv[3]])' "$MON_PORT" "$1" "$2"
}
wait_metric() { # component counter value seconds
    local end=$((SECONDS + $(secs "$4")))
    until [ "$(metric "$1" "$2")" = "$3" ]; do
        [ $SECONDS -lt $end ] || { fail "$1 $2 is $(metric "$1" "$2"), not $3"; return 1; }
        sleep 0.2
    done
}
# bodies DIR: the bodies of DIR's avro_event files, one a line
bodies() {
    $PY - "$1" <<'EOF'
import os, sys
sys.path.insert(0, os.path.join(os.environ["SF_ROOT"], "tests", "support"))
import flume_avro_client
for rec in flume_avro_client.read_dir(sys.argv[1]):
    print(rec["body"].decode())
EOF
}
export SF_ROOT

lines() { seq 1 "$1" | sed 's/^/tls line /'; }

s_ours() {
    t ours
    certs || return
    local d=$WORK/tls run
    for run in p12 pem-deflate; do
        if [ $run = p12 ]; then
            c_start "$WORK/o-$run" "$WORK/c-$run.log" "keystore = $d/keystore.p12" \
                "keystore-type = PKCS12" "keystore-password = s3cret" || return
            b_start "$C_PORT" "$WORK/b-$run.log" "truststore = $d/cert.pem" "truststore-type = PEM" || return
        else
            c_start "$WORK/o-$run" "$WORK/c-$run.log" "keystore = $d/keystore.pem" \
                "keystore-type = PEM" "compression-type = deflate" || return
            b_start "$C_PORT" "$WORK/b-$run.log" "truststore = $d/cert.pem" "truststore-type = pem" \
                "compression-type = deflate" || return
        fi
        lines 1000 | "$SF_BIN" avro-client -H 127.0.0.1 -p "$B_PORT" || { fail "avro-client into B"; return; }
        wait_metric SOURCE.r1 EventAcceptedCount 1000 30 || return
        b_term
        c_term
        assert_eq "$(lines 1000)" "$(bodies "$WORK/o-$run")" "$run: the lines in C's files" || return
        assert_not_contains "$WORK/b-$run.log" " ERROR " "$run: no error in B" || return
        assert_not_contains "$WORK/c-$run.log" " WARN " "$run: no warning in C" || return
    done
    pass
}

s_untrusted() {
    t untrusted
    certs || return
    local d=$WORK/tls
    c_start "$WORK/o-u" "$WORK/c-u.log" "keystore = $d/keystore.p12" "keystore-type = PKCS12" \
        "keystore-password = s3cret" || return
    b_start "$C_PORT" "$WORK/b-u.log" "truststore = $d/other.pem" "truststore-type = PEM" || return
    lines 20 | "$SF_BIN" avro-client -H 127.0.0.1 -p "$B_PORT" || { fail "avro-client into B"; return; }
    wait_log "$WORK/b-u.log" "TLS handshake with 127.0.0.1:$C_PORT failed: the server's certificate is not trusted: self-signed certificate" 30 || return
    wait_log "$WORK/c-u.log" "TLS handshake failed from 127.0.0.1:" 10 || return
    assert_eq 0 "$(metric SOURCE.r1 EventAcceptedCount)" "nothing accepted" || return
    b_term
    # B's channel was memory: send again through a B that trusts everything
    b_start "$C_PORT" "$WORK/b-u2.log" "trust-all-certs = true" || return
    lines 20 | "$SF_BIN" avro-client -H 127.0.0.1 -p "$B_PORT" || { fail "avro-client into B"; return; }
    wait_metric SOURCE.r1 EventAcceptedCount 20 30 || return
    b_term
    c_term
    assert_eq "$(lines 20)" "$(bodies "$WORK/o-u")" "the lines in C's files" || return
    pass
}

s_python() {
    t python
    certs || return
    local d=$WORK/tls
    $PY "$SF_ROOT/tests/support/flume_avro_server.py" --port "$SRV_PORT" --out "$WORK/py.events" \
        --tls-cert "$d/cert.pem" --tls-key "$d/cert.key" >>"$WORK/srv.log" 2>&1 &
    SRV_PID=$!
    listen_wait "$SRV_PORT" || return
    b_start "$SRV_PORT" "$WORK/b-py.log" "truststore = $d/cert.pem" "truststore-type = PEM" || return
    lines 1000 | "$SF_BIN" avro-client -H 127.0.0.1 -p "$B_PORT" || { fail "avro-client into B"; return; }
    local end=$((SECONDS + $(secs 30)))
    while [ "$(wc -l <"$WORK/py.events" 2>/dev/null || echo 0)" -lt 1000 ] && [ $SECONDS -lt $end ]; do
        sleep 0.2
    done
    b_term
    srv_stop
    assert_eq "$(lines 1000)" "$($PY -c 'import json, sys
for l in open(sys.argv[1]): print(json.loads(l)["body"])' "$WORK/py.events")" "the Python TLS server got the lines" || return
    # the Python TLS client into C
    c_start "$WORK/o-py" "$WORK/c-py.log" "keystore = $d/keystore.p12" "keystore-type = PKCS12" \
        "keystore-password = s3cret" || return
    $CLIENT send --port "$C_PORT" --count 300 --batch 50 --tls-ca "$d/cert.pem" \
        --retry-seconds 10 >"$WORK/py.s" || { fail "Python TLS client"; return; }
    assert_eq '{"sent": 300, "failed": 0, "reconnects": 0}' "$(cat "$WORK/py.s")" "Python TLS client" || return
    if $CLIENT send --port "$C_PORT" --first 1000 --count 5 --retry-seconds 1 >/dev/null 2>&1; then
        fail "a plain client got its events into a TLS source"; return
    fi
    wait_log "$WORK/c-py.log" "TLS handshake failed from 127.0.0.1:" 10 || return
    assert_contains "$WORK/c-py.log" "(not a TLS hello: the client does not use ssl)" "the hint" || return
    assert_eq 300 "$(metric SOURCE.r1 EventAcceptedCount)" "EventAcceptedCount" || return
    c_term
    local res
    res=$($CLIENT verify --dir "$WORK/o-py" --count 300)
    assert_eq "events=300 lost=0 dup=0 bad=0" "$res" "the Python client's events" || return
    pass
}

s_check() {
    t check
    local f=$WORK/chk.conf rc
    for case in "c1.sources.r1.ssl = true|c1.sources.r1.ssl: needs keystore" \
        "c1.sources.r1.ssl = true
c1.sources.r1.keystore = /x.jks|c1.sources.r1.keystore: JKS (Java's keystore format) cannot be read" \
        "c1.sources.r1.keystore = /x.p12|c1.sources.r1.keystore: needs ssl = true" \
        "c1.sinks.k1.type = avro
c1.sinks.k1.hostname = h
c1.sinks.k1.port = 1
c1.sinks.k1.truststore = /t.pem|c1.sinks.k1.truststore: needs ssl = true" \
        "c1.sinks.k1.type = avro
c1.sinks.k1.hostname = h
c1.sinks.k1.port = 1
c1.sinks.k1.ssl = true
c1.sinks.k1.exclude-protocols = SSLv3 TLSv9|c1.sinks.k1.exclude-protocols: names a protocol"; do
        printf '%s\n' "c1.sources = r1" "c1.channels = c1" "c1.sinks = k1" "c1.sources.r1.type = avro" \
            "c1.sources.r1.bind = 127.0.0.1" "c1.sources.r1.port = 1" "c1.sources.r1.channels = c1" \
            "c1.channels.c1.type = memory" "c1.sinks.k1.channel = c1" >"$f"
        case "$case" in *"c1.sinks.k1.type"*) ;; *) echo "c1.sinks.k1.type = null" >>"$f" ;; esac
        echo "${case%%|*}" >>"$f"
        rc=0
        "$SF_BIN" check -n c1 -f "$f" >"$WORK/chk.out" 2>&1 || rc=$?
        assert_eq 2 "$rc" "check exit code for [${case%%|*}]" || return
        assert_contains "$WORK/chk.out" "${case#*|}" "check message" || return
    done
    # a keystore its password does not open: the agent does not start, and says why
    certs || return
    rc=0
    timeout 20 "$SF_BIN" agent -n c1 -f <(printf '%s\n' "c1.sources = r1" "c1.channels = c1" \
        "c1.sinks = k1" "c1.sources.r1.type = avro" "c1.sources.r1.bind = 127.0.0.1" \
        "c1.sources.r1.port = $C_PORT" "c1.sources.r1.channels = c1" "c1.sources.r1.ssl = true" \
        "c1.sources.r1.keystore = $WORK/tls/keystore.p12" "c1.sources.r1.keystore-type = PKCS12" \
        "c1.sources.r1.keystore-password = wrong" "c1.channels.c1.type = memory" \
        "c1.sinks.k1.type = null" "c1.sinks.k1.channel = c1") >"$WORK/bad.log" 2>&1 || rc=$?
    [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] || { fail "agent with a wrong keystore password: exit $rc"; return; }
    assert_contains "$WORK/bad.log" "keystore.p12 is not a PKCS12 store this password opens" "the reason" || return
    pass
}

ALL="s_check s_ours s_untrusted s_python"
for s in ${*:-$ALL}; do
    "$s"
done
finish
