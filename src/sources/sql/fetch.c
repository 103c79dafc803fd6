/* fetch.c: the fetch -> batch -> deliver loop of polls and backfill chunks (see sql_int.h). */
#include "sql_int.h"

void sq_free_batch(struct sql_ctx *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sf_event_destroy(c->batch[i]);
        c->batch[i] = NULL;
    }
}

/* Register the n events c->batch[0..n) with tracker under the position pos and put them into
 * every channel, which record `record` (NULL: nothing) under chan_key in the same commit, counting
 * Flume's SourceCounter batches and events received and accepted. With n == 0 only pos is
 * registered (an empty batch, committable once everything before it is). The batch's slots are
 * cleared: the channels own the events, or sf_source_deliver freed them.
 * @return SF_OK, or sf_source_deliver's SF_ERR_STOPPED. */
int sq_deliver(struct sf_source *src,
               struct sf_ack_tracker *tracker,
               size_t n,
               const char *pos,
               const char *chan_key,
               const char *record)
{
    struct sql_ctx *c = src->ctx;
    uint64_t id = sf_ack_tracker_add(tracker, n, n > 0 ? (unsigned)src->nch : 1u, pos);
    if (n == 0) {
        return SF_OK;
    }
    for (size_t i = 0; i < n; i++) {
        c->batch[i]->tracker = tracker;
        c->batch[i]->ack_id = id;
    }
    atomic_fetch_add(&src->metrics.batch_received, 1);
    atomic_fetch_add(&src->metrics.event_received, (long long)n);
    int rc = sf_source_deliver(src, c->batch, n, chan_key, record);
    for (size_t i = 0; i < n; i++) {
        c->batch[i] = NULL;
    }
    if (rc == SF_OK) {
        atomic_fetch_add(&src->metrics.batch_accepted, 1);
        atomic_fetch_add(&src->metrics.event_accepted, (long long)n);
    }
    return rc;
}

/* A batch that does not end the result: deliver it, then write the offsets delivered so far.
 * @return false when stopping. */
static bool deliver_middle(struct fetch *f, size_t n)
{
    if (f->ops->deliver(f, n, false) != SF_OK) {
        return false; /* stopping: the unread rows are read again next start */
    }
    sq_flush_offsets(f->src, false);
    if (f->ops->after_batch) {
        f->ops->after_batch(f->src, f->t);
    }
    return true;
}

/*
 * Run sql with its nparams params on the rows connection and put its rows into the channels:
 * each row is checked and given its offset by f->ops->row, encoded (sq_row_event) and collected
 * in c->batch; a batch of batch.size events goes to ops->deliver as soon as it is full (or, with
 * ops->full_on_next, once the next row shows it does not end the result), the rest at the end
 * (with ops->end_empty even when nothing is left). f->rows gets the number of rows read. A failed
 * query or fetch backs off (retriable: the rows connection is closed) or is fatal; the rows after
 * the last delivered batch are read again by the next query.
 * @return SF_READY when the result was read and delivered completely, else the status to return
 * (backoff/fatal; SF_BACKOFF when stopping).
 */
enum sf_status
sq_fetch_deliver(struct fetch *f, const char *sql, const struct sf_param *params, size_t nparams)
{
    struct sf_source *src = f->src;
    struct sql_table *t = f->t;
    const struct fetch_ops *ops = f->ops;
    struct sql_ctx *c = src->ctx;
    char what[64];
    f->rows = 0;
    f->err[0] = '\0';
    f->last = (struct sf_buf)SF_BUF_INIT;
    const struct sf_column *cols;
    size_t ncols;
    int rc = c->cx->query(c->conn, sql, params, nparams, &cols, &ncols, f->err, sizeof(f->err));
    if (rc != SF_OK) {
        if (!sf_err_retriable(rc)) {
            return sq_fatal(src, "%s query of \"%s\" failed: %s", ops->what, t->status_key, f->err);
        }
        sq_close_rows(c);
        snprintf(what, sizeof(what), "%s query failed", ops->what);
        return sq_backoff(src, rc, what, f->err);
    }
    /* where the offset and key values are in each row */
    const char *missing = sq_row_layout(c, t, cols, ncols, &f->lo);
    sq_prepare_keys(src, t, &f->lo);
    if (!ops->layout(f, missing)) {
        c->cx->query_end(c->conn);
        return sq_fatal(src, "%s", f->err);
    }
    enum { READ_ALL, STOPPED, BAD_ROW, NO_MEMORY } why = READ_ALL;
    size_t n = 0;
    struct sf_row row;
    int got;
    struct sf_buf ts = SF_BUF_INIT; /* the timestamp header of the batch's events */
    while ((got = c->cx->fetch(c->conn, &row, f->err, sizeof(f->err))) == 1) {
        if (ops->full_on_next && n == (size_t)c->batch_size) {
            bool more = deliver_middle(f, n);
            n = 0;
            if (!more) {
                why = STOPPED;
                break;
            }
        }
        f->rows++;
        sf_buf_reset(&f->last);
        int r = ops->row(f, &row);
        if (r == ROW_SKIP) {
            continue;
        }
        if (r == ROW_FATAL) {
            why = BAD_ROW;
            break;
        }
        if (!f->last.data) {
            sf_buf_puts(&f->last, "");
        }
        if (n == 0) {
            sf_buf_reset(&ts);
            sf_buf_printf(&ts, "%lld", sq_now_ms());
        }
        f->err[0] = '\0';
        struct sf_event *ev =
            sq_row_event(c, t, &f->lo, &row, &f->last, &ts, f->err, sizeof(f->err));
        if (!ev) {
            why = f->err[0] ? BAD_ROW : NO_MEMORY;
            break;
        }
        c->batch[n++] = ev;
        if (!ops->full_on_next && n == (size_t)c->batch_size) {
            bool more = deliver_middle(f, n);
            n = 0;
            if (!more) {
                why = STOPPED;
                break;
            }
        }
    }
    sf_buf_free(&ts);
    c->cx->query_end(c->conn); /* nothing above closes the rows connection */
    if (why != READ_ALL || got < 0) {
        sq_free_batch(c, n);
        n = 0;
    }
    enum sf_status st = SF_READY;
    if (why == STOPPED) {
        st = SF_BACKOFF; /* the unread rows are read again next start */
    } else if (why == BAD_ROW) {
        st = sq_fatal(src, "%s", f->err);
    } else if (why == NO_MEMORY) {
        st = sq_backoff(src, SF_ERR_NOMEM, "could not allocate an event", "out of memory");
    } else if (got < 0) { /* the batch's rows are read again after the last offset delivered */
        if (!sf_err_retriable(got)) {
            st = sq_fatal(src, "reading %s of \"%s\" failed: %s", ops->rows_what, t->status_key,
                          f->err);
        } else {
            sq_close_rows(c);
            snprintf(what, sizeof(what), "reading %s failed", ops->rows_what);
            st = sq_backoff(src, got, what, f->err);
        }
    } else if ((n > 0 || ops->end_empty) && ops->deliver(f, n, true) != SF_OK) {
        st = SF_BACKOFF; /* stopping */
    }
    sf_buf_free(&f->last);
    return st;
}
