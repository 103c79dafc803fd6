/*
 * Unit tests of the built-in sinks: the LoggerSink line (byte for byte Flume's EventHelper +
 * Commons IO HexDump output), the null and logger sinks draining a memory channel, and the Kafka
 * sink against librdkafka's mock cluster running in this process: topics (%{header}, the topic
 * header override), keys and values checked by an independent consumer, a broker that is down
 * (nothing commits, nothing is lost, everything arrives exactly once after it is back), failed
 * deliveries (rollback, redelivery in order) and stop with undelivered batches (rolled back into
 * the channel in order). Timeouts are multiplied by SF_TIME_MULT (sanitizer runs).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/log.h"
#include "sqlflume/option.h"
#include "sqlflume/sinks.h"

extern const struct sf_channel_plugin sf_channel_memory;

static long long time_mult = 1;

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- LoggerSink line ---------- */

static char *
format(const struct sf_header *h, size_t nh, const void *body, size_t len, long long max_bytes)
{
    struct sf_event *ev = sf_event_create(h, nh, body, len);
    ck_assert_ptr_nonnull(ev);
    struct sf_buf b = SF_BUF_INIT;
    sf_logger_format_event(ev, max_bytes, &b);
    sf_event_destroy(ev);
    return sf_buf_steal(&b);
}

#define CHECK_LINE(expect, h, nh, body, len, max)                                                  \
    do {                                                                                           \
        char *got_ = format((h), (nh), (body), (len), (max));                                      \
        ck_assert_str_eq(got_, (expect));                                                          \
        free(got_);                                                                                \
    } while (0)

/* Expected strings produced by an emulation of Flume's EventHelper.dumpEvent. */
START_TEST(logger_format)
{
    /* the example of Flume's documentation */
    CHECK_LINE("Event: { headers:{} body: 68 65 6C 6C 6F 20 66 6C 75 6D 65                "
               "hello flume }",
               NULL, 0, "hello flume", 11, 16);
    /* empty body */
    CHECK_LINE("Event: { headers:{} body: }", NULL, 0, "", 0, 16);
    /* several headers in insertion order, body of exactly maxBytesToLog */
    const struct sf_header h3[] = { { "table", "orders" }, { "key", "42" }, { "op", "insert" } };
    CHECK_LINE("Event: { headers:{table=orders, key=42, op=insert} body: 30 31 32 33 34 35 36 37 "
               "38 39 61 62 63 64 65 66 0123456789abcdef }",
               h3, 3, "0123456789abcdef", 16, 16);
    /* body longer than maxBytesToLog: cut */
    CHECK_LINE("Event: { headers:{} body: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 "
               "0123456789abcdef }",
               NULL, 0, "0123456789abcdefXYZW", 20, 16);
    CHECK_LINE("Event: { headers:{} body: 61 62                                           ab }",
               NULL, 0, "abc", 3, 2);
    /* more than one row: Commons IO's offset on every row after the first */
    CHECK_LINE("Event: { headers:{} body: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 "
               "0123456789abcdef\n00000010 58 59 5A 57                                     XYZW }",
               NULL, 0, "0123456789abcdefXYZW", 20, 20);
    char seq[40];
    for (int i = 0; i < 40; i++) {
        seq[i] = (char)(0x30 + i);
    }
    CHECK_LINE("Event: { headers:{} body: 30 31 32 33 34 35 36 37 38 39 3A 3B 3C 3D 3E 3F "
               "0123456789:;<=>?\n00000010 40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F "
               "@ABCDEFGHIJKLMNO\n00000020 50 51 52 53 54 55 56 57                         "
               "PQRSTUVW }",
               NULL, 0, seq, sizeof(seq), 100);
    /* non-printable bytes (control, DEL, high bytes) become '.' */
    const unsigned char bin[] = { 0x00, 0x7f, 0x80, 0xff, 0x1f, 0x41, 0x20, 0x7e };
    CHECK_LINE("Event: { headers:{} body: 00 7F 80 FF 1F 41 20 7E                         "
               ".....A ~ }",
               NULL, 0, bin, sizeof(bin), 16);
    /* headers with an empty body; maxBytesToLog 0 shows no body */
    const struct sf_header h1[] = { { "k", "v" } };
    CHECK_LINE("Event: { headers:{k=v} body: }", h1, 1, "", 0, 16);
    CHECK_LINE("Event: { headers:{k=v} body: }", h1, 1, "abc", 3, 0);
    /* the builder appends */
    struct sf_event *ev = sf_event_create(NULL, 0, "x", 1);
    struct sf_buf b = SF_BUF_INIT;
    sf_buf_puts(&b, ">");
    sf_logger_format_event(ev, 16, &b);
    ck_assert_str_eq(b.data, ">Event: { headers:{} body: 78                                        "
                             "      x }");
    sf_buf_free(&b);
    sf_event_destroy(ev);
}
END_TEST

/* ---------- a memory channel and a sink built from properties ---------- */

struct rig {
    struct sf_props props;
    struct sf_section ch_sec, snk_sec;
    struct sf_channel ch;
    struct sf_sink snk;
    bool started;
};

/* Build channel c1 (memory) and sink k1 from conf (keys a1.channels.c1.*, a1.sinks.k1.*).
 * @return the rig, with the sink started when start is true and it could start (errstr filled
 * otherwise). */
static struct rig *
rig_new(const struct sf_sink_plugin *plugin, const char *conf, char *errstr, size_t errstr_size)
{
    struct rig *r = calloc(1, sizeof(*r));
    struct sf_diag d = { 0 };
    ck_assert_int_eq(sf_props_parse(&r->props, "sinks.conf", conf, &d), 0);
    r->ch.name = strdup("c1");
    r->ch.plugin = &sf_channel_memory;
    r->ch.ctx = calloc(1, sf_channel_memory.ctx_size);
    sf_section_init(&r->ch_sec, &r->props, "channel", "c1", "a1.channels.c1.");
    ck_assert_int_eq(sf_options_apply(sf_channel_memory.options, &r->ch_sec, r->ch.ctx, &d), 0);
    ck_assert_int_eq(sf_channel_memory.start(&r->ch, errstr, errstr_size), SF_OK);

    r->snk.name = strdup("k1");
    r->snk.plugin = plugin;
    r->snk.ch = &r->ch;
    r->snk.ctx = calloc(1, plugin->ctx_size);
    sf_section_init(&r->snk_sec, &r->props, "sink", "k1", "a1.sinks.k1.");
    r->snk.conf = &r->snk_sec;
    ck_assert_int_eq(sf_options_apply(plugin->options, &r->snk_sec, r->snk.ctx, &d), 0);
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);
    errstr[0] = '\0';
    r->started = plugin->start(&r->snk, errstr, errstr_size) == SF_OK;
    return r;
}

static void rig_stop_sink(struct rig *r)
{
    if (r->started) {
        r->snk.plugin->stop(&r->snk);
        r->started = false;
    }
}

static void rig_free(struct rig *r)
{
    rig_stop_sink(r);
    sf_options_free(r->snk.plugin->options, r->snk.ctx);
    free(r->snk.ctx);
    free(r->snk.name);
    sf_section_free(&r->snk_sec);
    sf_channel_memory.stop(&r->ch);
    sf_options_free(sf_channel_memory.options, r->ch.ctx);
    free(r->ch.ctx);
    free(r->ch.name);
    sf_section_free(&r->ch_sec);
    sf_props_free(&r->props);
    free(r);
}

/* Put events "event-%06d" first..first+n-1 with headers h (and "seq"), in transactions of 100. */
static void
put_events(struct sf_channel *ch, int first, int n, const struct sf_header *h, size_t nh)
{
    struct sf_header hs[8];
    ck_assert_uint_le(nh, 7);
    if (nh > 0) {
        memcpy(hs, h, nh * sizeof(*h));
    }
    char seq[32], body[64];
    hs[nh] = (struct sf_header){ "seq", seq };
    for (int i = first; i < first + n;) {
        struct sf_txn *txn = sf_channel_txn_begin(ch);
        for (int k = 0; k < 100 && i < first + n; k++, i++) {
            (void)snprintf(seq, sizeof(seq), "%d", i);
            int len = snprintf(body, sizeof(body), "event-%06d", i);
            struct sf_event *ev = sf_event_create(hs, nh + 1, body, (size_t)len);
            ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
        }
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
        sf_channel_txn_close(txn);
    }
}

/* Call process() until the channel is empty (true) or timeout_ms passed (false). */
static bool drain(struct sf_sink *snk, long long timeout_ms)
{
    long long deadline = now_ms() + timeout_ms * time_mult;
    while (now_ms() < deadline) {
        if (snk->plugin->process(snk) == SF_BACKOFF) {
            if (sf_channel_size(snk->ch) == 0) {
                return true;
            }
            usleep(10000);
        }
    }
    return sf_channel_size(snk->ch) == 0;
}

START_TEST(null_sink_drains)
{
    char err[512];
    struct rig *r = rig_new(&sf_sink_null,
                            "a1.channels.c1.capacity = 1000\n"
                            "a1.sinks.k1.batchSize = 7\n",
                            err, sizeof(err));
    ck_assert_msg(r->started, "%s", err);
    put_events(&r->ch, 0, 20, NULL, 0);
    ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_READY);
    ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_READY);
    ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_READY);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 0);
    ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_BACKOFF);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.batch_complete), 2);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.batch_underflow), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.batch_empty), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 20);
    rig_free(r);
}
END_TEST

START_TEST(logger_sink_drains)
{
    char err[512];
    struct rig *r = rig_new(&sf_sink_logger, "a1.sinks.k1.maxBytesToLog = 4\n", err, sizeof(err));
    ck_assert_msg(r->started, "%s", err);
    const struct sf_header h[] = { { "table", "orders" } };
    put_events(&r->ch, 0, 3, h, 1);
    enum sf_log_level lvl = sf_log_get_level();
    sf_log_set_level(SF_LOG_WARN); /* keep the test output quiet; formatting is tested above */
    ck_assert(drain(&r->snk, 5000));
    sf_log_set_level(lvl);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 3);
    rig_free(r);
}
END_TEST

/* ---------- Kafka ---------- */

static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mock;
static char bootstraps[256];

/* An in-process mock cluster of one broker, fresh for each test. */
static void mock_setup(void)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(mock_rk);
    mock = rd_kafka_mock_cluster_new(mock_rk, 1);
    ck_assert_ptr_nonnull(mock);
    (void)snprintf(bootstraps, sizeof(bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(mock));
}

static void mock_teardown(void)
{
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
    mock = NULL;
    mock_rk = NULL;
}

struct rec {
    char *topic, *key, *val;
    int32_t partition;
    int64_t offset;
};

struct recs {
    struct rec *v;
    size_t n;
};

static void recs_free(struct recs *rs)
{
    for (size_t i = 0; i < rs->n; i++) {
        free(rs->v[i].topic);
        free(rs->v[i].key);
        free(rs->v[i].val);
    }
    free(rs->v);
    rs->v = NULL;
    rs->n = 0;
}

static char *dup_n(const void *p, size_t n)
{
    if (!p) {
        return NULL;
    }
    char *s = malloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* Read partition 0 of every topic in topics (NULL-terminated) from the beginning with an
 * independent consumer until expect messages arrived (then a short grace for extra ones) or
 * timeout_ms passed. */
static struct recs consume(const char *const *topics, size_t expect, long long timeout_ms)
{
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    ck_assert_int_eq(
        rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof(errstr)),
        RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(conf, "group.id", "test-sinks", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "isolation.level", "read_committed", errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(c);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(4);
    for (size_t i = 0; topics[i]; i++) {
        rd_kafka_topic_partition_list_add(parts, topics[i], 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    ck_assert_int_eq(rd_kafka_assign(c, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(parts);
    struct recs rs = { 0 };
    size_t cap = 0;
    long long deadline = now_ms() + timeout_ms * time_mult;
    long long grace = 0;
    while (now_ms() < deadline && (grace == 0 || now_ms() < grace)) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
        if (!m) {
            continue;
        }
        if (!m->err) {
            if (rs.n == cap) {
                cap = cap ? cap * 2 : 64;
                rs.v = realloc(rs.v, cap * sizeof(*rs.v));
            }
            rs.v[rs.n++] = (struct rec){ .topic = strdup(rd_kafka_topic_name(m->rkt)),
                                         .key = dup_n(m->key, m->key_len),
                                         .val = dup_n(m->payload, m->len),
                                         .partition = m->partition,
                                         .offset = m->offset };
            if (rs.n >= expect && grace == 0) {
                grace = now_ms() + 300;
            }
        }
        rd_kafka_message_destroy(m);
    }
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    return rs;
}

static int64_t high_watermark(const char *topic)
{
    int64_t lo = -1, hi = -1;
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof(errstr));
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(c);
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(c, topic, 0, &lo, &hi, (int)(5000 * time_mult));
    ck_assert_msg(!err, "watermarks of %s: %s", topic, rd_kafka_err2str(err));
    rd_kafka_destroy(c);
    return hi;
}

static struct rig *kafka_rig(const char *extra)
{
    char conf[4096], err[512];
    (void)snprintf(conf, sizeof(conf),
                   "a1.channels.c1.capacity = 100000\n"
                   "a1.channels.c1.transactionCapacity = 1000\n"
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.reconnect.backoff.max.ms = 500\n"
                   "a1.sinks.k1.kafka.producer.log_level = 3\n"
                   "%s",
                   bootstraps, extra);
    struct rig *r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert_msg(r->started, "kafka sink did not start: %s", err);
    return r;
}

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
    ck_assert_int_eq(sf_options_apply(sf_sink_kafka.options, &s, ctx, &d), -1);
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

/* Produce requests fail: the batches roll back (nothing lost, the channel keeps its order) and
 * are produced again once the broker accepts them. */
START_TEST(kafka_failed_delivery_rolls_back)
{
    const int n = 1000;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "fail", 1, 1), 0);
    struct rig *r = kafka_rig("a1.sinks.k1.kafka.topic = fail\n"
                              "a1.sinks.k1.flumeBatchSize = 100\n");
    /* the first three produce requests fail with a permanent error */
    rd_kafka_mock_push_request_errors(
        mock, 0 /* Produce */, 3, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    put_events(&r->ch, 0, n, NULL, 0);
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_ge(atomic_load(&r->snk.metrics.write_fail), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n);
    rig_free(r);

    check_at_least_once_in_order("fail", n);
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

static Suite *sinks_suite(void)
{
    Suite *s = suite_create("sinks");
    TCase *tc = tcase_create("local");
    tcase_add_test(tc, logger_format);
    tcase_add_test(tc, null_sink_drains);
    tcase_add_test(tc, logger_sink_drains);
    suite_add_tcase(s, tc);

    TCase *tk = tcase_create("kafka");
    tcase_add_checked_fixture(tk, mock_setup, mock_teardown);
    tcase_set_timeout(tk, (double)(90 * time_mult));
    tcase_add_test(tk, kafka_start_errors);
    tcase_add_test(tk, kafka_topics_keys_values);
    tcase_add_test(tk, kafka_partition_header);
    tcase_add_test(tk, kafka_broker_down_then_up);
    tcase_add_test(tk, kafka_failed_delivery_rolls_back);
    tcase_add_test(tk, kafka_fatal_error_recovers);
    tcase_add_test(tk, kafka_stop_commits_delivered);
    tcase_add_test(tk, kafka_stop_rolls_back);
    suite_add_tcase(s, tk);
    return s;
}

int main(void)
{
    const char *mult = getenv("SF_TIME_MULT");
    if (mult && strtoll(mult, NULL, 10) > 0) {
        time_mult = strtoll(mult, NULL, 10);
    }
    if (getenv("SF_TEST_DEBUG")) {
        sf_log_set_level(SF_LOG_DEBUG);
    }
    SRunner *sr = srunner_create(sinks_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
