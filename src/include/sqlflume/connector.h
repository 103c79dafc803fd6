/*
 * SQL connectors: one interface over MySQL/MariaDB (libmysqlclient API) and PostgreSQL (libpq),
 * chosen by the URL scheme. A connector runs streaming queries with bound parameters and hands
 * rows back one at a time in text form, typed by sf_coltype, so memory does not grow with the
 * result size (mysql_use_result / unbuffered prepared statements; PostgreSQL server-side cursors
 * read in FETCH batches).
 * Sessions run in UTC. All query text of a connector lives in its own *_sql.h header.
 * Each connector is a driver (connect, query, fetch, query_end, exec, close) plus a dialect that
 * is data; its primary_key, estimate_rows, quoting, placeholders, status-table SQL and now_minus_ms
 * come from the shared layer driven by that dialect (connectors/shared_dialect.h).
 */
#ifndef SQLFLUME_CONNECTOR_H
#define SQLFLUME_CONNECTOR_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/buf.h"
#include "sqlflume/format.h"

/** A parsed database URL. Every string is owned (free with sf_db_url_free). */
struct sf_db_url {
    char *scheme;   /* normalised: "mysql" (also mariadb, jdbc:mysql, jdbc:mariadb) or "postgresql" */
    char *user;     /* NULL when absent */
    char *password; /* NULL when absent */
    char *host;     /* NULL = default (local socket) */
    int port;       /* 0 = default */
    char *database; /* NULL when absent */
    char *query;    /* raw query string after '?', NULL when none (libpq params pass through) */
    char *socket;   /* mysql: ?socket=/path or unix_socket=; NULL otherwise */
};

/**
 * Parse jdbc:mysql://host:port/db, mysql://user:pass@host:port/db, mariadb://...,
 * jdbc:postgresql://host:port/db, postgresql://..., postgres://... (percent-decoding user,
 * password and database; IPv6 hosts in brackets).
 * @return SF_OK or SF_ERR_INVAL with errstr filled (the message never contains the password).
 */
int sf_db_url_parse(const char *url, struct sf_db_url *out, char *errstr, size_t errstr_size);
void sf_db_url_free(struct sf_db_url *u);
/** The URL with any password replaced by "***"; malloc'd, caller frees. */
char *sf_db_url_redact(const char *url);

/** A bound parameter: text plus the class of the column it is compared with. */
struct sf_param {
    const char *val; /* NUL-terminated text form; NULL = SQL NULL */
    enum sf_coltype type;
};

struct sf_conn; /* connector-private */

struct sf_connector_plugin {
    const char *name;            /* "mysql", "postgresql" */
    const char *const *schemes;  /* normalised schemes served, NULL-terminated */
    /**
     * Connect with url (user/password already merged in). Sets the session time zone to UTC.
     * @return SF_OK, SF_ERR_AUTH (wrong password: one clear message), SF_ERR_CONN (retriable),
     * SF_ERR_INVAL; errstr filled and free of passwords. *out owned by the caller (close()).
     */
    int (*connect)(const struct sf_db_url *url, struct sf_conn **out, char *errstr,
                   size_t errstr_size);
    /** Close and free; NULL is a no-op. */
    void (*close)(struct sf_conn *c);
    /** Append name quoted as an identifier (`a``b` / "a""b"). A dotted name "s.t" is NOT split:
     *  callers split schema-qualified names themselves. @return SF_OK or SF_ERR_INVAL (NUL or
     *  empty name). */
    int (*quote_ident)(const char *name, struct sf_buf *out);
    /** Append the placeholder for parameter index (1-based): "?" or "$1". */
    void (*placeholder)(int index, struct sf_buf *out);
    /**
     * Primary key columns of table (may be "schema.table"), in key order.
     * @return SF_OK with *n >= 0 (0 = no primary key), SF_ERR_NOTFOUND (no such table), or a
     * connection error. *cols is a malloc'd array of malloc'd names; the caller frees both.
     */
    int (*primary_key)(struct sf_conn *c, const char *table, char ***cols, size_t *n,
                       char *errstr, size_t errstr_size);
    /**
     * Start a streaming query with bound parameters (never spliced).
     * On SF_OK, *cols / *ncols describe the result columns (borrowed until query_end).
     * @return SF_OK, SF_ERR_CONN (retriable), SF_ERR_RETRY (deadlock, lock wait), SF_ERR_SQL.
     */
    int (*query)(struct sf_conn *c, const char *sql, const struct sf_param *params,
                 size_t nparams, const struct sf_column **cols, size_t *ncols, char *errstr,
                 size_t errstr_size);
    /**
     * Next row of the running query; row values are borrowed until the next fetch/query_end.
     * @return 1 (row filled), 0 (end of result), or a negative sf_err with errstr filled.
     */
    int (*fetch)(struct sf_conn *c, struct sf_row *row, char *errstr, size_t errstr_size);
    /** End the running query, discarding unread rows. Safe to call when none runs. */
    void (*query_end)(struct sf_conn *c);
    /**
     * Run a statement that returns no rows (DDL, INSERT, UPDATE), with bound parameters.
     * @return SF_OK or an error as for query().
     */
    int (*exec)(struct sf_conn *c, const char *sql, const struct sf_param *params, size_t nparams,
                char *errstr, size_t errstr_size);
    /** SQL text to create the status table if missing, for the given quoted table name
     *  (sql/flume_meta.*.sql shape). Appended to out. */
    void (*status_table_ddl)(const char *quoted_table, struct sf_buf *out);
    /** SQL text of the offset upsert with parameters 1 = source_tab, 2 = currentIndex. */
    void (*status_upsert_sql)(const char *quoted_table, struct sf_buf *out);
    /** Append an expression for the database's current time minus ms milliseconds (ms >= 0),
     *  comparable with the table's timestamp columns in the UTC session. */
    void (*now_minus_ms)(long long ms, struct sf_buf *out);
    /**
     * Optional (NULL: not available). The server's cheap estimate of the number of rows of table
     * (may be "schema.table"), read from its statistics without scanning the table: MySQL
     * information_schema.TABLES.TABLE_ROWS, PostgreSQL pg_class.reltuples scaled to the current
     * size. For progress reports only.
     * @param rows  set to the estimate, or to -1 when the statistics have none (never analysed,
     *              no such table)
     * @return SF_OK or an error as for query().
     */
    int (*estimate_rows)(struct sf_conn *c, const char *table, long long *rows, char *errstr,
                         size_t errstr_size);
    /**
     * Optional (NULL: not available). SQL without parameters returning one row with one text
     * column: the server's identifiers of the transactions of other sessions that have written
     * and are still open, comma-separated ("" for none). A backfill takes it right after its
     * high-water mark and waits for them, since they may hold rows below the mark that a chunk
     * would otherwise pass before they commit. May fail for lack of a privilege (SF_ERR_SQL).
     */
    const char *open_txns_sql;
    /** SQL with parameter 1 = such a list (text), returning one row with one integer column: how
     *  many of those transactions are still open. Set when open_txns_sql is. */
    const char *open_txns_count_sql;
    /**
     * Optional (NULL: nothing to check offline). Check url's connection parameters the way the
     * client library will read them, without any network I/O (PostgreSQL: libpq's own checks of
     * sslmode, target_session_attrs, unknown keywords...). connect() runs it first, so a bad
     * parameter is SF_ERR_INVAL there too, never a retried connection error.
     * @return SF_OK, or SF_ERR_INVAL with errstr holding the library's message (no password).
     */
    int (*validate_url)(const struct sf_db_url *url, char *errstr, size_t errstr_size);
    /* SQL of `sqlflume check --connect` (src/check_connect.c); each returns one row. */
    /** Parameters 1 = schema (NULL: the session's current one), 2 = table name: five booleans
     *  (1/0 or t/f): the table exists, and the session's user may SELECT, INSERT and UPDATE it
     *  (for a missing table: would be allowed to once it has created it), and may CREATE tables
     *  in the schema. */
    const char *privileges_sql;
    /** Parameter 1 = a status key's lock id as signed 64-bit decimal text (sf_status_lock_id:
     *  one running agent per status key): try to take the lock without waiting; one boolean,
     *  true when taken. */
    const char *lock_try_sql;
    /** Parameter 1 = the lock id: release a lock taken with lock_try_sql. */
    const char *lock_release_sql;
    /** Parameter 1 = the lock id: one text naming the session that holds it (no row, or NULL:
     *  nobody). */
    const char *lock_holder_sql;
};

/** The connector serving url->scheme, or NULL. */
const struct sf_connector_plugin *sf_connector_find(const char *scheme);

/**
 * Append name quoted as an SQL identifier to out: quote, name with every quote character
 * doubled, quote (quote '`': `a``b` for MySQL; '"': "a""b" for PostgreSQL). The shared body of
 * the connectors' quote_ident; a dotted name is not split, as there.
 * @param name  NUL-terminated; borrowed
 * @param quote  the identifier quote character, not '\0'
 * @param out  appended to (not reset first); aborts on out of memory like every sf_buf
 * @return SF_OK, or SF_ERR_INVAL when name is NULL or empty (out is then unchanged).
 */
int sf_quote_ident(const char *name, char quote, struct sf_buf *out);

/**
 * Append a possibly schema-qualified table name quoted for cx: "s.t" as two identifiers split at
 * the first dot (quoted schema, '.', quoted rest), a name without a dot as one, the way the SQL
 * source names its tables in queries.
 * @return SF_OK, or SF_ERR_INVAL for an empty part (out may then hold part of the name).
 */
int sf_quote_qualified(const struct sf_connector_plugin *cx, const char *name, struct sf_buf *out);

#endif
