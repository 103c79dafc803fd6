/*
 * Flume's RegexExtractorInterceptor ("regex_extractor"): on the first match of regex in the body
 * (as UTF-8 text), group i (1-based) becomes header serializers.sI.name, where sI is the i-th
 * name of `serializers` (groups past the list are ignored, as in Flume; a group that did not take
 * part sets nothing). Each serializer's type is DEFAULT (the group's text; Flume's
 * RegexExtractorInterceptorPassThroughSerializer) or
 * org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer, which parses the text
 * with the Joda-Time pattern serializers.sI.pattern (letters y M d H m s S, quoted text and other
 * literal characters) in the local time zone into milliseconds since the epoch; text it cannot
 * parse sets nothing, with a warning.
 */
#include "common.h"

#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PASS_THROUGH "org.apache.flume.interceptor.RegexExtractorInterceptorPassThroughSerializer"
#define MILLIS       "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer"

/* One element of a Joda pattern: a field letter repeated count times, or literal text. */
struct jtok {
    char letter; /* 0 for literal */
    int count;
    char lit[64];
};

struct serializer {
    const char *header; /* borrowed from the config */
    struct jtok *toks;  /* millis: the parsed pattern; NULL for DEFAULT */
    size_t ntoks;
};

struct regex_extractor_ctx {
    char *regex, *names;
    pcre2_code *re;
    struct serializer *ser;
    size_t nser;
};

static const struct sf_option regex_extractor_options[] = {
    { "regex", SF_OPT_STRING, NULL, 0, 0, offsetof(struct regex_extractor_ctx, regex),
      SF_OPT_REQUIRED, NULL, NULL, "regular expression whose groups become headers" },
    { "serializers", SF_OPT_STRING, NULL, 0, 0, offsetof(struct regex_extractor_ctx, names),
      SF_OPT_REQUIRED, NULL, NULL, "serializer names, one per group, separated by spaces" },
    { "serializers.", SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "serializers.NAME.name (the header), .type (DEFAULT or the millis serializer's class), "
      ".pattern (its Joda-Time pattern)" },
    { 0 },
};

/* Parse a Joda-Time pattern into toks. @return NULL, or what is wrong (in err). */
static const char *
parse_pattern(const char *p, struct jtok *toks, size_t *ntoks, char *err, size_t err_size)
{
    size_t n = 0;
    while (*p) {
        struct jtok *t = &toks[n];
        memset(t, 0, sizeof(*t));
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) {
            if (!strchr("yMdHmsS", *p)) {
                snprintf(err, err_size,
                         "pattern letter '%c' is not supported (supported: y M d H "
                         "m s S, quoted text)",
                         *p);
                return err;
            }
            t->letter = *p;
            while (p[t->count] == *p) {
                t->count++;
            }
            if (t->letter == 'M' && t->count > 2) {
                return "month names (MMM) are not supported: use MM";
            }
            p += t->count;
        } else {
            size_t l = 0;
            while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')) &&
                   l < sizeof(t->lit) - 1) {
                if (*p == '\'') {
                    if (p[1] == '\'') {
                        t->lit[l++] = '\'';
                        p += 2;
                        continue;
                    }
                    const char *q = strchr(p + 1, '\'');
                    if (!q) {
                        return "unterminated quote";
                    }
                    for (p++; p < q && l < sizeof(t->lit) - 1; p++) {
                        t->lit[l++] = *p;
                    }
                    p = q + 1;
                    continue;
                }
                t->lit[l++] = *p++;
            }
        }
        n++;
    }
    *ntoks = n;
    return NULL;
}

static bool leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Joda's parseMillis for the supported letters, in the local zone. @return SF_OK or
 * SF_ERR_DATA when s does not fit the pattern. */
static int parse_millis(const struct serializer *sz, const char *s, long long *out)
{
    long long year = 1970, mon = 1, day = 1, hour = 0, min = 0, sec = 0, ms = 0;
    for (size_t i = 0; i < sz->ntoks; i++) {
        const struct jtok *t = &sz->toks[i];
        if (!t->letter) {
            size_t l = strlen(t->lit);
            if (strncmp(s, t->lit, l) != 0) {
                return SF_ERR_DATA;
            }
            s += l;
            continue;
        }
        bool next_numeric = i + 1 < sz->ntoks && sz->toks[i + 1].letter;
        int max = next_numeric                           ? t->count
                  : t->letter == 'y' || t->letter == 'S' ? 9
                  : t->count > 2                         ? t->count
                                                         : 2;
        int digits = 0;
        long long x = 0;
        while (digits < max && s[digits] >= '0' && s[digits] <= '9') {
            x = x * 10 + (s[digits++] - '0');
        }
        if (digits == 0) {
            return SF_ERR_DATA;
        }
        s += digits;
        switch (t->letter) {
        case 'y':
            year = x;
            if (t->count == 2 && digits == 2) { /* Joda's two-digit year: within 50 of now */
                time_t now = time(NULL);
                struct tm tm;
                localtime_r(&now, &tm);
                long long pivot = tm.tm_year + 1900, base = pivot - 50;
                year = base - base % 100 + x;
                if (year < base) {
                    year += 100;
                }
            }
            break;
        case 'M':
            mon = x;
            break;
        case 'd':
            day = x;
            break;
        case 'H':
            hour = x;
            break;
        case 'm':
            min = x;
            break;
        case 's':
            sec = x;
            break;
        case 'S': /* a fraction of the second */
            for (ms = x; digits < 3; digits++) {
                ms *= 10;
            }
            for (; digits > 3; digits--) {
                ms /= 10;
            }
            break;
        }
    }
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (*s || mon < 1 || mon > 12 || day < 1 ||
        day > mdays[mon - 1] + (mon == 2 && leap((int)year)) || hour > 23 || min > 59 || sec > 59 ||
        year > 292278993) {
        return SF_ERR_DATA;
    }
    struct tm tm = { .tm_year = (int)(year - 1900),
                     .tm_mon = (int)mon - 1,
                     .tm_mday = (int)day,
                     .tm_hour = (int)hour,
                     .tm_min = (int)min,
                     .tm_sec = (int)sec,
                     .tm_isdst = -1 };
    time_t t = mktime(&tm);
    *out = (long long)t * 1000 + ms;
    return SF_OK;
}

/* Configure serializer name into sz. @return SF_OK or SF_ERR_INVAL (errors added). */
static int configure_serializer(struct sf_interceptor *ic,
                                const char *name,
                                struct serializer *sz,
                                struct sf_diag *d)
{
    char key[300], kb[512];
    struct sf_prop tmp;
    snprintf(key, sizeof(key), "serializers.%s.name", name);
    struct sf_prop *hp = sf_section_get(&ic->conf, key);
    if (!hp || !hp->val[0]) {
        sf_diag_error(d, sf_ic_at(ic, key, &tmp, kb, sizeof(kb)),
                      "missing required key for interceptor \"%s\": the header of serializer "
                      "\"%s\"",
                      ic->name, name);
        return SF_ERR_INVAL;
    }
    sz->header = hp->val;
    snprintf(key, sizeof(key), "serializers.%s.type", name);
    struct sf_prop *tp = sf_section_get(&ic->conf, key);
    snprintf(key, sizeof(key), "serializers.%s.pattern", name);
    struct sf_prop *pp = sf_section_get(&ic->conf, key);
    if (!tp || strcasecmp(tp->val, "DEFAULT") == 0 || strcmp(tp->val, PASS_THROUGH) == 0) {
        if (pp) {
            sf_diag_warn(d, pp,
                         "unknown key for interceptor \"%s\" (only the millis serializer "
                         "has a pattern)",
                         ic->name);
        }
        return SF_OK;
    }
    if (strcmp(tp->val, MILLIS) != 0) {
        sf_diag_error(
            d, tp, "unknown serializer type \"%s\" (known: DEFAULT, " PASS_THROUGH ", " MILLIS ")",
            tp->val);
        return SF_ERR_INVAL;
    }
    if (!pp || !pp->val[0]) {
        sf_diag_error(d, sf_ic_at(ic, key, &tmp, kb, sizeof(kb)),
                      "missing required key for interceptor \"%s\": the millis serializer needs "
                      "a Joda-Time pattern",
                      ic->name);
        return SF_ERR_INVAL;
    }
    sz->toks = calloc(strlen(pp->val) + 1, sizeof(*sz->toks));
    if (!sz->toks) {
        sf_diag_error(d, pp, "out of memory");
        return SF_ERR_INVAL;
    }
    char err[160];
    const char *why = parse_pattern(pp->val, sz->toks, &sz->ntoks, err, sizeof(err));
    if (why) {
        sf_diag_error(d, pp, "bad pattern \"%s\": %s", pp->val, why);
        return SF_ERR_INVAL;
    }
    return SF_OK;
}

/* Predicate: sub ("serializers.s1.name") is a key of one of the names. */
static bool serializer_key(const char *sub, char *const *names, size_t n)
{
    static const char *const fields[] = { "name", "type", "pattern" };
    const char *rest = sub + strlen("serializers.");
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(names[i]);
        for (size_t f = 0; f < 3 && strncmp(rest, names[i], l) == 0 && rest[l] == '.'; f++) {
            if (strcmp(rest + l + 1, fields[f]) == 0) {
                return true;
            }
        }
    }
    return false;
}

static int regex_extractor_configure(struct sf_interceptor *ic, struct sf_diag *d)
{
    struct regex_extractor_ctx *c = ic->ctx;
    int rc = SF_OK;
    struct sf_prop tmp;
    char kb[512];
    if (!c->regex[0]) {
        sf_diag_error(d, sf_ic_at(ic, "regex", &tmp, kb, sizeof(kb)), "must not be empty");
        rc = SF_ERR_INVAL;
    } else if (!(c->re = sf_ic_regex(ic, "regex", c->regex, d))) {
        rc = SF_ERR_INVAL;
    }
    size_t n = 0;
    char **names = sf_split_names(c->names, &n, true);
    if (n == 0) {
        sf_diag_error(d, sf_ic_at(ic, "serializers", &tmp, kb, sizeof(kb)),
                      "must name at least one serializer");
        sf_names_free(names, n);
        return SF_ERR_INVAL;
    }
    c->ser = calloc(n, sizeof(*c->ser));
    if (!c->ser) {
        sf_names_free(names, n);
        return SF_ERR_NOMEM;
    }
    c->nser = n;
    for (size_t i = 0; i < n; i++) {
        if (!names[i] || configure_serializer(ic, names[i], &c->ser[i], d) != SF_OK) {
            rc = SF_ERR_INVAL;
        }
    }
    for (size_t i = 0; i < ic->conf.n; i++) {
        const char *sub = sf_section_subkey(&ic->conf, ic->conf.v[i]);
        if (strncmp(sub, "serializers.", 12) == 0 && !serializer_key(sub, names, n)) {
            sf_diag_warn(d, ic->conf.v[i],
                         "unknown key for interceptor \"%s\" (not a name, type "
                         "or pattern of a listed serializer)",
                         ic->name);
        }
    }
    sf_names_free(names, n);
    return rc;
}

static enum sf_intercept regex_extractor_intercept(struct sf_interceptor *ic, struct sf_event **ev)
{
    const struct regex_extractor_ctx *c = ic->ctx;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c->re, NULL);
    if (!md) {
        SF_ERROR(SF_IC_FMT "out of memory: event passed on unchanged", SF_IC_ARGS(ic));
        return SF_IC_KEEP;
    }
    int rc = pcre2_match(c->re, (PCRE2_SPTR)(*ev)->body, (*ev)->body_len, 0, 0, md, NULL);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
        SF_ERROR(SF_IC_FMT "matching the body failed (PCRE2 error %d): event passed on unchanged",
                 SF_IC_ARGS(ic), rc);
    }
    uint32_t groups = 0;
    pcre2_pattern_info(c->re, PCRE2_INFO_CAPTURECOUNT, &groups);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
    for (uint32_t g = 1; rc > 0 && g <= groups && g <= c->nser; g++) {
        if ((int)g >= rc || ov[2 * g] == PCRE2_UNSET) {
            continue; /* the group did not take part */
        }
        const struct serializer *sz = &c->ser[g - 1];
        const char *val = (*ev)->body + ov[2 * g];
        size_t vlen = ov[2 * g + 1] - ov[2 * g];
        char num[32];
        if (sz->toks) {
            char text[128];
            long long ms;
            snprintf(text, sizeof(text), "%.*s", (int)vlen, val);
            if (vlen >= sizeof(text) || parse_millis(sz, text, &ms) != SF_OK) {
                SF_WARN(SF_IC_FMT "\"%s\" does not fit the pattern of header %s: not set",
                        SF_IC_ARGS(ic), text, sz->header);
                continue;
            }
            vlen = (size_t)snprintf(num, sizeof(num), "%lld", ms);
            val = num;
        }
        struct sf_event *before = *ev;
        sf_ic_set_header(ic, ev, sz->header, val, vlen, false);
        if (*ev == before) {
            break; /* out of memory, logged; the ovector points into *ev, which is unchanged */
        }
        /* the ovector's offsets stay valid: the body is copied as it was */
    }
    pcre2_match_data_free(md);
    return SF_IC_KEEP;
}

static void regex_extractor_stop(struct sf_interceptor *ic)
{
    struct regex_extractor_ctx *c = ic->ctx;
    for (size_t i = 0; i < c->nser; i++) {
        free(c->ser[i].toks);
    }
    free(c->ser);
    pcre2_code_free(c->re);
    c->ser = NULL, c->nser = 0, c->re = NULL;
}

static const char *const regex_extractor_aliases[] = {
    "org.apache.flume.interceptor.RegexExtractorInterceptor$Builder", NULL
};

const struct sf_interceptor_plugin sf_interceptor_regex_extractor = {
    .name = "regex_extractor",
    .aliases = regex_extractor_aliases,
    .options = regex_extractor_options,
    .ctx_size = sizeof(struct regex_extractor_ctx),
    .configure = regex_extractor_configure,
    .intercept = regex_extractor_intercept,
    .stop = regex_extractor_stop,
};
