/*
 * Unit tests of the Kafka sink's pure position bookkeeping (src/sinks/kafka/positions.c), without
 * a broker: the delivered-id set (sf_pos_ids_add, sf_pos_ids_has), and position records: parse
 * (kf_pos_record_apply) then encode (kf_pos_record_build) round trips of format 2, format 1's
 * "ranges" read as format 2's "ids", field escaping, and malformed records (SF_ERR_DATA, the
 * positions left empty).
 */
#include "unit.h"
#include <stdlib.h>
#include <string.h>

#include "sqlflume/error.h"

#include "../../src/sinks/kafka/kafka_int.h"

static struct kafka_ctx *ctx_new(void)
{
    struct kafka_ctx *ctx = calloc(1, sizeof(*ctx));
    ck_assert_ptr_nonnull(ctx);
    ctx->committed_seq = -1;
    return ctx;
}

static void ctx_free(struct kafka_ctx *ctx)
{
    sf_positions_free(&ctx->pos);
    sf_buf_free(&ctx->pos_buf);
    free(ctx);
}

/* apply rec, build it again: the text built */
static const char *round_trip(struct kafka_ctx *ctx, const char *rec)
{
    char err[256] = "";
    ck_assert_msg(kf_pos_record_apply(ctx, rec, strlen(rec), err, sizeof(err)) == SF_OK, "%s", err);
    kf_pos_record_build(ctx);
    sf_buf_putc(&ctx->pos_buf, '\0');
    return ctx->pos_buf.data;
}

START_TEST(ids_set)
{
    struct sf_pos_ids d = { 0 };
    ck_assert(!sf_pos_ids_has(&d, 1));
    for (long long v = 10; v <= 14; v++) {
        ck_assert_uint_eq(sf_pos_ids_add(&d, v), 0);
    }
    ck_assert_uint_eq(sf_pos_ids_add(&d, 18), 0); /* 15..17 a gap */
    ck_assert(sf_pos_ids_has(&d, 10) && sf_pos_ids_has(&d, 14) && sf_pos_ids_has(&d, 18));
    ck_assert(!sf_pos_ids_has(&d, 15) && !sf_pos_ids_has(&d, 17) && !sf_pos_ids_has(&d, 19));
    ck_assert(!sf_pos_ids_has(&d, 9));
    ck_assert_uint_eq(sf_pos_ids_add(&d, 16), 0); /* late id inside the gap */
    ck_assert(sf_pos_ids_has(&d, 16) && !sf_pos_ids_has(&d, 15) && !sf_pos_ids_has(&d, 17));
    ck_assert_uint_eq(sf_pos_ids_add(&d, 7), 0); /* below floor: 8..9 become a gap */
    ck_assert_int_eq(d.floor, 7);
    ck_assert(sf_pos_ids_has(&d, 7) && !sf_pos_ids_has(&d, 8) && !sf_pos_ids_has(&d, 9));
    struct sf_pos_ids c = { 0 };
    sf_pos_ids_copy(&c, &d);
    ck_assert(sf_pos_ids_has(&c, 16) && !sf_pos_ids_has(&c, 15) && sf_pos_ids_has(&c, 7) && !sf_pos_ids_has(&c, 8));
    free(c.set);
    free(d.set);
}
END_TEST

START_TEST(record_round_trip)
{
    struct kafka_ctx *ctx = ctx_new();
    const char *rec = "sqlflume-positions 2\ntxn 7\nprev 7\n"
                      "pos t1 db.a 42\nids t1 db.a 1 42;5-6,9\n"
                      "pos t%202%25 db.b 2026-12-03%2014:00:00\n";
    ck_assert_str_eq(round_trip(ctx, rec), rec);
    ck_assert_int_eq(ctx->committed_seq, 7);
    ck_assert_uint_eq(ctx->pos.n, 2);
    const struct sf_pos_entry *a = sf_positions_find(&ctx->pos, "t1", "db.a");
    ck_assert_ptr_nonnull(a);
    ck_assert(a->int_mode);
    ck_assert(sf_pos_ids_has(&a->ids, 1) && sf_pos_ids_has(&a->ids, 4) && sf_pos_ids_has(&a->ids, 42));
    ck_assert(!sf_pos_ids_has(&a->ids, 5) && !sf_pos_ids_has(&a->ids, 6) && !sf_pos_ids_has(&a->ids, 9));
    ck_assert(!sf_pos_ids_has(&a->ids, 43) && !sf_pos_ids_has(&a->ids, 0));
    const struct sf_pos_entry *b = sf_positions_find(&ctx->pos, "t 2%", "db.b");
    ck_assert_ptr_nonnull(b);
    ck_assert(!b->int_mode);
    ck_assert_str_eq(b->max, "2026-12-03 14:00:00");
    /* a second apply replaces everything: no pair of the first record keeps a position */
    rec = "sqlflume-positions 2\ntxn 8\nprev 7\npos t1 db.c 3\n";
    ck_assert_str_eq(round_trip(ctx, rec), "sqlflume-positions 2\ntxn 8\nprev 8\npos t1 db.c 3\n");
    ctx_free(ctx);
}
END_TEST

START_TEST(record_format_1)
{
    struct kafka_ctx *ctx = ctx_new();
    const char *rec = "sqlflume-positions 1\ntxn 3\nprev -\npos t db.a 9\nranges t db.a 1~4,7~9\n";
    ck_assert_str_eq(round_trip(ctx, rec),
                     "sqlflume-positions 2\ntxn 3\nprev 3\npos t db.a 9\nids t db.a 1 9;5-6\n");
    ctx_free(ctx);
}
END_TEST

START_TEST(record_batch_built)
{
    struct kafka_ctx *ctx = ctx_new();
    ctx->txn_seq = 1;
    /* a batch admits 5 and 6 (and 5 again, which is not admitted twice) */
    ck_assert(sf_positions_admit(&ctx->pos, "t", "db.a", "5", ""));
    ck_assert(sf_positions_admit(&ctx->pos, "t", "db.a", "6", ""));
    ck_assert(!sf_positions_admit(&ctx->pos, "t", "db.a", "5", ""));
    kf_pos_record_build(ctx);
    sf_buf_putc(&ctx->pos_buf, '\0');
    ck_assert_str_eq(ctx->pos_buf.data, "sqlflume-positions 2\ntxn 1\nprev -\npos t db.a 6\n"
                                        "ids t db.a 5 6\nbatch t db.a 5 6 2\n");
    /* committed, the record without the open batch holds them; discarded, a new batch of them
     * admits nothing */
    sf_positions_commit(&ctx->pos);
    ck_assert(!sf_positions_admit(&ctx->pos, "t", "db.a", "6", ""));
    ck_assert(sf_positions_admit(&ctx->pos, "t", "db.a", "7", ""));
    sf_positions_discard(&ctx->pos);
    ck_assert(sf_positions_admit(&ctx->pos, "t", "db.a", "7", ""));
    sf_positions_discard(&ctx->pos);
    ctx_free(ctx);
}
END_TEST

START_TEST(record_malformed)
{
    static const char *const bad[] = {
        "sqlflume-positions 9\ntxn 1\n",                        /* unknown format */
        "sqlflume-positions 2\npos t db.a 1\n",                 /* no txn line */
        "sqlflume-positions 2\ntxn -1\n",                       /* negative txn */
        "sqlflume-positions 2\ntxn 1\npos t%00 db.a 1\n",       /* NUL escape */
        "sqlflume-positions 2\ntxn 1\npos t%4 db.a 1\n",        /* short escape */
        "sqlflume-positions 2\ntxn 1\nids t db.a 5 3\n",        /* hw below floor */
        "sqlflume-positions 2\ntxn 1\nids t db.a 5 9;2-3\n",    /* gap below floor */
        "sqlflume-positions 2\ntxn 1\nids t db.a x 9\n",        /* floor not an integer */
        "sqlflume-positions 1\ntxn 1\nranges t db.a 4~9,1~2\n", /* unsorted ranges */
        "sqlflume-positions 1\ntxn 1\nranges t db.a 1-2\n",     /* no '~' */
        "sqlflume-positions 1\ntxn 1\nids t db.a 1 2\nranges t db.a 1~4,5~6\n", /* adjacent */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct kafka_ctx *ctx = ctx_new();
        char err[256] = "";
        /* a good record first: a bad one must leave no position behind */
        (void)round_trip(ctx,
                         "sqlflume-positions 2\ntxn 2\nprev 2\npos t db.a 4\nids t db.a 1 4\n");
        ck_assert_msg(kf_pos_record_apply(ctx, bad[i], strlen(bad[i]), err, sizeof(err)) ==
                          SF_ERR_DATA,
                      "record %zu accepted", i);
        ck_assert_msg(err[0] != '\0', "record %zu: no reason", i);
        for (size_t j = 0; j < ctx->pos.n; j++) {
            ck_assert_ptr_null(ctx->pos.e[j].max);
            ck_assert(!ctx->pos.e[j].ids.has && !ctx->pos.e[j].int_mode);
        }
        ck_assert_int_eq(ctx->committed_seq, -1);
        ctx_free(ctx);
    }
}
END_TEST

SF_UNIT_SUITE(kafka_positions)
{
    Suite *s = suite_create("kafka_positions");
    TCase *tc = tcase_create("positions");
    tcase_add_test(tc, ids_set);
    tcase_add_test(tc, record_round_trip);
    tcase_add_test(tc, record_format_1);
    tcase_add_test(tc, record_batch_built);
    tcase_add_test(tc, record_malformed);
    suite_add_tcase(s, tc);
    return s;
}
