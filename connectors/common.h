/*
 * Internal helpers shared by the connectors (connectors/mysql, connectors/postgresql); not part
 * of the connector interface (sqlflume/connector.h). Included by relative name ("../common.h").
 * Out of memory is fatal here as in the connectors: the allocation helpers print one line to
 * stderr and abort().
 */
#ifndef SQLFLUME_CONNECTORS_COMMON_H
#define SQLFLUME_CONNECTORS_COMMON_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/connector.h"
#include "sqlflume/mem.h" /* sf_xstrdup, sf_xrealloc, sf_xcalloc */

/* Replace every occurrence of password in the NUL-terminated s (of size bytes) by "***", in
 * place (defensive: servers do not echo it). Passwords shorter than 4 bytes, a NULL password and
 * size 0 leave s alone: scrubbing short passwords would mangle any message. */
void sfc_scrub_password(char *s, size_t size, const char *password);

/* Decode %XX escapes of a URL query-string value in place, and '+' as a space (form encoding,
 * unlike sqlflume/pct.h's strict decoder). A '%' not followed by two hex digits (sf_hex_val) naming
 * a non-zero byte is kept as it is. Never fails. */
void sfc_pct_decode(char *s);

/* SF_OK when no query is running; else SF_ERR_STATE and errstr says "a query is still running on
 * <db> connection to <where> (call query_end first)". */
int sfc_check_idle(bool running,
                   const char *db,
                   const char *where,
                   char *errstr,
                   size_t errstr_size);

/* The "schema.table" split of a table name: when table has a dot that is neither its first nor
 * its last byte, *schema gets a malloc'd copy of what comes before the first dot (the caller
 * frees it; abort() on out of memory) and the return value points into table after the dot.
 * Otherwise returns NULL and sets *schema to NULL: the name is to be taken whole. */
const char *sfc_split_schema(const char *table, char **schema);

/* Free the names of cols[0 .. *ncols) (setting them NULL) and set *ncols to 0; the array itself
 * stays allocated for reuse. */
void sfc_cols_free_names(struct sf_column *cols, size_t *ncols);

/* Parse the row's first value as a row count into *rows (strtoll, base 10) when it is non-NULL
 * and 1 to 31 bytes long; returns whether it did. *rows is left alone otherwise. */
bool sfc_row_count(const struct sf_row *row, long long *rows);

#endif
