/*
 * Flume's RollingFileSink ("file_roll", org.apache.flume.sink.RollingFileSink): writes the events
 * into files of sink.directory through an event serializer (sqlflume/serializer.h; `text` by
 * default), rolling to a new file every sink.rollInterval seconds. File names follow Flume's path
 * managers: DEFAULT gives PREFIX + the sink's start time in ms + "-" + a counter from 1 (+ "." +
 * EXTENSION when set); ROLLTIME gives PREFIX + the local time yyyyMMddHHmmss + "-" + a counter
 * that restarts at 1 each second (+ "." + EXTENSION), as Flume's DefaultPathManager and
 * RollTimePathManager build them. A name that exists already is never overwritten (Flume's
 * FileOutputStream would truncate it): the counter moves on.
 *
 * Delivery: one take transaction of up to sink.batchSize events per step; the batch is
 * serialized into one buffer, written at the file's committed length, and fsync'd (and, for a
 * file just created, its directory) before the take commits, where Flume only flushes the stream.
 * When writing or syncing fails (disk full, read-only file system, I/O error) the file is cut
 * back to its committed length (a file that held nothing committed is emptied and removed), the
 * transaction rolls back so the events stay in the channel, one ERROR line names the file and
 * the cause, and the runner backs off and retries; the serializer's state after a flush does not
 * depend on earlier batches, so the retry writes the same bytes again. What is in a file is
 * therefore every committed batch exactly once, except after a crash between the fsync and the
 * channel's commit: that batch is taken again and written once more (at-least-once).
 *
 * Differences from Flume, on purpose: a file is created when the first event for it is taken, so
 * idle intervals leave no empty files (Flume opens a new file on every roll), and the roll timer
 * runs from the moment each file was created rather than at a fixed rate from the sink's start.
 */
#include "hdfs/sink_state.h"

#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/serializer.h"
#include "sqlflume/sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* How long a take waits for the first event of a batch; short so stop is noticed quickly. */
#define TAKE_WAIT_MS 100
/* Names tried past an existing one before creating a file fails. */
#define NAME_TRIES 1000

enum { PM_DEFAULT, PM_ROLLTIME };

struct file_roll_ctx {
    /* options */
    char *directory;
    int path_manager;
    char *prefix;
    char *extension;
    long long roll_interval_s;
    char *serializer_type;
    long long batch_size;
    bool exactly_once;
    /* state */
    struct sf_serializer_conf *ser_conf;
    struct sf_serializer *ser;   /* of the open file; NULL when none */
    struct sf_sink_batch batch;  /* take buffer */
    struct sf_buf out;           /* the bytes of the batch being written */
    int fd;                      /* the open file, -1 when none */
    char *path;                  /* its path (owned), NULL when none */
    off_t committed_len;         /* bytes of the file that committed batches hold */
    bool header_done;            /* after_create's bytes are in the file (committed) */
    bool dir_synced;             /* the directory entry of the file is durable */
    long long opened_ms;         /* sf_mono_ms() when the file was created */
    long long series_ms;         /* DEFAULT: the sink's start, wall clock ms */
    long long counter;           /* the last counter used in a name */
    char last_roll[32];          /* ROLLTIME: the second of the last name */
    /* exactly once (hdfs/sink_state.h) */
    struct sf_hdfs_fs *fs;       /* the local file system of the state */
    struct sf_sink_state st;
    struct sf_event **keep;      /* the batch's events the files do not have, batch.cap slots */
    char err[1024];
    /* error reporting */
    long long failures;          /* consecutive failed batches */
    struct sf_sink_repeat rep;
};

static const struct sf_option file_roll_options[] = {
    { "sink.directory", SF_OPT_STRING, NULL, 0, 0, offsetof(struct file_roll_ctx, directory),
      SF_OPT_REQUIRED, NULL, NULL, "directory the files are written to; it must exist" },
    { "sink.pathManager", SF_OPT_ENUM, "DEFAULT", 0, 0,
      offsetof(struct file_roll_ctx, path_manager), 0, NULL, "DEFAULT|ROLLTIME",
      "file names: DEFAULT is PREFIX + start time in ms + \"-\" + counter, ROLLTIME is PREFIX + "
      "local time yyyyMMddHHmmss + \"-\" + counter (each + \".\" + EXTENSION when set)" },
    { "sink.pathManager.prefix", SF_OPT_STRING, "", 0, 0, offsetof(struct file_roll_ctx, prefix),
      0, NULL, NULL, "text at the start of every file name" },
    { "sink.pathManager.extension", SF_OPT_STRING, "", 0, 0,
      offsetof(struct file_roll_ctx, extension), 0, NULL, NULL,
      "file name extension, added after a dot; empty = none" },
    { "sink.rollInterval", SF_OPT_INT, "30", 0, 1000000000,
      offsetof(struct file_roll_ctx, roll_interval_s), 0, NULL, NULL,
      "seconds after which a file is closed and the next event starts a new one; 0 = never roll" },
    { "sink.serializer", SF_OPT_STRING, "TEXT", 0, 0,
      offsetof(struct file_roll_ctx, serializer_type), 0, NULL, NULL,
      "serializer the files are written with: text, header_and_text, avro_event, avro (any case) "
      "or their Flume builder class names" },
    { "sink.serializer.", SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "options of the serializer (see Serializers), e.g. sink.serializer.appendNewline" },
    { "sink.batchSize", SF_OPT_INT, "100", 1, 1000000, offsetof(struct file_roll_ctx, batch_size),
      0, NULL, NULL,
      "maximum number of events per channel transaction, written and fsync'd before it commits" },
    { "sink.exactlyOnce", SF_OPT_BOOL, "true", 0, 0, offsetof(struct file_roll_ctx, exactly_once),
      0, NULL, NULL,
      "true: a state log in sink.directory records what the files hold in the step that makes "
      "each batch durable; after a crash the sink cuts the files back to it and skips the events "
      "the files have, so every event is in them once (false: at least once, as Flume)" },
    { 0 },
};

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The next file name of the path manager into name (name_size bytes). */
static void next_name(struct file_roll_ctx *ctx, char *name, size_t name_size)
{
    char stamp[32];
    if (ctx->path_manager == PM_ROLLTIME) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
        if (strcmp(stamp, ctx->last_roll) != 0) {
            ctx->counter = 0;
            snprintf(ctx->last_roll, sizeof(ctx->last_roll), "%s", stamp);
        }
    } else {
        snprintf(stamp, sizeof(stamp), "%lld", ctx->series_ms);
    }
    ctx->counter++;
    snprintf(name, name_size, "%s%s-%lld%s%s", ctx->prefix, stamp, ctx->counter,
             ctx->extension[0] ? "." : "", ctx->extension);
}

/* Create the next file (never an existing one) and its serializer. @return SF_OK or SF_ERR_IO /
 * SF_ERR_NOMEM (reported). */
static int open_file(struct sf_sink *snk)
{
    struct file_roll_ctx *ctx = snk->ctx;
    size_t cap = strlen(ctx->directory) + strlen(ctx->prefix) + strlen(ctx->extension) + 64;
    char *path = malloc(cap);
    if (!path) {
        sf_sink_report(snk, &ctx->rep, NULL, "out of memory for a file name");
        return SF_ERR_NOMEM;
    }
    char name[256];
    int fd = -1;
    for (int i = 0; i < NAME_TRIES && fd < 0; i++) {
        next_name(ctx, name, sizeof(name));
        snprintf(path, cap, "%s/%s", ctx->directory, name);
        if (ctx->exactly_once) {
            struct stat sb;
            if (stat(path, &sb) == 0) {
                continue;
            }
            /* the state knows the file before it exists: a crash before its first batch
             * commits cannot leave it behind */
            sf_sink_state_set_file(&ctx->st, path, path, 0, false);
            int rc = sf_sink_state_write(&ctx->st, false, ctx->err, sizeof(ctx->err));
            if (rc != SF_OK) {
                sf_sink_state_drop_file(&ctx->st, path);
                ctx->counter--;
                sf_sink_report(snk, &ctx->rep, NULL,
                               "exactly-once: could not write the state before creating \"%s\": "
                               "%s; the events stay in channel \"%s\"",
                               path, ctx->err, snk->ch->name);
                free(path);
                return rc;
            }
        }
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 && ctx->exactly_once) {
            sf_sink_state_drop_file(&ctx->st, path);
        }
        if (fd < 0 && errno != EEXIST) {
            ctx->counter--; /* the name stays free: the retry uses it */
            sf_sink_report(snk, &ctx->rep, NULL,
                           "could not create file \"%s\": %s; the events stay in channel \"%s\"",
                           path, strerror(errno), snk->ch->name);
            free(path);
            return SF_ERR_IO;
        }
    }
    if (fd < 0) {
        sf_sink_report(snk, &ctx->rep, NULL,
                       "could not create file \"%s\": %d names in a row exist already", path,
                       NAME_TRIES);
        free(path);
        return SF_ERR_IO;
    }
    ctx->ser = sf_serializer_create(ctx->ser_conf);
    if (!ctx->ser) {
        sf_sink_report(snk, &ctx->rep, NULL, "out of memory for the serializer of \"%s\"", path);
        close(fd);
        unlink(path);
        free(path);
        return SF_ERR_NOMEM;
    }
    ctx->fd = fd;
    ctx->path = path;
    ctx->committed_len = 0;
    ctx->header_done = false;
    ctx->dir_synced = false;
    ctx->opened_ms = sf_mono_ms();
    atomic_fetch_add(&snk->metrics.connection_created, 1);
    SF_DEBUG(SF_SINK_FMT "created file \"%s\"", SF_SINK_ARGS(snk), path);
    return SF_OK;
}

/* Forget the open file (fd closed, serializer freed); removes it first when remove is set. */
static void drop_file(struct sf_sink *snk, bool remove)
{
    struct file_roll_ctx *ctx = snk->ctx;
    if (ctx->fd >= 0) {
        close(ctx->fd);
        atomic_fetch_add(&snk->metrics.connection_closed, 1);
    }
    if (remove && ctx->path) {
        (void)unlink(ctx->path);
    }
    sf_serializer_destroy(ctx->ser);
    ctx->ser = NULL;
    ctx->fd = -1;
    free(ctx->path);
    ctx->path = NULL;
}

/* Write out[0..len) at off, all of it. @return SF_OK, or SF_ERR_IO with errno from pwrite(2). */
static int pwrite_all(int fd, const char *p, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, off);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return SF_ERR_IO;
        }
        p += w;
        len -= (size_t)w;
        off += w;
    }
    return SF_OK;
}

/* fsync the directory of the open file. @return SF_OK, or SF_ERR_IO with errno from
 * open(2)/fsync(2). */
static int sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return SF_ERR_IO;
    }
    int rc = fsync(dfd) == 0 ? SF_OK : SF_ERR_IO;
    int e = errno;
    close(dfd);
    errno = e;
    return rc;
}

/* Append ctx->out to the open file at its committed length and make it durable. @return SF_OK,
 * or SF_ERR_IO with errno set and *what naming the step that failed (the file may then hold part
 * of the bytes past committed_len). Nothing logged. */
static int write_durably(struct file_roll_ctx *ctx, const char **what)
{
    *what = "write";
    if (pwrite_all(ctx->fd, ctx->out.data, ctx->out.len, ctx->committed_len) != SF_OK) {
        return SF_ERR_IO;
    }
    *what = "fsync";
    if (fsync(ctx->fd) != 0) {
        return SF_ERR_IO;
    }
    if (!ctx->dir_synced) {
        *what = "fsync the directory of";
        if (sync_dir(ctx->directory) != SF_OK) {
            return SF_ERR_IO;
        }
        ctx->dir_synced = true;
    }
    return SF_OK;
}

/*
 * Undo what a failed batch left in the open file: cut it back to its committed length. A file
 * with nothing committed is emptied and removed (its serializer header goes with it). When the
 * cut fails the file is closed as it is, and reported: it may end with part of the batch.
 */
static void undo_batch(struct sf_sink *snk)
{
    struct file_roll_ctx *ctx = snk->ctx;
    if (ctx->fd < 0) {
        return;
    }
    if (ftruncate(ctx->fd, ctx->committed_len) != 0 || fsync(ctx->fd) != 0) {
        SF_ERROR(SF_SINK_FMT "could not cut file \"%s\" back to its committed %lld bytes: %s; it "
                 "may end with part of a batch that will be written again to a new file",
                 SF_SINK_ARGS(snk), ctx->path, (long long)ctx->committed_len, strerror(errno));
        drop_file(snk, false);
        return;
    }
    if (ctx->committed_len == 0) {
        drop_file(snk, true);
    }
}

/* Close the open file for good: the serializer's trailer, fsync, close. @return SF_OK or an
 * error (reported; the file is then closed as far as it was written). */
static int close_file(struct sf_sink *snk)
{
    struct file_roll_ctx *ctx = snk->ctx;
    if (ctx->fd < 0) {
        return SF_OK;
    }
    int rc = SF_OK;
    if (ctx->header_done) {
        sf_buf_reset(&ctx->out);
        rc = sf_serializer_before_close(ctx->ser, &ctx->out);
        if (rc != SF_OK) {
            sf_sink_report(snk, &ctx->rep, NULL, "could not close file \"%s\": %s", ctx->path,
                   sf_serializer_errstr(ctx->ser));
        } else if (ctx->out.len > 0) {
            const char *what;
            if (write_durably(ctx, &what) != SF_OK) {
                sf_sink_report(snk, &ctx->rep, NULL, "could not %s the trailer of file \"%s\": %s",
                               what, ctx->path, strerror(errno));
                rc = SF_ERR_IO;
            } else {
                ctx->committed_len += (off_t)ctx->out.len;
            }
        }
    }
    SF_DEBUG(SF_SINK_FMT "closed file \"%s\" (%lld bytes)", SF_SINK_ARGS(snk), ctx->path,
             (long long)ctx->committed_len);
    if (ctx->exactly_once && ctx->path) {
        if (ctx->header_done) {
            sf_sink_state_drop_file(&ctx->st, ctx->path); /* done: nothing to put right */
        } else {
            sf_sink_state_set_file(&ctx->st, ctx->path, ctx->path, 0, false); /* removed */
        }
    }
    drop_file(snk, !ctx->header_done);
    return rc;
}

/* The configure step: an empty sink.directory, the serializer's type and options are refused
 * here, so that `check` reports them (no I/O: whether the directory exists is start's; start parses
 * the serializer's options again and keeps the result). */
static int file_roll_configure(struct sf_sink *snk, struct sf_diag *d)
{
    const struct file_roll_ctx *ctx = snk->ctx;
    if (!ctx->directory || !*ctx->directory) {
        sf_diag_error(d, sf_section_get(snk->conf, "sink.directory"), "must name a directory");
        return SF_ERR_INVAL;
    }
    struct sf_serializer_conf *sc =
        sf_serializer_conf_create(snk->conf, "sink.serializer", "sink.serializer.", d);
    if (!sc) {
        return SF_ERR_INVAL;
    }
    sf_serializer_conf_destroy(sc);
    return SF_OK;
}

static int file_roll_start(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct file_roll_ctx *ctx = snk->ctx;
    ctx->fd = -1;
    struct stat st;
    errno = 0;
    if (stat(ctx->directory, &st) != 0 || !S_ISDIR(st.st_mode)) {
        (void)snprintf(errstr, errstr_size, "sink.directory \"%s\" is not a directory%s%s",
                       ctx->directory, errno ? ": " : "", errno ? strerror(errno) : "");
        return SF_ERR_INVAL;
    }
    struct sf_diag d = { 0 };
    /* its warnings were reported by the configure step */
    ctx->ser_conf = sf_serializer_conf_create(snk->conf, "sink.serializer", "sink.serializer.", &d);
    if (!ctx->ser_conf) {
        /* the caller logs errstr: every error of d in it, once */
        size_t off = 0;
        errstr[0] = '\0';
        for (size_t i = 0; i < d.nerrors && off < errstr_size; i++) {
            int w = snprintf(errstr + off, errstr_size - off, "%s%s", i ? "; " : "", d.errors[i]);
            off += w > 0 ? (size_t)w : 0;
        }
        if (d.nerrors == 0) {
            (void)snprintf(errstr, errstr_size, "bad serializer configuration");
        }
        sf_diag_free(&d);
        return SF_ERR_INVAL;
    }
    sf_diag_free(&d);
    int rc = sf_sink_batch_init(&ctx->batch, snk, ctx->batch_size, errstr, errstr_size);
    if (rc != SF_OK) {
        sf_serializer_conf_destroy(ctx->ser_conf);
        ctx->ser_conf = NULL;
        return rc;
    }
    ctx->out = (struct sf_buf)SF_BUF_INIT;
    ctx->series_ms = wall_ms();
    if (ctx->exactly_once) {
        struct sf_hdfs_fs_conf fc = { NULL, NULL, NULL, NULL, 30000 };
        ctx->keep = calloc(ctx->batch.cap, sizeof(*ctx->keep));
        rc = ctx->keep ? sf_hdfs_fs_open("file://", &fc, &ctx->fs, errstr, errstr_size)
                       : SF_ERR_NOMEM;
        if (rc != SF_OK) {
            if (rc == SF_ERR_NOMEM) {
                (void)snprintf(errstr, errstr_size, "out of memory");
            }
            free(ctx->keep);
            ctx->keep = NULL;
            sf_sink_batch_free(&ctx->batch);
            sf_serializer_conf_destroy(ctx->ser_conf);
            ctx->ser_conf = NULL;
            return rc;
        }
    }
    return SF_OK;
}

/* Serialize evs[0..n) into ctx->out (after the file's header when it has none yet).
 * @return SF_OK or the serializer's error (sf_serializer_errstr says why; nothing logged). */
static int serialize(struct file_roll_ctx *ctx, struct sf_event *const *evs, size_t n)
{
    sf_buf_reset(&ctx->out);
    int rc = SF_OK;
    if (!ctx->header_done) {
        rc = sf_serializer_after_create(ctx->ser, &ctx->out);
    }
    for (size_t i = 0; rc == SF_OK && i < n; i++) {
        rc = sf_serializer_write(ctx->ser, evs[i], &ctx->out);
    }
    if (rc == SF_OK) {
        rc = sf_serializer_flush(ctx->ser, &ctx->out);
    }
    return rc;
}

/* Commit a take whose n events are all in the files already. */
static enum sf_status commit_only(struct sf_sink *snk, struct sf_txn *txn, size_t n)
{
    int rc = sf_channel_txn_commit(txn);
    sf_channel_txn_close(txn);
    if (rc != SF_OK) {
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        return SF_FAILED;
    }
    atomic_fetch_add(&snk->metrics.drain_success, (long long)n);
    return SF_READY;
}

/* Exactly once: the events of evs[0..n) the files do not have into ctx->keep. @return how many. */
static size_t admit_batch(struct sf_sink *snk, struct sf_event *const *evs, size_t n)
{
    struct file_roll_ctx *ctx = snk->ctx;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (sf_sink_state_admit(&ctx->st, evs[i])) {
            ctx->keep[m++] = evs[i];
        }
    }
    sf_sink_state_batch_done(&ctx->st, n - m, n);
    return m;
}

static enum sf_status file_roll_process(struct sf_sink *snk)
{
    struct file_roll_ctx *ctx = snk->ctx;
    if (ctx->exactly_once && !ctx->st.started) {
        enum sf_status st = sf_sink_state_start(&ctx->st, snk, &ctx->rep, ctx->fs, ctx->directory);
        if (st != SF_READY) {
            return st;
        }
    }
    if (ctx->fd >= 0 && ctx->roll_interval_s > 0 &&
        sf_mono_ms() - ctx->opened_ms >= ctx->roll_interval_s * 1000) {
        if (close_file(snk) != SF_OK) {
            atomic_fetch_add(&snk->metrics.write_fail, 1);
        }
    }
    struct sf_txn *txn = sf_channel_txn_begin(snk->ch);
    if (!txn) {
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        return SF_FAILED;
    }
    size_t n = 0;
    int rc = sf_channel_take(txn, ctx->batch.evs, ctx->batch.cap, &n, TAKE_WAIT_MS);
    if (rc != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not take from channel \"%s\": %s", SF_SINK_ARGS(snk),
                 snk->ch->name, sf_err_str(rc));
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        sf_channel_txn_close(txn);
        return SF_FAILED;
    }
    atomic_fetch_add(&snk->metrics.drain_attempt, (long long)n);
    if (n == 0) {
        rc = sf_channel_txn_commit(txn);
        sf_channel_txn_close(txn);
        atomic_fetch_add(&snk->metrics.batch_empty, 1);
        return SF_BACKOFF;
    }
    struct sf_event *const *evs = ctx->batch.evs;
    size_t m = n;
    if (ctx->exactly_once) {
        m = admit_batch(snk, ctx->batch.evs, n);
        evs = ctx->keep;
        if (m == 0) {
            /* the files have all of them */
            sf_positions_commit(&ctx->st.pos);
            return commit_only(snk, txn, n);
        }
    }
    if (ctx->fd < 0 && open_file(snk) != SF_OK) {
        goto fail;
    }
    rc = serialize(ctx, evs, m);
    if (rc != SF_OK) {
        sf_sink_report(snk, &ctx->rep, NULL,
                       "could not serialize %zu events for file \"%s\": %s; the events stay in "
                       "channel \"%s\"",
                       n, ctx->path, sf_serializer_errstr(ctx->ser), snk->ch->name);
        /* the serializer is unusable after an error: start the next batch in a new file */
        undo_batch(snk);
        if (ctx->fd >= 0) {
            drop_file(snk, false);
        }
        goto fail;
    }
    const char *what;
    if (write_durably(ctx, &what) != SF_OK) {
        int e = errno;
        char key[sizeof(ctx->rep.key)];
        snprintf(key, sizeof(key), "%s %s: %s", what, ctx->path, strerror(e));
        errno = e;
        sf_sink_report(snk, &ctx->rep, key,
                       "could not %s %zu events (%zu bytes) to file \"%s\": %s; rolled back, the "
                       "events stay in channel \"%s\" and are retried",
                       what, n, ctx->out.len, ctx->path, strerror(errno), snk->ch->name);
        undo_batch(snk);
        goto fail;
    }
    if (ctx->exactly_once) {
        /* what the file holds now, with the batch's positions, before the take commits */
        sf_sink_state_set_file(&ctx->st, ctx->path, ctx->path,
                               (long long)ctx->committed_len + (long long)ctx->out.len, false);
        rc = sf_sink_state_write(&ctx->st, true, ctx->err, sizeof(ctx->err));
        if (rc != SF_OK) {
            sf_sink_state_set_file(&ctx->st, ctx->path, ctx->path, (long long)ctx->committed_len,
                                   false);
            sf_sink_report(snk, &ctx->rep, NULL,
                           "exactly-once: could not write the state after %zu events to file "
                           "\"%s\": %s; rolled back, the events stay in channel \"%s\" and are "
                           "retried",
                           m, ctx->path, ctx->err, snk->ch->name);
            undo_batch(snk);
            goto fail;
        }
        /* the batch counts as written from here: should the take fail to commit, its events
         * come back and are skipped */
        sf_positions_commit(&ctx->st.pos);
        ctx->committed_len += (off_t)ctx->out.len;
        ctx->header_done = true;
        ctx->out.len = 0;
    }
    rc = sf_channel_txn_commit(txn);
    if (rc != SF_OK && ctx->exactly_once) {
        sf_sink_report(snk, &ctx->rep, NULL,
                       "could not commit the take of %zu events from channel \"%s\": %s; they "
                       "are in file \"%s\" and will be skipped when taken again",
                       n, snk->ch->name, sf_err_str(rc), ctx->path);
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        sf_channel_txn_close(txn);
        ctx->failures++;
        return SF_FAILED;
    }
    if (rc != SF_OK) {
        /* the batch is in the file but the channel keeps it: take it out of the file again */
        sf_sink_report(snk, &ctx->rep, NULL,
                       "could not commit the take of %zu events from channel \"%s\": %s; cutting "
                       "them out of file \"%s\"",
                       n, snk->ch->name, sf_err_str(rc), ctx->path);
        undo_batch(snk);
        atomic_fetch_add(&snk->metrics.channel_read_fail, 1);
        sf_channel_txn_close(txn);
        ctx->failures++;
        return SF_FAILED;
    }
    sf_channel_txn_close(txn);
    ctx->committed_len += (off_t)ctx->out.len;
    ctx->header_done = true;
    if (ctx->failures > 0) {
        SF_INFO(SF_SINK_FMT "writing to \"%s\" again after %lld failed attempts",
                SF_SINK_ARGS(snk), ctx->path, ctx->failures);
        ctx->failures = 0;
        ctx->rep.key[0] = '\0';
    }
    atomic_fetch_add(n < ctx->batch.cap ? &snk->metrics.batch_underflow
                                        : &snk->metrics.batch_complete,
                     1);
    atomic_fetch_add(&snk->metrics.drain_success, (long long)n);
    return SF_READY;

fail:
    if (ctx->exactly_once) {
        sf_positions_discard(&ctx->st.pos);
    }
    atomic_fetch_add(&snk->metrics.write_fail, 1);
    ctx->failures++;
    sf_channel_txn_close(txn); /* rolls back: the events return to the head of the channel */
    return SF_FAILED;
}

static void file_roll_stop(struct sf_sink *snk)
{
    struct file_roll_ctx *ctx = snk->ctx;
    (void)close_file(snk);
    if (ctx->exactly_once) {
        sf_sink_state_end(&ctx->st);
        sf_hdfs_fs_close(ctx->fs);
        ctx->fs = NULL;
        free(ctx->keep);
        ctx->keep = NULL;
    }
    sf_serializer_conf_destroy(ctx->ser_conf);
    ctx->ser_conf = NULL;
    sf_sink_batch_free(&ctx->batch);
    sf_buf_free(&ctx->out);
}

static const char *const file_roll_aliases[] = { "org.apache.flume.sink.RollingFileSink", NULL };

const struct sf_sink_plugin sf_sink_file_roll = {
    .name = "file_roll",
    .aliases = file_roll_aliases,
    .options = file_roll_options,
    .ctx_size = sizeof(struct file_roll_ctx),
    .configure = file_roll_configure,
    .start = file_roll_start,
    .process = file_roll_process,
    .stop = file_roll_stop,
};
