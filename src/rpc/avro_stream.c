/*
 * The plain or zlib-compressed stream of an Avro RPC connection (see avro_stream.h).
 */
#include "avro_stream.h"

#include "avro_tls.h"

#include "sqlflume/error.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>

#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int sf_avro_stream_init(struct sf_avro_stream *s, int fd, bool deflate, int level)
{
    memset(s, 0, sizeof(*s));
    s->fd = fd;
    s->deflate = deflate;
    if (!deflate) {
        return SF_OK;
    }
    s->zin = malloc(SF_AVRO_STREAM_CHUNK);
    if (!s->zin) {
        return SF_ERR_NOMEM;
    }
    if (deflateInit(&s->def, level) != Z_OK) {
        sf_avro_stream_free(s);
        return SF_ERR_NOMEM;
    }
    s->def_on = true;
    if (inflateInit(&s->inf) != Z_OK) {
        sf_avro_stream_free(s);
        return SF_ERR_NOMEM;
    }
    s->inf_on = true;
    return SF_OK;
}

void sf_avro_stream_free(struct sf_avro_stream *s)
{
    if (s->ssl) {
        (void)SSL_shutdown(s->ssl); /* our close_notify, without waiting for the peer's */
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    if (s->def_on) {
        (void)deflateEnd(&s->def);
        s->def_on = false;
    }
    if (s->inf_on) {
        (void)inflateEnd(&s->inf);
        s->inf_on = false;
    }
    free(s->zin);
    s->zin = NULL;
}

int sf_avro_stream_encode(struct sf_avro_stream *s, struct sf_buf *framed, struct sf_buf *out)
{
    if (!s->deflate) {
        struct sf_buf t = *out;
        *out = *framed;
        *framed = t;
        sf_buf_reset(framed);
        return SF_OK;
    }
    s->def.next_in = (Bytef *)framed->data;
    s->def.avail_in = (uInt)framed->len;
    /* deflate(Z_SYNC_FLUSH) is done when it leaves output space unused */
    do {
        sf_buf_reserve(out, deflateBound(&s->def, s->def.avail_in) + 16);
        size_t room = out->cap - out->len - 1;
        s->def.next_out = (Bytef *)out->data + out->len;
        s->def.avail_out = (uInt)room;
        int rc = deflate(&s->def, Z_SYNC_FLUSH);
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            return SF_ERR_NOMEM;
        }
        out->len += room - s->def.avail_out;
        out->data[out->len] = '\0';
    } while (s->def.avail_out == 0 || s->def.avail_in > 0);
    sf_buf_reset(framed);
    return SF_OK;
}

int sf_avro_stream_start_tls(struct sf_avro_stream *s,
                             SSL_CTX *ctx,
                             bool server,
                             long long deadline,
                             const atomic_bool *stopping,
                             char *errstr,
                             size_t errstr_size)
{
    s->ssl = SSL_new(ctx);
    if (!s->ssl || SSL_set_fd(s->ssl, s->fd) != 1) {
        snprintf(errstr, errstr_size, "out of memory for TLS");
        return SF_ERR_NOMEM;
    }
    if (sf_avro_tls_handshake(s->ssl, s->fd, server, deadline, stopping, errstr, errstr_size) !=
        0) {
        SSL_free(s->ssl); /* no shutdown: there is no session to close */
        s->ssl = NULL;
        return SF_ERR_IO;
    }
    return SF_OK;
}

/* Map a failed SSL_read/SSL_write. @return 0 (the peer closed), -1 (errno: EAGAIN, the
 * socket's error, or EPROTO for a TLS error without errstr), -2 (errstr set) */
static ssize_t tls_fail(struct sf_avro_stream *s, int r, char *errstr, size_t errstr_size)
{
    int e = SSL_get_error(s->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        s->want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        errno = EAGAIN;
        return -1;
    }
    if (e == SSL_ERROR_ZERO_RETURN) {
        return 0;
    }
    if (e == SSL_ERROR_SYSCALL && errno != 0 && errno != EAGAIN) {
        ERR_clear_error();
        return -1; /* the socket's own error */
    }
    if (errstr) {
        char why[200];
        sf_avro_tls_error(why, sizeof(why));
        snprintf(errstr, errstr_size, "TLS: %s", why);
        return -2;
    }
    ERR_clear_error();
    errno = EPROTO;
    return -1;
}

/* Read up to n raw bytes (the TLS payload with ssl). @return as sf_avro_stream_recv */
static ssize_t
raw_recv(struct sf_avro_stream *s, void *buf, size_t n, char *errstr, size_t errstr_size)
{
    if (!s->ssl) {
        return recv(s->fd, buf, n, MSG_DONTWAIT);
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_read(s->ssl, buf, n > INT_MAX ? INT_MAX : (int)n);
    if (r > 0) {
        s->want = 0;
        return r;
    }
    return tls_fail(s, r, errstr, errstr_size);
}

ssize_t sf_avro_stream_send(struct sf_avro_stream *s, const void *p, size_t n)
{
    if (!s->ssl) {
        return send(s->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_write(s->ssl, p, n > INT_MAX ? INT_MAX : (int)n);
    if (r > 0) {
        s->want = 0;
        return r;
    }
    ssize_t k = tls_fail(s, r, NULL, 0);
    if (k == 0) {
        errno = EPIPE;
        k = -1;
    }
    return k;
}

short sf_avro_stream_events(const struct sf_avro_stream *s, short want)
{
    return s->ssl && s->want ? s->want : want;
}

bool sf_avro_stream_buffered(const struct sf_avro_stream *s)
{
    return s->inf_more || (s->ssl && SSL_has_pending(s->ssl));
}

ssize_t
sf_avro_stream_recv(struct sf_avro_stream *s, struct sf_buf *in, char *errstr, size_t errstr_size)
{
    sf_buf_reserve(in, SF_AVRO_STREAM_CHUNK);
    if (!s->deflate) {
        ssize_t k = raw_recv(s, in->data + in->len, SF_AVRO_STREAM_CHUNK, errstr, errstr_size);
        if (k > 0) {
            in->len += (size_t)k;
            in->data[in->len] = '\0';
        }
        return k;
    }
    for (;;) {
        if (s->inf.avail_in == 0 && !s->inf_more) {
            ssize_t k = raw_recv(s, s->zin, SF_AVRO_STREAM_CHUNK, errstr, errstr_size);
            if (k <= 0) {
                return k;
            }
            if (s->inf_end) {
                snprintf(errstr, errstr_size, "%zd bytes after the end of the zlib stream", k);
                return -2;
            }
            s->inf.next_in = s->zin;
            s->inf.avail_in = (uInt)k;
        }
        s->inf.next_out = (Bytef *)in->data + in->len;
        s->inf.avail_out = SF_AVRO_STREAM_CHUNK;
        int rc = inflate(&s->inf, Z_SYNC_FLUSH);
        size_t got = SF_AVRO_STREAM_CHUNK - s->inf.avail_out;
        in->len += got;
        in->data[in->len] = '\0';
        if (rc == Z_STREAM_END) {
            s->inf_end = true;
            s->inf_more = false;
            if (s->inf.avail_in > 0) {
                snprintf(errstr, errstr_size, "%u bytes after the end of the zlib stream",
                         s->inf.avail_in);
                return -2;
            }
        } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
            snprintf(errstr, errstr_size, "not a zlib stream, or a corrupt one (%s)",
                     s->inf.msg ? s->inf.msg : zError(rc));
            return -2;
        } else {
            s->inf_more = s->inf.avail_out == 0;
        }
        if (got > 0) {
            return (ssize_t)got;
        }
        if (s->inf_end) {
            return 0; /* the peer finished its stream: as good as closed */
        }
        /* all the input taken, nothing out yet: read more, or EAGAIN */
    }
}

bool sf_avro_stream_looks_zlib(const unsigned char *p, size_t n)
{
    return n >= 2 && p[0] == 0x78 && ((unsigned)p[0] << 8 | p[1]) % 31 == 0;
}
