/*
 * Flume's KafkaSink ("kafka", org.apache.flume.sink.kafka.KafkaSink) on librdkafka, an
 * asynchronous user of the acknowledged-sink pipeline (sqlflume/sink_pipeline.h). Each batch of
 * up to flumeBatchSize events is taken in its own take transaction and produced at once (bodies
 * are referenced, not copied: a taken event stays valid until its transaction ends); up to
 * maxInFlightBatches transactions are kept open while librdkafka delivers them, and the pipeline
 * commits them strictly in take order, each only after every message of its batch has a
 * successful delivery report (docs/DESIGN.md: the source's offset never runs ahead of Kafka) or
 * was handled by errors.tolerance: each such message acknowledges its event (kmsg_final). Each
 * message has its own delivery state (struct kmsg): once every report of a batch is in, its
 * messages failed with a retriable error are produced again, those only, after a backoff of 100 ms
 * doubling to 10 s (kf_service()), so nothing that Kafka acknowledged is sent twice; a permanent
 * error (err_permanent: too large, invalid record, not authorised, unknown or invalid topic) goes
 * to errors.tolerance: none stops the sink and asks the agent to stop with exit code 1 (sink_fail),
 * all dead-letters it to errors.deadletterqueue.topic.name or logs it (handle_failed, dlq_produce).
 * Sizes are checked against message.max.bytes before producing (msg_size): under none a batch
 * holding a too-large event is rolled back untouched and taken again up to the event before it
 * (kf_precheck), so what precedes it is delivered and committed and nothing after it is produced.
 * The topic is kafka.topic with %{header} replaced per event, or the event's topicHeader header
 * when allowTopicOverride; the `key` header is the message key; partitionIdHeader /
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
 * (every batch slot is in flight, or the channel looked empty: a channel smaller than
 * maxInFlightBatches x flumeBatchSize holds fewer batches, since taken events count against its
 * capacity until they commit), since nothing more can join their requests then: the pipeline's
 * flush_wait (kf_wait_acks) waits for acknowledgements inside rd_kafka_flush() and goes on at the
 * first completed batch. Each batch's round trip (produce to its last delivery report) is a
 * DEBUG line of the pipeline, and stop() logs their mean and maximum. A
 * fatal producer error recreates the producer, which produces again only the messages without a
 * successful report. stop() waits up to flushTimeout for in-flight batches, commits the
 * delivered prefix and rolls back the rest.
 * librdkafka's error and log callbacks are rate-limited to one line per kind per 5 s, so a
 * broker that is down does not flood the log; pass-through values of secret properties
 * (passwords, secrets, keys) are never logged.
 *
 * Exactly-once (kafka.producer.transactional.id set): one take transaction at a time becomes one
 * Kafka transaction (init_transactions once per producer, then begin, produce the batch, commit);
 * the pipeline runs with one batch in flight, and the Kafka commit acknowledges the whole batch
 * (eos_committed), so the channel transaction commits only after the Kafka commit succeeded. A
 * too-large event never enters the transaction (the size pre-check): under errors.tolerance = all
 * its dead-letter record does, under none the transaction ends before it. An abortable error (or a
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
 * keeps at most SF_POS_GAPS_MAX gaps and gives up the lowest beyond that (their ids then count as
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

#ifndef SF_SINKS_KAFKA_INT_H
#define SF_SINKS_KAFKA_INT_H
#include "sqlflume/avro_event.h"
#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/hmap.h"
#include "sqlflume/log.h"
#include "sqlflume/offset.h"
#include "sqlflume/positions.h"
#include "sqlflume/sink_pipeline.h"
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
#define POSITIONS_READ_MS    30000       /* one attempt at reading the stored positions */
#define POSITIONS_WINDOW     256 /* records read from the tail first; then 8 times more each step */
#define TXN_STEP_MS          500 /* init/commit_transaction block at most this long per process() */
#define ABORT_WAIT_MS        5000   /* abort_transaction, then waiting for the purged reports */
#define POSITIONS_WARN_BYTES 900000 /* a position record this big nears message.max.bytes */
/* per-message errors */
#define RETRY_FIRST_MS 100   /* first wait before producing failed messages again */
#define RETRY_MAX_MS   10000 /* the wait doubles up to this */
#define MSG_OVERHEAD   64    /* bytes counted per message beyond value, key and headers */
#define DLQ_HDR_PREFIX "__sqlflume.errors."

/* free(p), then p = NULL: a stop after a failed start frees nothing twice */
#define KF_FREE(p)                                                                                 \
    do {                                                                                           \
        free(p);                                                                                   \
        (p) = NULL;                                                                                \
    } while (0)

/* One piece of kafka.topic: a literal or a %{header}. */
struct topic_part {
    bool is_header;
    char *text;
};

struct topic_entry {
    char *name; /* owned */
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

/* What librdkafka has reported about the messages of one in-flight batch (the pipeline's batch
 * pb: its take transaction and events). At least once, each message that becomes KM_OK or KM_DONE
 * acknowledges its event to the pipeline (kmsg_final), which commits the take transaction once
 * every event is acknowledged; exactly once, the Kafka commit acknowledges the whole batch. Only
 * KM_RETRY messages are produced again, so nothing Kafka acknowledged is sent twice. */
struct kbatch {
    struct sf_pipeline_batch *pb; /* the pipeline's slot of the same index (kafka_ctx.kb) */
    size_t nmsg;             /* messages of events (n, or fewer in exactly-once: skipped ones) */
    size_t pending;          /* messages without a delivery report yet */
    size_t failed;           /* failed reports and messages librdkafka refused */
    rd_kafka_resp_err_t err; /* first failure */
    char err_topic[128];     /* topic of the first failure */
    struct sf_event **evs;   /* batch slots (kept across batches): the event of each message */
    struct kmsg *msg;        /* batch + 1 slots (kept): the last is the position record's */
    long long retry_at_ms;   /* when the KM_RETRY messages go again (0: not scheduled) */
    long long backoff_ms;    /* the last wait: 100 ms doubling to 10 s */
};

struct rate_slot {
    int key;
    long long last_ms;
    unsigned suppressed;
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
    struct topic_entry *cache;    /* cache_n entries (cache_cap allocated) */
    struct sf_hmap cache_index;   /* name hash -> index in cache */
    partitioner_fn partitioner;   /* kafka.producer.partitioner when keyed messages may be grouped
                                   * by partition in the sink, else NULL */
    struct topic_meta *metas;     /* of the topic handles made by topic_create */
    int32_t *grp_part;            /* batch slots: partition of each message of a grouped run */
    size_t *grp_count;            /* PARTS_GROUP_MAX + 1 slots: messages per partition */
    rd_kafka_message_t *grp_msgs; /* batch slots: a run's messages ordered by partition */
    size_t cache_cap, cache_n;
    struct sf_buf topic_buf;
    size_t batch;               /* min(flumeBatchSize, the channel's transactionCapacity) */
    rd_kafka_message_t *msgs;   /* produce scratch, batch slots */
    rd_kafka_topic_t **msg_rkt; /* topic of each message */
    bool *msg_rkt_temp;         /* that handle is to be destroyed after producing */
    struct sf_sink_pipeline pl; /* the take transactions in flight: max_inflight (exactly once:
                                 * 1); pl.halted: errors.tolerance = none stopped the sink,
                                 * nothing more goes */
    struct kbatch *kb;          /* pl.max_inflight slots, kb[i] of pl's slot i */
    bool tolerate;              /* errors.tolerance = all */
    long long dead_seq;         /* halted: the batch that holds the failed event (LLONG_MAX: none
                                 * in flight); it and later ones are not retried */
    long long max_msg_bytes;    /* the producer's message.max.bytes */
    rd_kafka_topic_t *dlq_rkt;  /* the dead-letter topic's handle */
    atomic_bool fatal;          /* librdkafka raised a fatal error: recreate the producer */
    pthread_mutex_t rate_mu;    /* callbacks come from librdkafka's threads too */
    struct rate_slot rate[RATE_SLOTS];

    /* runtime of the exactly-once mode (txn_id set); the open batch is pipeline slot 0 */
    struct sf_positions pos;   /* what Kafka has, per (topic, table) (sqlflume/positions.h) */
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

/* Functions shared by the files of the Kafka sink (src/sinks/kafka/), by the file defining them. */

/* kafka_sink.c */

/* config.c */
bool kf_rate_allow(struct kafka_ctx *ctx, int key, unsigned *suppressed);
int kf_str_key(const char *s);
void kf_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf);
int kf_conf_set(rd_kafka_conf_t *conf,
                const char *flume_key,
                const char *prop,
                const char *val,
                char *errstr,
                size_t errstr_size);
/* The plugin's configure step (sf_sink_plugin.configure): errors.*, header.*, the topic names,
 * transactional.id with acks, and every producer property through rd_kafka_conf_set; no I/O.
 * @return SF_OK, or SF_ERR_INVAL when it added errors to d. */
int kf_configure(struct sf_sink *snk, struct sf_diag *d);
int kf_producer_create(struct sf_sink *snk, char *errstr, size_t errstr_size);
void kf_producer_destroy(struct sf_sink *snk);

/* topics.c */
void kf_topic_parts_free(struct kafka_ctx *ctx);
/* Split kafka.topic into its parts (nparts 0 without a %{header}). @return SF_OK or
 * SF_ERR_NOMEM. */
int kf_topic_parse(struct kafka_ctx *ctx);
const char *kf_topic_of(struct kafka_ctx *ctx, const struct sf_event *ev);
void kf_cache_free(struct kafka_ctx *ctx);
partitioner_fn kf_partitioner_by_name(const char *name);
rd_kafka_topic_t *kf_topic_create(struct kafka_ctx *ctx, const char *name);
rd_kafka_topic_t *kf_topic_get(struct kafka_ctx *ctx, const char *name, bool *temp);

/* produce.c */
void kf_kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque);
struct kbatch *kf_ring_at(struct kafka_ctx *ctx, size_t i);
bool kf_all_reported(struct kafka_ctx *ctx);
void kf_refuse(struct kmsg *km, rd_kafka_resp_err_t err, const char *topic);
size_t
kf_first_oversize(const struct kafka_ctx *ctx, struct sf_event *const *evs, size_t n, size_t *size);
void kf_batch_init(struct kafka_ctx *ctx, struct kbatch *b);
size_t
kf_produce_prepare(struct sf_sink *snk, struct kbatch *b, struct sf_event *const *evs, size_t n);
void kf_grp_free(struct kafka_ctx *ctx);
void kf_produce_send(struct sf_sink *snk, size_t n);
void kf_sink_fail(struct sf_sink *snk,
                  const struct sf_event *ev,
                  rd_kafka_resp_err_t err,
                  const char *topic,
                  size_t size,
                  bool dlq);
void kf_handle_failed(struct sf_sink *snk, struct kbatch *b, size_t i);
void kf_service(struct sf_sink *snk);
bool kf_batch_stuck(const struct kbatch *b);
void kf_wait_acks(struct sf_sink *snk, int max_ms);
void kf_producer_reset(struct sf_sink *snk, bool rollback);

/* positions.c: the position record (format at kf_pos_record_build) */
void kf_pos_record_build(struct kafka_ctx *ctx);
int kf_pos_record_apply(struct kafka_ctx *ctx,
                        const char *rec,
                        size_t len,
                        char *errstr,
                        size_t errstr_size);

/* positions_read.c */
int kf_positions_read(struct sf_sink *snk, char *errstr, size_t errstr_size);

/* eos.c */
int kf_precheck(struct sf_sink *snk, struct sf_event *const *evs, size_t n);
extern const struct sf_sink_pipeline_ops kf_eos_ops;
enum sf_status kf_eos_process(struct sf_sink *snk);
void kf_eos_stop(struct sf_sink *snk);

#endif
