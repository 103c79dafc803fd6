/* produce.c: producing: delivery reports, the in-flight ring, partitioning, headers, retries,
 * errors.tolerance and the dead-letter topic (see kafka_int.h). */
#include "kafka_int.h"

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

/* Record a failure of km (a report or a refusal): KM_PERM or KM_RETRY. A batch with a failure
 * is not timed. */
static void kmsg_fail(struct kmsg *km, rd_kafka_resp_err_t err, const char *topic)
{
    struct kbatch *b = km->b;
    b->pb->sent_us = 0;
    km->err = err;
    km->state = err_permanent(err) ? KM_PERM : KM_RETRY;
    if (b->failed++ == 0) {
        b->err = err;
        (void)snprintf(b->err_topic, sizeof(b->err_topic), "%s", topic ? topic : "");
    }
}

/* km is delivered (KM_OK) or handled by errors.tolerance (KM_DONE): at least once, that
 * acknowledges its event to the pipeline (exactly once, the Kafka commit acknowledges the whole
 * batch: eos_committed). */
static void kmsg_final(struct kafka_ctx *ctx, struct kmsg *km, enum kmsg_state state)
{
    km->state = state;
    if (!ctx->txn_id) {
        (void)sf_sink_pipeline_ack(&ctx->pl, km->b->pb, 1);
    }
}

/* Delivery report, served by rd_kafka_poll() / rd_kafka_flush() on the sink's thread. Outside
 * exactly-once, the last report of a batch makes the serving call return (rd_kafka_yield: the
 * reports of the same response are still all served), so that the sink commits and takes again at
 * once instead of at the end of its wait (kf_wait_acks). */
void kf_kafka_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct sf_sink *snk = opaque;
    struct kafka_ctx *ctx = snk->ctx;
    struct kmsg *km = m->_private;
    struct kbatch *b = km->b;
    b->pending--;
    if (!m->err) {
        kmsg_final(ctx, km, km->dlq ? KM_DONE : KM_OK);
        if (km->dlq) {
            atomic_fetch_add(&snk->metrics.event_dead_lettered, 1);
        }
    } else {
        kmsg_fail(km, m->err, m->rkt ? rd_kafka_topic_name(m->rkt) : "");
    }
    if (b->pending == 0 && !ctx->txn_id) {
        rd_kafka_yield(rk);
    }
}

/* ---- in-flight batches (the pipeline's, src/core/sink_pipeline.c) ---- */

/* The delivery state of the batch i places after the oldest in flight. */
struct kbatch *kf_ring_at(struct kafka_ctx *ctx, size_t i)
{
    return &ctx->kb[sf_sink_pipeline_at(&ctx->pl, i)->slot];
}

bool kf_all_reported(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->pl.count; i++) {
        if (kf_ring_at(ctx, i)->pending > 0) {
            return false;
        }
    }
    return true;
}

/* Record that km will never get a report (librdkafka refused it). */
void kf_refuse(struct kmsg *km, rd_kafka_resp_err_t err, const char *topic)
{
    km->b->pending--;
    kmsg_fail(km, err, topic);
}

/* librdkafka's queue is full: serve reports for QUEUE_FULL_WAIT_MS and return true to produce
 * again, or false once *give_up_ms (0 before the first wait: then set to QUEUE_FULL_MAX_MS from
 * now) has passed or the producer has failed fatally. */
static bool queue_full_wait(struct kafka_ctx *ctx, long long *give_up_ms)
{
    long long now = sf_mono_ms();
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
                kf_refuse(msgs[i]._private, msgs[i].err, rd_kafka_topic_name(rkt));
            }
        }
        if (retry == cnt) {
            return;
        }
        if (!queue_full_wait(ctx, &give_up_ms)) {
            for (size_t i = retry; i < cnt; i++) {
                kf_refuse(msgs[i]._private, RD_KAFKA_RESP_ERR__QUEUE_FULL,
                          rd_kafka_topic_name(rkt));
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
            if (kf_rate_allow(ctx, kf_str_key(ctx->partition_header), &suppressed)) {
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
size_t
kf_first_oversize(const struct kafka_ctx *ctx, struct sf_event *const *evs, size_t n, size_t *size)
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

/* The delivery state of a new batch in slot b (its event and message slots are kept across
 * batches). */
void kf_batch_init(struct kafka_ctx *ctx, struct kbatch *b)
{
    if (!b->evs) {
        b->evs = calloc(ctx->batch, sizeof(*b->evs));
        b->msg = calloc(ctx->batch + 1, sizeof(*b->msg));
        if (!b->evs || !b->msg) {
            abort(); /* as sf_buf does: nothing sensible to do without memory */
        }
    }
    b->nmsg = b->pending = b->failed = 0;
    b->err = RD_KAFKA_RESP_ERR_NO_ERROR;
    b->err_topic[0] = '\0';
    b->retry_at_ms = b->backoff_ms = 0;
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
    const char *topic = kf_topic_of(ctx, ev);
    ctx->msg_rkt[j] = *topic ? kf_topic_get(ctx, topic, &ctx->msg_rkt_temp[j]) : NULL;
    if (!ctx->msg_rkt[j]) {
        ctx->msg_rkt_temp[j] = false;
        km->state = KM_PERM;
        km->err = RD_KAFKA_RESP_ERR__INVALID_ARG;
        unsigned suppressed;
        if (kf_rate_allow(ctx, RD_KAFKA_RESP_ERR__INVALID_ARG, &suppressed)) {
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
size_t
kf_produce_prepare(struct sf_sink *snk, struct kbatch *b, struct sf_event *const *evs, size_t n)
{
    struct kafka_ctx *ctx = snk->ctx;
    struct sf_buf *ab = ctx->flume_event_format ? &ctx->avro[b->pb->slot] : NULL;
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
    if (kf_rate_allow(ctx, kf_str_key(ctx->timestamp_header), &suppressed)) {
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
            kf_refuse(m->_private, err, rd_kafka_topic_name(rkt));
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
    long long now = sf_mono_ms();
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
void kf_grp_free(struct kafka_ctx *ctx)
{
    KF_FREE(ctx->grp_part);
    KF_FREE(ctx->grp_count);
    KF_FREE(ctx->grp_msgs);
}

/* Produce the n messages that kf_produce_prepare() made ready. */
void kf_produce_send(struct sf_sink *snk, size_t n)
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
void kf_sink_fail(struct sf_sink *snk,
                  const struct sf_event *ev,
                  rd_kafka_resp_err_t err,
                  const char *topic,
                  size_t size,
                  bool dlq)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->pl.halted) {
        return;
    }
    ctx->pl.halted = true;
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
    hdr_add(hs, &hbytes, DLQ_HDR_PREFIX "topic", kf_topic_of(ctx, ev));
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
        kf_refuse(km, err, ctx->dlq_topic);
    }
}

/* Apply errors.tolerance to message i of b (KM_PERM): none stops the sink (sink_fail); all logs
 * it (errors.log.enable, or always without a dead-letter topic: never skipped silently) and
 * dead-letters it (KM_PENDING again) or marks it KM_DONE. A dead-letter record that failed for
 * good stops the sink too. */
void kf_handle_failed(struct sf_sink *snk, struct kbatch *b, size_t i)
{
    struct kafka_ctx *ctx = snk->ctx;
    struct kmsg *km = &b->msg[i];
    const struct sf_event *ev = b->evs[i];
    if (km->dlq) {
        kf_sink_fail(snk, ev, km->err, ctx->dlq_topic, msg_size(ctx, ev, km->len), true);
        if (b->pb->seq < ctx->dead_seq) {
            ctx->dead_seq = b->pb->seq;
        }
        return;
    }
    const char *topic = kf_topic_of(ctx, ev);
    size_t size = msg_size(ctx, ev, km->len);
    if (!ctx->tolerate) {
        kf_sink_fail(snk, ev, km->err, topic, size, false);
        if (b->pb->seq < ctx->dead_seq) {
            ctx->dead_seq = b->pb->seq; /* what follows it is not produced again */
        }
        return;
    }
    atomic_fetch_add(&snk->metrics.event_failed, 1);
    unsigned suppressed;
    if ((ctx->errors_log || !ctx->dlq_topic) && kf_rate_allow(ctx, -500000, &suppressed)) {
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
        kmsg_final(ctx, km, KM_DONE);
    }
}

/*
 * For every batch whose reports are all in: apply errors.tolerance to its KM_PERM messages, and
 * produce its KM_RETRY messages again (only those: what Kafka acknowledged is never sent twice)
 * once its backoff has passed: RETRY_FIRST_MS after the first failure, doubling per round up to
 * RETRY_MAX_MS. EventRetriedCount counts the messages produced again.
 */
void kf_service(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    long long now = sf_mono_ms();
    for (size_t r = 0; r < ctx->pl.count; r++) {
        struct kbatch *b = kf_ring_at(ctx, r);
        if (b->pending > 0 || (ctx->pl.halted && b->pb->seq >= ctx->dead_seq)) {
            continue;
        }
        size_t nretry = 0;
        for (size_t i = 0; i < b->nmsg; i++) {
            if (b->msg[i].state == KM_PERM && !ctx->pl.halted) {
                kf_handle_failed(snk, b, i);
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
            if (!purged && kf_rate_allow(ctx, -100000 - (int)b->err, &suppressed)) {
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
        b->pb->sent_us = 0; /* a round trip is timed for a batch's first produce only */
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
        kf_produce_send(snk, j);
        atomic_fetch_add(&snk->metrics.event_retried, (long long)nretry);
    }
}

/* Whether b can make no progress: every report is in and a message awaits errors.tolerance, which
 * a failed sink no longer applies. */
bool kf_batch_stuck(const struct kbatch *b)
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
 * The pipeline's flush_wait at least once: wait up to max_ms (less when a batch's retry is due
 * sooner) for acknowledgements while librdkafka sends what it holds at once: the sink can take
 * nothing more now (every batch slot is in flight, or the channel looked empty), so lingering
 * (linger.ms) would only delay the reports that free the channel. rd_kafka_flush() keeps the
 * producer in its flushing state for as long as it waits (librdkafka 2.0.2 skips linger.ms while a
 * flush() call is in progress, and wakes the broker threads when it starts; a flush(0) would end
 * before they look), serves the reports as they come and returns at the first batch whose reports
 * are all in (kafka_dr_cb yields), or when librdkafka holds nothing more. When it holds nothing
 * (every report is in: messages wait for their retry backoff) the wait is a plain poll. Then
 * produces what is due again (kf_service); the pipeline commits what is delivered.
 */
void kf_wait_acks(struct sf_sink *snk, int max_ms)
{
    struct kafka_ctx *ctx = snk->ctx;
    long long now = sf_mono_ms();
    long long wait = max_ms;
    for (size_t r = 0; r < ctx->pl.count; r++) {
        long long at = kf_ring_at(ctx, r)->retry_at_ms;
        if (at > 0 && at - now < wait) {
            wait = at > now ? at - now : 0;
        }
    }
    if (wait > 0 && rd_kafka_outq_len(ctx->rk) > 0) {
        rd_kafka_flush(ctx->rk, (int)wait);
    } else {
        rd_kafka_poll(ctx->rk, (int)wait);
    }
    kf_service(snk);
}

/* After a fatal producer error: purge, collect the reports and drop the producer; process()
 * creates a new one. With rollback (exactly-once: the open Kafka transaction is lost) every
 * in-flight batch is rolled back; otherwise the batches stay open and only their messages
 * without a successful report are produced again (KM_RETRY), by the new producer. */
void kf_producer_reset(struct sf_sink *snk, bool rollback)
{
    struct kafka_ctx *ctx = snk->ctx;
    rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    long long deadline = sf_mono_ms() + PURGE_WAIT_MS;
    while (!kf_all_reported(ctx) && sf_mono_ms() < deadline) {
        rd_kafka_poll(ctx->rk, 100);
    }
    kf_producer_destroy(snk);
    if (rollback) {
        SF_WARN(SF_SINK_FMT "recreating the kafka producer after its fatal error; rolling back "
                            "%zu in-flight batches",
                SF_SINK_ARGS(snk), ctx->pl.count);
        sf_sink_pipeline_rollback_all(&ctx->pl);
        return;
    }
    size_t again = 0;
    for (size_t r = 0; r < ctx->pl.count; r++) {
        struct kbatch *b = kf_ring_at(ctx, r);
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
            SF_SINK_ARGS(snk), again, ctx->pl.count);
}
