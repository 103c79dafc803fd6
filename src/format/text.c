/*
 * Text body encoder, the shape of the seed MySQLSource: the row's values joined by
 * fmt->delimiter (delimiter.entry, default ","; delimiter_len bytes, or strlen(delimiter) when
 * delimiter_len is 0), with no quoting or escaping at all. NULL becomes fmt->null_text (default
 * empty) and binary values become base64; every other value is copied byte for byte. Consumers
 * that need to tell an empty string from NULL, or that see the delimiter inside values, should
 * use csv or json instead.
 */
#include "sqlflume/format.h"

#include "format_int.h"

void sf_format_text_row(const struct sf_format *fmt,
                        const struct sf_column *cols,
                        const struct sf_row *row,
                        struct sf_buf *out)
{
    const char *delim = fmt->delimiter ? fmt->delimiter : ",";
    size_t delim_len = fmt->delimiter ? fmt->delimiter_len : 1;
    if (delim_len == 0) {
        delim_len = strlen(delim);
    }
    const char *null_text = fmt->null_text ? fmt->null_text : "";
    size_t null_len = strlen(null_text);

    sf_buf_reserve(out, 0); /* the buffer exists even for an empty row */
    for (size_t i = 0; i < row->ncols; i++) {
        const char *v = row->vals[i];
        size_t n = v ? row->lens[i] : null_len;
        if (v && cols[i].type == SF_COL_BINARY) {
            n = sf_base64_len(n);
        }
        /* One reservation per value, delimiter included. */
        sf_buf_reserve(out, delim_len + n);
        char *o = out->data + out->len;
        if (i) {
            memcpy(o, delim, delim_len);
            o += delim_len;
        }
        if (!v) {
            /* the row gets its NUL at the end */
            memcpy(o, null_text, null_len); // NOLINT(bugprone-not-null-terminated-result)
            o += null_len;
        } else if (cols[i].type == SF_COL_BINARY) {
            o += sf_base64_encode(o, (const unsigned char *)v, row->lens[i]);
        } else {
            memcpy(o, v, n);
            o += n;
        }
        out->len = (size_t)(o - out->data);
    }
    out->data[out->len] = '\0';
}
