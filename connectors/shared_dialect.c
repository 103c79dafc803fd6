/* The connectors' shared layer, driven by each database's dialect: see shared_dialect.h. */
#include "shared_dialect.h"
#include "common.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sqlflume/error.h"
#include "sqlflume/option.h"

/* ---- dialect text ------------------------------------------------------------------------- */

int sfc_dialect_quote_ident(const struct sfc_dialect *d, const char *name, struct sf_buf *out)
{
    return sf_quote_ident(name, d->ident_quote, out);
}

void sfc_dialect_placeholder(const struct sfc_dialect *d, int index, struct sf_buf *out)
{
    if (d->placeholders == SFC_PH_DOLLAR) {
        sf_buf_printf(out, "$%d", index);
    } else {
        sf_buf_putc(out, '?');
    }
}

/* The formats below are the dialects' string literals (*_sql.h), each with the one conversion
 * struct sfc_dialect names (%s: the quoted table; %lld: the duration); through the struct the
 * compiler cannot check them (tests/unit/test_connector_dialect.c checks the text they give). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"

void sfc_dialect_status_ddl(const struct sfc_dialect *d,
                            const char *quoted_table,
                            struct sf_buf *out)
{
    sf_buf_printf(out, d->status_ddl_fmt, quoted_table);
}

void sfc_dialect_status_upsert(const struct sfc_dialect *d,
                               const char *quoted_table,
                               struct sf_buf *out)
{
    sf_buf_printf(out, d->status_upsert_fmt, quoted_table);
}

void sfc_dialect_now_minus_ms(const struct sfc_dialect *d, long long ms, struct sf_buf *out)
{
    sf_buf_printf(out, d->now_minus_fmt, ms * d->now_minus_per_ms);
}

#pragma GCC diagnostic pop

/* ---- catalogue lookups ---------------------------------------------------------------------- */

/* The base of a connection: every connector's struct sf_conn starts with it. */
static const struct sfc_conn *base_of(const struct sf_conn *c)
{
    return (const struct sfc_conn *)(const void *)c;
}

/* Start the catalogue query sql of the connection's dialect about schema.name (schema NULL: the
 * whole name, in the current schema), with the table given as the dialect takes it (see enum
 * sfc_table_arg). @return what the driver's query() returns. */
static int table_query(struct sf_conn *c,
                       const char *sql,
                       const char *schema,
                       const char *name,
                       char *errstr,
                       size_t errstr_size)
{
    const struct sfc_conn *b = base_of(c);
    const struct sfc_dialect *d = b->dialect;
    struct sf_param params[2] = { { schema, SF_COL_TEXT }, { name, SF_COL_TEXT } };
    size_t np = 2;
    struct sf_buf q = SF_BUF_INIT;
    if (d->table_arg == SFC_TABLE_QUOTED) {
        /* both parts are non-empty (sfc_split_schema, the callers' checks): quoting cannot fail */
        if (schema) {
            (void)sfc_dialect_quote_ident(d, schema, &q);
            sf_buf_putc(&q, '.');
        }
        (void)sfc_dialect_quote_ident(d, name, &q);
        params[0] = (struct sf_param){ q.data, SF_COL_TEXT };
        np = 1;
    }
    const struct sf_column *rcols;
    size_t rn;
    int rc = b->cx->query(c, sql, params, np, &rcols, &rn, errstr, errstr_size);
    sf_buf_free(&q);
    return rc;
}

/* Key column names gathered for one table. */
struct pk_names {
    char **names;
    size_t n;
    bool found; /* the table exists (it may have no key: n == 0) */
};

static void pk_add(struct pk_names *p, char *col)
{
    if (col) {
        p->names = sf_xrealloc(p->names, (p->n + 1) * sizeof(*p->names));
        p->names[p->n++] = col;
    }
}

/*
 * Look up the key of schema.table (schema NULL = the whole name in the current schema). *found
 * tells whether the table exists; names are returned in key order, *cols and *n set only when
 * found.
 */
static int pk_lookup(struct sf_conn *c,
                     const char *schema,
                     const char *table,
                     bool *found,
                     char ***cols,
                     size_t *n,
                     char *errstr,
                     size_t errstr_size)
{
    const struct sfc_conn *b = base_of(c);
    struct pk_names exact = { NULL, 0, false }, other = { NULL, 0, false };
    char *other_table = NULL;
    *found = false;
    int rc = table_query(c, b->dialect->primary_key_sql, schema, table, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    struct sf_row row = { 0, NULL, NULL };
    while ((rc = b->cx->fetch(c, &row, errstr, errstr_size)) == 1) {
        if (row.ncols < 2 || !row.vals[0]) {
            continue;
        }
        char *col = row.vals[1] ? strndup(row.vals[1], row.lens[1]) : NULL;
        if (row.vals[1] && !col) {
            abort(); /* out of memory */
        }
        if (b->dialect->pk_rows == SFC_PK_ROWS_EXISTS) {
            if (row.vals[0][0] == 't') {
                exact.found = true;
            }
            pk_add(&exact, col);
            continue;
        }
        char *tname = strndup(row.vals[0], row.lens[0]);
        if (!tname) {
            abort(); /* out of memory */
        }
        if (strcmp(tname, table) == 0) {
            exact.found = true;
            pk_add(&exact, col);
            col = NULL;
        } else if (!other_table || strcmp(other_table, tname) == 0) {
            /* case-insensitive match (lower_case_table_names servers): first such table */
            other.found = true;
            if (!other_table) {
                other_table = sf_xstrdup(tname);
            }
            pk_add(&other, col);
            col = NULL;
        }
        free(col);
        free(tname);
    }
    free(other_table);
    struct pk_names *take = exact.found ? &exact : other.found ? &other : NULL;
    if (rc >= 0 && take) {
        *found = true;
        *cols = take->names;
        *n = take->n;
        take->names = NULL;
        take->n = 0;
    }
    sf_names_free(exact.names, exact.n);
    sf_names_free(other.names, other.n);
    return rc < 0 ? rc : SF_OK;
}

int sfc_primary_key(struct sf_conn *c,
                    const char *table,
                    char ***cols,
                    size_t *n,
                    char *errstr,
                    size_t errstr_size)
{
    const struct sfc_conn *b = base_of(c);
    *cols = NULL;
    *n = 0;
    if (!table || !*table) {
        sf_set_errstr(errstr, errstr_size, "empty table name");
        return SF_ERR_INVAL;
    }
    /* a running query: the driver's query() fails with SF_ERR_STATE, before anything is sent */
    bool found = false;
    char *schema;
    const char *rest = sfc_split_schema(table, &schema);
    if (rest) {
        int rc = pk_lookup(c, schema, rest, &found, cols, n, errstr, errstr_size);
        free(schema);
        if (rc != SF_OK || found) {
            return rc;
        }
    }
    /* no dot, or no such schema.table: the whole name as a table of the current schema */
    int rc = pk_lookup(c, NULL, table, &found, cols, n, errstr, errstr_size);
    if (rc == SF_OK && !found) {
        sf_set_errstr(errstr, errstr_size, "table \"%s\" does not exist on %s at %s", table,
                    b->dialect->db, b->where);
        rc = SF_ERR_NOTFOUND;
    }
    return rc;
}

/* One estimate lookup of schema.name (schema NULL: the whole name); *counted tells whether a row
 * gave a count (into *rows: the first such row's). */
static int estimate_lookup(struct sf_conn *c,
                           const char *schema,
                           const char *name,
                           bool *counted,
                           long long *rows,
                           char *errstr,
                           size_t errstr_size)
{
    const struct sfc_conn *b = base_of(c);
    int rc = table_query(c, b->dialect->estimate_rows_sql, schema, name, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    struct sf_row row = { 0, NULL, NULL };
    while ((rc = b->cx->fetch(c, &row, errstr, errstr_size)) == 1) {
        if (!*counted) {
            *counted = sfc_row_count(&row, rows);
        }
    }
    b->cx->query_end(c);
    return rc < 0 ? rc : SF_OK;
}

int sfc_estimate_rows(struct sf_conn *c,
                      const char *table,
                      long long *rows,
                      char *errstr,
                      size_t errstr_size)
{
    *rows = -1;
    if (!table || !*table) {
        sf_set_errstr(errstr, errstr_size, "empty table name");
        return SF_ERR_INVAL;
    }
    /* as sfc_primary_key: "schema.table" first, then the whole name in the current schema */
    bool counted = false;
    char *schema;
    const char *rest = sfc_split_schema(table, &schema);
    if (rest) {
        int rc = estimate_lookup(c, schema, rest, &counted, rows, errstr, errstr_size);
        free(schema);
        if (rc != SF_OK || counted) {
            return rc;
        }
    }
    return estimate_lookup(c, NULL, table, &counted, rows, errstr, errstr_size);
}
