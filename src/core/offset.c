/* Order of offset values (see sqlflume/offset.h). */
#include "sqlflume/offset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A decimal number split for comparison: sign, integer digits without leading zeros, fraction
 * digits (trailing zeros are harmless: missing digits compare as '0'). */
struct dec {
    bool neg;
    const char *ip, *fp;
    size_t il, fl;
};

/* Whether s[0..len) is -?[0-9]+(\.[0-9]+)? and, if so, its parts. */
static bool dec_parse(const char *s, size_t len, struct dec *d)
{
    const char *e = s + len;
    d->neg = s < e && *s == '-';
    if (d->neg) {
        s++;
    }
    const char *p = s;
    while (p < e && *p >= '0' && *p <= '9') {
        p++;
    }
    if (p == s) {
        return false;
    }
    d->ip = s;
    d->il = (size_t)(p - s);
    while (d->il > 1 && *d->ip == '0') {
        d->ip++;
        d->il--;
    }
    d->fp = p;
    d->fl = 0;
    if (p < e && *p == '.') {
        const char *f = ++p;
        while (p < e && *p >= '0' && *p <= '9') {
            p++;
        }
        if (p == f) {
            return false;
        }
        d->fp = f;
        d->fl = (size_t)(p - f);
    }
    if (p != e) {
        return false;
    }
    bool zero = d->il == 1 && *d->ip == '0';
    for (size_t i = 0; zero && i < d->fl; i++) {
        zero = d->fp[i] == '0';
    }
    if (zero) {
        d->neg = false; /* -0 = 0 */
    }
    return true;
}

static int dec_cmp_abs(const struct dec *a, const struct dec *b)
{
    if (a->il != b->il) {
        return a->il < b->il ? -1 : 1;
    }
    int c = memcmp(a->ip, b->ip, a->il);
    if (c) {
        return c < 0 ? -1 : 1;
    }
    size_t n = a->fl > b->fl ? a->fl : b->fl;
    for (size_t i = 0; i < n; i++) {
        char x = i < a->fl ? a->fp[i] : '0';
        char y = i < b->fl ? b->fp[i] : '0';
        if (x != y) {
            return x < y ? -1 : 1;
        }
    }
    return 0;
}

/* Order of two values without ',' or ';': numerically when both are decimal numbers, else by
 * bytes. */
static int scalar_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    struct dec dx, dy;
    if (dec_parse(a, alen, &dx) && dec_parse(b, blen, &dy)) {
        if (dx.neg != dy.neg) {
            return dx.neg ? -1 : 1;
        }
        int c = dec_cmp_abs(&dx, &dy);
        return dx.neg ? -c : c;
    }
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c == 0) {
        c = (alen > blen) - (alen < blen);
    }
    return (c > 0) - (c < 0);
}

int sf_offset_cmp(const char *a, const char *b)
{
    size_t aend = strcspn(a, ";"), bend = strcspn(b, ";");
    const char *ae = a + aend, *be = b + bend;
    for (;;) {
        size_t al = strcspn(a, ","), bl = strcspn(b, ",");
        if (a + al > ae) {
            al = (size_t)(ae - a);
        }
        if (b + bl > be) {
            bl = (size_t)(be - b);
        }
        int c = scalar_cmp(a, al, b, bl);
        if (c != 0) {
            return c;
        }
        bool amore = a + al < ae, bmore = b + bl < be;
        if (!amore || !bmore) {
            return (int)amore - (int)bmore;
        }
        a += al + 1;
        b += bl + 1;
    }
}

bool sf_offset_int_parse(const char *s, long long *v)
{
    if (!*s || (*s != '-' && (*s < '0' || *s > '9'))) {
        return false;
    }
    char *end;
    errno = 0;
    long long x = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *v = x;
    return true;
}
