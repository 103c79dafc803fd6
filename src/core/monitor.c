/*
 * The HTTP metrics server: Flume's HTTPMetricsServer on libmicrohttpd. GET /metrics answers the
 * agent's counters as JSON (the render callback: sf_agent_metrics_json), GET / a link to them,
 * other paths 404 and methods other than GET and HEAD 405. One internal polling thread of
 * libmicrohttpd serves every connection; a request only reads atomic counters and the channels'
 * sizes.
 */
#include "monitor.h"

#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct sf_monitor {
    struct MHD_Daemon *daemon;
    sf_monitor_render_fn render; /* with ctx: borrowed, the owner stops the monitor first */
    void *ctx;
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
        m->render(m->ctx, &b);
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

int sf_monitor_listen(const char *host,
                      int port,
                      struct sf_monitor_socket *sock,
                      char *errstr,
                      size_t errstr_size)
{
    sock->fd = -1;
    char *where = sock->where;
    size_t where_size = sizeof(sock->where);
    where[0] = '\0';
    if (port < 0 || port > 65535) {
        (void)snprintf(errstr, errstr_size, "monitoring port %d is not a TCP port", port);
        return SF_ERR_INVAL;
    }
    /* "::1" or "[::1]" is IPv6, "127.0.0.1" IPv4; no host: every IPv4 address, as Flume */
    char h[INET6_ADDRSTRLEN + 2] = "0.0.0.0";
    if (host && *host) {
        size_t hl = strlen(host);
        if (host[0] == '[' && hl > 2 && host[hl - 1] == ']' && hl - 2 < sizeof(h)) {
            (void)snprintf(h, sizeof(h), "%.*s", (int)(hl - 2), host + 1);
        } else if (hl < sizeof(h)) {
            (void)snprintf(h, sizeof(h), "%s", host);
        } else {
            h[0] = '\0';
        }
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t len;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, h, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        len = sizeof(*a4);
        (void)snprintf(where, where_size, "%s", h);
    } else if (inet_pton(AF_INET6, h, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        len = sizeof(*a6);
        (void)snprintf(where, where_size, "[%s]", h);
    } else {
        (void)snprintf(errstr, errstr_size, "monitoring host \"%s\" is not an IPv4 or IPv6 address",
                       host);
        return SF_ERR_INVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        (void)snprintf(errstr, errstr_size, "could not serve metrics on %s:%d: %s", where, port,
                       strerror(errno));
        return SF_ERR_IO;
    }
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (ss.ss_family == AF_INET6) {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0 || listen(fd, 64) != 0) {
        (void)snprintf(errstr, errstr_size, "could not serve metrics on %s:%d: %s", where, port,
                       strerror(errno));
        close(fd);
        return SF_ERR_IO;
    }
    len = sizeof(ss);
    int bound = port;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
        bound = ntohs(ss.ss_family == AF_INET6 ? a6->sin6_port : a4->sin_port);
    }
    sock->port = bound;
    sock->fd = fd;
    return SF_OK;
}

int sf_monitor_start(struct sf_monitor **out,
                     sf_monitor_render_fn render,
                     void *ctx,
                     struct sf_monitor_socket *sock,
                     char *errstr,
                     size_t errstr_size)
{
    *out = NULL;
    int fd = sock->fd;
    const char *where = sock->where;
    int bound_port = sock->port;
    sock->fd = -1; /* the server's from here on */
    struct sf_monitor *m = calloc(1, sizeof(*m));
    if (!m) {
        (void)snprintf(errstr, errstr_size, "out of memory");
        close(fd);
        return SF_ERR_NOMEM;
    }
    m->render = render;
    m->ctx = ctx;
    errno = 0;
    m->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, handle, m,
                                 MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10, MHD_OPTION_END);
    if (!m->daemon) {
        (void)snprintf(errstr, errstr_size, "could not serve metrics on %s:%d: %s", where,
                       bound_port, errno ? strerror(errno) : "libmicrohttpd failed to start");
        free(m);
        close(fd);
        return SF_ERR_IO;
    }
    SF_INFO("serving metrics at http://%s:%d/metrics", where, bound_port);
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
