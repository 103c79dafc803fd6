/* row.c: row to event (see sql_int.h). */
#include "sql_int.h"

/* The index of column name in cols (exact match first, then ignoring case), or -1 when it is not
 * there: a lookup, not an error code. */
static int find_col(const struct sf_column *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cols[i].name, name) == 0) {
            return (int)i;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(cols[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Find the columns of the query's result. @return NULL, or the name of the offset column that is
 * missing from the result (a fatal error). */
const char *sq_row_layout(const struct sql_ctx *c,
                          const struct sql_table *t,
                          const struct sf_column *cols,
                          size_t ncols,
                          struct row_layout *lo)
{
    bool explicit_cols = !c->custom_query && strcmp(c->columns, "*") != 0;
    lo->cols = cols;
    size_t hidden = (t->inc ? 1 : 0) + (t->ts ? 1 : 0) + t->npk;
    lo->nvisible = explicit_cols ? ncols - hidden : ncols;
    lo->inc_idx = -1;
    lo->ts_idx = -1;
    lo->nkey = t->npk < MAX_KEY_COLS ? t->npk : MAX_KEY_COLS;
    if (explicit_cols) {
        size_t at = lo->nvisible;
        lo->inc_idx = t->inc ? (int)at++ : -1;
        lo->ts_idx = t->ts ? (int)at++ : -1;
        for (size_t i = 0; i < lo->nkey; i++) {
            lo->key_idx[i] = (int)at++;
        }
    } else {
        lo->inc_idx = t->inc ? find_col(cols, ncols, t->inc) : (c->custom_query ? 0 : -1);
        lo->ts_idx = t->ts ? find_col(cols, ncols, t->ts) : -1;
        for (size_t i = 0; i < lo->nkey; i++) {
            lo->key_idx[i] = find_col(cols, ncols, t->pk[i]);
            if (lo->key_idx[i] < 0) {
                lo->nkey = 0;
            }
        }
    }
    if ((t->inc || c->custom_query) && lo->inc_idx < 0) {
        return t->inc ? t->inc : "(first column)";
    }
    if (t->ts && lo->ts_idx < 0) {
        return t->ts;
    }
    return NULL;
}

/* Build the JSON keys of a new result's visible columns (once per query, not per row), or with
 * format avro check the table's schema against them (rebuilt, with an INFO line, when the columns
 * changed); every query that sq_row_event() encodes rows of calls this first. */
void sq_prepare_keys(struct sf_source *src, struct sql_table *t, const struct row_layout *lo)
{
    struct sql_ctx *c = src->ctx;
    c->fmt.json_keys = NULL;
    c->fmt.avro = NULL;
    if (c->fmt.kind == SF_FORMAT_JSON) {
        sf_json_keys_build(&c->jkeys, lo->cols, lo->nvisible);
        c->fmt.json_keys = &c->jkeys;
    } else if (c->fmt.kind == SF_FORMAT_AVRO) {
        if (!sf_avro_schema_matches(&t->avro, lo->cols, lo->nvisible)) {
            bool changed = t->avro.json.data != NULL;
            sf_avro_schema_build(&t->avro, t->name ? t->name : t->status_key, lo->cols,
                                 lo->nvisible);
            SF_INFO(SF_SOURCE_FMT "table \"%s\": %s Avro schema %s of %zu fields: %s",
                    SF_SOURCE_ARGS(src), t->status_key,
                    changed ? "the columns changed, new" : "format avro,", t->avro.hash,
                    t->avro.n, t->avro.json.data);
        }
        c->fmt.avro = &t->avro;
    }
}

/* Encode row (of the result lo describes) into an event with the headers table, offset (the
 * row's offset text off), key (the primary key values joined by ',', else off) and timestamp
 * (ts), and with format avro flume.avro.schema.literal (the table's schema, as Flume's
 * AvroEventSerializer reads it) and flume.avro.schema.hash (its fingerprint). @return NULL with errstr set when a value cannot be encoded
 * (format avro), NULL with errstr untouched on out of memory. */
struct sf_event *sq_row_event(struct sql_ctx *c,
                              const struct sql_table *t,
                              const struct row_layout *lo,
                              const struct sf_row *row,
                              const struct sf_buf *off,
                              const struct sf_buf *ts,
                              char *errstr,
                              size_t errstr_size)
{
    struct sf_row vis = { lo->nvisible, row->vals, row->lens };
    sf_buf_reset(&c->body);
    if (c->fmt.kind == SF_FORMAT_AVRO) {
        char why[256];
        if (sf_avro_row_encode(c->fmt.avro, &vis, &c->body, why, sizeof(why)) != SF_OK) {
            snprintf(errstr, errstr_size,
                     "format avro: table \"%s\", the row at offset %s: %s; the source stops "
                     "here (select the column cast to text, or use format json)",
                     t->status_key, off->data ? off->data : "", why);
            return NULL;
        }
    } else {
        sf_format_row(&c->fmt, lo->cols, &vis, &c->body);
    }
    sf_buf_reset(&c->keybuf);
    if (lo->nkey) {
        for (size_t i = 0; i < lo->nkey; i++) {
            if (i) {
                sf_buf_putc(&c->keybuf, ',');
            }
            const char *kv = row->vals[lo->key_idx[i]];
            if (kv) {
                sf_buf_append(&c->keybuf, kv, row->lens[lo->key_idx[i]]);
            }
        }
    } else {
        sf_buf_append(&c->keybuf, off->data, off->len);
    }
    const char *table = t->name ? t->name : t->status_key;
    const struct sf_buf *sch = &t->avro.json;
    struct sf_header_lens h[6] = {
        { SF_HDR_TABLE, sizeof(SF_HDR_TABLE) - 1, table, strlen(table) },
        { SF_HDR_OFFSET, sizeof(SF_HDR_OFFSET) - 1, off->data, off->len },
        { SF_HDR_KEY, sizeof(SF_HDR_KEY) - 1, c->keybuf.data ? c->keybuf.data : "", c->keybuf.len },
        { SF_HDR_TIMESTAMP, sizeof(SF_HDR_TIMESTAMP) - 1, ts->data ? ts->data : "", ts->len },
        { SF_HDR_AVRO_SCHEMA_LITERAL, sizeof(SF_HDR_AVRO_SCHEMA_LITERAL) - 1, sch->data, sch->len },
        { SF_HDR_AVRO_SCHEMA_HASH, sizeof(SF_HDR_AVRO_SCHEMA_HASH) - 1, t->avro.hash, 16 },
    };
    size_t nh = c->fmt.kind == SF_FORMAT_AVRO ? 6 : 4;
    return sf_event_create_lens(h, nh, c->body.data ? c->body.data : "", c->body.len);
}
