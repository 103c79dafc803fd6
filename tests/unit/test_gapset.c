/*
 * Unit tests of the gap set that keeps ids which may still commit out of order (see
 * src/sources/gapset.h): parse/encode round trips, filling, opening, splitting, expiry, limits.
 */
#include <check.h>
#include <stdlib.h>

#include "sources/gapset.h"

static const char *enc(struct sf_gapset *gs)
{
    static struct sf_buf b = SF_BUF_INIT;
    sf_buf_reset(&b);
    sf_gapset_encode(gs, &b);
    return b.data;
}

START_TEST(parse_and_encode)
{
    struct sf_gapset gs;
    ck_assert_int_eq(sf_gapset_parse(&gs, "42", 0), 0);
    ck_assert_int_eq(gs.hw, 42);
    ck_assert_uint_eq(gs.n, 0);
    ck_assert_str_eq(enc(&gs), "42");
    ck_assert_int_eq(sf_gapset_parse(&gs, "100;5-7,9,50-60", 0), 0);
    ck_assert_uint_eq(gs.n, 3);
    ck_assert_str_eq(enc(&gs), "100;5-7,9,50-60");
    ck_assert_int_eq(sf_gapset_parse(&gs, "-5", 0), 0);
    ck_assert_int_eq(gs.hw, -5);
    /* rejected: not integers, gaps above hw, unsorted, garbage */
    ck_assert_int_eq(sf_gapset_parse(&gs, "2024-01-01 00:00:00", 0), -1);
    ck_assert_int_eq(sf_gapset_parse(&gs, "abc", 0), -1);
    ck_assert_int_eq(sf_gapset_parse(&gs, "10;11", 0), -1);
    ck_assert_int_eq(sf_gapset_parse(&gs, "10;5,3", 0), -1);
    ck_assert_int_eq(sf_gapset_parse(&gs, "10;5-3", 0), -1);
    ck_assert_int_eq(sf_gapset_parse(&gs, "10;x", 0), -1);
    ck_assert_int_eq(sf_gapset_parse(&gs, "", 0), -1);
    ck_assert_int_eq(gs.hw, -5); /* unchanged on error */
}
END_TEST

START_TEST(see_opens_and_fills)
{
    struct sf_gapset gs;
    sf_gapset_parse(&gs, "0", 0);
    sf_gapset_see(&gs, 1, 0);
    sf_gapset_see(&gs, 2, 0);
    ck_assert_str_eq(enc(&gs), "2");
    sf_gapset_see(&gs, 5, 10); /* 3 and 4 missing */
    ck_assert_str_eq(enc(&gs), "5;3-4");
    sf_gapset_see(&gs, 10, 20); /* 6..9 missing */
    ck_assert_str_eq(enc(&gs), "10;3-4,6-9");
    sf_gapset_see(&gs, 3, 30); /* lower end */
    ck_assert_str_eq(enc(&gs), "10;4,6-9");
    sf_gapset_see(&gs, 4, 30); /* single id range disappears */
    ck_assert_str_eq(enc(&gs), "10;6-9");
    sf_gapset_see(&gs, 7, 30); /* split */
    ck_assert_str_eq(enc(&gs), "10;6,8-9");
    sf_gapset_see(&gs, 9, 30); /* upper end */
    ck_assert_str_eq(enc(&gs), "10;6,8");
    sf_gapset_see(&gs, 2, 30); /* an id that is no gap changes nothing */
    ck_assert_str_eq(enc(&gs), "10;6,8");
    /* the split halves keep the original first-seen time */
    ck_assert_int_eq(gs.g[0].seen_ms, 20);
    ck_assert_int_eq(gs.g[1].seen_ms, 20);
}
END_TEST

START_TEST(expire)
{
    struct sf_gapset gs;
    sf_gapset_parse(&gs, "0", 0);
    sf_gapset_see(&gs, 5, 1000);  /* 1-4 at t=1000 */
    sf_gapset_see(&gs, 10, 2000); /* 6-9 at t=2000 */
    long long first = 0, last = 0;
    ck_assert_int_eq(sf_gapset_expire(&gs, 2500, 1000, &first, &last), 4);
    ck_assert_int_eq(first, 1);
    ck_assert_int_eq(last, 4);
    ck_assert_str_eq(enc(&gs), "10;6-9");
    ck_assert_int_eq(sf_gapset_expire(&gs, 2999, 1000, NULL, NULL), 0);
    ck_assert_int_eq(sf_gapset_expire(&gs, 3000, 1000, NULL, NULL), 4);
    ck_assert_str_eq(enc(&gs), "10");
}
END_TEST

START_TEST(limits)
{
    struct sf_gapset gs;
    sf_gapset_parse(&gs, "0", 0);
    /* every other id missing: more ranges than SF_GAPS_MAX; the oldest are given up */
    size_t dropped = 0;
    for (long long v = 2; v <= 2 * (SF_GAPS_MAX + 5); v += 2) {
        dropped += sf_gapset_see(&gs, v, v);
    }
    ck_assert_uint_eq(gs.n, SF_GAPS_MAX);
    ck_assert_uint_eq(dropped, 5);
    ck_assert_int_eq(gs.g[0].lo, 11); /* 1, 3, 5, 7, 9 given up */
    /* the text form never exceeds VARCHAR(255): huge ids drop the oldest gaps */
    sf_gapset_parse(&gs, "0", 0);
    long long base = 1000000000000000LL;
    sf_gapset_see(&gs, base, 0);
    for (long long i = 1; i <= 20; i++) {
        sf_gapset_see(&gs, base + 3 * i, i);
    }
    struct sf_buf b = SF_BUF_INIT;
    size_t d = sf_gapset_encode(&gs, &b);
    ck_assert_uint_le(b.len, SF_GAPS_TEXT_MAX);
    ck_assert_uint_gt(d, 0);
    struct sf_gapset back;
    ck_assert_int_eq(sf_gapset_parse(&back, b.data, 0), 0);
    ck_assert_int_eq(back.hw, base + 60);
    sf_buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("gapset");
    TCase *tc = tcase_create("gapset");
    tcase_add_test(tc, parse_and_encode);
    tcase_add_test(tc, see_opens_and_fills);
    tcase_add_test(tc, expire);
    tcase_add_test(tc, limits);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
