/*
 * Unit tests of the SQL source's pure parts (src/sources/sql), without a database: the query
 * builder (query.c) for every incremental.mode, custom.query, gap ranges and the backfill's
 * chunks, in both dialects (the real connectors' quoting and placeholders, which need no
 * connection), and the backfill progress codec (bf_codec.c): round trips and malformed values.
 */
#include "unit.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlflume/connector.h"
#include "sqlflume/error.h"

#include "../../src/sources/sql/sql_int.h"

#define MY_UPPER "(NOW(6) - INTERVAL 2000000 MICROSECOND)"
#define PG_UPPER "(clock_timestamp() - interval '2000 milliseconds')"

static char *pk_id[] = { "id" };

/* A source context and a table as start-up and prepare_table leave them (roles resolved). */
static void setup(struct sql_ctx *c,
                  struct sql_table *t,
                  const char *dialect,
                  int mode,
                  const char *inc,
                  const char *ts)
{
    memset(c, 0, sizeof(*c));
    memset(t, 0, sizeof(*t));
    c->cx = sf_connector_find(dialect);
    ck_assert_ptr_nonnull(c->cx);
    c->mode = mode;
    c->columns = "*";
    c->max_rows = 100;
    c->ts_delay_ms = 2000;
    c->bf_chunk_size = 500;
    t->name = "orders";
    t->inc = (char *)inc;
    t->ts = (char *)ts;
    t->pk = pk_id;
    t->npk = 1;
    t->inc_type = SF_COL_INT;
    t->ts_type = SF_COL_TEMPORAL;
    t->pk_type = SF_COL_INT;
}

static void teardown(struct sql_table *t)
{
    sf_buf_free(&t->sql);
    sf_buf_free(&t->sql_first);
    sf_buf_free(&t->sel_from);
    sf_buf_free(&t->qtab);
    sf_buf_free(&t->qinc);
    sf_buf_free(&t->qts);
    sf_buf_free(&t->qpk);
}

static void build(struct sql_ctx *c, struct sql_table *t)
{
    char err[256] = "";
    ck_assert_int_eq(sq_build_poll_sql(c, t, err, sizeof(err)), SF_OK);
    ck_assert_str_eq(err, "");
}

START_TEST(incrementing)
{
    struct sql_ctx c;
    struct sql_table t;
    struct sf_param p[3];
    char *ts_part;
    setup(&c, &t, "mysql", MODE_INCREMENTING, "id", NULL);
    build(&c, &t);
    ck_assert_str_eq(t.sql.data, "SELECT * FROM `orders` WHERE `id` > ? ORDER BY `id` LIMIT 100");
    ck_assert_str_eq(t.sql_first.data,
                     "SELECT * FROM `orders` WHERE `id` IS NOT NULL ORDER BY `id` LIMIT 100");
    ck_assert_str_eq(t.sel_from.data, "SELECT * FROM `orders`");
    ck_assert_str_eq(t.qtab.data, "`orders`");
    ck_assert_str_eq(t.qinc.data, "`id`");
    ck_assert_str_eq(t.qts.data, "");
    /* no offset yet: sql_first, no parameter */
    ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 0);
    ck_assert_ptr_null(ts_part);
    /* an offset: bound as the column's type */
    t.read_offset = "42";
    ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 1);
    ck_assert_ptr_null(ts_part);
    ck_assert_str_eq(p[0].val, "42");
    ck_assert_int_eq(p[0].type, SF_COL_INT);
    teardown(&t);

    setup(&c, &t, "postgresql", MODE_INCREMENTING, "id", NULL);
    t.name = "shop.Orders";
    c.columns = "v, note";
    build(&c, &t);
    /* explicit columns: the offset and key columns ride along, hidden, after them */
    ck_assert_str_eq(t.sql.data, "SELECT \"v\", \"note\", \"id\", \"id\" FROM \"shop\".\"Orders\" "
                                 "WHERE \"id\" > $1 ORDER BY \"id\" LIMIT 100");
    ck_assert_str_eq(t.sql_first.data, "SELECT \"v\", \"note\", \"id\", \"id\" FROM "
                                       "\"shop\".\"Orders\" WHERE \"id\" IS NOT NULL ORDER BY "
                                       "\"id\" LIMIT 100");
    t.read_offset = "-7";
    ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 1);
    ck_assert_str_eq(p[0].val, "-7");
    teardown(&t);

    /* identifiers are quoted, never pasted: a quote inside a name is doubled */
    setup(&c, &t, "mysql", MODE_INCREMENTING, "i`d", NULL);
    t.name = "a`b";
    build(&c, &t);
    ck_assert_str_eq(t.sql.data, "SELECT * FROM `a``b` WHERE `i``d` > ? ORDER BY `i``d` LIMIT 100");
    teardown(&t);

    /* empty items of columns.to.select are skipped (sf_split_names), blanks inside a name kept */
    setup(&c, &t, "mysql", MODE_INCREMENTING, "id", NULL);
    c.columns = " a,,first name ,";
    build(&c, &t);
    ck_assert_str_eq(t.sql.data, "SELECT `a`, `first name`, `id`, `id` FROM `orders` WHERE `id` > "
                                 "? ORDER BY `id` LIMIT 100");
    teardown(&t);
}
END_TEST

START_TEST(gap_ranges)
{
    static const char *const want[2][2] = {
        { "(SELECT * FROM `orders` WHERE `id` BETWEEN ? AND ? OR `id` BETWEEN ? AND ? ORDER BY "
          "`id` LIMIT 100) UNION ALL (SELECT * FROM `orders` WHERE `id` > ? ORDER BY `id` LIMIT "
          "100)",
          "SELECT * FROM `orders` WHERE `id` > ? ORDER BY `id` LIMIT 100" },
        { "(SELECT * FROM \"orders\" WHERE \"id\" BETWEEN $1 AND $2 OR \"id\" BETWEEN $3 AND $4 "
          "ORDER BY \"id\" LIMIT 100) UNION ALL (SELECT * FROM \"orders\" WHERE \"id\" > $5 "
          "ORDER BY \"id\" LIMIT 100)",
          "SELECT * FROM \"orders\" WHERE \"id\" > $1 ORDER BY \"id\" LIMIT 100" },
    };
    static const char *const dialects[2] = { "mysql", "postgresql" };
    for (int d = 0; d < 2; d++) {
        struct sql_ctx c;
        struct sql_table t;
        setup(&c, &t, dialects[d], MODE_INCREMENTING, "id", NULL);
        build(&c, &t);
        struct sf_gapset gs;
        sf_gapset_init(&gs, 50, 0);
        gs.n = 2;
        gs.g[0] = (struct sf_gap){ 5, 7, 0 };
        gs.g[1] = (struct sf_gap){ 9, 9, 0 };
        struct sf_param p[1 + 2 * SF_GAPS_MAX];
        char num[1 + 2 * SF_GAPS_MAX][24];
        struct sf_buf q = SF_BUF_INIT;
        ck_assert_uint_eq(sq_build_gap_sql(&c, &t, &gs, &q, p, num), 5);
        ck_assert_str_eq(q.data, want[d][0]);
        static const char *const vals[] = { "5", "7", "9", "9", "50" };
        for (int i = 0; i < 5; i++) {
            ck_assert_str_eq(p[i].val, vals[i]);
            ck_assert_int_eq(p[i].type, SF_COL_INT);
        }
        /* no gaps: the plain range above hw */
        gs.n = 0;
        ck_assert_uint_eq(sq_build_gap_sql(&c, &t, &gs, &q, p, num), 1);
        ck_assert_str_eq(q.data, want[d][1]);
        ck_assert_str_eq(p[0].val, "50");
        sf_buf_free(&q);
        teardown(&t);
    }
}
END_TEST

START_TEST(timestamp)
{
    struct sql_ctx c;
    struct sql_table t;
    struct sf_param p[3];
    char *ts_part;
    setup(&c, &t, "mysql", MODE_TIMESTAMP, NULL, "updated_at");
    build(&c, &t);
    ck_assert_str_eq(t.sql.data,
                     "SELECT * FROM `orders` WHERE `updated_at` > ? AND `updated_at` < " MY_UPPER
                     " ORDER BY `updated_at`");
    ck_assert_str_eq(t.sql_first.data, "SELECT * FROM `orders` WHERE `updated_at` < " MY_UPPER
                                       " ORDER BY `updated_at`");
    ck_assert_str_eq(t.qinc.data, "");
    ck_assert_str_eq(t.qts.data, "`updated_at`");
    t.read_offset = "2024-01-02 03:04:05.678";
    ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 1);
    ck_assert_ptr_null(ts_part);
    ck_assert_str_eq(p[0].val, "2024-01-02 03:04:05.678");
    ck_assert_int_eq(p[0].type, SF_COL_TEMPORAL);
    teardown(&t);

    setup(&c, &t, "postgresql", MODE_TIMESTAMP, NULL, "updated_at");
    build(&c, &t);
    ck_assert_str_eq(t.sql.data, "SELECT * FROM \"orders\" WHERE \"updated_at\" > $1 AND "
                                 "\"updated_at\" < " PG_UPPER " ORDER BY \"updated_at\"");
    ck_assert_str_eq(t.sql_first.data, "SELECT * FROM \"orders\" WHERE \"updated_at\" < " PG_UPPER
                                       " ORDER BY \"updated_at\"");
    teardown(&t);
}
END_TEST

START_TEST(timestamp_incrementing)
{
    struct sql_ctx c;
    struct sql_table t;
    struct sf_param p[3];
    char *ts_part;
    setup(&c, &t, "mysql", MODE_TS_INC, "id", "updated_at");
    build(&c, &t);
    ck_assert_str_eq(t.sql.data, "SELECT * FROM `orders` WHERE `updated_at` < " MY_UPPER
                                 " AND (`updated_at` > ? OR (`updated_at` = ? AND `id` > ?)) "
                                 "ORDER BY `updated_at`, `id` LIMIT 100");
    ck_assert_str_eq(t.sql_first.data, "SELECT * FROM `orders` WHERE `updated_at` < " MY_UPPER
                                       " ORDER BY `updated_at`, `id` LIMIT 100");
    /* "ts,inc": the timestamp twice, then the id */
    t.read_offset = "2024-01-02 03:04:05,17";
    ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 3);
    ck_assert_str_eq(ts_part, "2024-01-02 03:04:05");
    ck_assert_str_eq(p[0].val, "2024-01-02 03:04:05");
    ck_assert_str_eq(p[1].val, "2024-01-02 03:04:05");
    ck_assert_str_eq(p[2].val, "17");
    ck_assert_int_eq(p[0].type, SF_COL_TEMPORAL);
    ck_assert_int_eq(p[2].type, SF_COL_INT);
    free(ts_part);
    /* a timestamp alone (start.from): id 0 */
    t.read_offset = "2024-01-02 03:04:05";
    ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 3);
    ck_assert_str_eq(p[0].val, "2024-01-02 03:04:05");
    ck_assert_str_eq(p[2].val, "0");
    free(ts_part);
    teardown(&t);

    setup(&c, &t, "postgresql", MODE_TS_INC, "id", "updated_at");
    build(&c, &t);
    ck_assert_str_eq(t.sql.data, "SELECT * FROM \"orders\" WHERE \"updated_at\" < " PG_UPPER
                                 " AND (\"updated_at\" > $1 OR (\"updated_at\" = $2 AND \"id\" > "
                                 "$3)) ORDER BY \"updated_at\", \"id\" LIMIT 100");
    ck_assert_str_eq(t.sql_first.data, "SELECT * FROM \"orders\" WHERE \"updated_at\" < " PG_UPPER
                                       " ORDER BY \"updated_at\", \"id\" LIMIT 100");
    teardown(&t);
}
END_TEST

START_TEST(bulk)
{
    struct sql_ctx c;
    struct sql_table t;
    struct sf_param p[3];
    char *ts_part;
    setup(&c, &t, "mysql", MODE_BULK, NULL, NULL);
    build(&c, &t);
    ck_assert_str_eq(t.sql.data, "SELECT * FROM `orders`");
    ck_assert_str_eq(t.sql_first.data, "SELECT * FROM `orders`");
    ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 0);
    teardown(&t);
    setup(&c, &t, "postgresql", MODE_BULK, NULL, NULL);
    c.columns = "v";
    build(&c, &t);
    ck_assert_str_eq(t.sql.data, "SELECT \"v\", \"id\" FROM \"orders\"");
    ck_assert_str_eq(t.sql_first.data, "SELECT \"v\", \"id\" FROM \"orders\"");
    teardown(&t);
}
END_TEST

START_TEST(custom_query)
{
    static const char *const dialects[2] = { "mysql", "postgresql" };
    static const char *const want[2] = {
        "SELECT id, v FROM orders WHERE id > ? AND id < ? + 100 ORDER BY id",
        "SELECT id, v FROM orders WHERE id > $1 AND id < $1 + 100 ORDER BY id",
    };
    for (int d = 0; d < 2; d++) {
        struct sql_ctx c;
        struct sql_table t;
        struct sf_param p[3];
        char *ts_part;
        setup(&c, &t, dialects[d], MODE_INCREMENTING, NULL, NULL);
        c.custom_query = "SELECT id, v FROM orders WHERE id > $@$ AND id < $@$ + 100 ORDER BY id";
        t.name = NULL;
        t.inc_type = SF_COL_TEXT;
        sq_build_custom_sql(&c, &t.sql);
        ck_assert_str_eq(t.sql.data, want[d]);
        /* the offset binds as an integer when it is one, else as text */
        t.read_offset = "0";
        ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 1);
        ck_assert_str_eq(p[0].val, "0");
        ck_assert_int_eq(p[0].type, SF_COL_INT);
        t.read_offset = "2024-01-01";
        ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 1);
        ck_assert_int_eq(p[0].type, SF_COL_TEXT);
        /* no $@$: the text as it is, nothing bound */
        c.custom_query = "SELECT id FROM orders";
        sf_buf_reset(&t.sql);
        sq_build_custom_sql(&c, &t.sql);
        ck_assert_str_eq(t.sql.data, "SELECT id FROM orders");
        ck_assert_uint_eq(sq_poll_params(&c, &t, p, &ts_part), 0);
        teardown(&t);
    }
}
END_TEST

START_TEST(backfill_chunks)
{
    struct sql_ctx c;
    struct sql_table t;
    struct sf_param p[4];
    struct sf_buf q = SF_BUF_INIT;
    setup(&c, &t, "mysql", MODE_INCREMENTING, "id", NULL);
    build(&c, &t);
    c.cx->quote_ident("id", &t.qpk);
    t.bf_h1 = "1000";
    /* the first chunk: no key bound */
    ck_assert_int_eq(sq_build_backfill_sql(&c, &t, 500, &q, p), 1);
    ck_assert_str_eq(q.data, "SELECT * FROM `orders` WHERE `id` <= ? ORDER BY `id` LIMIT 500");
    ck_assert_str_eq(p[0].val, "1000");
    t.bf_key = "41";
    ck_assert_int_eq(sq_build_backfill_sql(&c, &t, 250, &q, p), 2);
    ck_assert_str_eq(q.data,
                     "SELECT * FROM `orders` WHERE `id` > ? AND `id` <= ? ORDER BY `id` LIMIT 250");
    ck_assert_str_eq(p[0].val, "41");
    ck_assert_str_eq(p[1].val, "1000");
    teardown(&t);

    setup(&c, &t, "postgresql", MODE_TS_INC, "id", "updated_at");
    build(&c, &t);
    c.cx->quote_ident("id", &t.qpk);
    t.bf_key = "41";
    t.bf_h1 = "2024-01-02 03:04:05";
    t.bf_h2 = "17";
    ck_assert_int_eq(sq_build_backfill_sql(&c, &t, 500, &q, p), 4);
    ck_assert_str_eq(q.data,
                     "SELECT * FROM \"orders\" WHERE \"id\" > $1 AND (\"updated_at\" < $2 "
                     "OR (\"updated_at\" = $3 AND \"id\" <= $4)) ORDER BY \"id\" LIMIT 500");
    ck_assert_str_eq(p[1].val, "2024-01-02 03:04:05");
    ck_assert_str_eq(p[3].val, "17");
    teardown(&t);

    setup(&c, &t, "mysql", MODE_TIMESTAMP, NULL, "updated_at");
    build(&c, &t);
    c.cx->quote_ident("id", &t.qpk);
    t.bf_h1 = "2024-01-02 03:04:05";
    ck_assert_int_eq(sq_build_backfill_sql(&c, &t, 500, &q, p), 1);
    ck_assert_str_eq(q.data,
                     "SELECT * FROM `orders` WHERE `updated_at` <= ? ORDER BY `id` LIMIT 500");
    ck_assert_int_eq(p[0].type, SF_COL_TEMPORAL);
    teardown(&t);
    sf_buf_free(&q);
}
END_TEST

START_TEST(progress_codec)
{
    struct sf_buf b = SF_BUF_INIT;
    struct bf_prog p;
    /* running, with a key: ';' and '%' escaped in key and hwm */
    ck_assert(sq_bf_encode(&b, false, 3, 30000, "k;1%x", "2024;7"));
    ck_assert_str_eq(b.data, "chunk=3;rows=30000;key=k%3B1%25x;hwm=2024%3B7");
    ck_assert_int_eq(sq_bf_parse(b.data, &p), 0);
    ck_assert(!p.done && p.has_chunk);
    ck_assert_int_eq(p.chunks, 3);
    ck_assert_int_eq(p.rows, 30000);
    ck_assert_str_eq(p.key, "k;1%x");
    ck_assert_str_eq(p.hwm, "2024;7");
    ck_assert_int_eq(sq_bf_rank(&p), 30000);
    sq_bf_prog_free(&p);
    /* before the first key */
    ck_assert(sq_bf_encode(&b, false, 0, 0, NULL, "1000"));
    ck_assert_str_eq(b.data, "chunk=0;rows=0;hwm=1000");
    ck_assert_int_eq(sq_bf_parse(b.data, &p), 0);
    ck_assert_ptr_null(p.key);
    ck_assert_str_eq(p.hwm, "1000");
    sq_bf_prog_free(&p);
    /* done: the key is not kept; done ranks above everything */
    ck_assert(sq_bf_encode(&b, true, 9, 7, "k", "2024-01-02 03:04:05,17"));
    ck_assert_str_eq(b.data, "done;rows=7;hwm=2024-01-02 03:04:05,17");
    ck_assert_int_eq(sq_bf_parse(b.data, &p), 0);
    ck_assert(p.done);
    ck_assert_int_eq(p.rows, 7);
    ck_assert_ptr_null(p.key);
    ck_assert_str_eq(p.hwm, "2024-01-02 03:04:05,17");
    ck_assert_int_eq(sq_bf_rank(&p), LLONG_MAX);
    sq_bf_prog_free(&p);
    /* the forms written by the empty-table case and older agents */
    ck_assert_int_eq(sq_bf_parse("done;rows=0", &p), 0);
    ck_assert(p.done && p.rows == 0 && !p.hwm);
    sq_bf_prog_free(&p);
    ck_assert_int_eq(sq_bf_parse("done", &p), 0);
    ck_assert(p.done);
    sq_bf_prog_free(&p);
    /* unknown name=value fields are skipped; lower-case hex is accepted */
    ck_assert_int_eq(sq_bf_parse("chunk=1;rows=2;later=5;key=a%3b;hwm=9", &p), 0);
    ck_assert_str_eq(p.key, "a;");
    sq_bf_prog_free(&p);
    /* longer than currentIndex (VARCHAR(255)) holds: refused */
    char longkey[300];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    ck_assert(!sq_bf_encode(&b, false, 1, 1, longkey, "1000"));
    ck_assert(sq_bf_encode(&b, false, 999999999999999999LL, 999999999999999999LL, NULL, "1000"));

    /* malformed: not backfill progress (and *p left empty) */
    static const char *const bad[] = {
        "",
        "hello",
        "donex",
        "chunk=1",                         /* no hwm */
        "rows=5;hwm=1",                    /* no chunk */
        "chunk=x;hwm=1",                   /* not a count */
        "chunk=-1;hwm=1",                  /* signed */
        "chunk=;hwm=1",                    /* empty */
        "chunk=1234567890123456789;hwm=1", /* 19 digits */
        "chunk=1;rows=1x;hwm=1",
        "chunk=1;hwm=%4",  /* cut escape */
        "chunk=1;hwm=%zz", /* not hex */
        "chunk=1;hwm=%00", /* NUL */
        "chunk=1;key=a%;hwm=1",
        "42",
        "2024-01-01 00:00:00",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&p, 0x5a, sizeof(p));
        ck_assert_msg(sq_bf_parse(bad[i], &p) == SF_ERR_INVAL, "accepted \"%s\"", bad[i]);
        ck_assert(!p.done && !p.has_chunk && p.chunks == 0 && p.rows == 0);
        ck_assert_ptr_null(p.key);
        ck_assert_ptr_null(p.hwm);
    }
    sf_buf_free(&b);
}
END_TEST

SF_UNIT_SUITE(sql_source)
{
    Suite *s = suite_create("sql_source");
    TCase *tc = tcase_create("sql_source");
    tcase_add_test(tc, incrementing);
    tcase_add_test(tc, gap_ranges);
    tcase_add_test(tc, timestamp);
    tcase_add_test(tc, timestamp_incrementing);
    tcase_add_test(tc, bulk);
    tcase_add_test(tc, custom_query);
    tcase_add_test(tc, backfill_chunks);
    tcase_add_test(tc, progress_codec);
    suite_add_tcase(s, tc);
    return s;
}
