/*
 * Row -> event body encoders (the hot path): json (one object per row, keys in select order),
 * csv (RFC 4180) and text (the seed MySQLSource's shape: values joined by delimiter.entry).
 * Values arrive in the database's text form, typed by column class so that numbers stay numbers
 * and binary becomes base64.
 */
#ifndef SQLFLUME_FORMAT_H
#define SQLFLUME_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/buf.h"

/** Column classes, decided by the connector from the native type. */
enum sf_coltype {
    SF_COL_INT,      /* integers of any width: JSON number as is */
    SF_COL_FLOAT,    /* float/double/real: JSON number; NaN/Infinity become strings */
    SF_COL_DECIMAL,  /* DECIMAL/NUMERIC: JSON string with every digit */
    SF_COL_BOOL,     /* PostgreSQL boolean ("t"/"f"): JSON true/false */
    SF_COL_TEXT,     /* character data; JSON string, invalid UTF-8 escaped */
    SF_COL_BINARY,   /* BLOB/VARBINARY/bytea/BIT: raw bytes; JSON string in base64 */
    SF_COL_TEMPORAL, /* date/time types in the database's text form: JSON string */
    SF_COL_OTHER,    /* anything else (json, uuid, enum, arrays...): JSON string of its text */
};

/** The class in words for messages ("an integer", "text", "a date/time", ...); static text. */
const char *sf_coltype_words(enum sf_coltype t);

/** What a column class does not say and format avro needs: the exact kind of a date/time
 *  column, a PostgreSQL uuid, a 4-byte float, an unsigned 64-bit integer. */
enum sf_colsub {
    SF_SUB_NONE = 0,    /* nothing more (interval, timetz, ... stay text) */
    SF_SUB_DATE,        /* SF_COL_TEMPORAL: DATE */
    SF_SUB_TIME,        /* SF_COL_TEMPORAL: TIME (without time zone) */
    SF_SUB_TIMESTAMP,   /* SF_COL_TEMPORAL: DATETIME, TIMESTAMP (MariaDB), timestamp (PG) */
    SF_SUB_TIMESTAMPTZ, /* SF_COL_TEMPORAL: PostgreSQL timestamptz (text has the offset) */
    SF_SUB_UUID,        /* SF_COL_OTHER: PostgreSQL uuid */
    SF_SUB_FLOAT4,      /* SF_COL_FLOAT: FLOAT (MariaDB), real (PG) */
    SF_SUB_UINT64,      /* SF_COL_INT: BIGINT UNSIGNED (may exceed a signed 64-bit long) */
};

struct sf_column {
    char *name; /* owned by whoever owns the column array */
    enum sf_coltype type;
    enum sf_colsub sub;
    /* SF_COL_DECIMAL: the declared precision (total digits) and scale (digits after the point);
     * precision 0 when the column has none (PostgreSQL numeric without a typmod) */
    int precision;
    int scale;
};

/** One row: vals[i] points to lens[i] bytes (not necessarily NUL-terminated), NULL = SQL NULL.
 *  Borrowed from the connector until its next fetch. */
struct sf_row {
    size_t ncols;
    const char *const *vals;
    const size_t *lens;
};

enum sf_format_kind {
    SF_FORMAT_JSON = 0,
    SF_FORMAT_CSV = 1,
    SF_FORMAT_TEXT = 2,
    SF_FORMAT_AVRO = 3, /* one Avro binary datum per row (sqlflume/avro_row.h) */
};

/**
 * The JSON object keys of a result's columns, encoded once per query instead of once per row:
 * buf holds '{"name0":' then ',"name1":' and so on; key i is buf.data[i ? end[i-1] : 0, end[i]).
 * Zero-initialise; sf_json_keys_build fills it for a column array (aborts on out of memory, as
 * sf_buf does), sf_json_keys_free releases it.
 */
struct sf_json_keys {
    struct sf_buf buf;
    size_t *end; /* owned, n entries */
    size_t n, cap;
};
void sf_json_keys_build(struct sf_json_keys *k, const struct sf_column *cols, size_t n);
void sf_json_keys_free(struct sf_json_keys *k);

struct sf_avro_schema;

struct sf_format {
    enum sf_format_kind kind;
    const char *delimiter; /* text: delimiter.entry (default ","); csv always uses ',' */
    size_t delimiter_len;
    const char *null_text; /* text/csv: what NULL becomes (default "") */
    /* json: the keys of the cols passed to sf_format_row, built by sf_json_keys_build for exactly
     * that column array (borrowed), or NULL to encode the names per row */
    const struct sf_json_keys *json_keys;
    /* avro: the schema of exactly the cols passed to sf_format_row (borrowed); required */
    const struct sf_avro_schema *avro;
};

/**
 * Append the encoding of row (with columns cols[0..row->ncols)) to out. No trailing newline.
 * json: {"col":value,...}; csv: RFC 4180 (fields with , " CR LF quoted, quotes doubled, NULL
 * empty and unquoted, empty string as ""); binary as base64 in json/csv/text; avro: one datum of
 * fmt->avro (sf_avro_row_encode, which also says why a value is refused).
 * @return SF_OK; json, csv and text never fail (invalid UTF-8 is escaped as \u00XX for each bad
 *         byte); avro: SF_ERR_DATA for a value its field cannot hold, SF_ERR_INVAL without a
 *         schema of row->ncols fields (nothing appended in both cases).
 */
int sf_format_row(const struct sf_format *fmt, const struct sf_column *cols,
                  const struct sf_row *row, struct sf_buf *out);

/** Append s[0..n) as a JSON string literal (with quotes), escaping per RFC 8259. */
void sf_json_append_string(struct sf_buf *out, const char *s, size_t n);
/** Append base64 (RFC 4648, with padding) of p[0..n). */
void sf_base64_append(struct sf_buf *out, const unsigned char *p, size_t n);
/** Parse "json", "csv", "text", "avro". @return SF_OK with *out set, or SF_ERR_INVAL (also
 *  for NULL). */
int sf_format_kind_parse(const char *s, enum sf_format_kind *out);

#endif
