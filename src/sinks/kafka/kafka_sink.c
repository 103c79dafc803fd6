/* kafka_sink.c: the plugin and lifecycle: options table, start/stop, process (see kafka_int.h). */
#include "kafka_int.h"

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
    { "useFlumeEventFormat", SF_OPT_BOOL, "false", 0, 0,
      offsetof(struct kafka_ctx, flume_event_format), 0, NULL, NULL,
      "whether each message is Flume's AvroFlumeEvent (Avro binary: the event's headers and "
      "body, as Flume's KafkaSource and KafkaChannel read with useFlumeEventFormat) instead of "
      "the body alone" },
    { "timestampHeader", SF_OPT_STRING, NULL, 0, 0, offsetof(struct kafka_ctx, timestamp_header), 0,
      NULL, NULL,
      "name of the header whose value (milliseconds since the epoch) becomes the message "
      "timestamp, e.g. timestamp (the capture time); unset or not a number: the time of "
      "producing" },
    { HEADER_PREFIX, SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "header.NAME = KAFKA_NAME sends the event's header NAME with each message as the Kafka "
      "header KAFKA_NAME (events without NAME get no such header)" },
    { "maxInFlightBatches", SF_OPT_INT, "16", 1, 1024, offsetof(struct kafka_ctx, max_inflight), 0,
      NULL, NULL,
      "take transactions (batches) produced and awaiting delivery reports at once (1 with "
      "kafka.producer.transactional.id)" },
    { "flushTimeout", SF_OPT_INT, "10000", 0, 3600000, offsetof(struct kafka_ctx, flush_timeout_ms),
      0, NULL, NULL,
      "milliseconds stop waits for in-flight batches (or the open Kafka transaction's commit) "
      "before rolling them back" },
    { "kafka.producer.transactional.id", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct kafka_ctx, txn_id), 0, NULL, NULL,
      "turns on exactly-once delivery: each batch is one Kafka transaction of this producer id "
      "(unique per sink, stable across restarts) that also stores, per topic and table header, "
      "which offset headers are delivered (the highest; for integer offsets the ids below it not "
      "yet delivered) in kafka.positions.topic, so events the source reads again after a crash are "
      "not produced twice; consumers read with isolation.level = read_committed; one batch in "
      "flight (maxInFlightBatches is not used) and acks = all" },
    { "kafka.positions.topic", SF_OPT_STRING, "__sqlflume_positions", 0, 0,
      offsetof(struct kafka_ctx, positions_topic), 0, NULL, NULL,
      "topic whose partition 0 holds the position records of transactional sinks, keyed by "
      "transactional.id (best created beforehand with cleanup.policy = compact; start-up reads "
      "its tail with isolation.level = read_committed)" },
    { PRODUCER_PREFIX, SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "any librdkafka producer property, e.g. kafka.producer.compression.type = lz4" },
    { "errors.tolerance", SF_OPT_STRING, "none", 0, 0, offsetof(struct kafka_ctx, errors_tolerance),
      0, NULL, NULL,
      "what an event with a permanent error does (larger than kafka.producer.message.max.bytes or "
      "the topic's max.message.bytes, an invalid record, not authorised, an unknown topic): none "
      "stops the sink and the agent (exit code 1) with an ERROR line, its offset and every "
      "later one not committed; all sends it to errors.deadletterqueue.topic.name or logs it "
      "(errors.log.enable) and goes on. Retriable errors are retried, failed messages only, "
      "waiting 100 ms doubling to 10 s" },
    { "errors.deadletterqueue.topic.name", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct kafka_ctx, dlq_topic), 0, NULL, NULL,
      "with errors.tolerance = all: topic that gets each failed event (its body, key and Kafka "
      "headers, plus headers " DLQ_HDR_PREFIX "topic, table, offset, sink.name and "
      "exception.message; a body over the size limit is cut to it, with header " DLQ_HDR_PREFIX
      "body.truncated = the original length)" },
    { "errors.log.enable", SF_OPT_BOOL, "false", 0, 0, offsetof(struct kafka_ctx, errors_log), 0,
      NULL, NULL,
      "with errors.tolerance = all: log one ERROR line per failed event (rate-limited); needed "
      "when there is no errors.deadletterqueue.topic.name" },
    { "testCrashAfterCommits", SF_OPT_INT, "0", 0, LLONG_MAX,
      offsetof(struct kafka_ctx, crash_after), 0, NULL, NULL,
      "number of the Kafka commit after which the sink freezes before committing the channel "
      "transaction, as a crash there would (tests only; 0 = off; only with "
      "kafka.producer.transactional.id)" },
    { "testCrashKill", SF_OPT_BOOL, "false", 0, 0, offsetof(struct kafka_ctx, crash_kill), 0, NULL,
      NULL,
      "whether testCrashAfterCommits kills the agent with SIGKILL instead of freezing the "
      "sink (tests only)" },
    { "testCrashBeforeCommit", SF_OPT_INT, "0", 0, LLONG_MAX,
      offsetof(struct kafka_ctx, crash_before), 0, NULL, NULL,
      "number of the Kafka transaction (since start) before whose commit the agent kills itself "
      "with SIGKILL, once every message of the transaction is acknowledged: a crash in the middle "
      "of a transaction (tests only; 0 = off; only with kafka.producer.transactional.id)" },
    { 0 },
};

/* ---- at least once: the pipeline's ops (sqlflume/sink_pipeline.h) ---- */

/* Produce the new batch pb: the size pre-check (errors.tolerance = none), then every message. */
static int alo_send(struct sf_sink *snk, struct sf_pipeline_batch *pb)
{
    struct kafka_ctx *ctx = snk->ctx;
    int rc = kf_precheck(snk, pb->evs, pb->n);
    if (rc != SF_OK) {
        return rc;
    }
    struct kbatch *b = &ctx->kb[pb->slot];
    kf_batch_init(ctx, b);
    kf_produce_send(snk, kf_produce_prepare(snk, b, pb->evs, pb->n));
    return SF_OK;
}

/* Serve the delivery reports that are in, and produce again what is due. */
static void alo_poll(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    rd_kafka_poll(ctx->rk, 0);
    kf_service(snk);
}

static enum sf_status alo_flush_wait(struct sf_sink *snk, int max_ms)
{
    struct kafka_ctx *ctx = snk->ctx;
    kf_wait_acks(snk, max_ms);
    return ctx->pl.halted ? SF_BACKOFF : SF_READY;
}

/* Whether waiting cannot complete the oldest batch: the producer failed, or errors.tolerance =
 * none stopped the sink at (or before) it. */
static bool alo_stalled(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    struct kbatch *b = kf_ring_at(ctx, 0);
    return atomic_load(&ctx->fatal) ||
           (ctx->pl.halted &&
            (kf_batch_stuck(b) || (b->pb->seq >= ctx->dead_seq && b->pending == 0)));
}

static const struct sf_sink_pipeline_ops alo_ops = {
    .send = alo_send,
    .poll = alo_poll,
    .flush_wait = alo_flush_wait,
    .stalled = alo_stalled,
};

static enum sf_status kafka_step(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->txn_id) {
        return kf_eos_process(snk);
    }
    if (!ctx->rk) {
        char err[512];
        if (kf_producer_create(snk, err, sizeof(err)) != SF_OK) {
            SF_ERROR(SF_SINK_FMT "%s", SF_SINK_ARGS(snk), err);
            return SF_FAILED;
        }
    }
    if (atomic_load(&ctx->fatal)) {
        kf_producer_reset(snk, false);
        return SF_FAILED;
    }
    return sf_sink_pipeline_process(&ctx->pl);
}

static void kafka_stop(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->txn_id) {
        kf_eos_stop(snk);
    } else if (ctx->rk) {
        if (sf_sink_pipeline_drain(&ctx->pl, ctx->flush_timeout_ms) > 0) {
            size_t events = sf_sink_pipeline_events(&ctx->pl);
            if (ctx->pl.halted) {
                SF_WARN(SF_SINK_FMT "the sink failed: rolling back %zu batches (%zu events) from "
                                    "the failed event on; the channel keeps them (their messages "
                                    "that Kafka acknowledged already are sent again after the "
                                    "restart)",
                        SF_SINK_ARGS(snk), ctx->pl.count, events);
            } else {
                SF_WARN(SF_SINK_FMT "%zu batches (%zu events) not delivered within flushTimeout "
                                    "(%lld ms): rolling back what is not acknowledged",
                        SF_SINK_ARGS(snk), ctx->pl.count, events, ctx->flush_timeout_ms);
            }
            rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
            long long deadline = sf_mono_ms() + PURGE_WAIT_MS;
            while (!kf_all_reported(ctx) && sf_mono_ms() < deadline) {
                rd_kafka_poll(ctx->rk, 100);
            }
            /* commit what was delivered in order before the first failure */
            sf_sink_pipeline_settle(&ctx->pl);
        }
        kf_producer_destroy(snk); /* librdkafka lets go of every body here at the latest */
        sf_sink_pipeline_summary(&ctx->pl);
    }
    sf_sink_pipeline_free(&ctx->pl); /* rolls back what is left, newest first */
    kf_topic_parts_free(ctx);
    sf_buf_free(&ctx->topic_buf);
    kf_grp_free(ctx);
    for (size_t i = 0; ctx->kb && i < (size_t)ctx->max_inflight; i++) {
        KF_FREE(ctx->kb[i].evs);
        KF_FREE(ctx->kb[i].msg);
    }
    for (size_t i = 0; ctx->avro && i < (size_t)ctx->max_inflight; i++) {
        sf_buf_free(&ctx->avro[i]);
    }
    KF_FREE(ctx->kb);
    KF_FREE(ctx->avro);
    KF_FREE(ctx->avro_at);
    KF_FREE(ctx->msg_ev);
    KF_FREE(ctx->hdr_from);
    KF_FREE(ctx->hdr_to);
    ctx->nhdr = 0;
    KF_FREE(ctx->msgs);
    KF_FREE(ctx->msg_rkt);
    KF_FREE(ctx->msg_rkt_temp);
    pthread_mutex_destroy(&ctx->rate_mu);
}

/* Collect the header.NAME = KAFKA_NAME keys (kf_configure checked them) into hdr_from / hdr_to.
 * @return SF_OK or SF_ERR_NOMEM (errstr filled). */
static int headers_parse(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct kafka_ctx *ctx = snk->ctx;
    size_t n = 0;
    for (size_t i = 0; snk->conf && i < snk->conf->n; i++) {
        n += strncmp(sf_section_subkey(snk->conf, snk->conf->v[i]), HEADER_PREFIX,
                     strlen(HEADER_PREFIX)) == 0;
    }
    if (n == 0) {
        return SF_OK;
    }
    ctx->hdr_from = calloc(n, sizeof(*ctx->hdr_from));
    ctx->hdr_to = calloc(n, sizeof(*ctx->hdr_to));
    if (!ctx->hdr_from || !ctx->hdr_to) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < snk->conf->n; i++) {
        const struct sf_prop *p = snk->conf->v[i];
        const char *sub = sf_section_subkey(snk->conf, p);
        if (strncmp(sub, HEADER_PREFIX, strlen(HEADER_PREFIX)) != 0) {
            continue;
        }
        ctx->hdr_from[ctx->nhdr] = sub + strlen(HEADER_PREFIX); /* kf_configure: not empty */
        ctx->hdr_to[ctx->nhdr++] = p->val;
    }
    return SF_OK;
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
    ctx->dead_seq = LLONG_MAX;
    /* kf_configure checked errors.* */
    ctx->tolerate = strcasecmp(ctx->errors_tolerance, "all") == 0;
    if (ctx->dlq_topic && !*ctx->dlq_topic) {
        free(ctx->dlq_topic);
        ctx->dlq_topic = NULL;
    }
    atomic_store(&ctx->fatal, false);
    ctx->msgs = calloc(ctx->batch, sizeof(*ctx->msgs));
    ctx->msg_rkt = calloc(ctx->batch, sizeof(rd_kafka_topic_t *));
    ctx->msg_rkt_temp = calloc(ctx->batch, sizeof(*ctx->msg_rkt_temp));
    ctx->kb = calloc((size_t)ctx->max_inflight, sizeof(*ctx->kb));
    /* grouping by partition is an optimisation: without its scratch, librdkafka partitions */
    ctx->grp_part = calloc(ctx->batch, sizeof(*ctx->grp_part));
    ctx->grp_count = calloc(PARTS_GROUP_MAX + 1, sizeof(*ctx->grp_count));
    ctx->grp_msgs = calloc(ctx->batch, sizeof(*ctx->grp_msgs));
    if (!ctx->grp_part || !ctx->grp_count || !ctx->grp_msgs) {
        kf_grp_free(ctx);
    }
    int rc = SF_ERR_NOMEM;
    if (!ctx->msgs || !ctx->msg_rkt || !ctx->msg_rkt_temp || !ctx->kb ||
        kf_topic_parse(ctx) != SF_OK) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    /* exactly once: one batch at a time, each a Kafka transaction */
    if (sf_sink_pipeline_init(&ctx->pl, snk, ctx->txn_id ? &kf_eos_ops : &alo_ops,
                              ctx->txn_id ? 1 : ctx->max_inflight,
                              (long long)ctx->batch) != SF_OK) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ctx->pl.max_inflight; i++) {
        ctx->kb[i].pb = &ctx->pl.ring[i];
    }
    if ((rc = headers_parse(snk, errstr, errstr_size)) != SF_OK) {
        goto fail;
    }
    rc = SF_ERR_NOMEM;
    ctx->per_msg = ctx->nhdr > 0 || ctx->timestamp_header;
    if ((ctx->per_msg && !(ctx->msg_ev = calloc(ctx->batch, sizeof(*ctx->msg_ev)))) ||
        (ctx->flume_event_format &&
         (!(ctx->avro = calloc((size_t)ctx->max_inflight, sizeof(*ctx->avro))) ||
          !(ctx->avro_at = calloc(ctx->batch, sizeof(*ctx->avro_at)))))) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (ctx->txn_id) {
        ctx->pos_buf = (struct sf_buf)SF_BUF_INIT;
        ctx->send = calloc(ctx->batch, sizeof(struct sf_event *));
        if (!ctx->send) {
            (void)snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
        ctx->in_txn = ctx->crashed = false;
        ctx->txn_seq = 0;
        ctx->committed_seq = -1;
        ctx->skipped = ctx->commits = ctx->begun = 0;
        if (ctx->crash_after > 0) {
            SF_WARN(SF_SINK_FMT "test hook testCrashAfterCommits = %lld%s is set",
                    SF_SINK_ARGS(snk), ctx->crash_after, ctx->crash_kill ? " (kill)" : "");
        }
        if (ctx->crash_before > 0) {
            SF_WARN(SF_SINK_FMT "test hook testCrashBeforeCommit = %lld is set", SF_SINK_ARGS(snk),
                    ctx->crash_before);
        }
    }
    if ((rc = kf_producer_create(snk, errstr, errstr_size)) != SF_OK) {
        goto fail;
    }
    if (ctx->txn_id) {
        SF_INFO(SF_SINK_FMT "producing to topic \"%s\" via %s exactly once: up to %zu events per "
                            "Kafka transaction (transactional.id \"%s\", positions in topic "
                            "\"%s\")",
                SF_SINK_ARGS(snk), ctx->topic, ctx->bootstrap, ctx->batch, ctx->txn_id,
                ctx->positions_topic);
    } else {
        long long cap = snk->ch->capacity;
        long long fit = cap > 0 ? cap / (long long)ctx->batch : ctx->max_inflight;
        char limit[256] = "";
        if (fit < ctx->max_inflight) {
            /* taken events count against the channel's capacity until their batch commits */
            (void)snprintf(limit, sizeof(limit),
                           " (at most %lld: channel \"%s\" holds %lld events, taken ones "
                           "included, so the sink sends each batch at once when it can take "
                           "no more)",
                           fit < 1 ? 1 : fit, snk->ch->name, cap);
        }
        SF_INFO(SF_SINK_FMT "producing to topic \"%s\" via %s: up to %zu events per batch, %lld "
                            "batches in flight%s",
                SF_SINK_ARGS(snk), ctx->topic, ctx->bootstrap, ctx->batch, ctx->max_inflight,
                limit);
    }
    return SF_OK;
fail:
    kafka_stop(snk);
    return rc;
}

static const char *const kafka_aliases[] = { "org.apache.flume.sink.kafka.KafkaSink", NULL };

/* One step; SF_FATAL once kf_sink_fail stopped the sink (errors.tolerance = none), so that the
 * runner stops the agent (exit code 1) while the batches before the failed event still commit. */
static enum sf_status kafka_process(struct sf_sink *snk)
{
    enum sf_status st = kafka_step(snk);
    return ((struct kafka_ctx *)snk->ctx)->pl.halted ? SF_FATAL : st;
}

const struct sf_sink_plugin sf_sink_kafka = {
    .name = "kafka",
    .aliases = kafka_aliases,
    .options = kafka_options,
    .ctx_size = sizeof(struct kafka_ctx),
    .configure = kf_configure,
    .start = kafka_start,
    .process = kafka_process,
    .stop = kafka_stop,
};
