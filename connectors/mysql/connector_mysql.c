/*
 * MySQL/MariaDB connector (libmysqlclient API, built against MariaDB Connector/C). Every statement
 * with parameters runs as a server-side prepared statement with bound parameters; results are
 * streamed unbuffered (no mysql_stmt_store_result), so memory stays constant whatever the result
 * size. Result columns are bound once per query: integers, floats and temporal values in their
 * native binary form, formatted here into the exact text the server's text protocol would show
 * (DATETIME(6) with its microseconds, doubles in the server's shortest round-trip form); strings,
 * decimals and binary columns into reusable per-column buffers that grow when a value does not
 * fit (MYSQL_DATA_TRUNCATED + mysql_stmt_fetch_column) and keep their size for later rows. No
 * memory is allocated per row. The last query and the last exec statement are kept prepared and
 * re-executed when the same SQL text comes again (prepared afresh when the table was altered:
 * the column count or a column name changed). A running query owns the connection: after
 * fetch() returned 0 or an error the query is over; exec(), query() and primary_key() while one
 * runs fail with SF_ERR_STATE. After SF_ERR_CONN the caller closes and reconnects.
 */
#include "mysql_sql.h"
#include "../common.h"
#include "../shared_dialect.h"
#include "mysql_errors.h"
#include "mysql_params.h"
#include "mysql_types.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#include "sqlflume/error.h"

#define MY_CONNECT_TIMEOUT_S 10
#define MY_READ_TIMEOUT_S    900
#define MY_WRITE_TIMEOUT_S   120
#define MY_STR_INIT_CAP      256     /* first buffer for a string column (grows on demand) */
#define MY_STR_MAX_INIT_CAP  8192    /* never pre-allocate more than this per column */
#define MY_BUF_KEEP_CAP      1048576 /* buffers grown beyond this are released at query end */

/* One cached prepared statement and the SQL text it was prepared from. */
struct my_stmt {
    MYSQL_STMT *stmt;
    char *sql;
};

/* Storage for bound parameter values (numbers must outlive mysql_stmt_bind_param). */
union my_pval {
    long long ll;
    double d;
};

struct sf_conn {
    struct sfc_conn base; /* first: the shared layer's view (driver, dialect, where) */
    MYSQL *my;
    char *password;   /* only to scrub it from messages, never printed */
    struct my_stmt q; /* the query statement */
    struct my_stmt x; /* the exec statement */
    bool running;     /* a query's result is being streamed */
    /* result description and per-column state, sized for the widest result so far */
    size_t ncols;
    size_t cols_cap;
    struct sf_column *cols;
    struct my_col *mc;
    MYSQL_BIND *rbind;
    const char **vals;
    size_t *lens;
    /* parameter binding storage */
    size_t params_cap;
    MYSQL_BIND *pbind;
    union my_pval *pvals;
    unsigned long *plens;
};

/* ---- messages and error classes ---------------------------------------------------------- */

/* Fill errstr with "<what> on mysql at <where>: <message> (error N)" and classify. */
static int
stmt_error(struct sf_conn *c, MYSQL_STMT *stmt, const char *what, char *errstr, size_t errstr_size)
{
    unsigned int no = stmt ? mysql_stmt_errno(stmt) : mysql_errno(c->my);
    const char *msg = stmt ? mysql_stmt_error(stmt) : mysql_error(c->my);
    const char *state = stmt ? mysql_stmt_sqlstate(stmt) : mysql_sqlstate(c->my);
    if (no == 0 && stmt) { /* some failures are recorded on the connection only */
        no = mysql_errno(c->my);
        msg = mysql_error(c->my);
        state = mysql_sqlstate(c->my);
    }
    sf_set_errstr(errstr, errstr_size, "%s on mysql at %s: %s (error %u)", what, c->base.where,
                msg && *msg ? msg : "unknown error", no);
    sfc_scrub_password(errstr, errstr_size, c->password);
    return my_classify(no, state);
}

/* ---- small helpers ------------------------------------------------------------------------- */

static void stmt_drop(struct my_stmt *s)
{
    if (s->stmt) {
        mysql_stmt_close(s->stmt);
    }
    free(s->sql);
    s->stmt = NULL;
    s->sql = NULL;
}

/* ---- connect / close ----------------------------------------------------------------------- */

static void my_close(struct sf_conn *c);

static int
my_connect(const struct sf_db_url *url, struct sf_conn **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    struct sf_conn *c = sf_xcalloc(1, sizeof(*c));
    int rc = SF_OK;
    c->base.cx = &sf_connector_mysql;
    c->base.dialect = &sfc_dialect_mysql;
    if (url->socket) {
        snprintf(c->base.where, sizeof(c->base.where), "%s", url->socket);
    } else if (url->host && strchr(url->host, ':')) {
        snprintf(c->base.where, sizeof(c->base.where), "[%s]:%d", url->host,
                 url->port ? url->port : 3306);
    } else {
        snprintf(c->base.where, sizeof(c->base.where), "%s:%d", url->host ? url->host : "localhost",
                 url->port ? url->port : 3306);
    }
    if (url->password) {
        c->password = sf_xstrdup(url->password);
    }
    c->my = mysql_init(NULL);
    if (!c->my) {
        sf_set_errstr(errstr, errstr_size, "could not connect to mysql at %s: out of memory",
                    c->base.where);
        rc = SF_ERR_NOMEM;
        goto out;
    }
    unsigned int connect_timeout = MY_CONNECT_TIMEOUT_S;
    unsigned int read_timeout = MY_READ_TIMEOUT_S;
    unsigned int write_timeout = MY_WRITE_TIMEOUT_S;
    my_bool yes = 1;
    my_bool no = 0;
    unsigned int local_infile = 0;
    mysql_options(c->my, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_options(c->my, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(c->my, MYSQL_OPT_READ_TIMEOUT, &read_timeout);
    mysql_options(c->my, MYSQL_OPT_WRITE_TIMEOUT, &write_timeout);
    mysql_options(c->my, MYSQL_REPORT_DATA_TRUNCATION, &yes);
    mysql_options(c->my, MYSQL_OPT_RECONNECT, &no);
    mysql_options(c->my, MYSQL_OPT_LOCAL_INFILE, &local_infile);
    mysql_options(c->my, MYSQL_INIT_COMMAND, MY_SQL_SESSION_INIT);
    my_apply_query_options(c->my, url->query);
    if (!mysql_real_connect(c->my, url->socket ? NULL : url->host, url->user, url->password,
                            url->database, (unsigned int)(url->port > 0 ? url->port : 0),
                            url->socket, 0)) {
        unsigned int no_ = mysql_errno(c->my);
        sf_set_errstr(errstr, errstr_size, "could not connect to mysql at %s: %s", c->base.where,
                    mysql_error(c->my));
        sfc_scrub_password(errstr, errstr_size, c->password);
        rc = my_classify(no_, mysql_sqlstate(c->my));
        if (rc == SF_ERR_SQL) {
            rc = SF_ERR_CONN; /* e.g. an init command the server refused: treat as transient */
        }
        goto out;
    }
    *out = c;
    c = NULL;
out:
    my_close(c);
    return rc;
}

static void my_query_end(struct sf_conn *c);

static void my_close(struct sf_conn *c)
{
    if (!c) {
        return;
    }
    my_query_end(c);
    stmt_drop(&c->q);
    stmt_drop(&c->x);
    if (c->my) {
        mysql_close(c->my);
    }
    sfc_cols_free_names(c->cols, &c->ncols);
    for (size_t i = 0; i < c->cols_cap; i++) {
        free(c->mc[i].buf);
    }
    free(c->cols);
    free(c->mc);
    free(c->rbind);
    free(c->vals);
    free(c->lens);
    free(c->pbind);
    free(c->pvals);
    free(c->plens);
    free(c->password);
    free(c);
}

/* ---- parameters ------------------------------------------------------------------------------ */

static void params_reserve(struct sf_conn *c, size_t n)
{
    if (n <= c->params_cap) {
        return;
    }
    c->pbind = sf_xrealloc(c->pbind, n * sizeof(*c->pbind));
    c->pvals = sf_xrealloc(c->pvals, n * sizeof(*c->pvals));
    c->plens = sf_xrealloc(c->plens, n * sizeof(*c->plens));
    c->params_cap = n;
}

static void bind_params(struct sf_conn *c, const struct sf_param *params, size_t nparams)
{
    params_reserve(c, nparams);
    memset(c->pbind, 0, nparams * sizeof(*c->pbind));
    for (size_t i = 0; i < nparams; i++) {
        MYSQL_BIND *b = &c->pbind[i];
        const struct sf_param *p = &params[i];
        if (!p->val) {
            b->buffer_type = MYSQL_TYPE_NULL;
            continue;
        }
        if (p->type == SF_COL_INT) {
            bool uns;
            if (my_parse_int(p->val, &c->pvals[i].ll, &uns)) {
                b->buffer_type = MYSQL_TYPE_LONGLONG;
                b->buffer = &c->pvals[i].ll;
                b->is_unsigned = (my_bool)uns;
                continue;
            }
        } else if (p->type == SF_COL_FLOAT) {
            char *end;
            errno = 0;
            double d = strtod(p->val, &end);
            if (end != p->val && *end == '\0' && errno == 0) {
                c->pvals[i].d = d;
                b->buffer_type = MYSQL_TYPE_DOUBLE;
                b->buffer = &c->pvals[i].d;
                continue;
            }
        }
        /* Text; DECIMAL goes as a decimal so that comparisons stay exact (a string compared
         * with a DECIMAL column would be compared as double). */
        b->buffer_type = p->type == SF_COL_DECIMAL ? MYSQL_TYPE_NEWDECIMAL : MYSQL_TYPE_STRING;
        union {
            const char *in;
            void *out;
        } unconst = { .in = p->val }; /* the library never writes parameter buffers */
        b->buffer = unconst.out;
        c->plens[i] = (unsigned long)strlen(p->val);
        b->buffer_length = c->plens[i];
        b->length = &c->plens[i];
    }
}

/* libmariadb: "the number of columns in the result set has changed" (table altered) */
#define MY_CR_NEW_STMT_METADATA 2057

/*
 * Prepare (or reuse) the statement in slot s for sql, bind params and execute it. *reused tells
 * whether a cached statement was executed. A cached statement whose result now has a different
 * number of columns (the table was altered) is prepared again once. On failure the slot is
 * dropped (its statement may be in an unknown state).
 */
static int stmt_execute(struct sf_conn *c,
                        struct my_stmt *s,
                        const char *sql,
                        const struct sf_param *params,
                        size_t nparams,
                        bool *reused,
                        char *errstr,
                        size_t errstr_size)
{
    int rc;
    for (int attempt = 0;; attempt++) {
        *reused = s->stmt && strcmp(s->sql, sql) == 0;
        if (!*reused) {
            stmt_drop(s);
            s->stmt = mysql_stmt_init(c->my);
            if (!s->stmt) {
                return stmt_error(c, NULL, "could not prepare statement", errstr, errstr_size);
            }
            if (mysql_stmt_prepare(s->stmt, sql, (unsigned long)strlen(sql)) != 0) {
                rc = stmt_error(c, s->stmt, "could not prepare statement", errstr, errstr_size);
                stmt_drop(s);
                return rc;
            }
            s->sql = sf_xstrdup(sql);
        }
        unsigned long want = mysql_stmt_param_count(s->stmt);
        if (want != nparams) {
            sf_set_errstr(errstr, errstr_size,
                        "statement has %lu parameter placeholders but %zu values were given", want,
                        nparams);
            return SF_ERR_INVAL;
        }
        if (nparams > 0) {
            bind_params(c, params, nparams);
            if (mysql_stmt_bind_param(s->stmt, c->pbind) != 0) {
                rc = stmt_error(c, s->stmt, "could not bind parameters", errstr, errstr_size);
                stmt_drop(s);
                return rc;
            }
        }
        if (mysql_stmt_execute(s->stmt) != 0) {
            if (*reused && attempt == 0 && mysql_stmt_errno(s->stmt) == MY_CR_NEW_STMT_METADATA) {
                stmt_drop(s);
                continue;
            }
            rc = stmt_error(c, s->stmt, "could not execute statement", errstr, errstr_size);
            stmt_drop(s);
            return rc;
        }
        return SF_OK;
    }
}

/* ---- result columns -------------------------------------------------------------------------- */

static void cols_reserve(struct sf_conn *c, size_t n)
{
    if (n <= c->cols_cap) {
        return;
    }
    c->cols = sf_xrealloc(c->cols, n * sizeof(*c->cols));
    c->mc = sf_xrealloc(c->mc, n * sizeof(*c->mc));
    c->rbind = sf_xrealloc(c->rbind, n * sizeof(*c->rbind));
    c->vals = sf_xrealloc(c->vals, n * sizeof(*c->vals));
    c->lens = sf_xrealloc(c->lens, n * sizeof(*c->lens));
    for (size_t i = c->cols_cap; i < n; i++) {
        memset(&c->cols[i], 0, sizeof(c->cols[i]));
        memset(&c->mc[i], 0, sizeof(c->mc[i]));
    }
    c->cols_cap = n;
}

/*
 * After re-executing a cached statement: libmariadb refreshes the types of its result columns
 * from the metadata the server sent with the result, but not their names, so a renamed column
 * would keep its old name. The connection's own field list (MYSQL.fields) holds what the server
 * sent (or a copy of the statement's when the server skipped unchanged metadata).
 */
static bool names_changed(struct sf_conn *c)
{
    unsigned int n = mysql_stmt_field_count(c->q.stmt);
    if (n == 0 || !c->my->fields || c->my->field_count != n || n > c->ncols) {
        return n != c->ncols;
    }
    for (unsigned int i = 0; i < n; i++) {
        const char *now = c->my->fields[i].name ? c->my->fields[i].name : "";
        if (strcmp(now, c->cols[i].name) != 0) {
            return true;
        }
    }
    return false;
}

/* Describe the result of the executed query statement and bind its columns. */
static int bind_result(struct sf_conn *c, char *errstr, size_t errstr_size)
{
    MYSQL_STMT *stmt = c->q.stmt;
    unsigned int n = mysql_stmt_field_count(stmt);
    sfc_cols_free_names(c->cols, &c->ncols);
    cols_reserve(c, n);
    if (n == 0) {
        return SF_OK;
    }
    MYSQL_RES *meta = mysql_stmt_result_metadata(stmt);
    if (!meta) {
        return stmt_error(c, stmt, "could not read result metadata", errstr, errstr_size);
    }
    MYSQL_FIELD *fields = mysql_fetch_fields(meta);
    memset(c->rbind, 0, n * sizeof(*c->rbind));
    for (unsigned int i = 0; i < n; i++) {
        const MYSQL_FIELD *f = &fields[i];
        struct my_col *m = &c->mc[i];
        MYSQL_BIND *b = &c->rbind[i];
        c->cols[i].name = sf_xstrdup(f->name ? f->name : "");
        c->cols[i].type = my_column_class(f);
        my_column_detail(f, &c->cols[i]);
        c->ncols = i + 1;
        m->is_unsigned = (f->flags & UNSIGNED_FLAG) != 0;
        /* YEAR comes flagged ZEROFILL (the server shows 0 as "0000"): here it is a plain
         * integer, so a JSON body has a number for every year */
        m->zerofill = (f->flags & ZEROFILL_FLAG) != 0 && f->type != MYSQL_TYPE_YEAR;
        m->decimals = f->decimals;
        m->width = (unsigned)(f->length < 400 ? f->length : 400);
        b->is_null = &m->is_null;
        b->length = &m->len;
        b->error = &m->error;
        b->is_unsigned = (my_bool)m->is_unsigned;
        switch (f->type) {
        case MYSQL_TYPE_TINY:
            m->kind = MK_INT8;
            b->buffer_type = MYSQL_TYPE_TINY;
            b->buffer = &m->num.i8;
            break;
        case MYSQL_TYPE_SHORT:
        case MYSQL_TYPE_YEAR:
            m->kind = MK_INT16;
            b->buffer_type = MYSQL_TYPE_SHORT;
            b->buffer = &m->num.i16;
            break;
        case MYSQL_TYPE_LONG:
        case MYSQL_TYPE_INT24:
            m->kind = MK_INT32;
            b->buffer_type = MYSQL_TYPE_LONG;
            b->buffer = &m->num.i32;
            break;
        case MYSQL_TYPE_LONGLONG:
            m->kind = MK_INT64;
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &m->num.i64;
            break;
        case MYSQL_TYPE_FLOAT:
            m->kind = MK_FLOAT;
            b->buffer_type = MYSQL_TYPE_FLOAT;
            b->buffer = &m->num.f;
            break;
        case MYSQL_TYPE_DOUBLE:
            m->kind = MK_DOUBLE;
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &m->num.d;
            break;
        case MYSQL_TYPE_DATE:
        case MYSQL_TYPE_NEWDATE:
            m->kind = MK_DATE;
            b->buffer_type = MYSQL_TYPE_DATE;
            b->buffer = &m->num.t;
            b->buffer_length = sizeof(MYSQL_TIME);
            break;
        case MYSQL_TYPE_TIME:
            m->kind = MK_TIME;
            b->buffer_type = MYSQL_TYPE_TIME;
            b->buffer = &m->num.t;
            b->buffer_length = sizeof(MYSQL_TIME);
            break;
        case MYSQL_TYPE_DATETIME:
        case MYSQL_TYPE_TIMESTAMP:
            m->kind = MK_DATETIME;
            b->buffer_type = MYSQL_TYPE_DATETIME;
            b->buffer = &m->num.t;
            b->buffer_length = sizeof(MYSQL_TIME);
            break;
        default: {
            m->kind = MK_STR;
            size_t want = f->length + 1;
            if (want < MY_STR_INIT_CAP) {
                want = MY_STR_INIT_CAP;
            }
            if (want > MY_STR_MAX_INIT_CAP) {
                want = MY_STR_MAX_INIT_CAP;
            }
            if (m->cap < want) {
                m->buf = sf_xrealloc(m->buf, want);
                m->cap = want;
            }
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = m->buf;
            b->buffer_length = (unsigned long)m->cap;
            break;
        }
        }
    }
    mysql_free_result(meta);
    if (mysql_stmt_bind_result(stmt, c->rbind) != 0) {
        return stmt_error(c, stmt, "could not bind result columns", errstr, errstr_size);
    }
    return SF_OK;
}

/* ---- query / fetch ----------------------------------------------------------------------------
 */

static int my_query(struct sf_conn *c,
                    const char *sql,
                    const struct sf_param *params,
                    size_t nparams,
                    const struct sf_column **cols,
                    size_t *ncols,
                    char *errstr,
                    size_t errstr_size)
{
    int rc = sfc_check_idle(c->running, "mysql", c->base.where, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    *cols = NULL;
    *ncols = 0;
    for (int attempt = 0;; attempt++) {
        bool reused;
        rc = stmt_execute(c, &c->q, sql, params, nparams, &reused, errstr, errstr_size);
        if (rc != SF_OK) {
            return rc;
        }
        c->running = true;
        if (reused && attempt == 0 && names_changed(c)) {
            my_query_end(c); /* a column was renamed: prepare again for the new names */
            stmt_drop(&c->q);
            continue;
        }
        rc = bind_result(c, errstr, errstr_size);
        if (rc != SF_OK) {
            my_query_end(c);
            stmt_drop(&c->q);
            return rc;
        }
        break;
    }
    if (c->ncols == 0) {
        c->running = false; /* a statement without a result set: nothing to fetch */
    }
    *cols = c->cols;
    *ncols = c->ncols;
    return SF_OK;
}

/* Fetch the rest of truncated string values into grown buffers and rebind them. */
static int refetch_truncated(struct sf_conn *c, char *errstr, size_t errstr_size)
{
    bool rebind = false;
    for (size_t i = 0; i < c->ncols; i++) {
        struct my_col *m = &c->mc[i];
        if (!m->error || m->is_null || m->kind != MK_STR) {
            continue;
        }
        size_t need = (size_t)m->len + 1;
        size_t cap = m->cap ? m->cap : MY_STR_INIT_CAP;
        while (cap < need) {
            cap *= 2;
        }
        m->buf = sf_xrealloc(m->buf, cap);
        m->cap = cap;
        MYSQL_BIND b;
        memset(&b, 0, sizeof(b));
        unsigned long len = 0;
        my_bool is_null = 0;
        my_bool err = 0;
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = m->buf;
        b.buffer_length = (unsigned long)m->cap;
        b.length = &len;
        b.is_null = &is_null;
        b.error = &err;
        if (mysql_stmt_fetch_column(c->q.stmt, &b, (unsigned int)i, 0) != 0) {
            return stmt_error(c, c->q.stmt, "could not fetch a long value", errstr, errstr_size);
        }
        m->len = len;
        m->error = 0;
        c->rbind[i].buffer = m->buf;
        c->rbind[i].buffer_length = (unsigned long)m->cap;
        rebind = true;
    }
    if (rebind && mysql_stmt_bind_result(c->q.stmt, c->rbind) != 0) {
        return stmt_error(c, c->q.stmt, "could not bind result columns", errstr, errstr_size);
    }
    return SF_OK;
}

static int my_fetch(struct sf_conn *c, struct sf_row *row, char *errstr, size_t errstr_size)
{
    if (!c->running) {
        return 0;
    }
    int rc = mysql_stmt_fetch(c->q.stmt);
    if (rc == MYSQL_NO_DATA) {
        my_query_end(c);
        return 0;
    }
    if (rc == 1) {
        rc = stmt_error(c, c->q.stmt, "could not fetch row", errstr, errstr_size);
        my_query_end(c);
        stmt_drop(&c->q);
        return rc;
    }
    if (rc == MYSQL_DATA_TRUNCATED) {
        rc = refetch_truncated(c, errstr, errstr_size);
        if (rc != SF_OK) {
            my_query_end(c);
            stmt_drop(&c->q);
            return rc;
        }
    }
    for (size_t i = 0; i < c->ncols; i++) {
        struct my_col *m = &c->mc[i];
        if (m->is_null) {
            c->vals[i] = NULL;
            c->lens[i] = 0;
            continue;
        }
        switch (m->kind) {
        case MK_STR:
            c->vals[i] = m->buf;
            c->lens[i] = m->len;
            break;
        case MK_INT8:
        case MK_INT16:
        case MK_INT32:
        case MK_INT64:
            c->lens[i] = my_format_integer(m, &c->vals[i]);
            break;
        case MK_FLOAT:
        case MK_DOUBLE:
            c->lens[i] = my_format_real(m);
            c->vals[i] = m->text;
            break;
        case MK_DATE:
        case MK_TIME:
        case MK_DATETIME:
            c->lens[i] = my_format_temporal(m);
            c->vals[i] = m->text;
            break;
        }
    }
    row->ncols = c->ncols;
    row->vals = c->vals;
    row->lens = c->lens;
    return 1;
}

static void my_query_end(struct sf_conn *c)
{
    if (!c || !c->running) {
        return;
    }
    c->running = false;
    if (c->q.stmt) {
        /* reads any unread rows off the wire so that the connection is usable again */
        mysql_stmt_free_result(c->q.stmt);
    }
    /* give back buffers that a huge value grew */
    for (size_t i = 0; i < c->ncols; i++) {
        if (c->mc[i].cap > MY_BUF_KEEP_CAP) {
            free(c->mc[i].buf);
            c->mc[i].buf = NULL;
            c->mc[i].cap = 0;
        }
    }
}

/* ---- exec -------------------------------------------------------------------------------------
 */

static int my_exec(struct sf_conn *c,
                   const char *sql,
                   const struct sf_param *params,
                   size_t nparams,
                   char *errstr,
                   size_t errstr_size)
{
    int rc = sfc_check_idle(c->running, "mysql", c->base.where, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    if (nparams == 0) {
        /* plain query: works for statements the server cannot prepare (some DDL) */
        if (mysql_real_query(c->my, sql, (unsigned long)strlen(sql)) != 0) {
            return stmt_error(c, NULL, "could not execute statement", errstr, errstr_size);
        }
        if (mysql_field_count(c->my) > 0) {
            MYSQL_RES *res = mysql_use_result(c->my);
            if (res) {
                mysql_free_result(res);
            }
        }
        return SF_OK;
    }
    bool reused;
    rc = stmt_execute(c, &c->x, sql, params, nparams, &reused, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    if (mysql_stmt_field_count(c->x.stmt) > 0) {
        mysql_stmt_free_result(c->x.stmt);
    }
    return SF_OK;
}

/* ---- dialect ---------------------------------------------------------------------------------
 * The shared layer (../shared_dialect.h) with this database's row, sfc_dialect_mysql
 * (mysql_dialect.c): quoting, placeholders, status table, "now minus"; primary_key and
 * estimate_rows are the shared ones themselves.
 */

static int my_quote_ident(const char *name, struct sf_buf *out)
{
    return sfc_dialect_quote_ident(&sfc_dialect_mysql, name, out);
}

static void my_placeholder(int index, struct sf_buf *out)
{
    sfc_dialect_placeholder(&sfc_dialect_mysql, index, out);
}

static void my_status_table_ddl(const char *quoted_table, struct sf_buf *out)
{
    sfc_dialect_status_ddl(&sfc_dialect_mysql, quoted_table, out);
}

static void my_status_upsert_sql(const char *quoted_table, struct sf_buf *out)
{
    sfc_dialect_status_upsert(&sfc_dialect_mysql, quoted_table, out);
}

static void my_now_minus_ms(long long ms, struct sf_buf *out)
{
    sfc_dialect_now_minus_ms(&sfc_dialect_mysql, ms, out);
}

static const char *const my_schemes[] = { "mysql", NULL };

const struct sf_connector_plugin sf_connector_mysql = {
    .name = "mysql",
    .schemes = my_schemes,
    .connect = my_connect,
    .close = my_close,
    .quote_ident = my_quote_ident,
    .placeholder = my_placeholder,
    .primary_key = sfc_primary_key,
    .query = my_query,
    .fetch = my_fetch,
    .query_end = my_query_end,
    .exec = my_exec,
    .status_table_ddl = my_status_table_ddl,
    .status_upsert_sql = my_status_upsert_sql,
    .now_minus_ms = my_now_minus_ms,
    .estimate_rows = sfc_estimate_rows,
    .open_txns_sql = MY_SQL_OPEN_TXNS,
    .open_txns_count_sql = MY_SQL_OPEN_TXNS_COUNT,
    .privileges_sql = MY_SQL_PRIVILEGES,
    .lock_try_sql = MY_SQL_LOCK_TRY,
    .lock_release_sql = MY_SQL_LOCK_RELEASE,
    .lock_holder_sql = MY_SQL_LOCK_HOLDER,
};
