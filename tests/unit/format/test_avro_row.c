/*
 * Unit tests of format = avro (sqlflume/avro_row.h) and the avro serializer: the schema JSON of
 * every column kind, names made Avro names (collisions, leading digits, empty names); the exact
 * datum bytes of every type with NULLs, integers at the 64-bit limits, decimals negative, zero,
 * padded to the scale and at full precision (38 and 65 digits, BIGINT UNSIGNED), dates before
 * 1970 and BC, times with microseconds, timestamps and timestamptz offsets, empty strings, binary
 * with NUL bytes, NaN and infinities; every refused value (the exact message, the buffer left as
 * it was); the schema change check; and a container file written by the avro serializer read
 * back by python3-avro and avrocat (tests/support/avro_rows_dump.py) as values.
 */
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlflume/avro_row.h"
#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/format.h"
#include "sqlflume/option.h"
#include "sqlflume/serializer.h"

#ifndef SF_SOURCE_DIR
#define SF_SOURCE_DIR "."
#endif

#define COL(nm, t, s, p, sc)                                                                       \
    {                                                                                              \
        (char *)(nm), (t), (s), (p), (sc)                                                          \
    }

/* Encode one value v (NULL = SQL NULL) of a one-column schema; @return the encoder's code. */
static int enc1(struct sf_column col, const char *v, size_t n, struct sf_buf *out, char *err)
{
    struct sf_avro_schema s = { 0 };
    sf_avro_schema_build(&s, "t", &col, 1);
    const char *vals[1] = { v };
    size_t lens[1] = { n };
    struct sf_row row = { 1, vals, lens };
    sf_buf_reset(out);
    err[0] = '\0';
    int rc = sf_avro_row_encode(&s, &row, out, err, 256);
    sf_avro_schema_free(&s);
    return rc;
}

/* The datum of v must be exactly exp[0..exp_len). */
static void expect(struct sf_column col, const char *v, const char *exp, size_t exp_len)
{
    struct sf_buf out = SF_BUF_INIT;
    char err[256];
    int rc = enc1(col, v, v ? strlen(v) : 0, &out, err);
    ck_assert_msg(rc == SF_OK, "'%s': %s", v ? v : "NULL", err);
    ck_assert_msg(out.len == exp_len, "'%s': %zu bytes, expected %zu", v ? v : "NULL", out.len,
                  exp_len);
    ck_assert_mem_eq(out.data, exp, exp_len);
    sf_buf_free(&out);
}
#define EXPECT(col, v, lit) expect((col), (v), (lit), sizeof(lit) - 1)

/* Encoding v must fail with SF_ERR_DATA and message msg, leaving what was in the buffer. */
static void refuse(struct sf_column col, const char *v, const char *msg)
{
    struct sf_avro_schema s = { 0 };
    sf_avro_schema_build(&s, "t", &col, 1);
    const char *vals[1] = { v };
    size_t lens[1] = { strlen(v) };
    struct sf_row row = { 1, vals, lens };
    struct sf_buf out = SF_BUF_INIT;
    sf_buf_puts(&out, "keep");
    char err[256] = "";
    ck_assert_int_eq(sf_avro_row_encode(&s, &row, &out, err, sizeof(err)), SF_ERR_DATA);
    ck_assert_str_eq(err, msg);
    ck_assert_uint_eq(out.len, 4);
    ck_assert_str_eq(out.data, "keep");
    sf_buf_free(&out);
    sf_avro_schema_free(&s);
}

/* A zig-zag varint long after the union's branch byte 2, for the temporal expectations. */
static size_t zz(int64_t v, char *p)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    size_t n = 0;
    p[n++] = 2;
    while (z >= 0x80) {
        p[n++] = (char)(z | 0x80);
        z >>= 7;
    }
    p[n++] = (char)z;
    return n;
}
static void expect_long(struct sf_column col, const char *v, int64_t x)
{
    char buf[16];
    size_t n = zz(x, buf);
    expect(col, v, buf, n);
}

static const struct sf_column C_INT = COL("c", SF_COL_INT, SF_SUB_NONE, 0, 0);
static const struct sf_column C_U64 = COL("c", SF_COL_INT, SF_SUB_UINT64, 0, 0);
static const struct sf_column C_DBL = COL("c", SF_COL_FLOAT, SF_SUB_NONE, 0, 0);
static const struct sf_column C_FLT = COL("c", SF_COL_FLOAT, SF_SUB_FLOAT4, 0, 0);
static const struct sf_column C_DEC = COL("c", SF_COL_DECIMAL, SF_SUB_NONE, 10, 2);
static const struct sf_column C_BOOL = COL("c", SF_COL_BOOL, SF_SUB_NONE, 0, 0);
static const struct sf_column C_TEXT = COL("c", SF_COL_TEXT, SF_SUB_NONE, 0, 0);
static const struct sf_column C_BIN = COL("c", SF_COL_BINARY, SF_SUB_NONE, 0, 0);
static const struct sf_column C_DATE = COL("c", SF_COL_TEMPORAL, SF_SUB_DATE, 0, 0);
static const struct sf_column C_TIME = COL("c", SF_COL_TEMPORAL, SF_SUB_TIME, 0, 0);
static const struct sf_column C_TS = COL("c", SF_COL_TEMPORAL, SF_SUB_TIMESTAMP, 0, 0);
static const struct sf_column C_TSTZ = COL("c", SF_COL_TEMPORAL, SF_SUB_TIMESTAMPTZ, 0, 0);

START_TEST(schema_every_kind)
{
    struct sf_column cols[] = {
        COL("id", SF_COL_INT, SF_SUB_NONE, 0, 0),
        COL("big", SF_COL_INT, SF_SUB_UINT64, 0, 0),
        COL("f4", SF_COL_FLOAT, SF_SUB_FLOAT4, 0, 0),
        COL("f8", SF_COL_FLOAT, SF_SUB_NONE, 0, 0),
        COL("price", SF_COL_DECIMAL, SF_SUB_NONE, 12, 3),
        COL("num", SF_COL_DECIMAL, SF_SUB_NONE, 0, 0),
        COL("ok", SF_COL_BOOL, SF_SUB_NONE, 0, 0),
        COL("d", SF_COL_TEMPORAL, SF_SUB_DATE, 0, 0),
        COL("t", SF_COL_TEMPORAL, SF_SUB_TIME, 0, 0),
        COL("ts", SF_COL_TEMPORAL, SF_SUB_TIMESTAMP, 0, 0),
        COL("tz", SF_COL_TEMPORAL, SF_SUB_TIMESTAMPTZ, 0, 0),
        COL("iv", SF_COL_TEMPORAL, SF_SUB_NONE, 0, 0),
        COL("u", SF_COL_OTHER, SF_SUB_UUID, 0, 0),
        COL("j", SF_COL_OTHER, SF_SUB_NONE, 0, 0),
        COL("b", SF_COL_BINARY, SF_SUB_NONE, 0, 0),
        COL("s", SF_COL_TEXT, SF_SUB_NONE, 0, 0),
    };
    struct sf_avro_schema s = { 0 };
    sf_avro_schema_build(&s, "orders", cols, sizeof cols / sizeof cols[0]);
    ck_assert_str_eq(
        s.json.data,
        "{\"type\":\"record\",\"name\":\"orders\",\"fields\":["
        "{\"name\":\"id\",\"type\":[\"null\",\"long\"],\"default\":null},"
        "{\"name\":\"big\",\"type\":[\"null\",{\"type\":\"bytes\",\"logicalType\":\"decimal\","
        "\"precision\":20,\"scale\":0}],\"default\":null},"
        "{\"name\":\"f4\",\"type\":[\"null\",\"float\"],\"default\":null},"
        "{\"name\":\"f8\",\"type\":[\"null\",\"double\"],\"default\":null},"
        "{\"name\":\"price\",\"type\":[\"null\",{\"type\":\"bytes\",\"logicalType\":\"decimal\","
        "\"precision\":12,\"scale\":3}],\"default\":null},"
        "{\"name\":\"num\",\"type\":[\"null\",\"string\"],\"default\":null},"
        "{\"name\":\"ok\",\"type\":[\"null\",\"boolean\"],\"default\":null},"
        "{\"name\":\"d\",\"type\":[\"null\",{\"type\":\"int\",\"logicalType\":\"date\"}],"
        "\"default\":null},"
        "{\"name\":\"t\",\"type\":[\"null\",{\"type\":\"long\",\"logicalType\":\"time-micros\"}],"
        "\"default\":null},"
        "{\"name\":\"ts\",\"type\":[\"null\",{\"type\":\"long\",\"logicalType\":"
        "\"timestamp-micros\"}],\"default\":null},"
        "{\"name\":\"tz\",\"type\":[\"null\",{\"type\":\"long\",\"logicalType\":"
        "\"timestamp-micros\"}],\"default\":null},"
        "{\"name\":\"iv\",\"type\":[\"null\",\"string\"],\"default\":null},"
        "{\"name\":\"u\",\"type\":[\"null\",{\"type\":\"string\",\"logicalType\":\"uuid\"}],"
        "\"default\":null},"
        "{\"name\":\"j\",\"type\":[\"null\",\"string\"],\"default\":null},"
        "{\"name\":\"b\",\"type\":[\"null\",\"bytes\"],\"default\":null},"
        "{\"name\":\"s\",\"type\":[\"null\",\"string\"],\"default\":null}]}");
    ck_assert_uint_eq(s.n, 16);
    sf_avro_schema_free(&s);
}
END_TEST

START_TEST(schema_names)
{
    struct sf_column cols[] = {
        COL("a b", SF_COL_TEXT, SF_SUB_NONE, 0, 0),   COL("a_b", SF_COL_TEXT, SF_SUB_NONE, 0, 0),
        COL("a-b", SF_COL_TEXT, SF_SUB_NONE, 0, 0),   COL("1st", SF_COL_TEXT, SF_SUB_NONE, 0, 0),
        COL("", SF_COL_TEXT, SF_SUB_NONE, 0, 0),      COL("é\"", SF_COL_TEXT, SF_SUB_NONE, 0, 0),
        COL("a_b_2", SF_COL_TEXT, SF_SUB_NONE, 0, 0),
    };
    struct sf_avro_schema s = { 0 };
    sf_avro_schema_build(&s, "my db.1 table", cols, sizeof cols / sizeof cols[0]);
    ck_assert_str_eq(
        s.json.data,
        "{\"type\":\"record\",\"name\":\"my_db_1_table\",\"fields\":["
        "{\"name\":\"a_b\",\"type\":[\"null\",\"string\"],\"default\":null,\"doc\":\"column a "
        "b\"},"
        "{\"name\":\"a_b_2\",\"type\":[\"null\",\"string\"],\"default\":null,\"doc\":\"column "
        "a_b\"},"
        "{\"name\":\"a_b_3\",\"type\":[\"null\",\"string\"],\"default\":null,\"doc\":\"column "
        "a-b\"},"
        "{\"name\":\"_1st\",\"type\":[\"null\",\"string\"],\"default\":null,\"doc\":\"column "
        "1st\"},"
        "{\"name\":\"_\",\"type\":[\"null\",\"string\"],\"default\":null,\"doc\":\"column \"},"
        "{\"name\":\"___\",\"type\":[\"null\",\"string\"],\"default\":null,\"doc\":\"column "
        "é\\\"\"},"
        "{\"name\":\"a_b_2_2\",\"type\":[\"null\",\"string\"],\"default\":null,\"doc\":\"column "
        "a_b_2\"}]}");
    /* a leading digit in the record name too */
    sf_avro_schema_build(&s, "2024", cols, 0);
    ck_assert_str_eq(s.json.data, "{\"type\":\"record\",\"name\":\"_2024\",\"fields\":[]}");
    /* its fingerprint: CRC-64-AVRO of the text (computed independently in Python) */
    ck_assert_str_eq(s.hash, "02ee6a62b3b87836");
    sf_avro_schema_free(&s);
}
END_TEST

/* the Avro specification's fingerprint of the schema "null" (its canonical form "\"null\""):
 * 7195948357588979594 */
START_TEST(schema_crc64)
{
    ck_assert_uint_eq(sf_avro_crc64("\"null\"", 6), UINT64_C(0x63dd24e7cc258f8a));
    ck_assert_uint_eq(sf_avro_crc64("", 0), UINT64_C(0xc15d213aa4d7a795)); /* the empty one */
}
END_TEST

START_TEST(schema_matches)
{
    struct sf_column cols[] = { COL("id", SF_COL_INT, SF_SUB_NONE, 0, 0),
                                COL("p", SF_COL_DECIMAL, SF_SUB_NONE, 10, 2) };
    struct sf_avro_schema s = { 0 };
    ck_assert(!sf_avro_schema_matches(&s, cols, 2)); /* never built */
    sf_avro_schema_build(&s, "t", cols, 2);
    ck_assert(sf_avro_schema_matches(&s, cols, 2));
    ck_assert(!sf_avro_schema_matches(&s, cols, 1));
    cols[1].scale = 3;
    ck_assert(!sf_avro_schema_matches(&s, cols, 2));
    cols[1].scale = 2;
    cols[1].precision = 11;
    ck_assert(!sf_avro_schema_matches(&s, cols, 2));
    cols[1].precision = 10;
    cols[0].name = "ID";
    ck_assert(!sf_avro_schema_matches(&s, cols, 2));
    cols[0].name = "id";
    cols[0].type = SF_COL_TEXT;
    ck_assert(!sf_avro_schema_matches(&s, cols, 2));
    cols[0].type = SF_COL_INT;
    cols[0].sub = SF_SUB_UINT64;
    ck_assert(!sf_avro_schema_matches(&s, cols, 2));
    cols[0].sub = SF_SUB_NONE;
    ck_assert(sf_avro_schema_matches(&s, cols, 2));
    sf_avro_schema_free(&s);
}
END_TEST

START_TEST(datum_nulls_and_ints)
{
    EXPECT(C_INT, NULL, "\x00");
    EXPECT(C_TEXT, NULL, "\x00");
    EXPECT(C_DEC, NULL, "\x00");
    EXPECT(C_DATE, NULL, "\x00");
    EXPECT(C_INT, "0", "\x02\x00");
    EXPECT(C_INT, "1", "\x02\x02");
    EXPECT(C_INT, "-1", "\x02\x01");
    EXPECT(C_INT, "007", "\x02\x0e"); /* ZEROFILL */
    EXPECT(C_INT, "64", "\x02\x80\x01");
    EXPECT(C_INT, "9223372036854775807", "\x02\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    EXPECT(C_INT, "-9223372036854775808", "\x02\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01");
    refuse(C_INT, "9223372036854775808",
           "column \"c\": value '9223372036854775808' cannot be encoded: not a value of this type");
    refuse(C_INT, "", "column \"c\": value '' cannot be encoded: not a value of this type");
    refuse(C_INT, "1.5", "column \"c\": value '1.5' cannot be encoded: not a value of this type");
    /* BIGINT UNSIGNED: a decimal(20,0) */
    EXPECT(C_U64, "18446744073709551615", "\x02\x12\x00\xff\xff\xff\xff\xff\xff\xff\xff");
    EXPECT(C_U64, "1", "\x02\x02\x01");
}
END_TEST

START_TEST(datum_decimals)
{
    EXPECT(C_DEC, "-123.45", "\x02\x04\xcf\xc7");
    EXPECT(C_DEC, "0.00", "\x02\x02\x00");
    EXPECT(C_DEC, "-0.00", "\x02\x02\x00");
    EXPECT(C_DEC, "1.5", "\x02\x04\x00\x96"); /* padded to the scale: 150 */
    EXPECT(C_DEC, "1.50", "\x02\x04\x00\x96");
    EXPECT(C_DEC, "1.500", "\x02\x04\x00\x96"); /* a zero beyond the scale */
    EXPECT(C_DEC, "-0.01", "\x02\x02\xff");
    EXPECT(C_DEC, "1.27", "\x02\x02\x7f");
    EXPECT(C_DEC, "1.28", "\x02\x04\x00\x80");
    EXPECT(C_DEC, "-1.28", "\x02\x02\x80");
    EXPECT(C_DEC, "-1.29", "\x02\x04\xff\x7f");
    EXPECT(C_DEC, "+5", "\x02\x04\x01\xf4");
    EXPECT(C_DEC, "99999999.99", "\x02\x0a\x02\x54\x0b\xe3\xff"); /* 10 digits */
    struct sf_column d38 = COL("c", SF_COL_DECIMAL, SF_SUB_NONE, 38, 0);
    EXPECT(d38, "99999999999999999999999999999999999999",
           "\x02\x20\x4b\x3b\x4c\xa8\x5a\x86\xc4\x7a\x09\x8a\x22\x3f\xff\xff\xff\xff");
    EXPECT(d38, "-99999999999999999999999999999999999999",
           "\x02\x20\xb4\xc4\xb3\x57\xa5\x79\x3b\x85\xf6\x75\xdd\xc0\x00\x00\x00\x01");
    /* MariaDB's widest: 65 digits, 30 after the point */
    struct sf_column d65 = COL("c", SF_COL_DECIMAL, SF_SUB_NONE, 65, 30);
    EXPECT(d65, "99999999999999999999999999999999999.999999999999999999999999999999",
           "\x02\x38\x00\xf3\x16\x27\x1c\x7f\xc3\x90\x8a\x8b\xef\x46\x4e\x39\x45\xef\x7a\x25\x36"
           "\x09\xff\xff\xff\xff\xff\xff\xff\xff");
    EXPECT(d65, "-99999999999999999999999999999999999.999999999999999999999999999999",
           "\x02\x38\xff\x0c\xe9\xd8\xe3\x80\x3c\x6f\x75\x74\x10\xb9\xb1\xc6\xba\x10\x85\xda\xc9"
           "\xf6\x00\x00\x00\x00\x00\x00\x00\x01");
    refuse(C_DEC, "NaN",
           "column \"c\": value 'NaN' cannot be encoded: not a decimal number (NaN and infinities "
           "have no Avro decimal)");
    refuse(C_DEC, "Infinity",
           "column \"c\": value 'Infinity' cannot be encoded: not a decimal number (NaN and "
           "infinities have no Avro decimal)");
    refuse(C_DEC, "1.234",
           "column \"c\": value '1.234' cannot be encoded: more fractional digits than the "
           "column's scale");
    refuse(C_DEC, "123456789.00",
           "column \"c\": value '123456789.00' cannot be encoded: more digits than the column's "
           "precision");
    refuse(C_DEC, "",
           "column \"c\": value '' cannot be encoded: not a decimal number (NaN and "
           "infinities have no Avro decimal)");
    refuse(C_DEC, "1.2.3",
           "column \"c\": value '1.2.3' cannot be encoded: not a decimal number "
           "(NaN and infinities have no Avro decimal)");
    refuse(C_DEC, "1e5",
           "column \"c\": value '1e5' cannot be encoded: not a decimal number (NaN "
           "and infinities have no Avro decimal)");
}
END_TEST

START_TEST(datum_floats_bools)
{
    EXPECT(C_DBL, "1.5", "\x02\x00\x00\x00\x00\x00\x00\xf8\x3f");
    EXPECT(C_DBL, "-0", "\x02\x00\x00\x00\x00\x00\x00\x00\x80");
    EXPECT(C_DBL, "NaN", "\x02\x00\x00\x00\x00\x00\x00\xf8\x7f");
    EXPECT(C_DBL, "Infinity", "\x02\x00\x00\x00\x00\x00\x00\xf0\x7f");
    EXPECT(C_DBL, "-Infinity", "\x02\x00\x00\x00\x00\x00\x00\xf0\xff");
    EXPECT(C_DBL, "1e-7", "\x02\x48\xaf\xbc\x9a\xf2\xd7\x7a\x3e");
    EXPECT(C_FLT, "1.5", "\x02\x00\x00\xc0\x3f");
    EXPECT(C_FLT, "-Infinity", "\x02\x00\x00\x80\xff");
    refuse(C_DBL, "1,5", "column \"c\": value '1,5' cannot be encoded: not a value of this type");
    EXPECT(C_BOOL, "t", "\x02\x01");
    EXPECT(C_BOOL, "f", "\x02\x00");
    EXPECT(C_BOOL, "true", "\x02\x01");
    EXPECT(C_BOOL, "0", "\x02\x00");
    refuse(C_BOOL, "yes", "column \"c\": value 'yes' cannot be encoded: not a value of this type");
}
END_TEST

/* the doubles' fast path against strtod, and floats against strtof, on random decimals */
START_TEST(datum_floats_exact)
{
    uint64_t x = 88172645463325252ull;
    struct sf_buf out = SF_BUF_INIT;
    char err[256], v[48];
    for (int i = 0; i < 50000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
        int intd = 1 + (int)(x % 12), fracd = (int)((x >> 8) % 14);
        size_t n = 0;
        if (x & (1ull << 40)) {
            v[n++] = '-';
        }
        uint64_t y = x;
        for (int j = 0; j < intd + fracd; j++) {
            if (j == intd) {
                v[n++] = '.';
            }
            y = y * 6364136223846793005ull + 1442695040888963407ull;
            v[n++] = (char)('0' + (y >> 60) % 10);
        }
        if (fracd == 0 && (x & (1ull << 41))) {
            n = (size_t)snprintf(v, sizeof v, "%.17g", (double)x / 3.0e10); /* exponents */
        }
        v[n] = '\0';
        ck_assert_int_eq(enc1(C_DBL, v, n, &out, err), SF_OK);
        double d = strtod(v, NULL), got;
        memcpy(&got, out.data + 1, 8); /* little-endian host, as Avro */
        ck_assert_msg(memcmp(&got, &d, 8) == 0, "%s: %.17g, strtod %.17g", v, got, d);
        ck_assert_int_eq(enc1(C_FLT, v, n, &out, err), SF_OK);
        float f = strtof(v, NULL), gotf;
        memcpy(&gotf, out.data + 1, 4);
        ck_assert_msg(memcmp(&gotf, &f, 4) == 0, "%s: float %.9g, strtof %.9g", v, gotf, f);
    }
    sf_buf_free(&out);
}
END_TEST

START_TEST(datum_strings_bytes)
{
    EXPECT(C_TEXT, "", "\x02\x00"); /* empty, not NULL */
    EXPECT(C_TEXT, "héllo", "\x02\x0ch\xc3\xa9llo");
    struct sf_buf out = SF_BUF_INIT;
    char err[256];
    ck_assert_int_eq(enc1(C_BIN, "a\0b\0", 4, &out, err), SF_OK);
    ck_assert_uint_eq(out.len, 6);
    ck_assert_mem_eq(out.data,
                     "\x02\x08"
                     "a\0b\0",
                     6);
    ck_assert_int_eq(enc1(C_BIN, "", 0, &out, err), SF_OK);
    ck_assert_uint_eq(out.len, 2);
    ck_assert_mem_eq(out.data, "\x02\x00", 2);
    /* a 200 KB value: the length as a three-byte varint */
    size_t big = 200000;
    char *v = malloc(big);
    memset(v, 'x', big);
    ck_assert_int_eq(enc1(C_TEXT, v, big, &out, err), SF_OK);
    ck_assert_uint_eq(out.len, 1 + 3 + big);
    ck_assert_mem_eq(out.data, "\x02\x80\xb5\x18", 4);
    ck_assert_mem_eq(out.data + 4, v, big);
    free(v);
    sf_buf_free(&out);
}
END_TEST

START_TEST(datum_dates)
{
    expect_long(C_DATE, "1970-01-01", 0);
    expect_long(C_DATE, "1969-12-31", -1);
    expect_long(C_DATE, "1900-02-28", -25509);
    expect_long(C_DATE, "0001-01-01", -719162);
    expect_long(C_DATE, "2000-03-01", 11017);
    expect_long(C_DATE, "2000-02-29", 11016);
    expect_long(C_DATE, "9999-12-31", 2932896);
    expect_long(C_DATE, "0001-12-31 BC", -719163);       /* the day before 0001-01-01 */
    expect_long(C_DATE, "0001-01-01 BC", -719162 - 366); /* year 0, a leap year */
    expect_long(C_DATE, "10000-01-01", 2932897);
    const char *why = "not an ISO date/time of this type (PostgreSQL: DateStyle ISO is needed)";
    char msg[256];
    const char *bad[] = { "1900-02-29", "2023-13-01", "2023-00-10",         "2023-04-31",
                          "23-01-01",   "01/02/2023", "2023-01-01 00:00:00" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(msg, sizeof msg, "column \"c\": value '%s' cannot be encoded: %s", bad[i], why);
        refuse(C_DATE, bad[i], msg);
    }
    refuse(
        C_DATE, "infinity",
        "column \"c\": value 'infinity' cannot be encoded: infinity has no Avro date/time value");
    refuse(C_DATE, "-infinity",
           "column \"c\": value '-infinity' cannot be encoded: infinity has no Avro date/time "
           "value");
    refuse(C_DATE, "0000-00-00",
           "column \"c\": value '0000-00-00' cannot be encoded: MariaDB's zero date is not a date");
}
END_TEST

START_TEST(datum_times)
{
    expect_long(C_TIME, "00:00:00", 0);
    expect_long(C_TIME, "00:00:00.000001", 1);
    expect_long(C_TIME, "12:34:56.5", 45296500000);
    expect_long(C_TIME, "23:59:59.999999", INT64_C(86399999999));
    const char *why = "not a time of day 00:00:00..23:59:59.999999 (Avro time-micros)";
    char msg[256];
    const char *bad[] = { "24:00:00",         "-01:00:00", "838:59:59", "12:60:00",
                          "12:00:00.1234567", "12:00:00.", "12:00" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(msg, sizeof msg, "column \"c\": value '%s' cannot be encoded: %s", bad[i], why);
        refuse(C_TIME, bad[i], msg);
    }
}
END_TEST

START_TEST(datum_timestamps)
{
    expect_long(C_TS, "1970-01-01 00:00:00", 0);
    expect_long(C_TS, "1969-12-31 23:59:59.999999", -1);
    expect_long(C_TS, "2024-01-01 00:00:00", INT64_C(1704067200000000));
    expect_long(C_TS, "2024-02-29 13:14:15.123456", INT64_C(1709212455123456));
    expect_long(C_TS, "0001-01-01 00:00:00", INT64_C(-62135596800000000));
    expect_long(C_TS, "0001-01-01 00:00:00 BC", INT64_C(-62135596800000000) - 366 * 86400000000);
    expect_long(C_TSTZ, "2024-01-01 05:30:00+05:30", INT64_C(1704067200000000));
    expect_long(C_TSTZ, "2023-12-31 19:00:00-05", INT64_C(1704067200000000));
    expect_long(C_TSTZ, "1970-01-01 00:00:00+00", 0);
    expect_long(C_TSTZ, "1900-01-01 00:00:00-04:56:02", INT64_C(-2208988800000000) + 17762000000);
    expect_long(C_TSTZ, "0001-01-01 00:00:00+00 BC",
                INT64_C(-62135596800000000) - 366 * 86400000000);
    const char *why = "not an ISO date/time of this type (PostgreSQL: DateStyle ISO is needed)";
    char msg[256];
    snprintf(msg, sizeof msg, "column \"c\": value '2024-01-01 00:00:00+00' cannot be encoded: %s",
             why);
    refuse(C_TS, "2024-01-01 00:00:00+00", msg); /* an offset on a timestamp without time zone */
    snprintf(msg, sizeof msg, "column \"c\": value '2024-01-01T00:00:00' cannot be encoded: %s",
             why);
    refuse(C_TS, "2024-01-01T00:00:00", msg);
    refuse(C_TS, "0000-00-00 00:00:00",
           "column \"c\": value '0000-00-00 00:00:00' cannot be encoded: MariaDB's zero date is "
           "not a date");
    refuse(C_TSTZ, "2024-01-01 00:00:00",
           "column \"c\": value '2024-01-01 00:00:00' cannot be encoded: not an ISO timestamp with "
           "a UTC offset");
    refuse(
        C_TSTZ, "infinity",
        "column \"c\": value 'infinity' cannot be encoded: infinity has no Avro date/time value");
    refuse(C_TS, "294277-01-01 00:00:00",
           "column \"c\": value '294277-01-01 00:00:00' cannot be encoded: outside the "
           "microseconds an Avro long holds");
}
END_TEST

START_TEST(datum_row_and_dispatch)
{
    struct sf_column cols[] = { COL("id", SF_COL_INT, SF_SUB_NONE, 0, 0),
                                COL("v", SF_COL_TEXT, SF_SUB_NONE, 0, 0),
                                COL("d", SF_COL_TEMPORAL, SF_SUB_DATE, 0, 0) };
    struct sf_avro_schema s = { 0 };
    sf_avro_schema_build(&s, "t", cols, 3);
    const char *vals[3] = { "5", "ab", NULL };
    size_t lens[3] = { 1, 2, 0 };
    struct sf_row row = { 3, vals, lens };
    struct sf_format fmt = { .kind = SF_FORMAT_AVRO, .avro = &s };
    struct sf_buf out = SF_BUF_INIT;
    ck_assert_int_eq(sf_format_row(&fmt, cols, &row, &out), SF_OK);
    ck_assert_uint_eq(out.len, 7);
    ck_assert_mem_eq(out.data,
                     "\x02\x0a\x02\x04"
                     "ab\x00",
                     7);
    /* a bad value: nothing appended */
    vals[2] = "2023-02-30";
    lens[2] = 10;
    ck_assert_int_eq(sf_format_row(&fmt, cols, &row, &out), SF_ERR_DATA);
    ck_assert_uint_eq(out.len, 7);
    /* another column count, or no schema */
    row.ncols = 2;
    char err[128];
    ck_assert_int_eq(sf_avro_row_encode(&s, &row, &out, err, sizeof err), SF_ERR_INVAL);
    ck_assert_str_eq(err, "a row of 2 columns for an Avro schema of 3 fields");
    fmt.avro = NULL;
    ck_assert_int_eq(sf_format_row(&fmt, cols, &row, &out), SF_ERR_INVAL);
    ck_assert_uint_eq(out.len, 7);
    enum sf_format_kind k;
    ck_assert_int_eq(sf_format_kind_parse("AVRO", &k), SF_OK);
    ck_assert_int_eq(k, SF_FORMAT_AVRO);
    sf_buf_free(&out);
    sf_avro_schema_free(&s);
}
END_TEST

/* ---------- the avro serializer ---------- */

/* The avro serializer's configuration from a sink section (by its Flume builder name), with
 * compressionCodec = codec. Caller frees with ser_conf_free. */
struct ser_fixture {
    struct sf_props props;
    struct sf_section sec;
    struct sf_diag d;
    struct sf_serializer_conf *conf;
};
static struct sf_serializer_conf *ser_conf(struct ser_fixture *f, const char *codec)
{
    char text[256];
    snprintf(text, sizeof text,
             "a1.sinks.k1.serializer = org.apache.flume.sink.hdfs.AvroEventSerializer$Builder\n"
             "a1.sinks.k1.serializer.compressionCodec = %s\n",
             codec);
    memset(f, 0, sizeof(*f));
    ck_assert_int_eq(sf_props_parse(&f->props, "t.conf", text, &f->d), 0);
    ck_assert_int_eq(sf_section_init(&f->sec, &f->props, "sink", "k1", "a1.sinks.k1."), 0);
    f->conf = sf_serializer_conf_create(&f->sec, "serializer", "serializer.", &f->d);
    ck_assert_ptr_nonnull(f->conf);
    ck_assert_uint_eq(f->d.nerrors + f->d.nwarnings, 0);
    ck_assert_str_eq(f->conf->plugin->name, "avro");
    return f->conf;
}
static void ser_conf_free(struct ser_fixture *f)
{
    sf_serializer_conf_destroy(f->conf);
    sf_section_free(&f->sec);
    sf_props_free(&f->props);
    sf_diag_free(&f->d);
}

static struct sf_event *row_event(const struct sf_avro_schema *s, const struct sf_buf *body)
{
    struct sf_header_lens h[2] = {
        { "table", 5, "t", 1 },
        { SF_HDR_AVRO_SCHEMA_LITERAL, sizeof(SF_HDR_AVRO_SCHEMA_LITERAL) - 1, s->json.data,
          s->json.len },
    };
    return sf_event_create_lens(h, 2, body->data, body->len);
}

/* Rows of every kind through the serializer into a file, read back by both readers. */
static void serializer_round_trip(const char *codec)
{
    struct sf_column cols[] = {
        COL("id", SF_COL_INT, SF_SUB_NONE, 0, 0),
        COL("big", SF_COL_INT, SF_SUB_UINT64, 0, 0),
        COL("price", SF_COL_DECIMAL, SF_SUB_NONE, 38, 10),
        COL("f4", SF_COL_FLOAT, SF_SUB_FLOAT4, 0, 0),
        COL("f8", SF_COL_FLOAT, SF_SUB_NONE, 0, 0),
        COL("ok", SF_COL_BOOL, SF_SUB_NONE, 0, 0),
        COL("d", SF_COL_TEMPORAL, SF_SUB_DATE, 0, 0),
        COL("t", SF_COL_TEMPORAL, SF_SUB_TIME, 0, 0),
        COL("ts", SF_COL_TEMPORAL, SF_SUB_TIMESTAMP, 0, 0),
        COL("tz", SF_COL_TEMPORAL, SF_SUB_TIMESTAMPTZ, 0, 0),
        COL("u", SF_COL_OTHER, SF_SUB_UUID, 0, 0),
        COL("b", SF_COL_BINARY, SF_SUB_NONE, 0, 0),
        COL("s t", SF_COL_TEXT, SF_SUB_NONE, 0, 0),
    };
    enum { NC = sizeof cols / sizeof cols[0] };
    const char *rows[3][NC] = {
        { "1", "18446744073709551615", "-1234567890123456789012345678.0123456789", "1.5",
          "-2.5e-300", "t", "1969-07-20", "23:59:59.999999", "1901-12-13 20:45:52.000001",
          "2024-01-01 05:30:00+05:30", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "\x00\x01\x00",
          "é日本" },
        { "-9223372036854775808", "0", "0.0000000001", "-Infinity", "NaN", "f", "0001-01-01",
          "00:00:00", "9999-12-31 23:59:59.999999", "1900-01-01 00:00:00-04:56:02", "", "", "" },
        { "2", NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL },
    };
    size_t blen[3] = { 3, 0, 0 }; /* the binary column: NUL bytes */
    struct sf_avro_schema s = { 0 };
    sf_avro_schema_build(&s, "t", cols, NC);
    struct ser_fixture fx;
    struct sf_serializer_conf *c = ser_conf(&fx, codec);
    struct sf_serializer *ser = sf_serializer_create(c);
    struct sf_buf file = SF_BUF_INIT, body = SF_BUF_INIT;
    ck_assert_int_eq(sf_serializer_after_create(ser, &file), SF_OK);
    ck_assert_uint_eq(file.len, 0); /* the header waits for the first event's schema */
    for (int i = 0; i < 3; i++) {
        size_t lens[NC];
        for (int j = 0; j < NC; j++) {
            lens[j] = rows[i][j] ? strlen(rows[i][j]) : 0;
        }
        lens[11] = rows[i][11] ? blen[i] : 0;
        struct sf_row row = { NC, rows[i], lens };
        sf_buf_reset(&body);
        char err[256];
        ck_assert_msg(sf_avro_row_encode(&s, &row, &body, err, sizeof err) == SF_OK, "%s", err);
        struct sf_event *ev = row_event(&s, &body);
        ck_assert_int_eq(sf_serializer_write(ser, ev, &file), SF_OK);
        sf_event_destroy(ev);
        if (i == 1) {
            ck_assert_int_eq(sf_serializer_flush(ser, &file), SF_OK); /* two blocks */
        }
    }
    ck_assert_int_eq(sf_serializer_before_close(ser, &file), SF_OK);
    char path[] = "/tmp/sf-avro-rows-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, file.data, file.len), (ssize_t)file.len);
    close(fd);
    const char *expect =
        "schema t id:long big:decimal price:decimal f4:float f8:double ok:boolean d:date "
        "t:time-micros ts:timestamp-micros tz:timestamp-micros u:uuid b:bytes s_t:string\n"
        "{\"id\": \"1\", \"big\": \"18446744073709551615\", \"price\": "
        "\"-1234567890123456789012345678.0123456789\", \"f4\": \"1.5\", \"f8\": \"-2.5e-300\", "
        "\"ok\": \"true\", \"d\": \"1969-07-20\", \"t\": \"23:59:59.999999\", \"ts\": "
        "\"1901-12-13T20:45:52.000001+00:00\", \"tz\": \"2024-01-01T00:00:00+00:00\", \"u\": "
        "\"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11\", \"b\": \"000100\", \"s_t\": \"é日本\"}\n"
        "{\"id\": \"-9223372036854775808\", \"big\": \"0\", \"price\": \"1E-10\", \"f4\": "
        "\"-inf\", \"f8\": \"nan\", \"ok\": \"false\", \"d\": \"0001-01-01\", \"t\": "
        "\"00:00:00\", \"ts\": \"9999-12-31T23:59:59.999999+00:00\", \"tz\": "
        "\"1900-01-01T04:56:02+00:00\", \"u\": \"\", \"b\": \"\", \"s_t\": \"\"}\n"
        "{\"id\": \"2\", \"big\": null, \"price\": null, \"f4\": null, \"f8\": null, \"ok\": "
        "null, \"d\": null, \"t\": null, \"ts\": null, \"tz\": null, \"u\": null, \"b\": null, "
        "\"s_t\": null}\n";
    const char *readers[] = { "python", "avrocat" };
    for (int r = 0; r < 2; r++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/support/avro_rows_dump.py %s %s",
                 SF_SOURCE_DIR, readers[r], path);
        FILE *p = popen(cmd, "r");
        ck_assert_ptr_nonnull(p);
        struct sf_buf got = SF_BUF_INIT;
        char line[4096];
        while (fgets(line, sizeof line, p)) {
            sf_buf_puts(&got, line);
        }
        ck_assert_int_eq(pclose(p), 0);
        ck_assert_msg(got.data && strcmp(got.data, expect) == 0, "%s (%s): got\n%s", readers[r],
                      codec, got.data ? got.data : "(nothing)");
        sf_buf_free(&got);
    }
    if (!getenv("SF_KEEP_AVRO")) {
        unlink(path);
    }
    sf_buf_free(&file);
    sf_buf_free(&body);
    sf_serializer_destroy(ser);
    ser_conf_free(&fx);
    sf_avro_schema_free(&s);
}

START_TEST(serializer_read_back)
{
    serializer_round_trip("null");
    serializer_round_trip("deflate");
    serializer_round_trip("snappy");
}
END_TEST

START_TEST(serializer_refusals)
{
    struct sf_column a[] = { COL("id", SF_COL_INT, SF_SUB_NONE, 0, 0) };
    struct sf_column b[] = { COL("id", SF_COL_INT, SF_SUB_NONE, 0, 0),
                             COL("v", SF_COL_TEXT, SF_SUB_NONE, 0, 0) };
    struct sf_avro_schema sa = { 0 }, sb = { 0 };
    sf_avro_schema_build(&sa, "t", a, 1);
    sf_avro_schema_build(&sb, "t", b, 2);
    struct ser_fixture fx;
    struct sf_serializer_conf *c = ser_conf(&fx, "null");
    struct sf_serializer *ser = sf_serializer_create(c);
    struct sf_buf file = SF_BUF_INIT, body = SF_BUF_INIT;
    sf_buf_append(&body, "\x02\x02", 2);
    ck_assert_int_eq(sf_serializer_after_create(ser, &file), SF_OK);
    /* no schema header */
    struct sf_event *plain = sf_event_create_lens(NULL, 0, "x", 1);
    ck_assert_int_eq(sf_serializer_write(ser, plain, &file), SF_ERR_DATA);
    ck_assert_str_eq(sf_serializer_errstr(ser),
                     "avro: an event without the header flume.avro.schema.literal (the avro "
                     "serializer writes bodies that are Avro datums, such as the SQL source's "
                     "format = avro)");
    struct sf_header_lens hu[1] = { { "flume.avro.schema.url", 21, "hdfs://x/s.avsc", 15 } };
    struct sf_event *url = sf_event_create_lens(hu, 1, "x", 1);
    ck_assert_int_eq(sf_serializer_write(ser, url, &file), SF_ERR_DATA);
    ck_assert_str_eq(sf_serializer_errstr(ser),
                     "avro: an event without the header flume.avro.schema.literal; "
                     "flume.avro.schema.url is not supported (the avro serializer writes bodies "
                     "that are Avro datums, such as the SQL source's format = avro)");
    ck_assert_uint_eq(file.len, 0);
    /* the first event's schema is the file's; another one is refused */
    struct sf_event *ea = row_event(&sa, &body);
    ck_assert_int_eq(sf_serializer_write(ser, ea, &file), SF_OK);
    size_t header_len = file.len;
    ck_assert_uint_gt(header_len, sa.json.len);
    ck_assert_mem_eq(file.data, "Obj\x01", 4);
    ck_assert_ptr_nonnull(memmem(file.data, file.len, sa.json.data, sa.json.len));
    struct sf_event *eb = row_event(&sb, &body);
    ck_assert_int_eq(sf_serializer_write(ser, eb, &file), SF_ERR_DATA);
    ck_assert_str_eq(sf_serializer_errstr(ser),
                     "avro: schema changed: an event of table \"t\" has another "
                     "flume.avro.schema.literal than the file's (a file holds one schema; for the "
                     "HDFS sink, put %{table} in hdfs.path and roll, see the README)");
    ck_assert_uint_eq(file.len, header_len);
    /* a new file takes the new schema */
    ck_assert_int_eq(sf_serializer_before_close(ser, &file), SF_OK);
    sf_buf_reset(&file);
    ck_assert_int_eq(sf_serializer_after_create(ser, &file), SF_OK);
    ck_assert_int_eq(sf_serializer_write(ser, eb, &file), SF_OK);
    ck_assert_ptr_nonnull(memmem(file.data, file.len, sb.json.data, sb.json.len));
    ck_assert(!sf_serializer_supports_reopen(ser));
    sf_event_destroy(plain);
    sf_event_destroy(url);
    sf_event_destroy(ea);
    sf_event_destroy(eb);
    sf_buf_free(&file);
    sf_buf_free(&body);
    sf_serializer_destroy(ser);
    ser_conf_free(&fx);
    sf_avro_schema_free(&sa);
    sf_avro_schema_free(&sb);
}
END_TEST

SF_UNIT_SUITE(avro_row)
{
    Suite *s = suite_create("avro_row");
    TCase *tc = tcase_create("schema");
    tcase_add_test(tc, schema_every_kind);
    tcase_add_test(tc, schema_names);
    tcase_add_test(tc, schema_crc64);
    tcase_add_test(tc, schema_matches);
    suite_add_tcase(s, tc);
    tc = tcase_create("datum");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, datum_nulls_and_ints);
    tcase_add_test(tc, datum_decimals);
    tcase_add_test(tc, datum_floats_bools);
    tcase_add_test(tc, datum_floats_exact);
    tcase_add_test(tc, datum_strings_bytes);
    tcase_add_test(tc, datum_dates);
    tcase_add_test(tc, datum_times);
    tcase_add_test(tc, datum_timestamps);
    tcase_add_test(tc, datum_row_and_dispatch);
    suite_add_tcase(s, tc);
    tc = tcase_create("serializer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, serializer_read_back);
    tcase_add_test(tc, serializer_refusals);
    suite_add_tcase(s, tc);
    return s;
}
