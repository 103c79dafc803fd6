/*
 * Events (one allocation each) and the per-source delivery tracker that turns out-of-order sink
 * acknowledgements into a committable offset: the offset of the last batch of the longest fully
 * acknowledged prefix (Kafka Connect's SubmittedRecords, DESIGN-NOTES 1).
 */
#include "sqlflume/event.h"

#include "sqlflume/interceptor.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct sf_event *sf_event_create_lens(const struct sf_header_lens *headers,
                                      size_t n,
                                      const void *body,
                                      size_t body_len)
{
    size_t strs = 0;
    for (size_t i = 0; i < n; i++) {
        strs += headers[i].key_len + headers[i].val_len + 2;
    }
    size_t fixed = sizeof(struct sf_event) + n * sizeof(struct sf_header);
    struct sf_event *ev = malloc(fixed + strs + body_len + 1);
    if (!ev) {
        return NULL;
    }
    ev->next = NULL;
    ev->tracker = NULL;
    ev->ack_id = 0;
    ev->nheaders = n;
    char *p = (char *)ev + fixed;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, headers[i].key, headers[i].key_len);
        p[headers[i].key_len] = '\0';
        ev->headers[i].key = p;
        p += headers[i].key_len + 1;
        memcpy(p, headers[i].val, headers[i].val_len);
        p[headers[i].val_len] = '\0';
        ev->headers[i].val = p;
        p += headers[i].val_len + 1;
    }
    ev->body = p;
    ev->body_len = body_len;
    if (body_len) {
        memcpy(p, body, body_len);
    }
    p[body_len] = '\0';
    return ev;
}

struct sf_event *
sf_event_create(const struct sf_header *headers, size_t n, const void *body, size_t body_len)
{
    struct sf_header_lens small[8] = { { 0 } };
    struct sf_header_lens *hl = n <= 8 ? small : malloc(n * sizeof(*hl));
    if (!hl) {
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        hl[i] = (struct sf_header_lens){ headers[i].key, strlen(headers[i].key), headers[i].val,
                                         strlen(headers[i].val) };
    }
    struct sf_event *ev = sf_event_create_lens(hl, n, body, body_len);
    if (hl != small) {
        free(hl);
    }
    return ev;
}

struct sf_event *sf_event_copy(const struct sf_event *ev)
{
    struct sf_event *cp = sf_event_create(ev->headers, ev->nheaders, ev->body, ev->body_len);
    if (cp) {
        cp->tracker = ev->tracker;
        cp->ack_id = ev->ack_id;
    }
    return cp;
}

struct sf_event *sf_event_rebuild(const struct sf_event *ev,
                                  const struct sf_header_lens *headers,
                                  size_t n,
                                  const void *body,
                                  size_t body_len)
{
    struct sf_event *out = sf_event_create_lens(headers, n, body, body_len);
    if (out) {
        out->tracker = ev->tracker;
        out->ack_id = ev->ack_id;
    }
    return out;
}

void sf_event_destroy(struct sf_event *ev)
{
    free(ev);
}


/* ---- delivery tracker ---- */

struct ack_batch {
    uint64_t id;
    size_t remaining; /* deliveries still expected: events x channels */
    char *offset;
};

struct sf_ack_tracker {
    pthread_mutex_t mu;
    struct ack_batch *ring; /* batches in id order: ring[(head + i) % cap], i < count */
    size_t head, count, cap;
    uint64_t next_id;   /* id of the next batch added */
    char *committable;  /* offset of the longest acknowledged prefix, not yet polled */
};

struct sf_ack_tracker *sf_ack_tracker_create(void)
{
    struct sf_ack_tracker *tr = calloc(1, sizeof(*tr));
    if (!tr) {
        return NULL;
    }
    pthread_mutex_init(&tr->mu, NULL);
    tr->next_id = 1;
    return tr;
}

void sf_ack_tracker_destroy(struct sf_ack_tracker *tr)
{
    if (!tr) {
        return;
    }
    for (size_t i = 0; i < tr->count; i++) {
        free(tr->ring[(tr->head + i) % tr->cap].offset);
    }
    free(tr->ring);
    free(tr->committable);
    pthread_mutex_destroy(&tr->mu);
    free(tr);
}

/* Pop fully acknowledged batches off the front; remember the last one's offset. Locked. */
static void advance(struct sf_ack_tracker *tr)
{
    while (tr->count > 0 && tr->ring[tr->head].remaining == 0) {
        struct ack_batch *b = &tr->ring[tr->head];
        free(tr->committable);
        tr->committable = b->offset;
        b->offset = NULL;
        tr->head = (tr->head + 1) % tr->cap;
        tr->count--;
    }
}

uint64_t sf_ack_tracker_add(struct sf_ack_tracker *tr, size_t n_events, unsigned nchannels,
                            const char *last_offset)
{
    char *off = strdup(last_offset ? last_offset : "");
    if (!off) {
        return 0;
    }
    pthread_mutex_lock(&tr->mu);
    if (tr->count == tr->cap) {
        size_t ncap = tr->cap ? tr->cap * 2 : 64;
        struct ack_batch *nr = malloc(ncap * sizeof(*nr));
        if (!nr) {
            pthread_mutex_unlock(&tr->mu);
            free(off);
            return 0;
        }
        for (size_t i = 0; i < tr->count; i++) {
            nr[i] = tr->ring[(tr->head + i) % tr->cap];
        }
        free(tr->ring);
        tr->ring = nr;
        tr->head = 0;
        tr->cap = ncap;
    }
    uint64_t id = tr->next_id++;
    struct ack_batch *b = &tr->ring[(tr->head + tr->count) % tr->cap];
    b->id = id;
    b->remaining = n_events * nchannels;
    b->offset = off;
    tr->count++;
    advance(tr); /* an empty batch is acknowledged at once */
    pthread_mutex_unlock(&tr->mu);
    return id;
}

void sf_ack_tracker_ack(struct sf_ack_tracker *tr, uint64_t id, size_t n)
{
    pthread_mutex_lock(&tr->mu);
    if (tr->count > 0) {
        uint64_t first = tr->ring[tr->head].id;
        /* ids are consecutive in the ring, so the batch's slot is computed, not searched */
        if (id >= first && id - first < tr->count) {
            struct ack_batch *b = &tr->ring[(tr->head + (size_t)(id - first)) % tr->cap];
            b->remaining = b->remaining > n ? b->remaining - n : 0;
            if (id == first) {
                advance(tr);
            }
        }
    }
    pthread_mutex_unlock(&tr->mu);
}

void sf_events_ack(struct sf_event *const *evs, size_t n)
{
    size_t i = 0;
    while (i < n) {
        struct sf_ack_tracker *tr = evs[i]->tracker;
        uint64_t id = evs[i]->ack_id;
        size_t j = i + 1;
        while (j < n && evs[j]->tracker == tr && evs[j]->ack_id == id) {
            j++;
        }
        if (tr) {
            sf_ack_tracker_ack(tr, id, j - i);
        }
        i = j;
    }
}

void sf_ack_run_flush(struct sf_ack_run *r)
{
    if (r->tr && r->n) {
        sf_ack_tracker_ack(r->tr, r->id, r->n);
    }
    *r = (struct sf_ack_run){ NULL, 0, 0 };
}

void sf_ack_run_add(struct sf_ack_run *r, struct sf_ack_tracker *tr, uint64_t id, size_t n)
{
    if (!tr || n == 0) {
        return;
    }
    if (r->tr != tr || r->id != id) {
        sf_ack_run_flush(r);
        r->tr = tr;
        r->id = id;
    }
    r->n += n;
}

char *sf_ack_tracker_poll(struct sf_ack_tracker *tr)
{
    pthread_mutex_lock(&tr->mu);
    char *off = tr->committable;
    tr->committable = NULL;
    pthread_mutex_unlock(&tr->mu);
    return off;
}

size_t sf_ack_tracker_pending(struct sf_ack_tracker *tr)
{
    pthread_mutex_lock(&tr->mu);
    size_t n = tr->count;
    pthread_mutex_unlock(&tr->mu);
    return n;
}
