/*
 * Unit tests of the SequenceFile writer (src/sinks/hdfs/seqfile.c): Hadoop's vint encoding on
 * values worked out from WritableUtils' description, the header's bytes, and files of every
 * value class and codec (none, DefaultCodec, GzipCodec; records across several sync markers and
 * blocks, empty and binary values) read back by the independent reader
 * tests/support/seqfile_read.py, record by record.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit.h"
#include "sqlflume/error.h"

#include "../../../src/sinks/hdfs/seqfile.h"

#ifndef SF_SOURCE_DIR
#define SF_SOURCE_DIR "."
#endif

static const char *vlong_hex(long long v)
{
    static char hex[64];
    struct sf_buf b = SF_BUF_INIT;
    sf_seq_put_vlong(&b, v);
    hex[0] = '\0';
    for (size_t i = 0; i < b.len; i++) {
        snprintf(hex + 2 * i, sizeof(hex) - 2 * i, "%02x", (unsigned char)b.data[i]);
    }
    sf_buf_free(&b);
    return hex;
}

START_TEST(vlongs)
{
    ck_assert_str_eq(vlong_hex(0), "00");
    ck_assert_str_eq(vlong_hex(127), "7f");
    ck_assert_str_eq(vlong_hex(-112), "90");
    ck_assert_str_eq(vlong_hex(128), "8f80");        /* -113: one byte follows */
    ck_assert_str_eq(vlong_hex(255), "8fff");
    ck_assert_str_eq(vlong_hex(256), "8e0100");      /* -114: two bytes */
    ck_assert_str_eq(vlong_hex(-113), "8770");       /* -121: one byte of ~v = 112 */
    ck_assert_str_eq(vlong_hex(-256), "87ff");
    ck_assert_str_eq(vlong_hex(-257), "860100");
    ck_assert_str_eq(vlong_hex(1000000), "8d0f4240");
    ck_assert_str_eq(vlong_hex(9223372036854775807LL), "887fffffffffffffff");
    ck_assert_str_eq(vlong_hex(-9223372036854775807LL - 1), "807fffffffffffffff");
}
END_TEST

START_TEST(header_bytes)
{
    struct sf_seqfile sq;
    struct sf_buf out = SF_BUF_INIT;
    ck_assert_int_eq(sf_seqfile_begin(&sq, SF_SEQ_BYTES_WRITABLE, SF_SEQ_NONE, &out), SF_OK);
    static const char want[] = "SEQ\x06"
                               "\x21org.apache.hadoop.io.LongWritable"
                               "\x22org.apache.hadoop.io.BytesWritable"
                               "\x00\x00"
                               "\x00\x00\x00\x00";
    ck_assert_uint_eq(out.len, sizeof(want) - 1 + 16);
    ck_assert(memcmp(out.data, want, sizeof(want) - 1) == 0);
    ck_assert(memcmp(out.data + sizeof(want) - 1, sq.sync, 16) == 0);
    /* one record: length 8 + 4 + 3, key length 8, key, BytesWritable(3) */
    ck_assert_int_eq(sf_seqfile_append(&sq, 0x0102030405060708LL, "abc", 3, &out), SF_OK);
    static const char rec[] = "\x00\x00\x00\x0f\x00\x00\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08"
                              "\x00\x00\x00\x03"
                              "abc";
    ck_assert(memcmp(out.data + sizeof(want) - 1 + 16, rec, sizeof(rec) - 1) == 0);
    ck_assert_uint_eq(out.len, sizeof(want) - 1 + 16 + sizeof(rec) - 1);
    sf_seqfile_free(&sq);
    sf_buf_free(&out);
}
END_TEST

/* write n records with codec and value class to a file, read it back with the independent
 * reader, compare every record (the expected ones are rebuilt in Python by the same rule) */
static void round_trip(enum sf_seq_value vc, enum sf_seq_codec codec, int n, int flush_every)
{
    char path[] = "/tmp/sqlflume-seqfile-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    struct sf_seqfile sq;
    struct sf_buf out = SF_BUF_INIT;
    ck_assert_int_eq(sf_seqfile_begin(&sq, vc, codec, &out), SF_OK);
    for (int i = 0; i < n; i++) {
        char v[256];
        int len;
        if (i % 7 == 3) {
            len = 0; /* an empty body */
        } else {
            len = snprintf(v, sizeof(v), "{\"id\":%d,\"v\":\"row %d \\u00e9\"}", i, i);
        }
        long long key = 1700000000000LL + i * 1000LL - (i == 5 ? 1800000000000LL : 0);
        ck_assert_int_eq(sf_seqfile_append(&sq, key, v, (size_t)len, &out), SF_OK);
        if (flush_every && (i + 1) % flush_every == 0) {
            ck_assert_int_eq(sf_seqfile_flush(&sq, &out), SF_OK);
        }
    }
    ck_assert_int_eq(sf_seqfile_flush(&sq, &out), SF_OK);
    ck_assert(write(fd, out.data, out.len) == (ssize_t)out.len);
    close(fd);
    char cmd[1024];
    snprintf(cmd, sizeof(cmd),
             "/usr/bin/python3 %s/tests/support/seqfile_read.py %s | /usr/bin/python3 -c '"
             "import json, sys\n"
             "n = 0\n"
             "for i, l in enumerate(sys.stdin):\n"
             "    r = json.loads(l)\n"
             "    k = 1700000000000 + i * 1000 - (1800000000000 if i == 5 else 0)\n"
             "    v = \"\" if i %% 7 == 3 else json.dumps({\"id\": i, \"v\": \"row %%d \\u00e9\" %% i}, separators=(\",\", \":\"), ensure_ascii=False).replace(\"\\u00e9\", \"\\\\u00e9\")\n"
             "    assert r[\"key\"] == k, (i, r, k)\n"
             "    assert r.get(\"value\") == v, (i, r, v)\n"
             "    n += 1\n"
             "print(n)'",
             SF_SOURCE_DIR, path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[256] = "";
    char *got = fgets(line, sizeof(line), p);
    int st = pclose(p);
    unlink(path);
    ck_assert_msg(got && st == 0, "reader failed (status %d) on codec %d value %d", st, codec, vc);
    ck_assert_int_eq(atoi(line), n);
    sf_seqfile_free(&sq);
    sf_buf_free(&out);
}

START_TEST(files_read_back)
{
    /* 3000 records of ~40 bytes: about 60 sync markers without a codec */
    round_trip(SF_SEQ_BYTES_WRITABLE, SF_SEQ_NONE, 3000, 0);
    round_trip(SF_SEQ_TEXT, SF_SEQ_NONE, 3000, 0);
    /* block-compressed: a block per 100-record batch, and one block of everything */
    round_trip(SF_SEQ_BYTES_WRITABLE, SF_SEQ_DEFLATE, 3000, 100);
    round_trip(SF_SEQ_TEXT, SF_SEQ_GZIP, 3000, 100);
    round_trip(SF_SEQ_BYTES_WRITABLE, SF_SEQ_GZIP, 3000, 0);
    /* a file with a header only */
    round_trip(SF_SEQ_BYTES_WRITABLE, SF_SEQ_NONE, 0, 0);
}
END_TEST

SF_UNIT_SUITE(seqfile)
{
    Suite *s = suite_create("seqfile");
    TCase *tc = tcase_create("seqfile");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, vlongs);
    tcase_add_test(tc, header_bytes);
    tcase_add_test(tc, files_read_back);
    suite_add_tcase(s, tc);
    return s;
}
