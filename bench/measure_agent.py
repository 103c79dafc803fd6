#!/usr/bin/python3
"""Runs the sqlflume agent and times it until TOPIC holds ROWS new messages.

usage: measure_agent.py BOOTSTRAP TOPIC ROWS -- sqlflume agent ...
Prints "<wall seconds> <peak RSS KiB>" and stops the agent with SIGTERM. The clock starts just
before the agent is spawned; completion is read from the topic's high watermark (the mock broker
keeps only the tail of each partition, so counting by offsets is the only exact way).
"""
import signal
import subprocess
import sys
import time

from confluent_kafka import Consumer, TopicPartition


def high_watermark(c, topic):
    try:
        md = c.list_topics(topic, timeout=1.0)
        t = md.topics.get(topic)
        if t is None or t.error is not None:
            return 0
        total = 0
        for p in t.partitions:
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, p), timeout=1.0, cached=False)
            total += hi
        return total
    except Exception:
        return 0


def peak_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def main():
    bootstrap, topic, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watch"})
    base = high_watermark(c, topic)
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    done = False
    while p.poll() is None:
        if high_watermark(c, topic) - base >= rows:
            done = True
            break
        time.sleep(0.01)
    elapsed = time.monotonic() - t0
    rss = peak_rss_kib(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    c.close()
    if not done:
        print("agent exited before delivering %d rows" % rows, file=sys.stderr)
        sys.exit(1)
    print("%.3f %d" % (elapsed, rss))


if __name__ == "__main__":
    main()
