/*
 * Unit tests of the null sink: it drains a memory channel in batches of batchSize and counts
 * them as Flume's SinkCounter does.
 */
#include "unit.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sqlflume/sinks.h"

#include "kafka_harness.h"

START_TEST(null_sink_drains)
{
    char err[512];
    struct rig *r = rig_new(&sf_sink_null,
                            "a1.channels.c1.capacity = 1000\n"
                            "a1.sinks.k1.batchSize = 7\n",
                            err, sizeof(err));
    ck_assert_msg(r->started, "%s", err);
    put_events(&r->ch, 0, 20, NULL, 0);
    ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_READY);
    ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_READY);
    ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_READY);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 0);
    ck_assert_int_eq(r->snk.plugin->process(&r->snk), SF_BACKOFF);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.batch_complete), 2);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.batch_underflow), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.batch_empty), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 20);
    rig_free(r);
}
END_TEST

SF_UNIT_SUITE(null)
{
    kafka_harness_init();
    Suite *s = suite_create("null");
    TCase *tc = tcase_create("local");
    tcase_add_test(tc, null_sink_drains);
    suite_add_tcase(s, tc);
    return s;
}
