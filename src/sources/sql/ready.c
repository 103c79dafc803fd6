/* ready.c: connection state machine: connections, backoff, fatal errors, table preparation (see
 * sql_int.h). */
#include "sql_int.h"

void sq_free_pk(struct sql_table *t)
{
    sf_names_free(t->pk, t->npk);
    t->pk = NULL;
    t->npk = 0;
}

/* Close the rows connection only (a failed poll): the status connection keeps its status-key
 * locks, so no other agent can take them meanwhile; it is checked on its own (sq_ensure_ready). */
void sq_close_rows(struct sql_ctx *c)
{
    if (c->conn) {
        c->cx->close(c->conn);
        c->conn = NULL;
    }
    c->lock_check_ms = 0; /* the server may be gone: check the status connection first */
}

/* Close both connections (the status one releases the status-key locks). */
void sq_close_conns(struct sql_ctx *c)
{
    if (c->conn) {
        c->cx->close(c->conn);
        c->conn = NULL;
    }
    if (c->status_conn) {
        c->scx->close(c->status_conn);
        c->status_conn = NULL;
    }
}

/* Log a failure ("what: msg (error)", or "msg (error)" when msg starts with what already, as the
 * connectors' "could not connect to mysql at ..." does), double the backoff, return SF_BACKOFF. */
enum sf_status sq_backoff(struct sf_source *src, int err, const char *what, const char *msg)
{
    struct sql_ctx *c = src->ctx;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_START_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS) {
        c->backoff_ms = BACKOFF_MAX_MS;
    }
    if (strncmp(msg, what, strlen(what)) == 0) { /* "could not connect to mysql at ...": */
        what = NULL;                             /* the message says it already, once */
    }
    SF_WARN(SF_SOURCE_FMT "%s%s%s (%s); retrying in %lld ms", SF_SOURCE_ARGS(src), what ? what : "",
            what ? ": " : "", msg, sf_err_str(err), c->backoff_ms);
    src->backoff_ms = c->backoff_ms;
    return SF_BACKOFF;
}

/* Log one clear error and return SF_FATAL (the runner stops the agent, exit code 1); the source
 * idles from then on (sql_process returns SF_FATAL whatever a step returned). */
enum sf_status sq_fatal(struct sf_source *src, const char *fmt, ...)
{
    struct sql_ctx *c = src->ctx;
    if (!c->fatal_logged) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        SF_ERROR(SF_SOURCE_FMT "%s", SF_SOURCE_ARGS(src), msg);
        c->fatal_logged = true;
    }
    src->backoff_ms = 1000;
    return SF_FATAL;
}

/* Whether an incremental column of class ty has an order the database and the agent agree on
 * and that grows with inserts (integers, decimals, date/time). */
static bool inc_type_ordered(enum sf_coltype ty)
{
    return ty == SF_COL_INT || ty == SF_COL_DECIMAL || ty == SF_COL_TEMPORAL;
}

/* Learn the class of column col of table (so offsets bind with the right type). */
int sq_probe_type(struct sql_ctx *c,
                  const char *qtable,
                  const char *col,
                  enum sf_coltype *out,
                  char *err,
                  size_t errsz)
{
    struct sf_buf q = SF_BUF_INIT, qc = SF_BUF_INIT;
    int rc = c->cx->quote_ident(col, &qc);
    if (rc == SF_OK) {
        sf_buf_printf(&q, "SELECT %s FROM %s WHERE 1 = 0", qc.data, qtable);
        const struct sf_column *pc;
        size_t npc;
        rc = c->cx->query(c->conn, q.data, NULL, 0, &pc, &npc, err, errsz);
        if (rc == SF_OK) {
            *out = npc ? pc[0].type : SF_COL_TEXT;
            struct sf_row row;
            while (c->cx->fetch(c->conn, &row, err, errsz) == 1) {
            }
            c->cx->query_end(c->conn);
        }
    }
    sf_buf_free(&q);
    sf_buf_free(&qc);
    return rc;
}

/* Rows of table whose column col is NULL, into *n. @return SF_OK or the connector's error. */
static int count_nulls(struct sql_ctx *c, const char *qtable, const char *col, long long *n,
                       char *err, size_t errsz)
{
    struct sf_buf q = SF_BUF_INIT, qc = SF_BUF_INIT;
    char *v = NULL;
    *n = 0;
    int rc = c->cx->quote_ident(col, &qc);
    if (rc == SF_OK) {
        sf_buf_printf(&q, "SELECT COUNT(*) FROM %s WHERE %s IS NULL", qtable, qc.data);
        rc = sq_rows_value(c, q.data, NULL, &v, err, errsz);
    }
    if (rc == SF_OK && v) {
        *n = strtoll(v, NULL, 10);
    }
    free(v);
    sf_buf_free(&q);
    sf_buf_free(&qc);
    return rc;
}

/* Once per table: a WARN for the rows whose incremental column (given by
 * incremental.column.name: a primary key cannot be NULL) or timestamp column is NULL, since
 * "WHERE col > offset" never selects them, so they are never exported. */
static int warn_nulls(struct sf_source *src, struct sql_table *t, char *err, size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    const char *cols[2] = { c->inc_column ? t->inc : NULL, t->ts };
    const char *what[2] = { "incremental column", "timestamp column" };
    if (t->null_warned) {
        return SF_OK;
    }
    for (int i = 0; i < 2; i++) {
        long long n = 0;
        if (!cols[i]) {
            continue;
        }
        int rc = count_nulls(c, t->qtab.data, cols[i], &n, err, errsz);
        if (rc != SF_OK) {
            return rc;
        }
        if (n > 0) {
            SF_WARN(SF_SOURCE_FMT "table \"%s\": %lld row%s NULL in the %s \"%s\" and %s never "
                                  "exported (\"%s > offset\" does not select a NULL): give %s a "
                                  "value, or the column a NOT NULL constraint",
                    SF_SOURCE_ARGS(src), t->name, n, n == 1 ? " has" : "s have", what[i],
                    cols[i], n == 1 ? "it is" : "they are", cols[i], n == 1 ? "it" : "them");
        }
    }
    t->null_warned = true;
    return SF_OK;
}

/* Resolve column roles and build the table's poll query. */
int sq_prepare_table(struct sf_source *src,
                     struct sql_table *t,
                     char *err,
                     size_t errsz,
                     bool *is_fatal)
{
    struct sql_ctx *c = src->ctx;
    int rc;
    *is_fatal = false;
    sf_buf_reset(&t->sql);
    sf_buf_reset(&t->sql_first);
    if (c->custom_query) {
        /* replace every $@$ with the placeholder of parameter 1 */
        sq_build_custom_sql(c, &t->sql);
        sq_set_str(&t->inc, c->inc_column);
        if (t->name) {
            sq_free_pk(t);
            rc = c->cx->primary_key(c->conn, t->name, &t->pk, &t->npk, err, errsz);
            if (rc != SF_OK && rc != SF_ERR_NOTFOUND) {
                *is_fatal = !sf_err_retriable(rc);
                return rc;
            }
        }
        t->inc_type = SF_COL_TEXT;
        t->prepared = true;
        return SF_OK;
    }
    sq_free_pk(t);
    rc = c->cx->primary_key(c->conn, t->name, &t->pk, &t->npk, err, errsz);
    if (rc == SF_ERR_NOTFOUND) {
        snprintf(err, errsz, "table \"%s\" does not exist", t->name);
        *is_fatal = true;
        return rc;
    }
    if (rc != SF_OK) {
        *is_fatal = !sf_err_retriable(rc);
        return rc;
    }
    bool need_inc = c->mode == MODE_INCREMENTING || c->mode == MODE_TS_INC;
    if (c->inc_column) {
        sq_set_str(&t->inc, c->inc_column);
    } else if (t->npk == 1) {
        sq_set_str(&t->inc, t->pk[0]);
    } else if (need_inc) {
        snprintf(err, errsz,
                 "table \"%s\" has %s; set incremental.column.name to a monotonically increasing "
                 "column",
                 t->name, t->npk == 0 ? "no primary key" : "a composite primary key");
        *is_fatal = true;
        return SF_ERR_INVAL;
    }
    if (!need_inc) {
        free(t->inc);
        t->inc = NULL;
    }
    sq_set_str(&t->ts, c->mode == MODE_TIMESTAMP || c->mode == MODE_TS_INC ? c->ts_column : NULL);

    rc = sq_build_poll_sql(c, t, err, errsz);
    if (rc == SF_OK) {
        if (t->inc) {
            rc = sq_probe_type(c, t->qtab.data, t->inc, &t->inc_type, err, errsz);
        }
        if (rc == SF_OK && t->ts) {
            rc = sq_probe_type(c, t->qtab.data, t->ts, &t->ts_type, err, errsz);
        }
        if (rc == SF_OK) {
            rc = warn_nulls(src, t, err, errsz);
        }
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
        } else if (t->inc && !inc_type_ordered(t->inc_type)) {
            if (!c->inc_column) {
                snprintf(err, errsz,
                         "table \"%s\": the primary key \"%s\", the incremental column by "
                         "default, is %s, not an integer, decimal or date/time column (whose "
                         "order grows with inserts): set incremental.column.name to such a "
                         "column, or use incremental.mode = timestamp (with timestamp.column.name) "
                         "or incremental.mode = bulk",
                         t->name, t->inc, sf_coltype_words(t->inc_type));
                *is_fatal = true;
                rc = SF_ERR_INVAL;
            } else if (!t->inc_warned) {
                t->inc_warned = true;
                SF_WARN(SF_SOURCE_FMT
                        "table \"%s\": incremental.column.name \"%s\" is %s: rows "
                        "are read in the database's order of its values (its collation), and a "
                        "row whose value sorts at or below the offset already read is never read",
                        SF_SOURCE_ARGS(src), t->name, t->inc, sf_coltype_words(t->inc_type));
            }
        }
    } else {
        *is_fatal = true;
    }
    if (rc == SF_OK) {
        t->prepared = true;
        t->gaps_on =
            c->mode == MODE_INCREMENTING && c->gap_timeout_ms > 0 && t->inc_type == SF_COL_INT;
        SF_INFO(SF_SOURCE_FMT "polling %s with: %s%s", SF_SOURCE_ARGS(src), c->redacted_url,
                t->sql.data, t->gaps_on ? " (plus ranges of ids not seen yet)" : "");
    }
    return rc;
}

/* Make sure the connections are up and the table is ready to poll. */
enum sf_status sq_ensure_ready(struct sf_source *src, struct sql_table *t, bool *ok)
{
    struct sql_ctx *c = src->ctx;
    char err[1024] = "";
    int rc;
    *ok = false;
    if (!c->conn) {
        rc = c->cx->connect(&c->dburl, &c->conn, err, sizeof(err));
        if (rc != SF_OK) {
            c->conn = NULL;
            if (rc == SF_ERR_AUTH || rc == SF_ERR_INVAL) {
                return sq_fatal(src, "%s", err);
            }
            return sq_backoff(src, rc, "could not connect", err);
        }
        SF_INFO(SF_SOURCE_FMT "connected to %s", SF_SOURCE_ARGS(src), c->redacted_url);
    }
    if (!c->status_conn) {
        rc = sq_status_open(src, err, sizeof(err));
        if (rc == LOCK_BUSY && !c->locks_held) {
            return sq_fatal(src, "%s", err);
        }
        if (rc == LOCK_BUSY) {
            long long now = sf_mono_ms();
            if (!c->lock_wait_ms0) {
                c->lock_wait_ms0 = now;
                SF_WARN(SF_SOURCE_FMT "the status connection was lost and %s; waiting up to %d s "
                                      "for it",
                        SF_SOURCE_ARGS(src), err, LOCK_WAIT_MS / 1000);
            }
            if (now - c->lock_wait_ms0 >= LOCK_WAIT_MS) {
                return sq_fatal(src,
                                "lost the status-key lock after the status connection was lost "
                                "and could not take it back within %d s: %s; stopping",
                                LOCK_WAIT_MS / 1000, err);
            }
            src->backoff_ms = 1000;
            return SF_BACKOFF;
        }
        if (rc != SF_OK) {
            if (rc == SF_ERR_AUTH || rc == SF_ERR_INVAL) {
                return sq_fatal(src, "status database: %s", err);
            }
            return sq_backoff(src, rc, "status database", err);
        }
        if (c->lock_wait_ms0) {
            SF_INFO(SF_SOURCE_FMT "took the status-key lock(s) back after %lld ms",
                    SF_SOURCE_ARGS(src), sf_mono_ms() - c->lock_wait_ms0);
        } else if (c->locks_held) {
            SF_INFO(SF_SOURCE_FMT "status connection re-established; status-key lock(s) taken "
                                  "back",
                    SF_SOURCE_ARGS(src));
        }
        c->locks_held = true;
        c->lock_wait_ms0 = 0;
        c->lock_check_ms = sf_mono_ms();
    } else if (sf_mono_ms() - c->lock_check_ms >= LOCK_CHECK_MS) {
        /* the locks live as long as the session: a session killed server-side is noticed here,
         * and reconnected (locks first) before the next poll */
        rc = sq_status_check(c, err, sizeof(err));
        if (rc != SF_OK) {
            return sq_backoff(src, rc, "status connection lost (it holds the status-key locks)",
                              err);
        }
    }
    bool is_fatal = false;
    if (!c->status_ready) {
        rc = sq_prepare_status(src, err, sizeof(err), &is_fatal);
        if (rc != SF_OK) {
            if (is_fatal) {
                return sq_fatal(src, "%s", err);
            }
            sq_close_conns(c);
            return sq_backoff(src, rc, "could not prepare the status table", err);
        }
    }
    if (!t->prepared) {
        rc = sq_prepare_table(src, t, err, sizeof(err), &is_fatal);
        if (rc != SF_OK) {
            if (is_fatal) {
                return sq_fatal(src, "%s", err);
            }
            sq_close_rows(c);
            return sq_backoff(src, rc, "could not prepare the poll", err);
        }
    }
    if (!t->offset_loaded && c->mode != MODE_BULK) {
        rc = sq_load_offset(src, t, err, sizeof(err));
        if (rc != SF_OK) {
            if (!sf_err_retriable(rc)) {
                return sq_fatal(src, "could not read the offset of \"%s\": %s", t->status_key, err);
            }
            sq_close_conns(c);
            return sq_backoff(src, rc, "could not read the stored offset", err);
        }
    }
    if (c->backfill && !t->bf_loaded) {
        rc = sq_bf_load(src, t, err, sizeof(err), &is_fatal);
        if (rc != SF_OK) {
            if (is_fatal) {
                return sq_fatal(src, "%s", err);
            }
            sq_close_conns(c);
            return sq_backoff(src, rc, "could not prepare the backfill", err);
        }
        t->bf_loaded = true;
    }
    *ok = true;
    return SF_READY;
}
