/*
 * Unit tests of the built-in sinks: the LoggerSink line (byte for byte Flume's EventHelper +
 * Commons IO HexDump output), the null and logger sinks draining a memory channel, and the Kafka
 * sink against librdkafka's mock cluster running in this process: topics (%{header}, the topic
 * header override), keys and values checked by an independent consumer, Kafka headers
 * (header.NAME) and timestamps (timestampHeader), AvroFlumeEvent messages (useFlumeEventFormat)
 * decoded by avro-c, a broker that is down
 * (nothing commits, nothing is lost, everything arrives exactly once after it is back), failed
 * deliveries (rollback, redelivery in order) and stop with undelivered batches (rolled back into
 * the channel in order); exactly-once (kafka.producer.transactional.id): each event once and the
 * stored positions, a crash between the Kafka commit and the channel commit followed by a re-read
 * of every row, aborted and fenced transactions, rows arriving below the highest offset. What the
 * librdkafka 2.0.2 mock does with transactions is described above those tests. Timeouts are
 * multiplied by SF_TIME_MULT (sanitizer runs).
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#ifdef SF_HAVE_AVRO
#include <avro.h>
#endif

#include "sqlflume/avro_event.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/log.h"
#include "sqlflume/option.h"
#include "sqlflume/sinks.h"

#include "../support/mock_nodelay.h" /* TCP_NODELAY on the mock brokers' sockets */

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

typedef int32_t (
    *partition_fn_t)(const rd_kafka_topic_t *, const void *, size_t, int32_t, void *, void *);

struct rec {
    char *topic, *key, *val;
    size_t val_len;
    char *hdrs; /* the Kafka headers as "name=value;" each, "" for none */
    int64_t ts; /* message timestamp, ms */
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
        free(rs->v[i].hdrs);
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

/* Read partitions 0..nparts-1 of every topic in topics (NULL-terminated) from the beginning
 * with an independent consumer until expect messages arrived (then a short grace for extra
 * ones) or timeout_ms passed. */
static struct recs
consume_parts(const char *const *topics, int32_t nparts, size_t expect, long long timeout_ms)
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
        for (int32_t p = 0; p < nparts; p++) {
            rd_kafka_topic_partition_list_add(parts, topics[i], p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        }
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
            struct sf_buf hb = SF_BUF_INIT;
            sf_buf_puts(&hb, "");
            rd_kafka_headers_t *hs = NULL;
            if (rd_kafka_message_headers(m, &hs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char *name;
                const void *hv;
                size_t hl;
                for (size_t h = 0; !rd_kafka_header_get_all(hs, h, &name, &hv, &hl); h++) {
                    sf_buf_printf(&hb, "%s=%.*s;", name, (int)hl, (const char *)hv);
                }
            }
            rs.v[rs.n++] = (struct rec){ .topic = strdup(rd_kafka_topic_name(m->rkt)),
                                         .key = dup_n(m->key, m->key_len),
                                         .val = dup_n(m->payload, m->len),
                                         .val_len = m->len,
                                         .hdrs = sf_buf_steal(&hb),
                                         .ts = rd_kafka_message_timestamp(m, NULL),
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

/* consume_parts of partition 0 alone */
static struct recs consume(const char *const *topics, size_t expect, long long timeout_ms)
{
    return consume_parts(topics, 1, expect, timeout_ms);
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

#ifdef SF_HAVE_AVRO
/* Decode one AvroFlumeEvent datum with avro-c (an independent implementation of the Avro
 * specification, reading with Flume's schema) into "k=v;" headers and the body. */
static void avro_decode(const char *data, size_t len, char **hdrs, char **body, size_t *body_len)
{
    avro_schema_t schema;
    ck_assert_int_eq(
        avro_schema_from_json_length(sf_avro_event_schema, strlen(sf_avro_event_schema), &schema),
        0);
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    ck_assert_int_eq(avro_generic_value_new(iface, &rec), 0);
    avro_reader_t rd = avro_reader_memory(data, (int64_t)len);
    ck_assert_msg(avro_value_read(rd, &rec) == 0, "avro: %s", avro_strerror());
    char extra;
    ck_assert_msg(avro_read(rd, &extra, 1) != 0, "bytes after the datum"); /* all was read */
    avro_value_t map, b;
    ck_assert_int_eq(avro_value_get_by_name(&rec, "headers", &map, NULL), 0);
    ck_assert_int_eq(avro_value_get_by_name(&rec, "body", &b, NULL), 0);
    size_t n;
    ck_assert_int_eq(avro_value_get_size(&map, &n), 0);
    struct sf_buf hb = SF_BUF_INIT;
    sf_buf_puts(&hb, "");
    for (size_t i = 0; i < n; i++) {
        avro_value_t v;
        const char *k, *s;
        size_t sl;
        ck_assert_int_eq(avro_value_get_by_index(&map, i, &v, &k), 0);
        ck_assert_int_eq(avro_value_get_string(&v, &s, &sl), 0);
        sf_buf_printf(&hb, "%s=%s;", k, s);
    }
    const void *bp;
    ck_assert_int_eq(avro_value_get_bytes(&b, &bp, body_len), 0);
    *body = dup_n(bp, *body_len);
    *hdrs = sf_buf_steal(&hb);
    avro_reader_free(rd);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
}
#endif

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

/* ---------- poison events: errors.tolerance ---------- */

#define POISON_BIG (2 * 1024 * 1024)

/* Put n small events "event-%06d" 0..n-1 with headers table = poison, offset = key = their
 * number, and, right before event big_at, one event of POISON_BIG bytes ('B's) with offset and
 * key "big". */
static void put_poison(struct sf_channel *ch, int n, int big_at)
{
    char off[32], body[64];
    for (int i = 0; i <= n; i++) {
        struct sf_txn *txn = sf_channel_txn_begin(ch);
        struct sf_event *ev;
        if (i == big_at) {
            char *big = malloc(POISON_BIG);
            memset(big, 'B', POISON_BIG);
            const struct sf_header hs[] = { { "table", "poison" },
                                            { "offset", "big" },
                                            { "key", "big" } };
            ev = sf_event_create(hs, 3, big, POISON_BIG);
            free(big);
            ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
        }
        if (i < n) {
            (void)snprintf(off, sizeof(off), "%d", i);
            int len = snprintf(body, sizeof(body), "event-%06d", i);
            const struct sf_header hs[] = { { "table", "poison" },
                                            { "offset", off },
                                            { "key", off } };
            ev = sf_event_create(hs, 3, body, (size_t)len);
            ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
        }
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
        sf_channel_txn_close(txn);
    }
}

/* Move every event of channel from to channel to, in order (what a file channel keeps across a
 * restart of the agent). */
static void move_events(struct sf_channel *from, struct sf_channel *to)
{
    struct sf_event *evs[100];
    size_t n;
    do {
        struct sf_txn *t = sf_channel_txn_begin(from);
        ck_assert_int_eq(sf_channel_take(t, evs, 100, &n, 0), SF_OK);
        struct sf_txn *p = sf_channel_txn_begin(to);
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_eq(sf_channel_put(p, sf_event_copy(evs[i])), SF_OK);
        }
        ck_assert_int_eq(sf_channel_txn_commit(p), SF_OK);
        sf_channel_txn_close(p);
        ck_assert_int_eq(sf_channel_txn_commit(t), SF_OK);
        sf_channel_txn_close(t);
    } while (n > 0);
}

/* Topic partition 0 of topic: the small events 0..n-1 once each (any order), and the big one
 * (want_big) once or not at all. */
static void check_poison_topic(const char *topic, int n, bool want_big)
{
    const char *const topics[] = { topic, NULL };
    size_t expect = (size_t)n + want_big;
    if (strncmp(topic, "eos", 3) != 0) { /* transactional topics hold markers too */
        ck_assert_int_eq(high_watermark(topic), (int64_t)expect);
    }
    struct recs rs = consume(topics, expect, 30000);
    ck_assert_uint_eq(rs.n, expect);
    char *seen = calloc((size_t)n, 1);
    size_t bigs = 0;
    for (size_t i = 0; i < rs.n; i++) {
        if (rs.v[i].val_len == POISON_BIG) {
            ck_assert_str_eq(rs.v[i].key, "big");
            bigs++;
            continue;
        }
        long seq = strtol(rs.v[i].val + 6, NULL, 10);
        ck_assert(seq >= 0 && seq < n);
        ck_assert_msg(!seen[seq], "event %ld produced twice", seq);
        seen[seq] = 1;
    }
    ck_assert_uint_eq(bigs, want_big ? 1 : 0);
    free(seen);
    recs_free(&rs);
}

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

/* ---------- Kafka, exactly-once (kafka.producer.transactional.id) ---------- */

/*
 * What librdkafka 2.0.2's mock cluster does with transactions (read in its source and checked
 * here): InitProducerId hands out a new producer id (epoch 0) on every call, so a second producer
 * with the same transactional.id does not fence the first; AddPartitionsToTxn, AddOffsetsToTxn,
 * TxnOffsetCommit and EndTxn check the producer id and epoch (AddPartitionsToTxn also that the
 * partition exists) and return injected errors, nothing more: EndTxn writes no commit or abort
 * markers and TxnOffsetCommit stores nothing (offsets sent with send_offsets_to_transaction cannot
 * be read back, so positions go to a topic instead); Produce checks producer id, epoch and
 * sequence; Fetch returns the high watermark as the last stable offset and no aborted transactions.
 * So a read_committed consumer sees every message that reached a partition, of committed, aborted
 * and open transactions alike. The tests therefore (a) inject errors where nothing reaches the data
 * partition (per-broker Produce errors on the data topic's leader, fencing on AddPartitionsToTxn)
 * or say what the mock shows, and (b) check the chain of position records: each names its
 * transaction (txn) and the last committed one before it (prev), so walking prev from the newest
 * record gives the committed transactions, whose batch lines must cover every event exactly once.
 */

#define EOS_POSITIONS "__sqlflume_positions"

/* Put rows seq first..first+n-1 of table with the headers of the SQL source: table, offset (seq
 * as a decimal number, or "ts-%08d" text when text_offsets), key; body "<table>:<seq>". */
static void put_rows(struct sf_channel *ch, const char *table, int first, int n, bool text_offsets)
{
    char off[32], key[64], body[64];
    const struct sf_header h[] = { { "table", table }, { "offset", off }, { "key", key } };
    for (int i = first; i < first + n;) {
        struct sf_txn *txn = sf_channel_txn_begin(ch);
        for (int k = 0; k < 100 && i < first + n; k++, i++) {
            (void)snprintf(off, sizeof(off), text_offsets ? "ts-%08d" : "%d", i);
            (void)snprintf(key, sizeof(key), "%s-%d", table, i);
            int len = snprintf(body, sizeof(body), "%s:%d", table, i);
            ck_assert_int_eq(sf_channel_put(txn, sf_event_create(h, 3, body, (size_t)len)), SF_OK);
        }
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
        sf_channel_txn_close(txn);
    }
}

/* Every message of topic (partition 0) must be "<table>:<seq>" with key "<table>-<seq>", and
 * seq 0..n-1 must each appear exactly once, in order. */
static void check_rows_once(const char *topic, const char *table, int n)
{
    ck_assert_int_eq(high_watermark(topic), n); /* nothing else reached the partition */
    const char *const topics[] = { topic, NULL };
    struct recs rs = consume(topics, (size_t)n, 20000);
    ck_assert_uint_eq(rs.n, (size_t)n);
    for (size_t i = 0; i < rs.n; i++) {
        char want[64], key[64];
        (void)snprintf(want, sizeof(want), "%s:%zu", table, i);
        (void)snprintf(key, sizeof(key), "%s-%zu", table, i);
        ck_assert_str_eq(rs.v[i].val, want);
        ck_assert_str_eq(rs.v[i].key, key);
    }
    recs_free(&rs);
}

struct posrec {
    int64_t offset;
    long long txn, prev; /* prev -1: none */
    char *text;          /* borrowed from the recs */
    bool committed;
};

struct posrecs {
    struct recs raw;
    struct posrec *v;
    size_t n;
};

/* Every position record of txn_id in the positions topic, in offset order, with the chain of
 * committed transactions marked (walking prev back from the newest record). */
static struct posrecs read_posrecs(const char *txn_id)
{
    struct posrecs p = { 0 };
    int64_t hw = high_watermark(EOS_POSITIONS);
    const char *const topics[] = { EOS_POSITIONS, NULL };
    p.raw = consume(topics, (size_t)hw, 20000);
    ck_assert_uint_eq(p.raw.n, (size_t)hw);
    p.v = calloc(p.raw.n + 1, sizeof(*p.v));
    for (size_t i = 0; i < p.raw.n; i++) {
        if (!p.raw.v[i].key || strcmp(p.raw.v[i].key, txn_id) != 0) {
            continue;
        }
        struct posrec *r = &p.v[p.n++];
        r->offset = p.raw.v[i].offset;
        r->text = p.raw.v[i].val;
        /* format 2; format 1 only where a test wrote one */
        ck_assert_msg(strncmp(r->text, "sqlflume-positions 2\ntxn ", 25) == 0 ||
                          strncmp(r->text, "sqlflume-positions 1\ntxn 5\nprev -\n", 33) == 0,
                      "%s", r->text);
        r->txn = strtoll(r->text + 25, NULL, 10);
        const char *prev = strstr(r->text, "\nprev ");
        ck_assert_ptr_nonnull(prev);
        r->prev = prev[6] == '-' ? -1 : strtoll(prev + 6, NULL, 10);
    }
    if (p.n > 0) {
        size_t cur = p.n - 1;
        p.v[cur].committed = true;
        while (p.v[cur].prev >= 0) {
            size_t j = cur;
            while (j > 0 && p.v[j - 1].txn != p.v[cur].prev) {
                j--;
            }
            ck_assert_msg(j > 0, "the chain breaks at transaction %lld (prev %lld)", p.v[cur].txn,
                          p.v[cur].prev);
            ck_assert_int_lt(p.v[j - 1].txn, p.v[cur].txn);
            cur = j - 1;
            p.v[cur].committed = true;
        }
    }
    return p;
}

static void posrecs_free(struct posrecs *p)
{
    recs_free(&p->raw);
    free(p->v);
}

/* The value of "pos <topic> <table> <offset>" in record text, into out; false when absent. */
static bool
posrec_pos(const char *text, const char *topic, const char *table, char *out, size_t out_size)
{
    char prefix[256];
    (void)snprintf(prefix, sizeof(prefix), "\npos %s %s ", topic, table);
    const char *p = strstr(text, prefix);
    if (!p) {
        return false;
    }
    p += strlen(prefix);
    size_t len = strcspn(p, "\n");
    (void)snprintf(out, out_size, "%.*s", (int)len, p);
    return true;
}

/* The batch lines of the committed records cover seq 0..n-1 of (topic, table) exactly once:
 * the transactions that Kafka committed delivered every event once. @return the number of
 * committed transactions that delivered events of the pair. */
static size_t
check_committed_cover(const struct posrecs *p, const char *topic, const char *table, int n)
{
    int *cover = calloc((size_t)n, sizeof(int));
    size_t txns = 0;
    char prefix[256];
    (void)snprintf(prefix, sizeof(prefix), "\nbatch %s %s ", topic, table);
    for (size_t i = 0; i < p->n; i++) {
        if (!p->v[i].committed) {
            continue;
        }
        const char *b = strstr(p->v[i].text, prefix);
        if (!b) {
            continue;
        }
        txns++;
        b += strlen(prefix);
        if (strncmp(b, "ts-", 3) == 0) {
            b += 3;
        }
        char *end;
        long first = strtol(b, &end, 10);
        ck_assert(*end == ' ');
        b = end + 1;
        if (strncmp(b, "ts-", 3) == 0) {
            b += 3;
        }
        long last = strtol(b, &end, 10);
        long count = strtol(end + 1, NULL, 10);
        ck_assert_int_eq(count, last - first + 1);
        ck_assert(first >= 0 && last < n);
        for (long k = first; k <= last; k++) {
            cover[k]++;
        }
    }
    for (int k = 0; k < n; k++) {
        ck_assert_msg(cover[k] == 1, "%s %s: event %d is in %d committed transactions", topic,
                      table, k, cover[k]);
    }
    free(cover);
    return txns;
}

/* Exactly-once needs acks = all and a non-empty transactional.id. */
START_TEST(kafka_eos_config_errors)
{
    char conf[1024], err[512];
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.transactional.id = t1\n"
                   "a1.sinks.k1.kafka.producer.acks = 1\n",
                   bootstraps);
    struct rig *r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert(!r->started);
    ck_assert_msg(strstr(err, "kafka.producer.acks: must be all") != NULL, "%s", err);
    rig_free(r);
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.bootstrap.servers = %s\n"
                   "a1.sinks.k1.kafka.producer.transactional.id =\n",
                   bootstraps);
    r = rig_new(&sf_sink_kafka, conf, err, sizeof(err));
    ck_assert(!r->started);
    ck_assert_msg(strstr(err, "transactional.id") != NULL, "%s", err);
    rig_free(r);
}
END_TEST

/* A rig whose sink produces exactly once with transactional.id txn_id. */
static struct rig *eos_rig(const char *txn_id, const char *extra)
{
    char conf[2048];
    (void)snprintf(conf, sizeof(conf),
                   "a1.sinks.k1.kafka.producer.transactional.id = %s\n"
                   "a1.sinks.k1.flumeBatchSize = 100\n"
                   "%s",
                   txn_id, extra);
    return kafka_rig(conf);
}

/* N events of two tables (numeric and text offsets, the numbers crossing 9/10, 99/100, 999/1000
 * as numbers do not as text) and events without position headers: each delivered once; the
 * newest position record holds the last offset header per (topic, table); the committed
 * transactions' batches cover every event once. The positions topic does not exist at first
 * (nothing stored: the sink starts from scratch; producing creates it). */
START_TEST(kafka_eos_exactly_once)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eos.orders", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eos.events", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eos.", 1, 1), 0);
    struct rig *r = eos_rig("eos-once", "a1.sinks.k1.kafka.topic = eos.%{table}\n");
    put_rows(&r->ch, "orders", 0, 600, false);
    put_rows(&r->ch, "events", 0, 300, true);
    put_events(&r->ch, 0, 5, NULL, 0); /* no table/offset headers: produced, not tracked */
    put_rows(&r->ch, "orders", 600, 1400, false);
    put_rows(&r->ch, "events", 300, 200, true);
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 2505);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.write_fail), 0);
    rig_free(r);

    check_rows_once("eos.orders", "orders", 2000);
    check_rows_once("eos.events", "events", 500);
    ck_assert_int_eq(high_watermark("eos."), 5);

    struct posrecs p = read_posrecs("eos-once");
    ck_assert_uint_eq(p.n,
                      26); /* one record per Kafka transaction: 2505 events in batches of 100 */
    char off[64];
    ck_assert(posrec_pos(p.v[p.n - 1].text, "eos.orders", "orders", off, sizeof(off)));
    ck_assert_str_eq(off, "1999");
    ck_assert(posrec_pos(p.v[p.n - 1].text, "eos.events", "events", off, sizeof(off)));
    ck_assert_str_eq(off, "ts-00000499");
    for (size_t i = 0; i < p.n; i++) {
        ck_assert(p.v[i].committed); /* no transaction failed */
        ck_assert_int_eq(p.v[i].txn, (long long)i + 1);
    }
    check_committed_cover(&p, "eos.orders", "orders", 2000);
    check_committed_cover(&p, "eos.events", "events", 500);
    posrecs_free(&p);
}
END_TEST

/* Exactly-once with the per-message path and Flume's event format: AvroFlumeEvent bodies, the
 * offset header as a Kafka header; rows read again are skipped as with plain bodies. */
START_TEST(kafka_eos_flume_event_format_headers)
{
#ifndef SF_HAVE_AVRO
    fprintf(stderr, "kafka_eos_flume_event_format_headers: built without avro-c: skipped\n");
#else
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eos.avro", 1, 1), 0);
    struct rig *r = eos_rig("eos-avro", "a1.sinks.k1.kafka.topic = eos.avro\n"
                                        "a1.sinks.k1.useFlumeEventFormat = true\n"
                                        "a1.sinks.k1.header.offset = row-offset\n");
    put_rows(&r->ch, "avro", 0, 250, false);
    put_rows(&r->ch, "avro", 100, 150, false); /* read again after a crash: Kafka has them */
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 400);
    rig_free(r);
    ck_assert_int_eq(high_watermark("eos.avro"), 250);
    const char *const topics[] = { "eos.avro", NULL };
    struct recs rs = consume(topics, 250, 20000);
    ck_assert_uint_eq(rs.n, 250);
    for (size_t i = 0; i < rs.n; i++) {
        char *hdrs, *body, want[128];
        size_t blen;
        avro_decode(rs.v[i].val, rs.v[i].val_len, &hdrs, &body, &blen);
        (void)snprintf(want, sizeof(want), "avro:%zu", i);
        ck_assert_str_eq(body, want);
        (void)snprintf(want, sizeof(want), "table=avro;offset=%zu;key=avro-%zu;", i, i);
        ck_assert_str_eq(hdrs, want);
        (void)snprintf(want, sizeof(want), "row-offset=%zu;", i);
        ck_assert_str_eq(rs.v[i].hdrs, want);
        free(hdrs);
        free(body);
    }
    recs_free(&rs);
#endif
}
END_TEST

/* kill -9 between the Kafka commit and the channel commit (the test hook freezes the sink there),
 * before the source wrote its offset: the source reads every row again into a fresh channel; a
 * new sink with the same transactional.id skips what Kafka has and delivers the rest once. */
START_TEST(kafka_eos_crash_after_kafka_commit)
{
    const int n = 1000;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "crash", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    struct rig *r = eos_rig("eos-crash", "a1.sinks.k1.kafka.topic = crash\n"
                                         "a1.sinks.k1.testCrashAfterCommits = 3\n");
    put_rows(&r->ch, "t", 0, n, false);
    put_rows(&r->ch, "u", 0, 50, true);
    long long deadline = now_ms() + 20000 * time_mult;
    while (now_ms() < deadline && atomic_load(&r->snk.metrics.drain_attempt) < 300) {
        r->snk.plugin->process(&r->snk);
    }
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_BACKOFF); /* frozen */
    }
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_attempt), 300);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 200); /* third not committed */
    ck_assert_int_eq(high_watermark("crash"), 300);                    /* but in Kafka */
    rig_free(r); /* the channel and its events are gone, as after kill -9 */

    /* restart: the source had no offset stored, so it reads every row again */
    r = eos_rig("eos-crash", "a1.sinks.k1.kafka.topic = crash\n");
    put_rows(&r->ch, "t", 0, n, false);
    put_rows(&r->ch, "u", 0, 50, true);
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n + 50);
    rig_free(r);

    const char *const topics[] = { "crash", NULL };
    ck_assert_int_eq(high_watermark("crash"), n + 50);
    struct recs rs = consume(topics, (size_t)n + 50, 20000);
    ck_assert_uint_eq(rs.n, (size_t)n + 50);
    int seen_t[1000] = { 0 }, seen_u[50] = { 0 };
    for (size_t i = 0; i < rs.n; i++) {
        int seq = (int)strtol(rs.v[i].val + 2, NULL, 10);
        if (rs.v[i].val[0] == 't') {
            ck_assert(seq >= 0 && seq < n);
            seen_t[seq]++;
        } else {
            ck_assert(seq >= 0 && seq < 50);
            seen_u[seq]++;
        }
    }
    for (int i = 0; i < n; i++) {
        ck_assert_msg(seen_t[i] == 1, "t:%d in Kafka %d times", i, seen_t[i]);
    }
    for (int i = 0; i < 50; i++) {
        ck_assert_msg(seen_u[i] == 1, "u:%d in Kafka %d times", i, seen_u[i]);
    }
    recs_free(&rs);

    struct posrecs p = read_posrecs("eos-crash");
    char off[64];
    ck_assert(posrec_pos(p.v[p.n - 1].text, "crash", "t", off, sizeof(off)));
    ck_assert_str_eq(off, "999");
    ck_assert(posrec_pos(p.v[p.n - 1].text, "crash", "u", off, sizeof(off)));
    ck_assert_str_eq(off, "ts-00000049");
    ck_assert_int_eq(p.v[3].txn, 4); /* the new sink went on after transaction 3 */
    ck_assert_int_eq(p.v[3].prev, 3);
    check_committed_cover(&p, "crash", "t", n);
    check_committed_cover(&p, "crash", "u", 50);
    posrecs_free(&p);
}
END_TEST

/* Put one event per offset offs[0..n) of table (headers table, offset, key "<table>-<offset>",
 * body "<table>:<offset>"), in one put transaction. */
static void put_offsets(struct sf_channel *ch, const char *table, const char *const *offs, size_t n)
{
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    for (size_t i = 0; i < n; i++) {
        char key[128], body[128];
        (void)snprintf(key, sizeof(key), "%s-%s", table, offs[i]);
        int len = snprintf(body, sizeof(body), "%s:%s", table, offs[i]);
        const struct sf_header h[] = { { "table", table }, { "offset", offs[i] }, { "key", key } };
        ck_assert_int_eq(sf_channel_put(txn, sf_event_create(h, 3, body, (size_t)len)), SF_OK);
    }
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
}

/* Integer offsets "from".."to" (inclusive) except skip (-1: none) as strings in *out (freed by
 * the caller with strs_free). */
static size_t int_offsets(char ***out, long from, long to, long skip)
{
    char **v = calloc((size_t)(to - from + 1), sizeof(char *));
    size_t n = 0;
    for (long i = from; i <= to; i++) {
        if (i != skip) {
            v[n] = malloc(24);
            (void)snprintf(v[n++], 24, "%ld", i);
        }
    }
    *out = v;
    return n;
}

static void strs_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

/* The rows the source puts in the late-rows test, in its order: ids with a gap that a late
 * commit fills (50 after 51..99; 1050 only after the restart), a backfill-like run ordered by
 * something else than the id (300, 200, 250, 201), and "timestamp,id" offsets of
 * timestamp+incrementing mode whose ids cross 9/10 within one timestamp. */
static void put_late_rows(struct sf_channel *ch, bool late_1050)
{
    char **v;
    size_t n = int_offsets(&v, 0, 99, 50);
    put_offsets(ch, "t", (const char *const *)v, n);
    strs_free(v, n);
    n = int_offsets(&v, 100, 149, -1);
    put_offsets(ch, "t", (const char *const[]){ "50" }, 1);
    put_offsets(ch, "t", (const char *const *)v, n);
    strs_free(v, n);
    put_offsets(ch, "t", (const char *const[]){ "300", "200", "250", "201" }, 4);
    n = int_offsets(&v, 1000, 1099, 1050);
    put_offsets(ch, "t", (const char *const *)v, n);
    strs_free(v, n);
    if (late_1050) {
        put_offsets(ch, "t", (const char *const[]){ "1050" }, 1);
    }
    const char *const ts[] = { "2024-01-01 00:00:01,8",  "2024-01-01 00:00:01,9",
                               "2024-01-01 00:00:01,10", "2024-01-01 00:00:01,11",
                               "2024-01-01 00:00:02,3",  "2024-01-01 00:00:10,12" };
    put_offsets(ch, "ts", ts, 6);
}

/* Rows that arrive below the highest offset delivered (late commits filling a gap, a backfill
 * ordered by key) are produced once, also after a restart that reads everything again, and
 * "timestamp,id" offsets compare part by part. */
START_TEST(kafka_eos_late_rows)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "late", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    struct rig *r = eos_rig("eos-late", "a1.sinks.k1.kafka.topic = late\n");
    put_late_rows(&r->ch, false);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    const int first_run = 99 + 1 + 50 + 4 + 99 + 6;
    ck_assert_int_eq(high_watermark("late"), first_run);

    /* restart: the source reads every row again, and the row 1050 commits at last */
    r = eos_rig("eos-late", "a1.sinks.k1.kafka.topic = late\n");
    put_late_rows(&r->ch, true);
    ck_assert(drain(&r->snk, 30000));
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), first_run + 1);
    rig_free(r);

    ck_assert_int_eq(high_watermark("late"), first_run + 1);
    const char *const topics[] = { "late", NULL };
    struct recs rs = consume(topics, (size_t)first_run + 1, 20000);
    ck_assert_uint_eq(rs.n, (size_t)first_run + 1);
    for (size_t i = 0; i < rs.n; i++) {
        for (size_t j = 0; j < i; j++) {
            ck_assert_msg(strcmp(rs.v[i].val, rs.v[j].val) != 0, "%s twice", rs.v[i].val);
        }
    }
    ck_assert_str_eq(rs.v[rs.n - 1].val, "t:1050");
    recs_free(&rs);

    struct posrecs p = read_posrecs("eos-late");
    const char *last = p.v[p.n - 1].text;
    /* delivered: 0..149, 200..201, 250, 300, 1000..1099 */
    ck_assert_msg(strstr(last, "\nids late t 0 1099;150-199,202-249,251-299,301-999\n"), "%s",
                  last);
    char off[64];
    ck_assert(posrec_pos(last, "late", "t", off, sizeof(off)));
    ck_assert_str_eq(off, "1099");
    ck_assert(posrec_pos(last, "late", "ts", off, sizeof(off)));
    ck_assert_str_eq(off, "2024-01-01%2000:00:10,12"); /* the space is escaped */
    posrecs_free(&p);
}
END_TEST

/* The ids of the sparse-ids test: 7k for k = from..to, every third k (a deleted row) left out. */
static size_t sparse_offsets(char ***out, long from, long to)
{
    char **v = calloc((size_t)(to - from + 1), sizeof(char *));
    size_t n = 0;
    for (long k = from; k <= to; k++) {
        if (k % 3 != 0) {
            v[n] = malloc(24);
            (void)snprintf(v[n++], 24, "%ld", 7 * k);
        }
    }
    *out = v;
    return n;
}

static void put_chunked(struct sf_channel *ch, const char *table, char **v, size_t n)
{
    for (size_t i = 0; i < n; i += 100) {
        put_offsets(ch, table, (const char *const *)v + i, n - i < 100 ? n - i : 100);
    }
}

/* A table whose ids step by 7 with every third one deleted (a hole after almost every row):
 * after a restart the source reads 1,800 delivered rows again, and the sink produces none of
 * them twice, though every row opens a gap; the position record stays small (the delivered set
 * keeps the gaps, at most POS_GAPS_MAX, not one range per row); a late row in a recent gap
 * still goes. */
START_TEST(kafka_eos_sparse_ids)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "sparse", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    char **v;
    struct rig *r = eos_rig("eos-sparse", "a1.sinks.k1.kafka.topic = sparse\n");
    size_t n = sparse_offsets(&v, 1, 2000);
    put_chunked(&r->ch, "t", v, n);
    strs_free(v, n);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    const int first_run = 1334; /* k = 1..2000 without multiples of 3 */
    ck_assert_int_eq(high_watermark("sparse"), first_run);

    /* restart: the source resumes from an old offset (k = 200) and reads on to k = 3000, then a
     * late row commits in the gap below the highest id */
    r = eos_rig("eos-sparse", "a1.sinks.k1.kafka.topic = sparse\n");
    n = sparse_offsets(&v, 200, 3000);
    put_chunked(&r->ch, "t", v, n);
    strs_free(v, n);
    put_offsets(&r->ch, "t", (const char *const[]){ "20990" }, 1);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    const int total = 2000 + 1; /* k = 1..3000 without multiples of 3, and 20990 */
    ck_assert_int_eq(high_watermark("sparse"), total);
    const char *const topics[] = { "sparse", NULL };
    struct recs rs = consume(topics, (size_t)total, 20000);
    ck_assert_uint_eq(rs.n, (size_t)total);
    char *seen = calloc(21001, 1);
    for (size_t i = 0; i < rs.n; i++) {
        long id = strtol(rs.v[i].val + 2, NULL, 10);
        ck_assert(id > 0 && id <= 21000);
        ck_assert_msg(!seen[id], "%ld twice", id);
        seen[id] = 1;
    }
    free(seen);
    recs_free(&rs);

    struct posrecs p = read_posrecs("eos-sparse");
    for (size_t i = 0; i < p.n; i++) {
        ck_assert_msg(strlen(p.v[i].text) < 8192, "record of %zu bytes", strlen(p.v[i].text));
    }
    const char *last = p.v[p.n - 1].text;
    /* 20993 is the highest id; 20987-20989 and 20991-20992 are still gaps */
    ck_assert_msg(strstr(last, "\nids sparse t 7 20993;"), "%s", last);
    ck_assert_msg(strstr(last, ",20987-20989,20991-20992\n"), "%s", last);
    posrecs_free(&p);
}
END_TEST

/* Text offsets (an explicitly named text incremental column): the sink cannot order them as the
 * database's collation does ("B" after "a" under a case-insensitive collation, before it in
 * bytes), so none is ever skipped by comparing them: every event goes, with one warning; date/time
 * offsets are still ordered, so a restart that reads them again produces nothing twice. */
START_TEST(kafka_eos_text_offsets)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "txt", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    struct rig *r = eos_rig("eos-txt", "a1.sinks.k1.kafka.topic = txt\n");
    put_offsets(&r->ch, "t", (const char *const[]){ "a", "B", "c" }, 3);
    put_offsets(&r->ch, "ts",
                (const char *const[]){ "2024-01-01 00:00:00", "2024-01-02 10:00:00.5" }, 2);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    ck_assert_int_eq(high_watermark("txt"), 5);
    /* the restarted source reads "B" and "d" (after "c" in its collation) and the timestamps again
     */
    r = eos_rig("eos-txt", "a1.sinks.k1.kafka.topic = txt\n");
    put_offsets(&r->ch, "t", (const char *const[]){ "d", "B" }, 2);
    put_offsets(&r->ch, "ts",
                (const char *const[]){ "2024-01-02 10:00:00.5", "2024-01-03 00:00:00" }, 2);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    /* "d" and "B" (text: at least once), the new timestamp; the old one not again */
    ck_assert_int_eq(high_watermark("txt"), 5 + 3);
    const char *const topics[] = { "txt", NULL };
    struct recs rs = consume(topics, 8, 20000);
    ck_assert_uint_eq(rs.n, 8);
    size_t b = 0, old_ts = 0;
    for (size_t i = 0; i < rs.n; i++) {
        b += strcmp(rs.v[i].val, "t:B") == 0;
        old_ts += strcmp(rs.v[i].val, "ts:2024-01-02 10:00:00.5") == 0;
    }
    ck_assert_uint_eq(b, 2);
    ck_assert_uint_eq(old_ts, 1);
    recs_free(&rs);
}
END_TEST

/* A position record of format 1 (delivered ranges) written by an older sqlflume is read: its
 * ranges become the delivered set, rows in them are not produced again, rows between them are. */
START_TEST(kafka_eos_reads_format_1)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "old", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps, errstr, sizeof(errstr));
    rd_kafka_t *pr = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(pr);
    const char *rec = "sqlflume-positions 1\ntxn 5\nprev -\npos old t 300\n"
                      "ranges old t 1~100,200~300\nbatch old t 290 300 11\n";
    ck_assert_int_eq(rd_kafka_producev(pr, RD_KAFKA_V_TOPIC(EOS_POSITIONS), RD_KAFKA_V_PARTITION(0),
                                       RD_KAFKA_V_KEY("eos-old", 7),
                                       RD_KAFKA_V_VALUE((void *)rec, strlen(rec)),
                                       RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                     0);
    ck_assert_int_eq(rd_kafka_flush(pr, 10000), 0);
    rd_kafka_destroy(pr);

    struct rig *r = eos_rig("eos-old", "a1.sinks.k1.kafka.topic = old\n");
    char **v;
    size_t n = int_offsets(&v, 1, 310, -1);
    put_chunked(&r->ch, "t", v, n);
    strs_free(v, n);
    ck_assert(drain(&r->snk, 30000));
    rig_free(r);
    ck_assert_int_eq(high_watermark("old"), 99 + 10); /* 101..199 and 301..310 */
    struct posrecs p = read_posrecs("eos-old");
    ck_assert_msg(strstr(p.v[p.n - 1].text, "\nids old t 1 310\n"), "%s", p.v[p.n - 1].text);
    posrecs_free(&p);
}
END_TEST

/* Batches that Kafka has entirely (nothing to produce) touching many (topic, table) pairs, after
 * a restart: all skipped, then new events of the same pairs go. */
START_TEST(kafka_eos_skip_only_batches)
{
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "many", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    for (int run = 0; run < 2; run++) {
        struct rig *r = eos_rig("eos-many", "a1.sinks.k1.kafka.topic = many\n");
        for (int k = 0; k < 350; k++) {
            char table[32];
            (void)snprintf(table, sizeof(table), "t%03d", k);
            put_offsets(&r->ch, table, (const char *const[]){ "1" }, 1);
        }
        if (run == 1) {
            put_offsets(&r->ch, "t007", (const char *const[]){ "2" }, 1);
        }
        ck_assert(drain(&r->snk, 30000));
        ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 350 + run);
        rig_free(r);
    }
    ck_assert_int_eq(high_watermark("many"), 351);
    struct posrecs p = read_posrecs("eos-many");
    char off[64];
    ck_assert(posrec_pos(p.v[p.n - 1].text, "many", "t349", off, sizeof(off)));
    ck_assert_str_eq(off, "1");
    ck_assert(posrec_pos(p.v[p.n - 1].text, "many", "t007", off, sizeof(off)));
    ck_assert_str_eq(off, "2");
    posrecs_free(&p);
}
END_TEST

/* A fresh cluster of brokers brokers instead of the fixture's. */
static void mock_replace(int brokers)
{
    mock_teardown();
    char errstr[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
    mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    ck_assert_ptr_nonnull(mock_rk);
    mock = rd_kafka_mock_cluster_new(mock_rk, brokers);
    ck_assert_ptr_nonnull(mock);
    (void)snprintf(bootstraps, sizeof(bootstraps), "%s", rd_kafka_mock_cluster_bootstraps(mock));
}

/* Process until at least want events are committed from the channel (or 30 s pass). */
static void process_until(struct sf_sink *snk, long long want)
{
    long long deadline = now_ms() + 30000 * time_mult;
    while (now_ms() < deadline && atomic_load(&snk->metrics.drain_success) < want) {
        if (snk->plugin->process(snk) == SF_BACKOFF) {
            usleep(10000);
        }
    }
    ck_assert_int_ge(atomic_load(&snk->metrics.drain_success), want);
}

/*
 * Failed transactions roll back and are delivered again, once among the committed ones. Three
 * brokers: the data partition's leader (1), the positions partition's (2), the transaction
 * coordinator (3), so errors can be aimed at one of them.
 *  - abortable: a Produce request to broker 1 fails (INVALID_RECORD): nothing reaches the data
 *    partition, the position record may (the mock keeps it: an aborted record off the chain);
 *    librdkafka 2.0.2 then fails the next transaction too ("skipped sequence numbers"); both
 *    are aborted and rolled back;
 *  - fenced before writing: AddPartitionsToTxn answers PRODUCER_FENCED: fatal, nothing written;
 *    the sink recreates the producer, reads the positions again and goes on;
 *  - fenced at commit: EndTxn answers PRODUCER_FENCED after the batch reached both partitions.
 *    A real broker aborts that transaction (the new producer's init_transactions ends it), so
 *    the new producer does not see its position record and delivers the batch again. The 2.0.2
 *    mock keeps the messages and shows them to read_committed readers, so the new producer does
 *    see the record and skips the batch: in Kafka as the mock shows it, every event is there
 *    once as well.
 */
/* Exactly-once: a too-large event never enters a Kafka transaction (librdkafka would abort
 * it). errors.tolerance = none: the events before it are committed once, then the sink stops;
 * after a restart with message.max.bytes raised it goes, with the rest, once. errors.tolerance =
 * all: it goes to the dead-letter topic inside the transaction. */
START_TEST(kafka_eos_poison)
{
    const int n = 500, big_at = 220;
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eospoison", 1, 1), 0);
    struct rig *r = eos_rig("eos-poison", "a1.sinks.k1.kafka.topic = eospoison\n");
    put_poison(&r->ch, n, big_at);
    ck_assert(!drain(&r->snk, 5000));
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), big_at);
    ck_assert_uint_eq(sf_channel_size(&r->ch), (size_t)(n - big_at + 1));
    check_poison_topic("eospoison", big_at, false);
    struct rig *r2 = eos_rig("eos-poison", "a1.sinks.k1.kafka.topic = eospoison\n"
                                           "a1.sinks.k1.kafka.producer.message.max.bytes = "
                                           "3000000\n");
    move_events(&r->ch, &r2->ch);
    rig_free(r);
    ck_assert(drain(&r2->snk, 30000));
    rig_stop_sink(r2);
    ck_assert_int_eq(atomic_load(&r2->snk.metrics.failed), 0);
    rig_free(r2);
    check_poison_topic("eospoison", n, true);

    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eospoison2", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eospoison2_dlq", 1, 1), 0);
    r = eos_rig("eos-poison-all", "a1.sinks.k1.kafka.topic = eospoison2\n"
                                  "a1.sinks.k1.errors.tolerance = all\n"
                                  "a1.sinks.k1.errors.deadletterqueue.topic.name = "
                                  "eospoison2_dlq\n");
    put_poison(&r->ch, n, big_at);
    ck_assert(drain(&r->snk, 30000));
    rig_stop_sink(r);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_dead_lettered), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n + 1);
    rig_free(r);
    check_poison_topic("eospoison2", n, false);
    const char *const dlq[] = { "eospoison2_dlq", NULL };
    struct recs rs = consume(dlq, 1, 20000);
    ck_assert_uint_eq(rs.n, 1);
    ck_assert_str_eq(rs.v[0].key, "big");
    ck_assert_msg(strstr(rs.v[0].hdrs, "__sqlflume.errors.body.truncated=2097152;"), "%s",
                  rs.v[0].hdrs);
    recs_free(&rs);
}
END_TEST

START_TEST(kafka_eos_errors_roll_back)
{
    const int n = 2000;
    mock_replace(3);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, "eosfail", 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_topic_create(mock, EOS_POSITIONS, 1, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_partition_set_leader(mock, "eosfail", 0, 1), 0);
    ck_assert_int_eq(rd_kafka_mock_partition_set_leader(mock, EOS_POSITIONS, 0, 2), 0);
    ck_assert_int_eq(rd_kafka_mock_coordinator_set(mock, "transaction", "eos-fail", 3), 0);
    struct rig *r = eos_rig("eos-fail", "a1.sinks.k1.kafka.topic = eosfail\n");
    put_rows(&r->ch, "t", 0, n, false);
    enum sf_log_level lvl = sf_log_get_level();
    sf_log_set_level(SF_LOG_ERROR + (getenv("SF_TEST_DEBUG") ? 3 : 0)); /* expected errors */

    process_until(&r->snk, 200);
    ck_assert_int_eq(rd_kafka_mock_broker_push_request_error_rtts(
                         mock, 1, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_INVALID_RECORD, 0),
                     0);
    process_until(&r->snk, 600);
    ck_assert_int_ge(atomic_load(&r->snk.metrics.write_fail), 1);
    long long created = atomic_load(&r->snk.metrics.connection_created);

    ck_assert_int_eq(
        rd_kafka_mock_broker_push_request_error_rtts(mock, 3, 24 /* AddPartitionsToTxn */, 1,
                                                     RD_KAFKA_RESP_ERR_PRODUCER_FENCED, 0),
        0);
    process_until(&r->snk, 1000);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.connection_created), created + 1);

    ck_assert_int_eq(rd_kafka_mock_broker_push_request_error_rtts(
                         mock, 3, 26 /* EndTxn */, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED, 0),
                     0);
    ck_assert(drain(&r->snk, 30000));
    sf_log_set_level(lvl);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.connection_created), created + 2);
    ck_assert_int_ge(atomic_load(&r->snk.metrics.write_fail), 3);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), n);
    rig_free(r);

    check_rows_once("eosfail", "t", n);
    struct posrecs p = read_posrecs("eos-fail");
    size_t aborted = 0;
    for (size_t i = 0; i < p.n; i++) {
        aborted += !p.v[i].committed;
    }
    size_t committed = check_committed_cover(&p, "eosfail", "t", n);
    ck_assert_uint_eq(committed + aborted, p.n);
    if (getenv("SF_TEST_DEBUG")) {
        printf("eos errors: %zu position records, %zu committed, %zu aborted but visible\n", p.n,
               committed, aborted);
    }
    char off[64];
    ck_assert(posrec_pos(p.v[p.n - 1].text, "eosfail", "t", off, sizeof(off)));
    ck_assert_str_eq(off, "1999");
    posrecs_free(&p);
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
    tcase_add_test(tk, kafka_eos_poison);
    tcase_add_test(tk, kafka_fatal_error_recovers);
    tcase_add_test(tk, kafka_tiny_channel);
    tcase_add_test(tk, kafka_stop_commits_delivered);
    tcase_add_test(tk, kafka_stop_rolls_back);
    tcase_add_test(tk, kafka_eos_config_errors);
    tcase_add_test(tk, kafka_eos_exactly_once);
    tcase_add_test(tk, kafka_eos_flume_event_format_headers);
    tcase_add_test(tk, kafka_eos_crash_after_kafka_commit);
    tcase_add_test(tk, kafka_eos_errors_roll_back);
    tcase_add_test(tk, kafka_eos_late_rows);
    tcase_add_test(tk, kafka_eos_skip_only_batches);
    tcase_add_test(tk, kafka_eos_sparse_ids);
    tcase_add_test(tk, kafka_eos_text_offsets);
    tcase_add_test(tk, kafka_eos_reads_format_1);
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
