#!/usr/bin/python3
"""Times a two-tier run: the downstream process is started first (and waited for on its port),
then the upstream agent; the clock starts just before the upstream agent is spawned and stops
when the downstream side has ROWS events:

  measure_tier.py ROWS PORT DONE -- DOWNSTREAM CMD... -- UPSTREAM CMD...

DONE is metrics:URL:COMPONENT:COUNTER (a Flume JSON metrics counter, e.g. the null sink's
EventDrainSuccessCount) or lines:FILE (a JSON-lines file, flume_avro_server.py's --out).
Prints "<wall seconds> <upstream peak RSS KiB> <downstream peak RSS KiB>" and stops both with
SIGTERM.
"""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request


def hwm(pid):
    """Peak resident set (VmHWM) of pid, KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def count(done):
    kind, _, rest = done.partition(":")
    if kind == "lines":
        try:
            with open(rest, "rb") as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0
    url, comp, counter = rest.rsplit(":", 2)
    try:
        m = json.load(urllib.request.urlopen(url, timeout=2))
        return int(m.get(comp, {}).get(counter, 0))
    except OSError:
        return 0


def main():
    rows, port, done = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    rest = sys.argv[5:]
    cut = rest.index("--")
    down_cmd, up_cmd = rest[:cut], rest[cut + 1:]
    null = open(os.devnull, "w")
    down = subprocess.Popen(down_cmd, stdout=null, stderr=null)
    end = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.time() > end or down.poll() is not None:
                sys.exit("the downstream side did not listen on %d" % port)
            time.sleep(0.05)
    t0 = time.time()
    up = subprocess.Popen(up_cmd, stdout=null, stderr=null)
    poll = 0.05 if done.startswith("metrics") else 0.2
    while count(done) < rows:
        if up.poll() is not None or down.poll() is not None:
            sys.exit("a process ended before %d events arrived" % rows)
        if time.time() - t0 > 1800:
            sys.exit("timeout")
        time.sleep(poll)
    wall = time.time() - t0
    ru, rd = hwm(up.pid), hwm(down.pid)
    for p in (up, down):
        p.send_signal(signal.SIGTERM)
    for p in (up, down):
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
    print("%.2f %d %d" % (wall, ru, rd))


if __name__ == "__main__":
    main()
