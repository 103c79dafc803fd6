#!/usr/bin/python3
"""Runs the sqlflume agent and times it until the files under DIR hold the last row.

usage: measure_files.py DIR PATTERN -- sqlflume agent ...
Prints "<wall seconds> <peak RSS KiB> <agent CPU seconds>" and stops the agent with SIGTERM. The
clock starts just before the agent is spawned; the export is complete when the last line of the
most recently modified file under DIR (in-use files included) matches the regular expression
PATTERN (the last row's id: the SQL source reads in key order and one sink writes in channel
order, so the last row written is the last row read). The bench checks the files' content after
the run, untimed. Shares measure_agent.py's process probes (RSS, CPU, the poller's priority).
"""
import os
import re
import signal
import subprocess
import sys
import time

from measure_agent import cpu_seconds, peak_rss_kib, yield_cpu


def last_line(d):
    """The last complete line (bytes, without its newline) of the newest file under d, or None."""
    newest, mtime = None, -1.0
    for root, _, names in os.walk(d):
        for n in names:
            p = os.path.join(root, n)
            try:
                m = os.stat(p).st_mtime
            except OSError:
                continue
            if m >= mtime:
                newest, mtime = p, m
    if newest is None:
        return None
    try:
        with open(newest, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - 512))
            tail = f.read()
    except OSError:
        return None
    if not tail.endswith(b"\n"):
        return None
    return tail[:-1].rsplit(b"\n", 1)[-1]


def main():
    d, pattern = sys.argv[1], re.compile(sys.argv[2].encode())
    cmd = sys.argv[sys.argv.index("--") + 1:]
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    yield_cpu()  # after the spawn: the agent keeps the normal priority
    done = False
    deadline = t0 + float(os.environ.get("SF_BENCH_TIMEOUT", "300"))
    while p.poll() is None and time.monotonic() < deadline:
        line = last_line(d)
        if line is not None and pattern.search(line):
            done = True
            break
        time.sleep(0.01)
    elapsed = time.monotonic() - t0
    rss = peak_rss_kib(p.pid)
    cpu = cpu_seconds(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    if not done:
        print("agent did not write the last row (exited or timed out)", file=sys.stderr)
        sys.exit(1)
    print("%.3f %d %.2f" % (elapsed, rss, cpu))


if __name__ == "__main__":
    main()
