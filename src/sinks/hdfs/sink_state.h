/*
 * The file sinks' exactly-once state (HDFS and file_roll): what the files hold, written in the
 * same step that makes a batch durable, so that after a crash at any moment the files hold every
 * event once and no in-use file is left behind.
 *
 * The state is a log of records in the sink's state directory (the part of hdfs.path before its
 * first escape; file_roll's sink.directory), named ".sqlflume-state.HOST.AGENT.SINK.SEQ" (HOST the
 * short host name, so that agents of the same name on several hosts writing one directory keep
 * their own states; a leading '.', which Hadoop's input formats and Hive skip). Each record is a whole snapshot:
 *
 *   \n
 *   sqlflume-file-state 1 <record number>
 *   file <in-use path> <final path> <committed length> open|closing
 *   pos - <table> <offset>                   the positions delivered (sqlflume/positions.h)
 *   ids - <table> <floor> <hw>[;<gaps>]
 *   end <crc32 of the record from its header line up to here, 8 hex digits>
 *
 * fields escaped as sf_pos_field_put does. A record is appended (durably: WebHDFS APPEND, local
 * write + fdatasync) before the batch's take commits; a record cut short by a crash fails its
 * CRC and the one before it counts. A log longer than SF_STATE_LOG_MAX starts a new one
 * (SEQ + 1, its first record written before the old log is deleted); so does any failed append
 * (its tail may hold part of a record).
 *
 * The committed length of a file is the length its committed batches fill. Files enter the
 * state before they are created ("open", length 0), so a file created by a batch that never
 * committed is known too. Recovery (sf_sink_state_recover, before the first batch) cuts every
 * file of the last record back to its committed length (what lies beyond is a batch that did
 * not commit), deletes those holding nothing committed, renames in-use names to final ones, and
 * starts a new log that holds no file and the positions; the sink then skips every event whose
 * position is delivered (sf_positions_admit), which covers the rows a memory channel's source
 * reads again and the batch a file channel gives back.
 *
 * One writer per state: two sinks of agents of the same name on one host must not share a state
 * directory, and no other writer may create files with the sink's names. Not thread-safe: the sink's thread.
 */
#ifndef SQLFLUME_SINK_STATE_H
#define SQLFLUME_SINK_STATE_H

#include "hdfs_fs.h"

#include "sqlflume/buf.h"
#include "sqlflume/event.h"
#include "sqlflume/positions.h"
#include "sqlflume/sink.h"
#include "sqlflume/status.h"

#include <stdbool.h>
#include <stddef.h>

#define SF_STATE_LOG_MAX  (1024 * 1024)      /* bytes of a log before a new one starts */
#define SF_STATE_READ_MAX (64 * 1024 * 1024) /* a log longer than this is refused */
#define SF_STATE_DEST     "-"                /* the positions' destination for files */

/** One file of the state. */
struct sf_state_file {
    char *inuse, *final; /* owned; equal where a sink has no in-use names (file_roll) */
    long long len;       /* bytes its committed batches fill */
    bool closing;        /* closed by the sink; the rename to final may be pending */
};

struct sf_sink_state {
    struct sf_hdfs_fs *fs; /* borrowed */
    char *dir;             /* the state directory, owned */
    char *prefix;          /* ".sqlflume-state.AGENT.SINK.", owned */
    long long seq;         /* the current log's number; 0: none yet */
    struct sf_hdfs_file *log; /* the current log, open for appending; NULL: start a new one */
    long long records;     /* the last record's number */
    struct sf_positions pos;
    struct sf_state_file *files;
    size_t nfiles, cap;
    struct sf_buf rec; /* scratch: the record being written */
    long long writes;  /* records written since start */
    long long write_us; /* time they took, microseconds */
    bool started;       /* sf_sink_state_start succeeded */
    char who[160];      /* the sink's log prefix, "[sink k1 hdfs] " */
    long long skipped;  /* events not written again since the files had them */
    long long skip_log_ms; /* sf_mono_ms() of the last "skipped" INFO line */
};

/**
 * Find the sink's newest state in dir through fs (both borrowed; dir is copied) and load its
 * last whole record into st (zero-initialised by the caller): files and positions. No state yet
 * is SF_OK with nothing loaded. @return SF_OK, or an sf_err of the file system (err says which
 * call failed; retriable ones are SF_ERR_CONN / SF_ERR_TIMEOUT) or SF_ERR_DATA (a log whose
 * records are all unreadable: err names it; nothing is guessed).
 */
int sf_sink_state_load(struct sf_sink_state *st, struct sf_hdfs_fs *fs, const char *dir,
                       const char *agent, const char *sink, char *err, size_t errsz);
/**
 * Put the loaded files right (see above), logging one INFO line per file it changed with who as
 * prefix, then write the first record of a new log (no files, the positions) and delete the
 * older logs. Idempotent: a failure leaves what was done done, and it may be called again.
 * @return SF_OK or the file system's error (err).
 */
int sf_sink_state_recover(struct sf_sink_state *st, const char *who, char *err, size_t errsz);
/** Add the file inuse (or update it): its final name, committed length and whether closing. */
void sf_sink_state_set_file(struct sf_sink_state *st, const char *inuse, const char *final,
                            long long len, bool closing);
/** Forget the file inuse (renamed, or deleted); absent is a no-op. */
void sf_sink_state_drop_file(struct sf_sink_state *st, const char *inuse);
/** The file inuse of the state, or NULL. */
struct sf_state_file *sf_sink_state_file(struct sf_sink_state *st, const char *inuse);
/**
 * Append a record of the files and positions, durably (with_open: the positions with the open
 * batch's, sf_positions_encode). @return SF_OK, or the file system's error (err; the next
 * record then starts a new log).
 */
int sf_sink_state_write(struct sf_sink_state *st, bool with_open, char *err, size_t errsz);
/**
 * Load and recover (the two above) once before the first batch of sink snk, logging one INFO
 * line of what was found. On failure the ERROR line is reported through rep (once a minute for
 * the same cause, sf_sink_report) with what happens next, and the sink's write_fail counted.
 * @return SF_READY (st->started), SF_FAILED (retried at the next step) or SF_FATAL (a damaged
 * state or no rights: waiting will not mend it; the sink stops).
 */
enum sf_status sf_sink_state_start(struct sf_sink_state *st, struct sf_sink *snk,
                                   struct sf_sink_repeat *rep, struct sf_hdfs_fs *fs,
                                   const char *dir);
/** Whether the event must be written (the files do not have it: sf_positions_admit on its
 *  table and offset headers; events without them always). Counts the others. */
bool sf_sink_state_admit(struct sf_sink_state *st, const struct sf_event *ev);
/** The batch of n events is over, skipped of them not written: an INFO line every 10 s at most. */
void sf_sink_state_batch_done(struct sf_sink_state *st, size_t skipped, size_t n);
/** The sink stops: when started, a last record (the files closed by then), the totals logged;
 *  then everything freed (st zeroed); the file system is not closed. */
void sf_sink_state_end(struct sf_sink_state *st);
/** Close the log and free everything (st zeroed); the file system is not closed. */
void sf_sink_state_free(struct sf_sink_state *st);
/** The state directory of a path template: the part before its first '%' up to the last '/'
 *  ("/flume/%Y/%H" -> "/flume", "/data" -> "/data", "/%Y" -> "/"). Malloc'd (caller frees). */
char *sf_sink_state_dir_of(const char *path_template);

#endif
