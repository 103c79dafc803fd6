/* src/rpc/avro_stream.c: compression-type = deflate over a socket pair: each encoded message is
 * a sync-flushed piece of one zlib stream that the other end inflates whole as soon as it
 * arrives; the bound on what one receive inflates to; a stream that is not zlib; plain mode. */
#include "unit.h"

#include "../../../src/rpc/avro_stream.h"

#include "sqlflume/error.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void write_all(int fd, const struct sf_buf *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t w = write(fd, b->data + off, b->len - off);
        ck_assert_int_gt(w, 0);
        off += (size_t)w;
    }
}

/* Receive until in holds want bytes or nothing more comes now. @return the last recv result */
static ssize_t recv_until(struct sf_avro_stream *s, struct sf_buf *in, size_t want)
{
    char err[256];
    ssize_t k = 1;
    while (in->len < want) {
        k = sf_avro_stream_recv(s, in, err, sizeof(err));
        if (k <= 0) {
            break;
        }
        ck_assert_int_le(k, SF_AVRO_STREAM_CHUNK);
    }
    return k;
}

START_TEST(deflate_roundtrip)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sf_avro_stream w, r;
    ck_assert_int_eq(sf_avro_stream_init(&w, sv[0], true, 6), SF_OK);
    ck_assert_int_eq(sf_avro_stream_init(&r, sv[1], true, 6), SF_OK);
    struct sf_buf framed = SF_BUF_INIT, out = SF_BUF_INIT, in = SF_BUF_INIT, want = SF_BUF_INIT;
    for (int m = 0; m < 3; m++) {
        /* messages of 10, 100,000 and 0 bytes, of text that compresses */
        size_t n = m == 0 ? 10 : m == 1 ? 100000 : 0;
        for (size_t i = 0; i < n; i++) {
            sf_buf_putc(&framed, (char)('a' + (i * 7 + (size_t)m) % 13));
        }
        sf_buf_append(&want, framed.data ? framed.data : "", framed.len);
        sf_buf_reset(&out);
        ck_assert_int_eq(sf_avro_stream_encode(&w, &framed, &out), SF_OK);
        ck_assert_uint_eq(framed.len, 0);
        if (m == 0) { /* the zlib header (level 6: 78 9c) starts the stream */
            ck_assert_uint_ge(out.len, 2);
            ck_assert_int_eq((unsigned char)out.data[0], 0x78);
            ck_assert_int_eq((unsigned char)out.data[1], 0x9c);
        }
        if (m == 1) {
            ck_assert_uint_lt(out.len, n / 4); /* it did compress */
        }
        if (n == 0) { /* nothing new: nothing to write (a framed message is never empty) */
            ck_assert_uint_eq(out.len, 0);
            continue;
        }
        /* a sync flush ends every write: an empty stored block, 00 00 ff ff */
        ck_assert_uint_ge(out.len, 4);
        ck_assert_mem_eq(out.data + out.len - 4, "\0\0\xff\xff", 4);
        write_all(sv[0], &out);
        /* the whole message inflates from what was written, without more */
        ssize_t k = recv_until(&r, &in, want.len);
        ck_assert_uint_eq(in.len, want.len);
        if (want.len > 0) {
            ck_assert_mem_eq(in.data, want.data, want.len);
        }
        /* and then nothing more now */
        char err[256];
        errno = 0;
        k = sf_avro_stream_recv(&r, &in, err, sizeof(err));
        ck_assert_int_eq(k, -1);
        ck_assert_int_eq(errno, EAGAIN);
    }
    /* the peer closes: 0 */
    close(sv[0]);
    char err[256];
    ck_assert_int_eq(sf_avro_stream_recv(&r, &in, err, sizeof(err)), 0);
    sf_avro_stream_free(&w);
    sf_avro_stream_free(&r);
    sf_avro_stream_free(&r); /* twice is harmless */
    close(sv[1]);
    sf_buf_free(&framed);
    sf_buf_free(&out);
    sf_buf_free(&in);
    sf_buf_free(&want);
}
END_TEST

START_TEST(inflation_bounded)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sf_avro_stream w, r;
    ck_assert_int_eq(sf_avro_stream_init(&w, sv[0], true, 9), SF_OK);
    ck_assert_int_eq(sf_avro_stream_init(&r, sv[1], true, 6), SF_OK);
    /* 32 MiB of zeros deflate to ~32 KiB: one socket write */
    struct sf_buf framed = SF_BUF_INIT, out = SF_BUF_INIT, in = SF_BUF_INIT;
    size_t n = 32u << 20;
    sf_buf_reserve(&framed, n);
    memset(framed.data, 0, n);
    framed.len = n;
    ck_assert_int_eq(sf_avro_stream_encode(&w, &framed, &out), SF_OK);
    ck_assert_uint_lt(out.len, 64 * 1024);
    write_all(sv[0], &out);
    /* every receive yields at most one chunk, without new input once it has it all */
    char err[256];
    size_t total = 0;
    int calls = 0;
    for (;;) {
        sf_buf_reset(&in);
        ssize_t k = sf_avro_stream_recv(&r, &in, err, sizeof(err));
        if (k < 0) {
            ck_assert_int_eq(errno, EAGAIN);
            break;
        }
        ck_assert_int_gt(k, 0);
        ck_assert_int_le(k, SF_AVRO_STREAM_CHUNK);
        ck_assert_uint_eq(in.len, (size_t)k);
        total += (size_t)k;
        calls++;
    }
    ck_assert_uint_eq(total, n);
    ck_assert_int_ge(calls, (int)(n / SF_AVRO_STREAM_CHUNK));
    sf_avro_stream_free(&w);
    sf_avro_stream_free(&r);
    close(sv[0]);
    close(sv[1]);
    sf_buf_free(&framed);
    sf_buf_free(&out);
    sf_buf_free(&in);
}
END_TEST

START_TEST(not_zlib)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sf_avro_stream r;
    ck_assert_int_eq(sf_avro_stream_init(&r, sv[1], true, 6), SF_OK);
    /* a plain Netty frame header: serial 1, one frame */
    ck_assert_int_eq(write(sv[0], "\0\0\0\1\0\0\0\1\0\0\0\3abc", 15), 15);
    struct sf_buf in = SF_BUF_INIT;
    char err[256] = "";
    ck_assert_int_eq(sf_avro_stream_recv(&r, &in, err, sizeof(err)), -2);
    ck_assert_str_eq(err, "not a zlib stream, or a corrupt one (unknown compression method)");
    ck_assert_uint_eq(in.len, 0);
    sf_avro_stream_free(&r);
    /* the hint: a zlib header, and a Netty frame header not */
    ck_assert(sf_avro_stream_looks_zlib((const unsigned char *)"\x78\x9c", 2));
    ck_assert(sf_avro_stream_looks_zlib((const unsigned char *)"\x78\xda", 2));
    ck_assert(sf_avro_stream_looks_zlib((const unsigned char *)"\x78\x01", 2));
    ck_assert(!sf_avro_stream_looks_zlib((const unsigned char *)"\0\0", 2));
    ck_assert(!sf_avro_stream_looks_zlib((const unsigned char *)"\x78\x9d", 2));
    ck_assert(!sf_avro_stream_looks_zlib((const unsigned char *)"\x78", 1));
    close(sv[0]);
    close(sv[1]);
    sf_buf_free(&in);
}
END_TEST

START_TEST(plain)
{
    int sv[2];
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sf_avro_stream w, r;
    ck_assert_int_eq(sf_avro_stream_init(&w, sv[0], false, 6), SF_OK);
    ck_assert_int_eq(sf_avro_stream_init(&r, sv[1], false, 6), SF_OK);
    struct sf_buf framed = SF_BUF_INIT, out = SF_BUF_INIT, in = SF_BUF_INIT;
    sf_buf_append(&framed, "hello", 5);
    ck_assert_int_eq(sf_avro_stream_encode(&w, &framed, &out), SF_OK);
    ck_assert_uint_eq(out.len, 5);
    ck_assert_mem_eq(out.data, "hello", 5);
    ck_assert_uint_eq(framed.len, 0);
    write_all(sv[0], &out);
    ck_assert_int_eq(recv_until(&r, &in, 5), 5);
    ck_assert_mem_eq(in.data, "hello", 5);
    sf_avro_stream_free(&w);
    sf_avro_stream_free(&r);
    close(sv[0]);
    close(sv[1]);
    sf_buf_free(&framed);
    sf_buf_free(&out);
    sf_buf_free(&in);
}
END_TEST

SF_UNIT_SUITE(avro_stream)
{
    Suite *s = suite_create("avro_stream");
    TCase *tc = tcase_create("avro_stream");
    tcase_add_test(tc, deflate_roundtrip);
    tcase_add_test(tc, inflation_bounded);
    tcase_add_test(tc, not_zlib);
    tcase_add_test(tc, plain);
    suite_add_tcase(s, tc);
    return s;
}
