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
 *
 * Backfill (backfill = true; Debezium's incremental snapshot with Sqoop's fixed upper bound):
 * before a table is streamed, the rows it already has are exported in chunks ordered by its
 * single-column primary key,
 *   SELECT cols FROM t WHERE pk > ? AND inc <= ? ORDER BY pk LIMIT backfill.chunk.size
 * (the first chunk without the key bound; timestamp modes bound ts, or the pair ts,inc). The upper
 * bound, the high-water mark hwm, is the mode's offset of the newest row when the backfill starts
 * (MAX(inc)); the table's main offset row is raised to it at once, so streaming later resumes
 * exactly after it: rows inserted meanwhile are streaming's, never sent twice, and no row falls
 * between the two. Progress lives in flume_meta under "<status key>.backfill" as
 * "chunk=N;rows=R;key=K;hwm=H" (N chunks read completely, R rows delivered, K the last key
 * delivered; ';' and '%' in K and H percent-escaped), then "done;rows=R;hwm=H". It is delivery-
 * bound like the offsets: every batch registers its position with a second ack tracker of the
 * table, and the row is written from what every channel delivered, at most every
 * OFFSET_FLUSH_MS (200 ms) and at stop (a durable channel also records it with each put). A restart resumes after K, at chunk N,
 * so a kill -9 repeats only what was delivered after the last write, a clean stop nothing. With
 * several tables the round-robin goes on: each turn of a backfilling table reads one chunk, so a
 * big backfill does not hold back the other tables. Progress is logged every 5 s (rows of the
 * server's row estimate, rate, ETA), and drawn as a one-line bar when stderr is a terminal. Known
 * limit: like Sqoop, a row whose transaction commits after its key was passed (an id below hwm
 * committing late) is not read by the backfill; streaming starts at hwm.
 */
#include "sqlflume/agent.h"
#include "sqlflume/buf.h"
#include "sqlflume/connector.h"
#include "sqlflume/error.h"
#include "sqlflume/format.h"
#include "sqlflume/log.h"
#include "sqlflume/offset.h"
#include "sqlflume/source.h"
#include "sqlflume/status_lock.h"


#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_START_MS 500
#define BACKOFF_MAX_MS 8000
#define BF_WAIT_POLL_MS 500 /* while a backfill waits for open transactions, look this often */
#define OFFSET_FLUSH_MS 200 /* delivered offsets reach flume_meta at most this often, ms */
#define MAX_KEY_COLS 16
#define TS_FLOOR "0001-01-01 00:00:00"
#define OFF_TEXT(o) ((o) ? (o) : "(no offset yet: from the first row)")
#define BF_SUFFIX ".backfill"
#define BF_VALUE_MAX 255   /* flume_meta.currentIndex is VARCHAR(255) */
#define BF_LOG_MS 5000     /* progress log lines at most this often */
#define BF_BAR_MS 250      /* terminal progress bar redraws at most this often */
#define BF_ROOM_WAIT_MS 20 /* backfill: re-check for channel room (writing offsets) this often */
#define LOCK_WAIT_MS 30000  /* after a reconnect, wait this long for a status-key lock held elsewhere */
#define LOCK_CHECK_MS 1000  /* the status connection (holding the locks) is checked this often */
#define LOCK_BUSY 1         /* status_open: a status key's lock is held by another session */
#define GAP_REPORT_MS 60000 /* gap tracking's summary line at most this often per table, ms */

enum poll_mode { MODE_INCREMENTING = 0, MODE_TIMESTAMP, MODE_TS_INC, MODE_BULK };
enum bf_state { BF_OFF = 0, BF_RUNNING, BF_DONE };

/* One polled table (or the custom query) with its own offsets and delivery tracker. */
/* What gap tracking did since its last summary line: ranges of missing ids opened by a row above
 * the highest id, filled by a row that committed late, and given up (more than SF_GAPS_MAX at
 * once; to fit currentIndex; after incremental.gap.timeout.ms). */
struct gap_stats {
    long long opened, filled, over_max, over_text, expired, expired_ids;
    long long since_ms; /* monotonic ms of the last summary (or of the first count after it) */
    bool reported;      /* a summary line was written already */
};

struct sql_table {
    char *name;       /* NULL for custom.query without table */
    char *status_key; /* source_tab of its flume_meta row */
    uint64_t lock_id;    /* its status-key lock (sf_status_lock_id) */
    char lock_param[24]; /* the id as lock_*_sql bind it (sf_status_lock_param) */
    char *chan_key;   /* key of its offsets inside durable channels: "<source>/<status_key>" */
    char **pk;        /* primary key columns */
    size_t npk;
    char *inc; /* incremental column (incrementing, timestamp+incrementing) */
    char *ts;  /* timestamp column (timestamp, timestamp+incrementing) */
    enum sf_coltype inc_type, ts_type;
    struct sf_buf sql;
    struct sf_buf sql_first; /* the poll without the offset's lower bound (no offset yet) */
    bool prepared;
    bool inc_warned; /* the WARN on an explicit incremental column without a usable order */
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
    struct gap_stats gst;     /* since the last summary line (gap_report) */
    struct sf_buf sel_from;   /* "SELECT cols FROM t" */
    struct sf_buf qinc;       /* the quoted incremental column */
    struct sf_buf qts;        /* the quoted timestamp column */
    struct sf_buf qtab;       /* the quoted table */
    /* backfill (backfill = true) */
    bool bf_loaded;
    enum bf_state bf;
    char *bf_status_key; /* "<status_key>.backfill" */
    char *bf_chan_key;   /* its key inside durable channels */
    struct sf_ack_tracker *bf_tracker;
    char *bf_written;       /* last value written to flume_meta */
    char *bf_pending;       /* delivered, not yet written */
    char *bf_reg;           /* last progress registered with bf_tracker */
    char *bf_hwm;           /* high-water mark: an offset of the mode */
    char *bf_h1, *bf_h2;    /* its parts bound as parameters (ts and inc for timestamp+inc) */
    char *bf_key;           /* last key put into the channels; NULL = before the first */
    long long bf_chunks;    /* chunks read completely */
    long long bf_rows;      /* rows put into the channels, earlier runs included */
    long long bf_chunk_rows; /* rows of the current chunk put so far */
    long long bf_rows_run0; /* bf_rows when this run's backfill began (for the rate) */
    long long bf_estimate;  /* rows the server estimates, -1 = unknown */
    long long bf_start_ms, bf_log_ms, bf_bar_ms;
    bool bf_warned_long;
    char *bf_wait_txns;     /* write transactions open at the backfill's start, still awaited */
    long long bf_wait_ms0, bf_wait_log_ms;
    struct sf_buf qpk;      /* the quoted primary key column */
    enum sf_coltype pk_type;
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
    bool backfill;
    long long bf_chunk_size;
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
    bool locks_held;          /* the status-key locks were taken once (a later failure: lost) */
    long long lock_wait_ms0;  /* monotonic ms the wait for a lost lock began; 0 = not waiting */
    long long lock_check_ms;  /* monotonic ms of the last check of the status connection */
    struct sql_table *tabs;
    size_t ntabs;
    size_t cursor;   /* next table to poll */
    bool cycle_full; /* a table of this round returned max.rows */
    bool bf_waiting; /* a backfill of this round waits for open transactions */
    long long backoff_ms;
    long long last_flush_ms;
    long long next_poll_ms; /* monotonic ms of the next poll after a run.query.delay */
    struct sf_format fmt;
    struct sf_buf body;
    struct sf_buf keybuf;
    struct sf_json_keys jkeys; /* format json: keys of the visible columns of the current query,
                                * which fmt.json_keys points to */
    struct sf_buf gap_sql;
    struct sf_buf bf_sql;  /* the backfill's chunk query */
    struct sf_buf bf_prog; /* a backfill progress value being encoded */
    struct sf_event **batch;
    bool fatal_logged;
    bool tty;      /* stderr is a terminal: draw the backfill progress bar */
    bool bar_shown; /* the bar is on the screen (cleared before it ends) */
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
      NULL, "accepted for compatibility with the seed and keedio configs; ignored (the JDBC "
      "and Hibernate settings), or warned about (status.file.path, status.file.name, "
      "enclose.by.quotes, read.only: keedio's, without that effect here)" },
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

/* The integer order of two offsets of an integer column, or false when either is not a plain
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
    if (!is_integer(ha) || !is_integer(hb)) {
        return false;
    }
    *res = cmp_int_text(ha, hb);
    if (*res == 0 && (a[la] || b[lb])) {
        *res = strcmp(a, b); /* one hw, other gaps: as before, by the text of the gap list */
    }
    return true;
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
    const struct sf_connector_plugin *cx = sf_connector_find(u.scheme);
    if (!cx) {
        sf_diag_error(d, at, "no connector for scheme \"%s\"", u.scheme);
        rc = -1;
    } else if (cx->validate_url && cx->validate_url(&u, err, sizeof(err)) != SF_OK) {
        sf_diag_error(d, at, "%s", err); /* e.g. libpq refuses sslmode=bogus */
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
    int rc = 0;
    if (!c->table && !c->custom_query && !c->tables) {
        sf_diag_error(d, type, "source \"%s\" needs \"table\", \"tables\" or \"custom.query\"",
                      src->name);
        rc = -1;
    }
    if (c->tables) {
        const char *qerr;
        size_t nt = 0;
        char **tn = sf_split_quoted_names(c->tables, &nt, &qerr);
        if (qerr) {
            sf_diag_error(d, sf_section_get(src->conf, "tables"), "%s", qerr);
            rc = -1;
        } else if (nt == 0) {
            sf_diag_error(d, sf_section_get(src->conf, "tables"), "no table named");
            rc = -1;
        }
        sf_names_free(tn, nt);
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
    if (c->backfill && c->custom_query) {
        sf_diag_error(d, sf_section_get(src->conf, "backfill"),
                      "backfill works with \"table\" or \"tables\", not with custom.query");
        rc = -1;
    }
    if (c->backfill && c->mode == MODE_BULK) {
        sf_diag_error(d, sf_section_get(src->conf, "backfill"),
                      "backfill has no use with incremental.mode = bulk (every poll reads the "
                      "whole table)");
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
        t->lock_id = sf_status_lock_id(c->status_url ? c->status_dburl.database
                                                     : c->dburl.database,
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

static void free_pk(struct sql_table *t)
{
    sf_names_free(t->pk, t->npk);
    t->pk = NULL;
    t->npk = 0;
}

/* Close the rows connection only (a failed poll): the status connection keeps its status-key
 * locks, so no other agent can take them meanwhile; it is checked on its own (ensure_ready). */
static void close_rows(struct sql_ctx *c)
{
    if (c->conn) {
        c->cx->close(c->conn);
        c->conn = NULL;
    }
    c->lock_check_ms = 0; /* the server may be gone: check the status connection first */
}

/* Close both connections (the status one releases the status-key locks). */
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

/* Log a failure ("what: msg (error)", or "msg (error)" when msg starts with what already, as the
 * connectors' "could not connect to mysql at ..." does), double the backoff, return SF_BACKOFF. */
static enum sf_status backoff(struct sf_source *src, int err, const char *what, const char *msg)
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

/* Read currentIndex of the status table's row key: *out is a malloc'd copy, or NULL when there is
 * no such row. */
/* Run sql on conn (parameter 1 = p1, as text, when not NULL) and return its first row's first
 * value, malloc'd in *out (NULL for no row or SQL NULL). @return SF_OK or the connector's error
 * (*out NULL). */
static int query_one_value(const struct sf_connector_plugin *cx, struct sf_conn *conn,
                           const char *sql, const char *p1, char **out, char *err, size_t errsz)
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

static int meta_get(struct sql_ctx *c, const char *key, char **out, char *err, size_t errsz)
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
static int meta_put(struct sql_ctx *c, const char *key, const char *val, char *err, size_t errsz)
{
    struct sf_param p[2] = { { key, SF_COL_TEXT }, { val, SF_COL_TEXT } };
    return c->scx->exec(c->status_conn, c->upsert_sql.data, p, 2, err, errsz);
}

static int offset_cmp(struct sql_ctx *c, struct sql_table *t, const char *a, const char *b,
                      int *res, char *err, size_t errsz);
static int status_open(struct sf_source *src, char *err, size_t errsz);

/* Read the table's flume_meta row and each durable channel's offset, and choose where to resume:
 * per channel the later of the two (a durable channel holds what it recorded), then the earliest
 * over the channels (a row is resumed after only if every channel has it). With neither a row
 * nor start.from, read_offset stays NULL: no offset yet, the first query has no lower bound.
 * Runs after prepare_table (non-integer offsets are ordered by the database). */
static int load_offset(struct sf_source *src, struct sql_table *t, char *err, size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    char *meta = NULL;
    int rc = meta_get(c, t->status_key, &meta, err, errsz);
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
        sf_buf_printf(&why, "%s has no row and start.from is not set: the first query has no "
                      "lower bound", c->status_table);
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
            set_str(&resume, pos);
            have = true;
        }
        free(chan);
    }
    if (rc == SF_OK && !have) {
        set_str(&resume, base);
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
        SF_INFO(SF_SOURCE_FMT "table \"%s\": %s; reading from the first row",
                SF_SOURCE_ARGS(src), t->status_key, why.data);
    }
    sf_buf_free(&why);
    return SF_OK;
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
static int prepare_status(struct sf_source *src, char *err, size_t errsz, bool *is_fatal)
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

/* Whether an incremental column of class ty has an order the database and the agent agree on
 * and that grows with inserts (integers, decimals, date/time). */
static bool inc_type_ordered(enum sf_coltype ty)
{
    return ty == SF_COL_INT || ty == SF_COL_DECIMAL || ty == SF_COL_TEMPORAL;
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
static int offset_cmp(struct sql_ctx *c, struct sql_table *t, const char *a, const char *b,
                      int *res, char *err, size_t errsz)
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

/* Resolve column roles and build the table's poll query. */
static int prepare_table(struct sf_source *src, struct sql_table *t, char *err, size_t errsz,
                         bool *is_fatal)
{
    struct sql_ctx *c = src->ctx;
    int rc;
    *is_fatal = false;
    sf_buf_reset(&t->sql);
    sf_buf_reset(&t->sql_first);
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
    rc = sf_quote_qualified(c->cx, t->name, &qt);
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
            sf_buf_printf(&t->sql_first, "SELECT %s FROM %s WHERE %s IS NOT NULL ORDER BY %s "
                          "LIMIT %lld", sel, qt.data, qi.data, qi.data, c->max_rows);
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
            sf_buf_printf(&t->sql, ")) ORDER BY %s, %s LIMIT %lld", qts.data, qi.data,
                          c->max_rows);
            sf_buf_printf(&t->sql_first, "SELECT %s FROM %s WHERE %s < %s ORDER BY %s, %s LIMIT "
                          "%lld", sel, qt.data, qts.data, upper.data, qts.data, qi.data,
                          c->max_rows);
            break;
        default: /* bulk */
            sf_buf_printf(&t->sql, "SELECT %s FROM %s", sel, qt.data);
            sf_buf_puts(&t->sql_first, t->sql.data);
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
                SF_WARN(SF_SOURCE_FMT "table \"%s\": incremental.column.name \"%s\" is %s: rows "
                        "are read in the database's order of its values (its collation), and a "
                        "row whose value sorts at or below the offset already read is never read",
                        SF_SOURCE_ARGS(src), t->name, t->inc, sf_coltype_words(t->inc_type));
            }
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

/* Write the committable value of tr to the status table's row key if it changed; *written and
 * *pending are that row's last written and delivered-but-unwritten values (write: false only
 * collects, e.g. bulk mode). A failed write keeps *pending for the next attempt.
 * @return true when a new value was written. */
static bool flush_row(struct sf_source *src, struct sf_ack_tracker *tr, const char *key,
                      char **written, char **pending, bool write)
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
        rc = status_open(src, err, sizeof(err)); /* the locks first: never write another's row */
    }
    if (c->status_conn && c->upsert_sql.len) {
        rc = meta_put(c, key, off, err, sizeof(err));
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
        sf_gapset_copy(&t->gs, &t->gs_work);
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

/* ---- backfill: progress values and start-up ----------------------------------------------------
 */

/* Backfill progress as kept in flume_meta (see the file comment). */
struct bf_prog {
    bool done;
    bool has_chunk;
    long long chunks, rows;
    char *key; /* NULL = no row delivered yet */
    char *hwm; /* NULL only in a bare "done" */
};

static void bf_prog_free(struct bf_prog *p)
{
    free(p->key);
    free(p->hwm);
    memset(p, 0, sizeof(*p));
}

/* Append s with '%' and ';' percent-escaped (';' separates the fields). */
static void bf_escape(struct sf_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '%' || *s == ';') {
            sf_buf_printf(out, "%%%02X", (unsigned)(unsigned char)*s);
        } else {
            sf_buf_putc(out, *s);
        }
    }
}

static int hex_digit(char ch)
{
    if (ch >= '0' && ch <= '9') {
        return ch - '0';
    }
    if (ch >= 'A' && ch <= 'F') {
        return ch - 'A' + 10;
    }
    if (ch >= 'a' && ch <= 'f') {
        return ch - 'a' + 10;
    }
    return -1;
}

/* Undo bf_escape on s[0..len). @return malloc'd text, or NULL for a bad escape. */
static char *bf_unescape(const char *s, size_t len)
{
    struct sf_buf b = SF_BUF_INIT;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '%') {
            sf_buf_putc(&b, s[i]);
            continue;
        }
        int hi = i + 2 < len ? hex_digit(s[i + 1]) : -1;
        int lo = i + 2 < len ? hex_digit(s[i + 2]) : -1;
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
            sf_buf_free(&b);
            return NULL;
        }
        sf_buf_putc(&b, (char)(hi * 16 + lo));
        i += 2;
    }
    return sf_buf_steal(&b);
}

static bool parse_count(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > 18) {
        return false;
    }
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Parse "chunk=N;rows=R;key=K;hwm=H", "done;rows=R;hwm=H" or "done" (unknown name=value fields
 * are skipped). @return 0, or -1 (*p empty) when s is not backfill progress. */
static int bf_parse(const char *s, struct bf_prog *p)
{
    memset(p, 0, sizeof(*p));
    while (*s) {
        size_t len = strcspn(s, ";");
        const char *eq = memchr(s, '=', len);
        size_t nlen = eq ? (size_t)(eq - s) : len;
        const char *v = eq ? eq + 1 : s + len;
        size_t vlen = (size_t)(s + len - v);
        bool ok = true;
        if (!eq) {
            ok = len == 4 && strncmp(s, "done", 4) == 0;
            p->done = p->done || ok;
        } else if (nlen == 5 && strncmp(s, "chunk", 5) == 0) {
            ok = parse_count(v, vlen, &p->chunks);
            p->has_chunk = true;
        } else if (nlen == 4 && strncmp(s, "rows", 4) == 0) {
            ok = parse_count(v, vlen, &p->rows);
        } else if (nlen == 3 && strncmp(s, "key", 3) == 0) {
            free(p->key);
            p->key = bf_unescape(v, vlen);
            ok = p->key != NULL;
        } else if (nlen == 3 && strncmp(s, "hwm", 3) == 0) {
            free(p->hwm);
            p->hwm = bf_unescape(v, vlen);
            ok = p->hwm != NULL;
        }
        if (!ok) {
            bf_prog_free(p);
            return -1;
        }
        s += len;
        if (*s == ';') {
            s++;
        }
    }
    if (p->done || (p->has_chunk && p->hwm)) {
        return 0;
    }
    bf_prog_free(p);
    return -1;
}

/* Encode progress into c->bf_prog. @return false when it is longer than currentIndex holds. */
static bool bf_encode(struct sql_ctx *c, bool done, long long chunks, long long rows,
                      const char *key, const char *hwm)
{
    struct sf_buf *b = &c->bf_prog;
    sf_buf_reset(b);
    if (done) {
        sf_buf_printf(b, "done;rows=%lld", rows);
    } else {
        sf_buf_printf(b, "chunk=%lld;rows=%lld", chunks, rows);
        if (key) {
            sf_buf_puts(b, ";key=");
            bf_escape(b, key);
        }
    }
    if (hwm) {
        sf_buf_puts(b, ";hwm=");
        bf_escape(b, hwm);
    }
    return b->len <= BF_VALUE_MAX;
}

/* How far progress got: rows delivered; done beats everything. */
static long long bf_rank(const struct bf_prog *p)
{
    return p->done ? LLONG_MAX : p->rows;
}

/* The progress to resume from: per durable channel the later of flume_meta's value (meta) and
 * that channel's record of the same backfill (same hwm), then the earliest over the channels, as
 * load_offset does. Adds what the channels said to why. @return malloc'd. */
static char *bf_resume_value(struct sf_source *src, struct sql_table *t, const char *meta,
                             struct sf_buf *why)
{
    struct bf_prog mp;
    if (bf_parse(meta, &mp) != 0) {
        return strdup(meta);
    }
    char *resume = NULL;
    long long resume_rank = 0;
    for (size_t i = 0; i < src->nch; i++) {
        char *chan = NULL;
        const char *pos = meta;
        long long rank = bf_rank(&mp);
        struct bf_prog cp;
        if (sf_channel_offset_get(src->chs[i], t->bf_chan_key, &chan) == SF_OK && chan &&
            bf_parse(chan, &cp) == 0) {
            sf_buf_printf(why, ", channel \"%s\" recorded \"%s\"", src->chs[i]->name, chan);
            if (cp.hwm && mp.hwm && strcmp(cp.hwm, mp.hwm) == 0 && bf_rank(&cp) > rank) {
                pos = chan;
                rank = bf_rank(&cp);
            }
            bf_prog_free(&cp);
        }
        if (!resume || rank < resume_rank) {
            set_str(&resume, pos);
            resume_rank = rank;
        }
        free(chan);
    }
    bf_prog_free(&mp);
    return resume ? resume : strdup(meta);
}

/* Make the table's main offset at least hwm, written to flume_meta at once, so that streaming
 * continues right after the rows the backfill reads and no row falls between the two. An offset
 * "hw;gaps" with hw <= hwm becomes hwm: the ids missing below it are the backfill's. */
static int bf_raise_main(struct sf_source *src, struct sql_table *t, const char *hwm, char *err,
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
    int rc = meta_put(c, t->status_key, hwm, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    SF_INFO(SF_SOURCE_FMT "table \"%s\": offset raised from \"%s\" to the backfill's high-water "
            "mark \"%s\" (streaming continues after it)",
            SF_SOURCE_ARGS(src), t->status_key, cur ? cur : "(none: no offset yet)", hwm);
    set_str(&t->read_offset, hwm);
    set_str(&t->written_offset, hwm);
    t->gaps_init = false; /* the gap state is parsed again from the new offset */
    return SF_OK;
}

/* The high-water mark: the mode's offset of the newest row now (timestamp modes: below the
 * database's now minus timestamp.delay.interval.ms, as their polls). *out is malloc'd, or NULL
 * for an empty table. */
static int bf_query_hwm(struct sql_ctx *c, struct sql_table *t, char **out, char *err,
                        size_t errsz)
{
    *out = NULL;
    struct sf_buf q = SF_BUF_INIT, upper = SF_BUF_INIT;
    c->cx->now_minus_ms(c->ts_delay_ms, &upper);
    switch (c->mode) {
    case MODE_TIMESTAMP:
        sf_buf_printf(&q, "SELECT MAX(%s) FROM %s WHERE %s < %s", t->qts.data, t->qtab.data,
                      t->qts.data, upper.data);
        break;
    case MODE_TS_INC:
        sf_buf_printf(&q,
                      "SELECT %s, %s FROM %s WHERE %s < %s AND %s IS NOT NULL ORDER BY %s DESC, "
                      "%s DESC LIMIT 1",
                      t->qts.data, t->qinc.data, t->qtab.data, t->qts.data, upper.data,
                      t->qinc.data, t->qts.data, t->qinc.data);
        break;
    default:
        sf_buf_printf(&q, "SELECT MAX(%s) FROM %s", t->qinc.data, t->qtab.data);
        break;
    }
    const struct sf_column *cols;
    size_t ncols;
    int rc = c->cx->query(c->conn, q.data, NULL, 0, &cols, &ncols, err, errsz);
    if (rc == SF_OK) {
        struct sf_row row;
        int got;
        while ((got = c->cx->fetch(c->conn, &row, err, errsz)) == 1) {
            bool pair = c->mode == MODE_TS_INC;
            if (!*out && row.ncols > (pair ? 1u : 0u) && row.vals[0] && (!pair || row.vals[1])) {
                struct sf_buf v = SF_BUF_INIT;
                sf_buf_append(&v, row.vals[0], row.lens[0]);
                if (pair) {
                    sf_buf_putc(&v, ',');
                    sf_buf_append(&v, row.vals[1], row.lens[1]);
                }
                *out = sf_buf_steal(&v);
            }
        }
        c->cx->query_end(c->conn);
        if (got < 0) {
            rc = got;
            free(*out);
            *out = NULL;
        }
    }
    sf_buf_free(&q);
    sf_buf_free(&upper);
    return rc;
}

/* The rows the backfill will read, roughly: the server's statistics (the connector's
 * estimate_rows: no scan, so fine on huge tables), else for an integer key the key range
 * MAX - MIN + 1 (two index look-ups; exact for dense ids, an upper bound otherwise), else -1.
 * For progress reports only: errors just leave the estimate unknown. */
static long long bf_estimate(struct sql_ctx *c, struct sql_table *t, const char **how)
{
    char err[512] = "";
    long long est = -1;
    *how = "unknown";
    if (c->cx->estimate_rows &&
        c->cx->estimate_rows(c->conn, t->name, &est, err, sizeof(err)) != SF_OK) {
        SF_DEBUG("no row estimate for \"%s\": %s", t->name, err);
        est = -1;
    }
    if (est > 0) {
        *how = "server statistics";
        return est;
    }
    est = -1;
    if (t->pk_type != SF_COL_INT) {
        return est;
    }
    struct sf_buf q = SF_BUF_INIT;
    sf_buf_printf(&q, "SELECT MIN(%s), MAX(%s) FROM %s", t->qpk.data, t->qpk.data, t->qtab.data);
    const struct sf_column *cols;
    size_t ncols;
    if (c->cx->query(c->conn, q.data, NULL, 0, &cols, &ncols, err, sizeof(err)) == SF_OK) {
        struct sf_row row;
        while (c->cx->fetch(c->conn, &row, err, sizeof(err)) == 1) {
            if (row.ncols >= 2 && row.vals[0] && row.vals[1] && row.lens[0] < 24 &&
                row.lens[1] < 24) {
                char lo[24], hi[24];
                memcpy(lo, row.vals[0], row.lens[0]);
                lo[row.lens[0]] = '\0';
                memcpy(hi, row.vals[1], row.lens[1]);
                hi[row.lens[1]] = '\0';
                long long a = strtoll(lo, NULL, 10), b = strtoll(hi, NULL, 10);
                if (b >= a && b - a < LLONG_MAX) {
                    est = b - a + 1;
                    *how = "primary key range";
                }
            }
        }
        c->cx->query_end(c->conn);
    }
    sf_buf_free(&q);
    return est;
}

/* Take over a chosen progress p (its strings move) and the high-water mark's parts. */
static void bf_adopt(struct sql_ctx *c, struct sql_table *t, struct bf_prog *p)
{
    free(t->bf_hwm);
    free(t->bf_key);
    t->bf_hwm = p->hwm;
    t->bf_key = p->key;
    p->hwm = p->key = NULL;
    t->bf_chunks = p->chunks;
    t->bf_rows = p->rows;
    /* a chunk cut short by a stop continues where it ended, so that chunk N keeps meaning the
     * rows N * chunk.size + 1 .. (N + 1) * chunk.size (unless the chunk size changed) */
    long long partial = p->chunks <= LLONG_MAX / c->bf_chunk_size
                            ? p->rows - p->chunks * c->bf_chunk_size
                            : 0;
    t->bf_chunk_rows = partial > 0 && partial < c->bf_chunk_size ? partial : 0;
    free(t->bf_h1);
    free(t->bf_h2);
    t->bf_h1 = t->bf_h2 = NULL;
    if (c->mode == MODE_TS_INC && t->bf_hwm) {
        const char *comma = strchr(t->bf_hwm, ',');
        t->bf_h1 = comma ? strndup(t->bf_hwm, (size_t)(comma - t->bf_hwm)) : strdup(t->bf_hwm);
        t->bf_h2 = strdup(comma ? comma + 1 : "0");
    } else if (t->bf_hwm) {
        t->bf_h1 = strdup(t->bf_hwm);
    }
}


/*
 * Right after the high-water mark is taken (or a backfill resumes), note the write transactions
 * of other sessions that are open: they may hold rows below the mark (an id taken before the
 * mark, committed later) that a chunk would pass before they commit. The backfill waits for
 * them before its next chunk. Where the server does not tell (no connector support, no
 * privilege: an SQL error), warn: such a row would then be missed, as by Sqoop.
 * @return SF_OK, or a retriable connection error (err filled) for the caller to retry.
 */
static int bf_take_open_txns(struct sf_source *src, struct sql_table *t, char *err, size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    free(t->bf_wait_txns);
    t->bf_wait_txns = NULL;
    if (!c->cx->open_txns_sql) {
        return SF_OK;
    }
    char *list = NULL;
    int rc = query_one_value(c->cx, c->conn, c->cx->open_txns_sql, NULL, &list, err, errsz);
    if (rc != SF_OK && sf_err_retriable(rc)) {
        return rc;
    }
    if (rc != SF_OK) {
        SF_WARN(SF_SOURCE_FMT "table \"%s\": cannot list the open transactions (%s); the "
                "backfill does not wait for them, so a row committed below its high-water mark "
                "after its chunk was read would be missed (MySQL/MariaDB: GRANT PROCESS to the "
                "source's user)",
                SF_SOURCE_ARGS(src), t->status_key, err);
        return SF_OK;
    }
    if (list && *list) {
        t->bf_wait_txns = list;
        t->bf_wait_ms0 = t->bf_wait_log_ms = mono_ms();
        SF_INFO(SF_SOURCE_FMT "table \"%s\": the backfill first waits for the write "
                "transactions open now (%s), which may hold rows below its high-water mark",
                SF_SOURCE_ARGS(src), t->status_key, list);
        return SF_OK;
    }
    free(list);
    return SF_OK;
}

/* Whether the backfill must still wait for the transactions bf_take_open_txns noted (logged at
 * most every BF_LOG_MS). @return SF_OK with *waiting set, or the connector's error. */
static int bf_open_txns_wait(struct sf_source *src, struct sql_table *t, bool *waiting, char *err,
                             size_t errsz)
{
    struct sql_ctx *c = src->ctx;
    *waiting = false;
    if (!t->bf_wait_txns) {
        return SF_OK;
    }
    char *n = NULL;
    int rc = query_one_value(c->cx, c->conn, c->cx->open_txns_count_sql, t->bf_wait_txns, &n, err,
                         errsz);
    if (rc != SF_OK) {
        free(n);
        return rc;
    }
    long long open = n ? strtoll(n, NULL, 10) : 0;
    free(n);
    long long now = mono_ms();
    if (open > 0) {
        *waiting = true;
        if (now - t->bf_wait_log_ms >= BF_LOG_MS) {
            t->bf_wait_log_ms = now;
            SF_INFO(SF_SOURCE_FMT "table \"%s\": the backfill is waiting for %lld transaction(s) "
                    "open since it started %lld s ago",
                    SF_SOURCE_ARGS(src), t->status_key, open, (now - t->bf_wait_ms0) / 1000);
        }
        return SF_OK;
    }
    SF_INFO(SF_SOURCE_FMT "table \"%s\": the transactions open at the start of the backfill "
            "have ended (waited %lld ms); reading chunks",
            SF_SOURCE_ARGS(src), t->status_key, now - t->bf_wait_ms0);
    free(t->bf_wait_txns);
    t->bf_wait_txns = NULL;
    return SF_OK;
}

/*
 * Decide, once per run, where the table's backfill stands: resume from its .backfill row (or a
 * durable channel's later record of it), or start one: fix the high-water mark, raise the main
 * offset to it and record chunk 0, all before anything is read. Needs the prepared table.
 */
static int bf_load(struct sf_source *src, struct sql_table *t, char *err, size_t errsz,
                   bool *is_fatal)
{
    struct sql_ctx *c = src->ctx;
    *is_fatal = true;
    if (t->npk != 1) {
        snprintf(err, errsz,
                 "table \"%s\" has %s; backfill reads a table in chunks ordered by a "
                 "single-column primary key: add one, or set backfill = false",
                 t->name, t->npk == 0 ? "no primary key" : "a composite primary key");
        return SF_ERR_INVAL;
    }
    sf_buf_reset(&t->qpk);
    int rc = c->cx->quote_ident(t->pk[0], &t->qpk);
    if (rc != SF_OK) {
        snprintf(err, errsz, "bad primary key column name in table \"%s\"", t->name);
        return rc;
    }
    rc = probe_type(c, t->qtab.data, t->pk[0], &t->pk_type, err, errsz);
    if (rc != SF_OK) {
        *is_fatal = !sf_err_retriable(rc);
        return rc;
    }
    if (t->pk_type == SF_COL_BINARY) {
        snprintf(err, errsz,
                 "the primary key \"%s\" of table \"%s\" is binary; backfill keeps the last key "
                 "as text in %s: set backfill = false",
                 t->pk[0], t->name, c->status_table);
        return SF_ERR_INVAL;
    }
    char *meta = NULL;
    rc = meta_get(c, t->bf_status_key, &meta, err, errsz);
    if (rc != SF_OK) {
        *is_fatal = !sf_err_retriable(rc);
        return rc;
    }
    struct bf_prog p;
    struct sf_buf why = SF_BUF_INIT;
    char *resume = NULL;
    bool resuming = meta != NULL;
    if (resuming) {
        if (bf_parse(meta, &p) != 0) {
            snprintf(err, errsz,
                     "%s row \"%s\" holds \"%s\", which is not backfill progress; delete the row "
                     "to backfill the table again",
                     c->status_table, t->bf_status_key, meta);
            free(meta);
            return SF_ERR_INVAL;
        }
        bf_prog_free(&p);
        sf_buf_printf(&why, "%s has \"%s\"", c->status_table, meta);
        resume = bf_resume_value(src, t, meta, &why);
        if (!resume || bf_parse(resume, &p) != 0) {
            snprintf(err, errsz, "out of memory");
            free(meta);
            free(resume);
            sf_buf_free(&why);
            return SF_ERR_NOMEM;
        }
        rc = p.hwm ? bf_raise_main(src, t, p.hwm, err, errsz) : SF_OK;
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
            free(meta);
            free(resume);
            bf_prog_free(&p);
            sf_buf_free(&why);
            return rc;
        }
        free(t->bf_written);
        t->bf_written = meta;
        free(t->bf_reg);
        t->bf_reg = resume;
        if (p.done) {
            t->bf = BF_DONE;
            SF_INFO(SF_SOURCE_FMT "table \"%s\": backfill finished earlier (%s); streaming after "
                    "\"%s\"",
                    SF_SOURCE_ARGS(src), t->status_key, why.data, OFF_TEXT(t->read_offset));
            bf_prog_free(&p);
            sf_buf_free(&why);
            return SF_OK;
        }
    } else {
        char *hwm = NULL;
        rc = bf_query_hwm(c, t, &hwm, err, errsz);
        if (rc == SF_OK && !hwm) {
            rc = meta_put(c, t->bf_status_key, "done;rows=0", err, errsz);
            if (rc == SF_OK) {
                set_str(&t->bf_written, "done;rows=0");
                set_str(&t->bf_reg, "done;rows=0");
                t->bf = BF_DONE;
                SF_INFO(SF_SOURCE_FMT "table \"%s\": nothing to backfill (the table is empty); "
                        "streaming after \"%s\"",
                        SF_SOURCE_ARGS(src), t->status_key, OFF_TEXT(t->read_offset));
                return SF_OK;
            }
        }
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
            free(hwm);
            return rc;
        }
        /* the longest value it will need without a key must fit */
        if (!bf_encode(c, false, 999999999999999999LL, 999999999999999999LL, NULL, hwm)) {
            snprintf(err, errsz,
                     "the high-water mark \"%.64s...\" of table \"%s\" is too long to keep in %s",
                     hwm, t->name, c->status_table);
            free(hwm);
            return SF_ERR_INVAL;
        }
        rc = bf_raise_main(src, t, hwm, err, errsz);
        if (rc == SF_OK) {
            bf_encode(c, false, 0, 0, NULL, hwm);
            rc = meta_put(c, t->bf_status_key, c->bf_prog.data, err, errsz);
        }
        if (rc != SF_OK) {
            *is_fatal = !sf_err_retriable(rc);
            free(hwm);
            return rc;
        }
        set_str(&t->bf_written, c->bf_prog.data);
        set_str(&t->bf_reg, c->bf_prog.data);
        memset(&p, 0, sizeof(p));
        p.hwm = hwm;
    }
    bf_adopt(c, t, &p);
    bf_prog_free(&p);
    const char *how;
    t->bf_estimate = bf_estimate(c, t, &how);
    char est[64] = "an unknown number of rows";
    if (t->bf_estimate >= 0) {
        snprintf(est, sizeof(est), "about %lld rows (%s)", t->bf_estimate, how);
    }
    if (resuming) {
        SF_INFO(SF_SOURCE_FMT "table \"%s\": resuming backfill at chunk %lld %s%s%s (%lld rows "
                "exported before, of %s; %s)",
                SF_SOURCE_ARGS(src), t->status_key, t->bf_chunks,
                t->bf_key ? "after key \"" : "from the first key", t->bf_key ? t->bf_key : "",
                t->bf_key ? "\"" : "", t->bf_rows, est, why.data);
    } else {
        SF_INFO(SF_SOURCE_FMT "table \"%s\": starting backfill of %s up to offset \"%s\" in "
                "chunks of %lld ordered by %s; streaming continues after it",
                SF_SOURCE_ARGS(src), t->status_key, est, t->bf_hwm, c->bf_chunk_size,
                t->qpk.data);
    }
    sf_buf_free(&why);
    rc = bf_take_open_txns(src, t, err, errsz);
    if (rc != SF_OK) {
        *is_fatal = false;
        return rc;
    }
    t->bf_rows_run0 = t->bf_rows;
    t->bf_start_ms = t->bf_log_ms = t->bf_bar_ms = mono_ms();
    t->bf = BF_RUNNING;
    return SF_OK;
}

/* Connect the status connection when it is down and take the lock of every table's status key on
 * it (sf_status_lock_id: one running agent per offset row), before anything is read or written
 * there. @return SF_OK (connected, every lock held), LOCK_BUSY (a lock is held by another session:
 * err names the key and the holder; the connection is closed again, releasing the others), or a
 * connection error. */
static int status_open(struct sf_source *src, char *err, size_t errsz)
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
                     holder ? holder : herr[0] ? herr : "a session the database does not name");
            free(holder);
            rc = LOCK_BUSY;
        }
    }
    if (rc != SF_OK) {
        c->scx->close(c->status_conn);
        c->status_conn = NULL;
        return rc;
    }
    SF_DEBUG(SF_SOURCE_FMT "status connection up; %zu status-key lock(s) held",
             SF_SOURCE_ARGS(src), c->ntabs);
    return SF_OK;
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
        rc = status_open(src, err, sizeof(err));
        if (rc == LOCK_BUSY && !c->locks_held) {
            return fatal(src, "%s", err);
        }
        if (rc == LOCK_BUSY) {
            long long now = mono_ms();
            if (!c->lock_wait_ms0) {
                c->lock_wait_ms0 = now;
                SF_WARN(SF_SOURCE_FMT "the status connection was lost and %s; waiting up to %d s "
                        "for it", SF_SOURCE_ARGS(src), err, LOCK_WAIT_MS / 1000);
            }
            if (now - c->lock_wait_ms0 >= LOCK_WAIT_MS) {
                return fatal(src, "lost the status-key lock after the status connection was lost "
                             "and could not take it back within %d s: %s; stopping",
                             LOCK_WAIT_MS / 1000, err);
            }
            src->backoff_ms = 1000;
            return SF_BACKOFF;
        }
        if (rc != SF_OK) {
            if (rc == SF_ERR_AUTH || rc == SF_ERR_INVAL) {
                return fatal(src, "status database: %s", err);
            }
            return backoff(src, rc, "status database", err);
        }
        if (c->lock_wait_ms0) {
            SF_INFO(SF_SOURCE_FMT "took the status-key lock(s) back after %lld ms",
                    SF_SOURCE_ARGS(src), mono_ms() - c->lock_wait_ms0);
        } else if (c->locks_held) {
            SF_INFO(SF_SOURCE_FMT "status connection re-established; status-key lock(s) taken "
                    "back", SF_SOURCE_ARGS(src));
        }
        c->locks_held = true;
        c->lock_wait_ms0 = 0;
        c->lock_check_ms = mono_ms();
    } else if (mono_ms() - c->lock_check_ms >= LOCK_CHECK_MS) {
        /* the locks live as long as the session: a session killed server-side is noticed here,
         * and reconnected (locks first) before the next poll */
        char *v = NULL;
        c->lock_check_ms = mono_ms();
        rc = query_one_value(c->scx, c->status_conn, "SELECT 1", NULL, &v, err, sizeof(err));
        free(v);
        if (rc != SF_OK) {
            c->scx->close(c->status_conn);
            c->status_conn = NULL;
            return backoff(src, rc, "status connection lost (it holds the status-key locks)",
                           err);
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
    if (!t->prepared) {
        rc = prepare_table(src, t, err, sizeof(err), &is_fatal);
        if (rc != SF_OK) {
            if (is_fatal) {
                return fatal(src, "%s", err);
            }
            close_rows(c);
            return backoff(src, rc, "could not prepare the poll", err);
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
    if (c->backfill && !t->bf_loaded) {
        rc = bf_load(src, t, err, sizeof(err), &is_fatal);
        if (rc != SF_OK) {
            if (is_fatal) {
                return fatal(src, "%s", err);
            }
            close_conns(c);
            return backoff(src, rc, "could not prepare the backfill", err);
        }
        t->bf_loaded = true;
    }
    *ok = true;
    return SF_READY;
}

/* The offset a batch reaches: the last row's, or with gap tracking the encoded "hw;gaps". */
static const char *batch_offset(struct sql_table *t, struct sf_buf *last)
{
    if (!t->gaps_on) {
        return last->data;
    }
    sf_buf_reset(last);
    t->gst.over_text += (long long)sf_gapset_encode(&t->gs_work, last, SF_GAPS_TEXT_MAX);
    return last->data;
}

/* With gap tracking: load the state once, give up gaps past the timeout, and build
 *   (SELECT cols FROM t WHERE inc BETWEEN ? AND ? OR ... ORDER BY inc LIMIT n)
 *   UNION ALL (SELECT cols FROM t WHERE inc > ? ORDER BY inc LIMIT n)
 * (the first part only when there are gaps) with its parameters. The rows of the first part are
 * below hw, those of the second above it: read in that order they ascend, as sf_gapset_see
 * expects (which also copes with any order). @return the query text (in c->body's sibling buffer). */
static const char *gap_query(struct sf_source *src, struct sql_table *t, struct sf_param *params,
                             char (*num)[24], size_t *nparams)
{
    struct sql_ctx *c = src->ctx;
    long long now = mono_ms();
    if (!t->gaps_init) {
        t->gaps_init = true;
        sf_gapset_init(&t->gs, 0, SF_GAPS_MAX);
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
        sf_gapset_encode(&t->gs, &enc, SF_GAPS_TEXT_MAX);
        SF_DEBUG(SF_SOURCE_FMT "table \"%s\": %lld missing id(s) between %lld and %lld did not "
                 "appear within %lld ms; counted as a permanent gap", SF_SOURCE_ARGS(src),
                 t->status_key, ids, first, lastid, c->gap_timeout_ms);
        t->gst.expired++;
        t->gst.expired_ids += ids;
        /* an empty batch carries the new offset to flume_meta once everything before it is
         * delivered */
        sf_ack_tracker_add(t->tracker, 0, 1, enc.data);
        set_str(&t->read_offset, enc.data);
        sf_buf_free(&enc);
    }
    sf_gapset_copy(&t->gs_work, &t->gs);
    /* the rows filling gaps and the rows above hw as two index range scans: one WHERE with
     * "inc > ? OR inc BETWEEN ..." makes PostgreSQL scan everything above hw (a bitmap of the
     * whole rest of the table, then a sort) on every poll, quadratic in a table with holes */
    sf_buf_reset(&c->gap_sql);
    size_t k = 0;
    if (t->gs.n > 0) {
        sf_buf_printf(&c->gap_sql, "(%s WHERE ", t->sel_from.data);
        for (size_t i = 0; i < t->gs.n; i++) {
            sf_buf_printf(&c->gap_sql, "%s%s BETWEEN ", i ? " OR " : "", t->qinc.data);
            c->cx->placeholder((int)k + 1, &c->gap_sql);
            sf_buf_puts(&c->gap_sql, " AND ");
            c->cx->placeholder((int)k + 2, &c->gap_sql);
            snprintf(num[k], sizeof(num[k]), "%lld", t->gs.g[i].lo);
            snprintf(num[k + 1], sizeof(num[k + 1]), "%lld", t->gs.g[i].hi);
            params[k] = (struct sf_param){ num[k], SF_COL_INT };
            params[k + 1] = (struct sf_param){ num[k + 1], SF_COL_INT };
            k += 2;
        }
        sf_buf_printf(&c->gap_sql, " ORDER BY %s LIMIT %lld) UNION ALL (", t->qinc.data,
                      c->max_rows);
    }
    sf_buf_printf(&c->gap_sql, "%s WHERE %s > ", t->sel_from.data, t->qinc.data);
    c->cx->placeholder((int)k + 1, &c->gap_sql);
    snprintf(num[k], sizeof(num[k]), "%lld", t->gs.hw);
    params[k] = (struct sf_param){ num[k], SF_COL_INT };
    k++;
    sf_buf_printf(&c->gap_sql, " ORDER BY %s LIMIT %lld%s", t->qinc.data, c->max_rows,
                  t->gs.n > 0 ? ")" : "");
    *nparams = k;
    return c->gap_sql.data;
}

/* The integer id in s[0..n) (the text of an integer column), as strtoll(s, NULL, 10) gives it;
 * plain digits, the common case, without strtoll's locale and base handling. */
static long long parse_id(const char *s, size_t n)
{
    if (n == 0 || n > 18) {
        return strtoll(s, NULL, 10); /* signs, spaces, or possibly out of range */
    }
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9) {
            return strtoll(s, NULL, 10);
        }
        v = v * 10 + (long long)d;
    }
    return v;
}

/* Where the visible, offset and key columns of a poll or backfill result are. */
struct row_layout {
    size_t nvisible;
    int inc_idx, ts_idx;
    int key_idx[MAX_KEY_COLS];
    size_t nkey; /* 0 when the key columns are not in the result */
};

/* Find the columns of the query's result. @return NULL, or the name of the offset column that is
 * missing from the result (a fatal error). */
static const char *row_layout(const struct sql_ctx *c, const struct sql_table *t,
                              const struct sf_column *cols, size_t ncols, struct row_layout *lo)
{
    bool explicit_cols = !c->custom_query && strcmp(c->columns, "*") != 0;
    size_t hidden = (t->inc ? 1 : 0) + (t->ts ? 1 : 0) + t->npk;
    lo->nvisible = explicit_cols ? ncols - hidden : ncols;
    lo->inc_idx = -1;
    lo->ts_idx = -1;
    lo->nkey = t->npk < MAX_KEY_COLS ? t->npk : MAX_KEY_COLS;
    if (explicit_cols) {
        size_t at = lo->nvisible;
        lo->inc_idx = t->inc ? (int)at++ : -1;
        lo->ts_idx = t->ts ? (int)at++ : -1;
        for (size_t i = 0; i < lo->nkey; i++) {
            lo->key_idx[i] = (int)at++;
        }
    } else {
        lo->inc_idx = t->inc ? find_col(cols, ncols, t->inc) : (c->custom_query ? 0 : -1);
        lo->ts_idx = t->ts ? find_col(cols, ncols, t->ts) : -1;
        for (size_t i = 0; i < lo->nkey; i++) {
            lo->key_idx[i] = find_col(cols, ncols, t->pk[i]);
            if (lo->key_idx[i] < 0) {
                lo->nkey = 0;
            }
        }
    }
    if ((t->inc || c->custom_query) && lo->inc_idx < 0) {
        return t->inc ? t->inc : "(first column)";
    }
    if (t->ts && lo->ts_idx < 0) {
        return t->ts;
    }
    return NULL;
}

/* Build the JSON keys of a new result's visible columns (once per query, not per row); every
 * query that row_event() encodes rows of calls this first. */
static void prepare_keys(struct sql_ctx *c, const struct sf_column *cols, const struct row_layout *lo)
{
    c->fmt.json_keys = NULL;
    if (c->fmt.kind == SF_FORMAT_JSON) {
        sf_json_keys_build(&c->jkeys, cols, lo->nvisible);
        c->fmt.json_keys = &c->jkeys;
    }
}

/* Encode row into an event with the headers table, offset (the row's offset text off, off_len
 * bytes), key (the primary key values joined by ',', else off) and timestamp (ts, ts_len bytes).
 * @return NULL on out of memory. */
static struct sf_event *row_event(struct sql_ctx *c, const struct sql_table *t,
                                  const struct row_layout *lo, const struct sf_column *cols,
                                  const struct sf_row *row, const char *off, size_t off_len,
                                  const char *ts, size_t ts_len)
{
    struct sf_row vis = { lo->nvisible, row->vals, row->lens };
    sf_buf_reset(&c->body);
    sf_format_row(&c->fmt, cols, &vis, &c->body);
    sf_buf_reset(&c->keybuf);
    if (lo->nkey) {
        for (size_t i = 0; i < lo->nkey; i++) {
            if (i) {
                sf_buf_putc(&c->keybuf, ',');
            }
            const char *kv = row->vals[lo->key_idx[i]];
            if (kv) {
                sf_buf_append(&c->keybuf, kv, row->lens[lo->key_idx[i]]);
            }
        }
    } else {
        sf_buf_append(&c->keybuf, off, off_len);
    }
    const char *table = t->name ? t->name : t->status_key;
    struct sf_header_lens h[4] = {
        { SF_HDR_TABLE, sizeof(SF_HDR_TABLE) - 1, table, strlen(table) },
        { SF_HDR_OFFSET, sizeof(SF_HDR_OFFSET) - 1, off, off_len },
        { SF_HDR_KEY, sizeof(SF_HDR_KEY) - 1, c->keybuf.data ? c->keybuf.data : "", c->keybuf.len },
        { SF_HDR_TIMESTAMP, sizeof(SF_HDR_TIMESTAMP) - 1, ts, ts_len },
    };
    return sf_event_create_lens(h, 4, c->body.data, c->body.len);
}

/*
 * Gap tracking's summary: one line per table at most every GAP_REPORT_MS (the first one at once)
 * instead of a line per range, since tables whose ids step by 2 or more (deleted rows,
 * auto_increment_increment, sequence caches) open a range per row. A WARN when ranges were given
 * up (a row committing later in one is never read), else nothing: opening and filling ranges is
 * normal. force (at stop) writes what is pending at once.
 */
static void gap_report(struct sf_source *src, struct sql_table *t, bool force)
{
    struct gap_stats *g = &t->gst;
    struct sql_ctx *c = src->ctx;
    long long now = mono_ms();
    if (g->since_ms == 0) {
        g->since_ms = now;
    }
    if (g->over_max + g->over_text + g->expired == 0 ||
        (!force && g->reported && now - g->since_ms < GAP_REPORT_MS)) {
        return;
    }
    SF_WARN(SF_SOURCE_FMT "table \"%s\": ranges of missing ids in the last %lld s: %lld opened, "
            "%lld filled by rows that committed late, %lld given up (more than %d tracked at "
            "once), %lld given up to fit currentIndex, %lld (%lld ids) given up after "
            "incremental.gap.timeout.ms = %lld; a row that commits later in a range given up is "
            "not read (at most one such line a minute)",
            SF_SOURCE_ARGS(src), t->status_key, (now - g->since_ms + 999) / 1000, g->opened,
            g->filled, g->over_max, SF_GAPS_MAX, g->over_text, g->expired, g->expired_ids,
            c->gap_timeout_ms);
    *g = (struct gap_stats){ .since_ms = now, .reported = true };
}

/* Run one query of table t and deliver its rows. *rows gets the number read.
 * @return SF_READY when the poll completed, else the status to return (backoff/fatal). */
static enum sf_status poll_table(struct sf_source *src, struct sql_table *t, long long *rows)
{
    long long poll_start_ms = mono_ms(); /* first-seen time of gaps opened by this poll */
    struct sql_ctx *c = src->ctx;
    char err[1024] = "";
    *rows = 0;
    /* the bound offset parameters of the mode */
    struct sf_param params[3];
    size_t nparams = 0;
    char *ts_part = NULL;
    const char *inc_part = NULL;
    if (!t->read_offset) {
        nparams = 0; /* no offset yet: t->sql_first, without a lower bound */
    } else if (c->mode == MODE_TS_INC) {
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
    const char *sql = t->read_offset ? t->sql.data : t->sql_first.data;
    struct sf_param gparams[1 + 2 * SF_GAPS_MAX];
    char gnum[1 + 2 * SF_GAPS_MAX][24];
    bool gapq = t->gaps_on && t->read_offset;
    if (gapq) {
        sql = gap_query(src, t, gparams, gnum, &nparams);
    }
    const struct sf_column *cols;
    size_t ncols;
    int rc = c->cx->query(c->conn, sql, gapq ? gparams : params, nparams, &cols, &ncols, err,
                          sizeof(err));
    free(ts_part);
    if (rc != SF_OK) {
        if (!sf_err_retriable(rc)) {
            return fatal(src, "poll query of \"%s\" failed: %s", t->status_key, err);
        }
        close_rows(c);
        return backoff(src, rc, "poll query failed", err);
    }
    /* where the offset and key values are in each row */
    struct row_layout lo;
    const char *missing = row_layout(c, t, cols, ncols, &lo);
    prepare_keys(c, cols, &lo);
    if (missing) {
        c->cx->query_end(c->conn);
        return fatal(src, "%s column \"%s\" is not in the result of the query",
                     missing == t->ts ? "timestamp" : "incremental", missing);
    }
    int inc_idx = lo.inc_idx, ts_idx = lo.ts_idx;
    const char *table_name = t->name ? t->name : t->status_key;
    size_t n = 0;
    struct sf_buf last = SF_BUF_INIT;
    struct sf_row row;
    int got;
    char tsbuf[24] = "";
    size_t ts_len = 0;
    while ((got = c->cx->fetch(c->conn, &row, err, sizeof(err))) == 1) {
        (*rows)++;
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
                long long id = parse_id(last.data, last.len);
                if (!t->gaps_init) {
                    /* no offset yet, first row: ids from 1 below it may still commit (as with
                     * the seed's start at 0); an id of 0 or below starts the set right under it */
                    t->gaps_init = true;
                    sf_gapset_init(&t->gs_work, id > 0 || id == LLONG_MIN ? 0 : id - 1,
                                   SF_GAPS_MAX);
                }
                if (id > t->gs_work.hw + 1) {
                    t->gst.opened++;
                } else if (sf_gapset_in_gap(&t->gs_work, id)) {
                    t->gst.filled++;
                }
                t->gst.over_max += (long long)sf_gapset_see(&t->gs_work, id, poll_start_ms);
            }
        }
        if (!last.data) {
            sf_buf_puts(&last, "");
        }
        if (n == 0) {
            int k = snprintf(tsbuf, sizeof(tsbuf), "%lld", now_ms());
            ts_len = k > 0 ? (size_t)k : 0;
        }
        struct sf_event *ev = row_event(c, t, &lo, cols, &row, last.data, last.len, tsbuf, ts_len);
        if (!ev) {
            c->cx->query_end(c->conn);
            free_batch(c, n);
            sf_buf_free(&last);
            return backoff(src, SF_ERR_NOMEM, "could not allocate an event", "out of memory");
        }
        c->batch[n++] = ev;
        if (n == (size_t)c->batch_size) {
            rc = deliver_batch(src, t, n, batch_offset(t, &last));
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
        close_rows(c);
        return backoff(src, got, "reading rows failed", err);
    }
    c->cx->query_end(c->conn);
    if (n > 0) {
        rc = deliver_batch(src, t, n, batch_offset(t, &last));
        if (rc != SF_OK) {
            sf_buf_free(&last);
            return SF_BACKOFF;
        }
    }
    sf_buf_free(&last);
    if (*rows > 0) {
        SF_DEBUG(SF_SOURCE_FMT "read %lld rows of \"%s\" up to offset \"%s\"",
                 SF_SOURCE_ARGS(src), *rows, t->status_key, OFF_TEXT(t->read_offset));
    }
    return SF_READY;
}

/* ---- backfill: chunks and progress reports ------------------------------------------------------
 */

/* Wait until every channel has room for n more events, writing offsets meanwhile: on a full
 * channel sf_source_deliver backs off up to a second at a time and writes nothing, so the
 * .backfill row would fall behind what the sinks delivered. Advisory (another source may take the
 * room first; sf_source_deliver still waits then). @return false when stopping. */
static bool wait_room(struct sf_source *src, size_t n)
{
    for (;;) {
        bool room = true;
        for (size_t i = 0; i < src->nch; i++) {
            const struct sf_channel *ch = src->chs[i];
            long long want = (long long)sf_channel_size(src->chs[i]) + (long long)n;
            if ((long long)n <= ch->capacity && want > ch->capacity) {
                room = false;
            }
        }
        if (room) {
            return true;
        }
        flush_offsets(src, false);
        if (!sf_source_sleep(src, BF_ROOM_WAIT_MS)) {
            return false;
        }
    }
}

/* 1234 -> "1234", 123456 -> "123.5k", 12345678 -> "12.3M" */
static void human_count(double v, char *out, size_t outsz)
{
    if (v < 10000) {
        snprintf(out, outsz, "%.0f", v);
    } else if (v < 1e6) {
        snprintf(out, outsz, "%.1fk", v / 1e3);
    } else if (v < 1e9) {
        snprintf(out, outsz, "%.1fM", v / 1e6);
    } else {
        snprintf(out, outsz, "%.1fG", v / 1e9);
    }
}

static void human_duration(double secs, char *out, size_t outsz)
{
    long long s = (long long)(secs + 0.5);
    if (s < 60) {
        snprintf(out, outsz, "%llds", s);
    } else if (s < 3600) {
        snprintf(out, outsz, "%lldm%02llds", s / 60, s % 60);
    } else {
        snprintf(out, outsz, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    }
}

/* Clear the progress bar line (before the backfill's last log line, and at stop). */
static void bar_clear(struct sql_ctx *c)
{
    if (c->bar_shown) {
        ssize_t w = write(STDERR_FILENO, "\r\033[K", 4);
        (void)w;
        c->bar_shown = false;
    }
}

/* Progress of the table's backfill: a log line at most every BF_LOG_MS (rows read of the
 * estimate, rate, ETA) and, when stderr is a terminal, a one-line bar redrawn in place. The bar
 * ends with '\r' so that a log line written meanwhile overwrites it rather than following it. */
static void bf_report(struct sf_source *src, struct sql_table *t)
{
    struct sql_ctx *c = src->ctx;
    long long now = mono_ms();
    bool log_due = now - t->bf_log_ms >= BF_LOG_MS;
    bool bar_due = c->tty && now - t->bf_bar_ms >= BF_BAR_MS;
    if (!log_due && !bar_due) {
        return;
    }
    double secs = (double)(now - t->bf_start_ms) / 1000.0;
    double rate = secs > 0.001 ? (double)(t->bf_rows - t->bf_rows_run0) / secs : 0.0;
    long long est = t->bf_estimate;
    if (est >= 0 && est < t->bf_rows) {
        est = t->bf_rows; /* statistics are estimates: never show more than 100% */
    }
    char eta[32] = "?", rate_s[16], rows_s[16], est_s[16];
    if (est > 0 && rate > 0) {
        human_duration((double)(est - t->bf_rows) / rate, eta, sizeof(eta));
    }
    double pct = est > 0 ? 100.0 * (double)t->bf_rows / (double)est : 0.0;
    if (bar_due) {
        t->bf_bar_ms = now;
        human_count(rate, rate_s, sizeof(rate_s));
        human_count((double)t->bf_rows, rows_s, sizeof(rows_s));
        char line[192];
        int len;
        if (est > 0) {
            char cells[21];
            int full = (int)(pct / 5.0);
            for (int i = 0; i < 20; i++) {
                cells[i] = i < full ? '#' : '.';
            }
            cells[20] = '\0';
            human_count((double)est, est_s, sizeof(est_s));
            len = snprintf(line, sizeof(line),
                           "\r\033[Kbackfill %.20s [%s] %3.0f%% %s/%s rows %s/s ETA %s\r",
                           t->status_key, cells, pct, rows_s, est_s, rate_s, eta);
        } else {
            len = snprintf(line, sizeof(line), "\r\033[Kbackfill %.20s %s rows %s/s\r",
                           t->status_key, rows_s, rate_s);
        }
        if (len > 0) {
            ssize_t w = write(STDERR_FILENO, line, (size_t)len < sizeof(line) ? (size_t)len
                                                                               : sizeof(line) - 1);
            (void)w;
            c->bar_shown = true;
        }
    }
    if (log_due) {
        t->bf_log_ms = now;
        if (est > 0) {
            SF_INFO(SF_SOURCE_FMT "table \"%s\": backfill at chunk %lld: %lld of about %lld rows "
                    "(%.0f%%), %.0f rows/s, ETA %s",
                    SF_SOURCE_ARGS(src), t->status_key, t->bf_chunks, t->bf_rows, est, pct, rate,
                    eta);
        } else {
            SF_INFO(SF_SOURCE_FMT "table \"%s\": backfill at chunk %lld: %lld rows (total "
                    "unknown), %.0f rows/s",
                    SF_SOURCE_ARGS(src), t->status_key, t->bf_chunks, t->bf_rows, rate);
        }
    }
}

/*
 * Put the backfill rows c->batch[0..n) into the channels, registered with the table's backfill
 * tracker under the progress they complete: last_key is the key of their last row (unused when
 * n == 0), chunk_end says they end a chunk, done that nothing is left to read. With n == 0 the
 * progress alone is registered (an empty batch, committable once everything before it is). The
 * in-memory read position advances only when the channels took the rows.
 * @return SF_OK, or SF_ERR_STOPPED (the events are freed).
 */
static int bf_deliver(struct sf_source *src, struct sql_table *t, size_t n, const char *last_key,
                      bool chunk_end, bool done)
{
    struct sql_ctx *c = src->ctx;
    if (n > 0 && !wait_room(src, n)) {
        free_batch(c, n);
        return SF_ERR_STOPPED;
    }
    long long chunks = t->bf_chunks + (chunk_end ? 1 : 0);
    long long rows = t->bf_rows + (long long)n;
    const char *key = n > 0 ? last_key : t->bf_key;
    if (!bf_encode(c, done, chunks, rows, key, t->bf_hwm)) {
        /* a key too long for currentIndex: keep the last progress that fit (a restart repeats
         * more rows, nothing is lost) */
        if (!t->bf_warned_long) {
            SF_WARN(SF_SOURCE_FMT "table \"%s\": a primary key value is too long to keep in %s; "
                    "backfill progress is recorded only where keys fit",
                    SF_SOURCE_ARGS(src), t->status_key, c->status_table);
            t->bf_warned_long = true;
        }
        sf_buf_reset(&c->bf_prog);
        sf_buf_puts(&c->bf_prog, t->bf_reg);
    }
    uint64_t id =
        sf_ack_tracker_add(t->bf_tracker, n, n > 0 ? (unsigned)src->nch : 1u, c->bf_prog.data);
    int rc = SF_OK;
    if (n > 0) {
        for (size_t i = 0; i < n; i++) {
            c->batch[i]->tracker = t->bf_tracker;
            c->batch[i]->ack_id = id;
        }
        atomic_fetch_add(&src->metrics.batch_received, 1);
        atomic_fetch_add(&src->metrics.event_received, (long long)n);
        rc = sf_source_deliver(src, c->batch, n, t->bf_chan_key, c->bf_prog.data);
        for (size_t i = 0; i < n; i++) {
            c->batch[i] = NULL; /* the channels own them, or sf_source_deliver freed them */
        }
        if (rc == SF_OK) {
            atomic_fetch_add(&src->metrics.batch_accepted, 1);
            atomic_fetch_add(&src->metrics.event_accepted, (long long)n);
        }
    }
    if (rc == SF_OK) {
        t->bf_chunks = chunks;
        t->bf_rows = rows;
        t->bf_chunk_rows = chunk_end ? 0 : t->bf_chunk_rows + (long long)n;
        if (n > 0) {
            set_str(&t->bf_key, last_key);
        }
        set_str(&t->bf_reg, c->bf_prog.data);
    }
    return rc;
}

/*
 * Read the table's next backfill chunk (the rest of it, when an error cut the last one short)
 * and put it into the channels. A chunk that comes back short ends the backfill: the table
 * streams from then on. *rows gets the number read.
 * @return SF_READY, or the status to return (backoff/fatal).
 */
static enum sf_status backfill_chunk(struct sf_source *src, struct sql_table *t, long long *rows)
{
    struct sql_ctx *c = src->ctx;
    char err[1024] = "";
    *rows = 0;
    long long limit = c->bf_chunk_size - t->bf_chunk_rows;
    struct sf_param params[4];
    int np = 0;
    struct sf_buf *q = &c->bf_sql;
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
    if (t->bf_chunks == 0 && !t->bf_key) {
        SF_INFO(SF_SOURCE_FMT "backfill chunks of \"%s\": %s", SF_SOURCE_ARGS(src),
                t->status_key, q->data);
    }
    const struct sf_column *cols;
    size_t ncols;
    int rc = c->cx->query(c->conn, q->data, params, (size_t)np, &cols, &ncols, err, sizeof(err));
    if (rc != SF_OK) {
        if (!sf_err_retriable(rc)) {
            return fatal(src, "backfill query of \"%s\" failed: %s", t->status_key, err);
        }
        close_rows(c);
        return backoff(src, rc, "backfill query failed", err);
    }
    struct row_layout lo;
    const char *missing = row_layout(c, t, cols, ncols, &lo);
    prepare_keys(c, cols, &lo);
    if (missing || lo.nkey != 1) {
        c->cx->query_end(c->conn);
        return fatal(src, "column \"%s\" is not in the result of the backfill query of \"%s\"",
                     missing ? missing : t->pk[0], t->status_key);
    }
    int key_idx = lo.key_idx[0];
    enum sf_status st = SF_READY;
    size_t n = 0;
    struct sf_buf off = SF_BUF_INIT, key = SF_BUF_INIT;
    char tsbuf[24] = "";
    size_t ts_len = 0;
    struct sf_row row;
    int got;
    while ((got = c->cx->fetch(c->conn, &row, err, sizeof(err))) == 1) {
        if (n == (size_t)c->batch_size) {
            /* a full batch goes once the next row shows it is not the chunk's last (the last
             * one carries the chunk's end, or "done") */
            rc = bf_deliver(src, t, n, key.data, false, false);
            n = 0;
            if (rc != SF_OK) { /* stopping */
                st = SF_BACKOFF;
                goto out;
            }
            flush_offsets(src, false);
            bf_report(src, t);
        }
        const char *kv = row.vals[key_idx];
        if (!kv || memchr(kv, '\0', row.lens[key_idx])) {
            st = fatal(src, "a row of \"%s\" has a primary key that is %s; the backfill cannot "
                       "resume after it", t->status_key, kv ? "text with a NUL byte" : "NULL");
            goto out;
        }
        (*rows)++;
        sf_buf_reset(&key);
        sf_buf_append(&key, kv, row.lens[key_idx]);
        /* the row's offset value, as streaming would give it */
        sf_buf_reset(&off);
        if (lo.ts_idx >= 0 && row.vals[lo.ts_idx]) {
            sf_buf_append(&off, row.vals[lo.ts_idx], row.lens[lo.ts_idx]);
        }
        if (lo.inc_idx >= 0 && row.vals[lo.inc_idx]) {
            if (lo.ts_idx >= 0) {
                sf_buf_putc(&off, ',');
            }
            sf_buf_append(&off, row.vals[lo.inc_idx], row.lens[lo.inc_idx]);
        }
        if (!off.data) {
            sf_buf_puts(&off, "");
        }
        if (n == 0) {
            int k = snprintf(tsbuf, sizeof(tsbuf), "%lld", now_ms());
            ts_len = k > 0 ? (size_t)k : 0;
        }
        struct sf_event *ev = row_event(c, t, &lo, cols, &row, off.data, off.len, tsbuf, ts_len);
        if (!ev) {
            st = backoff(src, SF_ERR_NOMEM, "could not allocate an event", "out of memory");
            goto out;
        }
        c->batch[n++] = ev;
    }
    if (got < 0) {
        if (!sf_err_retriable(got)) {
            st = fatal(src, "reading backfill rows of \"%s\" failed: %s", t->status_key, err);
        } else {
            c->cx->query_end(c->conn);
            close_rows(c);
            st = backoff(src, got, "reading backfill rows failed", err);
        }
        goto out; /* the rows of this batch are read again from the last key delivered */
    }
    c->cx->query_end(c->conn);
    bool done = *rows < limit;
    rc = bf_deliver(src, t, n, key.data, !done, done);
    n = 0;
    if (rc != SF_OK) {
        st = SF_BACKOFF;
        goto out;
    }
    if (done) {
        t->bf = BF_DONE;
        bar_clear(c);
        double secs = (double)(mono_ms() - t->bf_start_ms) / 1000.0;
        SF_INFO(SF_SOURCE_FMT "table \"%s\": backfill read its last chunk: %lld rows in %lld "
                "chunk(s) (%lld in %.1f s this run, %.0f rows/s); streaming continues after "
                "\"%s\"",
                SF_SOURCE_ARGS(src), t->status_key, t->bf_rows, t->bf_chunks + (*rows > 0),
                t->bf_rows - t->bf_rows_run0, secs,
                secs > 0.001 ? (double)(t->bf_rows - t->bf_rows_run0) / secs : 0.0,
                OFF_TEXT(t->read_offset));
    } else {
        bf_report(src, t);
    }
out:
    free_batch(c, n);
    if (c->conn) {
        c->cx->query_end(c->conn);
    }
    sf_buf_free(&off);
    sf_buf_free(&key);
    return st;
}

static enum sf_status sql_process(struct sf_source *src)
{
    struct sql_ctx *c = src->ctx;
    if (c->fatal_logged) {
        src->backoff_ms = 1000;
        return SF_BACKOFF;
    }
    /* between polls, wake at least every OFFSET_FLUSH_MS so delivered offsets reach flume_meta even
     * with a long run.query.delay */
    long long wait_ms = c->next_poll_ms - mono_ms();
    if (wait_ms > 0) {
        flush_offsets(src, false);
        src->backoff_ms = wait_ms < OFFSET_FLUSH_MS ? wait_ms : OFFSET_FLUSH_MS;
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
    bool full;
    if (t->bf == BF_RUNNING && t->bf_wait_txns) {
        char err[1024] = "";
        bool waiting;
        int rc = bf_open_txns_wait(src, t, &waiting, err, sizeof(err));
        if (rc != SF_OK) {
            if (!sf_err_retriable(rc)) {
                return fatal(src, "checking the open transactions for the backfill of \"%s\" "
                             "failed: %s", t->status_key, err);
            }
            close_rows(c);
            return backoff(src, rc, "checking open transactions failed", err);
        }
        rows = 0;
        full = !waiting;
        c->bf_waiting |= waiting;
        st = SF_READY;
    } else if (t->bf == BF_RUNNING) {
        /* one chunk per turn; the table streams at once when it was the last */
        st = backfill_chunk(src, t, &rows);
        full = true;
    } else {
        st = poll_table(src, t, &rows);
        if (t->gaps_on) {
            gap_report(src, t, false);
        }
        full = c->mode != MODE_BULK && c->mode != MODE_TIMESTAMP && !c->custom_query &&
               rows >= c->max_rows;
    }
    if (st != SF_READY) {
        return st;
    }
    c->backoff_ms = 0;
    flush_offsets(src, false);
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
    c->next_poll_ms = mono_ms() + delay;
    src->backoff_ms = delay < OFFSET_FLUSH_MS ? delay : OFFSET_FLUSH_MS;
    return SF_BACKOFF;
}

static void sql_stop(struct sf_source *src)
{
    struct sql_ctx *c = src->ctx;
    bar_clear(c);
    if (c->cx && c->tabs) {
        flush_offsets(src, true);
        for (size_t i = 0; i < c->ntabs; i++) {
            if (c->tabs[i].gaps_on) {
                gap_report(src, &c->tabs[i], true);
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
        sf_buf_free(&t->sql_first);
        sf_buf_free(&t->sel_from);
        sf_buf_free(&t->qinc);
        sf_buf_free(&t->qts);
        sf_buf_free(&t->qtab);
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
