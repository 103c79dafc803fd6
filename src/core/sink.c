/*
 * The sink core: the take loop shared by the sinks that need no delivery acknowledgement (null,
 * logger): one take transaction per process() step, committed right after the events were seen
 * (see sqlflume/sink.h).
 */
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/sink.h"

#include "sqlflume/clock.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

/* How long a take waits for the first event of a batch; short so stop is noticed quickly. */
#define TAKE_WAIT_MS 100

int sf_sink_batch_init(struct sf_sink_batch *b,
                       const struct sf_sink *snk,
                       long long batch_size,
                       char *errstr,
                       size_t errstr_size)
{
    b->cap = (size_t)batch_size;
    if (snk->ch->txn_capacity > 0 && (long long)b->cap > snk->ch->txn_capacity) {
        b->cap = (size_t)snk->ch->txn_capacity;
    }
    b->evs = calloc(b->cap, sizeof(struct sf_event *));
    if (!b->evs) {
        (void)snprintf(errstr, errstr_size, "out of memory for a batch of %zu events", b->cap);
        return SF_ERR_NOMEM;
    }
    return SF_OK;
}

void sf_sink_batch_free(struct sf_sink_batch *b)
{
    free(b->evs);
    b->evs = NULL;
}

enum sf_status
sf_sink_take_batch(struct sf_sink *snk, struct sf_sink_batch *b, sf_sink_event_fn each, void *arg)
{
    struct sf_txn *txn = sf_channel_txn_begin(snk->ch);
    if (!txn) {
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        return SF_FAILED;
    }
    size_t n = 0;
    int rc = sf_channel_take(txn, b->evs, b->cap, &n, TAKE_WAIT_MS);
    if (rc == SF_OK) {
        atomic_fetch_add(&snk->metrics.drain_attempt, (long long)n);
        for (size_t i = 0; each && i < n; i++) {
            each(snk, b->evs[i], arg);
        }
        rc = sf_channel_txn_commit(txn);
    }
    if (rc != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not take from channel \"%s\": %s", SF_SINK_ARGS(snk),
                 snk->ch->name, sf_err_str(rc));
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        sf_channel_txn_close(txn); /* rolls back */
        return SF_FAILED;
    }
    sf_channel_txn_close(txn);
    if (n == 0) {
        atomic_fetch_add(&snk->metrics.batch_empty, 1);
        return SF_BACKOFF;
    }
    atomic_fetch_add(n < b->cap ? &snk->metrics.batch_underflow : &snk->metrics.batch_complete, 1);
    atomic_fetch_add(&snk->metrics.drain_success, (long long)n);
    return SF_READY;
}

void sf_sink_report(struct sf_sink *snk, struct sf_sink_repeat *r, const char *key,
                    const char *fmt, ...)
{
    char msg[sizeof(r->key)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!key) {
        key = msg;
    }
    long long now = sf_mono_ms();
    if (strcmp(key, r->key) != 0 || now - r->ms >= SF_SINK_REPEAT_MS) {
        SF_ERROR(SF_SINK_FMT "%s", SF_SINK_ARGS(snk), msg);
        r->ms = now;
        snprintf(r->key, sizeof(r->key), "%s", key);
    }
}
