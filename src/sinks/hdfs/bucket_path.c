/*
 * The HDFS sink's path templates and time zones (see bucket_path.h).
 */
#include "bucket_path.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sqlflume/error.h"
#include "sqlflume/log.h"

/* ---------- time zones ---------- */

enum tz_kind { TZ_LOCAL, TZ_FIXED, TZ_FILE };

struct sf_tz {
    enum tz_kind kind;
    long fixed;        /* TZ_FIXED: seconds east of UTC */
    int64_t *at;       /* TZ_FILE: transition times, ascending */
    unsigned char *ty; /* TZ_FILE: the type after each transition */
    size_t nat;
    long *off; /* TZ_FILE: utoff of each type */
    size_t noff;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
    return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* "+hh", "+hhmm", "+hh:mm" (sign required) -> seconds. @return SF_OK, or SF_ERR_INVAL for a
 * malformed text */
static int parse_offset(const char *s, long *out)
{
    int sign = *s == '+' ? 1 : *s == '-' ? -1 : 0;
    if (!sign) {
        return SF_ERR_INVAL;
    }
    s++;
    int d[4], nd = 0;
    for (; *s && nd < 4; s++) {
        if (*s == ':' && nd == 2) {
            continue;
        }
        if (!isdigit((unsigned char)*s)) {
            return SF_ERR_INVAL;
        }
        d[nd++] = *s - '0';
    }
    if (*s || (nd != 1 && nd != 2 && nd != 4)) {
        return SF_ERR_INVAL;
    }
    long h = nd == 1 ? d[0] : d[0] * 10 + d[1];
    long m = nd == 4 ? d[2] * 10 + d[3] : 0;
    if (h > 18 || m > 59) {
        return SF_ERR_INVAL;
    }
    *out = sign * (h * 3600 + m * 60);
    return SF_OK;
}

/* RFC 8536 TZif, version 2 or later (the 64-bit block); version 1 files are refused. */
static int tz_read_file(struct sf_tz *tz, const char *path, char *err, size_t errsz)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errsz, "unknown time zone: cannot open \"%s\": %s", path, strerror(errno));
        return SF_ERR_INVAL;
    }
    unsigned char *d = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            unsigned char *nd = cap <= (1u << 20) ? realloc(d, cap) : NULL;
            if (!nd) {
                free(d);
                fclose(f);
                snprintf(err, errsz, "time zone file \"%s\" is too large", path);
                return SF_ERR_INVAL;
            }
            d = nd;
        }
        size_t r = fread(d + len, 1, cap - len, f);
        len += r;
        if (r == 0) {
            break;
        }
    }
    fclose(f);
    int rc = SF_ERR_INVAL;
    if (len < 44 || memcmp(d, "TZif", 4) != 0 || d[4] < '2') {
        snprintf(err, errsz, "\"%s\" is not a TZif file of version 2 or later", path);
        goto out;
    }
    /* skip the version 1 block */
    uint32_t c[6];
    for (int i = 0; i < 6; i++) {
        c[i] = be32(d + 20 + 4 * i);
    }
    size_t p = 44 + (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 + c[1] + c[0];
    if (len < p + 44 || memcmp(d + p, "TZif", 4) != 0) {
        snprintf(err, errsz, "time zone file \"%s\" is truncated", path);
        goto out;
    }
    for (int i = 0; i < 6; i++) {
        c[i] = be32(d + p + 20 + 4 * i);
    }
    p += 44;
    size_t timecnt = c[3], typecnt = c[4];
    if (typecnt == 0 || typecnt > 256 || timecnt > 100000 ||
        len < p + timecnt * 9 + typecnt * 6) {
        snprintf(err, errsz, "time zone file \"%s\" is malformed", path);
        goto out;
    }
    tz->at = malloc((timecnt + 1) * sizeof(*tz->at));
    tz->ty = malloc(timecnt + 1);
    tz->off = malloc(typecnt * sizeof(*tz->off));
    if (!tz->at || !tz->ty || !tz->off) {
        rc = SF_ERR_NOMEM;
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < timecnt; i++) {
        tz->at[i] = be64(d + p + 8 * i);
        tz->ty[i] = d[p + 8 * timecnt + i];
        if (tz->ty[i] >= typecnt || (i > 0 && tz->at[i] < tz->at[i - 1])) {
            snprintf(err, errsz, "time zone file \"%s\" is malformed", path);
            goto out;
        }
    }
    p += timecnt * 9;
    for (size_t i = 0; i < typecnt; i++) {
        tz->off[i] = (long)(int32_t)be32(d + p + 6 * i);
    }
    tz->nat = timecnt;
    tz->noff = typecnt;
    rc = SF_OK;
out:
    free(d);
    return rc;
}

int sf_tz_load(const char *name, struct sf_tz **out, char *err, size_t errsz)
{
    *out = NULL;
    struct sf_tz *tz = calloc(1, sizeof(*tz));
    if (!tz) {
        snprintf(err, errsz, "out of memory");
        return SF_ERR_NOMEM;
    }
    int rc = SF_OK;
    if (!name || !*name || strcmp(name, "local") == 0) {
        tz->kind = TZ_LOCAL;
    } else if (strcmp(name, "UTC") == 0 || strcmp(name, "GMT") == 0 || strcmp(name, "Z") == 0) {
        tz->kind = TZ_FIXED;
    } else if (name[0] == '+' || name[0] == '-' || strncmp(name, "GMT", 3) == 0 ||
               strncmp(name, "UTC", 3) == 0) {
        tz->kind = TZ_FIXED;
        const char *o = name[0] == '+' || name[0] == '-' ? name : name + 3;
        if (parse_offset(o, &tz->fixed) != SF_OK) {
            snprintf(err, errsz, "malformed time zone offset \"%s\" (GMT+hh:mm, UTC-hh, +hhmm)",
                     name);
            rc = SF_ERR_INVAL;
        }
    } else if (strstr(name, "..") || name[0] == '/') {
        snprintf(err, errsz, "unknown time zone \"%s\"", name);
        rc = SF_ERR_INVAL;
    } else {
        tz->kind = TZ_FILE;
        const char *dir = getenv("TZDIR");
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
        rc = tz_read_file(tz, path, err, errsz);
    }
    if (rc != SF_OK) {
        sf_tz_free(tz);
        return rc;
    }
    *out = tz;
    return SF_OK;
}

void sf_tz_free(struct sf_tz *tz)
{
    if (!tz) {
        return;
    }
    free(tz->at);
    free(tz->ty);
    free(tz->off);
    free(tz);
}

long sf_tz_offset(const struct sf_tz *tz, long long t)
{
    if (!tz) {
        return 0;
    }
    switch (tz->kind) {
    case TZ_LOCAL: {
        time_t tt = (time_t)t;
        struct tm tm;
        return localtime_r(&tt, &tm) ? tm.tm_gmtoff : 0;
    }
    case TZ_FIXED:
        return tz->fixed;
    case TZ_FILE:
        break;
    }
    /* before the first transition: type 0 (RFC 8536) */
    if (tz->nat == 0 || t < tz->at[0]) {
        return tz->off[0];
    }
    size_t lo = 0, hi = tz->nat; /* last transition <= t */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return tz->off[tz->ty[lo]];
}

/* ---------- templates ---------- */

enum bp_kind { BP_TEXT, BP_HEADER, BP_TIME, BP_HOST };

struct bp_piece {
    enum bp_kind kind;
    char *text; /* BP_TEXT: the text; BP_HEADER: the header name */
    size_t len;
    char c; /* BP_TIME: the escape letter; BP_HOST: 'l' localhost, 'i' IP, 'f' FQDN */
};

static const char TIME_ESCAPES[] = "aAbBcdeDHIjklmMnpsStyYz";

static int add_piece(struct sf_bucket_path *bp, enum bp_kind kind, const char *text, size_t len,
                     char c)
{
    struct bp_piece *np = realloc(bp->pieces, (bp->n + 1) * sizeof(*np));
    if (!np) {
        return SF_ERR_NOMEM;
    }
    bp->pieces = np;
    struct bp_piece *p = &np[bp->n];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->c = c;
    if (text) {
        p->text = strndup(text, len);
        if (!p->text) {
            return SF_ERR_NOMEM;
        }
        p->len = len;
    }
    bp->n++;
    return SF_OK;
}

int sf_bucket_path_compile(struct sf_bucket_path *bp, const char *tmpl, char *err, size_t errsz)
{
    memset(bp, 0, sizeof(*bp));
    const char *s = tmpl, *lit = tmpl;
    int rc = SF_OK;
    while (*s && rc == SF_OK) {
        if (*s != '%') {
            s++;
            continue;
        }
        if (s > lit) {
            rc = add_piece(bp, BP_TEXT, lit, (size_t)(s - lit), 0);
            if (rc != SF_OK) {
                break;
            }
        }
        size_t at = (size_t)(s - tmpl) + 1;
        char c = s[1];
        if (c == '{' || c == '[') {
            const char *end = strchr(s + 2, c == '{' ? '}' : ']');
            if (!end) {
                snprintf(err, errsz, "unterminated %%%c at character %zu", c, at);
                rc = SF_ERR_INVAL;
                break;
            }
            size_t n = (size_t)(end - (s + 2));
            if (c == '{') {
                if (n == 0) {
                    snprintf(err, errsz, "empty header name in %%{} at character %zu", at);
                    rc = SF_ERR_INVAL;
                    break;
                }
                rc = add_piece(bp, BP_HEADER, s + 2, n, 0);
            } else {
                char which = n == 9 && strncmp(s + 2, "localhost", 9) == 0 ? 'l'
                             : n == 2 && strncmp(s + 2, "IP", 2) == 0      ? 'i'
                             : n == 4 && strncmp(s + 2, "FQDN", 4) == 0    ? 'f'
                                                                           : 0;
                if (!which) {
                    snprintf(err, errsz,
                             "unknown escape %%[%.*s] at character %zu (%%[...] knows "
                             "localhost, IP and FQDN)",
                             (int)n, s + 2, at);
                    rc = SF_ERR_INVAL;
                    break;
                }
                rc = add_piece(bp, BP_HOST, NULL, 0, which);
                bp->needs_host = true;
            }
            s = end + 1;
        } else if (c && strchr(TIME_ESCAPES, c)) {
            rc = add_piece(bp, BP_TIME, NULL, 0, c);
            bp->needs_time = true;
            s += 2;
        } else {
            if (c) {
                snprintf(err, errsz,
                         "unknown escape %%%c at character %zu (known: %%{header}, %%[localhost], "
                         "%%[IP], %%[FQDN] and %%%s)",
                         c, at, "a %A %b %B %c %d %e %D %H %I %j %k %l %m %M %n %p %s %S %t %y %Y %z");
            } else {
                snprintf(err, errsz, "a lone %% at the end (character %zu)", at);
            }
            rc = SF_ERR_INVAL;
            break;
        }
        bp->has_escapes = true;
        lit = s;
    }
    if (rc == SF_OK && s > lit) {
        rc = add_piece(bp, BP_TEXT, lit, (size_t)(s - lit), 0);
    }
    if (rc == SF_ERR_NOMEM) {
        snprintf(err, errsz, "out of memory");
    }
    if (rc != SF_OK) {
        sf_bucket_path_free(bp);
    }
    return rc;
}

void sf_bucket_path_free(struct sf_bucket_path *bp)
{
    for (size_t i = 0; i < bp->n; i++) {
        free(bp->pieces[i].text);
    }
    free(bp->pieces);
    memset(bp, 0, sizeof(*bp));
}

void sf_bucket_host_init(struct sf_bucket_host *h)
{
    memset(h, 0, sizeof(*h));
    if (gethostname(h->localhost, sizeof(h->localhost) - 1) != 0 || !h->localhost[0]) {
        SF_WARN("hdfs: gethostname failed (%s); %%[localhost] is \"localhost\"", strerror(errno));
        snprintf(h->localhost, sizeof(h->localhost), "localhost");
    }
    snprintf(h->fqdn, sizeof(h->fqdn), "%s", h->localhost);
    snprintf(h->ip, sizeof(h->ip), "127.0.0.1");
    struct addrinfo hints = { .ai_flags = AI_CANONNAME, .ai_socktype = SOCK_STREAM };
    struct addrinfo *ai = NULL;
    int gai = getaddrinfo(h->localhost, NULL, &hints, &ai);
    if (gai != 0 || !ai) {
        SF_WARN("hdfs: host \"%s\" does not resolve (%s); %%[IP] is 127.0.0.1 and %%[FQDN] the "
                "host name",
                h->localhost, gai_strerror(gai));
        return;
    }
    if (ai->ai_canonname && *ai->ai_canonname) {
        snprintf(h->fqdn, sizeof(h->fqdn), "%s", ai->ai_canonname);
    }
    const void *addr = ai->ai_family == AF_INET6
                           ? (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                           : (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr;
    if (!inet_ntop(ai->ai_family, addr, h->ip, sizeof(h->ip))) {
        snprintf(h->ip, sizeof(h->ip), "127.0.0.1");
    }
    freeaddrinfo(ai);
}

static long long floor_div(long long a, long long b)
{
    long long q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

long long sf_bucket_round(long long ts_ms, const struct sf_bucket_time *bt)
{
    if (!bt->round) {
        return ts_ms;
    }
    long long v = bt->round_value > 0 ? bt->round_value : 1;
    long long t = floor_div(ts_ms, 1000);
    long off = sf_tz_offset(bt->tz, t);
    long long loc = t + off, r;
    switch (bt->unit) {
    case SF_ROUND_SECOND:
        r = loc - (loc - floor_div(loc, 60) * 60) % v;
        break;
    case SF_ROUND_MINUTE: {
        long long m = floor_div(loc, 60) - floor_div(loc, 3600) * 60;
        r = floor_div(loc, 60) * 60 - (m % v) * 60;
        break;
    }
    case SF_ROUND_HOUR:
    default: {
        long long h = floor_div(loc, 3600) - floor_div(loc, 86400) * 24;
        r = floor_div(loc, 3600) * 3600 - (h % v) * 3600;
        break;
    }
    }
    /* back to UTC with the offset in force at the rounded time (DST may differ) */
    long off2 = sf_tz_offset(bt->tz, r - off);
    return (r - off2) * 1000;
}

static const char *const WDAY[] = { "Sunday",   "Monday", "Tuesday", "Wednesday",
                                    "Thursday", "Friday", "Saturday" };
static const char *const MONTH[] = { "January", "February", "March",     "April",
                                     "May",     "June",     "July",      "August",
                                     "September", "October", "November", "December" };

/* The event time broken down once per expansion, for every time escape of the template. */
struct bp_time {
    long long ts_ms, t; /* ms and s since the epoch */
    long off;           /* the zone's offset at t, s */
    struct tm tm;       /* local time in the zone */
};

static void time_fill(struct bp_time *bt_out, long long ts_ms, const struct sf_bucket_time *bt)
{
    bt_out->ts_ms = ts_ms;
    bt_out->t = floor_div(ts_ms, 1000);
    bt_out->off = sf_tz_offset(bt->tz, bt_out->t);
    time_t loc = (time_t)(bt_out->t + bt_out->off);
    if (!gmtime_r(&loc, &bt_out->tm)) {
        memset(&bt_out->tm, 0, sizeof(bt_out->tm));
    }
}

static void put_time(struct sf_buf *out, char c, const struct bp_time *bt_in)
{
    const struct tm tm = bt_in->tm;
    long long t = bt_in->t, ts_ms = bt_in->ts_ms;
    long off = bt_in->off;
    int h12 = tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12;
    switch (c) {
    case 'a': sf_buf_printf(out, "%.3s", WDAY[tm.tm_wday]); break;
    case 'A': sf_buf_puts(out, WDAY[tm.tm_wday]); break;
    case 'b': sf_buf_printf(out, "%.3s", MONTH[tm.tm_mon]); break;
    case 'B': sf_buf_puts(out, MONTH[tm.tm_mon]); break;
    case 'c':
        sf_buf_printf(out, "%.3s %.3s %d %02d:%02d:%02d %04d", WDAY[tm.tm_wday], MONTH[tm.tm_mon],
                      tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
        break;
    case 'd': sf_buf_printf(out, "%02d", tm.tm_mday); break;
    case 'e': sf_buf_printf(out, "%d", tm.tm_mday); break;
    case 'D':
        sf_buf_printf(out, "%02d/%02d/%02d", tm.tm_mon + 1, tm.tm_mday, (tm.tm_year + 1900) % 100);
        break;
    case 'H': sf_buf_printf(out, "%02d", tm.tm_hour); break;
    case 'k': sf_buf_printf(out, "%d", tm.tm_hour); break;
    case 'I': sf_buf_printf(out, "%02d", h12); break;
    case 'l': sf_buf_printf(out, "%d", h12); break;
    case 'p': sf_buf_puts(out, tm.tm_hour < 12 ? "AM" : "PM"); break;
    case 'j': sf_buf_printf(out, "%03d", tm.tm_yday + 1); break;
    case 'm': sf_buf_printf(out, "%02d", tm.tm_mon + 1); break;
    case 'n': sf_buf_printf(out, "%d", tm.tm_mon + 1); break;
    case 'M': sf_buf_printf(out, "%02d", tm.tm_min); break;
    case 'S': sf_buf_printf(out, "%02d", tm.tm_sec); break;
    case 's': sf_buf_printf(out, "%lld", t); break;
    case 't': sf_buf_printf(out, "%lld", ts_ms); break;
    case 'y': sf_buf_printf(out, "%02d", (tm.tm_year + 1900) % 100); break;
    case 'Y': sf_buf_printf(out, "%04d", tm.tm_year + 1900); break;
    case 'z': {
        long a = off < 0 ? -off : off;
        sf_buf_printf(out, "%c%02ld%02ld", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
        break;
    }
    default: break;
    }
}

void sf_bucket_path_expand(const struct sf_bucket_path *bp,
                           const struct sf_event *ev,
                           long long ts_ms,
                           const struct sf_bucket_time *bt,
                           const struct sf_bucket_host *host,
                           struct sf_buf *out)
{
    struct bp_time tm;
    if (bp->needs_time) {
        time_fill(&tm, ts_ms, bt);
    }
    for (size_t i = 0; i < bp->n; i++) {
        const struct bp_piece *p = &bp->pieces[i];
        switch (p->kind) {
        case BP_TEXT: sf_buf_append(out, p->text, p->len); break;
        case BP_HEADER: {
            const char *v = ev ? sf_event_header(ev, p->text) : NULL;
            if (v) {
                sf_buf_puts(out, v);
            }
            break;
        }
        case BP_TIME: put_time(out, p->c, &tm); break;
        case BP_HOST:
            if (host) {
                sf_buf_puts(out, p->c == 'l' ? host->localhost : p->c == 'i' ? host->ip : host->fqdn);
            }
            break;
        }
    }
}
