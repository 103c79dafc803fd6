#!/usr/bin/python3
"""Reads partition 0 of TOPIC (created beforehand with one partition) from the beginning until COUNT messages arrived and prints, for each, the time from
the row's commit to its arrival at this consumer: the JSON body's `committed_ms` column (epoch ms,
set by the database at insert, just before the commit) against this host's clock at receipt
(same machine, same clock). Prints "p50 p90 p99 max mean" in ms, then one latency per line.

usage: latency.py BOOTSTRAP TOPIC COUNT [TIMEOUT_S]
"""
import json
import sys
import time
import uuid

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


def main():
    bootstrap, topic, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    timeout = float(sys.argv[4]) if len(sys.argv) > 4 else 120.0
    c = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "latency-" + uuid.uuid4().hex,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        # the broker answers a fetch at once when data is there, else after this: the consumer's
        # own wait must not count as the agent's latency
        "fetch.wait.max.ms": 5,
        "fetch.error.backoff.ms": 5,
        "topic.metadata.refresh.interval.ms": 1000,
    })
    # assigned, not subscribed: no group join whose rebalance would delay the first messages
    c.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    lat = []
    end = time.time() + timeout
    while len(lat) < count and time.time() < end:
        m = c.poll(0.01)
        if m is None or m.error():
            continue
        now_ms = time.time() * 1000.0
        row = json.loads(m.value())
        lat.append(now_ms - float(row["committed_ms"]))
    c.close()
    if len(lat) < count:
        print("only %d of %d messages within %.0f s" % (len(lat), count, timeout))
        sys.exit(1)
    s = sorted(lat)

    def at(q):
        return s[min(len(s) - 1, max(0, int(round(q * len(s))) - 1))]

    print("%.1f %.1f %.1f %.1f %.1f" % (at(0.50), at(0.90), at(0.99), s[-1], sum(s) / len(s)))
    for v in lat:
        print("%.1f" % v)


if __name__ == "__main__":
    main()
