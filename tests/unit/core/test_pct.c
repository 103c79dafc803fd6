/*
 * Unit tests of the shared hex digits and percent codec (src/core/pct.c): round trips of every
 * byte but NUL under both escape sets in use, and the malformed escapes each decoder refuses.
 */
#include "unit.h"
#include <stdlib.h>
#include <string.h>

#include "sqlflume/error.h"
#include "sqlflume/pct.h"

static bool esc_all(unsigned char c)
{
    return c <= 0x20 || c == '%' || c == 0x7f || c >= 0x80;
}

static bool esc_pct(unsigned char c)
{
    return c == '%' || c == ';';
}

START_TEST(hex_values)
{
    for (int c = 0; c < 256; c++) {
        const char *u = strchr(sf_hex_upper, c), *l = strchr(sf_hex_lower, c);
        int want = c && u ? (int)(u - sf_hex_upper) : c && l ? (int)(l - sf_hex_lower) : -1;
        ck_assert_int_eq(sf_hex_val(c), want);
    }
}
END_TEST

START_TEST(round_trips)
{
    char all[255];
    for (int i = 0; i < 255; i++) {
        all[i] = (char)(i + 1);
    }
    bool (*sets[])(unsigned char) = { esc_all, esc_pct };
    for (size_t k = 0; k < 2; k++) {
        struct sf_buf b = SF_BUF_INIT;
        sf_pct_encode(&b, all, sizeof(all), sets[k]);
        char *out = NULL;
        ck_assert_int_eq(sf_pct_decode(b.data, b.len, &out), SF_OK);
        ck_assert_uint_eq(strlen(out), sizeof(all));
        ck_assert(memcmp(out, all, sizeof(all)) == 0);
        free(out);
        sf_buf_putc(&b, '\0');
        ck_assert_int_eq(sf_pct_decode_inplace(b.data), SF_OK);
        ck_assert(memcmp(b.data, all, sizeof(all)) == 0 && b.data[sizeof(all)] == '\0');
        sf_buf_free(&b);
    }
    struct sf_buf b = SF_BUF_INIT;
    sf_pct_encode(&b, "a;b%c d", 7, esc_pct);
    sf_buf_putc(&b, '\0');
    ck_assert_str_eq(b.data, "a%3Bb%25c d");
    sf_buf_free(&b);
    char *out = NULL;
    ck_assert_int_eq(sf_pct_decode("x+y%2fz%2F", 10, &out), SF_OK);
    ck_assert_str_eq(out, "x+y/z/"); /* '+' stays '+'; either case */
    free(out);
    ck_assert_int_eq(sf_pct_decode("", 0, &out), SF_OK);
    ck_assert_str_eq(out, "");
    free(out);
}
END_TEST

START_TEST(malformed)
{
    static const char *const bad[] = { "%", "%4", "a%4", "%G1", "%1G", "%00", "ok%zz", "% 1",
                                       "%+1", "%-1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *out = (char *)"untouched";
        ck_assert_int_eq(sf_pct_decode(bad[i], strlen(bad[i]), &out), SF_ERR_INVAL);
        ck_assert_str_eq(out, "untouched");
        char copy[16];
        strcpy(copy, bad[i]);
        ck_assert_int_eq(sf_pct_decode_inplace(copy), SF_ERR_INVAL);
    }
    /* a length that cuts an escape: "%41" read as its first two bytes */
    char *out = NULL;
    ck_assert_int_eq(sf_pct_decode("%41", 2, &out), SF_ERR_INVAL);
    ck_assert_int_eq(sf_pct_decode("%41", 3, &out), SF_OK);
    ck_assert_str_eq(out, "A");
    free(out);
}
END_TEST

SF_UNIT_SUITE(pct)
{
    Suite *s = suite_create("pct");
    TCase *tc = tcase_create("pct");
    tcase_add_test(tc, hex_values);
    tcase_add_test(tc, round_trips);
    tcase_add_test(tc, malformed);
    suite_add_tcase(s, tc);
    return s;
}
