"""Avro Java's Netty framing (NettyTransportCodec), written from that format, shared by the test
peers tests/support/flume_avro_server.py and tests/support/flume_avro_client.py: every integer
a big-endian int32: the serial (matches a reply to its call), the number of frames, then per
frame its length and its bytes; senders split a message into frames of at most 8192 bytes. Also
Flume's AvroSourceProtocol (flume.avdl) as the JSON both peers parse with avro.protocol.
ZlibSocket: compression-type = deflate as Netty's ZlibEncoder/ZlibDecoder do it (one zlib
stream each way over the whole connection, each write sync-flushed), on Python's zlib."""
import socket
import ssl
import struct
import zlib

MAX_MESSAGE = 64 * 1024 * 1024
FRAME_BYTES = 8192
PROTOCOL = {
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
                        "response": "Status"}}}


class TooLarge(Exception):
    pass


class ZlibSocket:
    """A socket's recv/sendall through zlib: what is sent is compressed (level) and flushed
    with Z_SYNC_FLUSH at every sendall, what is received is decompressed."""

    def __init__(self, sock, level=6):
        self.sock = sock
        self.comp = zlib.compressobj(level, zlib.DEFLATED, 15)
        self.decomp = zlib.decompressobj(15)
        self.pending = b""

    def sendall(self, data):
        self.sock.sendall(self.comp.compress(data) + self.comp.flush(zlib.Z_SYNC_FLUSH))

    def recv(self, n):
        while not self.pending:
            raw = self.sock.recv(65536)
            if not raw:
                return b""
            self.pending = self.decomp.decompress(raw)
        out, self.pending = self.pending[:n], self.pending[n:]
        return out

    def close(self):
        self.sock.close()


def read_exact(sock, n):
    """n bytes from sock, or None when it closes first."""
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            return None
        data += chunk
    return bytes(data)


def read_message(sock, max_message=MAX_MESSAGE):
    """(serial, payload) of the next message, None at end of stream; raises TooLarge when its
    frame header takes it over max_message (before reading the rest)."""
    head = read_exact(sock, 8)
    if head is None:
        return None
    serial, count = struct.unpack(">ii", head)
    if count < 0 or 8 + 4 * count > max_message:
        raise TooLarge("frame count %d over the limit" % count)
    parts, size = [], 8 + 4 * count
    for _ in range(count):
        raw = read_exact(sock, 4)
        if raw is None:
            return None
        (n,) = struct.unpack(">i", raw)
        size += n
        if n < 0 or size > max_message:
            raise TooLarge("frame length %d over the limit" % n)
        part = read_exact(sock, n)
        if part is None:
            return None
        parts.append(part)
    return serial, b"".join(parts)


def frame(serial, payload):
    """The framed bytes of one message."""
    chunks = [payload[i:i + FRAME_BYTES] for i in range(0, len(payload), FRAME_BYTES)] or [b""]
    out = [struct.pack(">ii", serial, len(chunks))]
    for c in chunks:
        out.append(struct.pack(">i", len(c)))
        out.append(c)
    return b"".join(out)


class NettyTransceiver:
    """An avro.ipc transceiver (transceive(request) -> reply) over one TCP connection."""

    def __init__(self, host, port, timeout=30.0, deflate=False, tls_ca=None):
        """tls_ca: TLS (Python's ssl), the server's certificate checked against that PEM file
        and its host name against host."""
        self.remote_name = "%s:%d" % (host, port)
        self.sock = socket.create_connection((host, port), timeout=timeout)
        if tls_ca:
            ctx = ssl.create_default_context(cafile=tls_ca)
            self.sock = ctx.wrap_socket(self.sock, server_hostname=host)
        if deflate:
            self.sock = ZlibSocket(self.sock)
        self.serial = 0

    def transceive(self, request):
        self.serial += 1
        self.sock.sendall(frame(self.serial, request))
        msg = read_message(self.sock)
        if msg is None:
            raise ConnectionError("the server closed the connection")
        serial, reply = msg
        if serial != self.serial:
            raise ConnectionError("reply serial %d, expected %d" % (serial, self.serial))
        return reply

    def close(self):
        self.sock.close()
