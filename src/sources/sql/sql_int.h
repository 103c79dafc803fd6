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
 * OFFSET_FLUSH_MS (200 ms) and at stop (a durable channel also records it with each put). A restart
 * resumes after K, at chunk N, so a kill -9 repeats only what was delivered after the last write, a
 * clean stop nothing. With several tables the round-robin goes on: each turn of a backfilling table
 * reads one chunk, so a big backfill does not hold back the other tables. Progress is logged every
 * 5 s (rows of the server's row estimate, rate, ETA), and drawn as a one-line bar when stderr is a
 * terminal. Known limit: like Sqoop, a row whose transaction commits after its key was passed (an
 * id below hwm committing late) is not read by the backfill; streaming starts at hwm.
 */

/* Internal to the SQL source (the .c files of src/sources/sql); not a public interface. Each
 * function declared here is documented at its definition, in the file named above its group.
 *
 * Files, one concern each:
 *   sql_source.c  the plugin: options table, configure, start, the scheduler (process: one table
 *                 per turn, round-robin, run.query.delay), stop; clocks and string helpers
 *   ready.c       the connection state machine (connect, backoff, fatal errors, the lock wait
 *                 after a reconnect) and preparing a table (roles of its columns, their types)
 *   query.c       the query builder: (dialect, table, mode, offset) -> SQL text and parameters;
 *                 pure (the connector's quoting and placeholders only, no connection)
 *   meta.c        the flume_meta store: the only code that reads or writes the status table (and
 *                 creates it), takes and checks the status-key locks, writes delivered offsets
 *   offset.c      offset ordering (in C for integers, else by the database) and where a table
 *                 resumes (flume_meta against the durable channels' records; raised to a
 *                 backfill's high-water mark)
 *   fetch.c       the one fetch -> batch -> deliver loop of polls and backfill chunks, and the
 *                 delivery of a batch (tracker, channels, counters)
 *   poll.c        one poll of a table: its query, its rows' offsets, its batches' delivery
 *   row.c         where a result's columns are, and a row into an event
 *   gaps.c        gap tracking's use in the source (ids that commit out of order)
 *   backfill.c    the backfill: start-up (high-water mark, resume), a chunk's query, keys and
 *                 delivery
 *   bf_codec.c    the backfill's progress values in flume_meta: encode, parse, rank
 *   progress.c    the backfill's progress reports: log lines with rate and ETA, the terminal bar */

#ifndef SF_SQL_SOURCE_INTERNAL_H
#define SF_SQL_SOURCE_INTERNAL_H

#include "sqlflume/buf.h"
#include "sqlflume/clock.h"
#include "sqlflume/connector.h"
#include "sqlflume/error.h"
#include "sqlflume/format.h"
#include "sqlflume/avro_row.h"
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
#define BACKOFF_MAX_MS   8000
#define BF_WAIT_POLL_MS  500 /* while a backfill waits for open transactions, look this often */
#define OFFSET_FLUSH_MS  200 /* delivered offsets reach flume_meta at most this often, ms */
#define MAX_KEY_COLS     16
#define TS_FLOOR         "0001-01-01 00:00:00"
#define OFF_TEXT(o)      ((o) ? (o) : "(no offset yet: from the first row)")
#define BF_SUFFIX        ".backfill"
#define BF_VALUE_MAX     255  /* flume_meta.currentIndex is VARCHAR(255) */
#define BF_LOG_MS        5000 /* progress log lines at most this often */
#define BF_BAR_MS        250  /* terminal progress bar redraws at most this often */
#define BF_ROOM_WAIT_MS  20   /* backfill: re-check for channel room (writing offsets) this often */
#define LOCK_WAIT_MS                                                                               \
    30000 /* after a reconnect, wait this long for a status-key lock held elsewhere */
#define LOCK_CHECK_MS 1000  /* the status connection (holding the locks) is checked this often */
#define LOCK_BUSY     1     /* sq_status_open: a status key's lock is held by another session */
#define GAP_REPORT_MS 60000 /* gap tracking's summary line at most this often per table, ms */
/* While a backlog is read (polls of max.rows rows), the gap ranges are read again at most this
 * often, ms, instead of on every poll: planning the ranges' ORs cost PostgreSQL about 1 ms a
 * poll; a row committing late in a gap is then read at most this much later */
#define GAP_RECHECK_MS 1000

enum poll_mode { MODE_INCREMENTING = 0, MODE_TIMESTAMP, MODE_TS_INC, MODE_BULK };
enum bf_state { BF_OFF = 0, BF_RUNNING, BF_DONE };

/* What gap tracking did since its last summary line: ranges of missing ids opened by a row above
 * the highest id, filled by a row that committed late, and given up (more than SF_GAPS_MAX at
 * once; to fit currentIndex; after incremental.gap.timeout.ms). */
struct gap_stats {
    long long opened, filled, over_max, over_text, expired, expired_ids;
    long long since_ms; /* monotonic ms of the last summary (or of the first count after it) */
    bool reported;      /* a summary line was written already */
};

/* One polled table (or the custom query) with its own offsets and delivery tracker. */
struct sql_table {
    char *name;          /* NULL for custom.query without table */
    char *status_key;    /* source_tab of its flume_meta row */
    uint64_t lock_id;    /* its status-key lock (sf_status_lock_id) */
    char lock_param[24]; /* the id as lock_*_sql bind it (sf_status_lock_param) */
    char *chan_key;      /* key of its offsets inside durable channels: "<source>/<status_key>" */
    char **pk;           /* primary key columns */
    size_t npk;
    char *inc; /* incremental column (incrementing, timestamp+incrementing) */
    char *ts;  /* timestamp column (timestamp, timestamp+incrementing) */
    enum sf_coltype inc_type, ts_type;
    struct sf_buf sql;
    struct sf_buf sql_first; /* the poll without the offset's lower bound (no offset yet) */
    bool prepared;
    bool inc_warned; /* the WARN on an explicit incremental column without a usable order */
    bool null_warned; /* the WARN on NULLs in the incremental or timestamp column (once) */
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
    struct gap_stats gst;     /* since the last summary line (sq_gap_report) */
    bool poll_full;           /* the last poll read max.rows rows: a backlog is being read */
    long long gap_checked_ms; /* when a poll last read the gap ranges again (monotonic ms) */
    struct sf_buf sel_from;   /* "SELECT cols FROM t" */
    struct sf_buf qinc;       /* the quoted incremental column */
    struct sf_buf qts;        /* the quoted timestamp column */
    struct sf_buf qtab;       /* the quoted table */
    struct sf_avro_schema avro; /* format avro: the schema of the last result's visible columns */
    /* backfill (backfill = true) */
    bool bf_loaded;
    enum bf_state bf;
    char *bf_status_key; /* "<status_key>.backfill" */
    char *bf_chan_key;   /* its key inside durable channels */
    struct sf_ack_tracker *bf_tracker;
    char *bf_written;        /* last value written to flume_meta */
    char *bf_pending;        /* delivered, not yet written */
    char *bf_reg;            /* last progress registered with bf_tracker */
    char *bf_hwm;            /* high-water mark: an offset of the mode */
    char *bf_h1, *bf_h2;     /* its parts bound as parameters (ts and inc for timestamp+inc) */
    char *bf_key;            /* last key put into the channels; NULL = before the first */
    long long bf_chunks;     /* chunks read completely */
    long long bf_rows;       /* rows put into the channels, earlier runs included */
    long long bf_chunk_rows; /* rows of the current chunk put so far */
    long long bf_rows_run0;  /* bf_rows when this run's backfill began (for the rate) */
    long long bf_estimate;   /* rows the server estimates, -1 = unknown */
    long long bf_start_ms, bf_log_ms, bf_bar_ms;
    bool bf_warned_long;
    char *bf_wait_txns; /* write transactions open at the backfill's start, still awaited */
    long long bf_wait_ms0, bf_wait_log_ms;
    struct sf_buf qpk; /* the quoted primary key column */
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
    const struct sf_connector_plugin *cx; /* rows */
    const struct sf_connector_plugin
        *scx; /* status table (the same unless status.connection.url) */
    struct sf_db_url dburl, status_dburl;
    char *redacted_url;
    struct sf_conn *conn;        /* rows and table metadata */
    struct sf_conn *status_conn; /* flume_meta reads and writes */
    struct sf_buf upsert_sql;
    bool status_ready;
    bool locks_held;         /* the status-key locks were taken once (a later failure: lost) */
    long long lock_wait_ms0; /* monotonic ms the wait for a lost lock began; 0 = not waiting */
    long long lock_check_ms; /* monotonic ms of the last check of the status connection */
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
    bool tty;       /* stderr is a terminal: draw the backfill progress bar */
    bool bar_shown; /* the bar is on the screen (cleared before it ends) */
};

/* Backfill progress as kept in flume_meta (see the file comment). */
struct bf_prog {
    bool done;
    bool has_chunk;
    long long chunks, rows;
    char *key; /* NULL = no row delivered yet */
    char *hwm; /* NULL only in a bare "done" */
};

/* Where the visible, offset and key columns of a poll or backfill result are. */
struct row_layout {
    const struct sf_column *cols; /* the result's columns (the connector's, until query_end) */
    size_t nvisible;
    int inc_idx, ts_idx;
    int key_idx[MAX_KEY_COLS];
    size_t nkey; /* 0 when the key columns are not in the result */
};

/* What ops->row of the fetch loop says of a row. */
enum { ROW_EVENT = 0, ROW_SKIP, ROW_FATAL };

struct fetch;

/* The differences between the users of the fetch -> batch -> deliver loop (sq_fetch_deliver): a
 * poll (poll.c) and a backfill chunk (backfill.c). */
struct fetch_ops {
    const char *what;      /* "poll", "backfill": in the messages of a failed query */
    const char *rows_what; /* "rows", "backfill rows": in the messages of a failed fetch */
    /* a full batch goes when the next row arrives (so that the result's last batch is the one
     * delivered with end), not as soon as it is full */
    bool full_on_next;
    bool end_empty; /* the end is delivered even with no event left (it carries progress) */
    /* Whether the result's layout f->lo serves (missing: sq_row_layout's answer); false with
     * f->err filled: a fatal error. */
    bool (*layout)(struct fetch *f, const char *missing);
    /* Check a row and append its offset text to f->last (empty on entry): ROW_EVENT, ROW_SKIP
     * (not encoded, still counted as read) or ROW_FATAL (f->err filled). */
    int (*row)(struct fetch *f, const struct sf_row *row);
    /* Put c->batch[0..n) into the channels (f->last: the offset of the row read last, which it
     * may overwrite; end: every row of the result is read). @return SF_OK or SF_ERR_STOPPED (the
     * events are the channels' or freed either way). */
    int (*deliver)(struct fetch *f, size_t n, bool end);
    /* After a batch that did not end the result went and the offsets were written; may be NULL. */
    void (*after_batch)(struct sf_source *src, struct sql_table *t);
};

/* One run of the fetch loop: set src, t, ops and arg (the caller's, for its callbacks); the loop
 * fills the rest. */
struct fetch {
    struct sf_source *src;
    struct sql_table *t;
    const struct fetch_ops *ops;
    void *arg;
    long long rows;       /* rows read so far */
    struct row_layout lo; /* where the result's columns are */
    struct sf_buf last;   /* the offset text of the row read last */
    char err[1024];       /* what failed */
};

extern const struct sf_source_plugin sf_source_sql;

/* sql_source.c */
long long sq_now_ms(void);
void sq_set_str(char **dst, const char *val);

/* offset.c */
bool sq_is_integer(const char *s);
int sq_load_offset(struct sf_source *src, struct sql_table *t, char *err, size_t errsz);
int sq_raise_offset(struct sf_source *src,
                    struct sql_table *t,
                    const char *hwm,
                    char *err,
                    size_t errsz);

/* meta.c */
int sq_rows_value(struct sql_ctx *c,
                  const char *sql,
                  const char *p1,
                  char **out,
                  char *err,
                  size_t errsz);
int sq_meta_get(struct sql_ctx *c, const char *key, char **out, char *err, size_t errsz);
int sq_meta_put(struct sql_ctx *c, const char *key, const char *val, char *err, size_t errsz);
int sq_prepare_status(struct sf_source *src, char *err, size_t errsz, bool *is_fatal);
int sq_status_open(struct sf_source *src, char *err, size_t errsz);
void sq_flush_offsets(struct sf_source *src, bool force);
int sq_status_check(struct sql_ctx *c, char *err, size_t errsz);

/* ready.c */
void sq_free_pk(struct sql_table *t);
void sq_close_rows(struct sql_ctx *c);
void sq_close_conns(struct sql_ctx *c);
enum sf_status sq_backoff(struct sf_source *src, int err, const char *what, const char *msg);
enum sf_status sq_fatal(struct sf_source *src, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int sq_probe_type(struct sql_ctx *c,
                  const char *qtable,
                  const char *col,
                  enum sf_coltype *out,
                  char *err,
                  size_t errsz);
int sq_prepare_table(struct sf_source *src,
                     struct sql_table *t,
                     char *err,
                     size_t errsz,
                     bool *is_fatal);
enum sf_status sq_ensure_ready(struct sf_source *src, struct sql_table *t, bool *ok);

/* query.c */
void sq_build_custom_sql(const struct sql_ctx *c, struct sf_buf *out);
int sq_build_poll_sql(const struct sql_ctx *c, struct sql_table *t, char *err, size_t errsz);
size_t sq_poll_params(const struct sql_ctx *c,
                      const struct sql_table *t,
                      struct sf_param *params,
                      char **ts_part);
size_t sq_build_gap_sql(const struct sql_ctx *c,
                        const struct sql_table *t,
                        const struct sf_gapset *gs,
                        struct sf_buf *out,
                        struct sf_param *params,
                        char (*num)[24]);
int sq_build_backfill_sql(const struct sql_ctx *c,
                          const struct sql_table *t,
                          long long limit,
                          struct sf_buf *q,
                          struct sf_param *params);

/* row.c */
const char *sq_row_layout(const struct sql_ctx *c,
                          const struct sql_table *t,
                          const struct sf_column *cols,
                          size_t ncols,
                          struct row_layout *lo);
void sq_prepare_keys(struct sf_source *src, struct sql_table *t, const struct row_layout *lo);
struct sf_event *sq_row_event(struct sql_ctx *c,
                              const struct sql_table *t,
                              const struct row_layout *lo,
                              const struct sf_row *row,
                              const struct sf_buf *off,
                              const struct sf_buf *ts,
                              char *errstr,
                              size_t errstr_size);

/* fetch.c */
void sq_free_batch(struct sql_ctx *c, size_t n);
int sq_deliver(struct sf_source *src,
               struct sf_ack_tracker *tracker,
               size_t n,
               const char *pos,
               const char *chan_key,
               const char *record);
enum sf_status
sq_fetch_deliver(struct fetch *f, const char *sql, const struct sf_param *params, size_t nparams);

/* poll.c */
enum sf_status sq_poll_table(struct sf_source *src, struct sql_table *t, long long *rows);

/* gaps.c */
const char *sq_batch_offset(struct sql_table *t, struct sf_buf *last);
const char *sq_gap_query(struct sf_source *src,
                         struct sql_table *t,
                         struct sf_param *params,
                         char (*num)[24],
                         size_t *nparams);
void sq_gap_see(struct sql_table *t, const char *idtext, size_t len, long long first_seen_ms);
void sq_gap_report(struct sf_source *src, struct sql_table *t, bool force);

/* bf_codec.c */
void sq_bf_prog_free(struct bf_prog *p);
int sq_bf_parse(const char *s, struct bf_prog *p);
bool sq_bf_encode(struct sf_buf *b,
                  bool done,
                  long long chunks,
                  long long rows,
                  const char *key,
                  const char *hwm);
long long sq_bf_rank(const struct bf_prog *p);

/* backfill.c */
int sq_bf_open_txns_wait(struct sf_source *src,
                         struct sql_table *t,
                         bool *waiting,
                         char *err,
                         size_t errsz);
int sq_bf_load(struct sf_source *src, struct sql_table *t, char *err, size_t errsz, bool *is_fatal);
enum sf_status sq_backfill_chunk(struct sf_source *src, struct sql_table *t, long long *rows);

/* progress.c */
void sq_bar_clear(struct sql_ctx *c);
void sq_bf_report(struct sf_source *src, struct sql_table *t);

#endif
