#!/usr/bin/env bash
# The file channel on a small file system: a ROWS-row table exported through a file channel whose
# data directory is a tmpfs holding about a tenth of the export's log (mounted here; needs root),
# against the same export with ample space, same run. When free space falls below
# minimumRequiredSpace the channel rolls its log and checkpoints as soon as the sink has drained
# the oldest log files, deleting them, instead of stalling until checkpointInterval. Asserts: every
# row exactly once in Kafka (no kill, so no duplicate either), the space warning and the INFO line
# with the early checkpoints, and the small directory's export at least 0.5x as fast as the ample
# one.
#   tests/integration/file_channel_space.sh mysql|postgresql PORT [ROWS]
set -u
source "$(dirname "$0")/lib.sh"
KIND=$1
PORT=$2
ROWS=${3:-200000}
if [ "$(id -u)" != 0 ]; then
    echo "file_channel_space.sh mounts a tmpfs: run it as root"
    exit 1
fi
SMALL=$WORK/small
trap '[ -n "$AGENT_PID" ] && agent_kill9; mountpoint -q "$SMALL" && umount "$SMALL"; cleanup' EXIT

db_start "$KIND" "$PORT"
kafka_start
db_create_idv tt
db_insert_range tt 1 "$ROWS"

# export_through KEY DATADIR: the export's seconds in $WORK/KEY.secs, the agent's log in $WORK/KEY.log
export_through() {
    local key=$1 data=$2 t0 t1
    mkdir -p "$WORK/$key-ckpt" "$data"
    write_conf "$WORK/$key.conf" tt "$key" "a1.sources.r1.status.key = $key" \
        "a1.sources.r1.max.rows = 2000" "a1.sources.r1.batch.size = 500" "a1.sinks.k1.flumeBatchSize = 500" \
        "a1.sinks.k1.kafka.producer.compression.codec = lz4" \
        "a1.channels.c1.type = file" "a1.channels.c1.checkpointDir = $WORK/$key-ckpt" \
        "a1.channels.c1.dataDirs = $data" "a1.channels.c1.minimumRequiredSpace = 1048576"
    t0=$(date +%s.%N)
    agent_start "$WORK/$key.conf" "$WORK/$key.log"
    wait_hw "$key" "$ROWS" 300 || return 1
    t1=$(date +%s.%N)
    agent_term
    awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f\n", b - a}' >"$WORK/$key.secs"
}

t "file_channel_space"
export_through ample "$WORK/ample-data" || { finish; exit 1; }
ample_s=$(cat "$WORK/ample.secs")
log_bytes=$(du -sb "$WORK/ample-data" | cut -f1)
# a tenth of the log the export wrote (one file: maxFileSize is 2 GB), at least 2 MiB so that it
# holds minimumRequiredSpace's 1 MiB floor plus a few batches
size=$((log_bytes / 10))
[ $size -lt 2097152 ] && size=2097152
mkdir -p "$SMALL"
mount -t tmpfs -o size=$size tmpfs "$SMALL" || { fail "could not mount a tmpfs of $size bytes"; finish; exit 1; }
export_through small "$SMALL/data" || { tail -20 "$WORK/small.log"; finish; exit 1; }
small_s=$(cat "$WORK/small.secs")
echo "SPACE $KIND: $ROWS rows, log of $log_bytes bytes; ample space: $ample_s s; data directory of $size bytes: $small_s s ($(awk -v a="$ample_s" -v b="$small_s" 'BEGIN{printf "%.2f", a / b}')x as fast)"
for key in ample small; do
    consume "$key" "$ROWS" "$WORK/$key.out"
    assert_eq "lost=0 dup=0 extra=0" "$(check_range "$WORK/$key.out" 1 "$ROWS")" "$key: every row once" || { finish; exit 1; }
done
assert_contains "$WORK/small.log" "below minimumRequiredSpace (1048576 bytes); rolling the log and checkpointing" "space warning"
early=$(sed -n 's/.*accepting puts (\([0-9]*\) checkpoints taken early.*/\1/p' "$WORK/small.log" | tail -1)
[ "${early:-0}" -ge 1 ] || fail "no early checkpoint reported (${early:-no line})"
assert_not_contains "$WORK/ample.log" "below minimumRequiredSpace" "no space warning with ample space"
awk -v a="$ample_s" -v b="$small_s" 'BEGIN{exit !(b <= 2 * a)}' ||
    fail "the small data directory's export took $small_s s, more than twice the $ample_s s with ample space"
[ "$FAILURES" -eq 0 ] && pass
finish
