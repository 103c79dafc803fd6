/*
 * The HTTP metrics server: Flume's HTTPMetricsServer on libmicrohttpd. GET /metrics answers the
 * agent's counters as JSON (sf_agent_metrics_json), GET / a link to them, other paths 404 and
 * methods other than GET and HEAD 405. One internal polling thread of libmicrohttpd serves every
 * connection; a request only reads atomic counters and the channels' sizes.
 */
#include "monitor.h"

#include "sqlflume/agent.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct sf_monitor {
    struct MHD_Daemon *daemon;
    struct sf_agent *agent; /* borrowed: the agent stops the monitor before it stops anything */
};

static const char ROOT_PAGE[] =
    "<html><body>For Flume metrics please click <a href=\"./metrics\">here</a>.</body></html>\n";

static enum MHD_Result reply(struct MHD_Connection *conn,
                             unsigned int status,
                             const char *type,
                             char *body,
                             size_t len,
                             enum MHD_ResponseMemoryMode mode)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE) {
            free(body);
        }
        return MHD_NO;
    }
    (void)MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    enum MHD_Result r = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return r;
}

static enum MHD_Result handle(void *cls,
                              struct MHD_Connection *conn,
                              const char *url,
                              const char *method,
                              const char *version,
                              const char *upload_data,
                              size_t *upload_data_size,
                              void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    struct sf_monitor *m = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        static char msg[] = "method not allowed\n";
        return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", msg, sizeof(msg) - 1,
                     MHD_RESPMEM_PERSISTENT);
    }
    if (strcmp(url, "/metrics") == 0) {
        struct sf_buf b = SF_BUF_INIT;
        sf_agent_metrics_json(m->agent, &b);
        size_t len = b.len;
        return reply(conn, MHD_HTTP_OK, "application/json;charset=utf-8", sf_buf_steal(&b), len,
                     MHD_RESPMEM_MUST_FREE);
    }
    if (strcmp(url, "/") == 0) {
        return reply(conn, MHD_HTTP_OK, "text/html;charset=utf-8", (char *)ROOT_PAGE,
                     sizeof(ROOT_PAGE) - 1, MHD_RESPMEM_PERSISTENT);
    }
    static char nf[] = "not found: the metrics are at /metrics\n";
    return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", nf, sizeof(nf) - 1,
                 MHD_RESPMEM_PERSISTENT);
}

int sf_monitor_start(struct sf_monitor **out,
                     struct sf_agent *a,
                     const char *host,
                     int port,
                     int *bound_port,
                     char *errstr,
                     size_t errstr_size)
{
    *out = NULL;
    if (port < 0 || port > 65535) {
        (void)snprintf(errstr, errstr_size, "monitoring port %d is not a TCP port", port);
        return SF_ERR_INVAL;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (host && *host && inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        (void)snprintf(errstr, errstr_size, "monitoring host \"%s\" is not an IPv4 address", host);
        return SF_ERR_INVAL;
    }
    struct sf_monitor *m = calloc(1, sizeof(*m));
    if (!m) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        return SF_ERR_NOMEM;
    }
    m->agent = a;
    errno = 0;
    m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, (uint16_t)port, NULL, NULL,
                                 handle, m, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
    if (!m->daemon) {
        (void)snprintf(errstr, errstr_size, "could not serve metrics on %s:%d: %s",
                       host && *host ? host : "0.0.0.0", port,
                       errno ? strerror(errno) : "libmicrohttpd failed to start");
        free(m);
        return SF_ERR_IO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? (int)info->port : port;
    if (bound_port) {
        *bound_port = bound;
    }
    SF_INFO("serving metrics at http://%s:%d/metrics", host && *host ? host : "0.0.0.0", bound);
    *out = m;
    return SF_OK;
}

void sf_monitor_stop(struct sf_monitor *m)
{
    if (!m) {
        return;
    }
    MHD_stop_daemon(m->daemon);
    free(m);
}
