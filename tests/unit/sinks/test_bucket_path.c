/*
 * Unit tests of the HDFS sink's path templates and time zones (src/sinks/hdfs/bucket_path.c):
 * every escape against values worked out by hand, headers (present, missing), the host escapes,
 * refused templates with their messages, rounding by second/minute/hour in UTC and in zones with
 * DST and a half-hour offset, and zone offsets from the system's tz database.
 */
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlflume/error.h"
#include "sqlflume/event.h"

#include "../../src/sinks/hdfs/bucket_path.h"

/* 2005-03-03 23:05:25.678 UTC, a Thursday, day 62 of the year */
#define T0 1109891125678LL

static char out_text[1024];

static const char *expand(const char *tmpl, const struct sf_event *ev, long long ts,
                          const struct sf_tz *tz)
{
    struct sf_bucket_path bp;
    char err[256] = "";
    ck_assert_msg(sf_bucket_path_compile(&bp, tmpl, err, sizeof(err)) == SF_OK, "%s: %s", tmpl, err);
    struct sf_bucket_time bt = { .tz = tz };
    struct sf_bucket_host host = { "myhost", "10.1.2.3", "myhost.example.com" };
    struct sf_buf b = SF_BUF_INIT;
    sf_bucket_path_expand(&bp, ev, ts, &bt, &host, &b);
    snprintf(out_text, sizeof(out_text), "%.*s", (int)b.len, b.data ? b.data : "");
    sf_buf_free(&b);
    sf_bucket_path_free(&bp);
    return out_text;
}

START_TEST(every_time_escape_utc)
{
    ck_assert_str_eq(expand("%a|%A|%b|%B", NULL, T0, NULL), "Thu|Thursday|Mar|March");
    ck_assert_str_eq(expand("%c", NULL, T0, NULL), "Thu Mar 3 23:05:25 2005");
    ck_assert_str_eq(expand("%d|%e|%D", NULL, T0, NULL), "03|3|03/03/05");
    ck_assert_str_eq(expand("%H|%k|%I|%l|%p", NULL, T0, NULL), "23|23|11|11|PM");
    ck_assert_str_eq(expand("%j|%m|%n|%M|%S", NULL, T0, NULL), "062|03|3|05|25");
    ck_assert_str_eq(expand("%s|%t|%y|%Y|%z", NULL, T0, NULL),
                     "1109891125|1109891125678|05|2005|+0000");
    /* morning hours: 12-hour clock and padding */
    ck_assert_str_eq(expand("%H %k %I %l %p", NULL, 1109833200000LL, NULL), "07 7 07 7 AM");
    ck_assert_str_eq(expand("%I %l %p", NULL, 1109808000000LL, NULL), "12 12 AM"); /* 00:00 */
    ck_assert_str_eq(expand("/flume2/%Y%m%d/%H", NULL, T0, NULL), "/flume2/20050303/23");
}
END_TEST

START_TEST(headers_and_host)
{
    struct sf_header h[] = { { "table", "orders" }, { "db", "shop" } };
    struct sf_event *ev = sf_event_create(h, 2, "x", 1);
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(expand("/data/%{db}/%{table}/x", ev, 0, NULL), "/data/shop/orders/x");
    ck_assert_str_eq(expand("a%{missing}b", ev, 0, NULL), "ab"); /* Flume: "" */
    ck_assert_str_eq(expand("%[localhost]-%[IP]-%[FQDN]", ev, 0, NULL),
                     "myhost-10.1.2.3-myhost.example.com");
    ck_assert_str_eq(expand("plain/path", ev, 0, NULL), "plain/path");
    ck_assert_str_eq(expand("", ev, 0, NULL), "");
    sf_event_destroy(ev);

    struct sf_bucket_path bp;
    char err[256];
    ck_assert_int_eq(sf_bucket_path_compile(&bp, "/a/%{t}/%Y", err, sizeof(err)), SF_OK);
    ck_assert(bp.needs_time && !bp.needs_host && bp.has_escapes);
    sf_bucket_path_free(&bp);
    ck_assert_int_eq(sf_bucket_path_compile(&bp, "/a/b", err, sizeof(err)), SF_OK);
    ck_assert(!bp.needs_time && !bp.needs_host && !bp.has_escapes);
    sf_bucket_path_free(&bp);
    ck_assert_int_eq(sf_bucket_path_compile(&bp, "%{table}/%[IP]", err, sizeof(err)), SF_OK);
    ck_assert(!bp.needs_time && bp.needs_host);
    sf_bucket_path_free(&bp);
}
END_TEST

START_TEST(refused_templates)
{
    static const struct {
        const char *tmpl, *msg;
    } bad[] = {
        { "/a/%x", "unknown escape %x at character 4" },
        { "/a/%", "a lone % at the end (character 4)" },
        { "%{table", "unterminated %{ at character 1" },
        { "x%{}", "empty header name in %{} at character 2" },
        { "%[host]", "unknown escape %[host] at character 1" },
        { "%[IP", "unterminated %[ at character 1" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct sf_bucket_path bp;
        char err[256] = "";
        ck_assert_int_eq(sf_bucket_path_compile(&bp, bad[i].tmpl, err, sizeof(err)), SF_ERR_INVAL);
        ck_assert_msg(strncmp(err, bad[i].msg, strlen(bad[i].msg)) == 0, "%s: %s", bad[i].tmpl, err);
        ck_assert_ptr_null(bp.pieces);
    }
}
END_TEST

START_TEST(rounding)
{
    struct sf_bucket_time bt = { .round = true, .round_value = 10, .unit = SF_ROUND_MINUTE };
    /* 23:05:25.678 -> 23:00:00.000 */
    ck_assert_int_eq(sf_bucket_round(T0, &bt), 1109890800000LL);
    bt.round_value = 1;
    ck_assert_int_eq(sf_bucket_round(T0, &bt), 1109891100000LL); /* 23:05:00 */
    bt.unit = SF_ROUND_SECOND;
    bt.round_value = 20;
    ck_assert_int_eq(sf_bucket_round(T0, &bt), 1109891120000LL); /* 23:05:20 */
    bt.unit = SF_ROUND_HOUR;
    bt.round_value = 6;
    ck_assert_int_eq(sf_bucket_round(T0, &bt), 1109890800000LL - 5 * 3600000LL); /* 18:00 */
    bt.round = false;
    ck_assert_int_eq(sf_bucket_round(T0, &bt), T0);
    /* before the epoch: floor, not truncation */
    bt.round = true;
    bt.unit = SF_ROUND_MINUTE;
    bt.round_value = 1;
    ck_assert_int_eq(sf_bucket_round(-1, &bt), -60000);

    /* in India (+05:30) 23:05:25 UTC is 04:35:25 local: hour rounding goes to 04:00 local */
    struct sf_tz *tz = NULL;
    char err[256];
    ck_assert_msg(sf_tz_load("Asia/Kolkata", &tz, err, sizeof(err)) == SF_OK, "%s", err);
    bt.tz = tz;
    bt.unit = SF_ROUND_HOUR;
    bt.round_value = 1;
    long long r = sf_bucket_round(T0, &bt);
    ck_assert_int_eq(r, 1109891125678LL - 25678 - 35 * 60000LL); /* 22:30 UTC */
    ck_assert_str_eq(expand("%Y-%m-%d %H:%M %z", NULL, r, tz), "2005-03-04 04:00 +0530");
    sf_tz_free(tz);
}
END_TEST

START_TEST(zones)
{
    struct sf_tz *tz = NULL;
    char err[256];
    ck_assert_msg(sf_tz_load("America/Los_Angeles", &tz, err, sizeof(err)) == SF_OK, "%s", err);
    ck_assert_int_eq(sf_tz_offset(tz, 1109891125), -8 * 3600);      /* March 3 2005: PST */
    ck_assert_int_eq(sf_tz_offset(tz, 1120000000), -7 * 3600);      /* June 28 2005: PDT */
    ck_assert_int_eq(sf_tz_offset(tz, 1793000000), -7 * 3600);      /* Oct 26 2026: PDT until Nov 1 */
    ck_assert_int_eq(sf_tz_offset(tz, 1796000000), -8 * 3600);      /* Nov 30 2026: PST */
    ck_assert_str_eq(expand("%H %z", NULL, T0, tz), "15 -0800");
    sf_tz_free(tz);
    /* the DST switch of 2026-03-08 02:00 PST = 10:00 UTC */
    ck_assert_int_eq(sf_tz_load("America/New_York", &tz, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_tz_offset(tz, 1772953200 - 1), -5 * 3600); /* 2026-03-08 06:59:59 UTC */
    ck_assert_int_eq(sf_tz_offset(tz, 1772953200), -4 * 3600);     /* 07:00 UTC = 03:00 EDT */
    sf_tz_free(tz);
    static const struct {
        const char *name;
        long off;
    } fixed[] = { { "UTC", 0 },           { "GMT", 0 },         { "GMT+05:30", 19800 },
                  { "UTC-3", -10800 },    { "+0100", 3600 },    { "-08:00", -28800 } };
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
        ck_assert_msg(sf_tz_load(fixed[i].name, &tz, err, sizeof(err)) == SF_OK, "%s", err);
        ck_assert_int_eq(sf_tz_offset(tz, T0 / 1000), fixed[i].off);
        sf_tz_free(tz);
    }
    ck_assert_int_eq(sf_tz_load("Mars/Olympus_Mons", &tz, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert(strstr(err, "unknown time zone") != NULL);
    ck_assert_ptr_null(tz);
    ck_assert_int_eq(sf_tz_load("../../etc/passwd", &tz, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_int_eq(sf_tz_load("GMT+25", &tz, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_int_eq(sf_tz_load("local", &tz, err, sizeof(err)), SF_OK);
    sf_tz_free(tz);
}
END_TEST

SF_UNIT_SUITE(bucket_path)
{
    Suite *s = suite_create("bucket_path");
    TCase *tc = tcase_create("bucket_path");
    tcase_add_test(tc, every_time_escape_utc);
    tcase_add_test(tc, headers_and_host);
    tcase_add_test(tc, refused_templates);
    tcase_add_test(tc, rounding);
    tcase_add_test(tc, zones);
    suite_add_tcase(s, tc);
    return s;
}
