#!/usr/bin/python3
"""Independent readers of Avro container files of Flume's Event records, for
tests/unit/format/test_serializer.c: dump every record as

    R <nheaders> <bodylen>\n  then per header  <klen> <vlen>\n KEY VALUE  then the body

(lengths in bytes, keys and values UTF-8) to OUT, and print "codec=C records=N" on stdout.
  avro_dump.py python FILE OUT    python3-avro's DataFileReader (Debian's /usr/bin/python3)
  avro_dump.py avrocat FILE OUT   avro-c's avrocat, whose JSON lines are parsed here (Avro's JSON
                                  encoding of bytes: one code point 0-255 per byte)
"""
import json
import os
import subprocess
import sys

import snappy  # noqa: F401  Debian's python3-snappy: python3-avro's snappy codec needs it


def emit(out, headers, body):
    out.write(b"R %d %d\n" % (len(headers), len(body)))
    for k, v in headers:
        kb, vb = k.encode("utf-8"), v.encode("utf-8")
        out.write(b"%d %d\n" % (len(kb), len(vb)) + kb + vb)
    out.write(body)


def main():
    mode, path, dump = sys.argv[1:4]
    n = 0
    with open(dump, "wb") as out:
        if mode == "python":
            import avro.datafile
            import avro.io

            with open(path, "rb") as f:
                r = avro.datafile.DataFileReader(f, avro.io.DatumReader())
                codec = r.get_meta("avro.codec").decode()
                schema = json.loads(r.get_meta("avro.schema").decode())
                if schema.get("name") != "Event":
                    raise SystemExit("schema is not Flume's Event: %r" % schema)
                for rec in r:
                    emit(out, list(rec["headers"].items()), rec["body"])
                    n += 1
        else:
            p = subprocess.run(["avrocat", path], stdout=subprocess.PIPE, check=True)
            codec = "?"
            for line in p.stdout.decode("utf-8").splitlines():
                if not line.strip():
                    continue
                rec = json.loads(line)
                emit(out, list(rec["headers"].items()), rec["body"].encode("latin-1"))
                n += 1
    print("codec=%s records=%d" % (codec, n))


main()
