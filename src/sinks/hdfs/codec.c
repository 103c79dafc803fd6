/*
 * Streaming compressors of the HDFS sink's CompressedStream files: zlib (gzip and zlib streams),
 * libbz2 and Snappy, one member per flush. The interface and the format choices are described
 * in codec.h.
 */
#include "codec.h"

#include <bzlib.h>
#include <limits.h>
#include <snappy-c.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "sqlflume/error.h"

#define HADOOP_PKG "org.apache.hadoop.io.compress."

static const struct sf_codec_desc codecs[] = {
    { SF_CODEC_GZIP, "gzip", HADOOP_PKG "GzipCodec", ".gz" },
    { SF_CODEC_BZIP2, "bzip2", HADOOP_PKG "BZip2Codec", ".bz2" },
    { SF_CODEC_ZLIB, "deflate", HADOOP_PKG "DeflateCodec", ".deflate" },
    { SF_CODEC_ZLIB, "default", HADOOP_PKG "DefaultCodec", ".deflate" },
    { SF_CODEC_SNAPPY, "snappy", HADOOP_PKG "SnappyCodec", ".snappy" },
};
#define NCODECS (sizeof(codecs) / sizeof(codecs[0]))

/* room asked of the output buffer before each library call */
#define OUT_CHUNK 65536

int sf_codec_lookup(const char *name, const struct sf_codec_desc **out, char *err, size_t errsz)
{
    if (name && *name) {
        for (size_t i = 0; i < NCODECS; i++) {
            const char *simple = codecs[i].class_name + strlen(HADOOP_PKG);
            if (strcasecmp(name, codecs[i].name) == 0 || strcasecmp(name, simple) == 0 ||
                strcasecmp(name, codecs[i].class_name) == 0) {
                *out = &codecs[i];
                return SF_OK;
            }
        }
    }
    if (errsz > 0) {
        int n = snprintf(err, errsz, "unsupported compression codec '%s'; known:", name ? name : "");
        for (size_t i = 0; i < NCODECS && n >= 0 && (size_t)n < errsz; i++) {
            n += snprintf(err + n, errsz - (size_t)n, "%s %s", i ? "," : "", codecs[i].name);
        }
    }
    return SF_ERR_INVAL;
}

struct sf_compressor {
    const struct sf_codec_desc *codec;
    bool pending;  /* input was written to the current member */
    bool emitted;  /* at least one member was ended (bytes were produced) */
    bool finished; /* sf_compressor_finish was called */
    bool lib_init; /* zs or bz holds an initialized stream */
    z_stream zs;
    bz_stream bz;
    struct sf_buf snap; /* Snappy: the current block's input (< SF_CODEC_SNAPPY_BLOCK bytes) */
    unsigned long long bytes_in;
};

/* Point next_out/avail_out at out's free space, at least OUT_CHUNK bytes (keeping out's NUL). */
static char *out_space(struct sf_buf *out, unsigned *avail)
{
    sf_buf_reserve(out, OUT_CHUNK);
    size_t room = out->cap - out->len - 1;
    *avail = room > UINT_MAX ? UINT_MAX : (unsigned)room;
    return out->data + out->len;
}

static void out_commit(struct sf_buf *out, size_t produced)
{
    out->len += produced;
    out->data[out->len] = '\0';
}

static int lib_start(struct sf_compressor *z)
{
    if (z->lib_init) {
        return SF_OK;
    }
    int rc;
    switch (z->codec->kind) {
    case SF_CODEC_GZIP:
    case SF_CODEC_ZLIB:
        memset(&z->zs, 0, sizeof(z->zs));
        /* windowBits 15 + 16: a gzip header and trailer instead of zlib's */
        rc = deflateInit2(&z->zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED,
                          z->codec->kind == SF_CODEC_GZIP ? 15 + 16 : 15, 8, Z_DEFAULT_STRATEGY);
        if (rc != Z_OK) {
            return rc == Z_MEM_ERROR ? SF_ERR_NOMEM : SF_ERR_IO;
        }
        break;
    case SF_CODEC_BZIP2:
        memset(&z->bz, 0, sizeof(z->bz));
        rc = BZ2_bzCompressInit(&z->bz, 9, 0, 0);
        if (rc != BZ_OK) {
            return rc == BZ_MEM_ERROR ? SF_ERR_NOMEM : SF_ERR_IO;
        }
        break;
    case SF_CODEC_SNAPPY:
        return SF_OK;
    }
    z->lib_init = true;
    return SF_OK;
}

static void lib_end(struct sf_compressor *z)
{
    if (!z->lib_init) {
        return;
    }
    if (z->codec->kind == SF_CODEC_BZIP2) {
        BZ2_bzCompressEnd(&z->bz);
    } else {
        deflateEnd(&z->zs);
    }
    z->lib_init = false;
}

/* Feed len bytes to zlib with mode Z_NO_FLUSH or Z_FINISH (then until the member's end). */
static int zlib_run(struct sf_compressor *z, const char *data, size_t len, int mode,
                    struct sf_buf *out)
{
    z_stream *s = &z->zs;
    do {
        size_t take = len > UINT_MAX ? UINT_MAX : len;
        s->next_in = (Bytef *)(uintptr_t)data;
        s->avail_in = (uInt)take;
        data += take;
        len -= take;
        int flush = len == 0 ? mode : Z_NO_FLUSH;
        for (;;) {
            unsigned avail;
            s->next_out = (Bytef *)out_space(out, &avail);
            s->avail_out = avail;
            int rc = deflate(s, flush);
            out_commit(out, avail - s->avail_out);
            if (rc == Z_STREAM_ERROR) {
                return SF_ERR_IO;
            }
            if (flush == Z_FINISH ? rc == Z_STREAM_END : s->avail_in == 0 && s->avail_out != 0) {
                break;
            }
        }
    } while (len > 0);
    return SF_OK;
}

/* Feed len bytes to libbz2 with action BZ_RUN or BZ_FINISH (then until the stream's end). */
static int bzip2_run(struct sf_compressor *z, const char *data, size_t len, int action,
                     struct sf_buf *out)
{
    bz_stream *s = &z->bz;
    do {
        size_t take = len > UINT_MAX ? UINT_MAX : len;
        s->next_in = (char *)(uintptr_t)data;
        s->avail_in = (unsigned)take;
        data += take;
        len -= take;
        int act = len == 0 ? action : BZ_RUN;
        for (;;) {
            unsigned avail;
            s->next_out = out_space(out, &avail);
            s->avail_out = avail;
            int rc = BZ2_bzCompress(s, act);
            out_commit(out, avail - s->avail_out);
            if (rc != BZ_RUN_OK && rc != BZ_FINISH_OK && rc != BZ_STREAM_END) {
                return SF_ERR_IO;
            }
            if (act == BZ_FINISH ? rc == BZ_STREAM_END : s->avail_in == 0 && s->avail_out != 0) {
                break;
            }
        }
    } while (len > 0);
    return SF_OK;
}

static void put_be32(char *p, size_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

/* One Hadoop Snappy block of n (<= SF_CODEC_SNAPPY_BLOCK) bytes: BE32 n, BE32 clen, bytes. */
static int snappy_block(const char *p, size_t n, struct sf_buf *out)
{
    size_t clen = snappy_max_compressed_length(n);
    sf_buf_reserve(out, 8 + clen);
    char *dst = out->data + out->len;
    if (snappy_compress(p, n, dst + 8, &clen) != SNAPPY_OK) {
        return SF_ERR_IO;
    }
    put_be32(dst, n);
    put_be32(dst + 4, clen);
    out_commit(out, 8 + clen);
    return SF_OK;
}

static int snappy_write(struct sf_compressor *z, const char *data, size_t len, struct sf_buf *out)
{
    while (len > 0) {
        if (z->snap.len == 0 && len >= SF_CODEC_SNAPPY_BLOCK) { /* a whole block: no copy */
            int rc = snappy_block(data, SF_CODEC_SNAPPY_BLOCK, out);
            if (rc != SF_OK) {
                return rc;
            }
            data += SF_CODEC_SNAPPY_BLOCK;
            len -= SF_CODEC_SNAPPY_BLOCK;
            continue;
        }
        size_t take = SF_CODEC_SNAPPY_BLOCK - z->snap.len;
        if (take > len) {
            take = len;
        }
        sf_buf_append(&z->snap, data, take);
        data += take;
        len -= take;
        if (z->snap.len == SF_CODEC_SNAPPY_BLOCK) {
            int rc = snappy_block(z->snap.data, z->snap.len, out);
            sf_buf_reset(&z->snap);
            if (rc != SF_OK) {
                return rc;
            }
        }
    }
    return SF_OK;
}

int sf_compressor_new(const struct sf_codec_desc *codec, struct sf_compressor **out)
{
    if (!codec) {
        return SF_ERR_INVAL;
    }
    struct sf_compressor *z = calloc(1, sizeof(*z));
    if (!z) {
        return SF_ERR_NOMEM;
    }
    z->codec = codec;
    int rc = lib_start(z);
    if (rc != SF_OK) {
        free(z);
        return rc;
    }
    *out = z;
    return SF_OK;
}

int sf_compressor_write(struct sf_compressor *z, const void *data, size_t len, struct sf_buf *out)
{
    if (z->finished) {
        return SF_ERR_STATE;
    }
    if (len == 0) {
        return SF_OK;
    }
    int rc = lib_start(z);
    if (rc != SF_OK) {
        return rc;
    }
    z->pending = true;
    z->bytes_in += len;
    switch (z->codec->kind) {
    case SF_CODEC_GZIP:
    case SF_CODEC_ZLIB:
        return zlib_run(z, data, len, Z_NO_FLUSH, out);
    case SF_CODEC_BZIP2:
        return bzip2_run(z, data, len, BZ_RUN, out);
    case SF_CODEC_SNAPPY:
        return snappy_write(z, data, len, out);
    }
    return SF_ERR_INVAL;
}

int sf_compressor_flush(struct sf_compressor *z, struct sf_buf *out)
{
    if (z->finished) {
        return SF_ERR_STATE;
    }
    if (z->codec->kind == SF_CODEC_SNAPPY) {
        int rc = SF_OK;
        if (z->snap.len > 0) {
            rc = snappy_block(z->snap.data, z->snap.len, out);
            sf_buf_reset(&z->snap);
        }
        z->pending = false;
        return rc;
    }
    if (!z->pending && z->emitted) {
        return SF_OK;
    }
    int rc = lib_start(z);
    if (rc != SF_OK) {
        return rc;
    }
    if (z->codec->kind == SF_CODEC_BZIP2) {
        /* libbz2 has no reset: end the stream, a new one starts at the next write */
        rc = bzip2_run(z, NULL, 0, BZ_FINISH, out);
        lib_end(z);
    } else {
        rc = zlib_run(z, NULL, 0, Z_FINISH, out);
        if (rc == SF_OK && deflateReset(&z->zs) != Z_OK) {
            rc = SF_ERR_IO;
        }
    }
    if (rc == SF_OK) {
        z->pending = false;
        z->emitted = true;
    }
    return rc;
}

int sf_compressor_finish(struct sf_compressor *z, struct sf_buf *out)
{
    if (z->finished) {
        return SF_OK;
    }
    int rc = sf_compressor_flush(z, out);
    if (rc == SF_OK) {
        z->finished = true;
        lib_end(z);
        sf_buf_free(&z->snap);
    }
    return rc;
}

unsigned long long sf_compressor_bytes_in(const struct sf_compressor *z)
{
    return z->bytes_in;
}

void sf_compressor_free(struct sf_compressor *z)
{
    if (!z) {
        return;
    }
    lib_end(z);
    sf_buf_free(&z->snap);
    free(z);
}
