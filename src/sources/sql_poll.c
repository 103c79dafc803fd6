/*
 * The polling SQL source (type sql, mysql, postgresql; the seed's com.atguigu.source.SQLSource
 * and keedio's org.keedio.flume.source.SQLSource as aliases). Each poll runs
 *   SELECT cols FROM table WHERE inc > ? ORDER BY inc LIMIT max.rows
 * with the last offset bound as a parameter, streams the rows, encodes each into an event and
 * hands batches of batch.size events to the channels. The offset written to flume_meta is the
 * last value of the incremental column that every channel has delivered (the ack tracker), so it
 * never runs ahead of delivery; the in-memory read position only decides where the next query
 * starts. Connection failures are retried with capped exponential backoff.
 */
#include "sqlflume/agent.h"
#include "sqlflume/buf.h"
#include "sqlflume/connector.h"
#include "sqlflume/error.h"
#include "sqlflume/format.h"
#include "sqlflume/log.h"
#include "sqlflume/source.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define BACKOFF_START_MS 500
#define BACKOFF_MAX_MS 8000
#define OFFSET_FLUSH_MS 1000

struct sql_ctx {
    /* options */
    char *url;
    char *user;
    char *password;
    char *password_file;
    char *table;
    char *columns;
    char *inc_column;
    char *start_from;
    char *custom_query;
    long long max_rows;
    long long batch_size;
    long long query_delay_ms;
    int format;
    char *delimiter;
    char *status_table;
    char *status_key;
    bool status_create;
    char *ignored_str; /* absorbs accepted-but-unused legacy keys */

    /* runtime */
    const struct sf_connector_plugin *cx;
    struct sf_db_url dburl;
    char *redacted_url;
    struct sf_conn *conn;        /* rows */
    struct sf_conn *status_conn; /* flume_meta reads and writes */
    bool prepared;               /* query text and column roles resolved on this connection */
    struct sf_buf sql;           /* the poll query */
    struct sf_buf upsert_sql;
    char **pk;                   /* primary key columns */
    size_t npk;
    char *inc;                   /* resolved incremental column */
    enum sf_coltype inc_type;
    char *read_offset;           /* where the next query starts (rows up to it are in channels) */
    char *written_offset;        /* last value written to flume_meta */
    char *pending_offset;        /* delivered, not yet written */
    long long backoff_ms;
    long long last_flush_ms;
    struct sf_format fmt;
    struct sf_buf body;
    struct sf_buf keybuf;
    struct sf_event **batch;
    bool fatal_logged;
};

static const struct sf_option sql_options[] = {
    { "connection.url", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, url), SF_OPT_REQUIRED,
      "hibernate.connection.url", NULL,
      "database URL: jdbc:mysql://, mysql://, mariadb://, jdbc:postgresql://, postgresql://" },
    { "connection.user", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, user), 0,
      "hibernate.connection.user", NULL, "database user (default: from the URL)" },
    { "connection.password", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, password),
      SF_OPT_SECRET, "hibernate.connection.password", NULL,
      "database password (default: from the URL)" },
    { "connection.password.file", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct sql_ctx, password_file), 0, NULL, NULL,
      "file whose first line is the database password" },
    { "table", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, table), 0, NULL, NULL,
      "table to export (schema.table allowed), quoted as an identifier" },
    { "columns.to.select", SF_OPT_STRING, "*", 0, 0, offsetof(struct sql_ctx, columns), 0, NULL,
      NULL, "comma-separated column names, each quoted as an identifier, or *" },
    { "incremental.column.name", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, inc_column),
      0, NULL, NULL, "monotonically increasing column (default: the single-column primary key)" },
    { "start.from", SF_OPT_STRING, "0", 0, 0, offsetof(struct sql_ctx, start_from), 0,
      "incremental.value", NULL, "offset used when flume_meta has no row for this source" },
    { "custom.query", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, custom_query), 0, NULL,
      NULL, "query with $@$ standing for the last offset (bound as a parameter)" },
    { "max.rows", SF_OPT_INT, "2000", 1, 100000000, offsetof(struct sql_ctx, max_rows), 0, NULL,
      NULL, "rows fetched per query" },
    { "batch.size", SF_OPT_INT, "100", 1, 1000000, offsetof(struct sql_ctx, batch_size), 0, NULL,
      NULL, "events per channel put transaction" },
    { "run.query.delay", SF_OPT_INT, "10000", 0, 86400000,
      offsetof(struct sql_ctx, query_delay_ms), 0, NULL, NULL,
      "ms to wait before the next query when the last one returned fewer than max.rows rows" },
    { "format", SF_OPT_ENUM, "json", 0, 0, offsetof(struct sql_ctx, format), 0, NULL,
      "json|csv|text", "event body: json, csv (RFC 4180) or text (values joined by delimiter.entry)" },
    { "delimiter.entry", SF_OPT_STRING, ",", 0, 0, offsetof(struct sql_ctx, delimiter), 0, NULL,
      NULL, "separator of values in the text format" },
    { "status.table", SF_OPT_STRING, "flume_meta", 0, 0, offsetof(struct sql_ctx, status_table), 0,
      NULL, NULL, "offset table in the source database" },
    { "status.key", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, status_key), 0, NULL, NULL,
      "source_tab value of this source's offset row (default: the table name)" },
    { "status.table.create", SF_OPT_BOOL, "true", 0, 0, offsetof(struct sql_ctx, status_create), 0,
      NULL, NULL, "create the status table if it is missing" },
    /* accepted for compatibility with existing configs; they have no effect here */
    { "connection.driver", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, ignored_str), 0,
      "hibernate.connection.driver_class hibernate.dialect hibernate.connection.provider_class "
      "hibernate.connection.autocommit connection.autoReconnect enclose.by.quotes "
      "status.file.path status.file.name read.only",
      NULL, "accepted for compatibility with the seed and keedio configs; ignored" },
    { "hibernate.c3p0.", SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "connection-pool settings of keedio's source; ignored" },
    { 0 },
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_str(char **dst, const char *val)
{
    char *cp = val ? strdup(val) : NULL;
    free(*dst);
    *dst = cp;
}

static int sql_configure(struct sf_source *src, struct sf_diag *d)
{
    struct sql_ctx *c = src->ctx;
    struct sf_prop *type = sf_section_get(src->conf, "type");
    struct sf_prop *urlp = sf_section_get(src->conf, "connection.url");
    if (!urlp) {
        urlp = sf_section_get(src->conf, "hibernate.connection.url");
    }
    int rc = 0;
    if (!c->table && !c->custom_query) {
        sf_diag_error(d, type, "source \"%s\" needs \"table\" or \"custom.query\"", src->name);
        rc = -1;
    }
    if (c->custom_query && !strstr(c->custom_query, "$@$")) {
        sf_diag_warn(d, sf_section_get(src->conf, "custom.query"),
                     "custom.query has no $@$ placeholder: every poll reads the whole result");
    }
    if (c->url) {
        char err[256];
        struct sf_db_url u;
        if (sf_db_url_parse(c->url, &u, err, sizeof(err)) != SF_OK) {
            sf_diag_error(d, urlp, "%s", err);
            rc = -1;
        } else {
            if (!sf_connector_find(u.scheme)) {
                sf_diag_error(d, urlp, "no connector for scheme \"%s\"", u.scheme);
                rc = -1;
            }
            if (type && (strcasecmp(type->val, "mysql") == 0 ||
                         strcasecmp(type->val, "postgresql") == 0) &&
                strcasecmp(type->val, u.scheme) != 0) {
                sf_diag_error(d, type, "source type \"%s\" does not match the %s URL", type->val,
                              u.scheme);
                rc = -1;
            }
            sf_db_url_free(&u);
        }
    }
    if (c->password_file) {
        FILE *f = fopen(c->password_file, "r");
        if (!f) {
            sf_diag_error(d, sf_section_get(src->conf, "connection.password.file"),
                          "could not open \"%s\": %s", c->password_file, strerror(errno));
            rc = -1;
        } else {
            char line[1024] = "";
            if (!fgets(line, sizeof(line), f)) {
                line[0] = '\0';
            }
            fclose(f);
            line[strcspn(line, "\r\n")] = '\0';
            set_str(&c->password, line);
            explicit_bzero(line, sizeof(line));
        }
    }
    return rc;
}

static int sql_start(struct sf_source *src, char *errstr, size_t errstr_size)
{
    struct sql_ctx *c = src->ctx;
    if (sf_db_url_parse(c->url, &c->dburl, errstr, errstr_size) != SF_OK) {
        return SF_ERR_INVAL;
    }
    if (c->user) {
        set_str(&c->dburl.user, c->user);
    }
    if (c->password) {
        set_str(&c->dburl.password, c->password);
    }
    c->cx = sf_connector_find(c->dburl.scheme);
    if (!c->cx) {
        snprintf(errstr, errstr_size, "no connector for scheme \"%s\"", c->dburl.scheme);
        return SF_ERR_INVAL;
    }
    c->redacted_url = sf_db_url_redact(c->url);
    if (!c->status_key) {
        c->status_key = strdup(c->table ? c->table : src->name);
    }
    c->fmt.kind = (enum sf_format_kind)c->format;
    c->fmt.delimiter = c->delimiter;
    c->fmt.delimiter_len = strlen(c->delimiter);
    c->fmt.null_text = "";
    c->batch = calloc((size_t)c->batch_size, sizeof(*c->batch));
    if (!c->batch) {
        return SF_ERR_NOMEM;
    }
    c->backoff_ms = 0;
    return SF_OK;
}

/* Append a possibly schema-qualified name, each dotted part quoted. */
static int quote_qualified(const struct sf_connector_plugin *cx, const char *name,
                           struct sf_buf *out)
{
    const char *dot = strchr(name, '.');
    if (!dot) {
        return cx->quote_ident(name, out);
    }
    char *schema = strndup(name, (size_t)(dot - name));
    int rc = schema ? cx->quote_ident(schema, out) : SF_ERR_NOMEM;
    free(schema);
    if (rc == SF_OK) {
        sf_buf_putc(out, '.');
        rc = cx->quote_ident(dot + 1, out);
    }
    return rc;
}

static char *trim_dup(const char *s, size_t n)
{
    while (n && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        n--;
    }
    return strndup(s, n);
}

static void free_pk(struct sql_ctx *c)
{
    for (size_t i = 0; i < c->npk; i++) {
        free(c->pk[i]);
    }
    free(c->pk);
    c->pk = NULL;
    c->npk = 0;
}

static void close_conns(struct sql_ctx *c)
{
    if (c->conn) {
        c->cx->close(c->conn);
        c->conn = NULL;
    }
    if (c->status_conn) {
        c->cx->close(c->status_conn);
        c->status_conn = NULL;
    }
}

/* Log a failure once per outage, double the backoff and return SF_BACKOFF. */
static enum sf_status backoff(struct sf_source *src, int err, const char *what, const char *msg)
{
    struct sql_ctx *c = src->ctx;
    c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_START_MS;
    if (c->backoff_ms > BACKOFF_MAX_MS) {
        c->backoff_ms = BACKOFF_MAX_MS;
    }
    SF_WARN(SF_SOURCE_FMT "%s: %s (%s); retrying in %lld ms", SF_SOURCE_ARGS(src), what, msg,
            sf_err_str(err), c->backoff_ms);
    src->backoff_ms = c->backoff_ms;
    return SF_BACKOFF;
}

static enum sf_status fatal(struct sf_source *src, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Log one clear error, ask the agent to stop (exit code 1) and idle until it does. */
static enum sf_status fatal(struct sf_source *src, const char *fmt, ...)
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
        sf_agent_request_stop(src->agent, 1);
    }
    src->backoff_ms = 1000;
    return SF_BACKOFF;
}

static int connect_one(struct sf_source *src, struct sf_conn **out, char *err, size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    return c->cx->connect(&c->dburl, out, err, errsz);
}

/* Read this source's row of the status table into read_offset (or start.from). */
static int load_offset(struct sf_source *src, char *err, size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    struct sf_buf q = SF_BUF_INIT;
    sf_buf_puts(&q, "SELECT currentIndex FROM ");
    int rc = quote_qualified(c->cx, c->status_table, &q);
    if (rc == SF_OK) {
        sf_buf_puts(&q, " WHERE source_tab = ");
        c->cx->placeholder(1, &q);
        struct sf_param p = { c->status_key, SF_COL_TEXT };
        const struct sf_column *cols;
        size_t ncols;
        rc = c->cx->query(c->status_conn, q.data, &p, 1, &cols, &ncols, err, errsz);
        if (rc == SF_OK) {
            struct sf_row row;
            int got = c->cx->fetch(c->status_conn, &row, err, errsz);
            if (got == 1 && row.vals[0]) {
                char *v = strndup(row.vals[0], row.lens[0]);
                free(c->read_offset);
                c->read_offset = v;
                set_str(&c->written_offset, v);
                SF_INFO(SF_SOURCE_FMT "resuming after offset \"%s\" from %s", SF_SOURCE_ARGS(src),
                        v, c->status_table);
            } else if (got < 0) {
                rc = got;
            } else {
                set_str(&c->read_offset, c->start_from);
                SF_INFO(SF_SOURCE_FMT "no offset stored under \"%s\"; starting after \"%s\"",
                        SF_SOURCE_ARGS(src), c->status_key, c->start_from);
            }
            c->cx->query_end(c->status_conn);
        }
    }
    sf_buf_free(&q);
    return rc;
}

/* Resolve column roles and build the poll query, once per source (redone after reconnect only
 * if it failed before). */
static int prepare(struct sf_source *src, char *err, size_t errsz, bool *is_fatal)
{
    struct sql_ctx *c = src->ctx;
    int rc;
    *is_fatal = false;
    if (c->status_create) {
        struct sf_buf q = SF_BUF_INIT, qt = SF_BUF_INIT;
        rc = quote_qualified(c->cx, c->status_table, &qt);
        if (rc == SF_OK) {
            c->cx->status_table_ddl(qt.data, &q);
            rc = c->cx->exec(c->status_conn, q.data, NULL, 0, err, errsz);
        }
        sf_buf_free(&q);
        sf_buf_free(&qt);
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
            return rc;
        }
    }
    {
        struct sf_buf qt = SF_BUF_INIT;
        rc = quote_qualified(c->cx, c->status_table, &qt);
        if (rc != SF_OK) {
            snprintf(err, errsz, "bad status.table name");
            *is_fatal = true;
            sf_buf_free(&qt);
            return rc;
        }
        sf_buf_reset(&c->upsert_sql);
        c->cx->status_upsert_sql(qt.data, &c->upsert_sql);
        sf_buf_free(&qt);
    }
    if (!c->read_offset) {
        rc = load_offset(src, err, errsz);
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
            return rc;
        }
    }
    if (c->prepared) {
        return SF_OK;
    }
    sf_buf_reset(&c->sql);
    if (c->custom_query) {
        /* replace every $@$ with the placeholder of parameter 1 */
        const char *s = c->custom_query;
        const char *m;
        while ((m = strstr(s, "$@$")) != NULL) {
            sf_buf_append(&c->sql, s, (size_t)(m - s));
            c->cx->placeholder(1, &c->sql);
            s = m + 3;
        }
        sf_buf_puts(&c->sql, s);
        set_str(&c->inc, c->inc_column);
        if (c->table) {
            free_pk(c);
            rc = c->cx->primary_key(c->status_conn, c->table, &c->pk, &c->npk, err, errsz);
            if (rc != SF_OK && rc != SF_ERR_NOTFOUND) {
                *is_fatal = !sf_err_retriable(rc);
                return rc;
            }
        }
        c->inc_type = SF_COL_TEXT;
        c->prepared = true;
        return SF_OK;
    }
    free_pk(c);
    rc = c->cx->primary_key(c->status_conn, c->table, &c->pk, &c->npk, err, errsz);
    if (rc == SF_ERR_NOTFOUND) {
        snprintf(err, errsz, "table \"%s\" does not exist", c->table);
        *is_fatal = true;
        return rc;
    }
    if (rc != SF_OK) {
        *is_fatal = !sf_err_retriable(rc);
        return rc;
    }
    if (c->inc_column) {
        set_str(&c->inc, c->inc_column);
    } else if (c->npk == 1) {
        set_str(&c->inc, c->pk[0]);
    } else {
        snprintf(err, errsz,
                 "table \"%s\" has %s; set incremental.column.name to a monotonically increasing "
                 "column",
                 c->table, c->npk == 0 ? "no primary key" : "a composite primary key");
        *is_fatal = true;
        return SF_ERR_INVAL;
    }
    struct sf_buf qt = SF_BUF_INIT, qi = SF_BUF_INIT, cols = SF_BUF_INIT;
    rc = quote_qualified(c->cx, c->table, &qt);
    if (rc == SF_OK) {
        rc = c->cx->quote_ident(c->inc, &qi);
    }
    bool star = strcmp(c->columns, "*") == 0;
    if (rc == SF_OK && !star) {
        const char *p = c->columns;
        while (rc == SF_OK && *p) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            char *name = trim_dup(p, len);
            if (!name || !*name) {
                snprintf(err, errsz, "empty column name in columns.to.select");
                rc = SF_ERR_INVAL;
            } else {
                if (cols.len) {
                    sf_buf_puts(&cols, ", ");
                }
                rc = c->cx->quote_ident(name, &cols);
            }
            free(name);
            p = e ? e + 1 : p + len;
        }
        /* the incremental column and key columns ride along (hidden) when not selected */
        if (rc == SF_OK) {
            sf_buf_puts(&cols, ", ");
            rc = c->cx->quote_ident(c->inc, &cols);
        }
        for (size_t i = 0; rc == SF_OK && i < c->npk; i++) {
            sf_buf_puts(&cols, ", ");
            rc = c->cx->quote_ident(c->pk[i], &cols);
        }
    }
    if (rc == SF_OK) {
        sf_buf_printf(&c->sql, "SELECT %s FROM %s WHERE %s > ", star ? "*" : cols.data, qt.data,
                      qi.data);
        c->cx->placeholder(1, &c->sql);
        sf_buf_printf(&c->sql, " ORDER BY %s LIMIT %lld", qi.data, c->max_rows);
        /* learn the incremental column's class so the offset binds with the right type */
        struct sf_buf probe = SF_BUF_INIT;
        sf_buf_printf(&probe, "SELECT %s FROM %s WHERE 1 = 0", qi.data, qt.data);
        const struct sf_column *pc;
        size_t npc;
        rc = c->cx->query(c->status_conn, probe.data, NULL, 0, &pc, &npc, err, errsz);
        if (rc == SF_OK) {
            c->inc_type = npc ? pc[0].type : SF_COL_TEXT;
            struct sf_row row;
            while (c->cx->fetch(c->status_conn, &row, err, errsz) == 1) {
            }
            c->cx->query_end(c->status_conn);
        } else {
            *is_fatal = !sf_err_retriable(rc);
        }
        sf_buf_free(&probe);
    } else {
        *is_fatal = true;
    }
    sf_buf_free(&qt);
    sf_buf_free(&qi);
    sf_buf_free(&cols);
    if (rc == SF_OK) {
        c->prepared = true;
        SF_INFO(SF_SOURCE_FMT "polling %s with: %s", SF_SOURCE_ARGS(src), c->redacted_url,
                c->sql.data);
    }
    return rc;
}

/* Write the delivered offset to flume_meta if it advanced (force: at stop). */
static void flush_offset(struct sf_source *src, bool force)
{
    struct sql_ctx *c = src->ctx;
    long long now = mono_ms();
    if (!force && now - c->last_flush_ms < OFFSET_FLUSH_MS) {
        return;
    }
    c->last_flush_ms = now;
    char *off = sf_ack_tracker_poll(src->tracker);
    if (off) {
        free(c->pending_offset);
        c->pending_offset = off;
    }
    off = c->pending_offset;
    if (!off) {
        return;
    }
    if (c->written_offset && strcmp(off, c->written_offset) == 0) {
        free(c->pending_offset);
        c->pending_offset = NULL;
        return;
    }
    char err[512] = "";
    int rc = SF_ERR_CONN;
    if (!c->status_conn) {
        rc = connect_one(src, &c->status_conn, err, sizeof(err));
        if (rc != SF_OK) {
            c->status_conn = NULL;
        }
    }
    if (c->status_conn && c->upsert_sql.len) {
        struct sf_param p[2] = { { c->status_key, SF_COL_TEXT }, { off, SF_COL_TEXT } };
        rc = c->cx->exec(c->status_conn, c->upsert_sql.data, p, 2, err, sizeof(err));
        if (rc != SF_OK && sf_err_retriable(rc)) {
            c->cx->close(c->status_conn);
            c->status_conn = NULL;
        }
    }
    if (rc == SF_OK) {
        SF_DEBUG(SF_SOURCE_FMT "offset \"%s\" written to %s", SF_SOURCE_ARGS(src), off,
                 c->status_table);
        free(c->written_offset);
        c->written_offset = off;
        c->pending_offset = NULL;
        return;
    }
    /* pending_offset stays for the next attempt */
    SF_WARN(SF_SOURCE_FMT "could not write offset \"%s\" to %s: %s; will retry",
            SF_SOURCE_ARGS(src), off, c->status_table, err);
}

static int find_col(const struct sf_column *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(cols[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Register the batch with the tracker and put it into every channel. */
static int deliver_batch(struct sf_source *src, size_t n, const char *last_offset)
{
    struct sql_ctx *c = src->ctx;
    uint64_t id = sf_ack_tracker_add(src->tracker, n, (unsigned)src->nch, last_offset);
    for (size_t i = 0; i < n; i++) {
        c->batch[i]->tracker = src->tracker;
        c->batch[i]->ack_id = id;
    }
    atomic_fetch_add(&src->metrics.batch_received, 1);
    atomic_fetch_add(&src->metrics.event_received, (long long)n);
    int rc = sf_source_deliver(src, c->batch, n);
    if (rc == SF_OK) {
        atomic_fetch_add(&src->metrics.batch_accepted, 1);
        atomic_fetch_add(&src->metrics.event_accepted, (long long)n);
        set_str(&c->read_offset, last_offset);
    }
    return rc;
}

static void free_batch(struct sql_ctx *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        sf_event_destroy(c->batch[i]);
        c->batch[i] = NULL;
    }
}

static enum sf_status sql_process(struct sf_source *src)
{
    struct sql_ctx *c = src->ctx;
    char err[1024] = "";
    int rc;
    if (c->fatal_logged) {
        src->backoff_ms = 1000;
        return SF_BACKOFF;
    }
    if (!c->status_conn) {
        rc = connect_one(src, &c->status_conn, err, sizeof(err));
        if (rc != SF_OK) {
            c->status_conn = NULL;
            if (rc == SF_ERR_AUTH || rc == SF_ERR_INVAL) {
                return fatal(src, "%s", err);
            }
            return backoff(src, rc, "could not connect", err);
        }
        SF_INFO(SF_SOURCE_FMT "connected to %s", SF_SOURCE_ARGS(src), c->redacted_url);
    }
    if (!c->prepared || !c->read_offset || !c->upsert_sql.len) {
        bool is_fatal;
        rc = prepare(src, err, sizeof(err), &is_fatal);
        if (rc != SF_OK) {
            if (is_fatal) {
                return fatal(src, "%s", err);
            }
            close_conns(c);
            return backoff(src, rc, "could not prepare the poll", err);
        }
    }
    if (!c->conn) {
        rc = connect_one(src, &c->conn, err, sizeof(err));
        if (rc != SF_OK) {
            c->conn = NULL;
            return backoff(src, rc, "could not connect", err);
        }
    }
    flush_offset(src, false);

    const struct sf_column *cols;
    size_t ncols;
    struct sf_param param = { c->read_offset, c->inc_type };
    size_t nparams = (c->custom_query && !strstr(c->custom_query, "$@$")) ? 0 : 1;
    rc = c->cx->query(c->conn, c->sql.data, &param, nparams, &cols, &ncols, err, sizeof(err));
    if (rc != SF_OK) {
        if (!sf_err_retriable(rc)) {
            return fatal(src, "poll query failed: %s", err);
        }
        close_conns(c);
        return backoff(src, rc, "poll query failed", err);
    }
    int inc_idx = c->inc ? find_col(cols, ncols, c->inc) : 0;
    if (inc_idx < 0) {
        c->cx->query_end(c->conn);
        return fatal(src, "incremental column \"%s\" is not in the result of the query", c->inc);
    }
    int key_idx[16];
    size_t nkey = c->npk < 16 ? c->npk : 16;
    for (size_t i = 0; i < nkey; i++) {
        key_idx[i] = find_col(cols, ncols, c->pk[i]);
        if (key_idx[i] < 0) {
            nkey = 0;
        }
    }
    /* with an explicit column list the incremental and key columns ride along at the end */
    size_t nvisible = ncols;
    if (!c->custom_query && strcmp(c->columns, "*") != 0) {
        nvisible = ncols - 1 - c->npk;
        inc_idx = (int)nvisible;
        for (size_t i = 0; i < nkey; i++) {
            key_idx[i] = (int)(nvisible + 1 + i);
        }
    }
    const char *table_name = c->table ? c->table : c->status_key;
    long long rows = 0;
    size_t n = 0;
    char last[512] = "";
    struct sf_row row;
    int got;
    while ((got = c->cx->fetch(c->conn, &row, err, sizeof(err))) == 1) {
        rows++;
        struct sf_row vis = { nvisible, row.vals, row.lens };
        sf_buf_reset(&c->body);
        sf_format_row(&c->fmt, cols, &vis, &c->body);
        const char *incv = row.vals[inc_idx];
        size_t incl = incv ? row.lens[inc_idx] : 0;
        if (!incv) {
            c->cx->query_end(c->conn);
            free_batch(c, n);
            return fatal(src, "incremental column \"%s\" is NULL in a row of \"%s\"", c->inc,
                         table_name);
        }
        if (incl >= sizeof(last)) {
            incl = sizeof(last) - 1;
        }
        memcpy(last, incv, incl);
        last[incl] = '\0';
        sf_buf_reset(&c->keybuf);
        if (nkey) {
            for (size_t i = 0; i < nkey; i++) {
                if (i) {
                    sf_buf_putc(&c->keybuf, ',');
                }
                const char *kv = row.vals[key_idx[i]];
                if (kv) {
                    sf_buf_append(&c->keybuf, kv, row.lens[key_idx[i]]);
                }
            }
        } else {
            sf_buf_puts(&c->keybuf, last);
        }
        char ts[24];
        snprintf(ts, sizeof(ts), "%lld", now_ms());
        struct sf_header h[4] = { { "table", table_name },
                                  { "offset", last },
                                  { "key", c->keybuf.data ? c->keybuf.data : "" },
                                  { "timestamp", ts } };
        struct sf_event *ev = sf_event_create(h, 4, c->body.data, c->body.len);
        if (!ev) {
            c->cx->query_end(c->conn);
            free_batch(c, n);
            return backoff(src, SF_ERR_NOMEM, "could not allocate an event", "out of memory");
        }
        c->batch[n++] = ev;
        if (n == (size_t)c->batch_size) {
            rc = deliver_batch(src, n, last);
            n = 0;
            if (rc != SF_OK) { /* stopping: the unread rows are read again next start */
                c->cx->query_end(c->conn);
                return SF_BACKOFF;
            }
            flush_offset(src, false);
        }
    }
    if (got < 0) {
        free_batch(c, n);
        c->cx->query_end(c->conn);
        if (!sf_err_retriable(got)) {
            return fatal(src, "reading rows failed: %s", err);
        }
        close_conns(c);
        return backoff(src, got, "reading rows failed", err);
    }
    c->cx->query_end(c->conn);
    if (n > 0) {
        rc = deliver_batch(src, n, last);
        if (rc != SF_OK) {
            return SF_BACKOFF;
        }
    }
    c->backoff_ms = 0;
    flush_offset(src, false);
    if (rows > 0) {
        SF_DEBUG(SF_SOURCE_FMT "read %lld rows up to offset \"%s\"", SF_SOURCE_ARGS(src), rows,
                 c->read_offset);
    }
    if (!c->custom_query && rows >= c->max_rows) {
        return SF_READY;
    }
    src->backoff_ms = c->query_delay_ms;
    return SF_BACKOFF;
}

static void sql_stop(struct sf_source *src)
{
    struct sql_ctx *c = src->ctx;
    if (c->cx) {
        flush_offset(src, true);
        if (c->written_offset) {
            SF_INFO(SF_SOURCE_FMT "stopped; delivered offset \"%s\" is in %s",
                    SF_SOURCE_ARGS(src), c->written_offset, c->status_table);
        }
        close_conns(c);
    }
    free_pk(c);
    free(c->inc);
    free(c->read_offset);
    free(c->written_offset);
    free(c->pending_offset);
    free(c->redacted_url);
    free(c->batch);
    sf_buf_free(&c->sql);
    sf_buf_free(&c->upsert_sql);
    sf_buf_free(&c->body);
    sf_buf_free(&c->keybuf);
    if (c->dburl.scheme) {
        if (c->dburl.password) {
            explicit_bzero(c->dburl.password, strlen(c->dburl.password));
        }
        sf_db_url_free(&c->dburl);
    }
}

static const char *const sql_aliases[] = { "mysql",
                                           "postgresql",
                                           "com.atguigu.source.SQLSource",
                                           "org.keedio.flume.source.SQLSource",
                                           NULL };

const struct sf_source_plugin sf_source_sql = {
    .name = "sql",
    .aliases = sql_aliases,
    .options = sql_options,
    .ctx_size = sizeof(struct sql_ctx),
    .configure = sql_configure,
    .start = sql_start,
    .process = sql_process,
    .stop = sql_stop,
};
