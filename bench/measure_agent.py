#!/usr/bin/python3
"""Runs the sqlflume agent and times it until TOPIC holds ROWS new messages.

usage: measure_agent.py BOOTSTRAP TOPIC ROWS -- sqlflume agent ...
Prints "<wall seconds> <peak RSS KiB> <agent CPU seconds>" and stops the agent with SIGTERM. The clock starts just
before the agent is spawned; completion is read from the topic's high watermark (the mock broker
keeps only the tail of each partition, so counting by offsets is the only exact way).
"""
import os
import signal
import subprocess
import sys
import time

from confluent_kafka import Consumer, TopicPartition


class Watermarks:
    """Sum of the high watermarks of TOPIC's partitions. The partition list is read with a fresh
    metadata request until the topic exists (a client caches "unknown topic" answers)."""

    def __init__(self, bootstrap, topic):
        self.bootstrap = bootstrap
        self.topic = topic
        self.c = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-watch"})
        self.parts = None

    def _partitions(self):
        probe = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "bench-probe"})
        try:
            t = probe.list_topics(self.topic, timeout=2.0).topics.get(self.topic)
            if t is not None and t.error is None and t.partitions:
                return sorted(t.partitions)
        except Exception:
            pass
        finally:
            probe.close()
        return None

    def total(self):
        if self.parts is None:
            self.parts = self._partitions()
            if self.parts is None:
                return 0
        total = 0
        for p in self.parts:
            lo, hi = self.c.get_watermark_offsets(TopicPartition(self.topic, p), timeout=2.0,
                                                  cached=False)
            total += hi
        return total

    def close(self):
        self.c.close()


def peak_rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def cpu_seconds(pid):
    """User + system CPU seconds the process has used so far (all its threads)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return -1.0


def thread_cpu(pid):
    """{thread name: (CPU seconds, seconds runnable but waiting for a CPU)} of the process's
    threads (names as the agent sets them)."""
    out = {}
    tck = os.sysconf("SC_CLK_TCK")
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                    head, rest = f.read().rsplit(")", 1)
                name = head.split("(", 1)[1]
                fields = rest.split()
                cpu = (int(fields[11]) + int(fields[12])) / tck
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    wait = int(f.read().split()[1]) / 1e9  # runnable, waiting for a CPU
                prev = out.get(name, (0.0, 0.0))
                out[name] = (prev[0] + cpu, prev[1] + wait)
            except (OSError, IndexError, ValueError):
                pass
    except OSError:
        pass
    return out


def yield_cpu():
    """Lower every thread of this process (the watermark poller and its librdkafka threads) to
    SCHED_IDLE, or nice 19 where that is refused, so that polling for completion takes CPU from
    the agent only when a core is idle: the shell pipes it is compared with have no poller."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setscheduler(int(tid), os.SCHED_IDLE, os.sched_param(0))
        except OSError:
            try:
                os.setpriority(os.PRIO_PROCESS, int(tid), 19)
            except OSError:
                pass


def run_agent(cmd, is_done, before_stop=None):
    """Spawn cmd (the agent), poll is_done() every 10 ms until it is true, the agent exits or
    SF_BENCH_TIMEOUT (300 s) passes, then stop it with SIGTERM (before_stop(pid) called first).
    Returns (done, wall seconds from just before the spawn, peak RSS KiB, agent CPU seconds)."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=sys.stderr)
    yield_cpu()  # after the spawn: the agent keeps the normal priority
    done = False
    deadline = t0 + float(os.environ.get("SF_BENCH_TIMEOUT", "300"))
    while p.poll() is None and time.monotonic() < deadline:
        if is_done():
            done = True
            break
        time.sleep(0.01)
    elapsed = time.monotonic() - t0
    rss = peak_rss_kib(p.pid)
    cpu = cpu_seconds(p.pid)
    if before_stop:
        before_stop(p.pid)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    return done, elapsed, rss, cpu


def print_threads(pid):
    if os.environ.get("SF_BENCH_THREADS"):
        per = thread_cpu(pid)
        print(" ".join("%s=%.2f/wait %.2f" % (k, v[0], v[1])
                       for k, v in sorted(per.items(), key=lambda kv: -kv[1][0]) if v[0] > 0.005),
              file=sys.stderr)


def main():
    bootstrap, topic, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cmd = sys.argv[sys.argv.index("--") + 1:]
    wm = Watermarks(bootstrap, topic)
    base = wm.total()
    done, elapsed, rss, cpu = run_agent(cmd, lambda: wm.total() - base >= rows, print_threads)
    wm.close()
    if not done:
        print("agent did not deliver %d rows (exited or timed out)" % rows, file=sys.stderr)
        sys.exit(1)
    print("%.3f %d %.2f" % (elapsed, rss, cpu))


if __name__ == "__main__":
    main()
