/*
 * Flume's FileChannel, put transactions: free space and capacity checks, source offsets, the put
 * commit. The design, the on-disk formats' use and the lock order are in fc.h.
 */
#include "fc.h"

#include <limits.h>

/* ---------- put ---------- */

/* Free bytes in the current data directory, or ULLONG_MAX when statvfs fails (then the write
 * itself reports a full disk). */
static unsigned long long free_space(struct file_ctx *fc, const char **dir)
{
    *dir = fc->dirs[atomic_load(&fc->cur_dir)];
    struct statvfs sv;
    if (statvfs(*dir, &sv) != 0) {
        return ULLONG_MAX;
    }
    return (unsigned long long)sv.f_bavail * sv.f_frsize;
}

/*
 * Put commits need minimumRequiredSpace free in the data directory. Short of it, the commit asks
 * the background thread to free space at once (roll the log, checkpoint as soon as the oldest log
 * files are drained, which deletes them: fc_relief_wait) and waits for it up to keep-alive, as it
 * waits for room in the queue, then fails with SF_ERR_FULL (the source retries). Logged once per
 * episode: WARN when space runs short, INFO when it is back.
 */
static int check_space(struct file_ctx *fc)
{
    const char *dir;
    unsigned long long free_bytes = free_space(fc, &dir);
    if (free_bytes < (unsigned long long)fc->min_space) {
        if (!atomic_exchange(&fc->space_low, true)) {
            SF_WARN(FC_FMT "only %llu bytes free in data directory \"%s\", below "
                           "minimumRequiredSpace (%lld bytes); rolling the log and checkpointing "
                           "as soon as log files are drained, to delete them; put commits wait "
                           "(keep-alive) or fail until space is freed",
                    fc->ch->name, free_bytes, dir, fc->min_space);
        }
        long long end = sf_mono_ms() + fc->keep_alive_s * 1000;
        for (;;) {
            long long left = end - sf_mono_ms();
            fc_relief_wait(fc, left < FC_RELIEF_POLL_MS ? (left > 0 ? left : 0) : FC_RELIEF_POLL_MS);
            free_bytes = free_space(fc, &dir);
            if (free_bytes >= (unsigned long long)fc->min_space) {
                break;
            }
            if (left <= 0) {
                return SF_ERR_FULL;
            }
        }
    }
    if (atomic_exchange(&fc->space_low, false)) {
        SF_INFO(FC_FMT "%llu bytes free in data directory \"%s\" again; accepting puts (%lld "
                       "checkpoints taken early to free space since start)",
                fc->ch->name, free_bytes, dir, (long long)atomic_load(&fc->relief_ckpts));
    }
    return SF_OK;
}

/* Reserve room for n events, waiting up to keep-alive. */
static int reserve_room(struct file_ctx *fc, struct sf_txn *txn)
{
    size_t n = txn->n;
    struct timespec deadline;
    sf_deadline_after_ms(&deadline, fc->keep_alive_s * 1000);
    pthread_mutex_lock(&fc->q_mu);
    while (fc->held + fc->reserved + n > (size_t)fc->capacity) {
        if (pthread_cond_timedwait(&fc->not_full, &fc->q_mu, &deadline) == ETIMEDOUT &&
            fc->held + fc->reserved + n > (size_t)fc->capacity) {
            pthread_mutex_unlock(&fc->q_mu);
            SF_DEBUG(FC_FMT "space for commit to queue couldn't be acquired (%zu events)",
                     txn->ch->name, n);
            return SF_ERR_FULL;
        }
    }
    if (fc_ring_reserve(&fc->q, fc->held + fc->reserved + n) != SF_OK) {
        pthread_mutex_unlock(&fc->q_mu);
        return SF_ERR_NOMEM;
    }
    fc->reserved += n;
    pthread_mutex_unlock(&fc->q_mu);
    return SF_OK;
}

static void release_room(struct file_ctx *fc, size_t n)
{
    pthread_mutex_lock(&fc->q_mu);
    fc->reserved -= n;
    pthread_cond_broadcast(&fc->not_full);
    pthread_mutex_unlock(&fc->q_mu);
}

/* Set key's offset to *val (takes *val, leaves the replaced value in *val to free). q_mu held,
 * or single-threaded. @return SF_OK, or SF_ERR_NOMEM (nothing changed, *val still the caller's;
 * nothing logged). */
int fc_offset_set(struct file_ctx *fc, const char *key, size_t key_len, char **val)
{
    for (size_t i = 0; i < fc->noffsets; i++) {
        if (strlen(fc->offsets[i].key) == key_len &&
            memcmp(fc->offsets[i].key, key, key_len) == 0) {
            char *old = fc->offsets[i].val;
            fc->offsets[i].val = *val;
            *val = old;
            return SF_OK;
        }
    }
    struct fc_offset *v = realloc(fc->offsets, (fc->noffsets + 1) * sizeof(*v));
    char *k = strndup(key, key_len);
    if (!v || !k) {
        if (v) {
            fc->offsets = v;
        }
        free(k);
        return SF_ERR_NOMEM;
    }
    fc->offsets = v;
    fc->offsets[fc->noffsets].key = k;
    fc->offsets[fc->noffsets].val = *val;
    fc->noffsets++;
    *val = NULL;
    return SF_OK;
}

int fc_file_put_commit(struct sf_txn *txn)
{
    struct file_ctx *fc = txn->ch->ctx;
    size_t n = txn->n;
    if (atomic_load(&fc->failed)) {
        return SF_ERR_IO;
    }
    int rc = check_space(fc);
    if (rc != SF_OK) {
        return rc;
    }
    bool with_offset = txn->src_key && txn->src_offset;
    char *offset_copy = with_offset ? strdup(txn->src_offset) : NULL;
    if (with_offset && !offset_copy) {
        return SF_ERR_NOMEM;
    }
    rc = reserve_room(fc, txn);
    if (rc != SF_OK) {
        free(offset_copy);
        return rc;
    }
    /* serialise outside every lock */
    struct fc_wbuf *w = fc_wbuf_get(fc);
    if (w->at_cap < n) {
        uint32_t *at = realloc(w->at, n * sizeof(*at));
        if (!at) {
            fc_wbuf_put(fc, w);
            release_room(fc, n);
            free(offset_copy);
            return SF_ERR_NOMEM;
        }
        w->at = at;
        w->at_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        w->at[i] = (uint32_t)sf_wal_append_put(&w->b, txn->id, txn->evs[i]);
    }
    sf_wal_append_commit(&w->b, txn->id, SF_WAL_TXN_PUT, (uint32_t)n, txn->src_key,
                         txn->src_offset);

    uint32_t file_id = 0;
    uint64_t base = 0, lsn = 0;
    pthread_rwlock_rdlock(&fc->ckpt_rw);
    rc = fc_log_append(fc, w, &file_id, &base, &lsn);
    struct fc_pending *pe = NULL;
    if (rc == SF_OK && fc->fsync_per_txn) {
        /* the sync thread makes the events visible once the log is durable up to lsn */
        pe = calloc(1, sizeof(*pe));
        if (pe && !(pe->slots = malloc(n * sizeof(*pe->slots)))) {
            free(pe);
            pe = NULL;
        }
        if (!pe) { /* out of memory: wait for the sync here instead */
            rc = fc_log_wait_durable(fc, lsn);
        }
    }
    if (rc != SF_OK) {
        pthread_rwlock_unlock(&fc->ckpt_rw);
        fc_wbuf_put(fc, w);
        release_room(fc, n);
        free(offset_copy);
        return rc;
    }
    /* cached events leave txn->evs, the rest are freed below */
    pthread_mutex_lock(&fc->q_mu);
    for (size_t i = 0; i < n; i++) {
        struct sf_event *ev = txn->evs[i];
        struct fc_slot s = { file_id, (uint32_t)(base + w->at[i]), 0, NULL };
        size_t sz = fc_ev_bytes(ev);
        if (fc->cache_bytes + sz <= (size_t)fc->cache_max_bytes) {
            s.ref = ev;
            s.ack_id = FC_CACHED;
            fc->cache_bytes += sz;
            txn->evs[i] = NULL;
        } else {
            s.ref = ev->tracker;
            s.ack_id = ev->ack_id;
        }
        if (pe) {
            pe->slots[i] = s;
        } else {
            fc_ring_push_back(&fc->q, &s);
        }
    }
    fc_file_get(fc, file_id)->refs += (long long)n;
    if (pe) {
        pe->lsn = lsn;
        pe->n = n;
        if (with_offset) {
            pe->off_key = strdup(txn->src_key);
            if (!pe->off_key) {
                SF_ERROR(FC_FMT "out of memory recording the offset of \"%s\"", txn->ch->name,
                         txn->src_key);
            } else {
                pe->off_val = offset_copy;
                offset_copy = NULL;
            }
        }
        if (fc->pend_tail) {
            fc->pend_tail->next = pe;
        } else {
            fc->pend_head = pe;
        }
        fc->pend_tail = pe;
        fc->pending += n;
        atomic_fetch_add(&fc->pend_commits, 1);
    } else {
        fc->reserved -= n;
        fc->held += n;
        if (with_offset &&
            fc_offset_set(fc, txn->src_key, strlen(txn->src_key), &offset_copy) != SF_OK) {
            SF_ERROR(FC_FMT "out of memory recording the offset of \"%s\"", txn->ch->name,
                     txn->src_key);
        }
        pthread_cond_broadcast(&fc->not_empty);
    }
    pthread_mutex_unlock(&fc->q_mu);
    if (pe) {
        fc_sync_kick(fc);
    }
    pthread_rwlock_unlock(&fc->ckpt_rw);
    free(offset_copy);
    for (size_t i = 0; i < n; i++) {
        sf_event_destroy(txn->evs[i]);
        txn->evs[i] = NULL;
    }
    fc_wbuf_put(fc, w);
    return SF_OK;
}
