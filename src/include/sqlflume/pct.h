/*
 * Hex digits and percent-encoding (RFC 3986's %XX), shared by the database URL parser
 * (src/core/db_url.c), the connectors' URL options (connectors/common.c), the Kafka sink's
 * position records (src/sinks/kafka/positions.c) and the backfill's progress codec
 * (src/sources/sql/bf_codec.c), which each escape their own set of bytes.
 */
#ifndef SQLFLUME_PCT_H
#define SQLFLUME_PCT_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/buf.h"

/** "0123456789ABCDEF" and "0123456789abcdef". */
extern const char sf_hex_upper[17];
extern const char sf_hex_lower[17];

/** The value of hex digit c (either case), or -1. */
static inline int sf_hex_val(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/**
 * Append s[0..n) to out with every byte for which escape(byte) is true written as %XX
 * (upper-case hex). escape must be true for '%'.
 */
void sf_pct_encode(struct sf_buf *out, const char *s, size_t n, bool (*escape)(unsigned char c));

/**
 * Decode p[0..n) ('+' stays '+') into a new NUL-terminated string *out (free it).
 * @return SF_OK; SF_ERR_INVAL for a '%' not followed by two hex digits, or %00 (a C string
 * cannot hold it), *out untouched; SF_ERR_NOMEM.
 */
int sf_pct_decode(const char *p, size_t n, char **out);

/** sf_pct_decode of the NUL-terminated s in place (the result is never longer).
 *  @return SF_OK or SF_ERR_INVAL (s is then partly decoded: discard it). */
int sf_pct_decode_inplace(char *s);

#endif
