/*
 * CSV body encoder (RFC 4180): one record per row, fields separated by ',' and no line break
 * (the event is the line). A field is quoted when it contains ',', '"', CR or LF, with quotes
 * doubled; an empty string is "" so that it differs from NULL, which is fmt->null_text unquoted
 * (default empty). A value that happens to equal a non-empty null_text is quoted for the same
 * reason. Binary values are base64 (which never needs quoting). Bytes are copied as they are:
 * CSV has no escape for invalid UTF-8. Each field is scanned eight bytes at a time, then the
 * buffer is reserved once for its exact size.
 */
#include "sqlflume/format.h"

#include "format_int.h"

/* csv_class[c]: 0 = plain, 1 = forces quoting (',' CR LF), 2 = '"' (forces quoting, doubled). */
static const unsigned char csv_class[256] = {
    ['\n'] = 1,
    ['\r'] = 1,
    [','] = 1,
    ['"'] = 2,
};

static inline uint64_t csv_word_dirty(uint64_t w)
{
    return sf_swar_has_byte(w, ',') | sf_swar_has_byte(w, '"') | sf_swar_has_byte(w, '\n') |
           sf_swar_has_byte(w, '\r');
}

/** Scan v[0..n): @return the number of '"' bytes; *special set when the field must be quoted. */
static size_t csv_scan(const unsigned char *v, size_t n, bool *special)
{
    size_t quotes = 0;
    bool sp = false;
    size_t i = 0;
    while (i < n) {
        if (n - i >= 8 && !csv_word_dirty(sf_swar_load(v + i))) {
            i += 8;
            continue;
        }
        size_t end = n - i >= 8 ? i + 8 : n;
        for (; i < end; i++) {
            unsigned char k = csv_class[v[i]];
            sp |= k != 0;
            quotes += k == 2;
        }
    }
    *special = sp;
    return quotes;
}

/** Append v[0..n) quoted, doubling its quotes; the caller reserved n + quotes + 2. */
static void csv_put_quoted(struct sf_buf *out, const char *v, size_t n)
{
    char *o = out->data + out->len;
    *o++ = '"';
    const char *end = v + n;
    while (v < end) {
        const char *q = memchr(v, '"', (size_t)(end - v));
        size_t run = q ? (size_t)(q - v) + 1 : (size_t)(end - v);
        memcpy(o, v, run);
        o += run;
        v += run;
        if (q) {
            *o++ = '"';
        }
    }
    *o++ = '"';
    out->len = (size_t)(o - out->data);
}

static void csv_field(struct sf_buf *out,
                      enum sf_coltype type,
                      const char *v,
                      size_t n,
                      const char *null_text,
                      size_t null_len)
{
    if (type == SF_COL_BINARY) {
        size_t blen = sf_base64_len(n);
        sf_buf_reserve(out, blen + 2);
        char *o = out->data + out->len;
        if (blen != 0 && blen != null_len) {
            out->len += sf_base64_encode(o, (const unsigned char *)v, n);
            return;
        }
        /* Empty, or as long as null_text: quote when it would read as NULL. */
        size_t w = sf_base64_encode(o + 1, (const unsigned char *)v, n);
        if (w == 0 || memcmp(o + 1, null_text, null_len) == 0) {
            o[0] = '"';
            o[w + 1] = '"';
            out->len += w + 2;
        } else {
            memmove(o, o + 1, w);
            out->len += w;
        }
        return;
    }
    bool special;
    size_t quotes = csv_scan((const unsigned char *)v, n, &special);
    if (!special && n != 0 && (n != null_len || memcmp(v, null_text, n) != 0)) {
        sf_buf_reserve(out, n);
        memcpy(out->data + out->len, v, n);
        out->len += n;
        return;
    }
    sf_buf_reserve(out, n + quotes + 2);
    csv_put_quoted(out, v, n);
}

void sf_format_csv_row(const struct sf_format *fmt,
                       const struct sf_column *cols,
                       const struct sf_row *row,
                       struct sf_buf *out)
{
    const char *null_text = fmt->null_text ? fmt->null_text : "";
    size_t null_len = strlen(null_text);
    sf_buf_reserve(out, 0); /* the buffer exists even for an empty record */
    for (size_t i = 0; i < row->ncols; i++) {
        if (i) {
            sf_buf_reserve(out, 1);
            out->data[out->len++] = ',';
        }
        if (row->vals[i] == NULL) {
            sf_buf_reserve(out, null_len);
            memcpy(out->data + out->len, null_text, null_len);
            out->len += null_len;
        } else {
            csv_field(out, cols[i].type, row->vals[i], row->lens[i], null_text, null_len);
        }
    }
    out->data[out->len] = '\0';
}
