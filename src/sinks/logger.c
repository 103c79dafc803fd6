/*
 * Flume's LoggerSink ("logger", org.apache.flume.sink.LoggerSink): logs every event at INFO as
 * Flume does, `Event: { headers:{k=v} body: 68 69  ... hi }`, with the body shown as the hex
 * dump of its first maxBytesToLog bytes (Commons IO HexDump, as Flume's EventHelper uses) and
 * committed right after. Lines go to the log (stderr) only. Unlike Flume, which takes one event
 * per transaction, it takes up to batchSize events per transaction; the output is the same.
 */
#include "sqlflume/pct.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/sinks.h"

#include <stddef.h>

#define HEX_ROW_BYTES 16 /* Commons IO HexDump row width */

struct logger_ctx {
    long long max_bytes;
    long long batch_size;
    struct sf_sink_batch batch; /* take buffer */
    struct sf_buf line;         /* the line being logged */
};

static const struct sf_option logger_options[] = {
    { "maxBytesToLog", SF_OPT_INT, "16", 0, 1 << 20, offsetof(struct logger_ctx, max_bytes), 0,
      NULL, NULL, "maximum number of body bytes shown in the hex dump of each event" },
    { "batchSize", SF_OPT_INT, "100", 1, 1000000, offsetof(struct logger_ctx, batch_size), 0, NULL,
      NULL, "maximum number of events taken per channel transaction (sqlflume extension)" },
    { 0 },
};


static void put_hex(struct sf_buf *out, unsigned long long v, int digits)
{
    sf_buf_reserve(out, (size_t)digits);
    for (int i = digits - 1; i >= 0; i--) {
        out->data[out->len + (size_t)i] = sf_hex_upper[v & 0xF];
        v >>= 4;
    }
    out->len += (size_t)digits;
    out->data[out->len] = '\0';
}

void sf_logger_format_event(const struct sf_event *ev, long long max_bytes, struct sf_buf *out)
{
    sf_buf_puts(out, "Event: { headers:{");
    for (size_t i = 0; i < ev->nheaders; i++) {
        if (i > 0) {
            sf_buf_puts(out, ", ");
        }
        sf_buf_puts(out, ev->headers[i].key);
        sf_buf_putc(out, '=');
        sf_buf_puts(out, ev->headers[i].val);
    }
    sf_buf_puts(out, "} body:");
    size_t n = ev->body_len;
    if (max_bytes <= 0) {
        n = 0;
    } else if ((unsigned long long)max_bytes < n) {
        n = (size_t)max_bytes;
    }
    const unsigned char *p = (const unsigned char *)ev->body;
    for (size_t row = 0; row < n; row += HEX_ROW_BYTES) {
        /* Flume removes the first row's offset "00000000" and the final line separator */
        if (row > 0) {
            sf_buf_putc(out, '\n');
            put_hex(out, row, 8);
        }
        size_t k = n - row < HEX_ROW_BYTES ? n - row : HEX_ROW_BYTES;
        for (size_t j = 0; j < HEX_ROW_BYTES; j++) {
            sf_buf_putc(out, ' ');
            if (j < k) {
                put_hex(out, p[row + j], 2);
            } else {
                sf_buf_puts(out, "  ");
            }
        }
        sf_buf_putc(out, ' ');
        for (size_t j = 0; j < k; j++) {
            unsigned char c = p[row + j];
            sf_buf_putc(out, (char)(c >= 0x20 && c < 0x7F ? c : '.'));
        }
    }
    sf_buf_puts(out, " }");
}

static int logger_start(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct logger_ctx *ctx = snk->ctx;
    int rc = sf_sink_batch_init(&ctx->batch, snk, ctx->batch_size, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    ctx->line = (struct sf_buf)SF_BUF_INIT;
    atomic_fetch_add(&snk->metrics.connection_created, 1);
    return SF_OK;
}

/* sf_sink_event_fn: log ev at INFO. */
static void log_event(struct sf_sink *snk, const struct sf_event *ev, void *arg)
{
    struct logger_ctx *ctx = arg;
    if (sf_log_enabled(SF_LOG_INFO)) {
        sf_buf_reset(&ctx->line);
        sf_logger_format_event(ev, ctx->max_bytes, &ctx->line);
        SF_INFO(SF_SINK_FMT "%s", SF_SINK_ARGS(snk), ctx->line.data);
    }
}

static enum sf_status logger_process(struct sf_sink *snk)
{
    struct logger_ctx *ctx = snk->ctx;
    return sf_sink_take_batch(snk, &ctx->batch, log_event, ctx);
}

static void logger_stop(struct sf_sink *snk)
{
    struct logger_ctx *ctx = snk->ctx;
    sf_sink_batch_free(&ctx->batch);
    sf_buf_free(&ctx->line);
    atomic_fetch_add(&snk->metrics.connection_closed, 1);
}

static const char *const logger_aliases[] = { "org.apache.flume.sink.LoggerSink", NULL };

const struct sf_sink_plugin sf_sink_logger = {
    .name = "logger",
    .aliases = logger_aliases,
    .options = logger_options,
    .ctx_size = sizeof(struct logger_ctx),
    .start = logger_start,
    .process = logger_process,
    .stop = logger_stop,
};
