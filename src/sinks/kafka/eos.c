/* eos.c: exactly-once: one Kafka transaction per take transaction, eos_filter (see kafka_int.h). */
#include "kafka_int.h"

/* ---- exactly-once: one Kafka transaction per take transaction ---- */

/* Give the producer up (fatal error, failed abort, unknown outcome): roll the open batch back;
 * the next process() creates a producer, whose init_transactions ends the open transaction, and
 * reads the positions again. */
static void eos_reset(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    ctx->in_txn = false;
    sf_positions_discard(&ctx->pos);
    if (ctx->rk) {
        kf_producer_reset(snk, true); /* purges, waits for the reports, destroys, rolls back */
    } else {
        sf_sink_pipeline_rollback_all(&ctx->pl);
    }
    ctx->txn_ready = ctx->pos_loaded = false;
}

/* Abort the open Kafka transaction and roll the channel transaction back. */
static void eos_abort(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    atomic_fetch_add(&snk->metrics.write_fail, 1);
    rd_kafka_error_t *e = rd_kafka_abort_transaction(ctx->rk, ABORT_WAIT_MS);
    if (e) {
        SF_ERROR(SF_SINK_FMT "could not abort the kafka transaction: %s; recreating the producer",
                 SF_SINK_ARGS(snk), rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        eos_reset(snk);
        return;
    }
    long long deadline = sf_mono_ms() + ABORT_WAIT_MS;
    while (!kf_all_reported(ctx) && sf_mono_ms() < deadline) {
        rd_kafka_poll(ctx->rk, 100);
    }
    if (!kf_all_reported(ctx)) {
        eos_reset(snk); /* librdkafka may still hold the bodies: only destroying lets go */
        return;
    }
    ctx->in_txn = false;
    sf_positions_discard(&ctx->pos);
    sf_sink_pipeline_rollback_all(&ctx->pl);
}

/* The Kafka commit succeeded: the batch's positions are committed; it acknowledges every event
 * of the batch, so the pipeline commits the channel transaction (unless the test hook simulates
 * a crash right here). */
static void eos_committed(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    struct sf_pipeline_batch *pb = sf_sink_pipeline_at(&ctx->pl, 0);
    /* commit_transaction served every report (it flushes); be sure before reusing the slot */
    for (int i = 0; i < 100 && !kf_all_reported(ctx); i++) {
        rd_kafka_poll(ctx->rk, 10);
    }
    ctx->in_txn = false;
    ctx->committed_seq = ctx->txn_seq;
    sf_positions_commit(&ctx->pos);
    if (ctx->crash_after > 0 && ++ctx->commits == ctx->crash_after) {
        SF_WARN(SF_SINK_FMT "test hook: crashing after Kafka commit %lld, before the channel "
                            "commit",
                SF_SINK_ARGS(snk), ctx->commits);
        if (ctx->crash_kill) {
            (void)raise(SIGKILL);
        }
        ctx->crashed = true;
        return;
    }
    /* a failed channel commit (which our channels' take semantics rule out) would bring the
     * events back, to be skipped since Kafka has them */
    (void)sf_sink_pipeline_ack(&ctx->pl, pb, pb->n - pb->acked);
    sf_sink_pipeline_settle(&ctx->pl);
}

/*
 * errors.tolerance = none: before anything of the n taken events is produced, find the first one
 * too large for message.max.bytes (librdkafka would refuse it). When there is one: when it is the
 * first, stop the sink (sink_fail: nothing of it or after it goes); else take only the events
 * before it next time (sf_sink_pipeline_limit_next), so that they are delivered and committed
 * without it. @return SF_OK, or SF_ERR_DATA when the batch must be rolled back untouched (the
 * pipeline does so when send returns it).
 */
int kf_precheck(struct sf_sink *snk, struct sf_event *const *evs, size_t n)
{
    struct kafka_ctx *ctx = snk->ctx;
    size_t size = 0;
    size_t k = ctx->tolerate ? n : kf_first_oversize(ctx, evs, n, &size);
    if (k == n) {
        return SF_OK;
    }
    if (k == 0) {
        kf_sink_fail(snk, evs[0], RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, kf_topic_of(ctx, evs[0]),
                     size, false);
    } else {
        sf_sink_pipeline_limit_next(&ctx->pl, k);
    }
    return SF_ERR_DATA;
}

/*
 * Decide, for the taken events, which to produce: those without (table, offset) headers, and
 * those that Kafka does not have (sf_positions_admit, per (topic, table)). The state advances as
 * it goes (so a row that the source sent twice in one batch goes once). Fills ctx->send.
 * @return the number of events to produce
 */
static size_t eos_filter(struct sf_sink *snk, struct sf_event **evs, size_t n)
{
    struct kafka_ctx *ctx = snk->ctx;
    size_t m = 0;
    char who[160];
    (void)snprintf(who, sizeof(who), SF_SINK_FMT, SF_SINK_ARGS(snk));
    for (size_t i = 0; i < n; i++) {
        struct sf_event *ev = evs[i];
        const char *table = sf_event_header(ev, SF_HDR_TABLE);
        const char *off = sf_event_header(ev, SF_HDR_OFFSET);
        if (!table || !*table || !off || !*off ||
            sf_positions_admit(&ctx->pos, kf_topic_of(ctx, ev), table, off, who)) {
            ctx->send[m++] = ev;
        }
    }
    return m;
}

/*
 * The pipeline's send exactly once: produce what Kafka does not have yet of the new batch pb
 * inside a new Kafka transaction, with its position record. A batch Kafka has entirely is
 * acknowledged at once (only its positions end it). pb is not timed: the Kafka commit is its
 * acknowledgement. @return SF_OK (a Kafka transaction is open, or pb is acknowledged), else an
 * error: pb is rolled back (by the pipeline, or by eos_abort / eos_reset here).
 */
static int eos_send(struct sf_sink *snk, struct sf_pipeline_batch *pb)
{
    struct kafka_ctx *ctx = snk->ctx;
    size_t n = pb->n;
    pb->sent_us = 0;
    int rc = kf_precheck(snk, pb->evs, n);
    if (rc != SF_OK) {
        return rc;
    }
    size_t m = eos_filter(snk, pb->evs, n);
    unsigned suppressed;
    if (m < n) {
        ctx->skipped += (long long)(n - m);
        if (kf_rate_allow(ctx, -300001, &suppressed)) {
            SF_INFO(SF_SINK_FMT "exactly-once: skipped %zu of %zu events that Kafka has already "
                                "(%lld so far)",
                    SF_SINK_ARGS(snk), n - m, n, ctx->skipped);
        }
    }
    if (m == 0) {
        sf_positions_commit(&ctx->pos); /* nothing produced: only ends the batch */
        (void)sf_sink_pipeline_ack(&ctx->pl, pb, n);
        return SF_OK;
    }
    struct kbatch *b = &ctx->kb[pb->slot];
    kf_batch_init(ctx, b);
    rd_kafka_error_t *e = rd_kafka_begin_transaction(ctx->rk);
    if (e) {
        SF_ERROR(SF_SINK_FMT "could not begin a kafka transaction: %s; recreating the producer",
                 SF_SINK_ARGS(snk), rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
        eos_reset(snk);
        return SF_ERR_DELIVERY;
    }
    ctx->in_txn = true;
    ctx->txn_seq++;
    ctx->begun++;
    /* The position record right before the batch: librdkafka registers partitions with the
     * transaction 1 ms after the first message to a new one, so both go in one
     * AddPartitionsToTxn request (a round trip less than when the record follows the batch). */
    kf_pos_record_build(ctx);
    if (ctx->pos_buf.len > POSITIONS_WARN_BYTES && kf_rate_allow(ctx, -300003, &suppressed)) {
        SF_WARN(SF_SINK_FMT "exactly-once: the position record has %zu bytes (%zu topic and table "
                            "pairs): the topics' max.message.bytes and kafka.producer."
                            "message.max.bytes must allow it",
                SF_SINK_ARGS(snk), ctx->pos_buf.len, ctx->pos.n);
    }
    size_t j = kf_produce_prepare(snk, b, ctx->send, m);
    struct kmsg *pkm = &b->msg[m];
    *pkm = (struct kmsg){ .b = b, .state = KM_PENDING };
    b->pending++;
    if (rd_kafka_produce(ctx->pos_rkt, 0, RD_KAFKA_MSG_F_COPY, ctx->pos_buf.data, ctx->pos_buf.len,
                         ctx->txn_id, strlen(ctx->txn_id), pkm) != 0) {
        kf_refuse(pkm, rd_kafka_last_error(), ctx->positions_topic);
    }
    kf_produce_send(snk, j);
    /* events too large for message.max.bytes never enter the transaction (a refused message
     * would abort it): errors.tolerance = all dead-letters or logs them in it (none stopped at
     * kf_precheck); an invalid topic under none stops the sink */
    for (size_t i = 0; b->failed == 0 && i < m; i++) {
        if (b->msg[i].state == KM_PERM) {
            kf_handle_failed(snk, b, i);
        }
    }
    if (ctx->pl.halted) {
        eos_abort(snk);
        return SF_ERR_DELIVERY;
    }
    if (b->failed > 0) {
        /* a message librdkafka refused is not in the transaction: committing would lose it */
        if (kf_rate_allow(ctx, -100000 - (int)b->err, &suppressed)) {
            SF_ERROR(SF_SINK_FMT "could not produce %zu of %zu events to topic \"%s\": %s; "
                                 "aborting the kafka transaction and rolling back",
                     SF_SINK_ARGS(snk), b->failed, m, b->err_topic, rd_kafka_err2str(b->err));
        }
        eos_abort(snk);
        return SF_ERR_DELIVERY;
    }
    return SF_OK;
}

/* One bounded attempt (timeout_ms) at committing the open Kafka transaction. */
static enum sf_status eos_commit(struct sf_sink *snk, int timeout_ms)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->crash_before > 0 && ctx->begun == ctx->crash_before) {
        /* test hook: the transaction's messages in the partitions' logs, no commit */
        rd_kafka_resp_err_t ferr = rd_kafka_flush(ctx->rk, 30000);
        SF_WARN(SF_SINK_FMT "test hook: killing the agent before committing Kafka transaction "
                            "%lld (its messages flushed: %s)",
                SF_SINK_ARGS(snk), ctx->txn_seq, rd_kafka_err2str(ferr));
        (void)raise(SIGKILL);
    }
    rd_kafka_error_t *e = rd_kafka_commit_transaction(ctx->rk, timeout_ms);
    if (!e) {
        eos_committed(snk);
        return SF_READY;
    }
    unsigned suppressed;
    if (rd_kafka_error_is_retriable(e) && !rd_kafka_error_is_fatal(e)) {
        /* the commit goes on in the background: call again to resume it */
        if (kf_rate_allow(ctx, -400000, &suppressed)) {
            SF_WARN(SF_SINK_FMT "kafka transaction %lld not committed yet: %s", SF_SINK_ARGS(snk),
                    ctx->txn_seq, rd_kafka_error_string(e));
        }
        rd_kafka_error_destroy(e);
        return SF_READY;
    }
    if (rd_kafka_error_txn_requires_abort(e)) {
        if (kf_rate_allow(ctx, -400001, &suppressed)) {
            SF_ERROR(SF_SINK_FMT "could not commit kafka transaction %lld: %s; aborting it and "
                                 "rolling back%s",
                     SF_SINK_ARGS(snk), ctx->txn_seq, rd_kafka_error_string(e),
                     suppressed ? " (similar failures suppressed)" : "");
        }
        rd_kafka_error_destroy(e);
        eos_abort(snk);
        return SF_FAILED;
    }
    SF_ERROR(SF_SINK_FMT "could not commit kafka transaction %lld: %s; rolling back and "
                         "recreating the producer",
             SF_SINK_ARGS(snk), ctx->txn_seq, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    atomic_fetch_add(&snk->metrics.write_fail, 1);
    eos_reset(snk);
    return SF_FAILED;
}

/* The pipeline's flush_wait exactly once: the batch in flight is acknowledged by its Kafka
 * commit, which flushes (no lingering) and waits for every report: one attempt of TXN_STEP_MS,
 * librdkafka's commit step, whatever max_ms (a shorter attempt would only fail and log). */
static enum sf_status eos_flush_wait(struct sf_sink *snk, int max_ms)
{
    (void)max_ms;
    return eos_commit(snk, TXN_STEP_MS);
}

const struct sf_sink_pipeline_ops kf_eos_ops = {
    .send = eos_send,
    .flush_wait = eos_flush_wait,
};

enum sf_status kf_eos_process(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->crashed || (ctx->pl.halted && !ctx->in_txn)) {
        return SF_BACKOFF;
    }
    char err[512];
    if (!ctx->rk) {
        if (kf_producer_create(snk, err, sizeof(err)) != SF_OK) {
            SF_ERROR(SF_SINK_FMT "%s", SF_SINK_ARGS(snk), err);
            return SF_FAILED;
        }
    }
    if (atomic_load(&ctx->fatal)) {
        eos_reset(snk);
        return SF_FAILED;
    }
    if (!ctx->txn_ready) {
        rd_kafka_error_t *e = rd_kafka_init_transactions(ctx->rk, TXN_STEP_MS);
        if (e) {
            bool retry = rd_kafka_error_is_retriable(e) && !rd_kafka_error_is_fatal(e);
            unsigned suppressed;
            if (!retry || kf_rate_allow(ctx, -400002, &suppressed)) {
                SF_WARN(SF_SINK_FMT "kafka init_transactions (transactional.id \"%s\"): %s%s",
                        SF_SINK_ARGS(snk), ctx->txn_id, rd_kafka_error_string(e),
                        retry ? "; still trying" : "; recreating the producer");
            }
            rd_kafka_error_destroy(e);
            if (!retry) {
                eos_reset(snk);
            }
            return SF_FAILED;
        }
        ctx->txn_ready = true;
    }
    if (!ctx->pos_loaded) {
        int rc = kf_positions_read(snk, err, sizeof(err));
        if (rc != SF_OK) {
            unsigned suppressed;
            if (rc != SF_ERR_STOPPED && kf_rate_allow(ctx, -400003, &suppressed)) {
                SF_ERROR(SF_SINK_FMT "exactly-once: could not read the stored positions: %s; "
                                     "nothing is delivered until they are read",
                         SF_SINK_ARGS(snk), err);
            }
            return SF_FAILED;
        }
        ctx->pos_loaded = true;
    }
    /* takes and sends a batch (eos_send) when none is open, else commits it (eos_flush_wait) */
    return sf_sink_pipeline_process(&ctx->pl);
}

/* stop() of the exactly-once mode: finish the open Kafka transaction within flushTimeout (then
 * commit the channel transaction) or roll back. */
void kf_eos_stop(struct sf_sink *snk)
{
    struct kafka_ctx *ctx = snk->ctx;
    if (ctx->rk && ctx->in_txn && !ctx->crashed && !atomic_load(&ctx->fatal)) {
        int timeout_ms = ctx->flush_timeout_ms > INT32_MAX ? INT32_MAX : (int)ctx->flush_timeout_ms;
        rd_kafka_error_t *e = rd_kafka_commit_transaction(ctx->rk, timeout_ms);
        if (!e) {
            eos_committed(snk);
        } else {
            SF_WARN(SF_SINK_FMT "kafka transaction %lld not committed within flushTimeout (%lld "
                                "ms): %s; rolling back its %zu events",
                    SF_SINK_ARGS(snk), ctx->txn_seq, ctx->flush_timeout_ms,
                    rd_kafka_error_string(e), sf_sink_pipeline_at(&ctx->pl, 0)->n);
            rd_kafka_error_destroy(e);
            e = rd_kafka_abort_transaction(ctx->rk, 1000);
            rd_kafka_error_destroy(e); /* NULL is fine; the next start ends it anyway */
        }
    }
    if (ctx->rk && ctx->pl.count > 0 && !kf_all_reported(ctx)) {
        rd_kafka_purge(ctx->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        long long deadline = sf_mono_ms() + PURGE_WAIT_MS;
        while (!kf_all_reported(ctx) && sf_mono_ms() < deadline) {
            rd_kafka_poll(ctx->rk, 100);
        }
    }
    if (ctx->skipped > 0) {
        SF_INFO(SF_SINK_FMT "exactly-once: %lld events were not produced again since Kafka had "
                            "them",
                SF_SINK_ARGS(snk), ctx->skipped);
    }
    kf_producer_destroy(snk); /* librdkafka lets go of every body here at the latest */
    ctx->in_txn = false;
    sf_positions_discard(&ctx->pos);
    sf_sink_pipeline_rollback_all(&ctx->pl);
    sf_positions_free(&ctx->pos);
    sf_buf_free(&ctx->pos_buf);
    free(ctx->send);
    ctx->send = NULL;
}
