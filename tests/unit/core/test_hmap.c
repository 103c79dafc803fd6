/*
 * Unit tests of the shared hash map (src/core/hmap.c, sqlflume/hmap.h): exact keys against a
 * sorted reference array over growth, several slots of one key walked with sf_hmap_next, reserve,
 * the string keys never 0, free and reuse.
 */
#include "unit.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sqlflume/error.h"
#include "sqlflume/hmap.h"

static uint64_t rnd(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

START_TEST(set_get_against_reference)
{
    enum { N = 20000 };
    uint64_t *keys = malloc(N * sizeof(*keys));
    struct sf_hmap m = SF_HMAP_INIT;
    uint64_t seed = 88172645463325252ULL;
    for (size_t i = 0; i < N; i++) {
        /* structured keys like the file channel's (file id << 32 | offset), some repeated */
        keys[i] = i % 7 == 6 ? keys[i / 2] : ((rnd(&seed) % 5 + 1) << 32) | (rnd(&seed) & 0xffff0);
        ck_assert_int_eq(sf_hmap_set(&m, keys[i], i), SF_OK);
    }
    ck_assert_uint_le(m.n * 2, m.cap);
    for (size_t i = 0; i < N; i++) {
        /* the value is the last index that set the key */
        size_t last = i;
        for (size_t j = i + 1; j < N; j++) {
            if (keys[j] == keys[i]) {
                last = j;
            }
        }
        const struct sf_hmap_slot *s = sf_hmap_get(&m, keys[i]);
        ck_assert_ptr_nonnull(s);
        ck_assert_uint_eq(s->val, last);
        if (i > 2000) {
            break; /* the quadratic reference is enough over the first part */
        }
    }
    size_t distinct = 0;
    for (size_t i = 0; i < m.cap; i++) {
        distinct += m.slots[i].key != 0;
    }
    ck_assert_uint_eq(distinct, m.n);
    ck_assert_ptr_null(sf_hmap_get(&m, 7)); /* offset 7 of file 0: never set */
    sf_hmap_free(&m);
    ck_assert_ptr_null(sf_hmap_get(&m, keys[0]));
    ck_assert_int_eq(sf_hmap_set(&m, 42, 1), SF_OK); /* usable again after free */
    ck_assert_uint_eq(sf_hmap_get(&m, 42)->val, 1);
    sf_hmap_free(&m);
    free(keys);
}
END_TEST

START_TEST(same_key_walk)
{
    struct sf_hmap m = SF_HMAP_INIT;
    for (uint64_t v = 0; v < 100; v++) {
        ck_assert_int_eq(sf_hmap_add(&m, 5, v), SF_OK);
        ck_assert_int_eq(sf_hmap_add(&m, 6 + v, 1000 + v), SF_OK);
    }
    bool seen[100] = { false };
    size_t pos = SIZE_MAX, n = 0;
    for (struct sf_hmap_slot *s; (s = sf_hmap_next(&m, 5, &pos));) {
        ck_assert_uint_eq(s->key, 5);
        ck_assert_uint_lt(s->val, 100);
        ck_assert(!seen[s->val]);
        seen[s->val] = true;
        n++;
    }
    ck_assert_uint_eq(n, 100);
    pos = SIZE_MAX;
    ck_assert_ptr_null(sf_hmap_next(&m, 4, &pos));
    ck_assert_uint_eq(m.n, 200);
    sf_hmap_free(&m);
}
END_TEST

START_TEST(reserve_then_no_growth)
{
    struct sf_hmap m = SF_HMAP_INIT;
    ck_assert_int_eq(sf_hmap_reserve(&m, 1000), SF_OK);
    size_t cap = m.cap;
    ck_assert_uint_ge(cap, 2000);
    struct sf_hmap_slot *slots = m.slots;
    for (uint64_t k = 1; k <= 1000; k++) {
        ck_assert_int_eq(sf_hmap_add(&m, k, k * 2), SF_OK);
    }
    ck_assert_ptr_eq(m.slots, slots);
    ck_assert_uint_eq(m.cap, cap);
    for (uint64_t k = 1; k <= 1000; k++) {
        ck_assert_uint_eq(sf_hmap_get(&m, k)->val, k * 2);
    }
    ck_assert_int_eq(sf_hmap_reserve(&m, 10), SF_OK); /* never shrinks */
    ck_assert_uint_eq(m.cap, cap);
    sf_hmap_free(&m);
}
END_TEST

START_TEST(string_keys)
{
    ck_assert_uint_ne(sf_hmap_key_str(""), 0);
    ck_assert_uint_eq(sf_hmap_key_str("orders"), sf_hmap_key_str("orders"));
    ck_assert_uint_ne(sf_hmap_key_str("orders"), sf_hmap_key_str("orderz"));
    /* (topic, table) with a separator: ("ab", "c") and ("a", "bc") differ */
    uint64_t a = sf_hmap_key_more(sf_hmap_key_byte(sf_hmap_key_str("ab"), 0xff), "c");
    uint64_t b = sf_hmap_key_more(sf_hmap_key_byte(sf_hmap_key_str("a"), 0xff), "bc");
    ck_assert_uint_ne(a, b);
    /* FNV-1a 64 of "a" (published test vector) */
    ck_assert_uint_eq(sf_hmap_key_str("a"), 0xaf63dc4c8601ec8cULL);
}
END_TEST

/* Removal against a reference: random adds and removes (colliding keys in a small table
 * included), every remaining key found with its value, no removed one. */
START_TEST(remove_against_reference)
{
    enum { N = 3000 };
    static uint64_t live[N];
    static bool in[N];
    struct sf_hmap m = SF_HMAP_INIT;
    uint64_t seed = 2463534242ULL;
    for (int round = 0; round < 20000; round++) {
        size_t i = rnd(&seed) % N;
        uint64_t key = (i % 5 + 1) * 1000003ULL + i / 5 * 64; /* structured keys */
        if (!in[i]) {
            ck_assert_int_eq(sf_hmap_add(&m, key, i), SF_OK);
            in[i] = true;
            live[i] = key;
        } else {
            struct sf_hmap_slot *s = sf_hmap_get(&m, key);
            ck_assert_ptr_nonnull(s);
            ck_assert_uint_eq(s->val, i);
            sf_hmap_remove(&m, s);
            in[i] = false;
        }
        if (round % 997 == 0) {
            size_t n = 0;
            for (size_t k = 0; k < N; k++) {
                uint64_t kk = (k % 5 + 1) * 1000003ULL + k / 5 * 64;
                const struct sf_hmap_slot *s = sf_hmap_get(&m, kk);
                if (in[k]) {
                    ck_assert_ptr_nonnull(s);
                    ck_assert_uint_eq(s->val, k);
                    ck_assert_uint_eq(live[k], kk);
                    n++;
                } else {
                    ck_assert_ptr_null(s);
                }
            }
            ck_assert_uint_eq(n, m.n);
        }
    }
    sf_hmap_free(&m);
}
END_TEST

SF_UNIT_SUITE(hmap)
{
    Suite *s = suite_create("hmap");
    TCase *tc = tcase_create("hmap");
    tcase_add_test(tc, set_get_against_reference);
    tcase_add_test(tc, same_key_walk);
    tcase_add_test(tc, reserve_then_no_growth);
    tcase_add_test(tc, string_keys);
    tcase_add_test(tc, remove_against_reference);
    suite_add_tcase(s, tc);
    return s;
}
