/*
 * Body format dispatch: sf_format_row() hands a row to the json, csv, text or avro encoder chosen
 * by fmt->kind, and sf_format_kind_parse() turns the configured format name into that kind. The
 * encoders themselves live in json.c, csv.c, text.c and avro_row.c; see sqlflume/format.h for the
 * contract.
 */
#include "sqlflume/format.h"

#include <strings.h>

#include "sqlflume/avro_row.h"
#include "sqlflume/error.h"
#include "format_int.h"

int sf_format_row(const struct sf_format *fmt,
                  const struct sf_column *cols,
                  const struct sf_row *row,
                  struct sf_buf *out)
{
    switch (fmt->kind) {
    case SF_FORMAT_JSON:
        sf_format_json_row(cols, fmt->json_keys, row, out);
        return SF_OK;
    case SF_FORMAT_CSV:
        sf_format_csv_row(fmt, cols, row, out);
        return SF_OK;
    case SF_FORMAT_TEXT:
        sf_format_text_row(fmt, cols, row, out);
        return SF_OK;
    case SF_FORMAT_AVRO: {
        char err[8];
        return fmt->avro ? sf_avro_row_encode(fmt->avro, row, out, err, sizeof(err)) : SF_ERR_INVAL;
    }
    }
    return SF_ERR_INVAL; /* not a sf_format_kind: a caller bug, nothing appended */
}

int sf_format_kind_parse(const char *s, enum sf_format_kind *out)
{
    static const struct {
        const char *name;
        enum sf_format_kind kind;
    } kinds[] = {
        { "json", SF_FORMAT_JSON },
        { "csv", SF_FORMAT_CSV },
        { "text", SF_FORMAT_TEXT },
        { "avro", SF_FORMAT_AVRO },
    };
    if (!s) {
        return SF_ERR_INVAL;
    }
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (strcasecmp(s, kinds[i].name) == 0) {
            *out = kinds[i].kind;
            return SF_OK;
        }
    }
    return SF_ERR_INVAL;
}

const char *sf_coltype_words(enum sf_coltype t)
{
    switch (t) {
    case SF_COL_INT:
        return "an integer";
    case SF_COL_FLOAT:
        return "a floating-point column";
    case SF_COL_DECIMAL:
        return "a decimal";
    case SF_COL_BOOL:
        return "a boolean";
    case SF_COL_TEXT:
        return "text";
    case SF_COL_BINARY:
        return "binary";
    case SF_COL_TEMPORAL:
        return "a date/time";
    case SF_COL_OTHER:
        break;
    }
    return "a uuid, json, enum or other non-numeric type";
}
