/* positions_read.c: the positions reader: reads the stored position records at start (see
 * kafka_int.h). */
#include "kafka_int.h"

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
    if (kf_conf_set(conf, "client.id", "client.id", client_id, errstr, errstr_size) ||
        kf_conf_set(conf, "kafka.bootstrap.servers", "bootstrap.servers", ctx->bootstrap, errstr,
                    errstr_size) ||
        /* librdkafka's assign() needs a group.id; the reader never joins or commits */
        kf_conf_set(conf, "group.id", "group.id", "sqlflume-positions-reader", errstr,
                    errstr_size) ||
        kf_conf_set(conf, "isolation.level", "isolation.level", "read_committed", errstr,
                    errstr_size) ||
        kf_conf_set(conf, "enable.partition.eof", "enable.partition.eof", "true", errstr,
                    errstr_size) ||
        kf_conf_set(conf, "enable.auto.commit", "enable.auto.commit", "false", errstr,
                    errstr_size) ||
        /* the last fetch finds nothing new: do not let the broker hold it for 500 ms */
        kf_conf_set(conf, "fetch.wait.max.ms", "fetch.wait.max.ms", "50", errstr, errstr_size) ||
        kf_conf_set(conf, "auto.offset.reset", "auto.offset.reset", "earliest", errstr,
                    errstr_size)) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    for (size_t i = 0; snk->conf && i < snk->conf->n; i++) {
        const struct sf_prop *p = snk->conf->v[i];
        const char *sub = sf_section_subkey(snk->conf, p);
        if (strncmp(sub, PRODUCER_PREFIX, strlen(PRODUCER_PREFIX)) == 0 &&
            reader_prop(sub + strlen(PRODUCER_PREFIX)) &&
            kf_conf_set(conf, sub, sub + strlen(PRODUCER_PREFIX), p->val, errstr, errstr_size)) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    rd_kafka_conf_set_opaque(conf, snk);
    rd_kafka_conf_set_log_cb(conf, kf_kafka_log_cb);
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
int kf_positions_read(struct sf_sink *snk, char *errstr, size_t errstr_size)
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
    long long deadline = sf_mono_ms() + POSITIONS_READ_MS;
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
            if (sf_mono_ms() >= deadline) {
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
                    if (kf_rate_allow(ctx, -200000 - (int)m->err, &suppressed)) {
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
    if (kf_pos_record_apply(ctx, found, found_len, why, sizeof(why)) != SF_OK) {
        (void)snprintf(errstr, errstr_size,
                       "the position record at offset %lld of topic \"%s\" is unreadable: %s",
                       (long long)found_at, topic, why);
        ret = SF_ERR_DATA;
    } else {
        size_t npos = sf_positions_count(&ctx->pos);
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
