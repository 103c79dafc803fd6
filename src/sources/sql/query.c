/* query.c: query builder: (dialect, table, mode, offset) -> SQL text and parameters (see
 * sql_int.h). Pure: these functions use only the connector's quoting, placeholders and
 * now_minus_ms, never a connection, so they run without a database
 * (tests/unit/sources/test_sql_source.c).
 */
#include "sql_int.h"

/* Replace every $@$ of custom.query with the placeholder of parameter 1, into out (appended). */
void sq_build_custom_sql(const struct sql_ctx *c, struct sf_buf *out)
{
    const char *s = c->custom_query;
    const char *m;
    while ((m = strstr(s, "$@$")) != NULL) {
        sf_buf_append(out, s, (size_t)(m - s));
        c->cx->placeholder(1, out);
        s = m + 3;
    }
    sf_buf_puts(out, s);
}

/* Build the poll queries of table t for c->mode (c->cx quotes, c->columns, c->max_rows,
 * c->ts_delay_ms): t->sql with the offset bound as parameters, t->sql_first without a lower bound
 * (no offset yet), and the pieces the gap and backfill queries use (t->sel_from "SELECT cols FROM
 * t", the quoted t->qtab, t->qinc, t->qts). Needs t->name, t->inc, t->ts and t->pk resolved (the
 * key columns ride along, hidden, after explicit columns.to.select). @return SF_OK, SF_ERR_INVAL
 * for an empty name in columns.to.select (err filled), or the connector's quoting error (err
 * untouched); the caller treats every error as fatal. */
int sq_build_poll_sql(const struct sql_ctx *c, struct sql_table *t, char *err, size_t errsz)
{
    sf_buf_reset(&t->sql);
    sf_buf_reset(&t->sql_first);
    struct sf_buf qt = SF_BUF_INIT, qi = SF_BUF_INIT, qts = SF_BUF_INIT, cols = SF_BUF_INIT;
    int rc = sf_quote_qualified(c->cx, t->name, &qt);
    if (rc == SF_OK && t->inc) {
        rc = c->cx->quote_ident(t->inc, &qi);
    }
    if (rc == SF_OK && t->ts) {
        rc = c->cx->quote_ident(t->ts, &qts);
    }
    bool star = strcmp(c->columns, "*") == 0;
    if (rc == SF_OK && !star) {
        size_t n = 0;
        char **names = sf_split_names(c->columns, &n, false);
        for (size_t i = 0; rc == SF_OK && i < n; i++) {
            if (!names[i] || !*names[i]) {
                snprintf(err, errsz, "empty column name in columns.to.select");
                rc = SF_ERR_INVAL;
                break;
            }
            if (cols.len) {
                sf_buf_puts(&cols, ", ");
            }
            rc = c->cx->quote_ident(names[i], &cols);
        }
        sf_names_free(names, n);
        /* the offset and key columns ride along, hidden, after the selected ones */
        if (rc == SF_OK && t->inc) {
            sf_buf_printf(&cols, ", %s", qi.data);
        }
        if (rc == SF_OK && t->ts) {
            sf_buf_printf(&cols, ", %s", qts.data);
        }
        for (size_t i = 0; rc == SF_OK && i < t->npk; i++) {
            sf_buf_puts(&cols, ", ");
            rc = c->cx->quote_ident(t->pk[i], &cols);
        }
    }
    if (rc == SF_OK) {
        const char *sel = star ? "*" : cols.data;
        struct sf_buf upper = SF_BUF_INIT;
        c->cx->now_minus_ms(c->ts_delay_ms, &upper);
        /* pieces of the gap and backfill queries */
        sf_buf_reset(&t->sel_from);
        sf_buf_printf(&t->sel_from, "SELECT %s FROM %s", sel, qt.data);
        sf_buf_reset(&t->qtab);
        sf_buf_puts(&t->qtab, qt.data);
        sf_buf_reset(&t->qinc);
        sf_buf_puts(&t->qinc, qi.data ? qi.data : "");
        sf_buf_reset(&t->qts);
        sf_buf_puts(&t->qts, qts.data ? qts.data : "");
        switch (c->mode) {
        case MODE_INCREMENTING:
            sf_buf_printf(&t->sql, "SELECT %s FROM %s WHERE %s > ", sel, qt.data, qi.data);
            c->cx->placeholder(1, &t->sql);
            sf_buf_printf(&t->sql, " ORDER BY %s LIMIT %lld", qi.data, c->max_rows);
            sf_buf_printf(&t->sql_first,
                          "SELECT %s FROM %s WHERE %s IS NOT NULL ORDER BY %s "
                          "LIMIT %lld",
                          sel, qt.data, qi.data, qi.data, c->max_rows);
            break;
        case MODE_TIMESTAMP:
            /* no LIMIT: rows sharing one timestamp must not be cut in two */
            sf_buf_printf(&t->sql, "SELECT %s FROM %s WHERE %s > ", sel, qt.data, qts.data);
            c->cx->placeholder(1, &t->sql);
            sf_buf_printf(&t->sql, " AND %s < %s ORDER BY %s", qts.data, upper.data, qts.data);
            sf_buf_printf(&t->sql_first, "SELECT %s FROM %s WHERE %s < %s ORDER BY %s", sel,
                          qt.data, qts.data, upper.data, qts.data);
            break;
        case MODE_TS_INC:
            sf_buf_printf(&t->sql, "SELECT %s FROM %s WHERE %s < %s AND (%s > ", sel, qt.data,
                          qts.data, upper.data, qts.data);
            c->cx->placeholder(1, &t->sql);
            sf_buf_printf(&t->sql, " OR (%s = ", qts.data);
            c->cx->placeholder(2, &t->sql);
            sf_buf_printf(&t->sql, " AND %s > ", qi.data);
            c->cx->placeholder(3, &t->sql);
            sf_buf_printf(&t->sql, ")) ORDER BY %s, %s LIMIT %lld", qts.data, qi.data, c->max_rows);
            sf_buf_printf(&t->sql_first,
                          "SELECT %s FROM %s WHERE %s < %s ORDER BY %s, %s LIMIT "
                          "%lld",
                          sel, qt.data, qts.data, upper.data, qts.data, qi.data, c->max_rows);
            break;
        default: /* bulk */
            sf_buf_printf(&t->sql, "SELECT %s FROM %s", sel, qt.data);
            sf_buf_puts(&t->sql_first, t->sql.data);
            break;
        }
        sf_buf_free(&upper);
    }
    sf_buf_free(&qt);
    sf_buf_free(&qi);
    sf_buf_free(&qts);
    sf_buf_free(&cols);
    return rc;
}

/* The parameters binding t->read_offset in the poll query of c->mode, into params[0..3); the
 * query is t->sql with an offset and t->sql_first (no parameters) without one. *ts_part is the
 * malloc'd timestamp part of a "ts,inc" offset (params point into it and into t->read_offset;
 * the caller frees *ts_part), else NULL. @return the number of parameters. */
size_t sq_poll_params(const struct sql_ctx *c,
                      const struct sql_table *t,
                      struct sf_param *params,
                      char **ts_part)
{
    size_t nparams = 0;
    const char *inc_part = NULL;
    *ts_part = NULL;
    if (!t->read_offset) {
        nparams = 0; /* no offset yet: t->sql_first, without a lower bound */
    } else if (c->mode == MODE_TS_INC) {
        const char *comma = strchr(t->read_offset, ',');
        *ts_part = comma ? strndup(t->read_offset, (size_t)(comma - t->read_offset))
                         : strdup(t->read_offset);
        inc_part = comma ? comma + 1 : "0";
        params[0] = (struct sf_param){ *ts_part, t->ts_type };
        params[1] = (struct sf_param){ *ts_part, t->ts_type };
        params[2] = (struct sf_param){ inc_part, t->inc_type };
        nparams = 3;
    } else if (c->mode == MODE_TIMESTAMP) {
        params[0] = (struct sf_param){ t->read_offset, t->ts_type };
        nparams = 1;
    } else if (c->mode == MODE_INCREMENTING) {
        enum sf_coltype ty = t->inc_type;
        if (c->custom_query) {
            ty = sq_is_integer(t->read_offset) ? SF_COL_INT : SF_COL_TEXT;
        }
        params[0] = (struct sf_param){ t->read_offset, ty };
        nparams = (c->custom_query && !strstr(c->custom_query, "$@$")) ? 0 : 1;
    }
    return nparams;
}

/* The gap-tracking poll of table t (incrementing mode) for the gap set gs, into out (reset):
 *   (SELECT cols FROM t WHERE inc BETWEEN ? AND ? OR ... ORDER BY inc LIMIT n)
 *   UNION ALL (SELECT cols FROM t WHERE inc > ? ORDER BY inc LIMIT n)
 * (the first part only when gs has gaps), with its parameters in params: each gap's lo and hi,
 * then gs->hw, as integer texts written into num (params point there; both arrays hold at least
 * 1 + 2 * gs->n entries). The rows filling gaps and the rows above hw are two index range scans:
 * one WHERE with "inc > ? OR inc BETWEEN ..." makes PostgreSQL scan everything above hw (a bitmap
 * of the whole rest of the table, then a sort) on every poll, quadratic in a table with holes.
 * @return the number of parameters. */
size_t sq_build_gap_sql(const struct sql_ctx *c,
                        const struct sql_table *t,
                        const struct sf_gapset *gs,
                        struct sf_buf *out,
                        struct sf_param *params,
                        char (*num)[24])
{
    sf_buf_reset(out);
    size_t k = 0;
    if (gs->n > 0) {
        sf_buf_printf(out, "(%s WHERE ", t->sel_from.data);
        for (size_t i = 0; i < gs->n; i++) {
            sf_buf_printf(out, "%s%s BETWEEN ", i ? " OR " : "", t->qinc.data);
            c->cx->placeholder((int)k + 1, out);
            sf_buf_puts(out, " AND ");
            c->cx->placeholder((int)k + 2, out);
            snprintf(num[k], sizeof(num[k]), "%lld", gs->g[i].lo);
            snprintf(num[k + 1], sizeof(num[k + 1]), "%lld", gs->g[i].hi);
            params[k] = (struct sf_param){ num[k], SF_COL_INT };
            params[k + 1] = (struct sf_param){ num[k + 1], SF_COL_INT };
            k += 2;
        }
        sf_buf_printf(out, " ORDER BY %s LIMIT %lld) UNION ALL (", t->qinc.data, c->max_rows);
    }
    sf_buf_printf(out, "%s WHERE %s > ", t->sel_from.data, t->qinc.data);
    c->cx->placeholder((int)k + 1, out);
    snprintf(num[k], sizeof(num[k]), "%lld", gs->hw);
    params[k] = (struct sf_param){ num[k], SF_COL_INT };
    k++;
    sf_buf_printf(out, " ORDER BY %s LIMIT %lld%s", t->qinc.data, c->max_rows,
                  gs->n > 0 ? ")" : "");
    return k;
}

/* The backfill's chunk query of table t into q (reset):
 *   SELECT cols FROM t WHERE pk > ? AND inc <= ? ORDER BY pk LIMIT limit
 * (no key bound before the first key, t->bf_key NULL; timestamp modes bound ts by t->bf_h1, or
 * the pair ts,inc by t->bf_h1, t->bf_h2), with its parameters in params[0..4) (pointing into t).
 * @return the number of parameters. */
int sq_build_backfill_sql(const struct sql_ctx *c,
                          const struct sql_table *t,
                          long long limit,
                          struct sf_buf *q,
                          struct sf_param *params)
{
    int np = 0;
    sf_buf_reset(q);
    sf_buf_printf(q, "%s WHERE ", t->sel_from.data);
    if (t->bf_key) {
        sf_buf_printf(q, "%s > ", t->qpk.data);
        params[np++] = (struct sf_param){ t->bf_key, t->pk_type };
        c->cx->placeholder(np, q);
        sf_buf_puts(q, " AND ");
    }
    switch (c->mode) {
    case MODE_TS_INC:
        sf_buf_printf(q, "(%s < ", t->qts.data);
        params[np++] = (struct sf_param){ t->bf_h1, t->ts_type };
        c->cx->placeholder(np, q);
        sf_buf_printf(q, " OR (%s = ", t->qts.data);
        params[np++] = (struct sf_param){ t->bf_h1, t->ts_type };
        c->cx->placeholder(np, q);
        sf_buf_printf(q, " AND %s <= ", t->qinc.data);
        params[np++] = (struct sf_param){ t->bf_h2, t->inc_type };
        c->cx->placeholder(np, q);
        sf_buf_puts(q, "))");
        break;
    case MODE_TIMESTAMP:
        sf_buf_printf(q, "%s <= ", t->qts.data);
        params[np++] = (struct sf_param){ t->bf_h1, t->ts_type };
        c->cx->placeholder(np, q);
        break;
    default:
        sf_buf_printf(q, "%s <= ", t->qinc.data);
        params[np++] = (struct sf_param){ t->bf_h1, t->inc_type };
        c->cx->placeholder(np, q);
        break;
    }
    sf_buf_printf(q, " ORDER BY %s LIMIT %lld", t->qpk.data, limit);
    return np;
}
