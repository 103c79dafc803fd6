/*
 * Flume's UUIDInterceptor (org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder, here
 * also type `uuid`): sets header headerName (default `id`) to prefix followed by a random
 * (version 4) UUID, "0f8fad5b-d9cb-469f-a165-70867728950e"; with preserveExisting = true (the
 * default) an event that has the header keeps it.
 */
#include "common.h"

#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct uuid_ctx {
    char *header, *prefix;
    bool preserve;
};

static const struct sf_option uuid_options[] = {
    { "headerName", SF_OPT_STRING, "id", 0, 0, offsetof(struct uuid_ctx, header), 0, NULL, NULL,
      "header to set to the UUID" },
    { "preserveExisting", SF_OPT_BOOL, "true", 0, 0, offsetof(struct uuid_ctx, preserve), 0, NULL,
      NULL, "keep the header of an event that already has it" },
    { "prefix", SF_OPT_STRING, "", 0, 0, offsetof(struct uuid_ctx, prefix), 0, NULL, NULL,
      "text put before the UUID" },
    { 0 },
};

static enum sf_intercept uuid_intercept(struct sf_interceptor *ic, struct sf_event **ev)
{
    struct uuid_ctx *c = ic->ctx;
    if (c->preserve && sf_ic_header_index(*ev, c->header) >= 0) {
        return SF_IC_KEEP;
    }
    /* random bytes from the kernel, fetched 4 KiB at a time per thread (a call per event costs
     * more than the rest of the event's way through the agent) */
    static _Thread_local unsigned char pool[4096];
    static _Thread_local size_t pool_used = sizeof(pool);
    if (pool_used + 16 > sizeof(pool)) {
        size_t got = 0;
        while (got < sizeof(pool)) {
            ssize_t k = getrandom(pool + got, sizeof(pool) - got, 0);
            if (k < 0 && errno != EINTR) {
                SF_ERROR(SF_IC_FMT "getrandom: %s: event passed on without its %s header",
                         SF_IC_ARGS(ic), strerror(errno), c->header);
                return SF_IC_KEEP;
            }
            got += k > 0 ? (size_t)k : 0;
        }
        pool_used = 0;
    }
    unsigned char r[16];
    memcpy(r, pool + pool_used, sizeof(r));
    memset(pool + pool_used, 0, sizeof(r)); /* a UUID's bytes are not kept for another */
    pool_used += sizeof(r);
    r[6] = (unsigned char)((r[6] & 0x0f) | 0x40); /* version 4 */
    r[8] = (unsigned char)((r[8] & 0x3f) | 0x80); /* IETF variant */
    size_t pl = strlen(c->prefix);
    char small[256];
    char *v = pl + 37 <= sizeof(small) ? small : malloc(pl + 37);
    if (!v) {
        SF_ERROR(SF_IC_FMT "out of memory: event passed on without its %s header", SF_IC_ARGS(ic),
                 c->header);
        return SF_IC_KEEP;
    }
    memcpy(v, c->prefix, pl);
    char *p = v + pl;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) {
            *p++ = '-';
        }
        *p++ = hex[r[i] >> 4];
        *p++ = hex[r[i] & 15];
    }
    enum sf_intercept res = sf_ic_set_header(ic, ev, c->header, v, (size_t)(p - v), false);
    if (v != small) {
        free(v);
    }
    return res;
}

static const char *const uuid_aliases[] = {
    "org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder", NULL
};

const struct sf_interceptor_plugin sf_interceptor_uuid = {
    .name = "uuid",
    .aliases = uuid_aliases,
    .options = uuid_options,
    .ctx_size = sizeof(struct uuid_ctx),
    .intercept = uuid_intercept,
};
