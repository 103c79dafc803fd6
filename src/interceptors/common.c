/*
 * Shared by the interceptors: header edits into a replacement event, and PCRE2 compilation and
 * matching with Java's regex defaults where PCRE2 has them.
 */
#include "common.h"

#include "sqlflume/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

long sf_ic_header_index(const struct sf_event *ev, const char *key)
{
    for (size_t i = 0; i < ev->nheaders; i++) {
        if (strcmp(ev->headers[i].key, key) == 0) {
            return (long)i;
        }
    }
    return -1;
}

struct sf_header_lens *
sf_ic_lens(const struct sf_event *ev, struct sf_header_lens *small, size_t nsmall, size_t extra)
{
    size_t n = ev->nheaders;
    struct sf_header_lens *hl = n + extra <= nsmall ? small : malloc((n + extra) * sizeof(*hl));
    for (size_t i = 0; hl && i < n; i++) {
        hl[i] = (struct sf_header_lens){ ev->headers[i].key, sf_event_key_len(ev, i),
                                         ev->headers[i].val, sf_event_val_len(ev, i) };
    }
    return hl;
}

struct sf_event *
sf_ic_put_header(struct sf_event *ev, const char *key, const char *val, size_t vlen)
{
    size_t n = ev->nheaders;
    struct sf_header_lens small[16];
    struct sf_header_lens *hl = sf_ic_lens(ev, small, 16, 1);
    if (!hl) {
        return NULL;
    }
    long at = sf_ic_header_index(ev, key);
    struct sf_header_lens kv = { key, strlen(key), val, vlen };
    if (at >= 0) {
        hl[at] = kv;
    } else {
        hl[n++] = kv;
    }
    struct sf_event *out = sf_event_rebuild(ev, hl, n, ev->body, ev->body_len);
    if (hl != small) {
        free(hl);
    }
    if (out) {
        sf_event_destroy(ev);
    }
    return out;
}

enum sf_intercept sf_ic_set_header(struct sf_interceptor *ic,
                                   struct sf_event **ev,
                                   const char *key,
                                   const char *val,
                                   size_t vlen,
                                   bool preserve)
{
    if (preserve && sf_ic_header_index(*ev, key) >= 0) {
        return SF_IC_KEEP;
    }
    struct sf_event *out = sf_ic_put_header(*ev, key, val, vlen);
    if (!out) {
        SF_ERROR(SF_IC_FMT "out of memory: event passed on without its %s header", SF_IC_ARGS(ic),
                 key);
        return SF_IC_KEEP;
    }
    *ev = out;
    return SF_IC_KEEP;
}

const struct sf_prop *sf_ic_at(struct sf_interceptor *ic,
                               const char *key,
                               struct sf_prop *tmp,
                               char *keybuf,
                               size_t keybuf_size)
{
    struct sf_prop *p = sf_section_get(&ic->conf, key);
    if (p) {
        return p;
    }
    snprintf(keybuf, keybuf_size, "%s%s", ic->conf.prefix, key);
    *tmp = (struct sf_prop){ .key = keybuf, .file = ic->conf.n ? ic->conf.v[0]->file : NULL };
    return tmp;
}

pcre2_code *
sf_ic_regex(struct sf_interceptor *ic, const char *key, const char *pattern, struct sf_diag *d)
{
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (cc) {
        pcre2_set_newline(cc, PCRE2_NEWLINE_ANY);
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED,
                                   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, cc);
    pcre2_compile_context_free(cc);
    if (re) {
        (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* when it fails, the interpreter runs */
        return re;
    }
    PCRE2_UCHAR msg[256];
    if (pcre2_get_error_message(err, msg, sizeof(msg)) < 0) {
        snprintf((char *)msg, sizeof(msg), "error %d", err);
    }
    struct sf_prop tmp;
    char kb[512];
    sf_diag_error(d, sf_ic_at(ic, key, &tmp, kb, sizeof(kb)),
                  "invalid regular expression \"%s\": %s at offset %zu", pattern, (const char *)msg,
                  (size_t)off);
    return NULL;
}

int sf_ic_match(const pcre2_code *re, const char *subject, size_t len, bool whole)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    if (!md) {
        return PCRE2_ERROR_NOMEMORY;
    }
    int rc = pcre2_match(re, (PCRE2_SPTR)subject, len, 0,
                         whole ? PCRE2_ANCHORED | PCRE2_ENDANCHORED : 0, md, NULL);
    pcre2_match_data_free(md);
    if (rc == PCRE2_ERROR_NOMATCH) {
        return 0;
    }
    return rc < 0 ? rc : 1;
}
