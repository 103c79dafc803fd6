/* src/rpc/avro_rpc.c: the Netty framing, the appendBatch call with and without its handshake,
 * the reply decoder and the server side (call decoder, handshake answer, reply encoder), against bytes written out by hand from the Avro specification. */
#include "unit.h"

#include "../../../src/rpc/avro_rpc.h"

#include "sqlflume/error.h"
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

START_TEST(server_call)
{
    char err[256];
    struct sf_avro_rpc_call c;
    struct sf_header h[] = { { "k", "v" }, { "seq", "1" } };
    struct sf_event *evs[2] = { sf_event_create(h, 2, "hi", 2), sf_event_create(NULL, 0, "\0x", 2) };
    struct sf_buf b = SF_BUF_INIT;
    /* what our sink sends, with its handshake: a connection's first call */
    sf_avro_rpc_append_batch(&b, true, evs, 2);
    ck_assert_int_eq(sf_avro_rpc_parse_call((unsigned char *)b.data, b.len, 1, NULL, &c, err,
                                            sizeof(err)), SF_OK);
    ck_assert(c.had_handshake);
    ck_assert_mem_eq(c.client_hash, sf_avro_rpc_protocol_md5, 16);
    ck_assert_uint_eq(c.client_protocol_len, strlen(sf_avro_rpc_protocol));
    ck_assert_int_eq(c.msg, SF_AVRO_MSG_APPEND_BATCH);
    ck_assert_uint_eq(c.n, 2);
    ck_assert_str_eq(sf_event_header(c.evs[0], "k"), "v");
    ck_assert_str_eq(sf_event_header(c.evs[0], "seq"), "1");
    ck_assert_uint_eq(c.evs[0]->nheaders, 2);
    ck_assert_uint_eq(c.evs[1]->body_len, 2);
    ck_assert_mem_eq(c.evs[1]->body, "\0x", 2);
    ck_assert_ptr_null(c.evs[0]->tracker);
    ck_assert_int_eq(sf_avro_rpc_handshake_match(&c, false), SF_AVRO_MATCH_BOTH);
    sf_avro_rpc_call_free(&c);
    /* a later call: the handshake may be there (Python) or not (Java) */
    ck_assert_int_eq(sf_avro_rpc_parse_call((unsigned char *)b.data, b.len, -1,
                                            sf_avro_rpc_protocol_md5, &c, err, sizeof(err)), SF_OK);
    ck_assert(c.had_handshake);
    ck_assert_uint_eq(c.n, 2);
    sf_avro_rpc_call_free(&c);
    sf_buf_reset(&b);
    sf_avro_rpc_append_batch(&b, false, evs, 2);
    ck_assert_int_eq(sf_avro_rpc_parse_call((unsigned char *)b.data, b.len, -1,
                                            sf_avro_rpc_protocol_md5, &c, err, sizeof(err)), SF_OK);
    ck_assert(!c.had_handshake);
    ck_assert_uint_eq(c.n, 2);
    sf_avro_rpc_call_free(&c);
    /* without a handshake where one is required: the MD5's bytes do not parse as a call */
    ck_assert_int_eq(sf_avro_rpc_parse_call((unsigned char *)b.data, b.len, 1, NULL, &c, err,
                                            sizeof(err)), SF_ERR_INVAL);
    /* every truncation is refused, nothing leaks (ASan) */
    for (size_t k = 0; k < b.len; k++) {
        ck_assert_int_eq(sf_avro_rpc_parse_call((unsigned char *)b.data, k, 0, NULL, &c, err,
                                                sizeof(err)), SF_ERR_INVAL);
    }
    /* a byte left over */
    sf_buf_append(&b, "\0", 1);
    ck_assert_int_eq(sf_avro_rpc_parse_call((unsigned char *)b.data, b.len, 0, NULL, &c, err,
                                            sizeof(err)), SF_ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "left over"));
    /* append(event) by hand, headers in a block with a negative count and its byte size:
     * meta {}, "append", headers -1 (size 4) {a: b}, 0, body "z" */
    const unsigned char append[] = { 0, 12, 'a', 'p', 'p', 'e', 'n', 'd', 1, 8, 2, 'a', 2, 'b',
                                     0, 2, 'z' };
    ck_assert_int_eq(sf_avro_rpc_parse_call(append, sizeof(append), 0, NULL, &c, err,
                                            sizeof(err)), SF_OK);
    ck_assert_int_eq(c.msg, SF_AVRO_MSG_APPEND);
    ck_assert_uint_eq(c.n, 1);
    ck_assert_str_eq(sf_event_header(c.evs[0], "a"), "b");
    ck_assert_str_eq(c.evs[0]->body, "z");
    sf_avro_rpc_call_free(&c);
    /* an array count larger than the bytes could hold is refused before allocating */
    const unsigned char huge[] = { 0, 22, 'a', 'p', 'p', 'e', 'n', 'd', 'B', 'a', 't', 'c', 'h',
                                   0xfe, 0xff, 0xff, 0xff, 0x0f, 0, 0 };
    ck_assert_int_eq(sf_avro_rpc_parse_call(huge, sizeof(huge), 0, NULL, &c, err, sizeof(err)),
                     SF_ERR_INVAL);
    /* a negative string length */
    const unsigned char neg[] = { 0, 1 };
    ck_assert_int_eq(sf_avro_rpc_parse_call(neg, sizeof(neg), 0, NULL, &c, err, sizeof(err)),
                     SF_ERR_INVAL);
    /* ping, and another message name */
    const unsigned char ping[] = { 0, 0 };
    ck_assert_int_eq(sf_avro_rpc_parse_call(ping, sizeof(ping), 0, NULL, &c, err, sizeof(err)),
                     SF_OK);
    ck_assert_int_eq(c.msg, SF_AVRO_MSG_PING);
    const unsigned char other[] = { 0, 6, 'f', 'o', 'o' };
    ck_assert_int_eq(sf_avro_rpc_parse_call(other, sizeof(other), 0, NULL, &c, err, sizeof(err)),
                     SF_OK);
    ck_assert_int_eq(c.msg, SF_AVRO_MSG_UNKNOWN);
    ck_assert_str_eq(c.message, "foo");
    sf_buf_free(&b);
    sf_event_destroy(evs[0]);
    sf_event_destroy(evs[1]);
}
END_TEST

START_TEST(server_handshake_and_reply)
{
    struct sf_avro_rpc_call c = { 0 };
    c.had_handshake = true;
    memset(c.client_hash, 7, 16);
    memcpy(c.server_hash, sf_avro_rpc_protocol_md5, 16);
    /* an unknown client hash without its text: NONE; known (seen before, or text sent): BOTH */
    ck_assert_int_eq(sf_avro_rpc_handshake_match(&c, false), SF_AVRO_MATCH_NONE);
    ck_assert_int_eq(sf_avro_rpc_handshake_match(&c, true), SF_AVRO_MATCH_BOTH);
    c.client_protocol = "{}";
    c.client_protocol_len = 2;
    ck_assert_int_eq(sf_avro_rpc_handshake_match(&c, false), SF_AVRO_MATCH_BOTH);
    /* the client expects another server protocol: CLIENT */
    memset(c.server_hash, 1, 16);
    ck_assert_int_eq(sf_avro_rpc_handshake_match(&c, false), SF_AVRO_MATCH_CLIENT);
    struct sf_buf b = SF_BUF_INIT;
    /* BOTH, nulls, meta {}, no error, FAILED: what the client decoder reads back */
    sf_avro_rpc_reply(&b, true, SF_AVRO_MATCH_BOTH, false, SF_AVRO_STATUS_FAILED, NULL);
    const unsigned char both[] = { 0, 0, 0, 0, 0, 0, 2 };
    eq_bytes(&b, both, sizeof(both));
    struct sf_avro_rpc_reply r;
    char err[256];
    ck_assert_int_eq(sf_avro_rpc_parse_reply((unsigned char *)b.data, b.len, true, &r, err,
                                             sizeof(err)), 0);
    ck_assert_int_eq(r.status, SF_AVRO_STATUS_FAILED);
    /* no handshake, OK */
    sf_buf_reset(&b);
    sf_avro_rpc_reply(&b, false, SF_AVRO_MATCH_BOTH, false, SF_AVRO_STATUS_OK, NULL);
    const unsigned char ok[] = { 0, 0, 0 };
    eq_bytes(&b, ok, sizeof(ok));
    /* CLIENT: our protocol and hash, then the result */
    sf_buf_reset(&b);
    sf_avro_rpc_reply(&b, true, SF_AVRO_MATCH_CLIENT, false, SF_AVRO_STATUS_OK, NULL);
    size_t plen = strlen(sf_avro_rpc_protocol);
    ck_assert_int_eq(b.data[0], 2);
    ck_assert_int_eq(b.data[1], 2);
    size_t at = b.len - 3 - 1 - 16 - 1; /* the serverHash union index */
    ck_assert_mem_eq(b.data + at - plen, sf_avro_rpc_protocol, plen);
    ck_assert_int_eq(b.data[at], 2);
    ck_assert_mem_eq(b.data + at + 1, sf_avro_rpc_protocol_md5, 16);
    ck_assert_int_eq(sf_avro_rpc_parse_reply((unsigned char *)b.data, b.len, true, &r, err,
                                             sizeof(err)), 0);
    ck_assert_int_eq(r.match, SF_AVRO_MATCH_CLIENT);
    ck_assert_int_eq(r.status, SF_AVRO_STATUS_OK);
    /* NONE: the handshake response alone */
    sf_buf_reset(&b);
    sf_avro_rpc_reply(&b, true, SF_AVRO_MATCH_NONE, false, SF_AVRO_STATUS_OK, NULL);
    ck_assert_int_eq(b.data[0], 4);
    ck_assert_int_eq(b.data[b.len - 1], 0); /* meta null, nothing after it */
    ck_assert_uint_eq(b.len, 2 + (plen * 2 >= 0x4000 ? 3 : 2) + plen + 1 + 16 + 1);
    /* an error: flag 1, union index 0, the string */
    sf_buf_reset(&b);
    sf_avro_rpc_reply(&b, false, SF_AVRO_MATCH_BOTH, false, SF_AVRO_STATUS_OK, "no");
    const unsigned char error[] = { 0, 1, 0, 4, 'n', 'o' };
    eq_bytes(&b, error, sizeof(error));
    sf_buf_free(&b);
}
END_TEST

SF_UNIT_SUITE(avro_rpc)
{
    Suite *s = suite_create("avro_rpc");
    TCase *tc = tcase_create("avro_rpc");
    tcase_add_test(tc, framing);
    tcase_add_test(tc, call);
    tcase_add_test(tc, replies);
    tcase_add_test(tc, server_call);
    tcase_add_test(tc, server_handshake_and_reply);
    suite_add_tcase(s, tc);
    return s;
}
