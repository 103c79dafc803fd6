/*
 * format = avro: a result row as ONE Avro binary datum (Avro 1.11 specification, "Binary
 * Encoding"; no container, no schema or fingerprint in front) of a record schema derived from the
 * result's columns. Every field is the union ["null", T] with default null: branch 0 (the byte 0)
 * for SQL NULL, branch 1 (the byte 2) and T's encoding otherwise. T by column:
 *
 *   integer                      long
 *   BIGINT UNSIGNED (MariaDB)    bytes, logicalType decimal, precision 20, scale 0
 *   float / real                 float;  double precision / DOUBLE: double (NaN, +-Infinity kept)
 *   decimal(p,s) / numeric(p,s)  bytes, logicalType decimal, precision p, scale s (the unscaled
 *                                integer, two's-complement big-endian, fewest bytes)
 *   numeric without a typmod     string (an Avro decimal needs a precision)
 *   boolean (PostgreSQL)         boolean
 *   date                         int, logicalType date (days since 1970-01-01)
 *   time                         long, logicalType time-micros (microseconds after midnight)
 *   timestamp / DATETIME         long, logicalType timestamp-micros: the wall value read as UTC
 *   timestamptz                  long, logicalType timestamp-micros: converted to UTC
 *   uuid (PostgreSQL)            string, logicalType uuid
 *   binary / bytea / BLOB / BIT  bytes
 *   anything else                string (the database's text form)
 *
 * Names: the record's is the table's, each field's the column's, made Avro names
 * ([A-Za-z_][A-Za-z0-9_]*): every other byte becomes '_', a leading digit gets a '_' in front, an
 * empty name is "_"; a name equal to an earlier field's gets "_2", "_3", ... (the first free one),
 * in column order. A field whose name differs from its column's has "doc": "column NAME".
 */
#ifndef SQLFLUME_AVRO_ROW_H
#define SQLFLUME_AVRO_ROW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlflume/buf.h"
#include "sqlflume/format.h"

/** The header Flume's AvroEventSerializer reads the schema of a body from. */
#define SF_HDR_AVRO_SCHEMA_LITERAL "flume.avro.schema.literal"
/** The header with the schema's fingerprint (sf_avro_schema.hash), e.g. for %{...} in hdfs.path
 *  so that each schema gets its own files. */
#define SF_HDR_AVRO_SCHEMA_HASH "flume.avro.schema.hash"

/** How a field is encoded (one per column). */
enum sf_avro_kind {
    SF_AVRO_LONG,
    SF_AVRO_FLOAT,
    SF_AVRO_DOUBLE,
    SF_AVRO_DECIMAL, /* bytes with logicalType decimal */
    SF_AVRO_BOOLEAN,
    SF_AVRO_DATE,
    SF_AVRO_TIME_MICROS,
    SF_AVRO_TS_MICROS,   /* wall value as UTC */
    SF_AVRO_TSTZ_MICROS, /* text with a UTC offset, converted */
    SF_AVRO_BYTES,
    SF_AVRO_STRING,
};

/** One field of a schema. */
struct sf_avro_field {
    enum sf_avro_kind kind;
    int scale; /* SF_AVRO_DECIMAL */
    int precision;
};

/**
 * A record schema for one column list. Zero-initialise; sf_avro_schema_build fills it,
 * sf_avro_schema_free releases it. Owns everything it points to.
 */
struct sf_avro_schema {
    struct sf_buf json; /* the schema as JSON text (what the header carries) */
    /* the CRC-64-AVRO (Rabin) fingerprint of json's bytes as 16 lower-case hex digits: of the
     * text itself, not of Avro's Parsing Canonical Form, which drops logicalType, precision and
     * scale (decimal(10,2) and decimal(12,2) would share it) */
    char hash[17];
    struct sf_avro_field *fields; /* n entries */
    size_t n, cap;
    /* the column list it was built for, to tell a changed one (sf_avro_schema_matches) */
    struct sf_column *cols; /* n entries; names owned */
};

/**
 * (Re)build s for the record name (the table's; sanitised) and columns cols[0..n).
 * Aborts on out of memory (as sf_buf does).
 */
void sf_avro_schema_build(struct sf_avro_schema *s,
                          const char *name,
                          const struct sf_column *cols,
                          size_t n);
/** The CRC-64-AVRO fingerprint (Avro specification, "Schema Fingerprints") of p[0..n). */
uint64_t sf_avro_crc64(const void *p, size_t n);
/** Whether s was built for exactly this column list (names, classes, precision and scale). */
bool sf_avro_schema_matches(const struct sf_avro_schema *s, const struct sf_column *cols, size_t n);
/** Release s and zero it. */
void sf_avro_schema_free(struct sf_avro_schema *s);

/**
 * Append row (of s's columns, row->ncols == s->n) as one datum of s to out, in place (no
 * allocation besides out's growth).
 * @return SF_OK; SF_ERR_DATA when a value cannot be its field's type (PostgreSQL 'infinity',
 *         MariaDB's zero date, a decimal's NaN or more digits than the precision, a time outside
 *         a day, a date/time not in ISO form), with errstr naming the column and the value; out
 *         is then back at its length before the call. SF_ERR_INVAL when row->ncols != s->n.
 */
int sf_avro_row_encode(const struct sf_avro_schema *s,
                       const struct sf_row *row,
                       struct sf_buf *out,
                       char *errstr,
                       size_t errstr_size);

#endif
