/*
 * Flume's TimestampInterceptor ("timestamp"): sets header headerName (default `timestamp`) to
 * the time of interception in milliseconds since the epoch; with preserveExisting = true an
 * event that has the header keeps it. The SQL source's events carry a `timestamp` header (their
 * read time), which the default preserveExisting = false overwrites, as Flume would.
 */
#include "common.h"

#include <stdio.h>
#include <time.h>

struct timestamp_ctx {
    char *header;
    bool preserve;
};

static const struct sf_option timestamp_options[] = {
    { "headerName", SF_OPT_STRING, "timestamp", 0, 0, offsetof(struct timestamp_ctx, header), 0,
      NULL, NULL, "header to set to the time in milliseconds since the epoch" },
    { "preserveExisting", SF_OPT_BOOL, "false", 0, 0, offsetof(struct timestamp_ctx, preserve), 0,
      NULL, NULL, "keep the header of an event that already has it" },
    { 0 },
};

static enum sf_intercept timestamp_intercept(struct sf_interceptor *ic, struct sf_event **ev)
{
    struct timestamp_ctx *c = ic->ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    char v[32];
    int len = snprintf(v, sizeof(v), "%lld", (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    return sf_ic_set_header(ic, ev, c->header, v, (size_t)len, c->preserve);
}

static const char *const timestamp_aliases[] = {
    "org.apache.flume.interceptor.TimestampInterceptor$Builder", NULL
};

const struct sf_interceptor_plugin sf_interceptor_timestamp = {
    .name = "timestamp",
    .aliases = timestamp_aliases,
    .options = timestamp_options,
    .ctx_size = sizeof(struct timestamp_ctx),
    .intercept = timestamp_intercept,
};
