/*
 * Private to the agent: the HTTP server behind sf_agent_serve_metrics (libmicrohttpd), in the
 * manner of Flume's HTTPMetricsServer (-Dflume.monitoring.type=http).
 */
#ifndef SQLFLUME_MONITOR_H
#define SQLFLUME_MONITOR_H

#include "sqlflume/buf.h"

#include <stddef.h>

struct sf_monitor;

/** Renders the metrics document into out (appended; out is reset by the caller) for one request,
 *  on libmicrohttpd's thread. ctx is what was given to sf_monitor_start. */
typedef void (*sf_monitor_render_fn)(void *ctx, struct sf_buf *out);

/* A listening socket of the metrics server, bound but not served yet (sf_monitor_listen). */
struct sf_monitor_socket {
    int fd;         /* the socket, or -1 */
    int port;       /* the port it is bound to */
    char where[64]; /* its address as shown in a URL: "0.0.0.0", "[::1]" */
};

/**
 * Bind and listen on host:port (host NULL or "": every IPv4 address, as Flume; an IPv4 address;
 * an IPv6 address, bare or in brackets: "::1", "[::1]"; port 0: a free port), before anything of
 * the agent starts, so a port in use stops it before it touches a database. Connections wait in
 * the backlog until sf_monitor_start. *sock gets the socket (sock->fd is owned by the caller until
 * passed to sf_monitor_start; close it otherwise; -1 on failure), the port it is bound to and its
 * address as shown in a URL ("127.0.0.1", "[::1]").
 * @return SF_OK, or SF_ERR_INVAL (bad host or port), SF_ERR_IO (could not listen: errstr says
 * why, "could not serve metrics on HOST:PORT: Address already in use").
 */
int sf_monitor_listen(const char *host,
                      int port,
                      struct sf_monitor_socket *sock,
                      char *errstr,
                      size_t errstr_size);
/**
 * Start serving the metrics that render(ctx) produces on the listening socket sock (from
 * sf_monitor_listen; its fd is the server's from here on, closed on failure too, and sock->fd
 * becomes -1) in libmicrohttpd's own thread, and log the URL. *out gets the server (stop with
 * sf_monitor_stop). @return SF_OK, or SF_ERR_IO / SF_ERR_NOMEM with errstr filled.
 */
int sf_monitor_start(struct sf_monitor **out,
                     sf_monitor_render_fn render,
                     void *ctx,
                     struct sf_monitor_socket *sock,
                     char *errstr,
                     size_t errstr_size);
/** Stop the server (waits for requests in progress) and free it; NULL is a no-op. */
void sf_monitor_stop(struct sf_monitor *m);

#endif
