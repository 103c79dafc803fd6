#!/usr/bin/python3
"""Independent readers of Avro container files of table rows (the SQL source's format = avro
written by the avro serializer), for tests/unit/format/test_avro_row.c and
tests/integration/avro_rows.sh. Prints one line per record, a JSON object of the record's fields
in schema order with every value normalised to text:

    decimal -> str(Decimal) with the schema's scale, date / time -> ISO, timestamp -> ISO in UTC
    ("2024-01-01T00:00:00.000001+00:00"), bytes -> hex, float / double -> repr() of the Python
    float (nan, inf), boolean -> true/false, string -> itself, NULL -> null

  avro_rows_dump.py python FILE...    python3-avro's DataFileReader, which applies the logical
                                      types itself (Decimal, date, time, datetime)
  avro_rows_dump.py avrocat FILE...   avro-c (avro-bin): avropipe's values and avrocat's JSON
                                      for the floats (see avroc_records); the logical types are
                                      applied here from the file's schema (which python3-avro's
                                      reader gives, only the schema text)
A first line "schema NAME FIELD:TYPE..." names the record and the fields' types (logical type
when there is one) of each file.
"""
import datetime
import decimal
import json
import subprocess
import sys

import snappy  # noqa: F401  Debian's python3-snappy: python3-avro's snappy codec needs it

decimal.getcontext().prec = 1000
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def field_type(f):
    t = [x for x in f["type"] if x != "null"][0]
    return t if isinstance(t, str) else t.get("logicalType", t["type"])


def norm(t, v):
    """A python3-avro value of logical/primitive type t as text."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, decimal.Decimal):
        return str(v)
    if isinstance(v, datetime.datetime):
        return v.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(v, (datetime.date, datetime.time)):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.hex()
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int) and t in ("date",):
        return (datetime.date(1970, 1, 1) + datetime.timedelta(days=v)).isoformat()
    return str(v) if not isinstance(v, str) else v


def from_avroc(f, branch, raw, cat):
    """A value of field f (its schema) as avropipe printed it (raw: its JSON text; strings and
    bytes one code point per byte), as text with the logical types applied here; floats from
    avrocat's record cat (None when avrocat has none: avropipe's nan/inf are exact)."""
    if branch is None:
        return None
    t = [x for x in f["type"] if x != "null"][0]
    lt = t.get("logicalType") if isinstance(t, dict) else None
    if branch in ("bytes", "string"):
        raw_b = json.loads(raw).encode("latin-1")
        if branch == "string":
            return raw_b.decode("utf-8")
        if lt == "decimal":
            n = int.from_bytes(raw_b, "big", signed=True)
            return str(decimal.Decimal(n).scaleb(-t["scale"]))
        return raw_b.hex()
    if branch in ("float", "double"):
        if cat is not None:
            return repr(float(cat[f["name"]][branch]))
        return repr(float(raw))  # nan, inf, -inf
    if branch == "boolean":
        return raw
    v = int(raw)
    if lt == "date":
        return (datetime.date(1970, 1, 1) + datetime.timedelta(days=v)).isoformat()
    if lt == "time-micros":
        return (datetime.datetime(2000, 1, 1) + datetime.timedelta(microseconds=v)).time().isoformat()
    if lt == "timestamp-micros":
        return (EPOCH + datetime.timedelta(microseconds=v)).isoformat()
    return str(v)


def avroc_records(path, fields):
    """The records of path through avro-c: avropipe for every value (avrocat's JSON cuts bytes at
    a NUL), avrocat for the exact digits of floats (avropipe prints %f); avrocat skips a record
    with NaN or an infinity ("Cannot allocate JSON float"), whose floats avropipe has exactly."""
    pipe = subprocess.run(["avropipe", path], check=True, capture_output=True).stdout.decode()
    cat = [json.loads(x) for x in subprocess.run(
        ["avrocat", path], check=True, capture_output=True).stdout.decode().splitlines()]
    recs = {}
    for line in pipe.splitlines():
        pathpart, _, raw = line.partition("\t")
        parts = pathpart.split("/")[1:]
        if len(parts) == 2 and parts[1] and raw == "null":
            recs.setdefault(int(parts[0]), {})[parts[1]] = (None, None)
        elif len(parts) == 3:
            recs.setdefault(int(parts[0]), {})[parts[1]] = (parts[2], raw)
    ci = 0
    for i in sorted(recs):
        r = recs[i]
        nonfinite = any(b in ("float", "double") and raw in ("nan", "-nan", "inf", "-inf")
                        for b, raw in r.values())
        c = None
        if not nonfinite:
            c = cat[ci]
            ci += 1
        yield {f["name"]: from_avroc(f, r[f["name"]][0], r[f["name"]][1], c) for f in fields}
    assert ci == len(cat), "avrocat printed %d records, avropipe %d" % (len(cat), ci)


def main():
    mode, paths = sys.argv[1], sys.argv[2:]
    import avro.datafile
    import avro.io
    for path in paths:
        with open(path, "rb") as fh:
            r = avro.datafile.DataFileReader(fh, avro.io.DatumReader())
            schema = json.loads(r.get_meta("avro.schema").decode())
            fields = schema["fields"]
            print("schema %s %s" % (schema["name"], " ".join(
                "%s:%s" % (f["name"], field_type(f)) for f in fields)))
            if mode == "python":
                for rec in r:
                    print(json.dumps({f["name"]: norm(field_type(f), rec[f["name"]])
                                      for f in fields}, ensure_ascii=False))
                continue
        for rec in avroc_records(path, fields):
            print(json.dumps(rec, ensure_ascii=False))


if __name__ == "__main__":
    main()
