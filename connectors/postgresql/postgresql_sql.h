/*
 * All SQL text the PostgreSQL connector sends, in one place so that a reviewer can read every
 * statement the agent runs against a PostgreSQL server without reading the C code. Parameters use
 * $n placeholders and are sent as text (the server infers their types); the two status-table
 * statements are printf formats taking the already quoted table name (%s), and the "now minus"
 * expression a printf format taking milliseconds (%lld).
 */
#ifndef SQLFLUME_POSTGRESQL_SQL_H
#define SQLFLUME_POSTGRESQL_SQL_H

#include <stdbool.h>

#include "sqlflume/connector.h"

#include "../shared_dialect.h"

/** The plugin itself (defined in connector_postgresql.c, listed by the connector registry). */
extern const struct sf_connector_plugin sf_connector_postgresql;

/** The dialect, data only (postgresql_dialect.c): what the shared layer runs with these
 *  statements. */
extern const struct sfc_dialect sfc_dialect_postgresql;

/* Whether sql can be a cursor's query (postgresql_sql.c): its first keyword, past blanks,
 * comments (nested, as in PostgreSQL) and opening parentheses, is SELECT, WITH, VALUES or
 * TABLE. */
bool pg_cursor_query(const char *sql);

/* Session settings, sent in the startup packet ("options" connection parameter) so that no extra
 * round trip is needed: UTC, ISO dates, hex bytea, and floats that read back exactly.
 * cursor_tuple_fraction=1: queries read through a cursor (below) are planned for the whole result,
 * as a plain query is, not for fast first rows (the default 0.1 can pick a nested loop or an index
 * scan where the plain query would hash or sort). */
#define PG_SESSION_OPTIONS                                                                         \
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c bytea_output=hex "              \
    "-c extra_float_digits=3 -c cursor_tuple_fraction=1"

/*
 * Queries returning rows are read in batches through a server-side cursor, inside a transaction
 * block (a cursor lives only inside one): BEGIN (only when the session is not already in a block),
 * then PG_SQL_DECLARE_PREFIX followed by the query text, sent with the query's parameters (the
 * extended protocol binds them to the cursor's query: never spliced), then PG_SQL_FETCH_FMT
 * (%d = a row count, a number we choose) until a FETCH returns fewer rows than asked for, then
 * COMMIT (our block: it also closes the cursor) or PG_SQL_CLOSE (the caller's block). ROLLBACK
 * ends a block of ours that an error aborted.
 */
#define PG_SQL_BEGIN          "BEGIN"
#define PG_SQL_DECLARE_PREFIX "DECLARE sf_cursor NO SCROLL CURSOR FOR "
#define PG_SQL_FETCH_FMT      "FETCH FORWARD %d FROM sf_cursor"
#define PG_SQL_CLOSE          "CLOSE sf_cursor"
#define PG_SQL_COMMIT         "COMMIT"
#define PG_SQL_ROLLBACK       "ROLLBACK"

/*
 * Primary key of a table: parameter 1 = the quoted (possibly schema-qualified) name. One row per
 * key column in key order: (table exists, column name). A table without a primary key gives one
 * row with a NULL name, a missing table one row with false.
 */
#define PG_SQL_PRIMARY_KEY                                                                         \
    "SELECT c.oid IS NOT NULL, a.attname"                                                          \
    " FROM (SELECT to_regclass($1::text) AS oid) c"                                                \
    " LEFT JOIN pg_catalog.pg_index i ON i.indrelid = c.oid AND i.indisprimary"                    \
    " LEFT JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON true"                \
    " LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum"           \
    " ORDER BY k.ord"

/*
 * Estimated rows of a relation from the statistics, without a scan: the planner's own method,
 * reltuples per page of the last VACUUM/ANALYZE times the pages the table has now; -1 when it was
 * never analysed (PostgreSQL 14+ keeps reltuples = -1 then). Parameter 1 = the quoted (possibly
 * schema-qualified) name; a missing relation gives no row.
 */
#define PG_SQL_ESTIMATE_ROWS                                                                       \
    "SELECT CASE WHEN c.reltuples < 0 THEN -1::bigint"                                             \
    " WHEN c.relkind = 'p' THEN c.reltuples::bigint"                                               \
    " WHEN c.relpages > 0 THEN (c.reltuples / c.relpages * (pg_catalog.pg_relation_size(c.oid)"    \
    "   / pg_catalog.current_setting('block_size')::int))::bigint"                                 \
    " WHEN pg_catalog.pg_relation_size(c.oid) = 0 THEN 0::bigint ELSE -1::bigint END"              \
    " FROM pg_catalog.pg_class c WHERE c.oid = pg_catalog.to_regclass($1::text)"

/*
 * Transactions of other sessions that have written and are still open (a backfill waits for
 * them): the xids in progress in the current snapshot, comma-separated, "" for none. A
 * transaction gets an xid at its first write, so read-only ones are not listed.
 */
#define PG_SQL_OPEN_TXNS                                                                           \
    "SELECT COALESCE(string_agg(x::text, ','), '')"                                                \
    " FROM pg_catalog.pg_snapshot_xip(pg_catalog.pg_current_snapshot()) AS x"

/* How many of the xids listed in parameter 1 (PG_SQL_OPEN_TXNS's form) are still in progress. */
#define PG_SQL_OPEN_TXNS_COUNT                                                                     \
    "SELECT count(*) FROM unnest(string_to_array($1::text, ',')::xid8[]) AS x"                     \
    " WHERE pg_catalog.pg_xact_status(x) = 'in progress'"

/* Status (offset) table, same shape as sql/flume_meta.postgresql.sql; %s = quoted table name.
 * currentIndex is unquoted on purpose: a table created by the seed agent has it lower-cased. */
#define PG_SQL_STATUS_DDL_FMT                                                                      \
    "CREATE TABLE IF NOT EXISTS %s ("                                                              \
    "source_tab VARCHAR(255) NOT NULL PRIMARY KEY, "                                               \
    "currentIndex VARCHAR(255) NOT NULL)"

/* Offset upsert: parameters $1 = source_tab, $2 = currentIndex; %s = quoted table name. */
#define PG_SQL_STATUS_UPSERT_FMT                                                                   \
    "INSERT INTO %s (source_tab, currentIndex) VALUES ($1, $2)"                                    \
    " ON CONFLICT (source_tab) DO UPDATE SET currentIndex = EXCLUDED.currentIndex"

/*
 * Expression for "now minus some time" (the upper bound of the timestamp modes), spliced into
 * queries: a printf format taking the time in milliseconds (long long, %lld). clock_timestamp(),
 * not now(): now() is the transaction's start, which may be far behind when a poll runs inside a
 * long transaction.
 */
#define PG_SQL_NOW_MINUS_MS_FMT "(clock_timestamp() - interval '%lld milliseconds')"

/*
 * check --connect: the table named by parameters 1 = schema (NULL: found on the search path,
 * created in current_schema()) and 2 = name exists, the user may SELECT/INSERT/UPDATE it (true
 * for a missing table: its creator owns it), and may CREATE in the schema.
 */
#define PG_SQL_PRIVILEGES                                                                          \
    "SELECT r.oid IS NOT NULL,"                                                                    \
    " COALESCE(pg_catalog.has_table_privilege(r.oid, 'SELECT'), r.oid IS NULL),"                   \
    " COALESCE(pg_catalog.has_table_privilege(r.oid, 'INSERT'), r.oid IS NULL),"                   \
    " COALESCE(pg_catalog.has_table_privilege(r.oid, 'UPDATE'), r.oid IS NULL),"                   \
    " COALESCE(pg_catalog.has_schema_privilege(COALESCE($1::text, pg_catalog.current_schema()),"   \
    "   'CREATE'), false)"                                                                         \
    " FROM (SELECT pg_catalog.to_regclass(CASE WHEN $1::text IS NULL"                              \
    "   THEN pg_catalog.quote_ident($2::text) ELSE pg_catalog.quote_ident($1::text) || '.' ||"     \
    "   pg_catalog.quote_ident($2::text) END) AS oid) r"

/* The status-key lock (parameter 1 = the signed 64-bit lock id): try, release, and who holds it
 * (an advisory bigint lock shows its high 32 bits as classid, the low ones as objid). */
#define PG_SQL_LOCK_TRY     "SELECT pg_catalog.pg_try_advisory_lock($1::bigint)"
#define PG_SQL_LOCK_RELEASE "SELECT pg_catalog.pg_advisory_unlock($1::bigint)"
#define PG_SQL_LOCK_HOLDER                                                                         \
    "SELECT pg_catalog.format('pid %s from %s%s', a.pid,"                                          \
    "  COALESCE(pg_catalog.host(a.client_addr), 'the local socket'),"                              \
    "  CASE WHEN a.application_name <> ''"                                                         \
    "  THEN pg_catalog.format(' (application %s)', a.application_name) ELSE '' END)"               \
    " FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a USING (pid)"                   \
    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"                              \
    "  AND l.classid::bigint = ($1::bigint >> 32) & 4294967295"                                    \
    "  AND l.objid::bigint = $1::bigint & 4294967295"

#endif
