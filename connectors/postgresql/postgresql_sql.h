/*
 * All SQL text the PostgreSQL connector sends, in one place so that a reviewer can read every
 * statement the agent runs against a PostgreSQL server without reading the C code. Parameters use
 * $n placeholders and are sent as text (the server infers their types); the two status-table
 * statements are printf formats taking the already quoted table name (%s).
 */
#ifndef SQLFLUME_POSTGRESQL_SQL_H
#define SQLFLUME_POSTGRESQL_SQL_H

#include "sqlflume/connector.h"

/** The plugin itself (defined in connector_postgresql.c, listed by the connector registry). */
extern const struct sf_connector_plugin sf_connector_postgresql;

/* Session settings, sent in the startup packet ("options" connection parameter) so that no extra
 * round trip is needed: UTC, ISO dates, hex bytea, and floats that read back exactly. */
#define PG_SESSION_OPTIONS                                                                         \
    "-c TimeZone=UTC -c DateStyle=ISO -c IntervalStyle=postgres -c bytea_output=hex "              \
    "-c extra_float_digits=3"

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

#endif
