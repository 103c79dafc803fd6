/*
 * Unit tests of the HDFS sink's streaming codecs (src/sinks/hdfs/codec.c): name lookup (short,
 * simple and full class names, any case; refused names with their message); round trips through
 * zlib, libbz2 and Snappy decompression in-process of many writes with flushes in between; every
 * flush point: the file cut there decompresses to exactly what was written before it, and a cut
 * one byte short is refused (the decoders here are strict: every member must be complete);
 * several-MB inputs; empty files; and an independent check of the files on disk with gzip -t /
 * gzip -dc, bzip2 -t / bzip2 -dc, python3's zlib (concatenated zlib streams) and python-snappy's
 * Hadoop framing decoder, compared byte for byte.
 */
#include "unit.h"
#include <bzlib.h>
#include <snappy-c.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "sqlflume/buf.h"
#include "sqlflume/error.h"

#include "../../src/sinks/hdfs/codec.h"

static const char *const all_codecs[] = { "gzip", "bzip2", "deflate", "default", "snappy" };
#define NCODECS ((int)(sizeof(all_codecs) / sizeof(all_codecs[0])))

/* ---- strict in-process decoders: 0 when in decodes completely (every member ended), else -1 */

static int dec_zlib(const char *in, size_t n, struct sf_buf *out)
{
    z_stream s;
    memset(&s, 0, sizeof(s));
    if (inflateInit2(&s, 15 + 32) != Z_OK) { /* + 32: gzip or zlib header, detected */
        return -1;
    }
    s.next_in = (Bytef *)(uintptr_t)in;
    s.avail_in = (uInt)n;
    int rc = Z_STREAM_END;
    while (s.avail_in > 0) {
        char tmp[16384];
        s.next_out = (Bytef *)tmp;
        s.avail_out = sizeof(tmp);
        rc = inflate(&s, Z_NO_FLUSH);
        sf_buf_append(out, tmp, sizeof(tmp) - s.avail_out);
        if (rc == Z_STREAM_END) {
            inflateReset(&s); /* the next member, if any */
        } else if (rc != Z_OK) {
            break;
        }
    }
    /* the input ended: the last member must have ended too (drain what inflate still holds) */
    while (rc == Z_OK) {
        char tmp[16384];
        s.next_out = (Bytef *)tmp;
        s.avail_out = sizeof(tmp);
        rc = inflate(&s, Z_NO_FLUSH);
        sf_buf_append(out, tmp, sizeof(tmp) - s.avail_out);
        if (rc == Z_OK && s.avail_out == sizeof(tmp)) {
            break; /* no progress: truncated */
        }
    }
    inflateEnd(&s);
    return rc == Z_STREAM_END || n == 0 ? 0 : -1;
}

static int dec_bzip2(const char *in, size_t n, struct sf_buf *out)
{
    int rc = BZ_STREAM_END;
    while (n > 0) {
        bz_stream s;
        memset(&s, 0, sizeof(s));
        if (BZ2_bzDecompressInit(&s, 0, 0) != BZ_OK) {
            return -1;
        }
        s.next_in = (char *)(uintptr_t)in;
        s.avail_in = (unsigned)n;
        do {
            char tmp[16384];
            s.next_out = tmp;
            s.avail_out = sizeof(tmp);
            rc = BZ2_bzDecompress(&s);
            sf_buf_append(out, tmp, sizeof(tmp) - s.avail_out);
            if (rc == BZ_OK && s.avail_in == 0 && s.avail_out == sizeof(tmp)) {
                rc = -100; /* input ended inside a stream */
            }
        } while (rc == BZ_OK);
        in += n - s.avail_in;
        n = s.avail_in;
        BZ2_bzDecompressEnd(&s);
        if (rc != BZ_STREAM_END) {
            return -1;
        }
    }
    return 0;
}

static unsigned be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (unsigned)u[0] << 24 | (unsigned)u[1] << 16 | (unsigned)u[2] << 8 | u[3];
}

/* Hadoop's BlockDecompressorStream: BE32 block length, then BE32-length chunks filling it */
static int dec_snappy(const char *in, size_t n, struct sf_buf *out)
{
    size_t i = 0;
    while (i < n) {
        if (n - i < 4) {
            return -1;
        }
        size_t want = be32(in + i), got = 0;
        i += 4;
        while (got < want) {
            if (n - i < 4) {
                return -1;
            }
            size_t clen = be32(in + i);
            i += 4;
            if (n - i < clen) {
                return -1;
            }
            size_t ulen;
            if (snappy_uncompressed_length(in + i, clen, &ulen) != SNAPPY_OK ||
                ulen > want - got || ulen > 256 * 1024) {
                return -1;
            }
            sf_buf_reserve(out, ulen);
            if (snappy_uncompress(in + i, clen, out->data + out->len, &ulen) != SNAPPY_OK) {
                return -1;
            }
            out->len += ulen;
            got += ulen;
            i += clen;
        }
    }
    return 0;
}

static int decode(enum sf_codec_kind kind, const char *in, size_t n, struct sf_buf *out)
{
    sf_buf_reset(out);
    switch (kind) {
    case SF_CODEC_GZIP:
    case SF_CODEC_ZLIB:
        return dec_zlib(in, n, out);
    case SF_CODEC_BZIP2:
        return dec_bzip2(in, n, out);
    case SF_CODEC_SNAPPY:
        return dec_snappy(in, n, out);
    }
    return -1;
}

/* ---- input data: deterministic, partly text (compressible), partly random */

static void make_data(struct sf_buf *b, size_t n, unsigned seed)
{
    static const char *const words[] = { "INSERT", "orders", "42", "flume", "\n", "2026-12-04",
                                         " ", "{\"id\":", "}", "hdfs" };
    unsigned x = seed * 2654435761u + 1;
    sf_buf_reset(b);
    while (b->len < n) {
        x = x * 1103515245u + 12345u;
        if ((x >> 16) % 4 == 0) { /* a random byte run */
            for (int k = 0; k < 8 && b->len < n; k++) {
                x = x * 1103515245u + 12345u;
                sf_buf_putc(b, (char)(x >> 24));
            }
        } else {
            const char *w = words[(x >> 8) % 10];
            size_t l = strlen(w);
            sf_buf_append(b, w, l > n - b->len ? n - b->len : l);
        }
    }
}

static struct sf_compressor *make(const char *name, const struct sf_codec_desc **desc)
{
    const struct sf_codec_desc *d;
    char err[256];
    ck_assert_int_eq(sf_codec_lookup(name, &d, err, sizeof(err)), SF_OK);
    struct sf_compressor *z = NULL;
    ck_assert_int_eq(sf_compressor_new(d, &z), SF_OK);
    ck_assert_ptr_nonnull(z);
    if (desc) {
        *desc = d;
    }
    return z;
}

/* ---- lookup */

START_TEST(lookup_names)
{
    static const struct {
        const char *name, *canon, *ext;
        enum sf_codec_kind kind;
    } ok[] = {
        { "gzip", "gzip", ".gz", SF_CODEC_GZIP },
        { "GZIP", "gzip", ".gz", SF_CODEC_GZIP },
        { "GzipCodec", "gzip", ".gz", SF_CODEC_GZIP },
        { "org.apache.hadoop.io.compress.GzipCodec", "gzip", ".gz", SF_CODEC_GZIP },
        { "bzip2", "bzip2", ".bz2", SF_CODEC_BZIP2 },
        { "BZip2Codec", "bzip2", ".bz2", SF_CODEC_BZIP2 },
        { "org.apache.hadoop.io.compress.BZip2Codec", "bzip2", ".bz2", SF_CODEC_BZIP2 },
        { "deflate", "deflate", ".deflate", SF_CODEC_ZLIB },
        { "DeflateCodec", "deflate", ".deflate", SF_CODEC_ZLIB },
        { "Default", "default", ".deflate", SF_CODEC_ZLIB },
        { "org.apache.hadoop.io.compress.DefaultCodec", "default", ".deflate", SF_CODEC_ZLIB },
        { "snappy", "snappy", ".snappy", SF_CODEC_SNAPPY },
        { "org.apache.hadoop.io.compress.SnappyCodec", "snappy", ".snappy", SF_CODEC_SNAPPY },
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        const struct sf_codec_desc *d = NULL;
        char err[256] = "";
        ck_assert_msg(sf_codec_lookup(ok[i].name, &d, err, sizeof(err)) == SF_OK, "%s", ok[i].name);
        ck_assert_str_eq(d->name, ok[i].canon);
        ck_assert_str_eq(d->extension, ok[i].ext);
        ck_assert_int_eq(d->kind, ok[i].kind);
        ck_assert_str_eq(err, "");
    }
    const struct sf_codec_desc *d = NULL;
    ck_assert_int_eq(sf_codec_lookup("gzip", &d, NULL, 0), SF_OK);
    ck_assert_str_eq(d->class_name, "org.apache.hadoop.io.compress.GzipCodec");
}
END_TEST

START_TEST(lookup_refused)
{
    static const char *const bad[] = { "lz4", "zstd", "gz", "gzipcodecx", "org.apache.hadoop.io.compress.Lz4Codec", "" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const struct sf_codec_desc *d = NULL;
        char err[256] = "", want[256];
        ck_assert_int_eq(sf_codec_lookup(bad[i], &d, err, sizeof(err)), SF_ERR_INVAL);
        ck_assert_ptr_null(d);
        snprintf(want, sizeof(want),
                 "unsupported compression codec '%s'; known: gzip, bzip2, deflate, default, snappy",
                 bad[i]);
        ck_assert_str_eq(err, want);
    }
    const struct sf_codec_desc *d = NULL;
    char err[16];
    ck_assert_int_eq(sf_codec_lookup(NULL, &d, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_str_eq(err, "unsupported com"); /* truncated, NUL-terminated */
    ck_assert_int_eq(sf_codec_lookup("lz4", &d, NULL, 0), SF_ERR_INVAL);
    struct sf_compressor *z = NULL;
    ck_assert_int_eq(sf_compressor_new(NULL, &z), SF_ERR_INVAL);
}
END_TEST

/* ---- round trips: many writes, flushes in between, every flush point checked */

START_TEST(round_trip_every_flush_point)
{
    const char *name = all_codecs[_i];
    const struct sf_codec_desc *desc;
    struct sf_compressor *z = make(name, &desc);
    struct sf_buf in = SF_BUF_INIT, out = SF_BUF_INIT, dec = SF_BUF_INIT;
    make_data(&in, 600000, 7);
    /* flush points: (compressed bytes, input bytes) after each flush */
    size_t cut_out[200], cut_in[200];
    int ncut = 0;
    size_t pos = 0;
    unsigned x = 99;
    int writes = 0;
    while (pos < in.len) {
        x = x * 1103515245u + 12345u;
        size_t n = (x >> 8) % 9000; /* 0..8999 bytes, zero-length writes included */
        if (n > in.len - pos) {
            n = in.len - pos;
        }
        ck_assert_int_eq(sf_compressor_write(z, in.data + pos, n, &out), SF_OK);
        pos += n;
        if (++writes % 7 == 0 || ((x >> 4) & 31) == 0) {
            ck_assert_int_lt(ncut, 200);
            ck_assert_int_eq(sf_compressor_flush(z, &out), SF_OK);
            size_t before = out.len;
            ck_assert_int_eq(sf_compressor_flush(z, &out), SF_OK); /* nothing new: no-op */
            ck_assert_uint_eq(out.len, before);
            cut_out[ncut] = out.len;
            cut_in[ncut++] = pos;
        }
    }
    ck_assert_uint_eq(sf_compressor_bytes_in(z), in.len);
    ck_assert_int_eq(sf_compressor_finish(z, &out), SF_OK);
    ck_assert_int_eq(sf_compressor_finish(z, &out), SF_OK); /* again: no-op */
    ck_assert_int_eq(sf_compressor_write(z, "x", 1, &out), SF_ERR_STATE);
    ck_assert_int_eq(sf_compressor_flush(z, &out), SF_ERR_STATE);
    ck_assert_int_ge(ncut, 20);
    ck_assert_uint_lt(out.len, in.len); /* it compressed */

    ck_assert_int_eq(decode(desc->kind, out.data, out.len, &dec), 0);
    ck_assert_uint_eq(dec.len, in.len);
    ck_assert_mem_eq(dec.data, in.data, in.len);
    for (int c = 0; c < ncut; c++) {
        ck_assert_msg(decode(desc->kind, out.data, cut_out[c], &dec) == 0, "%s: cut %d", name, c);
        ck_assert_uint_eq(dec.len, cut_in[c]);
        ck_assert_int_eq(memcmp(dec.data, in.data, cut_in[c]), 0);
        /* one byte short of the flush point: an incomplete member, refused */
        if (cut_out[c] > (c ? cut_out[c - 1] : 0)) {
            ck_assert_msg(decode(desc->kind, out.data, cut_out[c] - 1, &dec) != 0, "%s: cut %d - 1",
                          name, c);
        }
    }
    sf_compressor_free(z);
    sf_buf_free(&in);
    sf_buf_free(&out);
    sf_buf_free(&dec);
}
END_TEST

/* several MB: 1 MB writes, one 5 MB write (past zlib's and Snappy's chunking), a flush between */
START_TEST(large_inputs)
{
    const char *name = all_codecs[_i];
    const struct sf_codec_desc *desc;
    struct sf_compressor *z = make(name, &desc);
    struct sf_buf in = SF_BUF_INIT, out = SF_BUF_INIT, dec = SF_BUF_INIT;
    make_data(&in, 9u << 20, 3);
    size_t pos = 0;
    for (int i = 0; i < 4; i++, pos += 1u << 20) {
        ck_assert_int_eq(sf_compressor_write(z, in.data + pos, 1u << 20, &out), SF_OK);
    }
    ck_assert_int_eq(sf_compressor_flush(z, &out), SF_OK);
    ck_assert_int_eq(sf_compressor_write(z, in.data + pos, in.len - pos, &out), SF_OK);
    ck_assert_int_eq(sf_compressor_finish(z, &out), SF_OK);
    ck_assert_int_eq(decode(desc->kind, out.data, out.len, &dec), 0);
    ck_assert_uint_eq(dec.len, in.len);
    ck_assert_int_eq(memcmp(dec.data, in.data, in.len), 0);
    sf_compressor_free(z);
    sf_buf_free(&in);
    sf_buf_free(&out);
    sf_buf_free(&dec);
}
END_TEST

/* finish without writes: a valid empty file (an empty member; nothing for Snappy) */
START_TEST(empty_file)
{
    const char *name = all_codecs[_i];
    const struct sf_codec_desc *desc;
    struct sf_compressor *z = make(name, &desc);
    struct sf_buf out = SF_BUF_INIT, dec = SF_BUF_INIT;
    ck_assert_int_eq(sf_compressor_write(z, "", 0, &out), SF_OK);
    ck_assert_uint_eq(out.len, 0);
    ck_assert_int_eq(sf_compressor_finish(z, &out), SF_OK);
    static const unsigned char gz_magic[] = { 0x1f, 0x8b };
    switch (desc->kind) {
    case SF_CODEC_GZIP:
        ck_assert_uint_eq(out.len, 20); /* 10-byte header, empty block, CRC32 + ISIZE */
        ck_assert_mem_eq(out.data, gz_magic, 2);
        break;
    case SF_CODEC_BZIP2:
        ck_assert_uint_eq(out.len, 14); /* "BZh9", end-of-stream magic, CRC */
        ck_assert_mem_eq(out.data, "BZh9", 4);
        break;
    case SF_CODEC_ZLIB:
        ck_assert_uint_eq(out.len, 8); /* 2-byte header, empty block, Adler-32 */
        break;
    case SF_CODEC_SNAPPY:
        ck_assert_uint_eq(out.len, 0);
        break;
    }
    ck_assert_int_eq(decode(desc->kind, out.data, out.len, &dec), 0);
    ck_assert_uint_eq(dec.len, 0);
    sf_compressor_free(z);

    /* a first flush before any write makes the file valid; later empty flushes add nothing */
    z = make(name, NULL);
    sf_buf_reset(&out);
    ck_assert_int_eq(sf_compressor_flush(z, &out), SF_OK);
    size_t first = out.len;
    ck_assert_int_eq(sf_compressor_flush(z, &out), SF_OK);
    ck_assert_int_eq(sf_compressor_finish(z, &out), SF_OK);
    ck_assert_uint_eq(out.len, first);
    ck_assert_int_eq(decode(desc->kind, out.data, out.len, &dec), 0);
    ck_assert_uint_eq(dec.len, 0);
    sf_compressor_free(z);
    sf_compressor_free(NULL);
    sf_buf_free(&out);
    sf_buf_free(&dec);
}
END_TEST

/* ---- independent check: the command-line tools read the files back */

static char tmpdir[64];

static void tools_setup(void)
{
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sf_codec_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void tools_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    ck_assert_int_eq(system(cmd), 0);
}

static void write_file(const char *path, const char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(p, 1, n, f), n);
    ck_assert_int_eq(fclose(f), 0);
}

/* Run cmd (stderr discarded), its stdout into out; the exit status */
static int run(const char *cmd, struct sf_buf *out)
{
    char full[1024];
    snprintf(full, sizeof(full), "%s 2>/dev/null", cmd);
    FILE *p = popen(full, "r");
    ck_assert_ptr_nonnull(p);
    sf_buf_reset(out);
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof(tmp), p)) > 0) {
        sf_buf_append(out, tmp, n);
    }
    return pclose(p);
}

/* the commands that test and decode a file of the codec (the file name is appended) */
static void tool_cmds(enum sf_codec_kind kind, const char **test, const char **cat)
{
    static const char py_zlib[] =
        "/usr/bin/python3 -c 'import sys, zlib\n"
        "d = open(sys.argv[1], \"rb\").read(); o = sys.stdout.buffer\n"
        "while d:\n"
        "    z = zlib.decompressobj(); o.write(z.decompress(d))\n"
        "    assert z.eof, \"truncated\"\n"
        "    d = z.unused_data\n'";
    static const char py_snappy[] =
        "/usr/bin/python3 -c 'import sys, snappy.hadoop_snappy as h\n"
        "h.stream_decompress(open(sys.argv[1], \"rb\"), sys.stdout.buffer)'";
    switch (kind) {
    case SF_CODEC_GZIP:
        *test = "gzip -t";
        *cat = "gzip -dc";
        return;
    case SF_CODEC_BZIP2:
        *test = "bzip2 -t";
        *cat = "bzip2 -dc";
        return;
    case SF_CODEC_ZLIB:
        *test = *cat = py_zlib;
        return;
    case SF_CODEC_SNAPPY:
        *test = *cat = py_snappy;
        return;
    }
}

START_TEST(tools_read_the_files)
{
    const char *name = all_codecs[_i];
    const struct sf_codec_desc *desc;
    struct sf_compressor *z = make(name, &desc);
    struct sf_buf in = SF_BUF_INIT, out = SF_BUF_INIT, got = SF_BUF_INIT;
    make_data(&in, 3u << 20, 11);
    size_t cut_out[8], cut_in[8];
    int ncut = 0;
    size_t sizes[] = { 1, 100, 70000, 2u << 20, 5000, 300000 }, pos = 0;
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        ck_assert_int_eq(sf_compressor_write(z, in.data + pos, sizes[i], &out), SF_OK);
        pos += sizes[i];
        ck_assert_int_eq(sf_compressor_flush(z, &out), SF_OK);
        cut_out[ncut] = out.len;
        cut_in[ncut++] = pos;
    }
    ck_assert_int_eq(sf_compressor_write(z, in.data + pos, in.len - pos, &out), SF_OK);
    ck_assert_int_eq(sf_compressor_finish(z, &out), SF_OK);
    cut_out[ncut] = out.len;
    cut_in[ncut++] = in.len;
    sf_compressor_free(z);

    const char *test = "false", *cat = "false";
    tool_cmds(desc->kind, &test, &cat);
    char path[128], cmd[1024];
    snprintf(path, sizeof(path), "%s/f%s", tmpdir, desc->extension);
    for (int c = 0; c < ncut; c++) {
        write_file(path, out.data, cut_out[c]);
        snprintf(cmd, sizeof(cmd), "%s %s", test, path);
        ck_assert_msg(run(cmd, &got) == 0, "%s: %s at cut %d", name, cmd, c);
        snprintf(cmd, sizeof(cmd), "%s %s", cat, path);
        ck_assert_msg(run(cmd, &got) == 0, "%s: %s at cut %d", name, cmd, c);
        ck_assert_uint_eq(got.len, cut_in[c]);
        ck_assert_int_eq(memcmp(got.data, in.data, cut_in[c]), 0);
    }
    /* the tools are strict too: a file cut inside a member is refused */
    write_file(path, out.data, cut_out[2] + (cut_out[3] - cut_out[2]) / 2);
    snprintf(cmd, sizeof(cmd), "%s %s", test, path);
    ck_assert_int_ne(run(cmd, &got), 0);

    /* an empty file (finish without writes) passes the tool and reads as nothing */
    z = make(name, NULL);
    sf_buf_reset(&out);
    ck_assert_int_eq(sf_compressor_finish(z, &out), SF_OK);
    sf_compressor_free(z);
    write_file(path, out.data ? out.data : "", out.len);
    snprintf(cmd, sizeof(cmd), "%s %s", test, path);
    ck_assert_int_eq(run(cmd, &got), 0);
    snprintf(cmd, sizeof(cmd), "%s %s", cat, path);
    ck_assert_int_eq(run(cmd, &got), 0);
    ck_assert_uint_eq(got.len, 0);

    sf_buf_free(&in);
    sf_buf_free(&out);
    sf_buf_free(&got);
}
END_TEST

SF_UNIT_SUITE(codec)
{
    Suite *s = suite_create("codec");
    TCase *tc = tcase_create("codec");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, lookup_names);
    tcase_add_test(tc, lookup_refused);
    tcase_add_loop_test(tc, round_trip_every_flush_point, 0, NCODECS);
    tcase_add_loop_test(tc, large_inputs, 0, NCODECS);
    tcase_add_loop_test(tc, empty_file, 0, NCODECS);
    suite_add_tcase(s, tc);
    TCase *tools = tcase_create("tools");
    tcase_set_timeout(tools, 300);
    tcase_add_checked_fixture(tools, tools_setup, tools_teardown);
    tcase_add_loop_test(tools, tools_read_the_files, 0, NCODECS);
    suite_add_tcase(s, tools);
    return s;
}
