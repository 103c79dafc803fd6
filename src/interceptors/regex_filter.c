/*
 * Flume's RegexFilteringInterceptor ("regex_filter"): events whose body (as UTF-8 text) contains
 * a match of regex (default `.*`, Java's find()) are kept, the others dropped; with
 * excludeEvents = true the matching ones are dropped instead. The chain acknowledges a dropped
 * event, so the source's offset moves past it (interceptor.h).
 */
#include "common.h"

#include "sqlflume/error.h"
#include "sqlflume/log.h"

struct regex_filter_ctx {
    char *regex;
    bool exclude;
    pcre2_code *re;
};

static const struct sf_option regex_filter_options[] = {
    { "regex", SF_OPT_STRING, ".*", 0, 0, offsetof(struct regex_filter_ctx, regex), 0, NULL, NULL,
      "regular expression searched for in the body (a match anywhere counts)" },
    { "excludeEvents", SF_OPT_BOOL, "false", 0, 0, offsetof(struct regex_filter_ctx, exclude), 0,
      NULL, NULL,
      "false: keep the events that match, drop the others; true: drop the ones that "
      "match" },
    { 0 },
};

static int regex_filter_configure(struct sf_interceptor *ic, struct sf_diag *d)
{
    struct regex_filter_ctx *c = ic->ctx;
    c->re = sf_ic_regex(ic, "regex", c->regex, d);
    return c->re ? SF_OK : SF_ERR_INVAL;
}

static enum sf_intercept regex_filter_intercept(struct sf_interceptor *ic, struct sf_event **ev)
{
    const struct regex_filter_ctx *c = ic->ctx;
    int m = sf_ic_match(c->re, (*ev)->body, (*ev)->body_len, false);
    if (m < 0) {
        SF_ERROR(SF_IC_FMT "matching the body failed (PCRE2 error %d): event kept", SF_IC_ARGS(ic),
                 m);
        return SF_IC_KEEP;
    }
    return (m == 1) != c->exclude ? SF_IC_KEEP : SF_IC_DROP;
}

static void regex_filter_stop(struct sf_interceptor *ic)
{
    struct regex_filter_ctx *c = ic->ctx;
    pcre2_code_free(c->re);
    c->re = NULL;
}

static const char *const regex_filter_aliases[] = {
    "org.apache.flume.interceptor.RegexFilteringInterceptor$Builder", NULL
};

const struct sf_interceptor_plugin sf_interceptor_regex_filter = {
    .name = "regex_filter",
    .aliases = regex_filter_aliases,
    .options = regex_filter_options,
    .ctx_size = sizeof(struct regex_filter_ctx),
    .configure = regex_filter_configure,
    .intercept = regex_filter_intercept,
    .stop = regex_filter_stop,
};
