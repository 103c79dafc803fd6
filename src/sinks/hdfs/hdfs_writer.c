/*
 * The HDFS sink's bucket writers and their files, and a batch's delivery (hdfs.c's header
 * comment describes both): the writers' hash table and LRU list (hdfs.maxOpenFiles), creating a
 * file under a free name, rolling by count and size within a batch, the trailer, close and
 * rename (retried by the timers), one durable write per file per batch, and the put-back of a
 * failed batch's files. The timers (rollInterval, idleTimeout, the renames to retry) run at
 * every step.
 */
#include "hdfs_int.h"

#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/mem.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

/* Names tried past an existing one before creating a file fails. */
#define NAME_TRIES 100


static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---------- writers ---------- */

static void lru_unlink(struct hdfs_ctx *ctx, struct hdfs_bw *bw)
{
    if (bw->prev) {
        bw->prev->next = bw->next;
    } else {
        ctx->lru_head = bw->next;
    }
    if (bw->next) {
        bw->next->prev = bw->prev;
    } else {
        ctx->lru_tail = bw->prev;
    }
    bw->prev = bw->next = NULL;
}

static void lru_push(struct hdfs_ctx *ctx, struct hdfs_bw *bw)
{
    bw->next = ctx->lru_head;
    bw->prev = NULL;
    if (ctx->lru_head) {
        ctx->lru_head->prev = bw;
    } else {
        ctx->lru_tail = bw;
    }
    ctx->lru_head = bw;
}

static void table_remove(struct hdfs_ctx *ctx, struct hdfs_bw *bw)
{
    size_t pos = SIZE_MAX;
    for (struct sf_hmap_slot *sl;
         (sl = sf_hmap_next(&ctx->writers, sf_hmap_key_str(bw->key), &pos));) {
        if (sl->val == (uintptr_t)bw) {
            sf_hmap_remove(&ctx->writers, sl);
            break;
        }
    }
    ctx->nwriters--;
}

static void pending_add(struct hdfs_ctx *ctx, char *inuse, char *final, long long tries)
{
    if (ctx->npending == ctx->cap_pending) {
        ctx->cap_pending = ctx->cap_pending ? ctx->cap_pending * 2 : 8;
        ctx->pending = sf_xrealloc(ctx->pending, ctx->cap_pending * sizeof(*ctx->pending));
    }
    ctx->pending[ctx->npending++] = (struct hdfs_pending){
        inuse, final, tries, sf_mono_ms() + ctx->retry_interval_s * 1000
    };
}

/* Rename inuse to final (both taken over). A failure is reported and queued for retries
 * (hdfs.retryInterval, hdfs.closeTries). */
void hdfs_finish_rename(struct sf_sink *snk, char *inuse, char *final, long long tries)
{
    struct hdfs_ctx *ctx = snk->ctx;
    if (strcmp(inuse, final) == 0) {
        free(inuse);
        free(final);
        return;
    }
    char err[1024];
    int rc = sf_hdfs_fs_rename(ctx->fs, inuse, final, err, sizeof(err));
    tries++;
    if (rc == SF_OK) {
        SF_DEBUG(SF_SINK_FMT "closed \"%s\"", SF_SINK_ARGS(snk), final);
        if (ctx->exactly_once) {
            sf_sink_state_drop_file(&ctx->st, inuse);
        }
        free(inuse);
        free(final);
        return;
    }
    bool again = rc != SF_ERR_EXISTS && rc != SF_ERR_NOTFOUND &&
                 (ctx->close_tries == 0 || tries < ctx->close_tries);
    SF_ERROR(SF_SINK_FMT "could not rename \"%s\" to \"%s\" (attempt %lld): %s; %s",
             SF_SINK_ARGS(snk), inuse, final, tries, err,
             again ? "retried after hdfs.retryInterval"
                   : "giving up: the data stays in the in-use file");
    if (again) {
        pending_add(ctx, inuse, final, tries);
    } else {
        if (ctx->exactly_once) {
            sf_sink_state_drop_file(&ctx->st, inuse); /* recovery would fail the same way */
        }
        free(inuse);
        free(final);
    }
}

/* Forget bw's open file (closed; serializer, SequenceFile state and buffer reset). */
static void drop_file(struct sf_sink *snk, struct hdfs_bw *bw)
{
    struct hdfs_ctx *ctx = snk->ctx;
    if (bw->f) {
        if (sf_hdfs_file_close(bw->f, ctx->err, sizeof(ctx->err)) != SF_OK) {
            SF_WARN(SF_SINK_FMT "%s", SF_SINK_ARGS(snk), ctx->err);
        }
        atomic_fetch_add(&snk->metrics.connection_closed, 1);
    }
    bw->f = NULL;
    sf_serializer_destroy(bw->ser);
    bw->ser = NULL;
    sf_seqfile_free(&bw->sq);
    memset(&bw->sq, 0, sizeof(bw->sq));
    sf_compressor_free(bw->z);
    bw->z = NULL;
    sf_buf_reset(&bw->raw);
    sf_buf_reset(&bw->out);
    free(bw->inuse);
    free(bw->final);
    bw->inuse = bw->final = NULL;
    bw->events = bw->bytes = 0;
}

/* Where the serializer of bw writes: bw->out, or for CompressedStream the bytes to compress. */
static struct sf_buf *ser_out(struct hdfs_bw *bw)
{
    return bw->z ? &bw->raw : &bw->out;
}

/* The trailer of bw's file (serializer before_close, SequenceFile's last block) into bw->out. */
static int file_trailer(struct hdfs_ctx *ctx, struct hdfs_bw *bw)
{
    if (ctx->file_type == FT_SEQUENCE) {
        int rc = sf_seqfile_flush(&bw->sq, &bw->out);
        if (rc != SF_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "SequenceFile block of \"%s\": %s", bw->inuse,
                     sf_err_str(rc));
        }
        return rc;
    }
    int rc = sf_serializer_before_close(bw->ser, ser_out(bw));
    if (rc != SF_OK) {
        snprintf(ctx->err, sizeof(ctx->err), "serializer of \"%s\": %s", bw->inuse,
                 sf_serializer_errstr(bw->ser));
    }
    return rc;
}

/* Write bw->out to its file durably; for CompressedStream bw->raw compressed first, ending its
 * member (codec.h: what is on disk then decompresses whole). @return SF_OK or the error
 * (ctx->err). */
static int write_out(struct hdfs_ctx *ctx, struct hdfs_bw *bw)
{
    if (bw->z) {
        int rc = sf_compressor_write(bw->z, bw->raw.data, bw->raw.len, &bw->out);
        if (rc == SF_OK) {
            rc = sf_compressor_flush(bw->z, &bw->out);
        }
        if (rc != SF_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "%s compression of \"%s\": %s",
                     ctx->zcodec->name, bw->inuse, sf_err_str(rc));
            return rc;
        }
        sf_buf_reset(&bw->raw);
    }
    int rc = sf_hdfs_file_write(bw->f, bw->out.data, bw->out.len, ctx->err, sizeof(ctx->err));
    if (rc == SF_OK) {
        sf_buf_reset(&bw->out);
    }
    return rc;
}

/* Close bw's file outside a batch (timers, eviction, stop): trailer, close, rename. */
void hdfs_close_idle(struct sf_sink *snk, struct hdfs_bw *bw, const char *why)
{
    struct hdfs_ctx *ctx = snk->ctx;
    if (!bw->f) {
        return;
    }
    SF_DEBUG(SF_SINK_FMT "closing \"%s\" (%s)", SF_SINK_ARGS(snk), bw->inuse, why);
    sf_buf_reset(&bw->out);
    sf_buf_reset(&bw->raw);
    if (file_trailer(ctx, bw) != SF_OK || write_out(ctx, bw) != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not write the end of \"%s\": %s; closed as it is",
                 SF_SINK_ARGS(snk), bw->inuse, ctx->err);
        atomic_fetch_add(&snk->metrics.write_fail, 1);
    }
    char *inuse = bw->inuse, *final = bw->final;
    bw->inuse = bw->final = NULL;
    drop_file(snk, bw);
    hdfs_finish_rename(snk, inuse, final, 0);
}

void hdfs_free_writer(struct sf_sink *snk, struct hdfs_bw *bw)
{
    struct hdfs_ctx *ctx = snk->ctx;
    lru_unlink(ctx, bw);
    table_remove(ctx, bw);
    drop_file(snk, bw);
    sf_buf_free(&bw->out);
    sf_buf_free(&bw->raw);
    free(bw->key);
    free(bw);
}

/* ---------- a batch ---------- */

/* Record that the batch touches bw's open file (once per batch). */
static void touch(struct hdfs_ctx *ctx, struct hdfs_bw *bw, bool created)
{
    if (bw->touch_seq == ctx->batch_seq) {
        return;
    }
    if (ctx->ntouched == ctx->cap_touched) {
        ctx->cap_touched = ctx->cap_touched ? ctx->cap_touched * 2 : 16;
        ctx->touched = sf_xrealloc(ctx->touched, ctx->cap_touched * sizeof(*ctx->touched));
    }
    bw->touch_seq = ctx->batch_seq;
    bw->touch = ctx->ntouched;
    ctx->touched[ctx->ntouched++] = (struct hdfs_touch){
        sf_xstrdup(bw->inuse), sf_xstrdup(bw->final),
        created ? -1 : sf_hdfs_file_length(bw->f), -1, false, bw
    };
}

/* Create bw's next file (never an existing name) and start it (header bytes into bw->out). */
static int open_file(struct sf_sink *snk, struct hdfs_bw *bw)
{
    struct hdfs_ctx *ctx = snk->ctx;
    const char *dir = bw->key;
    int dlen = (int)bw->dir_len;
    const char *prefix = bw->key + bw->dir_len + 1;
    const char *suffix = ctx->file_suffix[0]                              ? ctx->file_suffix
                         : ctx->zcodec                                    ? ctx->zcodec->extension
                         : ctx->codec != SF_SEQ_NONE                      ? sf_seq_codec_extension(ctx->codec)
                                                                          : "";
    const char *in_suffix = ctx->empty_in_use_suffix ? "" : ctx->in_use_suffix;
    int rc = SF_ERR_EXISTS;
    for (int i = 0; i < NAME_TRIES && rc == SF_ERR_EXISTS; i++) {
        long long c = bw->counter++;
        struct sf_buf a = SF_BUF_INIT, b = SF_BUF_INIT;
        sf_buf_printf(&a, "%.*s/%s%s.%lld%s%s", dlen, dir, ctx->in_use_prefix, prefix, c, suffix,
                      in_suffix);
        sf_buf_printf(&b, "%.*s/%s.%lld%s", dlen, dir, prefix, c, suffix);
        /* the final name must be free too: a rename never replaces */
        struct sf_hdfs_stat st;
        char err[512];
        if (sf_hdfs_fs_stat(ctx->fs, b.data, &st, err, sizeof(err)) == SF_OK ||
            (ctx->exactly_once && sf_hdfs_fs_stat(ctx->fs, a.data, &st, err, sizeof(err)) == SF_OK)) {
            sf_buf_free(&a);
            sf_buf_free(&b);
            continue;
        }
        if (ctx->exactly_once) {
            /* the state knows the file before it exists, so that a crash before the batch
             * commits cannot leave it behind */
            sf_sink_state_set_file(&ctx->st, a.data, b.data, 0, false);
            rc = sf_sink_state_write(&ctx->st, false, ctx->err, sizeof(ctx->err));
            if (rc != SF_OK) {
                sf_sink_state_drop_file(&ctx->st, a.data);
                bw->counter--;
                sf_buf_free(&a);
                sf_buf_free(&b);
                return rc;
            }
        }
        rc = sf_hdfs_fs_create(ctx->fs, a.data, &bw->f, ctx->err, sizeof(ctx->err));
        if (rc != SF_OK && ctx->exactly_once) {
            sf_sink_state_drop_file(&ctx->st, a.data);
        }
        if (rc == SF_OK) {
            bw->inuse = sf_buf_steal(&a);
            bw->final = sf_buf_steal(&b);
        }
        sf_buf_free(&a);
        sf_buf_free(&b);
        if (rc != SF_OK && rc != SF_ERR_EXISTS) {
            bw->counter--; /* the name stays free for the retry */
        }
    }
    if (rc != SF_OK) {
        if (rc == SF_ERR_EXISTS) {
            snprintf(ctx->err, sizeof(ctx->err), "%d file names in a row exist in \"%.*s\"",
                     NAME_TRIES, dlen, dir);
        }
        return rc;
    }
    atomic_fetch_add(&snk->metrics.connection_created, 1);
    bw->opened_ms = sf_mono_ms();
    bw->events = bw->bytes = 0;
    sf_buf_reset(&bw->out);
    if (ctx->file_type == FT_SEQUENCE) {
        memset(&bw->sq, 0, sizeof(bw->sq));
        rc = sf_seqfile_begin(&bw->sq,
                              ctx->write_format == WF_TEXT ? SF_SEQ_TEXT : SF_SEQ_BYTES_WRITABLE,
                              ctx->codec, &bw->out);
        if (rc != SF_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "SequenceFile header of \"%s\": %s", bw->inuse,
                     sf_err_str(rc));
        }
    } else {
        bw->ser = sf_serializer_create(ctx->ser_conf);
        if (ctx->file_type == FT_COMPRESSED && bw->ser &&
            (rc = sf_compressor_new(ctx->zcodec, &bw->z)) != SF_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "%s compressor of \"%s\": %s", ctx->zcodec->name,
                     bw->inuse, sf_err_str(rc));
        } else if (!bw->ser) {
            snprintf(ctx->err, sizeof(ctx->err), "out of memory for a serializer");
            rc = SF_ERR_NOMEM;
        } else if ((rc = sf_serializer_after_create(bw->ser, ser_out(bw))) != SF_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "serializer of \"%s\": %s", bw->inuse,
                     sf_serializer_errstr(bw->ser));
        }
    }
    SF_DEBUG(SF_SINK_FMT "created \"%s\"", SF_SINK_ARGS(snk), bw->inuse);
    touch(ctx, bw, true);
    return rc;
}

/* Roll bw's file during the batch: its bytes written, closed; the rename waits for the batch. */
static int roll_in_batch(struct sf_sink *snk, struct hdfs_bw *bw)
{
    struct hdfs_ctx *ctx = snk->ctx;
    int rc = file_trailer(ctx, bw);
    if (rc == SF_OK) {
        rc = write_out(ctx, bw);
    }
    if (rc != SF_OK) {
        return rc;
    }
    struct hdfs_touch *t = &ctx->touched[bw->touch];
    t->rolled = true;
    t->end_len = sf_hdfs_file_length(bw->f);
    t->bw = NULL;
    drop_file(snk, bw);
    bw->touch_seq = 0;
    return SF_OK;
}

/* The writer of key (dir_len bytes of directory), made when missing (the least recently used
 * one closed beyond hdfs.maxOpenFiles). */
static int get_writer(struct sf_sink *snk, const char *key, size_t dir_len, struct hdfs_bw **out)
{
    struct hdfs_ctx *ctx = snk->ctx;
    uint64_t hkey = sf_hmap_key_str(key);
    size_t pos = SIZE_MAX;
    for (struct sf_hmap_slot *sl; (sl = sf_hmap_next(&ctx->writers, hkey, &pos));) {
        struct hdfs_bw *bw = (struct hdfs_bw *)(uintptr_t)sl->val;
        if (strcmp(bw->key, key) == 0) {
            if (ctx->lru_head != bw) {
                lru_unlink(ctx, bw);
                lru_push(ctx, bw);
            }
            *out = bw;
            return SF_OK;
        }
    }
    while (ctx->nwriters >= (size_t)ctx->max_open_files && ctx->lru_tail) {
        struct hdfs_bw *old = ctx->lru_tail;
        if (old->f && old->touch_seq == ctx->batch_seq) {
            int rc = roll_in_batch(snk, old);
            if (rc != SF_OK) {
                return rc;
            }
        } else {
            hdfs_close_idle(snk, old, "hdfs.maxOpenFiles");
        }
        hdfs_free_writer(snk, old);
    }
    struct hdfs_bw *bw = sf_xcalloc(1, sizeof(*bw));
    bw->key = sf_xstrdup(key);
    bw->dir_len = dir_len;
    bw->counter = wall_ms();
    bw->out = (struct sf_buf)SF_BUF_INIT;
    bw->raw = (struct sf_buf)SF_BUF_INIT;
    if (sf_hmap_add(&ctx->writers, hkey, (uintptr_t)bw) != SF_OK) {
        abort(); /* as sf_xcalloc: no error path for out of memory here */
    }
    ctx->nwriters++;
    lru_push(ctx, bw);
    *out = bw;
    return SF_OK;
}

/* The event's time for the escapes: *ts_ms; false when it has none (no or a malformed timestamp
 * header without useLocalTimeStamp). */
static bool event_time(const struct hdfs_ctx *ctx, const struct sf_event *ev, long long now,
                       long long *ts_ms)
{
    if (ctx->use_local_ts) {
        *ts_ms = now;
        return true;
    }
    const char *v = sf_event_header(ev, SF_HDR_TIMESTAMP);
    if (!v || !*v) {
        return false;
    }
    char *end;
    errno = 0;
    long long t = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0') {
        return false;
    }
    *ts_ms = t;
    return true;
}

static bool needs_time(const struct hdfs_ctx *ctx)
{
    return ctx->bp_dir.needs_time || ctx->bp_prefix.needs_time;
}

static const char *hdr_or_dash(const struct sf_event *ev, const char *name)
{
    const char *v = sf_event_header(ev, name);
    return v ? v : "-";
}

/* Append ev to its writer's batch bytes. */
static int add_event(struct sf_sink *snk, const struct sf_event *ev, long long now)
{
    struct hdfs_ctx *ctx = snk->ctx;
    long long ts = now;
    (void)event_time(ctx, ev, now, &ts); /* checked before: a time is there when needed */
    long long rts = sf_bucket_round(ts, &ctx->bt);
    sf_buf_reset(&ctx->name);
    sf_bucket_path_expand(&ctx->bp_dir, ev, rts, &ctx->bt, &ctx->host, &ctx->name);
    while (ctx->name.len > 1 && ctx->name.data[ctx->name.len - 1] == '/') {
        ctx->name.data[--ctx->name.len] = '\0';
    }
    size_t dir_len = ctx->name.len;
    sf_buf_putc(&ctx->name, '/');
    sf_bucket_path_expand(&ctx->bp_prefix, ev, rts, &ctx->bt, &ctx->host, &ctx->name);
    struct hdfs_bw *bw;
    int rc = get_writer(snk, ctx->name.data, dir_len, &bw);
    if (rc != SF_OK) {
        return rc;
    }
    if (bw->f && ((ctx->roll_count > 0 && bw->events >= ctx->roll_count) ||
                  (ctx->roll_size > 0 && bw->bytes >= ctx->roll_size))) {
        if (bw->touch_seq != ctx->batch_seq) {
            touch(ctx, bw, false);
        }
        rc = roll_in_batch(snk, bw);
        if (rc != SF_OK) {
            return rc;
        }
    }
    if (!bw->f) {
        rc = open_file(snk, bw);
        if (rc != SF_OK) {
            return rc;
        }
    } else if (bw->touch_seq != ctx->batch_seq) {
        touch(ctx, bw, false);
    }
    if (ctx->file_type == FT_SEQUENCE) {
        const char *tv = sf_event_header(ev, SF_HDR_TIMESTAMP);
        long long key = now;
        if (tv) {
            char *end;
            long long t = strtoll(tv, &end, 10);
            if (*tv && *end == '\0') {
                key = t;
            }
        }
        rc = sf_seqfile_append(&bw->sq, key, ev->body, ev->body_len, &bw->out);
        if (rc != SF_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "SequenceFile record for \"%s\": %s", bw->inuse,
                     sf_err_str(rc));
            return rc;
        }
    } else {
        rc = sf_serializer_write(bw->ser, ev, ser_out(bw));
        if (rc != SF_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "serializer of \"%s\": %s", bw->inuse,
                     sf_serializer_errstr(bw->ser));
            return rc;
        }
    }
    bw->events++;
    bw->bytes += (long long)ev->body_len;
    bw->last_ms = sf_mono_ms();
    return SF_OK;
}

/* The batch failed: put every file it touched back as it was at its start. */
static void undo_batch(struct sf_sink *snk)
{
    struct hdfs_ctx *ctx = snk->ctx;
    char err[1024];
    for (size_t i = ctx->ntouched; i-- > 0;) {
        struct hdfs_touch *t = &ctx->touched[i];
        if (t->bw) {
            t->bw->touch_seq = 0;
            drop_file(snk, t->bw);
        }
        if (ctx->exactly_once) {
            /* as it is put back: deleted, or cut back and closed */
            if (t->start_len < 0) {
                sf_sink_state_set_file(&ctx->st, t->inuse, t->final, 0, false);
            } else {
                sf_sink_state_set_file(&ctx->st, t->inuse, t->final, t->start_len, true);
            }
        }
        if (t->start_len < 0) {
            int rc = sf_hdfs_fs_delete(ctx->fs, t->inuse, err, sizeof(err));
            if (ctx->exactly_once && (rc == SF_OK || rc == SF_ERR_NOTFOUND)) {
                sf_sink_state_drop_file(&ctx->st, t->inuse);
            }
            if (rc != SF_OK && rc != SF_ERR_NOTFOUND) {
                SF_ERROR(SF_SINK_FMT "could not remove \"%s\", created by the failed batch: %s; "
                         "it holds events that will be written again",
                         SF_SINK_ARGS(snk), t->inuse, err);
            }
            free(t->inuse);
            free(t->final);
            continue;
        }
        struct sf_hdfs_stat st;
        int rc = sf_hdfs_fs_stat(ctx->fs, t->inuse, &st, err, sizeof(err));
        if (rc == SF_OK && st.length > t->start_len) {
            rc = sf_hdfs_fs_truncate(ctx->fs, t->inuse, t->start_len, err, sizeof(err));
        }
        if (rc != SF_OK) {
            SF_ERROR(SF_SINK_FMT "could not cut \"%s\" back to its durable %lld bytes: %s; it may "
                     "end with part of a batch that will be written again",
                     SF_SINK_ARGS(snk), t->inuse, t->start_len, err);
        } else {
            SF_DEBUG(SF_SINK_FMT "cut \"%s\" back to %lld bytes", SF_SINK_ARGS(snk), t->inuse,
                     t->start_len);
        }
        /* its writer's state is gone: the file ends here */
        hdfs_finish_rename(snk, t->inuse, t->final, 0);
    }
    ctx->ntouched = 0;
}

/* The batch is durable: rename the files it rolled, forget the rest of the record. */
static void end_batch(struct sf_sink *snk)
{
    struct hdfs_ctx *ctx = snk->ctx;
    for (size_t i = 0; i < ctx->ntouched; i++) {
        struct hdfs_touch *t = &ctx->touched[i];
        if (t->rolled) {
            hdfs_finish_rename(snk, t->inuse, t->final, 0);
        } else {
            free(t->inuse);
            free(t->final);
        }
    }
    ctx->ntouched = 0;
}

/* errors.tolerance = none met an event without a time: stop the sink. */
static void fail_event(struct sf_sink *snk, const struct sf_event *ev)
{
    struct hdfs_ctx *ctx = snk->ctx;
    ctx->pl.halted = true;
    atomic_store(&snk->metrics.failed, 1);
    atomic_fetch_add(&snk->metrics.event_failed, 1);
    SF_ERROR(SF_SINK_FMT "event of table \"%s\" (key \"%s\", offset \"%s\") has no usable "
             "timestamp header (\"%s\") and hdfs.path or hdfs.filePrefix uses time escapes; "
             "errors.tolerance = none: the sink stops, the event stays in channel \"%s\" (set "
             "hdfs.useLocalTimeStamp = true, add a timestamp interceptor, or errors.tolerance = "
             "all to skip such events)",
             SF_SINK_ARGS(snk), hdr_or_dash(ev, SF_HDR_TABLE), hdr_or_dash(ev, SF_HDR_KEY),
             hdr_or_dash(ev, SF_HDR_OFFSET), hdr_or_dash(ev, SF_HDR_TIMESTAMP), snk->ch->name);
}

/* Exactly once: the batch's files are durable; record what they hold now, with the batch's
 * positions, before the take commits. */
static int state_commit(struct sf_sink *snk)
{
    struct hdfs_ctx *ctx = snk->ctx;
    for (size_t i = 0; i < ctx->ntouched; i++) {
        const struct hdfs_touch *t = &ctx->touched[i];
        if (t->rolled) {
            sf_sink_state_set_file(&ctx->st, t->inuse, t->final, t->end_len, true);
        } else if (t->bw && t->bw->f) {
            sf_sink_state_set_file(&ctx->st, t->inuse, t->final, sf_hdfs_file_length(t->bw->f),
                                   false);
        }
    }
    return sf_sink_state_write(&ctx->st, true, ctx->err, sizeof(ctx->err));
}

/* The rate limit's key of a failed batch (sf_sink_report): its message with each run of digits
 * as one '#' and without its first word, so that a retry failing the same way on its next in-use file (a new counter) or
 * after another number of milliseconds is the same failure, logged once a minute. */
static void report_key(char *key, size_t n, const char *err)
{
    size_t o = 0;
    bool digits = false;
    /* without the operation's name: a retry that fails the same way on a create instead of a
     * write (a new file, or the exactly-once state's next log) is the same failure */
    const char *sp = strchr(err, ' ');
    if (sp && sp - err < 16) {
        err = sp + 1;
    }
    for (const char *p = err; *p && o + 1 < n; p++) {
        bool d = *p >= '0' && *p <= '9';
        if (!d) {
            key[o++] = *p;
        } else if (!digits) {
            key[o++] = '#';
        }
        digits = d;
    }
    key[o] = '\0';
}

static int hdfs_send(struct sf_sink *snk, struct sf_pipeline_batch *b)
{
    struct hdfs_ctx *ctx = snk->ctx;
    long long now = wall_ms();
    bool check_time = needs_time(ctx) && !ctx->use_local_ts;
    if (check_time && ctx->tolerance == TOL_NONE) {
        for (size_t i = 0; i < b->n; i++) {
            long long ts;
            if (!event_time(ctx, b->evs[i], now, &ts)) {
                if (i > 0) {
                    sf_sink_pipeline_limit_next(&ctx->pl, i); /* write those before it first */
                } else {
                    fail_event(snk, b->evs[0]);
                }
                return SF_ERR_DATA;
            }
        }
    }
    ctx->batch_seq++;
    ctx->ntouched = 0;
    int rc = SF_OK;
    size_t skipped = 0;
    for (size_t i = 0; i < b->n && rc == SF_OK; i++) {
        long long ts;
        if (check_time && !event_time(ctx, b->evs[i], now, &ts)) {
            atomic_fetch_add(&snk->metrics.event_failed, 1);
            SF_ERROR(SF_SINK_FMT "skipping an event of table \"%s\" (key \"%s\", offset \"%s\"): "
                     "no usable timestamp header (\"%s\") for the time escapes of hdfs.path; "
                     "errors.tolerance = all",
                     SF_SINK_ARGS(snk), hdr_or_dash(b->evs[i], SF_HDR_TABLE),
                     hdr_or_dash(b->evs[i], SF_HDR_KEY), hdr_or_dash(b->evs[i], SF_HDR_OFFSET),
                     hdr_or_dash(b->evs[i], SF_HDR_TIMESTAMP));
            continue;
        }
        if (ctx->exactly_once && !sf_sink_state_admit(&ctx->st, b->evs[i])) {
            skipped++;
            continue;
        }
        rc = add_event(snk, b->evs[i], now);
    }
    /* one durable write per open file of the batch */
    for (size_t i = 0; i < ctx->ntouched && rc == SF_OK; i++) {
        struct hdfs_bw *bw = ctx->touched[i].bw;
        if (!bw) {
            continue;
        }
        if (ctx->file_type == FT_SEQUENCE) {
            rc = sf_seqfile_flush(&bw->sq, &bw->out);
            if (rc != SF_OK) {
                snprintf(ctx->err, sizeof(ctx->err), "SequenceFile block of \"%s\": %s",
                         bw->inuse, sf_err_str(rc));
                break;
            }
        } else if ((rc = sf_serializer_flush(bw->ser, ser_out(bw))) != SF_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "serializer of \"%s\": %s", bw->inuse,
                     sf_serializer_errstr(bw->ser));
            break;
        }
        rc = write_out(ctx, bw);
    }
    if (rc == SF_OK && ctx->exactly_once) {
        rc = state_commit(snk);
    }
    if (rc != SF_OK) {
        if (ctx->exactly_once) {
            sf_positions_discard(&ctx->st.pos);
        }
        char key[sizeof(ctx->rep.key)];
        report_key(key, sizeof(key), ctx->err);
        sf_sink_report(snk, &ctx->rep, key,
                       "could not write a batch of %zu events: %s (%s); rolled back, the events "
                       "stay in channel \"%s\" and are retried",
                       b->n, ctx->err, sf_err_str(rc), snk->ch->name);
        atomic_fetch_add(&snk->metrics.write_fail, 1);
        undo_batch(snk);
        ctx->failures++;
        return rc;
    }
    if (ctx->exactly_once) {
        sf_positions_commit(&ctx->st.pos);
        sf_sink_state_batch_done(&ctx->st, skipped, b->n);
    }
    end_batch(snk);
    if (ctx->failures > 0) {
        SF_INFO(SF_SINK_FMT "writing again after %lld failed attempts", SF_SINK_ARGS(snk),
                ctx->failures);
        ctx->failures = 0;
        ctx->rep.key[0] = '\0';
    }
    (void)sf_sink_pipeline_ack(&ctx->pl, b, b->n);
    return SF_OK;
}

const struct sf_sink_pipeline_ops hdfs_pipeline_ops = {
    .send = hdfs_send,
};

/* The timers: rollInterval, idleTimeout, and the renames to retry. */
void hdfs_run_timers(struct sf_sink *snk)
{
    struct hdfs_ctx *ctx = snk->ctx;
    long long now = sf_mono_ms();
    for (struct hdfs_bw *bw = ctx->lru_head, *nx; bw; bw = nx) {
        nx = bw->next;
        if (!bw->f) {
            continue;
        }
        if (ctx->roll_interval_s > 0 && now - bw->opened_ms >= ctx->roll_interval_s * 1000) {
            hdfs_close_idle(snk, bw, "hdfs.rollInterval");
        } else if (ctx->idle_timeout_s > 0 && now - bw->last_ms >= ctx->idle_timeout_s * 1000) {
            hdfs_close_idle(snk, bw, "hdfs.idleTimeout");
            hdfs_free_writer(snk, bw); /* as Flume: an idle writer is removed */
        }
    }
    size_t n = ctx->npending;
    for (size_t i = 0; i < n;) {
        if (ctx->pending[i].next_ms > now) {
            i++;
            continue;
        }
        struct hdfs_pending p = ctx->pending[i];
        ctx->pending[i] = ctx->pending[--ctx->npending];
        n--;
        hdfs_finish_rename(snk, p.inuse, p.final, p.tries);
    }
}
