/*
 * Flume's SearchAndReplaceInterceptor ("search_replace"): every match of searchPattern in the
 * body is replaced by replaceString (default empty), as Java's Matcher.replaceAll: `$N` and
 * `${NAME}` insert a group (nothing for a group that did not take part), `\x` is x itself; after
 * an empty match the search goes on one character further. The body is read as UTF-8, the only
 * charset sqlflume takes (Flume's default).
 */
#include "common.h"

#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A piece of the parsed replacement: literal text (group < 0) or a group's text. */
struct piece {
    int group;
    size_t off, len; /* literal: lit[off..off+len) */
};

struct search_replace_ctx {
    char *search, *replace, *charset;
    pcre2_code *re;
    char *lit; /* the replacement's literal text, back to back */
    struct piece *pieces;
    size_t npieces;
};

static const struct sf_option search_replace_options[] = {
    { "searchPattern", SF_OPT_STRING, NULL, 0, 0, offsetof(struct search_replace_ctx, search),
      SF_OPT_REQUIRED, NULL, NULL, "regular expression searched for in the body (not empty)" },
    { "replaceString", SF_OPT_STRING, "", 0, 0, offsetof(struct search_replace_ctx, replace), 0,
      NULL, NULL, "replacement of each match, with $N / ${NAME} group references (Java's)" },
    { "charset", SF_OPT_STRING, "UTF-8", 0, 0, offsetof(struct search_replace_ctx, charset), 0,
      NULL, NULL, "charset of the body: only UTF-8" },
    { 0 },
};

/*
 * Parse Java's replacement syntax against the compiled pattern into c->pieces.
 * @return NULL, or a static-or-err message about the first problem.
 */
static const char *parse_replacement(struct search_replace_ctx *c, char *err, size_t err_size)
{
    const char *r = c->replace;
    size_t n = strlen(r);
    uint32_t ngroups = 0;
    pcre2_pattern_info(c->re, PCRE2_INFO_CAPTURECOUNT, &ngroups);
    c->lit = malloc(n + 1);
    c->pieces = calloc(n + 1, sizeof(*c->pieces));
    if (!c->lit || !c->pieces) {
        return "out of memory";
    }
    size_t litlen = 0;
    for (size_t i = 0; i < n;) {
        struct piece *last = c->npieces ? &c->pieces[c->npieces - 1] : NULL;
        if (r[i] == '\\' || r[i] != '$') {
            if (r[i] == '\\' && ++i == n) {
                return "character to be escaped is missing";
            }
            if (!last || last->group >= 0) {
                c->pieces[c->npieces++] = (struct piece){ -1, litlen, 0 };
                last = &c->pieces[c->npieces - 1];
            }
            c->lit[litlen++] = r[i++];
            last->len++;
            continue;
        }
        if (++i == n) {
            return "illegal group reference: group index is missing";
        }
        int g;
        if (r[i] == '{') {
            const char *close = strchr(r + i, '}');
            size_t nl = close ? (size_t)(close - r - i - 1) : 0;
            if (!close || nl == 0) {
                return close ? "named capturing group has 0 length name"
                             : "named capturing group is missing trailing '}'";
            }
            char name[128];
            snprintf(name, sizeof(name), "%.*s", (int)nl, r + i + 1);
            g = pcre2_substring_number_from_name(c->re, (PCRE2_SPTR)name);
            if (g < 0) {
                snprintf(err, err_size, "no group with name {%s}", name);
                return err;
            }
            i += nl + 2;
        } else if (r[i] >= '0' && r[i] <= '9') {
            g = r[i++] - '0';
            if ((uint32_t)g > ngroups) {
                snprintf(err, err_size, "no group %d (the pattern has %u)", g, ngroups);
                return err;
            }
            while (i < n && r[i] >= '0' && r[i] <= '9' &&
                   (uint32_t)(g * 10 + (r[i] - '0')) <= ngroups) {
                g = g * 10 + (r[i++] - '0');
            }
        } else {
            return "illegal group reference";
        }
        c->pieces[c->npieces++] = (struct piece){ g, 0, 0 };
    }
    return NULL;
}

static int search_replace_configure(struct sf_interceptor *ic, struct sf_diag *d)
{
    struct search_replace_ctx *c = ic->ctx;
    struct sf_prop tmp;
    char kb[512];
    int rc = SF_OK;
    if (strcasecmp(c->charset, "UTF-8") != 0 && strcasecmp(c->charset, "UTF8") != 0) {
        sf_diag_unsupported(d, sf_ic_at(ic, "charset", &tmp, kb, sizeof(kb)),
                            "sqlflume reads bodies as UTF-8 only");
        rc = SF_ERR_INVAL;
    }
    if (!c->search[0]) {
        sf_diag_error(d, sf_ic_at(ic, "searchPattern", &tmp, kb, sizeof(kb)), "must not be empty");
        return SF_ERR_INVAL;
    }
    if (!(c->re = sf_ic_regex(ic, "searchPattern", c->search, d))) {
        return SF_ERR_INVAL;
    }
    char err[256];
    const char *why = parse_replacement(c, err, sizeof(err));
    if (why) {
        sf_diag_error(d, sf_ic_at(ic, "replaceString", &tmp, kb, sizeof(kb)),
                      "bad replacement \"%s\": %s", c->replace, why);
        rc = SF_ERR_INVAL;
    }
    return rc;
}

/* Bytes of the UTF-8 character at s[0]: 1 for a byte that does not start a complete sequence
 * (len > 0). */
static size_t char_len(const unsigned char *s, size_t len)
{
    size_t k = *s >= 0xc2 && *s <= 0xdf   ? 2
               : *s >= 0xe0 && *s <= 0xef ? 3
               : *s >= 0xf0 && *s <= 0xf4 ? 4
                                          : 1;
    if (k > len) {
        return 1;
    }
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 1;
        }
    }
    return k;
}

static enum sf_intercept search_replace_intercept(struct sf_interceptor *ic, struct sf_event **ev)
{
    const struct search_replace_ctx *c = ic->ctx;
    struct sf_event *e = *ev;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c->re, NULL);
    if (!md) {
        SF_ERROR(SF_IC_FMT "out of memory: body passed on unchanged", SF_IC_ARGS(ic));
        return SF_IC_KEEP;
    }
    const char *s = e->body;
    size_t len = e->body_len, pos = 0, copied = 0;
    bool any = false;
    struct sf_buf out = SF_BUF_INIT;
    int rc = 0;
    while (pos <= len && (rc = pcre2_match(c->re, (PCRE2_SPTR)s, len, pos, 0, md, NULL)) >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        any = true;
        sf_buf_append(&out, s + copied, ov[0] - copied);
        for (size_t k = 0; k < c->npieces; k++) {
            const struct piece *p = &c->pieces[k];
            if (p->group < 0) {
                sf_buf_append(&out, c->lit + p->off, p->len);
            } else if ((uint32_t)p->group < (uint32_t)rc && ov[2 * p->group] != PCRE2_UNSET) {
                sf_buf_append(&out, s + ov[2 * p->group], ov[2 * p->group + 1] - ov[2 * p->group]);
            }
        }
        copied = ov[1];
        pos = ov[1] > ov[0]
                  ? ov[1]
                  : ov[1] +
                        (ov[1] < len ? char_len((const unsigned char *)s + ov[1], len - ov[1]) : 1);
    }
    pcre2_match_data_free(md);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH && pos <= len) {
        SF_ERROR(SF_IC_FMT "matching the body failed (PCRE2 error %d): body passed on unchanged",
                 SF_IC_ARGS(ic), rc);
        sf_buf_free(&out);
        return SF_IC_KEEP;
    }
    if (any) {
        sf_buf_append(&out, s + copied, len - copied);
        struct sf_header_lens small[16];
        struct sf_header_lens *hl = sf_ic_lens(e, small, 16, 0);
        struct sf_event *ne =
            hl ? sf_event_rebuild(e, hl, e->nheaders, out.data ? out.data : "", out.len) : NULL;
        if (hl != small) {
            free(hl);
        }
        if (ne) {
            sf_event_destroy(e);
            *ev = ne;
        } else {
            SF_ERROR(SF_IC_FMT "out of memory: body passed on unchanged", SF_IC_ARGS(ic));
        }
    }
    sf_buf_free(&out);
    return SF_IC_KEEP;
}

static void search_replace_stop(struct sf_interceptor *ic)
{
    struct search_replace_ctx *c = ic->ctx;
    pcre2_code_free(c->re);
    free(c->lit);
    free(c->pieces);
    c->re = NULL, c->lit = NULL, c->pieces = NULL, c->npieces = 0;
}

static const char *const search_replace_aliases[] = {
    "org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder", NULL
};

const struct sf_interceptor_plugin sf_interceptor_search_replace = {
    .name = "search_replace",
    .aliases = search_replace_aliases,
    .options = search_replace_options,
    .ctx_size = sizeof(struct search_replace_ctx),
    .configure = search_replace_configure,
    .intercept = search_replace_intercept,
    .stop = search_replace_stop,
};
