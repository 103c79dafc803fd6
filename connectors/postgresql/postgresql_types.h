/*
 * PostgreSQL connector, result values: the type OIDs it knows, their sf_coltype class, and the
 * decoding of bytea's text output. Internal to connectors/postgresql.
 */
#ifndef SQLFLUME_POSTGRESQL_TYPES_H
#define SQLFLUME_POSTGRESQL_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

#include "sqlflume/connector.h"

/* PostgreSQL type OIDs (pg_type.dat) */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_CHAR = 18,
    OID_NAME = 19,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_OID = 26,
    OID_XID = 28,
    OID_CID = 29,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
    OID_BPCHAR = 1042,
    OID_VARCHAR = 1043,
    OID_DATE = 1082,
    OID_TIME = 1083,
    OID_TIMESTAMP = 1114,
    OID_TIMESTAMPTZ = 1184,
    OID_INTERVAL = 1186,
    OID_TIMETZ = 1266,
    OID_NUMERIC = 1700,
    OID_UUID = 2950,
};

struct pg_col {
    bool bytea;
    char *buf; /* decoded bytea (owned) */
    size_t cap;
};

/* The sf_coltype class of a result column of type oid (SF_COL_OTHER for types not listed:
 * json, uuid, arrays, enums...). */
enum sf_coltype pg_oid_class(Oid oid);

/* Fill col->sub, col->precision and col->scale for a result column of type oid and type
 * modifier typmod (PQfmod; -1 when none; col->type already set by pg_oid_class): numeric's
 * precision and scale from its typmod (precision 0 without one, or when the scale is negative or
 * above the precision, which PostgreSQL 15 allows), the temporal kinds, uuid, real. */
void pg_column_detail(Oid oid, int typmod, struct sf_column *col);

/* Decode bytea text output v of len bytes (hex "\\x..." or the old escape form) into col->buf,
 * grown as needed (sf_xrealloc: abort() on out of memory; col keeps owning it). Returns the
 * decoded length. Never fails: hex pairs that are not hex are skipped. */
size_t pg_bytea_decode(struct pg_col *col, const char *v, size_t len);

#endif
