/*
 * Private to the agent: the HTTP server behind sf_agent_serve_metrics (libmicrohttpd), in the
 * manner of Flume's HTTPMetricsServer (-Dflume.monitoring.type=http).
 */
#ifndef SQLFLUME_MONITOR_H
#define SQLFLUME_MONITOR_H

#include <stddef.h>

struct sf_agent;
struct sf_monitor;

/**
 * Start serving a's metrics on host:port (host NULL: INADDR_ANY; port 0: a free port) in
 * libmicrohttpd's own thread. *out gets the server (stop with sf_monitor_stop), *bound_port (if
 * not NULL) the port. @return SF_OK, or SF_ERR_INVAL (bad host), SF_ERR_IO (could not listen:
 * errstr says why), SF_ERR_NOMEM.
 */
int sf_monitor_start(struct sf_monitor **out,
                     struct sf_agent *a,
                     const char *host,
                     int port,
                     int *bound_port,
                     char *errstr,
                     size_t errstr_size);
/** Stop the server (waits for requests in progress) and free it; NULL is a no-op. */
void sf_monitor_stop(struct sf_monitor *m);

#endif
