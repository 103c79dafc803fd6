/* MySQL/MariaDB connector: column classes, parameter integers and the formatting of binary-bound
 * result values (see mysql_types.h). */
#include "mysql_types.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- value formatting (the hot path) -----------------------------------------------------------
 */

/* Write the decimal digits of v ending at end; return the start. */
static char *utoa_rev(char *end, unsigned long long v)
{
    do {
        *--end = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return end;
}

/* Format an integer into m->text; returns the length, sets *start. */
static size_t
fmt_int(struct my_col *m, long long sv, unsigned long long uv, bool neg, const char **start)
{
    char *end = m->text + MY_TEXT_CAP;
    char *p = utoa_rev(end, neg ? uv : (unsigned long long)sv);
    if (m->zerofill) {
        char *want = end - (m->width < 64 ? m->width : 64);
        while (p > want) {
            *--p = '0';
        }
    }
    if (neg) {
        *--p = '-';
    }
    *start = p;
    return (size_t)(end - p);
}

size_t my_format_integer(struct my_col *m, const char **start)
{
    long long v;
    switch (m->kind) {
    case MK_INT8:
        v = m->is_unsigned ? (long long)(unsigned char)m->num.i8 : m->num.i8;
        break;
    case MK_INT16:
        v = m->is_unsigned ? (long long)(unsigned short)m->num.i16 : m->num.i16;
        break;
    case MK_INT32:
        v = m->is_unsigned ? (long long)(unsigned int)m->num.i32 : m->num.i32;
        break;
    default:
        if (m->is_unsigned) {
            unsigned long long u;
            memcpy(&u, &m->num.i64, sizeof(u));
            char *end = m->text + MY_TEXT_CAP;
            char *p = utoa_rev(end, u);
            if (m->zerofill) {
                char *want = end - (m->width < 64 ? m->width : 64);
                while (p > want) {
                    *--p = '0';
                }
            }
            *start = p;
            return (size_t)(end - p);
        }
        v = m->num.i64;
        break;
    }
    if (v < 0) {
        return fmt_int(m, 0, 0ULL - (unsigned long long)v, true, start);
    }
    return fmt_int(m, v, 0, false, start);
}

static char *put2(char *p, unsigned v)
{
    p[0] = (char)('0' + (v / 10) % 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static char *put4(char *p, unsigned v)
{
    p[0] = (char)('0' + (v / 1000) % 10);
    p[1] = (char)('0' + (v / 100) % 10);
    p[2] = (char)('0' + (v / 10) % 10);
    p[3] = (char)('0' + v % 10);
    return p + 4;
}

/* ".ffffff" cut to the column's fractional digits (as the server shows them). */
static char *put_frac(char *p, unsigned long usec, unsigned decimals)
{
    unsigned digits = decimals;
    if (decimals > 6) { /* scale not known (expression): show microseconds when present */
        digits = usec ? 6 : 0;
    }
    if (digits == 0) {
        return p;
    }
    char six[6];
    unsigned long v = usec % 1000000;
    for (int i = 5; i >= 0; i--) {
        six[i] = (char)('0' + v % 10);
        v /= 10;
    }
    *p++ = '.';
    memcpy(p, six, digits);
    return p + digits;
}

size_t my_format_temporal(struct my_col *m)
{
    const MYSQL_TIME *t = &m->num.t;
    char *p = m->text;
    if (m->kind == MK_TIME) {
        if (t->neg) {
            *p++ = '-';
        }
        unsigned hours = t->hour; /* the library folds days into hours */
        if (hours >= 100) {
            char tmp[16];
            char *s = utoa_rev(tmp + sizeof(tmp), hours);
            size_t n = (size_t)(tmp + sizeof(tmp) - s);
            memcpy(p, s, n);
            p += n;
        } else {
            p = put2(p, hours);
        }
        *p++ = ':';
        p = put2(p, t->minute);
        *p++ = ':';
        p = put2(p, t->second);
        p = put_frac(p, t->second_part, m->decimals);
        return (size_t)(p - m->text);
    }
    p = put4(p, t->year);
    *p++ = '-';
    p = put2(p, t->month);
    *p++ = '-';
    p = put2(p, t->day);
    if (m->kind == MK_DATE) {
        return (size_t)(p - m->text);
    }
    *p++ = ' ';
    p = put2(p, t->hour);
    *p++ = ':';
    p = put2(p, t->minute);
    *p++ = ':';
    p = put2(p, t->second);
    p = put_frac(p, t->second_part, m->decimals);
    return (size_t)(p - m->text);
}

/*
 * Significant digits of x (no trailing zeros) rounded to at most maxdigits, shortest that reads
 * back as the same double when shortest is set. Returns the digit count and *decpt (the position
 * of the decimal point relative to the first digit, as dtoa reports it).
 */
static int float_digits(double x, int maxdigits, bool shortest, char *digits, int *decpt)
{
    char tmp[40];
    int p = shortest ? (maxdigits < 15 ? maxdigits : 15) : maxdigits;
    for (;; p++) {
        snprintf(tmp, sizeof(tmp), "%.*e", p - 1, x);
        if (!shortest || p >= maxdigits || strtod(tmp, NULL) == x) {
            break;
        }
    }
    /* tmp: "d.ddde[+-]XX" (x >= 0 here) */
    int n = 0;
    const char *s = tmp;
    for (; *s && *s != 'e'; s++) {
        if (*s != '.') {
            digits[n++] = *s;
        }
    }
    int exp10 = (int)strtol(s + 1, NULL, 10);
    while (n > 1 && digits[n - 1] == '0') {
        n--;
    }
    *decpt = exp10 + 1;
    return n;
}

/*
 * The server's text form of a FLOAT/DOUBLE without a fixed scale: MariaDB's my_gcvt() (dtoa mode
 * 4, 'f' or 'e' format by the same rules), with width = the column's display width.
 */
static size_t format_gcvt(double x, bool is_float, int width, char *out)
{
    char *dst = out;
    if (x == 0) { /* my_gcvt prints "0" for -0 too; the sign is kept here */
        if (signbit(x)) {
            memcpy(dst, "-0", 2);
            return 2;
        }
        *dst++ = '0';
        return 1;
    }
    if (x < 0) {
        *dst++ = '-';
        x = -x;
        width--;
    }
    char digits[32];
    int decpt;
    int maxd = is_float ? (width < FLT_DIG ? width : FLT_DIG) : (width < 17 ? width : 17);
    if (maxd < 1) {
        maxd = 1;
    }
    int len = float_digits(x, maxd, true, digits, &decpt);
    int exp_len = 1 + (decpt >= 101 || decpt <= -99) + (decpt >= 11 || decpt <= -9);
    bool have_space = (decpt <= 0                   ? len - decpt + 2
                       : (decpt > 0 && decpt < len) ? len + 1
                                                    : decpt) <= width;
    bool force_e = decpt <= 0 && width <= 2 - decpt && width >= 3 + exp_len;
    const int max_decpt_f = DBL_DIG; /* MAX_DECPT_FOR_F_FORMAT */
    if ((have_space ||
         (decpt <= width && (decpt >= -1 || (decpt == -2 && (len > 1 || !force_e))) && !force_e)) &&
        (!have_space || (decpt >= -max_decpt_f + 1 && (decpt <= max_decpt_f || len > decpt)))) {
        /* 'f' format; the digits always fit the widths used here */
        if (decpt <= 0) {
            *dst++ = '0';
            *dst++ = '.';
            for (int i = decpt; i < 0; i++) {
                *dst++ = '0';
            }
            memcpy(dst, digits, (size_t)len);
            dst += len;
        } else {
            for (int i = 0; i < len; i++) {
                *dst++ = digits[i];
                if (i + 1 == decpt && i + 1 < len) {
                    *dst++ = '.';
                }
            }
            for (int i = len; i < decpt; i++) {
                *dst++ = '0';
            }
        }
    } else {
        /* 'e' format: d.ddde[-]X */
        int e = decpt - 1;
        *dst++ = digits[0];
        if (len > 1) {
            *dst++ = '.';
            memcpy(dst, digits + 1, (size_t)len - 1);
            dst += len - 1;
        }
        *dst++ = 'e';
        if (e < 0) {
            *dst++ = '-';
            e = -e;
        }
        char tmp[8];
        char *s = utoa_rev(tmp + sizeof(tmp), (unsigned long long)e);
        size_t n = (size_t)(tmp + sizeof(tmp) - s);
        memcpy(dst, s, n);
        dst += n;
    }
    return (size_t)(dst - out);
}

size_t my_format_real(struct my_col *m)
{
    double x = m->kind == MK_FLOAT ? (double)m->num.f : m->num.d;
    if (!isfinite(x)) { /* MySQL cannot store these; be safe anyway */
        return (size_t)snprintf(m->text, MY_TEXT_CAP, "%s",
                                isnan(x) ? "NaN"
                                : x < 0  ? "-Infinity"
                                         : "Infinity");
    }
    if (m->decimals < MY_NOT_FIXED_DEC) { /* FLOAT(M,D) / DOUBLE(M,D): fixed scale */
        int n = snprintf(m->text, MY_TEXT_CAP, "%.*f", (int)m->decimals, x);
        return n < 0 ? 0 : (size_t)n >= MY_TEXT_CAP ? MY_TEXT_CAP - 1 : (size_t)n;
    }
    int width = (int)m->width;
    if (width < 12 || width > 64) {
        width = m->kind == MK_FLOAT ? 12 : 22;
    }
    return format_gcvt(x, m->kind == MK_FLOAT, width, m->text);
}

/* ---- column classes and parameter values ------------------------------------------------------
 */

bool my_parse_int(const char *s, long long *out, bool *is_unsigned)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end != s && *end == '\0' && errno == 0) {
        *out = v;
        *is_unsigned = false;
        return true;
    }
    if (*s != '-' && errno == ERANGE) {
        errno = 0;
        unsigned long long u = strtoull(s, &end, 10);
        if (end != s && *end == '\0' && errno == 0) {
            memcpy(out, &u, sizeof(u));
            *is_unsigned = true;
            return true;
        }
    }
    return false;
}

enum sf_coltype my_column_class(const MYSQL_FIELD *f)
{
    switch (f->type) {
    case MYSQL_TYPE_TINY:
    case MYSQL_TYPE_SHORT:
    case MYSQL_TYPE_LONG:
    case MYSQL_TYPE_INT24:
    case MYSQL_TYPE_LONGLONG:
    case MYSQL_TYPE_YEAR:
        return SF_COL_INT;
    case MYSQL_TYPE_FLOAT:
    case MYSQL_TYPE_DOUBLE:
        return SF_COL_FLOAT;
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL:
        return SF_COL_DECIMAL;
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_TIME2:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP2:
        return SF_COL_TEMPORAL;
    case MYSQL_TYPE_BIT:
        return SF_COL_BINARY;
    case MYSQL_TYPE_ENUM:
    case MYSQL_TYPE_SET:
        return SF_COL_TEXT;
    case MYSQL_TYPE_TINY_BLOB:
    case MYSQL_TYPE_MEDIUM_BLOB:
    case MYSQL_TYPE_LONG_BLOB:
    case MYSQL_TYPE_BLOB:
    case MYSQL_TYPE_VAR_STRING:
    case MYSQL_TYPE_STRING:
    case MYSQL_TYPE_VARCHAR: {
        if (f->charsetnr == 63) {
            return SF_COL_BINARY;
        }
        if (f->flags & (ENUM_FLAG | SET_FLAG)) {
            return SF_COL_TEXT;
        }
        /* MariaDB's JSON is LONGTEXT; the extended metadata names its format */
        MARIADB_CONST_STRING fmt = { NULL, 0 };
        if (mariadb_field_attr(&fmt, f, MARIADB_FIELD_ATTR_FORMAT_NAME) == 0 && fmt.length == 4 &&
            strncasecmp(fmt.str, "json", 4) == 0) {
            return SF_COL_OTHER;
        }
        return SF_COL_TEXT;
    }
    default:
        return SF_COL_OTHER; /* JSON (MySQL), GEOMETRY, NULL */
    }
}

void my_column_detail(const MYSQL_FIELD *f, struct sf_column *col)
{
    col->sub = SF_SUB_NONE;
    col->precision = 0;
    col->scale = 0;
    switch (f->type) {
    case MYSQL_TYPE_DECIMAL:
    case MYSQL_TYPE_NEWDECIMAL: {
        unsigned scale = f->decimals;
        unsigned long len = f->length;
        bool uns = (f->flags & UNSIGNED_FLAG) != 0;
        long prec = (long)len - (scale > 0 ? 1 : 0) - (uns || len == 0 ? 0 : 1);
        if (scale <= 65 && prec >= 1 && prec <= 65 && (long)scale <= prec) {
            col->precision = (int)prec;
            col->scale = (int)scale;
        }
        break;
    }
    case MYSQL_TYPE_DATE:
    case MYSQL_TYPE_NEWDATE:
        col->sub = SF_SUB_DATE;
        break;
    case MYSQL_TYPE_TIME:
    case MYSQL_TYPE_TIME2:
        col->sub = SF_SUB_TIME;
        break;
    case MYSQL_TYPE_DATETIME:
    case MYSQL_TYPE_TIMESTAMP:
    case MYSQL_TYPE_DATETIME2:
    case MYSQL_TYPE_TIMESTAMP2:
        col->sub = SF_SUB_TIMESTAMP;
        break;
    case MYSQL_TYPE_FLOAT:
        col->sub = SF_SUB_FLOAT4;
        break;
    case MYSQL_TYPE_LONGLONG:
        if (f->flags & UNSIGNED_FLAG) {
            col->sub = SF_SUB_UINT64;
        }
        break;
    default:
        break;
    }
}
