/*
 * Flume's KafkaSink ("kafka", org.apache.flume.sink.kafka.KafkaSink) on librdkafka. Each batch
 * of up to flumeBatchSize events is taken in its own take transaction and produced at once
 * (bodies are referenced, not copied: a taken event stays valid until its transaction ends);
 * up to maxInFlightBatches transactions are kept open while librdkafka delivers them, and they
 * are committed strictly in take order, each only after every message of its batch has a
 * successful delivery report (DESIGN-NOTES 1: the source's offset never runs ahead of Kafka) or
 * was handled by errors.tolerance. Each message has its own delivery state (struct kmsg): once
 * every report of a batch is in, its messages failed with a retriable error are produced again,
 * those only, after a backoff of 100 ms doubling to 10 s (service()), so nothing that Kafka
 * acknowledged is sent twice; a permanent error (err_permanent: too large, invalid record, not
 * authorised, unknown or invalid topic) goes to errors.tolerance: none stops the sink and asks
 * the agent to stop with exit code 1 (sink_fail), all dead-letters it to
 * errors.deadletterqueue.topic.name or logs it (handle_failed, dlq_produce). Sizes are checked
 * against message.max.bytes before producing (msg_size): under none a batch holding a too-large
 * event is rolled back untouched and taken again up to the event before it (precheck_split),
 * so what precedes it is delivered and committed and nothing after it is produced. The topic is
 * kafka.topic with %{header} replaced per event, or the event's topicHeader header when
 * allowTopicOverride; the `key` header is the message key; partitionIdHeader /
 * defaultPartitionId pick a partition.
 * As in Flume (1.10), useFlumeEventFormat makes each message the event's AvroFlumeEvent datum
 * (avro_event.h) instead of its body, header.NAME = KAFKA_NAME sends header NAME as the Kafka
 * header KAFKA_NAME, and timestampHeader names the header holding the message timestamp (ms); with
 * either of the last two each message gets its own rd_kafka_producev() call, since
 * rd_kafka_produce_batch() carries no headers or timestamps.
 * Every other kafka.producer.<prop> goes to librdkafka as <prop>. The producer is idempotent
 * unless the user says otherwise (so librdkafka's own retries never duplicate), which needs
 * acks=all: that is the default here instead of Flume's acks=1, and an explicit acks other than
 * all turns idempotence off; socket.nagle.disable is true unless set (TCP_NODELAY, as Kafka's
 * Java clients); linger.ms is 5 unless set, and skipped whenever the sink can take nothing more
 * (the ring of in-flight batches is full, or the channel looked empty: a channel smaller than
 * maxInFlightBatches x flumeBatchSize holds fewer batches, since taken events count against its
 * capacity until they commit), since nothing more can join their requests then: the sink then
 * waits for acknowledgements inside rd_kafka_flush() and goes on at the first completed batch
 * (wait_acks). Each batch's round trip (produce to its last delivery report) is a DEBUG line,
 * and stop() logs their mean and maximum. A
 * fatal producer error recreates the producer, which produces again only the messages without a
 * successful report. stop() waits up to flushTimeout for in-flight batches, commits the
 * delivered prefix and rolls back the rest.
 * librdkafka's error and log callbacks are rate-limited to one line per kind per 5 s, so a
 * broker that is down does not flood the log; pass-through values of secret properties
 * (passwords, secrets, keys) are never logged.
 *
 * Exactly-once (kafka.producer.transactional.id set): one take transaction at a time becomes one
 * Kafka transaction (init_transactions once per producer, then begin, produce the batch, commit);
 * the channel transaction commits only after the Kafka commit succeeded. A too-large event never
 * enters the transaction (the size pre-check): under errors.tolerance = all its dead-letter record
 * does, under none the transaction ends before it. An abortable error (or a
 * message librdkafka refused: committing would lose it) aborts the Kafka transaction and rolls the
 * channel transaction back; a fatal one (fenced, a failed abort) drops the producer and rolls back,
 * and the next process() creates a new producer, whose init_transactions fences the old one and
 * ends its open transaction. Each Kafka transaction also writes one position record to partition 0
 * of kafka.positions.topic, keyed by the transactional.id (format at pos_record_build): per (topic,
 * `table` header) the highest `offset` header delivered so far (the batch's last one when offsets
 * increase) and, for integer offsets, the set of offsets delivered (pos_ids: the span from the
 * lowest to the highest, less the ids in it not delivered yet), plus the batch's own
 * first/last offsets and counts for audits. After every producer (re)creation the sink reads the
 * newest record of its transactional.id with a read_committed consumer (from the tail backwards,
 * and up to the high watermark it saw after init_transactions, so a record behind another
 * producer's open transaction is not missed). While producing, an event that Kafka has already is
 * committed in the channel with its batch instead of being produced: an integer offset in the
 * delivered set, any other offset at or below the highest one (numerically when both are decimal
 * numbers, else by bytes, part by part for "ts,id"). Rows that the source reads again after a crash
 * (kill -9 between the Kafka commit and the channel commit, or before the source wrote its offset)
 * are thus delivered once, while rows that come late below the highest id (the source's gap
 * tracking, a backfill in key order) still go. Limits: non-integer offsets must increase per table
 * in channel order (a backfill in a timestamp mode does not: use at-least-once for it); one
 * transactional.id per sink, and all events of a table through that one sink (a sink group
 * spreading a table over several sinks is at least once across restarts); a pair's delivered set
 * keeps at most POS_GAPS_MAX gaps and gives up the lowest beyond that (their ids then count as
 * delivered: more than the source's own SF_GAPS_MAX, so the sink always knows every gap the
 * source could still read again after a restart, and the set stays small however sparse the ids
 * are: docs/DESIGN.md, "Offsets"); events without
 * `table` or `offset` headers are produced as usual. Exactly-once holds for consumers with
 * isolation.level=read_committed. Test hooks, for tests only: testCrashAfterCommits = N freezes
 * the sink right after its N-th Kafka commit, before the channel commit, as a crash would (stop()
 * then rolls back), or with testCrashKill raises SIGKILL there; testCrashBeforeCommit = N raises
 * SIGKILL before the N-th Kafka commit, once that transaction's messages are acknowledged (a crash
 * in the middle of a transaction).
 */
#include "sqlflume/agent.h"
#include "sqlflume/avro_event.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/offset.h"
#include "sqlflume/sinks.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define PRODUCER_PREFIX    "kafka.producer."
#define HEADER_PREFIX      "header."
#define TAKE_WAIT_MS       100  /* take wait when nothing is in flight */
#define RING_WAIT_MS       100  /* ack wait when no batch can be taken (ring full, draining) */
#define ACK_WAIT_MS        10   /* ack wait when the channel looked empty, batches in flight */
#define QUEUE_FULL_WAIT_MS 10   /* poll wait before producing again on a full librdkafka queue */
#define QUEUE_FULL_MAX_MS  1000 /* then give the batch up as failed (it is rolled back) */
#define PURGE_WAIT_MS      5000 /* after a purge, how long to wait for the purged reports */
#define RATE_LIMIT_MS      5000 /* one log line per error kind per this many ms */
#define RATE_SLOTS         32
#define TOPIC_CACHE_MAX    4096  /* distinct topics with a cached handle; more are opened per run */
#define PARTS_RELEARN_MS   30000 /* ms between batches left to librdkafka's partitioner */
#define PARTS_GROUP_MAX    4096  /* topics with more partitions are not grouped by the sink */
/* exactly-once */
#define POSITIONS_FORMAT     "sqlflume-positions 2" /* first line of a position record */
#define POSITIONS_FORMAT_1   "sqlflume-positions 1" /* read too: "ranges" of delivered ids */
#define POSITIONS_MAX        4096 /* (topic, table) pairs with a position; more are not tracked */
#define POS_GAPS_MAX         SF_GAPS_CAP /* gap ranges of a pair's delivered ids; then the lowest goes */
#define POSITIONS_READ_MS    30000 /* one attempt at reading the stored positions */
#define POSITIONS_WINDOW     256 /* records read from the tail first; then 8 times more each step */
#define TXN_STEP_MS          500 /* init/commit_transaction block at most this long per process() */
#define ABORT_WAIT_MS        5000   /* abort_transaction, then waiting for the purged reports */
#define POSITIONS_WARN_BYTES 900000 /* a position record this big nears message.max.bytes */
/* per-message errors */
#define RETRY_FIRST_MS 100   /* first wait before producing failed messages again */
#define RETRY_MAX_MS   10000 /* the wait doubles up to this */
#define MSG_OVERHEAD   64    /* bytes counted per message beyond value, key and headers */
#define DLQ_HDR_PREFIX "__sqlflume.errors."

/* One piece of kafka.topic: a literal or a %{header}. */
struct topic_part {
    bool is_header;
    char *text;
};

struct topic_entry {
    char *name; /* NULL = free slot */
    rd_kafka_topic_t *rkt;
};

/* librdkafka's partitioner function type (rd_kafka_msg_partitioner_*). */
typedef int32_t (*partitioner_fn)(const rd_kafka_topic_t *rkt,
                                  const void *key,
                                  size_t key_len,
                                  int32_t partition_cnt,
                                  void *rkt_opaque,
                                  void *msg_opaque);

/*
 * What the sink knows of a cached topic's partitions: the opaque of the topic's conf, so its
 * partitioner callback (partition_learn_cb) records the partition count librdkafka knows. With
 * that count the sink partitions keyed messages itself, by the same function, and produces each
 * partition's run in one rd_kafka_produce_batch() call (one queue lock per run instead of one per
 * message). Owned by kafka_ctx.metas; freed after rd_kafka_destroy (librdkafka's threads may call
 * the partitioner until then).
 */
struct topic_meta {
    struct topic_meta *next;
    partitioner_fn fn;
    atomic_int part_cnt;  /* partition count librdkafka last partitioned with; 0 = unknown */
    long long relearn_ms; /* sink thread: when a batch next goes to librdkafka's partitioner */
};

/* Delivery state of one message of a batch (kmsg.state). */
enum kmsg_state {
    KM_PENDING = 0, /* produced, no delivery report yet */
    KM_OK,          /* acknowledged by Kafka: never produced again */
    KM_RETRY,       /* failed with a retriable error: produced again after the batch's backoff */
    KM_PERM,        /* failed permanently (or too large to produce): errors.tolerance decides */
    KM_DONE,        /* handled by errors.tolerance = all: dead-lettered or logged */
};

struct kbatch;

/* One message of a batch: the opaque of its delivery report. */
struct kmsg {
    struct kbatch *b;
    const void *payload; /* the message value: the event's body or its Avro datum (in avro[]) */
    size_t len;
    rd_kafka_resp_err_t err;   /* the last failure */
    rd_kafka_resp_err_t cause; /* the failure that sent it to the dead-letter topic */
    unsigned char state;       /* enum kmsg_state */
    bool dlq;                  /* the message in flight is the event's dead-letter record */
    bool cut;                  /* that record's body is cut to the size limit */
};

/* One in-flight take transaction and what librdkafka has reported about its messages. The
 * take transaction commits once every message is KM_OK or KM_DONE; only KM_RETRY messages are
 * produced again, so nothing Kafka acknowledged is sent twice. */
struct kbatch {
    struct sf_txn *txn;
    size_t n;                /* events taken */
    size_t nmsg;             /* messages of events (n, or fewer in exactly-once: skipped ones) */
    size_t pending;          /* messages without a delivery report yet */
    size_t failed;           /* failed reports and messages librdkafka refused */
    rd_kafka_resp_err_t err; /* first failure */
    char err_topic[128];     /* topic of the first failure */
    struct sf_event **evs;   /* batch slots (kept across batches): the event of each message */
    struct kmsg *msg;        /* batch + 1 slots (kept): the last is the position record's */
    long long seq;           /* number of the batch since start */
    long long retry_at_ms;   /* when the KM_RETRY messages go again (0: not scheduled) */
    long long backoff_ms;    /* the last wait: 100 ms doubling to 10 s */
    long long sent_us;       /* monotonic µs of its produce (0: not timed: produced again) */
    long long rtt_us;        /* produce to its last delivery report, µs (-1: not timed) */
};

struct rate_slot {
    int key;
    long long last_ms;
    unsigned suppressed;
};

/* Exactly-once: the integer offsets of one pair that Kafka has: every id of floor..set->hw except
 * those in set's gaps (the ids below the highest one delivered that were not delivered yet, at
 * most POS_GAPS_MAX ranges, the lowest given up first), so its size depends on the gaps, not on
 * how sparse the ids are (see sqlflume/offset.h). */
struct pos_ids {
    bool has;              /* an id was delivered */
    long long floor;       /* the lowest id of the span */
    struct sf_gapset *set; /* owned, allocated on first use */
};

/* Exactly-once: what has been delivered of one (topic, table). While every offset of the pair is
 * an integer (int_mode), the delivered set is kept (pos_ids), so that a row the source delivers
 * late below the highest offset (an id whose transaction committed late, read again from the
 * source's gaps) is produced, and a row read again is not; other offsets are compared with the
 * highest one delivered (sf_offset_cmp). */
struct pos_entry {
    char *topic, *table; /* owned */
    size_t hash;
    bool int_mode;
    bool unordered_warned; /* the text-offset warning was logged for this pair */
    /* committed in Kafka */
    char *max;          /* owned: the highest offset delivered (by sf_offset_cmp), or NULL */
    struct pos_ids ids; /* int_mode */
    /* the open batch (in_batch), borrowed offsets point into its events */
    bool in_batch;
    const char *bmax;    /* the highest offset produced by the batch, or NULL */
    struct pos_ids wids; /* int_mode: ids plus what the batch produces */
    const char *first, *last; /* first and last offset produced by the batch, in channel order */
    size_t count;             /* events produced by the batch */
};

struct kafka_ctx {
    /* options */
    char *bootstrap;
    char *topic;
    long long batch_size;
    char *acks;
    bool allow_topic_override;
    char *topic_header;
    char *partition_header;
    long long default_partition;
    long long max_inflight;
    long long flush_timeout_ms;
    bool flume_event_format; /* useFlumeEventFormat */
    char *timestamp_header;  /* timestampHeader, or NULL */
    char *txn_id;            /* kafka.producer.transactional.id: exactly-once when set */
    char *positions_topic;   /* kafka.positions.topic */
    char *errors_tolerance;  /* errors.tolerance: none or all */
    char *dlq_topic;         /* errors.deadletterqueue.topic.name, or NULL */
    bool errors_log;         /* errors.log.enable */

    /* runtime, from start to stop */
    const char **hdr_from, **hdr_to; /* header.NAME = KAFKA: NAME and KAFKA, borrowed from the
                                      * configuration (which outlives the sink) */
    size_t nhdr;
    bool per_msg;                   /* Kafka headers or timestamps: one rd_kafka_producev per
                                     * message instead of rd_kafka_produce_batch */
    const struct sf_event **msg_ev; /* per_msg: batch slots, the event of each message */
    struct sf_buf *avro;            /* useFlumeEventFormat: max_inflight slots, the message
                                     * bodies of each ring slot's batch */
    size_t *avro_at;                /* useFlumeEventFormat: batch slots, offsets in avro[] */
    rd_kafka_t *rk;
    struct topic_part *parts; /* kafka.topic as a template, when it has %{...} */
    size_t nparts;
    rd_kafka_topic_t *static_rkt; /* kafka.topic's handle, when it has no %{...} */
    struct topic_entry *cache;    /* open addressing, cache_cap a power of 2 */
    partitioner_fn partitioner;   /* kafka.producer.partitioner when keyed messages may be grouped
                                   * by partition in the sink, else NULL */
    struct topic_meta *metas;     /* of the topic handles made by topic_create */
    int32_t *grp_part;            /* batch slots: partition of each message of a grouped run */
    size_t *grp_count;            /* PARTS_GROUP_MAX + 1 slots: messages per partition */
    rd_kafka_message_t *grp_msgs; /* batch slots: a run's messages ordered by partition */
    size_t cache_cap, cache_n;
    struct sf_buf topic_buf;
    size_t batch;               /* min(flumeBatchSize, the channel's transactionCapacity) */
    struct sf_event **evs;      /* take scratch, batch slots */
    rd_kafka_message_t *msgs;   /* produce scratch, batch slots */
    rd_kafka_topic_t **msg_rkt; /* topic of each message */
    bool *msg_rkt_temp;         /* that handle is to be destroyed after producing */
    struct kbatch *ring;        /* max_inflight slots */
    size_t ring_head, ring_count;
    bool tolerate;             /* errors.tolerance = all */
    bool dead;                 /* errors.tolerance = none stopped the sink: nothing more goes */
    long long dead_seq;        /* dead: the batch that holds the failed event (LLONG_MAX: none
                                * in flight); it and later ones are not retried */
    long long batch_seq;       /* batches begun since start */
    size_t take_limit;         /* the next take takes at most this many events (0: batch) */
    long long max_msg_bytes;   /* the producer's message.max.bytes */
    rd_kafka_topic_t *dlq_rkt; /* the dead-letter topic's handle */
    atomic_bool fatal;         /* librdkafka raised a fatal error: recreate the producer */
    /* batch round trips and waits, for the DEBUG lines and the summary at stop */
    long long rtt_n, rtt_sum_us, rtt_max_us; /* batches delivered at their first produce */
    size_t ring_peak;                        /* most batches in flight at once */
    long long waits_full, waits_empty;       /* waits for acknowledgements: ring full, channel
                                              * empty (wait_acks) */
    pthread_mutex_t rate_mu;   /* callbacks come from librdkafka's threads too */
    struct rate_slot rate[RATE_SLOTS];

    /* runtime of the exactly-once mode (txn_id set); the open batch is ring slot 0 */
    struct pos_entry *pos; /* positions, stable indices */
    size_t pos_n, pos_cap;
    size_t *pos_index;    /* open addressing: entry index + 1, 0 = free */
    size_t pos_index_cap; /* a power of 2, or 0 */
    size_t *touched;      /* entries the open batch advances, batch slots */
    size_t ntouched;
    struct sf_event **send;    /* the open batch's events to produce, batch slots */
    rd_kafka_topic_t *pos_rkt; /* positions_topic's handle */
    struct sf_buf pos_buf;     /* the open batch's position record */
    bool txn_ready;            /* init_transactions done on rk */
    bool pos_loaded;           /* positions read since rk was created */
    bool in_txn;               /* a Kafka transaction is open or committing */
    long long txn_seq;         /* number of the last Kafka transaction begun */
    long long committed_seq;   /* number of the last one committed (-1: none known) */
    long long skipped;         /* events not produced because Kafka had them */
    long long commits;         /* Kafka commits since start, for the test hook */
    long long begun;           /* Kafka transactions begun since start, for the test hook */
    long long crash_before;    /* testCrashBeforeCommit (0: off) */
    long long crash_after;     /* testCrashAfterCommits (0: off) */
    bool crash_kill;           /* testCrashKill */
    bool crashed;              /* the test hook froze the sink */
};

static const struct sf_option kafka_options[] = {
    { "kafka.bootstrap.servers", SF_OPT_STRING, NULL, 0, 0, offsetof(struct kafka_ctx, bootstrap),
      SF_OPT_REQUIRED, "brokerList", NULL,
      "comma-separated host:port list of Kafka brokers to bootstrap from" },
    { "kafka.topic", SF_OPT_STRING, "default-flume-topic", 0, 0, offsetof(struct kafka_ctx, topic),
      0, "topic", NULL, "topic to produce to; %{name} is replaced by the event's header name" },
    { "flumeBatchSize", SF_OPT_INT, "100", 1, 1000000, offsetof(struct kafka_ctx, batch_size), 0,
      "batchSize", NULL,
      "maximum number of events per take transaction (capped at the channel's "
      "transactionCapacity)" },
    { "kafka.producer.acks", SF_OPT_STRING, NULL, 0, 0, offsetof(struct kafka_ctx, acks), 0,
      "requiredAcks", NULL,
      "broker acknowledgements per message: 0, 1 or all; unset means all with the idempotent "
      "producer (Flume's default is 1, which turns idempotence off)" },
    { "allowTopicOverride", SF_OPT_BOOL, "true", 0, 0,
      offsetof(struct kafka_ctx, allow_topic_override), 0, NULL, NULL,
      "whether an event's topicHeader header chooses its topic" },
    { "topicHeader", SF_OPT_STRING, "topic", 0, 0, offsetof(struct kafka_ctx, topic_header), 0,
      NULL, NULL, "name of the header that overrides the topic (see allowTopicOverride)" },
    { "partitionIdHeader", SF_OPT_STRING, NULL, 0, 0, offsetof(struct kafka_ctx, partition_header),
      0, NULL, NULL, "name of the header holding the partition number of an event (unset: none)" },
    { "defaultPartitionId", SF_OPT_INT, "-1", -1, 2147483647,
      offsetof(struct kafka_ctx, default_partition), 0, NULL, NULL,
      "partition number for events without a partitionIdHeader value; -1 lets the "
      "partitioner choose (by key when there is one)" },
    { "useFlumeEventFormat", SF_OPT_BOOL, "false", 0, 0,
      offsetof(struct kafka_ctx, flume_event_format), 0, NULL, NULL,
      "whether each message is Flume's AvroFlumeEvent (Avro binary: the event's headers and "
      "body, as Flume's KafkaSource and KafkaChannel read with useFlumeEventFormat) instead of "
      "the body alone" },
    { "timestampHeader", SF_OPT_STRING, NULL, 0, 0, offsetof(struct kafka_ctx, timestamp_header), 0,
      NULL, NULL,
      "name of the header whose value (milliseconds since the epoch) becomes the message "
      "timestamp, e.g. timestamp (the capture time); unset or not a number: the time of "
      "producing" },
    { HEADER_PREFIX, SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "header.NAME = KAFKA_NAME sends the event's header NAME with each message as the Kafka "
      "header KAFKA_NAME (events without NAME get no such header)" },
    { "maxInFlightBatches", SF_OPT_INT, "16", 1, 1024, offsetof(struct kafka_ctx, max_inflight), 0,
      NULL, NULL,
      "take transactions (batches) produced and awaiting delivery reports at once (1 with "
      "kafka.producer.transactional.id)" },
    { "flushTimeout", SF_OPT_INT, "10000", 0, 3600000, offsetof(struct kafka_ctx, flush_timeout_ms),
      0, NULL, NULL,
      "milliseconds stop waits for in-flight batches (or the open Kafka transaction's commit) "
      "before rolling them back" },
    { "kafka.producer.transactional.id", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct kafka_ctx, txn_id), 0, NULL, NULL,
      "turns on exactly-once delivery: each batch is one Kafka transaction of this producer id "
      "(unique per sink, stable across restarts) that also stores, per topic and table header, "
      "which offset headers are delivered (the highest; for integer offsets the ids below it not "
      "yet delivered) in kafka.positions.topic, so events the source reads again after a crash are "
      "not produced twice; consumers read with isolation.level = read_committed; one batch in "
      "flight (maxInFlightBatches is not used) and acks = all" },
    { "kafka.positions.topic", SF_OPT_STRING, "__sqlflume_positions", 0, 0,
      offsetof(struct kafka_ctx, positions_topic), 0, NULL, NULL,
      "topic whose partition 0 holds the position records of transactional sinks, keyed by "
      "transactional.id (best created beforehand with cleanup.policy = compact; start-up reads "
      "its tail with isolation.level = read_committed)" },
    { PRODUCER_PREFIX, SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "any librdkafka producer property, e.g. kafka.producer.compression.type = lz4" },
    { "errors.tolerance", SF_OPT_STRING, "none", 0, 0, offsetof(struct kafka_ctx, errors_tolerance),
      0, NULL, NULL,
      "what an event with a permanent error does (larger than kafka.producer.message.max.bytes or "
      "the topic's max.message.bytes, an invalid record, not authorised, an unknown topic): none "
      "stops the sink and the agent (exit code 1) with an ERROR line, its offset and every "
      "later one not committed; all sends it to errors.deadletterqueue.topic.name or logs it "
      "(errors.log.enable) and goes on. Retriable errors are retried, failed messages only, "
      "waiting 100 ms doubling to 10 s" },
    { "errors.deadletterqueue.topic.name", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct kafka_ctx, dlq_topic), 0, NULL, NULL,
      "with errors.tolerance = all: topic that gets each failed event (its body, key and Kafka "
      "headers, plus headers " DLQ_HDR_PREFIX "topic, table, offset, sink.name and "
      "exception.message; a body over the size limit is cut to it, with header " DLQ_HDR_PREFIX
      "body.truncated = the original length)" },
    { "errors.log.enable", SF_OPT_BOOL, "false", 0, 0, offsetof(struct kafka_ctx, errors_log), 0,
      NULL, NULL,
      "with errors.tolerance = all: log one ERROR line per failed event (rate-limited); needed "
      "when there is no errors.deadletterqueue.topic.name" },
    { "testCrashAfterCommits", SF_OPT_INT, "0", 0, LLONG_MAX,
      offsetof(struct kafka_ctx, crash_after), 0, NULL, NULL,
      "number of the Kafka commit after which the sink freezes before committing the channel "
      "transaction, as a crash there would (tests only; 0 = off; only with "
      "kafka.producer.transactional.id)" },
    { "testCrashKill", SF_OPT_BOOL, "false", 0, 0, offsetof(struct kafka_ctx, crash_kill), 0, NULL,
      NULL,
      "whether testCrashAfterCommits kills the agent with SIGKILL instead of freezing the "
      "sink (tests only)" },
    { "testCrashBeforeCommit", SF_OPT_INT, "0", 0, LLONG_MAX,
      offsetof(struct kafka_ctx, crash_before), 0, NULL, NULL,
      "number of the Kafka transaction (since start) before whose commit the agent kills itself "
      "with SIGKILL, once every message of the transaction is acknowledged: a crash in the middle "
      "of a transaction (tests only; 0 = off; only with kafka.producer.transactional.id)" },
    { 0 },
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- rate-limited logging of librdkafka's callbacks ---- */

/* Whether a line of kind key may be logged now; *suppressed gets the count dropped since the
 * last line of that kind. Thread-safe. */
static bool rate_allow(struct kafka_ctx *ctx, int key, unsigned *suppressed)
{
    long long now = mono_ms();
    bool ok = false;
    pthread_mutex_lock(&ctx->rate_mu);
    struct rate_slot *slot = NULL, *oldest = &ctx->rate[0];
    for (size_t i = 0; i < RATE_SLOTS; i++) {
        if (ctx->rate[i].last_ms != 0 && ctx->rate[i].key == key) {
            slot = &ctx->rate[i];
            break;
        }
        if (ctx->rate[i].last_ms < oldest->last_ms) {
            oldest = &ctx->rate[i];
        }
    }
    if (!slot) {
        slot = oldest;
        slot->key = key;
        slot->last_ms = 0;
        slot->suppressed = 0;
    }
    if (slot->last_ms == 0 || now - slot->last_ms >= RATE_LIMIT_MS) {
        *suppressed = slot->suppressed;
        slot->suppressed = 0;
        slot->last_ms = now ? now : 1;
        ok = true;
    } else {
        slot->suppressed++;
    }
    pthread_mutex_unlock(&ctx->rate_mu);
    return ok;
}

static int str_key(const char *s)
{
    unsigned h = 2166136261u;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return (int)(h | 0x40000000u); /* apart from the (small, mostly negative) error codes */
}

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct sf_sink *snk = opaque;
    struct kafka_ctx *ctx = snk->ctx;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        atomic_store(&ctx->fatal, true);
        atomic_fetch_add(&snk->metrics.connection_failed, 1);
        SF_ERROR(SF_SINK_FMT "kafka producer failed fatally: %s", SF_SINK_ARGS(snk), reason);
        return;
    }
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        atomic_fetch_add(&snk->metrics.connection_failed, 1);
    }
    unsigned suppressed;
    if (rate_allow(ctx, err, &suppressed)) {
        if (suppressed) {
            SF_WARN(SF_SINK_FMT "kafka: %s (%s; %u similar suppressed)", SF_SINK_ARGS(snk), reason,
                    rd_kafka_err2name(err), suppressed);
        } else {
            SF_WARN(SF_SINK_FMT "kafka: %s (%s)", SF_SINK_ARGS(snk), reason,
                    rd_kafka_err2name(err));
        }
    }
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct sf_sink *snk = rd_kafka_opaque(rk);
    struct kafka_ctx *ctx = snk->ctx;
    if (level > LOG_WARNING || strcmp(fac, "FATAL") == 0) { /* FATAL: see kafka_error_cb */
        SF_DEBUG(SF_SINK_FMT "librdkafka %s: %s", SF_SINK_ARGS(snk), fac, buf);
        return;
    }
    unsigned suppressed;
    if (rate_allow(ctx, str_key(fac), &suppressed)) {
        if (suppressed) {
            SF_WARN(SF_SINK_FMT "librdkafka %s: %s (%u similar suppressed)", SF_SINK_ARGS(snk), fac,
                    buf, suppressed);
        } else {
            SF_WARN(SF_SINK_FMT "librdkafka %s: %s", SF_SINK_ARGS(snk), fac, buf);
        }
    }
}

/* Whether err fails a message for good: sending it again cannot succeed until the
 * configuration, the topic or the event change (errors.tolerance decides). Every other error
 * (timeouts, brokers down, leader changes, purges, a full queue) is retried. */
static bool err_permanent(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__BAD_MSG:
        return true;
    default:
        return false;
    }
}

/* Record a failure of km (a report or a refusal): KM_PERM or KM_RETRY. */
static void kmsg_fail(struct kmsg *km, rd_kafka_resp_err_t err, const char *topic)
{
    struct kbatch *b = km->b;
    km->err = err;
    km->state = err_permanent(err) ? KM_PERM : KM_RETRY;
    if (b->failed++ == 0) {
        b->err = err;
        (void)snprintf(b->err_topic, sizeof(b->err_topic), "%s", topic ? topic : "");
    }
}

/* Delivery report, served by rd_kafka_poll() / rd_kafka_flush() on the sink's thread. The last
 * report of a batch times its round trip and, outside exactly-once, makes the serving call return
 * (rd_kafka_yield: the reports of the same response are still all served), so that the sink
 * commits and takes again at once instead of at the end of its wait (wait_acks). */
static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct sf_sink *snk = opaque;
    struct kafka_ctx *ctx = snk->ctx;
    struct kmsg *km = m->_private;
    struct kbatch *b = km->b;
    b->pending--;
    if (!m->err) {
        km->state = km->dlq ? KM_DONE : KM_OK;
        if (km->dlq) {
            atomic_fetch_add(&snk->metrics.event_dead_lettered, 1);
        }
    } else {
        kmsg_fail(km, m->err, m->rkt ? rd_kafka_topic_name(m->rkt) : "");
    }
    if (b->pending == 0) {
        if (b->sent_us > 0 && b->failed == 0) {
            b->rtt_us = mono_us() - b->sent_us;
        }
        if (!ctx->txn_id) {
            rd_kafka_yield(rk);
        }
    }
}

/* ---- topics ---- */

static void topic_parts_free(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->nparts; i++) {
        free(ctx->parts[i].text);
    }
    free(ctx->parts);
    ctx->parts = NULL;
    ctx->nparts = 0;
}

static int topic_part_add(struct kafka_ctx *ctx, bool is_header, const char *s, size_t len)
{
    struct topic_part *v = realloc(ctx->parts, (ctx->nparts + 1) * sizeof(*v));
    if (!v) {
        return -1;
    }
    ctx->parts = v;
    char *text = strndup(s, len);
    if (!text) {
        return -1;
    }
    v[ctx->nparts++] = (struct topic_part){ .is_header = is_header, .text = text };
    return 0;
}

/* Split kafka.topic into literals and %{header}s; nparts stays 0 for a topic without any. */
static int topic_parse(struct kafka_ctx *ctx)
{
    const char *t = ctx->topic, *lit = t;
    if (!strstr(t, "%{")) {
        return 0;
    }
    for (const char *p = t; *p;) {
        const char *end;
        if (p[0] == '%' && p[1] == '{' && (end = strchr(p + 2, '}')) != NULL) {
            if ((p > lit && topic_part_add(ctx, false, lit, (size_t)(p - lit)) != 0) ||
                topic_part_add(ctx, true, p + 2, (size_t)(end - p - 2)) != 0) {
                return -1;
            }
            p = lit = end + 1;
        } else {
            p++;
        }
    }
    if (*lit && topic_part_add(ctx, false, lit, strlen(lit)) != 0) {
        return -1;
    }
    return 0;
}

/* The topic name of ev: borrowed from ev, ctx->topic or ctx->topic_buf (until the next call). */
static const char *topic_of(struct kafka_ctx *ctx, const struct sf_event *ev)
{
    if (ctx->allow_topic_override) {
        const char *t = sf_event_header(ev, ctx->topic_header);
        if (t) {
            return t;
        }
    }
    if (ctx->nparts == 0) {
        return ctx->topic;
    }
    sf_buf_reset(&ctx->topic_buf);
    for (size_t i = 0; i < ctx->nparts; i++) {
        const char *s = ctx->parts[i].text;
        if (ctx->parts[i].is_header) {
            s = sf_event_header(ev, s);
        }
        if (s) {
            sf_buf_puts(&ctx->topic_buf, s);
        }
    }
    sf_buf_putc(&ctx->topic_buf, '\0'); /* make data non-NULL even for an empty name */
    ctx->topic_buf.len--;
    return ctx->topic_buf.data;
}

static size_t hash_str(const char *s)
{
    size_t h = 14695981039346656037u;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    }
    return h;
}

static void cache_free(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->cache_cap; i++) {
        if (ctx->cache[i].name) {
            rd_kafka_topic_destroy(ctx->cache[i].rkt);
            free(ctx->cache[i].name);
        }
    }
    free(ctx->cache);
    ctx->cache = NULL;
    ctx->cache_cap = ctx->cache_n = 0;
}

static bool cache_grow(struct kafka_ctx *ctx)
{
    size_t cap = ctx->cache_cap ? ctx->cache_cap * 2 : 64;
    struct topic_entry *v = calloc(cap, sizeof(*v));
    if (!v) {
        return false;
    }
    for (size_t i = 0; i < ctx->cache_cap; i++) {
        if (ctx->cache[i].name) {
            size_t j = hash_str(ctx->cache[i].name) & (cap - 1);
            while (v[j].name) {
                j = (j + 1) & (cap - 1);
            }
            v[j] = ctx->cache[i];
        }
    }
    free(ctx->cache);
    ctx->cache = v;
    ctx->cache_cap = cap;
    return true;
}

/* The partitioner callback of topics made by topic_create: librdkafka's own function, noting the
 * partition count it was called with. Called from any librdkafka thread. */
static int32_t partition_learn_cb(const rd_kafka_topic_t *rkt,
                                  const void *key,
                                  size_t key_len,
                                  int32_t partition_cnt,
                                  void *rkt_opaque,
                                  void *msg_opaque)
{
    struct topic_meta *tm = rkt_opaque;
    atomic_store(&tm->part_cnt, partition_cnt);
    return tm->fn(rkt, key, key_len, partition_cnt, rkt_opaque, msg_opaque);
}

/* librdkafka's partitioner of that name (its "partitioner" property), when it places a keyed
 * message by its key alone so the sink may call it too; NULL for "random" and unknown names. */
static partitioner_fn partitioner_by_name(const char *name)
{
    static const struct {
        const char *name;
        partitioner_fn fn;
    } fns[] = {
        { "consistent_random", rd_kafka_msg_partitioner_consistent_random },
        { "consistent", rd_kafka_msg_partitioner_consistent },
        { "murmur2_random", rd_kafka_msg_partitioner_murmur2_random },
        { "murmur2", rd_kafka_msg_partitioner_murmur2 },
        { "fnv1a_random", rd_kafka_msg_partitioner_fnv1a_random },
        { "fnv1a", rd_kafka_msg_partitioner_fnv1a },
    };
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (strcmp(fns[i].name, name) == 0) {
            return fns[i].fn;
        }
    }
    return NULL;
}

/* A new topic handle for name; with ctx->partitioner, its conf (a copy of the default topic
 * conf) gets a topic_meta. NULL when librdkafka refuses the name. */
static rd_kafka_topic_t *topic_create(struct kafka_ctx *ctx, const char *name)
{
    struct topic_meta *tm = ctx->partitioner ? calloc(1, sizeof(*tm)) : NULL;
    rd_kafka_topic_conf_t *tc = tm ? rd_kafka_default_topic_conf_dup(ctx->rk) : NULL;
    if (!tc) {
        free(tm);
        return rd_kafka_topic_new(ctx->rk, name, NULL);
    }
    tm->fn = ctx->partitioner;
    atomic_init(&tm->part_cnt, 0);
    rd_kafka_topic_conf_set_partitioner_cb(tc, partition_learn_cb);
    rd_kafka_topic_conf_set_opaque(tc, tm);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(ctx->rk, name, tc); /* frees tc */
    if (!rkt) {
        free(tm);
        return NULL;
    }
    tm->next = ctx->metas;
    ctx->metas = tm;
    return rkt;
}

/* A topic handle for name: cached, or (*temp set) to be destroyed by the caller after use.
 * NULL when librdkafka refuses the name (errno set). */
static rd_kafka_topic_t *topic_get(struct kafka_ctx *ctx, const char *name, bool *temp)
{
    *temp = false;
    if (ctx->static_rkt && name == ctx->topic) {
        return ctx->static_rkt;
    }
    size_t h = hash_str(name);
    if (ctx->cache_cap) {
        for (size_t j = h & (ctx->cache_cap - 1); ctx->cache[j].name;
             j = (j + 1) & (ctx->cache_cap - 1)) {
            if (strcmp(ctx->cache[j].name, name) == 0) {
                return ctx->cache[j].rkt;
            }
        }
    }
    char *copy = NULL;
    if (ctx->cache_n >= TOPIC_CACHE_MAX ||
        ((ctx->cache_n + 1) * 2 > ctx->cache_cap && !cache_grow(ctx)) || !(copy = strdup(name))) {
        *temp = true;
        return rd_kafka_topic_new(ctx->rk, name, NULL);
    }
    rd_kafka_topic_t *rkt = topic_create(ctx, name);
    if (!rkt) {
        free(copy);
        return NULL;
    }
    size_t j = h & (ctx->cache_cap - 1);
    while (ctx->cache[j].name) {
        j = (j + 1) & (ctx->cache_cap - 1);
    }
    ctx->cache[j] = (struct topic_entry){ .name = copy, .rkt = rkt };
    ctx->cache_n++;
    return rkt;
}

/* ---- the producer ---- */

static bool is_secret(const char *prop)
{
    return strstr(prop, "password") || strstr(prop, "secret") || strcmp(prop, "ssl.key.pem") == 0 ||
           strcmp(prop, "sasl.oauthbearer.config") == 0;
}

/* Set one property; on failure describe it naming the Flume key. Secrets' values never appear. */
static int conf_set(rd_kafka_conf_t *conf,
                    const char *flume_key,
                    const char *prop,
                    const char *val,
                    char *errstr,
                    size_t errstr_size)
{
    char why[512];
    if (rd_kafka_conf_set(conf, prop, val, why, sizeof(why)) == RD_KAFKA_CONF_OK) {
        return SF_OK;
    }
    if (is_secret(prop)) {
        (void)snprintf(errstr, errstr_size,
                       "%s: librdkafka rejects this property (value not shown)", flume_key);
    } else {
        (void)snprintf(errstr, errstr_size, "%s: %s", flume_key, why);
    }
    return SF_ERR_INVAL;
}

static const char *user_prop(const struct sf_sink *snk, const char *prop)
{
    char key[256];
    (void)snprintf(key, sizeof(key), PRODUCER_PREFIX "%s", prop);
    const struct sf_prop *p = snk->conf ? sf_section_get(snk->conf, key) : NULL;
    return p ? p->val : NULL;
}

/* Destroy ctx->rk (its topic handles are gone), then the topic_metas its partitioner used. */
static void rk_destroy(struct kafka_ctx *ctx)
{
    rd_kafka_destroy(ctx->rk);
    ctx->rk = NULL;
    while (ctx->metas) {
        struct topic_meta *tm = ctx->metas;
        ctx->metas = tm->next;
        free(tm);
    }
}

/* Create ctx->rk from the options and the kafka.producer.* pass-through. */
static int producer_create(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct kafka_ctx *ctx = snk->ctx;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char client_id[256];
    (void)snprintf(client_id, sizeof(client_id), "sqlflume-%s", snk->name ? snk->name : "kafka");

    /* Idempotence needs acks=all: an explicit weaker acks turns it off unless also explicit. */
    const char *acks = ctx->acks;
    const char *idem = user_prop(snk, "enable.idempotence");
    bool acks_all = !acks || strcasecmp(acks, "all") == 0 || strcmp(acks, "-1") == 0;
    if (ctx->txn_id && !acks_all) {
        (void)snprintf(errstr, errstr_size,
                       "kafka.producer.acks: must be all with kafka.producer.transactional.id, "
                       "not \"%s\"",
                       acks);
        rd_kafka_conf_destroy(conf);
        atomic_fetch_add(&snk->metrics.connection_failed, 1);
        return SF_ERR_INVAL;
    }
    if (!idem) {
        idem = acks_all ? "true" : "false";
        if (!acks_all) {
            SF_INFO(SF_SINK_FMT "kafka.producer.acks = %s: the idempotent producer is off (it "
                                "needs acks = all), so librdkafka's retries may duplicate",
                    SF_SINK_ARGS(snk), acks);
        }
    }
    if (!acks) {
        acks = strcasecmp(idem, "true") == 0 ? "all" : "1";
    }
    int rc = SF_OK;
    if ((rc = conf_set(conf, "client.id", "client.id", client_id, errstr, errstr_size)) ||
        (rc = conf_set(conf, "kafka.producer.linger.ms", "linger.ms", "5", errstr, errstr_size)) ||
        /* TCP_NODELAY, as Kafka's Java clients always set (Flume's KafkaSink): with Nagle a
         * request written while the previous one is unacknowledged waits for the peer's delayed
         * ACK (40 ms on Linux) */
        (rc = conf_set(conf, "kafka.producer.socket.nagle.disable", "socket.nagle.disable", "true",
                       errstr, errstr_size)) ||
        (rc = conf_set(conf, "kafka.producer.enable.idempotence", "enable.idempotence", idem,
                       errstr, errstr_size)) ||
        (rc = conf_set(conf, "kafka.producer.acks", "acks", acks, errstr, errstr_size)) ||
        (ctx->txn_id && (rc = conf_set(conf, "kafka.producer.transactional.id", "transactional.id",
                                       ctx->txn_id, errstr, errstr_size)))) {
        goto fail;
    }
    for (size_t i = 0; snk->conf && i < snk->conf->n; i++) {
        const struct sf_prop *p = snk->conf->v[i];
        const char *sub = sf_section_subkey(snk->conf, p);
        if (strncmp(sub, PRODUCER_PREFIX, strlen(PRODUCER_PREFIX)) != 0) {
            continue;
        }
        const char *prop = sub + strlen(PRODUCER_PREFIX);
        if (strcmp(prop, "acks") == 0 || strcmp(prop, "transactional.id") == 0) {
            continue; /* options of the table, set above */
        }
        if ((rc = conf_set(conf, sub, prop, p->val, errstr, errstr_size)) != SF_OK) {
            goto fail;
        }
        SF_DEBUG(SF_SINK_FMT "librdkafka %s = %s", SF_SINK_ARGS(snk), prop,
                 is_secret(prop) ? "****" : p->val);
    }
    if ((rc = conf_set(conf, "kafka.bootstrap.servers", "bootstrap.servers", ctx->bootstrap, errstr,
                       errstr_size)) != SF_OK) {
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, snk);
    rd_kafka_conf_set_dr_msg_cb(conf, kafka_dr_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    char why[512];
    ctx->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (!ctx->rk) {
        (void)snprintf(errstr, errstr_size, "could not create the kafka producer: %s", why);
        rc = SF_ERR_INVAL;
        goto fail; /* conf is still ours */
    }
    atomic_store(&ctx->fatal, false);
    ctx->txn_ready = ctx->pos_loaded = false;
    const char *pname = user_prop(snk, "partitioner");
    ctx->partitioner = partitioner_by_name(pname ? pname : "consistent_random");
    if (ctx->nparts == 0) {
        ctx->static_rkt = topic_create(ctx, ctx->topic);
        if (!ctx->static_rkt) {
            (void)snprintf(errstr, errstr_size, "kafka.topic: invalid topic \"%s\": %s", ctx->topic,
                           rd_kafka_err2str(rd_kafka_last_error()));
            rk_destroy(ctx);
            return SF_ERR_INVAL;
        }
    }
    char mmb[32];
    size_t mmb_size = sizeof(mmb);
    ctx->max_msg_bytes = 1000000;
    if (rd_kafka_conf_get(rd_kafka_conf(ctx->rk), "message.max.bytes", mmb, &mmb_size) ==
        RD_KAFKA_CONF_OK) {
        ctx->max_msg_bytes = atoll(mmb);
    }
    if (ctx->dlq_topic) {
        ctx->dlq_rkt = rd_kafka_topic_new(ctx->rk, ctx->dlq_topic, NULL);
        if (!ctx->dlq_rkt) {
            (void)snprintf(errstr, errstr_size,
                           "errors.deadletterqueue.topic.name: invalid topic \"%s\": %s",
                           ctx->dlq_topic, rd_kafka_err2str(rd_kafka_last_error()));
            if (ctx->static_rkt) {
                rd_kafka_topic_destroy(ctx->static_rkt);
                ctx->static_rkt = NULL;
            }
            rk_destroy(ctx);
            return SF_ERR_INVAL;
        }
    }
    if (ctx->txn_id) {
        ctx->pos_rkt = rd_kafka_topic_new(ctx->rk, ctx->positions_topic, NULL);
        if (!ctx->pos_rkt) {
            (void)snprintf(errstr, errstr_size, "kafka.positions.topic: invalid topic \"%s\": %s",
                           ctx->positions_topic, rd_kafka_err2str(rd_kafka_last_error()));
            if (ctx->static_rkt) {
                rd_kafka_topic_destroy(ctx->static_rkt);
                ctx->static_rkt = NULL;
            }
            if (ctx->dlq_rkt) {
                rd_kafka_topic_destroy(ctx->dlq_rkt);
                ctx->dlq_rkt = NULL;
            }
            rk_destroy(ctx);
            return SF_ERR_INVAL;
        }
    }
    atomic_fetch_add(&snk->metrics.connection_created, 1);
    return SF_OK;
fail:
    rd_kafka_conf_destroy(conf);
    atomic_fetch_add(&snk->metrics.connection_failed, 1);
    return rc;
}

static void producer_destroy(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (!ctx->rk) {
        return;
    }
    cache_free(ctx);
    if (ctx->static_rkt) {
        rd_kafka_topic_destroy(ctx->static_rkt);
        ctx->static_rkt = NULL;
    }
    if (ctx->pos_rkt) {
        rd_kafka_topic_destroy(ctx->pos_rkt);
        ctx->pos_rkt = NULL;
    }
    if (ctx->dlq_rkt) {
        rd_kafka_topic_destroy(ctx->dlq_rkt);
        ctx->dlq_rkt = NULL;
    }
    rk_destroy(ctx);
    atomic_fetch_add(&snk->metrics.connection_closed, 1);
}

/* ---- in-flight batches ---- */

static struct kbatch *ring_at(struct kafka_ctx *ctx, size_t i)
{
    return &ctx->ring[(ctx->ring_head + i) % (size_t)ctx->max_inflight];
}

static bool all_reported(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->ring_count; i++) {
        if (ring_at(ctx, i)->pending > 0) {
            return false;
        }
    }
    return true;
}

/* Roll back every in-flight batch, newest first (each rollback puts its events at the head of
 * the channel, so they end up in their original order). Only call when librdkafka no longer
 * references their bodies: every report is in, or the producer is destroyed. */
static void rollback_all(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    while (ctx->ring_count > 0) {
        struct kbatch *b = ring_at(ctx, ctx->ring_count - 1);
        int rc = sf_channel_txn_rollback(b->txn);
        if (rc != SF_OK) {
            SF_ERROR(SF_SINK_FMT "could not roll back a batch of %zu events: %s", SF_SINK_ARGS(snk),
                     b->n, sf_err_str(rc));
        }
        sf_channel_txn_close(b->txn);
        b->txn = NULL;
        ctx->ring_count--;
    }
}

/* Whether every message of b is acknowledged or handled by errors.tolerance. */
static bool batch_done(const struct kbatch *b)
{
    if (b->pending > 0) {
        return false;
    }
    for (size_t i = 0; i < b->nmsg; i++) {
        if (b->msg[i].state != KM_OK && b->msg[i].state != KM_DONE) {
            return false;
        }
    }
    return true;
}

/* Commit the batches at the head of the ring that are done (batch_done), in order. */
static void settle(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    while (ctx->ring_count > 0) {
        struct kbatch *b = ring_at(ctx, 0);
        if (!batch_done(b)) {
            break;
        }
        if (b->rtt_us >= 0) {
            ctx->rtt_n++;
            ctx->rtt_sum_us += b->rtt_us;
            if (b->rtt_us > ctx->rtt_max_us) {
                ctx->rtt_max_us = b->rtt_us;
            }
            SF_DEBUG(SF_SINK_FMT "batch %lld of %zu events delivered in %.3f ms (produce to its "
                                 "last delivery report; %zu batches in flight)",
                     SF_SINK_ARGS(snk), b->seq, b->n, (double)b->rtt_us / 1000.0, ctx->ring_count);
        }
        int rc = sf_channel_txn_commit(b->txn);
        if (rc != SF_OK) {
            /* cannot happen with the take semantics of our channels; the events return */
            SF_ERROR(SF_SINK_FMT "could not commit a delivered batch of %zu events: %s",
                     SF_SINK_ARGS(snk), b->n, sf_err_str(rc));
        } else {
            atomic_fetch_add(&snk->metrics.drain_success, (long long)b->n);
        }
        sf_channel_txn_close(b->txn);
        b->txn = NULL;
        ctx->ring_head = (ctx->ring_head + 1) % (size_t)ctx->max_inflight;
        ctx->ring_count--;
    }
}

/* Record that km will never get a report (librdkafka refused it). */
static void refuse(struct kmsg *km, rd_kafka_resp_err_t err, const char *topic)
{
    km->b->pending--;
    kmsg_fail(km, err, topic);
}

/* librdkafka's queue is full: serve reports for QUEUE_FULL_WAIT_MS and return true to produce
 * again, or false once *give_up_ms (0 before the first wait: then set to QUEUE_FULL_MAX_MS from
 * now) has passed or the producer has failed fatally. */
static bool queue_full_wait(struct kafka_ctx *ctx, long long *give_up_ms)
{
    long long now = mono_ms();
    if (*give_up_ms == 0) {
        *give_up_ms = now + QUEUE_FULL_MAX_MS;
    } else if (now >= *give_up_ms || atomic_load(&ctx->fatal)) {
        return false;
    }
    rd_kafka_poll(ctx->rk, QUEUE_FULL_WAIT_MS);
    return true;
}

/* Produce msgs[0..cnt) to rkt, each to its own partition field (partition UA), else all to
 * partition; waiting out a full librdkafka queue for a bounded time. */
static void produce_run(struct sf_sink *snk,
                        rd_kafka_topic_t *rkt,
                        int32_t partition,
                        rd_kafka_message_t *msgs,
                        size_t cnt)
{
    struct kafka_ctx *ctx = snk->ctx;
    long long give_up_ms = 0;
    size_t off = 0;
    while (off < cnt) {
        rd_kafka_produce_batch(rkt, partition,
                               partition == RD_KAFKA_PARTITION_UA ? RD_KAFKA_MSG_F_PARTITION : 0,
                               msgs + off, (int)(cnt - off));
        size_t retry = cnt;
        for (size_t i = off; i < cnt; i++) {
            if (msgs[i].err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                retry = i; /* this and every later message were refused for it */
                break;
            }
            if (msgs[i].err) {
                refuse(msgs[i]._private, msgs[i].err, rd_kafka_topic_name(rkt));
            }
        }
        if (retry == cnt) {
            return;
        }
        if (!queue_full_wait(ctx, &give_up_ms)) {
            for (size_t i = retry; i < cnt; i++) {
                refuse(msgs[i]._private, RD_KAFKA_RESP_ERR__QUEUE_FULL, rd_kafka_topic_name(rkt));
            }
            return;
        }
        for (size_t i = retry; i < cnt; i++) {
            msgs[i].err = RD_KAFKA_RESP_ERR_NO_ERROR;
        }
        off = retry;
    }
}

static int32_t partition_of(struct sf_sink *snk, const struct sf_event *ev)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->partition_header) {
        const char *v = sf_event_header(ev, ctx->partition_header);
        if (v) {
            char *end;
            errno = 0;
            long p = strtol(v, &end, 10);
            if (!errno && end != v && !*end && p >= 0 && p <= INT32_MAX) {
                return (int32_t)p;
            }
            unsigned suppressed;
            if (rate_allow(ctx, str_key(ctx->partition_header), &suppressed)) {
                SF_WARN(SF_SINK_FMT "header \"%s\" is not a partition number: \"%s\"; using %s",
                        SF_SINK_ARGS(snk), ctx->partition_header, v,
                        ctx->default_partition >= 0 ? "defaultPartitionId" : "the partitioner");
            }
        }
    }
    return ctx->default_partition >= 0 ? (int32_t)ctx->default_partition : RD_KAFKA_PARTITION_UA;
}

/* The bytes that count against message.max.bytes for ev's message of len value bytes, as the
 * sink reckons them: value, key, Kafka headers (names and values) and MSG_OVERHEAD. */
static size_t msg_size(const struct kafka_ctx *ctx, const struct sf_event *ev, size_t len)
{
    size_t sz = len + MSG_OVERHEAD;
    const char *key = sf_event_header(ev, SF_HDR_KEY);
    if (key) {
        sz += strlen(key);
    }
    for (size_t i = 0; i < ctx->nhdr; i++) {
        const char *v = sf_event_header(ev, ctx->hdr_from[i]);
        if (v) {
            sz += strlen(ctx->hdr_to[i]) + strlen(v);
        }
    }
    return sz;
}

/* msg_size of ev before its value is made: an AvroFlumeEvent is counted as the whole event
 * (headers and body), a little more than its encoding. */
static size_t msg_size_est(const struct kafka_ctx *ctx, const struct sf_event *ev)
{
    return msg_size(ctx, ev, ctx->flume_event_format ? sf_event_size(ev) : ev->body_len);
}

/* The index of the first of evs[0..n) too large for message.max.bytes (*size: its size), or n. */
static size_t
first_oversize(const struct kafka_ctx *ctx, struct sf_event *const *evs, size_t n, size_t *size)
{
    for (size_t i = 0; i < n; i++) {
        size_t sz = msg_size_est(ctx, evs[i]);
        if (sz > (size_t)ctx->max_msg_bytes) {
            *size = sz;
            return i;
        }
    }
    return n;
}

/* A new take transaction in ring slot b (its event and message slots are kept across batches). */
static void batch_init(struct kafka_ctx *ctx, struct kbatch *b, struct sf_txn *txn)
{
    if (!b->evs) {
        b->evs = calloc(ctx->batch, sizeof(*b->evs));
        b->msg = calloc(ctx->batch + 1, sizeof(*b->msg));
        if (!b->evs || !b->msg) {
            abort(); /* as sf_buf does: nothing sensible to do without memory */
        }
    }
    b->txn = txn;
    b->n = b->nmsg = b->pending = b->failed = 0;
    b->err = RD_KAFKA_RESP_ERR_NO_ERROR;
    b->err_topic[0] = '\0';
    b->retry_at_ms = b->backoff_ms = 0;
    b->sent_us = 0;
    b->rtt_us = -1;
    b->seq = ++ctx->batch_seq;
}

/* Make km (the message of ev) message j of the produce scratch (b->pending grows by one), or,
 * when it is too large or its topic invalid, KM_PERM without producing it. @return whether it
 * became message j. */
static bool msg_build(struct sf_sink *snk, struct kmsg *km, const struct sf_event *ev, size_t j)
{
    struct kafka_ctx *ctx = snk->ctx;
    km->dlq = false;
    if (msg_size(ctx, ev, km->len) > (size_t)ctx->max_msg_bytes) {
        km->state = KM_PERM; /* librdkafka would refuse it; errors.tolerance decides */
        km->err = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
        return false;
    }
    rd_kafka_message_t *m = &ctx->msgs[j];
    memset(m, 0, sizeof(*m));
    m->payload = (void *)km->payload;
    m->len = km->len;
    if (ctx->per_msg) {
        ctx->msg_ev[j] = ev;
    }
    const char *key = sf_event_header(ev, SF_HDR_KEY);
    if (key) {
        m->key = (void *)key;
        m->key_len = strlen(key);
    }
    m->partition = partition_of(snk, ev);
    m->_private = km;
    const char *topic = topic_of(ctx, ev);
    ctx->msg_rkt[j] = *topic ? topic_get(ctx, topic, &ctx->msg_rkt_temp[j]) : NULL;
    if (!ctx->msg_rkt[j]) {
        ctx->msg_rkt_temp[j] = false;
        km->state = KM_PERM;
        km->err = RD_KAFKA_RESP_ERR__INVALID_ARG;
        unsigned suppressed;
        if (rate_allow(ctx, RD_KAFKA_RESP_ERR__INVALID_ARG, &suppressed)) {
            SF_ERROR(SF_SINK_FMT "invalid topic \"%s\" for an event (kafka.topic = \"%s\")",
                     SF_SINK_ARGS(snk), topic, ctx->topic);
        }
        return false;
    }
    km->state = KM_PENDING;
    km->b->pending++;
    return true;
}

/* Make the n events evs[0..n) the messages of the new batch b (b->evs gets them; evs may be
 * b->evs) and build the produce scratch of those that can be produced. @return how many. */
static size_t
produce_prepare(struct sf_sink *snk, struct kbatch *b, struct sf_event *const *evs, size_t n)
{
    struct kafka_ctx *ctx = snk->ctx;
    struct sf_buf *ab = ctx->flume_event_format ? &ctx->avro[b - ctx->ring] : NULL;
    if (ab) {
        sf_buf_reset(ab); /* the slot's previous batch is settled: librdkafka let go of it */
    }
    b->nmsg = n;
    for (size_t i = 0; i < n; i++) {
        struct sf_event *ev = evs[i];
        b->evs[i] = ev;
        struct kmsg *km = &b->msg[i];
        *km = (struct kmsg){ .b = b };
        if (ab) {
            ctx->avro_at[i] = sf_avro_event_encode(ab, ev);
        } else {
            km->payload = ev->body;
            km->len = ev->body_len;
        }
    }
    for (size_t i = 0; ab && i < n; i++) { /* ab->data is where it stays now */
        b->msg[i].payload = ab->data + ctx->avro_at[i];
        b->msg[i].len = (i + 1 < n ? ctx->avro_at[i + 1] : ab->len) - ctx->avro_at[i];
    }
    size_t j = 0;
    for (size_t i = 0; i < n; i++) {
        j += msg_build(snk, &b->msg[i], b->evs[i], j);
    }
    return j;
}

/* The timestamp of ev's message: timestampHeader's value in ms since the epoch, else 0 (librdkafka
 * then takes the time of producing), as Flume's KafkaSink does (it warns about a bad value). */
static int64_t timestamp_of(struct sf_sink *snk, const struct sf_event *ev)
{
    struct kafka_ctx *ctx = snk->ctx;
    const char *v = ctx->timestamp_header ? sf_event_header(ev, ctx->timestamp_header) : NULL;
    if (!v) {
        return 0;
    }
    char *end;
    errno = 0;
    long long ts = strtoll(v, &end, 10);
    if (!errno && end != v && !*end && ts >= 0) {
        return ts;
    }
    unsigned suppressed;
    if (rate_allow(ctx, str_key(ctx->timestamp_header), &suppressed)) {
        SF_WARN(SF_SINK_FMT "header \"%s\" is not a timestamp in milliseconds: \"%s\"; using the "
                            "time of producing",
                SF_SINK_ARGS(snk), ctx->timestamp_header, v);
    }
    return 0;
}

/* The Kafka headers of ev's message (header.NAME), or NULL when it has none of them. The caller
 * owns the list until rd_kafka_producev takes it. */
static rd_kafka_headers_t *headers_of(struct kafka_ctx *ctx, const struct sf_event *ev)
{
    rd_kafka_headers_t *hs = NULL;
    for (size_t i = 0; i < ctx->nhdr; i++) {
        const char *v = sf_event_header(ev, ctx->hdr_from[i]);
        if (v) {
            if (!hs) {
                hs = rd_kafka_headers_new(ctx->nhdr);
            }
            (void)rd_kafka_header_add(hs, ctx->hdr_to[i], -1, v, (ssize_t)strlen(v));
        }
    }
    return hs;
}

/* Produce messages [from, to) of the batch one rd_kafka_producev() call each, with their Kafka
 * headers and timestamps; a full librdkafka queue is waited out for a bounded time. */
static void produce_each(struct sf_sink *snk, rd_kafka_topic_t *rkt, size_t from, size_t to)
{
    struct kafka_ctx *ctx = snk->ctx;
    long long give_up_ms = 0;
    for (size_t i = from; i < to; i++) {
        const rd_kafka_message_t *m = &ctx->msgs[i];
        rd_kafka_headers_t *hs = headers_of(ctx, ctx->msg_ev[i]); /* NULL: none */
        int64_t ts = timestamp_of(snk, ctx->msg_ev[i]);
        rd_kafka_resp_err_t err;
        do {
            err = rd_kafka_producev(
                ctx->rk, RD_KAFKA_V_RKT(rkt), RD_KAFKA_V_PARTITION(m->partition),
                RD_KAFKA_V_VALUE(m->payload, m->len), RD_KAFKA_V_KEY(m->key, m->key_len),
                RD_KAFKA_V_OPAQUE(m->_private), RD_KAFKA_V_TIMESTAMP(ts), RD_KAFKA_V_HEADERS(hs),
                RD_KAFKA_V_END);
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && queue_full_wait(ctx, &give_up_ms));
        if (err) { /* on success the headers are librdkafka's */
            if (hs) {
                rd_kafka_headers_destroy(hs); /* not NULL-safe */
            }
            refuse(m->_private, err, rd_kafka_topic_name(rkt));
        }
    }
}

/*
 * Produce msgs[0..cnt) of one topic grouped by partition: each message is placed by the topic's
 * partitioner, as librdkafka would (same function, same partition count), and each partition's
 * messages go in one rd_kafka_produce_batch() call, in their order. A run is left to librdkafka
 * (false) when the count is unknown, when a message has no key or a set partition, and once per
 * PARTS_RELEARN_MS so the partitioner callback sees partitions added to the topic.
 */
static bool
produce_grouped(struct sf_sink *snk, rd_kafka_topic_t *rkt, rd_kafka_message_t *msgs, size_t cnt)
{
    struct kafka_ctx *ctx = snk->ctx;
    struct topic_meta *tm = ctx->partitioner ? rd_kafka_topic_opaque(rkt) : NULL;
    if (!tm || tm->fn != ctx->partitioner || cnt < 2 || !ctx->grp_part) {
        return false;
    }
    int32_t np = atomic_load(&tm->part_cnt);
    long long now = mono_ms();
    if (np <= 0 || np > PARTS_GROUP_MAX || now >= tm->relearn_ms) {
        tm->relearn_ms = now + PARTS_RELEARN_MS;
        return false;
    }
    for (size_t i = 0; i < cnt; i++) {
        if (msgs[i].partition != RD_KAFKA_PARTITION_UA || !msgs[i].key || msgs[i].key_len == 0) {
            return false; /* unkeyed messages go to random partitions: librdkafka's job */
        }
    }
    memset(ctx->grp_count, 0, ((size_t)np + 1) * sizeof(*ctx->grp_count));
    for (size_t i = 0; i < cnt; i++) {
        int32_t p = tm->fn(rkt, msgs[i].key, msgs[i].key_len, np, tm, NULL);
        if (p < 0 || p >= np) {
            return false;
        }
        ctx->grp_part[i] = p;
        ctx->grp_count[p + 1]++;
    }
    for (int32_t p = 0; p < np; p++) { /* start of each partition's slots */
        ctx->grp_count[p + 1] += ctx->grp_count[p];
    }
    for (size_t i = 0; i < cnt; i++) {
        ctx->grp_msgs[ctx->grp_count[ctx->grp_part[i]]++] = msgs[i];
    }
    size_t start = 0;
    for (int32_t p = 0; p < np; p++) { /* grp_count[p] is now the end of partition p's slots */
        if (ctx->grp_count[p] > start) {
            produce_run(snk, rkt, p, ctx->grp_msgs + start, ctx->grp_count[p] - start);
        }
        start = ctx->grp_count[p];
    }
    return true;
}

/* Free the scratch of produce_grouped (all three, or none, are set). */
static void grp_free(struct kafka_ctx *ctx)
{
    free(ctx->grp_part);
    free(ctx->grp_count);
    free(ctx->grp_msgs);
    ctx->grp_part = NULL;
    ctx->grp_count = NULL;
    ctx->grp_msgs = NULL;
}

/* Produce the n messages that produce_prepare() made ready. */
static void produce_send(struct sf_sink *snk, size_t n)
{
    struct kafka_ctx *ctx = snk->ctx;
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        rd_kafka_topic_t *rkt = ctx->msg_rkt[i];
        while (j < n && ctx->msg_rkt[j] == rkt && !ctx->msg_rkt_temp[j]) {
            j++;
        }
        if (rkt && ctx->per_msg) {
            produce_each(snk, rkt, i, j);
        } else if (rkt && !produce_grouped(snk, rkt, ctx->msgs + i, j - i)) {
            produce_run(snk, rkt, RD_KAFKA_PARTITION_UA, ctx->msgs + i, j - i);
        }
        if (rkt && ctx->msg_rkt_temp[i]) {
            rd_kafka_topic_destroy(rkt);
        }
        i = j;
    }
}

static void produce_batch(struct sf_sink *snk, struct kbatch *b, struct sf_event **evs, size_t n)
{
    b->sent_us = mono_us();
    produce_send(snk, produce_prepare(snk, b, evs, n));
}

/* ---- per-message errors: errors.tolerance ---- */

static const char *hdr_or_dash(const struct sf_event *ev, const char *name)
{
    const char *v = sf_event_header(ev, name);
    return v ? v : "-";
}

/*
 * errors.tolerance = none met a permanent error: log the one ERROR line (sink, table, key, offset,
 * size and limit for a size error, the settings to change), mark the sink failed (SinkFailed = 1,
 * EventFailedCount + 1) and ask the agent to stop with exit code 1. From here on the sink takes
 * nothing more; its open batches are committed as far as they are delivered in order, and stop()
 * rolls the rest back, so the channel keeps the event and what follows it.
 * @param topic  where ev was going (the dead-letter topic when dlq)
 * @param size  its message's bytes (msg_size)
 */
static void sink_fail(struct sf_sink *snk,
                      const struct sf_event *ev,
                      rd_kafka_resp_err_t err,
                      const char *topic,
                      size_t size,
                      bool dlq)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->dead) {
        return;
    }
    ctx->dead = true;
    atomic_store(&snk->metrics.failed, 1);
    atomic_fetch_add(&snk->metrics.event_failed, 1);
    char what[160];
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
        (void)snprintf(what, sizeof(what),
                       "its message of %zu bytes is over the limit: "
                       "kafka.producer.message.max.bytes = %lld",
                       size, ctx->max_msg_bytes);
    } else {
        (void)snprintf(what, sizeof(what), "%s", rd_kafka_err2str(err));
    }
    SF_ERROR(SF_SINK_FMT "event of table \"%s\" (key \"%s\", offset \"%s\") cannot be delivered "
                         "%sto topic \"%s\": %s%s; errors.tolerance = none: the sink stops, "
                         "nothing from this event on is delivered (set errors.tolerance = all "
                         "to dead-letter or skip such events)",
             SF_SINK_ARGS(snk), hdr_or_dash(ev, SF_HDR_TABLE), hdr_or_dash(ev, SF_HDR_KEY),
             hdr_or_dash(ev, SF_HDR_OFFSET), dlq ? "as a dead-letter record " : "", topic, what,
             err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE
                 ? " (raise it, and the topic's max.message.bytes if that is lower)"
                 : "");
    if (snk->agent) {
        sf_agent_request_stop(snk->agent, 1);
    }
}

static void hdr_add(rd_kafka_headers_t *hs, size_t *bytes, const char *name, const char *val)
{
    (void)rd_kafka_header_add(hs, name, -1, val, -1);
    *bytes += strlen(name) + strlen(val);
}

/* Produce the dead-letter record of km (the message of ev, failed with km->err) to
 * errors.deadletterqueue.topic.name: the same value and key, the event's Kafka headers, and the
 * DLQ_HDR_PREFIX headers; a value that does not fit message.max.bytes with them is cut to fit and
 * gets DLQ_HDR_PREFIX "body.truncated" = its length. km becomes KM_PENDING with dlq set. */
static void dlq_produce(struct sf_sink *snk, struct kmsg *km, const struct sf_event *ev)
{
    struct kafka_ctx *ctx = snk->ctx;
    rd_kafka_headers_t *hs = headers_of(ctx, ev);
    if (!hs) {
        hs = rd_kafka_headers_new(8);
    }
    size_t hbytes = 0;
    for (size_t i = 0; i < ctx->nhdr; i++) {
        const char *v = sf_event_header(ev, ctx->hdr_from[i]);
        hbytes += v ? strlen(ctx->hdr_to[i]) + strlen(v) : 0;
    }
    hdr_add(hs, &hbytes, DLQ_HDR_PREFIX "topic", topic_of(ctx, ev));
    if (sf_event_header(ev, SF_HDR_TABLE)) {
        hdr_add(hs, &hbytes, DLQ_HDR_PREFIX SF_HDR_TABLE, sf_event_header(ev, SF_HDR_TABLE));
    }
    if (sf_event_header(ev, SF_HDR_OFFSET)) {
        hdr_add(hs, &hbytes, DLQ_HDR_PREFIX SF_HDR_OFFSET, sf_event_header(ev, SF_HDR_OFFSET));
    }
    hdr_add(hs, &hbytes, DLQ_HDR_PREFIX "sink.name", snk->name ? snk->name : "");
    char msg[256];
    (void)snprintf(msg, sizeof(msg), "%s (%s)", rd_kafka_err2str(km->cause),
                   rd_kafka_err2name(km->cause));
    hdr_add(hs, &hbytes, DLQ_HDR_PREFIX "exception.message", msg);
    const char *key = sf_event_header(ev, SF_HDR_KEY);
    size_t key_len = key ? strlen(key) : 0;
    size_t len = km->len;
    size_t fixed = MSG_OVERHEAD + key_len + hbytes + 64; /* 64: the body.truncated header */
    km->cut = false;
    if (len + fixed > (size_t)ctx->max_msg_bytes) {
        len = (size_t)ctx->max_msg_bytes > fixed ? (size_t)ctx->max_msg_bytes - fixed : 0;
        char orig[32];
        (void)snprintf(orig, sizeof(orig), "%zu", km->len);
        hdr_add(hs, &hbytes, DLQ_HDR_PREFIX "body.truncated", orig);
        km->cut = true;
    }
    km->dlq = true;
    km->state = KM_PENDING;
    km->b->pending++;
    long long give_up_ms = 0;
    rd_kafka_resp_err_t err;
    do {
        err = rd_kafka_producev(
            ctx->rk, RD_KAFKA_V_RKT(ctx->dlq_rkt), RD_KAFKA_V_PARTITION(RD_KAFKA_PARTITION_UA),
            RD_KAFKA_V_VALUE((void *)km->payload, len), RD_KAFKA_V_KEY(key, key_len),
            RD_KAFKA_V_OPAQUE(km), RD_KAFKA_V_HEADERS(hs), RD_KAFKA_V_END);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && queue_full_wait(ctx, &give_up_ms));
    if (err) {
        rd_kafka_headers_destroy(hs);
        refuse(km, err, ctx->dlq_topic);
    }
}

/* Apply errors.tolerance to message i of b (KM_PERM): none stops the sink (sink_fail); all logs
 * it (errors.log.enable, or always without a dead-letter topic: never skipped silently) and
 * dead-letters it (KM_PENDING again) or marks it KM_DONE. A dead-letter record that failed for
 * good stops the sink too. */
static void handle_failed(struct sf_sink *snk, struct kbatch *b, size_t i)
{
    struct kafka_ctx *ctx = snk->ctx;
    struct kmsg *km = &b->msg[i];
    const struct sf_event *ev = b->evs[i];
    if (km->dlq) {
        sink_fail(snk, ev, km->err, ctx->dlq_topic, msg_size(ctx, ev, km->len), true);
        if (b->seq < ctx->dead_seq) {
            ctx->dead_seq = b->seq;
        }
        return;
    }
    const char *topic = topic_of(ctx, ev);
    size_t size = msg_size(ctx, ev, km->len);
    if (!ctx->tolerate) {
        sink_fail(snk, ev, km->err, topic, size, false);
        if (b->seq < ctx->dead_seq) {
            ctx->dead_seq = b->seq; /* what follows it is not produced again */
        }
        return;
    }
    atomic_fetch_add(&snk->metrics.event_failed, 1);
    unsigned suppressed;
    if ((ctx->errors_log || !ctx->dlq_topic) && rate_allow(ctx, -500000, &suppressed)) {
        char why[160];
        if (km->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
            (void)snprintf(why, sizeof(why),
                           "over the limit (kafka.producer.message.max.bytes = "
                           "%lld, or the topic's max.message.bytes)",
                           ctx->max_msg_bytes);
        } else {
            (void)snprintf(why, sizeof(why), "%s", rd_kafka_err2str(km->err));
        }
        SF_ERROR(SF_SINK_FMT "event of table \"%s\" (key \"%s\", offset \"%s\", %zu bytes) not "
                             "delivered to topic \"%s\": %s; errors.tolerance = all: %s%s%s",
                 SF_SINK_ARGS(snk), hdr_or_dash(ev, SF_HDR_TABLE), hdr_or_dash(ev, SF_HDR_KEY),
                 hdr_or_dash(ev, SF_HDR_OFFSET), size, topic, why,
                 ctx->dlq_topic ? "sending it to dead-letter topic " : "skipping it",
                 ctx->dlq_topic ? ctx->dlq_topic : "",
                 suppressed ? " (similar lines suppressed)" : "");
    }
    if (ctx->dlq_topic) {
        km->cause = km->err;
        dlq_produce(snk, km, ev);
    } else {
        km->state = KM_DONE;
    }
}

/*
 * For every batch whose reports are all in: apply errors.tolerance to its KM_PERM messages, and
 * produce its KM_RETRY messages again (only those: what Kafka acknowledged is never sent twice)
 * once its backoff has passed: RETRY_FIRST_MS after the first failure, doubling per round up to
 * RETRY_MAX_MS. EventRetriedCount counts the messages produced again.
 */
static void service(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    long long now = mono_ms();
    for (size_t r = 0; r < ctx->ring_count; r++) {
        struct kbatch *b = ring_at(ctx, r);
        if (b->pending > 0 || (ctx->dead && b->seq >= ctx->dead_seq)) {
            continue;
        }
        size_t nretry = 0;
        for (size_t i = 0; i < b->nmsg; i++) {
            if (b->msg[i].state == KM_PERM && !ctx->dead) {
                handle_failed(snk, b, i);
            }
            nretry += b->msg[i].state == KM_RETRY;
        }
        if (nretry == 0 || b->pending > 0) {
            continue;
        }
        if (b->retry_at_ms == 0) {
            b->backoff_ms = b->backoff_ms ? b->backoff_ms * 2 : RETRY_FIRST_MS;
            if (b->backoff_ms > RETRY_MAX_MS) {
                b->backoff_ms = RETRY_MAX_MS;
            }
            b->retry_at_ms = now + b->backoff_ms;
            atomic_fetch_add(&snk->metrics.write_fail, 1);
            unsigned suppressed;
            bool purged = b->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                          b->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT; /* stop or reset says why */
            if (!purged && rate_allow(ctx, -100000 - (int)b->err, &suppressed)) {
                SF_WARN(SF_SINK_FMT "could not deliver %zu of %zu events to topic \"%s\": %s; "
                                    "producing those again in %lld ms%s",
                        SF_SINK_ARGS(snk), nretry, b->nmsg, b->err_topic, rd_kafka_err2str(b->err),
                        b->backoff_ms, suppressed ? " (similar failures suppressed)" : "");
            }
            continue;
        }
        if (now < b->retry_at_ms || !ctx->rk) {
            continue;
        }
        b->retry_at_ms = 0;
        b->failed = 0;
        b->sent_us = 0; /* a round trip is timed for a batch's first produce only */
        size_t j = 0;
        for (size_t i = 0; i < b->nmsg; i++) {
            struct kmsg *km = &b->msg[i];
            if (km->state != KM_RETRY) {
                continue;
            }
            if (km->dlq) {
                dlq_produce(snk, km, b->evs[i]);
            } else {
                j += msg_build(snk, km, b->evs[i], j);
            }
        }
        produce_send(snk, j);
        atomic_fetch_add(&snk->metrics.event_retried, (long long)nretry);
    }
}

/* Whether b can make no progress: every report is in and a message awaits errors.tolerance, which
 * a failed sink no longer applies. */
static bool batch_stuck(const struct kbatch *b)
{
    if (b->pending > 0) {
        return false;
    }
    for (size_t i = 0; i < b->nmsg; i++) {
        if (b->msg[i].state == KM_PERM) {
            return true;
        }
    }
    return false;
}

/*
 * Wait up to max_ms (less when a batch's retry is due sooner) for acknowledgements while
 * librdkafka sends what it holds at once: the sink can take nothing more now (its ring of
 * in-flight batches is full, or the channel looked empty), so lingering (linger.ms) would only
 * delay the reports that free the channel. rd_kafka_flush() keeps the producer in its flushing
 * state for as long as it waits (librdkafka 2.0.2 skips linger.ms while a flush() call is in
 * progress, and wakes the broker threads when it starts; a flush(0) would end before they look),
 * serves the reports as they come and returns at the first batch whose reports are all in
 * (kafka_dr_cb yields), or when librdkafka holds nothing more. When it holds nothing (every report
 * is in: messages wait for their retry backoff) the wait is a plain poll. Then commits what is
 * delivered (settle) and produces what is due again (service).
 */
static void wait_acks(struct sf_sink *snk, int max_ms)
{
    struct kafka_ctx *ctx = snk->ctx;
    long long now = mono_ms();
    long long wait = max_ms;
    for (size_t r = 0; r < ctx->ring_count; r++) {
        long long at = ring_at(ctx, r)->retry_at_ms;
        if (at > 0 && at - now < wait) {
            wait = at > now ? at - now : 0;
        }
    }
    if (wait > 0 && rd_kafka_outq_len(ctx->rk) > 0) {
        rd_kafka_flush(ctx->rk, (int)wait);
    } else {
        rd_kafka_poll(ctx->rk, (int)wait);
    }
    service(snk);
    settle(snk);
}

/* After a fatal producer error: purge, collect the reports and drop the producer; process()
 * creates a new one. With rollback (exactly-once: the open Kafka transaction is lost) every
 * in-flight batch is rolled back; otherwise the batches stay open and only their messages
 * without a successful report are produced again (KM_RETRY), by the new producer. */
static void producer_reset(struct sf_sink *snk, bool rollback)
{
    struct kafka_ctx *ctx = snk->ctx;
    rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    long long deadline = mono_ms() + PURGE_WAIT_MS;
    while (!all_reported(ctx) && mono_ms() < deadline) {
        rd_kafka_poll(ctx->rk, 100);
    }
    producer_destroy(snk);
    if (rollback) {
        SF_WARN(SF_SINK_FMT "recreating the kafka producer after its fatal error; rolling back "
                            "%zu in-flight batches",
                SF_SINK_ARGS(snk), ctx->ring_count);
        rollback_all(snk);
        return;
    }
    size_t again = 0;
    for (size_t r = 0; r < ctx->ring_count; r++) {
        struct kbatch *b = ring_at(ctx, r);
        for (size_t i = 0; i < b->nmsg; i++) {
            if (b->msg[i].state == KM_PENDING) {
                b->msg[i].state = KM_RETRY;
                b->msg[i].err = RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
            }
            again += b->msg[i].state == KM_RETRY;
        }
        b->pending = 0;
    }
    SF_WARN(SF_SINK_FMT "recreating the kafka producer after its fatal error; the %zu messages "
                        "of %zu in-flight batches without a successful delivery report go again",
            SF_SINK_ARGS(snk), again, ctx->ring_count);
}

/* ---- exactly-once: positions ---- */

/* Exactly-once: whether integer offset v is in the delivered set d. */
static bool ids_has(const struct pos_ids *d, long long v)
{
    return d->has && v >= d->floor && v <= d->set->hw && !sf_gapset_in_gap(d->set, v);
}

/* Add v (not in d) to the delivered set d. An id below floor - 1 moves floor down to it, the ids
 * between becoming a gap, unless the set has POS_GAPS_MAX gaps already: then it is not recorded,
 * and produced again if the source sent it again (at least once there). @return the gap ranges
 * given up because POS_GAPS_MAX was reached (their ids count as delivered). */
static size_t ids_add(struct pos_ids *d, long long v)
{
    if (!d->set) {
        d->set = malloc(sizeof(*d->set));
        if (!d->set) {
            abort(); /* as sf_buf does: nothing sensible to do without memory */
        }
    }
    if (!d->has) {
        d->has = true;
        d->floor = v;
        sf_gapset_init(d->set, v, POS_GAPS_MAX);
        return 0;
    }
    if (v >= d->floor) {
        /* the same time for every gap: the lowest is the oldest and is given up first */
        return sf_gapset_see(d->set, v, 0);
    }
    if (v == d->floor - 1 || sf_gapset_add_below(d->set, v + 1, d->floor - 1, 0)) {
        d->floor = v;
    }
    return 0;
}

static void ids_copy(struct pos_ids *dst, const struct pos_ids *src)
{
    dst->has = src->has;
    dst->floor = src->floor;
    if (src->has) {
        if (!dst->set) {
            dst->set = malloc(sizeof(*dst->set));
            if (!dst->set) {
                abort();
            }
        }
        sf_gapset_copy(dst->set, src->set);
    }
}

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d) {
        abort(); /* as sf_buf does: nothing sensible to do without memory */
    }
    return d;
}

static size_t pos_hash(const char *topic, const char *table)
{
    size_t h = hash_str(topic);
    h = (h ^ 0xffu) * 1099511628211u;
    for (const char *s = table; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    }
    return h;
}

static void pos_index_put(struct kafka_ctx *ctx, size_t idx)
{
    size_t mask = ctx->pos_index_cap - 1;
    size_t j = ctx->pos[idx].hash & mask;
    while (ctx->pos_index[j]) {
        j = (j + 1) & mask;
    }
    ctx->pos_index[j] = idx + 1;
}

/* The entry of (topic, table), created when create is set. NULL when absent, or when
 * POSITIONS_MAX entries exist already (then the pair is not tracked). */
static struct pos_entry *
pos_get(struct kafka_ctx *ctx, const char *topic, const char *table, bool create, size_t *idx_out)
{
    size_t h = pos_hash(topic, table);
    if (ctx->pos_index_cap) {
        size_t mask = ctx->pos_index_cap - 1;
        for (size_t j = h & mask; ctx->pos_index[j]; j = (j + 1) & mask) {
            struct pos_entry *e = &ctx->pos[ctx->pos_index[j] - 1];
            if (e->hash == h && strcmp(e->table, table) == 0 && strcmp(e->topic, topic) == 0) {
                if (idx_out) {
                    *idx_out = ctx->pos_index[j] - 1;
                }
                return e;
            }
        }
    }
    if (!create || ctx->pos_n >= POSITIONS_MAX) {
        return NULL;
    }
    if (ctx->pos_n == ctx->pos_cap) {
        size_t cap = ctx->pos_cap ? ctx->pos_cap * 2 : 16;
        struct pos_entry *v = realloc(ctx->pos, cap * sizeof(*v));
        if (!v) {
            abort();
        }
        ctx->pos = v;
        ctx->pos_cap = cap;
    }
    if ((ctx->pos_n + 1) * 2 > ctx->pos_index_cap) {
        size_t cap = ctx->pos_index_cap ? ctx->pos_index_cap * 2 : 64;
        size_t *v = calloc(cap, sizeof(*v));
        if (!v) {
            abort();
        }
        free(ctx->pos_index);
        ctx->pos_index = v;
        ctx->pos_index_cap = cap;
        for (size_t i = 0; i < ctx->pos_n; i++) {
            pos_index_put(ctx, i);
        }
    }
    size_t idx = ctx->pos_n++;
    ctx->pos[idx] =
        (struct pos_entry){ .topic = xstrdup(topic), .table = xstrdup(table), .hash = h };
    pos_index_put(ctx, idx);
    if (idx_out) {
        *idx_out = idx;
    }
    return &ctx->pos[idx];
}

static void pos_free(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->pos_n; i++) {
        free(ctx->pos[i].topic);
        free(ctx->pos[i].table);
        free(ctx->pos[i].max);
        free(ctx->pos[i].ids.set);
        free(ctx->pos[i].wids.set);
    }
    free(ctx->pos);
    free(ctx->pos_index);
    ctx->pos = NULL;
    ctx->pos_index = NULL;
    ctx->pos_n = ctx->pos_cap = ctx->pos_index_cap = 0;
    ctx->ntouched = 0;
}
/* The open batch did not reach Kafka: forget what it would have advanced. */
static void pos_discard_pending(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->ntouched; i++) {
        struct pos_entry *e = &ctx->pos[ctx->touched[i]];
        e->in_batch = false;
        e->bmax = e->first = e->last = NULL;
        e->count = 0;
    }
    ctx->ntouched = 0;
}
/* The open batch is committed in Kafka: its positions become the committed ones (copied, since
 * they point into events that the channel commit frees). */
static void pos_commit_pending(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->ntouched; i++) {
        struct pos_entry *e = &ctx->pos[ctx->touched[i]];
        if (e->count > 0) {
            if (e->bmax) {
                free(e->max);
                e->max = xstrdup(e->bmax);
            }
            if (e->int_mode) {
                struct pos_ids d = e->ids;
                e->ids = e->wids;
                e->wids = d;
            }
        }
        e->in_batch = false;
        e->bmax = e->first = e->last = NULL;
        e->count = 0;
    }
    ctx->ntouched = 0;
}
/* Append " " and s with bytes <= 0x20, '%' and 0x7f as %XX, so fields never hold a space or a
 * line break. */
static void put_field(struct sf_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    sf_buf_putc(b, ' ');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c == '%' || c == 0x7f) {
            char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
            sf_buf_append(b, esc, 3);
        } else {
            sf_buf_putc(b, (char)c);
        }
    }
}

static int hex_val(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Undo put_field in place. @return false for a bad escape, a NUL byte or an empty field. */
static bool field_decode(char *s)
{
    char *w = s;
    for (char *r = s; *r; r++) {
        if (*r == '%') {
            int hi = hex_val(r[1]), lo = hi < 0 ? -1 : hex_val(r[2]);
            if (lo < 0 || (hi == 0 && lo == 0)) {
                return false;
            }
            *w++ = (char)(hi << 4 | lo);
            r += 2;
        } else {
            *w++ = *r;
        }
    }
    *w = '\0';
    return w != s;
}

/*
 * The open batch's position record into ctx->pos_buf:
 *   sqlflume-positions 1
 *   txn <number of this Kafka transaction>
 *   prev <number of the last committed one, or ->
 *   pos <topic> <table> <offset>                 every pair: the highest offset delivered
 *   ids <topic> <table> <floor> <hw>[;<gaps>]    pairs with integer offsets: every one of
 *                                                floor..hw was delivered except the gaps
 *                                                ("lo-hi" or "id", ',' between; sqlflume/offset.h)
 *   batch <topic> <table> <first> <last> <count> the pairs of this batch: first and last offset
 *                                                produced (channel order) and how many
 * Fields are escaped by put_field. Format 1 had, instead of "ids", "ranges <topic> <table>
 * <lo>~<hi>,..." listing the delivered ranges; pos_record_apply still reads it.
 */
static void pos_record_build(struct kafka_ctx *ctx)
{
    struct sf_buf *b = &ctx->pos_buf;
    sf_buf_reset(b);
    sf_buf_printf(b, POSITIONS_FORMAT "\ntxn %lld\nprev ", ctx->txn_seq);
    if (ctx->committed_seq >= 0) {
        sf_buf_printf(b, "%lld\n", ctx->committed_seq);
    } else {
        sf_buf_puts(b, "-\n");
    }
    for (size_t i = 0; i < ctx->pos_n; i++) {
        const struct pos_entry *e = &ctx->pos[i];
        bool open = e->in_batch && e->count > 0;
        const char *off = open && e->bmax ? e->bmax : e->max;
        if (off) {
            sf_buf_puts(b, "pos");
            put_field(b, e->topic);
            put_field(b, e->table);
            put_field(b, off);
            sf_buf_putc(b, '\n');
        }
        const struct pos_ids *d = open ? &e->wids : &e->ids;
        if (e->int_mode && d->has) {
            sf_buf_puts(b, "ids");
            put_field(b, e->topic);
            put_field(b, e->table);
            sf_buf_printf(b, " %lld ", d->floor);
            sf_gapset_encode(d->set, b, 0);
            sf_buf_putc(b, '\n');
        }
    }
    for (size_t i = 0; i < ctx->ntouched; i++) {
        const struct pos_entry *e = &ctx->pos[ctx->touched[i]];
        if (e->count == 0) {
            continue;
        }
        sf_buf_puts(b, "batch");
        put_field(b, e->topic);
        put_field(b, e->table);
        put_field(b, e->first);
        put_field(b, e->last);
        sf_buf_printf(b, " %zu\n", e->count);
    }
}

/* An "ids" line's floor and "hw;gaps" into *d. @return false when malformed. */
static bool ids_parse(struct pos_ids *d, const char *floor, const char *gaps)
{
    long long lo;
    struct pos_ids tmp = { 0 };
    if (!sf_offset_int_parse(floor, &lo) || ids_add(&tmp, lo) != 0) {
        free(tmp.set);
        return false;
    }
    bool ok = sf_gapset_parse(tmp.set, gaps, 0) == 0 && tmp.set->hw >= lo &&
              (tmp.set->n == 0 || tmp.set->g[0].lo > lo);
    if (ok) {
        free(d->set);
        *d = tmp;
    } else {
        free(tmp.set);
    }
    return ok;
}

/* A format 1 "ranges" field "lo~hi,..." (sorted, disjoint delivered ranges) into *d: floor is
 * the first lo, hw the last hi, and the ids between the ranges are the gaps. @return false when
 * malformed. */
static bool ranges_parse(struct pos_ids *d, char *text)
{
    struct pos_ids tmp = { 0 };
    long long prev_hi = 0;
    char *rsave = NULL;
    bool ok = true;
    for (char *t = strtok_r(text, ",", &rsave); t && ok; t = strtok_r(NULL, ",", &rsave)) {
        char *tilde = strchr(t, '~');
        long long lo, hi;
        if (tilde) {
            *tilde = '\0';
        }
        ok = tilde && sf_offset_int_parse(t, &lo) && sf_offset_int_parse(tilde + 1, &hi) &&
             lo <= hi && (!tmp.has || lo > prev_hi + 1);
        if (!ok) {
            break;
        }
        if (!tmp.has) {
            (void)ids_add(&tmp, lo);
        } else {
            ok = ids_add(&tmp, lo) == 0; /* opens the gap prev_hi+1..lo-1 */
        }
        tmp.set->hw = hi;
        prev_hi = hi;
    }
    ok = ok && tmp.has;
    if (ok) {
        free(d->set);
        *d = tmp;
    } else {
        free(tmp.set);
    }
    return ok;
}

/* Replace the committed positions by those of a record (NULL: none stored). @return SF_OK or
 * SF_ERR_DATA (errstr says why; nothing changed). */
static int pos_record_apply(struct kafka_ctx *ctx,
                            const char *rec,
                            size_t len,
                            char *errstr,
                            size_t errstr_size)
{
    for (size_t i = 0; i < ctx->pos_n; i++) {
        struct pos_entry *e = &ctx->pos[i];
        free(e->max);
        e->max = NULL;
        e->ids.has = false;
        e->int_mode = false;
    }
    ctx->committed_seq = -1;
    ctx->txn_seq = 0;
    if (!rec) {
        return SF_OK;
    }
    char *text = strndup(rec, len);
    if (!text) {
        abort();
    }
    int rc = SF_ERR_DATA;
    long long seq = -1;
    size_t nline = 0;
    bool v1 = false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        nline++;
        if (nline == 1) {
            v1 = strcmp(line, POSITIONS_FORMAT_1) == 0;
            if (!v1 && strcmp(line, POSITIONS_FORMAT) != 0) {
                (void)snprintf(errstr, errstr_size, "unknown format \"%.40s\"", line);
                goto out;
            }
            continue;
        }
        char *f[6];
        size_t nf = 0;
        char *fsave = NULL;
        for (char *t = strtok_r(line, " ", &fsave); t && nf < 6; t = strtok_r(NULL, " ", &fsave)) {
            f[nf++] = t;
        }
        if (nf == 2 && strcmp(f[0], "txn") == 0) {
            if (!sf_offset_int_parse(f[1], &seq) || seq < 0) {
                (void)snprintf(errstr, errstr_size, "bad line %zu", nline);
                goto out;
            }
        } else if ((nf == 4 && (strcmp(f[0], "pos") == 0 || (v1 && strcmp(f[0], "ranges") == 0))) ||
                   (nf == 5 && !v1 && strcmp(f[0], "ids") == 0)) {
            if (!field_decode(f[1]) || !field_decode(f[2])) {
                (void)snprintf(errstr, errstr_size, "bad line %zu", nline);
                goto out;
            }
            struct pos_entry *e = pos_get(ctx, f[1], f[2], true, NULL);
            if (!e) {
                continue; /* more pairs than POSITIONS_MAX: not tracked */
            }
            if (f[0][0] == 'p') {
                if (!field_decode(f[3])) {
                    (void)snprintf(errstr, errstr_size, "bad line %zu", nline);
                    goto out;
                }
                free(e->max);
                e->max = xstrdup(f[3]);
                continue;
            }
            e->int_mode = true;
            if (f[0][0] == 'i' ? !ids_parse(&e->ids, f[3], f[4]) : !ranges_parse(&e->ids, f[3])) {
                (void)snprintf(errstr, errstr_size, "bad delivered ids on line %zu", nline);
                goto out;
            }
        } /* batch, prev and lines of later minor versions: not needed here */
    }
    if (seq < 0) {
        (void)snprintf(errstr, errstr_size, "no txn line");
        goto out;
    }
    ctx->committed_seq = ctx->txn_seq = seq;
    rc = SF_OK;
out:
    if (rc != SF_OK) {
        for (size_t i = 0; i < ctx->pos_n; i++) {
            free(ctx->pos[i].max);
            ctx->pos[i].max = NULL;
            ctx->pos[i].ids.has = false;
            ctx->pos[i].int_mode = false;
        }
    }
    free(text);
    return rc;
}
/* Producer properties that the positions reader (a consumer) needs as well. */
static bool reader_prop(const char *prop)
{
    static const char *const prefixes[] = { "security.", "sasl.",       "ssl.",        "socket.",
                                            "broker.",   "reconnect.",  "api.version", "log_level",
                                            "debug",     "client.rack", NULL };
    for (size_t i = 0; prefixes[i]; i++) {
        if (strncmp(prop, prefixes[i], strlen(prefixes[i])) == 0) {
            return true;
        }
    }
    return false;
}

static rd_kafka_t *reader_create(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct kafka_ctx *ctx = snk->ctx;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char client_id[256];
    (void)snprintf(client_id, sizeof(client_id), "sqlflume-%s-positions",
                   snk->name ? snk->name : "kafka");
    if (conf_set(conf, "client.id", "client.id", client_id, errstr, errstr_size) ||
        conf_set(conf, "kafka.bootstrap.servers", "bootstrap.servers", ctx->bootstrap, errstr,
                 errstr_size) ||
        /* librdkafka's assign() needs a group.id; the reader never joins or commits */
        conf_set(conf, "group.id", "group.id", "sqlflume-positions-reader", errstr, errstr_size) ||
        conf_set(conf, "isolation.level", "isolation.level", "read_committed", errstr,
                 errstr_size) ||
        conf_set(conf, "enable.partition.eof", "enable.partition.eof", "true", errstr,
                 errstr_size) ||
        conf_set(conf, "enable.auto.commit", "enable.auto.commit", "false", errstr, errstr_size) ||
        /* the last fetch finds nothing new: do not let the broker hold it for 500 ms */
        conf_set(conf, "fetch.wait.max.ms", "fetch.wait.max.ms", "50", errstr, errstr_size) ||
        conf_set(conf, "auto.offset.reset", "auto.offset.reset", "earliest", errstr, errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; snk->conf && i < snk->conf->n; i++) {
        const struct sf_prop *p = snk->conf->v[i];
        const char *sub = sf_section_subkey(snk->conf, p);
        if (strncmp(sub, PRODUCER_PREFIX, strlen(PRODUCER_PREFIX)) == 0 &&
            reader_prop(sub + strlen(PRODUCER_PREFIX)) &&
            conf_set(conf, sub, sub + strlen(PRODUCER_PREFIX), p->val, errstr, errstr_size)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_opaque(conf, snk);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    char why[256];
    rd_kafka_t *rc = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (!rc) {
        (void)snprintf(errstr, errstr_size, "could not create the positions reader: %s", why);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_poll_set_consumer(rc);
    return rc;
}

/*
 * Read the newest position record of this sink's transactional.id from partition 0 of the
 * positions topic with a read_committed consumer, and make it the committed positions. Windows
 * are read from the tail backwards until one holds a record of ours; the first window lasts
 * until the consumer passed the high watermark that its first fetch reported, i.e. until every
 * transaction that was open then (ours are all ended by init_transactions) has ended.
 * @return SF_OK, SF_ERR_STOPPED, SF_ERR_CONN / SF_ERR_TIMEOUT (try again), SF_ERR_DATA
 */
static int positions_read(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct kafka_ctx *ctx = snk->ctx;
    const char *topic = ctx->positions_topic;
    rd_kafka_t *rc = reader_create(snk, errstr, errstr_size);
    if (!rc) {
        return SF_ERR_INVAL;
    }
    int ret = SF_ERR_TIMEOUT;
    char why[128];
    char *found = NULL;
    size_t found_len = 0;
    int64_t found_at = -1;
    size_t key_len = strlen(ctx->txn_id);
    long long deadline = mono_ms() + POSITIONS_READ_MS;
    int64_t lo = 0, hi = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rc, topic, 0, &lo, &hi, POSITIONS_READ_MS / 3);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
        ret = SF_OK; /* nothing stored yet */
        goto apply;
    }
    if (err) {
        (void)snprintf(errstr, errstr_size, "could not query topic \"%s\": %s", topic,
                       rd_kafka_err2str(err));
        ret = SF_ERR_CONN;
        goto out;
    }
    int64_t window = POSITIONS_WINDOW;
    int64_t start = hi - window > lo ? hi - window : lo;
    int64_t stop = -1; /* first window: the high watermark of the first fetch */
    for (;;) {
        rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = start;
        err = rd_kafka_assign(rc, parts);
        rd_kafka_topic_partition_list_destroy(parts);
        if (err) {
            (void)snprintf(errstr, errstr_size, "could not read topic \"%s\": %s", topic,
                           rd_kafka_err2str(err));
            ret = SF_ERR_CONN;
            goto out;
        }
        int64_t reached = start;
        for (;;) {
            if (atomic_load(&snk->stopping)) {
                ret = SF_ERR_STOPPED;
                goto out;
            }
            if (mono_ms() >= deadline) {
                (void)snprintf(errstr, errstr_size,
                               "reading topic \"%s\" took longer than %d ms (at offset %lld)",
                               topic, POSITIONS_READ_MS, (long long)reached);
                goto out;
            }
            rd_kafka_message_t *m = rd_kafka_consumer_poll(rc, 100);
            if (stop < 0) {
                int64_t wlo, whi;
                if (rd_kafka_get_watermark_offsets(rc, topic, 0, &wlo, &whi) == 0 && whi >= 0) {
                    stop = whi;
                }
            }
            if (m) {
                if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                    reached = m->offset > reached ? m->offset : reached;
                } else if (m->err) {
                    unsigned suppressed;
                    if (rate_allow(ctx, -200000 - (int)m->err, &suppressed)) {
                        SF_WARN(SF_SINK_FMT "reading the positions in topic \"%s\": %s",
                                SF_SINK_ARGS(snk), topic, rd_kafka_message_errstr(m));
                    }
                } else {
                    reached = m->offset + 1;
                    if ((stop < 0 || m->offset < stop) && m->key_len == key_len &&
                        memcmp(m->key, ctx->txn_id, key_len) == 0) {
                        free(found);
                        found = malloc(m->len + 1);
                        if (!found) {
                            abort();
                        }
                        memcpy(found, m->payload, m->len);
                        found_len = m->len;
                        found_at = m->offset;
                    }
                }
                rd_kafka_message_destroy(m);
            }
            if (stop >= 0 && reached >= stop) {
                break;
            }
        }
        if (found || start <= lo) {
            break;
        }
        stop = start;
        window *= 8;
        start = start - window > lo ? start - window : lo;
    }
    ret = SF_OK;
apply:
    if (pos_record_apply(ctx, found, found_len, why, sizeof(why)) != SF_OK) {
        (void)snprintf(errstr, errstr_size,
                       "the position record at offset %lld of topic \"%s\" is unreadable: %s",
                       (long long)found_at, topic, why);
        ret = SF_ERR_DATA;
    } else {
        size_t npos = 0;
        for (size_t i = 0; i < ctx->pos_n; i++) {
            npos += ctx->pos[i].max != NULL;
        }
        if (found) {
            SF_INFO(SF_SINK_FMT "exactly-once: resuming after Kafka transaction %lld (positions of "
                                "%zu topic and table pairs, offset %lld of topic \"%s\")",
                    SF_SINK_ARGS(snk), ctx->committed_seq, npos, (long long)found_at, topic);
        } else {
            SF_INFO(SF_SINK_FMT "exactly-once: no positions of transactional.id \"%s\" in topic "
                                "\"%s\" yet",
                    SF_SINK_ARGS(snk), ctx->txn_id, topic);
        }
    }
out:
    free(found);
    rd_kafka_assign(rc, NULL);
    rd_kafka_consumer_close(rc);
    rd_kafka_destroy(rc);
    return ret;
}

/* ---- exactly-once: one Kafka transaction per take transaction ---- */

/* Give the producer up (fatal error, failed abort, unknown outcome): roll the open batch back;
 * the next process() creates a producer, whose init_transactions ends the open transaction, and
 * reads the positions again. */
static void eos_reset(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    ctx->in_txn = false;
    pos_discard_pending(ctx);
    if (ctx->rk) {
        producer_reset(snk, true); /* purges, waits for the reports, destroys, rolls back */
    } else {
        rollback_all(snk);
    }
    ctx->txn_ready = ctx->pos_loaded = false;
}

/* Abort the open Kafka transaction and roll the channel transaction back. */
static void eos_abort(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    atomic_fetch_add(&snk->metrics.write_fail, 1);
    rd_kafka_error_t *e = rd_kafka_abort_transaction(ctx->rk, ABORT_WAIT_MS);
    if (e) {
        SF_ERROR(SF_SINK_FMT "could not abort the kafka transaction: %s; recreating the producer",
                 SF_SINK_ARGS(snk), rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        eos_reset(snk);
        return;
    }
    long long deadline = mono_ms() + ABORT_WAIT_MS;
    while (!all_reported(ctx) && mono_ms() < deadline) {
        rd_kafka_poll(ctx->rk, 100);
    }
    if (!all_reported(ctx)) {
        eos_reset(snk); /* librdkafka may still hold the bodies: only destroying lets go */
        return;
    }
    ctx->in_txn = false;
    pos_discard_pending(ctx);
    rollback_all(snk);
}

/* The Kafka commit succeeded: the batch's positions are committed; commit the channel
 * transaction (unless the test hook simulates a crash right here). */
static void eos_committed(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    struct kbatch *b = ring_at(ctx, 0);
    /* commit_transaction served every report (it flushes); be sure before reusing the slot */
    for (int i = 0; i < 100 && !all_reported(ctx); i++) {
        rd_kafka_poll(ctx->rk, 10);
    }
    ctx->in_txn = false;
    ctx->committed_seq = ctx->txn_seq;
    pos_commit_pending(ctx);
    if (ctx->crash_after > 0 && ++ctx->commits == ctx->crash_after) {
        SF_WARN(SF_SINK_FMT "test hook: crashing after Kafka commit %lld, before the channel "
                            "commit",
                SF_SINK_ARGS(snk), ctx->commits);
        if (ctx->crash_kill) {
            (void)raise(SIGKILL);
        }
        ctx->crashed = true;
        return;
    }
    int rc = sf_channel_txn_commit(b->txn);
    if (rc != SF_OK) {
        /* cannot happen with our channels' take semantics; the events would come back and be
         * skipped, since Kafka has them */
        SF_ERROR(SF_SINK_FMT "could not commit a delivered batch of %zu events: %s",
                 SF_SINK_ARGS(snk), b->n, sf_err_str(rc));
    } else {
        atomic_fetch_add(&snk->metrics.drain_success, (long long)b->n);
    }
    sf_channel_txn_close(b->txn);
    b->txn = NULL;
    ctx->ring_count = 0;
}

/*
 * errors.tolerance = none: before anything of the n taken events is produced, find the first one
 * too large for message.max.bytes (librdkafka would refuse it). When there is one, roll txn back
 * and: when it is the first, stop the sink (sink_fail: nothing of it or after it goes); else
 * take only the events before it next time (ctx->take_limit), so that they are delivered and
 * committed without it. @return true when txn was rolled back (*st set).
 */
static bool precheck_split(struct sf_sink *snk,
                           struct sf_txn *txn,
                           struct sf_event *const *evs,
                           size_t n,
                           enum sf_status *st)
{
    struct kafka_ctx *ctx = snk->ctx;
    size_t size = 0;
    size_t k = ctx->tolerate ? n : first_oversize(ctx, evs, n, &size);
    if (k == n) {
        return false;
    }
    if (k == 0) {
        sink_fail(snk, evs[0], RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, topic_of(ctx, evs[0]), size,
                  false);
    } else {
        ctx->take_limit = k;
    }
    sf_channel_txn_rollback(txn);
    sf_channel_txn_close(txn);
    *st = k == 0 ? SF_BACKOFF : SF_READY;
    return true;
}

/*
 * Whether the sink can order off as the database does: numbers, date/time values and "ts,id"
 * pairs of them (digits and - : . T + , space; sf_offset_cmp orders those as the database
 * does), not text, whose order is the column's collation, known only to the database.
 */
static bool offset_orderable(const char *off)
{
    for (const char *p = off; *p; p++) {
        if (!strchr("0123456789-:.T+, ", *p)) {
            return false;
        }
    }
    return *off != '\0';
}

/*
 * Decide, for the taken events, which to produce: those without (table, offset) headers, and
 * those that Kafka does not have: for a pair with integer offsets, an offset not in its delivered
 * set (pos_ids); otherwise an offset above the highest delivered. The state advances as it goes (so a
 * row that the source sent twice in one batch goes once). Fills ctx->send and ctx->touched.
 * @return the number of events to produce
 */
static size_t eos_filter(struct sf_sink *snk, struct sf_event **evs, size_t n)
{
    struct kafka_ctx *ctx = snk->ctx;
    size_t m = 0;
    unsigned suppressed;
    for (size_t i = 0; i < n; i++) {
        struct sf_event *ev = evs[i];
        const char *table = sf_event_header(ev, SF_HDR_TABLE);
        const char *off = sf_event_header(ev, SF_HDR_OFFSET);
        const char *topic = table && *table && off && *off ? topic_of(ctx, ev) : "";
        size_t idx;
        long long v = 0;
        bool is_int = *topic && sf_offset_int_parse(off, &v);
        struct pos_entry *e = NULL;
        if (*topic) {
            size_t before = ctx->pos_n;
            e = pos_get(ctx, topic, table, true, &idx);
            if (e && ctx->pos_n != before) {
                e->int_mode = is_int; /* a new pair: its first offset decides */
            }
        }
        if (!e) {
            if (*topic && rate_allow(ctx, -300000, &suppressed)) {
                SF_WARN(SF_SINK_FMT "more than %d topic and table pairs: events of table \"%s\" "
                                    "are delivered at least once, not exactly once",
                        SF_SINK_ARGS(snk), POSITIONS_MAX, table);
            }
            ctx->send[m++] = ev;
            continue;
        }
        if (!e->in_batch) {
            e->in_batch = true;
            e->bmax = e->first = e->last = NULL;
            e->count = 0;
            if (e->int_mode) {
                ids_copy(&e->wids, &e->ids);
            }
            ctx->touched[ctx->ntouched++] = idx;
        }
        const char *cur = e->bmax ? e->bmax : e->max;
        /* a text incremental column: never skipped by a byte comparison that the column's
         * collation may contradict ("B" after "a"), so at least once, and said once; its
         * position is the last offset in channel order (the database's order) */
        bool orderable = (e->int_mode && is_int) || offset_orderable(off);
        if (!orderable) {
            if (!e->unordered_warned) {
                e->unordered_warned = true;
                SF_WARN(SF_SINK_FMT "table \"%s\": offset \"%.40s\" is text, which only the "
                                    "database can order (its collation): its events are "
                                    "delivered at least once, not exactly once; use an integer, "
                                    "decimal or date/time incremental column for exactly once",
                        SF_SINK_ARGS(snk), table, off);
            }
        } else if (e->int_mode && is_int) {
            if (ids_has(&e->wids, v)) {
                continue;
            }
            (void)ids_add(&e->wids, v); /* a gap given up counts as delivered: see pos_ids */
        } else if (cur && sf_offset_cmp(off, cur) <= 0) {
            continue;
        }
        if (!orderable || !cur || sf_offset_cmp(off, cur) > 0) {
            e->bmax = off;
        }
        if (e->count++ == 0) {
            e->first = off;
        }
        e->last = off;
        ctx->send[m++] = ev;
    }
    return m;
}

/*
 * Take a batch and produce what Kafka does not have yet inside a new Kafka transaction, with its
 * position record. @return true when a transaction is now open (commit it), false with *st
 * set otherwise.
 */
static bool eos_begin(struct sf_sink *snk, enum sf_status *st)
{
    struct kafka_ctx *ctx = snk->ctx;
    struct sf_txn *txn = sf_channel_txn_begin(snk->ch);
    if (!txn) {
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        *st = SF_BACKOFF;
        return false;
    }
    size_t n = 0;
    size_t max = ctx->take_limit ? ctx->take_limit : ctx->batch;
    ctx->take_limit = 0;
    int rc = sf_channel_take(txn, ctx->evs, max, &n, TAKE_WAIT_MS);
    if (rc != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not take from channel \"%s\": %s", SF_SINK_ARGS(snk),
                 snk->ch->name, sf_err_str(rc));
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        sf_channel_txn_close(txn);
        *st = SF_BACKOFF;
        return false;
    }
    if (n == 0) {
        sf_channel_txn_commit(txn);
        sf_channel_txn_close(txn);
        atomic_fetch_add(&snk->metrics.batch_empty, 1);
        *st = SF_BACKOFF;
        return false;
    }
    atomic_fetch_add(&snk->metrics.drain_attempt, (long long)n);
    atomic_fetch_add(n < ctx->batch ? &snk->metrics.batch_underflow : &snk->metrics.batch_complete,
                     1);
    if (precheck_split(snk, txn, ctx->evs, n, st)) {
        return false;
    }
    size_t m = eos_filter(snk, ctx->evs, n);
    unsigned suppressed;
    if (m < n) {
        ctx->skipped += (long long)(n - m);
        if (rate_allow(ctx, -300001, &suppressed)) {
            SF_INFO(SF_SINK_FMT "exactly-once: skipped %zu of %zu events that Kafka has already "
                                "(%lld so far)",
                    SF_SINK_ARGS(snk), n - m, n, ctx->skipped);
        }
    }
    if (m == 0) {
        pos_commit_pending(ctx); /* nothing produced: only ends the batch */
        rc = sf_channel_txn_commit(txn);
        if (rc == SF_OK) {
            atomic_fetch_add(&snk->metrics.drain_success, (long long)n);
        }
        sf_channel_txn_close(txn);
        *st = SF_READY;
        return false;
    }
    struct kbatch *b = ring_at(ctx, 0);
    batch_init(ctx, b, txn);
    b->n = n;
    ctx->ring_count = 1;
    rd_kafka_error_t *e = rd_kafka_begin_transaction(ctx->rk);
    if (e) {
        SF_ERROR(SF_SINK_FMT "could not begin a kafka transaction: %s; recreating the producer",
                 SF_SINK_ARGS(snk), rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        eos_reset(snk);
        *st = SF_BACKOFF;
        return false;
    }
    ctx->in_txn = true;
    ctx->txn_seq++;
    ctx->begun++;
    /* The position record right before the batch: librdkafka registers partitions with the
     * transaction 1 ms after the first message to a new one, so both go in one
     * AddPartitionsToTxn request (a round trip less than when the record follows the batch). */
    pos_record_build(ctx);
    if (ctx->pos_buf.len > POSITIONS_WARN_BYTES && rate_allow(ctx, -300003, &suppressed)) {
        SF_WARN(SF_SINK_FMT "exactly-once: the position record has %zu bytes (%zu topic and table "
                            "pairs): the topics' max.message.bytes and kafka.producer."
                            "message.max.bytes must allow it",
                SF_SINK_ARGS(snk), ctx->pos_buf.len, ctx->pos_n);
    }
    size_t j = produce_prepare(snk, b, ctx->send, m);
    struct kmsg *pkm = &b->msg[m];
    *pkm = (struct kmsg){ .b = b, .state = KM_PENDING };
    b->pending++;
    if (rd_kafka_produce(ctx->pos_rkt, 0, RD_KAFKA_MSG_F_COPY, ctx->pos_buf.data, ctx->pos_buf.len,
                         ctx->txn_id, strlen(ctx->txn_id), pkm) != 0) {
        refuse(pkm, rd_kafka_last_error(), ctx->positions_topic);
    }
    produce_send(snk, j);
    /* events too large for message.max.bytes never enter the transaction (a refused message
     * would abort it): errors.tolerance = all dead-letters or logs them in it (none stopped at
     * precheck_split); an invalid topic under none stops the sink */
    for (size_t i = 0; b->failed == 0 && i < m; i++) {
        if (b->msg[i].state == KM_PERM) {
            handle_failed(snk, b, i);
        }
    }
    if (ctx->dead) {
        eos_abort(snk);
        *st = SF_BACKOFF;
        return false;
    }
    if (b->failed > 0) {
        /* a message librdkafka refused is not in the transaction: committing would lose it */
        if (rate_allow(ctx, -100000 - (int)b->err, &suppressed)) {
            SF_ERROR(SF_SINK_FMT "could not produce %zu of %zu events to topic \"%s\": %s; "
                                 "aborting the kafka transaction and rolling back",
                     SF_SINK_ARGS(snk), b->failed, m, b->err_topic, rd_kafka_err2str(b->err));
        }
        eos_abort(snk);
        *st = SF_BACKOFF;
        return false;
    }
    return true;
}

/* One bounded attempt at committing the open Kafka transaction. */
static enum sf_status eos_commit(struct sf_sink *snk, int timeout_ms)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->crash_before > 0 && ctx->begun == ctx->crash_before) {
        /* test hook: the transaction's messages in the partitions' logs, no commit */
        rd_kafka_resp_err_t ferr = rd_kafka_flush(ctx->rk, 30000);
        SF_WARN(SF_SINK_FMT "test hook: killing the agent before committing Kafka transaction "
                            "%lld (its messages flushed: %s)",
                SF_SINK_ARGS(snk), ctx->txn_seq, rd_kafka_err2str(ferr));
        (void)raise(SIGKILL);
    }
    rd_kafka_error_t *e = rd_kafka_commit_transaction(ctx->rk, timeout_ms);
    if (!e) {
        eos_committed(snk);
        return SF_READY;
    }
    unsigned suppressed;
    if (rd_kafka_error_is_retriable(e) && !rd_kafka_error_is_fatal(e)) {
        /* the commit goes on in the background: call again to resume it */
        if (rate_allow(ctx, -400000, &suppressed)) {
            SF_WARN(SF_SINK_FMT "kafka transaction %lld not committed yet: %s", SF_SINK_ARGS(snk),
                    ctx->txn_seq, rd_kafka_error_string(e));
        }
        rd_kafka_error_destroy(e);
        return SF_READY;
    }
    if (rd_kafka_error_txn_requires_abort(e)) {
        if (rate_allow(ctx, -400001, &suppressed)) {
            SF_ERROR(SF_SINK_FMT "could not commit kafka transaction %lld: %s; aborting it and "
                                 "rolling back%s",
                     SF_SINK_ARGS(snk), ctx->txn_seq, rd_kafka_error_string(e),
                     suppressed ? " (similar failures suppressed)" : "");
        }
        rd_kafka_error_destroy(e);
        eos_abort(snk);
        return SF_BACKOFF;
    }
    SF_ERROR(SF_SINK_FMT "could not commit kafka transaction %lld: %s; rolling back and "
                         "recreating the producer",
             SF_SINK_ARGS(snk), ctx->txn_seq, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    atomic_fetch_add(&snk->metrics.write_fail, 1);
    eos_reset(snk);
    return SF_BACKOFF;
}

static enum sf_status eos_process(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->crashed || (ctx->dead && !ctx->in_txn)) {
        return SF_BACKOFF;
    }
    char err[512];
    if (!ctx->rk) {
        if (producer_create(snk, err, sizeof(err)) != SF_OK) {
            SF_ERROR(SF_SINK_FMT "%s", SF_SINK_ARGS(snk), err);
            return SF_BACKOFF;
        }
    }
    if (atomic_load(&ctx->fatal)) {
        eos_reset(snk);
        return SF_BACKOFF;
    }
    if (!ctx->txn_ready) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(ctx->rk, TXN_STEP_MS);
        if (e) {
            bool retry = rd_kafka_error_is_retriable(e) && !rd_kafka_error_is_fatal(e);
            unsigned suppressed;
            if (!retry || rate_allow(ctx, -400002, &suppressed)) {
                SF_WARN(SF_SINK_FMT "kafka init_transactions (transactional.id \"%s\"): %s%s",
                        SF_SINK_ARGS(snk), ctx->txn_id, rd_kafka_error_string(e),
                        retry ? "; still trying" : "; recreating the producer");
            }
            rd_kafka_error_destroy(e);
            if (!retry) {
                eos_reset(snk);
            }
            return SF_BACKOFF;
        }
        ctx->txn_ready = true;
    }
    if (!ctx->pos_loaded) {
        int rc = positions_read(snk, err, sizeof(err));
        if (rc != SF_OK) {
            unsigned suppressed;
            if (rc != SF_ERR_STOPPED && rate_allow(ctx, -400003, &suppressed)) {
                SF_ERROR(SF_SINK_FMT "exactly-once: could not read the stored positions: %s; "
                                     "nothing is delivered until they are read",
                         SF_SINK_ARGS(snk), err);
            }
            return SF_BACKOFF;
        }
        ctx->pos_loaded = true;
    }
    if (!ctx->in_txn) {
        enum sf_status st;
        if (!eos_begin(snk, &st)) {
            return st;
        }
    }
    return eos_commit(snk, TXN_STEP_MS);
}

/* stop() of the exactly-once mode: finish the open Kafka transaction within flushTimeout (then
 * commit the channel transaction) or roll back. */
static void eos_stop(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->rk && ctx->in_txn && !ctx->crashed && !atomic_load(&ctx->fatal)) {
        int timeout_ms = ctx->flush_timeout_ms > INT32_MAX ? INT32_MAX : (int)ctx->flush_timeout_ms;
        rd_kafka_error_t *e = rd_kafka_commit_transaction(ctx->rk, timeout_ms);
        if (!e) {
            eos_committed(snk);
        } else {
            SF_WARN(SF_SINK_FMT "kafka transaction %lld not committed within flushTimeout (%lld "
                                "ms): %s; rolling back its %zu events",
                    SF_SINK_ARGS(snk), ctx->txn_seq, ctx->flush_timeout_ms,
                    rd_kafka_error_string(e), ring_at(ctx, 0)->n);
            rd_kafka_error_destroy(e);
            e = rd_kafka_abort_transaction(ctx->rk, 1000);
            rd_kafka_error_destroy(e); /* NULL is fine; the next start ends it anyway */
        }
    }
    if (ctx->rk && ctx->ring_count > 0 && !all_reported(ctx)) {
        rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        long long deadline = mono_ms() + PURGE_WAIT_MS;
        while (!all_reported(ctx) && mono_ms() < deadline) {
            rd_kafka_poll(ctx->rk, 100);
        }
    }
    if (ctx->skipped > 0) {
        SF_INFO(SF_SINK_FMT "exactly-once: %lld events were not produced again since Kafka had "
                            "them",
                SF_SINK_ARGS(snk), ctx->skipped);
    }
    producer_destroy(snk); /* librdkafka lets go of every body here at the latest */
    ctx->in_txn = false;
    pos_discard_pending(ctx);
    rollback_all(snk);
    pos_free(ctx);
    sf_buf_free(&ctx->pos_buf);
    free(ctx->send);
    free(ctx->touched);
    ctx->send = NULL;
    ctx->touched = NULL;
}

static enum sf_status kafka_process(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->txn_id) {
        return eos_process(snk);
    }
    if (!ctx->rk) {
        char err[512];
        if (producer_create(snk, err, sizeof(err)) != SF_OK) {
            SF_ERROR(SF_SINK_FMT "%s", SF_SINK_ARGS(snk), err);
            return SF_BACKOFF;
        }
    }
    if (atomic_load(&ctx->fatal)) {
        producer_reset(snk, false);
        return SF_BACKOFF;
    }
    rd_kafka_poll(ctx->rk, 0);
    service(snk);
    settle(snk);
    bool stopping = atomic_load(&snk->stopping);
    if (ctx->dead || stopping || ctx->ring_count == (size_t)ctx->max_inflight) {
        if (ctx->ring_count == 0) {
            return SF_BACKOFF;
        }
        /* nothing more is taken until the oldest batch is delivered */
        ctx->waits_full++;
        wait_acks(snk, RING_WAIT_MS);
        return ctx->dead ? SF_BACKOFF : SF_READY;
    }

    struct sf_txn *txn = sf_channel_txn_begin(snk->ch);
    if (!txn) {
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        return SF_BACKOFF;
    }
    struct kbatch *b = ring_at(ctx, ctx->ring_count);
    batch_init(ctx, b, txn);
    size_t n = 0;
    size_t max = ctx->take_limit ? ctx->take_limit : ctx->batch;
    ctx->take_limit = 0;
    int rc = sf_channel_take(txn, b->evs, max, &n, ctx->ring_count == 0 ? TAKE_WAIT_MS : 0);
    if (rc != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not take from channel \"%s\": %s", SF_SINK_ARGS(snk),
                 snk->ch->name, sf_err_str(rc));
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        sf_channel_txn_close(txn);
        b->txn = NULL;
        return SF_BACKOFF;
    }
    if (n == 0) {
        sf_channel_txn_commit(txn);
        sf_channel_txn_close(txn);
        b->txn = NULL;
        if (ctx->ring_count == 0) {
            atomic_fetch_add(&snk->metrics.batch_empty, 1);
            return SF_BACKOFF;
        }
        /* The channel looks empty while batches are in flight: with a channel smaller than
         * maxInFlightBatches x the batch size (taken events count against its capacity until
         * their batch commits) the source waits for this sink's commits, so the sink waits for
         * acknowledgements, with librdkafka sending at once. */
        ctx->waits_empty++;
        wait_acks(snk, ACK_WAIT_MS);
        return SF_READY;
    }
    atomic_fetch_add(&snk->metrics.drain_attempt, (long long)n);
    atomic_fetch_add(n < ctx->batch ? &snk->metrics.batch_underflow : &snk->metrics.batch_complete,
                     1);
    enum sf_status st;
    if (precheck_split(snk, txn, b->evs, n, &st)) {
        b->txn = NULL;
        return st;
    }
    b->n = n;
    ctx->ring_count++;
    if (ctx->ring_count > ctx->ring_peak) {
        ctx->ring_peak = ctx->ring_count;
    }
    produce_batch(snk, b, b->evs, n);
    if (n < max) {
        /* the channel is empty now: the next take would find nothing (see above) */
        ctx->waits_empty++;
        wait_acks(snk, ACK_WAIT_MS);
    }
    return SF_READY;
}

/* The summary of the batches' round trips and of the sink's waits, at stop (INFO). */
static void rtt_summary(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->rtt_n == 0) {
        return;
    }
    SF_INFO(SF_SINK_FMT "%lld batches delivered at their first produce, round trip from produce "
                        "to the last delivery report: mean %.3f ms, max %.3f ms; at most %zu of "
                        "%lld batches in flight; waited for acknowledgements %lld times with "
                        "every batch slot in flight, %lld times with the channel empty",
            SF_SINK_ARGS(snk), ctx->rtt_n, (double)ctx->rtt_sum_us / (double)ctx->rtt_n / 1000.0,
            (double)ctx->rtt_max_us / 1000.0, ctx->ring_peak, ctx->max_inflight, ctx->waits_full,
            ctx->waits_empty);
}

static void kafka_stop(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->txn_id) {
        eos_stop(snk);
    } else if (ctx->rk) {
        long long deadline = mono_ms() + ctx->flush_timeout_ms;
        settle(snk);
        while (ctx->ring_count > 0 && !atomic_load(&ctx->fatal) && mono_ms() < deadline &&
               !(ctx->dead &&
                 (batch_stuck(ring_at(ctx, 0)) ||
                  (ring_at(ctx, 0)->seq >= ctx->dead_seq && ring_at(ctx, 0)->pending == 0)))) {
            rd_kafka_flush(ctx->rk, RING_WAIT_MS); /* nothing more comes: skip linger.ms */
            service(snk);
            settle(snk);
        }
        if (ctx->ring_count > 0) {
            size_t events = 0;
            for (size_t i = 0; i < ctx->ring_count; i++) {
                events += ring_at(ctx, i)->n;
            }
            if (ctx->dead) {
                SF_WARN(SF_SINK_FMT "the sink failed: rolling back %zu batches (%zu events) from "
                                    "the failed event on; the channel keeps them (their messages "
                                    "that Kafka acknowledged already are sent again after the "
                                    "restart)",
                        SF_SINK_ARGS(snk), ctx->ring_count, events);
            } else {
                SF_WARN(SF_SINK_FMT "%zu batches (%zu events) not delivered within flushTimeout "
                                    "(%lld ms): rolling back what is not acknowledged",
                        SF_SINK_ARGS(snk), ctx->ring_count, events, ctx->flush_timeout_ms);
            }
            rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            deadline = mono_ms() + PURGE_WAIT_MS;
            while (!all_reported(ctx) && mono_ms() < deadline) {
                rd_kafka_poll(ctx->rk, 100);
            }
            /* commit what was delivered in order before the first failure */
            settle(snk);
        }
        producer_destroy(snk); /* librdkafka lets go of every body here at the latest */
        rtt_summary(snk);
    }
    rollback_all(snk);
    topic_parts_free(ctx);
    sf_buf_free(&ctx->topic_buf);
    free(ctx->evs);
    free(ctx->msgs);
    grp_free(ctx);
    free(ctx->msg_rkt);
    free(ctx->msg_rkt_temp);
    for (size_t i = 0; ctx->ring && i < (size_t)ctx->max_inflight; i++) {
        free(ctx->ring[i].evs);
        free(ctx->ring[i].msg);
    }
    free(ctx->ring);
    for (size_t i = 0; ctx->avro && i < (size_t)ctx->max_inflight; i++) {
        sf_buf_free(&ctx->avro[i]);
    }
    free(ctx->avro);
    free(ctx->avro_at);
    free(ctx->msg_ev);
    free(ctx->hdr_from);
    free(ctx->hdr_to);
    ctx->avro = NULL;
    ctx->avro_at = NULL;
    ctx->msg_ev = NULL;
    ctx->hdr_from = ctx->hdr_to = NULL;
    ctx->nhdr = 0;
    ctx->evs = NULL;
    ctx->msgs = NULL;
    ctx->msg_rkt = NULL;
    ctx->msg_rkt_temp = NULL;
    ctx->ring = NULL;
    pthread_mutex_destroy(&ctx->rate_mu);
}

/* Collect the header.NAME = KAFKA_NAME keys into hdr_from / hdr_to.
 * @return SF_OK, SF_ERR_INVAL (an empty name, in errstr) or SF_ERR_NOMEM. */
static int headers_parse(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct kafka_ctx *ctx = snk->ctx;
    size_t n = 0;
    for (size_t i = 0; snk->conf && i < snk->conf->n; i++) {
        n += strncmp(sf_section_subkey(snk->conf, snk->conf->v[i]), HEADER_PREFIX,
                     strlen(HEADER_PREFIX)) == 0;
    }
    if (n == 0) {
        return SF_OK;
    }
    ctx->hdr_from = calloc(n, sizeof(*ctx->hdr_from));
    ctx->hdr_to = calloc(n, sizeof(*ctx->hdr_to));
    if (!ctx->hdr_from || !ctx->hdr_to) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < snk->conf->n; i++) {
        const struct sf_prop *p = snk->conf->v[i];
        const char *sub = sf_section_subkey(snk->conf, p);
        if (strncmp(sub, HEADER_PREFIX, strlen(HEADER_PREFIX)) != 0) {
            continue;
        }
        const char *name = sub + strlen(HEADER_PREFIX);
        if (!*name || !*p->val) {
            (void)snprintf(errstr, errstr_size,
                           "%s: needs an event header name after \"" HEADER_PREFIX
                           "\" and a Kafka header name as its value",
                           sub);
            return SF_ERR_INVAL;
        }
        ctx->hdr_from[ctx->nhdr] = name;
        ctx->hdr_to[ctx->nhdr++] = p->val;
    }
    return SF_OK;
}

static int kafka_start(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct kafka_ctx *ctx = snk->ctx;
    ctx->batch = (size_t)ctx->batch_size;
    if (snk->ch->txn_capacity > 0 && (long long)ctx->batch > snk->ch->txn_capacity) {
        SF_WARN(SF_SINK_FMT "flumeBatchSize %lld is larger than the transactionCapacity of "
                            "channel \"%s\"; taking %lld events per batch",
                SF_SINK_ARGS(snk), ctx->batch_size, snk->ch->name, snk->ch->txn_capacity);
        ctx->batch = (size_t)snk->ch->txn_capacity;
    }
    pthread_mutex_init(&ctx->rate_mu, NULL);
    memset(ctx->rate, 0, sizeof(ctx->rate));
    ctx->topic_buf = (struct sf_buf)SF_BUF_INIT;
    ctx->ring_head = ctx->ring_count = 0;
    ctx->dead = false;
    ctx->dead_seq = LLONG_MAX;
    ctx->batch_seq = 0;
    ctx->take_limit = 0;
    ctx->rtt_n = ctx->rtt_sum_us = ctx->rtt_max_us = 0;
    ctx->ring_peak = 0;
    ctx->waits_full = ctx->waits_empty = 0;
    if (strcasecmp(ctx->errors_tolerance, "none") != 0 &&
        strcasecmp(ctx->errors_tolerance, "all") != 0) {
        (void)snprintf(errstr, errstr_size, "errors.tolerance: none or all, not \"%s\"",
                       ctx->errors_tolerance);
        return SF_ERR_INVAL;
    }
    ctx->tolerate = strcasecmp(ctx->errors_tolerance, "all") == 0;
    if (ctx->dlq_topic && !*ctx->dlq_topic) {
        free(ctx->dlq_topic);
        ctx->dlq_topic = NULL;
    }
    if (ctx->dlq_topic && !ctx->tolerate) {
        (void)snprintf(errstr, errstr_size,
                       "errors.deadletterqueue.topic.name is used only with errors.tolerance = "
                       "all (errors.tolerance = none stops at the first failed event)");
        return SF_ERR_INVAL;
    }
    if (ctx->tolerate && !ctx->dlq_topic && !ctx->errors_log) {
        (void)snprintf(errstr, errstr_size,
                       "errors.tolerance = all without errors.deadletterqueue.topic.name needs "
                       "errors.log.enable = true (a failed event would be skipped without a "
                       "line saying so)");
        return SF_ERR_INVAL;
    }
    if (ctx->errors_log && !ctx->tolerate) {
        (void)snprintf(errstr, errstr_size,
                       "errors.log.enable is used only with errors.tolerance = all (errors."
                       "tolerance = none logs the failed event as it stops)");
        return SF_ERR_INVAL;
    }
    atomic_store(&ctx->fatal, false);
    ctx->evs = calloc(ctx->batch, sizeof(struct sf_event *));
    ctx->msgs = calloc(ctx->batch, sizeof(*ctx->msgs));
    ctx->msg_rkt = calloc(ctx->batch, sizeof(rd_kafka_topic_t *));
    ctx->msg_rkt_temp = calloc(ctx->batch, sizeof(*ctx->msg_rkt_temp));
    ctx->ring = calloc((size_t)ctx->max_inflight, sizeof(*ctx->ring));
    /* grouping by partition is an optimisation: without its scratch, librdkafka partitions */
    ctx->grp_part = calloc(ctx->batch, sizeof(*ctx->grp_part));
    ctx->grp_count = calloc(PARTS_GROUP_MAX + 1, sizeof(*ctx->grp_count));
    ctx->grp_msgs = calloc(ctx->batch, sizeof(*ctx->grp_msgs));
    if (!ctx->grp_part || !ctx->grp_count || !ctx->grp_msgs) {
        grp_free(ctx);
    }
    int rc = SF_ERR_NOMEM;
    if (!ctx->evs || !ctx->msgs || !ctx->msg_rkt || !ctx->msg_rkt_temp || !ctx->ring ||
        topic_parse(ctx) != 0) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if ((rc = headers_parse(snk, errstr, errstr_size)) != SF_OK) {
        goto fail;
    }
    rc = SF_ERR_NOMEM;
    ctx->per_msg = ctx->nhdr > 0 || ctx->timestamp_header;
    if ((ctx->per_msg && !(ctx->msg_ev = calloc(ctx->batch, sizeof(*ctx->msg_ev)))) ||
        (ctx->flume_event_format &&
         (!(ctx->avro = calloc((size_t)ctx->max_inflight, sizeof(*ctx->avro))) ||
          !(ctx->avro_at = calloc(ctx->batch, sizeof(*ctx->avro_at)))))) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (ctx->txn_id) {
        ctx->pos_buf = (struct sf_buf)SF_BUF_INIT;
        ctx->send = calloc(ctx->batch, sizeof(struct sf_event *));
        ctx->touched = calloc(ctx->batch, sizeof(size_t));
        if (!ctx->send || !ctx->touched) {
            (void)snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
        if (!*ctx->txn_id) {
            (void)snprintf(errstr, errstr_size, "kafka.producer.transactional.id: empty");
            rc = SF_ERR_INVAL;
            goto fail;
        }
        ctx->in_txn = ctx->crashed = false;
        ctx->txn_seq = 0;
        ctx->committed_seq = -1;
        ctx->skipped = ctx->commits = ctx->begun = 0;
        if (ctx->crash_after > 0) {
            SF_WARN(SF_SINK_FMT "test hook testCrashAfterCommits = %lld%s is set",
                    SF_SINK_ARGS(snk), ctx->crash_after, ctx->crash_kill ? " (kill)" : "");
        }
        if (ctx->crash_before > 0) {
            SF_WARN(SF_SINK_FMT "test hook testCrashBeforeCommit = %lld is set", SF_SINK_ARGS(snk),
                    ctx->crash_before);
        }
    }
    if ((rc = producer_create(snk, errstr, errstr_size)) != SF_OK) {
        goto fail;
    }
    if (ctx->txn_id) {
        SF_INFO(SF_SINK_FMT "producing to topic \"%s\" via %s exactly once: up to %zu events per "
                            "Kafka transaction (transactional.id \"%s\", positions in topic "
                            "\"%s\")",
                SF_SINK_ARGS(snk), ctx->topic, ctx->bootstrap, ctx->batch, ctx->txn_id,
                ctx->positions_topic);
    } else {
        long long cap = snk->ch->capacity;
        long long fit = cap > 0 ? cap / (long long)ctx->batch : ctx->max_inflight;
        char limit[256] = "";
        if (fit < ctx->max_inflight) {
            /* taken events count against the channel's capacity until their batch commits */
            (void)snprintf(limit, sizeof(limit),
                           " (at most %lld: channel \"%s\" holds %lld events, taken ones "
                           "included, so the sink sends each batch at once when it can take "
                           "no more)",
                           fit < 1 ? 1 : fit, snk->ch->name, cap);
        }
        SF_INFO(SF_SINK_FMT "producing to topic \"%s\" via %s: up to %zu events per batch, %lld "
                            "batches in flight%s",
                SF_SINK_ARGS(snk), ctx->topic, ctx->bootstrap, ctx->batch, ctx->max_inflight,
                limit);
    }
    return SF_OK;
fail:
    kafka_stop(snk);
    return rc;
}

static const char *const kafka_aliases[] = { "org.apache.flume.sink.kafka.KafkaSink", NULL };

const struct sf_sink_plugin sf_sink_kafka = {
    .name = "kafka",
    .aliases = kafka_aliases,
    .options = kafka_options,
    .ctx_size = sizeof(struct kafka_ctx),
    .start = kafka_start,
    .process = kafka_process,
    .stop = kafka_stop,
};
