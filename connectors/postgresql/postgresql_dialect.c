/*
 * The PostgreSQL dialect: the data the connectors' shared layer (../shared_dialect.h) runs
 * primary key lookups, row estimates, the status table and the "now minus" bound with. The SQL
 * text itself is in postgresql_sql.h.
 */
#include "postgresql_sql.h"

const struct sfc_dialect sfc_dialect_postgresql = {
    .db = "postgresql",
    .ident_quote = '"',
    .placeholders = SFC_PH_DOLLAR,
    /* to_regclass takes the quoted name: "schema"."table", or "table" on the search path */
    .table_arg = SFC_TABLE_QUOTED,
    .primary_key_sql = PG_SQL_PRIMARY_KEY,
    .pk_rows = SFC_PK_ROWS_EXISTS,
    .estimate_rows_sql = PG_SQL_ESTIMATE_ROWS,
    .status_ddl_fmt = PG_SQL_STATUS_DDL_FMT,
    .status_upsert_fmt = PG_SQL_STATUS_UPSERT_FMT,
    .now_minus_fmt = PG_SQL_NOW_MINUS_MS_FMT,
    .now_minus_per_ms = 1,
};
