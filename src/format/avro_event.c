/*
 * AvroFlumeEvent datums (see sqlflume/avro_event.h), written directly: the schema is fixed, so
 * the encoder is a few varints and copies (Avro 1.11 specification, "Binary Encoding": long as
 * zig-zag varint; string and bytes as a long length and the bytes; map as blocks of a long count
 * and that many key/value pairs, ended by a block of count 0).
 */
#include "sqlflume/avro_event.h"

#include <stdint.h>
#include <string.h>

const char sf_avro_event_schema[] =
    "{\"type\":\"record\",\"name\":\"AvroFlumeEvent\",\"namespace\":\"org.apache.flume.source."
    "avro\","
    "\"fields\":[{\"name\":\"headers\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"
    "{\"name\":\"body\",\"type\":\"bytes\"}]}";

size_t sf_avro_put_long(unsigned char *p, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (unsigned char)z;
    return n;
}

size_t sf_avro_event_encode(struct sf_buf *out, const struct sf_event *ev)
{
    size_t at = out->len;
    size_t strs;
    (void)sf_event_strs(ev, &strs);
    /* every string and count gets at most 10 bytes of length; the NULs of strs are not copied */
    sf_buf_reserve(out, 10 * (2 * ev->nheaders + 3) + strs + ev->body_len);
    unsigned char *p = (unsigned char *)out->data + out->len;
    if (ev->nheaders > 0) {
        p += sf_avro_put_long(p, (int64_t)ev->nheaders);
        for (size_t i = 0; i < ev->nheaders; i++) {
            size_t kl = sf_event_key_len(ev, i), vl = sf_event_val_len(ev, i);
            p += sf_avro_put_long(p, (int64_t)kl);
            memcpy(p, ev->headers[i].key, kl);
            p += kl;
            p += sf_avro_put_long(p, (int64_t)vl);
            memcpy(p, ev->headers[i].val, vl);
            p += vl;
        }
    }
    *p++ = 0; /* end of the map */
    p += sf_avro_put_long(p, (int64_t)ev->body_len);
    memcpy(p, ev->body, ev->body_len);
    p += ev->body_len;
    out->len = (size_t)((char *)p - out->data);
    out->data[out->len] = '\0'; /* sf_buf's terminator: room was reserved */
    return at;
}
