#!/usr/bin/env python3
"""A stand-in for Flume's AvroSource (an AvroSourceProtocol server), independent of sqlflume's C
code: the handshake and the call/reply logic are Debian python3-avro's avro.ipc.Responder, the
datums avro.io; only the Netty framing (Avro Java's NettyTransportCodec: big-endian int32 serial,
int32 frame count, then per frame int32 length + bytes) is written here, from that format.

  flume_avro_server.py --port N --out EVENTS.jsonl [--control FILE] [--port-file F]

Like a Netty connection, the handshake is expected on a connection's first call only; it checks
that the client's clientHash is the MD5 of the clientProtocol text it sent. Each event accepted is
one JSON line {"headers": {...}, "body": "<latin-1 text of the bytes>"} appended to EVENTS and
flushed before the OK is written. The control file's first word is read at every call:
  ok (or no file)  answer OK
  failed           answer FAILED (the events are not recorded)
  error            answer an error (AvroRemoteException)
  stall            do not answer while the word is stall, then close the connection
  close            close the connection without an answer
"""
import argparse
import hashlib
import json
import os
import socket
import socketserver
import struct
import sys
import threading
import time

import avro.errors
import avro.io
import avro.ipc
import avro.protocol

PROTOCOL = avro.protocol.parse(json.dumps({
    "protocol": "AvroSourceProtocol", "namespace": "org.apache.flume.source.avro",
    "types": [
        {"type": "enum", "name": "Status", "symbols": ["OK", "FAILED", "UNKNOWN"]},
        {"type": "record", "name": "AvroFlumeEvent", "fields": [
            {"name": "headers", "type": {"type": "map", "values": "string"}},
            {"name": "body", "type": "bytes"}]}],
    "messages": {
        "append": {"request": [{"name": "event", "type": "AvroFlumeEvent"}], "response": "Status"},
        "appendBatch": {"request": [{"name": "events", "type": {"type": "array",
                                                                "items": "AvroFlumeEvent"}}],
                        "response": "Status"}}}))
MAX_MESSAGE = 64 * 1024 * 1024
LOCK = threading.Lock()
ARGS = None


def log(msg):
    print("flume_avro_server: " + msg, file=sys.stderr, flush=True)


def control():
    try:
        with open(ARGS.control) as f:
            return (f.read().split() or ["ok"])[0]
    except (OSError, TypeError):
        return "ok"


class Stall(Exception):
    pass


class ConnResponder(avro.ipc.Responder):
    """One per connection: the handshake of the first call is remembered for the next ones."""

    def __init__(self):
        super().__init__(PROTOCOL)
        self.remote = None

    def process_handshake(self, decoder, encoder):
        if self.remote is not None:
            return self.remote
        pos = decoder.reader.tell()
        req = avro.ipc.HANDSHAKE_RESPONDER_READER.read(decoder)
        if req.get("clientProtocol") is not None:
            md5 = hashlib.md5(req["clientProtocol"].encode("utf-8")).digest()
            if md5 != req["clientHash"]:
                raise avro.errors.AvroException("clientHash is not the MD5 of clientProtocol")
        decoder.reader.seek(pos)
        self.remote = super().process_handshake(decoder, encoder)
        return self.remote

    def invoke(self, message, request):
        mode = control()
        if mode == "stall":
            while control() == "stall":
                time.sleep(0.05)
            raise Stall()
        if mode == "close":
            raise Stall()
        if mode == "failed":
            return "FAILED"
        if mode == "error":
            raise avro.errors.AvroRemoteException("told to fail")
        events = request["events"] if message.name == "appendBatch" else [request["event"]]
        with LOCK:
            with open(ARGS.out, "a") as f:
                for ev in events:
                    f.write(json.dumps({"headers": ev["headers"],
                                        "body": ev["body"].decode("latin-1")}) + "\n")
                f.flush()
                os.fsync(f.fileno())
        return "OK"


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return data


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        responder = ConnResponder()
        sock = self.request
        while True:
            head = read_exact(sock, 8)
            if head is None:
                return
            serial, count = struct.unpack(">ii", head)
            if count < 0 or 8 + 4 * count > MAX_MESSAGE:
                log("frame count %d over the limit: closing" % count)
                return
            parts, size = [], 8 + 4 * count
            for _ in range(count):
                raw = read_exact(sock, 4)
                if raw is None:
                    return
                (n,) = struct.unpack(">i", raw)
                size += n
                if n < 0 or size > MAX_MESSAGE:
                    log("frame length %d over the limit: closing" % n)
                    return
                part = read_exact(sock, n)
                if part is None:
                    return
                parts.append(part)
            try:
                reply = responder.respond(b"".join(parts))
            except Stall:
                return
            if not reply:
                log("empty reply (handshake failed?): closing")
                return
            out = struct.pack(">ii", serial, 1) + struct.pack(">i", len(reply)) + reply
            sock.sendall(out)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--control")
    ARGS = ap.parse_args()
    srv = Server(("127.0.0.1", ARGS.port), Handler)
    log("listening on 127.0.0.1:%d" % ARGS.port)
    srv.serve_forever()


if __name__ == "__main__":
    main()
