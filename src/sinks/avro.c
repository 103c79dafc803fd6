/*
 * Flume's AvroSink ("avro", org.apache.flume.sink.AvroSink): sends the events to a Flume
 * AvroSource (or any AvroSourceProtocol server, such as Spark Streaming's push receiver) over
 * Avro RPC with Netty framing (src/rpc/avro_rpc.h).
 *
 * Delivery: one take transaction of up to batch-size events per step, sent as one appendBatch
 * call through the acknowledged-sink pipeline (sqlflume/sink_pipeline.h) in its synchronous
 * shape: send writes the call and waits up to request-timeout ms for the reply; the batch is
 * acknowledged, and its take commits, only when the server answers OK. FAILED or UNKNOWN, an
 * error reply, a timeout, a malformed reply or a broken connection roll the batch back (the
 * events stay in the channel), close the connection, and the runner backs off before the next
 * attempt reconnects. A batch the server committed but whose OK was lost is sent again
 * (at-least-once, as Flume). While failures persist, one ERROR line per cause per minute.
 *
 * The handshake goes with the first call of each connection (as Java's NettyTransceiver). A
 * reply is bounded at SF_AVRO_RPC_MAX_MESSAGE_DEFAULT bytes; a larger one closes the
 * connection. reset-connection-interval (seconds, 0 = never) closes the connection before the
 * next batch once it is that old, as Flume does to rebalance behind a load balancer.
 *
 * compression-type = deflate compresses the whole connection (src/rpc/avro_stream.h: one zlib
 * stream each way, each call sync-flushed, at compression-level), as Flume's AvroSink; the
 * AvroSource must be set to deflate too. A server that does not decompress closes the connection
 * (or never answers): the batch fails like any other, with a hint in its ERROR line.
 *
 * Not implemented (refused at configure, not ignored): ssl = true and the TLS keys.
 */
#include "../rpc/avro_rpc.h"
#include "../rpc/avro_stream.h"

#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/sink.h"
#include "sqlflume/sink_pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* How long a call may still wait for its reply once the agent is stopping. */
#define STOP_WAIT_MS 1000

enum { COMP_NONE, COMP_DEFLATE };

struct avro_sink_ctx {
    /* options */
    char *hostname;
    long long port;
    long long batch_size;
    long long connect_timeout_ms;
    long long request_timeout_ms;
    long long reset_interval_s;
    int compression;
    long long compression_level;
    bool ssl;
    bool trust_all;
    /* state */
    struct sf_sink_pipeline pl;
    int fd;               /* the connection, -1 when none */
    bool handshaken;      /* the connection's first call was answered */
    long long opened_ms;  /* sf_mono_ms() when it was made */
    int32_t serial;       /* of the last call */
    struct sf_avro_stream st; /* over fd, when fd >= 0 */
    struct sf_buf payload, framed, out, in, reply;
    /* error reporting */
    long long failures;   /* consecutive failed batches */
    struct sf_sink_repeat rep;
};

static const struct sf_option avro_sink_options[] = {
    { "hostname", SF_OPT_STRING, NULL, 0, 0, offsetof(struct avro_sink_ctx, hostname),
      SF_OPT_REQUIRED, NULL, NULL, "host name or address of the AvroSource to send to" },
    { "port", SF_OPT_INT, NULL, 1, 65535, offsetof(struct avro_sink_ctx, port), SF_OPT_REQUIRED,
      NULL, NULL, "its TCP port" },
    { "batch-size", SF_OPT_INT, "100", 1, 1000000, offsetof(struct avro_sink_ctx, batch_size), 0,
      NULL, NULL, "maximum number of events per take transaction, sent as one appendBatch call" },
    { "connect-timeout", SF_OPT_INT, "20000", 1, 3600000,
      offsetof(struct avro_sink_ctx, connect_timeout_ms), 0, NULL, NULL,
      "milliseconds a connection attempt may take" },
    { "request-timeout", SF_OPT_INT, "20000", 1, 3600000,
      offsetof(struct avro_sink_ctx, request_timeout_ms), 0, NULL, NULL,
      "milliseconds to wait for the reply to a call; past it the batch is rolled back and sent "
      "again on a new connection" },
    { "reset-connection-interval", SF_OPT_INT, "0", 0, 1000000000,
      offsetof(struct avro_sink_ctx, reset_interval_s), 0, NULL, NULL,
      "seconds after which the connection is closed and made again before the next batch; 0 = "
      "never" },
    { "compression-type", SF_OPT_ENUM, "none", 0, 0, offsetof(struct avro_sink_ctx, compression), 0,
      NULL, "none|deflate",
      "deflate: compress the connection with zlib (the AvroSource must use deflate too)" },
    { "compression-level", SF_OPT_INT, "6", 0, 9, offsetof(struct avro_sink_ctx, compression_level),
      0, NULL, NULL, "deflate level, 0-9 (with compression-type = deflate)" },
    { "ssl", SF_OPT_BOOL, "false", 0, 0, offsetof(struct avro_sink_ctx, ssl), 0, NULL, NULL,
      "TLS to the AvroSource; true is not implemented yet" },
    { "trust-all-certs", SF_OPT_BOOL, "false", 0, 0, offsetof(struct avro_sink_ctx, trust_all), 0,
      NULL, NULL, "with ssl = true: accept any server certificate" },
    { "truststore", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "TLS is not implemented yet" },
    { "truststore-password", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "TLS is not implemented yet" },
    { "truststore-type", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "TLS is not implemented yet" },
    { "exclude-protocols", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "TLS is not implemented yet" },
    { "maxIoWorkers", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "Netty's I/O thread count: the sink uses one connection on its own thread" },
    { 0 },
};

static void disconnect(struct sf_sink *snk)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    if (ctx->fd >= 0) {
        sf_avro_stream_free(&ctx->st);
        close(ctx->fd);
        ctx->fd = -1;
        atomic_fetch_add(&snk->metrics.connection_closed, 1);
    }
    ctx->handshaken = false;
    sf_buf_reset(&ctx->in);
}

/* Connect one address within timeout_ms. @return the socket or -1 with errno set */
static int connect_addr(const struct addrinfo *ai, long long timeout_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                    ai->ai_protocol);
    if (fd < 0) {
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        struct pollfd pfd = { fd, POLLOUT, 0 };
        int r;
        do {
            r = poll(&pfd, 1, (int)timeout_ms);
        } while (r < 0 && errno == EINTR);
        int err = 0;
        socklen_t len = sizeof(err);
        if (r == 0) {
            err = ETIMEDOUT;
        } else if (r < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
            err = errno;
        }
        if (err != 0) {
            close(fd);
            errno = err;
            return -1;
        }
    }
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* Connect to hostname:port (every address in turn). @return SF_OK or SF_ERR_IO (reported) */
static int connect_server(struct sf_sink *snk)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    char port[16];
    snprintf(port, sizeof(port), "%lld", ctx->port);
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(ctx->hostname, port, &hints, &res);
    if (g != 0) {
        atomic_fetch_add(&snk->metrics.connection_failed, 1);
        sf_sink_report(snk, &ctx->rep, NULL,
                       "could not resolve %s: %s; the events stay in channel \"%s\"", ctx->hostname,
                       gai_strerror(g), snk->ch->name);
        return SF_ERR_IO;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = connect_addr(ai, ctx->connect_timeout_ms);
        e = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        atomic_fetch_add(&snk->metrics.connection_failed, 1);
        sf_sink_report(snk, &ctx->rep, NULL,
                       "could not connect to %s:%lld: %s; the events stay in channel \"%s\" "
                       "and are retried",
                       ctx->hostname, ctx->port, strerror(e), snk->ch->name);
        return SF_ERR_IO;
    }
    if (sf_avro_stream_init(&ctx->st, fd, ctx->compression == COMP_DEFLATE,
                            (int)ctx->compression_level) != SF_OK) {
        close(fd);
        sf_sink_report(snk, &ctx->rep, NULL, "out of memory for the zlib streams");
        return SF_ERR_NOMEM;
    }
    ctx->fd = fd;
    ctx->handshaken = false;
    ctx->opened_ms = sf_mono_ms();
    sf_buf_reset(&ctx->in);
    atomic_fetch_add(&snk->metrics.connection_created, 1);
    SF_DEBUG(SF_SINK_FMT "connected to %s:%lld", SF_SINK_ARGS(snk), ctx->hostname, ctx->port);
    return SF_OK;
}

/* Wait for fd to be ready for events until deadline (sf_mono_ms), giving up STOP_WAIT_MS after
 * the agent began stopping. @return 1 ready, 0 timed out, -1 error (errno) */
static int wait_fd(struct sf_sink *snk, int fd, short events, long long deadline)
{
    long long stop_deadline = -1;
    for (;;) {
        long long now = sf_mono_ms();
        if (atomic_load(&snk->stopping)) {
            if (stop_deadline < 0) {
                stop_deadline = now + STOP_WAIT_MS;
            }
            if (stop_deadline < deadline) {
                deadline = stop_deadline;
            }
        }
        if (now >= deadline) {
            return 0;
        }
        long long wait = deadline - now;
        struct pollfd pfd = { fd, events, 0 };
        int r = poll(&pfd, 1, (int)(wait < 100 ? wait : 100));
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (r > 0) {
            return 1;
        }
    }
}

/* Send the call in ctx->out and read its reply into ctx->reply within request-timeout.
 * @return NULL, or what failed (static text; errno-like detail in detail) */
static const char *call(struct sf_sink *snk, char *detail, size_t detail_size)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    long long deadline = sf_mono_ms() + ctx->request_timeout_ms;
    size_t off = 0;
    detail[0] = '\0';
    while (off < ctx->out.len) {
        ssize_t w = send(ctx->fd, ctx->out.data + off, ctx->out.len - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(detail, detail_size, "%s", strerror(errno));
            return "sending the call failed";
        }
        int r = wait_fd(snk, ctx->fd, POLLOUT, deadline);
        if (r <= 0) {
            snprintf(detail, detail_size, "%s", r == 0 ? "timed out" : strerror(errno));
            return "sending the call failed";
        }
    }
    for (;;) {
        int32_t serial = 0;
        size_t used = 0;
        sf_buf_reset(&ctx->reply);
        int u = sf_avro_rpc_unframe((const unsigned char *)ctx->in.data, ctx->in.len,
                                    SF_AVRO_RPC_MAX_MESSAGE_DEFAULT, &serial, &ctx->reply, &used,
                                    detail, detail_size);
        if (u < 0) {
            return "the reply is too large";
        }
        if (u > 0) {
            memmove(ctx->in.data, ctx->in.data + used, ctx->in.len - used);
            ctx->in.data[ctx->in.len - used] = '\0';
            ctx->in.len -= used;
            if (serial != ctx->serial) {
                snprintf(detail, detail_size, "serial %d, expected %d", (int)serial,
                         (int)ctx->serial);
                return "unexpected reply";
            }
            return NULL;
        }
        ssize_t r = sf_avro_stream_recv(&ctx->st, &ctx->in, detail, detail_size);
        if (r > 0) {
            continue;
        }
        if (r == -2) {
            return "the reply does not decompress";
        }
        if (r == 0) {
            snprintf(detail, detail_size, "the server closed the connection%s",
                     ctx->st.deflate ? " (compression-type = deflate: does the AvroSource use "
                                       "deflate too?)"
                                     : "");
            return "no reply";
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(detail, detail_size, "%s", strerror(errno));
            return "no reply";
        }
        int w = wait_fd(snk, ctx->fd, POLLIN, deadline);
        if (w <= 0) {
            if (w == 0) {
                snprintf(detail, detail_size, "%s",
                         atomic_load(&snk->stopping) ? "the agent is stopping"
                                                     : "request-timeout passed");
            } else {
                snprintf(detail, detail_size, "%s", strerror(errno));
            }
            return "no reply";
        }
    }
}

static int avro_send(struct sf_sink *snk, struct sf_pipeline_batch *b)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    if (ctx->fd >= 0 && ctx->reset_interval_s > 0 &&
        sf_mono_ms() - ctx->opened_ms >= ctx->reset_interval_s * 1000) {
        SF_DEBUG(SF_SINK_FMT "reset-connection-interval passed: reconnecting", SF_SINK_ARGS(snk));
        disconnect(snk);
    }
    if (ctx->fd < 0 && connect_server(snk) != SF_OK) {
        ctx->failures++;
        return SF_ERR_IO;
    }
    bool hs = !ctx->handshaken;
    sf_buf_reset(&ctx->payload);
    sf_avro_rpc_append_batch(&ctx->payload, hs, b->evs, b->n);
    sf_buf_reset(&ctx->out);
    sf_buf_reset(&ctx->framed);
    ctx->serial++;
    sf_avro_rpc_frame(&ctx->framed, ctx->serial, ctx->payload.data, ctx->payload.len);
    char detail[256];
    const char *fail = NULL;
    if (sf_avro_stream_encode(&ctx->st, &ctx->framed, &ctx->out) != SF_OK) {
        fail = "compressing the call failed";
        snprintf(detail, sizeof(detail), "out of memory");
    } else {
        fail = call(snk, detail, sizeof(detail));
    }
    struct sf_avro_rpc_reply r;
    if (!fail && sf_avro_rpc_parse_reply((const unsigned char *)ctx->reply.data, ctx->reply.len,
                                         hs, &r, detail, sizeof(detail)) != 0) {
        fail = "bad reply";
    }
    if (!fail && r.error) {
        fail = "the server answered an error";
        snprintf(detail, sizeof(detail), "%s", r.error_msg);
    } else if (!fail && r.status != SF_AVRO_STATUS_OK) {
        fail = "the server answered";
        snprintf(detail, sizeof(detail), "%s", sf_avro_status_name(r.status));
    }
    if (fail) {
        char key[sizeof(ctx->rep.key)];
        snprintf(key, sizeof(key), "%s: %s", fail, detail);
        sf_sink_report(snk, &ctx->rep, key,
                       "appendBatch of %zu events to %s:%lld: %s: %s; rolled back, the events "
                       "stay in channel \"%s\" and are sent again on a new connection",
                       b->n, ctx->hostname, ctx->port, fail, detail, snk->ch->name);
        atomic_fetch_add(&snk->metrics.write_fail, 1);
        disconnect(snk);
        ctx->failures++;
        return SF_ERR_IO;
    }
    ctx->handshaken = true;
    if (ctx->failures > 0) {
        SF_INFO(SF_SINK_FMT "delivering to %s:%lld again after %lld failed attempts",
                SF_SINK_ARGS(snk), ctx->hostname, ctx->port, ctx->failures);
        ctx->failures = 0;
        ctx->rep.key[0] = '\0';
    }
    (void)sf_sink_pipeline_ack(&ctx->pl, b, b->n);
    return SF_OK;
}

static const struct sf_sink_pipeline_ops avro_pipeline_ops = {
    .send = avro_send,
};

static int avro_configure(struct sf_sink *snk, struct sf_diag *d)
{
    const struct avro_sink_ctx *ctx = snk->ctx;
    int rc = 0;
    if (!ctx->hostname || !*ctx->hostname) {
        sf_diag_error(d, sf_section_get(snk->conf, "hostname"), "must name a host");
        rc = -1;
    }
    if (ctx->ssl) {
        sf_diag_error(d, sf_section_get(snk->conf, "ssl"), "TLS is not implemented yet");
        rc = -1;
    }
    if (ctx->trust_all && !ctx->ssl) {
        sf_diag_error(d, sf_section_get(snk->conf, "trust-all-certs"), "needs ssl = true");
        rc = -1;
    }
    return rc;
}

static int avro_start(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    ctx->fd = -1;
    ctx->payload = (struct sf_buf)SF_BUF_INIT;
    ctx->framed = (struct sf_buf)SF_BUF_INIT;
    ctx->out = (struct sf_buf)SF_BUF_INIT;
    ctx->in = (struct sf_buf)SF_BUF_INIT;
    ctx->reply = (struct sf_buf)SF_BUF_INIT;
    if (sf_sink_pipeline_init(&ctx->pl, snk, &avro_pipeline_ops, 1, ctx->batch_size) != SF_OK) {
        (void)snprintf(errstr, errstr_size, "out of memory for a batch of %lld events",
                       ctx->batch_size);
        return SF_ERR_NOMEM;
    }
    /* connected at the first batch: a server that is not up yet is retried like a lost one */
    return SF_OK;
}

static enum sf_status avro_process(struct sf_sink *snk)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    return sf_sink_pipeline_process(&ctx->pl);
}

static void avro_stop(struct sf_sink *snk)
{
    struct avro_sink_ctx *ctx = snk->ctx;
    /* synchronous: nothing is in flight between steps */
    sf_sink_pipeline_rollback_all(&ctx->pl);
    sf_sink_pipeline_summary(&ctx->pl);
    sf_sink_pipeline_free(&ctx->pl);
    disconnect(snk);
    sf_buf_free(&ctx->payload);
    sf_buf_free(&ctx->framed);
    sf_buf_free(&ctx->out);
    sf_buf_free(&ctx->in);
    sf_buf_free(&ctx->reply);
}

static const char *const avro_aliases[] = { "org.apache.flume.sink.AvroSink", NULL };

const struct sf_sink_plugin sf_sink_avro = {
    .name = "avro",
    .aliases = avro_aliases,
    .options = avro_sink_options,
    .ctx_size = sizeof(struct avro_sink_ctx),
    .configure = avro_configure,
    .start = avro_start,
    .process = avro_process,
    .stop = avro_stop,
};
