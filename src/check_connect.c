/*
 * `sqlflume check --connect` (check_connect.h): the configuration's sources and sinks tried
 * against the databases and Kafka clusters they name, one printed line per check. The options are
 * read from each component's section through its own option table (key, aliases, default), so
 * the values are those the agent would use; the SQL it runs comes from the connectors.
 */
#include "check_connect.h"

#include "sqlflume/buf.h"
#include "sqlflume/connector.h"
#include "sqlflume/error.h"
#include "sqlflume/option.h"
#include "sqlflume/sinks.h"
#include "sqlflume/status_lock.h"

#include <librdkafka/rdkafka.h>

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define KAFKA_TIMEOUT_MS 10000 /* the cluster must answer its metadata request within this */
#define KAFKA_POLL_MS    500
#define PRODUCER_PREFIX  "kafka.producer."

enum verdict { V_OK, V_FAIL, V_SKIP };

struct check {
    FILE *out;
    int nfail;
};

static void report(struct check *ck, enum verdict v, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* One line: "ok   WHO: message", "FAIL WHO: ..." or "skip WHO: ...". */
static void report(struct check *ck, enum verdict v, const char *who, const char *fmt, ...)
{
    static const char *const label[] = { "ok  ", "FAIL", "skip" };
    fprintf(ck->out, "%s %s: ", label[v], who);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(ck->out, fmt, ap);
    va_end(ap);
    fputc('\n', ck->out);
    fflush(ck->out);
    if (v == V_FAIL) {
        ck->nfail++;
    }
}

/* The value of key in section s as the option table opts reads it: the key itself, then each
 * alias, then the table's default (NULL when none). Borrowed from s or opts. */
static const char *opt(const struct sf_option *opts, const struct sf_section *s, const char *key)
{
    for (const struct sf_option *o = opts; o->key; o++) {
        if (strcmp(o->key, key) != 0) {
            continue;
        }
        const struct sf_prop *p = sf_section_get(s, key);
        if (p) {
            return p->val;
        }
        if (o->aliases) {
            size_t n = 0;
            char **names = sf_split_names(o->aliases, &n, true);
            for (size_t i = 0; !p && i < n; i++) {
                p = names[i] ? sf_section_get(s, names[i]) : NULL;
            }
            sf_names_free(names, n);
            if (p) {
                return p->val;
            }
        }
        return o->def;
    }
    return NULL;
}

static bool is_true(const char *v)
{
    return v && (strcmp(v, "1") == 0 || strcasecmp(v, "t") == 0 || strcasecmp(v, "true") == 0);
}

/* ---- SQL helpers -------------------------------------------------------------------------- */

struct db {
    const struct sf_connector_plugin *cx;
    struct sf_conn *conn;
    struct sf_db_url url;
    const char *user; /* for messages: the user connecting, or "the default user" */
};

/* Run sql and copy up to nvals values of its first row into vals (malloc'd, NULL for SQL NULL or
 * no row; free with free_vals). @return SF_OK or the connector's error (errstr filled). */
static int row1(struct db *db,
                const char *sql,
                const struct sf_param *params,
                size_t nparams,
                char **vals,
                size_t nvals,
                bool *got,
                char *err,
                size_t errsz)
{
    const struct sf_column *cols;
    size_t ncols;
    memset(vals, 0, nvals * sizeof(*vals));
    *got = false;
    int rc = db->cx->query(db->conn, sql, params, nparams, &cols, &ncols, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    struct sf_row row;
    int r;
    while ((r = db->cx->fetch(db->conn, &row, err, errsz)) == 1) {
        if (*got) {
            continue;
        }
        *got = true;
        for (size_t i = 0; i < nvals && i < row.ncols; i++) {
            vals[i] = row.vals[i] ? strndup(row.vals[i], row.lens[i]) : NULL;
        }
    }
    db->cx->query_end(db->conn);
    return r < 0 ? r : SF_OK;
}

static void free_vals(char **vals, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(vals[i]);
        vals[i] = NULL;
    }
}

/* "SELECT cols FROM table WHERE 1 = 0": whether the user may read it, and the columns' types.
 * col NULL = every column. @return SF_OK with *type set (col given), or the error. */
static int probe(struct db *db,
                 const char *table,
                 const char *col,
                 enum sf_coltype *type,
                 char *err,
                 size_t errsz)
{
    struct sf_buf q = SF_BUF_INIT;
    sf_buf_puts(&q, "SELECT ");
    int rc = col ? db->cx->quote_ident(col, &q) : SF_OK;
    if (!col) {
        sf_buf_putc(&q, '*');
    }
    sf_buf_puts(&q, " FROM ");
    if (rc == SF_OK) {
        rc = sf_quote_qualified(db->cx, table, &q);
    }
    if (rc != SF_OK) {
        snprintf(err, errsz, "bad name");
        sf_buf_free(&q);
        return rc;
    }
    sf_buf_puts(&q, " WHERE 1 = 0");
    const struct sf_column *cols;
    size_t ncols;
    rc = db->cx->query(db->conn, q.data, NULL, 0, &cols, &ncols, err, errsz);
    if (rc == SF_OK) {
        if (type) {
            *type = ncols ? cols[0].type : SF_COL_TEXT;
        }
        struct sf_row row;
        while (db->cx->fetch(db->conn, &row, err, errsz) == 1) {
        }
        db->cx->query_end(db->conn);
    }
    sf_buf_free(&q);
    return rc;
}

/* Whether a query error says the user lacks a privilege (MySQL 1142 "... command denied",
 * PostgreSQL 42501 "permission denied"). */
static bool is_denied(const char *msg)
{
    return strstr(msg, "denied") != NULL;
}

/* Parse url, apply the user/password overrides, connect. Reports the outcome under who with
 * what ("database", "status database"). @return true when connected. */
static bool db_open(struct check *ck,
                    const char *who,
                    const char *what,
                    const char *url,
                    const char *user,
                    const char *password,
                    struct db *db)
{
    char err[1024] = "";
    memset(db, 0, sizeof(*db));
    char *redacted = sf_db_url_redact(url);
    bool ok = false;
    if (sf_db_url_parse(url, &db->url, err, sizeof(err)) != SF_OK) {
        report(ck, V_FAIL, who, "%s URL %s: %s", what, redacted, err);
        goto out;
    }
    if (user) {
        free(db->url.user);
        db->url.user = strdup(user);
    }
    if (password) {
        free(db->url.password);
        db->url.password = strdup(password);
    }
    db->user = db->url.user ? db->url.user : "(the default user)";
    db->cx = sf_connector_find(db->url.scheme);
    if (!db->cx) {
        report(ck, V_FAIL, who, "no connector for %s", redacted);
        goto out;
    }
    int rc = db->cx->connect(&db->url, &db->conn, err, sizeof(err));
    if (rc != SF_OK) {
        db->conn = NULL;
        report(ck, V_FAIL, who, "%s does not answer at %s as user %s: %s (%s)", what, redacted,
               db->user, err, sf_err_str(rc));
        goto out;
    }
    report(ck, V_OK, who, "%s answers at %s as user %s", what, redacted, db->user);
    ok = true;
out:
    free(redacted);
    return ok;
}

static void db_close(struct db *db)
{
    if (db->conn) {
        db->cx->close(db->conn);
        db->conn = NULL;
    }
    sf_db_url_free(&db->url);
}

/* ---- SQL source ----------------------------------------------------------------------------- */

enum mode { M_INC, M_TS, M_TS_INC, M_BULK };

struct src_opts {
    const char *name;
    const char *table, *tables, *custom_query;
    const char *inc_column, *ts_column;
    enum mode mode;
    const char *status_table, *status_key;
    bool status_create;
    bool backfill;
};

/* The status table: it exists with SELECT/INSERT/UPDATE for the user, or may be created. */
static void check_status_table(struct check *ck, const struct src_opts *so, struct db *sdb)
{
    char err[1024] = "";
    char *v[5];
    bool got;
    const char *dot = strchr(so->status_table, '.');
    char *schema = dot ? strndup(so->status_table, (size_t)(dot - so->status_table)) : NULL;
    struct sf_param p[2] = { { schema, SF_COL_TEXT },
                             { dot ? dot + 1 : so->status_table, SF_COL_TEXT } };
    int rc = row1(sdb, sdb->cx->privileges_sql, p, 2, v, 5, &got, err, sizeof(err));
    free(schema);
    if (rc != SF_OK || !got) {
        report(ck, V_FAIL, so->name, "could not read the privileges on the status table %s: %s",
               so->status_table, rc != SF_OK ? err : "no answer");
        free_vals(v, 5);
        return;
    }
    struct sf_buf lacks = SF_BUF_INIT;
    static const char *const privs[] = { "SELECT", "INSERT", "UPDATE" };
    for (size_t i = 0; i < 3; i++) {
        if (!is_true(v[i + 1])) {
            sf_buf_printf(&lacks, "%s%s", lacks.len ? ", " : "", privs[i]);
        }
    }
    if (is_true(v[0])) {
        if (lacks.len) {
            report(ck, V_FAIL, so->name, "user %s lacks %s on the status table %s", sdb->user,
                   lacks.data, so->status_table);
        } else {
            report(ck, V_OK, so->name,
                   "status table %s exists; user %s may SELECT, INSERT and UPDATE it",
                   so->status_table, sdb->user);
        }
    } else if (!so->status_create) {
        report(ck, V_FAIL, so->name,
               "status table %s does not exist and status.table.create = false", so->status_table);
    } else if (!is_true(v[4]) || lacks.len) {
        report(ck, V_FAIL, so->name,
               "status table %s does not exist and user %s may not create and write it (lacks "
               "%s%s%s)",
               so->status_table, sdb->user, is_true(v[4]) ? "" : "CREATE",
               !is_true(v[4]) && lacks.len ? ", " : "", lacks.len ? lacks.data : "");
    } else {
        report(ck, V_OK, so->name,
               "status table %s does not exist yet; user %s may create it (status.table.create "
               "= true)",
               so->status_table, sdb->user);
    }
    sf_buf_free(&lacks);
    free_vals(v, 5);
}

/* The status key's lock: taken and released at once when free, else its holder is named. */
static void check_lock(struct check *ck,
                       const char *who,
                       const struct src_opts *so,
                       struct db *sdb,
                       const char *key)
{
    char err[1024] = "", id[32];
    sf_status_lock_param(sf_status_lock_id(sdb->url.database, so->status_table, key), id,
                         sizeof(id));
    struct sf_param p = { id, SF_COL_INT };
    char *v[1];
    bool got;
    int rc = row1(sdb, sdb->cx->lock_try_sql, &p, 1, v, 1, &got, err, sizeof(err));
    if (rc != SF_OK || !got || !v[0]) {
        report(ck, V_FAIL, who, "could not test the lock of status key \"%s\": %s", key,
               rc != SF_OK ? err : "no answer");
    } else if (is_true(v[0])) {
        free_vals(v, 1);
        rc = row1(sdb, sdb->cx->lock_release_sql, &p, 1, v, 1, &got, err, sizeof(err));
        if (rc != SF_OK) {
            report(ck, V_FAIL, who, "could not release the lock of status key \"%s\": %s", key,
                   err);
        } else {
            report(ck, V_OK, who, "status key \"%s\" is not held by a running agent", key);
        }
    } else {
        free_vals(v, 1);
        rc = row1(sdb, sdb->cx->lock_holder_sql, &p, 1, v, 1, &got, err, sizeof(err));
        report(ck, V_FAIL, who, "status key \"%s\" is held by a running agent (%s)", key,
               rc != SF_OK ? err
               : v[0]      ? v[0]
                           : "its session could not be found");
    }
    free_vals(v, 1);
}

/* One table: exists, readable, incremental and timestamp columns usable, status key free. */
static void check_table(struct check *ck,
                        const struct src_opts *so,
                        struct db *db,
                        struct db *sdb,
                        const char *table,
                        const char *key)
{
    char who[512], err[1024] = "";
    snprintf(who, sizeof(who), "%s %s", so->name, table);
    char **pk = NULL;
    size_t npk = 0;
    int rc = db->cx->primary_key(db->conn, table, &pk, &npk, err, sizeof(err));
    if (rc == SF_ERR_NOTFOUND) {
        /* MySQL hides tables the user holds no privilege on: say which it is when it tells */
        char perr[1024] = "";
        if (probe(db, table, NULL, NULL, perr, sizeof(perr)) != SF_OK && is_denied(perr)) {
            report(ck, V_FAIL, who, "user %s lacks SELECT on %s: %s", db->user, table, perr);
        } else {
            report(ck, V_FAIL, who, "table %s does not exist", table);
        }
        goto lock;
    }
    if (rc != SF_OK) {
        report(ck, V_FAIL, who, "could not look the table up: %s", err);
        goto lock;
    }
    struct sf_buf keys = SF_BUF_INIT;
    for (size_t i = 0; i < npk; i++) {
        sf_buf_printf(&keys, "%s%s", i ? ", " : "", pk[i]);
    }
    report(ck, V_OK, who, "table exists (%s%s)", npk ? "primary key " : "no primary key",
           npk ? keys.data : "");
    sf_buf_free(&keys);
    if (probe(db, table, NULL, NULL, err, sizeof(err)) != SF_OK) {
        report(ck, V_FAIL, who, "user %s lacks SELECT on %s: %s", db->user, table, err);
        goto lock;
    }
    report(ck, V_OK, who, "user %s may SELECT from %s", db->user, table);
    enum sf_coltype type;
    if (so->mode == M_INC || so->mode == M_TS_INC) {
        const char *inc = so->inc_column ? so->inc_column : npk == 1 ? pk[0] : NULL;
        if (!inc) {
            report(ck, V_FAIL, who,
                   "table has %s; set incremental.column.name to a monotonically increasing "
                   "column",
                   npk == 0 ? "no primary key" : "a composite primary key");
        } else if (probe(db, table, inc, &type, err, sizeof(err)) != SF_OK) {
            report(ck, V_FAIL, who, "incremental column \"%s\" cannot be read: %s", inc, err);
        } else if (type == SF_COL_INT || type == SF_COL_DECIMAL || type == SF_COL_TEMPORAL) {
            report(ck, V_OK, who, "incremental column \"%s\" is %s", inc, sf_coltype_words(type));
        } else if (!so->inc_column) {
            /* the agent refuses to start with the same words (sq_prepare_table, src/sources/sql) */
            report(ck, V_FAIL, who,
                   "the primary key \"%s\", the incremental column by default, is %s, not an "
                   "integer, decimal or date/time column (whose order grows with inserts): set "
                   "incremental.column.name to such a column, or use incremental.mode = "
                   "timestamp (with timestamp.column.name) or incremental.mode = bulk",
                   inc, sf_coltype_words(type));
        } else {
            report(ck, V_OK, who,
                   "incremental.column.name \"%s\" is %s: rows are read in the database's "
                   "order of its values, and a row whose value sorts at or below the offset "
                   "already read is never read",
                   inc, sf_coltype_words(type));
        }
    }
    if (so->mode == M_TS || so->mode == M_TS_INC) {
        if (probe(db, table, so->ts_column, &type, err, sizeof(err)) != SF_OK) {
            report(ck, V_FAIL, who, "timestamp column \"%s\" cannot be read: %s", so->ts_column,
                   err);
        } else if (type == SF_COL_TEMPORAL) {
            report(ck, V_OK, who, "timestamp column \"%s\" is a date/time", so->ts_column);
        } else {
            report(ck, V_FAIL, who, "timestamp.column.name \"%s\" is %s, not a date/time column",
                   so->ts_column, sf_coltype_words(type));
        }
    }
lock:
    sf_names_free(pk, npk);
    if (sdb->conn && so->mode != M_BULK) {
        check_lock(ck, who, so, sdb, key);
    }
}

/* With backfill = true: the open write transactions can be listed (MySQL: PROCESS). */
static void check_backfill(struct check *ck, const struct src_opts *so, struct db *db)
{
    if (!db->cx->open_txns_sql) {
        return;
    }
    char err[1024] = "";
    char *v[1];
    bool got;
    int rc = row1(db, db->cx->open_txns_sql, NULL, 0, v, 1, &got, err, sizeof(err));
    free_vals(v, 1);
    if (rc != SF_OK) {
        report(ck, V_FAIL, so->name,
               "user %s cannot list the open write transactions a backfill waits for%s: %s",
               db->user, strcmp(db->cx->name, "mysql") == 0 ? " (needs the PROCESS privilege)" : "",
               err);
    } else {
        report(ck, V_OK, so->name, "user %s may list the open write transactions (backfill)",
               db->user);
    }
}

/* The password the source would use: connection.password, else the first line of
 * connection.password.file (read by the source's configure too); malloc'd or NULL. */
static char *source_password(const struct sf_option *opts, const struct sf_section *s)
{
    const char *pw = opt(opts, s, "connection.password");
    const char *file = opt(opts, s, "connection.password.file");
    if (!file) {
        return pw ? strdup(pw) : NULL;
    }
    FILE *f = fopen(file, "r");
    char line[1024] = "";
    if (f) {
        if (!fgets(line, sizeof(line), f)) {
            line[0] = '\0';
        }
        fclose(f);
    }
    line[strcspn(line, "\r\n")] = '\0';
    char *r = strdup(line);
    explicit_bzero(line, sizeof(line));
    return r;
}

/* The names of the tables a source polls (table or tables; none with custom.query alone), and
 * each one's status key, as the source computes them. */
static char **source_tables(const struct src_opts *so, size_t *n)
{
    if (so->tables) {
        return sf_split_names(so->tables, n, true);
    }
    *n = 0;
    if (!so->table) {
        return NULL;
    }
    char **v = calloc(1, sizeof(*v));
    if (v) {
        v[0] = strdup(so->table);
        *n = 1;
    }
    return v;
}

static char *status_key_of(const struct src_opts *so, const char *table)
{
    struct sf_buf key = SF_BUF_INIT;
    if (so->tables) {
        sf_buf_printf(&key, "%s%s", so->status_key ? so->status_key : "", table);
    } else {
        sf_buf_puts(&key, so->status_key ? so->status_key : table ? table : so->name);
    }
    return sf_buf_steal(&key);
}

static void read_source_opts(const struct sf_source *src, struct src_opts *so)
{
    const struct sf_option *o = src->plugin->options;
    const struct sf_section *s = src->conf;
    so->name = src->name;
    so->table = opt(o, s, "table");
    so->tables = opt(o, s, "tables");
    so->custom_query = opt(o, s, "custom.query");
    so->inc_column = opt(o, s, "incremental.column.name");
    so->ts_column = opt(o, s, "timestamp.column.name");
    const char *mode = opt(o, s, "incremental.mode");
    so->mode = !mode                                             ? M_INC
               : strcasecmp(mode, "timestamp") == 0              ? M_TS
               : strcasecmp(mode, "timestamp+incrementing") == 0 ? M_TS_INC
               : strcasecmp(mode, "bulk") == 0                   ? M_BULK
                                                                 : M_INC;
    so->status_table = opt(o, s, "status.table");
    so->status_key = opt(o, s, "status.key");
    so->status_create = !opt(o, s, "status.table.create") ||
                        strcasecmp(opt(o, s, "status.table.create"), "true") == 0;
    so->backfill = is_true(opt(o, s, "backfill"));
}

static void check_sql_source(struct check *ck, const struct sf_source *src)
{
    const struct sf_option *o = src->plugin->options;
    const struct sf_section *s = src->conf;
    struct src_opts so;
    read_source_opts(src, &so);
    char *password = source_password(o, s);
    struct db db, sdb_own;
    struct db *sdb = &db;
    bool ok = db_open(ck, src->name, "database", opt(o, s, "connection.url"),
                      opt(o, s, "connection.user"), password, &db);
    if (password) {
        explicit_bzero(password, strlen(password));
        free(password);
    }
    memset(&sdb_own, 0, sizeof(sdb_own));
    const char *surl = opt(o, s, "status.connection.url");
    bool sok = ok;
    if (surl) {
        sdb = &sdb_own;
        sok = db_open(ck, src->name, "status database", surl, opt(o, s, "status.connection.user"),
                      opt(o, s, "status.connection.password"), sdb);
    }
    if (sok) {
        check_status_table(ck, &so, sdb);
    }
    if (ok && so.backfill) {
        check_backfill(ck, &so, &db);
    }
    size_t n = 0;
    char **tables = source_tables(&so, &n);
    if (so.custom_query) {
        report(ck, V_SKIP, src->name, "custom.query is not run by check --connect");
        if (sok) {
            char *key = status_key_of(&so, so.table);
            check_lock(ck, src->name, &so, sdb, key);
            free(key);
        }
    } else if (ok) {
        for (size_t i = 0; i < n; i++) {
            char *key = status_key_of(&so, tables[i]);
            check_table(ck, &so, &db, sdb, tables[i], key);
            free(key);
        }
    }
    sf_names_free(tables, n);
    db_close(&db);
    db_close(&sdb_own);
}

/* ---- Kafka sink ----------------------------------------------------------------------------- */

struct kafka_probe {
    char last_error[512];
    bool all_down;
};

static void kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    struct kafka_probe *kp = opaque;
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        kp->all_down = true; /* "1/1 brokers are down": the brokers' own errors say more */
        if (kp->last_error[0]) {
            return;
        }
    }
    snprintf(kp->last_error, sizeof(kp->last_error), "%s", reason);
}

static void kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf; /* errors arrive through kafka_error_cb */
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The broker's auto.create.topics.enable: 1, 0, or -1 with why filled when it cannot be read. */
static int broker_auto_create(rd_kafka_t *rk, int32_t broker_id, char *why, size_t whysz)
{
    char id[16];
    snprintf(id, sizeof(id), "%d", broker_id);
    rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
    char e[256];
    rd_kafka_AdminOptions_set_request_timeout(ao, KAFKA_TIMEOUT_MS, e, sizeof(e));
    rd_kafka_DescribeConfigs(rk, &res, 1, ao, q);
    int r = -1;
    snprintf(why, whysz, "no answer within %d ms", KAFKA_TIMEOUT_MS);
    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, KAFKA_TIMEOUT_MS + 1000);
    if (ev && rd_kafka_event_error(ev)) {
        snprintf(why, whysz, "%s", rd_kafka_event_error_string(ev));
    } else if (ev) {
        const rd_kafka_DescribeConfigs_result_t *dr = rd_kafka_event_DescribeConfigs_result(ev);
        size_t nres = 0;
        const rd_kafka_ConfigResource_t **rs =
            dr ? rd_kafka_DescribeConfigs_result_resources(dr, &nres) : NULL;
        for (size_t i = 0; i < nres; i++) {
            if (rd_kafka_ConfigResource_error(rs[i])) {
                snprintf(why, whysz, "%s", rd_kafka_ConfigResource_error_string(rs[i]));
                continue;
            }
            size_t nc = 0;
            const rd_kafka_ConfigEntry_t **cs = rd_kafka_ConfigResource_configs(rs[i], &nc);
            snprintf(why, whysz, "the broker did not list auto.create.topics.enable");
            for (size_t j = 0; j < nc; j++) {
                if (strcmp(rd_kafka_ConfigEntry_name(cs[j]), "auto.create.topics.enable") == 0) {
                    const char *v = rd_kafka_ConfigEntry_value(cs[j]);
                    r = v && strcasecmp(v, "true") == 0;
                }
            }
        }
    }
    if (ev) {
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_AdminOptions_destroy(ao);
    rd_kafka_queue_destroy(q);
    rd_kafka_ConfigResource_destroy(res);
    return r;
}

/* For kafka.topic = %{table}: the topics the tables of the sources feeding snk's channel map to. */
static void mapped_topics(const struct sf_agent *a, const struct sf_sink *snk, struct sf_buf *out)
{
    for (size_t i = 0; i < sf_agent_source_count(a); i++) {
        const struct sf_source *src = sf_agent_source_at(a, i);
        bool feeds = false;
        for (size_t c = 0; c < src->nch; c++) {
            feeds = feeds || src->chs[c] == snk->ch;
        }
        if (!feeds || src->plugin != sf_registry_source("sql")) {
            continue;
        }
        struct src_opts so;
        read_source_opts(src, &so);
        size_t n = 0;
        char **tables = source_tables(&so, &n);
        if (n == 0) { /* custom.query: the table header is the status key */
            char *key = status_key_of(&so, NULL);
            sf_buf_printf(out, "%s\"%s\" (%s)", out->len ? ", " : "", key, src->name);
            free(key);
        }
        for (size_t t = 0; t < n; t++) {
            sf_buf_printf(out, "%s\"%s\" (%s)", out->len ? ", " : "", tables[t], src->name);
        }
        sf_names_free(tables, n);
    }
}

static void check_kafka_sink(struct check *ck, const struct sf_agent *a, const struct sf_sink *snk)
{
    const struct sf_option *o = snk->plugin->options;
    const struct sf_section *s = snk->conf;
    const char *bootstrap = opt(o, s, "kafka.bootstrap.servers");
    const char *topic = opt(o, s, "kafka.topic");
    struct kafka_probe kp = { "", false };
    char errstr[512], client_id[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    snprintf(client_id, sizeof(client_id), "sqlflume-check-%s", snk->name);
    bool conf_ok =
        rd_kafka_conf_set(conf, "client.id", client_id, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK;
    for (size_t i = 0; conf_ok && i < s->n; i++) {
        const char *sub = sf_section_subkey(s, s->v[i]);
        if (strncmp(sub, PRODUCER_PREFIX, strlen(PRODUCER_PREFIX)) != 0) {
            continue;
        }
        const char *prop = sub + strlen(PRODUCER_PREFIX);
        if (strcmp(prop, "transactional.id") == 0 || strcmp(prop, "acks") == 0) {
            continue; /* a metadata request needs neither */
        }
        if (rd_kafka_conf_set(conf, prop, s->v[i]->val, errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_OK) {
            report(ck, V_FAIL, snk->name, "%s: %s", sub, errstr);
            conf_ok = false;
        }
    }
    if (conf_ok && rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                                     sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        report(ck, V_FAIL, snk->name, "kafka.bootstrap.servers: %s", errstr);
        conf_ok = false;
    }
    if (!conf_ok) {
        rd_kafka_conf_destroy(conf);
        return;
    }
    rd_kafka_conf_set_opaque(conf, &kp);
    rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
    rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        report(ck, V_FAIL, snk->name, "could not create a Kafka client: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return;
    }
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__TIMED_OUT;
    long long end = mono_ms() + KAFKA_TIMEOUT_MS;
    while (mono_ms() < end && !kp.all_down) {
        err = rd_kafka_metadata(rk, 1, NULL, &md, KAFKA_POLL_MS); /* all topics: none created */
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            break;
        }
        md = NULL;
        rd_kafka_poll(rk, 0); /* serves kafka_error_cb */
    }
    if (!md) {
        report(ck, V_FAIL, snk->name, "Kafka at %s does not answer: %s", bootstrap,
               kp.last_error[0] ? kp.last_error : rd_kafka_err2str(err));
        rd_kafka_destroy(rk);
        return;
    }
    report(ck, V_OK, snk->name, "Kafka at %s answers (%d broker%s)", bootstrap, md->broker_cnt,
           md->broker_cnt == 1 ? "" : "s");
    if (strstr(topic, "%{")) {
        struct sf_buf maps = SF_BUF_INIT;
        if (strcmp(topic, "%{table}") == 0) {
            mapped_topics(a, snk, &maps);
        }
        report(ck, V_SKIP, snk->name,
               "kafka.topic \"%s\" is chosen per event from its headers "
               "and cannot be checked%s%s",
               topic, maps.len ? "; the tables map to the topics " : "", maps.len ? maps.data : "");
        sf_buf_free(&maps);
    } else {
        const struct rd_kafka_metadata_topic *mt = NULL;
        for (int i = 0; i < md->topic_cnt; i++) {
            if (strcmp(md->topics[i].topic, topic) == 0 && !md->topics[i].err) {
                mt = &md->topics[i];
            }
        }
        const struct sf_prop *ac = sf_section_get(s, PRODUCER_PREFIX "allow.auto.create.topics");
        char why[512];
        int auto_create;
        if (mt) {
            report(ck, V_OK, snk->name, "topic \"%s\" exists (%d partition%s)", topic,
                   mt->partition_cnt, mt->partition_cnt == 1 ? "" : "s");
        } else if (ac && strcasecmp(ac->val, "false") == 0) {
            report(ck, V_FAIL, snk->name,
                   "topic \"%s\" does not exist and kafka.producer.allow.auto.create.topics = "
                   "false",
                   topic);
        } else if ((auto_create = broker_auto_create(rk, md->orig_broker_id, why, sizeof(why))) ==
                   1) {
            report(ck, V_OK, snk->name,
                   "topic \"%s\" does not exist; the broker creates it on first use "
                   "(auto.create.topics.enable = true)",
                   topic);
        } else if (auto_create == 0) {
            report(ck, V_FAIL, snk->name,
                   "topic \"%s\" does not exist and the broker does not create topics "
                   "(auto.create.topics.enable = false)",
                   topic);
        } else {
            report(ck, V_SKIP, snk->name,
                   "topic \"%s\" does not exist; whether the broker creates it "
                   "(auto.create.topics.enable) could not be read: %s",
                   topic, why);
        }
    }
    rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
}

int sf_check_connect(const struct sf_agent *a, FILE *out)
{
    struct check ck = { out, 0 };
    for (size_t i = 0; i < sf_agent_source_count(a); i++) {
        const struct sf_source *src = sf_agent_source_at(a, i);
        if (src->plugin == sf_registry_source("sql")) {
            check_sql_source(&ck, src);
        }
    }
    for (size_t i = 0; i < sf_agent_sink_count(a); i++) {
        const struct sf_sink *snk = sf_agent_sink_at(a, i);
        if (snk->plugin == &sf_sink_kafka) {
            check_kafka_sink(&ck, a, snk);
        }
    }
    if (ck.nfail) {
        fprintf(out, "%d check%s failed\n", ck.nfail, ck.nfail == 1 ? "" : "s");
    } else {
        fprintf(out, "every check passed\n");
    }
    return ck.nfail ? SF_CHECK_EXIT_FAILED : 0;
}
