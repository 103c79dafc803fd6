/* sql_source.c: the plugin: options, configure, start, the scheduler (process), stop; clocks and
 * strings (see sql_int.h). */
#include "sql_int.h"

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
      "several tables (comma or space separated; a name with blanks in double quotes or "
      "backquotes: \"My Table\") polled round-robin over one connection, one offset row each "
      "(status.key + table)" },
    { "columns.to.select", SF_OPT_STRING, "*", 0, 0, offsetof(struct sql_ctx, columns), 0, NULL,
      NULL, "comma-separated column names, each quoted as an identifier, or *" },
    { "incremental.mode", SF_OPT_ENUM, "incrementing", 0, 0, offsetof(struct sql_ctx, mode), 0,
      "mode", "incrementing|timestamp|timestamp+incrementing|bulk",
      "what a poll reads: rows past the incremental column, rows past the timestamp column "
      "(inserted and updated), both (ties on the timestamp broken by the incremental column), or "
      "the whole table" },
    { "incremental.column.name", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, inc_column), 0,
      "incrementing.column.name", NULL,
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
    { "start.from", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, start_from), 0,
      "incremental.value", NULL,
      "offset used when flume_meta has no row for this source: the first query reads the rows "
      "past it (timestamp modes: 0 stands for the earliest timestamp). Unset: the first query has "
      "no lower bound, so every row is read, ids 0 and below too (custom.query: 0)" },
    { "custom.query", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, custom_query), 0, NULL,
      NULL, "query with $@$ standing for the last offset (bound as a parameter)" },
    { "max.rows", SF_OPT_INT, "2000", 1, 100000000, offsetof(struct sql_ctx, max_rows), 0, NULL,
      NULL, "rows fetched per query" },
    { "batch.size", SF_OPT_INT, "100", 1, 1000000, offsetof(struct sql_ctx, batch_size), 0, NULL,
      NULL, "events per channel put transaction" },
    { "run.query.delay", SF_OPT_INT, "10000", 0, 86400000, offsetof(struct sql_ctx, query_delay_ms),
      0, NULL, NULL,
      "ms to wait before the next query when the last one returned fewer than max.rows rows" },
    { "format", SF_OPT_ENUM, "json", 0, 0, offsetof(struct sql_ctx, format), 0, NULL,
      "json|csv|text|avro",
      "event body: json, csv (RFC 4180), text (values joined by delimiter.entry) or avro (one "
      "Avro datum of the table's record schema, which the header flume.avro.schema.literal "
      "carries)" },
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
    { "status.connection.user", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, status_user), 0,
      NULL, NULL, "user for status.connection.url (default: from that URL)" },
    { "status.connection.password", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct sql_ctx, status_password), SF_OPT_SECRET, NULL, NULL,
      "password for status.connection.url (default: from that URL)" },
    { "backfill", SF_OPT_BOOL, "false", 0, 0, offsetof(struct sql_ctx, backfill), 0, NULL, NULL,
      "before streaming a table, export the rows it already has (up to the incremental column's "
      "maximum at that moment) in chunks ordered by its single-column primary key, resuming "
      "after a stop or crash at the last delivered key (kept in flume_meta under status key + "
      "\".backfill\")" },
    { "backfill.chunk.size", SF_OPT_INT, "10000", 1, 100000000,
      offsetof(struct sql_ctx, bf_chunk_size), 0, NULL, NULL, "rows per backfill chunk query" },
    /* accepted for compatibility with existing configs; they have no effect here */
    { "connection.driver", SF_OPT_STRING, NULL, 0, 0, offsetof(struct sql_ctx, ignored_str), 0,
      "hibernate.connection.driver_class hibernate.dialect hibernate.connection.provider_class "
      "hibernate.connection.autocommit connection.autoReconnect enclose.by.quotes "
      "status.file.path status.file.name read.only",
      NULL,
      "accepted for compatibility with the seed and keedio configs; ignored (the JDBC "
      "and Hibernate settings), or warned about (status.file.path, status.file.name, "
      "enclose.by.quotes, read.only: keedio's, without that effect here)" },
    { "hibernate.c3p0.", SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "connection-pool settings of keedio's source; ignored" },
    { 0 },
};

long long sq_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


void sq_set_str(char **dst, const char *val)
{
    char *cp = val ? strdup(val) : NULL;
    free(*dst);
    *dst = cp;
}

/* Check a connection URL as start would parse it (no connection). @return SF_OK, or
 * SF_ERR_INVAL (errors added to d). */
static int check_url(struct sf_source *src,
                     const char *url,
                     struct sf_prop *at,
                     struct sf_diag *d,
                     bool source_url)
{
    char err[256];
    struct sf_db_url u;
    if (sf_db_url_parse(url, &u, err, sizeof(err)) != SF_OK) {
        sf_diag_error(d, at, "%s", err);
        return SF_ERR_INVAL;
    }
    int rc = SF_OK;
    const struct sf_connector_plugin *cx = sf_connector_find(u.scheme);
    if (!cx) {
        sf_diag_error(d, at, "no connector for scheme \"%s\"", u.scheme);
        rc = SF_ERR_INVAL;
    } else if (cx->validate_url && cx->validate_url(&u, err, sizeof(err)) != SF_OK) {
        sf_diag_error(d, at, "%s", err); /* e.g. libpq refuses sslmode=bogus */
        rc = SF_ERR_INVAL;
    }
    struct sf_prop *type = sf_section_get(src->conf, "type");
    if (source_url && type &&
        (strcasecmp(type->val, "mysql") == 0 || strcasecmp(type->val, "postgresql") == 0) &&
        strcasecmp(type->val, u.scheme) != 0) {
        sf_diag_error(d, type, "source type \"%s\" does not match the %s URL", type->val, u.scheme);
        rc = SF_ERR_INVAL;
    }
    sf_db_url_free(&u);
    return rc;
}

/* keedio's keys that change what its source does, accepted for compatibility but without that
 * effect here: each one set is a warning saying what sqlflume does instead. */
static void warn_keedio_keys(struct sf_source *src, struct sf_diag *d)
{
    static const char *const keys[][2] = {
        { "status.file.path", "keedio's position file is not read: the offset lives in the status "
                              "table (status.table); to start after a position keedio reached, set "
                              "start.from to the LastIndex of that file" },
        { "status.file.name", "keedio's position file is not read: the offset lives in the status "
                              "table (status.table); to start after a position keedio reached, set "
                              "start.from to the LastIndex of that file" },
        { "enclose.by.quotes", "values are quoted as format says (csv: RFC 4180 quoting when "
                               "needed; json: JSON strings; text: never)" },
        { "read.only", "the source only reads the table; the status table is written unless "
                       "status.connection.url points elsewhere" },
    };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        struct sf_prop *p = sf_section_get(src->conf, keys[i][0]);
        if (p) {
            sf_diag_warn(d, p, "%s has no effect in sqlflume: %s", keys[i][0], keys[i][1]);
        }
    }
}

static int sql_configure(struct sf_source *src, struct sf_diag *d)
{
    struct sql_ctx *c = src->ctx;
    warn_keedio_keys(src, d);
    struct sf_prop *type = sf_section_get(src->conf, "type");
    struct sf_prop *urlp = sf_section_get(src->conf, "connection.url");
    if (!urlp) {
        urlp = sf_section_get(src->conf, "hibernate.connection.url");
    }
    int rc = SF_OK;
    if (!c->table && !c->custom_query && !c->tables) {
        sf_diag_error(d, type, "source \"%s\" needs \"table\", \"tables\" or \"custom.query\"",
                      src->name);
        rc = SF_ERR_INVAL;
    }
    if (c->tables) {
        const char *qerr;
        size_t nt = 0;
        char **tn = sf_split_quoted_names(c->tables, &nt, &qerr);
        if (qerr) {
            sf_diag_error(d, sf_section_get(src->conf, "tables"), "%s", qerr);
            rc = SF_ERR_INVAL;
        } else if (nt == 0) {
            sf_diag_error(d, sf_section_get(src->conf, "tables"), "no table named");
            rc = SF_ERR_INVAL;
        }
        sf_names_free(tn, nt);
    }
    if (c->tables && (c->table || c->custom_query)) {
        sf_diag_error(d, sf_section_get(src->conf, "tables"),
                      "\"tables\" cannot be combined with \"table\" or \"custom.query\"");
        rc = SF_ERR_INVAL;
    }
    if (c->custom_query && c->mode != MODE_INCREMENTING) {
        sf_diag_error(d, sf_section_get(src->conf, "custom.query"),
                      "custom.query works with incremental.mode = incrementing only");
        rc = SF_ERR_INVAL;
    }
    if ((c->mode == MODE_TIMESTAMP || c->mode == MODE_TS_INC) && !c->ts_column) {
        sf_diag_error(d, sf_section_get(src->conf, "incremental.mode"),
                      "missing required key timestamp.column.name for this incremental.mode");
        rc = SF_ERR_INVAL;
    }
    if (c->backfill && c->custom_query) {
        sf_diag_error(d, sf_section_get(src->conf, "backfill"),
                      "backfill works with \"table\" or \"tables\", not with custom.query");
        rc = SF_ERR_INVAL;
    }
    if (c->backfill && c->mode == MODE_BULK) {
        sf_diag_error(d, sf_section_get(src->conf, "backfill"),
                      "backfill has no use with incremental.mode = bulk (every poll reads the "
                      "whole table)");
        rc = SF_ERR_INVAL;
    }
    if (c->custom_query && !strstr(c->custom_query, "$@$")) {
        sf_diag_warn(d, sf_section_get(src->conf, "custom.query"),
                     "custom.query has no $@$ placeholder: every poll reads the whole result");
    }
    if (c->url && check_url(src, c->url, urlp, d, true) != SF_OK) {
        rc = SF_ERR_INVAL;
    }
    if (c->status_url &&
        check_url(src, c->status_url, sf_section_get(src->conf, "status.connection.url"), d,
                  false) != SF_OK) {
        rc = SF_ERR_INVAL;
    }
    if (c->password_file) {
        FILE *f = fopen(c->password_file, "r");
        if (!f) {
            sf_diag_error(d, sf_section_get(src->conf, "connection.password.file"),
                          "could not open \"%s\": %s", c->password_file, strerror(errno));
            rc = SF_ERR_INVAL;
        } else {
            char line[1024] = "";
            if (!fgets(line, sizeof(line), f)) {
                line[0] = '\0';
            }
            fclose(f);
            line[strcspn(line, "\r\n")] = '\0';
            sq_set_str(&c->password, line);
            explicit_bzero(line, sizeof(line));
        }
    }
    return rc;
}

static int parse_url(const char *url,
                     const char *user,
                     const char *password,
                     struct sf_db_url *out,
                     const struct sf_connector_plugin **cx,
                     char *errstr,
                     size_t errstr_size)
{
    if (sf_db_url_parse(url, out, errstr, errstr_size) != SF_OK) {
        return SF_ERR_INVAL;
    }
    if (user) {
        sq_set_str(&out->user, user);
    }
    if (password) {
        sq_set_str(&out->password, password);
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
        rc = parse_url(c->status_url, c->status_user, c->status_password, &c->status_dburl, &c->scx,
                       errstr, errstr_size);
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
        const char *qerr;
        names = sf_split_quoted_names(c->tables, &n, &qerr);
    } else {
        names = calloc(1, sizeof(*names));
        if (names) {
            names[0] = c->table ? strdup(c->table) : NULL;
            n = 1;
        }
    }
    if (!names || n == 0) {
        sf_names_free(names, n);
        snprintf(errstr, errstr_size, "no table to poll");
        return SF_ERR_INVAL;
    }
    c->tabs = calloc(n, sizeof(*c->tabs));
    if (!c->tabs) {
        sf_names_free(names, n);
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
        t->lock_id = sf_status_lock_id(c->status_url ? c->status_dburl.database : c->dburl.database,
                                       c->status_table, t->status_key);
        sf_status_lock_param(t->lock_id, t->lock_param, sizeof(t->lock_param));
        sf_buf_printf(&key, "%s/%s", src->name, t->status_key);
        t->chan_key = sf_buf_steal(&key);
        t->tracker = sf_ack_tracker_create();
        if (!t->tracker) {
            free(names);
            return SF_ERR_NOMEM;
        }
        if (c->backfill) {
            sf_buf_printf(&key, "%s" BF_SUFFIX, t->status_key);
            t->bf_status_key = sf_buf_steal(&key);
            sf_buf_printf(&key, "%s" BF_SUFFIX, t->chan_key);
            t->bf_chan_key = sf_buf_steal(&key);
            t->bf_tracker = sf_ack_tracker_create();
            if (!t->bf_tracker) {
                free(names);
                return SF_ERR_NOMEM;
            }
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
    c->tty = c->backfill && isatty(STDERR_FILENO);
    return SF_OK;
}

static enum sf_status sql_step(struct sf_source *src)
{
    struct sql_ctx *c = src->ctx;
    if (c->fatal_logged) {
        src->backoff_ms = 1000;
        return SF_FATAL;
    }
    /* between polls, wake at least every OFFSET_FLUSH_MS so delivered offsets reach flume_meta even
     * with a long run.query.delay */
    long long wait_ms = c->next_poll_ms - sf_mono_ms();
    if (wait_ms > 0) {
        sq_flush_offsets(src, false);
        src->backoff_ms = wait_ms < OFFSET_FLUSH_MS ? wait_ms : OFFSET_FLUSH_MS;
        return SF_BACKOFF;
    }
    struct sql_table *t = &c->tabs[c->cursor];
    bool ok;
    enum sf_status st = sq_ensure_ready(src, t, &ok);
    if (!ok) {
        return st;
    }
    sq_flush_offsets(src, false);
    long long rows;
    bool full;
    if (t->bf == BF_RUNNING && t->bf_wait_txns) {
        char err[1024] = "";
        bool waiting;
        int rc = sq_bf_open_txns_wait(src, t, &waiting, err, sizeof(err));
        if (rc != SF_OK) {
            if (!sf_err_retriable(rc)) {
                return sq_fatal(src,
                                "checking the open transactions for the backfill of \"%s\" "
                                "failed: %s",
                                t->status_key, err);
            }
            sq_close_rows(c);
            return sq_backoff(src, rc, "checking open transactions failed", err);
        }
        rows = 0;
        full = !waiting;
        c->bf_waiting |= waiting;
        st = SF_READY;
    } else if (t->bf == BF_RUNNING) {
        /* one chunk per turn; the table streams at once when it was the last */
        st = sq_backfill_chunk(src, t, &rows);
        full = true;
    } else {
        st = sq_poll_table(src, t, &rows);
        if (t->gaps_on) {
            sq_gap_report(src, t, false);
        }
        full = c->mode != MODE_BULK && c->mode != MODE_TIMESTAMP && !c->custom_query &&
               rows >= c->max_rows;
    }
    if (st != SF_READY) {
        return st;
    }
    c->backoff_ms = 0;
    sq_flush_offsets(src, false);
    c->cycle_full |= full;
    c->cursor = (c->cursor + 1) % c->ntabs;
    if (c->cursor != 0) {
        return SF_READY; /* next table of this round at once */
    }
    if (c->cycle_full) {
        c->cycle_full = false;
        return SF_READY; /* some table returned a full page: go round again at once */
    }
    long long delay = c->query_delay_ms;
    if (c->bf_waiting && delay > BF_WAIT_POLL_MS) {
        delay = BF_WAIT_POLL_MS; /* a backfill waits for transactions: look again soon */
    }
    c->bf_waiting = false;
    c->next_poll_ms = sf_mono_ms() + delay;
    src->backoff_ms = delay < OFFSET_FLUSH_MS ? delay : OFFSET_FLUSH_MS;
    return SF_BACKOFF;
}

static void sql_stop(struct sf_source *src)
{
    struct sql_ctx *c = src->ctx;
    sq_bar_clear(c);
    if (c->cx && c->tabs) {
        sq_flush_offsets(src, true);
        for (size_t i = 0; i < c->ntabs; i++) {
            if (c->tabs[i].gaps_on) {
                sq_gap_report(src, &c->tabs[i], true);
            }
            if (c->tabs[i].written_offset) {
                SF_INFO(SF_SOURCE_FMT "stopped; delivered offset \"%s\" is in %s",
                        SF_SOURCE_ARGS(src), c->tabs[i].written_offset, c->status_table);
            }
            if (c->tabs[i].bf == BF_RUNNING && c->tabs[i].bf_written) {
                SF_INFO(SF_SOURCE_FMT "stopped mid-backfill of \"%s\"; delivered progress "
                                      "\"%s\" is in %s",
                        SF_SOURCE_ARGS(src), c->tabs[i].status_key, c->tabs[i].bf_written,
                        c->status_table);
            }
        }
        sq_close_conns(c);
    }
    for (size_t i = 0; i < c->ntabs; i++) {
        struct sql_table *t = &c->tabs[i];
        sq_free_pk(t);
        free(t->name);
        free(t->status_key);
        free(t->chan_key);
        free(t->inc);
        free(t->ts);
        free(t->read_offset);
        free(t->written_offset);
        free(t->pending_offset);
        sf_buf_free(&t->sql);
        sf_buf_free(&t->sql_first);
        sf_buf_free(&t->sel_from);
        sf_buf_free(&t->qinc);
        sf_buf_free(&t->qts);
        sf_buf_free(&t->qtab);
        sf_avro_schema_free(&t->avro);
        sf_buf_free(&t->qpk);
        sf_ack_tracker_destroy(t->tracker);
        free(t->bf_status_key);
        free(t->bf_chan_key);
        free(t->bf_written);
        free(t->bf_pending);
        free(t->bf_reg);
        free(t->bf_hwm);
        free(t->bf_wait_txns);
        free(t->bf_h1);
        free(t->bf_h2);
        free(t->bf_key);
        sf_ack_tracker_destroy(t->bf_tracker);
    }
    free(c->tabs);
    c->tabs = NULL;
    c->ntabs = 0;
    free(c->redacted_url);
    free(c->batch);
    sf_buf_free(&c->upsert_sql);
    sf_buf_free(&c->body);
    sf_buf_free(&c->keybuf);
    sf_json_keys_free(&c->jkeys);
    sf_buf_free(&c->gap_sql);
    sf_buf_free(&c->bf_sql);
    sf_buf_free(&c->bf_prog);
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

static const char *const sql_aliases[] = { "mysql", "postgresql", "com.atguigu.source.SQLSource",
                                           "org.keedio.flume.source.SQLSource", NULL };

/* One step; SF_FATAL once sq_fatal has reported an error, whatever the step in between returned. */
static enum sf_status sql_process(struct sf_source *src)
{
    enum sf_status st = sql_step(src);
    return ((struct sql_ctx *)src->ctx)->fatal_logged ? SF_FATAL : st;
}

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
