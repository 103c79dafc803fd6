/*
 * Unit tests of the row body encoders (sqlflume/format.h): every column class in json, csv and
 * text; JSON escaping of quotes, backslashes and every control character; UTF-8 validation (valid
 * 2/3/4-byte sequences pass, each kind of invalid sequence is escaped byte by byte); the
 * eight-byte fast path at every alignment; CSV quoting and empty string vs NULL; text delimiters;
 * base64 against the RFC 4648 vectors; and 10 MB values. Every assertion compares the exact
 * output bytes.
 */
#include "unit.h"
#include <stdlib.h>
#include <string.h>

#include "sqlflume/avro_event.h"
#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/format.h"

/* Compare a buffer with expected bytes (which may hold NULs) and check the NUL terminator. */
#define ck_assert_buf_eq(b, exp, exp_len)                                                          \
    do {                                                                                           \
        const struct sf_buf *b_ = (b);                                                             \
        size_t el_ = (exp_len);                                                                    \
        ck_assert_uint_eq(b_->len, el_);                                                           \
        ck_assert_ptr_nonnull(b_->data);                                                           \
        ck_assert_mem_eq(b_->data, (exp), el_);                                                    \
        ck_assert_int_eq(b_->data[b_->len], '\0');                                                 \
    } while (0)
/* Same, for a string literal (embedded NULs included). */
#define ck_assert_buf_lit(b, lit) ck_assert_buf_eq((b), (lit), sizeof(lit) - 1)

#define NCOLS_MAX 16

/* A row under construction: values as (pointer, length) pairs; ptr NULL = SQL NULL. */
struct test_row {
    struct sf_column cols[NCOLS_MAX];
    const char *vals[NCOLS_MAX];
    size_t lens[NCOLS_MAX];
    size_t n;
};

static void
add_col(struct test_row *t, const char *name, enum sf_coltype type, const char *v, size_t n)
{
    ck_assert_uint_lt(t->n, NCOLS_MAX);
    t->cols[t->n].name = (char *)name;
    t->cols[t->n].type = type;
    t->vals[t->n] = v;
    t->lens[t->n] = n;
    t->n++;
}
/* A NUL-terminated value (or SQL NULL). */
static void add_str(struct test_row *t, const char *name, enum sf_coltype type, const char *v)
{
    add_col(t, name, type, v, v ? strlen(v) : 0);
}

/* Format t into out; for JSON also with the keys built once (sf_json_keys_build), as the source
 * does per query, which must give the same bytes. */
static void run_format(const struct sf_format *fmt, const struct test_row *t, struct sf_buf *out)
{
    struct sf_row row = { .ncols = t->n, .vals = t->vals, .lens = t->lens };
    size_t start = out->len;
    ck_assert_int_eq(sf_format_row(fmt, t->cols, &row, out), SF_OK);
    if (fmt->kind == SF_FORMAT_JSON && !fmt->json_keys) {
        struct sf_json_keys keys = { 0 };
        sf_json_keys_build(&keys, t->cols, t->n);
        struct sf_format with_keys = *fmt;
        with_keys.json_keys = &keys;
        struct sf_buf again = SF_BUF_INIT;
        ck_assert_int_eq(sf_format_row(&with_keys, t->cols, &row, &again), SF_OK);
        ck_assert_uint_eq(again.len, out->len - start);
        ck_assert(memcmp(again.data, out->data + start, again.len) == 0);
        sf_buf_free(&again);
        sf_json_keys_free(&keys);
    }
}

static const struct sf_format fmt_json = { .kind = SF_FORMAT_JSON };
static const struct sf_format fmt_csv = { .kind = SF_FORMAT_CSV };
static const struct sf_format fmt_text = { .kind = SF_FORMAT_TEXT };

/* One value of one type as a JSON object {"v":...}. */
static void json_one(struct sf_buf *out, enum sf_coltype type, const char *v, size_t n)
{
    struct test_row t = { 0 };
    sf_buf_reset(out);
    add_col(&t, "v", type, v, n);
    run_format(&fmt_json, &t, out);
}
#define ck_json_one(type, lit, expected)                                                           \
    do {                                                                                           \
        json_one(&out, (type), (lit), sizeof(lit) - 1);                                            \
        ck_assert_buf_lit(&out, "{\"v\":" expected "}");                                           \
    } while (0)

/* JSON string literal of s[0..n) via the public helper. */
static void json_str(struct sf_buf *out, const char *s, size_t n)
{
    sf_buf_reset(out);
    sf_json_append_string(out, s, n);
}
#define ck_json_str(lit, expected)                                                                 \
    do {                                                                                           \
        json_str(&out, (lit), sizeof(lit) - 1);                                                    \
        ck_assert_buf_lit(&out, expected);                                                         \
    } while (0)

/* The row with one column of every class used by the *_all_types tests. */
static void all_types_row(struct test_row *t)
{
    add_str(t, "id", SF_COL_INT, "42");
    add_str(t, "price", SF_COL_FLOAT, "3.5");
    add_str(t, "amount", SF_COL_DECIMAL, "10.50");
    add_str(t, "flag", SF_COL_BOOL, "t");
    add_str(t, "name", SF_COL_TEXT, "h\xc3\xa9llo");
    add_col(t, "data", SF_COL_BINARY, "\x00\x01\xff", 3);
    add_str(t, "ts", SF_COL_TEMPORAL, "2024-01-02 03:04:05");
    add_str(t, "meta", SF_COL_OTHER, "{\"a\":1}");
    add_str(t, "gone", SF_COL_TEXT, NULL);
}

/* ---------- json ---------- */

START_TEST(json_all_types)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    all_types_row(&t);
    run_format(&fmt_json, &t, &out);
    ck_assert_buf_lit(&out, "{\"id\":42,\"price\":3.5,\"amount\":\"10.50\",\"flag\":true,"
                            "\"name\":\"h\xc3\xa9llo\",\"data\":\"AAH/\","
                            "\"ts\":\"2024-01-02 03:04:05\",\"meta\":\"{\\\"a\\\":1}\","
                            "\"gone\":null}");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_null_every_type)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    add_str(&t, "i", SF_COL_INT, NULL);
    add_str(&t, "f", SF_COL_FLOAT, NULL);
    add_str(&t, "d", SF_COL_DECIMAL, NULL);
    add_str(&t, "b", SF_COL_BOOL, NULL);
    add_str(&t, "t", SF_COL_TEXT, NULL);
    add_str(&t, "x", SF_COL_BINARY, NULL);
    add_str(&t, "m", SF_COL_TEMPORAL, NULL);
    add_str(&t, "o", SF_COL_OTHER, NULL);
    run_format(&fmt_json, &t, &out);
    ck_assert_buf_lit(&out, "{\"i\":null,\"f\":null,\"d\":null,\"b\":null,\"t\":null,\"x\":null,"
                            "\"m\":null,\"o\":null}");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_empty_values)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    add_str(&t, "i", SF_COL_INT, "");
    add_str(&t, "f", SF_COL_FLOAT, "");
    add_str(&t, "d", SF_COL_DECIMAL, "");
    add_str(&t, "b", SF_COL_BOOL, "");
    add_str(&t, "t", SF_COL_TEXT, "");
    add_str(&t, "x", SF_COL_BINARY, "");
    add_str(&t, "m", SF_COL_TEMPORAL, "");
    add_str(&t, "o", SF_COL_OTHER, "");
    run_format(&fmt_json, &t, &out);
    ck_assert_buf_lit(&out, "{\"i\":\"\",\"f\":\"\",\"d\":\"\",\"b\":\"\",\"t\":\"\",\"x\":\"\","
                            "\"m\":\"\",\"o\":\"\"}");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_int)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_json_one(SF_COL_INT, "0", "0");
    ck_json_one(SF_COL_INT, "-0", "-0");
    ck_json_one(SF_COL_INT, "-17", "-17");
    ck_json_one(SF_COL_INT, "18446744073709551615", "18446744073709551615");
    ck_json_one(SF_COL_INT, "123456789012345678901234567890", "123456789012345678901234567890");
    /* not JSON numbers: emitted as strings */
    ck_json_one(SF_COL_INT, "007", "\"007\""); /* MySQL ZEROFILL */
    ck_json_one(SF_COL_INT, "+5", "\"+5\"");
    ck_json_one(SF_COL_INT, "-", "\"-\"");
    ck_json_one(SF_COL_INT, " 1", "\" 1\"");
    ck_json_one(SF_COL_INT, "1 ", "\"1 \"");
    ck_json_one(SF_COL_INT, "1.5", "\"1.5\"");
    ck_json_one(SF_COL_INT, "1e3", "\"1e3\"");
    ck_json_one(SF_COL_INT, "0x1F", "\"0x1F\"");
    ck_json_one(SF_COL_INT, "12\"}", "\"12\\\"}\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_float)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_json_one(SF_COL_FLOAT, "0", "0");
    ck_json_one(SF_COL_FLOAT, "1.5", "1.5");
    ck_json_one(SF_COL_FLOAT, "-0.25", "-0.25");
    ck_json_one(SF_COL_FLOAT, "-0", "-0.0"); /* stays a negative double when read back */
    ck_json_one(SF_COL_FLOAT, "-0.000", "-0.000");
    ck_json_one(SF_COL_FLOAT, "-0.5", "-0.5");
    ck_json_one(SF_COL_FLOAT, "1e+20", "1e+20");
    ck_json_one(SF_COL_FLOAT, "1E-5", "1E-5");
    ck_json_one(SF_COL_FLOAT, "2.5e10", "2.5e10");
    ck_json_one(SF_COL_FLOAT, "1.7976931348623157e+308", "1.7976931348623157e+308");
    /* not JSON numbers: emitted as strings */
    ck_json_one(SF_COL_FLOAT, "NaN", "\"NaN\"");
    ck_json_one(SF_COL_FLOAT, "Infinity", "\"Infinity\"");
    ck_json_one(SF_COL_FLOAT, "-Infinity", "\"-Infinity\"");
    ck_json_one(SF_COL_FLOAT, "inf", "\"inf\"");
    ck_json_one(SF_COL_FLOAT, "-inf", "\"-inf\"");
    ck_json_one(SF_COL_FLOAT, "nan", "\"nan\"");
    ck_json_one(SF_COL_FLOAT, ".5", "\".5\"");
    ck_json_one(SF_COL_FLOAT, "1.", "\"1.\"");
    ck_json_one(SF_COL_FLOAT, "1e", "\"1e\"");
    ck_json_one(SF_COL_FLOAT, "1e+", "\"1e+\"");
    ck_json_one(SF_COL_FLOAT, "01.5", "\"01.5\"");
    ck_json_one(SF_COL_FLOAT, "+1.5", "\"+1.5\"");
    ck_json_one(SF_COL_FLOAT, "1,5", "\"1,5\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_decimal_temporal_other)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_json_one(SF_COL_DECIMAL, "12345678901234567890.000000001",
                "\"12345678901234567890.000000001\"");
    ck_json_one(SF_COL_DECIMAL, "-0.10", "\"-0.10\"");
    ck_json_one(SF_COL_DECIMAL, "NaN", "\"NaN\"");
    ck_json_one(SF_COL_TEMPORAL, "2024-02-29T23:59:59.999999+00",
                "\"2024-02-29T23:59:59.999999+00\"");
    ck_json_one(SF_COL_TEMPORAL, "0000-00-00", "\"0000-00-00\"");
    ck_json_one(SF_COL_OTHER, "{1,2,\"x\"}", "\"{1,2,\\\"x\\\"}\"");
    ck_json_one(SF_COL_OTHER, "123e4567-e89b-12d3-a456-426614174000",
                "\"123e4567-e89b-12d3-a456-426614174000\"");
    ck_json_one(SF_COL_TEXT, "42", "\"42\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_bool)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_json_one(SF_COL_BOOL, "t", "true");
    ck_json_one(SF_COL_BOOL, "true", "true");
    ck_json_one(SF_COL_BOOL, "1", "true");
    ck_json_one(SF_COL_BOOL, "f", "false");
    ck_json_one(SF_COL_BOOL, "false", "false");
    ck_json_one(SF_COL_BOOL, "0", "false");
    ck_json_one(SF_COL_BOOL, "yes", "\"yes\"");
    ck_json_one(SF_COL_BOOL, "T", "\"T\"");
    ck_json_one(SF_COL_BOOL, "2", "\"2\"");
    ck_json_one(SF_COL_BOOL, "truex", "\"truex\"");
    ck_json_one(SF_COL_BOOL, "tru", "\"tru\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_binary)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_json_one(SF_COL_BINARY, "foobar", "\"Zm9vYmFy\"");
    ck_json_one(SF_COL_BINARY, "f", "\"Zg==\"");
    ck_json_one(SF_COL_BINARY, "\xfb\xff", "\"+/8=\"");
    ck_json_one(SF_COL_BINARY, "\"\\\n", "\"IlwK\"");
    ck_json_one(SF_COL_BINARY, "\x00\x00\x00", "\"AAAA\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_escape_basic)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_json_str("", "\"\"");
    ck_json_str("plain", "\"plain\"");
    ck_json_str("say \"hi\"", "\"say \\\"hi\\\"\"");
    ck_json_str("C:\\dir\\file", "\"C:\\\\dir\\\\file\"");
    ck_json_str("a/b", "\"a/b\"");
    ck_json_str("l1\nl2\r\n\ttab\bback\fform", "\"l1\\nl2\\r\\n\\ttab\\bback\\fform\"");
    ck_json_str("\x7f", "\"\x7f\"");                                         /* DEL passes */
    ck_json_str("\xe2\x80\xa8\xe2\x80\xa9", "\"\xe2\x80\xa8\xe2\x80\xa9\""); /* U+2028/9 pass */
    ck_json_str("'<>&", "\"'<>&\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_escape_every_control)
{
    static const char *const expected[32] = {
        "\"\\u0000\"", "\"\\u0001\"", "\"\\u0002\"", "\"\\u0003\"", "\"\\u0004\"", "\"\\u0005\"",
        "\"\\u0006\"", "\"\\u0007\"", "\"\\b\"",     "\"\\t\"",     "\"\\n\"",     "\"\\u000b\"",
        "\"\\f\"",     "\"\\r\"",     "\"\\u000e\"", "\"\\u000f\"", "\"\\u0010\"", "\"\\u0011\"",
        "\"\\u0012\"", "\"\\u0013\"", "\"\\u0014\"", "\"\\u0015\"", "\"\\u0016\"", "\"\\u0017\"",
        "\"\\u0018\"", "\"\\u0019\"", "\"\\u001a\"", "\"\\u001b\"", "\"\\u001c\"", "\"\\u001d\"",
        "\"\\u001e\"", "\"\\u001f\"",
    };
    struct sf_buf out = SF_BUF_INIT;
    for (int c = 0; c < 32; c++) {
        char ch = (char)c;
        json_str(&out, &ch, 1);
        ck_assert_str_eq(out.data, expected[c]);
        ck_assert_uint_eq(out.len, strlen(expected[c]));
    }
    /* and inside a longer run, which goes through the eight-byte path first */
    ck_json_str("abcdefgh\x01ijklmnop\x1fqrstuvwx", "\"abcdefgh\\u0001ijklmnop\\u001fqrstuvwx\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_nul_byte)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_json_str("a\0b", "\"a\\u0000b\"");
    ck_json_one(SF_COL_TEXT, "\0\0", "\"\\u0000\\u0000\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_utf8_valid)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_json_str("\xc2\x80", "\"\xc2\x80\"");                 /* U+0080, smallest 2-byte */
    ck_json_str("caf\xc3\xa9", "\"caf\xc3\xa9\"");           /* é */
    ck_json_str("\xdf\xbf", "\"\xdf\xbf\"");                 /* U+07FF */
    ck_json_str("\xe0\xa0\x80", "\"\xe0\xa0\x80\"");         /* U+0800, smallest 3-byte */
    ck_json_str("\xe2\x82\xac", "\"\xe2\x82\xac\"");         /* € */
    ck_json_str("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");         /* U+D7FF, below surrogates */
    ck_json_str("\xee\x80\x80", "\"\xee\x80\x80\"");         /* U+E000, above surrogates */
    ck_json_str("\xef\xbf\xbf", "\"\xef\xbf\xbf\"");         /* U+FFFF */
    ck_json_str("\xf0\x90\x80\x80", "\"\xf0\x90\x80\x80\""); /* U+10000, smallest 4-byte */
    ck_json_str("\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""); /* 😀 */
    ck_json_str("\xf3\xbf\xbf\xbf", "\"\xf3\xbf\xbf\xbf\""); /* U+FFFFF */
    ck_json_str("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""); /* U+10FFFF, the largest */
    ck_json_str("\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80!",
                "\"\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x98\x80!\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_utf8_invalid)
{
    struct sf_buf out = SF_BUF_INIT;
    /* lone continuation bytes */
    ck_json_str("a\x80"
                "b",
                "\"a\\u0080b\"");
    ck_json_str("\xbf", "\"\\u00bf\"");
    ck_json_str("\x80\xc3\xa9", "\"\\u0080\xc3\xa9\"");
    /* truncated sequences: at the end, and followed by ASCII */
    ck_json_str("\xc3", "\"\\u00c3\"");
    ck_json_str("\xc3"
                "A",
                "\"\\u00c3A\"");
    ck_json_str("\xe2\x82", "\"\\u00e2\\u0082\"");
    ck_json_str("\xe2\x82"
                "A",
                "\"\\u00e2\\u0082A\"");
    ck_json_str("\xf0\x9f\x98", "\"\\u00f0\\u009f\\u0098\"");
    ck_json_str("\xf0\x9f\x98"
                "A",
                "\"\\u00f0\\u009f\\u0098A\"");
    ck_json_str("\xe2\xe2\x82\xac", "\"\\u00e2\xe2\x82\xac\""); /* bad lead, then valid € */
    /* overlong encodings */
    ck_json_str("\xc0\xaf", "\"\\u00c0\\u00af\"");
    ck_json_str("\xc1\xbf", "\"\\u00c1\\u00bf\"");
    ck_json_str("\xc0\x80", "\"\\u00c0\\u0080\""); /* "modified UTF-8" NUL */
    ck_json_str("\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"");
    ck_json_str("\xe0\x9f\xbf", "\"\\u00e0\\u009f\\u00bf\"");
    ck_json_str("\xf0\x80\x80\xaf", "\"\\u00f0\\u0080\\u0080\\u00af\"");
    ck_json_str("\xf0\x8f\xbf\xbf", "\"\\u00f0\\u008f\\u00bf\\u00bf\"");
    /* UTF-16 surrogates */
    ck_json_str("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");
    ck_json_str("\xed\xbf\xbf", "\"\\u00ed\\u00bf\\u00bf\"");
    ck_json_str("\xed\xa0\xbd\xed\xb8\x80", /* CESU-8 pair for 😀 */
                "\"\\u00ed\\u00a0\\u00bd\\u00ed\\u00b8\\u0080\"");
    /* above U+10FFFF, and bytes that never appear */
    ck_json_str("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"");
    ck_json_str("\xf5\x80\x80\x80", "\"\\u00f5\\u0080\\u0080\\u0080\"");
    ck_json_str("\xf7\xbf\xbf\xbf", "\"\\u00f7\\u00bf\\u00bf\\u00bf\"");
    ck_json_str("\xfe\xff", "\"\\u00fe\\u00ff\"");
    /* Latin-1 text that is not UTF-8 */
    ck_json_str("caf\xe9 cr\xe8me", "\"caf\\u00e9 cr\\u00e8me\"");
    sf_buf_free(&out);
}
END_TEST

/* A special byte sequence at every offset of strings of length 1..40: exercises the eight-byte
 * fast path, the clean prefix before a dirty byte, and the byte-at-a-time tail. */
START_TEST(json_every_alignment)
{
    static const struct {
        const char *in;
        const char *out;
    } specials[] = {
        { "\"", "\\\"" },
        { "\\", "\\\\" },
        { "\n", "\\n" },
        { "\x01", "\\u0001" },
        { "\x1f", "\\u001f" },
        { "\xc3\xa9", "\xc3\xa9" },
        { "\xe2\x82\xac", "\xe2\x82\xac" },
        { "\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80" },
        { "\x80", "\\u0080" },
        { "\xe2\x82", "\\u00e2\\u0082" },
    };
    struct sf_buf out = SF_BUF_INIT;
    struct sf_buf in = SF_BUF_INIT;
    struct sf_buf exp = SF_BUF_INIT;
    for (size_t s = 0; s < sizeof specials / sizeof specials[0]; s++) {
        for (size_t len = 0; len <= 40; len++) {
            for (size_t k = 0; k <= len; k++) {
                sf_buf_reset(&in);
                sf_buf_reset(&exp);
                sf_buf_putc(&exp, '"');
                for (size_t i = 0; i < k; i++) {
                    sf_buf_putc(&in, (char)('a' + i % 26));
                    sf_buf_putc(&exp, (char)('a' + i % 26));
                }
                sf_buf_puts(&in, specials[s].in);
                sf_buf_puts(&exp, specials[s].out);
                for (size_t i = k; i < len; i++) {
                    sf_buf_putc(&in, (char)('A' + i % 26));
                    sf_buf_putc(&exp, (char)('A' + i % 26));
                }
                sf_buf_putc(&exp, '"');
                json_str(&out, in.data, in.len);
                ck_assert_buf_eq(&out, exp.data, exp.len);
            }
        }
    }
    sf_buf_free(&out);
    sf_buf_free(&in);
    sf_buf_free(&exp);
}
END_TEST

START_TEST(json_keys_escaped)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    add_str(&t, "we\"ird\\na\nme", SF_COL_INT, "1");
    add_str(&t, "\x01", SF_COL_INT, "2");
    add_str(&t, "caf\xc3\xa9\xff", SF_COL_INT, "3");
    add_str(&t, "", SF_COL_INT, "4");
    run_format(&fmt_json, &t, &out);
    ck_assert_buf_lit(&out, "{\"we\\\"ird\\\\na\\nme\":1,\"\\u0001\":2,\"caf\xc3\xa9\\u00ff\":3,"
                            "\"\":4}");
    sf_buf_free(&out);
}
END_TEST

START_TEST(json_empty_row_and_append)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    run_format(&fmt_json, &t, &out);
    ck_assert_buf_lit(&out, "{}");
    /* appends after what the buffer already holds */
    add_str(&t, "a", SF_COL_INT, "1");
    run_format(&fmt_json, &t, &out);
    ck_assert_buf_lit(&out, "{}{\"a\":1}");
    sf_json_append_string(&out, "x", 1);
    ck_assert_buf_lit(&out, "{}{\"a\":1}\"x\"");
    sf_buf_free(&out);
}
END_TEST

/* The 10 MB pattern: plain ASCII runs with every kind of special in between. */
static const char big_piece[] = "The quick brown fox, \"jumps\"\r\n over\tthe lazy \\dog\\ "
                                "\xe2\x82\xac\xf0\x9f\x98\x80\x80\x01;";
static const char big_piece_json[] = "The quick brown fox, \\\"jumps\\\"\\r\\n over\\tthe lazy "
                                     "\\\\dog\\\\ \xe2\x82\xac\xf0\x9f\x98\x80\\u0080\\u0001;";
static const char big_piece_csv[] = "The quick brown fox, \"\"jumps\"\"\r\n over\tthe lazy \\dog\\ "
                                    "\xe2\x82\xac\xf0\x9f\x98\x80\x80\x01;";
#define BIG_BYTES ((size_t)10 * 1024 * 1024)

/* Repeat piece (without its NUL) until at least BIG_BYTES: @return the count. */
static size_t repeat_piece(struct sf_buf *b, const char *piece, size_t piece_len, size_t times)
{
    for (size_t i = 0; i < times; i++) {
        sf_buf_append(b, piece, piece_len);
    }
    return times;
}

START_TEST(json_big_value)
{
    struct sf_buf in = SF_BUF_INIT, exp = SF_BUF_INIT, out = SF_BUF_INIT;
    size_t times = BIG_BYTES / (sizeof big_piece - 1) + 1;
    repeat_piece(&in, big_piece, sizeof big_piece - 1, times);
    ck_assert_uint_ge(in.len, BIG_BYTES);
    sf_buf_puts(&exp, "{\"v\":\"");
    repeat_piece(&exp, big_piece_json, sizeof big_piece_json - 1, times);
    sf_buf_puts(&exp, "\"}");
    json_one(&out, SF_COL_TEXT, in.data, in.len);
    ck_assert_buf_eq(&out, exp.data, exp.len);
    sf_buf_free(&in);
    sf_buf_free(&exp);
    sf_buf_free(&out);
}
END_TEST

/* ---------- base64 ---------- */

START_TEST(base64_rfc4648)
{
    static const struct {
        const char *in;
        const char *out;
    } vectors[] = {
        /* RFC 4648 section 10 */
        { "", "" },
        { "f", "Zg==" },
        { "fo", "Zm8=" },
        { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" },
        { "fooba", "Zm9vYmE=" },
        { "foobar", "Zm9vYmFy" },
        /* the two last alphabet characters */
        { "\xfb\xff", "+/8=" },
        { "\xff\xff\xff", "////" },
        { "\x14\xfb\x9c\x03\xd9\x7e", "FPucA9l+" },
    };
    struct sf_buf out = SF_BUF_INIT;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        sf_buf_reset(&out);
        sf_base64_append(&out, (const unsigned char *)vectors[i].in, strlen(vectors[i].in));
        ck_assert_buf_eq(&out, vectors[i].out, strlen(vectors[i].out));
    }
    /* every byte value, checked against the alphabet by hand */
    unsigned char all[3] = { 0x00, 0x10, 0x83 };
    sf_buf_reset(&out);
    sf_base64_append(&out, all, 3);
    ck_assert_buf_lit(&out, "ABCD");
    sf_buf_free(&out);
}
END_TEST

START_TEST(base64_big_value)
{
    struct sf_buf in = SF_BUF_INIT, exp = SF_BUF_INIT, out = SF_BUF_INIT;
    size_t times = BIG_BYTES / 6;
    repeat_piece(&in, "foobar", 6, times);
    repeat_piece(&exp, "Zm9vYmFy", 8, times);
    sf_buf_putc(&in, 'f');
    sf_buf_puts(&exp, "Zg==");
    sf_base64_append(&out, (const unsigned char *)in.data, in.len);
    ck_assert_buf_eq(&out, exp.data, exp.len);
    sf_buf_free(&in);
    sf_buf_free(&exp);
    sf_buf_free(&out);
}
END_TEST

/* ---------- csv ---------- */

START_TEST(csv_all_types)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    all_types_row(&t);
    run_format(&fmt_csv, &t, &out);
    ck_assert_buf_lit(&out, "42,3.5,10.50,t,h\xc3\xa9llo,AAH/,2024-01-02 03:04:05,"
                            "\"{\"\"a\"\":1}\",");
    sf_buf_free(&out);
}
END_TEST

static void csv_one(struct sf_buf *out,
                    const struct sf_format *fmt,
                    enum sf_coltype type,
                    const char *v,
                    size_t n)
{
    struct test_row t = { 0 };
    sf_buf_reset(out);
    add_col(&t, "v", type, v, n);
    run_format(fmt, &t, out);
}
#define ck_csv_one(type, lit, expected)                                                            \
    do {                                                                                           \
        csv_one(&out, &fmt_csv, (type), (lit), sizeof(lit) - 1);                                   \
        ck_assert_buf_lit(&out, expected);                                                         \
    } while (0)

START_TEST(csv_quoting)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_csv_one(SF_COL_TEXT, "plain", "plain");
    ck_csv_one(SF_COL_TEXT, " spaced ", " spaced ");
    ck_csv_one(SF_COL_TEXT, "a,b", "\"a,b\"");
    ck_csv_one(SF_COL_TEXT, ",", "\",\"");
    ck_csv_one(SF_COL_TEXT, "say \"hi\"", "\"say \"\"hi\"\"\"");
    ck_csv_one(SF_COL_TEXT, "\"", "\"\"\"\"");
    ck_csv_one(SF_COL_TEXT, "\"\"", "\"\"\"\"\"\"");
    ck_csv_one(SF_COL_TEXT, "line1\nline2", "\"line1\nline2\"");
    ck_csv_one(SF_COL_TEXT, "cr\r", "\"cr\r\"");
    ck_csv_one(SF_COL_TEXT, "crlf\r\n", "\"crlf\r\n\"");
    ck_csv_one(SF_COL_TEXT, "tab\tsemi;", "tab\tsemi;");
    ck_csv_one(SF_COL_TEXT, "caf\xc3\xa9\xff", "caf\xc3\xa9\xff"); /* bytes as they are */
    ck_csv_one(SF_COL_INT, "1,000", "\"1,000\"");
    ck_csv_one(SF_COL_FLOAT, "NaN", "NaN");
    ck_csv_one(SF_COL_BOOL, "f", "f");
    ck_csv_one(SF_COL_DECIMAL, "-0.10", "-0.10");
    ck_csv_one(SF_COL_TEMPORAL, "2024-01-02", "2024-01-02");
    ck_csv_one(SF_COL_OTHER, "{1,2}", "\"{1,2}\"");
    ck_csv_one(SF_COL_BINARY, "foobar", "Zm9vYmFy");
    ck_csv_one(SF_COL_BINARY, "\xfb\xff", "+/8=");
    sf_buf_free(&out);
}
END_TEST

START_TEST(csv_every_alignment)
{
    struct sf_buf out = SF_BUF_INIT;
    struct sf_buf in = SF_BUF_INIT;
    struct sf_buf exp = SF_BUF_INIT;
    static const char *const specials[] = { "\"", ",", "\r", "\n" };
    for (size_t s = 0; s < 4; s++) {
        for (size_t len = 0; len <= 40; len++) {
            for (size_t k = 0; k <= len; k++) {
                sf_buf_reset(&in);
                sf_buf_reset(&exp);
                sf_buf_putc(&exp, '"');
                for (size_t i = 0; i < len; i++) {
                    char c = (char)('a' + i % 26);
                    if (i == k) {
                        sf_buf_puts(&in, specials[s]);
                        sf_buf_puts(&exp, s == 0 ? "\"\"" : specials[s]);
                    }
                    sf_buf_putc(&in, c);
                    sf_buf_putc(&exp, c);
                }
                if (k == len) {
                    sf_buf_puts(&in, specials[s]);
                    sf_buf_puts(&exp, s == 0 ? "\"\"" : specials[s]);
                }
                sf_buf_putc(&exp, '"');
                csv_one(&out, &fmt_csv, SF_COL_TEXT, in.data, in.len);
                ck_assert_buf_eq(&out, exp.data, exp.len);
            }
        }
    }
    /* and without any special: never quoted */
    for (size_t len = 1; len <= 40; len++) {
        sf_buf_reset(&in);
        for (size_t i = 0; i < len; i++) {
            sf_buf_putc(&in, (char)('a' + i % 26));
        }
        csv_one(&out, &fmt_csv, SF_COL_TEXT, in.data, in.len);
        ck_assert_buf_eq(&out, in.data, in.len);
    }
    sf_buf_free(&out);
    sf_buf_free(&in);
    sf_buf_free(&exp);
}
END_TEST

START_TEST(csv_empty_vs_null)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    add_str(&t, "a", SF_COL_TEXT, "");
    add_str(&t, "b", SF_COL_TEXT, NULL);
    add_str(&t, "c", SF_COL_TEXT, "x");
    add_col(&t, "d", SF_COL_BINARY, "", 0);
    add_str(&t, "e", SF_COL_BINARY, NULL);
    add_str(&t, "f", SF_COL_INT, NULL);
    run_format(&fmt_csv, &t, &out);
    ck_assert_buf_lit(&out, "\"\",,x,\"\",,");

    struct test_row one_null = { 0 };
    add_str(&one_null, "a", SF_COL_TEXT, NULL);
    sf_buf_reset(&out);
    run_format(&fmt_csv, &one_null, &out);
    ck_assert_buf_lit(&out, "");

    struct test_row none = { 0 };
    sf_buf_reset(&out);
    run_format(&fmt_csv, &none, &out);
    ck_assert_buf_lit(&out, "");
    sf_buf_free(&out);
}
END_TEST

START_TEST(csv_null_text)
{
    struct sf_buf out = SF_BUF_INIT;
    const struct sf_format fmt = { .kind = SF_FORMAT_CSV, .null_text = "\\N" };
    struct test_row t = { 0 };
    add_str(&t, "a", SF_COL_TEXT, NULL);
    add_str(&t, "b", SF_COL_TEXT, "\\N"); /* a value that reads as NULL is quoted */
    add_str(&t, "c", SF_COL_TEXT, "");
    add_str(&t, "d", SF_COL_TEXT, "\\Nx");
    add_str(&t, "e", SF_COL_INT, NULL);
    run_format(&fmt, &t, &out);
    ck_assert_buf_lit(&out, "\\N,\"\\N\",\"\",\\Nx,\\N");

    /* binary whose base64 equals null_text is quoted too; same length but different is not */
    const struct sf_format fmt2 = { .kind = SF_FORMAT_CSV, .null_text = "AAAA" };
    struct test_row b = { 0 };
    add_col(&b, "a", SF_COL_BINARY, "\0\0\0", 3);
    add_str(&b, "b", SF_COL_BINARY, "foo");
    add_str(&b, "c", SF_COL_BINARY, NULL);
    add_str(&b, "d", SF_COL_BINARY, "fo");
    sf_buf_reset(&out);
    run_format(&fmt2, &b, &out);
    ck_assert_buf_lit(&out, "\"AAAA\",Zm9v,AAAA,Zm8=");
    sf_buf_free(&out);
}
END_TEST

START_TEST(csv_nul_byte)
{
    struct sf_buf out = SF_BUF_INIT;
    ck_csv_one(SF_COL_TEXT, "a\0b", "a\0b");
    ck_csv_one(SF_COL_TEXT, "a\0,", "\"a\0,\"");
    sf_buf_free(&out);
}
END_TEST

START_TEST(csv_big_value)
{
    struct sf_buf in = SF_BUF_INIT, exp = SF_BUF_INIT, out = SF_BUF_INIT;
    size_t times = BIG_BYTES / (sizeof big_piece - 1) + 1;
    repeat_piece(&in, big_piece, sizeof big_piece - 1, times);
    sf_buf_puts(&exp, "1,\"");
    repeat_piece(&exp, big_piece_csv, sizeof big_piece_csv - 1, times);
    sf_buf_puts(&exp, "\",2");
    struct test_row t = { 0 };
    add_str(&t, "a", SF_COL_INT, "1");
    add_col(&t, "b", SF_COL_TEXT, in.data, in.len);
    add_str(&t, "c", SF_COL_INT, "2");
    run_format(&fmt_csv, &t, &out);
    ck_assert_buf_eq(&out, exp.data, exp.len);
    sf_buf_free(&in);
    sf_buf_free(&exp);
    sf_buf_free(&out);
}
END_TEST

/* ---------- text ---------- */

START_TEST(text_all_types)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    all_types_row(&t);
    run_format(&fmt_text, &t, &out);
    ck_assert_buf_lit(&out, "42,3.5,10.50,t,h\xc3\xa9llo,AAH/,2024-01-02 03:04:05,{\"a\":1},");
    sf_buf_free(&out);
}
END_TEST

START_TEST(text_delimiters)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    add_str(&t, "a", SF_COL_INT, "1");
    add_str(&t, "b", SF_COL_TEXT, "x,y|z"); /* no quoting, whatever the delimiter */
    add_str(&t, "c", SF_COL_TEXT, NULL);
    add_str(&t, "d", SF_COL_TEXT, "");
    add_str(&t, "e", SF_COL_BINARY, "foo");

    const struct sf_format multi = { .kind = SF_FORMAT_TEXT,
                                     .delimiter = "||",
                                     .delimiter_len = 2 };
    run_format(&multi, &t, &out);
    ck_assert_buf_lit(&out, "1||x,y|z||||||Zm9v");

    const struct sf_format tabbar = { .kind = SF_FORMAT_TEXT, .delimiter = "\t|\t" };
    sf_buf_reset(&out); /* delimiter_len 0 = strlen(delimiter) */
    run_format(&tabbar, &t, &out);
    ck_assert_buf_lit(&out, "1\t|\tx,y|z\t|\t\t|\t\t|\tZm9v");

    const struct sf_format nul = { .kind = SF_FORMAT_TEXT, .delimiter = "\0", .delimiter_len = 1 };
    sf_buf_reset(&out); /* an explicit length allows any byte */
    run_format(&nul, &t, &out);
    ck_assert_buf_lit(&out, "1\0x,y|z\0\0\0Zm9v");

    const struct sf_format prefix = { .kind = SF_FORMAT_TEXT,
                                      .delimiter = "::x",
                                      .delimiter_len = 2 };
    sf_buf_reset(&out); /* only delimiter_len bytes are used */
    run_format(&prefix, &t, &out);
    ck_assert_buf_lit(&out, "1::x,y|z::::::Zm9v");

    const struct sf_format nulls = { .kind = SF_FORMAT_TEXT,
                                     .delimiter = ";",
                                     .null_text = "NULL" };
    sf_buf_reset(&out);
    run_format(&nulls, &t, &out);
    ck_assert_buf_lit(&out, "1;x,y|z;NULL;;Zm9v");

    struct test_row one = { 0 };
    add_str(&one, "a", SF_COL_TEXT, NULL);
    sf_buf_reset(&out);
    run_format(&fmt_text, &one, &out);
    ck_assert_buf_lit(&out, "");
    sf_buf_free(&out);
}
END_TEST

START_TEST(text_raw_bytes)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    add_col(&t, "a", SF_COL_TEXT, "a\0\"\n\xff", 5);
    add_str(&t, "b", SF_COL_FLOAT, "NaN");
    run_format(&fmt_text, &t, &out);
    ck_assert_buf_lit(&out, "a\0\"\n\xff,NaN");
    sf_buf_free(&out);
}
END_TEST

/* ---------- dispatch ---------- */

START_TEST(format_kind_parse)
{
    enum sf_format_kind k = SF_FORMAT_TEXT;
    ck_assert_int_eq(sf_format_kind_parse("json", &k), SF_OK);
    ck_assert_int_eq(k, SF_FORMAT_JSON);
    ck_assert_int_eq(sf_format_kind_parse("csv", &k), SF_OK);
    ck_assert_int_eq(k, SF_FORMAT_CSV);
    ck_assert_int_eq(sf_format_kind_parse("text", &k), SF_OK);
    ck_assert_int_eq(k, SF_FORMAT_TEXT);
    ck_assert_int_eq(sf_format_kind_parse("JSON", &k), SF_OK);
    ck_assert_int_eq(k, SF_FORMAT_JSON);
    k = SF_FORMAT_CSV;
    ck_assert_int_eq(sf_format_kind_parse("xml", &k), SF_ERR_INVAL);
    ck_assert_int_eq(sf_format_kind_parse("", &k), SF_ERR_INVAL);
    ck_assert_int_eq(sf_format_kind_parse("json ", &k), SF_ERR_INVAL);
    ck_assert_int_eq(sf_format_kind_parse(NULL, &k), SF_ERR_INVAL);
    ck_assert_int_eq(k, SF_FORMAT_CSV); /* untouched on failure */
}
END_TEST

START_TEST(format_bad_kind)
{
    struct sf_buf out = SF_BUF_INIT;
    struct test_row t = { 0 };
    add_str(&t, "a", SF_COL_INT, "1");
    struct sf_row row = { .ncols = t.n, .vals = t.vals, .lens = t.lens };
    struct sf_format fmt = { .kind = (enum sf_format_kind)7 };
    ck_assert_int_eq(sf_format_row(&fmt, t.cols, &row, &out), SF_ERR_INVAL);
    ck_assert_uint_eq(out.len, 0);
    sf_buf_free(&out);
}
END_TEST

/* ---------- AvroFlumeEvent datums ---------- */

static void check_avro(const struct sf_header *h,
                       size_t nh,
                       const void *body,
                       size_t len,
                       const unsigned char *want,
                       size_t want_len)
{
    struct sf_event *ev = sf_event_create(h, nh, body, len);
    ck_assert_ptr_nonnull(ev);
    struct sf_buf b = SF_BUF_INIT;
    sf_buf_puts(&b, "prefix"); /* appends: the datum starts where the buffer ended */
    ck_assert_uint_eq(sf_avro_event_encode(&b, ev), 6);
    ck_assert_uint_eq(b.len - 6, want_len);
    ck_assert_int_eq(memcmp(b.data + 6, want, want_len), 0);
    ck_assert_int_eq(b.data[b.len], '\0');
    sf_buf_free(&b);
    sf_event_destroy(ev);
}

/* Byte for byte, worked out from the Avro specification: map block count, zig-zag varint
 * lengths (300 is 600 = 0xD8 0x04), the end-of-map 0, bytes. */
START_TEST(avro_event_bytes)
{
    const struct sf_header one[] = { { "a", "b" } };
    static const unsigned char w1[] = { 0x02, 0x02, 'a', 0x02, 'b', 0x00, 0x04, 'h', 'i' };
    check_avro(one, 1, "hi", 2, w1, sizeof(w1));

    static const unsigned char w0[] = { 0x00, 0x00 }; /* no headers, empty body */
    check_avro(NULL, 0, "", 0, w0, sizeof(w0));

    unsigned char big[300], w2[3 + 300];
    memset(big, 0, sizeof(big)); /* NUL bytes are body bytes like any other */
    big[299] = 0xFF;
    w2[0] = 0x00;
    w2[1] = 0xD8;
    w2[2] = 0x04;
    memcpy(w2 + 3, big, sizeof(big));
    check_avro(NULL, 0, big, sizeof(big), w2, sizeof(w2));

    /* 64 headers: the count 64 is zig-zag 128, two bytes; an empty value is length 0 */
    struct sf_header many[64];
    unsigned char w3[2 + 64 * 3 + 1 + 2];
    size_t k = 0;
    w3[k++] = 0x80;
    w3[k++] = 0x01;
    for (int i = 0; i < 64; i++) {
        many[i] = (struct sf_header){ "k", "" };
        w3[k++] = 0x02;
        w3[k++] = 'k';
        w3[k++] = 0x00;
    }
    w3[k++] = 0x00;
    w3[k++] = 0x02;
    w3[k++] = 'z';
    check_avro(many, 64, "z", 1, w3, k);

    ck_assert_ptr_nonnull(strstr(sf_avro_event_schema, "\"AvroFlumeEvent\""));
}
END_TEST

SF_UNIT_SUITE(format)
{
    Suite *s = suite_create("format");
    TCase *tc = tcase_create("json");
    tcase_add_test(tc, json_all_types);
    tcase_add_test(tc, json_null_every_type);
    tcase_add_test(tc, json_empty_values);
    tcase_add_test(tc, json_int);
    tcase_add_test(tc, json_float);
    tcase_add_test(tc, json_decimal_temporal_other);
    tcase_add_test(tc, json_bool);
    tcase_add_test(tc, json_binary);
    tcase_add_test(tc, json_escape_basic);
    tcase_add_test(tc, json_escape_every_control);
    tcase_add_test(tc, json_nul_byte);
    tcase_add_test(tc, json_utf8_valid);
    tcase_add_test(tc, json_utf8_invalid);
    tcase_add_test(tc, json_every_alignment);
    tcase_add_test(tc, json_keys_escaped);
    tcase_add_test(tc, json_empty_row_and_append);
    tcase_add_test(tc, json_big_value);
    suite_add_tcase(s, tc);

    tc = tcase_create("base64");
    tcase_add_test(tc, base64_rfc4648);
    tcase_add_test(tc, base64_big_value);
    suite_add_tcase(s, tc);

    tc = tcase_create("csv");
    tcase_add_test(tc, csv_all_types);
    tcase_add_test(tc, csv_quoting);
    tcase_add_test(tc, csv_every_alignment);
    tcase_add_test(tc, csv_empty_vs_null);
    tcase_add_test(tc, csv_null_text);
    tcase_add_test(tc, csv_nul_byte);
    tcase_add_test(tc, csv_big_value);
    suite_add_tcase(s, tc);

    tc = tcase_create("text");
    tcase_add_test(tc, text_all_types);
    tcase_add_test(tc, text_delimiters);
    tcase_add_test(tc, text_raw_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("avro_event");
    tcase_add_test(tc, avro_event_bytes);
    suite_add_tcase(s, tc);

    tc = tcase_create("dispatch");
    tcase_add_test(tc, format_kind_parse);
    tcase_add_test(tc, format_bad_kind);
    suite_add_tcase(s, tc);
    return s;
}
