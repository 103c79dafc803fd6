/*
 * Unit tests of the Kafka sink's producing, against librdkafka's mock cluster running in this
 * process (tests/support/kafka_harness.h): start errors, topics (%{header}, the topic header
 * override), keys and values checked by an independent consumer, partitions, Kafka headers
 * (header.NAME) and timestamps (timestampHeader), AvroFlumeEvent messages (useFlumeEventFormat)
 * decoded by avro-c, a broker that is down (nothing commits, nothing is lost, everything arrives
 * exactly once after it is back), failed deliveries (rollback, redelivery in order), poison
 * events and errors.tolerance, and stop with undelivered batches (rolled back into the channel in
 * order). Timeouts are multiplied by SF_TIME_MULT (sanitizer runs).
 */
#include "unit.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sqlflume/avro_event.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/log.h"
#include "sqlflume/option.h"
#include "sqlflume/sinks.h"

#include "kafka_harness.h"

START_TEST(kafka_start_errors)
{
    char conf[1024], err[512];
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.no.such.property = 1\n",
                   bootstraps);
    struct rig *r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert(!r->started);
    ck_assert_msg(strstr(err, "kafka.producer.no.such.property") != NULL, "%s", err);
    rig_free(r);

    /* a secret's value never appears in the message */
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.ssl.key.password.bogus = hunter2\n",
                   bootstraps);
    r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert(!r->started);
    ck_assert_msg(strstr(err, "hunter2") == NULL, "%s", err);
    rig_free(r);

    /* acks=1 without an explicit enable.idempotence turns idempotence off and starts */
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.acks = 1\n",
                   bootstraps);
    r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert_msg(r->started, "%s", err);
    rig_free(r);

    /* acks=1 with idempotence asked for explicitly is librdkafka's error */
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.acks = 1\n"
                   "a1.sinks.k1.kafka.producer.enable.idempotence = true\n",
                   bootstraps);
    r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert(!r->started);
    ck_assert_msg(strstr(err, "acks") != NULL, "%s", err);
    rig_free(r);

    /* the required key */
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    sf_props_parse(&p, "k.conf", "a1.sinks.k1.kafka.topic = t\n", &d);
    struct sf_section s;
    sf_section_init(&s, &p, "sink", "k1", "a1.sinks.k1.");
    void *ctx = calloc(1, sf_sink_kafka.ctx_size);
    ck_assert_int_eq(sf_options_apply(sf_sink_kafka.options, &s, ctx, &d), SF_ERR_INVAL);
    ck_assert_uint_eq(d.nerrors, 1);
    ck_assert_msg(strstr(d.errors[0], "kafka.bootstrap.servers") != NULL, "%s", d.errors[0]);
    sf_options_free(sf_sink_kafka.options, ctx);
    free(ctx);
    sf_section_free(&s);
    sf_props_free(&p);
    sf_diag_free(&d);
}
END_TEST

START_TEST(kafka_topics_keys_values)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "cdc.orders", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "cdc.customers", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "cdc.", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "special", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = cdc.%{table}\n"
                              "a1.sinks.k1.flumeBatchSize = 50\n");
    const struct sf_header orders[] = { { "table", "orders" }, { "key", "k-orders" } };
    const struct sf_header customers[] = { { "key", "k-cust" }, { "table", "customers" } };
    const struct sf_header override[] = { { "table", "orders" }, { "topic", "special" } };
    put_events(&r->ch, 0, 120, orders, 2);
    put_events(&r->ch, 120, 30, customers, 2);
    put_events(&r->ch, 150, 5, override, 2);
    put_events(&r->ch, 155, 2, NULL, 0); /* no table header: "cdc." */
    ck_assert(drain(&r->snk, 20000));
    /* drained means committed: every report was in and successful */
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 157);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 0);

    const char *const topics[] = { "cdc.orders", "cdc.customers", "special", "cdc.", NULL };
    struct recs rs = consume(topics, 157, 20000);
    ck_assert_uint_eq(rs.n, 157);
    int seen[157] = { 0 };
    for (size_t i = 0; i < rs.n; i++) {
        ck_assert_int_eq(strncmp(rs.v[i].val, "event-", 6), 0);
        int seq = (int)strtol(rs.v[i].val + 6, NULL, 10);
        ck_assert(seq >= 0 && seq < 157);
        seen[seq]++;
        const char *topic = seq < 120   ? "cdc.orders"
                            : seq < 150 ? "cdc.customers"
                            : seq < 155 ? "special"
                                        : "cdc.";
        ck_assert_str_eq(rs.v[i].topic, topic);
        if (seq < 120) {
            ck_assert_str_eq(rs.v[i].key, "k-orders");
        } else if (seq < 150) {
            ck_assert_str_eq(rs.v[i].key, "k-cust");
        } else {
            ck_assert_ptr_null(rs.v[i].key);
        }
    }
    for (int i = 0; i < 157; i++) {
        ck_assert_int_eq(seen[i], 1);
    }
    /* order within a partition is the channel's */
    for (size_t i = 1; i < rs.n; i++) {
        if (strcmp(rs.v[i].topic, rs.v[i - 1].topic) == 0) {
            ck_assert_int_gt(strcmp(rs.v[i].val, rs.v[i - 1].val), 0);
        }
    }
    recs_free(&rs);
    rig_free(r);
}
END_TEST

/*
 * Keyed events land where librdkafka's partitioner puts their key, whether librdkafka partitions
 * the batch (the first one of a topic, to learn its partition count) or the sink does (the
 * later ones, grouped per partition), and each partition keeps the channel's order. Run with the
 * default partitioner and with murmur2.
 */
static void check_keyed_partitions(const char *topic, const char *extra, partition_fn_t fn)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, topic, 4, 1), 0);
    char conf[512];
    (void)snprintf(conf, sizeof(conf), "a1.sinks.k1.kafka.topic = %s\n%s", topic, extra);
    struct rig *r = kafka_rig(conf);
    const int n = 3000;
    char key[32], body[32];
    for (int i = 0; i < n;) {
        struct sf_txn *txn = sf_channel_txn_begin(&r->ch);
        for (int k = 0; k < 100 && i < n; k++, i++) {
            (void)snprintf(key, sizeof(key), "k-%d", i % 37);
            int len = snprintf(body, sizeof(body), "event-%06d", i);
            const struct sf_header h[] = { { "key", key } };
            ck_assert_int_eq(sf_channel_put(txn, sf_event_create(h, 1, body, (size_t)len)), SF_OK);
        }
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
        sf_channel_txn_close(txn);
        if (i == 100) { /* the first batch alone, so the later ones find the count learned */
            ck_assert(drain(&r->snk, 20000));
        }
    }
    ck_assert(drain(&r->snk, 20000));
    const char *const topics[] = { topic, NULL };
    struct recs rs = consume_parts(topics, 4, (size_t)n, 20000);
    ck_assert_uint_eq(rs.n, (size_t)n);
    int seen[3000] = { 0 };
    int last[4] = { -1, -1, -1, -1 };
    int used[4] = { 0 };
    for (size_t i = 0; i < rs.n; i++) {
        int seq = (int)strtol(rs.v[i].val + 6, NULL, 10);
        ck_assert(seq >= 0 && seq < n);
        seen[seq]++;
        (void)snprintf(key, sizeof(key), "k-%d", seq % 37);
        ck_assert_str_eq(rs.v[i].key, key);
        int32_t want = fn(NULL, key, strlen(key), 4, NULL, NULL);
        ck_assert_msg(rs.v[i].partition == want, "%s: key %s in partition %d, not %d", topic, key,
                      (int)rs.v[i].partition, (int)want);
        ck_assert_int_gt(seq, last[want]); /* the channel's order within a partition */
        last[want] = seq;
        used[want] = 1;
    }
    for (int i = 0; i < n; i++) {
        ck_assert_int_eq(seen[i], 1);
    }
    ck_assert_int_eq(used[0] + used[1] + used[2] + used[3], 4);
    recs_free(&rs);
    rig_free(r);
}

START_TEST(kafka_keyed_partitions)
{
    check_keyed_partitions("keyed", "", rd_kafka_msg_partitioner_consistent);
    check_keyed_partitions("keyed-murmur2", "a1.sinks.k1.kafka.producer.partitioner = murmur2\n",
                           rd_kafka_msg_partitioner_murmur2);
}
END_TEST

/* header.NAME and timestampHeader (Flume 1.10's KafkaSink): the mapped headers go as Kafka
 * headers under their new names, unmapped ones do not; the timestamp header's value is the
 * message timestamp, and a missing or bad one leaves the time of producing. */
START_TEST(kafka_headers_and_timestamp)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "hdrs", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = hdrs\n"
                              "a1.sinks.k1.header.table = db.table\n"
                              "a1.sinks.k1.header.offset = row-offset\n"
                              "a1.sinks.k1.timestampHeader = timestamp\n");
    const struct sf_header full[] = { { "table", "orders" },
                                      { "offset", "42" },
                                      { "key", "k42" },
                                      { "timestamp", "1700000000123" } };
    const struct sf_header bad_ts[] = { { "offset", "43" }, { "timestamp", "soon" } };
    const struct sf_header other[] = { { "key", "k44" } };
    long long before = (long long)time(NULL) * 1000 - 1000;
    put_events(&r->ch, 0, 30, full, 4);
    put_events(&r->ch, 30, 1, bad_ts, 2);
    put_events(&r->ch, 31, 1, other, 1);
    put_events(&r->ch, 32, 1, NULL, 0);
    ck_assert(drain(&r->snk, 20000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 33);
    rig_free(r);
    long long after = (long long)time(NULL) * 1000 + 1000;

    const char *const topics[] = { "hdrs", NULL };
    struct recs rs = consume(topics, 33, 20000);
    ck_assert_uint_eq(rs.n, 33);
    for (size_t i = 0; i < rs.n; i++) {
        int seq = (int)strtol(rs.v[i].val + 6, NULL, 10);
        ck_assert_int_eq(seq, (int)i); /* one partition: the channel's order */
        if (seq < 30) {
            ck_assert_str_eq(rs.v[i].hdrs, "db.table=orders;row-offset=42;");
            ck_assert_int_eq(rs.v[i].ts, 1700000000123LL);
            ck_assert_str_eq(rs.v[i].key, "k42");
        } else {
            ck_assert_str_eq(rs.v[i].hdrs, seq == 30 ? "row-offset=43;" : "");
            ck_assert_msg(rs.v[i].ts >= before && rs.v[i].ts <= after,
                          "event %d: timestamp %lld is not the time of producing", seq,
                          (long long)rs.v[i].ts);
        }
    }
    recs_free(&rs);

    /* a message larger than message.max.bytes, without Kafka headers: errors.tolerance = none
     * stops the sink before producing it; the channel keeps it */
    r = kafka_rig("a1.sinks.k1.kafka.topic = hdrs\n"
                  "a1.sinks.k1.timestampHeader = timestamp\n"
                  "a1.sinks.k1.kafka.producer.message.max.bytes = 1000\n");
    static char big[2000];
    memset(big, 'x', sizeof(big));
    struct sf_txn *txn = sf_channel_txn_begin(&r->ch);
    ck_assert_int_eq(sf_channel_put(txn, sf_event_create(NULL, 0, big, sizeof(big))), SF_OK);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    ck_assert(!drain(&r->snk, 1000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 0);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 1);
    rig_free(r);

    /* a header.NAME without a name or a value is refused at start */
    char conf[1024], err[512];
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.header. = x\n",
                   bootstraps);
    r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert(!r->started);
    ck_assert_msg(strstr(err, "header.") != NULL, "%s", err);
    rig_free(r);
}
END_TEST



/* useFlumeEventFormat: every message is the AvroFlumeEvent of its event (headers in order, 4-byte
 * UTF-8, NUL bytes and a 300-byte body that needs a two-byte length intact), with the key still
 * from the key header; decoded by avro-c with Flume's schema. */
START_TEST(kafka_flume_event_format)
{
#ifndef SF_HAVE_AVRO
    fprintf(stderr, "kafka_flume_event_format: built without avro-c (libavro-dev): skipped\n");
#else
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "avro", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = avro\n"
                              "a1.sinks.k1.useFlumeEventFormat = true\n"
                              "a1.sinks.k1.flumeBatchSize = 7\n");
    const struct sf_header h[] = { { "table", "t\xF0\x9F\x98\x80" }, { "key", "k1" }, { "e", "" } };
    char big[300];
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (char)(i % 251); /* NUL bytes included */
    }
    for (int i = 0; i < 20; i++) {
        struct sf_txn *txn = sf_channel_txn_begin(&r->ch);
        char body[32];
        int len = snprintf(body, sizeof(body), "event-%06d", i);
        struct sf_event *ev = i == 19 ? sf_event_create(NULL, 0, big, sizeof(big))
                                      : sf_event_create(h, 3, body, (size_t)len);
        ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
        sf_channel_txn_close(txn);
    }
    ck_assert(drain(&r->snk, 20000));
    rig_free(r);
    const char *const topics[] = { "avro", NULL };
    struct recs rs = consume(topics, 20, 20000);
    ck_assert_uint_eq(rs.n, 20);
    for (size_t i = 0; i < rs.n; i++) {
        char *hdrs, *body;
        size_t blen;
        avro_decode(rs.v[i].val, rs.v[i].val_len, &hdrs, &body, &blen);
        if (i < 19) {
            char want[32];
            (void)snprintf(want, sizeof(want), "event-%06zu", i);
            ck_assert_str_eq(hdrs, "table=t\xF0\x9F\x98\x80;key=k1;e=;");
            ck_assert_uint_eq(blen, strlen(want));
            ck_assert_str_eq(body, want);
            ck_assert_str_eq(rs.v[i].key, "k1");
        } else {
            ck_assert_str_eq(hdrs, "");
            ck_assert_uint_eq(blen, sizeof(big));
            ck_assert_int_eq(memcmp(body, big, sizeof(big)), 0);
            ck_assert_ptr_null(rs.v[i].key);
        }
        free(hdrs);
        free(body);
    }
    recs_free(&rs);
#endif
}
END_TEST

START_TEST(kafka_partition_header)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "parts", 3, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = parts\n"
                              "a1.sinks.k1.partitionIdHeader = p\n"
                              "a1.sinks.k1.defaultPartitionId = 1\n");
    const struct sf_header p2[] = { { "p", "2" } };
    put_events(&r->ch, 0, 10, p2, 1);
    put_events(&r->ch, 10, 10, NULL, 0);
    ck_assert(drain(&r->snk, 20000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 20);
    rig_free(r);
    int64_t lo, hi;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof(errstr));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    const int64_t expect[3] = { 0, 10, 10 };
    for (int32_t p = 0; p < 3; p++) {
        ck_assert_int_eq(rd_kafka_query_watermark_offsets(c, "parts", p, &lo, &hi, 5000), 0);
        ck_assert_int_eq(hi, expect[p]);
    }
    rd_kafka_destroy(c);
}
END_TEST

/* Broker down: take transactions stay open (nothing commits, the channel keeps every event);
 * broker back: everything arrives exactly once. */
START_TEST(kafka_broker_down_then_up)
{
    const int n = 3000;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "down", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = down\n"
                              "a1.sinks.k1.flumeBatchSize = 100\n"
                              "a1.sinks.k1.maxInFlightBatches = 4\n");
    ck_assert_int_eq(rd_kafka_mock_broker_set_down(mock, 1), 0);
    put_events(&r->ch, 0, n, NULL, 0);
    long long until = now_ms() + 2000;
    while (now_ms() < until) {
        r->snk.plugin->process(&r->snk);
    }
    ck_assert_uint_eq(sf_channel_size(&r->ch), (size_t)n);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 0);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_attempt), 400); /* 4 batches in flight */

    ck_assert_int_eq(rd_kafka_mock_broker_set_up(mock, 1), 0);
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n);
    rig_free(r);

    ck_assert_int_eq(high_watermark("down"), n); /* exactly once, counted by offsets */
    const char *const topics[] = { "down", NULL };
    struct recs rs = consume(topics, (size_t)n, 20000);
    ck_assert_uint_eq(rs.n, (size_t)n);
    for (size_t i = 0; i < rs.n; i++) {
        char want[32];
        (void)snprintf(want, sizeof(want), "event-%06zu", i);
        ck_assert_str_eq(rs.v[i].val, want);
        ck_assert_int_eq(rs.v[i].offset, (int64_t)i);
    }
    recs_free(&rs);
}
END_TEST

/* Topic partition 0 holds every event 0..n-1 at least once: a prefix delivered once, then
 * perhaps some duplicates, and the tail is all the events after that prefix in channel order
 * (what rollback then redelivery produces). */
static void check_at_least_once_in_order(const char *topic, int n)
{
    const char *const topics[] = { topic, NULL };
    int64_t hw = high_watermark(topic);
    ck_assert_int_ge(hw, n);
    struct recs rs = consume(topics, (size_t)hw, 20000);
    ck_assert_uint_eq(rs.n, (size_t)hw);
    size_t k = 0; /* longest prefix 0..k-1 */
    while (k < rs.n && k < (size_t)n) {
        char want[32];
        (void)snprintf(want, sizeof(want), "event-%06zu", k);
        if (strcmp(rs.v[k].val, want) != 0) {
            break;
        }
        k++;
    }
    for (size_t i = k; i < (size_t)n; i++) {
        char want[32];
        (void)snprintf(want, sizeof(want), "event-%06zu", i);
        ck_assert_str_eq(rs.v[rs.n - ((size_t)n - i)].val, want);
    }
    recs_free(&rs);
}

/* Topic partition 0 of topic holds every event "event-%06d" 0..n-1 exactly once (in any order),
 * and nothing else. */
static void check_each_once(const char *topic, int n)
{
    const char *const topics[] = { topic, NULL };
    int64_t hw = high_watermark(topic);
    ck_assert_int_eq(hw, n);
    struct recs rs = consume(topics, (size_t)n, 20000);
    ck_assert_uint_eq(rs.n, (size_t)n);
    char *seen = calloc((size_t)n, 1);
    for (size_t i = 0; i < rs.n; i++) {
        ck_assert_msg(strncmp(rs.v[i].val, "event-", 6) == 0, "unexpected %.40s", rs.v[i].val);
        long seq = strtol(rs.v[i].val + 6, NULL, 10);
        ck_assert(seq >= 0 && seq < n);
        ck_assert_msg(!seen[seq], "event %ld produced twice", seq);
        seen[seq] = 1;
    }
    free(seen);
    recs_free(&rs);
}

/* Produce requests fail with a retriable error (librdkafka does not retry: retries = 0, so the
 * reports fail): half of the messages of the first batch fail; only those are produced again,
 * after the backoff, and the take transactions commit once all are delivered: every event once. */
START_TEST(kafka_retriable_failures_resend_failed_only)
{
    const int n = 1000;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "retry", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = retry\n"
                              "a1.sinks.k1.flumeBatchSize = 100\n"
                              "a1.sinks.k1.kafka.producer.acks = 1\n"
                              "a1.sinks.k1.kafka.producer.message.send.max.retries = 0\n"
                              "a1.sinks.k1.kafka.producer.batch.num.messages = 10\n"
                              "a1.sinks.k1.kafka.producer.linger.ms = 20\n");
    /* five requests of ten messages each fail: half of the first batch of 100 */
    rd_kafka_mock_push_request_errors(
        mock, 0 /* Produce */, 5, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    put_events(&r->ch, 0, n, NULL, 0);
    ck_assert(drain(&r->snk, 30000));
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n);
    ck_assert_int_ge(atomic_load(&r->snk.metrics.write_fail), 1);
    long long retried = atomic_load(&r->snk.metrics.event_retried);
    ck_assert_msg(retried > 0 && retried <= 50, "EventRetriedCount %lld", retried);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_failed), 0);
    rig_free(r);
    check_each_once("retry", n);
}
END_TEST


/* errors.tolerance = none (the default): a 2 MB event among 1,000 small ones (message.max.bytes
 * 1000000) stops the sink; the events before it are delivered once, nothing after it, the channel
 * keeps it and the rest; a "restart" with message.max.bytes raised (the same events in the new
 * agent's channel) delivers it and the rest, with no duplicate. */
START_TEST(kafka_poison_none_stops)
{
    const int n = 1000, big_at = 450;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "poison1", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = poison1\n"
                              "a1.sinks.k1.flumeBatchSize = 100\n");
    put_poison(&r->ch, n, big_at);
    ck_assert(!drain(&r->snk, 3000));
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), big_at);
    ck_assert_uint_eq(sf_channel_size(&r->ch), (size_t)(n - big_at + 1));
    {
        const char *const topics[] = { "poison1", NULL };
        ck_assert_int_eq(high_watermark("poison1"), big_at);
        struct recs rs = consume(topics, (size_t)big_at, 20000);
        ck_assert_uint_eq(rs.n, (size_t)big_at);
        for (size_t i = 0; i < rs.n; i++) { /* in order: nothing was retried */
            char want[32];
            (void)snprintf(want, sizeof(want), "event-%06zu", i);
            ck_assert_str_eq(rs.v[i].val, want);
        }
        recs_free(&rs);
    }
    struct rig *r2 = kafka_rig("a1.sinks.k1.kafka.topic = poison1\n"
                               "a1.sinks.k1.flumeBatchSize = 100\n"
                               "a1.sinks.k1.kafka.producer.message.max.bytes = 3000000\n");
    move_events(&r->ch, &r2->ch);
    rig_free(r);
    ck_assert(drain(&r2->snk, 30000));
    rig_stop_sink(r2);
    ck_assert_int_eq(atomic_load(&r2->snk.metrics.failed), 0);
    ck_assert_int_eq(atomic_load(&r2->snk.metrics.drain_success), n - big_at + 1);
    rig_free(r2);
    check_poison_topic("poison1", n, true);
}
END_TEST

/* errors.tolerance = all with a dead-letter topic: every small event once in the topic, the big
 * one once in the dead-letter topic with the error headers, its body cut to the limit. */
START_TEST(kafka_poison_all_dead_letters)
{
    const int n = 1000, big_at = 450;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "poison2", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "poison2_dlq", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = poison2\n"
                              "a1.sinks.k1.flumeBatchSize = 100\n"
                              "a1.sinks.k1.header.table = db.table\n"
                              "a1.sinks.k1.errors.tolerance = all\n"
                              "a1.sinks.k1.errors.deadletterqueue.topic.name = poison2_dlq\n"
                              "a1.sinks.k1.errors.log.enable = true\n");
    put_poison(&r->ch, n, big_at);
    ck_assert(drain(&r->snk, 30000));
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.failed), 0);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_dead_lettered), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n + 1);
    rig_free(r);
    check_poison_topic("poison2", n, false);

    const char *const dlq[] = { "poison2_dlq", NULL };
    ck_assert_int_eq(high_watermark("poison2_dlq"), 1);
    struct recs rs = consume(dlq, 1, 20000);
    ck_assert_uint_eq(rs.n, 1);
    ck_assert_str_eq(rs.v[0].key, "big");
    ck_assert_uint_gt(rs.v[0].val_len, 900000);
    ck_assert_uint_le(rs.v[0].val_len, 1000000);
    for (size_t i = 0; i < rs.v[0].val_len; i++) {
        ck_assert_int_eq(rs.v[0].val[i], 'B');
    }
    ck_assert_msg(strstr(rs.v[0].hdrs, "db.table=poison;") == rs.v[0].hdrs, "%s", rs.v[0].hdrs);
    ck_assert_msg(strstr(rs.v[0].hdrs, "__sqlflume.errors.topic=poison2;"), "%s", rs.v[0].hdrs);
    ck_assert_msg(strstr(rs.v[0].hdrs, "__sqlflume.errors.table=poison;"), "%s", rs.v[0].hdrs);
    ck_assert_msg(strstr(rs.v[0].hdrs, "__sqlflume.errors.offset=big;"), "%s", rs.v[0].hdrs);
    ck_assert_msg(strstr(rs.v[0].hdrs, "__sqlflume.errors.sink.name=k1;"), "%s", rs.v[0].hdrs);
    ck_assert_msg(strstr(rs.v[0].hdrs, "__sqlflume.errors.exception.message="), "%s", rs.v[0].hdrs);
    ck_assert_msg(strstr(rs.v[0].hdrs, "MSG_SIZE_TOO_LARGE"), "%s", rs.v[0].hdrs);
    ck_assert_msg(strstr(rs.v[0].hdrs, "__sqlflume.errors.body.truncated=2097152;"), "%s",
                  rs.v[0].hdrs);
    recs_free(&rs);
}
END_TEST

/* errors.tolerance = all without a dead-letter topic: the big event is logged and skipped. */
START_TEST(kafka_poison_all_logged)
{
    const int n = 300, big_at = 150;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "poison3", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = poison3\n"
                              "a1.sinks.k1.errors.tolerance = all\n"
                              "a1.sinks.k1.errors.log.enable = true\n");
    put_poison(&r->ch, n, big_at);
    ck_assert(drain(&r->snk, 30000));
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_dead_lettered), 0);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n + 1);
    rig_free(r);
    check_poison_topic("poison3", n, false);
}
END_TEST

/* The events of the topic (partition 0) and those left in the channel: each of 0..n-1 exactly
 * once in the union (nothing lost, nothing produced twice), at most `missing` left out of it.
 * @return how many are in the topic */
static size_t check_topic_and_channel(const char *topic, struct sf_channel *ch, int n, int missing)
{
    const char *const topics[] = { topic, NULL };
    int64_t hw = high_watermark(topic);
    struct recs rs = hw > 0 ? consume(topics, (size_t)hw, 20000) : (struct recs){ 0 };
    ck_assert_uint_eq(rs.n, (size_t)hw);
    char *seen = calloc((size_t)n, 1);
    for (size_t i = 0; i < rs.n; i++) {
        long seq = strtol(rs.v[i].val + 6, NULL, 10);
        ck_assert(seq >= 0 && seq < n);
        ck_assert_msg(!seen[seq], "event %ld produced twice", seq);
        seen[seq] = 1;
    }
    size_t in_topic = rs.n;
    recs_free(&rs);
    struct sf_event *evs[100];
    size_t k;
    struct sf_txn *t = sf_channel_txn_begin(ch);
    do {
        ck_assert_int_eq(sf_channel_take(t, evs, 100, &k, 0), SF_OK);
        for (size_t i = 0; i < k; i++) {
            long seq = strtol(evs[i]->body + 6, NULL, 10);
            ck_assert(seq >= 0 && seq < n);
            ck_assert_msg(!seen[seq], "event %ld in Kafka and in the channel", seq);
            seen[seq] = 1;
        }
    } while (k > 0);
    sf_channel_txn_rollback(t);
    sf_channel_txn_close(t);
    int absent = 0;
    for (int i = 0; i < n; i++) {
        absent += !seen[i];
    }
    ck_assert_int_le(absent, missing);
    free(seen);
    return in_topic;
}

/* A permanent error that Kafka reports after producing (TOPIC_AUTHORIZATION_FAILED on two
 * Produce requests), errors.tolerance = none: the sink stops; the events not acknowledged stay
 * in the channel (those of the failed batch and after it), no message is produced twice, and
 * nothing is lost. */
START_TEST(kafka_permanent_report_none)
{
    const int n = 500;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "permnone", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = permnone\n"
                              "a1.sinks.k1.flumeBatchSize = 100\n");
    rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 2,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    put_events(&r->ch, 0, n, NULL, 0);
    ck_assert(!drain(&r->snk, 3000));
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_retried), 0);
    ck_assert_uint_gt(sf_channel_size(&r->ch), 0);
    /* the acknowledged messages of the rolled-back batches are in Kafka and in the channel:
     * they would go again after a restart (logged); here nothing may be in neither */
    const char *const topics[] = { "permnone", NULL };
    int64_t hw = high_watermark("permnone");
    struct recs rs = hw > 0 ? consume(topics, (size_t)hw, 20000) : (struct recs){ 0 };
    ck_assert_uint_eq(rs.n, (size_t)hw);
    char *seen = calloc((size_t)n, 1);
    for (size_t i = 0; i < rs.n; i++) {
        long seq = strtol(rs.v[i].val + 6, NULL, 10);
        ck_assert_msg(!seen[seq], "event %ld produced twice", seq);
        seen[seq] = 1;
    }
    recs_free(&rs);
    ck_assert_int_eq(
        atomic_load(&r->snk.metrics.drain_success) + (long long)sf_channel_size(&r->ch), n);
    free(seen);
    rig_free(r);
}
END_TEST

/* The same with errors.tolerance = all and errors.log.enable: the failed messages are logged and
 * skipped, every other event is delivered once, the take transactions all commit. */
START_TEST(kafka_permanent_report_all)
{
    const int n = 500;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "permall", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = permall\n"
                              "a1.sinks.k1.flumeBatchSize = 100\n"
                              "a1.sinks.k1.errors.tolerance = all\n"
                              "a1.sinks.k1.errors.log.enable = true\n");
    rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 2,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
                                      RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    put_events(&r->ch, 0, n, NULL, 0);
    ck_assert(drain(&r->snk, 30000));
    rig_stop_sink(r);
    long long failed = atomic_load(&r->snk.metrics.event_failed);
    ck_assert_int_ge(failed, 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.failed), 0);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n);
    size_t in_topic = check_topic_and_channel("permall", &r->ch, n, (int)failed);
    ck_assert_int_eq((long long)in_topic, n - failed);
    rig_free(r);
}
END_TEST

START_TEST(kafka_poison_errors_config)
{
    static const struct {
        const char *conf, *err;
    } cases[] = {
        { "a1.sinks.k1.errors.tolerance = some\n", "errors.tolerance: none or all" },
        { "a1.sinks.k1.errors.deadletterqueue.topic.name = d\n",
          "errors.deadletterqueue.topic.name is used only with errors.tolerance = all" },
        { "a1.sinks.k1.errors.log.enable = true\n",
          "errors.log.enable is used only with errors.tolerance = all" },
        { "a1.sinks.k1.errors.tolerance = all\n", "needs errors.log.enable = true" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char conf[1024], err[512];
        (void)snprintf(conf, sizeof(conf), "a1.sinks.k1.kafka.bootstrap.servers = %s\n%s",
                       bootstraps, cases[i].conf);
        struct rig *r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
        ck_assert(!r->started);
        ck_assert_msg(strstr(err, cases[i].err) != NULL, "%s", err);
        rig_free(r);
    }
}
END_TEST

/* A fatal error of the idempotent producer (sequence desynchronisation): the sink rolls back,
 * creates a new producer and delivers everything. */
START_TEST(kafka_fatal_error_recovers)
{
    const int n = 500;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "fatal", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = fatal\n");
    rd_kafka_mock_push_request_errors(mock, 0 /* Produce */, 1,
                                      RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
    put_events(&r->ch, 0, n, NULL, 0);
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n);
    ck_assert_int_ge(atomic_load(&r->snk.metrics.connection_created), 2);
    rig_free(r);
    check_at_least_once_in_order("fatal", n);
}
END_TEST

/* A putter thread for kafka_tiny_channel: put_events into a channel that is full most of the
 * time (its put commits wait for room: keep-alive). */
struct putter {
    struct sf_channel *ch;
    int first, n;
};

static void *putter_run(void *arg)
{
    struct putter *p = arg;
    put_events(p->ch, p->first, p->n, NULL, 0);
    return NULL;
}

/* A channel smaller than maxInFlightBatches x flumeBatchSize (capacity 200: two batches of 100,
 * taken events counting against the capacity until their batch commits) filled by another thread
 * as fast as it empties: the sink finds the channel empty while its two batches are in flight,
 * so it must make librdkafka send them at once (not after linger.ms = 5) and take again as soon as
 * they are acknowledged. 20,000 events are at least 100 such round trips: the sink that lingered
 * (5 ms each) and polled took 571-708 ms on this 2-core machine, this one 50-172 ms; the bound is
 * 450 ms (times SF_TIME_MULT), under what lingering alone costs. Each event arrives once. */
START_TEST(kafka_tiny_channel)
{
    const int n = 20000;
    char conf[1024], err[512];
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "tiny", 1, 1), 0);
    (void)snprintf(conf, sizeof(conf),
                   "a1.channels.c1.capacity = 200\n"
                   "a1.channels.c1.transactionCapacity = 100\n"
                   "a1.channels.c1.keep-alive = 60\n"
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.log_level = 3\n"
                   "a1.sinks.k1.kafka.topic = tiny\n"
                   "a1.sinks.k1.flumeBatchSize = 100\n",
                   bootstraps);
    struct rig *r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert_msg(r->started, "kafka sink did not start: %s", err);
    /* the producer is connected and knows the topic before the clock starts */
    put_events(&r->ch, 0, 1, NULL, 0);
    ck_assert(drain(&r->snk, 10000));
    while (atomic_load(&r->snk.metrics.drain_success) < 1) {
        r->snk.plugin->process(&r->snk);
    }
    struct putter p = { &r->ch, 1, n - 1 };
    pthread_t th;
    long long t0 = now_ms();
    ck_assert_int_eq(pthread_create(&th, NULL, putter_run, &p), 0);
    long long deadline = t0 + 60000 * time_mult;
    while (atomic_load(&r->snk.metrics.drain_success) < n && now_ms() < deadline) {
        if (r->snk.plugin->process(&r->snk) == SF_BACKOFF) {
            usleep(1000);
        }
    }
    long long took = now_ms() - t0;
    pthread_join(th, NULL);
    (void)fprintf(stderr, "kafka_tiny_channel: %d events through a 200-event channel in %lld ms\n",
                  n, took);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n);
    ck_assert_msg(took <= 450 * time_mult, "20000 events through a 200-event channel took %lld ms",
                  took);
    rig_free(r);
    check_each_once("tiny", n);
}
END_TEST

/* stop() right after producing: it waits for the reports and commits the delivered batches. */
START_TEST(kafka_stop_commits_delivered)
{
    const int n = 800;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "stopok", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = stopok\n"
                              "a1.sinks.k1.flumeBatchSize = 100\n");
    put_events(&r->ch, 0, n, NULL, 0);
    for (int i = 0; i < 8; i++) {
        r->snk.plugin->process(&r->snk); /* takes and produces the 8 batches */
    }
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_attempt), n);
    atomic_store(&r->snk.stopping, true);
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 0);
    rig_free(r);
    ck_assert_int_eq(high_watermark("stopok"), n);
}
END_TEST

/* stop() with undelivered batches: after flushTimeout they are rolled back into the channel,
 * in their original order, and nothing was committed. */
START_TEST(kafka_stop_rolls_back)
{
    const int n = 500;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "stop", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = stop\n"
                              "a1.sinks.k1.flumeBatchSize = 100\n"
                              "a1.sinks.k1.flushTimeout = 300\n");
    ck_assert_int_eq(rd_kafka_mock_broker_set_down(mock, 1), 0);
    put_events(&r->ch, 0, n, NULL, 0);
    for (int i = 0; i < 20; i++) {
        r->snk.plugin->process(&r->snk);
    }
    ck_assert_int_gt(atomic_load(&r->snk.metrics.drain_attempt), 0);
    atomic_store(&r->snk.stopping, true);
    enum sf_log_level lvl = sf_log_get_level();
    sf_log_set_level(SF_LOG_ERROR); /* the expected "not delivered within flushTimeout" */
    rig_stop_sink(r);
    sf_log_set_level(lvl);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 0);
    ck_assert_uint_eq(sf_channel_size(&r->ch), (size_t)n);
    struct sf_txn *txn = sf_channel_txn_begin(&r->ch);
    for (int i = 0; i < n; i++) {
        struct sf_event *ev;
        size_t got = 0;
        ck_assert_int_eq(sf_channel_take(txn, &ev, 1, &got, 0), SF_OK);
        ck_assert_uint_eq(got, 1);
        char want[32];
        (void)snprintf(want, sizeof(want), "event-%06d", i);
        ck_assert_str_eq(ev->body, want);
    }
    sf_channel_txn_commit(txn);
    sf_channel_txn_close(txn);
    rig_free(r);
}
END_TEST

SF_UNIT_SUITE(kafka_produce)
{
    kafka_harness_init();
    Suite *s = suite_create("kafka_produce");
    TCase *tk = tcase_create("kafka");
    tcase_add_checked_fixture(tk, mock_setup, mock_teardown);
    tcase_set_timeout(tk, (double)(90 * time_mult));
    tcase_add_test(tk, kafka_start_errors);
    tcase_add_test(tk, kafka_topics_keys_values);
    tcase_add_test(tk, kafka_partition_header);
    tcase_add_test(tk, kafka_headers_and_timestamp);
    tcase_add_test(tk, kafka_flume_event_format);
    tcase_add_test(tk, kafka_keyed_partitions);
    tcase_add_test(tk, kafka_broker_down_then_up);
    tcase_add_test(tk, kafka_retriable_failures_resend_failed_only);
    tcase_add_test(tk, kafka_poison_none_stops);
    tcase_add_test(tk, kafka_poison_all_dead_letters);
    tcase_add_test(tk, kafka_poison_all_logged);
    tcase_add_test(tk, kafka_poison_errors_config);
    tcase_add_test(tk, kafka_permanent_report_none);
    tcase_add_test(tk, kafka_permanent_report_all);
    tcase_add_test(tk, kafka_fatal_error_recovers);
    tcase_add_test(tk, kafka_tiny_channel);
    tcase_add_test(tk, kafka_stop_commits_delivered);
    tcase_add_test(tk, kafka_stop_rolls_back);
    suite_add_tcase(s, tk);
    return s;
}
