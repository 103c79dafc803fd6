/*
 * Unit tests of the acknowledged-sink pipeline (src/core/sink_pipeline.c) over a fake channel
 * that logs every take commit and rollback, and a fake sink that acknowledges when the test says
 * so (asynchronously, as Kafka does) or inside send (synchronously, write + fsync then ack):
 * commit order, rollback newest first, Flume's SinkCounter, no backoff while batches are in
 * flight, take limits, drain at stop, round trips. No network, no sleeps.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/sink.h"
#include "sqlflume/sink_pipeline.h"

/* ---------- a fake channel: a queue, and a log of take commits and rollbacks ---------- */

#define QCAP   1024
#define LOGCAP 256

struct fake_ch {
    struct sf_event *q[QCAP]; /* queue[head .. head+n) */
    size_t head, n;
    size_t taken;         /* taken, not yet committed or rolled back */
    int take_err;         /* != SF_OK: the next take fails with it */
    char log[LOGCAP][32]; /* "c:<first body>" per take commit, "r:<first body>" per rollback */
    size_t nlog;
};

static int fake_put_commit(struct sf_txn *txn)
{
    struct fake_ch *f = txn->ch->ctx;
    for (size_t i = 0; i < txn->n; i++) {
        f->q[(f->head + f->n++) % QCAP] = txn->evs[i];
    }
    return SF_OK;
}

static int
fake_take(struct sf_txn *txn, struct sf_event **out, size_t max, size_t *n, int timeout_ms)
{
    (void)timeout_ms;
    struct fake_ch *f = txn->ch->ctx;
    if (f->take_err != SF_OK) {
        int rc = f->take_err;
        f->take_err = SF_OK;
        return rc;
    }
    *n = 0;
    while (*n < max && f->n > 0) {
        out[(*n)++] = f->q[f->head];
        f->head = (f->head + 1) % QCAP;
        f->n--;
    }
    f->taken += *n;
    return SF_OK;
}

static int fake_take_commit(struct sf_txn *txn)
{
    struct fake_ch *f = txn->ch->ctx;
    ck_assert_uint_lt(f->nlog, LOGCAP);
    (void)snprintf(f->log[f->nlog++], sizeof(f->log[0]), "c:%.*s", (int)txn->evs[0]->body_len,
                   (const char *)txn->evs[0]->body);
    f->taken -= txn->n;
    return SF_OK;
}

static int fake_take_rollback(struct sf_txn *txn)
{
    struct fake_ch *f = txn->ch->ctx;
    ck_assert_uint_lt(f->nlog, LOGCAP);
    (void)snprintf(f->log[f->nlog++], sizeof(f->log[0]), "r:%.*s", (int)txn->evs[0]->body_len,
                   (const char *)txn->evs[0]->body);
    for (size_t i = txn->n; i-- > 0;) { /* back to the head, in order */
        f->head = (f->head + QCAP - 1) % QCAP;
        f->q[f->head] = txn->evs[i];
        f->n++;
    }
    f->taken -= txn->n;
    return SF_OK;
}

static size_t fake_size(struct sf_channel *ch)
{
    struct fake_ch *f = ch->ctx;
    return f->n + f->taken;
}

static const struct sf_channel_plugin fake_channel = {
    .name = "fake",
    .put_commit = fake_put_commit,
    .take = fake_take,
    .take_commit = fake_take_commit,
    .take_rollback = fake_take_rollback,
    .size = fake_size,
};

/* ---------- a fake acknowledging sink ---------- */

struct fake_sink {
    struct sf_sink_pipeline pl;
    bool sync;          /* send acknowledges the whole batch (write + fsync, then ack) */
    int send_err;       /* != SF_OK: the next send fails with it */
    size_t reject_take; /* > 0: the next send rejects its batch, asking for this many events */
    size_t sends, polls, flushes;
    int last_wait_ms;
    size_t flush_acks; /* each flush_wait acknowledges the oldest batch, this many times */
    bool stalled;
    bool untimed; /* send clears sent_us */
    long long sent_seq[LOGCAP];
};

static struct fake_sink *fs_of(struct sf_sink *snk)
{
    return snk->ctx;
}

static int fs_send(struct sf_sink *snk, struct sf_pipeline_batch *b)
{
    struct fake_sink *fs = fs_of(snk);
    ck_assert_uint_eq(b->acked, 0);
    ck_assert_ptr_nonnull(b->txn);
    fs->sent_seq[fs->sends++] = b->seq;
    if (fs->untimed) {
        b->sent_us = 0;
    }
    if (fs->reject_take > 0) {
        sf_sink_pipeline_limit_next(&fs->pl, fs->reject_take);
        fs->reject_take = 0;
        return SF_ERR_DATA;
    }
    if (fs->send_err != SF_OK) {
        int rc = fs->send_err;
        fs->send_err = SF_OK;
        return rc;
    }
    if (fs->sync) {
        ck_assert(sf_sink_pipeline_ack(&fs->pl, b, b->n));
    }
    return SF_OK;
}

static void fs_poll(struct sf_sink *snk)
{
    fs_of(snk)->polls++;
}

static enum sf_status fs_flush_wait(struct sf_sink *snk, int max_ms)
{
    struct fake_sink *fs = fs_of(snk);
    fs->flushes++;
    fs->last_wait_ms = max_ms;
    if (fs->flush_acks > 0 && fs->pl.count > 0) {
        fs->flush_acks--;
        struct sf_pipeline_batch *b = sf_sink_pipeline_at(&fs->pl, 0);
        (void)sf_sink_pipeline_ack(&fs->pl, b, b->n - b->acked);
    }
    return fs->pl.halted ? SF_BACKOFF : SF_READY;
}

static bool fs_stalled(struct sf_sink *snk)
{
    return fs_of(snk)->stalled;
}

static const struct sf_sink_pipeline_ops async_ops = {
    .send = fs_send,
    .poll = fs_poll,
    .flush_wait = fs_flush_wait,
    .stalled = fs_stalled,
};

/* synchronous: no poll, no flush_wait */
static const struct sf_sink_pipeline_ops sync_ops = { .send = fs_send };

static const struct sf_sink_plugin fake_plugin = { .name = "fake" };

/* ---------- the rig ---------- */

struct rig {
    struct sf_channel ch;
    struct fake_ch fch;
    struct sf_sink snk;
    struct fake_sink fs;
};

static struct rig *rig_new(const struct sf_sink_pipeline_ops *ops,
                           long long max_inflight,
                           long long batch,
                           long long txn_capacity)
{
    struct rig *r = calloc(1, sizeof(*r));
    r->ch.name = "c1";
    r->ch.plugin = &fake_channel;
    r->ch.ctx = &r->fch;
    r->ch.capacity = QCAP;
    r->ch.txn_capacity = txn_capacity;
    r->snk.name = "k1";
    r->snk.plugin = &fake_plugin;
    r->snk.ch = &r->ch;
    r->snk.ctx = &r->fs;
    r->fs.sync = ops == &sync_ops;
    ck_assert_int_eq(sf_sink_pipeline_init(&r->fs.pl, &r->snk, ops, max_inflight, batch), SF_OK);
    return r;
}

static void rig_free(struct rig *r)
{
    sf_sink_pipeline_free(&r->fs.pl);
    ck_assert_uint_eq(r->fch.taken, 0); /* free rolled back whatever was left */
    while (r->fch.n > 0) {
        sf_event_destroy(r->fch.q[r->fch.head]);
        r->fch.head = (r->fch.head + 1) % QCAP;
        r->fch.n--;
    }
    free(r);
}

/* Put events "e<first>".."e<first+n-1>", in put transactions of transactionCapacity. */
static void put(struct rig *r, int first, int n)
{
    for (int i = first; i < first + n;) {
        struct sf_txn *txn = sf_channel_txn_begin(&r->ch);
        for (size_t k = 0; k < txn->cap && i < first + n; k++, i++) {
            char body[16];
            int len = snprintf(body, sizeof(body), "e%d", i);
            struct sf_event *ev = sf_event_create(NULL, 0, body, (size_t)len);
            ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
        }
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
        sf_channel_txn_close(txn);
    }
}

/* The body of the event at place i of the channel's queue. */
static const char *queued(struct rig *r, size_t i, char *buf, size_t size)
{
    ck_assert_uint_lt(i, r->fch.n);
    const struct sf_event *ev = r->fch.q[(r->fch.head + i) % QCAP];
    (void)snprintf(buf, size, "%.*s", (int)ev->body_len, (const char *)ev->body);
    return buf;
}

static long long metric(const atomic_llong *m)
{
    return atomic_load(m);
}

static enum sf_status step(struct rig *r)
{
    return sf_sink_pipeline_process(&r->fs.pl);
}

static void ack_batch(struct rig *r, size_t i, size_t k)
{
    (void)sf_sink_pipeline_ack(&r->fs.pl, sf_sink_pipeline_at(&r->fs.pl, i), k);
}

/* ---------- tests ---------- */

/* Batches acknowledged out of order commit in take order, each once all its events are. */
START_TEST(commit_in_take_order)
{
    struct rig *r = rig_new(&async_ops, 4, 10, 1000);
    put(r, 0, 40);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(step(r), SF_READY);
    }
    ck_assert_uint_eq(r->fs.pl.count, 4);
    ck_assert_uint_eq(r->fs.sends, 4);
    ck_assert_uint_eq(r->fs.flushes, 1); /* the fourth took the last slot: flush now */
    ck_assert_int_eq(r->fs.last_wait_ms, 100);
    ck_assert_int_eq(r->fs.pl.waits_full, 1);
    ack_batch(r, 3, 10);
    ack_batch(r, 2, 10);
    ack_batch(r, 0, 9); /* one event of the oldest still unacknowledged */
    sf_sink_pipeline_settle(&r->fs.pl);
    ck_assert_uint_eq(r->fs.pl.count, 4);
    ck_assert_uint_eq(r->fch.nlog, 0);
    ck_assert_int_eq(metric(&r->snk.metrics.drain_success), 0);
    ack_batch(r, 0, 1);
    sf_sink_pipeline_settle(&r->fs.pl);
    ck_assert_uint_eq(r->fs.pl.count, 3); /* the second (not acknowledged) holds the others */
    ack_batch(r, 0, 10);
    sf_sink_pipeline_settle(&r->fs.pl);
    ck_assert_uint_eq(r->fs.pl.count, 0);
    ck_assert_uint_eq(r->fch.nlog, 4);
    ck_assert_str_eq(r->fch.log[0], "c:e0");
    ck_assert_str_eq(r->fch.log[1], "c:e10");
    ck_assert_str_eq(r->fch.log[2], "c:e20");
    ck_assert_str_eq(r->fch.log[3], "c:e30");
    ck_assert_int_eq(metric(&r->snk.metrics.drain_attempt), 40);
    ck_assert_int_eq(metric(&r->snk.metrics.drain_success), 40);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_complete), 4);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_underflow), 0);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_empty), 0);
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(r->fs.sent_seq[i], i + 1);
    }
    rig_free(r);
}
END_TEST

/* Rolling back goes newest first, and the channel ends up in its original order. */
START_TEST(rollback_newest_first)
{
    struct rig *r = rig_new(&async_ops, 8, 10, 1000);
    put(r, 0, 35);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(step(r), SF_READY);
    }
    ck_assert_uint_eq(r->fs.pl.count, 3);
    ck_assert_uint_eq(r->fch.n, 5);
    ack_batch(r, 1, 10); /* acknowledged, but behind the oldest: not committed */
    sf_sink_pipeline_rollback_all(&r->fs.pl);
    ck_assert_uint_eq(r->fs.pl.count, 0);
    ck_assert_uint_eq(r->fch.nlog, 3);
    ck_assert_str_eq(r->fch.log[0], "r:e20");
    ck_assert_str_eq(r->fch.log[1], "r:e10");
    ck_assert_str_eq(r->fch.log[2], "r:e0");
    ck_assert_uint_eq(r->fch.n, 35);
    char buf[16], want[16];
    for (int i = 0; i < 35; i++) {
        (void)snprintf(want, sizeof(want), "e%d", i);
        ck_assert_str_eq(queued(r, (size_t)i, buf, sizeof(buf)), want);
    }
    ck_assert_int_eq(metric(&r->snk.metrics.drain_success), 0);
    ck_assert_int_eq(metric(&r->snk.metrics.drain_attempt), 30);
    /* the slots are free again: the same events are taken again, in order */
    ck_assert_int_eq(step(r), SF_READY);
    ack_batch(r, 0, 10);
    sf_sink_pipeline_settle(&r->fs.pl);
    ck_assert_str_eq(r->fch.log[3], "c:e0");
    rig_free(r);
}
END_TEST

/* Flume's SinkCounter: empty, underflow and complete batches, attempts and successes, read
 * failures. */
START_TEST(counters)
{
    struct rig *r = rig_new(&async_ops, 4, 10, 1000);
    ck_assert_int_eq(step(r), SF_BACKOFF); /* empty, nothing in flight */
    ck_assert_int_eq(metric(&r->snk.metrics.batch_empty), 1);
    ck_assert_uint_eq(r->fs.flushes, 0);
    put(r, 0, 13);
    ck_assert_int_eq(step(r), SF_READY); /* 10: complete */
    ck_assert_int_eq(step(r), SF_READY); /* 3: underflow, then flush now (10 ms) */
    ck_assert_int_eq(metric(&r->snk.metrics.batch_complete), 1);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_underflow), 1);
    ck_assert_int_eq(metric(&r->snk.metrics.drain_attempt), 13);
    ck_assert_uint_eq(r->fs.flushes, 1);
    ck_assert_int_eq(r->fs.last_wait_ms, 10);
    ck_assert_int_eq(r->fs.pl.waits_empty, 1);
    /* empty again with batches in flight: not counted as an empty batch */
    ck_assert_int_eq(step(r), SF_READY);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_empty), 1);
    ck_assert_int_eq(r->fs.pl.waits_empty, 2);
    /* a failing take: counted, and no backoff while batches are in flight */
    r->fch.take_err = SF_ERR_IO;
    ck_assert_int_eq(step(r), SF_READY);
    ck_assert_int_eq(metric(&r->snk.metrics.channel_read_fail), 1);
    ack_batch(r, 0, 10);
    ack_batch(r, 1, 3);
    ck_assert_int_eq(step(r), SF_BACKOFF); /* settles, then finds the channel empty */
    ck_assert_int_eq(metric(&r->snk.metrics.drain_success), 13);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_empty), 2);
    r->fch.take_err = SF_ERR_IO;
    ck_assert_int_eq(step(r), SF_FAILED); /* nothing in flight: a failure, backs off */
    ck_assert_int_eq(metric(&r->snk.metrics.channel_read_fail), 2);
    ck_assert_uint_gt(r->fs.polls, 0);
    rig_free(r);
}
END_TEST

/* No SF_BACKOFF while a batch is in flight: channel empty, slots full, halted, stopping. */
START_TEST(no_backoff_in_flight)
{
    struct rig *r = rig_new(&async_ops, 2, 10, 1000);
    put(r, 0, 30);
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(step(r), SF_READY); /* two batches in flight, the rest waits */
    }
    ck_assert_uint_eq(r->fs.pl.count, 2);
    ck_assert_uint_eq(r->fs.sends, 2);
    ck_assert_uint_eq(r->fs.flushes, 19); /* every step after the first waited for acks */
    ack_batch(r, 0, 10);
    ck_assert_int_eq(step(r), SF_READY); /* commits one, takes the third */
    ck_assert_uint_eq(r->fs.sends, 3);
    ck_assert_uint_eq(r->fch.n, 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(step(r), SF_READY); /* the channel is empty: still no backoff */
    }
    r->fs.pl.halted = true;
    size_t sends = r->fs.sends;
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(step(r), SF_READY); /* halted: takes nothing, waits, no backoff */
    }
    ck_assert_uint_eq(r->fs.sends, sends);
    r->fs.pl.halted = false;
    atomic_store(&r->snk.stopping, true);
    put(r, 30, 5);
    ck_assert_int_eq(step(r), SF_READY); /* stopping: takes nothing more */
    ck_assert_uint_eq(r->fs.sends, sends);
    ack_batch(r, 0, 10);
    ack_batch(r, 1, 10);
    ck_assert_int_eq(step(r), SF_BACKOFF); /* nothing in flight any more */
    ck_assert_int_eq(metric(&r->snk.metrics.drain_success), 30);
    rig_free(r);
}
END_TEST

/* A synchronous sink (acknowledges inside send): each batch commits within its step; a failed
 * send rolls it back and backs off, and the same events go again. */
START_TEST(synchronous_sink)
{
    struct rig *r = rig_new(&sync_ops, 4, 10, 1000);
    put(r, 0, 25);
    ck_assert_int_eq(step(r), SF_READY);
    ck_assert_uint_eq(r->fs.pl.count, 0);
    ck_assert_str_eq(r->fch.log[0], "c:e0");
    r->fs.send_err = SF_ERR_IO;
    ck_assert_int_eq(step(r), SF_FAILED);
    ck_assert_str_eq(r->fch.log[1], "r:e10");
    ck_assert_uint_eq(r->fch.n, 15);
    ck_assert_int_eq(step(r), SF_READY);
    ck_assert_str_eq(r->fch.log[2], "c:e10");
    ck_assert_int_eq(step(r), SF_READY); /* 5 events: underflow, nothing to wait for */
    ck_assert_str_eq(r->fch.log[3], "c:e20");
    ck_assert_int_eq(step(r), SF_BACKOFF);
    ck_assert_int_eq(metric(&r->snk.metrics.drain_attempt), 35); /* the failed one counts */
    ck_assert_int_eq(metric(&r->snk.metrics.drain_success), 25);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_complete), 3);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_underflow), 1);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_empty), 1);
    rig_free(r);
}
END_TEST

/* send rejects a batch and asks for a shorter one: it is rolled back and taken again at once,
 * that short, then full batches again. The batch size is capped at transactionCapacity. */
START_TEST(take_limit)
{
    struct rig *r = rig_new(&sync_ops, 4, 100, 10);
    ck_assert_uint_eq(r->fs.pl.batch, 10);
    put(r, 0, 20);
    r->fs.reject_take = 3;
    ck_assert_int_eq(step(r), SF_READY); /* rejected, but to be taken again at once */
    ck_assert_str_eq(r->fch.log[0], "r:e0");
    ck_assert_int_eq(step(r), SF_READY);
    ck_assert_str_eq(r->fch.log[1], "c:e0");
    ck_assert_int_eq(metric(&r->snk.metrics.drain_success), 3);
    ck_assert_int_eq(step(r), SF_READY);
    ck_assert_str_eq(r->fch.log[2], "c:e3");
    ck_assert_int_eq(metric(&r->snk.metrics.drain_success), 13);
    ck_assert_int_eq(metric(&r->snk.metrics.batch_underflow), 1); /* the short one */
    rig_free(r);
}
END_TEST

/* A rejected batch with others in flight rolls back alone (the newest), without backoff. */
START_TEST(reject_with_batches_in_flight)
{
    struct rig *r = rig_new(&async_ops, 4, 10, 1000);
    put(r, 0, 30);
    ck_assert_int_eq(step(r), SF_READY);
    r->fs.send_err = SF_ERR_DELIVERY;
    ck_assert_int_eq(step(r), SF_READY);
    ck_assert_uint_eq(r->fs.pl.count, 1);
    ck_assert_str_eq(r->fch.log[0], "r:e10");
    ck_assert_uint_eq(r->fch.n, 20);
    ack_batch(r, 0, 10);
    sf_sink_pipeline_settle(&r->fs.pl);
    ck_assert_str_eq(r->fch.log[1], "c:e0");
    rig_free(r);
}
END_TEST

/* drain at stop: waits (flush_wait) until everything is acknowledged, or stops early when the
 * sink says waiting is useless, or at the timeout. */
START_TEST(drain)
{
    struct rig *r = rig_new(&async_ops, 4, 10, 1000);
    put(r, 0, 40);
    for (int i = 0; i < 3; i++) {
        (void)step(r);
    }
    ck_assert_uint_eq(r->fs.pl.count, 3);
    r->fs.flush_acks = 2;
    size_t flushes = r->fs.flushes;
    r->fs.stalled = false;
    ck_assert_uint_eq(sf_sink_pipeline_drain(&r->fs.pl, 0), 3); /* no time: nothing waited */
    ck_assert_uint_eq(r->fs.flushes, flushes);
    r->fs.stalled = true;
    ck_assert_uint_eq(sf_sink_pipeline_drain(&r->fs.pl, 10000), 3); /* stalled: gives up */
    ck_assert_uint_eq(r->fs.flushes, flushes);
    r->fs.stalled = false;
    r->fs.flush_acks = 3;
    ck_assert_uint_eq(sf_sink_pipeline_drain(&r->fs.pl, 10000), 0);
    ck_assert_uint_eq(r->fs.flushes, flushes + 3);
    ck_assert_int_eq(metric(&r->snk.metrics.drain_success), 30);
    ck_assert_str_eq(r->fch.log[2], "c:e20");
    rig_free(r);
}
END_TEST

/* The ack completing a batch times it (send to that ack) unless the sink untimed it. */
START_TEST(round_trips)
{
    struct rig *r = rig_new(&async_ops, 4, 10, 1000);
    put(r, 0, 20);
    ck_assert_int_eq(step(r), SF_READY);
    struct sf_pipeline_batch *b = sf_sink_pipeline_at(&r->fs.pl, 0);
    ck_assert_int_gt(b->sent_us, 0);
    ck_assert(!sf_sink_pipeline_ack(&r->fs.pl, b, 4));
    ck_assert_int_lt(b->rtt_us, 0);
    ck_assert(sf_sink_pipeline_ack(&r->fs.pl, b, 6));
    ck_assert_int_ge(b->rtt_us, 0);
    r->fs.untimed = true;
    ck_assert_int_eq(step(r), SF_READY); /* settles the first, sends the second untimed */
    b = sf_sink_pipeline_at(&r->fs.pl, 0);
    ck_assert(sf_sink_pipeline_ack(&r->fs.pl, b, 10));
    ck_assert_int_lt(b->rtt_us, 0);
    sf_sink_pipeline_settle(&r->fs.pl);
    ck_assert_int_eq(r->fs.pl.rtt_n, 1);
    ck_assert_uint_eq(r->fs.pl.peak, 1);
    ck_assert_uint_eq(sf_sink_pipeline_events(&r->fs.pl), 0);
    sf_sink_pipeline_summary(&r->fs.pl);
    rig_free(r);
}
END_TEST

static Suite *pipeline_suite(void)
{
    Suite *s = suite_create("sink_pipeline");
    TCase *tc = tcase_create("pipeline");
    tcase_add_test(tc, commit_in_take_order);
    tcase_add_test(tc, rollback_newest_first);
    tcase_add_test(tc, counters);
    tcase_add_test(tc, no_backoff_in_flight);
    tcase_add_test(tc, synchronous_sink);
    tcase_add_test(tc, take_limit);
    tcase_add_test(tc, reject_with_batches_in_flight);
    tcase_add_test(tc, drain);
    tcase_add_test(tc, round_trips);
    suite_add_tcase(s, tc);
    return s;
}

SF_UNIT_SUITE(sink_pipeline)
{
    return pipeline_suite();
}
