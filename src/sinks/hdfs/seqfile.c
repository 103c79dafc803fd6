/*
 * Hadoop SequenceFile writer (see seqfile.h).
 */
#include "seqfile.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <zlib.h>

#include "sqlflume/error.h"

static const char KEY_CLASS[] = "org.apache.hadoop.io.LongWritable";

static void put_be32(struct sf_buf *out, uint32_t v)
{
    unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
                           (unsigned char)(v >> 8), (unsigned char)v };
    sf_buf_append(out, b, 4);
}

static void put_be64(struct sf_buf *out, uint64_t v)
{
    put_be32(out, (uint32_t)(v >> 32));
    put_be32(out, (uint32_t)v);
}

void sf_seq_put_vlong(struct sf_buf *out, long long v)
{
    if (v >= -112 && v <= 127) {
        sf_buf_putc(out, (char)(signed char)v);
        return;
    }
    int len = -112;
    uint64_t mag = (uint64_t)v;
    if (v < 0) {
        mag = ~(uint64_t)v; /* one's complement, as Java's i ^= -1L */
        len = -120;
    }
    for (uint64_t tmp = mag; tmp != 0; tmp >>= 8) {
        len--;
    }
    sf_buf_putc(out, (char)(signed char)len);
    int n = len < -120 ? -(len + 120) : -(len + 112);
    for (int i = n; i > 0; i--) {
        sf_buf_putc(out, (char)(unsigned char)(mag >> ((i - 1) * 8)));
    }
}

/* Hadoop Text: vint length, then the bytes */
static void put_text(struct sf_buf *out, const char *s, size_t n)
{
    sf_seq_put_vlong(out, (long long)n);
    sf_buf_append(out, s, n);
}

static const char *codec_class(enum sf_seq_codec c)
{
    return c == SF_SEQ_GZIP ? "org.apache.hadoop.io.compress.GzipCodec"
                            : "org.apache.hadoop.io.compress.DefaultCodec";
}

const char *sf_seq_codec_extension(enum sf_seq_codec codec)
{
    return codec == SF_SEQ_GZIP ? ".gz" : codec == SF_SEQ_DEFLATE ? ".deflate" : "";
}

int sf_seqfile_begin(struct sf_seqfile *sq, enum sf_seq_value value, enum sf_seq_codec codec,
                     struct sf_buf *out)
{
    memset(sq, 0, sizeof(*sq));
    sq->value = value;
    sq->codec = codec;
    if (getrandom(sq->sync, sizeof(sq->sync), 0) != (ssize_t)sizeof(sq->sync)) {
        return SF_ERR_IO;
    }
    size_t start = out->len;
    sf_buf_append(out, "SEQ\x06", 4);
    put_text(out, KEY_CLASS, sizeof(KEY_CLASS) - 1);
    const char *vc = value == SF_SEQ_TEXT ? "org.apache.hadoop.io.Text"
                                          : "org.apache.hadoop.io.BytesWritable";
    put_text(out, vc, strlen(vc));
    sf_buf_putc(out, codec != SF_SEQ_NONE); /* compressed */
    sf_buf_putc(out, codec != SF_SEQ_NONE); /* blockCompressed: only block compression here */
    if (codec != SF_SEQ_NONE) {
        const char *cc = codec_class(codec);
        put_text(out, cc, strlen(cc));
    }
    put_be32(out, 0); /* metadata: no pairs */
    sf_buf_append(out, sq->sync, sizeof(sq->sync));
    sq->since_sync = out->len - start;
    return SF_OK;
}

/* the serialized value: BytesWritable = int32 length + bytes; Text = vint length + bytes */
static void put_value(const struct sf_seqfile *sq, struct sf_buf *out, const void *val, size_t len)
{
    if (sq->value == SF_SEQ_TEXT) {
        put_text(out, val, len);
    } else {
        put_be32(out, (uint32_t)len);
        sf_buf_append(out, val, len);
    }
}

static void put_sync(struct sf_seqfile *sq, struct sf_buf *out)
{
    put_be32(out, UINT32_MAX); /* -1: the sync escape */
    sf_buf_append(out, sq->sync, sizeof(sq->sync));
    sq->since_sync = 0;
}

/* in compressed with the codec, appended to out as vint length + bytes */
static int put_compressed(enum sf_seq_codec codec, const struct sf_buf *in, struct sf_buf *out)
{
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    /* DefaultCodec: a zlib stream; GzipCodec: a gzip member (windowBits + 16) */
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, codec == SF_SEQ_GZIP ? 31 : 15, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK) {
        return SF_ERR_NOMEM;
    }
    uLong bound = deflateBound(&zs, (uLong)in->len) + 32;
    struct sf_buf tmp = SF_BUF_INIT;
    sf_buf_reserve(&tmp, bound);
    if (!tmp.data) {
        deflateEnd(&zs);
        return SF_ERR_NOMEM;
    }
    zs.next_in = (Bytef *)(in->data ? in->data : "");
    zs.avail_in = (uInt)in->len;
    zs.next_out = (Bytef *)tmp.data;
    zs.avail_out = (uInt)bound;
    int zr = deflate(&zs, Z_FINISH);
    size_t n = bound - zs.avail_out;
    deflateEnd(&zs);
    if (zr != Z_STREAM_END) {
        sf_buf_free(&tmp);
        return SF_ERR_IO;
    }
    sf_seq_put_vlong(out, (long long)n);
    sf_buf_append(out, tmp.data, n);
    sf_buf_free(&tmp);
    return SF_OK;
}

int sf_seqfile_flush(struct sf_seqfile *sq, struct sf_buf *out)
{
    if (sq->codec == SF_SEQ_NONE || sq->nrec == 0) {
        return SF_OK;
    }
    put_sync(sq, out);
    sf_seq_put_vlong(out, (long long)sq->nrec);
    int rc = put_compressed(sq->codec, &sq->key_lens, out);
    if (rc == SF_OK) {
        rc = put_compressed(sq->codec, &sq->keys, out);
    }
    if (rc == SF_OK) {
        rc = put_compressed(sq->codec, &sq->val_lens, out);
    }
    if (rc == SF_OK) {
        rc = put_compressed(sq->codec, &sq->vals, out);
    }
    sf_buf_reset(&sq->key_lens);
    sf_buf_reset(&sq->keys);
    sf_buf_reset(&sq->val_lens);
    sf_buf_reset(&sq->vals);
    sq->nrec = 0;
    return rc;
}

int sf_seqfile_append(struct sf_seqfile *sq, long long key, const void *val, size_t len,
                      struct sf_buf *out)
{
    if (sq->codec != SF_SEQ_NONE) {
        sf_seq_put_vlong(&sq->key_lens, 8);
        put_be64(&sq->keys, (uint64_t)key);
        size_t before = sq->vals.len;
        put_value(sq, &sq->vals, val, len);
        sf_seq_put_vlong(&sq->val_lens, (long long)(sq->vals.len - before));
        sq->nrec++;
        if (sq->keys.len + sq->vals.len >= SF_SEQ_BLOCK_BYTES) {
            return sf_seqfile_flush(sq, out);
        }
        return SF_OK;
    }
    if (sq->since_sync >= SF_SEQ_SYNC_INTERVAL) {
        put_sync(sq, out);
    }
    size_t start = out->len;
    size_t vlen = sq->value == SF_SEQ_TEXT ? 0 : 4;
    if (sq->value == SF_SEQ_TEXT) {
        struct sf_buf hdr = SF_BUF_INIT;
        sf_seq_put_vlong(&hdr, (long long)len);
        vlen = hdr.len;
        sf_buf_free(&hdr);
    }
    vlen += len;
    put_be32(out, (uint32_t)(8 + vlen)); /* record length: key + value */
    put_be32(out, 8);                    /* key length */
    put_be64(out, (uint64_t)key);
    put_value(sq, out, val, len);
    sq->since_sync += out->len - start;
    return SF_OK;
}

void sf_seqfile_free(struct sf_seqfile *sq)
{
    sf_buf_free(&sq->key_lens);
    sf_buf_free(&sq->keys);
    sf_buf_free(&sq->val_lens);
    sf_buf_free(&sq->vals);
    sq->nrec = 0;
}
