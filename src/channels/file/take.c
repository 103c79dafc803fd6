/*
 * Flume's FileChannel, take transactions: reading events back from the log, take, take commit and
 * rollback, size and offsets. The design, the on-disk formats' use and the lock order are in fc.h.
 */
#include "fc.h"

/* ---------- take ---------- */

/* Grow ft's slot and fd arrays to hold need entries. @return SF_OK or SF_ERR_NOMEM (the arrays
 * keep their entries; nothing logged). */
static int take_reserve(struct fc_take *ft, size_t need)
{
    if (need <= ft->cap) {
        return SF_OK;
    }
    size_t cap = ft->cap ? ft->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    struct fc_slot *s = realloc(ft->slots, cap * sizeof(*s));
    if (!s) {
        return SF_ERR_NOMEM;
    }
    ft->slots = s;
    int *fds = realloc(ft->fds, cap * sizeof(*fds));
    if (!fds) {
        return SF_ERR_NOMEM;
    }
    ft->fds = fds;
    ft->cap = cap;
    return SF_OK;
}

static void take_free(struct fc_take *ft)
{
    if (ft) {
        free(ft->slots);
        free(ft->fds);
        free(ft);
    }
}

/* q_mu held */
static void take_link(struct file_ctx *fc, struct fc_take *ft)
{
    ft->next = NULL;
    ft->prev = fc->takes_tail;
    if (fc->takes_tail) {
        fc->takes_tail->next = ft;
    } else {
        fc->takes_head = ft;
    }
    fc->takes_tail = ft;
}

/* q_mu held */
static void take_unlink(struct file_ctx *fc, struct fc_take *ft)
{
    if (ft->prev) {
        ft->prev->next = ft->next;
    } else {
        fc->takes_head = ft->next;
    }
    if (ft->next) {
        ft->next->prev = ft->prev;
    } else {
        fc->takes_tail = ft->prev;
    }
    ft->prev = ft->next = NULL;
}

/*
 * Put ft->slots[from..from+k) back at the head of the queue, in order, with their events evs
 * (owned again by the channel): kept in the cache when it has room (or force), else freed after
 * the caller drops q_mu (left in evs; the cached ones are set to NULL). q_mu held.
 */
static void slots_return(struct file_ctx *fc,
                         struct fc_take *ft,
                         size_t from,
                         size_t k,
                         struct sf_event **evs,
                         bool force)
{
    for (size_t j = k; j-- > 0;) {
        struct fc_slot s = ft->slots[from + j];
        struct sf_event *ev = evs[j];
        if (ev) {
            size_t sz = fc_ev_bytes(ev);
            if (force || fc->cache_bytes + sz <= (size_t)fc->cache_max_bytes) {
                s.ref = ev;
                s.ack_id = FC_CACHED;
                fc->cache_bytes += sz;
                evs[j] = NULL;
            } else {
                s.ref = ev->tracker;
                s.ack_id = ev->ack_id;
            }
        }
        fc_ring_push_front(&fc->q, &s);
    }
    ft->n -= k;
    pthread_cond_broadcast(&fc->not_empty);
}

/* A window of one log file read with pread, for reading events back. */
struct fc_window {
    unsigned char *buf;
    size_t cap, have;
    int fd;
    uint64_t off; /* file offset of buf[0] */
};

/* Make the window hold [off, off + need) of fd. @return NULL on success, else why not. */
static const char *window_fill(struct fc_window *win, int fd, uint64_t off, size_t need)
{
    if (win->fd == fd && off >= win->off && off + need <= win->off + win->have) {
        return NULL;
    }
    if (need > win->cap) {
        size_t cap = need > FC_READ_CHUNK ? need : FC_READ_CHUNK;
        unsigned char *nb = realloc(win->buf, cap);
        if (!nb) {
            return "out of memory";
        }
        win->buf = nb;
        win->cap = cap;
    }
    win->fd = fd;
    win->off = off;
    win->have = 0;
    while (win->have < need) {
        ssize_t got =
            pread(fd, win->buf + win->have, win->cap - win->have, (off_t)(off + win->have));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return strerror(errno);
        }
        if (got == 0) {
            return "the record runs past the end of the file";
        }
        win->have += (size_t)got;
    }
    return NULL;
}

/*
 * Read back the event of a slot that is not cached. @return the event (tracker and ack id from
 * the slot), or NULL with *why set.
 */
static struct sf_event *
read_event(struct fc_window *win, int fd, const struct fc_slot *s, const char **why)
{
    struct sf_wal_hdr h;
    *why = window_fill(win, fd, s->offset, SF_WAL_REC_HDR);
    if (*why) {
        return NULL;
    }
    if (!sf_wal_hdr_decode(win->buf + (s->offset - win->off), &h) ||
        (h.type != SF_WAL_PUT && h.type != SF_WAL_PUTC)) {
        *why = "not a PUT record";
        return NULL;
    }
    *why = window_fill(win, fd, s->offset, SF_WAL_REC_HDR + h.len);
    if (*why) {
        return NULL;
    }
    const unsigned char *p = win->buf + (s->offset - win->off);
    if (!sf_wal_crc_ok(&h, p, p + SF_WAL_REC_HDR)) {
        *why = "CRC mismatch";
        return NULL;
    }
    struct sf_header hstack[16];
    struct sf_header *hs = hstack;
    size_t nh = sizeof(hstack) / sizeof(hstack[0]), body_len = 0;
    const char *body = NULL;
    int drc = sf_wal_decode_put(h.type, p + SF_WAL_REC_HDR, h.len, hs, &nh, &body, &body_len);
    if (drc == SF_ERR_FULL) {
        hs = malloc(nh * sizeof(*hs));
        if (!hs) {
            *why = "out of memory";
            return NULL;
        }
        drc = sf_wal_decode_put(h.type, p + SF_WAL_REC_HDR, h.len, hs, &nh, &body, &body_len);
    }
    struct sf_event *ev = NULL;
    if (drc != SF_OK) {
        *why = "malformed PUT record";
    } else if (!(ev = sf_event_create(hs, nh, body, body_len))) {
        *why = "out of memory";
    } else {
        ev->tracker = s->ref;
        ev->ack_id = s->ack_id;
    }
    if (hs != hstack) {
        free(hs);
    }
    return ev;
}

/*
 * Read the events of the slots that are not cached from the log, one pread per FC_READ_CHUNK of
 * consecutive records. out[j] is set for slots[j] (cached ones already are).
 * @return SF_OK, or SF_ERR_IO with the events read here freed and their out[j] NULL (logged).
 */
static int read_events(struct file_ctx *fc,
                       const struct fc_slot *slots,
                       const int *fds,
                       size_t k,
                       struct sf_event **out)
{
    struct fc_window win = { NULL, 0, 0, -1, 0 };
    int rc = SF_OK;
    for (size_t j = 0; j < k; j++) {
        if (slots[j].ack_id == FC_CACHED) {
            continue;
        }
        const char *why = NULL;
        out[j] = read_event(&win, fds[j], &slots[j], &why);
        if (!out[j]) {
            SF_ERROR(FC_FMT "could not read the event at offset %u of log file %u: %s",
                     fc->ch->name, slots[j].offset, slots[j].file_id, why);
            for (size_t i = 0; i < j; i++) {
                if (slots[i].ack_id != FC_CACHED) {
                    sf_event_destroy(out[i]);
                    out[i] = NULL;
                }
            }
            rc = SF_ERR_IO;
            break;
        }
    }
    free(win.buf);
    return rc;
}

/* Wait up to timeout_ms (0 = not at all, -1 = up to a day, as the memory channel) for a queued
 * event. q_mu held. */
static void wait_not_empty(struct file_ctx *fc, int timeout_ms)
{
    if (fc->q.len > 0 || (timeout_ms == 0 && fc->pending == 0)) {
        return;
    }
    /* committed events still being synced are as good as queued: wait for them whatever the
     * timeout (one fsync), so a take right after a put commit sees its events */
    struct timespec deadline, pend_deadline;
    sf_deadline_after_ms(&deadline, timeout_ms < 0 ? 86400000LL : timeout_ms);
    sf_deadline_after_ms(&pend_deadline, FC_PENDING_WAIT_MS);
    if (pend_deadline.tv_sec < deadline.tv_sec ||
        (pend_deadline.tv_sec == deadline.tv_sec && pend_deadline.tv_nsec < deadline.tv_nsec)) {
        pend_deadline = deadline;
    }
    while (fc->q.len == 0) {
        bool soon = fc->pending > 0 && !atomic_load(&fc->failed);
        if (!soon && timeout_ms == 0) {
            break;
        }
        if (pthread_cond_timedwait(&fc->not_empty, &fc->q_mu, soon ? &pend_deadline : &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
}

int fc_file_take(struct sf_txn *txn, struct sf_event **out, size_t max, size_t *n, int timeout_ms)
{
    struct file_ctx *fc = txn->ch->ctx;
    struct fc_take *ft = txn->plugin_data;
    bool fresh = !ft;
    *n = 0;
    if (fresh) {
        /* an idle sink polls an empty channel often: allocate only when there is something */
        pthread_mutex_lock(&fc->q_mu);
        wait_not_empty(fc, timeout_ms);
        bool empty = fc->q.len == 0;
        pthread_mutex_unlock(&fc->q_mu);
        if (empty) {
            return SF_OK;
        }
        timeout_ms = 0;
        ft = calloc(1, sizeof(*ft));
        if (!ft) {
            return SF_ERR_NOMEM;
        }
    }
    size_t from = ft->n;
    if (take_reserve(ft, from + max) != SF_OK) {
        if (fresh) {
            take_free(ft);
        }
        return SF_ERR_NOMEM;
    }
    pthread_mutex_lock(&fc->q_mu);
    wait_not_empty(fc, timeout_ms);
    size_t k = 0;
    bool uncached = false;
    while (k < max) {
        if (fc->q.len == 0) { /* committed events being synced count: wait for them */
            if (fc->pending == 0 || atomic_load(&fc->failed)) {
                break;
            }
            wait_not_empty(fc, 0);
            if (fc->q.len == 0) {
                break;
            }
        }
        struct fc_slot s = fc_ring_pop_front(&fc->q);
        if (s.ack_id == FC_CACHED) {
            out[k] = s.ref;
            fc->cache_bytes -= fc_ev_bytes(s.ref);
        } else {
            ft->fds[from + k] = fc_file_get(fc, s.file_id)->fd;
            uncached = true;
        }
        ft->slots[from + k] = s;
        k++;
    }
    if (k > 0) {
        ft->n += k;
        if (fresh) {
            take_link(fc, ft);
            txn->plugin_data = ft;
        }
    }
    pthread_mutex_unlock(&fc->q_mu);
    if (k == 0) {
        if (fresh) {
            take_free(ft);
        }
        return SF_OK;
    }
    if (uncached) {
        int rc = read_events(fc, ft->slots + from, ft->fds + from, k, out);
        if (rc != SF_OK) {
            /* give the slots back untouched: cached events return to the cache */
            pthread_mutex_lock(&fc->q_mu);
            slots_return(fc, ft, from, k, out, true);
            if (ft->n == 0) {
                take_unlink(fc, ft);
            }
            pthread_mutex_unlock(&fc->q_mu);
            if (ft->n == 0) {
                take_free(ft);
                txn->plugin_data = NULL;
            }
            return rc;
        }
    }
    *n = k;
    return SF_OK;
}

int fc_file_take_commit(struct sf_txn *txn)
{
    struct file_ctx *fc = txn->ch->ctx;
    struct fc_take *ft = txn->plugin_data;
    size_t n = ft->n;
    struct fc_wbuf *w = fc_wbuf_get(fc);
    /* one TAKE record of n pairs (the pairs go through w->at, the buffer's spare u32s) */
    if (w->at_cap < 2 * n) {
        uint32_t *at = realloc(w->at, 2 * n * sizeof(*at));
        if (!at) {
            fc_wbuf_put(fc, w);
            return SF_ERR_NOMEM;
        }
        w->at = at;
        w->at_cap = 2 * n;
    }
    for (size_t i = 0; i < n; i++) {
        w->at[2 * i] = ft->slots[i].file_id;
        w->at[2 * i + 1] = ft->slots[i].offset;
    }
    sf_wal_append_takes(&w->b, txn->id, w->at, n);
    sf_wal_append_commit(&w->b, txn->id, SF_WAL_TXN_TAKE, (uint32_t)n, NULL, NULL);
    uint32_t file_id;
    uint64_t base, lsn = 0;
    pthread_rwlock_rdlock(&fc->ckpt_rw);
    int rc = atomic_load(&fc->failed) ? SF_ERR_IO : fc_log_append(fc, w, &file_id, &base, &lsn);
    if (rc == SF_OK && fc->fsync_per_txn) {
        fc_sync_kick(fc); /* durable with the next group sync; until then a crash only repeats */
    }
    if (rc == SF_OK) {
        pthread_mutex_lock(&fc->q_mu);
        struct fc_log *f = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!f || f->id != ft->slots[i].file_id) {
                f = fc_file_get(fc, ft->slots[i].file_id);
            }
            f->refs--;
        }
        fc->held -= n;
        take_unlink(fc, ft);
        pthread_cond_broadcast(&fc->not_full);
        pthread_mutex_unlock(&fc->q_mu);
    }
    pthread_rwlock_unlock(&fc->ckpt_rw);
    fc_wbuf_put(fc, w);
    if (rc == SF_OK) {
        take_free(ft);
        txn->plugin_data = NULL;
    }
    return rc;
}

int fc_file_take_rollback(struct sf_txn *txn)
{
    struct file_ctx *fc = txn->ch->ctx;
    struct fc_take *ft = txn->plugin_data;
    size_t n = ft->n;
    pthread_mutex_lock(&fc->q_mu);
    slots_return(fc, ft, 0, n, txn->evs, false);
    take_unlink(fc, ft);
    pthread_mutex_unlock(&fc->q_mu);
    for (size_t i = 0; i < n; i++) {
        sf_event_destroy(txn->evs[i]); /* the ones the cache had no room for */
        txn->evs[i] = NULL;
    }
    take_free(ft);
    txn->plugin_data = NULL;
    return SF_OK;
}

size_t fc_file_size(struct sf_channel *ch)
{
    struct file_ctx *fc = ch->ctx;
    pthread_mutex_lock(&fc->q_mu);
    size_t n = fc->held + fc->pending;
    pthread_mutex_unlock(&fc->q_mu);
    return n;
}

int fc_file_offset_get(struct sf_channel *ch, const char *src_key, char **out)
{
    struct file_ctx *fc = ch->ctx;
    int rc = SF_ERR_NOTFOUND;
    *out = NULL;
    pthread_mutex_lock(&fc->q_mu);
    const char *pending_val = NULL; /* the newest commit still being synced wins */
    for (const struct fc_pending *pe = fc->pend_head; pe; pe = pe->next) {
        if (pe->off_key && strcmp(pe->off_key, src_key) == 0) {
            pending_val = pe->off_val;
        }
    }
    if (pending_val) {
        *out = strdup(pending_val);
        pthread_mutex_unlock(&fc->q_mu);
        return *out ? SF_OK : SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < fc->noffsets; i++) {
        if (strcmp(fc->offsets[i].key, src_key) == 0) {
            *out = strdup(fc->offsets[i].val);
            rc = *out ? SF_OK : SF_ERR_NOMEM;
            break;
        }
    }
    pthread_mutex_unlock(&fc->q_mu);
    return rc;
}
