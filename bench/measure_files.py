#!/usr/bin/python3
"""Runs the sqlflume agent and times it until the files under DIR hold the last row.

usage: measure_files.py DIR PATTERN -- sqlflume agent ...
Prints "<wall seconds> <peak RSS KiB> <agent CPU seconds>" and stops the agent with SIGTERM. The
clock starts just before the agent is spawned; the export is complete when the last line of the
most recently modified file under DIR (in-use files included) matches the regular expression
PATTERN (the last row's id: the SQL source reads in key order and one sink writes in channel
order, so the last row written is the last row read). The bench checks the files' content after
the run, untimed. The agent is run and measured by measure_agent.py's run_agent.
"""
import os
import re
import sys

from measure_agent import run_agent


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

    def is_done():
        line = last_line(d)
        return line is not None and pattern.search(line) is not None

    done, elapsed, rss, cpu = run_agent(cmd, is_done)
    if not done:
        print("agent did not write the last row (exited or timed out)", file=sys.stderr)
        sys.exit(1)
    print("%.3f %d %.2f" % (elapsed, rss, cpu))


if __name__ == "__main__":
    main()
