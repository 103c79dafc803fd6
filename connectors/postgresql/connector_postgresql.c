/*
 * PostgreSQL connector (libpq). Parameters go out as text whose types the server infers, through
 * the extended protocol (PQsendQueryParams), never spliced into the SQL.
 *
 * Queries returning rows (first keyword SELECT, WITH, VALUES or TABLE) are read in batches through
 * a server-side cursor, one PGresult per FETCH of up to PG_FETCH_ROWS rows: single-row mode
 * (PQsetSingleRowMode) built and freed one PGresult per row, the main per-row cost of the client,
 * and libpq 15 has no chunked-rows mode. A cursor lives in a transaction block: when the session
 * is idle, query() opens one (plain BEGIN) and the end of the result closes it with COMMIT, or
 * ROLLBACK after an error; inside the caller's own block (exec("BEGIN")) the cursor is only
 * CLOSEd and the block left to the caller. Everything goes out in libpq pipeline mode, a sync
 * point after each step, so that no step waits for the one before:
 *
 *   query()      [BEGIN] DECLARE sf_cursor NO SCROLL CURSOR FOR <sql> (parameters bound)
 *                FETCH n, sync; waits for batch 1, which describes the columns
 *   batch k      on arrival, before its rows are handed out: when it is full, FETCHes are queued
 *                so that two are in flight (the server produces batch k+2 while libpq reads
 *                batch k+1: one FETCH in flight would leave the server idle during that read);
 *                when it is short, COMMIT (CLOSE) is queued, behind FETCHes that come back empty
 *   fetch()      hands out row r of batch k; past its last row, reads the next result in flight
 *   query_end()  queues COMMIT (CLOSE) behind the FETCHes in flight and reads them all off,
 *                discarding their rows: no cancel request, at most two batches are read for nothing
 *
 * Ownership and memory: the current batch's PGresult belongs to the connection and is cleared
 * when the next batch is read (row values borrow from it); the batches in flight wait in the
 * kernel's socket buffers or on the server, which stops when those are full. So memory is one or
 * two batches whatever the result size. The first FETCH asks for PG_FETCH_FIRST_ROWS rows (or,
 * when the same query text ran before on this connection, the size its last run reached) and each
 * next one for at most PG_FETCH_GROWTH times the previous, up to PG_FETCH_ROWS, and fewer once a
 * batch shows rows so wide that n of them would take more than PG_FETCH_BYTES: a table of 10 MB
 * rows never has a thousand of them fetched at once. The session sets cursor_tuple_fraction=1 so
 * that a cursor gets the plan of the plain query (the default plans for the first 10% of rows).
 * Other statements sent through query() (SHOW, EXPLAIN, INSERT/UPDATE ... RETURNING) run as before
 * in single-row mode. A cursor cannot run SELECT ... INTO or a WITH holding INSERT/UPDATE/DELETE:
 * such queries fail with SF_ERR_SQL.
 *
 * Values are handed out as libpq returns them (text form), except bytea, whose hex form (\x...) is
 * decoded into a reusable per-column buffer. The session is set up in the startup packet: UTC,
 * ISO dates, hex bytea, exact floats, UTF8. A running query owns the connection: after fetch()
 * returned 0 or an error the query is over (block ended, pipeline mode left); exec(), query() and
 * primary_key() while one runs fail with SF_ERR_STATE. After SF_ERR_CONN the caller closes and
 * reconnects.
 */
#include "postgresql_sql.h"
#include "../common.h"
#include "../shared_dialect.h"
#include "postgresql_errors.h"
#include "postgresql_params.h"
#include "postgresql_types.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "sqlflume/error.h"
#include "sqlflume/log.h"

#define PG_FETCH_ROWS       1000 /* rows per FETCH */
#define PG_FETCH_FIRST_ROWS 1    /* rows of a query's first FETCH: their size sizes the next */
#define PG_FETCH_GROWTH     8    /* a FETCH asks for at most this many times the previous one */
#define PG_FETCH_DEPTH      2    /* FETCHes kept in flight while a batch is handed out */
#define PG_FETCH_BYTES      (8 * 1024 * 1024) /* fewer rows per FETCH when a batch is larger */
#define PG_FETCH_MEMO       8 /* queries whose last FETCH size is remembered for the next run */
#define PG_BUF_KEEP_CAP     1048576           /* bytea buffers grown beyond this are released */

struct sf_conn {
    struct sfc_conn base; /* first: the shared layer's view (driver, dialect, where) */
    PGconn *pg;
    char *password;            /* only to scrub it from messages, never printed */
    bool running;              /* between a successful query() and the end of its result */
    bool own_block;            /* the running query opened its transaction block (BEGIN) itself */
    bool single;               /* single-row mode: the next row or the end is still to be read */
    bool ending;               /* cursor: COMMIT or CLOSE is queued behind the FETCHes in flight */
    int fetches;               /* cursor: FETCHes in flight, each followed by a sync point */
    int asked[PG_FETCH_DEPTH]; /* rows asked for by each FETCH in flight, oldest first */
    int syncs;                 /* pipeline sync points sent whose results are not read yet */
    PGresult *res;             /* current batch (single-row mode: row), cleared at the next */
    int nrows;                 /* rows in res */
    int row;                   /* next row of res to hand out */
    struct sf_buf sql;         /* DECLARE text, reused */
    /* the FETCH size the last run of a query reached, by a hash of its text: the next run of
     * the same query (the same table's next poll) starts there instead of at
     * PG_FETCH_FIRST_ROWS, which saves the ramp's round trips on every poll of max.rows rows */
    struct {
        uint64_t hash;
        int rows;
    } memo[PG_FETCH_MEMO];
    unsigned memo_next; /* the slot the next new query takes */
    uint64_t sql_hash;  /* of the running query */
    size_t ncols;
    size_t cols_cap;
    struct sf_column *cols;
    struct pg_col *pc;
    const char **vals;
    size_t *lens;
    size_t params_cap;
    const char **pvals;
};

/* ---- helpers ----------------------------------------------------------------------------------
 */

/* Fill errstr from a failed result (or the connection when res is NULL) and classify. */
static int result_error(struct sf_conn *c,
                        const PGresult *res,
                        const char *what,
                        char *errstr,
                        size_t errstr_size)
{
    char msg[1024];
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (primary) {
        snprintf(msg, sizeof(msg), "%s", primary);
    } else {
        pg_clean_message(res ? PQresultErrorMessage(res) : NULL, msg, sizeof(msg));
        if (!msg[0]) {
            pg_clean_message(PQerrorMessage(c->pg), msg, sizeof(msg));
        }
    }
    bool bad = PQstatus(c->pg) == CONNECTION_BAD;
    if (state) {
        sf_set_errstr(errstr, errstr_size, "%s on postgresql at %s: %s (SQLSTATE %s)", what,
                    c->base.where, msg[0] ? msg : "unknown error", state);
    } else {
        sf_set_errstr(errstr, errstr_size, "%s on postgresql at %s: %s", what, c->base.where,
                    msg[0] ? msg : (bad ? "connection lost" : "unknown error"));
    }
    if (errstr) {
        sfc_scrub_password(errstr, errstr_size, c->password);
    }
    return pg_classify(state, bad);
}

static void drain(PGconn *pg)
{
    PGresult *r;
    while ((r = PQgetResult(pg)) != NULL) {
        PQclear(r);
    }
}

/* ---- connect / close ----------------------------------------------------------------------------
 */

static void pg_close(struct sf_conn *c);

/* Server notices ("table does not exist, skipping") go to the debug log, not to stderr. */
static void notice_to_log(void *arg, const char *message)
{
    const struct sf_conn *c = arg;
    char msg[1024];
    pg_clean_message(message, msg, sizeof(msg));
    SF_DEBUG("postgresql at %s: %s", c->base.where, msg);
}

static int pg_validate_url(const struct sf_db_url *url, char *errstr, size_t errstr_size)
{
    return pg_validate(url, true, errstr, errstr_size);
}

static int
pg_connect(const struct sf_db_url *url, struct sf_conn **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    /* a parameter libpq refuses is a configuration error, not a retriable connection failure */
    int rc = pg_validate(url, false, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    struct sf_conn *c = calloc(1, sizeof(*c));
    if (!c) {
        sf_set_errstr(errstr, errstr_size, "could not connect to postgresql: out of memory");
        return SF_ERR_NOMEM;
    }
    c->base.cx = &sf_connector_postgresql;
    c->base.dialect = &sfc_dialect_postgresql;
    struct pg_params p;

    snprintf(c->base.where, sizeof(c->base.where), "%s%s%s:%d",
             url->host && strchr(url->host, ':') ? "[" : "", url->host ? url->host : "localhost",
             url->host && strchr(url->host, ':') ? "]" : "", url->port ? url->port : 5432);
    if (url->password) {
        c->password = sf_xstrdup(url->password);
    }
    pg_params_build(url, &p, true);

    c->pg = PQconnectdbParams(p.kv.keys, p.kv.vals, 0);
    if (!c->pg) {
        sf_set_errstr(errstr, errstr_size, "could not connect to postgresql at %s: out of memory",
                    c->base.where);
        rc = SF_ERR_NOMEM;
        goto out;
    }
    if (PQstatus(c->pg) != CONNECTION_OK) {
        char msg[1024];
        pg_clean_message(PQerrorMessage(c->pg), msg, sizeof(msg));
        sf_set_errstr(errstr, errstr_size, "could not connect to postgresql at %s: %s", c->base.where,
                    msg[0] ? msg : "unknown error");
        if (errstr) {
            sfc_scrub_password(errstr, errstr_size, c->password);
        }
        if (pg_is_auth_failure(c->pg, msg)) {
            rc = SF_ERR_AUTH;
        } else if ((strstr(msg, "database \"") && strstr(msg, "does not exist")) ||
                   (strstr(msg, "invalid ") && strstr(msg, "option"))) {
            rc = SF_ERR_INVAL; /* missing database, bad connection option: configuration */
        } else {
            rc = SF_ERR_CONN;
        }
        goto out;
    }
    PQsetNoticeProcessor(c->pg, notice_to_log, c);
    *out = c;
    c = NULL;
out:
    pg_params_free(&p);
    pg_close(c);
    return rc;
}

static void pg_query_end(struct sf_conn *c);

static void pg_close(struct sf_conn *c)
{
    if (!c) {
        return;
    }
    pg_query_end(c);
    if (c->pg) {
        PQfinish(c->pg);
    }
    sfc_cols_free_names(c->cols, &c->ncols);
    for (size_t i = 0; i < c->cols_cap; i++) {
        free(c->pc[i].buf);
    }
    free(c->cols);
    free(c->pc);
    free(c->vals);
    free(c->lens);
    free(c->pvals);
    sf_buf_free(&c->sql);
    free(c->password);
    free(c);
}

/* ---- query / fetch --------------------------------------------------------------------------- */

/* Point c->pvals at the parameters' values (grown as needed; the values stay the caller's). */
static void params_set(struct sf_conn *c, const struct sf_param *params, size_t nparams)
{
    if (nparams > c->params_cap) {
        c->pvals = sf_xrealloc(c->pvals, nparams * sizeof(*c->pvals));
        c->params_cap = nparams;
    }
    for (size_t i = 0; i < nparams; i++) {
        c->pvals[i] = params[i].val;
    }
}

static void describe(struct sf_conn *c, const PGresult *res)
{
    size_t n = (size_t)PQnfields(res);
    sfc_cols_free_names(c->cols, &c->ncols);
    if (n > c->cols_cap) {
        c->cols = sf_xrealloc(c->cols, n * sizeof(*c->cols));
        c->pc = sf_xrealloc(c->pc, n * sizeof(*c->pc));
        c->vals = sf_xrealloc(c->vals, n * sizeof(*c->vals));
        c->lens = sf_xrealloc(c->lens, n * sizeof(*c->lens));
        for (size_t i = c->cols_cap; i < n; i++) {
            memset(&c->cols[i], 0, sizeof(c->cols[i]));
            memset(&c->pc[i], 0, sizeof(c->pc[i]));
        }
        c->cols_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        Oid oid = PQftype(res, (int)i);
        c->cols[i].name = sf_xstrdup(PQfname(res, (int)i));
        c->cols[i].type = pg_oid_class(oid);
        pg_column_detail(oid, PQfmod(res, (int)i), &c->cols[i]);
        c->pc[i].bytea = oid == OID_BYTEA;
        c->ncols = i + 1;
    }
}

/* Queue one statement of the pipeline; parameters from c->pvals. */
static bool pipe_send(struct sf_conn *c, const char *sql, int nparams)
{
    return PQsendQueryParams(c->pg, sql, nparams, NULL, nparams > 0 ? c->pvals : NULL, NULL, NULL,
                             0) == 1;
}

/* Queue a sync point: the server runs what was queued and answers. */
static bool pipe_sync(struct sf_conn *c)
{
    if (PQpipelineSync(c->pg) != 1) {
        return false;
    }
    c->syncs++;
    return true;
}

/* Queue FETCH FORWARD rows and a sync point (c->fetches < PG_FETCH_DEPTH). */
static bool send_fetch(struct sf_conn *c, int rows)
{
    char sql[64];
    snprintf(sql, sizeof(sql), PG_SQL_FETCH_FMT, rows);
    if (!pipe_send(c, sql, 0) || !pipe_sync(c)) {
        return false;
    }
    c->asked[c->fetches++] = rows;
    return true;
}

/* Queue the end of the cursor and a sync point: COMMIT when the block is ours (which closes the
 * cursor), else CLOSE, leaving the caller's block open. */
static bool send_end(struct sf_conn *c)
{
    c->ending = true;
    return pipe_send(c, c->own_block ? PG_SQL_COMMIT : PG_SQL_CLOSE, 0) && pipe_sync(c);
}

/*
 * Read the results of the oldest sync group not read yet (the statements queued before its sync
 * point), through that sync point. A FETCH's rows go to *rows when rows is not NULL (they are
 * discarded otherwise). A lost connection ends the reading early: no sync point will come.
 * @return SF_OK or the group's first error (errstr filled); *rows is NULL after an error.
 */
static int
pipe_read(struct sf_conn *c, PGresult **rows, const char *what, char *errstr, size_t errstr_size)
{
    int rc = SF_OK;
    bool after_null = false;
    for (;;) {
        PGresult *r = PQgetResult(c->pg);
        if (!r) {
            /* a NULL ends each statement's results; two in a row mean that nothing is coming */
            if (after_null || PQstatus(c->pg) == CONNECTION_BAD) {
                c->syncs = 0;
                if (rc == SF_OK) {
                    rc = result_error(c, NULL, what, errstr, errstr_size);
                }
                break;
            }
            after_null = true;
            continue;
        }
        after_null = false;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_PIPELINE_SYNC) {
            PQclear(r);
            c->syncs--;
            break;
        }
        if (st == PGRES_TUPLES_OK && rows && !*rows && rc == SF_OK) {
            *rows = r;
            continue;
        }
        /* PGRES_PIPELINE_ABORTED: skipped after an earlier error of the group, already kept */
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && st != PGRES_PIPELINE_ABORTED &&
            rc == SF_OK) {
            rc = result_error(c, r, what, errstr, errstr_size);
        }
        PQclear(r);
    }
    if (rc != SF_OK && rows) {
        PQclear(*rows);
        *rows = NULL;
    }
    return rc;
}

/* Read the result of the oldest FETCH in flight into c->res; *asked = the rows it asked for. */
static int
read_fetch(struct sf_conn *c, int *asked, const char *what, char *errstr, size_t errstr_size)
{
    *asked = c->asked[0];
    c->fetches--;
    memmove(c->asked, c->asked + 1, (size_t)c->fetches * sizeof(c->asked[0]));
    int rc = pipe_read(c, &c->res, what, errstr, errstr_size);
    if (rc == SF_OK && !c->res) {
        sf_set_errstr(errstr, errstr_size, "%s on postgresql at %s: FETCH returned no rows", what,
                    c->base.where);
        rc = SF_ERR_CONN;
    }
    return rc;
}

/* FNV-1a of the query's text. */
static uint64_t sql_hash(const char *sql)
{
    uint64_t h = 14695981039346656037ULL;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
        h = (h ^ *p) * 1099511628211ULL;
    }
    return h;
}

/* The first FETCH's size for the query of hash h: what its last run reached, else
 * PG_FETCH_FIRST_ROWS. */
static int memo_get(const struct sf_conn *c, uint64_t h)
{
    for (size_t i = 0; i < PG_FETCH_MEMO; i++) {
        if (c->memo[i].rows > 0 && c->memo[i].hash == h) {
            return c->memo[i].rows;
        }
    }
    return PG_FETCH_FIRST_ROWS;
}

static void memo_set(struct sf_conn *c, uint64_t h, int rows)
{
    for (size_t i = 0; i < PG_FETCH_MEMO; i++) {
        if (c->memo[i].rows > 0 && c->memo[i].hash == h) {
            c->memo[i].rows = rows;
            return;
        }
    }
    c->memo[c->memo_next].hash = h;
    c->memo[c->memo_next].rows = rows;
    c->memo_next = (c->memo_next + 1) % PG_FETCH_MEMO;
}

/* Rows for the next FETCH after batch res, which asked for `asked` and holds nrows: at most
 * PG_FETCH_GROWTH x asked and PG_FETCH_ROWS, fewer when that many rows the size of those of res
 * would take more than PG_FETCH_BYTES (at least one). */
static int next_fetch_rows(const PGresult *res, int nrows, int asked)
{
    size_t per_row = PQresultMemorySize(res) / (size_t)(nrows > 0 ? nrows : 1);
    size_t fit = per_row > 0 ? (size_t)PG_FETCH_BYTES / per_row : (size_t)PG_FETCH_ROWS;
    size_t cap = (size_t)(asked > 0 ? asked : 1) * PG_FETCH_GROWTH;
    if (fit > cap) {
        fit = cap;
    }
    if (fit < 1) {
        return 1;
    }
    return fit < PG_FETCH_ROWS ? (int)fit : PG_FETCH_ROWS;
}

/*
 * A batch that asked for `asked` rows arrived in c->res: before its rows are handed out, queue what
 * comes after it, so that the server works while the caller processes them. A full batch tops the
 * FETCHes in flight up to PG_FETCH_DEPTH (two: the server produces batch k+2 while libpq reads
 * batch k+1 off the socket); a short one is the last with rows: the end of the cursor is queued
 * behind the FETCHes still in flight, which will come back empty.
 */
static int batch_arrived(struct sf_conn *c, int asked, char *errstr, size_t errstr_size)
{
    c->nrows = PQntuples(c->res);
    c->row = 0;
    bool sent = true;
    if (c->ending) {
        return SF_OK; /* an empty tail after a short batch */
    }
    if (c->nrows >= asked) {
        int rows = next_fetch_rows(c->res, c->nrows, asked);
        memo_set(c, c->sql_hash, rows);
        while (sent && c->fetches < PG_FETCH_DEPTH) {
            sent = send_fetch(c, rows);
        }
    } else {
        sent = send_end(c);
    }
    if (!sent) {
        return result_error(c, NULL, "could not fetch rows", errstr, errstr_size);
    }
    return SF_OK;
}

/* Clear the current batch (row values handed out from it are no longer valid). */
static void clear_batch(struct sf_conn *c)
{
    PQclear(c->res);
    c->res = NULL;
    c->nrows = 0;
    c->row = 0;
}

/*
 * End the query: queue the end of the cursor behind a FETCH still in flight, read whatever is in
 * flight (discarding unread rows), leave pipeline mode, and roll back a block of ours that an
 * error left open (the caller's own block is left as it is). Safe when no query runs.
 * @return SF_OK or the first error (errstr filled when not NULL).
 */
static int end_query(struct sf_conn *c, char *errstr, size_t errstr_size)
{
    int rc = SF_OK;
    clear_batch(c);
    if (c->single) {
        drain(c->pg);
    } else if (c->fetches > 0 && !c->ending && PQstatus(c->pg) == CONNECTION_OK && !send_end(c)) {
        rc = result_error(c, NULL, "could not end query", errstr, errstr_size);
    }
    c->single = false;
    c->ending = false;
    c->fetches = 0;
    while (c->syncs > 0) {
        int r = pipe_read(c, NULL, "could not end query", rc == SF_OK ? errstr : NULL, errstr_size);
        if (rc == SF_OK) {
            rc = r;
        }
    }
    if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && !PQexitPipelineMode(c->pg) && rc == SF_OK) {
        rc = result_error(c, NULL, "could not end query", errstr, errstr_size);
    }
    if (c->own_block && PQstatus(c->pg) == CONNECTION_OK &&
        PQtransactionStatus(c->pg) != PQTRANS_IDLE) {
        PGresult *r = PQexec(c->pg, PG_SQL_ROLLBACK);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            char msg[1024];
            pg_clean_message(PQresultErrorMessage(r), msg, sizeof(msg));
            SF_DEBUG("could not roll back on postgresql at %s: %s", c->base.where, msg);
        }
        PQclear(r);
    }
    c->own_block = false;
    c->running = false;
    for (size_t i = 0; i < c->ncols; i++) {
        if (c->pc[i].cap > PG_BUF_KEEP_CAP) {
            free(c->pc[i].buf);
            c->pc[i].buf = NULL;
            c->pc[i].cap = 0;
        }
    }
    return rc;
}

/* query() of a statement that cannot be a cursor's query: single-row mode, one PGresult a row. */
static int
query_single(struct sf_conn *c, const char *sql, size_t nparams, char *errstr, size_t errstr_size)
{
    if (!PQsendQueryParams(c->pg, sql, (int)nparams, NULL, c->pvals, NULL, NULL, 0)) {
        return result_error(c, NULL, "could not send query", errstr, errstr_size);
    }
    if (!PQsetSingleRowMode(c->pg)) {
        drain(c->pg);
        sf_set_errstr(errstr, errstr_size, "could not start single-row mode on postgresql at %s",
                    c->base.where);
        return SF_ERR_CONN;
    }
    PGresult *res = PQgetResult(c->pg);
    if (!res) {
        return result_error(c, NULL, "could not run query", errstr, errstr_size);
    }
    switch (PQresultStatus(res)) {
    case PGRES_SINGLE_TUPLE:
        describe(c, res);
        c->res = res;
        c->nrows = 1;
        c->row = 0;
        c->single = true;
        return SF_OK;
    case PGRES_TUPLES_OK: /* empty result */
    case PGRES_COMMAND_OK:
    case PGRES_EMPTY_QUERY:
        describe(c, res);
        PQclear(res);
        drain(c->pg);
        return SF_OK;
    default: {
        int rc = result_error(c, res, "could not run query", errstr, errstr_size);
        PQclear(res);
        drain(c->pg);
        return rc;
    }
    }
}

static int pg_query(struct sf_conn *c,
                    const char *sql,
                    const struct sf_param *params,
                    size_t nparams,
                    const struct sf_column **out_cols,
                    size_t *out_ncols,
                    char *errstr,
                    size_t errstr_size)
{
    int rc = sfc_check_idle(c->running, "postgresql", c->base.where, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    *out_cols = NULL;
    *out_ncols = 0;
    params_set(c, params, nparams);
    c->own_block = false;
    if (!pg_cursor_query(sql)) {
        rc = query_single(c, sql, nparams, errstr, errstr_size);
    } else {
        /* [BEGIN] DECLARE FETCH sync: one round trip */
        c->own_block = PQtransactionStatus(c->pg) == PQTRANS_IDLE;
        sf_buf_reset(&c->sql);
        sf_buf_puts(&c->sql, PG_SQL_DECLARE_PREFIX);
        sf_buf_puts(&c->sql, sql);
        c->sql_hash = sql_hash(sql);
        if (PQenterPipelineMode(c->pg) != 1 || (c->own_block && !pipe_send(c, PG_SQL_BEGIN, 0)) ||
            !pipe_send(c, c->sql.data, (int)nparams) ||
            !send_fetch(c, memo_get(c, c->sql_hash))) {
            rc = result_error(c, NULL, "could not send query", errstr, errstr_size);
            if (PQpipelineStatus(c->pg) != PQ_PIPELINE_OFF && PQstatus(c->pg) == CONNECTION_OK) {
                (void)pipe_sync(c); /* so that what was queued runs and can be read off */
            }
        } else {
            int asked;
            rc = read_fetch(c, &asked, "could not run query", errstr, errstr_size);
            if (rc == SF_OK) {
                describe(c, c->res);
                rc = batch_arrived(c, asked, errstr, errstr_size);
            }
        }
    }
    if (rc != SF_OK) {
        (void)end_query(c, NULL, 0);
        return rc;
    }
    c->running = true;
    *out_cols = c->cols;
    *out_ncols = c->ncols;
    return SF_OK;
}

/* Hand out row r of the current batch. */
static void fill_row(struct sf_conn *c, int r, struct sf_row *row)
{
    const PGresult *res = c->res;
    for (size_t i = 0; i < c->ncols; i++) {
        int col = (int)i;
        if (PQgetisnull(res, r, col)) {
            c->vals[i] = NULL;
            c->lens[i] = 0;
            continue;
        }
        const char *v = PQgetvalue(res, r, col);
        size_t len = (size_t)PQgetlength(res, r, col);
        if (c->pc[i].bytea) {
            c->lens[i] = pg_bytea_decode(&c->pc[i], v, len);
            c->vals[i] = c->pc[i].buf;
        } else {
            c->vals[i] = v;
            c->lens[i] = len;
        }
    }
    row->ncols = c->ncols;
    row->vals = c->vals;
    row->lens = c->lens;
}

/*
 * The current batch is used up: make the next one current (clearing the old one, which the rows
 * handed out borrowed from). @return 1 (it holds a row), 0 (end of result) or an error; at 0 or
 * an error the query is over.
 */
static int next_batch(struct sf_conn *c, char *errstr, size_t errstr_size)
{
    int rc = SF_OK;
    clear_batch(c);
    if (c->single) {
        PGresult *res = PQgetResult(c->pg);
        switch (res ? PQresultStatus(res) : PGRES_TUPLES_OK) {
        case PGRES_SINGLE_TUPLE:
            c->res = res;
            c->nrows = 1;
            return 1;
        case PGRES_TUPLES_OK:
        case PGRES_COMMAND_OK:
            break;
        default:
            rc = result_error(c, res, "could not fetch row", errstr, errstr_size);
            break;
        }
        PQclear(res);
        (void)end_query(c, NULL, 0); /* reads the final NULL */
        return rc;
    }
    while (c->fetches > 0) {
        int asked;
        rc = read_fetch(c, &asked, "could not fetch rows", errstr, errstr_size);
        if (rc == SF_OK) {
            rc = batch_arrived(c, asked, errstr, errstr_size);
        }
        if (rc != SF_OK) {
            (void)end_query(c, NULL, 0);
            return rc;
        }
        if (c->nrows > 0) {
            return 1;
        }
    }
    /* the end of the cursor (COMMIT / CLOSE) is in flight, or nothing */
    rc = end_query(c, errstr, errstr_size);
    return rc < 0 ? rc : 0;
}

static int pg_fetch(struct sf_conn *c, struct sf_row *row, char *errstr, size_t errstr_size)
{
    if (c->row >= c->nrows) {
        if (!c->running) {
            return 0;
        }
        int rc = next_batch(c, errstr, errstr_size);
        if (rc != 1) {
            return rc;
        }
    }
    fill_row(c, c->row++, row);
    return 1;
}

static void pg_query_end(struct sf_conn *c)
{
    if (!c || !c->running) {
        return;
    }
    char err[1024];
    if (end_query(c, err, sizeof(err)) != SF_OK) {
        SF_DEBUG("%s", err);
    }
}

/* ---- exec -------------------------------------------------------------------------------------
 */

static int pg_exec(struct sf_conn *c,
                   const char *sql,
                   const struct sf_param *params,
                   size_t nparams,
                   char *errstr,
                   size_t errstr_size)
{
    int rc = sfc_check_idle(c->running, "postgresql", c->base.where, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    PGresult *res;
    if (nparams == 0) {
        res = PQexec(c->pg, sql); /* allows several statements (DDL scripts) */
    } else {
        params_set(c, params, nparams);
        res = PQexecParams(c->pg, sql, (int)nparams, NULL, c->pvals, NULL, NULL, 0);
    }
    switch (res ? PQresultStatus(res) : PGRES_FATAL_ERROR) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
        rc = SF_OK;
        break;
    default:
        rc = result_error(c, res, "could not execute statement", errstr, errstr_size);
        break;
    }
    PQclear(res);
    return rc;
}

/* ---- dialect ---------------------------------------------------------------------------------
 * The shared layer (../shared_dialect.h) with this database's row, sfc_dialect_postgresql
 * (postgresql_dialect.c): quoting, placeholders, status table, "now minus"; primary_key and
 * estimate_rows are the shared ones themselves.
 */

static int pg_quote_ident(const char *name, struct sf_buf *out)
{
    return sfc_dialect_quote_ident(&sfc_dialect_postgresql, name, out);
}

static void pg_placeholder(int index, struct sf_buf *out)
{
    sfc_dialect_placeholder(&sfc_dialect_postgresql, index, out);
}

static void pg_status_table_ddl(const char *quoted_table, struct sf_buf *out)
{
    sfc_dialect_status_ddl(&sfc_dialect_postgresql, quoted_table, out);
}

static void pg_status_upsert_sql(const char *quoted_table, struct sf_buf *out)
{
    sfc_dialect_status_upsert(&sfc_dialect_postgresql, quoted_table, out);
}

static void pg_now_minus_ms(long long ms, struct sf_buf *out)
{
    sfc_dialect_now_minus_ms(&sfc_dialect_postgresql, ms, out);
}

static const char *const pg_schemes[] = { "postgresql", NULL };

const struct sf_connector_plugin sf_connector_postgresql = {
    .name = "postgresql",
    .schemes = pg_schemes,
    .connect = pg_connect,
    .close = pg_close,
    .quote_ident = pg_quote_ident,
    .placeholder = pg_placeholder,
    .primary_key = sfc_primary_key,
    .query = pg_query,
    .fetch = pg_fetch,
    .query_end = pg_query_end,
    .exec = pg_exec,
    .status_table_ddl = pg_status_table_ddl,
    .status_upsert_sql = pg_status_upsert_sql,
    .now_minus_ms = pg_now_minus_ms,
    .estimate_rows = sfc_estimate_rows,
    .open_txns_sql = PG_SQL_OPEN_TXNS,
    .open_txns_count_sql = PG_SQL_OPEN_TXNS_COUNT,
    .validate_url = pg_validate_url,
    .privileges_sql = PG_SQL_PRIVILEGES,
    .lock_try_sql = PG_SQL_LOCK_TRY,
    .lock_release_sql = PG_SQL_LOCK_RELEASE,
    .lock_holder_sql = PG_SQL_LOCK_HOLDER,
};
