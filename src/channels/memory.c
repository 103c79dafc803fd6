/*
 * Flume's MemoryChannel: a bounded in-memory FIFO of events. capacity counts events held (queued
 * plus taken and not yet committed, like Flume's queueRemaining semaphore), byteCapacity counts
 * body bytes. A put commit waits up to keep-alive seconds for room, then fails with
 * SF_ERR_FULL ("Space for commit to queue couldn't be acquired"), so a full channel pushes back
 * on the source and nothing is dropped. One lock round trip per transaction.
 */
#include "sqlflume/channel.h"
#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct memory_ctx {
    long long capacity;
    long long txn_capacity;
    long long byte_capacity;
    long long byte_buffer_pct;
    long long keep_alive_s;

    pthread_mutex_t mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    struct sf_event *head, *tail; /* queue */
    size_t queued;                /* events in the queue */
    size_t held;                  /* queued + taken, uncommitted */
    size_t held_bytes;
    size_t byte_limit; /* 0 = none */
};

static const struct sf_option memory_options[] = {
    { "capacity", SF_OPT_INT, "100", 1, 1000000000, offsetof(struct memory_ctx, capacity), 0, NULL,
      NULL, "maximum number of events held by the channel" },
    { "transactionCapacity", SF_OPT_INT, "100", 1, 1000000000,
      offsetof(struct memory_ctx, txn_capacity), 0, NULL, NULL,
      "maximum number of events per put or take transaction" },
    { "byteCapacity", SF_OPT_INT, "0", 0, (long long)1 << 50,
      offsetof(struct memory_ctx, byte_capacity), 0, NULL, NULL,
      "maximum bytes of event bodies held; 0 = no limit (Flume: 80% of the JVM heap)" },
    { "byteCapacityBufferPercentage", SF_OPT_INT, "20", 0, 99,
      offsetof(struct memory_ctx, byte_buffer_pct), 0, NULL, NULL,
      "percent of byteCapacity kept free for header overhead" },
    { "keep-alive", SF_OPT_INT, "3", 0, 86400, offsetof(struct memory_ctx, keep_alive_s), 0, NULL,
      NULL, "seconds a put commit waits for room before failing" },
    { 0 },
};

static int memory_configure(struct sf_channel *ch, struct sf_diag *d)
{
    const struct memory_ctx *m = ch->ctx;
    return sf_channel_check_capacity(ch, m->capacity, m->txn_capacity, d);
}

static int memory_start(struct sf_channel *ch, char *errstr, size_t errstr_size)
{
    struct memory_ctx *m = ch->ctx;
    (void)errstr, (void)errstr_size; /* memory_configure checked the options */
    pthread_mutex_init(&m->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&m->not_empty, &ca);
    pthread_cond_init(&m->not_full, &ca);
    pthread_condattr_destroy(&ca);
    if (m->byte_capacity > 0) {
        m->byte_limit = (size_t)(m->byte_capacity * (100 - m->byte_buffer_pct) / 100);
    }
    ch->capacity = m->capacity;
    ch->txn_capacity = m->txn_capacity;
    return SF_OK;
}

static void memory_stop(struct sf_channel *ch)
{
    struct memory_ctx *m = ch->ctx;
    struct sf_event *ev = m->head;
    while (ev) {
        struct sf_event *next = ev->next;
        sf_event_destroy(ev);
        ev = next;
    }
    m->head = m->tail = NULL;
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->not_empty);
    pthread_cond_destroy(&m->not_full);
}

static bool has_room(const struct memory_ctx *m, size_t n, size_t bytes)
{
    if (m->held + n > (size_t)m->capacity) {
        return false;
    }
    /* a single oversized batch into an empty channel is let through so it cannot wedge */
    return m->byte_limit == 0 || m->held_bytes == 0 || m->held_bytes + bytes <= m->byte_limit;
}

static int memory_put_commit(struct sf_txn *txn)
{
    struct memory_ctx *m = txn->ch->ctx;
    size_t bytes = 0;
    for (size_t i = 0; i < txn->n; i++) {
        bytes += txn->evs[i]->body_len;
        txn->evs[i]->next = i + 1 < txn->n ? txn->evs[i + 1] : NULL;
    }
    struct timespec deadline;
    sf_deadline_after_ms(&deadline, m->keep_alive_s * 1000);
    pthread_mutex_lock(&m->mu);
    while (!has_room(m, txn->n, bytes)) {
        if (pthread_cond_timedwait(&m->not_full, &m->mu, &deadline) == ETIMEDOUT &&
            !has_room(m, txn->n, bytes)) {
            pthread_mutex_unlock(&m->mu);
            SF_DEBUG("[channel %s] space for commit to queue couldn't be acquired (%zu events)",
                     txn->ch->name, txn->n);
            return SF_ERR_FULL;
        }
    }
    if (m->tail) {
        m->tail->next = txn->evs[0];
    } else {
        m->head = txn->evs[0];
    }
    m->tail = txn->evs[txn->n - 1];
    m->queued += txn->n;
    m->held += txn->n;
    m->held_bytes += bytes;
    pthread_cond_broadcast(&m->not_empty);
    pthread_mutex_unlock(&m->mu);
    return SF_OK;
}

static int
memory_take(struct sf_txn *txn, struct sf_event **out, size_t max, size_t *n, int timeout_ms)
{
    struct memory_ctx *m = txn->ch->ctx;
    pthread_mutex_lock(&m->mu);
    if (m->queued == 0 && timeout_ms != 0) {
        struct timespec deadline;
        sf_deadline_after_ms(&deadline, timeout_ms < 0 ? 86400000LL : timeout_ms);
        while (m->queued == 0) {
            if (pthread_cond_timedwait(&m->not_empty, &m->mu, &deadline) == ETIMEDOUT) {
                break;
            }
        }
    }
    size_t k = 0;
    while (k < max && m->head) {
        struct sf_event *ev = m->head;
        m->head = ev->next;
        ev->next = NULL;
        out[k++] = ev;
    }
    if (!m->head) {
        m->tail = NULL;
    }
    m->queued -= k;
    pthread_mutex_unlock(&m->mu);
    *n = k;
    return SF_OK;
}

static int memory_take_commit(struct sf_txn *txn)
{
    struct memory_ctx *m = txn->ch->ctx;
    size_t bytes = 0;
    for (size_t i = 0; i < txn->n; i++) {
        bytes += txn->evs[i]->body_len;
    }
    pthread_mutex_lock(&m->mu);
    m->held -= txn->n;
    m->held_bytes -= bytes;
    pthread_cond_broadcast(&m->not_full);
    pthread_mutex_unlock(&m->mu);
    return SF_OK;
}

static int memory_take_rollback(struct sf_txn *txn)
{
    struct memory_ctx *m = txn->ch->ctx;
    for (size_t i = 0; i + 1 < txn->n; i++) {
        txn->evs[i]->next = txn->evs[i + 1];
    }
    pthread_mutex_lock(&m->mu);
    txn->evs[txn->n - 1]->next = m->head;
    m->head = txn->evs[0];
    if (!m->tail) {
        m->tail = txn->evs[txn->n - 1];
    }
    m->queued += txn->n;
    pthread_cond_broadcast(&m->not_empty);
    pthread_mutex_unlock(&m->mu);
    return SF_OK;
}

static size_t memory_size(struct sf_channel *ch)
{
    struct memory_ctx *m = ch->ctx;
    pthread_mutex_lock(&m->mu);
    size_t n = m->held;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static const char *const memory_aliases[] = { "org.apache.flume.channel.MemoryChannel", NULL };

const struct sf_channel_plugin sf_channel_memory = {
    .name = "memory",
    .aliases = memory_aliases,
    .options = memory_options,
    .ctx_size = sizeof(struct memory_ctx),
    .configure = memory_configure,
    .start = memory_start,
    .stop = memory_stop,
    .put_commit = memory_put_commit,
    .take = memory_take,
    .take_commit = memory_take_commit,
    .take_rollback = memory_take_rollback,
    .size = memory_size,
};
