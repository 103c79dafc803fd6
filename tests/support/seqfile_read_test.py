#!/usr/bin/python3
"""Tests of seqfile_read.py against SequenceFiles built here byte by byte from the format's
description (no writer of ours is involved): uncompressed LongWritable/BytesWritable records
with a sync escape and metadata, Text values (a two-byte vint length too), record-compressed
values (GzipCodec), block-compressed files (DefaultCodec: zlib buffers of key lengths, keys,
value lengths, values), and malformed files (a wrong sync marker, a truncated record, bad magic).
Run: tests/support/seqfile_read_test.py  (exit 0 when every case passes)."""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import zlib

READER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seqfile_read.py")
SYNC = bytes(range(0x10, 0x20))
LONG = b"\x21org.apache.hadoop.io.LongWritable"  # vint 33, then the name
BYTES = b"\x22org.apache.hadoop.io.BytesWritable"  # 34
TEXT = b"\x19org.apache.hadoop.io.Text"  # 25
failures = 0


def run(data, *flags):
    with tempfile.NamedTemporaryFile(suffix=".seq", delete=False) as f:
        f.write(data)
    try:
        p = subprocess.run([sys.executable, READER, *flags, f.name], capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    return p.returncode, [json.loads(l) for l in p.stdout.splitlines()] if p.returncode == 0 else [], p.stderr


def check(name, got, want):
    global failures
    if got == want:
        print("ok   " + name)
    else:
        failures += 1
        print("FAIL %s:\n  want %r\n  got  %r" % (name, want, got))


# 1. uncompressed, LongWritable -> BytesWritable, one metadata pair, a sync escape
data = (b"SEQ\x06" + LONG + BYTES + b"\x00" + b"\x00"
        + b"\x00\x00\x00\x01" + b"\x03foo" + b"\x03bar" + SYNC
        # record: length 17 = key 8 + value 9; key length 8; 0x0000019AE09C2F80; "hello"
        + b"\x00\x00\x00\x11" + b"\x00\x00\x00\x08" + b"\x00\x00\x01\x9a\xe0\x9c\x2f\x80"
        + b"\x00\x00\x00\x05hello"
        # record: key -1, value two bytes that are not UTF-8
        + b"\x00\x00\x00\x0e" + b"\x00\x00\x00\x08" + b"\xff" * 8 + b"\x00\x00\x00\x02\xff\xfe"
        # sync escape
        + b"\xff\xff\xff\xff" + SYNC
        # record: key 0, empty value
        + b"\x00\x00\x00\x0c" + b"\x00\x00\x00\x08" + b"\x00" * 8 + b"\x00\x00\x00\x00")
rc, out, err = run(data, "--header")
check("uncompressed exit", (rc, err), (0, ""))
check("uncompressed header", out[0]["header"] if out else None, {
    "version": 6, "key_class": "org.apache.hadoop.io.LongWritable",
    "value_class": "org.apache.hadoop.io.BytesWritable", "compressed": False,
    "block_compressed": False, "codec": None, "metadata": {"foo": "bar"}, "sync": SYNC.hex()})
check("uncompressed records", out[1:], [
    {"key": 0x0000019AE09C2F80, "value": "hello"}, {"key": -1, "value_base64": "//4="},
    {"key": 0, "value": ""}])

# 2. Text values (Flume's writeFormat = Text): "héllo" and 200 x's (vint 0x8f 0xc8)
data = (b"SEQ\x06" + LONG + TEXT + b"\x00\x00" + b"\x00\x00\x00\x00" + SYNC
        + b"\x00\x00\x00\x0f" + b"\x00\x00\x00\x08" + b"\x00" * 7 + b"\x07" + b"\x06h\xc3\xa9llo"
        + b"\x00\x00\x00\xd2" + b"\x00\x00\x00\x08" + b"\x00" * 7 + b"\x08" + b"\x8f\xc8" + b"x" * 200)
rc, out, err = run(data)
check("text values", (rc, out), (0, [{"key": 7, "value": "h\u00e9llo"}, {"key": 8, "value": "x" * 200}]))

# 3. record-compressed with GzipCodec: each value gzip'd alone, keys as they are
gz = gzip.compress(b"\x00\x00\x00\x03abc")
codec = b"\x27org.apache.hadoop.io.compress.GzipCodec"  # 39
assert len(codec) == 40 and 8 + len(gz) < 128
data = (b"SEQ\x06" + LONG + BYTES + b"\x01\x00" + codec + b"\x00\x00\x00\x00" + SYNC
        + b"\x00\x00\x00" + bytes([8 + len(gz)]) + b"\x00\x00\x00\x08" + b"\x00" * 7 + b"\x2a" + gz)
rc, out, err = run(data)
check("record-compressed gzip", (rc, out, err), (0, [{"key": 42, "value": "abc"}], ""))

# 4. block-compressed with DefaultCodec (zlib), two blocks each after a sync escape
codec = b"\x2aorg.apache.hadoop.io.compress.DefaultCodec"  # 42
assert len(codec) == 43


def buf(raw):
    z = zlib.compress(raw)
    assert len(z) < 128  # a one-byte vint
    return bytes([len(z)]) + z


block1 = (b"\x02" + buf(b"\x08\x08") + buf(b"\x00" * 7 + b"\x01" + b"\x00" * 7 + b"\x02")
          + buf(b"\x09\x0a") + buf(b"\x00\x00\x00\x05hello" + b"\x00\x00\x00\x06world!"))
block2 = (b"\x01" + buf(b"\x08") + buf(b"\x00" * 7 + b"\x03") + buf(b"\x05")
          + buf(b"\x00\x00\x00\x01z"))
data = (b"SEQ\x06" + LONG + BYTES + b"\x01\x01" + codec + b"\x00\x00\x00\x00" + SYNC
        + b"\xff\xff\xff\xff" + SYNC + block1 + b"\xff\xff\xff\xff" + SYNC + block2)
rc, out, err = run(data)
check("block-compressed", (rc, out, err), (0, [
    {"key": 1, "value": "hello"}, {"key": 2, "value": "world!"}, {"key": 3, "value": "z"}], ""))

# 5. malformed files fail with a message
good = b"SEQ\x06" + LONG + BYTES + b"\x00\x00\x00\x00\x00\x00" + SYNC
rc, out, err = run(good + b"\xff\xff\xff\xff" + bytes(16))
check("wrong sync marker", (rc, "differs from the header's" in err), (1, True))
rc, out, err = run(good + b"\x00\x00\x00\x11\x00\x00\x00\x08" + b"\x00" * 8)
check("truncated record", (rc, "truncated" in err), (1, True))
rc, out, err = run(b"SEQ\x05" + good[4:])
check("old version", (rc, "version 5" in err), (1, True))
rc, out, err = run(b"PAR1")
check("not a SequenceFile", (rc, "magic" in err), (1, True))
rc, out, err = run(good)
check("no records", (rc, out), (0, []))

print("seqfile_read tests: %s" % ("all passed" if not failures else "%d failed" % failures))
sys.exit(1 if failures else 0)
