/*
 * The polling SQL source (type sql, mysql, postgresql; the seed's com.atguigu.source.SQLSource
 * and keedio's org.keedio.flume.source.SQLSource as aliases). For each table it runs, by
 * incremental.mode (Kafka Connect JDBC's modes):
 *   incrementing            SELECT cols FROM t WHERE inc > ? ORDER BY inc LIMIT max.rows
 *   timestamp               SELECT cols FROM t WHERE ts > ? AND ts < now - delay ORDER BY ts
 *   timestamp+incrementing  ... WHERE ts < now - delay AND (ts > ? OR (ts = ? AND inc > ?))
 *                               ORDER BY ts, inc LIMIT max.rows
 *   bulk                    SELECT cols FROM t
 * with the offset bound as parameters, streams the rows, encodes each into an event and hands
 * batches of batch.size events to the channels. Several tables (`tables = a, b`) share one
 * connection and are polled round-robin, one query each per turn.
 *
 * Offsets: the offset written to flume_meta is the last one every channel has delivered (one ack
 * tracker per table), so it never runs ahead of delivery. A durable channel also records the
 * offset in the same commit as the put of its batch; on start the source resumes after the later
 * of the two (per channel, then the earliest over channels) and logs what it did, so with a file
 * channel a crash creates no duplicate on the source side. Connection failures are retried with
 * capped exponential backoff; the next query starts after the last row that reached the channels.
 */
#include "sqlflume/agent.h"
#include "sqlflume/buf.h"
#include "sqlflume/connector.h"
#include "sqlflume/error.h"
#include "sqlflume/format.h"
#include "sqlflume/log.h"
#include "sqlflume/source.h"

#include "gapset.h"

#include <ctype.h>
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
#define MAX_KEY_COLS 16
#define TS_FLOOR "0001-01-01 00:00:00"

enum poll_mode { MODE_INCREMENTING = 0, MODE_TIMESTAMP, MODE_TS_INC, MODE_BULK };

/* One polled table (or the custom query) with its own offsets and delivery tracker. */
struct sql_table {
    char *name;       /* NULL for custom.query without table */
    char *status_key; /* source_tab of its flume_meta row */
    char *chan_key;   /* key of its offsets inside durable channels: "<source>/<status_key>" */
    char **pk;        /* primary key columns */
    size_t npk;
    char *inc; /* incremental column (incrementing, timestamp+incrementing) */
    char *ts;  /* timestamp column (timestamp, timestamp+incrementing) */
    enum sf_coltype inc_type, ts_type;
    struct sf_buf sql;
    bool prepared;
    bool offset_loaded;
    char *read_offset;    /* encoded offset where the next query starts */
    char *written_offset; /* last value written to flume_meta */
    char *pending_offset; /* delivered, not yet written */
    struct sf_ack_tracker *tracker;
    /* out-of-order commits (integer incrementing columns): ids below hw not seen yet */
    bool gaps_on;
    bool gaps_init;
    struct sf_gapset gs;      /* as of the last batch that reached the channels */
    struct sf_gapset gs_work; /* while a poll reads */
    struct sf_buf sel_from;   /* "SELECT cols FROM t" */
    struct sf_buf qinc;       /* the quoted incremental column */
};

struct sql_ctx {
    /* options */
    char *url;
    char *user;
    char *password;
    char *password_file;
    char *table;
    char *tables;
    char *columns;
    char *inc_column;
    char *ts_column;
    int mode;
    long long ts_delay_ms;
    long long gap_timeout_ms;
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
    char *status_url;
    char *status_user;
    char *status_password;
    char *ignored_str; /* absorbs accepted-but-unused legacy keys */

    /* runtime */
    const struct sf_connector_plugin *cx;  /* rows */
    const struct sf_connector_plugin *scx; /* status table (the same unless status.connection.url) */
    struct sf_db_url dburl, status_dburl;
    char *redacted_url;
    struct sf_conn *conn;        /* rows and table metadata */
    struct sf_conn *status_conn; /* flume_meta reads and writes */
    struct sf_buf upsert_sql;
    bool status_ready;
    struct sql_table *tabs;
    size_t ntabs;
    size_t cursor;   /* next table to poll */
    bool cycle_full; /* a table of this round returned max.rows */
    long long backoff_ms;
    long long last_flush_ms;
    struct sf_format fmt;
    struct sf_buf body;
    struct sf_buf keybuf;
    struct sf_buf gap_sql;
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
    { "tables", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, tables), 0, "table.whitelist",
      NULL,
      "several tables (comma or space separated) polled round-robin over one connection, one "
      "offset row each (status.key + table)" },
    { "columns.to.select", SF_OPT_STRING, "*", 0, 0, offsetof(struct sql_ctx, columns), 0, NULL,
      NULL, "comma-separated column names, each quoted as an identifier, or *" },
    { "incremental.mode", SF_OPT_ENUM, "incrementing", 0, 0, offsetof(struct sql_ctx, mode), 0,
      "mode", "incrementing|timestamp|timestamp+incrementing|bulk",
      "what a poll reads: rows past the incremental column, rows past the timestamp column "
      "(inserted and updated), both (ties on the timestamp broken by the incremental column), or "
      "the whole table" },
    { "incremental.column.name", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, inc_column),
      0, "incrementing.column.name", NULL,
      "monotonically increasing column (default: the single-column primary key)" },
    { "timestamp.column.name", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, ts_column), 0,
      NULL, NULL, "timestamp column of the timestamp modes" },
    { "timestamp.delay.interval.ms", SF_OPT_INT, "0", 0, 86400000LL * 365,
      offsetof(struct sql_ctx, ts_delay_ms), 0, NULL, NULL,
      "timestamp modes read rows only up to the database's now minus this many ms, so that "
      "transactions committing late are not skipped" },
    { "incremental.gap.timeout.ms", SF_OPT_INT, "60000", 0, 86400000LL * 7,
      offsetof(struct sql_ctx, gap_timeout_ms), 0, NULL, NULL,
      "ms a missing id below the highest one read is waited for (its transaction may commit "
      "late) before it counts as a permanent gap; rows above it flow meanwhile and are delivered "
      "once; 0 = off (integer incrementing columns)" },
    { "start.from", SF_OPT_STRING, "0", 0, 0, offsetof(struct sql_ctx, start_from), 0,
      "incremental.value", NULL,
      "offset used when flume_meta has no row for this source (timestamp modes: the earliest "
      "timestamp when left at 0)" },
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
      NULL, NULL, "offset table (in the source database unless status.connection.url is set)" },
    { "status.key", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, status_key), 0, NULL, NULL,
      "source_tab value of this source's offset row (default: the table name); with tables, "
      "the prefix of each table's row" },
    { "status.table.create", SF_OPT_BOOL, "true", 0, 0, offsetof(struct sql_ctx, status_create), 0,
      NULL, NULL, "create the status table if it is missing" },
    { "status.connection.url", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, status_url), 0,
      NULL, NULL,
      "database URL of the status table when it lives elsewhere (e.g. the source is a read-only "
      "replica)" },
    { "status.connection.user", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, status_user),
      0, NULL, NULL, "user for status.connection.url (default: from that URL)" },
    { "status.connection.password", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct sql_ctx, status_password), SF_OPT_SECRET, NULL, NULL,
      "password for status.connection.url (default: from that URL)" },
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

static bool is_integer(const char *s)
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

/* Compare two integer texts numerically (no leading zeros assumed beyond "0"). */
static int cmp_int_text(const char *a, const char *b)
{
    bool na = *a == '-', nb = *b == '-';
    if (na != nb) {
        return na ? -1 : 1;
    }
    size_t la = strlen(a), lb = strlen(b);
    int r = la != lb ? (la < lb ? -1 : 1) : strcmp(a, b);
    return na ? -r : r;
}

/* Order of two offset values: numeric for integers, else textual (ISO timestamps sort so). */
static int cmp_value(const char *a, const char *b)
{
    /* gap-tracking offsets "hw;gaps" order by hw */
    char ha[32], hb[32];
    size_t la = strcspn(a, ";"), lb = strcspn(b, ";");
    if ((a[la] || b[lb]) && la < sizeof(ha) && lb < sizeof(hb)) {
        memcpy(ha, a, la);
        ha[la] = '\0';
        memcpy(hb, b, lb);
        hb[lb] = '\0';
        if (is_integer(ha) && is_integer(hb) && cmp_int_text(ha, hb) != 0) {
            return cmp_int_text(ha, hb);
        }
    }
    if (is_integer(a) && is_integer(b)) {
        return cmp_int_text(a, b);
    }
    return strcmp(a, b);
}

/* Order of two encoded offsets; timestamp+incrementing offsets are "ts,inc". */
static int cmp_offset(int mode, const char *a, const char *b)
{
    if (mode != MODE_TS_INC) {
        return cmp_value(a, b);
    }
    const char *ca = strchr(a, ','), *cb = strchr(b, ',');
    if (!ca || !cb) {
        return strcmp(a, b);
    }
    size_t la = (size_t)(ca - a), lb = (size_t)(cb - b);
    int r = strncmp(a, b, la < lb ? la : lb);
    if (r == 0 && la != lb) {
        r = la < lb ? -1 : 1;
    }
    return r ? r : cmp_value(ca + 1, cb + 1);
}

/* Split a list separated by commas and/or white space into trimmed, malloc'd words. */
static char **split_names(const char *s, size_t *n, bool space_separates)
{
    *n = 0;
    size_t cap = 4;
    char **v = malloc(cap * sizeof(*v));
    while (v && *s) {
        while (*s == ',' || *s == ' ' || *s == '\t') {
            s++;
        }
        if (!*s) {
            break;
        }
        const char *e = s;
        while (*e && *e != ',' && (!space_separates || (*e != ' ' && *e != '\t'))) {
            e++;
        }
        size_t len = (size_t)(e - s);
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) {
            len--;
        }
        if (*n == cap) {
            cap *= 2;
            char **nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                break;
            }
            v = nv;
        }
        v[(*n)++] = strndup(s, len);
        s = e;
    }
    return v;
}

static void free_names(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i]);
    }
    free(v);
}

static int check_url(struct sf_source *src, const char *url, struct sf_prop *at,
                     struct sf_diag *d, bool source_url)
{
    char err[256];
    struct sf_db_url u;
    if (sf_db_url_parse(url, &u, err, sizeof(err)) != SF_OK) {
        sf_diag_error(d, at, "%s", err);
        return -1;
    }
    int rc = 0;
    if (!sf_connector_find(u.scheme)) {
        sf_diag_error(d, at, "no connector for scheme \"%s\"", u.scheme);
        rc = -1;
    }
    struct sf_prop *type = sf_section_get(src->conf, "type");
    if (source_url && type &&
        (strcasecmp(type->val, "mysql") == 0 || strcasecmp(type->val, "postgresql") == 0) &&
        strcasecmp(type->val, u.scheme) != 0) {
        sf_diag_error(d, type, "source type \"%s\" does not match the %s URL", type->val,
                      u.scheme);
        rc = -1;
    }
    sf_db_url_free(&u);
    return rc;
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
    if (!c->table && !c->custom_query && !c->tables) {
        sf_diag_error(d, type, "source \"%s\" needs \"table\", \"tables\" or \"custom.query\"",
                      src->name);
        rc = -1;
    }
    if (c->tables && (c->table || c->custom_query)) {
        sf_diag_error(d, sf_section_get(src->conf, "tables"),
                      "\"tables\" cannot be combined with \"table\" or \"custom.query\"");
        rc = -1;
    }
    if (c->custom_query && c->mode != MODE_INCREMENTING) {
        sf_diag_error(d, sf_section_get(src->conf, "custom.query"),
                      "custom.query works with incremental.mode = incrementing only");
        rc = -1;
    }
    if ((c->mode == MODE_TIMESTAMP || c->mode == MODE_TS_INC) && !c->ts_column) {
        sf_diag_error(d, sf_section_get(src->conf, "incremental.mode"),
                      "missing required key timestamp.column.name for this incremental.mode");
        rc = -1;
    }
    if (c->custom_query && !strstr(c->custom_query, "$@$")) {
        sf_diag_warn(d, sf_section_get(src->conf, "custom.query"),
                     "custom.query has no $@$ placeholder: every poll reads the whole result");
    }
    if (c->url && check_url(src, c->url, urlp, d, true) != 0) {
        rc = -1;
    }
    if (c->status_url &&
        check_url(src, c->status_url, sf_section_get(src->conf, "status.connection.url"), d,
                  false) != 0) {
        rc = -1;
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

static int parse_url(const char *url, const char *user, const char *password,
                     struct sf_db_url *out, const struct sf_connector_plugin **cx, char *errstr,
                     size_t errstr_size)
{
    if (sf_db_url_parse(url, out, errstr, errstr_size) != SF_OK) {
        return SF_ERR_INVAL;
    }
    if (user) {
        set_str(&out->user, user);
    }
    if (password) {
        set_str(&out->password, password);
    }
    *cx = sf_connector_find(out->scheme);
    if (!*cx) {
        snprintf(errstr, errstr_size, "no connector for scheme \"%s\"", out->scheme);
        return SF_ERR_INVAL;
    }
    return SF_OK;
}

static int sql_start(struct sf_source *src, char *errstr, size_t errstr_size)
{
    struct sql_ctx *c = src->ctx;
    int rc = parse_url(c->url, c->user, c->password, &c->dburl, &c->cx, errstr, errstr_size);
    if (rc != SF_OK) {
        return rc;
    }
    if (c->status_url) {
        rc = parse_url(c->status_url, c->status_user, c->status_password, &c->status_dburl,
                       &c->scx, errstr, errstr_size);
        if (rc != SF_OK) {
            return rc;
        }
    } else {
        c->scx = c->cx;
    }
    c->redacted_url = sf_db_url_redact(c->url);
    /* the tables polled: one, several, or the custom query */
    char **names = NULL;
    size_t n = 0;
    if (c->tables) {
        names = split_names(c->tables, &n, true);
    } else {
        names = calloc(1, sizeof(*names));
        if (names) {
            names[0] = c->table ? strdup(c->table) : NULL;
            n = 1;
        }
    }
    if (!names || n == 0) {
        free_names(names, n);
        snprintf(errstr, errstr_size, "no table to poll");
        return SF_ERR_INVAL;
    }
    c->tabs = calloc(n, sizeof(*c->tabs));
    if (!c->tabs) {
        free_names(names, n);
        return SF_ERR_NOMEM;
    }
    c->ntabs = n;
    for (size_t i = 0; i < n; i++) {
        struct sql_table *t = &c->tabs[i];
        t->name = names[i];
        struct sf_buf key = SF_BUF_INIT;
        if (c->tables) {
            sf_buf_printf(&key, "%s%s", c->status_key ? c->status_key : "", t->name);
        } else {
            sf_buf_puts(&key, c->status_key ? c->status_key : (t->name ? t->name : src->name));
        }
        t->status_key = sf_buf_steal(&key);
        sf_buf_printf(&key, "%s/%s", src->name, t->status_key);
        t->chan_key = sf_buf_steal(&key);
        t->tracker = sf_ack_tracker_create();
        if (!t->tracker) {
            free(names);
            return SF_ERR_NOMEM;
        }
    }
    free(names); /* the strings moved into the tables */
    c->fmt.kind = (enum sf_format_kind)c->format;
    c->fmt.delimiter = c->delimiter;
    c->fmt.delimiter_len = strlen(c->delimiter);
    c->fmt.null_text = "";
    c->batch = calloc((size_t)c->batch_size, sizeof(*c->batch));
    if (!c->batch) {
        return SF_ERR_NOMEM;
    }
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

static void free_pk(struct sql_table *t)
{
    free_names(t->pk, t->npk);
    t->pk = NULL;
    t->npk = 0;
}

static void close_conns(struct sql_ctx *c)
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

/* Log a failure, double the backoff and return SF_BACKOFF. */
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

/* The default start offset of the mode. */
static const char *initial_offset(const struct sql_ctx *c)
{
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
 * over the channels (a row is resumed after only if every channel has it). */
static int load_offset(struct sf_source *src, struct sql_table *t, char *err, size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    struct sf_buf q = SF_BUF_INIT;
    sf_buf_puts(&q, "SELECT currentIndex FROM ");
    int rc = quote_qualified(c->scx, c->status_table, &q);
    char *meta = NULL;
    if (rc == SF_OK) {
        sf_buf_puts(&q, " WHERE source_tab = ");
        c->scx->placeholder(1, &q);
        struct sf_param p = { t->status_key, SF_COL_TEXT };
        const struct sf_column *cols;
        size_t ncols;
        rc = c->scx->query(c->status_conn, q.data, &p, 1, &cols, &ncols, err, errsz);
        if (rc == SF_OK) {
            struct sf_row row;
            int got = c->scx->fetch(c->status_conn, &row, err, errsz);
            if (got == 1 && row.vals[0]) {
                meta = strndup(row.vals[0], row.lens[0]);
            } else if (got < 0) {
                rc = got;
            }
            c->scx->query_end(c->status_conn);
        }
    }
    sf_buf_free(&q);
    if (rc != SF_OK) {
        free(meta);
        return rc;
    }
    const char *base = meta ? meta : initial_offset(c);
    char *resume = NULL;
    struct sf_buf why = SF_BUF_INIT;
    sf_buf_printf(&why, "%s \"%s\"", meta ? "flume_meta has" : "flume_meta has no row; start at",
                  base);
    for (size_t i = 0; i < src->nch; i++) {
        char *chan = NULL;
        const char *pos = base; /* a memory channel holds nothing across a restart */
        if (sf_channel_offset_get(src->chs[i], t->chan_key, &chan) == SF_OK && chan) {
            sf_buf_printf(&why, ", channel \"%s\" recorded \"%s\"", src->chs[i]->name, chan);
            if (cmp_offset(c->mode, chan, base) > 0) {
                pos = chan;
            }
        }
        if (!resume || cmp_offset(c->mode, pos, resume) < 0) {
            set_str(&resume, pos);
        }
        free(chan);
    }
    if (!resume) {
        resume = strdup(base);
    }
    t->read_offset = resume;
    t->written_offset = meta;
    t->offset_loaded = true;
    SF_INFO(SF_SOURCE_FMT "table \"%s\": %s; resuming after \"%s\"", SF_SOURCE_ARGS(src),
            t->status_key, why.data, resume);
    sf_buf_free(&why);
    return SF_OK;
}

/* Create the status table and the upsert text (once per connection of the status database). */
static int prepare_status(struct sf_source *src, char *err, size_t errsz, bool *is_fatal)
{
    struct sql_ctx *c = src->ctx;
    struct sf_buf q = SF_BUF_INIT, qt = SF_BUF_INIT;
    int rc = quote_qualified(c->scx, c->status_table, &qt);
    if (rc != SF_OK) {
        snprintf(err, errsz, "bad status.table name \"%s\"", c->status_table);
        *is_fatal = true;
    } else if (c->status_create) {
        c->scx->status_table_ddl(qt.data, &q);
        rc = c->scx->exec(c->status_conn, q.data, NULL, 0, err, errsz);
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

/* Learn the class of column col of table (so offsets bind with the right type). */
static int probe_type(struct sql_ctx *c, const char *qtable, const char *col, enum sf_coltype *out,
                      char *err, size_t errsz)
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

/* Resolve column roles and build the table's poll query. */
static int prepare_table(struct sf_source *src, struct sql_table *t, char *err, size_t errsz,
                         bool *is_fatal)
{
    struct sql_ctx *c = src->ctx;
    int rc;
    *is_fatal = false;
    sf_buf_reset(&t->sql);
    if (c->custom_query) {
        /* replace every $@$ with the placeholder of parameter 1 */
        const char *s = c->custom_query;
        const char *m;
        while ((m = strstr(s, "$@$")) != NULL) {
            sf_buf_append(&t->sql, s, (size_t)(m - s));
            c->cx->placeholder(1, &t->sql);
            s = m + 3;
        }
        sf_buf_puts(&t->sql, s);
        set_str(&t->inc, c->inc_column);
        if (t->name) {
            free_pk(t);
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
    free_pk(t);
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
        set_str(&t->inc, c->inc_column);
    } else if (t->npk == 1) {
        set_str(&t->inc, t->pk[0]);
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
    set_str(&t->ts, c->mode == MODE_TIMESTAMP || c->mode == MODE_TS_INC ? c->ts_column : NULL);

    struct sf_buf qt = SF_BUF_INIT, qi = SF_BUF_INIT, qts = SF_BUF_INIT, cols = SF_BUF_INIT;
    rc = quote_qualified(c->cx, t->name, &qt);
    if (rc == SF_OK && t->inc) {
        rc = c->cx->quote_ident(t->inc, &qi);
    }
    if (rc == SF_OK && t->ts) {
        rc = c->cx->quote_ident(t->ts, &qts);
    }
    bool star = strcmp(c->columns, "*") == 0;
    if (rc == SF_OK && !star) {
        size_t n = 0;
        char **names = split_names(c->columns, &n, false);
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
        free_names(names, n);
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
        switch (c->mode) {
        case MODE_INCREMENTING:
            sf_buf_reset(&t->sel_from);
            sf_buf_printf(&t->sel_from, "SELECT %s FROM %s", sel, qt.data);
            sf_buf_reset(&t->qinc);
            sf_buf_puts(&t->qinc, qi.data);
            sf_buf_printf(&t->sql, "SELECT %s FROM %s WHERE %s > ", sel, qt.data, qi.data);
            c->cx->placeholder(1, &t->sql);
            sf_buf_printf(&t->sql, " ORDER BY %s LIMIT %lld", qi.data, c->max_rows);
            break;
        case MODE_TIMESTAMP:
            /* no LIMIT: rows sharing one timestamp must not be cut in two */
            sf_buf_printf(&t->sql, "SELECT %s FROM %s WHERE %s > ", sel, qt.data, qts.data);
            c->cx->placeholder(1, &t->sql);
            sf_buf_printf(&t->sql, " AND %s < %s ORDER BY %s", qts.data, upper.data, qts.data);
            break;
        case MODE_TS_INC:
            sf_buf_printf(&t->sql, "SELECT %s FROM %s WHERE %s < %s AND (%s > ", sel, qt.data,
                          qts.data, upper.data, qts.data);
            c->cx->placeholder(1, &t->sql);
            sf_buf_printf(&t->sql, " OR (%s = ", qts.data);
            c->cx->placeholder(2, &t->sql);
            sf_buf_printf(&t->sql, " AND %s > ", qi.data);
            c->cx->placeholder(3, &t->sql);
            sf_buf_printf(&t->sql, ")) ORDER BY %s, %s LIMIT %lld", qts.data, qi.data,
                          c->max_rows);
            break;
        default: /* bulk */
            sf_buf_printf(&t->sql, "SELECT %s FROM %s", sel, qt.data);
            break;
        }
        sf_buf_free(&upper);
        if (t->inc) {
            rc = probe_type(c, qt.data, t->inc, &t->inc_type, err, errsz);
        }
        if (rc == SF_OK && t->ts) {
            rc = probe_type(c, qt.data, t->ts, &t->ts_type, err, errsz);
        }
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
        }
    } else {
        *is_fatal = true;
    }
    sf_buf_free(&qt);
    sf_buf_free(&qi);
    sf_buf_free(&qts);
    sf_buf_free(&cols);
    if (rc == SF_OK) {
        t->prepared = true;
        t->gaps_on = c->mode == MODE_INCREMENTING && c->gap_timeout_ms > 0 &&
                     t->inc_type == SF_COL_INT;
        SF_INFO(SF_SOURCE_FMT "polling %s with: %s%s", SF_SOURCE_ARGS(src), c->redacted_url,
                t->sql.data, t->gaps_on ? " (plus ranges of ids not seen yet)" : "");
    }
    return rc;
}

/* Write the table's delivered offset to flume_meta if it advanced (force: at stop). */
static void flush_table(struct sf_source *src, struct sql_table *t)
{
    struct sql_ctx *c = src->ctx;
    char *off = sf_ack_tracker_poll(t->tracker);
    if (off) {
        free(t->pending_offset);
        t->pending_offset = off;
    }
    off = t->pending_offset;
    if (!off || c->mode == MODE_BULK) {
        return;
    }
    if (t->written_offset && strcmp(off, t->written_offset) == 0) {
        free(t->pending_offset);
        t->pending_offset = NULL;
        return;
    }
    char err[512] = "";
    int rc = SF_ERR_CONN;
    if (!c->status_conn) {
        rc = c->scx->connect(c->status_url ? &c->status_dburl : &c->dburl, &c->status_conn, err,
                             sizeof(err));
        if (rc != SF_OK) {
            c->status_conn = NULL;
        }
    }
    if (c->status_conn && c->upsert_sql.len) {
        struct sf_param p[2] = { { t->status_key, SF_COL_TEXT }, { off, SF_COL_TEXT } };
        rc = c->scx->exec(c->status_conn, c->upsert_sql.data, p, 2, err, sizeof(err));
        if (rc != SF_OK && sf_err_retriable(rc)) {
            c->scx->close(c->status_conn);
            c->status_conn = NULL;
        }
    }
    if (rc == SF_OK) {
        SF_DEBUG(SF_SOURCE_FMT "offset \"%s\" of \"%s\" written to %s", SF_SOURCE_ARGS(src), off,
                 t->status_key, c->status_table);
        free(t->written_offset);
        t->written_offset = off;
        t->pending_offset = NULL;
        return;
    }
    /* pending_offset stays for the next attempt */
    SF_WARN(SF_SOURCE_FMT "could not write offset \"%s\" of \"%s\" to %s: %s; will retry",
            SF_SOURCE_ARGS(src), off, t->status_key, c->status_table, err);
}

static void flush_offsets(struct sf_source *src, bool force)
{
    struct sql_ctx *c = src->ctx;
    long long now = mono_ms();
    if (!force && now - c->last_flush_ms < OFFSET_FLUSH_MS) {
        return;
    }
    c->last_flush_ms = now;
    for (size_t i = 0; i < c->ntabs; i++) {
        flush_table(src, &c->tabs[i]);
    }
}

static int find_col(const struct sf_column *cols, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(cols[i].name, name) == 0) {
            return (int)i;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(cols[i].name, name) == 0) {
            return (int)i;
        }
    }
    return -1;
}

/* Register the batch with the table's tracker and put it into every channel, recording the
 * offset in durable channels in the same commit. */
static int deliver_batch(struct sf_source *src, struct sql_table *t, size_t n,
                         const char *last_offset)
{
    struct sql_ctx *c = src->ctx;
    uint64_t id = sf_ack_tracker_add(t->tracker, n, (unsigned)src->nch, last_offset);
    for (size_t i = 0; i < n; i++) {
        c->batch[i]->tracker = t->tracker;
        c->batch[i]->ack_id = id;
    }
    atomic_fetch_add(&src->metrics.batch_received, 1);
    atomic_fetch_add(&src->metrics.event_received, (long long)n);
    int rc = sf_source_deliver(src, c->batch, n, t->chan_key,
                               c->mode == MODE_BULK ? NULL : last_offset);
    if (rc == SF_OK && t->gaps_on) {
        t->gs = t->gs_work;
    }
    if (rc == SF_OK) {
        atomic_fetch_add(&src->metrics.batch_accepted, 1);
        atomic_fetch_add(&src->metrics.event_accepted, (long long)n);
        if (c->mode != MODE_BULK) {
            set_str(&t->read_offset, last_offset);
        }
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

/* Make sure the connections are up and the table is ready to poll. */
static enum sf_status ensure_ready(struct sf_source *src, struct sql_table *t, bool *ok)
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
                return fatal(src, "%s", err);
            }
            return backoff(src, rc, "could not connect", err);
        }
        SF_INFO(SF_SOURCE_FMT "connected to %s", SF_SOURCE_ARGS(src), c->redacted_url);
    }
    if (!c->status_conn) {
        rc = c->scx->connect(c->status_url ? &c->status_dburl : &c->dburl, &c->status_conn, err,
                             sizeof(err));
        if (rc != SF_OK) {
            c->status_conn = NULL;
            if (rc == SF_ERR_AUTH || rc == SF_ERR_INVAL) {
                return fatal(src, "status database: %s", err);
            }
            return backoff(src, rc, "could not connect to the status database", err);
        }
    }
    bool is_fatal = false;
    if (!c->status_ready) {
        rc = prepare_status(src, err, sizeof(err), &is_fatal);
        if (rc != SF_OK) {
            if (is_fatal) {
                return fatal(src, "%s", err);
            }
            close_conns(c);
            return backoff(src, rc, "could not prepare the status table", err);
        }
    }
    if (!t->offset_loaded && c->mode != MODE_BULK) {
        rc = load_offset(src, t, err, sizeof(err));
        if (rc != SF_OK) {
            if (!sf_err_retriable(rc)) {
                return fatal(src, "could not read the offset of \"%s\": %s", t->status_key, err);
            }
            close_conns(c);
            return backoff(src, rc, "could not read the stored offset", err);
        }
    }
    if (!t->prepared) {
        rc = prepare_table(src, t, err, sizeof(err), &is_fatal);
        if (rc != SF_OK) {
            if (is_fatal) {
                return fatal(src, "%s", err);
            }
            close_conns(c);
            return backoff(src, rc, "could not prepare the poll", err);
        }
    }
    *ok = true;
    return SF_READY;
}

/* The offset a batch reaches: the last row's, or with gap tracking the encoded "hw;gaps". */
static const char *batch_offset(struct sf_source *src, struct sql_table *t, struct sf_buf *last)
{
    if (!t->gaps_on) {
        return last->data;
    }
    sf_buf_reset(last);
    if (sf_gapset_encode(&t->gs_work, last) > 0) {
        SF_WARN(SF_SOURCE_FMT "table \"%s\": missing ids do not fit in currentIndex; the oldest "
                "are given up", SF_SOURCE_ARGS(src), t->status_key);
    }
    return last->data;
}

/* With gap tracking: load the state once, give up gaps past the timeout, and build
 *   SELECT cols FROM t WHERE inc > ? OR inc BETWEEN ? AND ? ... ORDER BY inc LIMIT n
 * with its parameters. @return the query text (in c->body's sibling buffer). */
static const char *gap_query(struct sf_source *src, struct sql_table *t, struct sf_param *params,
                             char (*num)[24], size_t *nparams)
{
    struct sql_ctx *c = src->ctx;
    long long now = mono_ms();
    if (!t->gaps_init) {
        t->gaps_init = true;
        memset(&t->gs, 0, sizeof(t->gs));
        if (sf_gapset_parse(&t->gs, t->read_offset, now) != 0) {
            SF_INFO(SF_SOURCE_FMT "table \"%s\": offset \"%s\" is not an integer: ids that "
                    "commit out of order are not tracked", SF_SOURCE_ARGS(src), t->status_key,
                    t->read_offset);
            t->gaps_on = false;
            *nparams = 1;
            params[0] = (struct sf_param){ t->read_offset, t->inc_type };
            return t->sql.data;
        }
    }
    long long first = 0, lastid = 0;
    long long ids = sf_gapset_expire(&t->gs, now, c->gap_timeout_ms, &first, &lastid);
    if (ids > 0) {
        struct sf_buf enc = SF_BUF_INIT;
        sf_gapset_encode(&t->gs, &enc);
        SF_INFO(SF_SOURCE_FMT "table \"%s\": %lld missing id(s) between %lld and %lld did not "
                "appear within %lld ms; counted as a permanent gap", SF_SOURCE_ARGS(src),
                t->status_key, ids, first, lastid, c->gap_timeout_ms);
        /* an empty batch carries the new offset to flume_meta once everything before it is
         * delivered */
        sf_ack_tracker_add(t->tracker, 0, 1, enc.data);
        set_str(&t->read_offset, enc.data);
        sf_buf_free(&enc);
    }
    t->gs_work = t->gs;
    sf_buf_reset(&c->gap_sql);
    sf_buf_printf(&c->gap_sql, "%s WHERE %s > ", t->sel_from.data, t->qinc.data);
    c->cx->placeholder(1, &c->gap_sql);
    snprintf(num[0], sizeof(num[0]), "%lld", t->gs.hw);
    params[0] = (struct sf_param){ num[0], SF_COL_INT };
    size_t k = 1;
    for (size_t i = 0; i < t->gs.n; i++) {
        sf_buf_printf(&c->gap_sql, " OR %s BETWEEN ", t->qinc.data);
        c->cx->placeholder((int)k + 1, &c->gap_sql);
        sf_buf_puts(&c->gap_sql, " AND ");
        c->cx->placeholder((int)k + 2, &c->gap_sql);
        snprintf(num[k], sizeof(num[k]), "%lld", t->gs.g[i].lo);
        snprintf(num[k + 1], sizeof(num[k + 1]), "%lld", t->gs.g[i].hi);
        params[k] = (struct sf_param){ num[k], SF_COL_INT };
        params[k + 1] = (struct sf_param){ num[k + 1], SF_COL_INT };
        k += 2;
    }
    sf_buf_printf(&c->gap_sql, " ORDER BY %s LIMIT %lld", t->qinc.data, c->max_rows);
    *nparams = k;
    return c->gap_sql.data;
}

/* Run one query of table t and deliver its rows. *rows gets the number read.
 * @return SF_READY when the poll completed, else the status to return (backoff/fatal). */
static enum sf_status poll_table(struct sf_source *src, struct sql_table *t, long long *rows)
{
    struct sql_ctx *c = src->ctx;
    char err[1024] = "";
    *rows = 0;
    /* the bound offset parameters of the mode */
    struct sf_param params[3];
    size_t nparams = 0;
    char *ts_part = NULL;
    const char *inc_part = NULL;
    if (c->mode == MODE_TS_INC) {
        const char *comma = strchr(t->read_offset, ',');
        ts_part = comma ? strndup(t->read_offset, (size_t)(comma - t->read_offset))
                        : strdup(t->read_offset);
        inc_part = comma ? comma + 1 : "0";
        params[0] = (struct sf_param){ ts_part, t->ts_type };
        params[1] = (struct sf_param){ ts_part, t->ts_type };
        params[2] = (struct sf_param){ inc_part, t->inc_type };
        nparams = 3;
    } else if (c->mode == MODE_TIMESTAMP) {
        params[0] = (struct sf_param){ t->read_offset, t->ts_type };
        nparams = 1;
    } else if (c->mode == MODE_INCREMENTING) {
        enum sf_coltype ty = t->inc_type;
        if (c->custom_query) {
            ty = is_integer(t->read_offset) ? SF_COL_INT : SF_COL_TEXT;
        }
        params[0] = (struct sf_param){ t->read_offset, ty };
        nparams = (c->custom_query && !strstr(c->custom_query, "$@$")) ? 0 : 1;
    }
    const char *sql = t->sql.data;
    struct sf_param gparams[1 + 2 * SF_GAPS_MAX];
    char gnum[1 + 2 * SF_GAPS_MAX][24];
    if (t->gaps_on) {
        sql = gap_query(src, t, gparams, gnum, &nparams);
    }
    const struct sf_column *cols;
    size_t ncols;
    int rc = c->cx->query(c->conn, sql, t->gaps_on ? gparams : params, nparams, &cols, &ncols,
                          err, sizeof(err));
    free(ts_part);
    if (rc != SF_OK) {
        if (!sf_err_retriable(rc)) {
            return fatal(src, "poll query of \"%s\" failed: %s", t->status_key, err);
        }
        close_conns(c);
        return backoff(src, rc, "poll query failed", err);
    }
    /* where the offset and key values are in each row */
    bool explicit_cols = !c->custom_query && strcmp(c->columns, "*") != 0;
    size_t hidden = (t->inc ? 1 : 0) + (t->ts ? 1 : 0) + t->npk;
    size_t nvisible = explicit_cols ? ncols - hidden : ncols;
    int inc_idx = -1, ts_idx = -1;
    int key_idx[MAX_KEY_COLS];
    size_t nkey = t->npk < MAX_KEY_COLS ? t->npk : MAX_KEY_COLS;
    if (explicit_cols) {
        size_t at = nvisible;
        inc_idx = t->inc ? (int)at++ : -1;
        ts_idx = t->ts ? (int)at++ : -1;
        for (size_t i = 0; i < nkey; i++) {
            key_idx[i] = (int)at++;
        }
    } else {
        inc_idx = t->inc ? find_col(cols, ncols, t->inc) : (c->custom_query ? 0 : -1);
        ts_idx = t->ts ? find_col(cols, ncols, t->ts) : -1;
        for (size_t i = 0; i < nkey; i++) {
            key_idx[i] = find_col(cols, ncols, t->pk[i]);
            if (key_idx[i] < 0) {
                nkey = 0;
            }
        }
    }
    if ((t->inc || c->custom_query) && inc_idx < 0) {
        c->cx->query_end(c->conn);
        return fatal(src, "incremental column \"%s\" is not in the result of the query",
                     t->inc ? t->inc : "(first column)");
    }
    if (t->ts && ts_idx < 0) {
        c->cx->query_end(c->conn);
        return fatal(src, "timestamp column \"%s\" is not in the result of the query", t->ts);
    }
    const char *table_name = t->name ? t->name : t->status_key;
    size_t n = 0;
    struct sf_buf last = SF_BUF_INIT;
    struct sf_row row;
    int got;
    char tsbuf[24] = "";
    while ((got = c->cx->fetch(c->conn, &row, err, sizeof(err))) == 1) {
        (*rows)++;
        struct sf_row vis = { nvisible, row.vals, row.lens };
        sf_buf_reset(&c->body);
        sf_format_row(&c->fmt, cols, &vis, &c->body);
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
                free_batch(c, n);
                sf_buf_free(&last);
                return fatal(src, "incremental column \"%s\" is NULL in a row of \"%s\"",
                             t->inc ? t->inc : "(first column)", table_name);
            }
            if (ts_idx >= 0) {
                sf_buf_putc(&last, ',');
            }
            sf_buf_append(&last, row.vals[inc_idx], row.lens[inc_idx]);
            if (t->gaps_on) {
                size_t dropped = sf_gapset_see(&t->gs_work, strtoll(last.data, NULL, 10), mono_ms());
                if (dropped) {
                    SF_WARN(SF_SOURCE_FMT "table \"%s\": more than %d ranges of missing ids; the "
                            "oldest is given up", SF_SOURCE_ARGS(src), t->status_key, SF_GAPS_MAX);
                }
            }
        }
        if (!last.data) {
            sf_buf_puts(&last, "");
        }
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
            sf_buf_puts(&c->keybuf, last.data);
        }
        if (n == 0) {
            snprintf(tsbuf, sizeof(tsbuf), "%lld", now_ms());
        }
        struct sf_header h[4] = { { "table", table_name },
                                  { "offset", last.data },
                                  { "key", c->keybuf.data ? c->keybuf.data : "" },
                                  { "timestamp", tsbuf } };
        struct sf_event *ev = sf_event_create(h, 4, c->body.data, c->body.len);
        if (!ev) {
            c->cx->query_end(c->conn);
            free_batch(c, n);
            sf_buf_free(&last);
            return backoff(src, SF_ERR_NOMEM, "could not allocate an event", "out of memory");
        }
        c->batch[n++] = ev;
        if (n == (size_t)c->batch_size) {
            rc = deliver_batch(src, t, n, batch_offset(src, t, &last));
            n = 0;
            if (rc != SF_OK) { /* stopping: the unread rows are read again next start */
                c->cx->query_end(c->conn);
                sf_buf_free(&last);
                return SF_BACKOFF;
            }
            flush_offsets(src, false);
        }
    }
    if (got < 0) {
        free_batch(c, n);
        c->cx->query_end(c->conn);
        sf_buf_free(&last);
        if (!sf_err_retriable(got)) {
            return fatal(src, "reading rows of \"%s\" failed: %s", t->status_key, err);
        }
        close_conns(c);
        return backoff(src, got, "reading rows failed", err);
    }
    c->cx->query_end(c->conn);
    if (n > 0) {
        rc = deliver_batch(src, t, n, batch_offset(src, t, &last));
        if (rc != SF_OK) {
            sf_buf_free(&last);
            return SF_BACKOFF;
        }
    }
    sf_buf_free(&last);
    if (*rows > 0) {
        SF_DEBUG(SF_SOURCE_FMT "read %lld rows of \"%s\" up to offset \"%s\"",
                 SF_SOURCE_ARGS(src), *rows, t->status_key, t->read_offset);
    }
    return SF_READY;
}

static enum sf_status sql_process(struct sf_source *src)
{
    struct sql_ctx *c = src->ctx;
    if (c->fatal_logged) {
        src->backoff_ms = 1000;
        return SF_BACKOFF;
    }
    struct sql_table *t = &c->tabs[c->cursor];
    bool ok;
    enum sf_status st = ensure_ready(src, t, &ok);
    if (!ok) {
        return st;
    }
    flush_offsets(src, false);
    long long rows;
    st = poll_table(src, t, &rows);
    if (st != SF_READY) {
        return st;
    }
    c->backoff_ms = 0;
    flush_offsets(src, false);
    bool full = c->mode != MODE_BULK && c->mode != MODE_TIMESTAMP && !c->custom_query &&
                rows >= c->max_rows;
    c->cycle_full |= full;
    c->cursor = (c->cursor + 1) % c->ntabs;
    if (c->cursor != 0) {
        return SF_READY; /* next table of this round at once */
    }
    if (c->cycle_full) {
        c->cycle_full = false;
        return SF_READY; /* some table returned a full page: go round again at once */
    }
    src->backoff_ms = c->query_delay_ms;
    return SF_BACKOFF;
}

static void sql_stop(struct sf_source *src)
{
    struct sql_ctx *c = src->ctx;
    if (c->cx && c->tabs) {
        flush_offsets(src, true);
        for (size_t i = 0; i < c->ntabs; i++) {
            if (c->tabs[i].written_offset) {
                SF_INFO(SF_SOURCE_FMT "stopped; delivered offset \"%s\" is in %s",
                        SF_SOURCE_ARGS(src), c->tabs[i].written_offset, c->status_table);
            }
        }
        close_conns(c);
    }
    for (size_t i = 0; i < c->ntabs; i++) {
        struct sql_table *t = &c->tabs[i];
        free_pk(t);
        free(t->name);
        free(t->status_key);
        free(t->chan_key);
        free(t->inc);
        free(t->ts);
        free(t->read_offset);
        free(t->written_offset);
        free(t->pending_offset);
        sf_buf_free(&t->sql);
        sf_buf_free(&t->sel_from);
        sf_buf_free(&t->qinc);
        sf_ack_tracker_destroy(t->tracker);
    }
    free(c->tabs);
    c->tabs = NULL;
    c->ntabs = 0;
    free(c->redacted_url);
    free(c->batch);
    sf_buf_free(&c->upsert_sql);
    sf_buf_free(&c->body);
    sf_buf_free(&c->keybuf);
    sf_buf_free(&c->gap_sql);
    struct sf_db_url *urls[2] = { &c->dburl, &c->status_dburl };
    for (size_t i = 0; i < 2; i++) {
        if (urls[i]->scheme) {
            if (urls[i]->password) {
                explicit_bzero(urls[i]->password, strlen(urls[i]->password));
            }
            sf_db_url_free(urls[i]);
        }
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
