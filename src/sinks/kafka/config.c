/* config.c: configuration: librdkafka callbacks (rate-limited logging) and the producer conf (see
 * kafka_int.h). */
#include "kafka_int.h"

/* ---- rate-limited logging of librdkafka's callbacks ---- */

/* Whether a line of kind key may be logged now; *suppressed gets the count dropped since the
 * last line of that kind. Thread-safe. */
bool kf_rate_allow(struct kafka_ctx *ctx, int key, unsigned *suppressed)
{
    long long now = sf_mono_ms();
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

int kf_str_key(const char *s)
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
    if (kf_rate_allow(ctx, err, &suppressed)) {
        if (suppressed) {
            SF_WARN(SF_SINK_FMT "kafka: %s (%s; %u similar suppressed)", SF_SINK_ARGS(snk), reason,
                    rd_kafka_err2name(err), suppressed);
        } else {
            SF_WARN(SF_SINK_FMT "kafka: %s (%s)", SF_SINK_ARGS(snk), reason,
                    rd_kafka_err2name(err));
        }
    }
}

void kf_kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    struct sf_sink *snk = rd_kafka_opaque(rk);
    struct kafka_ctx *ctx = snk->ctx;
    if (level > LOG_WARNING || strcmp(fac, "FATAL") == 0) { /* FATAL: see kafka_error_cb */
        SF_DEBUG(SF_SINK_FMT "librdkafka %s: %s", SF_SINK_ARGS(snk), fac, buf);
        return;
    }
    unsigned suppressed;
    if (kf_rate_allow(ctx, kf_str_key(fac), &suppressed)) {
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

/* ---- the producer ---- */

static bool is_secret(const char *prop)
{
    return strstr(prop, "password") || strstr(prop, "secret") || strcmp(prop, "ssl.key.pem") == 0 ||
           strcmp(prop, "sasl.oauthbearer.config") == 0;
}

/* Set one property; on failure describe it naming the Flume key. Secrets' values never appear. */
int kf_conf_set(rd_kafka_conf_t *conf,
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

/* The producer's configuration from the options and the kafka.producer.* pass-through: librdkafka
 * checks each property as it is set (rd_kafka_conf_set: no I/O). With log, the INFO line about
 * the idempotent producer being off is logged.
 * @param out  on SF_OK the conf (caller owns: rd_kafka_new or rd_kafka_conf_destroy)
 * @param bad_key  on error the Flume key librdkafka rejected (errstr is "KEY: reason")
 * @return SF_OK or SF_ERR_INVAL (errstr filled) */
static int conf_build(struct sf_sink *snk,
                      bool log,
                      rd_kafka_conf_t **out,
                      const char **bad_key,
                      char *errstr,
                      size_t errstr_size)
{
    struct kafka_ctx *ctx = snk->ctx;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char client_id[256];
    (void)snprintf(client_id, sizeof(client_id), "sqlflume-%s", snk->name ? snk->name : "kafka");

    /* Idempotence needs acks=all: an explicit weaker acks turns it off unless also explicit
     * (kf_configure refuses a weaker acks with transactional.id). */
    const char *acks = ctx->acks;
    const char *idem = user_prop(snk, "enable.idempotence");
    bool acks_all = !acks || strcasecmp(acks, "all") == 0 || strcmp(acks, "-1") == 0;
    if (!idem) {
        idem = acks_all ? "true" : "false";
        if (!acks_all && log) {
            SF_INFO(SF_SINK_FMT "kafka.producer.acks = %s: the idempotent producer is off (it "
                                "needs acks = all), so librdkafka's retries may duplicate",
                    SF_SINK_ARGS(snk), acks);
        }
    }
    if (!acks) {
        acks = strcasecmp(idem, "true") == 0 ? "all" : "1";
    }
    int rc = SF_OK;
    const char *key = "client.id";
    if ((rc = kf_conf_set(conf, key, "client.id", client_id, errstr, errstr_size)) ||
        (rc = kf_conf_set(conf, key = "kafka.producer.linger.ms", "linger.ms", "5", errstr,
                          errstr_size)) ||
        /* TCP_NODELAY, as Kafka's Java clients always set (Flume's KafkaSink): with Nagle a
         * request written while the previous one is unacknowledged waits for the peer's delayed
         * ACK (40 ms on Linux) */
        (rc = kf_conf_set(conf, key = "kafka.producer.socket.nagle.disable",
                          "socket.nagle.disable", "true", errstr, errstr_size)) ||
        (rc = kf_conf_set(conf, key = "kafka.producer.enable.idempotence", "enable.idempotence",
                          idem, errstr, errstr_size)) ||
        (rc = kf_conf_set(conf, key = "kafka.producer.acks", "acks", acks, errstr,
                          errstr_size)) ||
        (ctx->txn_id &&
         (rc = kf_conf_set(conf, key = "kafka.producer.transactional.id", "transactional.id",
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
        if ((rc = kf_conf_set(conf, key = sub, prop, p->val, errstr, errstr_size)) != SF_OK) {
            goto fail;
        }
        if (log) {
            SF_DEBUG(SF_SINK_FMT "librdkafka %s = %s", SF_SINK_ARGS(snk), prop,
                     is_secret(prop) ? "****" : p->val);
        }
    }
    if ((rc = kf_conf_set(conf, key = "kafka.bootstrap.servers", "bootstrap.servers",
                          ctx->bootstrap, errstr, errstr_size)) != SF_OK) {
        goto fail;
    }
    *out = conf;
    return SF_OK;
fail:
    rd_kafka_conf_destroy(conf);
    *bad_key = key;
    return rc;
}

/* librdkafka's rd_kafka_topic_new refuses a name longer than this (bytes). */
#define TOPIC_NAME_MAX 512

/* Error "invalid topic" at key when name is one rd_kafka_topic_new refuses (as start would).
 * @return SF_OK, or SF_ERR_INVAL (error added to d). */
static int check_topic(struct sf_sink *snk, const char *key, const char *name, struct sf_diag *d)
{
    if (!name || strlen(name) <= TOPIC_NAME_MAX) {
        return SF_OK;
    }
    sf_diag_error(d, sf_section_get(snk->conf, key), "invalid topic \"%s\": %s", name,
                  rd_kafka_err2str(RD_KAFKA_RESP_ERR__INVALID_ARG));
    return SF_ERR_INVAL;
}

int kf_configure(struct sf_sink *snk, struct sf_diag *d)
{
    struct kafka_ctx *ctx = snk->ctx;
    const struct sf_section *sec = snk->conf;
    int rc = SF_OK;
    const char *tol = ctx->errors_tolerance;
    bool tolerate = strcasecmp(tol, "all") == 0;
    if (!tolerate && strcasecmp(tol, "none") != 0) {
        sf_diag_error(d, sf_section_get(sec, "errors.tolerance"), "none or all, not \"%s\"", tol);
        rc = SF_ERR_INVAL;
    } else {
        bool dlq = ctx->dlq_topic && *ctx->dlq_topic; /* empty: none */
        if (dlq && !tolerate) {
            sf_diag_error(d, sf_section_get(sec, "errors.deadletterqueue.topic.name"),
                          "errors.deadletterqueue.topic.name is used only with errors.tolerance "
                          "= all (errors.tolerance = none stops at the first failed event)");
            rc = SF_ERR_INVAL;
        }
        if (tolerate && !dlq && !ctx->errors_log) {
            sf_diag_error(d, sf_section_get(sec, "errors.tolerance"),
                          "errors.tolerance = all without errors.deadletterqueue.topic.name "
                          "needs errors.log.enable = true (a failed event would be skipped "
                          "without a line saying so)");
            rc = SF_ERR_INVAL;
        }
        if (ctx->errors_log && !tolerate) {
            sf_diag_error(d, sf_section_get(sec, "errors.log.enable"),
                          "errors.log.enable is used only with errors.tolerance = all (errors."
                          "tolerance = none logs the failed event as it stops)");
            rc = SF_ERR_INVAL;
        }
        if (dlq && check_topic(snk, "errors.deadletterqueue.topic.name", ctx->dlq_topic, d) != SF_OK) {
            rc = SF_ERR_INVAL;
        }
    }
    for (size_t i = 0; sec && i < sec->n; i++) {
        const struct sf_prop *p = sec->v[i];
        const char *sub = sf_section_subkey(sec, p);
        if (strncmp(sub, HEADER_PREFIX, strlen(HEADER_PREFIX)) == 0 &&
            (!sub[strlen(HEADER_PREFIX)] || !*p->val)) {
            sf_diag_error(d, p,
                          "needs an event header name after \"" HEADER_PREFIX
                          "\" and a Kafka header name as its value");
            rc = SF_ERR_INVAL;
        }
    }
    if (!strstr(ctx->topic, "%{") && check_topic(snk, "kafka.topic", ctx->topic, d) != SF_OK) {
        rc = SF_ERR_INVAL;
    }
    if (ctx->txn_id) {
        const char *acks = ctx->acks;
        if (!*ctx->txn_id) {
            sf_diag_error(d, sf_section_get(sec, "kafka.producer.transactional.id"), "empty");
            rc = SF_ERR_INVAL;
        }
        if (acks && strcasecmp(acks, "all") != 0 && strcmp(acks, "-1") != 0) {
            sf_diag_error(d, sf_section_get(sec, "kafka.producer.acks"),
                          "must be all with kafka.producer.transactional.id, not \"%s\"", acks);
            rc = SF_ERR_INVAL;
        }
        if (check_topic(snk, "kafka.positions.topic", ctx->positions_topic, d) != SF_OK) {
            rc = SF_ERR_INVAL;
        }
    }
    /* every property through librdkafka's own check (the first it refuses) */
    rd_kafka_conf_t *conf = NULL;
    const char *bad_key = NULL;
    char err[1024];
    if (conf_build(snk, false, &conf, &bad_key, err, sizeof(err)) != SF_OK) {
        const struct sf_prop *at = sf_section_get(sec, bad_key);
        size_t klen = strlen(bad_key);
        bool prefixed = at && strncmp(err, bad_key, klen) == 0 && strncmp(err + klen, ": ", 2) == 0;
        sf_diag_error(d, at, "%s", prefixed ? err + klen + 2 : err);
        rc = SF_ERR_INVAL;
    } else {
        rd_kafka_conf_destroy(conf);
    }
    return rc;
}

/* Create ctx->rk from the options and the kafka.producer.* pass-through (kf_configure accepted
 * them). */
int kf_producer_create(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct kafka_ctx *ctx = snk->ctx;
    rd_kafka_conf_t *conf = NULL;
    const char *bad_key;
    int rc = conf_build(snk, true, &conf, &bad_key, errstr, errstr_size);
    if (rc != SF_OK) {
        atomic_fetch_add(&snk->metrics.connection_failed, 1);
        return rc;
    }
    rd_kafka_conf_set_opaque(conf, snk);
    rd_kafka_conf_set_dr_msg_cb(conf, kf_kafka_dr_cb);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    rd_kafka_conf_set_log_cb(conf, kf_kafka_log_cb);
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
    ctx->partitioner = kf_partitioner_by_name(pname ? pname : "consistent_random");
    if (ctx->nparts == 0) {
        ctx->static_rkt = kf_topic_create(ctx, ctx->topic);
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

void kf_producer_destroy(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (!ctx->rk) {
        return;
    }
    kf_cache_free(ctx);
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
