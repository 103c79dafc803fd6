/*
 * The acknowledged-sink pipeline: a ring of open take transactions, committed in take order once
 * acknowledged, rolled back newest first; the sink's take step and its waits; Flume's SinkCounter
 * batch and drain counters (see sqlflume/sink_pipeline.h).
 */
#include "sqlflume/sink_pipeline.h"

#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <stdlib.h>

#define TAKE_WAIT_MS  100 /* take wait when nothing is in flight (stop is noticed within it) */
#define FULL_WAIT_MS  100 /* ack wait when no batch can be taken (slots full, halted, stopping) */
#define EMPTY_WAIT_MS 10  /* ack wait when the channel looked empty with batches in flight */

int sf_sink_pipeline_init(struct sf_sink_pipeline *pl,
                          struct sf_sink *snk,
                          const struct sf_sink_pipeline_ops *ops,
                          long long max_inflight,
                          long long batch_size)
{
    *pl = (struct sf_sink_pipeline){ .ops = ops, .snk = snk };
    pl->max_inflight = max_inflight > 0 ? (size_t)max_inflight : 1;
    pl->batch = batch_size > 0 ? (size_t)batch_size : 1;
    if (snk->ch->txn_capacity > 0 && (long long)pl->batch > snk->ch->txn_capacity) {
        pl->batch = (size_t)snk->ch->txn_capacity;
    }
    pl->ring = calloc(pl->max_inflight, sizeof(*pl->ring));
    for (size_t i = 0; pl->ring && i < pl->max_inflight; i++) {
        pl->ring[i].slot = i;
        pl->ring[i].evs = calloc(pl->batch, sizeof(struct sf_event *));
        if (!pl->ring[i].evs) {
            sf_sink_pipeline_free(pl);
        }
    }
    return pl->ring ? SF_OK : SF_ERR_NOMEM;
}

void sf_sink_pipeline_free(struct sf_sink_pipeline *pl)
{
    if (!pl->ring) {
        return;
    }
    sf_sink_pipeline_rollback_all(pl);
    for (size_t i = 0; i < pl->max_inflight; i++) {
        free(pl->ring[i].evs);
    }
    free(pl->ring);
    pl->ring = NULL;
    pl->head = pl->count = 0;
}

struct sf_pipeline_batch *sf_sink_pipeline_at(const struct sf_sink_pipeline *pl, size_t i)
{
    return &pl->ring[(pl->head + i) % pl->max_inflight];
}

size_t sf_sink_pipeline_events(const struct sf_sink_pipeline *pl)
{
    size_t n = 0;
    for (size_t i = 0; i < pl->count; i++) {
        n += sf_sink_pipeline_at(pl, i)->n;
    }
    return n;
}

void sf_sink_pipeline_limit_next(struct sf_sink_pipeline *pl, size_t k)
{
    pl->limit_next = k;
}

bool sf_sink_pipeline_ack(struct sf_sink_pipeline *pl, struct sf_pipeline_batch *b, size_t k)
{
    (void)pl;
    b->acked += k;
    if (b->acked < b->n) {
        return false;
    }
    if (b->sent_us > 0 && b->rtt_us < 0) {
        b->rtt_us = sf_mono_us() - b->sent_us;
    }
    return true;
}

/* End b's transaction and free its slot: b is the oldest (commit) or the newest (rollback). */
static void batch_close(struct sf_sink_pipeline *pl, struct sf_pipeline_batch *b, bool oldest)
{
    sf_channel_txn_close(b->txn);
    b->txn = NULL;
    b->n = b->acked = 0;
    if (oldest) {
        pl->head = (pl->head + 1) % pl->max_inflight;
    }
    pl->count--;
}

void sf_sink_pipeline_settle(struct sf_sink_pipeline *pl)
{
    struct sf_sink *snk = pl->snk;
    while (pl->count > 0) {
        struct sf_pipeline_batch *b = sf_sink_pipeline_at(pl, 0);
        if (b->acked < b->n) {
            break;
        }
        if (b->rtt_us >= 0) {
            pl->rtt_n++;
            pl->rtt_sum_us += b->rtt_us;
            if (b->rtt_us > pl->rtt_max_us) {
                pl->rtt_max_us = b->rtt_us;
            }
            SF_DEBUG(SF_SINK_FMT "batch %lld of %zu events delivered in %.3f ms (send to its "
                                 "last acknowledgement; %zu batches in flight)",
                     SF_SINK_ARGS(snk), b->seq, b->n, (double)b->rtt_us / 1000.0, pl->count);
        }
        int rc = sf_channel_txn_commit(b->txn);
        if (rc != SF_OK) {
            /* cannot happen with the take semantics of our channels; the events return */
            SF_ERROR(SF_SINK_FMT "could not commit a delivered batch of %zu events: %s",
                     SF_SINK_ARGS(snk), b->n, sf_err_str(rc));
        } else {
            atomic_fetch_add(&snk->metrics.drain_success, (long long)b->n);
        }
        batch_close(pl, b, true);
    }
}

/* Roll the newest batch back. */
static void rollback_newest(struct sf_sink_pipeline *pl)
{
    struct sf_pipeline_batch *b = sf_sink_pipeline_at(pl, pl->count - 1);
    int rc = sf_channel_txn_rollback(b->txn);
    if (rc != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not roll back a batch of %zu events: %s", SF_SINK_ARGS(pl->snk),
                 b->n, sf_err_str(rc));
    }
    batch_close(pl, b, false);
}

void sf_sink_pipeline_rollback_all(struct sf_sink_pipeline *pl)
{
    while (pl->count > 0) {
        rollback_newest(pl);
    }
}

/* flush_wait, then commit what completed. @return SF_READY while batches are in flight, else
 * what flush_wait said. */
static enum sf_status wait_acks(struct sf_sink_pipeline *pl, int max_ms)
{
    enum sf_status st = pl->ops->flush_wait ? pl->ops->flush_wait(pl->snk, max_ms) : SF_READY;
    sf_sink_pipeline_settle(pl);
    return pl->count > 0 ? SF_READY : st;
}

enum sf_status sf_sink_pipeline_process(struct sf_sink_pipeline *pl)
{
    struct sf_sink *snk = pl->snk;
    if (pl->ops->poll) {
        pl->ops->poll(snk);
    }
    sf_sink_pipeline_settle(pl);
    if (pl->halted || atomic_load(&snk->stopping) || pl->count == pl->max_inflight) {
        if (pl->count == 0) {
            return SF_BACKOFF;
        }
        /* nothing more is taken until the oldest batch is delivered */
        pl->waits_full++;
        return wait_acks(pl, FULL_WAIT_MS);
    }
    struct sf_txn *txn = sf_channel_txn_begin(snk->ch);
    if (!txn) {
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        return pl->count > 0 ? wait_acks(pl, EMPTY_WAIT_MS) : SF_FAILED;
    }
    struct sf_pipeline_batch *b = sf_sink_pipeline_at(pl, pl->count);
    size_t n = 0;
    size_t max = pl->limit_next ? pl->limit_next : pl->batch;
    pl->limit_next = 0;
    int rc = sf_channel_take(txn, b->evs, max, &n, pl->count == 0 ? TAKE_WAIT_MS : 0);
    if (rc != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not take from channel \"%s\": %s", SF_SINK_ARGS(snk),
                 snk->ch->name, sf_err_str(rc));
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        sf_channel_txn_close(txn);
        return pl->count > 0 ? wait_acks(pl, EMPTY_WAIT_MS) : SF_FAILED;
    }
    if (n == 0) {
        sf_channel_txn_commit(txn);
        sf_channel_txn_close(txn);
        if (pl->count == 0) {
            atomic_fetch_add(&snk->metrics.batch_empty, 1);
            return SF_BACKOFF;
        }
        /* The channel looks empty while batches are in flight: with a channel smaller than
         * max_inflight x the batch size (taken events count against its capacity until their
         * batch commits) the source waits for this sink's commits, so the sink waits for
         * acknowledgements, with the destination sending at once. */
        pl->waits_empty++;
        return wait_acks(pl, EMPTY_WAIT_MS);
    }
    atomic_fetch_add(&snk->metrics.drain_attempt, (long long)n);
    atomic_fetch_add(n < pl->batch ? &snk->metrics.batch_underflow : &snk->metrics.batch_complete,
                     1);
    b->txn = txn;
    b->n = n;
    b->acked = 0;
    b->seq = ++pl->seq;
    b->rtt_us = -1;
    b->sent_us = sf_mono_us();
    pl->count++;
    if (pl->count > pl->peak) {
        pl->peak = pl->count;
    }
    rc = pl->ops->send(snk, b);
    if (rc != SF_OK) {
        if (pl->count > 0 && b->txn && sf_sink_pipeline_at(pl, pl->count - 1) == b) {
            rollback_newest(pl);
        }
        return pl->limit_next || pl->count > 0 ? SF_READY : SF_FAILED;
    }
    sf_sink_pipeline_settle(pl); /* a synchronous sink acknowledged it already */
    if (pl->count == 0) {
        return SF_READY;
    }
    if (n < max) {
        /* the channel is empty now: the next take would find nothing (see above) */
        pl->waits_empty++;
        return wait_acks(pl, EMPTY_WAIT_MS);
    }
    if (pl->count == pl->max_inflight) {
        pl->waits_full++; /* no slot left: wait now rather than at the next step */
        return wait_acks(pl, FULL_WAIT_MS);
    }
    return SF_READY;
}

size_t sf_sink_pipeline_drain(struct sf_sink_pipeline *pl, long long timeout_ms)
{
    long long deadline = sf_mono_ms() + timeout_ms;
    sf_sink_pipeline_settle(pl);
    while (pl->count > 0 && !(pl->ops->stalled && pl->ops->stalled(pl->snk))) {
        long long left = deadline - sf_mono_ms();
        if (left <= 0) {
            break;
        }
        (void)wait_acks(pl, (int)(left < FULL_WAIT_MS ? left : FULL_WAIT_MS));
    }
    return pl->count;
}

void sf_sink_pipeline_summary(const struct sf_sink_pipeline *pl)
{
    if (pl->rtt_n == 0) {
        return;
    }
    SF_INFO(SF_SINK_FMT "%lld batches delivered at their first send, round trip from send to the "
                        "last acknowledgement: mean %.3f ms, max %.3f ms; at most %zu of %zu "
                        "batches in flight; waited for acknowledgements %lld times with every "
                        "batch slot in flight, %lld times with the channel empty",
            SF_SINK_ARGS(pl->snk), pl->rtt_n, (double)pl->rtt_sum_us / (double)pl->rtt_n / 1000.0,
            (double)pl->rtt_max_us / 1000.0, pl->peak, pl->max_inflight, pl->waits_full,
            pl->waits_empty);
}
