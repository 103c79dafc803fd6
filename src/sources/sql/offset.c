/* offset.c: offset ordering and where a table resumes (see sql_int.h). */
#include "sql_int.h"

bool sq_is_integer(const char *s)
{
    if (*s == '-') {
        s++;
    }
    if (!*s) {
        return false;
    }
    for (; *s; s++) {
        if (!isdigit((unsigned char)*s)) {
            return false;
        }
    }
    return true;
}

/* The integer order of two offsets of an integer column (core's sf_offset_cmp, the order the Kafka
 * sink's positions use too), or false when either is not a plain
 * integer (or "hw;gaps" with an integer hw): those are ordered by the database (offset_cmp). */
static bool cmp_int_offset(const char *a, const char *b, int *res)
{
    char ha[32], hb[32];
    size_t la = strcspn(a, ";"), lb = strcspn(b, ";");
    if (la >= sizeof(ha) || lb >= sizeof(hb)) {
        return false;
    }
    memcpy(ha, a, la);
    ha[la] = '\0';
    memcpy(hb, b, lb);
    hb[lb] = '\0';
    if (!sq_is_integer(ha) || !sq_is_integer(hb)) {
        return false;
    }
    *res = sf_offset_cmp(ha, hb); /* core's numeric order: any length, "007" = "7", "-0" = "0" */
    if (*res == 0 && (a[la] || b[lb])) {
        *res = strcmp(a, b); /* one hw, other gaps: as before, by the text of the gap list */
    }
    return true;
}

/* Order of two encoded offsets a and b of table t into *res (<0, 0, >0); NULL stands for "no
 * offset yet", below every offset. Integer offsets (and "hw;gaps") compare in C; everything else
 * (text under the column's collation, decimals, date/time, the "ts,inc" pairs) is ordered by the
 * database, the order its `col > ?` uses:
 *   SELECT MIN(k), MAX(k) FROM (SELECT col AS v1, 0 AS k FROM t WHERE 1 = 0
 *     UNION ALL SELECT ?, 1 UNION ALL SELECT ?, 2) x GROUP BY v1 ORDER BY v1 DESC
 * (the empty branch gives the parameters the column's type and collation; a custom.query has
 * none, so its values compare as the database orders text). The first row is the greater value:
 * k 1 (a), 2 (b), or both (equal). Runs on the rows connection; no query may be running there.
 * @return SF_OK or the connector's error (err filled). */
static int offset_cmp(struct sql_ctx *c,
                      struct sql_table *t,
                      const char *a,
                      const char *b,
                      int *res,
                      char *err,
                      size_t errsz)
{
    if (!a || !b) {
        *res = (a != NULL) - (b != NULL);
        return SF_OK;
    }
    if (strcmp(a, b) == 0) {
        *res = 0;
        return SF_OK;
    }
    bool pair = c->mode == MODE_TS_INC;
    if (!pair && cmp_int_offset(a, b, res)) {
        return SF_OK;
    }
    const char *ca = pair ? strchr(a, ',') : NULL, *cb = pair ? strchr(b, ',') : NULL;
    char *a1 = pair && ca ? strndup(a, (size_t)(ca - a)) : strdup(a);
    char *b1 = pair && cb ? strndup(b, (size_t)(cb - b)) : strdup(b);
    const char *a2 = ca ? ca + 1 : "0", *b2 = cb ? cb + 1 : "0";
    if (!a1 || !b1) {
        abort();
    }
    int rc = SF_OK;
    if (pair && strcmp(a1, b1) == 0 && cmp_int_offset(a2, b2, res)) {
        goto out;
    }
    struct sf_buf q = SF_BUF_INIT;
    struct sf_param p[4];
    size_t np = 0;
    enum sf_coltype t1 = SF_COL_TEXT, t2 = SF_COL_TEXT;
    bool typed = t->qtab.len > 0 && !c->custom_query;
    sf_buf_puts(&q, "SELECT MIN(k), MAX(k) FROM (");
    if (typed) {
        const char *col1 = c->mode == MODE_TIMESTAMP || pair ? t->qts.data : t->qinc.data;
        t1 = c->mode == MODE_TIMESTAMP || pair ? t->ts_type : t->inc_type;
        t2 = t->inc_type;
        sf_buf_printf(&q, "SELECT %s AS v1, %s%s0 AS k FROM %s WHERE 1 = 0 UNION ALL ", col1,
                      pair ? t->qinc.data : "", pair ? " AS v2, " : "", t->qtab.data);
    }
    for (int k = 1; k <= 2; k++) {
        if (k == 2) {
            sf_buf_puts(&q, " UNION ALL ");
        }
        sf_buf_puts(&q, "SELECT ");
        p[np] = (struct sf_param){ k == 1 ? a1 : b1, t1 };
        c->cx->placeholder((int)++np, &q);
        sf_buf_puts(&q, k == 1 && !typed ? " AS v1, " : ", ");
        if (pair) {
            p[np] = (struct sf_param){ k == 1 ? a2 : b2, t2 };
            c->cx->placeholder((int)++np, &q);
            sf_buf_puts(&q, k == 1 && !typed ? " AS v2, " : ", ");
        }
        sf_buf_printf(&q, "%d%s", k, k == 1 && !typed ? " AS k" : "");
    }
    sf_buf_printf(&q, ") x GROUP BY v1%s ORDER BY v1 DESC%s", pair ? ", v2" : "",
                  pair ? ", v2 DESC" : "");
    const struct sf_column *cols;
    size_t ncols;
    rc = c->cx->query(c->conn, q.data, p, np, &cols, &ncols, err, errsz);
    if (rc == SF_OK) {
        struct sf_row row;
        int got = c->cx->fetch(c->conn, &row, err, errsz);
        if (got == 1 && row.ncols >= 2 && row.vals[0] && row.vals[1]) {
            bool has_a = row.vals[0][0] == '1', has_b = row.vals[1][0] == '2';
            *res = has_a && has_b ? 0 : has_a ? 1 : -1;
        } else if (got >= 0) {
            snprintf(err, errsz, "the database did not order \"%s\" and \"%s\"", a, b);
            rc = SF_ERR_SQL;
        } else {
            rc = got;
        }
        c->cx->query_end(c->conn);
    }
    sf_buf_free(&q);
out:
    free(a1);
    free(b1);
    return rc;
}

/* The start offset of the mode when flume_meta has no row: start.from, or NULL (no offset yet:
 * the first query has no lower bound) when it is not set; custom.query binds "0" then, since its
 * text has the bound. */
static const char *initial_offset(const struct sql_ctx *c)
{
    if (!c->start_from) {
        return c->custom_query ? "0" : NULL;
    }
    bool dflt = strcmp(c->start_from, "0") == 0;
    if (c->mode == MODE_TIMESTAMP) {
        return dflt ? TS_FLOOR : c->start_from;
    }
    if (c->mode == MODE_TS_INC) {
        return dflt ? TS_FLOOR ",0" : c->start_from;
    }
    return c->start_from;
}

/* Read the table's flume_meta row and each durable channel's offset, and choose where to resume:
 * per channel the later of the two (a durable channel holds what it recorded), then the earliest
 * over the channels (a row is resumed after only if every channel has it). With neither a row
 * nor start.from, read_offset stays NULL: no offset yet, the first query has no lower bound.
 * Runs after sq_prepare_table (non-integer offsets are ordered by the database). */
int sq_load_offset(struct sf_source *src, struct sql_table *t, char *err, size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    char *meta = NULL;
    int rc = sq_meta_get(c, t->status_key, &meta, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    const char *base = meta ? meta : initial_offset(c);
    char *resume = NULL;
    bool have = false; /* resume was chosen (it may be NULL: no offset) */
    struct sf_buf why = SF_BUF_INIT;
    if (meta) {
        sf_buf_printf(&why, "%s has \"%s\"", c->status_table, meta);
    } else if (base) {
        sf_buf_printf(&why, "%s has no row; start.from \"%s\"%s", c->status_table, base,
                      c->start_from ? "" : " (custom.query without start.from)");
    } else {
        sf_buf_printf(&why,
                      "%s has no row and start.from is not set: the first query has no "
                      "lower bound",
                      c->status_table);
    }
    int cmp = 0;
    for (size_t i = 0; rc == SF_OK && i < src->nch; i++) {
        char *chan = NULL;
        const char *pos = base; /* a memory channel holds nothing across a restart */
        if (sf_channel_offset_get(src->chs[i], t->chan_key, &chan) == SF_OK && chan) {
            sf_buf_printf(&why, ", channel \"%s\" recorded \"%s\"", src->chs[i]->name, chan);
            rc = offset_cmp(c, t, chan, base, &cmp, err, errsz);
            if (rc == SF_OK && cmp > 0) {
                pos = chan;
            }
        }
        if (rc == SF_OK && have) {
            rc = offset_cmp(c, t, pos, resume, &cmp, err, errsz);
        }
        if (rc == SF_OK && (!have || cmp < 0)) {
            sq_set_str(&resume, pos);
            have = true;
        }
        free(chan);
    }
    if (rc == SF_OK && !have) {
        sq_set_str(&resume, base);
    }
    if (rc == SF_OK) {
        rc = offset_cmp(c, t, resume, base, &cmp, err, errsz);
    }
    if (rc != SF_OK) {
        free(meta);
        free(resume);
        sf_buf_free(&why);
        return rc;
    }
    if (cmp > 0) {
        /* every channel is durable and holds the rows up to resume: flume_meta follows it (it
         * lags the channels, never leads them); events replayed from a channel carry no tracker,
         * so without this it would stay behind until new rows arrive */
        sf_ack_tracker_add(t->tracker, 0, 1, resume);
        sf_buf_puts(&why, " (flume_meta is brought up to the channels' offset)");
    }
    t->read_offset = resume;
    t->written_offset = meta;
    t->offset_loaded = true;
    if (resume) {
        SF_INFO(SF_SOURCE_FMT "table \"%s\": %s; resuming after \"%s\"", SF_SOURCE_ARGS(src),
                t->status_key, why.data, resume);
    } else {
        SF_INFO(SF_SOURCE_FMT "table \"%s\": %s; reading from the first row", SF_SOURCE_ARGS(src),
                t->status_key, why.data);
    }
    sf_buf_free(&why);
    return SF_OK;
}

/* Make the table's main offset at least hwm (the backfill's high-water mark), written to flume_meta
 * at once, so that streaming continues right after the rows the backfill reads and no row falls
 * between the two. An offset "hw;gaps" with hw <= hwm becomes hwm: the ids missing below it are the
 * backfill's. */
int sq_raise_offset(struct sf_source *src,
                    struct sql_table *t,
                    const char *hwm,
                    char *err,
                    size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    const char *cur = t->read_offset;
    int cmp = -1;
    if (cur && strcmp(cur, hwm) == 0) {
        return SF_OK;
    }
    if (cur) {
        char *hw = strndup(cur, strcspn(cur, ";"));
        if (!hw) {
            return SF_ERR_NOMEM;
        }
        int rc = offset_cmp(c, t, hw, hwm, &cmp, err, errsz);
        free(hw);
        if (rc != SF_OK) {
            return rc;
        }
    }
    if (cmp > 0) {
        return SF_OK;
    }
    int rc = sq_meta_put(c, t->status_key, hwm, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    SF_INFO(SF_SOURCE_FMT "table \"%s\": offset raised from \"%s\" to the backfill's high-water "
                          "mark \"%s\" (streaming continues after it)",
            SF_SOURCE_ARGS(src), t->status_key, cur ? cur : "(none: no offset yet)", hwm);
    sq_set_str(&t->read_offset, hwm);
    sq_set_str(&t->written_offset, hwm);
    t->gaps_init = false; /* the gap state is parsed again from the new offset */
    return SF_OK;
}
