/*
 * Avro RPC framing, calls and replies (see avro_rpc.h). The datums are written directly, as
 * src/format/avro_event.c writes AvroFlumeEvent: the schemas are fixed.
 */
#include "avro_rpc.h"

#include "sqlflume/avro_event.h"

#include <stdio.h>
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
