/*
 * Avro RPC framing, calls and replies (see avro_rpc.h). The datums are written directly, as
 * src/format/avro_event.c writes AvroFlumeEvent: the schemas are fixed.
 */
#include "avro_rpc.h"

#include "sqlflume/avro_event.h"

#include "sqlflume/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char sf_avro_rpc_protocol[] =
    "{\"protocol\":\"AvroSourceProtocol\",\"namespace\":\"org.apache.flume.source.avro\","
    "\"types\":[{\"type\":\"enum\",\"name\":\"Status\",\"symbols\":[\"OK\",\"FAILED\","
    "\"UNKNOWN\"]},{\"type\":\"record\",\"name\":\"AvroFlumeEvent\",\"fields\":[{\"name\":"
    "\"headers\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},{\"name\":\"body\","
    "\"type\":\"bytes\"}]}],\"messages\":{\"append\":{\"request\":[{\"name\":\"event\","
    "\"type\":\"AvroFlumeEvent\"}],\"response\":\"Status\"},\"appendBatch\":{\"request\":"
    "[{\"name\":\"events\",\"type\":{\"type\":\"array\",\"items\":\"AvroFlumeEvent\"}}],"
    "\"response\":\"Status\"}}}";

/* MD5 of the text above; tests/support/flume_avro_server.py checks it against the bytes sent */
const unsigned char sf_avro_rpc_protocol_md5[16] = {
    0x30, 0xda, 0x54, 0x05, 0x9d, 0xf7, 0x2d, 0x95,
    0x84, 0xb8, 0x67, 0xd5, 0x20, 0x2e, 0x20, 0x69,
};

static void put_be32(struct sf_buf *out, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v };
    sf_buf_append(out, b, 4);
}

static uint32_t get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_long(struct sf_buf *out, int64_t v)
{
    sf_buf_reserve(out, 10);
    out->len += sf_avro_put_long((unsigned char *)out->data + out->len, v);
    out->data[out->len] = '\0';
}

static void put_string(struct sf_buf *out, const char *s, size_t len)
{
    put_long(out, (int64_t)len);
    sf_buf_append(out, s, len);
}

void sf_avro_rpc_frame(struct sf_buf *out, int32_t serial, const void *payload, size_t len)
{
    size_t frames = len == 0 ? 1 : (len + SF_AVRO_RPC_FRAME_BYTES - 1) / SF_AVRO_RPC_FRAME_BYTES;
    sf_buf_reserve(out, 8 + 4 * frames + len);
    put_be32(out, (uint32_t)serial);
    put_be32(out, (uint32_t)frames);
    const char *p = payload;
    for (size_t i = 0; i < frames; i++) {
        size_t k = len - i * SF_AVRO_RPC_FRAME_BYTES;
        k = k > SF_AVRO_RPC_FRAME_BYTES ? SF_AVRO_RPC_FRAME_BYTES : k;
        put_be32(out, (uint32_t)k);
        if (k > 0) {
            sf_buf_append(out, p + i * SF_AVRO_RPC_FRAME_BYTES, k);
        }
    }
}

void sf_avro_rpc_append_batch(struct sf_buf *out, bool handshake, struct sf_event *const *evs,
                              size_t n)
{
    if (handshake) {
        sf_buf_append(out, sf_avro_rpc_protocol_md5, 16); /* clientHash */
        put_long(out, 1);                                  /* clientProtocol: string */
        put_string(out, sf_avro_rpc_protocol, sizeof(sf_avro_rpc_protocol) - 1);
        sf_buf_append(out, sf_avro_rpc_protocol_md5, 16); /* serverHash: ours, as Java guesses */
        put_long(out, 0);                                  /* meta: null */
    }
    put_long(out, 0); /* call metadata: an empty map */
    put_string(out, "appendBatch", strlen("appendBatch"));
    if (n > 0) {
        put_long(out, (int64_t)n);
        for (size_t i = 0; i < n; i++) {
            (void)sf_avro_event_encode(out, evs[i]);
        }
    }
    put_long(out, 0); /* end of the array */
}

int sf_avro_rpc_unframe(const unsigned char *p, size_t n, long long max, int32_t *serial,
                        struct sf_buf *payload, size_t *used, char *errstr, size_t errstr_size)
{
    if (n < 8) {
        return 0;
    }
    uint32_t frames = get_be32(p + 4);
    long long size = 8 + 4LL * frames;
    if (size > max) {
        snprintf(errstr, errstr_size, "a message of %u frames is over the %lld-byte limit",
                 frames, max);
        return -1;
    }
    size_t at = 8;
    for (uint32_t i = 0; i < frames; i++) {
        if (n - at < 4) {
            return 0;
        }
        uint32_t len = get_be32(p + at);
        size += len;
        if (len > 0x7fffffffu || size > max) {
            snprintf(errstr, errstr_size, "frame %u of %u, %u bytes long, takes the message over "
                     "the %lld-byte limit", i + 1, frames, len, max);
            return -1;
        }
        if (n - at - 4 < len) {
            return 0;
        }
        at += 4 + len;
    }
    /* whole: copy the frames out */
    *serial = (int32_t)get_be32(p);
    at = 8;
    for (uint32_t i = 0; i < frames; i++) {
        uint32_t len = get_be32(p + at);
        sf_buf_append(payload, p + at + 4, len);
        at += 4 + len;
    }
    *used = at;
    return 1;
}

/* A bounded reader of Avro binary datums. */
struct rd {
    const unsigned char *p;
    size_t n, at;
    bool bad;
};

static int64_t rd_long(struct rd *r)
{
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->at >= r->n) {
            r->bad = true;
            return 0;
        }
        unsigned char b = r->p[r->at++];
        z |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            return (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
        }
    }
    r->bad = true;
    return 0;
}

/* Skip n bytes; NULL when they are not there. @return where they start */
static const unsigned char *rd_bytes(struct rd *r, int64_t n)
{
    if (r->bad || n < 0 || (uint64_t)n > r->n - r->at) {
        r->bad = true;
        return NULL;
    }
    const unsigned char *at = r->p + r->at;
    r->at += (size_t)n;
    return at;
}

/* Skip a map<bytes> (also map<string>): blocks of count entries, a negative count followed by
 * the block's size in bytes, as the specification allows. */
static void rd_skip_map(struct rd *r)
{
    for (;;) {
        int64_t c = rd_long(r);
        if (r->bad || c == 0) {
            return;
        }
        if (c < 0) {
            int64_t size = rd_long(r);
            (void)rd_bytes(r, size);
            continue;
        }
        for (int64_t i = 0; i < c && !r->bad; i++) {
            (void)rd_bytes(r, rd_long(r));
            (void)rd_bytes(r, rd_long(r));
        }
    }
}

int sf_avro_rpc_parse_reply(const unsigned char *p, size_t n, bool with_handshake,
                            struct sf_avro_rpc_reply *r, char *errstr, size_t errstr_size)
{
    struct rd rd = { p, n, 0, false };
    memset(r, 0, sizeof(*r));
    const char *what = "handshake response";
    if (with_handshake) {
        r->had_handshake = true;
        int64_t m = rd_long(&rd);
        if (!rd.bad && (m < 0 || m > 2)) {
            snprintf(errstr, errstr_size, "handshake response: match index %lld", (long long)m);
            return -1;
        }
        r->match = (enum sf_avro_match)m;
        int64_t u = rd_long(&rd); /* serverProtocol */
        if (u == 1) {
            (void)rd_bytes(&rd, rd_long(&rd));
        } else if (u != 0) {
            rd.bad = true;
        }
        u = rd_long(&rd); /* serverHash */
        if (u == 1) {
            (void)rd_bytes(&rd, 16);
        } else if (u != 0) {
            rd.bad = true;
        }
        u = rd_long(&rd); /* meta */
        if (u == 1) {
            rd_skip_map(&rd);
        } else if (u != 0) {
            rd.bad = true;
        }
        if (!rd.bad && r->match == SF_AVRO_MATCH_NONE) {
            snprintf(errstr, errstr_size, "the server does not accept the AvroSourceProtocol "
                     "sent in the handshake (match NONE)");
            return -1;
        }
    }
    if (!rd.bad) {
        what = "reply";
        rd_skip_map(&rd);
        const unsigned char *flag = rd_bytes(&rd, 1);
        if (flag && *flag > 1) {
            rd.bad = true;
        } else if (flag && *flag == 1) {
            r->error = true;
            int64_t u = rd_long(&rd);
            if (u != 0) {
                rd.bad = true; /* the protocol declares no errors: the union is ["string"] */
            } else {
                int64_t len = rd_long(&rd);
                const unsigned char *s = rd_bytes(&rd, len);
                if (s) {
                    size_t k = (size_t)len < sizeof(r->error_msg) - 1 ? (size_t)len
                                                                      : sizeof(r->error_msg) - 1;
                    memcpy(r->error_msg, s, k);
                    r->error_msg[k] = '\0';
                }
            }
        } else if (flag) {
            int64_t s = rd_long(&rd);
            if (!rd.bad && (s < 0 || s > 2)) {
                snprintf(errstr, errstr_size, "reply: Status index %lld", (long long)s);
                return -1;
            }
            r->status = (enum sf_avro_status)s;
        }
    }
    if (rd.bad) {
        snprintf(errstr, errstr_size, "%s: truncated or malformed (%zu bytes)", what, n);
        return -1;
    }
    return 0;
}

/* ---- the server side ---- */

/* A HandshakeRequest: clientHash, clientProtocol [null, string], serverHash, meta. */
static void rd_handshake(struct rd *r, struct sf_avro_rpc_call *c)
{
    const unsigned char *h = rd_bytes(r, 16);
    if (h) {
        memcpy(c->client_hash, h, 16);
    }
    int64_t u = rd_long(r);
    if (u == 1) {
        int64_t len = rd_long(r);
        c->client_protocol = (const char *)rd_bytes(r, len);
        c->client_protocol_len = c->client_protocol ? (size_t)len : 0;
    } else if (u != 0) {
        r->bad = true;
    }
    h = rd_bytes(r, 16);
    if (h) {
        memcpy(c->server_hash, h, 16);
    }
    u = rd_long(r);
    if (u == 1) {
        rd_skip_map(r);
    } else if (u != 0) {
        r->bad = true;
    }
    c->had_handshake = !r->bad;
}

/* A block count of an array or map: a negative count is followed by the block's byte size.
 * @return the count (>= 0); bad set when it cannot be there (each item takes >= min_item bytes) */
static int64_t rd_count(struct rd *r, size_t min_item)
{
    int64_t c = rd_long(r);
    if (c < 0) {
        if (c == INT64_MIN) {
            r->bad = true;
            return 0;
        }
        c = -c;
        (void)rd_long(r);
    }
    if (!r->bad && (uint64_t)c > (r->n - r->at) / min_item) {
        r->bad = true;
    }
    return r->bad ? 0 : c;
}

/* One AvroFlumeEvent {headers: map<string>, body: bytes}; hs is scratch for its headers.
 * @return the event, NULL with bad set (malformed) or not (out of memory) */
static struct sf_event *rd_event(struct rd *r, struct sf_header_lens **hs, size_t *hcap)
{
    size_t nh = 0;
    for (;;) {
        int64_t c = rd_count(r, 2);
        if (r->bad || c == 0) {
            break;
        }
        if (nh + (size_t)c > *hcap) {
            size_t cap = (nh + (size_t)c) * 2;
            struct sf_header_lens *g = realloc(*hs, cap * sizeof(**hs));
            if (!g) {
                return NULL;
            }
            *hs = g;
            *hcap = cap;
        }
        for (int64_t i = 0; i < c && !r->bad; i++) {
            int64_t kl = rd_long(r);
            const unsigned char *k = rd_bytes(r, kl);
            int64_t vl = rd_long(r);
            const unsigned char *v = rd_bytes(r, vl);
            if (k && v) {
                (*hs)[nh++] = (struct sf_header_lens){ (const char *)k, (size_t)kl,
                                                       (const char *)v, (size_t)vl };
            }
        }
    }
    int64_t bl = rd_long(r);
    const unsigned char *body = rd_bytes(r, bl);
    if (r->bad) {
        return NULL;
    }
    return sf_event_create_lens(*hs, nh, body, (size_t)bl);
}

void sf_avro_rpc_call_free(struct sf_avro_rpc_call *c)
{
    for (size_t i = 0; i < c->n; i++) {
        sf_event_destroy(c->evs[i]);
    }
    free(c->evs);
    c->evs = NULL;
    c->n = 0;
}

/* Parse with the handshake present or not. @return SF_OK, SF_ERR_INVAL (what in errstr),
 * SF_ERR_NOMEM */
static int parse_call(const unsigned char *p, size_t n, bool handshake,
                      struct sf_avro_rpc_call *c, char *errstr, size_t errstr_size)
{
    struct rd r = { p, n, 0, false };
    memset(c, 0, sizeof(*c));
    const char *what = "handshake request";
    if (handshake) {
        rd_handshake(&r, c);
    }
    if (!r.bad) {
        what = "call metadata";
        rd_skip_map(&r);
    }
    if (!r.bad) {
        what = "message name";
        int64_t len = rd_long(&r);
        const unsigned char *name = rd_bytes(&r, len);
        if (name) {
            size_t k = (size_t)len < sizeof(c->message) - 1 ? (size_t)len : sizeof(c->message) - 1;
            memcpy(c->message, name, k);
            c->message[k] = '\0';
            c->msg = len == 0                                           ? SF_AVRO_MSG_PING
                     : len == 6 && memcmp(name, "append", 6) == 0       ? SF_AVRO_MSG_APPEND
                     : len == 11 && memcmp(name, "appendBatch", 11) == 0 ? SF_AVRO_MSG_APPEND_BATCH
                                                                         : SF_AVRO_MSG_UNKNOWN;
        }
    }
    struct sf_header_lens *hs = NULL;
    size_t hcap = 0, cap = 0;
    int rc = SF_OK;
    if (!r.bad && c->msg == SF_AVRO_MSG_APPEND) {
        what = "append's event";
        c->evs = malloc(sizeof(*c->evs));
        c->evs[0] = c->evs ? rd_event(&r, &hs, &hcap) : NULL;
        c->n = c->evs && c->evs[0] ? 1 : 0;
        rc = c->n == 1 || r.bad ? SF_OK : SF_ERR_NOMEM;
    } else if (!r.bad && c->msg == SF_AVRO_MSG_APPEND_BATCH) {
        what = "appendBatch's events";
        for (;;) {
            int64_t k = rd_count(&r, 2);
            if (r.bad || k == 0) {
                break;
            }
            if (c->n + (size_t)k > cap) {
                cap = c->n + (size_t)k;
                struct sf_event **g = realloc(c->evs, cap * sizeof(*g));
                if (!g) {
                    rc = SF_ERR_NOMEM;
                    break;
                }
                c->evs = g;
            }
            for (int64_t i = 0; i < k && !r.bad && rc == SF_OK; i++) {
                struct sf_event *ev = rd_event(&r, &hs, &hcap);
                if (ev) {
                    c->evs[c->n++] = ev;
                } else if (!r.bad) {
                    rc = SF_ERR_NOMEM;
                }
            }
            if (rc != SF_OK) {
                break;
            }
        }
    }
    free(hs);
    if (rc == SF_OK && !r.bad && r.at != n && c->msg != SF_AVRO_MSG_UNKNOWN) {
        snprintf(errstr, errstr_size, "%zu bytes left over after the call's parameters",
                 n - r.at);
        rc = SF_ERR_INVAL;
    } else if (rc == SF_OK && r.bad) {
        snprintf(errstr, errstr_size, "%s: truncated or malformed (%zu bytes)", what, n);
        rc = SF_ERR_INVAL;
    } else if (rc == SF_ERR_NOMEM) {
        snprintf(errstr, errstr_size, "out of memory for the call's events");
    }
    if (rc != SF_OK) {
        sf_avro_rpc_call_free(c);
    }
    return rc;
}

int sf_avro_rpc_parse_call(const unsigned char *p, size_t n, int handshake,
                           const unsigned char *known_hash, struct sf_avro_rpc_call *c,
                           char *errstr, size_t errstr_size)
{
    if (handshake < 0) {
        if (known_hash && n >= 16 && memcmp(p, known_hash, 16) == 0 &&
            parse_call(p, n, true, c, errstr, errstr_size) == SF_OK) {
            return SF_OK;
        }
        handshake = 0;
    }
    return parse_call(p, n, handshake > 0, c, errstr, errstr_size);
}

enum sf_avro_match sf_avro_rpc_handshake_match(const struct sf_avro_rpc_call *c, bool known_client)
{
    bool known = known_client || c->client_protocol ||
                 memcmp(c->client_hash, sf_avro_rpc_protocol_md5, 16) == 0;
    if (!known) {
        return SF_AVRO_MATCH_NONE;
    }
    return memcmp(c->server_hash, sf_avro_rpc_protocol_md5, 16) == 0 ? SF_AVRO_MATCH_BOTH
                                                                      : SF_AVRO_MATCH_CLIENT;
}

void sf_avro_rpc_reply(struct sf_buf *out, bool handshake, enum sf_avro_match match, bool ping,
                       enum sf_avro_status status, const char *error_msg)
{
    if (handshake) {
        put_long(out, (int64_t)match);
        if (match == SF_AVRO_MATCH_BOTH) {
            put_long(out, 0); /* serverProtocol: null */
            put_long(out, 0); /* serverHash: null */
        } else {
            put_long(out, 1);
            put_string(out, sf_avro_rpc_protocol, sizeof(sf_avro_rpc_protocol) - 1);
            put_long(out, 1);
            sf_buf_append(out, sf_avro_rpc_protocol_md5, 16);
        }
        put_long(out, 0); /* meta: null */
        if (match == SF_AVRO_MATCH_NONE) {
            return;
        }
    }
    if (ping) {
        return;
    }
    put_long(out, 0); /* metadata: an empty map */
    if (error_msg) {
        sf_buf_append(out, "\1", 1);
        put_long(out, 0); /* the union ["string"] */
        put_string(out, error_msg, strlen(error_msg));
    } else {
        sf_buf_append(out, "\0", 1);
        put_long(out, (int64_t)status);
    }
}

const char *sf_avro_status_name(enum sf_avro_status s)
{
    switch (s) {
    case SF_AVRO_STATUS_OK:
        return "OK";
    case SF_AVRO_STATUS_FAILED:
        return "FAILED";
    default:
        return "UNKNOWN";
    }
}
