/*
 * Flume's ChannelProcessor, for sources: put each batch into the channels its selector picks
 * (selector.h), one put transaction per channel, retrying while a required channel is full so
 * that back pressure reaches the source and nothing is ever dropped.
 */
#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/source.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

bool sf_source_sleep(struct sf_source *src, long long ms)
{
    if (ms <= 0) {
        return !atomic_load(&src->stopping);
    }
    struct timespec deadline;
    sf_deadline_after_ms(&deadline, ms);
    pthread_mutex_lock(&src->sleep_mu);
    while (!atomic_load(&src->stopping)) {
        if (pthread_cond_timedwait(&src->sleep_cv, &src->sleep_mu, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&src->sleep_mu);
    return !atomic_load(&src->stopping);
}

/* One put transaction of evs into ch. @return SF_OK (channel owns them) or an error (caller
 * still owns them). */
static int put_all(struct sf_channel *ch,
                   struct sf_event **evs,
                   size_t n,
                   const char *src_key,
                   const char *src_offset)
{
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    if (!txn) {
        return SF_ERR_NOMEM;
    }
    txn->src_key = src_key;
    txn->src_offset = src_offset;
    txn->kind = SF_TXN_PUT; /* also when n == 0: an empty put that records the offset */
    int rc = SF_OK;
    for (size_t i = 0; i < n && rc == SF_OK; i++) {
        rc = sf_channel_put(txn, evs[i]);
    }
    if (rc == SF_OK) {
        rc = sf_channel_txn_commit(txn);
    }
    if (rc != SF_OK) {
        sf_channel_txn_rollback(txn);
    }
    sf_channel_txn_close(txn);
    return rc;
}

/* Log (at most once a minute, with the count since the last line) the events the selector sent
 * to no channel. */
static void report_unrouted(struct sf_source *src, long long n)
{
    long long total = atomic_fetch_add(&src->unrouted, n) + n;
    long long now = sf_mono_ms(), last = atomic_load(&src->unrouted_log_ms);
    if ((last == 0 || now - last >= 60000) &&
        atomic_compare_exchange_strong(&src->unrouted_log_ms, &last, now)) {
        total = atomic_exchange(&src->unrouted, 0);
        SF_WARN(SF_SOURCE_FMT "%lld event(s) dropped: their \"%s\" header matches no "
                              "selector.mapping and there is no selector.default (acknowledged, "
                              "so the offset moves past them)",
                SF_SOURCE_ARGS(src), total, src->selector.header);
    }
}

/* Put the batch of one channel: once (optional channel, or !retry), or retrying with backoff
 * while the channel is full. @return SF_OK (the channel owns the events) or the error (the caller
 * still owns them). */
static int put_channel(struct sf_source *src,
                       struct sf_channel *ch,
                       struct sf_event **batch,
                       size_t n,
                       const char *src_key,
                       const char *src_offset,
                       bool retry)
{
    long long wait_ms = 100;
    bool logged = false;
    for (;;) {
        int rc = put_all(ch, batch, n, src_key, src_offset);
        if (rc == SF_OK) {
            if (logged) {
                SF_INFO(SF_SOURCE_FMT "channel \"%s\" has room again", SF_SOURCE_ARGS(src),
                        ch->name);
            }
            return SF_OK;
        }
        atomic_fetch_add(&src->metrics.channel_write_fail, 1);
        if (!retry) {
            return rc == SF_ERR_NOMEM ? SF_ERR_NOMEM : SF_ERR_FULL;
        }
        if (!logged) {
            SF_WARN(SF_SOURCE_FMT "channel \"%s\" is full (%s); waiting for the sinks",
                    SF_SOURCE_ARGS(src), ch->name, sf_err_str(rc));
            logged = true;
        }
        if (!sf_source_sleep(src, wait_ms)) {
            return SF_ERR_STOPPED;
        }
        wait_ms = wait_ms * 2 > 1000 ? 1000 : wait_ms * 2;
    }
}

/* last[i] of an original in the batch being built (see deliver) */
#define PENDING (UINT_MAX - 1)

/* Highest set bit of m (m != 0). */
static unsigned top_bit(uint64_t m)
{
    return 63u - (unsigned)__builtin_clzll(m);
}

/*
 * sf_source_deliver (retry set) and sf_source_deliver_try (not set): Flume's ChannelProcessor.
 * Each event goes to its required channels (one put transaction per channel, in channel order),
 * then to its optional ones. Destination d = pass * nch + c (pass 0 required, 1 optional); an
 * event's original goes to its last destination, copies to the others; an event bound only for
 * optional channels loses its tracker there, so they never hold the offset back. The deliveries
 * an event was registered for but will not make (the channels it does not go to) are
 * acknowledged at once.
 */
static int deliver(struct sf_source *src,
                   struct sf_event **evs,
                   size_t n,
                   const char *src_key,
                   const char *src_offset,
                   bool retry)
{
    if (n == 0) {
        return SF_OK;
    }
    unsigned nch = (unsigned)src->nch;
    /* dropped events are acknowledged for every channel the batch was registered for; an emptied
     * batch still goes on, so that durable channels record its offset */
    n = sf_interceptor_chain_apply(&src->interceptors, evs, n, nch);
    struct sf_selector *sel = &src->selector;
    bool plain = sf_selector_is_plain(sel);
    /* per event: masks[2i] required, masks[2i+1] optional channels; last[i] its last destination,
     * or UINT_MAX once its original is no longer ours */
    size_t slots = n ? n : 1;
    uint64_t *masks = plain ? NULL : malloc(slots * 2 * sizeof(*masks));
    unsigned *last = malloc(slots * sizeof(*last));
    struct sf_event **batch = malloc(slots * sizeof(*batch));
    int result = SF_OK;
    if ((!plain && !masks) || !last || !batch) {
        for (size_t i = 0; i < n; i++) {
            sf_event_destroy(evs[i]);
        }
        free(masks);
        free(last);
        free(batch);
        return SF_ERR_NOMEM;
    }
    uint64_t used = plain && n ? sel->all : 0; /* channels some event goes to */
    long long unrouted = 0;
    struct sf_ack_run acks = { 0 }; /* the deliveries not made, acknowledged per batch */
    for (size_t i = 0; i < n; i++) {
        if (plain) {
            last[i] = nch - 1;
            continue;
        }
        uint64_t req, opt;
        sf_selector_pick(sel, evs[i], &req, &opt);
        masks[2 * i] = req;
        masks[2 * i + 1] = opt;
        used |= req | opt;
        sf_ack_run_add(&acks, evs[i]->tracker, evs[i]->ack_id,
                       nch - (unsigned)__builtin_popcountll(req));
        if (opt) {
            last[i] = nch + top_bit(opt);
        } else if (req) {
            last[i] = top_bit(req);
        } else {
            sf_event_destroy(evs[i]);
            evs[i] = NULL;
            last[i] = UINT_MAX;
            unrouted++;
        }
    }
    sf_ack_run_flush(&acks);
    if (unrouted) {
        report_unrouted(src, unrouted);
    }
    for (unsigned d = 0; d < 2 * nch && result == SF_OK; d++) {
        unsigned pass = d / nch, c = d % nch;
        struct sf_channel *ch = src->chs[c];
        uint64_t bit = UINT64_C(1) << c;
        size_t nb = 0;
        for (size_t i = 0; i < n && result == SF_OK; i++) {
            bool goes = plain ? pass == 0 : (masks[2 * i + pass] & bit) != 0;
            if (!goes || last[i] == UINT_MAX) {
                continue;
            }
            struct sf_event *ev = evs[i];
            if (last[i] != d) {
                ev = sf_event_copy(evs[i]);
                if (!ev) {
                    result = SF_ERR_NOMEM;
                    break;
                }
            } else {
                last[i] = PENDING; /* handed over below, or freed with the batch */
            }
            if (pass == 1) {
                ev->tracker = NULL;
            }
            batch[nb++] = ev;
        }
        if (result != SF_OK) {
            /* out of memory for a copy: free the copies of this batch; its originals stay ours
             * and are freed below */
            for (size_t j = 0; j < nb; j++) {
                bool original = false;
                for (size_t i = 0; i < n && !original; i++) {
                    original = last[i] == PENDING && evs[i] == batch[j];
                }
                if (!original) {
                    sf_event_destroy(batch[j]);
                }
            }
            for (size_t i = 0; i < n; i++) {
                if (last[i] == PENDING) {
                    last[i] = d;
                }
            }
            break;
        }
        for (size_t i = 0; i < n; i++) {
            if (last[i] == PENDING) {
                last[i] = UINT_MAX; /* the put below takes them, or frees them with the batch */
            }
        }
        /* a durable channel no event goes to still records the offset, in an empty commit, so
         * that resuming does not fall back behind what the other channels hold */
        bool record_empty = nb == 0 && pass == 0 && !(used & bit) && src_key && src_offset &&
                            ch->plugin->offset_get;
        if (nb == 0 && !record_empty) {
            continue;
        }
        int rc = put_channel(src, ch, batch, nb, src_key, src_offset, retry && pass == 0);
        if (rc != SF_OK) {
            for (size_t i = 0; i < nb; i++) {
                sf_event_destroy(batch[i]);
            }
            if (pass == 0) {
                result = rc;
            } else {
                SF_WARN(SF_SOURCE_FMT "optional channel \"%s\" could not take %zu event(s) (%s): "
                                      "they are not in it",
                        SF_SOURCE_ARGS(src), ch->name, nb, sf_err_str(rc));
            }
        }
    }
    if (result != SF_OK) {
        /* the originals no channel took */
        for (size_t i = 0; i < n; i++) {
            if (last[i] != UINT_MAX) {
                sf_event_destroy(evs[i]);
            }
        }
    }
    free(masks);
    free(last);
    free(batch);
    return result;
}

int sf_source_deliver(struct sf_source *src,
                      struct sf_event **evs,
                      size_t n,
                      const char *src_key,
                      const char *src_offset)
{
    return deliver(src, evs, n, src_key, src_offset, true);
}

int sf_source_deliver_try(struct sf_source *src, struct sf_event **evs, size_t n)
{
    return deliver(src, evs, n, NULL, NULL, false);
}
