/*
 * JSON body encoder: one object per row, {"col":value,...} with keys in select order. This is the
 * hot path, so strings are escaped with a 256-entry class table, runs of plain ASCII are copied
 * eight bytes at a time, and the buffer is reserved once per value (once per 64 KiB chunk for
 * huge values, to bound over-allocation). Escapes follow RFC 8259: \" \\ \b \f \n \r \t, other
 * control characters as \u00XX; DEL, U+2028 and U+2029 pass as is. UTF-8 is validated per
 * Unicode table 3-7 (no overlongs, surrogates or code points above U+10FFFF) and every byte that
 * is not part of a valid sequence becomes \u00XX, so the output is always valid JSON. Numbers are
 * emitted bare only when their text matches the JSON number grammar; anything else (ZEROFILL
 * "007", NaN, Infinity) is emitted as a string rather than producing invalid JSON. A float's
 * negative zero ("-0", as PostgreSQL and the MariaDB connector print it) becomes -0.0, which
 * JSON parsers read back as a double with its sign.
 */
#include "sqlflume/error.h"
#include "sqlflume/pct.h"
#include "sqlflume/format.h"

#include <stdlib.h>

#include "format_int.h"

/* json_esc[c]: 0 = copy as is; 1 = lead or continuation byte of a multi-byte sequence (validate);
 * 'u' = \u00XX; any other value v = the two-character escape '\\' v. */
#define R16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
static const unsigned char json_esc[256] = {
    /* 0x00 */ 'u',
    'u',
    'u',
    'u',
    'u',
    'u',
    'u',
    'u',
    'b',
    't',
    'n',
    'u',
    'f',
    'r',
    'u',
    'u',
    /* 0x10 */ R16('u'),
    ['"'] = '"',
    ['\\'] = '\\',
    [0x80] = R16(1),
    R16(1),
    R16(1),
    R16(1),
    R16(1),
    R16(1),
    R16(1),
    R16(1),
};
#undef R16


/* Input bytes escaped per reservation; bounds over-allocation to 6x this for huge values. */
#define JSON_CHUNK_BYTES 65536

/** Nonzero when some byte of w needs attention: < 0x20, '"', '\\' or >= 0x80. */
static inline uint64_t json_word_dirty(uint64_t w)
{
    return (w & SF_SWAR_HIGHS) | sf_swar_has_less(w, 0x20) | sf_swar_has_byte(w, '"') |
           sf_swar_has_byte(w, '\\');
}

/**
 * Length of the well-formed UTF-8 sequence starting at s[0] (a byte >= 0x80) within s[0..n),
 * or 0 when s[0] does not start one (Unicode 15, table 3-7).
 */
static inline size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    if (c < 0xC2) {
        return 0; /* continuation byte, or C0/C1 (always overlong) */
    }
    if (c < 0xE0) {
        return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
    }
    if (c < 0xF0) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80; /* E0 80..9F would be overlong */
        unsigned char hi = c == 0xED ? 0x9F : 0xBF; /* ED A0..BF would be a surrogate */
        if (n < 3 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80) {
            return 0;
        }
        return 3;
    }
    if (c < 0xF5) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80; /* F0 80..8F would be overlong */
        unsigned char hi = c == 0xF4 ? 0x8F : 0xBF; /* F4 90.. would be above U+10FFFF */
        if (n < 4 || s[1] < lo || s[1] > hi || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80) {
            return 0;
        }
        return 4;
    }
    return 0; /* F5..FF never appear in UTF-8 */
}

/** Append the escaped body of a JSON string (no quotes) for s[0..n). */
static void json_escape_body(struct sf_buf *out, const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t chunk_end = n - i > JSON_CHUNK_BYTES ? i + JSON_CHUNK_BYTES : n;
        /* A step starting before chunk_end consumes at most 8 bytes (a word) and writes at most
         * 6 bytes per byte consumed, so 6 * (chunk + 8) is always enough. */
        sf_buf_reserve(out, 6 * (chunk_end - i + 8));
        unsigned char *o = (unsigned char *)out->data + out->len;
        while (i < chunk_end) {
            if (n - i >= 8) {
                uint64_t w = sf_swar_load(s + i);
                if (!json_word_dirty(w)) {
                    memcpy(o, &w, 8);
                    o += 8;
                    i += 8;
                    continue;
                }
                /* Copy the clean prefix; stops inside this word at the dirty byte. */
                while (json_esc[s[i]] == 0) {
                    *o++ = s[i++];
                }
            }
            unsigned char c = s[i];
            unsigned char e = json_esc[c];
            if (e == 0) {
                *o++ = c;
                i++;
                continue;
            }
            if (e == 1) {
                size_t k = utf8_seq_len(s + i, n - i);
                if (k) {
                    memcpy(o, s + i, k);
                    o += k;
                    i += k;
                    continue;
                }
                e = 'u'; /* not part of a valid sequence: escape this one byte */
            }
            *o++ = '\\';
            if (e == 'u') {
                o[0] = 'u';
                o[1] = '0';
                o[2] = '0';
                o[3] = (unsigned char)sf_hex_lower[c >> 4];
                o[4] = (unsigned char)sf_hex_lower[c & 15];
                o += 5;
            } else {
                *o++ = e;
            }
            i++;
        }
        out->len = (size_t)((char *)o - out->data);
    }
}

void sf_json_append_string(struct sf_buf *out, const char *s, size_t n)
{
    sf_buf_putc(out, '"');
    json_escape_body(out, (const unsigned char *)s, n);
    sf_buf_putc(out, '"'); /* also restores the NUL terminator */
}

/** Append p[0..n) verbatim (text already known to be valid JSON). */
static inline void put_raw(struct sf_buf *out, const char *p, size_t n)
{
    sf_buf_reserve(out, n);
    memcpy(out->data + out->len, p, n);
    out->len += n;
}

static inline bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/** Scan -?(0|[1-9][0-9]*) from s[*i]; @return false when it does not match. */
static inline bool scan_json_int(const unsigned char *s, size_t n, size_t *i)
{
    size_t j = *i;
    if (j < n && s[j] == '-') {
        j++;
    }
    if (j >= n || !is_digit(s[j])) {
        return false;
    }
    if (s[j] == '0') {
        j++;
    } else {
        while (j < n && is_digit(s[j])) {
            j++;
        }
    }
    *i = j;
    return true;
}

/** Whole s[0..n) is a JSON integer: -?(0|[1-9][0-9]*). */
static bool json_int_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    return scan_json_int(s, n, &i) && i == n;
}

/** Whole s[0..n) is a JSON number: int frac? exp? (RFC 8259 section 6). */
static bool json_number_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    if (!scan_json_int(s, n, &i)) {
        return false;
    }
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || !is_digit(s[i])) {
            return false;
        }
        while (i < n && is_digit(s[i])) {
            i++;
        }
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        if (i >= n || !is_digit(s[i])) {
            return false;
        }
        while (i < n && is_digit(s[i])) {
            i++;
        }
    }
    return i == n;
}

/** Parse a database's spelling of a boolean (t/f, 1/0, true/false) into *b.
 *  @return SF_OK, or SF_ERR_INVAL for any other spelling (*b untouched). */
static int parse_bool(const char *s, size_t n, bool *b)
{
    if ((n == 1 && (s[0] == 't' || s[0] == '1')) || (n == 4 && memcmp(s, "true", 4) == 0)) {
        *b = true;
        return SF_OK;
    }
    if ((n == 1 && (s[0] == 'f' || s[0] == '0')) || (n == 5 && memcmp(s, "false", 5) == 0)) {
        *b = false;
        return SF_OK;
    }
    return SF_ERR_INVAL;
}

static void json_value(struct sf_buf *out, enum sf_coltype type, const char *v, size_t n)
{
    const unsigned char *u = (const unsigned char *)v;
    switch (type) {
    case SF_COL_INT:
        if (json_int_ok(u, n)) {
            put_raw(out, v, n);
            return;
        }
        break;
    case SF_COL_FLOAT:
        if (n == 2 && v[0] == '-' && v[1] == '0') {
            /* negative zero: JSON's -0 reads back as the integer 0 in many parsers (Python,
             * Jackson), -0.0 as the double it is */
            put_raw(out, "-0.0", 4);
            return;
        }
        if (json_number_ok(u, n)) {
            put_raw(out, v, n);
            return;
        }
        break;
    case SF_COL_BOOL: {
        bool b;
        if (parse_bool(v, n, &b) == SF_OK) {
            put_raw(out, b ? "true" : "false", b ? 4 : 5);
            return;
        }
        break;
    }
    case SF_COL_BINARY: {
        sf_buf_reserve(out, sf_base64_len(n) + 2);
        char *o = out->data + out->len;
        *o++ = '"';
        o += sf_base64_encode(o, u, n);
        *o++ = '"';
        out->len = (size_t)(o - out->data);
        return;
    }
    case SF_COL_DECIMAL:
    case SF_COL_TEXT:
    case SF_COL_TEMPORAL:
    case SF_COL_OTHER:
    default:
        break;
    }
    put_raw(out, "\"", 1);
    json_escape_body(out, u, n);
    put_raw(out, "\"", 1);
}

void sf_json_keys_build(struct sf_json_keys *k, const struct sf_column *cols, size_t n)
{
    sf_buf_reset(&k->buf);
    if (n > k->cap) {
        size_t *end = realloc(k->end, n * sizeof(*end));
        if (!end) {
            abort(); /* as sf_buf_reserve */
        }
        k->end = end;
        k->cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        const char *name = cols[i].name ? cols[i].name : "";
        put_raw(&k->buf, i ? ",\"" : "{\"", 2);
        json_escape_body(&k->buf, (const unsigned char *)name, strlen(name));
        put_raw(&k->buf, "\":", 2);
        k->end[i] = k->buf.len;
    }
    k->n = n;
}

void sf_json_keys_free(struct sf_json_keys *k)
{
    sf_buf_free(&k->buf);
    free(k->end);
    *k = (struct sf_json_keys){ 0 };
}

void sf_format_json_row(const struct sf_column *cols,
                        const struct sf_json_keys *keys,
                        const struct sf_row *row,
                        struct sf_buf *out)
{
    if (keys && (keys->n != row->ncols || keys->n == 0)) {
        keys = NULL; /* built for another column list (or none: "{" is not in the keys) */
    }
    if (!keys) {
        put_raw(out, "{", 1);
    }
    for (size_t i = 0; i < row->ncols; i++) {
        if (keys) {
            size_t from = i ? keys->end[i - 1] : 0;
            put_raw(out, keys->buf.data + from, keys->end[i] - from);
        } else {
            const char *name = cols[i].name ? cols[i].name : "";
            put_raw(out, i ? ",\"" : "\"", i ? 2 : 1);
            json_escape_body(out, (const unsigned char *)name, strlen(name));
            put_raw(out, "\":", 2);
        }
        if (row->vals[i] == NULL) {
            put_raw(out, "null", 4);
        } else {
            json_value(out, cols[i].type, row->vals[i], row->lens[i]);
        }
    }
    sf_buf_putc(out, '}'); /* also restores the NUL terminator */
}
