#!/usr/bin/env python3
"""An AvroSink stand-in, independent of sqlflume's C code: the handshake and the call/reply logic
are Debian python3-avro's avro.ipc.Requestor (which sends the handshake with every call), the
datums avro.io, the Netty framing tests/support/avro_netty.py. Also reads back what a file_roll
sink wrote with the avro_event serializer (avro.datafile), to check it.

  flume_avro_client.py send --port N [--host H] --count C [--first F] [--batch K]
                            [--big I:BYTES] [--tag T] [--retry-seconds S] [--deflate]
      sends events F..F+C-1 (see event()) as appendBatch calls of K events (K = 0: one append
      call per event); a FAILED answer or a broken connection sends the same call again (new
      connection) until S seconds pass. Prints {"sent": C, "failed": N, "reconnects": R}.
      --deflate: the connection is zlib-compressed both ways (avro_netty.ZlibSocket).
      --tls-ca PEM: TLS (Python's ssl), the server's certificate checked against PEM.
  flume_avro_client.py verify --dir D --count C [--first F] [--big I:BYTES] [--tag T]
      reads every file of D (or the JSON lines file D) and prints "events=E lost=L dup=D bad=B" against the same events.
  flume_avro_client.py rows --dir D --table T --first A --last B
      the SQL rows of tests/integration/avro_source.sh (ids A..B less every 7th; v NULL for every
      10th): prints "events=E distinct=N lost=L dup=D extra=X bad=B".
"""
import argparse
import collections
import json
import os
import random
import sys
import time

import avro.datafile
import avro.errors
import avro.io
import avro.ipc
import avro.protocol

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import avro_netty  # noqa: E402

PROTOCOL = avro.protocol.parse(json.dumps(avro_netty.PROTOCOL))


def event(i, tag, big):
    """Event i: headers with text outside ASCII, a body of every byte value, (i * 37) % 300 bytes
    long, or big[i] bytes."""
    n = big.get(i, (i * 37) % 300)
    rnd = random.Random(i)
    body = bytes(rnd.getrandbits(8) for _ in range(min(n, 4096)))
    if n > 4096:
        body = (body * (n // 4096 + 1))[:n]
    return {"headers": {"seq": str(i), "tag": tag, "text": "é ✓ \u00ff %d" % i}, "body": body}


def parse_big(vals):
    big = {}
    for v in vals or []:
        i, n = v.split(":")
        big[int(i)] = int(n)
    return big


class Client:
    def __init__(self, host, port, deflate=False, tls_ca=None):
        self.host, self.port, self.deflate, self.tls_ca = host, port, deflate, tls_ca
        self.tr = None
        self.req = None
        self.reconnects = 0

    def call(self, name, datum):
        if self.tr is None:
            self.tr = avro_netty.NettyTransceiver(self.host, self.port, deflate=self.deflate,
                                                 tls_ca=self.tls_ca)
            self.req = avro.ipc.Requestor(PROTOCOL, self.tr)
        return self.req.request(name, datum)

    def drop(self):
        if self.tr is not None:
            self.tr.close()
        self.tr = None
        self.reconnects += 1


def cmd_send(a):
    big = parse_big(a.big)
    cl = Client(a.host, a.port, a.deflate, a.tls_ca)
    failed = 0
    evs = [event(i, a.tag, big) for i in range(a.first, a.first + a.count)]
    step = a.batch if a.batch > 0 else 1
    for at in range(0, len(evs), step):
        chunk = evs[at:at + step]
        name, datum = ("appendBatch", {"events": chunk}) if a.batch > 0 else \
            ("append", {"event": chunk[0]})
        end = time.time() + a.retry_seconds
        while True:
            try:
                st = cl.call(name, datum)
                if st == "OK":
                    break
                failed += 1
            except (OSError, ConnectionError, avro.errors.AvroException) as e:
                print("flume_avro_client: %s: %s; again" % (name, e), file=sys.stderr)
                cl.drop()
            if time.time() > end:
                print("flume_avro_client: gave up after %d s" % a.retry_seconds, file=sys.stderr)
                return 1
            time.sleep(0.2)
    print(json.dumps({"sent": len(evs), "failed": failed, "reconnects": cl.reconnects}))
    return 0


def read_dir(d):
    """The records of every avro_event file of d; a file cut short (its agent was killed while
    writing: the events of its last block were not committed, so they are sent again) ends at
    its last whole block, with a note. A JSON-lines file (flume_avro_server.py's --out) instead
    when d is a file: body as latin-1 text."""
    if os.path.isfile(d):
        for line in open(d):
            ev = json.loads(line)
            yield {"headers": ev["headers"], "body": ev["body"].encode("latin-1")}
        return
    for name in sorted(os.listdir(d)):
        with open(os.path.join(d, name), "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                continue
            n = 0
            try:
                for rec in avro.datafile.DataFileReader(f, avro.io.DatumReader()):
                    n += 1
                    yield rec
            except (avro.errors.AvroException, EOFError, AssertionError, ValueError) as e:
                print("flume_avro_client: %s: cut short after %d records (%s)" % (name, n, e),
                      file=sys.stderr)


def cmd_verify(a):
    big = parse_big(a.big)
    seen, bad, total = collections.Counter(), 0, 0
    for rec in read_dir(a.dir):
        total += 1
        try:
            i = int(rec["headers"]["seq"])
            want = event(i, a.tag, big)
            if rec["headers"] != want["headers"] or rec["body"] != want["body"]:
                raise ValueError("differs")
            seen[i] += 1
        except (KeyError, ValueError) as e:
            bad += 1
            if bad < 5:
                print("bad event %r: %s" % (str(rec)[:200], e), file=sys.stderr)
    want = set(range(a.first, a.first + a.count))
    lost = len(want - set(seen))
    dup = sum(c - 1 for c in seen.values() if c > 1)
    bad += len(set(seen) - want)
    print("events=%d lost=%d dup=%d bad=%d" % (total, lost, dup, bad))
    return 0


def cmd_rows(a):
    seen, bad, total = collections.Counter(), 0, 0
    for rec in read_dir(a.dir):
        total += 1
        try:
            row = json.loads(rec["body"].decode("utf-8"))
            h = rec["headers"]
            i = int(row["id"])
            v = None if i % 10 == 0 else "row-%d" % i
            if row["v"] != v or h["table"] != a.table or h["offset"] != str(i) \
                    or h["key"] != str(i) or not h["timestamp"].isdigit():
                raise ValueError("differs")
            seen[i] += 1
        except (KeyError, ValueError) as e:
            bad += 1
            if bad < 5:
                print("bad event %r: %s" % (str(rec)[:200], e), file=sys.stderr)
    want = set(i for i in range(a.first, a.last + 1) if i % 7 != 0)
    print("events=%d distinct=%d lost=%d dup=%d extra=%d bad=%d" % (
        total, len(set(seen) & want), len(want - set(seen)),
        sum(c - 1 for c in seen.values() if c > 1), len(set(seen) - want), bad))
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--retry-seconds", type=float, default=60)
    s.add_argument("--batch", type=int, default=100)
    s.add_argument("--deflate", action="store_true")
    s.add_argument("--tls-ca")
    v = sub.add_parser("verify")
    v.add_argument("--dir", required=True)
    for p in (s, v):
        p.add_argument("--count", type=int, required=True)
        p.add_argument("--first", type=int, default=0)
        p.add_argument("--big", action="append")
        p.add_argument("--tag", default="t")
    r = sub.add_parser("rows")
    r.add_argument("--dir", required=True)
    r.add_argument("--table", required=True)
    r.add_argument("--first", type=int, required=True)
    r.add_argument("--last", type=int, required=True)
    a = ap.parse_args()
    return {"send": cmd_send, "verify": cmd_verify, "rows": cmd_rows}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
