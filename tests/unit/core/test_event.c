/*
 * Unit tests of events and the delivery tracker that decides committable offsets
 * (src/core/event.c).
 */
#include "unit.h"
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlflume/agent.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"

/* ---------- events ---------- */

/* sf_event_create_lens copies exactly the given bytes (values need no NUL) and lays the event out
 * as sf_event_create does; headers may be empty and the body may hold NULs. */
START_TEST(event_create_lens)
{
    const char vals[] = "bench1000199"; /* "bench" "1000" "199" without NULs between */
    const struct sf_header_lens hl[] = { { "table", 5, vals, 5 },
                                         { "offsetXX", 6, vals + 5, 4 },
                                         { "key", 3, vals + 9, 3 },
                                         { "empty", 5, "", 0 } };
    const char body[] = { 'a', '\0', 'b' };
    struct sf_event *ev = sf_event_create_lens(hl, 4, body, sizeof(body));
    ck_assert_ptr_nonnull(ev);
    ck_assert_uint_eq(ev->nheaders, 4);
    ck_assert_str_eq(sf_event_header(ev, "table"), "bench");
    ck_assert_str_eq(sf_event_header(ev, "offset"), "1000");
    ck_assert_str_eq(sf_event_header(ev, "key"), "199");
    ck_assert_str_eq(sf_event_header(ev, "empty"), "");
    ck_assert_ptr_null(sf_event_header(ev, "offsetXX"));
    ck_assert_uint_eq(ev->body_len, 3);
    ck_assert(memcmp(ev->body, body, 3) == 0 && ev->body[3] == '\0');
    const struct sf_header h[] = {
        { "table", "bench" }, { "offset", "1000" }, { "key", "199" }, { "empty", "" }
    };
    struct sf_event *same = sf_event_create(h, 4, body, sizeof(body));
    size_t size = (size_t)(ev->body - (char *)ev) + ev->body_len + 1;
    ck_assert_uint_eq((size_t)(same->body - (char *)same) + same->body_len + 1, size);
    /* the same strings at the same places after the fixed part */
    size_t fixed = sizeof(struct sf_event) + 4 * sizeof(struct sf_header);
    ck_assert(memcmp((char *)ev + fixed, (char *)same + fixed, size - fixed) == 0);
    sf_event_destroy(same);
    sf_event_destroy(ev);
}
END_TEST

/* ---------- delivery tracker ---------- */

START_TEST(tracker_prefix)
{
    struct sf_ack_tracker *tr = sf_ack_tracker_create();
    uint64_t b1 = sf_ack_tracker_add(tr, 2, 1, "10");
    uint64_t b2 = sf_ack_tracker_add(tr, 2, 1, "20");
    uint64_t b3 = sf_ack_tracker_add(tr, 1, 2, "30"); /* two channels */
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, b2, 2); /* out of order: not committable before b1 */
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, b1, 1);
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, b1, 1);
    char *off = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(off, "20");
    free(off);
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, b3, 1); /* one of two channels */
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    ck_assert_uint_eq(sf_ack_tracker_pending(tr), 1);
    sf_ack_tracker_ack(tr, b3, 1);
    off = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(off, "30");
    free(off);
    ck_assert_uint_eq(sf_ack_tracker_pending(tr), 0);
    sf_ack_tracker_destroy(tr);
}
END_TEST

START_TEST(tracker_many_batches_ring_growth)
{
    struct sf_ack_tracker *tr = sf_ack_tracker_create();
    uint64_t ids[1000];
    char off[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(off, sizeof(off), "%d", i);
        ids[i] = sf_ack_tracker_add(tr, 1, 1, off);
    }
    for (int i = 999; i >= 1; i--) {
        sf_ack_tracker_ack(tr, ids[i], 1);
    }
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, ids[0], 1);
    char *o = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(o, "999");
    free(o);
    sf_ack_tracker_destroy(tr);
}
END_TEST

SF_UNIT_SUITE(event)
{
    Suite *s = suite_create("event");
    TCase *tc = tcase_create("event");
    tcase_add_test(tc, event_create_lens);
    suite_add_tcase(s, tc);
    tc = tcase_create("tracker");
    tcase_add_test(tc, tracker_prefix);
    tcase_add_test(tc, tracker_many_batches_ring_growth);
    suite_add_tcase(s, tc);
    return s;
}
