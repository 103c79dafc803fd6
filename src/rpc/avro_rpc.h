/*
 * Avro RPC as Flume's AvroSink and AvroSource speak it (avro-c has no RPC; this layer is ours).
 * Sources followed: the Avro 1.11 specification ("Protocol Wire Format", "Handshake"), Avro
 * Java's NettyTransportCodec/NettyTransceiver (the framing), Requestor/Responder (the call and
 * reply layout) and Flume's flume-ng-sdk src/main/avro/flume.avdl (the protocol).
 *
 * Netty framing (every integer a big-endian int32): serial (matches a reply to its call), the
 * number of frames, then per frame its length and its bytes. The receiver concatenates the
 * frames into one message. Senders split the message into frames of at most 8192 bytes, as Java
 * does.
 *
 * A call: [HandshakeRequest] + call metadata map<bytes> + message name (string) + parameters.
 * A reply: [HandshakeResponse] + metadata map<bytes> + error flag (boolean) + the result (the
 * Status enum) or the error union ["string"]. Over a connection (Netty), the handshake is sent
 * with the first call only and the server remembers it for the connection, as Java does.
 *
 *   HandshakeRequest  {clientHash: fixed MD5(16), clientProtocol: [null, string],
 *                      serverHash: MD5, meta: [null, map<bytes>]}
 *   HandshakeResponse {match: enum {BOTH, CLIENT, NONE}, serverProtocol: [null, string],
 *                      serverHash: [null, MD5], meta: [null, map<bytes>]}
 *
 * Our handshake always carries the protocol text (sf_avro_rpc_protocol) and its MD5 as both
 * hashes, so a server that does not know the hash parses the text and answers CLIENT or BOTH,
 * never NONE: matching does not depend on the server's protocol text being byte for byte ours
 * (Java's generated protocol carries the .avdl's license comment as "doc", which changes its
 * MD5 but not the messages).
 */
#ifndef SQLFLUME_RPC_AVRO_RPC_H
#define SQLFLUME_RPC_AVRO_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlflume/buf.h"
#include "sqlflume/event.h"

/** Frames are written at most this many bytes long (Avro Java's NettyTransceiver). */
#define SF_AVRO_RPC_FRAME_BYTES 8192

/** The default bound on one received message (all its frames and their length fields, bytes):
 *  64 MiB, over a 100-event batch of Flume's largest usual events. */
#define SF_AVRO_RPC_MAX_MESSAGE_DEFAULT (64LL * 1024 * 1024)

/** AvroSourceProtocol (namespace org.apache.flume.source.avro) as JSON text, without "doc". */
extern const char sf_avro_rpc_protocol[];
/** MD5 of sf_avro_rpc_protocol's bytes (without the NUL). */
extern const unsigned char sf_avro_rpc_protocol_md5[16];

/** The protocol's Status enum, in its symbol order. */
enum sf_avro_status {
    SF_AVRO_STATUS_OK = 0,
    SF_AVRO_STATUS_FAILED = 1,
    SF_AVRO_STATUS_UNKNOWN = 2
};

/** HandshakeMatch, in its symbol order. */
enum sf_avro_match { SF_AVRO_MATCH_BOTH = 0, SF_AVRO_MATCH_CLIENT = 1, SF_AVRO_MATCH_NONE = 2 };

/**
 * Append the Netty framing of one message to out: serial, the frame count, then the payload in
 * frames of at most SF_AVRO_RPC_FRAME_BYTES (an empty payload is one empty frame).
 * @param payload  len bytes, borrowed
 */
void sf_avro_rpc_frame(struct sf_buf *out, int32_t serial, const void *payload, size_t len);

/**
 * Append the call `appendBatch(evs[0..n))` (not framed) to out: the HandshakeRequest when
 * handshake is set (see above), an empty metadata map, the message name and the array of
 * AvroFlumeEvent datums (one block of n items then 0; n == 0 is the single 0).
 */
void sf_avro_rpc_append_batch(struct sf_buf *out, bool handshake, struct sf_event *const *evs,
                              size_t n);

/**
 * Take one whole framed message from the n received bytes at p, when they hold one.
 * @param max  bound on the message's framed size (8 + per frame 4 + its length), bytes; checked
 *             as soon as a count or a length is read, before anything is allocated for it
 * @param serial  gets the message's serial
 * @param payload  gets the concatenated frames (appended; reset it first)
 * @param used  gets the bytes of p the message took
 * @return 1: a message was taken; 0: p holds only part of one (read more; nothing was appended);
 * -1: it is larger than max (errstr says what; close the connection)
 */
int sf_avro_rpc_unframe(const unsigned char *p, size_t n, long long max, int32_t *serial,
                        struct sf_buf *payload, size_t *used, char *errstr, size_t errstr_size);

/** A decoded reply to append or appendBatch. */
struct sf_avro_rpc_reply {
    bool had_handshake;
    enum sf_avro_match match; /* when had_handshake */
    bool error;               /* the error flag: the call failed with error_msg */
    enum sf_avro_status status; /* when !error */
    char error_msg[256];      /* when error: the error string, cut to fit */
};

/**
 * Decode the reply payload p[0..n) (unframed) of a call.
 * @param with_handshake  the call carried a handshake, so the reply starts with its response
 * @return 0, or -1 with errstr set when the bytes are not such a reply (truncated, a bad enum or
 * union index, a negative length) or the handshake answered NONE (no result follows it)
 */
int sf_avro_rpc_parse_reply(const unsigned char *p, size_t n, bool with_handshake,
                            struct sf_avro_rpc_reply *r, char *errstr, size_t errstr_size);

/* ---- the server side (an AvroSource) ---- */

/** The messages of AvroSourceProtocol a call may name; "" is Avro's ping (handshake only). */
enum sf_avro_msg {
    SF_AVRO_MSG_PING = 0,
    SF_AVRO_MSG_APPEND,
    SF_AVRO_MSG_APPEND_BATCH,
    SF_AVRO_MSG_UNKNOWN /* another name: answered with an error */
};

/** A decoded call. Ownership: evs[0..n) and the array are the caller's (free with
 *  sf_avro_rpc_call_free); client_protocol and message point into the payload parsed. */
struct sf_avro_rpc_call {
    bool had_handshake;
    unsigned char client_hash[16];     /* when had_handshake */
    unsigned char server_hash[16];     /* when had_handshake: the hash the client expects */
    const char *client_protocol;       /* when had_handshake and sent, else NULL; not NUL-ended */
    size_t client_protocol_len;        /* bytes */
    enum sf_avro_msg msg;
    char message[64];                  /* the message name, cut to fit (for messages) */
    struct sf_event **evs;             /* append: 1 event; appendBatch: n (maybe 0) */
    size_t n;
};

/**
 * Decode the call payload p[0..n) (unframed) received by a server.
 * @param handshake  1: the call starts with a HandshakeRequest (a connection's first call, or
 *                   a call after one answered NONE); 0: it does not; -1: either (a later call
 *                   of a connection: Java clients send the handshake with the first call only,
 *                   Python's avro.ipc with every call); the handshake is then taken when the
 *                   payload starts with known_hash and parses whole with it
 * @param known_hash  with handshake -1: the connection's clientHash (16 bytes), else unused
 * @param c  filled; on success its events are the caller's
 * @return SF_OK; SF_ERR_INVAL with errstr set when the bytes are not such a call (truncated,
 * a bad union index, a negative length or count, bytes left over, a header not a string);
 * SF_ERR_NOMEM. On failure nothing is left to free.
 */
int sf_avro_rpc_parse_call(const unsigned char *p, size_t n, int handshake,
                           const unsigned char *known_hash, struct sf_avro_rpc_call *c,
                           char *errstr, size_t errstr_size);

/** Free the events of c (c itself is the caller's). */
void sf_avro_rpc_call_free(struct sf_avro_rpc_call *c);

/**
 * The server's answer to a handshake (Avro Java's Responder): the client's protocol is known
 * when its clientHash is ours or known_client, or it sent its protocol text. BOTH when it is
 * known and its serverHash is ours; CLIENT when it is known but it expects another server
 * protocol; NONE when it is unknown (the client then sends again with its protocol text).
 */
enum sf_avro_match sf_avro_rpc_handshake_match(const struct sf_avro_rpc_call *c,
                                               bool known_client);

/**
 * Append a reply (not framed) to out: the HandshakeResponse when the call had a handshake
 * (match; with CLIENT and NONE our protocol text and hash), then, unless match is NONE or the
 * call was a ping, the empty metadata map and either the Status (error_msg NULL) or the
 * error flag with error_msg as the system-error union ["string"].
 */
void sf_avro_rpc_reply(struct sf_buf *out, bool handshake, enum sf_avro_match match, bool ping,
                       enum sf_avro_status status, const char *error_msg);

/** "OK", "FAILED", "UNKNOWN" (static). */
const char *sf_avro_status_name(enum sf_avro_status s);

#endif
