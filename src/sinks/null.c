/*
 * Flume's NullSink ("null", org.apache.flume.sink.NullSink): takes up to batchSize events per
 * take transaction and commits, discarding them. Useful to measure sources and channels, and to
 * drain a channel on purpose. Counters follow Flume's SinkCounter.
 */
#include "sqlflume/error.h"
#include "sqlflume/sinks.h"

#include <stddef.h>

struct null_ctx {
    long long batch_size;
    struct sf_sink_batch batch; /* take buffer */
};

static const struct sf_option null_options[] = {
    { "batchSize", SF_OPT_INT, "100", 1, 1000000, offsetof(struct null_ctx, batch_size), 0, NULL,
      NULL, "maximum number of events taken per channel transaction" },
    { 0 },
};

static int null_start(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct null_ctx *ctx = snk->ctx;
    int rc = sf_sink_batch_init(&ctx->batch, snk, ctx->batch_size, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    atomic_fetch_add(&snk->metrics.connection_created, 1);
    return SF_OK;
}

static enum sf_status null_process(struct sf_sink *snk)
{
    struct null_ctx *ctx = snk->ctx;
    return sf_sink_take_batch(snk, &ctx->batch, NULL, NULL); /* the commit discards them */
}

static void null_stop(struct sf_sink *snk)
{
    struct null_ctx *ctx = snk->ctx;
    sf_sink_batch_free(&ctx->batch);
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
