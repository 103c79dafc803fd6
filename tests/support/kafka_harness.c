/*
 * The sinks' unit-test harness (see kafka_harness.h): a memory channel and a sink built from
 * properties, librdkafka's mock cluster in this process with an independent consumer, and the
 * events the Kafka sink tests put and check.
 */
#include "kafka_harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef SF_HAVE_AVRO
#include <avro.h>
#endif

#include "sqlflume/avro_event.h"
#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/option.h"
#include "sqlflume/sinks.h"

#include "mock_nodelay.h" /* TCP_NODELAY on the mock brokers' sockets */

extern const struct sf_channel_plugin sf_channel_memory;

void kafka_harness_init(void)
{
    const char *mult = getenv("SF_TIME_MULT");
    if (mult && strtoll(mult, NULL, 10) > 0) {
        time_mult = strtoll(mult, NULL, 10);
    }
    if (getenv("SF_TEST_DEBUG")) {
        sf_log_set_level(SF_LOG_DEBUG);
    }
}

long long time_mult = 1;

long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- a memory channel and a sink built from properties ---------- */

/* Build channel c1 (memory) and sink k1 from conf (keys a1.channels.c1.*, a1.sinks.k1.*).
 * @return the rig, with the sink started when start is true and it could start (errstr filled
 * otherwise). */
struct rig *
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
    errstr[0] = '\0';
    /* the configure step, as the agent runs it before start */
    if (plugin->configure && plugin->configure(&r->snk, &d) != 0) {
        ck_assert_uint_ge(d.nerrors, 1);
        (void)snprintf(errstr, errstr_size, "%s", d.errors[0]);
    } else {
        r->started = plugin->start(&r->snk, errstr, errstr_size) == SF_OK;
    }
    sf_diag_free(&d);
    return r;
}

void rig_stop_sink(struct rig *r)
{
    if (r->started) {
        r->snk.plugin->stop(&r->snk);
        r->started = false;
    }
}

void rig_free(struct rig *r)
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
void
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
bool drain(struct sf_sink *snk, long long timeout_ms)
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

/* ---------- Kafka ---------- */

rd_kafka_t *mock_rk;
rd_kafka_mock_cluster_t *mock;
char bootstraps[256];

/* An in-process mock cluster of one broker, fresh for each test. */
void mock_setup(void)
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

void mock_teardown(void)
{
    rd_kafka_mock_cluster_destroy(mock);
    rd_kafka_destroy(mock_rk);
    mock = NULL;
    mock_rk = NULL;
}

void recs_free(struct recs *rs)
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

char *dup_n(const void *p, size_t n)
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
struct recs
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
struct recs consume(const char *const *topics, size_t expect, long long timeout_ms)
{
    return consume_parts(topics, 1, expect, timeout_ms);
}

int64_t high_watermark(const char *topic)
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

struct rig *kafka_rig(const char *extra)
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

#ifdef SF_HAVE_AVRO
/* Decode one AvroFlumeEvent datum with avro-c (an independent implementation of the Avro
 * specification, reading with Flume's schema) into "k=v;" headers and the body. */
void avro_decode(const char *data, size_t len, char **hdrs, char **body, size_t *body_len)
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

/* ---------- poison events: errors.tolerance ---------- */

/* Put n small events "event-%06d" 0..n-1 with headers table = poison, offset = key = their
 * number, and, right before event big_at, one event of POISON_BIG bytes ('B's) with offset and
 * key "big". */
void put_poison(struct sf_channel *ch, int n, int big_at)
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
void move_events(struct sf_channel *from, struct sf_channel *to)
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
void check_poison_topic(const char *topic, int n, bool want_big)
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
