#!/usr/bin/python3
"""An independent reader of Hadoop SequenceFiles (version 6), written from the format's
description (Hadoop's SequenceFile class documentation), for the tests of the HDFS sink:

  header   "SEQ" + version byte 6; key class name and value class name, each a Hadoop Text
           string (a vint length, then UTF-8); a boolean (one byte) "compressed"; a boolean
           "blockCompressed"; if compressed, the codec class name (Text); the metadata: an int32
           count of pairs, then each key and value as Text; the 16-byte sync marker.
  records  (not block-compressed) int32 record length (key + value bytes), int32 key length,
           the key, the value (compressed by the codec alone when "compressed"). A record length
           of -1 is a sync escape: the 16 sync bytes follow (they must equal the header's).
  blocks   (block-compressed) a sync escape (int32 -1 and the sync marker) before every block,
           then the vint count of records and four buffers, each a vint length and that many
           bytes of codec-compressed data: the key lengths (vints), the keys, the value lengths
           (vints), the values.
  vints    Hadoop's WritableUtils: one byte -112..127 is the value; otherwise the first byte
           says how many big-endian bytes follow (-113..-120: positive, -121..-128: negative,
           stored as the one's complement).
  Integers are big-endian. Keys and values are decoded by class: LongWritable (8 bytes, signed),
  IntWritable (4 bytes), BytesWritable (int32 length + bytes), Text (vint length + UTF-8),
  NullWritable (nothing); others are given as hex. Codecs: DefaultCodec and DeflateCodec (zlib),
  GzipCodec (gzip members).

Prints one JSON object per record: {"key": K, "value": V}, where a bytes value that is not
UTF-8 becomes "value_base64" (and likewise "key_base64"). With --header, the first line is
{"header": {...}} (classes, compression, codec, metadata, sync as hex).
Usage: seqfile_read.py [--header] FILE   Exit status 1 with a message on a malformed file.
"""
import base64
import io
import json
import struct
import sys
import zlib

MAGIC = b"SEQ"
VERSION = 6


class Malformed(Exception):
    pass


class Reader:
    def __init__(self, data):
        self.buf = io.BytesIO(data)
        self.size = len(data)

    def at_end(self):
        return self.buf.tell() >= self.size

    def read(self, n):
        b = self.buf.read(n)
        if len(b) != n:
            raise Malformed("truncated at byte %d: %d bytes wanted, %d left"
                            % (self.buf.tell() - len(b), n, len(b)))
        return b

    def byte(self):
        return struct.unpack(">b", self.read(1))[0]

    def boolean(self):
        v = self.read(1)[0]
        if v not in (0, 1):
            raise Malformed("boolean byte %d at %d" % (v, self.buf.tell() - 1))
        return v == 1

    def int32(self):
        return struct.unpack(">i", self.read(4))[0]

    def vlong(self):
        first = self.byte()
        if first >= -112:
            return first
        negative = first < -120
        n = -(first + 120) if negative else -(first + 112)
        v = 0
        for b in self.read(n):
            v = (v << 8) | b
        return ~v if negative else v

    def text(self):
        n = self.vlong()
        if n < 0:
            raise Malformed("negative string length %d" % n)
        return self.read(n).decode("utf-8")


def decode(cls, raw):
    """(json value, is_bytes) of a serialized Writable of class cls."""
    r = Reader(raw)
    short = cls.rsplit(".", 1)[-1]
    if short == "LongWritable":
        v = struct.unpack(">q", r.read(8))[0]
    elif short == "IntWritable":
        v = struct.unpack(">i", r.read(4))[0]
    elif short == "BytesWritable":
        n = r.int32()
        return r.read(n), True
    elif short == "Text":
        n = r.vlong()
        return r.read(n), True
    elif short == "NullWritable":
        v = None
    else:
        return raw.hex(), False
    if not r.at_end():
        raise Malformed("%d bytes left after a %s" % (r.size - r.buf.tell(), short))
    return v, False


def decompressor(codec):
    short = codec.rsplit(".", 1)[-1]
    if short in ("DefaultCodec", "DeflateCodec"):
        return zlib.decompress
    if short == "GzipCodec":
        return lambda b: zlib.decompress(b, 16 + zlib.MAX_WBITS)
    raise Malformed("codec %s is not supported by this reader" % codec)


def put(rec, name, cls, raw):
    v, is_bytes = decode(cls, raw)
    if is_bytes:
        try:
            rec[name] = v.decode("utf-8")
        except UnicodeDecodeError:
            rec[name + "_base64"] = base64.b64encode(v).decode()
    else:
        rec[name] = v


def read_file(data):
    """The header (a dict) and the records [(key bytes, value bytes)], decompressed."""
    r = Reader(data)
    if r.read(3) != MAGIC:
        raise Malformed("not a SequenceFile (no \"SEQ\" magic)")
    version = r.read(1)[0]
    if version != VERSION:
        raise Malformed("version %d, this reader knows version %d" % (version, VERSION))
    h = {"version": version, "key_class": r.text(), "value_class": r.text()}
    h["compressed"] = r.boolean()
    h["block_compressed"] = r.boolean()
    if h["block_compressed"] and not h["compressed"]:
        raise Malformed("block-compressed but not compressed")
    h["codec"] = r.text() if h["compressed"] else None
    count = r.int32()
    if count < 0:
        raise Malformed("negative metadata count %d" % count)
    h["metadata"] = {}
    for _ in range(count):
        k = r.text()
        h["metadata"][k] = r.text()
    sync = r.read(16)
    h["sync"] = sync.hex()
    unpack = decompressor(h["codec"]) if h["compressed"] else None
    records = []

    def escape():
        if r.read(16) != sync:
            raise Malformed("sync marker at %d differs from the header's" % (r.buf.tell() - 16))

    while not r.at_end():
        length = r.int32()
        if length == -1:
            escape()
            if h["block_compressed"] and not r.at_end():
                records.extend(read_block(r, unpack))
            continue
        if h["block_compressed"]:
            raise Malformed("block-compressed file without a sync escape before a block")
        if length < 0:
            raise Malformed("negative record length %d" % length)
        klen = r.int32()
        if klen < 0 or klen > length:
            raise Malformed("key length %d, record length %d" % (klen, length))
        key = r.read(klen)
        value = r.read(length - klen)
        if unpack:
            value = unpack(value)
        records.append((key, value))
    return h, records


def read_block(r, unpack):
    n = r.vlong()
    bufs = []
    for _ in range(4):
        size = r.vlong()
        if size < 0:
            raise Malformed("negative buffer size %d" % size)
        bufs.append(unpack(r.read(size)))
    klens, keys, vlens, vals = (Reader(b) for b in bufs)
    out = []
    for _ in range(n):
        out.append((keys.read(klens.vlong()), vals.read(vlens.vlong())))
    for name, rd in (("key lengths", klens), ("keys", keys), ("value lengths", vlens),
                     ("values", vals)):
        if not rd.at_end():
            raise Malformed("block of %d records: bytes left in its %s buffer" % (n, name))
    return out


def main():
    args = sys.argv[1:]
    header = "--header" in args
    args = [a for a in args if a != "--header"]
    if len(args) != 1:
        sys.exit(__doc__.split("Usage: ")[1].splitlines()[0])
    with open(args[0], "rb") as f:
        data = f.read()
    try:
        h, records = read_file(data)
        lines = []
        for key, value in records:
            rec = {}
            put(rec, "key", h["key_class"], key)
            put(rec, "value", h["value_class"], value)
            lines.append(json.dumps(rec))
    except (Malformed, zlib.error, UnicodeDecodeError) as e:
        sys.exit("%s: %s" % (args[0], e))
    if header:
        print(json.dumps({"header": h}))
    for line in lines:
        print(line)


if __name__ == "__main__":
    main()
