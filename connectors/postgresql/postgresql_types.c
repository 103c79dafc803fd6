/* PostgreSQL connector: type classes and bytea decoding (see postgresql_types.h). */
#include "postgresql_types.h"

#include "../common.h"

enum sf_coltype pg_oid_class(Oid oid)
{
    switch (oid) {
    case OID_INT2:
    case OID_INT4:
    case OID_INT8:
    case OID_OID:
    case OID_XID:
    case OID_CID:
        return SF_COL_INT;
    case OID_FLOAT4:
    case OID_FLOAT8:
        return SF_COL_FLOAT;
    case OID_NUMERIC:
        return SF_COL_DECIMAL;
    case OID_BOOL:
        return SF_COL_BOOL;
    case OID_TEXT:
    case OID_VARCHAR:
    case OID_BPCHAR:
    case OID_NAME:
    case OID_CHAR:
        return SF_COL_TEXT;
    case OID_BYTEA:
        return SF_COL_BINARY;
    case OID_DATE:
    case OID_TIME:
    case OID_TIMESTAMP:
    case OID_TIMESTAMPTZ:
    case OID_INTERVAL:
    case OID_TIMETZ:
        return SF_COL_TEMPORAL;
    default:
        return SF_COL_OTHER; /* json, jsonb, uuid, arrays, enums, geometry, money, bit... */
    }
}

void pg_column_detail(Oid oid, int typmod, struct sf_column *col)
{
    col->sub = SF_SUB_NONE;
    col->precision = 0;
    col->scale = 0;
    switch (oid) {
    case OID_NUMERIC:
        if (typmod >= 4) { /* VARHDRSZ + (precision << 16 | scale as 11-bit signed) */
            int prec = ((typmod - 4) >> 16) & 0xffff;
            int scale = (((typmod - 4) & 0x7ff) ^ 1024) - 1024;
            if (prec >= 1 && scale >= 0 && scale <= prec) {
                col->precision = prec;
                col->scale = scale;
            }
        }
        break;
    case OID_DATE:
        col->sub = SF_SUB_DATE;
        break;
    case OID_TIME:
        col->sub = SF_SUB_TIME;
        break;
    case OID_TIMESTAMP:
        col->sub = SF_SUB_TIMESTAMP;
        break;
    case OID_TIMESTAMPTZ:
        col->sub = SF_SUB_TIMESTAMPTZ;
        break;
    case OID_UUID:
        col->sub = SF_SUB_UUID;
        break;
    case OID_FLOAT4:
        col->sub = SF_SUB_FLOAT4;
        break;
    default:
        break;
    }
}

static int hexval(unsigned char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    return -1;
}

/* Decode bytea text output (hex "\x..." or the old escape form) into col->buf. */
size_t pg_bytea_decode(struct pg_col *col, const char *v, size_t len)
{
    if (col->cap < len / 2 + 1 || col->cap < len + 1) {
        size_t cap = col->cap ? col->cap : 64;
        while (cap < len + 1) {
            cap *= 2;
        }
        col->buf = sf_xrealloc(col->buf, cap);
        col->cap = cap;
    }
    unsigned char *o = (unsigned char *)col->buf;
    size_t n = 0;
    if (len >= 2 && v[0] == '\\' && v[1] == 'x') {
        for (size_t i = 2; i + 1 < len; i += 2) {
            int hi = hexval((unsigned char)v[i]);
            int lo = hexval((unsigned char)v[i + 1]);
            if (hi < 0 || lo < 0) { /* cannot happen with server output; skip the pair */
                continue;
            }
            o[n++] = (unsigned char)(hi << 4 | lo);
        }
        return n;
    }
    for (size_t i = 0; i < len; i++) { /* escape format: \\ and \ooo */
        if (v[i] == '\\' && i + 1 < len && v[i + 1] == '\\') {
            o[n++] = '\\';
            i++;
        } else if (v[i] == '\\' && i + 3 < len && v[i + 1] >= '0' && v[i + 1] <= '3') {
            o[n++] =
                (unsigned char)((v[i + 1] - '0') << 6 | (v[i + 2] - '0') << 3 | (v[i + 3] - '0'));
            i += 3;
        } else {
            o[n++] = (unsigned char)v[i];
        }
    }
    return n;
}
