#!/usr/bin/env python3
"""A stand-in for Flume's AvroSource (an AvroSourceProtocol server), independent of sqlflume's C
code: the handshake and the call/reply logic are Debian python3-avro's avro.ipc.Responder, the
datums avro.io; only the Netty framing is ours, in tests/support/avro_netty.py (written from
Avro Java's NettyTransportCodec format, shared with flume_avro_client.py).

  flume_avro_server.py --port N --out EVENTS.jsonl [--control FILE] [--deflate]

--deflate: every connection is zlib-compressed both ways (avro_netty.ZlibSocket), as a Flume
AvroSource with compression-type = deflate expects.
--tls-cert PEM --tls-key PEM: every connection is TLS (Python's ssl), under the zlib stream.

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
import socketserver
import ssl
import sys
import threading
import time

import avro.errors
import avro.io
import avro.ipc
import avro.protocol

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import avro_netty  # noqa: E402

PROTOCOL = avro.protocol.parse(json.dumps(avro_netty.PROTOCOL))
MAX_MESSAGE = avro_netty.MAX_MESSAGE
LOCK = threading.Lock()
ARGS = None
TLS = None


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


class Handler(socketserver.BaseRequestHandler):
    def handle(self):
        responder = ConnResponder()
        sock = self.request
        if TLS is not None:
            try:
                sock = TLS.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log("TLS handshake failed: %s" % e)
                return
        if ARGS.deflate:
            sock = avro_netty.ZlibSocket(sock)
        while True:
            try:
                msg = avro_netty.read_message(sock, MAX_MESSAGE)
            except avro_netty.TooLarge as e:
                log("%s: closing" % e)
                return
            if msg is None:
                return
            serial, payload = msg
            try:
                reply = responder.respond(payload)
            except Stall:
                return
            if not reply:
                log("empty reply (handshake failed?): closing")
                return
            sock.sendall(avro_netty.frame(serial, reply))


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--control")
    ap.add_argument("--deflate", action="store_true")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ARGS = ap.parse_args()
    global TLS
    if ARGS.tls_cert:
        TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        TLS.load_cert_chain(ARGS.tls_cert, ARGS.tls_key)
    srv = Server(("127.0.0.1", ARGS.port), Handler)
    log("listening on 127.0.0.1:%d" % ARGS.port)
    srv.serve_forever()


if __name__ == "__main__":
    main()
