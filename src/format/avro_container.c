/*
 * The Avro object container file writer shared by the avro_event and avro serializers (see
 * avro_container.h): Avro 1.11 specification, "Object Container Files".
 *   header: "Obj" 0x01; the file metadata, a map<bytes> of one block: avro.schema (the file's
 *           schema), avro.codec (null, deflate or snappy); the file's 16-byte sync marker (random).
 *   blocks: the count of records (long), the byte size of the data (long), the data (the
 *           records, compressed as a whole by the codec), the sync marker.
 * Records are kept in an open block, closed (appended to out) when its uncompressed size reaches
 * syncIntervalBytes (as Avro's DataFileWriter does) and at every flush. Codecs: deflate is raw
 * deflate (RFC 1951, no zlib header, zlib's default level, as Java's Deflater(level, true));
 * snappy is a Snappy block followed by the big-endian CRC32 of the uncompressed data.
 */
#include "avro_container.h"

#include "sqlflume/error.h"

#include <errno.h>
#include <snappy-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

enum { CODEC_NULL, CODEC_DEFLATE, CODEC_SNAPPY };
static const char *const codec_names[] = { "null", "deflate", "snappy" };

const struct sf_option sf_avro_conf_options[] = {
    { "syncIntervalBytes", SF_OPT_INT, "2048000", 32, 1 << 30,
      offsetof(struct sf_avro_conf, sync_interval_bytes), 0, NULL, NULL,
      "bytes: a block is closed when its uncompressed size reaches this (Avro's sync interval)" },
    { "compressionCodec", SF_OPT_ENUM, "null", 0, 0, offsetof(struct sf_avro_conf, codec), 0, NULL,
      "null|deflate|snappy", "codec of the blocks: null (none), deflate (raw deflate), snappy" },
    { 0 },
};

static void put_long(struct sf_buf *out, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    unsigned char p[10];
    size_t n = 0;
    while (z >= 0x80) {
        p[n++] = (unsigned char)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (unsigned char)z;
    sf_buf_append(out, p, n);
}

static void put_bytes(struct sf_buf *out, const void *p, size_t n)
{
    put_long(out, (int64_t)n);
    sf_buf_append(out, p, n);
}

/* 16 random bytes: the kernel's, else a mix of the clock, the pid and an address (the marker
 * only needs to be unlikely to occur in the data). */
static void random_sync(unsigned char sync[16])
{
    size_t got = 0;
    while (got < 16) {
        ssize_t r = getrandom(sync + got, 16 - got, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    if (got == 16) {
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    uint64_t y = ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)sync;
    for (int i = 0; i < 16; i++) { /* splitmix64 steps */
        x += 0x9E3779B97F4A7C15ull ^ y;
        uint64_t z = x;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        sync[i] = (unsigned char)(z ^ (z >> 31));
    }
}

void sf_avro_container_start(struct sf_avro_container *a,
                             const struct sf_avro_conf *c,
                             const char *schema,
                             size_t schema_len,
                             struct sf_buf *out)
{
    sf_buf_reset(&a->block);
    a->count = 0;
    random_sync(a->sync);
    sf_buf_append(out, "Obj\x01", 4);
    put_long(out, 2); /* one block of two metadata entries */
    put_bytes(out, "avro.schema", 11);
    put_bytes(out, schema, schema_len);
    put_bytes(out, "avro.codec", 10);
    put_bytes(out, codec_names[c->codec], strlen(codec_names[c->codec]));
    put_long(out, 0);
    sf_buf_append(out, a->sync, 16);
}

int sf_avro_container_close_block(struct sf_avro_container *a,
                                  const struct sf_avro_conf *c,
                                  const char *what,
                                  struct sf_buf *out,
                                  char *errstr,
                                  size_t errstr_size)
{
    if (a->count == 0) {
        return SF_OK;
    }
    const char *data = a->block.data;
    size_t len = a->block.len;
    if (c->codec == CODEC_DEFLATE) {
        z_stream z;
        memset(&z, 0, sizeof(z));
        int zr = deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
        if (zr != Z_OK) {
            snprintf(errstr, errstr_size, "%s: deflateInit2 failed: %s", what,
                     zr == Z_MEM_ERROR ? "out of memory" : "bad parameters");
            return zr == Z_MEM_ERROR ? SF_ERR_NOMEM : SF_ERR_DATA;
        }
        uLong bound = deflateBound(&z, (uLong)len);
        sf_buf_reset(&a->packed);
        sf_buf_reserve(&a->packed, (size_t)bound);
        z.next_in = (Bytef *)(uintptr_t)data;
        z.avail_in = (uInt)len;
        z.next_out = (Bytef *)a->packed.data;
        z.avail_out = (uInt)bound;
        zr = deflate(&z, Z_FINISH);
        size_t plen = (size_t)z.total_out;
        deflateEnd(&z);
        if (zr != Z_STREAM_END) {
            snprintf(errstr, errstr_size,
                     "%s: deflate of a block of %zu bytes failed (zlib error %d)", what, len, zr);
            return SF_ERR_DATA;
        }
        a->packed.len = plen;
        data = a->packed.data;
        len = plen;
    } else if (c->codec == CODEC_SNAPPY) {
        size_t plen = snappy_max_compressed_length(len);
        sf_buf_reset(&a->packed);
        sf_buf_reserve(&a->packed, plen + 4);
        snappy_status st = snappy_compress(data, len, a->packed.data, &plen);
        if (st != SNAPPY_OK) {
            snprintf(errstr, errstr_size,
                     "%s: snappy_compress of a block of %zu bytes failed (status %d)", what, len,
                     (int)st);
            return st == SNAPPY_BUFFER_TOO_SMALL ? SF_ERR_DATA : SF_ERR_NOMEM;
        }
        uLong crc = crc32(0L, (const Bytef *)data, (uInt)len);
        unsigned char be[4] = { (unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                                (unsigned char)(crc >> 8), (unsigned char)crc };
        memcpy(a->packed.data + plen, be, 4);
        a->packed.len = plen + 4;
        data = a->packed.data;
        len = a->packed.len;
    }
    put_long(out, a->count);
    put_long(out, (int64_t)len);
    sf_buf_append(out, data, len);
    sf_buf_append(out, a->sync, 16);
    sf_buf_reset(&a->block);
    a->count = 0;
    return SF_OK;
}

int sf_avro_container_added(struct sf_avro_container *a,
                            const struct sf_avro_conf *c,
                            const char *what,
                            struct sf_buf *out,
                            char *errstr,
                            size_t errstr_size)
{
    a->count++;
    if ((long long)a->block.len >= c->sync_interval_bytes) {
        return sf_avro_container_close_block(a, c, what, out, errstr, errstr_size);
    }
    return SF_OK;
}

void sf_avro_container_free(struct sf_avro_container *a)
{
    sf_buf_free(&a->block);
    sf_buf_free(&a->packed);
}
