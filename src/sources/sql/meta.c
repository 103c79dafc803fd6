/* meta.c: the flume_meta store: every read and write of the status table, the status-key locks (see
 * sql_int.h). */
#include "sql_int.h"

/* Run sql on conn (parameter 1 = p1, as text, when not NULL) and return its first row's first
 * value, malloc'd in *out (NULL for no row or SQL NULL). @return SF_OK or the connector's error
 * (*out NULL). */
static int query_one_value(const struct sf_connector_plugin *cx,
                           struct sf_conn *conn,
                           const char *sql,
                           const char *p1,
                           char **out,
                           char *err,
                           size_t errsz)
{
    *out = NULL;
    struct sf_param param = { p1, SF_COL_TEXT };
    const struct sf_column *cols;
    size_t ncols;
    int rc = cx->query(conn, sql, &param, p1 ? 1 : 0, &cols, &ncols, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    struct sf_row row;
    int got;
    while ((got = cx->fetch(conn, &row, err, errsz)) == 1) {
        if (!*out && row.ncols > 0 && row.vals[0]) {
            *out = strndup(row.vals[0], row.lens[0]);
            if (!*out) {
                abort();
            }
        }
    }
    cx->query_end(conn);
    if (got < 0) {
        free(*out);
        *out = NULL;
        return got;
    }
    return SF_OK;
}

/* query_one_value on the rows connection (the backfill's look at open transactions). */
int sq_rows_value(struct sql_ctx *c,
                  const char *sql,
                  const char *p1,
                  char **out,
                  char *err,
                  size_t errsz)
{
    return query_one_value(c->cx, c->conn, sql, p1, out, err, errsz);
}

/* Read currentIndex of the status table's row key: *out is a malloc'd copy, or NULL when there is
 * no such row. */
int sq_meta_get(struct sql_ctx *c, const char *key, char **out, char *err, size_t errsz)
{
    *out = NULL;
    struct sf_buf q = SF_BUF_INIT;
    sf_buf_puts(&q, "SELECT currentIndex FROM ");
    int rc = sf_quote_qualified(c->scx, c->status_table, &q);
    if (rc == SF_OK) {
        sf_buf_puts(&q, " WHERE source_tab = ");
        c->scx->placeholder(1, &q);
        rc = query_one_value(c->scx, c->status_conn, q.data, key, out, err, errsz);
    }
    sf_buf_free(&q);
    return rc;
}

/* Upsert the status table's row key = val at once (outside the delivery tracking: callers make
 * sure val never runs ahead of delivery). */
int sq_meta_put(struct sql_ctx *c, const char *key, const char *val, char *err, size_t errsz)
{
    struct sf_param p[2] = { { key, SF_COL_TEXT }, { val, SF_COL_TEXT } };
    return c->scx->exec(c->status_conn, c->upsert_sql.data, p, 2, err, errsz);
}

/* Whether the status table exists (the connector's privileges_sql, first column), so that an
 * existing table needs no CREATE privilege. @return SF_OK or the connector's error. */
static int status_table_exists(struct sql_ctx *c, bool *exists, char *err, size_t errsz)
{
    const char *dot = strchr(c->status_table, '.');
    char *schema = dot ? strndup(c->status_table, (size_t)(dot - c->status_table)) : NULL;
    struct sf_param p[2] = { { schema, SF_COL_TEXT },
                             { dot ? dot + 1 : c->status_table, SF_COL_TEXT } };
    const struct sf_column *cols;
    size_t ncols;
    *exists = false;
    int rc = c->scx->query(c->status_conn, c->scx->privileges_sql, p, 2, &cols, &ncols, err, errsz);
    if (rc == SF_OK) {
        struct sf_row row;
        int got;
        while ((got = c->scx->fetch(c->status_conn, &row, err, errsz)) == 1) {
            if (row.ncols > 0 && row.vals[0]) {
                *exists = row.vals[0][0] == '1' || row.vals[0][0] == 't';
            }
        }
        c->scx->query_end(c->status_conn);
        rc = got < 0 ? got : SF_OK;
    }
    free(schema);
    return rc;
}

/* Create the status table when it is missing and build the upsert text (once). Several sources
 * starting at once may race on the CREATE (PostgreSQL's CREATE TABLE IF NOT EXISTS can fail with
 * 23505/42P07 then): a failed CREATE after which the table exists counts as done. */
int sq_prepare_status(struct sf_source *src, char *err, size_t errsz, bool *is_fatal)
{
    struct sql_ctx *c = src->ctx;
    struct sf_buf q = SF_BUF_INIT, qt = SF_BUF_INIT;
    int rc = sf_quote_qualified(c->scx, c->status_table, &qt);
    if (rc != SF_OK) {
        snprintf(err, errsz, "bad status.table name \"%s\"", c->status_table);
        *is_fatal = true;
    } else if (c->status_create) {
        bool exists = false;
        rc = status_table_exists(c, &exists, err, errsz);
        if (rc == SF_OK && !exists) {
            c->scx->status_table_ddl(qt.data, &q);
            rc = c->scx->exec(c->status_conn, q.data, NULL, 0, err, errsz);
            char perr[256];
            if (rc != SF_OK && !sf_err_retriable(rc) &&
                status_table_exists(c, &exists, perr, sizeof(perr)) == SF_OK && exists) {
                SF_DEBUG("status table %s: created meanwhile by another session (%s)",
                         c->status_table, err);
                rc = SF_OK;
            }
        }
        *is_fatal = rc != SF_OK && !sf_err_retriable(rc);
    }
    if (rc == SF_OK) {
        sf_buf_reset(&c->upsert_sql);
        c->scx->status_upsert_sql(qt.data, &c->upsert_sql);
        c->status_ready = true;
    }
    sf_buf_free(&q);
    sf_buf_free(&qt);
    return rc;
}

/* Connect the status connection when it is down and take the lock of every table's status key on
 * it (sf_status_lock_id: one running agent per offset row), before anything is read or written
 * there. @return SF_OK (connected, every lock held), LOCK_BUSY (a lock is held by another session:
 * err names the key and the holder; the connection is closed again, releasing the others), or a
 * connection error. */
int sq_status_open(struct sf_source *src, char *err, size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    int rc = SF_OK;
    if (c->status_conn) {
        return SF_OK;
    }
    rc = c->scx->connect(c->status_url ? &c->status_dburl : &c->dburl, &c->status_conn, err, errsz);
    if (rc != SF_OK) {
        c->status_conn = NULL;
        return rc;
    }
    for (size_t i = 0; rc == SF_OK && i < c->ntabs; i++) {
        struct sql_table *t = &c->tabs[i];
        char *v = NULL;
        rc = query_one_value(c->scx, c->status_conn, c->scx->lock_try_sql, t->lock_param, &v, err,
                             errsz);
        bool taken = rc == SF_OK && v && (strcmp(v, "1") == 0 || strcasecmp(v, "t") == 0);
        free(v);
        if (rc == SF_OK && !taken) {
            char *holder = NULL;
            char herr[512] = "";
            if (query_one_value(c->scx, c->status_conn, c->scx->lock_holder_sql, t->lock_param,
                                &holder, herr, sizeof(herr)) != SF_OK) {
                free(holder);
                holder = NULL;
            }
            char lname[40]; /* the lock as the database shows it */
            if (strcmp(c->scx->name, "mysql") == 0) {
                snprintf(lname, sizeof(lname), "\"sqlflume.%016llx\"",
                         (unsigned long long)t->lock_id);
            } else {
                snprintf(lname, sizeof(lname), "%s", t->lock_param);
            }
            snprintf(err, errsz,
                     "status key \"%s\" (its row in %s) is in use by another running agent: "
                     "the database lock %s is held by %s; one agent per status key (set a "
                     "different status.key, or stop the other agent)",
                     t->status_key, c->status_table, lname,
                     holder    ? holder
                     : herr[0] ? herr
                               : "a session the database does not name");
            free(holder);
            rc = LOCK_BUSY;
        }
    }
    if (rc != SF_OK) {
        c->scx->close(c->status_conn);
        c->status_conn = NULL;
        return rc;
    }
    SF_DEBUG(SF_SOURCE_FMT "status connection up; %zu status-key lock(s) held", SF_SOURCE_ARGS(src),
             c->ntabs);
    return SF_OK;
}

/* Write the committable value of tr to the status table's row key if it changed; *written and
 * *pending are that row's last written and delivered-but-unwritten values (write: false only
 * collects, e.g. bulk mode). A failed write keeps *pending for the next attempt.
 * @return true when a new value was written. */
static bool flush_row(struct sf_source *src,
                      struct sf_ack_tracker *tr,
                      const char *key,
                      char **written,
                      char **pending,
                      bool write)
{
    struct sql_ctx *c = src->ctx;
    char *off = sf_ack_tracker_poll(tr);
    if (off) {
        free(*pending);
        *pending = off;
    }
    off = *pending;
    if (!off || !write) {
        return false;
    }
    if (*written && strcmp(off, *written) == 0) {
        free(*pending);
        *pending = NULL;
        return false;
    }
    char err[512] = "";
    int rc = SF_ERR_CONN;
    if (!c->status_conn) {
        rc = sq_status_open(src, err, sizeof(err)); /* the locks first: never write another's row */
    }
    if (c->status_conn && c->upsert_sql.len) {
        rc = sq_meta_put(c, key, off, err, sizeof(err));
        if (rc != SF_OK && sf_err_retriable(rc)) {
            c->scx->close(c->status_conn);
            c->status_conn = NULL;
        }
    }
    if (rc == SF_OK) {
        SF_DEBUG(SF_SOURCE_FMT "offset \"%s\" of \"%s\" written to %s", SF_SOURCE_ARGS(src), off,
                 key, c->status_table);
        free(*written);
        *written = off;
        *pending = NULL;
        return true;
    }
    SF_WARN(SF_SOURCE_FMT "could not write offset \"%s\" of \"%s\" to %s: %s; will retry",
            SF_SOURCE_ARGS(src), off, key, c->status_table, err);
    return false;
}

/* Write the table's delivered offset and backfill progress to flume_meta if they advanced. */
static void flush_table(struct sf_source *src, struct sql_table *t)
{
    struct sql_ctx *c = src->ctx;
    flush_row(src, t->tracker, t->status_key, &t->written_offset, &t->pending_offset,
              c->mode != MODE_BULK);
    if (t->bf_tracker &&
        flush_row(src, t->bf_tracker, t->bf_status_key, &t->bf_written, &t->bf_pending, true) &&
        strncmp(t->bf_written, "done", 4) == 0) {
        SF_INFO(SF_SOURCE_FMT "table \"%s\": backfill delivered; %s has \"%s\" = \"%s\"",
                SF_SOURCE_ARGS(src), t->status_key, c->status_table, t->bf_status_key,
                t->bf_written);
    }
}

void sq_flush_offsets(struct sf_source *src, bool force)
{
    struct sql_ctx *c = src->ctx;
    long long now = sf_mono_ms();
    if (!force && now - c->last_flush_ms < OFFSET_FLUSH_MS) {
        return;
    }
    c->last_flush_ms = now;
    for (size_t i = 0; i < c->ntabs; i++) {
        flush_table(src, &c->tabs[i]);
    }
}

/* Check that the status connection, which holds the status-key locks, is alive (SELECT 1); on an
 * error it is closed (the server releases the locks with the session). @return SF_OK or the
 * connector's error (err filled). */
int sq_status_check(struct sql_ctx *c, char *err, size_t errsz)
{
    char *v = NULL;
    c->lock_check_ms = sf_mono_ms();
    int rc = query_one_value(c->scx, c->status_conn, "SELECT 1", NULL, &v, err, errsz);
    free(v);
    if (rc != SF_OK) {
        c->scx->close(c->status_conn);
        c->status_conn = NULL;
    }
    return rc;
}
