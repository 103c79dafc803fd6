/*
 * Flume's ChannelProcessor with the replicating selector, for sources: put each batch into every
 * channel of the source in one put transaction per channel, retrying while a channel is full so
 * that back pressure reaches the source and nothing is ever dropped.
 */
#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/source.h"

#include <errno.h>
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

/* sf_source_deliver (retry set) and sf_source_deliver_try (not set). */
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
    long long wait_ms = 100;
    int result = SF_OK;
    for (size_t c = 0; c < src->nch; c++) {
        struct sf_channel *ch = src->chs[c];
        /* the last channel gets the originals, the others copies */
        struct sf_event **batch = evs;
        struct sf_event **copies = NULL;
        if (c + 1 < src->nch) {
            copies = malloc(n * sizeof(*copies));
            for (size_t i = 0; copies && i < n; i++) {
                copies[i] = sf_event_copy(evs[i]);
                if (!copies[i]) {
                    for (size_t j = 0; j < i; j++) {
                        sf_event_destroy(copies[j]);
                    }
                    free(copies);
                    copies = NULL;
                }
            }
            if (!copies) {
                result = SF_ERR_NOMEM;
                break;
            }
            batch = copies;
        }
        bool logged = false;
        for (;;) {
            int rc = put_all(ch, batch, n, src_key, src_offset);
            if (rc == SF_OK) {
                if (logged) {
                    SF_INFO(SF_SOURCE_FMT "channel \"%s\" has room again", SF_SOURCE_ARGS(src),
                            ch->name);
                }
                break;
            }
            atomic_fetch_add(&src->metrics.channel_write_fail, 1);
            if (!retry) {
                result = rc == SF_ERR_NOMEM ? SF_ERR_NOMEM : SF_ERR_FULL;
                break;
            }
            if (!logged) {
                SF_WARN(SF_SOURCE_FMT "channel \"%s\" is full (%s); waiting for the sinks",
                        SF_SOURCE_ARGS(src), ch->name, sf_err_str(rc));
                logged = true;
            }
            if (!sf_source_sleep(src, wait_ms)) {
                result = SF_ERR_STOPPED;
                break;
            }
            wait_ms = wait_ms * 2 > 1000 ? 1000 : wait_ms * 2;
        }
        if (result != SF_OK) {
            if (copies) {
                for (size_t i = 0; i < n; i++) {
                    sf_event_destroy(copies[i]);
                }
                free(copies);
            }
            break;
        }
        free(copies);
    }
    if (result != SF_OK) {
        /* the originals were not taken by the last channel: free them */
        for (size_t i = 0; i < n; i++) {
            sf_event_destroy(evs[i]);
        }
    }
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
