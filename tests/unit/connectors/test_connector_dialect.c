/*
 * Unit tests of the connectors' shared layer (connectors/shared_dialect.c) without a database:
 * the exact text of each dialect's quoting, placeholders, status table DDL and upsert and "now
 * minus" bound, through the real plugins; and sfc_primary_key / sfc_estimate_rows over a scripted
 * fake driver that records the SQL and parameters it is sent and answers with canned rows: the
 * "schema.table, then the whole name" order, how each dialect takes the table (schema and name,
 * or the quoted name), MySQL's case-insensitive matches, and the messages.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "sqlflume/connector.h"
#include "sqlflume/error.h"
#include "sqlflume/option.h"

#include "../../../connectors/mysql/mysql_sql.h"
#include "../../../connectors/postgresql/postgresql_sql.h"
#include "../../../connectors/shared_dialect.h"

/* ---- dialect text --------------------------------------------------------------------------- */

static const struct sf_connector_plugin *plugin(const char *scheme)
{
    const struct sf_connector_plugin *cx = sf_connector_find(scheme);
    ck_assert_ptr_nonnull(cx);
    return cx;
}

START_TEST(dialect_text_mysql)
{
    const struct sf_connector_plugin *cx = plugin("mysql");
    struct sf_buf b = SF_BUF_INIT;
    ck_assert_int_eq(cx->quote_ident("a`b", &b), SF_OK);
    cx->placeholder(1, &b);
    cx->placeholder(12, &b);
    ck_assert_str_eq(b.data, "`a``b`??");
    sf_buf_reset(&b);
    cx->status_table_ddl("`m`", &b);
    ck_assert_str_eq(b.data, "CREATE TABLE IF NOT EXISTS `m` (source_tab VARCHAR(255) NOT NULL "
                             "PRIMARY KEY, currentIndex VARCHAR(255) NOT NULL) ENGINE=InnoDB "
                             "DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
    sf_buf_reset(&b);
    cx->status_upsert_sql("`m`", &b);
    ck_assert_str_eq(b.data, "INSERT INTO `m` (source_tab, currentIndex) VALUES (?, ?) ON "
                             "DUPLICATE KEY UPDATE currentIndex = VALUES(currentIndex)");
    sf_buf_reset(&b);
    cx->now_minus_ms(1500, &b);
    ck_assert_str_eq(b.data, "(NOW(6) - INTERVAL 1500000 MICROSECOND)");
    sf_buf_free(&b);
}
END_TEST

START_TEST(dialect_text_postgresql)
{
    const struct sf_connector_plugin *cx = plugin("postgresql");
    struct sf_buf b = SF_BUF_INIT;
    ck_assert_int_eq(cx->quote_ident("a\"b", &b), SF_OK);
    cx->placeholder(1, &b);
    cx->placeholder(12, &b);
    ck_assert_str_eq(b.data, "\"a\"\"b\"$1$12");
    sf_buf_reset(&b);
    cx->status_table_ddl("\"m\"", &b);
    ck_assert_str_eq(b.data, "CREATE TABLE IF NOT EXISTS \"m\" (source_tab VARCHAR(255) NOT NULL "
                             "PRIMARY KEY, currentIndex VARCHAR(255) NOT NULL)");
    sf_buf_reset(&b);
    cx->status_upsert_sql("\"m\"", &b);
    ck_assert_str_eq(b.data, "INSERT INTO \"m\" (source_tab, currentIndex) VALUES ($1, $2) ON "
                             "CONFLICT (source_tab) DO UPDATE SET currentIndex = "
                             "EXCLUDED.currentIndex");
    sf_buf_reset(&b);
    cx->now_minus_ms(1500, &b);
    ck_assert_str_eq(b.data, "(clock_timestamp() - interval '1500 milliseconds')");
    sf_buf_free(&b);
}
END_TEST

/* ---- a scripted fake driver --------------------------------------------------------------- */

#define FAKE_MAX 8

/* One canned answer: the rows of one query, two columns each (NULL = SQL NULL). */
struct fake_answer {
    int nrows;
    const char *v[4][2];
};

struct sf_conn {
    struct sfc_conn base;
    int nq;                           /* queries run so far */
    char sent[FAKE_MAX][512];         /* "SQL|param|param" of each query ("~" = NULL) */
    struct fake_answer ans[FAKE_MAX]; /* the answer to query k */
    int row;                          /* next row of the current answer */
    const char *vals[2];
    size_t lens[2];
};

static int fake_query(struct sf_conn *c,
                      const char *text,
                      const struct sf_param *p,
                      size_t np,
                      const struct sf_column **rcols,
                      size_t *rn,
                      char *err,
                      size_t errsz)
{
    (void)err;
    (void)errsz;
    ck_assert_int_lt(c->nq, FAKE_MAX);
    char *s = c->sent[c->nq];
    snprintf(s, sizeof(c->sent[0]), "%s", text == c->base.dialect->primary_key_sql ? "PK" : "EST");
    for (size_t i = 0; i < np; i++) {
        size_t len = strlen(s);
        snprintf(s + len, sizeof(c->sent[0]) - len, "|%s", p[i].val ? p[i].val : "~");
    }
    c->nq++;
    c->row = 0;
    *rcols = NULL;
    *rn = 2;
    return SF_OK;
}

static int fake_fetch(struct sf_conn *c, struct sf_row *row, char *errstr, size_t errstr_size)
{
    (void)errstr;
    (void)errstr_size;
    const struct fake_answer *a = &c->ans[c->nq - 1];
    if (c->row >= a->nrows) {
        return 0;
    }
    for (int i = 0; i < 2; i++) {
        c->vals[i] = a->v[c->row][i];
        c->lens[i] = c->vals[i] ? strlen(c->vals[i]) : 0;
    }
    c->row++;
    row->ncols = 2;
    row->vals = c->vals;
    row->lens = c->lens;
    return 1;
}

static void fake_query_end(struct sf_conn *c)
{
    (void)c;
}

static const struct sf_connector_plugin fake_plugin = {
    .name = "fake",
    .query = fake_query,
    .fetch = fake_fetch,
    .query_end = fake_query_end,
};

static struct sf_conn *fake_conn(const struct sfc_dialect *d)
{
    struct sf_conn *c = calloc(1, sizeof(*c));
    ck_assert_ptr_nonnull(c);
    c->base.cx = &fake_plugin;
    c->base.dialect = d;
    snprintf(c->base.where, sizeof(c->base.where), "db:1");
    return c;
}

/* ---- primary key and estimate over the fake driver ------------------------------------------ */

START_TEST(pk_mysql_schema_then_whole_name)
{
    struct sf_conn *c = fake_conn(&sfc_dialect_mysql);
    /* no table s.t: the whole name "s.t" in the current database, which has one */
    c->ans[1] = (struct fake_answer){ 2, { { "s.t", "a" }, { "s.t", "b" } } };
    char **cols = NULL;
    size_t n = 99;
    char err[256] = "";
    ck_assert_int_eq(sfc_primary_key(c, "s.t", &cols, &n, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(c->nq, 2);
    ck_assert_str_eq(c->sent[0], "PK|s|t");
    ck_assert_str_eq(c->sent[1], "PK|~|s.t");
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(cols[0], "a");
    ck_assert_str_eq(cols[1], "b");
    sf_names_free(cols, n);
    free(c);
}
END_TEST

START_TEST(pk_mysql_exact_before_case_insensitive)
{
    struct sf_conn *c = fake_conn(&sfc_dialect_mysql);
    c->ans[0] =
        (struct fake_answer){ 4, { { "T", "x" }, { "t", "id" }, { "T", "y" }, { "t2", "z" } } };
    char **cols = NULL;
    size_t n = 0;
    char err[256] = "";
    ck_assert_int_eq(sfc_primary_key(c, "t", &cols, &n, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(c->nq, 1);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(cols[0], "id");
    sf_names_free(cols, n);

    /* no exact name: the first table that matched case-insensitively, no key column (NULL) */
    c->nq = 0;
    c->ans[0] = (struct fake_answer){ 2, { { "T", NULL }, { "t_", "q" } } };
    cols = NULL;
    n = 7;
    ck_assert_int_eq(sfc_primary_key(c, "t", &cols, &n, err, sizeof(err)), SF_OK);
    ck_assert_uint_eq(n, 0);
    sf_names_free(cols, n);
    free(c);
}
END_TEST

START_TEST(pk_not_found_and_empty)
{
    struct sf_conn *c = fake_conn(&sfc_dialect_mysql);
    char **cols = NULL;
    size_t n = 0;
    char err[256] = "";
    ck_assert_int_eq(sfc_primary_key(c, "t", &cols, &n, err, sizeof(err)), SF_ERR_NOTFOUND);
    ck_assert_str_eq(err, "table \"t\" does not exist on mysql at db:1");
    ck_assert_ptr_null(cols);
    ck_assert_int_eq(sfc_primary_key(c, "", &cols, &n, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_str_eq(err, "empty table name");
    ck_assert_int_eq(c->nq, 1);
    free(c);

    c = fake_conn(&sfc_dialect_postgresql);
    c->ans[0] = (struct fake_answer){ 1, { { "f", NULL } } };
    c->ans[1] = (struct fake_answer){ 1, { { "f", NULL } } };
    ck_assert_int_eq(sfc_primary_key(c, "s.t", &cols, &n, err, sizeof(err)), SF_ERR_NOTFOUND);
    ck_assert_str_eq(err, "table \"s.t\" does not exist on postgresql at db:1");
    ck_assert_str_eq(c->sent[0], "PK|\"s\".\"t\"");
    ck_assert_str_eq(c->sent[1], "PK|\"s.t\"");
    ck_assert_ptr_null(cols);
    ck_assert_uint_eq(n, 0);
    free(c);
}
END_TEST

START_TEST(pk_postgresql_quoted_name)
{
    struct sf_conn *c = fake_conn(&sfc_dialect_postgresql);
    c->ans[0] = (struct fake_answer){ 2, { { "t", "k1" }, { "t", "k2" } } };
    char **cols = NULL;
    size_t n = 0;
    char err[256] = "";
    ck_assert_int_eq(sfc_primary_key(c, "s.t\"x", &cols, &n, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(c->nq, 1);
    ck_assert_str_eq(c->sent[0], "PK|\"s\".\"t\"\"x\"");
    ck_assert_uint_eq(n, 2);
    ck_assert_str_eq(cols[1], "k2");
    sf_names_free(cols, n);

    /* a table without a key: found, no names, no second lookup */
    c->nq = 0;
    c->ans[0] = (struct fake_answer){ 1, { { "t", NULL } } };
    cols = NULL;
    ck_assert_int_eq(sfc_primary_key(c, "s.t", &cols, &n, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(c->nq, 1);
    ck_assert_uint_eq(n, 0);
    free(cols);
    free(c);
}
END_TEST

START_TEST(estimate_fallback)
{
    struct sf_conn *c = fake_conn(&sfc_dialect_mysql);
    long long rows = 0;
    char err[256] = "";
    /* s.t is a view (NULL count): the whole name is asked too, and has none either */
    c->ans[0] = (struct fake_answer){ 1, { { NULL, NULL } } };
    ck_assert_int_eq(sfc_estimate_rows(c, "s.t", &rows, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(rows, -1);
    ck_assert_int_eq(c->nq, 2);
    ck_assert_str_eq(c->sent[0], "EST|s|t");
    ck_assert_str_eq(c->sent[1], "EST|~|s.t");
    /* the first count wins */
    c->nq = 0;
    c->ans[0] = (struct fake_answer){ 2, { { "42", NULL }, { "7", NULL } } };
    ck_assert_int_eq(sfc_estimate_rows(c, "s.t", &rows, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(rows, 42);
    ck_assert_int_eq(c->nq, 1);
    ck_assert_int_eq(sfc_estimate_rows(c, NULL, &rows, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_int_eq(rows, -1);
    free(c);

    /* PostgreSQL: never analysed (-1) is a count: no second lookup */
    c = fake_conn(&sfc_dialect_postgresql);
    c->ans[0] = (struct fake_answer){ 1, { { "-1", NULL } } };
    ck_assert_int_eq(sfc_estimate_rows(c, "s.t", &rows, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(rows, -1);
    ck_assert_int_eq(c->nq, 1);
    ck_assert_str_eq(c->sent[0], "EST|\"s\".\"t\"");
    c->nq = 0;
    c->ans[0] = (struct fake_answer){ 0, { { NULL, NULL } } }; /* no such relation */
    c->ans[1] = (struct fake_answer){ 1, { { "10", NULL } } };
    ck_assert_int_eq(sfc_estimate_rows(c, "s.t", &rows, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(rows, 10);
    ck_assert_str_eq(c->sent[1], "EST|\"s.t\"");
    free(c);
}
END_TEST

static Suite *dialect_suite(void)
{
    Suite *s = suite_create("connector_dialect");
    TCase *tc = tcase_create("text");
    tcase_add_test(tc, dialect_text_mysql);
    tcase_add_test(tc, dialect_text_postgresql);
    suite_add_tcase(s, tc);
    tc = tcase_create("catalogue");
    tcase_add_test(tc, pk_mysql_schema_then_whole_name);
    tcase_add_test(tc, pk_mysql_exact_before_case_insensitive);
    tcase_add_test(tc, pk_not_found_and_empty);
    tcase_add_test(tc, pk_postgresql_quoted_name);
    tcase_add_test(tc, estimate_fallback);
    suite_add_tcase(s, tc);
    return s;
}

SF_UNIT_SUITE(connector_dialect)
{
    return dialect_suite();
}
