/*
 * Unit tests of the status-key lock identity (src/include/sqlflume/status_lock.h): the id is a
 * fixed function of database, status table and key, so agents of any version or machine agree
 * on it. The expected values are FNV-1a 64 of the documented bytes, computed independently.
 */
#include "unit.h"
#include <stdlib.h>

#include "sqlflume/status_lock.h"

START_TEST(id_is_stable)
{
    ck_assert_uint_eq(sf_status_lock_id("sqlflume", "flume_meta", "orders"), 0x225d6368bcbf5cf0ULL);
    ck_assert_uint_eq(sf_status_lock_id("shop", "flume_meta", "t1"), 0xc33d0e2a758dff75ULL);
    ck_assert_uint_eq(sf_status_lock_id("shop", "flume_meta", "users"), 0xff2dc73f055388ceULL);
}
END_TEST

START_TEST(null_database_is_empty)
{
    ck_assert_uint_eq(sf_status_lock_id(NULL, "flume_meta", "orders"), 0x75dd4fee5a021413ULL);
    ck_assert_uint_eq(sf_status_lock_id("", "flume_meta", "orders"), 0x75dd4fee5a021413ULL);
    ck_assert_uint_eq(sf_status_lock_id(NULL, "", ""), 0x08547e07b5084555ULL);
}
END_TEST

START_TEST(parts_are_separated)
{
    /* "a" + "bc" and "ab" + "c" must not collide through concatenation */
    ck_assert_uint_ne(sf_status_lock_id("db", "a", "bc"), sf_status_lock_id("db", "ab", "c"));
    ck_assert_uint_ne(sf_status_lock_id("shop", "flume_meta", "a"),
                      sf_status_lock_id("shop", "flume_meta", "b"));
}
END_TEST

START_TEST(param_is_signed_decimal)
{
    char buf[24];
    ck_assert_str_eq(sf_status_lock_param(0x225d6368bcbf5cf0ULL, buf, sizeof(buf)),
                     "2476244671618047216");
    ck_assert_str_eq(sf_status_lock_param(0xc33d0e2a758dff75ULL, buf, sizeof(buf)),
                     "-4378327687210598539");
    ck_assert_str_eq(sf_status_lock_param(0xffffffffffffffffULL, buf, sizeof(buf)), "-1");
    ck_assert_str_eq(sf_status_lock_param(0x8000000000000000ULL, buf, sizeof(buf)),
                     "-9223372036854775808");
}
END_TEST

SF_UNIT_SUITE(status_lock)
{
    Suite *s = suite_create("status_lock");
    TCase *tc = tcase_create("id");
    tcase_add_test(tc, id_is_stable);
    tcase_add_test(tc, null_database_is_empty);
    tcase_add_test(tc, parts_are_separated);
    tcase_add_test(tc, param_is_signed_decimal);
    suite_add_tcase(s, tc);
    return s;
}
