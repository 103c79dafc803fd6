/*
 * format = avro, the datum side (the hot path): a row's values, in the database's text form, into
 * one Avro binary datum of the row's schema (sqlflume/avro_row.h), written straight into the
 * event body buffer: each value reserves its worst case once and is written in place.
 * Conversions are exact or refused: integers and decimals digit by digit (decimals as the unscaled
 * integer in two's complement, big-endian, fewest bytes; up to 38 digits in 128-bit arithmetic,
 * beyond in 32-bit limbs), dates by the proleptic Gregorian calendar (years before 1970 and
 * PostgreSQL's "BC" included) with no time zone involved, timestamptz by its printed UTC offset,
 * floats by strtod / strtof or an exact fast path (NaN and the infinities are IEEE values Avro
 * has). Dates and times must be in ISO form (PostgreSQL's DateStyle ISO, the default; MariaDB
 * always).
 */
#include "sqlflume/avro_row.h"
#include "sqlflume/avro_event.h"
#include "sqlflume/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define US_PER_DAY INT64_C(86400000000)
/* PostgreSQL's numeric has at most 1000 digits: 3322 bits */
#define DEC_LIMBS 128

struct rd { /* a text value being parsed */
    const unsigned char *s;
    size_t n, i;
};

static bool rd_digit(const struct rd *r)
{
    return r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9';
}

/** Read exactly k digits (k <= 9) into *v. */
static bool rd_fixed(struct rd *r, int k, int *v)
{
    int x = 0;
    for (int j = 0; j < k; j++) {
        if (!rd_digit(r)) {
            return false;
        }
        x = x * 10 + (r->s[r->i++] - '0');
    }
    *v = x;
    return true;
}

static bool rd_char(struct rd *r, char c)
{
    if (r->i < r->n && r->s[r->i] == (unsigned char)c) {
        r->i++;
        return true;
    }
    return false;
}

/** Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (y astronomical: 0 = 1 BC);
 *  H. Hinnant's days_from_civil. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
    static const int dm[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

/** Parse YYYY[Y...]-MM-DD (at least four year digits) into *y, *m, *d; checks the day. */
static bool rd_date(struct rd *r, int64_t *y, int *m, int *d)
{
    int64_t yy = 0;
    size_t from = r->i;
    while (rd_digit(r) && r->i - from < 9) {
        yy = yy * 10 + (r->s[r->i++] - '0');
    }
    if (r->i - from < 4 || !rd_char(r, '-') || !rd_fixed(r, 2, m) || !rd_char(r, '-') ||
        !rd_fixed(r, 2, d)) {
        return false;
    }
    if (*m < 1 || *m > 12 || *d < 1 || *d > days_in_month(yy, *m)) {
        return false;
    }
    *y = yy;
    return true;
}

/** Parse HH:MM:SS[.f{1,6}] of a day (hours below 24) into microseconds. */
static bool rd_time(struct rd *r, int64_t *us)
{
    int h, mi, se;
    if (!rd_fixed(r, 2, &h) || !rd_char(r, ':') || !rd_fixed(r, 2, &mi) || !rd_char(r, ':') ||
        !rd_fixed(r, 2, &se) || h > 23 || mi > 59 || se > 59) {
        return false;
    }
    int64_t frac = 0;
    if (rd_char(r, '.')) {
        int k = 0;
        while (rd_digit(r) && k < 6) {
            frac = frac * 10 + (r->s[r->i++] - '0');
            k++;
        }
        if (k == 0 || rd_digit(r)) {
            return false; /* no digit, or more than microseconds */
        }
        for (; k < 6; k++) {
            frac *= 10;
        }
    }
    *us = ((int64_t)h * 3600 + mi * 60 + se) * 1000000 + frac;
    return true;
}

/** PostgreSQL's " BC" after a date: turns year y (1 BC = 1) into the astronomical year. */
static bool rd_bc(struct rd *r, int64_t *y)
{
    if (r->n - r->i == 3 && memcmp(r->s + r->i, " BC", 3) == 0) {
        r->i += 3;
        *y = 1 - *y;
        return true;
    }
    return false;
}

/** A value of a date/time field: days (date), or microseconds. @return false when it is not
 *  one (message in why). */
static bool parse_temporal(enum sf_avro_kind k, struct rd *r, int64_t *out, const char **why)
{
    *why = "not an ISO date/time of this type (PostgreSQL: DateStyle ISO is needed)";
    if ((r->n == 8 && memcmp(r->s, "infinity", 8) == 0) ||
        (r->n == 9 && memcmp(r->s, "-infinity", 9) == 0)) {
        *why = "infinity has no Avro date/time value";
        return false;
    }
    if (k == SF_AVRO_TIME_MICROS) {
        if (!rd_time(r, out) || r->i != r->n) {
            *why = "not a time of day 00:00:00..23:59:59.999999 (Avro time-micros)";
            return false;
        }
        return true;
    }
    int64_t y;
    int m, d;
    if (!rd_date(r, &y, &m, &d)) {
        if (r->n >= 10 && memcmp(r->s, "0000-00-00", 10) == 0) {
            *why = "MariaDB's zero date is not a date";
        }
        return false;
    }
    if (k == SF_AVRO_DATE) {
        (void)rd_bc(r, &y);
        int64_t days = days_from_civil(y, m, d);
        if (r->i != r->n || days < INT32_MIN || days > INT32_MAX) {
            return false;
        }
        *out = days;
        return true;
    }
    int64_t tod, off = 0;
    if (!rd_char(r, ' ') || !rd_time(r, &tod)) {
        return false;
    }
    if (k == SF_AVRO_TSTZ_MICROS) { /* +HH[:MM[:SS]] */
        int sign = rd_char(r, '+') ? 1 : rd_char(r, '-') ? -1 : 0;
        int oh, om = 0, os = 0;
        if (!sign || !rd_fixed(r, 2, &oh) ||
            (rd_char(r, ':') &&
             (!rd_fixed(r, 2, &om) || (rd_char(r, ':') && !rd_fixed(r, 2, &os))))) {
            *why = "not an ISO timestamp with a UTC offset";
            return false;
        }
        off = sign * (((int64_t)oh * 3600 + om * 60 + os) * 1000000);
    }
    (void)rd_bc(r, &y);
    if (r->i != r->n) {
        return false;
    }
    int64_t us;
    if (__builtin_mul_overflow(days_from_civil(y, m, d), US_PER_DAY, &us) ||
        __builtin_add_overflow(us, tod - off, &us)) {
        *why = "outside the microseconds an Avro long holds";
        return false;
    }
    *out = us;
    return true;
}

/** Parse a whole base-10 integer (optional sign) into *v. */
static bool parse_long(const unsigned char *s, size_t n, int64_t *v)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        neg = s[i++] == '-';
    }
    if (i == n) {
        return false;
    }
    uint64_t x = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9' || x > (UINT64_MAX - 9) / 10) {
            return false;
        }
        x = x * 10 + (s[i] - '0');
    }
    if (x > (uint64_t)INT64_MAX + neg) {
        return false;
    }
    *v = neg ? (int64_t)(0 - x) : (int64_t)x;
    return true;
}

/* Write the decimal's unscaled value, magnitude limbs mag[0..nl) (little-endian, 32-bit), as
 * two's-complement big-endian bytes (negated when neg), the fewest that hold it, at p.
 * @return the bytes written (at most 4 * nl + 1). */
static size_t put_twos(unsigned char *p, const uint32_t *mag, size_t nl, bool neg)
{
    unsigned char be[4 * DEC_LIMBS + 1];
    size_t len = 4 * nl + 1;
    be[0] = 0;
    for (size_t i = 0; i < nl; i++) {
        uint32_t w = mag[nl - 1 - i];
        be[1 + 4 * i] = (unsigned char)(w >> 24);
        be[2 + 4 * i] = (unsigned char)(w >> 16);
        be[3 + 4 * i] = (unsigned char)(w >> 8);
        be[4 + 4 * i] = (unsigned char)w;
    }
    if (neg) { /* two's complement: invert, add one */
        unsigned carry = 1;
        for (size_t i = len; i-- > 0;) {
            unsigned v = (unsigned)(unsigned char)~be[i] + carry;
            be[i] = (unsigned char)v;
            carry = v >> 8;
        }
    }
    size_t k = 0; /* drop sign-extension bytes */
    while (k + 1 < len &&
           ((be[k] == 0 && !(be[k + 1] & 0x80)) || (be[k] == 0xFF && (be[k + 1] & 0x80)))) {
        k++;
    }
    memcpy(p, be + k, len - k);
    return len - k;
}

/** Encode decimal text v as the unscaled integer of a decimal(precision, scale) at p.
 *  @return bytes written, or 0 with why set when it is not such a decimal. */
static size_t put_decimal(unsigned char *p,
                          const unsigned char *s,
                          size_t n,
                          int precision,
                          int scale,
                          const char **why)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        neg = s[i++] == '-';
    }
    uint32_t mag[DEC_LIMBS]; /* limbs past nl are never read */
    mag[0] = 0;
    size_t nl = 1;
    int digits = 0, frac = -1; /* significant digits so far; digits after the point (-1: none) */
    bool any = false;
    *why = "not a decimal number (NaN and infinities have no Avro decimal)";
    for (; i <= n; i++) {
        int dgt;
        if (i == n) {
            if (frac < 0) {
                frac = 0;
            }
            if (frac >= scale) {
                break;
            }
            dgt = 0; /* pad to the scale */
            i--;
        } else if (s[i] == '.' && frac < 0) {
            frac = 0;
            continue;
        } else if (s[i] >= '0' && s[i] <= '9') {
            dgt = s[i] - '0';
            any = true;
        } else {
            return 0;
        }
        if (frac >= scale) { /* a digit beyond the scale: only a zero can go */
            if (dgt != 0) {
                *why = "more fractional digits than the column's scale";
                return 0;
            }
            continue;
        }
        if (frac >= 0) {
            frac++;
        }
        if (digits == 0 && dgt == 0) {
            continue; /* a leading zero */
        }
        if (++digits > precision) {
            *why = "more digits than the column's precision";
            return 0;
        }
        uint64_t carry = (uint64_t)dgt; /* mag = mag * 10 + dgt */
        for (size_t l = 0; l < nl; l++) {
            uint64_t v = (uint64_t)mag[l] * 10 + carry;
            mag[l] = (uint32_t)v;
            carry = v >> 32;
        }
        if (carry) {
            if (nl == DEC_LIMBS) {
                *why = "more digits than an Avro decimal of this library holds";
                return 0;
            }
            mag[nl++] = (uint32_t)carry;
        }
    }
    if (!any) {
        return 0;
    }
    if (digits == 0) {
        neg = false; /* -0.00 */
    }
    return put_twos(p, mag, nl, neg);
}

static bool parse_bool(const unsigned char *s, size_t n, bool *b)
{
    if ((n == 1 && (s[0] == 't' || s[0] == '1')) || (n == 4 && memcmp(s, "true", 4) == 0)) {
        *b = true;
        return true;
    }
    if ((n == 1 && (s[0] == 'f' || s[0] == '0')) || (n == 5 && memcmp(s, "false", 5) == 0)) {
        *b = false;
        return true;
    }
    return false;
}

/** Parse a whole float text (NaN, [-]Infinity included): float4 with strtof (rounding once, to
 *  float), double with strtod, or exactly without it for a plain decimal of at most 15 digits
 *  and 22 fractional ones (Clinger's fast path: the digits and 10^k are exact doubles, and one
 *  division rounds correctly). */
static bool parse_float(const unsigned char *s, size_t n, bool single, double *d, float *f)
{
    if (!single && n > 0 && n <= 24) {
        static const double p10[23] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                        1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                        1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
        size_t i = s[0] == '-';
        uint64_t m = 0;
        int digits = 0, frac = -1;
        for (; i < n; i++) {
            if (s[i] >= '0' && s[i] <= '9') {
                m = m * 10 + (uint64_t)(s[i] - '0');
                digits++;
                frac += frac >= 0;
            } else if (s[i] == '.' && frac < 0 && digits > 0) {
                frac = 0;
            } else {
                break;
            }
        }
        if (i == n && digits > 0 && digits <= 15 && frac != 0) {
            double x = (double)m / p10[frac < 0 ? 0 : frac];
            *d = s[0] == '-' ? -x : x;
            return true;
        }
    }
    char tmp[400];
    if (n == 0 || n >= sizeof tmp) {
        return false;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    char *end;
    if (single) {
        *f = strtof(tmp, &end);
    } else {
        *d = strtod(tmp, &end);
    }
    return end == tmp + n;
}

static size_t put_le(unsigned char *p, uint64_t bits, int k)
{
    for (int i = 0; i < k; i++) {
        p[i] = (unsigned char)(bits >> (8 * i));
    }
    return (size_t)k;
}

static size_t put_blob(unsigned char *p, const char *v, size_t n)
{
    size_t k = sf_avro_put_long(p, (int64_t)n);
    memcpy(p + k, v, n);
    return k + n;
}

int sf_avro_row_encode(const struct sf_avro_schema *s,
                       const struct sf_row *row,
                       struct sf_buf *out,
                       char *errstr,
                       size_t errstr_size)
{
    if (row->ncols != s->n) {
        snprintf(errstr, errstr_size, "a row of %zu columns for an Avro schema of %zu fields",
                 row->ncols, s->n);
        return SF_ERR_INVAL;
    }
    size_t start = out->len;
    for (size_t i = 0; i < s->n; i++) {
        const struct sf_avro_field *f = &s->fields[i];
        const char *v = row->vals[i];
        size_t n = row->lens[i];
        const unsigned char *u = (const unsigned char *)v;
        /* union branch, a length, and the value's bytes (a decimal: 4 bytes per 9 digits + 1) */
        sf_buf_reserve(out, 1 + 10 + (f->kind == SF_AVRO_DECIMAL ? 4 * DEC_LIMBS + 1 : n) + 10);
        unsigned char *p = (unsigned char *)out->data + out->len;
        if (!v) {
            *p = 0; /* branch 0: null */
            out->len++;
            continue;
        }
        *p++ = 2; /* branch 1 */
        const char *why = "not a value of this type";
        bool ok = true;
        switch (f->kind) {
        case SF_AVRO_LONG: {
            int64_t x;
            ok = parse_long(u, n, &x);
            if (ok) {
                p += sf_avro_put_long(p, x);
            }
            break;
        }
        case SF_AVRO_FLOAT:
        case SF_AVRO_DOUBLE: {
            double d = 0;
            float fl = 0;
            bool single = f->kind == SF_AVRO_FLOAT;
            ok = parse_float(u, n, single, &d, &fl);
            if (ok && single) {
                uint32_t bits;
                memcpy(&bits, &fl, 4);
                p += put_le(p, bits, 4);
            } else if (ok) {
                uint64_t bits;
                memcpy(&bits, &d, 8);
                p += put_le(p, bits, 8);
            }
            break;
        }
        case SF_AVRO_DECIMAL: {
            unsigned char tmp[4 * DEC_LIMBS + 1];
            size_t k = put_decimal(tmp, u, n, f->precision, f->scale, &why);
            ok = k > 0;
            if (ok) {
                p += sf_avro_put_long(p, (int64_t)k);
                memcpy(p, tmp, k);
                p += k;
            }
            break;
        }
        case SF_AVRO_BOOLEAN: {
            bool b = false;
            ok = parse_bool(u, n, &b);
            *p++ = b;
            break;
        }
        case SF_AVRO_DATE:
        case SF_AVRO_TIME_MICROS:
        case SF_AVRO_TS_MICROS:
        case SF_AVRO_TSTZ_MICROS: {
            struct rd r = { u, n, 0 };
            int64_t x;
            ok = parse_temporal(f->kind, &r, &x, &why);
            if (ok) {
                p += sf_avro_put_long(p, x); /* int and long share the encoding */
            }
            break;
        }
        case SF_AVRO_BYTES:
        case SF_AVRO_STRING:
            p += put_blob(p, v, n);
            break;
        }
        if (!ok) {
            out->len = start;
            if (out->data) {
                out->data[start] = '\0';
            }
            snprintf(errstr, errstr_size, "column \"%s\": value '%.*s%s' cannot be encoded: %s",
                     s->cols[i].name, (int)(n < 48 ? n : 48), v, n > 48 ? "..." : "", why);
            return SF_ERR_DATA;
        }
        out->len = (size_t)((char *)p - out->data);
    }
    sf_buf_reserve(out, 0);
    out->data[out->len] = '\0';
    return SF_OK;
}
