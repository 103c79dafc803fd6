/*
 * Flume's FileChannel, the queue's ring of slots, the table of log files, and the reusable
 * serialisation buffers. The design, the on-disk formats' use and the lock order are in fc.h.
 */
#include "fc.h"

/* ---------- the ring ---------- */

int fc_ring_reserve(struct fc_ring *r, size_t need)
{
    if (need <= r->cap) {
        return SF_OK;
    }
    size_t cap = r->cap ? r->cap : 1024;
    while (cap < need) {
        cap *= 2;
    }
    struct fc_slot *v = malloc(cap * sizeof(*v));
    if (!v) {
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < r->len; i++) {
        v[i] = r->v[(r->head + i) & (r->cap - 1)];
    }
    free(r->v);
    r->v = v;
    r->cap = cap;
    r->head = 0;
    return SF_OK;
}

void fc_ring_push_back(struct fc_ring *r, const struct fc_slot *s)
{
    r->v[(r->head + r->len) & (r->cap - 1)] = *s;
    r->len++;
}

void fc_ring_push_front(struct fc_ring *r, const struct fc_slot *s)
{
    r->head = (r->head - 1) & (r->cap - 1);
    r->v[r->head] = *s;
    r->len++;
}

struct fc_slot fc_ring_pop_front(struct fc_ring *r)
{
    struct fc_slot s = r->v[r->head];
    r->head = (r->head + 1) & (r->cap - 1);
    r->len--;
    return s;
}

struct fc_slot *fc_ring_at(struct fc_ring *r, size_t i)
{
    return &r->v[(r->head + i) & (r->cap - 1)];
}

/* ---------- the log file table (q_mu, or single-threaded at start) ---------- */

struct fc_log *fc_file_get(struct file_ctx *fc, uint32_t id)
{
    if (id < fc->files_base || id - fc->files_base >= fc->nfiles) {
        return NULL;
    }
    return fc->files[id - fc->files_base];
}

/* Add f, whose id is above every id in the table. */
int fc_file_add(struct file_ctx *fc, struct fc_log *f)
{
    if (fc->nfiles == 0) {
        fc->files_base = f->id;
    }
    size_t idx = f->id - fc->files_base;
    if (idx >= fc->files_cap) {
        size_t cap = fc->files_cap ? fc->files_cap * 2 : 16;
        while (cap <= idx) {
            cap *= 2;
        }
        struct fc_log **v = realloc(fc->files, cap * sizeof(*v));
        if (!v) {
            return SF_ERR_NOMEM;
        }
        fc->files = v;
        fc->files_cap = cap;
    }
    for (size_t i = fc->nfiles; i < idx; i++) {
        fc->files[i] = NULL;
    }
    fc->files[idx] = f;
    fc->nfiles = idx + 1;
    return SF_OK;
}

/* Remove the entry of id and drop leading holes. */
void fc_file_remove(struct file_ctx *fc, uint32_t id)
{
    fc->files[id - fc->files_base] = NULL;
    size_t skip = 0;
    while (skip < fc->nfiles && !fc->files[skip]) {
        skip++;
    }
    if (skip > 0) {
        memmove(fc->files, fc->files + skip, (fc->nfiles - skip) * sizeof(*fc->files));
        fc->nfiles -= skip;
        fc->files_base += (uint32_t)skip;
    }
}

/* ---------- serialisation buffers ---------- */

struct fc_wbuf *fc_wbuf_get(struct file_ctx *fc)
{
    for (int i = 0; i < FC_SPARE_BUFS; i++) {
        struct fc_wbuf *w = atomic_exchange(&fc->spare[i], NULL);
        if (w) {
            sf_buf_reset(&w->b);
            return w;
        }
    }
    struct fc_wbuf *w = calloc(1, sizeof(*w));
    if (!w) {
        abort(); /* as sf_buf does: nothing sensible to do without memory */
    }
    return w;
}

void fc_wbuf_free(struct fc_wbuf *w)
{
    if (w) {
        sf_buf_free(&w->b);
        free(w->at);
        free(w);
    }
}

void fc_wbuf_put(struct file_ctx *fc, struct fc_wbuf *w)
{
    if (w->b.cap <= FC_SPARE_MAX) {
        for (int i = 0; i < FC_SPARE_BUFS; i++) {
            struct fc_wbuf *expect = NULL;
            if (atomic_compare_exchange_strong(&fc->spare[i], &expect, w)) {
                return;
            }
        }
    }
    fc_wbuf_free(w);
}
