#!/usr/bin/env bash
# End-to-end tests of format = avro (the SQL source's Avro rows) and the avro serializer: a
# MariaDB or PostgreSQL table with the tricky values through the SQL source into Avro container
# files, read back by two independent readers (python3-avro and avro-c's avrocat/avropipe, see
# tests/support/avro_rows_dump.py) and compared as values (decimals as Decimal, dates, times and
# timestamps as datetimes, floats as IEEE values, bytes as bytes) with what the database returns:
#   tests/integration/avro_rows.sh mysql|postgresql PORT [SCENARIO...]
# s_file_roll: into file_roll with sink.serializer = avro (deflate).
# s_hdfs: into the HDFS sink on file:// (DataStream, serializer =
#   org.apache.flume.sink.hdfs.AvroEventSerializer$Builder, snappy, hdfs.path with %{table}).
# s_schema_change: a column added while the agent runs: an INFO line with the new schema, the
#   rows after it in a new file (file_roll rolls every second) with the new schema, every row
#   once.
# s_schema_hash: the same into the HDFS sink with %{flume.avro.schema.hash} in hdfs.path and
#   files that never roll: one directory per schema, named by its fingerprint; without it the
#   batch with the new schema fails loudly ("schema changed") and nothing is lost.
# s_refused: a value format avro cannot hold (PostgreSQL's date 'infinity', MariaDB's TIME
#   '-838:59:59'): the source stops (and with it the agent, exit code 1) with one ERROR naming
#   the column, the value and the offset; the rows before it are delivered, the offset stays
#   before it.
# Runs every scenario when none is named. Uses lib.sh (database servers, the agent, assertions).
set -u
source "$(dirname "$0")/lib.sh"

KIND=$1
PORT=$2
shift 2
DUMP=$SF_ROOT/tests/support/avro_rows_dump.py

# av_conf FILE TABLE SINKTYPE [extra properties lines...]: SQL source (format avro) -> memory
# channel -> SINKTYPE (lib.sh's write_conf with its Kafka sink replaced)
av_conf() {
    local f=$1 table=$2 type=$3
    shift 3
    write_conf "$f" "$table" unused "a1.sources.r1.format = avro" "$@"
    sed -i -e '/^a1\.sinks\.k1\.kafka\./d' -e "s/^a1\\.sinks\\.k1\\.type = kafka\$/a1.sinks.k1.type = $type/" "$f"
}

# the table avt with the tricky values; its rows as JSON (hex-encoded by the database, so that no
# client escaping is involved) go to $WORK/avt.db: every value as the database's text, keyed by
# the Avro field names
create_avt() {
    db_exec "DROP TABLE IF EXISTS avt"
    db_exec "DELETE FROM flume_meta WHERE source_tab = 'avt'" 2>/dev/null
    if [ "$DB_KIND" = mysql ]; then
        db_exec "CREATE TABLE avt (id BIGINT PRIMARY KEY, t TEXT, vc VARCHAR(100), b BLOB,
                 d DECIMAL(30,10), dfull DECIMAL(65,30), dsmall DECIMAL(5,2), f DOUBLE, fl FLOAT,
                 i INT, ti TINYINT, ub BIGINT UNSIGNED, dt DATETIME(6), ts TIMESTAMP(6) NULL,
                 dd DATE, tm TIME(6), e ENUM('x','y'), \`Odd Name\` VARCHAR(10)) CHARACTER SET utf8mb4"
        db_exec "INSERT INTO avt (id) VALUES (1)"
        db_exec "INSERT INTO avt VALUES (2, CONCAT('q\"b', CHAR(10), '😀é'), '', X'00FF0041',
                 -12345678901234567890.1234567890,
                 -99999999999999999999999999999999999.999999999999999999999999999999, -0.01,
                 -1e-300, -0.25, -2147483648, -128, 18446744073709551615,
                 '1901-12-13 20:45:52.000001', '2024-01-02 03:04:05.678', '1969-07-20',
                 '23:59:59.999999', 'y', 'odd')"
        db_exec "INSERT INTO avt VALUES (3, '', 'ü', X'', 0.0000000001,
                 99999999999999999999999999999999999.999999999999999999999999999999, 999.99,
                 1.7976931348623157e308, 3.4e38, 2147483647, 127, 0, '1000-01-01 00:00:00',
                 '2000-01-01 00:00:00', '1000-01-01', '00:00:00', 'x', '')"
        db_exec "SET time_zone = '+00:00'; SELECT HEX(JSON_OBJECT('id', CAST(id AS CHAR), 't', t, 'vc', vc, 'b', LOWER(HEX(b)),
                 'd', CAST(d AS CHAR), 'dfull', CAST(dfull AS CHAR), 'dsmall', CAST(dsmall AS CHAR),
                 'f', CAST(f AS CHAR), 'fl', CAST(fl AS CHAR), 'i', CAST(i AS CHAR),
                 'ti', CAST(ti AS CHAR), 'ub', CAST(ub AS CHAR), 'dt', CAST(dt AS CHAR),
                 'ts', CAST(ts AS CHAR), 'dd', CAST(dd AS CHAR), 'tm', CAST(tm AS CHAR), 'e', e,
                 'Odd_Name', \`Odd Name\`)) FROM avt ORDER BY id" >"$WORK/avt.hex"
    else
        db_exec "CREATE TABLE avt (id BIGINT PRIMARY KEY, t TEXT, vc VARCHAR(100), b BYTEA,
                 bo BOOLEAN, d NUMERIC(30,10), dfull NUMERIC(38,0), dn NUMERIC, f DOUBLE PRECISION,
                 fl REAL, i INT, dt TIMESTAMP(6), ts TIMESTAMPTZ, dd DATE, tm TIME, u UUID,
                 j JSONB, iv INTERVAL, \"Odd Name\" TEXT)"
        db_exec "INSERT INTO avt (id) VALUES (1)"
        db_exec "INSERT INTO avt VALUES (2, E'q\"b\n😀é', '', '\\x00ff0041', true,
                 -12345678901234567890.1234567890, -99999999999999999999999999999999999999,
                 -123.456e-20, '-Infinity', 'NaN', -2147483648, '1901-12-13 20:45:52.000001',
                 '2024-01-02 03:04:05.678+05:30', '1969-07-20', '23:59:59.999999',
                 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"k\": [1, 2]}', '1 day 02:00:00', 'odd')"
        db_exec "INSERT INTO avt VALUES (3, '', 'ü', '', false, 0.0000000001,
                 99999999999999999999999999999999999999, 'NaN', 1.7976931348623157e308, 3.4e38,
                 2147483647, '0001-01-01 00:00:00', '1969-12-31 23:59:59.999999+00',
                 '0001-01-01', '00:00:00', '00000000-0000-0000-0000-000000000000', 'null',
                 '-1 mons', '')"
        db_exec "SELECT encode(convert_to(json_build_object('id', id::text, 't', t, 'vc', vc,
                 'b', encode(b, 'hex'), 'bo', bo::text, 'd', d::text, 'dfull', dfull::text,
                 'dn', dn::text, 'f', f::text, 'fl', fl::text, 'i', i::text,
                 'dt', to_char(dt, 'YYYY-MM-DD HH24:MI:SS.US'),
                 'ts', to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'),
                 'dd', to_char(dd, 'YYYY-MM-DD'), 'tm', tm::text, 'u', u::text, 'j', j::text,
                 'iv', iv::text, 'Odd_Name', \"Odd Name\")::text, 'UTF8'), 'hex')
                 FROM avt ORDER BY id" >"$WORK/avt.hex"
    fi
}

# compare_avt DUMP: the records of an avro_rows_dump.py output against $WORK/avt.hex, as values;
# prints "records=N ok" or what differs
compare_avt() {
    $PY - "$1" "$WORK/avt.hex" "$DB_KIND" <<'EOF'
import datetime, decimal, json, math, struct, sys
dump, dbfile, kind = sys.argv[1:4]
lines = open(dump, encoding="utf-8").read().splitlines()
schema = dict(x.split(":") for x in lines[0].split()[2:])
recs = [json.loads(x) for x in lines[1:]]
db = [json.loads(bytes.fromhex(x.strip()).decode("utf-8")) for x in open(dbfile) if x.strip()]
want_types = {
    "mysql": "id:long t:string vc:string b:bytes d:decimal dfull:decimal dsmall:decimal f:double "
             "fl:float i:long ti:long ub:decimal dt:timestamp-micros ts:timestamp-micros dd:date "
             "tm:time-micros e:string Odd_Name:string",
    "postgresql": "id:long t:string vc:string b:bytes bo:boolean d:decimal dfull:decimal dn:string "
                  "f:double fl:float i:long dt:timestamp-micros ts:timestamp-micros dd:date "
                  "tm:time-micros u:uuid j:string iv:string Odd_Name:string",
}[kind]
bad = []
if lines[0] != "schema avt " + want_types:
    bad.append("schema line %r" % lines[0])
def same(t, dbv, av):
    if dbv is None or av is None:
        return dbv is None and av is None
    if t == "long":
        return int(dbv) == int(av)
    if t == "decimal":
        return decimal.Decimal(dbv) == decimal.Decimal(av)
    if t in ("double", "float"):
        x = float(dbv)
        if t == "float":
            x = struct.unpack("<f", struct.pack("<f", x))[0]
        y = float(av)
        return (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) == math.copysign(1, y))
    if t == "boolean":
        return (dbv in ("true", "t", "1")) == (av == "true")
    if t == "date":
        return datetime.date.fromisoformat(dbv) == datetime.date.fromisoformat(av)
    if t == "time-micros":
        return datetime.time.fromisoformat(dbv) == datetime.time.fromisoformat(av)
    if t == "timestamp-micros":
        a = datetime.datetime.fromisoformat(dbv).replace(tzinfo=datetime.timezone.utc)
        return a == datetime.datetime.fromisoformat(av)
    return dbv == av  # string, uuid, bytes (hex)
if len(recs) != len(db):
    bad.append("%d records, the table has %d rows" % (len(recs), len(db)))
for r, d in zip(sorted(recs, key=lambda r: int(r["id"])), db):
    for k, t in schema.items():
        if not same(t, d.get(k), r.get(k)):
            bad.append("id %s %s (%s): database %r, file %r" % (d["id"], k, t, d.get(k), r.get(k)))
print("records=%d %s" % (len(recs), "ok" if not bad else "BAD " + "; ".join(bad[:6])))
EOF
}

# read_back NAME FILE...: both readers over the files; each compared with the table
read_back() {
    local name=$1 r res
    shift
    for r in python avrocat; do
        $PY "$DUMP" "$r" "$@" >"$WORK/$name.$r" 2>"$WORK/$name.$r.err" || { fail "$r reader: $(tail -3 "$WORK/$name.$r.err")"; return 1; }
        # one schema line per file: keep the first, the records of all
        awk 'NR == 1 || !/^schema /' "$WORK/$name.$r" >"$WORK/$name.$r.all"
        res=$(compare_avt "$WORK/$name.$r.all")
        log "$name, $r: $res"
        assert_eq "records=3 ok" "$res" "$r reader's values against the database" || return 1
    done
}

s_file_roll() {
    t file_roll
    create_avt
    local dir=$WORK/avf
    mkdir -p "$dir"
    av_conf "$WORK/avf.conf" avt file_roll "a1.sinks.k1.sink.directory = $dir" \
        "a1.sinks.k1.sink.serializer = avro" "a1.sinks.k1.sink.serializer.compressionCodec = deflate" \
        "a1.sinks.k1.sink.rollInterval = 0"
    agent_start "$WORK/avf.conf" "$WORK/avf.log"
    wait_offset avt 3 60 || return
    agent_term
    assert_eq 1 "$(ls "$dir" | wc -l)" "one file" || return
    read_back avf "$dir"/* || return
    assert_contains "$WORK/avf.log" "table \"avt\": format avro, Avro schema " "the schema's INFO line" || return
    assert_not_contains "$WORK/avf.log" " ERROR " "no error" || return
    pass
}

s_hdfs() {
    t hdfs
    create_avt
    local dir=$WORK/avh
    av_conf "$WORK/avh.conf" avt hdfs "a1.sinks.k1.hdfs.path = file://$dir/%{table}" \
        "a1.sinks.k1.hdfs.fileType = DataStream" "a1.sinks.k1.hdfs.fileSuffix = .avro" \
        "a1.sinks.k1.serializer = org.apache.flume.sink.hdfs.AvroEventSerializer\$Builder" \
        "a1.sinks.k1.serializer.compressionCodec = snappy" "a1.sinks.k1.hdfs.rollCount = 2"
    agent_start "$WORK/avh.conf" "$WORK/avh.log"
    wait_offset avt 3 60 || return
    agent_term
    assert_eq 2 "$(ls "$dir/avt" | grep -c '\.avro$')" "two files (rollCount 2), no in-use one" || return
    read_back avh "$dir"/avt/*.avro || return
    assert_not_contains "$WORK/avh.log" " ERROR " "no error" || return
    pass
}

s_schema_change() {
    t schema_change
    db_create_idv avs
    db_insert_range avs 1 50
    local dir=$WORK/avs
    mkdir -p "$dir"
    av_conf "$WORK/avs.conf" avs file_roll "a1.sinks.k1.sink.directory = $dir" \
        "a1.sinks.k1.sink.serializer = avro" "a1.sinks.k1.sink.rollInterval = 1"
    agent_start "$WORK/avs.conf" "$WORK/avs.log"
    wait_offset avs 50 60 || return
    sleep "$(secs 2)" # the file rolls
    db_exec "ALTER TABLE avs ADD COLUMN extra INT"
    if [ "$DB_KIND" = mysql ]; then
        db_exec "INSERT INTO avs SELECT seq, CONCAT('row-', seq), seq * 2 FROM seq_51_to_80"
    else
        db_exec "INSERT INTO avs SELECT g, 'row-' || g, g * 2 FROM generate_series(51, 80) g"
    fi
    wait_offset avs 80 60 || return
    agent_term
    assert_contains "$WORK/avs.log" "table \"avs\": the columns changed, new Avro schema " "the INFO line of the new schema" || return
    assert_contains "$WORK/avs.log" " of 3 fields: {\"type\":\"record\",\"name\":\"avs\",\"fields\":[{\"name\":\"id\",\"type\":[\"null\",\"long\"],\"default\":null},{\"name\":\"v\",\"type\":[\"null\",\"string\"],\"default\":null},{\"name\":\"extra\",\"type\":[\"null\",\"long\"],\"default\":null}]}" "the INFO line of the new schema" || return
    local r
    for r in python avrocat; do
        $PY "$DUMP" "$r" $(ls "$dir"/* | sort) >"$WORK/avs.$r" || { fail "$r reader"; return; }
        assert_eq "ok" "$($PY - "$WORK/avs.$r" <<'EOF'
import json, sys
ids, cur, bad = [], None, []
for line in open(sys.argv[1], encoding="utf-8"):
    if line.startswith("schema "):
        cur = line.split()[2:]
        continue
    r = json.loads(line)
    i = int(r["id"])
    ids.append(i)
    want = ["id:long", "v:string"] + (["extra:long"] if i > 50 else [])
    if cur != want or r["v"] != "row-%d" % i or (i > 50 and r["extra"] != str(2 * i)):
        bad.append((i, cur, r))
if sorted(ids) != list(range(1, 81)):
    bad.append("ids %d, %d distinct" % (len(ids), len(set(ids))))
print("ok" if not bad else bad[:3])
EOF
)" "$r: rows 1-50 in the old schema, 51-80 in the new one, each once" || return
    done
    assert_not_contains "$WORK/avs.log" " ERROR " "no error" || return
    pass
}

# schema_hdfs TABLE PATHTAIL: rows 1-50, a column added, rows 51-80, into one HDFS file per bucket
# that never rolls (rollCount, rollSize, rollInterval 0) while the agent runs
schema_hdfs() {
    local tab=$1 tail=$2
    db_create_idv "$tab"
    db_insert_range "$tab" 1 50
    av_conf "$WORK/$tab.conf" "$tab" hdfs "a1.sinks.k1.hdfs.path = file://$WORK/$tab/$tail" \
        "a1.sinks.k1.hdfs.fileType = DataStream" "a1.sinks.k1.serializer = avro" \
        "a1.sinks.k1.hdfs.rollCount = 0" "a1.sinks.k1.hdfs.rollSize = 0" \
        "a1.sinks.k1.hdfs.rollInterval = 0"
    agent_start "$WORK/$tab.conf" "$WORK/$tab.log"
    wait_offset "$tab" 50 60 || return 1
    db_exec "ALTER TABLE $tab ADD COLUMN extra INT"
    db_insert_range "$tab" 51 80
}

# %{flume.avro.schema.hash} in hdfs.path: each schema in its own directory, named by the
# fingerprint of the schema in its files; every row once. Without it (%{table} only) the first
# event of the new schema fails its batch with the "schema changed" ERROR, and nothing is lost.
s_schema_hash() {
    t schema_hash
    schema_hdfs avh2 "%{table}/%{flume.avro.schema.hash}" || return
    wait_offset avh2 80 60 || return
    agent_term
    assert_eq "ok" "$($PY - "$WORK/avh2/avh2" <<'EOF'
import json, os, sys
import avro.datafile, avro.io
def crc64(data):
    fp = 0xc15d213aa4d7a795
    for b in data:
        t = (fp ^ b) & 0xff
        for _ in range(8):
            t = (t >> 1) ^ (0xc15d213aa4d7a795 & -(t & 1))
        fp = (fp >> 8) ^ t
    return "%016x" % fp
d, bad, ids = sys.argv[1], [], []
dirs = sorted(os.listdir(d))
if len(dirs) != 2:
    bad.append("directories %s" % dirs)
for h in dirs:
    for name in os.listdir(os.path.join(d, h)):
        with open(os.path.join(d, h, name), "rb") as f:
            r = avro.datafile.DataFileReader(f, avro.io.DatumReader())
            text = r.get_meta("avro.schema")
            if crc64(text) != h:
                bad.append("%s/%s: schema fingerprint %s" % (h, name, crc64(text)))
            nf = len(json.loads(text)["fields"])
            for rec in r:
                ids.append(rec["id"])
                if len(rec) != (3 if rec["id"] > 50 else 2) or len(rec) != nf:
                    bad.append((h, rec))
if sorted(ids) != list(range(1, 81)):
    bad.append("%d ids, %d distinct" % (len(ids), len(set(ids))))
print("ok" if not bad else bad[:3])
EOF
)" "one directory per schema, named by its fingerprint, every row once" || return
    assert_not_contains "$WORK/avh2.log" " ERROR " "no error" || return
    pass
    t schema_hash_without
    schema_hdfs avh3 "%{table}" || return
    wait_log "$WORK/avh3.log" "avro: schema changed: an event of table \"avh3\" has another flume.avro.schema.literal than the file's" 30 || return
    kill -0 "$AGENT_PID" || { fail "the agent stopped"; return; }
    assert_eq 50 "$(db_offset avh3)" "the offset stays at the last row written" || return
    agent_term
    pass
}

s_refused() {
    t refused
    db_exec "DROP TABLE IF EXISTS avr"
    local col val
    if [ "$DB_KIND" = mysql ]; then
        db_exec "CREATE TABLE avr (id BIGINT PRIMARY KEY, x TIME)"
        db_exec "INSERT INTO avr VALUES (1, '12:00:00'), (2, '-838:59:59'), (3, '13:00:00')"
        col=x val="-838:59:59"
        why="not a time of day 00:00:00..23:59:59.999999 (Avro time-micros)"
    else
        db_exec "CREATE TABLE avr (id BIGINT PRIMARY KEY, x DATE)"
        db_exec "INSERT INTO avr VALUES (1, '2024-01-01'), (2, 'infinity'), (3, '2024-01-03')"
        col=x val=infinity
        why="infinity has no Avro date/time value"
    fi
    local dir=$WORK/avr
    mkdir -p "$dir"
    av_conf "$WORK/avr.conf" avr file_roll "a1.sinks.k1.sink.directory = $dir" \
        "a1.sinks.k1.sink.serializer = avro" "a1.sources.r1.batch.size = 1"
    agent_start "$WORK/avr.conf" "$WORK/avr.log"
    wait_log "$WORK/avr.log" "format avro: table \"avr\", the row at offset 2: column \"$col\": value '$val' cannot be encoded: $why; the source stops here (select the column cast to text, or use format json)" 30 || return
    # a source that stops stops the agent (exit 1), with the delivered offset in flume_meta
    local rc=0
    wait "$AGENT_PID" || rc=$?
    AGENT_PID=""
    assert_eq 1 "$rc" "the agent's exit code" || return
    assert_eq 1 "$(db_offset avr)" "the offset stays before the refused row" || return
    assert_eq 1 "$(grep -c " ERROR " "$WORK/avr.log")" "one ERROR line" || return
    assert_eq "1" "$($PY "$DUMP" python "$dir"/* | grep -v '^schema' | $PY -c 'import json,sys; print(" ".join(json.loads(l)["id"] for l in sys.stdin))')" "the row before it delivered" || return
    pass
}

ALL="s_file_roll s_hdfs s_schema_change s_schema_hash s_refused"
db_start "$KIND" "$PORT"
for s in ${*:-$ALL}; do
    "$s"
done
finish
