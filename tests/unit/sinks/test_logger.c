/*
 * Unit tests of the logger sink: the LoggerSink line (byte for byte Flume's EventHelper + Commons
 * IO HexDump output) and the sink draining a memory channel.
 */
#include "unit.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sqlflume/event.h"
#include "sqlflume/log.h"
#include "sqlflume/sinks.h"

#include "kafka_harness.h"

/* ---------- LoggerSink line ---------- */

static char *
format(const struct sf_header *h, size_t nh, const void *body, size_t len, long long max_bytes)
{
    struct sf_event *ev = sf_event_create(h, nh, body, len);
    ck_assert_ptr_nonnull(ev);
    struct sf_buf b = SF_BUF_INIT;
    sf_logger_format_event(ev, max_bytes, &b);
    sf_event_destroy(ev);
    return sf_buf_steal(&b);
}

#define CHECK_LINE(expect, h, nh, body, len, max)                                                  \
    do {                                                                                           \
        char *got_ = format((h), (nh), (body), (len), (max));                                      \
        ck_assert_str_eq(got_, (expect));                                                          \
        free(got_);                                                                                \
    } while (0)

/* Expected strings produced by an emulation of Flume's EventHelper.dumpEvent. */
START_TEST(logger_format)
{
    /* the example of Flume's documentation */
    CHECK_LINE("Event: { headers:{} body: 68 65 6C 6C 6F 20 66 6C 75 6D 65                "
               "hello flume }",
               NULL, 0, "hello flume", 11, 16);
    /* empty body */
    CHECK_LINE("Event: { headers:{} body: }", NULL, 0, "", 0, 16);
    /* several headers in insertion order, body of exactly maxBytesToLog */
    const struct sf_header h3[] = { { "table", "orders" }, { "key", "42" }, { "op", "insert" } };
    CHECK_LINE("Event: { headers:{table=orders, key=42, op=insert} body: 30 31 32 33 34 35 36 37 "
               "38 39 61 62 63 64 65 66 0123456789abcdef }",
               h3, 3, "0123456789abcdef", 16, 16);
    /* body longer than maxBytesToLog: cut */
    CHECK_LINE("Event: { headers:{} body: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 "
               "0123456789abcdef }",
               NULL, 0, "0123456789abcdefXYZW", 20, 16);
    CHECK_LINE("Event: { headers:{} body: 61 62                                           ab }",
               NULL, 0, "abc", 3, 2);
    /* more than one row: Commons IO's offset on every row after the first */
    CHECK_LINE("Event: { headers:{} body: 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 "
               "0123456789abcdef\n00000010 58 59 5A 57                                     XYZW }",
               NULL, 0, "0123456789abcdefXYZW", 20, 20);
    char seq[40];
    for (int i = 0; i < 40; i++) {
        seq[i] = (char)(0x30 + i);
    }
    CHECK_LINE("Event: { headers:{} body: 30 31 32 33 34 35 36 37 38 39 3A 3B 3C 3D 3E 3F "
               "0123456789:;<=>?\n00000010 40 41 42 43 44 45 46 47 48 49 4A 4B 4C 4D 4E 4F "
               "@ABCDEFGHIJKLMNO\n00000020 50 51 52 53 54 55 56 57                         "
               "PQRSTUVW }",
               NULL, 0, seq, sizeof(seq), 100);
    /* non-printable bytes (control, DEL, high bytes) become '.' */
    const unsigned char bin[] = { 0x00, 0x7f, 0x80, 0xff, 0x1f, 0x41, 0x20, 0x7e };
    CHECK_LINE("Event: { headers:{} body: 00 7F 80 FF 1F 41 20 7E                         "
               ".....A ~ }",
               NULL, 0, bin, sizeof(bin), 16);
    /* headers with an empty body; maxBytesToLog 0 shows no body */
    const struct sf_header h1[] = { { "k", "v" } };
    CHECK_LINE("Event: { headers:{k=v} body: }", h1, 1, "", 0, 16);
    CHECK_LINE("Event: { headers:{k=v} body: }", h1, 1, "abc", 3, 0);
    /* the builder appends */
    struct sf_event *ev = sf_event_create(NULL, 0, "x", 1);
    struct sf_buf b = SF_BUF_INIT;
    sf_buf_puts(&b, ">");
    sf_logger_format_event(ev, 16, &b);
    ck_assert_str_eq(b.data, ">Event: { headers:{} body: 78                                        "
                             "      x }");
    sf_buf_free(&b);
    sf_event_destroy(ev);
}
END_TEST

START_TEST(logger_sink_drains)
{
    char err[512];
    struct rig *r = rig_new(&sf_sink_logger, "a1.sinks.k1.maxBytesToLog = 4\n", err, sizeof(err));
    ck_assert_msg(r->started, "%s", err);
    const struct sf_header h[] = { { "table", "orders" } };
    put_events(&r->ch, 0, 3, h, 1);
    enum sf_log_level lvl = sf_log_get_level();
    sf_log_set_level(SF_LOG_WARN); /* keep the test output quiet; formatting is tested above */
    ck_assert(drain(&r->snk, 5000));
    sf_log_set_level(lvl);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.drain_success), 3);
    rig_free(r);
}
END_TEST

SF_UNIT_SUITE(logger)
{
    kafka_harness_init();
    Suite *s = suite_create("logger");
    TCase *tc = tcase_create("local");
    tcase_add_test(tc, logger_format);
    tcase_add_test(tc, logger_sink_drains);
    suite_add_tcase(s, tc);
    return s;
}
