/*
 * The sinks' unit-test harness (tests/unit/sinks/), linked into unit_sinks:
 *  - a memory channel c1 and a sink k1 built from Flume properties (struct rig), events put into
 *    the channel and a sink driven until the channel is empty;
 *  - librdkafka's mock cluster in this process (mock_setup/mock_teardown as a check fixture: one
 *    broker, fresh for each test; its brokers set TCP_NODELAY, tests/support/mock_nodelay.h), an
 *    independent read_committed consumer (consume, consume_parts) and high watermarks;
 *  - the poison events of the errors.tolerance tests and, with avro-c (SF_HAVE_AVRO), a decoder of
 *    AvroFlumeEvent messages.
 * Helpers fail the running check test (ck_assert) instead of returning errors. Timeouts are
 * multiplied by time_mult (SF_TIME_MULT, for sanitizer runs; set by kafka_harness_init).
 */
#ifndef SF_TESTS_KAFKA_HARNESS_H
#define SF_TESTS_KAFKA_HARNESS_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sqlflume/channel.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"
#include "sqlflume/sink.h"

/** The timeouts' multiplier (1 unless SF_TIME_MULT says otherwise). */
extern long long time_mult;

/** Read SF_TIME_MULT into time_mult, and turn on debug logging when SF_TEST_DEBUG is set. Call
 *  from a suite builder, before the timeouts are set; idempotent. */
void kafka_harness_init(void);

/** CLOCK_MONOTONIC in milliseconds. */
long long now_ms(void);

/* ---------- a memory channel and a sink built from properties ---------- */

/** Channel c1 (memory) and sink k1 with the properties they were built from. */
struct rig {
    struct sf_props props;
    struct sf_section ch_sec, snk_sec;
    struct sf_channel ch;
    struct sf_sink snk;
    bool started;
};

/** Build channel c1 (memory) and sink k1 from conf (keys a1.channels.c1.*, a1.sinks.k1.*).
 *  @return the rig (free with rig_free), with the sink started when it could start (errstr
 *  filled otherwise). */
struct rig *
rig_new(const struct sf_sink_plugin *plugin, const char *conf, char *errstr, size_t errstr_size);
/** Stop the sink if it is started (the channel stays). */
void rig_stop_sink(struct rig *r);
/** Stop the sink, then the channel, and free everything of r. */
void rig_free(struct rig *r);

/** Put events "event-%06d" first..first+n-1 with headers h (nh <= 7, and "seq"), in
 *  transactions of 100. */
void put_events(struct sf_channel *ch, int first, int n, const struct sf_header *h, size_t nh);

/** Call process() until the channel is empty (true) or timeout_ms (times time_mult) passed
 *  (false). */
bool drain(struct sf_sink *snk, long long timeout_ms);

/* ---------- librdkafka's mock cluster ---------- */

/** The fixture's cluster, its handle and its bootstrap servers ("host:port,..."). */
extern rd_kafka_t *mock_rk;
extern rd_kafka_mock_cluster_t *mock;
extern char bootstraps[256];

/** Check fixture: an in-process mock cluster of one broker, fresh for each test. */
void mock_setup(void);
void mock_teardown(void);

/** A librdkafka partitioner (rd_kafka_msg_partitioner_*). */
typedef int32_t (
    *partition_fn_t)(const rd_kafka_topic_t *, const void *, size_t, int32_t, void *, void *);

/** One consumed message; every string owned, NUL-terminated (key and val NULL when absent). */
struct rec {
    char *topic, *key, *val;
    size_t val_len;
    char *hdrs; /* the Kafka headers as "name=value;" each, "" for none */
    int64_t ts; /* message timestamp, ms */
    int32_t partition;
    int64_t offset;
};

/** Consumed messages in the order they arrived. */
struct recs {
    struct rec *v;
    size_t n;
};

/** Free the messages of rs and empty it. */
void recs_free(struct recs *rs);

/** A NUL-terminated copy of the n bytes at p (NULL for p = NULL); the caller frees it. */
char *dup_n(const void *p, size_t n);

/** Read partitions 0..nparts-1 of every topic in topics (NULL-terminated) from the beginning
 *  with an independent read_committed consumer until expect messages arrived (then a short grace
 *  for extra ones) or timeout_ms (times time_mult) passed. */
struct recs
consume_parts(const char *const *topics, int32_t nparts, size_t expect, long long timeout_ms);

/** consume_parts of partition 0 alone. */
struct recs consume(const char *const *topics, size_t expect, long long timeout_ms);

/** The high watermark of partition 0 of topic. */
int64_t high_watermark(const char *topic);

/** rig_new of the Kafka sink producing to the fixture's cluster, with extra properties; fails the
 *  test when the sink does not start. */
struct rig *kafka_rig(const char *extra);

#ifdef SF_HAVE_AVRO
/** Decode one AvroFlumeEvent datum with avro-c (an independent implementation of the Avro
 *  specification, reading with Flume's schema) into "k=v;" headers and the body (both owned by
 *  the caller). */
void avro_decode(const char *data, size_t len, char **hdrs, char **body, size_t *body_len);
#endif

/* ---------- poison events: errors.tolerance ---------- */

/** The size of the poison event, more than the tests' message.max.bytes. */
#define POISON_BIG (2 * 1024 * 1024)

/** Put n small events "event-%06d" 0..n-1 with headers table = poison, offset = key = their
 *  number, and, right before event big_at, one event of POISON_BIG bytes ('B's) with offset and
 *  key "big". */
void put_poison(struct sf_channel *ch, int n, int big_at);

/** Move every event of channel from to channel to, in order (what a file channel keeps across a
 *  restart of the agent). */
void move_events(struct sf_channel *from, struct sf_channel *to);

/** Topic partition 0 of topic: the small events 0..n-1 once each (any order), and the big one
 *  (want_big) once or not at all. */
void check_poison_topic(const char *topic, int n, bool want_big);

#endif
