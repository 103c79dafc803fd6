/*
 * MySQL/MariaDB connector, types and values: the sf_coltype class of a result column, the parsing
 * of integer parameters, how a bound result column is held (struct my_col) and the formatting of
 * integers, floats and temporal values bound in their binary form into the exact text the
 * server's text protocol would show. Internal to connectors/mysql.
 */
#ifndef SQLFLUME_MYSQL_TYPES_H
#define SQLFLUME_MYSQL_TYPES_H

#include <stdbool.h>
#include <stddef.h>

#include <mysql.h>

#include "sqlflume/format.h"

#define MY_TEXT_CAP      352 /* formatted number/temporal: DBL_MAX with 30 decimals fits */
#define MY_NOT_FIXED_DEC 31  /* decimals >= this: float/double without fixed scale */

/* How a result column is bound and turned into text. */
enum my_kind {
    MK_STR,      /* bound as a string: the server's bytes as they are */
    MK_INT8,     /* TINYINT */
    MK_INT16,    /* SMALLINT, YEAR */
    MK_INT32,    /* INT, MEDIUMINT */
    MK_INT64,    /* BIGINT */
    MK_FLOAT,    /* FLOAT */
    MK_DOUBLE,   /* DOUBLE */
    MK_DATE,     /* DATE */
    MK_TIME,     /* TIME */
    MK_DATETIME, /* DATETIME, TIMESTAMP */
};

struct my_col {
    enum my_kind kind;
    bool is_unsigned;
    bool zerofill;
    unsigned decimals; /* fractional digits (temporal) or fixed scale (float/double) */
    unsigned width;    /* display width: zerofill padding, float format width */
    char *buf;         /* MK_STR value buffer (owned) */
    size_t cap;        /* bytes allocated in buf */
    unsigned long len; /* value length reported by the library (full length on truncation) */
    my_bool is_null;
    my_bool error; /* truncation flag set by the library */
    union {
        signed char i8;
        short i16;
        int i32;
        long long i64;
        float f;
        double d;
        MYSQL_TIME t;
    } num;
    char text[MY_TEXT_CAP]; /* formatted non-string value */
};

/* Format m's bound integer (MK_INT8..MK_INT64, signedness and ZEROFILL width from m) into
 * m->text; *start gets the first byte of the text (it ends at the end of m->text). Returns the
 * length. Never fails. */
size_t my_format_integer(struct my_col *m, const char **start);

/* Format m's bound MYSQL_TIME (MK_DATE, MK_TIME, MK_DATETIME, m->decimals fractional digits)
 * into m->text from its start; returns the length. Never fails. */
size_t my_format_temporal(struct my_col *m);

/* Format m's bound FLOAT or DOUBLE (fixed scale when m->decimals < MY_NOT_FIXED_DEC, else the
 * server's shortest round-trip form) into m->text from its start; returns the length. */
size_t my_format_real(struct my_col *m);

/* The sf_coltype class of result column f (binary strings by charset 63, MariaDB's JSON by its
 * extended format metadata; SF_COL_OTHER for MySQL's JSON, GEOMETRY and types not listed). */
enum sf_coltype my_column_class(const MYSQL_FIELD *f);

/* Fill col->sub, col->precision and col->scale for result column f (col->type already set by
 * my_column_class): DECIMAL's precision from the display length (MariaDB's
 * my_decimal_length_to_precision) and its scale from the decimals; the temporal kinds; FLOAT;
 * BIGINT UNSIGNED. Never fails. */
void my_column_detail(const MYSQL_FIELD *f, struct sf_column *col);

/* Parse the whole of s as a base-10 integer into *out; *is_unsigned is set for values above
 * LLONG_MAX (then *out holds the unsigned long long's bytes). Returns false, leaving *out alone,
 * when s is not such an integer. */
bool my_parse_int(const char *s, long long *out, bool *is_unsigned);

#endif
