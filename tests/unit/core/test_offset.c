/*
 * Unit tests of the offset module (src/include/sqlflume/offset.h): the gap set that keeps ids
 * which may still commit out of order (parse/encode round trips, filling, opening, splitting,
 * expiry, limits, the Kafka sink's larger bound) and the order of offset values.
 */
#include "unit.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "sqlflume/error.h"
#include "sqlflume/offset.h"

static const char *enc(struct sf_gapset *gs)
{
    static struct sf_buf b = SF_BUF_INIT;
    sf_buf_reset(&b);
    sf_gapset_encode(gs, &b, SF_GAPS_TEXT_MAX);
    return b.data;
}

START_TEST(parse_and_encode)
{
    struct sf_gapset gs = { 0 };
    ck_assert_int_eq(sf_gapset_parse(&gs, "42", 0), SF_OK);
    ck_assert_int_eq(gs.hw, 42);
    ck_assert_uint_eq(gs.n, 0);
    ck_assert_str_eq(enc(&gs), "42");
    ck_assert_int_eq(sf_gapset_parse(&gs, "100;5-7,9,50-60", 0), SF_OK);
    ck_assert_uint_eq(gs.n, 3);
    ck_assert_str_eq(enc(&gs), "100;5-7,9,50-60");
    ck_assert_int_eq(sf_gapset_parse(&gs, "-5", 0), SF_OK);
    ck_assert_int_eq(gs.hw, -5);
    /* rejected: not integers, gaps above hw, unsorted, garbage */
    ck_assert_int_eq(sf_gapset_parse(&gs, "2024-01-01 00:00:00", 0), SF_ERR_INVAL);
    ck_assert_int_eq(sf_gapset_parse(&gs, "abc", 0), SF_ERR_INVAL);
    ck_assert_int_eq(sf_gapset_parse(&gs, "10;11", 0), SF_ERR_INVAL);
    ck_assert_int_eq(sf_gapset_parse(&gs, "10;5,3", 0), SF_ERR_INVAL);
    ck_assert_int_eq(sf_gapset_parse(&gs, "10;5-3", 0), SF_ERR_INVAL);
    ck_assert_int_eq(sf_gapset_parse(&gs, "10;x", 0), SF_ERR_INVAL);
    ck_assert_int_eq(sf_gapset_parse(&gs, "", 0), SF_ERR_INVAL);
    ck_assert_int_eq(gs.hw, -5); /* unchanged on error */
}
END_TEST

START_TEST(see_opens_and_fills)
{
    struct sf_gapset gs = { 0 };
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
    struct sf_gapset gs = { 0 };
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
    struct sf_gapset gs = { 0 };
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
    size_t d = sf_gapset_encode(&gs, &b, SF_GAPS_TEXT_MAX);
    ck_assert_uint_le(b.len, SF_GAPS_TEXT_MAX);
    ck_assert_uint_gt(d, 0);
    struct sf_gapset back = { 0 };
    ck_assert_int_eq(sf_gapset_parse(&back, b.data, 0), 0);
    ck_assert_int_eq(back.hw, base + 60);
    sf_buf_free(&b);
}
END_TEST

/* A larger bound (the Kafka sink's), gaps added below, membership. */
START_TEST(bound_below_and_membership)
{
    struct sf_gapset gs = { 0 };
    sf_gapset_init(&gs, 7, SF_GAPS_CAP);
    /* ids step by 7: every id opens a gap; SF_GAPS_CAP of them are kept, the lowest go first */
    size_t dropped = 0;
    for (long long k = 2; k <= 1000; k++) {
        dropped += sf_gapset_see(&gs, 7 * k, 0);
    }
    ck_assert_uint_eq(gs.n, SF_GAPS_CAP);
    ck_assert_uint_eq(dropped, 999 - SF_GAPS_CAP);
    ck_assert_int_eq(gs.hw, 7000);
    ck_assert(sf_gapset_in_gap(&gs, 6999));
    ck_assert(!sf_gapset_in_gap(&gs, 6993));
    ck_assert(!sf_gapset_in_gap(&gs, 7000));
    ck_assert(!sf_gapset_in_gap(&gs, 50)); /* given up */
    ck_assert_int_eq(gs.g[0].lo, 7 * (1000 - SF_GAPS_CAP) + 1);
    /* below: only under every gap, only with room */
    struct sf_gapset b = { 0 };
    sf_gapset_init(&b, 100, 2);
    ck_assert(!sf_gapset_add_below(&b, 10, 100, 0)); /* not below hw */
    ck_assert(sf_gapset_see(&b, 200, 0) == 0);       /* gap 101-199 */
    ck_assert(!sf_gapset_add_below(&b, 150, 160, 0));
    ck_assert(sf_gapset_add_below(&b, 10, 20, 0));
    ck_assert_uint_eq(b.n, 2);
    ck_assert_int_eq(b.g[0].lo, 10);
    ck_assert(!sf_gapset_add_below(&b, 1, 5, 0)); /* full */
    ck_assert(sf_gapset_in_gap(&b, 15) && sf_gapset_in_gap(&b, 150) && !sf_gapset_in_gap(&b, 50));
    /* the sink's bound is kept by parse, which accepts that many ranges */
    struct sf_buf t = SF_BUF_INIT;
    ck_assert_uint_eq(sf_gapset_encode(&gs, &t, 0), 0);
    ck_assert_uint_gt(t.len, SF_GAPS_TEXT_MAX);
    struct sf_gapset back = { 0 };
    back.max = SF_GAPS_CAP;
    ck_assert_int_eq(sf_gapset_parse(&back, t.data, 0), 0);
    ck_assert_uint_eq(back.n, SF_GAPS_CAP);
    struct sf_gapset small = { 0 };
    ck_assert_int_eq(sf_gapset_parse(&small, t.data, 0), SF_ERR_INVAL); /* more than SF_GAPS_MAX */
    sf_buf_free(&t);
}
END_TEST

/* Reference order of the offsets of the random test: (kind, a, b) where kind 0 = integer a,
 * 1 = decimal a + b/1000, 2 = "ts,id" with ts a (a date) and id b. */
struct ref {
    int kind;
    long long a, b;
};

static void ref_text(const struct ref *r, char *out, size_t size)
{
    if (r->kind == 0) {
        (void)snprintf(out, size, "%lld", r->a);
    } else if (r->kind == 1) {
        long long whole = r->a, frac = r->b;
        (void)snprintf(out, size, "%s%lld.%03lld", whole < 0 ? "-" : "", llabs(whole), frac);
    } else {
        (void)snprintf(out, size, "2024-01-%02lld 00:00:00,%lld", r->a, r->b);
    }
}

static int ref_cmp(const struct ref *x, const struct ref *y)
{
    if (x->kind == 1) {
        /* sign-magnitude: -a.b is -(|a| + b/1000) */
        long long vx = (llabs(x->a) * 1000 + x->b) * (x->a < 0 ? -1 : 1);
        long long vy = (llabs(y->a) * 1000 + y->b) * (y->a < 0 ? -1 : 1);
        return (vx > vy) - (vx < vy);
    }
    if (x->a != y->a) {
        return x->a < y->a ? -1 : 1;
    }
    return (x->b > y->b) - (x->b < y->b);
}

/* sf_offset_cmp against a reference ordering on random pairs of every kind, plus the forms that
 * text comparison gets wrong (9 < 10, -2 < -1, leading zeros, 20 digits, "hw;gaps"). */
START_TEST(offset_cmp_random)
{
    srand(12345);
    for (int i = 0; i < 100000; i++) {
        int kind = i % 3;
        struct ref x = { kind, 0, 0 }, y = { kind, 0, 0 };
        if (kind == 0) {
            x.a = (long long)rand() - RAND_MAX / 2;
            y.a = i % 7 ? (long long)rand() - RAND_MAX / 2 : x.a;
            x.a *= (i % 5) ? 1 : 1000003;
            y.a *= (i % 5) ? 1 : 1000003;
        } else if (kind == 1) {
            x.a = rand() % 2001 - 1000;
            y.a = i % 4 ? rand() % 2001 - 1000 : x.a;
            x.b = rand() % 1000;
            y.b = rand() % 1000;
            if (x.a == 0 || y.a == 0) {
                continue; /* -0.x has no sign in this reference */
            }
        } else {
            x.a = 1 + rand() % 28;
            y.a = i % 3 ? 1 + rand() % 28 : x.a;
            x.b = rand() % 2000;
            y.b = rand() % 2000;
        }
        char tx[64], ty[64];
        ref_text(&x, tx, sizeof(tx));
        ref_text(&y, ty, sizeof(ty));
        int want = ref_cmp(&x, &y), got = sf_offset_cmp(tx, ty);
        ck_assert_msg((got > 0) - (got < 0) == want, "%s vs %s: %d, want %d", tx, ty, got, want);
    }
    ck_assert_int_lt(sf_offset_cmp("9", "10"), 0);
    ck_assert_int_lt(sf_offset_cmp("-2", "-1"), 0);
    ck_assert_int_eq(sf_offset_cmp("007", "7"), 0);
    ck_assert_int_eq(sf_offset_cmp("1.50", "1.5"), 0);
    ck_assert_int_eq(sf_offset_cmp("-0", "0"), 0);
    ck_assert_int_lt(sf_offset_cmp("99999999999999999999", "100000000000000000000"), 0);
    ck_assert_int_lt(sf_offset_cmp("-100000000000000000000", "-99999999999999999999"), 0);
    ck_assert_int_lt(sf_offset_cmp("9;5-7", "10"), 0);
    ck_assert_int_gt(sf_offset_cmp("100;5-7", "99;1"), 0);
    ck_assert_int_lt(sf_offset_cmp("2024-01-01 00:00:00,9", "2024-01-01 00:00:00,10"), 0);
    ck_assert_int_lt(sf_offset_cmp("2024-01-01 00:00:00", "2024-01-01 00:00:00,1"), 0);
    long long v;
    ck_assert(sf_offset_int_parse("-9223372036854775808", &v) && v == LLONG_MIN);
    ck_assert(!sf_offset_int_parse("9223372036854775808", &v));
    ck_assert(!sf_offset_int_parse("1.5", &v) && !sf_offset_int_parse("", &v));
}
END_TEST

SF_UNIT_SUITE(offset)
{
    Suite *s = suite_create("offset");
    TCase *tc = tcase_create("offset");
    tcase_add_test(tc, parse_and_encode);
    tcase_add_test(tc, see_opens_and_fills);
    tcase_add_test(tc, expire);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, bound_below_and_membership);
    tcase_add_test(tc, offset_cmp_random);
    suite_add_tcase(s, tc);
    return s;
}
