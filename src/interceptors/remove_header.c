/*
 * Flume's RemoveHeaderInterceptor ("remove_header"): removes the header withName, the headers
 * of fromList (names separated by the regular expression fromListSeparator, default `\s*,\s*`)
 * and every header whose whole name matches the regular expression `matching`. Names are
 * compared exactly (case-sensitive), as Flume's header map does.
 */
#include "common.h"

#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <stdlib.h>
#include <string.h>

struct remove_header_ctx {
    char *with_name, *from_list, *separator, *matching;
    char **names; /* fromList split, empty names dropped */
    size_t nnames;
    pcre2_code *match_re;
};

static const struct sf_option remove_header_options[] = {
    { "withName", SF_OPT_STRING, NULL, 0, 0, offsetof(struct remove_header_ctx, with_name), 0, NULL,
      NULL, "name of a header to remove" },
    { "fromList", SF_OPT_STRING, NULL, 0, 0, offsetof(struct remove_header_ctx, from_list), 0, NULL,
      NULL, "names of headers to remove, separated by fromListSeparator" },
    { "fromListSeparator", SF_OPT_STRING, "\\s*,\\s*", 0, 0,
      offsetof(struct remove_header_ctx, separator), 0, NULL, NULL,
      "regular expression separating the names of fromList" },
    { "matching", SF_OPT_STRING, NULL, 0, 0, offsetof(struct remove_header_ctx, matching), 0, NULL,
      NULL, "regular expression: headers whose whole name matches it are removed" },
    { 0 },
};

/* Append s[0..n) to c->names unless empty. @return SF_OK or SF_ERR_NOMEM. */
static int add_name(struct remove_header_ctx *c, const char *s, size_t n)
{
    if (n == 0) {
        return SF_OK;
    }
    c->names[c->nnames] = strndup(s, n);
    return c->names[c->nnames++] ? SF_OK : SF_ERR_NOMEM;
}

/* Split c->from_list at the (non-empty) matches of sep into c->names, as Java's String.split
 * without its empty names. @return SF_OK or SF_ERR_NOMEM. */
static int split_list(struct remove_header_ctx *c, const pcre2_code *sep)
{
    const char *s = c->from_list;
    size_t len = strlen(s), start = 0, pos = 0;
    c->names = calloc(len + 1, sizeof(*c->names));
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = c->names && md ? SF_OK : SF_ERR_NOMEM;
    while (rc == SF_OK && pos <= len &&
           pcre2_match(sep, (PCRE2_SPTR)s, len, pos, 0, md, NULL) >= 0) {
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        if (ov[1] == ov[0]) { /* an empty match separates nothing */
            pos = ov[1] + 1;
            continue;
        }
        rc = add_name(c, s + start, ov[0] - start);
        start = pos = ov[1];
    }
    if (rc == SF_OK) {
        rc = add_name(c, s + start, len - start);
    }
    pcre2_match_data_free(md);
    return rc;
}

static int remove_header_configure(struct sf_interceptor *ic, struct sf_diag *d)
{
    struct remove_header_ctx *c = ic->ctx;
    int rc = SF_OK;
    if (c->matching && !(c->match_re = sf_ic_regex(ic, "matching", c->matching, d))) {
        rc = SF_ERR_INVAL;
    }
    pcre2_code *sep = sf_ic_regex(ic, "fromListSeparator", c->separator, d);
    if (!sep) {
        return SF_ERR_INVAL;
    }
    if (rc == SF_OK && c->from_list && split_list(c, sep) != SF_OK) {
        struct sf_prop tmp;
        char kb[512];
        sf_diag_error(d, sf_ic_at(ic, "fromList", &tmp, kb, sizeof(kb)), "out of memory");
        rc = SF_ERR_INVAL;
    }
    pcre2_code_free(sep);
    return rc;
}

/* Predicate: header i of ev is one to remove. */
static bool removed(const struct remove_header_ctx *c, const struct sf_event *ev, size_t i)
{
    const char *k = ev->headers[i].key;
    if (c->with_name && strcmp(k, c->with_name) == 0) {
        return true;
    }
    for (size_t j = 0; j < c->nnames; j++) {
        if (strcmp(k, c->names[j]) == 0) {
            return true;
        }
    }
    return c->match_re && sf_ic_match(c->match_re, k, sf_event_key_len(ev, i), true) == 1;
}

static enum sf_intercept remove_header_intercept(struct sf_interceptor *ic, struct sf_event **ev)
{
    const struct remove_header_ctx *c = ic->ctx;
    struct sf_event *e = *ev;
    struct sf_header_lens small[16];
    struct sf_header_lens *hl = e->nheaders <= 16 ? small : malloc(e->nheaders * sizeof(*hl));
    if (!hl) {
        SF_ERROR(SF_IC_FMT "out of memory: event passed on with all its headers", SF_IC_ARGS(ic));
        return SF_IC_KEEP;
    }
    size_t n = 0;
    for (size_t i = 0; i < e->nheaders; i++) {
        if (!removed(c, e, i)) {
            hl[n++] = (struct sf_header_lens){ e->headers[i].key, sf_event_key_len(e, i),
                                               e->headers[i].val, sf_event_val_len(e, i) };
        }
    }
    if (n < e->nheaders) {
        struct sf_event *out = sf_event_rebuild(e, hl, n, e->body, e->body_len);
        if (out) {
            sf_event_destroy(e);
            *ev = out;
        } else {
            SF_ERROR(SF_IC_FMT "out of memory: event passed on with all its headers",
                     SF_IC_ARGS(ic));
        }
    }
    if (hl != small) {
        free(hl);
    }
    return SF_IC_KEEP;
}

static void remove_header_stop(struct sf_interceptor *ic)
{
    struct remove_header_ctx *c = ic->ctx;
    sf_names_free(c->names, c->nnames);
    c->names = NULL, c->nnames = 0;
    pcre2_code_free(c->match_re);
    c->match_re = NULL;
}

static const char *const remove_header_aliases[] = {
    "org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder", NULL
};

const struct sf_interceptor_plugin sf_interceptor_remove_header = {
    .name = "remove_header",
    .aliases = remove_header_aliases,
    .options = remove_header_options,
    .ctx_size = sizeof(struct remove_header_ctx),
    .configure = remove_header_configure,
    .intercept = remove_header_intercept,
    .stop = remove_header_stop,
};
