/*
 * All SQL text the MySQL/MariaDB connector sends, in one place so that a reviewer can read every
 * statement the agent runs against a MySQL server without reading the C code. Statements with
 * parameters use "?" placeholders and are always run as prepared statements; the two status-table
 * statements are printf formats taking the already quoted table name (%s), and the "now minus"
 * expression a printf format taking microseconds (%lld).
 */
#ifndef SQLFLUME_MYSQL_SQL_H
#define SQLFLUME_MYSQL_SQL_H

#include "sqlflume/connector.h"

#include "../shared_dialect.h"

/** The plugin itself (defined in connector_mysql.c, listed by the connector registry). */
extern const struct sf_connector_plugin sf_connector_mysql;

/** The dialect, data only (mysql_dialect.c): what the shared layer runs with these statements. */
extern const struct sfc_dialect sfc_dialect_mysql;

/* Session set-up, run once per connection right after the handshake (sessions run in UTC). */
#define MY_SQL_SESSION_INIT "SET time_zone = '+00:00'"

/*
 * Primary key of a table: parameters 1 = schema (NULL = the current database), 2 = table name.
 * One row per key column in key order; a table without a primary key gives one row with a NULL
 * column name, a missing table gives no row. TABLE_NAME is returned because information_schema
 * compares names case-insensitively: the connector keeps the rows whose name matches exactly.
 */
#define MY_SQL_PRIMARY_KEY                                                                         \
    "SELECT t.TABLE_NAME, k.COLUMN_NAME"                                                           \
    " FROM information_schema.TABLES t"                                                            \
    " LEFT JOIN information_schema.KEY_COLUMN_USAGE k"                                             \
    "   ON k.TABLE_SCHEMA = t.TABLE_SCHEMA AND k.TABLE_NAME = t.TABLE_NAME"                        \
    "  AND k.CONSTRAINT_NAME = 'PRIMARY'"                                                          \
    " WHERE t.TABLE_SCHEMA = COALESCE(?, DATABASE()) AND t.TABLE_NAME = ?"                         \
    " ORDER BY t.TABLE_NAME, k.ORDINAL_POSITION"

/*
 * Estimated rows of a table from the statistics, without a scan (InnoDB's TABLE_ROWS is sampled:
 * it may be off by tens of percent, and is NULL for views): parameters 1 = schema (NULL = the
 * current database), 2 = table name. One row, or none when there is no such table.
 */
#define MY_SQL_ESTIMATE_ROWS                                                                       \
    "SELECT TABLE_ROWS FROM information_schema.TABLES"                                             \
    " WHERE TABLE_SCHEMA = COALESCE(?, DATABASE()) AND TABLE_NAME = ?"

/*
 * Write transactions of other sessions still open (a backfill waits for them): their trx_id,
 * comma-separated, "" for none. Needs the PROCESS privilege. InnoDB lists read-only transactions
 * too; those that modified no row yet cannot hold rows below the backfill's high-water mark.
 */
#define MY_SQL_OPEN_TXNS                                                                           \
    "SELECT COALESCE(GROUP_CONCAT(trx_id), '') FROM information_schema.INNODB_TRX"                 \
    " WHERE trx_rows_modified > 0 AND trx_mysql_thread_id <> CONNECTION_ID()"

/* How many of the transactions listed in parameter 1 (MY_SQL_OPEN_TXNS's form) are still open. */
#define MY_SQL_OPEN_TXNS_COUNT                                                                     \
    "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE FIND_IN_SET(trx_id, ?) > 0"

/* Status (offset) table, same shape as sql/flume_meta.mysql.sql; %s = quoted table name. The
 * binary collation keeps source names case-sensitive. */
#define MY_SQL_STATUS_DDL_FMT                                                                      \
    "CREATE TABLE IF NOT EXISTS %s ("                                                              \
    "source_tab VARCHAR(255) NOT NULL PRIMARY KEY, "                                               \
    "currentIndex VARCHAR(255) NOT NULL"                                                           \
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin"

/* Offset upsert: parameters 1 = source_tab, 2 = currentIndex; %s = quoted table name. */
#define MY_SQL_STATUS_UPSERT_FMT                                                                   \
    "INSERT INTO %s (source_tab, currentIndex) VALUES (?, ?)"                                      \
    " ON DUPLICATE KEY UPDATE currentIndex = VALUES(currentIndex)"

/*
 * Expression for "now minus some time" (the upper bound of the timestamp modes), spliced into
 * queries: a printf format taking the time in microseconds (long long, %lld). NOW(6) is the
 * statement's start in the session time zone (UTC), with microseconds.
 */
#define MY_SQL_NOW_MINUS_US_FMT "(NOW(6) - INTERVAL %lld MICROSECOND)"

/*
 * check --connect: the table named by parameters 1 = schema (NULL = the current database) and
 * 2 = name exists, and the current user holds SELECT, INSERT, UPDATE on it and CREATE in the
 * schema, from global, schema (LIKE patterns) or table grants. Grants through roles are not seen.
 */
#define MY_SQL_PRIVILEGES                                                                          \
    "SELECT EXISTS(SELECT 1 FROM information_schema.TABLES t"                                      \
    "   WHERE t.TABLE_SCHEMA = p.s AND t.TABLE_NAME = p.t),"                                       \
    " COALESCE(MAX(v.PRIVILEGE_TYPE = 'SELECT'), 0),"                                              \
    " COALESCE(MAX(v.PRIVILEGE_TYPE = 'INSERT'), 0),"                                              \
    " COALESCE(MAX(v.PRIVILEGE_TYPE = 'UPDATE'), 0),"                                              \
    " COALESCE(MAX(v.PRIVILEGE_TYPE = 'CREATE' AND v.tab IS NULL), 0)"                             \
    " FROM (SELECT COALESCE(?, DATABASE()) AS s, ? AS t,"                                          \
    "   CONCAT('''', SUBSTRING_INDEX(CURRENT_USER(), '@', 1), '''@''',"                            \
    "          SUBSTRING_INDEX(CURRENT_USER(), '@', -1), '''') AS g) p"                            \
    " LEFT JOIN (SELECT GRANTEE, PRIVILEGE_TYPE, '%' AS sch, NULL AS tab"                          \
    "   FROM information_schema.USER_PRIVILEGES"                                                   \
    "  UNION ALL SELECT GRANTEE, PRIVILEGE_TYPE, TABLE_SCHEMA, NULL"                               \
    "   FROM information_schema.SCHEMA_PRIVILEGES"                                                 \
    "  UNION ALL SELECT GRANTEE, PRIVILEGE_TYPE, TABLE_SCHEMA, TABLE_NAME"                         \
    "   FROM information_schema.TABLE_PRIVILEGES) v"                                               \
    "  ON v.GRANTEE = p.g AND p.s LIKE v.sch AND (v.tab IS NULL OR v.tab = p.t)"                   \
    " GROUP BY p.s, p.t, p.g"

/* The status-key lock, named "sqlflume.<16 lowercase hex digits of the id>" (parameter 1 = the
 * signed 64-bit lock id; HEX() of a negative BIGINT is its two's complement): try, release, and
 * who holds it (the user and host need the PROCESS privilege, else only the connection id). */
#define MY_SQL_LOCK_NAME    "CONCAT('sqlflume.', LOWER(LPAD(HEX(CAST(? AS SIGNED)), 16, '0')))"
#define MY_SQL_LOCK_TRY     "SELECT GET_LOCK(" MY_SQL_LOCK_NAME ", 0)"
#define MY_SQL_LOCK_RELEASE "SELECT RELEASE_LOCK(" MY_SQL_LOCK_NAME ")"
#define MY_SQL_LOCK_HOLDER                                                                         \
    "SELECT CONCAT('connection ', l.id, COALESCE(CONCAT(' of ', p.USER, '@', p.HOST), ''))"        \
    " FROM (SELECT IS_USED_LOCK(" MY_SQL_LOCK_NAME ") AS id) l"                                    \
    " LEFT JOIN information_schema.PROCESSLIST p ON p.ID = l.id WHERE l.id IS NOT NULL"

#endif
