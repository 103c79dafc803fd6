/*
 * The byte stream under Avro RPC's Netty framing: plain, or compressed as Flume's AvroSink and
 * AvroSource do with compression-type = deflate (Netty's ZlibEncoder/ZlibDecoder on the whole
 * connection): one zlib stream (RFC 1950) each way for the life of the connection, every write
 * ended with a sync flush (Z_SYNC_FLUSH) so that the peer can decode each message as it arrives.
 * Both ends must agree: nothing in the stream says whether it is compressed. With ssl = true
 * the stream runs over TLS (src/rpc/avro_tls.h): the zlib bytes are what TLS carries.
 *
 * Inflation is bounded: one sf_avro_stream_recv produces at most SF_AVRO_STREAM_CHUNK plain
 * bytes, so a caller that runs sf_avro_rpc_unframe (which refuses a message over its bound as
 * soon as the frame header says so) between receives never holds more than that bound plus one
 * chunk, however much a few compressed bytes would inflate to.
 */
#ifndef SQLFLUME_RPC_AVRO_STREAM_H
#define SQLFLUME_RPC_AVRO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <openssl/ssl.h>
#include <stdatomic.h>
#include <zlib.h>

#include "sqlflume/buf.h"

/** At most this many plain bytes per sf_avro_stream_recv (and compressed bytes read at once). */
#define SF_AVRO_STREAM_CHUNK 65536

/** One connection's stream. Ownership: the fd is the caller's (not closed here). */
struct sf_avro_stream {
    int fd;
    bool deflate; /* compressed (compression-type = deflate) */
    bool def_on, inf_on;
    bool inf_more; /* inflate stopped on a full output: more may come without new input */
    bool inf_end;  /* the peer ended its zlib stream */
    z_stream def, inf;
    unsigned char *zin; /* SF_AVRO_STREAM_CHUNK bytes of compressed input (inf.next_in in it) */
    SSL *ssl;           /* TLS over fd, or NULL */
    short want;         /* with ssl: what the last TLS call waits for (POLLIN/POLLOUT), or 0 */
};

/**
 * Set s up over fd.
 * @param level  deflate level 0-9 (with deflate)
 * @return SF_OK, SF_ERR_NOMEM (nothing to free then)
 */
int sf_avro_stream_init(struct sf_avro_stream *s, int fd, bool deflate, int level);

/** Free the zlib and TLS state (not the fd); s may be zeroed or freed already. */
void sf_avro_stream_free(struct sf_avro_stream *s);

/**
 * Put TLS under s (after sf_avro_stream_init, before any byte): the handshake on the fd (which
 * must be non-blocking) until deadline (sf_mono_ms) or *stopping (may be NULL).
 * @return SF_OK; SF_ERR_IO with errstr set (the handshake failed: close the connection);
 * SF_ERR_NOMEM
 */
int sf_avro_stream_start_tls(struct sf_avro_stream *s,
                             SSL_CTX *ctx,
                             bool server,
                             long long deadline,
                             const atomic_bool *stopping,
                             char *errstr,
                             size_t errstr_size);

/**
 * Write up to n bytes of p (what sf_avro_stream_encode made) without blocking: send(2) with
 * MSG_NOSIGNAL, or TLS.
 * @return the bytes written (> 0), or -1 with errno set (EAGAIN: poll for
 * sf_avro_stream_events(s, POLLOUT); EPROTO: a TLS error)
 */
ssize_t sf_avro_stream_send(struct sf_avro_stream *s, const void *p, size_t n);

/** The poll events to wait for before retrying: want, or what TLS waits for instead. */
short sf_avro_stream_events(const struct sf_avro_stream *s, short want);

/** Whether plain bytes may be had without the fd becoming readable (the inflater or TLS holds
 *  some): call sf_avro_stream_recv before polling. */
bool sf_avro_stream_buffered(const struct sf_avro_stream *s);

/**
 * The bytes to write for the framed message in framed: plain, framed's bytes are moved to out
 * (the buffers are swapped); compressed, they are deflated and sync-flushed onto out (appended)
 * and framed is reset.
 * @return SF_OK, SF_ERR_NOMEM
 */
int sf_avro_stream_encode(struct sf_avro_stream *s, struct sf_buf *framed, struct sf_buf *out);

/**
 * Append plain bytes to in: what is pending in the inflater first, else from a non-blocking
 * recv on the fd; at most SF_AVRO_STREAM_CHUNK bytes.
 * @return the bytes appended (> 0); 0: the peer closed the connection; -1 with errno set
 * (EAGAIN: nothing now, poll the fd for POLLIN; compressed input that inflated to nothing yet
 * also answers EAGAIN: poll for sf_avro_stream_events(s, POLLIN)); -2: the compressed stream is
 * corrupt, or TLS failed (errstr says how: close the connection)
 */
ssize_t
sf_avro_stream_recv(struct sf_avro_stream *s, struct sf_buf *in, char *errstr, size_t errstr_size);

/** Whether the first n received bytes p (n >= 2) start like a zlib stream (CMF/FLG of RFC 1950
 *  with a 32 KiB window): a hint for a peer that compresses talking to one that does not. */
bool sf_avro_stream_looks_zlib(const unsigned char *p, size_t n);

#endif
