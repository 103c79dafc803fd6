/*
 * Flume's StaticInterceptor ("static"): sets header `key` (default "key") to `value` (default
 * "value"); with preserveExisting = true (the default) an event that has the header keeps it.
 */
#include "common.h"

#include <string.h>

struct static_ctx {
    char *key, *value;
    bool preserve;
};

static const struct sf_option static_options[] = {
    { "key", SF_OPT_STRING, "key", 0, 0, offsetof(struct static_ctx, key), 0, NULL, NULL,
      "name of the header to set" },
    { "value", SF_OPT_STRING, "value", 0, 0, offsetof(struct static_ctx, value), 0, NULL, NULL,
      "value of the header" },
    { "preserveExisting", SF_OPT_BOOL, "true", 0, 0, offsetof(struct static_ctx, preserve), 0, NULL,
      NULL, "keep the header of an event that already has it" },
    { 0 },
};

static enum sf_intercept static_intercept(struct sf_interceptor *ic, struct sf_event **ev)
{
    struct static_ctx *c = ic->ctx;
    return sf_ic_set_header(ic, ev, c->key, c->value, strlen(c->value), c->preserve);
}

static const char *const static_aliases[] = {
    "org.apache.flume.interceptor.StaticInterceptor$Builder", NULL
};

const struct sf_interceptor_plugin sf_interceptor_static = {
    .name = "static",
    .aliases = static_aliases,
    .options = static_options,
    .ctx_size = sizeof(struct static_ctx),
    .intercept = static_intercept,
};
