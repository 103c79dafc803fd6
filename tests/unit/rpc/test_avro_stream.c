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

/* A socket pair with a writer stream on sv[0] and a reader stream on sv[1]. */
struct pair {
    int sv[2];
    struct sf_avro_stream w, r;
    struct sf_buf framed, out, in;
};

static void pair_open(struct pair *p, bool deflate, int level)
{
    memset(p, 0, sizeof(*p));
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, p->sv), 0);
    ck_assert_int_eq(sf_avro_stream_init(&p->w, p->sv[0], deflate, level), SF_OK);
    ck_assert_int_eq(sf_avro_stream_init(&p->r, p->sv[1], deflate, 6), SF_OK);
}

static void pair_close(struct pair *p)
{
    sf_avro_stream_free(&p->w);
    sf_avro_stream_free(&p->r);
    if (p->sv[0] >= 0) {
        close(p->sv[0]);
    }
    close(p->sv[1]);
    sf_buf_free(&p->framed);
    sf_buf_free(&p->out);
    sf_buf_free(&p->in);
}

START_TEST(deflate_roundtrip)
{
    struct pair p;
    pair_open(&p, true, 6);
    struct sf_buf want = SF_BUF_INIT;
    for (int m = 0; m < 3; m++) {
        /* messages of 10, 100,000 and 0 bytes, of text that compresses */
        size_t n = m == 0 ? 10 : m == 1 ? 100000 : 0;
        for (size_t i = 0; i < n; i++) {
            sf_buf_putc(&p.framed, (char)('a' + (i * 7 + (size_t)m) % 13));
        }
        sf_buf_append(&want, p.framed.data ? p.framed.data : "", p.framed.len);
        sf_buf_reset(&p.out);
        ck_assert_int_eq(sf_avro_stream_encode(&p.w, &p.framed, &p.out), SF_OK);
        ck_assert_uint_eq(p.framed.len, 0);
        if (m == 0) { /* the zlib header (level 6: 78 9c) starts the stream */
            ck_assert_uint_ge(p.out.len, 2);
            ck_assert_int_eq((unsigned char)p.out.data[0], 0x78);
            ck_assert_int_eq((unsigned char)p.out.data[1], 0x9c);
        }
        if (m == 1) {
            ck_assert_uint_lt(p.out.len, n / 4); /* it did compress */
        }
        if (n == 0) { /* nothing new: nothing to write (a framed message is never empty) */
            ck_assert_uint_eq(p.out.len, 0);
            continue;
        }
        /* a sync flush ends every write: an empty stored block, 00 00 ff ff */
        ck_assert_uint_ge(p.out.len, 4);
        ck_assert_mem_eq(p.out.data + p.out.len - 4, "\0\0\xff\xff", 4);
        write_all(p.sv[0], &p.out);
        /* the whole message inflates from what was written, without more */
        (void)recv_until(&p.r, &p.in, want.len);
        ck_assert_uint_eq(p.in.len, want.len);
        ck_assert_mem_eq(p.in.data, want.data, want.len);
        /* and then nothing more now */
        char err[256];
        errno = 0;
        ck_assert_int_eq(sf_avro_stream_recv(&p.r, &p.in, err, sizeof(err)), -1);
        ck_assert_int_eq(errno, EAGAIN);
    }
    /* the peer closes: 0 */
    close(p.sv[0]);
    p.sv[0] = -1;
    char err[256];
    ck_assert_int_eq(sf_avro_stream_recv(&p.r, &p.in, err, sizeof(err)), 0);
    sf_avro_stream_free(&p.r); /* twice (pair_close) is harmless */
    pair_close(&p);
    sf_buf_free(&want);
}
END_TEST

START_TEST(inflation_bounded)
{
    struct pair p;
    pair_open(&p, true, 9);
    /* 32 MiB of zeros deflate to ~32 KiB: one socket write */
    size_t n = 32u << 20;
    sf_buf_reserve(&p.framed, n);
    memset(p.framed.data, 0, n);
    p.framed.len = n;
    ck_assert_int_eq(sf_avro_stream_encode(&p.w, &p.framed, &p.out), SF_OK);
    ck_assert_uint_lt(p.out.len, 64 * 1024);
    write_all(p.sv[0], &p.out);
    /* every receive yields at most one chunk, without new input once it has it all */
    char err[256];
    size_t total = 0;
    int calls = 0;
    for (;;) {
        sf_buf_reset(&p.in);
        ssize_t k = sf_avro_stream_recv(&p.r, &p.in, err, sizeof(err));
        if (k < 0) {
            ck_assert_int_eq(errno, EAGAIN);
            break;
        }
        ck_assert_int_gt(k, 0);
        ck_assert_int_le(k, SF_AVRO_STREAM_CHUNK);
        ck_assert_uint_eq(p.in.len, (size_t)k);
        total += (size_t)k;
        calls++;
    }
    ck_assert_uint_eq(total, n);
    ck_assert_int_ge(calls, (int)(n / SF_AVRO_STREAM_CHUNK));
    pair_close(&p);
}
END_TEST

START_TEST(not_zlib)
{
    struct pair p;
    pair_open(&p, true, 6);
    /* a plain Netty frame header: serial 1, one frame */
    ck_assert_int_eq(write(p.sv[0], "\0\0\0\1\0\0\0\1\0\0\0\3abc", 15), 15);
    char err[256] = "";
    ck_assert_int_eq(sf_avro_stream_recv(&p.r, &p.in, err, sizeof(err)), -2);
    ck_assert_str_eq(err, "not a zlib stream, or a corrupt one (unknown compression method)");
    ck_assert_uint_eq(p.in.len, 0);
    pair_close(&p);
    /* the hint: a zlib header, and a Netty frame header not */
    ck_assert(sf_avro_stream_looks_zlib((const unsigned char *)"\x78\x9c", 2));
    ck_assert(sf_avro_stream_looks_zlib((const unsigned char *)"\x78\xda", 2));
    ck_assert(sf_avro_stream_looks_zlib((const unsigned char *)"\x78\x01", 2));
    ck_assert(!sf_avro_stream_looks_zlib((const unsigned char *)"\0\0", 2));
    ck_assert(!sf_avro_stream_looks_zlib((const unsigned char *)"\x78\x9d", 2));
    ck_assert(!sf_avro_stream_looks_zlib((const unsigned char *)"\x78", 1));
}
END_TEST

START_TEST(plain)
{
    struct pair p;
    pair_open(&p, false, 6);
    sf_buf_append(&p.framed, "hello", 5);
    ck_assert_int_eq(sf_avro_stream_encode(&p.w, &p.framed, &p.out), SF_OK);
    ck_assert_uint_eq(p.out.len, 5);
    ck_assert_mem_eq(p.out.data, "hello", 5);
    ck_assert_uint_eq(p.framed.len, 0);
    write_all(p.sv[0], &p.out);
    ck_assert_int_eq(recv_until(&p.r, &p.in, 5), 5);
    ck_assert_mem_eq(p.in.data, "hello", 5);
    pair_close(&p);
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
