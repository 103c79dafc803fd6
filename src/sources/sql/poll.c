/* poll.c: one poll of a table: its query, its rows' offsets and their delivery (see sql_int.h). */
#include "sql_int.h"

/* What a poll's callbacks of the fetch loop share. */
struct poll_arg {
    long long start_ms; /* first-seen time of gaps opened by this poll */
};

/* The offset columns must be in the result. */
static bool poll_layout(struct fetch *f, const char *missing)
{
    if (missing) {
        snprintf(f->err, sizeof(f->err), "%s column \"%s\" is not in the result of the query",
                 missing == f->t->ts ? "timestamp" : "incremental", missing);
        return false;
    }
    return true;
}

/* The row's offset: "ts", "inc" or "ts,inc"; a row with a NULL timestamp is skipped, a NULL
 * incremental value is fatal. Gap tracking sees the id. */
static int poll_row(struct fetch *f, const struct sf_row *row)
{
    const struct poll_arg *pa = f->arg;
    struct sql_table *t = f->t;
    struct sf_buf *off = &f->last;
    int ts_idx = f->lo.ts_idx, inc_idx = f->lo.inc_idx;
    if (ts_idx >= 0) {
        if (!row->vals[ts_idx]) {
            return ROW_SKIP; /* a NULL timestamp is never past any offset: not selected anyway */
        }
        sf_buf_append(off, row->vals[ts_idx], row->lens[ts_idx]);
    }
    if (inc_idx >= 0) {
        if (!row->vals[inc_idx]) {
            snprintf(f->err, sizeof(f->err), "incremental column \"%s\" is NULL in a row of \"%s\"",
                     t->inc ? t->inc : "(first column)", t->name ? t->name : t->status_key);
            return ROW_FATAL;
        }
        if (ts_idx >= 0) {
            sf_buf_putc(off, ',');
        }
        sf_buf_append(off, row->vals[inc_idx], row->lens[inc_idx]);
        if (t->gaps_on) {
            sq_gap_see(t, off->data, off->len, pa->start_ms);
        }
    }
    return ROW_EVENT;
}

/* Put a batch into the channels under the offset it reaches (the last row's, with gap tracking
 * "hw;gaps"), registered with the table's tracker and recorded in durable channels in the same
 * commit (not in bulk mode, which has no offset); the read position and the gap state advance
 * when the channels took it. */
static int poll_deliver(struct fetch *f, size_t n, bool end)
{
    (void)end;
    struct sql_ctx *c = f->src->ctx;
    struct sql_table *t = f->t;
    const char *last_offset = sq_batch_offset(t, &f->last);
    int rc = sq_deliver(f->src, t->tracker, n, last_offset, t->chan_key,
                        c->mode == MODE_BULK ? NULL : last_offset);
    if (rc == SF_OK && t->gaps_on) {
        sf_gapset_copy(&t->gs, &t->gs_work);
    }
    if (rc == SF_OK && c->mode != MODE_BULK) {
        sq_set_str(&t->read_offset, last_offset);
    }
    return rc;
}

static const struct fetch_ops poll_ops = {
    .what = "poll",
    .rows_what = "rows",
    .full_on_next = false,
    .end_empty = false,
    .layout = poll_layout,
    .row = poll_row,
    .deliver = poll_deliver,
    .after_batch = NULL,
};

/* Run one query of table t and deliver its rows. *rows gets the number read.
 * @return SF_READY when the poll completed, else the status to return (backoff/fatal). */
enum sf_status sq_poll_table(struct sf_source *src, struct sql_table *t, long long *rows)
{
    struct poll_arg pa = { sf_mono_ms() };
    struct sql_ctx *c = src->ctx;
    /* the bound offset parameters of the mode */
    struct sf_param params[3];
    char *ts_part;
    size_t nparams = sq_poll_params(c, t, params, &ts_part);
    const char *sql = t->read_offset ? t->sql.data : t->sql_first.data;
    struct sf_param gparams[1 + 2 * SF_GAPS_MAX];
    char gnum[1 + 2 * SF_GAPS_MAX][24];
    bool gapq = t->gaps_on && t->read_offset;
    if (gapq) {
        sql = sq_gap_query(src, t, gparams, gnum, &nparams);
    }
    struct fetch f = { .src = src, .t = t, .ops = &poll_ops, .arg = &pa };
    enum sf_status st = sq_fetch_deliver(&f, sql, gapq ? gparams : params, nparams);
    free(ts_part);
    *rows = f.rows;
    if (st != SF_READY) {
        return st;
    }
    t->poll_full = *rows >= c->max_rows;
    if (*rows > 0) {
        SF_DEBUG(SF_SOURCE_FMT "read %lld rows of \"%s\" up to offset \"%s\"", SF_SOURCE_ARGS(src),
                 *rows, t->status_key, OFF_TEXT(t->read_offset));
    }
    return SF_READY;
}
