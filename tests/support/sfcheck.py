#!/usr/bin/env python3
"""Checks of the end-to-end scenarios (tests/integration/e2e.sh, e2e/*.sh, lib.sh), called from
the shell:

    python3 tests/support/sfcheck.py COMMAND ARG...

Each command reads the files it is given (a consumer dump is tests/support/consume.py's output:
one JSON object per line with "key", "value", "headers", ...; the value is the row's JSON body),
prints one result line (or several, as said) that the scenario compares with assert_eq or a case
pattern, and exits 0; a file that cannot be read or parsed ends it with a traceback and status 1,
so the comparison fails. Counting convention: lost = wanted ids never seen, dup = deliveries beyond
the first of every id, extra = ids seen that were not wanted.
"""
import collections
import json
import re
import sys
import time


def id_counts(path):
    """Counter of the integer "id" of every body of a consumer dump."""
    return collections.Counter(int(json.loads(json.loads(l)["value"])["id"]) for l in open(path))


def lost_dup_extra(seen, want):
    """(lost, dup, extra) of the id Counter seen against the set want."""
    lost = len(want - set(seen))
    dup = sum(c - 1 for c in seen.values() if c > 1)
    extra = len(set(seen) - want)
    return lost, dup, extra


def cmd_ids(path):
    """ids FILE: the ids of the bodies, one per line, in arrival order."""
    for line in open(path):
        print(json.loads(json.loads(line)["value"])["id"])


def cmd_range(path, lo, hi, *opts):
    """range FILE LO HI [--sparse | --not-multiple-of N]: "lost=N dup=M extra=K" against every
    id LO..HI; --sparse: the ids of db_insert_sparse LO HI (7k for every k not a multiple of 3);
    --not-multiple-of N: the ids of LO..HI that are not multiples of N."""
    want = set(range(int(lo), int(hi) + 1))
    if opts and opts[0] == "--sparse":
        want = set(7 * k for k in want if k % 3)
    elif opts and opts[0] == "--not-multiple-of":
        want = set(i for i in want if i % int(opts[1]))
    elif opts:
        raise SystemExit("range: unknown option %r" % (opts,))
    print("lost=%d dup=%d extra=%d" % lost_dup_extra(id_counts(path), want))


def cmd_against(path, want_path):
    """against FILE WANT: "rows=R lost=N dup=M extra=K" against the ids listed in WANT
    (whitespace-separated, e.g. a SELECT id of the table)."""
    want = set(int(x) for x in open(want_path).read().split())
    print("rows=%d lost=%d dup=%d extra=%d" % ((len(want),) + lost_dup_extra(id_counts(path), want)))


def cmd_dups_above(path, offsets_path):
    """dups_above FILE OFFSETS: "ok" when every id delivered more than once lies above the lowest
    offset listed in OFFSETS (the offsets in flume_meta at each kill)."""
    seen = id_counts(path)
    floor = min(int(x) for x in open(offsets_path).read().split())
    bad = [i for i, c in seen.items() if c > 1 and i <= floor]
    print("ok" if not bad else "duplicates at or below offset %d: %s" % (floor, bad[:5]))


def cmd_key_is_id(path):
    """key_is_id FILE: how many messages have the body's id as their key."""
    rows = [json.loads(l) for l in open(path)]
    print(sum(1 for r in rows if r["key"] == str(json.loads(r["value"])["id"])))


def cmd_by_id(path):
    """by_id FILE: the bodies as received (text), sorted by id, space-separated."""
    rows = [json.loads(l)["value"] for l in open(path)]
    print(" ".join(sorted(rows, key=lambda v: json.loads(v)["id"])))


def cmd_field(path, field):
    """field FILE NAME: the sorted values of field NAME of the bodies, space-separated."""
    print(" ".join(sorted(str(json.loads(json.loads(l)["value"])[field]) for l in open(path))))


def cmd_field_len(path, row_id, field):
    """field_len FILE ID NAME: the length of field NAME of the body with that id (nothing when
    there is none, a line per such body)."""
    for l in open(path):
        v = json.loads(json.loads(l)["value"])
        if v["id"] == int(row_id):
            print(len(v[field]))


def cmd_types(path, want1, want2):
    """types FILE WANT1 WANT2: s_types' rows 1 and 2 (exact body text) and 3 (a 10 MB "lt" of
    x's), as the lines "count N", "row1 ok", "row2 ok", "row3 ok" (or what differs)."""
    rows = [json.loads(l) for l in open(path)]
    vals = {json.loads(r["value"])["id"]: r["value"] for r in rows}
    print("count", len(rows))
    print("row1", "ok" if vals.get(1) == want1 else "DIFF %r" % vals.get(1))
    print("row2", "ok" if vals.get(2) == want2 else "DIFF %r" % vals.get(2))
    v3 = json.loads(vals.get(3, "{}"))
    print("row3", "ok" if v3.get("lt") == "x" * 10485760 else "DIFF len %d" % len(v3.get("lt") or ""))


def cmd_sink_errors(path):
    """sink_errors METRICS_JSON: sink k1's EventFailedCount, EventDeadLetteredCount and
    SinkFailed as "name=value" words."""
    k = json.load(open(path))["SINK.k1"]
    print(" ".join("%s=%s" % (n, k[n]) for n in ("EventFailedCount", "EventDeadLetteredCount", "SinkFailed")))


def cmd_dead_letter(path):
    """dead_letter FILE: s_poison's dead-letter record: the record count, its key, the
    __sqlflume.errors.* headers topic, table, offset, sink.name and body.truncated, and "yes" when
    the exception names MSG_SIZE_TOO_LARGE and the value is row 101's body cut to 0.9-1 MB."""
    rows = [json.loads(l) for l in open(path)]
    r = rows[0]
    h = r["headers"]
    print(len(rows), r["key"], h.get("__sqlflume.errors.topic"), h.get("__sqlflume.errors.table"),
          h.get("__sqlflume.errors.offset"), h.get("__sqlflume.errors.sink.name"),
          h.get("__sqlflume.errors.body.truncated"),
          "yes" if "MSG_SIZE_TOO_LARGE" in h.get("__sqlflume.errors.exception.message", "") and
          900000 < len(r["value"]) <= 1000000 and r["value"].startswith("{\"id\":101,\"v\":\"xxx") else "no")


def cmd_round_robin(log_path):
    """round_robin LOG: "ok" when table mt_b's first rows were read before the last page of the
    busy table mt_a (s_multi_table_status_db)."""
    lines = open(log_path).read().splitlines()

    def first(needle):
        for i, l in enumerate(lines):
            if needle in l:
                return i
        return -1
    a = first("read 500 rows of \"agentA.mt_a\" up to offset \"20000\"")
    b = first("rows of \"agentA.mt_b\"")
    print("ok" if 0 <= b < a else "order: mt_b at %d, mt_a last page at %d" % (b, a))


def cmd_monitoring(path):
    """monitoring METRICS_JSON: s_monitoring's components and counters, a line per component, then
    "all values are strings; start times set" (or the bad values)."""
    m = json.load(open(path))
    want = {"SOURCE.r1": ["EventReceivedCount", "EventAcceptedCount", "AppendBatchAcceptedCount", "Type"],
            "CHANNEL.c1": ["ChannelCapacity", "ChannelSize", "ChannelFillPercentage", "EventPutSuccessCount",
                           "EventTakeSuccessCount", "Type"],
            "SINK.k1": ["EventDrainAttemptCount", "EventDrainSuccessCount", "EventWriteFail", "Type"]}
    assert sorted(m) == sorted(want), sorted(m)
    for comp, keys in want.items():
        print(comp, " ".join("%s=%s" % (k, m[comp][k]) for k in keys))
    ok = all(isinstance(v, str) for c in m.values() for v in c.values())
    now = time.time() * 1000
    ok = ok and all(now - 600000 < int(c["StartTime"]) <= now and c["StopTime"] == "0" for c in m.values())
    print("all values are strings; start times set" if ok else "bad values: %r" % m)


def cmd_backfill_resumes(log_path, kills_path, chunk):
    """backfill_resumes LOG KILLS CHUNK: "ok" when every restart of s_backfill resumed at a chunk
    > 0 after the key its predecessor's delivered progress recorded (KILLS: "round key progress"
    lines), the progress is consistent with dense ids and the high-water mark never changed."""
    log = open(log_path).read()
    kills = [l.split() for l in open(kills_path)]
    chunk = int(chunk)
    res = re.findall(r'resuming backfill at chunk (\d+) after key "(\d+)"', log)
    bad = []
    if len(res) != len(kills):
        bad.append("%d resume lines for %d interruptions" % (len(res), len(kills)))
    hwms = set()
    for (n, key), (rnd, k, val) in zip(res, kills):
        f = dict(x.split("=", 1) for x in val.split(";"))
        hwms.add(f["hwm"])
        if int(n) < 1 or key != k or n != f["chunk"]:
            bad.append("round %s: resumed at chunk %s after %s, recorded %s" % (rnd, n, key, val))
        # dense ids from 1: the last key delivered equals the rows delivered, and lies in its chunk
        if f["rows"] != k or not int(f["chunk"]) * chunk <= int(k) < (int(f["chunk"]) + 1) * chunk:
            bad.append("round %s: progress %s is inconsistent" % (rnd, val))
    if len(hwms) != 1:
        bad.append("the high-water mark changed: %s" % sorted(hwms))
    print("ok" if not bad else "; ".join(bad))


def cmd_backfill_dups(path, kills_path, bound, hwm):
    """backfill_dups FILE KILLS BOUND HWM: "per-kill [a, b, c] ok" when s_backfill's duplicates lie
    just above a key recorded at one of the three kills (at most BOUND per kill) and none is above
    the high-water mark HWM (streamed rows); "... BAD reasons" otherwise."""
    seen = id_counts(path)
    kills = [l.split() for l in open(kills_path)]
    bound, hwm = int(bound), int(hwm)
    keys = [int(k[1]) for k in kills[:3]]
    per = [0, 0, 0]
    bad = []
    for i, c in seen.items():
        if c < 2:
            continue
        if i > hwm:
            bad.append("streamed row %d sent %d times" % (i, c))
            continue
        for j, k in enumerate(keys):
            if k < i <= k + bound:
                per[j] += c - 1
                break
        else:
            bad.append("id %d (x%d) is not just above a key recorded at a kill" % (i, c))
    over = [p for p in per if p > bound]
    print("per-kill %s %s" % (per, "ok" if not bad and not over else "BAD " + "; ".join(bad[:5])))


def cmd_lock_id(key, kind):
    """lock_id KEY mysql|postgresql: the lock of status key KEY in flume_meta of sqlflume_test,
    computed independently of the C code (64-bit FNV-1a of "db\\ntable\\nkey"): the name
    "sqlflume.%016x" for MySQL, the signed decimal id for PostgreSQL."""
    h = 0xcbf29ce484222325
    for b in ("sqlflume_test\nflume_meta\n" + key).encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    print(("sqlflume.%016x" % h) if kind == "mysql" else (h - (1 << 64) if h >= 1 << 63 else h))


COMMANDS = {name[4:]: fn for name, fn in globals().items() if name.startswith("cmd_")}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        sys.stderr.write("usage: sfcheck.py COMMAND ARG...; commands: %s\n" % " ".join(sorted(COMMANDS)))
        return 2
    COMMANDS[argv[1]](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
