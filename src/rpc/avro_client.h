/*
 * A synchronous AvroSourceProtocol client over one connection (plain or compression-type =
 * deflate): what the Avro sink and `sqlflume avro-client` send with. One call at a time: the
 * appendBatch is written, then its reply read, within a deadline. The handshake goes with the
 * connection's first call (as Java's NettyTransceiver) and the connection remembers its answer.
 * Replies are bounded at SF_AVRO_RPC_MAX_MESSAGE_DEFAULT bytes (src/rpc/avro_rpc.h), after
 * inflation too (src/rpc/avro_stream.h).
 */
#ifndef SQLFLUME_RPC_AVRO_CLIENT_H
#define SQLFLUME_RPC_AVRO_CLIENT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "avro_stream.h"
#include "sqlflume/buf.h"
#include "sqlflume/event.h"

/** How long a call may still wait for its reply once *stopping is set (ms). */
#define SF_AVRO_CLIENT_STOP_WAIT_MS 1000

/** A client. Zero it, then set the options; sf_avro_client_free releases it. */
struct sf_avro_client {
    /* options (set before connecting) */
    bool deflate;
    int level;                   /* deflate level 0-9 */
    SSL_CTX *tls;                /* TLS (ssl = true) with this context (borrowed), or NULL */
    const atomic_bool *stopping; /* when set, a call gives up SF_AVRO_CLIENT_STOP_WAIT_MS later
                                    ("the agent is stopping"); NULL: never */
    /* state */
    int fd;              /* the connection; -1 (after sf_avro_client_init) when none */
    bool handshaken;     /* the connection's first call was answered */
    long long opened_ms; /* sf_mono_ms() when it was made */
    int32_t serial;      /* of the last call */
    struct sf_avro_stream st;
    struct sf_buf payload, framed, out, in, reply;
};

/** Set c up with no connection (fd -1, buffers empty); the options are kept. */
void sf_avro_client_init(struct sf_avro_client *c);

/**
 * Connect to host:port, every address in turn, each within timeout_ms.
 * With tls, the TLS handshake follows, within the same timeout.
 * @return SF_OK; SF_ERR_IO with errstr "could not resolve HOST: ...", "could not connect to
 * HOST:PORT: ..." or "TLS handshake with HOST:PORT failed: ..."; SF_ERR_NOMEM
 */
int sf_avro_client_connect(struct sf_avro_client *c,
                           const char *host,
                           long long port,
                           long long timeout_ms,
                           char *errstr,
                           size_t errstr_size);

/**
 * Send appendBatch(evs[0..n)) and wait up to timeout_ms for the reply; the connection must be
 * open. Success only when the server answered OK.
 * @return NULL on success; else what failed (static text: "sending the call failed", "no
 * reply", "the reply is too large", "unexpected reply", "bad reply", "the server answered",
 * "the server answered an error", ...) with the detail in detail (the Status name, the error
 * text, "request-timeout passed", a strerror). The connection is then in an unknown state: close
 * it (sf_avro_client_close) before another call.
 */
const char *sf_avro_client_append_batch(struct sf_avro_client *c,
                                        struct sf_event *const *evs,
                                        size_t n,
                                        long long timeout_ms,
                                        char *detail,
                                        size_t detail_size);

/** Close the connection, if any. @return whether one was open. */
bool sf_avro_client_close(struct sf_avro_client *c);

/** Close and free the buffers (c can be initialised again). */
void sf_avro_client_free(struct sf_avro_client *c);

#endif
