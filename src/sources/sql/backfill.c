/* backfill.c: backfill: start-up, chunks, delivery (see sql_int.h). */
#include "sql_int.h"

/* The progress to resume from: per durable channel the later of flume_meta's value (meta) and
 * that channel's record of the same backfill (same hwm), then the earliest over the channels, as
 * sq_load_offset does. Adds what the channels said to why. @return malloc'd. */
static char *
bf_resume_value(struct sf_source *src, struct sql_table *t, const char *meta, struct sf_buf *why)
{
    struct bf_prog mp;
    if (sq_bf_parse(meta, &mp) != SF_OK) {
        return strdup(meta);
    }
    char *resume = NULL;
    long long resume_rank = 0;
    for (size_t i = 0; i < src->nch; i++) {
        char *chan = NULL;
        const char *pos = meta;
        long long rank = sq_bf_rank(&mp);
        struct bf_prog cp;
        if (sf_channel_offset_get(src->chs[i], t->bf_chan_key, &chan) == SF_OK && chan &&
            sq_bf_parse(chan, &cp) == SF_OK) {
            sf_buf_printf(why, ", channel \"%s\" recorded \"%s\"", src->chs[i]->name, chan);
            if (cp.hwm && mp.hwm && strcmp(cp.hwm, mp.hwm) == 0 && sq_bf_rank(&cp) > rank) {
                pos = chan;
                rank = sq_bf_rank(&cp);
            }
            sq_bf_prog_free(&cp);
        }
        if (!resume || rank < resume_rank) {
            sq_set_str(&resume, pos);
            resume_rank = rank;
        }
        free(chan);
    }
    sq_bf_prog_free(&mp);
    return resume ? resume : strdup(meta);
}

/* The high-water mark: the mode's offset of the newest row now (timestamp modes: below the
 * database's now minus timestamp.delay.interval.ms, as their polls). *out is malloc'd, or NULL
 * for an empty table. */
static int bf_query_hwm(struct sql_ctx *c, struct sql_table *t, char **out, char *err, size_t errsz)
{
    *out = NULL;
    struct sf_buf q = SF_BUF_INIT, upper = SF_BUF_INIT;
    c->cx->now_minus_ms(c->ts_delay_ms, &upper);
    switch (c->mode) {
    case MODE_TIMESTAMP:
        sf_buf_printf(&q, "SELECT MAX(%s) FROM %s WHERE %s < %s", t->qts.data, t->qtab.data,
                      t->qts.data, upper.data);
        break;
    case MODE_TS_INC:
        sf_buf_printf(&q,
                      "SELECT %s, %s FROM %s WHERE %s < %s AND %s IS NOT NULL ORDER BY %s DESC, "
                      "%s DESC LIMIT 1",
                      t->qts.data, t->qinc.data, t->qtab.data, t->qts.data, upper.data,
                      t->qinc.data, t->qts.data, t->qinc.data);
        break;
    default:
        sf_buf_printf(&q, "SELECT MAX(%s) FROM %s", t->qinc.data, t->qtab.data);
        break;
    }
    const struct sf_column *cols;
    size_t ncols;
    int rc = c->cx->query(c->conn, q.data, NULL, 0, &cols, &ncols, err, errsz);
    if (rc == SF_OK) {
        struct sf_row row;
        int got;
        while ((got = c->cx->fetch(c->conn, &row, err, errsz)) == 1) {
            bool pair = c->mode == MODE_TS_INC;
            if (!*out && row.ncols > (pair ? 1u : 0u) && row.vals[0] && (!pair || row.vals[1])) {
                struct sf_buf v = SF_BUF_INIT;
                sf_buf_append(&v, row.vals[0], row.lens[0]);
                if (pair) {
                    sf_buf_putc(&v, ',');
                    sf_buf_append(&v, row.vals[1], row.lens[1]);
                }
                *out = sf_buf_steal(&v);
            }
        }
        c->cx->query_end(c->conn);
        if (got < 0) {
            rc = got;
            free(*out);
            *out = NULL;
        }
    }
    sf_buf_free(&q);
    sf_buf_free(&upper);
    return rc;
}

/* The rows the backfill will read, roughly: the server's statistics (the connector's
 * estimate_rows: no scan, so fine on huge tables), else for an integer key the key range
 * MAX - MIN + 1 (two index look-ups; exact for dense ids, an upper bound otherwise), else -1.
 * For progress reports only: errors just leave the estimate unknown. */
static long long bf_estimate(struct sql_ctx *c, struct sql_table *t, const char **how)
{
    char err[512] = "";
    long long est = -1;
    *how = "unknown";
    if (c->cx->estimate_rows &&
        c->cx->estimate_rows(c->conn, t->name, &est, err, sizeof(err)) != SF_OK) {
        SF_DEBUG("no row estimate for \"%s\": %s", t->name, err);
        est = -1;
    }
    if (est > 0) {
        *how = "server statistics";
        return est;
    }
    est = -1;
    if (t->pk_type != SF_COL_INT) {
        return est;
    }
    struct sf_buf q = SF_BUF_INIT;
    sf_buf_printf(&q, "SELECT MIN(%s), MAX(%s) FROM %s", t->qpk.data, t->qpk.data, t->qtab.data);
    const struct sf_column *cols;
    size_t ncols;
    if (c->cx->query(c->conn, q.data, NULL, 0, &cols, &ncols, err, sizeof(err)) == SF_OK) {
        struct sf_row row;
        while (c->cx->fetch(c->conn, &row, err, sizeof(err)) == 1) {
            if (row.ncols >= 2 && row.vals[0] && row.vals[1] && row.lens[0] < 24 &&
                row.lens[1] < 24) {
                char lo[24], hi[24];
                memcpy(lo, row.vals[0], row.lens[0]);
                lo[row.lens[0]] = '\0';
                memcpy(hi, row.vals[1], row.lens[1]);
                hi[row.lens[1]] = '\0';
                long long a = strtoll(lo, NULL, 10), b = strtoll(hi, NULL, 10);
                if (b >= a && b - a < LLONG_MAX) {
                    est = b - a + 1;
                    *how = "primary key range";
                }
            }
        }
        c->cx->query_end(c->conn);
    }
    sf_buf_free(&q);
    return est;
}

/* Take over a chosen progress p (its strings move) and the high-water mark's parts. */
static void bf_adopt(struct sql_ctx *c, struct sql_table *t, struct bf_prog *p)
{
    free(t->bf_hwm);
    free(t->bf_key);
    t->bf_hwm = p->hwm;
    t->bf_key = p->key;
    p->hwm = p->key = NULL;
    t->bf_chunks = p->chunks;
    t->bf_rows = p->rows;
    /* a chunk cut short by a stop continues where it ended, so that chunk N keeps meaning the
     * rows N * chunk.size + 1 .. (N + 1) * chunk.size (unless the chunk size changed) */
    long long partial =
        p->chunks <= LLONG_MAX / c->bf_chunk_size ? p->rows - p->chunks * c->bf_chunk_size : 0;
    t->bf_chunk_rows = partial > 0 && partial < c->bf_chunk_size ? partial : 0;
    free(t->bf_h1);
    free(t->bf_h2);
    t->bf_h1 = t->bf_h2 = NULL;
    if (c->mode == MODE_TS_INC && t->bf_hwm) {
        const char *comma = strchr(t->bf_hwm, ',');
        t->bf_h1 = comma ? strndup(t->bf_hwm, (size_t)(comma - t->bf_hwm)) : strdup(t->bf_hwm);
        t->bf_h2 = strdup(comma ? comma + 1 : "0");
    } else if (t->bf_hwm) {
        t->bf_h1 = strdup(t->bf_hwm);
    }
}


/*
 * Right after the high-water mark is taken (or a backfill resumes), note the write transactions
 * of other sessions that are open: they may hold rows below the mark (an id taken before the
 * mark, committed later) that a chunk would pass before they commit. The backfill waits for
 * them before its next chunk. Where the server does not tell (no connector support, no
 * privilege: an SQL error), warn: such a row would then be missed, as by Sqoop.
 * @return SF_OK, or a retriable connection error (err filled) for the caller to retry.
 */
static int bf_take_open_txns(struct sf_source *src, struct sql_table *t, char *err, size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    free(t->bf_wait_txns);
    t->bf_wait_txns = NULL;
    if (!c->cx->open_txns_sql) {
        return SF_OK;
    }
    char *list = NULL;
    int rc = sq_rows_value(c, c->cx->open_txns_sql, NULL, &list, err, errsz);
    if (rc != SF_OK && sf_err_retriable(rc)) {
        return rc;
    }
    if (rc != SF_OK) {
        SF_WARN(SF_SOURCE_FMT
                "table \"%s\": cannot list the open transactions (%s); the "
                "backfill does not wait for them, so a row committed below its high-water mark "
                "after its chunk was read would be missed (MySQL/MariaDB: GRANT PROCESS to the "
                "source's user)",
                SF_SOURCE_ARGS(src), t->status_key, err);
        return SF_OK;
    }
    if (list && *list) {
        t->bf_wait_txns = list;
        t->bf_wait_ms0 = t->bf_wait_log_ms = sf_mono_ms();
        SF_INFO(SF_SOURCE_FMT
                "table \"%s\": the backfill first waits for the write "
                "transactions open now (%s), which may hold rows below its high-water mark",
                SF_SOURCE_ARGS(src), t->status_key, list);
        return SF_OK;
    }
    free(list);
    return SF_OK;
}

/* Whether the backfill must still wait for the transactions bf_take_open_txns noted (logged at
 * most every BF_LOG_MS). @return SF_OK with *waiting set, or the connector's error. */
int sq_bf_open_txns_wait(struct sf_source *src,
                         struct sql_table *t,
                         bool *waiting,
                         char *err,
                         size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    *waiting = false;
    if (!t->bf_wait_txns) {
        return SF_OK;
    }
    char *n = NULL;
    int rc = sq_rows_value(c, c->cx->open_txns_count_sql, t->bf_wait_txns, &n, err, errsz);
    if (rc != SF_OK) {
        free(n);
        return rc;
    }
    long long open = n ? strtoll(n, NULL, 10) : 0;
    free(n);
    long long now = sf_mono_ms();
    if (open > 0) {
        *waiting = true;
        if (now - t->bf_wait_log_ms >= BF_LOG_MS) {
            t->bf_wait_log_ms = now;
            SF_INFO(SF_SOURCE_FMT "table \"%s\": the backfill is waiting for %lld transaction(s) "
                                  "open since it started %lld s ago",
                    SF_SOURCE_ARGS(src), t->status_key, open, (now - t->bf_wait_ms0) / 1000);
        }
        return SF_OK;
    }
    SF_INFO(SF_SOURCE_FMT "table \"%s\": the transactions open at the start of the backfill "
                          "have ended (waited %lld ms); reading chunks",
            SF_SOURCE_ARGS(src), t->status_key, now - t->bf_wait_ms0);
    free(t->bf_wait_txns);
    t->bf_wait_txns = NULL;
    return SF_OK;
}

/*
 * Decide, once per run, where the table's backfill stands: resume from its .backfill row (or a
 * durable channel's later record of it), or start one: fix the high-water mark, raise the main
 * offset to it and record chunk 0, all before anything is read. Needs the prepared table.
 */
int sq_bf_load(struct sf_source *src, struct sql_table *t, char *err, size_t errsz, bool *is_fatal)
{
    struct sql_ctx *c = src->ctx;
    *is_fatal = true;
    if (t->npk != 1) {
        snprintf(err, errsz,
                 "table \"%s\" has %s; backfill reads a table in chunks ordered by a "
                 "single-column primary key: add one, or set backfill = false",
                 t->name, t->npk == 0 ? "no primary key" : "a composite primary key");
        return SF_ERR_INVAL;
    }
    sf_buf_reset(&t->qpk);
    int rc = c->cx->quote_ident(t->pk[0], &t->qpk);
    if (rc != SF_OK) {
        snprintf(err, errsz, "bad primary key column name in table \"%s\"", t->name);
        return rc;
    }
    rc = sq_probe_type(c, t->qtab.data, t->pk[0], &t->pk_type, err, errsz);
    if (rc != SF_OK) {
        *is_fatal = !sf_err_retriable(rc);
        return rc;
    }
    if (t->pk_type == SF_COL_BINARY) {
        snprintf(err, errsz,
                 "the primary key \"%s\" of table \"%s\" is binary; backfill keeps the last key "
                 "as text in %s: set backfill = false",
                 t->pk[0], t->name, c->status_table);
        return SF_ERR_INVAL;
    }
    char *meta = NULL;
    rc = sq_meta_get(c, t->bf_status_key, &meta, err, errsz);
    if (rc != SF_OK) {
        *is_fatal = !sf_err_retriable(rc);
        return rc;
    }
    struct bf_prog p;
    struct sf_buf why = SF_BUF_INIT;
    char *resume = NULL;
    bool resuming = meta != NULL;
    if (resuming) {
        if (sq_bf_parse(meta, &p) != SF_OK) {
            snprintf(err, errsz,
                     "%s row \"%s\" holds \"%s\", which is not backfill progress; delete the row "
                     "to backfill the table again",
                     c->status_table, t->bf_status_key, meta);
            free(meta);
            return SF_ERR_INVAL;
        }
        sq_bf_prog_free(&p);
        sf_buf_printf(&why, "%s has \"%s\"", c->status_table, meta);
        resume = bf_resume_value(src, t, meta, &why);
        if (!resume || sq_bf_parse(resume, &p) != SF_OK) {
            snprintf(err, errsz, "out of memory");
            free(meta);
            free(resume);
            sf_buf_free(&why);
            return SF_ERR_NOMEM;
        }
        rc = p.hwm ? sq_raise_offset(src, t, p.hwm, err, errsz) : SF_OK;
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
            free(meta);
            free(resume);
            sq_bf_prog_free(&p);
            sf_buf_free(&why);
            return rc;
        }
        free(t->bf_written);
        t->bf_written = meta;
        free(t->bf_reg);
        t->bf_reg = resume;
        if (p.done) {
            t->bf = BF_DONE;
            SF_INFO(SF_SOURCE_FMT "table \"%s\": backfill finished earlier (%s); streaming after "
                                  "\"%s\"",
                    SF_SOURCE_ARGS(src), t->status_key, why.data, OFF_TEXT(t->read_offset));
            sq_bf_prog_free(&p);
            sf_buf_free(&why);
            return SF_OK;
        }
    } else {
        char *hwm = NULL;
        rc = bf_query_hwm(c, t, &hwm, err, errsz);
        if (rc == SF_OK && !hwm) {
            rc = sq_meta_put(c, t->bf_status_key, "done;rows=0", err, errsz);
            if (rc == SF_OK) {
                sq_set_str(&t->bf_written, "done;rows=0");
                sq_set_str(&t->bf_reg, "done;rows=0");
                t->bf = BF_DONE;
                SF_INFO(SF_SOURCE_FMT "table \"%s\": nothing to backfill (the table is empty); "
                                      "streaming after \"%s\"",
                        SF_SOURCE_ARGS(src), t->status_key, OFF_TEXT(t->read_offset));
                return SF_OK;
            }
        }
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
            free(hwm);
            return rc;
        }
        /* the longest value it will need without a key must fit */
        if (!sq_bf_encode(&c->bf_prog, false, 999999999999999999LL, 999999999999999999LL, NULL,
                          hwm)) {
            snprintf(err, errsz,
                     "the high-water mark \"%.64s...\" of table \"%s\" is too long to keep in %s",
                     hwm, t->name, c->status_table);
            free(hwm);
            return SF_ERR_INVAL;
        }
        rc = sq_raise_offset(src, t, hwm, err, errsz);
        if (rc == SF_OK) {
            sq_bf_encode(&c->bf_prog, false, 0, 0, NULL, hwm);
            rc = sq_meta_put(c, t->bf_status_key, c->bf_prog.data, err, errsz);
        }
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
            free(hwm);
            return rc;
        }
        sq_set_str(&t->bf_written, c->bf_prog.data);
        sq_set_str(&t->bf_reg, c->bf_prog.data);
        memset(&p, 0, sizeof(p));
        p.hwm = hwm;
    }
    bf_adopt(c, t, &p);
    sq_bf_prog_free(&p);
    const char *how;
    t->bf_estimate = bf_estimate(c, t, &how);
    char est[64] = "an unknown number of rows";
    if (t->bf_estimate >= 0) {
        snprintf(est, sizeof(est), "about %lld rows (%s)", t->bf_estimate, how);
    }
    if (resuming) {
        SF_INFO(SF_SOURCE_FMT "table \"%s\": resuming backfill at chunk %lld %s%s%s (%lld rows "
                              "exported before, of %s; %s)",
                SF_SOURCE_ARGS(src), t->status_key, t->bf_chunks,
                t->bf_key ? "after key \"" : "from the first key", t->bf_key ? t->bf_key : "",
                t->bf_key ? "\"" : "", t->bf_rows, est, why.data);
    } else {
        SF_INFO(SF_SOURCE_FMT "table \"%s\": starting backfill of %s up to offset \"%s\" in "
                              "chunks of %lld ordered by %s; streaming continues after it",
                SF_SOURCE_ARGS(src), t->status_key, est, t->bf_hwm, c->bf_chunk_size, t->qpk.data);
    }
    sf_buf_free(&why);
    rc = bf_take_open_txns(src, t, err, errsz);
    if (rc != SF_OK) {
        *is_fatal = false;
        return rc;
    }
    t->bf_rows_run0 = t->bf_rows;
    t->bf_start_ms = t->bf_log_ms = t->bf_bar_ms = sf_mono_ms();
    t->bf = BF_RUNNING;
    return SF_OK;
}

/* Wait until every channel has room for n more events, writing offsets meanwhile: on a full
 * channel sf_source_deliver backs off up to a second at a time and writes nothing, so the
 * .backfill row would fall behind what the sinks delivered. Advisory (another source may take the
 * room first; sf_source_deliver still waits then). @return false when stopping. */
static bool wait_room(struct sf_source *src, size_t n)
{
    for (;;) {
        bool room = true;
        for (size_t i = 0; i < src->nch; i++) {
            const struct sf_channel *ch = src->chs[i];
            long long want = (long long)sf_channel_size(src->chs[i]) + (long long)n;
            if ((long long)n <= ch->capacity && want > ch->capacity) {
                room = false;
            }
        }
        if (room) {
            return true;
        }
        sq_flush_offsets(src, false);
        if (!sf_source_sleep(src, BF_ROOM_WAIT_MS)) {
            return false;
        }
    }
}

/*
 * Put the backfill rows c->batch[0..n) into the channels, registered with the table's backfill
 * tracker under the progress they complete: last_key is the key of their last row (unused when
 * n == 0), chunk_end says they end a chunk, done that nothing is left to read. With n == 0 the
 * progress alone is registered (an empty batch, committable once everything before it is). The
 * in-memory read position advances only when the channels took the rows.
 * @return SF_OK, or SF_ERR_STOPPED (the events are freed).
 */
static int bf_deliver(struct sf_source *src,
                      struct sql_table *t,
                      size_t n,
                      const char *last_key,
                      bool chunk_end,
                      bool done)
{
    struct sql_ctx *c = src->ctx;
    if (n > 0 && !wait_room(src, n)) {
        sq_free_batch(c, n);
        return SF_ERR_STOPPED;
    }
    long long chunks = t->bf_chunks + (chunk_end ? 1 : 0);
    long long rows = t->bf_rows + (long long)n;
    const char *key = n > 0 ? last_key : t->bf_key;
    if (!sq_bf_encode(&c->bf_prog, done, chunks, rows, key, t->bf_hwm)) {
        /* a key too long for currentIndex: keep the last progress that fit (a restart repeats
         * more rows, nothing is lost) */
        if (!t->bf_warned_long) {
            SF_WARN(SF_SOURCE_FMT "table \"%s\": a primary key value is too long to keep in %s; "
                                  "backfill progress is recorded only where keys fit",
                    SF_SOURCE_ARGS(src), t->status_key, c->status_table);
            t->bf_warned_long = true;
        }
        sf_buf_reset(&c->bf_prog);
        sf_buf_puts(&c->bf_prog, t->bf_reg);
    }
    int rc = sq_deliver(src, t->bf_tracker, n, c->bf_prog.data, t->bf_chan_key, c->bf_prog.data);
    if (rc == SF_OK) {
        t->bf_chunks = chunks;
        t->bf_rows = rows;
        t->bf_chunk_rows = chunk_end ? 0 : t->bf_chunk_rows + (long long)n;
        if (n > 0) {
            sq_set_str(&t->bf_key, last_key);
        }
        sq_set_str(&t->bf_reg, c->bf_prog.data);
    }
    return rc;
}

/* What a chunk's callbacks of the fetch loop share. */
struct chunk_arg {
    struct sf_buf key; /* the key of the row read last */
    long long limit;   /* rows the chunk query asks for */
};

/* The key column (and the offset columns) must be in the result. */
static bool chunk_layout(struct fetch *f, const char *missing)
{
    if (missing || f->lo.nkey != 1) {
        snprintf(f->err, sizeof(f->err),
                 "column \"%s\" is not in the result of the backfill query of \"%s\"",
                 missing ? missing : f->t->pk[0], f->t->status_key);
        return false;
    }
    return true;
}

/* The row's key (fatal when NULL or with a NUL byte: it could not be resumed after) and its
 * offset value, as streaming would give it. */
static int chunk_row(struct fetch *f, const struct sf_row *row)
{
    struct chunk_arg *ca = f->arg;
    const struct row_layout *lo = &f->lo;
    struct sf_buf *off = &f->last;
    int key_idx = lo->key_idx[0];
    const char *kv = row->vals[key_idx];
    if (!kv || memchr(kv, '\0', row->lens[key_idx])) {
        snprintf(f->err, sizeof(f->err),
                 "a row of \"%s\" has a primary key that is %s; the backfill cannot resume after "
                 "it",
                 f->t->status_key, kv ? "text with a NUL byte" : "NULL");
        return ROW_FATAL;
    }
    sf_buf_reset(&ca->key);
    sf_buf_append(&ca->key, kv, row->lens[key_idx]);
    if (lo->ts_idx >= 0 && row->vals[lo->ts_idx]) {
        sf_buf_append(off, row->vals[lo->ts_idx], row->lens[lo->ts_idx]);
    }
    if (lo->inc_idx >= 0 && row->vals[lo->inc_idx]) {
        if (lo->ts_idx >= 0) {
            sf_buf_putc(off, ',');
        }
        sf_buf_append(off, row->vals[lo->inc_idx], row->lens[lo->inc_idx]);
    }
    return ROW_EVENT;
}

/* A batch of the chunk: a full one goes once the next row shows it is not the chunk's last; the
 * last one carries the chunk's end, or "done" when the chunk came back short. */
static int chunk_deliver(struct fetch *f, size_t n, bool end)
{
    const struct chunk_arg *ca = f->arg;
    bool done = end && f->rows < ca->limit;
    return bf_deliver(f->src, f->t, n, ca->key.data, end && !done, done);
}

static const struct fetch_ops chunk_ops = {
    .what = "backfill",
    .rows_what = "backfill rows",
    .full_on_next = true,
    .end_empty = true,
    .layout = chunk_layout,
    .row = chunk_row,
    .deliver = chunk_deliver,
    .after_batch = sq_bf_report,
};

/*
 * Read the table's next backfill chunk (the rest of it, when an error cut the last one short)
 * and put it into the channels. A chunk that comes back short ends the backfill: the table
 * streams from then on. *rows gets the number read.
 * @return SF_READY, or the status to return (backoff/fatal).
 */
enum sf_status sq_backfill_chunk(struct sf_source *src, struct sql_table *t, long long *rows)
{
    struct sql_ctx *c = src->ctx;
    struct chunk_arg ca = { SF_BUF_INIT, c->bf_chunk_size - t->bf_chunk_rows };
    struct sf_param params[4];
    struct sf_buf *q = &c->bf_sql;
    int np = sq_build_backfill_sql(c, t, ca.limit, q, params);
    if (t->bf_chunks == 0 && !t->bf_key) {
        SF_INFO(SF_SOURCE_FMT "backfill chunks of \"%s\": %s", SF_SOURCE_ARGS(src), t->status_key,
                q->data);
    }
    struct fetch f = { .src = src, .t = t, .ops = &chunk_ops, .arg = &ca };
    enum sf_status st = sq_fetch_deliver(&f, q->data, params, (size_t)np);
    sf_buf_free(&ca.key);
    *rows = f.rows;
    if (st != SF_READY) {
        return st;
    }
    if (*rows < ca.limit) {
        t->bf = BF_DONE;
        sq_bar_clear(c);
        double secs = (double)(sf_mono_ms() - t->bf_start_ms) / 1000.0;
        SF_INFO(SF_SOURCE_FMT
                "table \"%s\": backfill read its last chunk: %lld rows in %lld "
                "chunk(s) (%lld in %.1f s this run, %.0f rows/s); streaming continues after "
                "\"%s\"",
                SF_SOURCE_ARGS(src), t->status_key, t->bf_rows, t->bf_chunks + (*rows > 0),
                t->bf_rows - t->bf_rows_run0, secs,
                secs > 0.001 ? (double)(t->bf_rows - t->bf_rows_run0) / secs : 0.0,
                OFF_TEXT(t->read_offset));
    } else {
        sq_bf_report(src, t);
    }
    return SF_READY;
}
