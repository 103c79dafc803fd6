/*
 * The synchronous AvroSourceProtocol client (see avro_client.h).
 */
#include "avro_client.h"

#include "avro_rpc.h"

#include "sqlflume/clock.h"
#include "sqlflume/error.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void sf_avro_client_init(struct sf_avro_client *c)
{
    c->fd = -1;
    c->handshaken = false;
    c->serial = 0;
    memset(&c->st, 0, sizeof(c->st));
    c->payload = (struct sf_buf)SF_BUF_INIT;
    c->framed = (struct sf_buf)SF_BUF_INIT;
    c->out = (struct sf_buf)SF_BUF_INIT;
    c->in = (struct sf_buf)SF_BUF_INIT;
    c->reply = (struct sf_buf)SF_BUF_INIT;
}

/* Connect one address within timeout_ms. @return the socket or -1 with errno set */
static int connect_addr(const struct addrinfo *ai, long long timeout_ms)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
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

int sf_avro_client_connect(struct sf_avro_client *c,
                           const char *host,
                           long long port,
                           long long timeout_ms,
                           char *errstr,
                           size_t errstr_size)
{
    char ps[16];
    snprintf(ps, sizeof(ps), "%lld", port);
    struct addrinfo hints = { 0 }, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(host, ps, &hints, &res);
    if (g != 0) {
        snprintf(errstr, errstr_size, "could not resolve %s: %s", host, gai_strerror(g));
        return SF_ERR_IO;
    }
    int fd = -1, e = 0;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = connect_addr(ai, timeout_ms);
        e = errno;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        snprintf(errstr, errstr_size, "could not connect to %s:%lld: %s", host, port, strerror(e));
        return SF_ERR_IO;
    }
    if (sf_avro_stream_init(&c->st, fd, c->deflate, c->level) != SF_OK) {
        close(fd);
        snprintf(errstr, errstr_size, "out of memory for the zlib streams");
        return SF_ERR_NOMEM;
    }
    if (c->tls) {
        char why[256];
        int rc = sf_avro_stream_start_tls(&c->st, c->tls, false, sf_mono_ms() + timeout_ms,
                                          c->stopping, why, sizeof(why));
        if (rc != SF_OK) {
            sf_avro_stream_free(&c->st);
            close(fd);
            snprintf(errstr, errstr_size, "TLS handshake with %s:%lld failed: %s", host, port, why);
            return rc;
        }
    }
    c->fd = fd;
    c->handshaken = false;
    c->opened_ms = sf_mono_ms();
    sf_buf_reset(&c->in);
    return SF_OK;
}

bool sf_avro_client_close(struct sf_avro_client *c)
{
    bool was = c->fd >= 0;
    if (was) {
        sf_avro_stream_free(&c->st);
        close(c->fd);
        c->fd = -1;
    }
    c->handshaken = false;
    sf_buf_reset(&c->in);
    return was;
}

void sf_avro_client_free(struct sf_avro_client *c)
{
    (void)sf_avro_client_close(c);
    sf_buf_free(&c->payload);
    sf_buf_free(&c->framed);
    sf_buf_free(&c->out);
    sf_buf_free(&c->in);
    sf_buf_free(&c->reply);
}

static bool stopping(const struct sf_avro_client *c)
{
    return c->stopping && atomic_load(c->stopping);
}

/* Wait for the fd to be ready for events until deadline (sf_mono_ms), giving up
 * SF_AVRO_CLIENT_STOP_WAIT_MS after *stopping was set. @return 1 ready, 0 timed out, -1 error
 * (errno) */
static int wait_fd(const struct sf_avro_client *c, short events, long long deadline)
{
    long long stop_deadline = -1;
    for (;;) {
        long long now = sf_mono_ms();
        if (stopping(c)) {
            if (stop_deadline < 0) {
                stop_deadline = now + SF_AVRO_CLIENT_STOP_WAIT_MS;
            }
            if (stop_deadline < deadline) {
                deadline = stop_deadline;
            }
        }
        if (now >= deadline) {
            return 0;
        }
        long long wait = deadline - now;
        struct pollfd pfd = { c->fd, events, 0 };
        int r = poll(&pfd, 1, (int)(wait < 100 ? wait : 100));
        if (r < 0 && errno != EINTR) {
            return -1;
        }
        if (r > 0) {
            return 1;
        }
    }
}

/* Send the call in c->out and read its reply into c->reply by deadline.
 * @return NULL, or what failed (static text; the detail in detail) */
static const char *
call(struct sf_avro_client *c, long long deadline, char *detail, size_t detail_size)
{
    size_t off = 0;
    detail[0] = '\0';
    while (off < c->out.len) {
        ssize_t w = sf_avro_stream_send(&c->st, c->out.data + off, c->out.len - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(detail, detail_size, "%s", strerror(errno));
            return "sending the call failed";
        }
        int r = wait_fd(c, sf_avro_stream_events(&c->st, POLLOUT), deadline);
        if (r <= 0) {
            snprintf(detail, detail_size, "%s", r == 0 ? "timed out" : strerror(errno));
            return "sending the call failed";
        }
    }
    for (;;) {
        int32_t serial = 0;
        size_t used = 0;
        sf_buf_reset(&c->reply);
        int u = sf_avro_rpc_unframe((const unsigned char *)c->in.data, c->in.len,
                                    SF_AVRO_RPC_MAX_MESSAGE_DEFAULT, &serial, &c->reply, &used,
                                    detail, detail_size);
        if (u < 0) {
            return "the reply is too large";
        }
        if (u > 0) {
            memmove(c->in.data, c->in.data + used, c->in.len - used);
            c->in.len -= used;
            c->in.data[c->in.len] = '\0';
            if (serial != c->serial) {
                snprintf(detail, detail_size, "serial %d, expected %d", (int)serial,
                         (int)c->serial);
                return "unexpected reply";
            }
            return NULL;
        }
        ssize_t r = sf_avro_stream_recv(&c->st, &c->in, detail, detail_size);
        if (r > 0) {
            continue;
        }
        if (r == -2) {
            return "the reply does not decompress";
        }
        if (r == 0) {
            snprintf(detail, detail_size, "the server closed the connection");
            return "no reply";
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            snprintf(detail, detail_size, "%s", strerror(errno));
            return "no reply";
        }
        int w = wait_fd(c, sf_avro_stream_events(&c->st, POLLIN), deadline);
        if (w <= 0) {
            if (w == 0) {
                snprintf(detail, detail_size, "%s",
                         stopping(c) ? "the agent is stopping" : "request-timeout passed");
            } else {
                snprintf(detail, detail_size, "%s", strerror(errno));
            }
            return "no reply";
        }
    }
}

const char *sf_avro_client_append_batch(struct sf_avro_client *c,
                                        struct sf_event *const *evs,
                                        size_t n,
                                        long long timeout_ms,
                                        char *detail,
                                        size_t detail_size)
{
    long long deadline = sf_mono_ms() + timeout_ms;
    bool hs = !c->handshaken;
    sf_buf_reset(&c->payload);
    sf_avro_rpc_append_batch(&c->payload, hs, evs, n);
    sf_buf_reset(&c->out);
    sf_buf_reset(&c->framed);
    c->serial++;
    sf_avro_rpc_frame(&c->framed, c->serial, c->payload.data, c->payload.len);
    const char *fail = NULL;
    if (sf_avro_stream_encode(&c->st, &c->framed, &c->out) != SF_OK) {
        snprintf(detail, detail_size, "out of memory");
        return "compressing the call failed";
    }
    fail = call(c, deadline, detail, detail_size);
    struct sf_avro_rpc_reply r;
    if (!fail && sf_avro_rpc_parse_reply((const unsigned char *)c->reply.data, c->reply.len, hs, &r,
                                         detail, detail_size) != 0) {
        fail = "bad reply";
    }
    if (!fail && r.error) {
        snprintf(detail, detail_size, "%s", r.error_msg);
        return "the server answered an error";
    }
    if (!fail && r.status != SF_AVRO_STATUS_OK) {
        snprintf(detail, detail_size, "%s", sf_avro_status_name(r.status));
        return "the server answered";
    }
    if (fail && c->deflate && hs && strcmp(fail, "no reply") == 0) {
        /* no answer to a connection's first call: the usual sign of a server that does not
         * decompress */
        size_t k = strlen(detail);
        snprintf(detail + k, detail_size - k,
                 " (compression-type = deflate: does the AvroSource use deflate too?)");
    }
    if (!fail) {
        c->handshaken = true;
    }
    return fail;
}
