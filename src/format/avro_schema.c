/*
 * format = avro, the schema side: the record schema of a column list as JSON text, with Avro
 * names made from the table's and the columns' names (see sqlflume/avro_row.h for the mapping and
 * the naming rules). The JSON is written compactly in one fixed order, so the same columns always
 * give byte-identical text (readers that compare schemas as text see no change).
 */
#include "sqlflume/avro_row.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Decide how column c is encoded. */
static struct sf_avro_field field_of(const struct sf_column *c)
{
    struct sf_avro_field f = { SF_AVRO_STRING, 0, 0 };
    switch (c->type) {
    case SF_COL_INT:
        if (c->sub == SF_SUB_UINT64) {
            f.kind = SF_AVRO_DECIMAL;
            f.precision = 20;
        } else {
            f.kind = SF_AVRO_LONG;
        }
        break;
    case SF_COL_FLOAT:
        f.kind = c->sub == SF_SUB_FLOAT4 ? SF_AVRO_FLOAT : SF_AVRO_DOUBLE;
        break;
    case SF_COL_DECIMAL:
        if (c->precision > 0) {
            f.kind = SF_AVRO_DECIMAL;
            f.precision = c->precision;
            f.scale = c->scale;
        }
        break;
    case SF_COL_BOOL:
        f.kind = SF_AVRO_BOOLEAN;
        break;
    case SF_COL_BINARY:
        f.kind = SF_AVRO_BYTES;
        break;
    case SF_COL_TEMPORAL:
        f.kind = c->sub == SF_SUB_DATE          ? SF_AVRO_DATE
                 : c->sub == SF_SUB_TIME        ? SF_AVRO_TIME_MICROS
                 : c->sub == SF_SUB_TIMESTAMP   ? SF_AVRO_TS_MICROS
                 : c->sub == SF_SUB_TIMESTAMPTZ ? SF_AVRO_TSTZ_MICROS
                                                : SF_AVRO_STRING;
        break;
    case SF_COL_TEXT:
    case SF_COL_OTHER:
    default:
        break;
    }
    return f;
}

/** The type of field f (of column c) as JSON, inside the union. */
static void put_type(struct sf_buf *b, const struct sf_avro_field *f, const struct sf_column *c)
{
    switch (f->kind) {
    case SF_AVRO_LONG:
        sf_buf_puts(b, "\"long\"");
        return;
    case SF_AVRO_FLOAT:
        sf_buf_puts(b, "\"float\"");
        return;
    case SF_AVRO_DOUBLE:
        sf_buf_puts(b, "\"double\"");
        return;
    case SF_AVRO_DECIMAL:
        sf_buf_printf(b,
                      "{\"type\":\"bytes\",\"logicalType\":\"decimal\",\"precision\":%d,"
                      "\"scale\":%d}",
                      f->precision, f->scale);
        return;
    case SF_AVRO_BOOLEAN:
        sf_buf_puts(b, "\"boolean\"");
        return;
    case SF_AVRO_DATE:
        sf_buf_puts(b, "{\"type\":\"int\",\"logicalType\":\"date\"}");
        return;
    case SF_AVRO_TIME_MICROS:
        sf_buf_puts(b, "{\"type\":\"long\",\"logicalType\":\"time-micros\"}");
        return;
    case SF_AVRO_TS_MICROS:
    case SF_AVRO_TSTZ_MICROS:
        sf_buf_puts(b, "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}");
        return;
    case SF_AVRO_BYTES:
        sf_buf_puts(b, "\"bytes\"");
        return;
    case SF_AVRO_STRING:
        break;
    }
    if (c->type == SF_COL_OTHER && c->sub == SF_SUB_UUID) {
        sf_buf_puts(b, "{\"type\":\"string\",\"logicalType\":\"uuid\"}");
    } else {
        sf_buf_puts(b, "\"string\"");
    }
}

static bool name_char(unsigned char ch, bool first)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

/** Append the Avro name made from s to b: see the naming rules in sqlflume/avro_row.h. */
static void put_name(struct sf_buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (!u[0] || (u[0] >= '0' && u[0] <= '9')) {
        sf_buf_putc(b, '_');
    }
    for (size_t i = 0; u[i]; i++) {
        sf_buf_putc(b, name_char(u[i], false) ? (char)u[i] : '_');
    }
}

/** Whether the name in names[0..n) (each NUL-terminated, back to back in buf) equals nm. */
static bool name_taken(const struct sf_buf *names, const size_t *at, size_t n, const char *nm)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(names->data + at[i], nm) == 0) {
            return true;
        }
    }
    return false;
}

void sf_avro_schema_build(struct sf_avro_schema *s,
                          const char *name,
                          const struct sf_column *cols,
                          size_t n)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->cols[i].name);
    }
    if (n > s->cap) {
        struct sf_avro_field *f = realloc(s->fields, n * sizeof(*f));
        struct sf_column *c = f ? realloc(s->cols, n * sizeof(*c)) : NULL;
        if (!c) {
            abort(); /* as sf_buf_reserve */
        }
        s->fields = f;
        s->cols = c;
        s->cap = n;
    }
    s->n = n;
    /* the fields' Avro names, NUL-separated, to resolve collisions */
    struct sf_buf names = SF_BUF_INIT, one = SF_BUF_INIT, doc = SF_BUF_INIT;
    size_t *at = calloc(n ? n : 1, sizeof(*at));
    if (!at) {
        abort();
    }
    struct sf_buf *b = &s->json;
    sf_buf_reset(b);
    sf_buf_puts(b, "{\"type\":\"record\",\"name\":\"");
    put_name(b, name ? name : "");
    sf_buf_puts(b, "\",\"fields\":[");
    for (size_t i = 0; i < n; i++) {
        s->cols[i] = cols[i];
        s->cols[i].name = strdup(cols[i].name ? cols[i].name : "");
        if (!s->cols[i].name) {
            abort();
        }
        s->fields[i] = field_of(&cols[i]);
        sf_buf_reset(&one);
        put_name(&one, s->cols[i].name);
        size_t base = one.len;
        for (int k = 2; name_taken(&names, at, i, one.data); k++) {
            one.len = base;
            sf_buf_printf(&one, "_%d", k);
        }
        at[i] = names.len;
        sf_buf_append(&names, one.data, one.len + 1);
        sf_buf_printf(b, "%s{\"name\":\"%s\",\"type\":[\"null\",", i ? "," : "", one.data);
        put_type(b, &s->fields[i], &cols[i]);
        sf_buf_puts(b, "],\"default\":null");
        if (strcmp(one.data, s->cols[i].name) != 0) {
            sf_buf_reset(&doc);
            sf_buf_printf(&doc, "column %s", s->cols[i].name);
            sf_buf_puts(b, ",\"doc\":");
            sf_json_append_string(b, doc.data, doc.len);
        }
        sf_buf_putc(b, '}');
    }
    sf_buf_puts(b, "]}");
    snprintf(s->hash, sizeof(s->hash), "%016llx",
             (unsigned long long)sf_avro_crc64(b->data, b->len));
    free(at);
    sf_buf_free(&names);
    sf_buf_free(&one);
    sf_buf_free(&doc);
}

uint64_t sf_avro_crc64(const void *p, size_t n)
{
    /* bit by bit, without the usual table: a schema is fingerprinted once per change */
    static const uint64_t empty = UINT64_C(0xc15d213aa4d7a795);
    const unsigned char *u = p;
    uint64_t fp = empty;
    for (size_t i = 0; i < n; i++) {
        uint64_t t = (fp ^ u[i]) & 0xff;
        for (int j = 0; j < 8; j++) {
            t = (t >> 1) ^ (empty & (0 - (t & 1)));
        }
        fp = (fp >> 8) ^ t;
    }
    return fp;
}

bool sf_avro_schema_matches(const struct sf_avro_schema *s, const struct sf_column *cols, size_t n)
{
    if (!s->json.data || s->n != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const struct sf_column *a = &s->cols[i], *c = &cols[i];
        if (a->type != c->type || a->sub != c->sub || a->precision != c->precision ||
            a->scale != c->scale || strcmp(a->name, c->name ? c->name : "") != 0) {
            return false;
        }
    }
    return true;
}

void sf_avro_schema_free(struct sf_avro_schema *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->cols[i].name);
    }
    free(s->cols);
    free(s->fields);
    sf_buf_free(&s->json);
    *s = (struct sf_avro_schema){ 0 };
}
