/*
 * The MySQL/MariaDB dialect: the data the connectors' shared layer (../shared_dialect.h) runs
 * primary key lookups, row estimates, the status table and the "now minus" bound with. The SQL
 * text itself is in mysql_sql.h.
 */
#include "mysql_sql.h"

const struct sfc_dialect sfc_dialect_mysql = {
    .db = "mysql",
    .ident_quote = '`',
    .placeholders = SFC_PH_QUESTION,
    /* information_schema is asked by schema and name (NULL schema = DATABASE()) */
    .table_arg = SFC_TABLE_SCHEMA_NAME,
    .primary_key_sql = MY_SQL_PRIMARY_KEY,
    .pk_rows = SFC_PK_ROWS_TABLE_NAME,
    .estimate_rows_sql = MY_SQL_ESTIMATE_ROWS,
    .status_ddl_fmt = MY_SQL_STATUS_DDL_FMT,
    .status_upsert_fmt = MY_SQL_STATUS_UPSERT_FMT,
    /* NOW(6) is the statement's start in the session time zone (UTC): a timestamp-mode upper
     * bound, in microseconds */
    .now_minus_fmt = MY_SQL_NOW_MINUS_US_FMT,
    .now_minus_per_ms = 1000,
};
