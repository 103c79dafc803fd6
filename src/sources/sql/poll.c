/* poll.c: polling and delivery (see sql_int.h). */
#include "sql_int.h"

/* Register the batch with the table's tracker and put it into every channel, recording the
 * offset in durable channels in the same commit. */
static int
deliver_batch(struct sf_source *src, struct sql_table *t, size_t n, const char *last_offset)
{
    struct sql_ctx *c = src->ctx;
    uint64_t id = sf_ack_tracker_add(t->tracker, n, (unsigned)src->nch, last_offset);
    for (size_t i = 0; i < n; i++) {
        c->batch[i]->tracker = t->tracker;
        c->batch[i]->ack_id = id;
    }
    atomic_fetch_add(&src->metrics.batch_received, 1);
    atomic_fetch_add(&src->metrics.event_received, (long long)n);
    int rc =
        sf_source_deliver(src, c->batch, n, t->chan_key, c->mode == MODE_BULK ? NULL : last_offset);
    if (rc == SF_OK && t->gaps_on) {
        sf_gapset_copy(&t->gs, &t->gs_work);
    }
    if (rc == SF_OK) {
        atomic_fetch_add(&src->metrics.batch_accepted, 1);
        atomic_fetch_add(&src->metrics.event_accepted, (long long)n);
        if (c->mode != MODE_BULK) {
            sq_set_str(&t->read_offset, last_offset);
        }
    }
    return rc;
}

void sq_free_batch(struct sql_ctx *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sf_event_destroy(c->batch[i]);
        c->batch[i] = NULL;
    }
}

/* Run one query of table t and deliver its rows. *rows gets the number read.
 * @return SF_READY when the poll completed, else the status to return (backoff/fatal). */
enum sf_status sq_poll_table(struct sf_source *src, struct sql_table *t, long long *rows)
{
    long long poll_start_ms = sf_mono_ms(); /* first-seen time of gaps opened by this poll */
    struct sql_ctx *c = src->ctx;
    char err[1024] = "";
    *rows = 0;
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
    const struct sf_column *cols;
    size_t ncols;
    int rc = c->cx->query(c->conn, sql, gapq ? gparams : params, nparams, &cols, &ncols, err,
                          sizeof(err));
    free(ts_part);
    if (rc != SF_OK) {
        if (!sf_err_retriable(rc)) {
            return sq_fatal(src, "poll query of \"%s\" failed: %s", t->status_key, err);
        }
        sq_close_rows(c);
        return sq_backoff(src, rc, "poll query failed", err);
    }
    /* where the offset and key values are in each row */
    struct row_layout lo;
    const char *missing = sq_row_layout(c, t, cols, ncols, &lo);
    sq_prepare_keys(c, cols, &lo);
    if (missing) {
        c->cx->query_end(c->conn);
        return sq_fatal(src, "%s column \"%s\" is not in the result of the query",
                        missing == t->ts ? "timestamp" : "incremental", missing);
    }
    int inc_idx = lo.inc_idx, ts_idx = lo.ts_idx;
    const char *table_name = t->name ? t->name : t->status_key;
    size_t n = 0;
    struct sf_buf last = SF_BUF_INIT;
    struct sf_row row;
    int got;
    char tsbuf[24] = "";
    size_t ts_len = 0;
    while ((got = c->cx->fetch(c->conn, &row, err, sizeof(err))) == 1) {
        (*rows)++;
        /* the row's offset */
        sf_buf_reset(&last);
        if (ts_idx >= 0) {
            if (!row.vals[ts_idx]) {
                continue; /* a NULL timestamp is never past any offset: not selected anyway */
            }
            sf_buf_append(&last, row.vals[ts_idx], row.lens[ts_idx]);
        }
        if (inc_idx >= 0) {
            if (!row.vals[inc_idx]) {
                c->cx->query_end(c->conn);
                sq_free_batch(c, n);
                sf_buf_free(&last);
                return sq_fatal(src, "incremental column \"%s\" is NULL in a row of \"%s\"",
                                t->inc ? t->inc : "(first column)", table_name);
            }
            if (ts_idx >= 0) {
                sf_buf_putc(&last, ',');
            }
            sf_buf_append(&last, row.vals[inc_idx], row.lens[inc_idx]);
            if (t->gaps_on) {
                sq_gap_see(t, last.data, last.len, poll_start_ms);
            }
        }
        if (!last.data) {
            sf_buf_puts(&last, "");
        }
        if (n == 0) {
            int k = snprintf(tsbuf, sizeof(tsbuf), "%lld", sq_now_ms());
            ts_len = k > 0 ? (size_t)k : 0;
        }
        struct sf_event *ev =
            sq_row_event(c, t, &lo, cols, &row, last.data, last.len, tsbuf, ts_len);
        if (!ev) {
            c->cx->query_end(c->conn);
            sq_free_batch(c, n);
            sf_buf_free(&last);
            return sq_backoff(src, SF_ERR_NOMEM, "could not allocate an event", "out of memory");
        }
        c->batch[n++] = ev;
        if (n == (size_t)c->batch_size) {
            rc = deliver_batch(src, t, n, sq_batch_offset(t, &last));
            n = 0;
            if (rc != SF_OK) { /* stopping: the unread rows are read again next start */
                c->cx->query_end(c->conn);
                sf_buf_free(&last);
                return SF_BACKOFF;
            }
            sq_flush_offsets(src, false);
        }
    }
    if (got < 0) {
        sq_free_batch(c, n);
        c->cx->query_end(c->conn);
        sf_buf_free(&last);
        if (!sf_err_retriable(got)) {
            return sq_fatal(src, "reading rows of \"%s\" failed: %s", t->status_key, err);
        }
        sq_close_rows(c);
        return sq_backoff(src, got, "reading rows failed", err);
    }
    c->cx->query_end(c->conn);
    if (n > 0) {
        rc = deliver_batch(src, t, n, sq_batch_offset(t, &last));
        if (rc != SF_OK) {
            sf_buf_free(&last);
            return SF_BACKOFF;
        }
    }
    sf_buf_free(&last);
    t->poll_full = *rows >= c->max_rows;
    if (*rows > 0) {
        SF_DEBUG(SF_SOURCE_FMT "read %lld rows of \"%s\" up to offset \"%s\"", SF_SOURCE_ARGS(src),
                 *rows, t->status_key, OFF_TEXT(t->read_offset));
    }
    return SF_READY;
}
