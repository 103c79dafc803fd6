/*
 * The connectors' shared layer (connectors/shared_dialect.c): what a connector does the same way
 * on every database, written once and driven by the database's dialect, a table of data (its
 * quoting, placeholders and SQL text). A connector is then a driver (connect, query, fetch,
 * query_end, exec, close: the client library's code) plus one struct sfc_dialect row; its
 * primary_key and estimate_rows are sfc_primary_key / sfc_estimate_rows themselves, and its
 * quote_ident, placeholder, status_table_ddl, status_upsert_sql and now_minus_ms one-line calls
 * of the sfc_dialect_* functions with its row.
 * Internal to connectors/, not part of the connector interface (sqlflume/connector.h). Included
 * by relative name ("../shared_dialect.h").
 */
#ifndef SQLFLUME_CONNECTORS_SHARED_DIALECT_H
#define SQLFLUME_CONNECTORS_SHARED_DIALECT_H

#include <stddef.h>

#include "sqlflume/buf.h"
#include "sqlflume/connector.h"

/* How parameters are written in SQL text. */
enum sfc_placeholders {
    SFC_PH_QUESTION, /* "?" whatever the index (MySQL) */
    SFC_PH_DOLLAR,   /* "$1", "$2", ... (PostgreSQL) */
};

/* How the catalogue queries (primary_key_sql, estimate_rows_sql) take the table they ask about. */
enum sfc_table_arg {
    /* parameters 1 = schema (NULL: the session's current one), 2 = table name, both text */
    SFC_TABLE_SCHEMA_NAME,
    /* parameter 1 = the name quoted with the dialect's quoting, "schema"."table" or "table"
     * (PostgreSQL's to_regclass syntax: a bare name is looked up on the search path) */
    SFC_TABLE_QUOTED,
};

/* What the first column of primary_key_sql's rows says (the second is always a key column's name,
 * NULL for a table without a primary key; rows come in key order). */
enum sfc_pk_rows {
    /* the table's name as the catalogue spells it; no row: no such table. Rows of a name that is
     * not exactly the one asked for come from a case-insensitive match (MySQL's
     * lower_case_table_names): the first such table is taken when there is no exact one */
    SFC_PK_ROWS_TABLE_NAME,
    /* a boolean (text starting with 't' = true): the table exists */
    SFC_PK_ROWS_EXISTS,
};

/* A database's dialect: data only, no code. Every string is static. */
struct sfc_dialect {
    const char *db;                     /* "mysql": names the database in messages */
    char ident_quote;                   /* '`' or '"' (sf_quote_ident) */
    enum sfc_placeholders placeholders; /* how placeholder() writes parameter n */
    enum sfc_table_arg table_arg;       /* how the two catalogue queries take the table */
    /* primary key columns of a table (see enum sfc_pk_rows for its rows) */
    const char *primary_key_sql;
    enum sfc_pk_rows pk_rows;
    /* the server's estimate of a table's rows from its statistics: one row with one integer
     * column (NULL or -1: no statistics), or no row when there is no such table */
    const char *estimate_rows_sql;
    /* printf formats taking the quoted status table name (%s): CREATE TABLE IF NOT EXISTS in the
     * shape of sql/flume_meta.*.sql, and the offset upsert (parameters 1 = source_tab,
     * 2 = currentIndex) */
    const char *status_ddl_fmt;
    const char *status_upsert_fmt;
    /* printf format of "the current time minus a duration" taking a long long (%lld): the
     * duration in milliseconds times now_minus_per_ms (1000 when the format takes microseconds) */
    const char *now_minus_fmt;
    long long now_minus_per_ms;
};

/*
 * The first member of every connector's struct sf_conn, so that the shared layer, given a
 * struct sf_conn, reaches the connector's driver and dialect (C allows converting a pointer to a
 * structure into a pointer to its first member). The driver sets it at connect.
 */
struct sfc_conn {
    const struct sf_connector_plugin *cx; /* the driver: its query, fetch and query_end */
    const struct sfc_dialect *dialect;
    char where[320]; /* "host:port" or the socket path, for messages */
};

/* Append name quoted as an identifier of dialect d (sf_quote_ident with d->ident_quote): the
 * body of a connector's quote_ident. */
int sfc_dialect_quote_ident(const struct sfc_dialect *d, const char *name, struct sf_buf *out);

/* Append the placeholder of parameter index (1-based) in dialect d: "?" or "$<index>". */
void sfc_dialect_placeholder(const struct sfc_dialect *d, int index, struct sf_buf *out);

/* Append d's status table DDL / offset upsert for the quoted table name (see struct
 * sfc_dialect). */
void sfc_dialect_status_ddl(const struct sfc_dialect *d,
                            const char *quoted_table,
                            struct sf_buf *out);
void sfc_dialect_status_upsert(const struct sfc_dialect *d,
                               const char *quoted_table,
                               struct sf_buf *out);

/* Append d's expression for the current time minus ms milliseconds. */
void sfc_dialect_now_minus_ms(const struct sfc_dialect *d, long long ms, struct sf_buf *out);

/*
 * The connector interface's primary_key (see sqlflume/connector.h) for any connector whose
 * struct sf_conn starts with a struct sfc_conn: "schema.table" (split at the first dot) is looked
 * up first, then, when there is no such table, the whole name as one table of the current
 * schema. Runs the dialect's primary_key_sql through the driver's query and fetch.
 * @return SF_OK with *n >= 0, SF_ERR_INVAL ("empty table name"), SF_ERR_NOTFOUND ("table \"t\"
 * does not exist on <db> at <where>"), or what query/fetch return (SF_ERR_STATE while a query
 * runs). *cols is malloc'd, as are its names; the caller frees both.
 */
int sfc_primary_key(struct sf_conn *c,
                    const char *table,
                    char ***cols,
                    size_t *n,
                    char *errstr,
                    size_t errstr_size);

/*
 * The connector interface's estimate_rows for any connector whose struct sf_conn starts with a
 * struct sfc_conn: the dialect's estimate_rows_sql for "schema.table" first, then, when that gave
 * no count, for the whole name as one table of the current schema.
 * @return SF_OK with *rows >= 0 or -1 (no statistics, no such table), SF_ERR_INVAL ("empty table
 * name"), or what query/fetch return.
 */
int sfc_estimate_rows(struct sf_conn *c,
                      const char *table,
                      long long *rows,
                      char *errstr,
                      size_t errstr_size);

#endif
