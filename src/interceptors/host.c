/*
 * Flume's HostInterceptor ("host"): sets header hostHeader (default `host`) to this machine's
 * address (useIP = true, the default: the first IPv4 address the host name resolves to, else the
 * first IPv6 one, as Java's InetAddress.getLocalHost().getHostAddress()) or its canonical name
 * (useIP = false). Resolved once at start; when that fails the interceptor warns, as Flume does,
 * and leaves events unchanged. preserveExisting = true keeps an event's own header.
 */
#include "common.h"

#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct host_ctx {
    char *header;
    bool use_ip, preserve;
    char host[NI_MAXHOST]; /* "" when it could not be resolved */
};

static const struct sf_option host_options[] = {
    { "hostHeader", SF_OPT_STRING, "host", 0, 0, offsetof(struct host_ctx, header), 0, NULL, NULL,
      "header to set to the host's address or name" },
    { "useIP", SF_OPT_BOOL, "true", 0, 0, offsetof(struct host_ctx, use_ip), 0, NULL, NULL,
      "true: the host's IP address; false: its canonical host name" },
    { "preserveExisting", SF_OPT_BOOL, "false", 0, 0, offsetof(struct host_ctx, preserve), 0, NULL,
      NULL, "keep the header of an event that already has it" },
    { 0 },
};

static int host_start(struct sf_interceptor *ic, char *errstr, size_t errstr_size)
{
    (void)errstr, (void)errstr_size;
    struct host_ctx *c = ic->ctx;
    char name[256] = "";
    c->host[0] = '\0';
    if (gethostname(name, sizeof(name) - 1) != 0) {
        SF_WARN(SF_IC_FMT "could not get the host name: %s; events pass without a %s header",
                SF_IC_ARGS(ic), strerror(errno), c->header);
        return SF_OK;
    }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_flags = AI_CANONNAME };
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(name, NULL, &hints, &res);
    if (rc != 0) {
        SF_WARN(SF_IC_FMT "could not resolve the host name %s: %s; events pass without a %s "
                          "header",
                SF_IC_ARGS(ic), name, gai_strerror(rc), c->header);
        return SF_OK;
    }
    if (!c->use_ip) {
        snprintf(c->host, sizeof(c->host), "%s", res->ai_canonname ? res->ai_canonname : name);
    } else {
        const struct addrinfo *pick = res;
        for (const struct addrinfo *a = res; a; a = a->ai_next) {
            if (a->ai_family == AF_INET) {
                pick = a;
                break;
            }
        }
        rc = getnameinfo(pick->ai_addr, pick->ai_addrlen, c->host, sizeof(c->host), NULL, 0,
                         NI_NUMERICHOST);
        if (rc != 0) {
            c->host[0] = '\0';
            SF_WARN(SF_IC_FMT "could not format the address of %s: %s; events pass without a %s "
                              "header",
                    SF_IC_ARGS(ic), name, gai_strerror(rc), c->header);
        }
    }
    freeaddrinfo(res);
    return SF_OK;
}

static enum sf_intercept host_intercept(struct sf_interceptor *ic, struct sf_event **ev)
{
    struct host_ctx *c = ic->ctx;
    if (!c->host[0]) {
        return SF_IC_KEEP;
    }
    return sf_ic_set_header(ic, ev, c->header, c->host, strlen(c->host), c->preserve);
}

static const char *const host_aliases[] = { "org.apache.flume.interceptor.HostInterceptor$Builder",
                                            NULL };

const struct sf_interceptor_plugin sf_interceptor_host = {
    .name = "host",
    .aliases = host_aliases,
    .options = host_options,
    .ctx_size = sizeof(struct host_ctx),
    .start = host_start,
    .intercept = host_intercept,
};
