/*
 * The order of offset values (sf_offset_cmp, sf_offset_int_parse in sqlflume/offset.h) against a
 * reference written independently of it: random pairs of every mode, from a fixed seed, each
 * value generated from what it means and compared by that meaning, never by its text:
 *   integers   any size (beyond 64 bits), negative, -0, leading zeros: a small big integer
 *   decimals   differing scales and signs, trailing zeros: sign * M / 10^scale, compared as
 *              M1 * 10^(S - s1) against M2 * 10^(S - s2) in big integers
 *   timestamps as MySQL/MariaDB (fixed fraction digits) and PostgreSQL (trailing zeros trimmed,
 *              none when zero) print them, dates alone: compared field by field
 *   ts,id      the timestamp, then the integer
 *   hw;gaps    the gap-tracking form: by hw alone (a long long), whatever the gaps
 * Pairs are often near each other (the same value written otherwise, one unit apart, the sign
 * flipped) so that ties and carries are reached, not only far-apart values. Each pair is checked
 * both ways (antisymmetry), and arrays of each mode are sorted with sf_offset_cmp and checked
 * against the reference (a consistent total order).
 */
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "sqlflume/offset.h"

/* ck_assert_msg reports its place to check on every call, which costs more than the comparison
 * it checks: in the loops, only a failure goes to check. */
#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            ck_abort_msg(__VA_ARGS__);                                                             \
        }                                                                                          \
    } while (0)

#define PAIRS 20000 /* per mode */
#define NL    24    /* 32-bit limbs of the reference's big integers: 768 bits */

/* ---------------------------------------------------------------- a fixed-seed generator */

static uint64_t rng_state;

static uint64_t rnd(void) /* xorshift64* */
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* ---------------------------------------------------------------- reference big integers */

struct big {
    uint32_t l[NL]; /* little-endian limbs */
};

static bool big_zero(const struct big *a)
{
    for (int i = 0; i < NL; i++) {
        if (a->l[i]) {
            return false;
        }
    }
    return true;
}

static int big_cmp(const struct big *a, const struct big *b)
{
    for (int i = NL - 1; i >= 0; i--) {
        if (a->l[i] != b->l[i]) {
            return a->l[i] < b->l[i] ? -1 : 1;
        }
    }
    return 0;
}

static void big_mul_small(struct big *a, uint32_t m)
{
    uint64_t carry = 0;
    for (int i = 0; i < NL; i++) {
        uint64_t v = (uint64_t)a->l[i] * m + carry;
        a->l[i] = (uint32_t)v;
        carry = v >> 32;
    }
    CHECK(carry == 0, "reference big integer overflow");
}

/* a += d (d may be negative; the result must not be) */
static void big_add_small(struct big *a, long long d)
{
    if (d >= 0) {
        uint64_t carry = (uint64_t)d;
        for (int i = 0; i < NL && carry; i++) {
            uint64_t v = (uint64_t)a->l[i] + carry;
            a->l[i] = (uint32_t)v;
            carry = v >> 32;
        }
        return;
    }
    uint64_t borrow = (uint64_t)(-d);
    for (int i = 0; i < NL && borrow; i++) {
        uint64_t cur = a->l[i];
        uint64_t take = borrow & 0xffffffffu;
        borrow >>= 32;
        if (cur < take) {
            cur += 1ULL << 32;
            borrow++;
        }
        a->l[i] = (uint32_t)(cur - take);
    }
}

/* a /= 10, @return the remainder */
static unsigned big_div10(struct big *a)
{
    uint64_t r = 0;
    for (int i = NL - 1; i >= 0; i--) {
        uint64_t v = (r << 32) | a->l[i];
        a->l[i] = (uint32_t)(v / 10);
        r = v % 10;
    }
    return (unsigned)r;
}

/* the decimal digits of a (no leading zeros; "0" for zero) */
static void big_digits(struct big a, char *out, size_t outsz)
{
    char tmp[NL * 10 + 2];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + big_div10(&a));
    } while (!big_zero(&a));
    CHECK(n < outsz, "digits: %zu of %zu", n, outsz);
    for (size_t i = 0; i < n; i++) {
        out[i] = tmp[n - 1 - i];
    }
    out[n] = '\0';
}

/* a random magnitude: small, near the 64-bit limits, or up to `bits` bits */
static void big_random(struct big *a, unsigned bits)
{
    memset(a, 0, sizeof(*a));
    switch (below(4)) {
    case 0:
        a->l[0] = below(1000);
        break;
    case 1: /* 2^63 + d or 2^64 + d, d in -3..3 */
        if (below(2)) {
            a->l[1] = 0x80000000u;
        } else {
            a->l[2] = 1;
        }
        big_add_small(a, (long long)below(7) - 3);
        break;
    default: {
        unsigned nb = 1 + below(bits);
        for (unsigned i = 0; i < nb; i += 32) {
            uint32_t v = (uint32_t)rnd();
            if (nb - i < 32) {
                v &= (1u << (nb - i)) - 1;
            }
            a->l[i / 32] = v;
        }
        break;
    }
    }
}

/* ---------------------------------------------------------------- numbers: sign * m / 10^scale */

struct num {
    bool neg;
    struct big m;
    unsigned scale;
    unsigned lead; /* leading zeros written before the integer digits */
};

static int num_sign(const struct num *x)
{
    return big_zero(&x->m) ? 0 : (x->neg ? -1 : 1);
}

static int num_ref_cmp(const struct num *x, const struct num *y)
{
    int sx = num_sign(x), sy = num_sign(y);
    if (sx != sy) {
        return sx < sy ? -1 : 1;
    }
    if (sx == 0) {
        return 0;
    }
    struct big a = x->m, b = y->m;
    for (unsigned s = x->scale; s < y->scale; s++) {
        big_mul_small(&a, 10);
    }
    for (unsigned s = y->scale; s < x->scale; s++) {
        big_mul_small(&b, 10);
    }
    int c = big_cmp(&a, &b);
    return sx < 0 ? -c : c;
}

static void num_text(const struct num *x, char *out, size_t outsz)
{
    char d[NL * 10 + 2];
    big_digits(x->m, d, sizeof(d));
    size_t nd = strlen(d);
    size_t o = 0;
    char buf[NL * 10 + 128];
    if (x->neg) {
        buf[o++] = '-';
    }
    for (unsigned i = 0; i < x->lead; i++) {
        buf[o++] = '0';
    }
    if (nd <= x->scale) { /* 0.000ddd */
        buf[o++] = '0';
        buf[o++] = '.';
        for (size_t i = nd; i < x->scale; i++) {
            buf[o++] = '0';
        }
        memcpy(buf + o, d, nd);
        o += nd;
    } else {
        memcpy(buf + o, d, nd - x->scale);
        o += nd - x->scale;
        if (x->scale) {
            buf[o++] = '.';
            memcpy(buf + o, d + nd - x->scale, x->scale);
            o += x->scale;
        }
    }
    buf[o] = '\0';
    CHECK(o < outsz, "number text: %zu of %zu", o, outsz);
    memcpy(out, buf, o + 1);
}

static void num_random(struct num *x, bool decimal)
{
    memset(x, 0, sizeof(*x));
    big_random(&x->m, 200);
    x->neg = below(2);
    x->scale = decimal ? below(31) : 0;
    x->lead = below(8) == 0 ? 1 + below(3) : 0;
}

/* y near x: the same value written otherwise (trailing zeros, leading zeros, -0), one unit
 * apart, the sign flipped, or a fresh value */
static void num_near(const struct num *x, struct num *y, bool decimal)
{
    *y = *x;
    switch (below(6)) {
    case 0: /* the same value */
        if (decimal) {
            unsigned z = below(4);
            for (unsigned i = 0; i < z; i++) {
                big_mul_small(&y->m, 10);
            }
            y->scale += z;
        }
        y->lead = below(3);
        if (big_zero(&y->m)) {
            y->neg = !y->neg;
        }
        break;
    case 1: /* one unit of the last digit up */
        big_add_small(&y->m, 1);
        break;
    case 2: /* one unit down */
        if (!big_zero(&y->m)) {
            big_add_small(&y->m, -1);
        }
        break;
    case 3:
        y->neg = !y->neg;
        break;
    default:
        num_random(y, decimal);
        break;
    }
}

/* ---------------------------------------------------------------- timestamps */

enum ts_style {
    TS_PLAIN,   /* YYYY-MM-DD HH:MM:SS (a DATETIME without fraction) */
    TS_FIXED6,  /* .ffffff always (DATETIME(6), as MySQL/MariaDB print it) */
    TS_FIXED3,  /* .fff always (DATETIME(3)) */
    TS_TRIMMED, /* trailing fraction zeros dropped, none when zero (PostgreSQL) */
    TS_DATE,    /* YYYY-MM-DD (a DATE column) */
    TS_STYLES
};

struct ts {
    int f[7]; /* year, month, day, hour, minute, second, microsecond */
};

static int ts_ref_cmp(const struct ts *a, const struct ts *b)
{
    for (int i = 0; i < 7; i++) {
        if (a->f[i] != b->f[i]) {
            return a->f[i] < b->f[i] ? -1 : 1;
        }
    }
    return 0;
}

static const int ts_max[7] = { 9999, 12, 28, 23, 59, 59, 999999 };
static const int ts_min[7] = { 1, 1, 1, 0, 0, 0, 0 };

/* make the fields fit the style (a DATE has no time, DATETIME(3) milliseconds only) */
static void ts_fit(struct ts *t, enum ts_style st)
{
    if (st == TS_DATE) {
        t->f[3] = t->f[4] = t->f[5] = 0;
    }
    if (st == TS_DATE || st == TS_PLAIN) {
        t->f[6] = 0;
    }
    if (st == TS_FIXED3) {
        t->f[6] -= t->f[6] % 1000;
    }
}

static void ts_random(struct ts *t, enum ts_style st)
{
    t->f[0] = below(10) == 0 ? (below(2) ? 1 : 9999) : 1970 + (int)below(70);
    for (int i = 1; i < 7; i++) {
        t->f[i] = ts_min[i] + (int)below((unsigned)(ts_max[i] - ts_min[i] + 1));
    }
    if (below(3) == 0) {
        t->f[6] = (int)below(10) * 100000; /* few fraction digits: trimmed texts of all lengths */
    }
    ts_fit(t, st);
}

static void ts_near(const struct ts *a, struct ts *b, enum ts_style st)
{
    *b = *a;
    if (below(3) == 0) {
        return;
    }
    if (below(4) == 0) {
        ts_random(b, st);
        return;
    }
    int i = (int)below(st == TS_DATE ? 3 : 7);
    int step = st == TS_FIXED3 && i == 6 ? 1000 : 1;
    b->f[i] += below(2) ? step : -step;
    if (b->f[i] < ts_min[i] || b->f[i] > ts_max[i]) {
        b->f[i] = a->f[i];
    }
    ts_fit(b, st);
}

static void ts_text(const struct ts *t, enum ts_style st, char *out, size_t outsz)
{
    int k = snprintf(out, outsz, "%04d-%02d-%02d", t->f[0], t->f[1], t->f[2]);
    if (st == TS_DATE) {
        return;
    }
    k += snprintf(out + k, outsz - (size_t)k, " %02d:%02d:%02d", t->f[3], t->f[4], t->f[5]);
    if (st == TS_FIXED6) {
        snprintf(out + k, outsz - (size_t)k, ".%06d", t->f[6]);
    } else if (st == TS_FIXED3) {
        snprintf(out + k, outsz - (size_t)k, ".%03d", t->f[6] / 1000);
    } else if (st == TS_TRIMMED && t->f[6]) {
        char frac[8];
        snprintf(frac, sizeof(frac), "%06d", t->f[6]);
        size_t n = 6;
        while (frac[n - 1] == '0') {
            n--;
        }
        frac[n] = '\0';
        snprintf(out + k, outsz - (size_t)k, ".%s", frac);
    }
}

/* ---------------------------------------------------------------- checks */

static int sgn(int v)
{
    return (v > 0) - (v < 0);
}

/* sf_offset_cmp on a and b, both ways, against want */
static void check_pair(const char *mode, const char *a, const char *b, int want)
{
    int got = sgn(sf_offset_cmp(a, b));
    CHECK(got == want, "%s: \"%s\" vs \"%s\": %d, want %d", mode, a, b, got, want);
    got = sgn(sf_offset_cmp(b, a));
    CHECK(got == -want, "%s: \"%s\" vs \"%s\": %d, want %d", mode, b, a, got, -want);
}

/* the number fits a long long (|m| <= 2^63 - 1, or -2^63) */
static bool num_fits(const struct num *x, long long *v)
{
    for (int i = 2; i < NL; i++) {
        if (x->m.l[i]) {
            return false;
        }
    }
    uint64_t u = ((uint64_t)x->m.l[1] << 32) | x->m.l[0];
    if (u <= (uint64_t)LLONG_MAX) {
        *v = x->neg ? -(long long)u : (long long)u;
        return true;
    }
    if (x->neg && u == (uint64_t)LLONG_MAX + 1) {
        *v = LLONG_MIN;
        return true;
    }
    return false;
}

START_TEST(integers)
{
    rng_state = 0x1234567887654321ULL;
    char ta[512], tb[512];
    long long fits = 0, beyond = 0;
    for (int i = 0; i < PAIRS; i++) {
        struct num x, y;
        num_random(&x, false);
        num_near(&x, &y, false);
        num_text(&x, ta, sizeof(ta));
        num_text(&y, tb, sizeof(tb));
        check_pair("integer", ta, tb, num_ref_cmp(&x, &y));
        /* sf_offset_int_parse takes exactly those that fit a long long */
        long long want = 0, got = 0;
        bool fit = num_fits(&x, &want);
        CHECK(sf_offset_int_parse(ta, &got) == fit, "int_parse(\"%s\"): fits = %d", ta, fit);
        if (fit) {
            CHECK(got == want, "int_parse(\"%s\") = %lld, want %lld", ta, got, want);
            fits++;
        } else {
            beyond++;
        }
    }
    ck_assert_int_gt(fits, PAIRS / 10);
    ck_assert_int_gt(beyond, PAIRS / 10);
}
END_TEST

START_TEST(decimals)
{
    rng_state = 0x0badc0ffee15600dULL;
    char ta[512], tb[512];
    int ties = 0;
    for (int i = 0; i < PAIRS; i++) {
        struct num x, y;
        num_random(&x, true);
        num_near(&x, &y, true);
        num_text(&x, ta, sizeof(ta));
        num_text(&y, tb, sizeof(tb));
        int want = num_ref_cmp(&x, &y);
        ties += want == 0 && strcmp(ta, tb) != 0;
        check_pair("decimal", ta, tb, want);
    }
    ck_assert_int_gt(ties, PAIRS / 20); /* the same value written otherwise was reached */
}
END_TEST

START_TEST(timestamps)
{
    rng_state = 0x7157a3b5c0de0001ULL;
    char ta[64], tb[64];
    for (int i = 0; i < PAIRS; i++) {
        enum ts_style st = (enum ts_style)below(TS_STYLES); /* one column, one style */
        struct ts x, y;
        ts_random(&x, st);
        ts_near(&x, &y, st);
        ts_text(&x, st, ta, sizeof(ta));
        ts_text(&y, st, tb, sizeof(tb));
        check_pair("timestamp", ta, tb, ts_ref_cmp(&x, &y));
    }
}
END_TEST

START_TEST(ts_id_pairs)
{
    rng_state = 0x00c0ffee12345678ULL;
    char ta[600], tb[600], ia[512], ib[512];
    for (int i = 0; i < PAIRS; i++) {
        enum ts_style st = (enum ts_style)below(TS_STYLES);
        struct ts x, y;
        ts_random(&x, st);
        ts_near(&x, &y, st);
        struct num p, q;
        num_random(&p, false);
        num_near(&p, &q, false);
        if (below(4) == 0) { /* ids of the auto-increment kind: small, positive */
            p.neg = q.neg = false;
        }
        ts_text(&x, st, ta, sizeof(ta));
        ts_text(&y, st, tb, sizeof(tb));
        num_text(&p, ia, sizeof(ia));
        num_text(&q, ib, sizeof(ib));
        int want = ts_ref_cmp(&x, &y);
        if (want == 0) {
            want = num_ref_cmp(&p, &q);
        }
        strcat(ta, ",");
        strcat(ta, ia);
        strcat(tb, ",");
        strcat(tb, ib);
        check_pair("ts,id", ta, tb, want);
    }
}
END_TEST

/* "hw" or "hw;gaps" (the gaps below hw as the gap set writes them, or any text) */
static void hw_text(long long hw, char *out, size_t outsz)
{
    int k = snprintf(out, outsz, "%lld", hw);
    switch (below(4)) {
    case 0:
        break;
    case 1: {
        struct sf_gapset gs = { 0 };
        sf_gapset_init(&gs, hw, 0);
        if (hw > LLONG_MIN + 100) {
            sf_gapset_init(&gs, hw - 1 - (long long)below(50), 0);
            for (int i = 0, n = (int)below(6); i < n; i++) {
                long long step = 2 + (long long)below(5);
                if (step >= hw - gs.hw) { /* (hw - gs.hw is at most 51: no overflow) */
                    break;
                }
                sf_gapset_see(&gs, gs.hw + step, 0);
            }
            sf_gapset_see(&gs, hw, 0);
        }
        struct sf_buf b = SF_BUF_INIT;
        sf_gapset_encode(&gs, &b, SF_GAPS_TEXT_MAX);
        CHECK(gs.hw == hw, "gap set hw %lld, want %lld", gs.hw, hw);
        snprintf(out, outsz, "%s", b.data);
        sf_buf_free(&b);
        break;
    }
    case 2:
        snprintf(out + k, outsz - (size_t)k, ";%lld-%lld,%lld", hw - 9, hw - 7, hw - 3);
        break;
    default:
        snprintf(out + k, outsz - (size_t)k, ";%s", below(2) ? "" : "99999999999999999999,x");
        break;
    }
}

static long long hw_random(void)
{
    switch (below(4)) {
    case 0:
        return (long long)below(1000);
    case 1:
        return below(2) ? LLONG_MAX - (long long)below(5) : LLONG_MIN + 200 + (long long)below(5);
    default:
        return (long long)(rnd() >> 2) * (below(2) ? 1 : -1); /* room for hw - 9 */
    }
}

START_TEST(hw_gaps)
{
    rng_state = 0x6a95ea95ea95ea95ULL;
    char ta[600], tb[600];
    for (int i = 0; i < PAIRS; i++) {
        long long a = hw_random();
        long long b = below(3) == 0 ? a : below(2) ? a + (a < LLONG_MAX) : hw_random();
        hw_text(a, ta, sizeof(ta));
        hw_text(b, tb, sizeof(tb));
        check_pair("hw;gaps", ta, tb, a < b ? -1 : a > b);
    }
}
END_TEST

/* One array per mode sorted with sf_offset_cmp: in the reference's order throughout. */
#define SORTN 600
struct item {
    char text[600];
    struct num n; /* integers, decimals */
    struct ts t;  /* timestamps */
};

static int cmp_text(const void *a, const void *b)
{
    return sf_offset_cmp(((const struct item *)a)->text, ((const struct item *)b)->text);
}

START_TEST(sorted)
{
    rng_state = 0x5eed5eed5eed5eedULL;
    static struct item it[SORTN];
    for (int mode = 0; mode < 3; mode++) {
        enum ts_style st = (enum ts_style)below(TS_STYLES);
        for (int i = 0; i < SORTN; i++) {
            if (mode < 2) {
                if (i > 0 && below(3) == 0) {
                    num_near(&it[below((unsigned)i)].n, &it[i].n, mode == 1);
                } else {
                    num_random(&it[i].n, mode == 1);
                }
                num_text(&it[i].n, it[i].text, sizeof(it[i].text));
            } else {
                if (i > 0 && below(3) == 0) {
                    ts_near(&it[below((unsigned)i)].t, &it[i].t, st);
                } else {
                    ts_random(&it[i].t, st);
                }
                ts_text(&it[i].t, st, it[i].text, sizeof(it[i].text));
            }
        }
        qsort(it, SORTN, sizeof(it[0]), cmp_text);
        for (int i = 1; i < SORTN; i++) {
            int r =
                mode < 2 ? num_ref_cmp(&it[i - 1].n, &it[i].n) : ts_ref_cmp(&it[i - 1].t, &it[i].t);
            CHECK(r <= 0, "mode %d: \"%s\" sorted before \"%s\"", mode, it[i - 1].text, it[i].text);
        }
    }
}
END_TEST

SF_UNIT_SUITE(offset_order)
{
    Suite *s = suite_create("offset_order");
    TCase *tc = tcase_create("offset_order");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, integers);
    tcase_add_test(tc, decimals);
    tcase_add_test(tc, timestamps);
    tcase_add_test(tc, ts_id_pairs);
    tcase_add_test(tc, hw_gaps);
    tcase_add_test(tc, sorted);
    suite_add_tcase(s, tc);
    return s;
}
