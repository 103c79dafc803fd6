/*
 * Flume's NullSink ("null", org.apache.flume.sink.NullSink): takes up to batchSize events per
 * take transaction and commits, discarding them. Useful to measure sources and channels, and to
 * drain a channel on purpose. Counters follow Flume's SinkCounter.
 */
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/sinks.h"

#include <stdio.h>
#include <stdlib.h>

/* How long a take waits for the first event of a batch; short so stop is noticed quickly. */
#define TAKE_WAIT_MS 100

struct null_ctx {
    long long batch_size;
    struct sf_event **evs; /* take buffer of batch slots */
    size_t batch;          /* min(batchSize, channel transactionCapacity) */
};

static const struct sf_option null_options[] = {
    { "batchSize", SF_OPT_INT, "100", 1, 1000000, offsetof(struct null_ctx, batch_size), 0, NULL,
      NULL, "maximum number of events taken per channel transaction" },
    { 0 },
};

static int null_start(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct null_ctx *ctx = snk->ctx;
    ctx->batch = (size_t)ctx->batch_size;
    if (snk->ch->txn_capacity > 0 && (long long)ctx->batch > snk->ch->txn_capacity) {
        ctx->batch = (size_t)snk->ch->txn_capacity;
    }
    ctx->evs = calloc(ctx->batch, sizeof(struct sf_event *));
    if (!ctx->evs) {
        (void)snprintf(errstr, errstr_size, "out of memory for a batch of %zu events", ctx->batch);
        return SF_ERR_NOMEM;
    }
    atomic_fetch_add(&snk->metrics.connection_created, 1);
    return SF_OK;
}

static enum sf_status null_process(struct sf_sink *snk)
{
    struct null_ctx *ctx = snk->ctx;
    struct sf_txn *txn = sf_channel_txn_begin(snk->ch);
    if (!txn) {
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        return SF_BACKOFF;
    }
    size_t n = 0;
    int rc = sf_channel_take(txn, ctx->evs, ctx->batch, &n, TAKE_WAIT_MS);
    if (rc == SF_OK) {
        atomic_fetch_add(&snk->metrics.drain_attempt, (long long)n);
        rc = sf_channel_txn_commit(txn);
    }
    if (rc != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not take from channel \"%s\": %s", SF_SINK_ARGS(snk),
                 snk->ch->name, sf_err_str(rc));
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        sf_channel_txn_close(txn); /* rolls back */
        return SF_BACKOFF;
    }
    sf_channel_txn_close(txn);
    if (n == 0) {
        atomic_fetch_add(&snk->metrics.batch_empty, 1);
        return SF_BACKOFF;
    }
    atomic_fetch_add(n < ctx->batch ? &snk->metrics.batch_underflow : &snk->metrics.batch_complete,
                     1);
    atomic_fetch_add(&snk->metrics.drain_success, (long long)n);
    return SF_READY;
}

static void null_stop(struct sf_sink *snk)
{
    struct null_ctx *ctx = snk->ctx;
    free(ctx->evs);
    ctx->evs = NULL;
    atomic_fetch_add(&snk->metrics.connection_closed, 1);
}

static const char *const null_aliases[] = { "org.apache.flume.sink.NullSink", NULL };

const struct sf_sink_plugin sf_sink_null = {
    .name = "null",
    .aliases = null_aliases,
    .options = null_options,
    .ctx_size = sizeof(struct null_ctx),
    .start = null_start,
    .process = null_process,
    .stop = null_stop,
};
