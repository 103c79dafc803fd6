#!/usr/bin/env bash
# Self-test of tests/support/webhdfs_server.py with curl: every operation, the redirects, the
# RemoteException errors and the injected faults.
#   tests/support/webhdfs_selftest.sh NN_PORT DN_PORT
set -u
NN=$1
DN=$2
DIR=$(mktemp -d /tmp/webhdfs-selftest.XXXXXX)
FAILS=0
/usr/bin/python3 "$(dirname "$0")/webhdfs_server.py" --root "$DIR/root" --nn-port "$NN" --dn-port "$DN" >"$DIR/out" 2>"$DIR/err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DIR"' EXIT
for _ in $(seq 1 50); do grep -q READY "$DIR/out" && break; sleep 0.1; done
grep -q "READY nn=$NN dn=$DN" "$DIR/out" || { echo "server did not start"; cat "$DIR/err"; exit 1; }

B="http://127.0.0.1:$NN/webhdfs/v1"
U="user.name=sqlflume"
# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: expected [$2], got [$3]"; FAILS=$((FAILS + 1)); fi
}
# code METHOD URL [curl args]: the HTTP status
code() { local m=$1 u=$2; shift 2; curl -s -o "$DIR/body" -w '%{http_code}' -X "$m" "$u" "$@"; }
exc() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["RemoteException"]["exception"])' "$DIR/body"; }
jget() { /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))
for k in sys.argv[2].split("."): d = d[int(k)] if k.isdigit() else d[k]
print(json.dumps(d) if isinstance(d, bool) else d)' "$DIR/body" "$1"; }

check "mkdirs" 200 "$(code PUT "$B/a/b?op=MKDIRS&$U")"
check "mkdirs answer" true "$(jget boolean)"
# CREATE: 307 from the namenode without reading data, then the data to the datanode
check "create redirect" 307 "$(code PUT "$B/a/b/f1.tmp?op=CREATE&$U")"
loc=$(curl -s -o /dev/null -w '%{redirect_url}' -X PUT "$B/a/b/f1.tmp?op=CREATE&$U")
case "$loc" in "http://127.0.0.1:$DN/webhdfs/v1/a/b/f1.tmp?"*namenoderpcaddress=*) check "datanode location" ok ok ;;
*) check "datanode location" "http://127.0.0.1:$DN/..." "$loc" ;; esac
printf 'hello ' >"$DIR/d1"
check "create data" 201 "$(code PUT "$loc" -T "$DIR/d1")"
# followed by curl itself (-L keeps the method and the body)
check "create exists" 403 "$(code PUT "$B/a/b/f1.tmp?op=CREATE&$U" -L -T "$DIR/d1")"
check "create exists exception" FileAlreadyExistsException "$(exc)"
# noredirect=true: 200 with a JSON Location
check "append noredirect" 200 "$(code POST "$B/a/b/f1.tmp?op=APPEND&noredirect=true&$U")"
loc=$(jget Location)
printf 'world\n' | curl -s -o /dev/null -w '%{http_code}' -X POST -T - "$loc" >"$DIR/c"
check "append data (chunked)" 200 "$(cat "$DIR/c")"
check "open" "hello world" "$(curl -s -L "$B/a/b/f1.tmp?op=OPEN&$U")"
check "open offset length" "world" "$(curl -s -L "$B/a/b/f1.tmp?op=OPEN&offset=6&length=5&$U")"
check "append to a missing file" 404 "$(code POST "$B/a/b/nope?op=APPEND&$U")"
check "append missing exception" FileNotFoundException "$(exc)"
check "getfilestatus" 200 "$(code GET "$B/a/b/f1.tmp?op=GETFILESTATUS&$U")"
check "length" 12 "$(jget FileStatus.length)"
check "type" FILE "$(jget FileStatus.type)"
check "status of a missing file" 404 "$(code GET "$B/a/zz?op=GETFILESTATUS&$U")"
check "missing exception" FileNotFoundException "$(exc)"
# RENAME: true, then false for a missing source and for an existing destination
check "rename" 200 "$(code PUT "$B/a/b/f1.tmp?op=RENAME&destination=/a/b/f1&$U")"
check "rename answer" true "$(jget boolean)"
check "rename missing source" false "$(code PUT "$B/a/b/f1.tmp?op=RENAME&destination=/a/b/f2&$U" >/dev/null; jget boolean)"
curl -s -L -X PUT -T "$DIR/d1" "$B/a/b/f2?op=CREATE&$U" >/dev/null
check "rename onto an existing file" false "$(code PUT "$B/a/b/f2?op=RENAME&destination=/a/b/f1&$U" >/dev/null; jget boolean)"
check "rename into a directory" true "$(code PUT "$B/a/b/f2?op=RENAME&destination=/a&$U" >/dev/null; jget boolean)"
check "liststatus" 200 "$(code GET "$B/a?op=LISTSTATUS&$U")"
check "listed" "b f2" "$(/usr/bin/python3 -c 'import json,sys; print(" ".join(s["pathSuffix"] for s in json.load(open(sys.argv[1]))["FileStatuses"]["FileStatus"]))' "$DIR/body")"
# TRUNCATE
check "truncate" true "$(code POST "$B/a/b/f1?op=TRUNCATE&newlength=5&$U" >/dev/null; jget boolean)"
check "truncated" "hello" "$(curl -s -L "$B/a/b/f1?op=OPEN&$U")"
check "truncate longer" 400 "$(code POST "$B/a/b/f1?op=TRUNCATE&newlength=50&$U")"
# DELETE
check "delete non-empty" 403 "$(code DELETE "$B/a?op=DELETE&$U")"
check "delete non-empty exception" PathIsNotEmptyDirectoryException "$(exc)"
check "delete file" true "$(code DELETE "$B/a/f2?op=DELETE&$U" >/dev/null; jget boolean)"
check "delete missing" false "$(code DELETE "$B/a/f2?op=DELETE&$U" >/dev/null; jget boolean)"
check "delete recursive" true "$(code DELETE "$B/a?op=DELETE&recursive=true&$U" >/dev/null; jget boolean)"
check "bad op" 400 "$(code GET "$B/?op=FROB&$U")"
check "bad op exception" IllegalArgumentException "$(exc)"
# faults: namenode 503 for 1 s
check "fault nn503" 200 "$(code POST "http://127.0.0.1:$NN/control?fault=nn503&seconds=1")"
check "namenode 503" 503 "$(code GET "$B/?op=LISTSTATUS&$U")"
check "503 exception" RetriableException "$(exc)"
sleep 1.2
check "namenode back" 200 "$(code GET "$B/?op=LISTSTATUS&$U")"
# datanode refusing connections
code POST "http://127.0.0.1:$NN/control?fault=dn_refuse&on=true" >/dev/null
curl -s -L -X PUT -T "$DIR/d1" "$B/r?op=CREATE&$U" >/dev/null
check "datanode refused (curl exit 7)" 7 "$?"
code POST "http://127.0.0.1:$NN/control?fault=dn_refuse&on=false" >/dev/null
check "datanode back" 201 "$(code PUT "$B/r?op=CREATE&$U" -L -T "$DIR/d1")"
# slow datanode
code POST "http://127.0.0.1:$NN/control?fault=dn_delay&seconds=1" >/dev/null
curl -s -m 0.5 -L "$B/r?op=OPEN&$U" >/dev/null
check "slow datanode times out (curl exit 28)" 28 "$?"
code POST "http://127.0.0.1:$NN/control?fault=clear" >/dev/null
check "after clear" "hello " "$(curl -s -m 5 -L "$B/r?op=OPEN&$U")"
# a slow datanode for APPEND only: OPEN answers at once, APPEND times out
code POST "http://127.0.0.1:$NN/control?fault=dn_delay&seconds=1&op=APPEND" >/dev/null
check "op=APPEND: OPEN not delayed" "hello " "$(curl -s -m 0.5 -L "$B/r?op=OPEN&$U")"
curl -s -m 0.5 -L -X POST --data-binary x "$B/r?op=APPEND&$U" >/dev/null
check "op=APPEND: APPEND times out (curl exit 28)" 28 "$?"
code POST "http://127.0.0.1:$NN/control?fault=clear" >/dev/null
sleep 1 # the late APPEND lands
check "the late APPEND" "hello x" "$(curl -s -m 5 -L "$B/r?op=OPEN&$U")"
# dn_refuse shuts a kept-alive connection to the datanode too
check "dn_refuse on a kept-alive connection" "ok refused" "$(/usr/bin/python3 - "$DN" "$NN" "$U" <<'PY'
import http.client, sys
dn, nn, u = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", dn, timeout=5)
c.request("GET", "/webhdfs/v1/r?op=OPEN&%s&namenoderpcaddress=127.0.0.1:%d" % (u, nn))
first = "ok" if c.getresponse().read() == b"hello x" else "bad"
ctl = http.client.HTTPConnection("127.0.0.1", nn, timeout=5)
ctl.request("POST", "/control?fault=dn_refuse&on=true")
ctl.getresponse().read()
try:
    c.request("GET", "/webhdfs/v1/r?op=OPEN&%s&namenoderpcaddress=127.0.0.1:%d" % (u, nn))
    c.getresponse().read()
    second = "served"
except (OSError, http.client.HTTPException):
    second = "refused"
ctl.request("POST", "/control?fault=dn_refuse&on=false")
ctl.getresponse().read()
print(first, second)
PY
)"
# a file being written cannot be written by another client
loc=$(curl -s -o /dev/null -w '%{redirect_url}' -X PUT "$B/w?op=CREATE&$U")
( { printf 'part'; sleep 1; printf 'rest'; } | curl -s -o /dev/null -X PUT -T - "$loc" ) &
writer=$!
sleep 0.5
check "create while being written" 403 "$(code PUT "$B/w?op=CREATE&overwrite=true&$U" -L -T "$DIR/d1")"
check "being written exception" AlreadyBeingCreatedException "$(exc)"
wait $writer
check "written" "partrest" "$(curl -s -L "$B/w?op=OPEN&$U")"

if [ "$FAILS" -eq 0 ]; then echo "webhdfs self-test: all passed"; else echo "webhdfs self-test: $FAILS failed"; exit 1; fi
