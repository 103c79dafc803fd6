/*
 * Flume's KafkaSink ("kafka", org.apache.flume.sink.kafka.KafkaSink) on librdkafka. Each batch
 * of up to flumeBatchSize events is taken in its own take transaction and produced at once
 * (bodies are referenced, not copied: a taken event stays valid until its transaction ends);
 * up to maxInFlightBatches transactions are kept open while librdkafka delivers them, and they
 * are committed strictly in take order, each only after every message of its batch has a
 * successful delivery report (DESIGN-NOTES 1: the source's offset never runs ahead of Kafka).
 * When the oldest open batch has a failed report, it and every later open batch are rolled back
 * (newest first, so the events return to the head of the channel in their original order) once
 * librdkafka has reported on all of them, and process() backs off. The topic is kafka.topic with
 * %{header} replaced per event, or the event's topicHeader header when allowTopicOverride; the
 * `key` header is the message key; partitionIdHeader / defaultPartitionId pick a partition.
 * Every other kafka.producer.<prop> goes to librdkafka as <prop>. The producer is idempotent
 * unless the user says otherwise (so librdkafka's own retries never duplicate), which needs
 * acks=all: that is the default here instead of Flume's acks=1, and an explicit acks other than
 * all turns idempotence off; linger.ms is 5 unless set, and skipped (rd_kafka_flush) whenever
 * the ring of in-flight batches is full, since nothing more can join their requests then. A
 * fatal producer error rolls everything back and recreates the producer. stop() waits up to
 * flushTimeout for in-flight batches, commits the delivered prefix and rolls back the rest.
 * librdkafka's error and log callbacks are rate-limited to one line per kind per 5 s, so a
 * broker that is down does not flood the log; pass-through values of secret properties
 * (passwords, secrets, keys) are never logged.
 */
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/sinks.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define PRODUCER_PREFIX    "kafka.producer."
#define TAKE_WAIT_MS       100  /* take wait when nothing is in flight */
#define RING_WAIT_MS       100  /* poll wait when no batch can be taken (ring full, draining) */
#define IDLE_POLL_MS       1    /* poll wait when the channel is empty but batches are in flight */
#define FLUSH_NUDGE_MS     1    /* rd_kafka_flush() wait that makes librdkafka skip linger.ms */
#define QUEUE_FULL_WAIT_MS 10   /* poll wait before producing again on a full librdkafka queue */
#define QUEUE_FULL_MAX_MS  1000 /* then give the batch up as failed (it is rolled back) */
#define PURGE_WAIT_MS      5000 /* after a purge, how long to wait for the purged reports */
#define RATE_LIMIT_MS      5000 /* one log line per error kind per this many ms */
#define RATE_SLOTS         32
#define TOPIC_CACHE_MAX    4096 /* distinct topics with a cached handle; more are opened per run */

/* One piece of kafka.topic: a literal or a %{header}. */
struct topic_part {
    bool is_header;
    char *text;
};

struct topic_entry {
    char *name; /* NULL = free slot */
    rd_kafka_topic_t *rkt;
};

/* One in-flight take transaction and what librdkafka has reported about its messages. */
struct kbatch {
    struct sf_txn *txn;
    size_t n;                /* events (= messages) */
    size_t pending;          /* messages without a delivery report yet */
    size_t failed;           /* failed reports and messages librdkafka refused */
    rd_kafka_resp_err_t err; /* first failure */
    char err_topic[128];     /* topic of the first failure */
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

    /* runtime, from start to stop */
    rd_kafka_t *rk;
    struct topic_part *parts; /* kafka.topic as a template, when it has %{...} */
    size_t nparts;
    rd_kafka_topic_t *static_rkt; /* kafka.topic's handle, when it has no %{...} */
    struct topic_entry *cache;    /* open addressing, cache_cap a power of 2 */
    size_t cache_cap, cache_n;
    struct sf_buf topic_buf;
    size_t batch;               /* min(flumeBatchSize, the channel's transactionCapacity) */
    struct sf_event **evs;      /* take scratch, batch slots */
    rd_kafka_message_t *msgs;   /* produce scratch, batch slots */
    rd_kafka_topic_t **msg_rkt; /* topic of each message */
    bool *msg_rkt_temp;         /* that handle is to be destroyed after producing */
    struct kbatch *ring;        /* max_inflight slots */
    size_t ring_head, ring_count;
    bool failing;            /* the oldest batch failed: waiting for the others' reports */
    atomic_bool fatal;       /* librdkafka raised a fatal error: recreate the producer */
    pthread_mutex_t rate_mu; /* callbacks come from librdkafka's threads too */
    struct rate_slot rate[RATE_SLOTS];
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
    { "maxInFlightBatches", SF_OPT_INT, "16", 1, 1024, offsetof(struct kafka_ctx, max_inflight), 0,
      NULL, NULL, "take transactions (batches) produced and awaiting delivery reports at once" },
    { "flushTimeout", SF_OPT_INT, "10000", 0, 3600000, offsetof(struct kafka_ctx, flush_timeout_ms),
      0, NULL, NULL, "milliseconds stop waits for in-flight batches before rolling them back" },
    { PRODUCER_PREFIX, SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "any librdkafka producer property, e.g. kafka.producer.compression.type = lz4" },
    { 0 },
};

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

/* Delivery report, served by rd_kafka_poll() on the sink's thread. */
static void kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    struct kbatch *b = m->_private;
    b->pending--;
    if (m->err) {
        if (b->failed++ == 0) {
            b->err = m->err;
            (void)snprintf(b->err_topic, sizeof(b->err_topic), "%s",
                           m->rkt ? rd_kafka_topic_name(m->rkt) : "");
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
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(ctx->rk, name, NULL);
    if (!rkt) {
        return NULL;
    }
    if (ctx->cache_n >= TOPIC_CACHE_MAX ||
        ((ctx->cache_n + 1) * 2 > ctx->cache_cap && !cache_grow(ctx))) {
        *temp = true;
        return rkt;
    }
    char *copy = strdup(name);
    if (!copy) {
        *temp = true;
        return rkt;
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
        (rc = conf_set(conf, "kafka.producer.enable.idempotence", "enable.idempotence", idem,
                       errstr, errstr_size)) ||
        (rc = conf_set(conf, "kafka.producer.acks", "acks", acks, errstr, errstr_size))) {
        goto fail;
    }
    for (size_t i = 0; snk->conf && i < snk->conf->n; i++) {
        const struct sf_prop *p = snk->conf->v[i];
        const char *sub = sf_section_subkey(snk->conf, p);
        if (strncmp(sub, PRODUCER_PREFIX, strlen(PRODUCER_PREFIX)) != 0) {
            continue;
        }
        const char *prop = sub + strlen(PRODUCER_PREFIX);
        if (strcmp(prop, "acks") == 0) {
            continue; /* an option of the table, set above */
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
    if (ctx->nparts == 0) {
        ctx->static_rkt = rd_kafka_topic_new(ctx->rk, ctx->topic, NULL);
        if (!ctx->static_rkt) {
            (void)snprintf(errstr, errstr_size, "kafka.topic: invalid topic \"%s\": %s", ctx->topic,
                           rd_kafka_err2str(rd_kafka_last_error()));
            rd_kafka_destroy(ctx->rk);
            ctx->rk = NULL;
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
    rd_kafka_destroy(ctx->rk);
    ctx->rk = NULL;
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
    ctx->failing = false;
}

/*
 * Commit the completed, fully delivered batches at the head of the ring, in order. When the
 * oldest completed batch has a failure, enter the failing state; once every in-flight batch is
 * reported, roll them all back. @return true when batches were rolled back.
 */
static bool settle(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    while (!ctx->failing && ctx->ring_count > 0) {
        struct kbatch *b = ring_at(ctx, 0);
        if (b->pending > 0) {
            break;
        }
        if (b->failed > 0) {
            ctx->failing = true;
            atomic_fetch_add(&snk->metrics.write_fail, 1);
            unsigned suppressed;
            bool purged = b->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                          b->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT; /* stop says why */
            if (!purged && rate_allow(ctx, -100000 - (int)b->err, &suppressed)) {
                SF_ERROR(SF_SINK_FMT "could not deliver %zu of %zu events to topic \"%s\": %s; "
                                     "rolling back%s",
                         SF_SINK_ARGS(snk), b->failed, b->n, b->err_topic, rd_kafka_err2str(b->err),
                         suppressed ? " (similar failures suppressed)" : "");
            }
            break;
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
    if (ctx->failing && all_reported(ctx)) {
        rollback_all(snk);
        return true;
    }
    return false;
}

/* Record that count messages of b will never get a report (librdkafka refused them). */
static void refuse(struct kbatch *b, rd_kafka_resp_err_t err, const char *topic, size_t count)
{
    if (count == 0) {
        return;
    }
    if (b->failed == 0) {
        b->err = err;
        (void)snprintf(b->err_topic, sizeof(b->err_topic), "%s", topic);
    }
    b->failed += count;
    b->pending -= count;
}

/* Produce msgs[0..cnt) to rkt, waiting out a full librdkafka queue for a bounded time. */
static void produce_run(struct sf_sink *snk,
                        struct kbatch *b,
                        rd_kafka_topic_t *rkt,
                        rd_kafka_message_t *msgs,
                        size_t cnt)
{
    struct kafka_ctx *ctx = snk->ctx;
    long long give_up_ms = 0;
    size_t off = 0;
    while (off < cnt) {
        rd_kafka_produce_batch(rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_PARTITION, msgs + off,
                               (int)(cnt - off));
        size_t retry = cnt;
        for (size_t i = off; i < cnt; i++) {
            if (msgs[i].err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                retry = i; /* this and every later message were refused for it */
                break;
            }
            if (msgs[i].err) {
                refuse(b, msgs[i].err, rd_kafka_topic_name(rkt), 1);
            }
        }
        if (retry == cnt) {
            return;
        }
        long long now = mono_ms();
        if (give_up_ms == 0) {
            give_up_ms = now + QUEUE_FULL_MAX_MS;
        } else if (now >= give_up_ms || atomic_load(&ctx->fatal)) {
            refuse(b, RD_KAFKA_RESP_ERR__QUEUE_FULL, rd_kafka_topic_name(rkt), cnt - retry);
            return;
        }
        rd_kafka_poll(ctx->rk, QUEUE_FULL_WAIT_MS);
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

/* Hand the n taken events of b to librdkafka, one produce_batch call per run of one topic. */
static void produce_batch(struct sf_sink *snk, struct kbatch *b, struct sf_event **evs, size_t n)
{
    struct kafka_ctx *ctx = snk->ctx;
    b->pending = n;
    for (size_t i = 0; i < n; i++) {
        const struct sf_event *ev = evs[i];
        rd_kafka_message_t *m = &ctx->msgs[i];
        memset(m, 0, sizeof(*m));
        m->payload = ev->body;
        m->len = ev->body_len;
        const char *key = sf_event_header(ev, "key");
        if (key) {
            m->key = (void *)key;
            m->key_len = strlen(key);
        }
        m->partition = partition_of(snk, ev);
        m->_private = b;
        const char *topic = topic_of(ctx, ev);
        ctx->msg_rkt[i] = *topic ? topic_get(ctx, topic, &ctx->msg_rkt_temp[i]) : NULL;
        if (!ctx->msg_rkt[i]) {
            ctx->msg_rkt_temp[i] = false;
            refuse(b, RD_KAFKA_RESP_ERR__INVALID_ARG, topic, 1);
            unsigned suppressed;
            if (rate_allow(ctx, RD_KAFKA_RESP_ERR__INVALID_ARG, &suppressed)) {
                SF_ERROR(SF_SINK_FMT "invalid topic \"%s\" for an event (kafka.topic = \"%s\")",
                         SF_SINK_ARGS(snk), topic, ctx->topic);
            }
        }
    }
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        rd_kafka_topic_t *rkt = ctx->msg_rkt[i];
        while (j < n && ctx->msg_rkt[j] == rkt && !ctx->msg_rkt_temp[j]) {
            j++;
        }
        if (rkt) {
            produce_run(snk, b, rkt, ctx->msgs + i, j - i);
            if (ctx->msg_rkt_temp[i]) {
                rd_kafka_topic_destroy(rkt);
            }
        }
        i = j;
    }
}

/* After a fatal producer error: purge, collect the reports, roll everything back, and drop the
 * producer; process() creates a new one. */
static void producer_reset(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    long long deadline = mono_ms() + PURGE_WAIT_MS;
    while (!all_reported(ctx) && mono_ms() < deadline) {
        rd_kafka_poll(ctx->rk, 100);
    }
    SF_WARN(SF_SINK_FMT "recreating the kafka producer after its fatal error; rolling back %zu "
                        "in-flight batches",
            SF_SINK_ARGS(snk), ctx->ring_count);
    producer_destroy(snk);
    rollback_all(snk);
}

static enum sf_status kafka_process(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (!ctx->rk) {
        char err[512];
        if (producer_create(snk, err, sizeof(err)) != SF_OK) {
            SF_ERROR(SF_SINK_FMT "%s", SF_SINK_ARGS(snk), err);
            return SF_BACKOFF;
        }
    }
    if (atomic_load(&ctx->fatal)) {
        producer_reset(snk);
        return SF_BACKOFF;
    }
    rd_kafka_poll(ctx->rk, 0);
    if (settle(snk)) {
        return SF_BACKOFF;
    }
    bool stopping = atomic_load(&snk->stopping);
    if (ctx->failing || stopping || ctx->ring_count == (size_t)ctx->max_inflight) {
        if (ctx->ring_count == 0) {
            return SF_BACKOFF;
        }
        if (!ctx->failing && !stopping) {
            /* The ring is full: nothing more is produced until the oldest batch is delivered,
             * so lingering (linger.ms) would only add latency. rd_kafka_flush() makes the broker
             * threads send what they hold now; it waits a moment only (the ring waits below). */
            rd_kafka_flush(ctx->rk, FLUSH_NUDGE_MS);
            if (settle(snk)) {
                return SF_BACKOFF;
            }
            if (ctx->ring_count < (size_t)ctx->max_inflight) {
                return SF_READY;
            }
        }
        rd_kafka_poll(ctx->rk, RING_WAIT_MS);
        return settle(snk) ? SF_BACKOFF : SF_READY;
    }

    struct sf_txn *txn = sf_channel_txn_begin(snk->ch);
    if (!txn) {
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        return SF_BACKOFF;
    }
    size_t n = 0;
    int rc =
        sf_channel_take(txn, ctx->evs, ctx->batch, &n, ctx->ring_count == 0 ? TAKE_WAIT_MS : 0);
    if (rc != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not take from channel \"%s\": %s", SF_SINK_ARGS(snk),
                 snk->ch->name, sf_err_str(rc));
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        sf_channel_txn_close(txn);
        return SF_BACKOFF;
    }
    if (n == 0) {
        sf_channel_txn_commit(txn);
        sf_channel_txn_close(txn);
        if (ctx->ring_count == 0) {
            atomic_fetch_add(&snk->metrics.batch_empty, 1);
            return SF_BACKOFF;
        }
        rd_kafka_poll(ctx->rk, IDLE_POLL_MS);
        return settle(snk) ? SF_BACKOFF : SF_READY;
    }
    atomic_fetch_add(&snk->metrics.drain_attempt, (long long)n);
    atomic_fetch_add(n < ctx->batch ? &snk->metrics.batch_underflow : &snk->metrics.batch_complete,
                     1);
    struct kbatch *b = ring_at(ctx, ctx->ring_count);
    *b = (struct kbatch){ .txn = txn, .n = n };
    ctx->ring_count++;
    produce_batch(snk, b, ctx->evs, n);
    return SF_READY;
}

static void kafka_stop(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->rk) {
        long long deadline = mono_ms() + ctx->flush_timeout_ms;
        settle(snk);
        while (ctx->ring_count > 0 && !atomic_load(&ctx->fatal) && mono_ms() < deadline) {
            rd_kafka_flush(ctx->rk, RING_WAIT_MS); /* nothing more comes: skip linger.ms */
            settle(snk);
        }
        if (ctx->ring_count > 0) {
            size_t events = 0;
            for (size_t i = 0; i < ctx->ring_count; i++) {
                events += ring_at(ctx, i)->n;
            }
            SF_WARN(SF_SINK_FMT "%zu batches (%zu events) not delivered within flushTimeout "
                                "(%lld ms): rolling back what is not acknowledged",
                    SF_SINK_ARGS(snk), ctx->ring_count, events, ctx->flush_timeout_ms);
            rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            deadline = mono_ms() + PURGE_WAIT_MS;
            while (!all_reported(ctx) && mono_ms() < deadline) {
                rd_kafka_poll(ctx->rk, 100);
            }
            /* commit what was delivered in order before the first failure */
            settle(snk);
        }
        producer_destroy(snk); /* librdkafka lets go of every body here at the latest */
    }
    rollback_all(snk);
    topic_parts_free(ctx);
    sf_buf_free(&ctx->topic_buf);
    free(ctx->evs);
    free(ctx->msgs);
    free(ctx->msg_rkt);
    free(ctx->msg_rkt_temp);
    free(ctx->ring);
    ctx->evs = NULL;
    ctx->msgs = NULL;
    ctx->msg_rkt = NULL;
    ctx->msg_rkt_temp = NULL;
    ctx->ring = NULL;
    pthread_mutex_destroy(&ctx->rate_mu);
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
    ctx->failing = false;
    atomic_store(&ctx->fatal, false);
    ctx->evs = calloc(ctx->batch, sizeof(struct sf_event *));
    ctx->msgs = calloc(ctx->batch, sizeof(*ctx->msgs));
    ctx->msg_rkt = calloc(ctx->batch, sizeof(rd_kafka_topic_t *));
    ctx->msg_rkt_temp = calloc(ctx->batch, sizeof(*ctx->msg_rkt_temp));
    ctx->ring = calloc((size_t)ctx->max_inflight, sizeof(*ctx->ring));
    int rc = SF_ERR_NOMEM;
    if (!ctx->evs || !ctx->msgs || !ctx->msg_rkt || !ctx->msg_rkt_temp || !ctx->ring ||
        topic_parse(ctx) != 0) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if ((rc = producer_create(snk, errstr, errstr_size)) != SF_OK) {
        goto fail;
    }
    SF_INFO(SF_SINK_FMT "producing to topic \"%s\" via %s: up to %zu events per batch, %lld "
                        "batches in flight",
            SF_SINK_ARGS(snk), ctx->topic, ctx->bootstrap, ctx->batch, ctx->max_inflight);
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
