/* src/rpc/avro_rpc.c: the Netty framing, the appendBatch call with and without its handshake and
 * the reply decoder, against bytes written out by hand from the Avro specification. */
#include "unit.h"

#include "../../../src/rpc/avro_rpc.h"

#include "sqlflume/event.h"

#include <string.h>

static void eq_bytes(const struct sf_buf *b, const unsigned char *want, size_t n)
{
    ck_assert_uint_eq(b->len, n);
    ck_assert_mem_eq(b->data, want, n);
}

START_TEST(framing)
{
    struct sf_buf b = SF_BUF_INIT;
    sf_avro_rpc_frame(&b, 7, "abc", 3);
    const unsigned char want[] = { 0, 0, 0, 7, 0, 0, 0, 1, 0, 0, 0, 3, 'a', 'b', 'c' };
    eq_bytes(&b, want, sizeof(want));
    /* an empty payload is one empty frame */
    sf_buf_reset(&b);
    sf_avro_rpc_frame(&b, -2, "", 0);
    const unsigned char empty[] = { 0xff, 0xff, 0xff, 0xfe, 0, 0, 0, 1, 0, 0, 0, 0 };
    eq_bytes(&b, empty, sizeof(empty));
    /* 8192-byte frames, and back */
    static char big[8192 * 2 + 5];
    memset(big, 'x', sizeof(big));
    sf_buf_reset(&b);
    sf_avro_rpc_frame(&b, 1, big, sizeof(big));
    ck_assert_uint_eq(b.len, 8 + 3 * 4 + sizeof(big));
    ck_assert_int_eq((unsigned char)b.data[7], 3);
    struct sf_buf p = SF_BUF_INIT;
    int32_t serial = 0;
    size_t used = 0;
    char err[256];
    for (size_t k = 0; k < b.len; k++) { /* partial input: nothing taken */
        ck_assert_int_eq(sf_avro_rpc_unframe((unsigned char *)b.data, k, 1 << 20, &serial, &p,
                                             &used, err, sizeof(err)), 0);
        ck_assert_uint_eq(p.len, 0);
    }
    ck_assert_int_eq(sf_avro_rpc_unframe((unsigned char *)b.data, b.len, 1 << 20, &serial, &p,
                                         &used, err, sizeof(err)), 1);
    ck_assert_int_eq(serial, 1);
    ck_assert_uint_eq(used, b.len);
    ck_assert_uint_eq(p.len, sizeof(big));
    ck_assert_mem_eq(p.data, big, sizeof(big));
    /* bounds: a count of 2^31 - 1 frames, and a frame over the limit, refused on the header */
    const unsigned char huge[] = { 0, 0, 0, 1, 0x7f, 0xff, 0xff, 0xff };
    ck_assert_int_eq(sf_avro_rpc_unframe(huge, sizeof(huge), 1 << 20, &serial, &p, &used, err,
                                         sizeof(err)), -1);
    const unsigned char long_frame[] = { 0, 0, 0, 1, 0, 0, 0, 1, 0x10, 0, 0, 0 };
    ck_assert_int_eq(sf_avro_rpc_unframe(long_frame, sizeof(long_frame), 1 << 20, &serial, &p,
                                         &used, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "limit"));
    sf_buf_free(&b);
    sf_buf_free(&p);
}
END_TEST

START_TEST(call)
{
    struct sf_header h[] = { { "k", "v" } };
    struct sf_event *ev = sf_event_create(h, 1, "hi", 2);
    struct sf_buf b = SF_BUF_INIT;
    sf_avro_rpc_append_batch(&b, false, &ev, 1);
    /* meta {}, "appendBatch", array of 1: {headers {k: v}, body "hi"}, end */
    const unsigned char want[] = { 0, 22, 'a', 'p', 'p', 'e', 'n', 'd', 'B', 'a', 't', 'c', 'h',
                                   2, 2, 2, 'k', 2, 'v', 0, 4, 'h', 'i', 0 };
    eq_bytes(&b, want, sizeof(want));
    sf_buf_reset(&b);
    sf_avro_rpc_append_batch(&b, true, &ev, 1);
    size_t plen = strlen(sf_avro_rpc_protocol);
    ck_assert_mem_eq(b.data, sf_avro_rpc_protocol_md5, 16);
    ck_assert_int_eq(b.data[16], 2); /* union index 1: string */
    /* the length as a zig-zag varint, then the text */
    size_t z = plen * 2, at = 17;
    while (z >= 0x80) {
        ck_assert_int_eq((unsigned char)b.data[at++], (unsigned char)(z | 0x80));
        z >>= 7;
    }
    ck_assert_int_eq((unsigned char)b.data[at++], z);
    ck_assert_mem_eq(b.data + at, sf_avro_rpc_protocol, plen);
    at += plen;
    ck_assert_mem_eq(b.data + at, sf_avro_rpc_protocol_md5, 16);
    ck_assert_int_eq(b.data[at + 16], 0); /* meta: null */
    eq_bytes(&(struct sf_buf){ b.data + at + 17, b.len - at - 17, 0 }, want, sizeof(want));
    sf_buf_free(&b);
    sf_event_destroy(ev);
}
END_TEST

START_TEST(replies)
{
    struct sf_avro_rpc_reply r;
    char err[256];
    /* handshake BOTH, nulls; meta {}; no error; Status FAILED */
    const unsigned char failed[] = { 0, 0, 0, 0, 0, 0, 2 };
    ck_assert_int_eq(sf_avro_rpc_parse_reply(failed, sizeof(failed), true, &r, err, sizeof(err)), 0);
    ck_assert(r.had_handshake);
    ck_assert_int_eq(r.match, SF_AVRO_MATCH_BOTH);
    ck_assert(!r.error);
    ck_assert_int_eq(r.status, SF_AVRO_STATUS_FAILED);
    /* CLIENT with serverProtocol "{}" and a serverHash; OK */
    unsigned char client[64] = { 2, 2, 4, '{', '}', 2 };
    size_t n = 6 + 16;
    client[n++] = 0; /* meta null */
    client[n++] = 0; /* call meta {} */
    client[n++] = 0; /* no error */
    client[n++] = 0; /* OK */
    ck_assert_int_eq(sf_avro_rpc_parse_reply(client, n, true, &r, err, sizeof(err)), 0);
    ck_assert_int_eq(r.match, SF_AVRO_MATCH_CLIENT);
    ck_assert_int_eq(r.status, SF_AVRO_STATUS_OK);
    /* no handshake; an error "no" */
    const unsigned char error[] = { 0, 1, 0, 4, 'n', 'o' };
    ck_assert_int_eq(sf_avro_rpc_parse_reply(error, sizeof(error), false, &r, err, sizeof(err)), 0);
    ck_assert(r.error);
    ck_assert_str_eq(r.error_msg, "no");
    /* NONE, truncated, bad enum index, negative length */
    const unsigned char none[] = { 4, 0, 0, 0 };
    ck_assert_int_eq(sf_avro_rpc_parse_reply(none, sizeof(none), true, &r, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "NONE"));
    ck_assert_int_eq(sf_avro_rpc_parse_reply(failed, 6, true, &r, err, sizeof(err)), -1);
    const unsigned char bad_status[] = { 0, 0, 6 };
    ck_assert_int_eq(sf_avro_rpc_parse_reply(bad_status, 3, false, &r, err, sizeof(err)), -1);
    const unsigned char neg[] = { 0, 1, 0, 3 };
    ck_assert_int_eq(sf_avro_rpc_parse_reply(neg, 4, false, &r, err, sizeof(err)), -1);
}
END_TEST

SF_UNIT_SUITE(avro_rpc)
{
    Suite *s = suite_create("avro_rpc");
    TCase *tc = tcase_create("avro_rpc");
    tcase_add_test(tc, framing);
    tcase_add_test(tc, call);
    tcase_add_test(tc, replies);
    suite_add_tcase(s, tc);
    return s;
}
