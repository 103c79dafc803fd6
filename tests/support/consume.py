#!/usr/bin/python3
"""Independent Kafka consumer for the integration tests (python3-confluent-kafka, Debian).

Reads TOPIC from the beginning and prints one JSON object per message:
{"key": ..., "value": ..., "headers": {...}, "partition": N, "offset": N}
It stops when --expect messages were read, or when no message arrived for --idle seconds, or
after --timeout seconds in all. Exit code 0 in every case; the caller checks the output.
"""
import argparse
import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaError, TopicPartition


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--expect", type=int, default=0)
    ap.add_argument("--idle", type=float, default=5.0)
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--count-only", action="store_true", help="print only the count")
    ap.add_argument("--committed", action="store_true", help="isolation.level=read_committed")
    args = ap.parse_args()

    c = Consumer({
        "bootstrap.servers": args.bootstrap,
        "group.id": "sf-test-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "isolation.level": "read_committed" if args.committed else "read_uncommitted",
        "enable.partition.eof": False,
    })
    c.subscribe([args.topic])
    n = 0
    start = time.monotonic()
    last = start
    out = sys.stdout
    while True:
        now = time.monotonic()
        if args.expect and n >= args.expect:
            break
        if now - start > args.timeout or now - last > args.idle:
            break
        msgs = c.consume(num_messages=10000, timeout=0.5)
        for m in msgs:
            if m.error():
                if m.error().code() in (KafkaError._PARTITION_EOF, KafkaError.UNKNOWN_TOPIC_OR_PART):
                    continue
                print("consumer error: %s" % m.error(), file=sys.stderr)
                continue
            n += 1
            last = time.monotonic()
            if args.count_only:
                continue
            key = m.key().decode("utf-8", "backslashreplace") if m.key() is not None else None
            val = m.value().decode("utf-8", "backslashreplace") if m.value() is not None else None
            hdrs = {}
            for k, v in (m.headers() or []):
                hdrs[k] = v.decode("utf-8", "backslashreplace") if v is not None else None
            out.write(json.dumps({"key": key, "value": val, "headers": hdrs,
                                  "partition": m.partition(), "offset": m.offset()}) + "\n")
    if args.count_only:
        out.write("%d\n" % n)
    out.flush()
    c.close()


if __name__ == "__main__":
    main()
