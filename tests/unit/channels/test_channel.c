/*
 * The channel contract (src/core/channel.c), run over every channel type: put/take/commit/
 * rollback, transaction and byte capacities, keep-alive, back pressure between threads, state
 * errors, and the delivery tracker acknowledging only committed takes.
 */
#include "unit.h"
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlflume/agent.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"

/* ---------- channels (run over every channel type) ---------- */

static const char *const channel_types[] = { "memory", "file" };

struct test_channel {
    struct sf_channel ch;
    struct sf_props props;
    char dir[64]; /* file channel: temporary checkpoint and data directories */
};

static struct test_channel *channel_new(const char *type, const char *extra)
{
    struct test_channel *t = calloc(1, sizeof(*t));
    struct sf_diag d = { 0 };
    char dirs[256] = "";
    if (strcmp(type, "file") == 0) {
        snprintf(t->dir, sizeof(t->dir), "/tmp/sf-test-ch.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(t->dir));
        snprintf(dirs, sizeof(dirs),
                 "a1.channels.c1.checkpointDir = %s/checkpoint\n"
                 "a1.channels.c1.dataDirs = %s/data\n"
                 "a1.channels.c1.minimumRequiredSpace = 1048576\n",
                 t->dir, t->dir);
    }
    char text[1024];
    snprintf(text, sizeof(text), "a1.channels.c1.type = %s\n%s%s", type, dirs, extra);
    sf_props_parse(&t->props, "ch.conf", text, &d);
    t->ch.name = strdup("c1");
    t->ch.plugin = sf_registry_channel(type);
    ck_assert_ptr_nonnull(t->ch.plugin);
    t->ch.ctx = calloc(1, t->ch.plugin->ctx_size);
    struct sf_section s;
    sf_section_init(&s, &t->props, "channel", "c1", "a1.channels.c1.");
    ck_assert_int_eq(sf_options_apply(t->ch.plugin->options, &s, t->ch.ctx, &d), 0);
    sf_section_free(&s);
    char err[256];
    ck_assert_int_eq(t->ch.plugin->start(&t->ch, err, sizeof(err)), SF_OK);
    sf_diag_free(&d);
    return t;
}

static void channel_free(struct test_channel *t)
{
    t->ch.plugin->stop(&t->ch);
    sf_options_free(t->ch.plugin->options, t->ch.ctx);
    free(t->ch.ctx);
    free(t->ch.name);
    sf_props_free(&t->props);
    if (t->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    free(t);
}

static struct sf_event *mkev(int i)
{
    char body[32];
    snprintf(body, sizeof(body), "event-%d", i);
    struct sf_header h = { "n", body };
    return sf_event_create(&h, 1, body, strlen(body));
}

static int put_range(struct sf_channel *ch, int from, int to)
{
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *evs[1024];
    int n = 0;
    int rc = SF_OK;
    for (int i = from; i < to && rc == SF_OK; i++) {
        evs[n] = mkev(i);
        rc = sf_channel_put(txn, evs[n]);
        n++;
    }
    if (rc == SF_OK) {
        rc = sf_channel_txn_commit(txn);
    }
    if (rc != SF_OK) {
        sf_channel_txn_rollback(txn);
        for (int i = 0; i < n; i++) {
            sf_event_destroy(evs[i]);
        }
    }
    sf_channel_txn_close(txn);
    return rc;
}

static void expect_take(struct sf_channel *ch, int from, int to, bool commit)
{
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *out[1024];
    size_t n = 0;
    ck_assert_int_eq(sf_channel_take(txn, out, (size_t)(to - from), &n, 0), SF_OK);
    ck_assert_uint_eq(n, (size_t)(to - from));
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "event-%d", from + (int)i);
        ck_assert_str_eq(out[i]->body, want);
        ck_assert_str_eq(sf_event_header(out[i], "n"), want);
    }
    if (commit) {
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    } else {
        ck_assert_int_eq(sf_channel_txn_rollback(txn), SF_OK);
    }
    sf_channel_txn_close(txn);
}

START_TEST(channel_fifo_commit_rollback)
{
    struct test_channel *t = channel_new(channel_types[_i], "");
    struct sf_channel *ch = &t->ch;
    ck_assert_int_eq(put_range(ch, 0, 50), SF_OK);
    ck_assert_uint_eq(sf_channel_size(ch), 50);
    expect_take(ch, 0, 10, false); /* rollback returns them to the head, in order */
    ck_assert_uint_eq(sf_channel_size(ch), 50);
    expect_take(ch, 0, 10, true);
    ck_assert_uint_eq(sf_channel_size(ch), 40);
    expect_take(ch, 10, 50, true);
    ck_assert_uint_eq(sf_channel_size(ch), 0);
    /* empty channel: take returns nothing without waiting */
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *out[4];
    size_t n = 9;
    ck_assert_int_eq(sf_channel_take(txn, out, 4, &n, 0), SF_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    /* Flume's counters: 50 puts; takes counted per event (10 rolled back + 10 + 40) and one for
     * the take that found the channel empty; successes only at commit */
    ck_assert_int_eq(atomic_load(&ch->metrics.put_attempt), 50);
    ck_assert_int_eq(atomic_load(&ch->metrics.put_success), 50);
    ck_assert_int_eq(atomic_load(&ch->metrics.take_attempt), 61);
    ck_assert_int_eq(atomic_load(&ch->metrics.take_success), 50);
    channel_free(t);
}
END_TEST

START_TEST(channel_put_rollback_leaves_nothing)
{
    struct test_channel *t = channel_new(channel_types[_i], "");
    struct sf_channel *ch = &t->ch;
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *ev = mkev(1);
    ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
    ck_assert_int_eq(sf_channel_txn_rollback(txn), SF_OK);
    sf_channel_txn_close(txn);
    sf_event_destroy(ev); /* still ours after rollback */
    ck_assert_uint_eq(sf_channel_size(ch), 0);
    channel_free(t);
}
END_TEST

START_TEST(channel_transaction_capacity)
{
    struct test_channel *t =
        channel_new(channel_types[_i], "a1.channels.c1.capacity = 20\n"
                                       "a1.channels.c1.transactionCapacity = 5\n");
    struct sf_channel *ch = &t->ch;
    ck_assert_int_eq(put_range(ch, 0, 6), SF_ERR_FULL); /* 6 > transactionCapacity */
    ck_assert_uint_eq(sf_channel_size(ch), 0);
    ck_assert_int_eq(put_range(ch, 0, 5), SF_OK);
    /* take is bounded by transactionCapacity too */
    ck_assert_int_eq(put_range(ch, 5, 10), SF_OK);
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *out[10];
    size_t n;
    ck_assert_int_eq(sf_channel_take(txn, out, 10, &n, 0), SF_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    channel_free(t);
}
END_TEST

START_TEST(channel_full_waits_keep_alive_then_fails)
{
    struct test_channel *t =
        channel_new(channel_types[_i], "a1.channels.c1.capacity = 10\n"
                                       "a1.channels.c1.transactionCapacity = 10\n"
                                       "a1.channels.c1.keep-alive = 1\n");
    struct sf_channel *ch = &t->ch;
    ck_assert_int_eq(put_range(ch, 0, 10), SF_OK);
    time_t t0 = time(NULL);
    ck_assert_int_eq(put_range(ch, 10, 11), SF_ERR_FULL);
    ck_assert_int_ge(time(NULL) - t0, 1);
    /* taken but uncommitted events still count against capacity, as in Flume */
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *out[10];
    size_t n;
    ck_assert_int_eq(sf_channel_take(txn, out, 5, &n, 0), SF_OK);
    ck_assert_int_eq(put_range(ch, 10, 11), SF_ERR_FULL);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    ck_assert_int_eq(put_range(ch, 10, 15), SF_OK);
    ck_assert_uint_eq(sf_channel_size(ch), 10);
    expect_take(ch, 5, 15, true);
    channel_free(t);
}
END_TEST

struct taker_arg {
    struct sf_channel *ch;
    int total;
    int got;
};

static void *taker(void *p)
{
    struct taker_arg *a = p;
    while (a->got < a->total) {
        struct sf_txn *txn = sf_channel_txn_begin(a->ch);
        struct sf_event *out[7];
        size_t n;
        sf_channel_take(txn, out, 7, &n, 100);
        for (size_t i = 0; i < n; i++) {
            char want[32];
            snprintf(want, sizeof(want), "event-%d", a->got + (int)i);
            if (strcmp(out[i]->body, want) != 0) {
                a->got = -1000000;
            }
        }
        a->got += (int)n;
        sf_channel_txn_commit(txn);
        sf_channel_txn_close(txn);
    }
    return NULL;
}

START_TEST(channel_back_pressure_threads)
{
    struct test_channel *t =
        channel_new(channel_types[_i], "a1.channels.c1.capacity = 30\n"
                                       "a1.channels.c1.transactionCapacity = 10\n");
    struct taker_arg a = { &t->ch, 5000, 0 };
    pthread_t th;
    pthread_create(&th, NULL, taker, &a);
    for (int i = 0; i < 5000; i += 10) {
        ck_assert_int_eq(put_range(&t->ch, i, i + 10), SF_OK);
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(a.got, 5000);
    ck_assert_uint_eq(sf_channel_size(&t->ch), 0);
    channel_free(t);
}
END_TEST

START_TEST(channel_byte_capacity)
{
    if (strcmp(channel_types[_i], "memory") != 0) {
        return; /* byteCapacity is a MemoryChannel key */
    }
    struct test_channel *t =
        channel_new(channel_types[_i], "a1.channels.c1.capacity = 100\n"
                                       "a1.channels.c1.byteCapacity = 50\n"
                                       "a1.channels.c1.byteCapacityBufferPercentage = 0\n"
                                       "a1.channels.c1.keep-alive = 0\n");
    /* "event-N" is 7 bytes: 7 fit in 50 bytes, the 8th does not */
    ck_assert_int_eq(put_range(&t->ch, 0, 7), SF_OK);
    ck_assert_int_eq(put_range(&t->ch, 7, 8), SF_ERR_FULL);
    expect_take(&t->ch, 0, 1, true);
    ck_assert_int_eq(put_range(&t->ch, 7, 8), SF_OK);
    channel_free(t);
}
END_TEST

START_TEST(channel_state_errors)
{
    struct test_channel *t = channel_new(channel_types[_i], "");
    struct sf_txn *txn = sf_channel_txn_begin(&t->ch);
    struct sf_event *ev = mkev(0);
    ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
    struct sf_event *out[1];
    size_t n;
    ck_assert_int_eq(sf_channel_take(txn, out, 1, &n, 0), SF_ERR_STATE);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_ERR_STATE);
    ck_assert_int_eq(sf_channel_put(txn, ev), SF_ERR_STATE);
    sf_channel_txn_close(txn);
    channel_free(t); /* frees the queued event */
}
END_TEST

START_TEST(tracker_take_commit_acks)
{
    struct test_channel *t = channel_new(channel_types[_i], "");
    struct sf_ack_tracker *tr = sf_ack_tracker_create();
    struct sf_txn *txn = sf_channel_txn_begin(&t->ch);
    uint64_t id = sf_ack_tracker_add(tr, 3, 1, "42");
    for (int i = 0; i < 3; i++) {
        struct sf_event *ev = mkev(i);
        ev->tracker = tr;
        ev->ack_id = id;
        ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
    }
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    expect_take(&t->ch, 0, 2, false); /* rollback acknowledges nothing */
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    expect_take(&t->ch, 0, 2, true);
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    expect_take(&t->ch, 2, 3, true);
    char *o = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(o, "42");
    free(o);
    sf_ack_tracker_destroy(tr);
    channel_free(t);
}
END_TEST

SF_UNIT_SUITE(channel)
{
    Suite *s = suite_create("channel");
    int nt = (int)(sizeof(channel_types) / sizeof(channel_types[0]));
    TCase *tc = tcase_create("channel");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, channel_fifo_commit_rollback, 0, nt);
    tcase_add_loop_test(tc, channel_put_rollback_leaves_nothing, 0, nt);
    tcase_add_loop_test(tc, channel_transaction_capacity, 0, nt);
    tcase_add_loop_test(tc, channel_full_waits_keep_alive_then_fails, 0, nt);
    tcase_add_loop_test(tc, channel_back_pressure_threads, 0, nt);
    tcase_add_loop_test(tc, channel_byte_capacity, 0, nt);
    tcase_add_loop_test(tc, channel_state_errors, 0, nt);
    tcase_add_loop_test(tc, tracker_take_commit_acks, 0, nt);
    suite_add_tcase(s, tc);
    return s;
}
