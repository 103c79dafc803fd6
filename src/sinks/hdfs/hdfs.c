/*
 * Flume's HDFS sink ("hdfs", org.apache.flume.sink.hdfs.HDFSEventSink): writes the events into
 * files under hdfs.path, a template (bucket_path.h) expanded per event, through the file system
 * of its scheme (hdfs_fs.h: hdfs:// and webhdfs:// over WebHDFS, file:/// a local one).
 *
 * Files, as Flume's BucketWriter: one writer per resolved directory + hdfs.filePrefix (itself a
 * template); its files are named filePrefix + "." + COUNTER + fileSuffix (or, without a suffix,
 * the SequenceFile codec's extension), where COUNTER starts at the wall clock in ms when the
 * writer is made and goes up by one per file. A file is written as inUsePrefix + name +
 * inUseSuffix (none with hdfs.emptyInUseSuffix) and renamed to its name when it is closed.
 * Before each event the writer rolls (closes its file, the next event opens a new one) once the
 * file holds hdfs.rollCount events or hdfs.rollSize body bytes; hdfs.rollInterval (seconds from
 * the file's creation) and hdfs.idleTimeout (seconds without a write) are timers checked at
 * every step; beyond hdfs.maxOpenFiles writers the least recently used one is closed. A file is
 * created only for an event (no empty files).
 *
 * File types: DataStream writes the serializer's bytes (`serializer`, text by default, and its
 * `serializer.*` keys); SequenceFile writes Hadoop SequenceFile records (seqfile.h) with key
 * LongWritable (the event's timestamp header, else the sink's clock, ms) and value BytesWritable
 * (hdfs.writeFormat = Writable) or Text (Text), block-compressed when hdfs.codeC is gzip or
 * default. CompressedStream is refused at configure for now.
 *
 * Delivery: one take transaction of up to hdfs.batchSize events per step (the acknowledged-sink
 * pipeline, synchronous): every event's bytes are gathered per file, each file touched gets one
 * durable write (hdfs_fs.h: local fdatasync, WebHDFS an acknowledged APPEND) and the files that
 * rolled during the batch are renamed, all before the take commits. When any of it fails, the
 * batch rolls back (the events stay in the channel, one ERROR line per cause per minute,
 * sf_sink_report) and every file it touched is put back as it was at the batch's start: a file
 * created by the batch is deleted, an older one is cut back with truncate to its durable length
 * and closed (renamed), so that the retried batch is written once. A crash between the durable
 * writes and the channel's commit writes that batch again (at-least-once); the in-use files open
 * at a crash keep their name (the sink does not list its directories at start, as Flume).
 *
 * An event whose time escapes have no time (no or a malformed `timestamp` header, and
 * hdfs.useLocalTimeStamp false): errors.tolerance = none (default) writes the events before it,
 * then stops the sink with one ERROR line naming the event (SF_FATAL: the agent stops, the event
 * stays in the channel); all skips it with an ERROR line and writes the rest.
 *
 * Not implemented (refused at configure, never ignored): fileType CompressedStream, codecs other
 * than gzip and default, Kerberos (kerberosPrincipal / kerberosKeytab), proxyUser and
 * hdfs.webhdfs.url on file://, the thread pool sizes (the sink writes on its own thread).
 */
#include "bucket_path.h"
#include "hdfs_fs.h"
#include "seqfile.h"

#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/mem.h"
#include "sqlflume/serializer.h"
#include "sqlflume/sink.h"
#include "sqlflume/sink_pipeline.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

/* Names tried past an existing one before creating a file fails. */
#define NAME_TRIES 100

enum { FT_SEQUENCE, FT_DATA, FT_COMPRESSED };
enum { WF_WRITABLE, WF_TEXT };
enum { TOL_NONE, TOL_ALL };

/* A file rolled during the current batch, or put back after a failed one: renamed once the batch
 * is durable, or retried every hdfs.retryInterval when renaming fails. */
struct hdfs_pending {
    char *inuse, *final; /* owned */
    long long tries;     /* rename attempts so far */
    long long next_ms;   /* sf_mono_ms() of the next attempt */
};

/* One file written in the current batch (its state when the batch first touched it). */
struct hdfs_touch {
    char *inuse, *final; /* owned */
    long long start_len; /* durable length at the batch's start; -1: created by the batch */
    bool rolled;         /* closed during the batch (its rename waits for the batch's end) */
    struct hdfs_bw *bw;  /* the writer that still has it open, else NULL */
};

/* A bucket writer: one directory + file prefix. */
struct hdfs_bw {
    char *key;                 /* dir + "/" + prefix, owned */
    size_t dir_len;            /* key[0..dir_len) is the directory */
    long long counter;         /* the next file's COUNTER */
    struct sf_hdfs_file *f;    /* the open file, NULL when none */
    char *inuse, *final;       /* its paths, owned */
    long long events, bytes;   /* events and body bytes in it (rollCount, rollSize) */
    long long opened_ms;       /* sf_mono_ms() of its creation */
    long long last_ms;         /* of the last event (idleTimeout) */
    struct sf_serializer *ser; /* DataStream, of the open file */
    struct sf_seqfile sq;      /* SequenceFile, of the open file */
    struct sf_buf out;         /* the batch's bytes for the open file */
    long long touch_seq;       /* the batch that last touched it */
    size_t touch;              /* its index in ctx->touched for that batch */
    struct hdfs_bw *hnext;     /* hash chain */
    struct hdfs_bw *prev, *next; /* LRU list, most recent first */
};

struct hdfs_ctx {
    /* options */
    char *path;
    char *file_prefix, *file_suffix, *in_use_prefix, *in_use_suffix;
    bool empty_in_use_suffix;
    long long roll_interval_s, roll_size, roll_count, idle_timeout_s, batch_size;
    int file_type;
    char *codec_name;
    int write_format;
    long long max_open_files, call_timeout_ms, close_tries, retry_interval_s;
    bool round;
    long long round_value;
    int round_unit;
    char *time_zone;
    bool use_local_ts;
    char *proxy_user, *kerberos_principal, *kerberos_keytab, *webhdfs_url;
    char *serializer_type;
    int tolerance;
    /* state */
    enum sf_seq_codec codec;
    struct sf_hdfs_fs *fs;
    struct sf_bucket_path bp_dir, bp_prefix;
    struct sf_tz *tz;
    struct sf_bucket_time bt;
    struct sf_bucket_host host;
    struct sf_serializer_conf *ser_conf;
    struct sf_sink_pipeline pl;
    struct hdfs_bw **table; /* hash of the writers */
    size_t nbuckets, nwriters;
    struct hdfs_bw *lru_head, *lru_tail;
    struct hdfs_touch *touched; /* the current batch's files */
    size_t ntouched, cap_touched;
    struct hdfs_pending *pending; /* renames to retry */
    size_t npending, cap_pending;
    long long batch_seq;
    struct sf_buf name; /* scratch: the resolved key */
    char err[1024];
    long long failures;
    struct sf_sink_repeat rep;
};

static const struct sf_option hdfs_options[] = {
    { "hdfs.path", SF_OPT_STRING, NULL, 0, 0, offsetof(struct hdfs_ctx, path), SF_OPT_REQUIRED,
      NULL, NULL,
      "directory template the files go to, with its scheme: hdfs://HOST:PORT/..., "
      "webhdfs://HOST:PORT/... or file:///...; escapes %{header}, %Y, %m, %d, %H... (see "
      "HDFS sink)" },
    { "hdfs.filePrefix", SF_OPT_STRING, "FlumeData", 0, 0, offsetof(struct hdfs_ctx, file_prefix),
      0, NULL, NULL, "start of every file name (a template like hdfs.path)" },
    { "hdfs.fileSuffix", SF_OPT_STRING, "", 0, 0, offsetof(struct hdfs_ctx, file_suffix), 0, NULL,
      NULL, "end of every file name, e.g. .txt" },
    { "hdfs.inUsePrefix", SF_OPT_STRING, "", 0, 0, offsetof(struct hdfs_ctx, in_use_prefix), 0,
      NULL, NULL, "put before the name of a file while it is written" },
    { "hdfs.inUseSuffix", SF_OPT_STRING, ".tmp", 0, 0, offsetof(struct hdfs_ctx, in_use_suffix), 0,
      NULL, NULL, "put after the name of a file while it is written" },
    { "hdfs.emptyInUseSuffix", SF_OPT_BOOL, "false", 0, 0,
      offsetof(struct hdfs_ctx, empty_in_use_suffix), 0, NULL, NULL,
      "true: no hdfs.inUseSuffix while a file is written" },
    { "hdfs.rollInterval", SF_OPT_INT, "30", 0, 1000000000,
      offsetof(struct hdfs_ctx, roll_interval_s), 0, NULL, NULL,
      "seconds after its creation a file is closed; 0 = never by time" },
    { "hdfs.rollSize", SF_OPT_INT, "1024", 0, INT64_MAX, offsetof(struct hdfs_ctx, roll_size), 0,
      NULL, NULL, "event body bytes after which a file is closed; 0 = never by size" },
    { "hdfs.rollCount", SF_OPT_INT, "10", 0, INT64_MAX, offsetof(struct hdfs_ctx, roll_count), 0,
      NULL, NULL, "events after which a file is closed; 0 = never by count" },
    { "hdfs.idleTimeout", SF_OPT_INT, "0", 0, 1000000000,
      offsetof(struct hdfs_ctx, idle_timeout_s), 0, NULL, NULL,
      "seconds without an event after which a file is closed; 0 = never" },
    { "hdfs.batchSize", SF_OPT_INT, "100", 1, 1000000, offsetof(struct hdfs_ctx, batch_size), 0,
      NULL, NULL,
      "maximum number of events per channel transaction, written durably before it commits" },
    { "hdfs.fileType", SF_OPT_ENUM, "SequenceFile", 0, 0, offsetof(struct hdfs_ctx, file_type), 0,
      NULL, "SequenceFile|DataStream|CompressedStream",
      "SequenceFile (Hadoop records), DataStream (the serializer's bytes) or CompressedStream "
      "(not supported yet)" },
    { "hdfs.codeC", SF_OPT_STRING, NULL, 0, 0, offsetof(struct hdfs_ctx, codec_name), 0, NULL,
      NULL, "SequenceFile block compression: gzip (GzipCodec) or default (DefaultCodec, zlib)" },
    { "hdfs.writeFormat", SF_OPT_ENUM, "Writable", 0, 0, offsetof(struct hdfs_ctx, write_format),
      0, NULL, "Writable|Text", "SequenceFile value class: BytesWritable or Text" },
    { "hdfs.maxOpenFiles", SF_OPT_INT, "5000", 1, 10000000,
      offsetof(struct hdfs_ctx, max_open_files), 0, NULL, NULL,
      "files open at once; beyond it the least recently used one is closed" },
    { "hdfs.callTimeout", SF_OPT_INT, "30000", 1, 86400000,
      offsetof(struct hdfs_ctx, call_timeout_ms), 0, NULL, NULL,
      "milliseconds a WebHDFS call may take" },
    { "hdfs.closeTries", SF_OPT_INT, "0", 0, 1000000000, offsetof(struct hdfs_ctx, close_tries), 0,
      NULL, NULL, "attempts to rename a closed file when renaming fails; 0 = until it works" },
    { "hdfs.retryInterval", SF_OPT_INT, "180", 0, 1000000000,
      offsetof(struct hdfs_ctx, retry_interval_s), 0, NULL, NULL,
      "seconds between those attempts" },
    { "hdfs.round", SF_OPT_BOOL, "false", 0, 0, offsetof(struct hdfs_ctx, round), 0, NULL, NULL,
      "round the time of the escapes down (hdfs.roundValue hdfs.roundUnit)" },
    { "hdfs.roundValue", SF_OPT_INT, "1", 1, 1000000, offsetof(struct hdfs_ctx, round_value), 0,
      NULL, NULL, "round down to a multiple of this many units" },
    { "hdfs.roundUnit", SF_OPT_ENUM, "second", 0, 0, offsetof(struct hdfs_ctx, round_unit), 0,
      NULL, "second|minute|hour", "unit of hdfs.roundValue" },
    { "hdfs.timeZone", SF_OPT_STRING, "local", 0, 0, offsetof(struct hdfs_ctx, time_zone), 0, NULL,
      NULL, "time zone of the escapes: local, UTC, GMT+hh:mm or a tz name (Europe/Paris)" },
    { "hdfs.useLocalTimeStamp", SF_OPT_BOOL, "false", 0, 0,
      offsetof(struct hdfs_ctx, use_local_ts), 0, NULL, NULL,
      "true: the escapes use the sink's clock, not the event's timestamp header" },
    { "hdfs.proxyUser", SF_OPT_STRING, NULL, 0, 0, offsetof(struct hdfs_ctx, proxy_user), 0, NULL,
      NULL, "WebHDFS user name (user.name); not for file://" },
    { "hdfs.kerberosPrincipal", SF_OPT_STRING, NULL, 0, 0,
      offsetof(struct hdfs_ctx, kerberos_principal), 0, NULL, NULL,
      "Kerberos is not supported yet" },
    { "hdfs.kerberosKeytab", SF_OPT_STRING, NULL, 0, 0, offsetof(struct hdfs_ctx, kerberos_keytab),
      0, NULL, NULL, "Kerberos is not supported yet" },
    { "hdfs.webhdfs.url", SF_OPT_STRING, NULL, 0, 0, offsetof(struct hdfs_ctx, webhdfs_url), 0,
      NULL, NULL, "the namenode's HTTP address, e.g. http://namenode:9870; not for file://" },
    { "hdfs.threadsPoolSize", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "the sink writes on its own thread" },
    { "hdfs.rollTimerPoolSize", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "the roll timers run on the sink's thread" },
    { "hdfs.minBlockReplicas", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "WebHDFS does not report a file's replication while it is written" },
    { "serializer", SF_OPT_STRING, "TEXT", 0, 0, offsetof(struct hdfs_ctx, serializer_type), 0,
      NULL, NULL,
      "DataStream: serializer the files are written with: text, header_and_text, avro_event" },
    { "serializer.", SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "options of the serializer (see Serializers), e.g. serializer.appendNewline" },
    { "errors.tolerance", SF_OPT_ENUM, "none", 0, 0, offsetof(struct hdfs_ctx, tolerance), 0, NULL,
      "none|all",
      "an event whose path needs a time it lacks (no timestamp header, useLocalTimeStamp "
      "false): none stops the sink and the agent with an ERROR line naming it (it stays in the "
      "channel); all skips it with an ERROR line" },
    { 0 },
};

static long long wall_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* The path part of hdfs.path (from the '/' after the authority), or NULL when it has no
 * scheme://authority/ shape. */
static const char *path_part(const char *uri)
{
    const char *p = strstr(uri, "://");
    if (!p) {
        return NULL;
    }
    return strchr(p + 3, '/');
}

/* ---------- configure ---------- */

static int parse_codec(const char *name, enum sf_seq_codec *out)
{
    if (strcasecmp(name, "gzip") == 0 || strcasecmp(name, "GzipCodec") == 0 ||
        strcasecmp(name, "org.apache.hadoop.io.compress.GzipCodec") == 0) {
        *out = SF_SEQ_GZIP;
        return SF_OK;
    }
    if (strcasecmp(name, "default") == 0 || strcasecmp(name, "DefaultCodec") == 0 ||
        strcasecmp(name, "org.apache.hadoop.io.compress.DefaultCodec") == 0) {
        *out = SF_SEQ_DEFLATE;
        return SF_OK;
    }
    return SF_ERR_INVAL;
}

/* Every rule across keys; with keep (start) keeps the compiled templates and zone in ctx. */
static int hdfs_check(struct sf_sink *snk, struct sf_diag *d, bool keep)
{
    struct hdfs_ctx *ctx = snk->ctx;
    const struct sf_section *s = snk->conf;
    int rc = SF_OK;
    char err[512];
#define BAD(key, ...) (sf_diag_error(d, sf_section_get(s, key), __VA_ARGS__), rc = SF_ERR_INVAL)
    const char *pp = ctx->path ? path_part(ctx->path) : NULL;
    bool local = ctx->path && strncasecmp(ctx->path, "file://", 7) == 0;
    if (!pp) {
        BAD("hdfs.path", "must be a URI with a scheme and an absolute path: hdfs://HOST:PORT/dir, "
                         "webhdfs://HOST:PORT/dir or file:///dir, not \"%s\"",
            ctx->path ? ctx->path : "");
    } else {
        struct sf_hdfs_fs_conf fc = { ctx->webhdfs_url, ctx->proxy_user, NULL, NULL,
                                      ctx->call_timeout_ms };
        struct sf_hdfs_fs *fs = NULL;
        if (memchr(ctx->path, '%', (size_t)(pp - ctx->path))) {
            BAD("hdfs.path", "escapes are allowed in the path only, not in the scheme or host");
        } else if (sf_hdfs_fs_open(ctx->path, &fc, &fs, err, sizeof(err)) != SF_OK) {
            BAD("hdfs.path", "%s", err);
        } else if (keep) {
            ctx->fs = fs;
        } else {
            sf_hdfs_fs_close(fs);
        }
        struct sf_bucket_path bp = { 0 };
        if (sf_bucket_path_compile(&bp, pp, err, sizeof(err)) != SF_OK) {
            BAD("hdfs.path", "%s", err);
        } else if (keep) {
            ctx->bp_dir = bp;
        } else {
            sf_bucket_path_free(&bp);
        }
    }
    struct sf_bucket_path bp = { 0 };
    if (sf_bucket_path_compile(&bp, ctx->file_prefix, err, sizeof(err)) != SF_OK) {
        BAD("hdfs.filePrefix", "%s", err);
    } else if (keep) {
        ctx->bp_prefix = bp;
    } else {
        sf_bucket_path_free(&bp);
    }
    if (strchr(ctx->file_prefix, '/') || strchr(ctx->file_suffix, '/') ||
        strchr(ctx->in_use_prefix, '/') || strchr(ctx->in_use_suffix, '/')) {
        BAD(strchr(ctx->file_prefix, '/')   ? "hdfs.filePrefix"
            : strchr(ctx->file_suffix, '/') ? "hdfs.fileSuffix"
            : strchr(ctx->in_use_prefix, '/') ? "hdfs.inUsePrefix"
                                              : "hdfs.inUseSuffix",
            "must not contain '/' (directories belong in hdfs.path)");
    }
    struct sf_tz *tz = NULL;
    if (sf_tz_load(ctx->time_zone, &tz, err, sizeof(err)) != SF_OK) {
        BAD("hdfs.timeZone", "%s", err);
    } else if (keep) {
        ctx->tz = tz;
    } else {
        sf_tz_free(tz);
    }
    if (ctx->file_type == FT_COMPRESSED) {
        BAD("hdfs.fileType", "CompressedStream is not supported yet (use DataStream, or "
                             "SequenceFile with hdfs.codeC = gzip)");
    }
    ctx->codec = SF_SEQ_NONE;
    if (ctx->codec_name) {
        if (ctx->file_type == FT_DATA) {
            BAD("hdfs.codeC", "fileType DataStream does not compress (unset hdfs.codeC, or use "
                              "fileType SequenceFile)");
        } else if (parse_codec(ctx->codec_name, &ctx->codec) != SF_OK) {
            BAD("hdfs.codeC", "\"%s\" is not supported (known: gzip, default)", ctx->codec_name);
        }
    }
    if (ctx->write_format == WF_TEXT && ctx->file_type != FT_SEQUENCE) {
        BAD("hdfs.writeFormat", "applies to fileType SequenceFile only");
    }
    for (size_t i = 0; ctx->file_type == FT_SEQUENCE && i < s->n; i++) {
        const char *sub = sf_section_subkey(s, s->v[i]);
        if (strcmp(sub, "serializer") == 0 || strncmp(sub, "serializer.", 11) == 0) {
            sf_diag_error(d, s->v[i], "applies to fileType DataStream only (SequenceFile: "
                                      "hdfs.writeFormat)");
            rc = SF_ERR_INVAL;
        }
    }
    if (ctx->kerberos_principal || ctx->kerberos_keytab) {
        BAD(ctx->kerberos_principal ? "hdfs.kerberosPrincipal" : "hdfs.kerberosKeytab",
            "Kerberos (SPNEGO) is not supported yet");
    }
    if (local && ctx->proxy_user) {
        BAD("hdfs.proxyUser", "applies to hdfs:// and webhdfs:// paths only");
    }
    if (local && ctx->webhdfs_url) {
        BAD("hdfs.webhdfs.url", "applies to hdfs:// and webhdfs:// paths only");
    }
    if (ctx->file_type == FT_DATA) {
        struct sf_serializer_conf *sc = sf_serializer_conf_create(s, "serializer", "serializer.", d);
        if (!sc) {
            rc = SF_ERR_INVAL;
        } else if (keep) {
            ctx->ser_conf = sc;
        } else {
            sf_serializer_conf_destroy(sc);
        }
    }
#undef BAD
    return rc;
}

static int hdfs_configure(struct sf_sink *snk, struct sf_diag *d)
{
    return hdfs_check(snk, d, false);
}

/* ---------- writers ---------- */

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

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
    struct hdfs_bw **pp = &ctx->table[hash_str(bw->key) & (ctx->nbuckets - 1)];
    while (*pp && *pp != bw) {
        pp = &(*pp)->hnext;
    }
    if (*pp) {
        *pp = bw->hnext;
    }
    ctx->nwriters--;
}

static void table_grow(struct hdfs_ctx *ctx)
{
    size_t nb = ctx->nbuckets ? ctx->nbuckets * 2 : 64;
    struct hdfs_bw **t = sf_xcalloc(nb, sizeof(*t));
    for (size_t i = 0; i < ctx->nbuckets; i++) {
        for (struct hdfs_bw *bw = ctx->table[i], *nx; bw; bw = nx) {
            nx = bw->hnext;
            size_t h = hash_str(bw->key) & (nb - 1);
            bw->hnext = t[h];
            t[h] = bw;
        }
    }
    free(ctx->table);
    ctx->table = t;
    ctx->nbuckets = nb;
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
static void finish_rename(struct sf_sink *snk, char *inuse, char *final, long long tries)
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
    sf_buf_reset(&bw->out);
    free(bw->inuse);
    free(bw->final);
    bw->inuse = bw->final = NULL;
    bw->events = bw->bytes = 0;
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
    int rc = sf_serializer_before_close(bw->ser, &bw->out);
    if (rc != SF_OK) {
        snprintf(ctx->err, sizeof(ctx->err), "serializer of \"%s\": %s", bw->inuse,
                 sf_serializer_errstr(bw->ser));
    }
    return rc;
}

/* Write bw->out to its file durably. @return SF_OK or the error (ctx->err). */
static int write_out(struct hdfs_ctx *ctx, struct hdfs_bw *bw)
{
    int rc = sf_hdfs_file_write(bw->f, bw->out.data, bw->out.len, ctx->err, sizeof(ctx->err));
    if (rc == SF_OK) {
        sf_buf_reset(&bw->out);
    }
    return rc;
}

/* Close bw's file outside a batch (timers, eviction, stop): trailer, close, rename. */
static void close_idle(struct sf_sink *snk, struct hdfs_bw *bw, const char *why)
{
    struct hdfs_ctx *ctx = snk->ctx;
    if (!bw->f) {
        return;
    }
    SF_DEBUG(SF_SINK_FMT "closing \"%s\" (%s)", SF_SINK_ARGS(snk), bw->inuse, why);
    sf_buf_reset(&bw->out);
    if (file_trailer(ctx, bw) != SF_OK || write_out(ctx, bw) != SF_OK) {
        SF_ERROR(SF_SINK_FMT "could not write the end of \"%s\": %s; closed as it is",
                 SF_SINK_ARGS(snk), bw->inuse, ctx->err);
        atomic_fetch_add(&snk->metrics.write_fail, 1);
    }
    char *inuse = bw->inuse, *final = bw->final;
    bw->inuse = bw->final = NULL;
    drop_file(snk, bw);
    finish_rename(snk, inuse, final, 0);
}

static void free_writer(struct sf_sink *snk, struct hdfs_bw *bw)
{
    struct hdfs_ctx *ctx = snk->ctx;
    lru_unlink(ctx, bw);
    table_remove(ctx, bw);
    drop_file(snk, bw);
    sf_buf_free(&bw->out);
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
        created ? -1 : sf_hdfs_file_length(bw->f), false, bw
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
        if (sf_hdfs_fs_stat(ctx->fs, b.data, &st, err, sizeof(err)) == SF_OK) {
            sf_buf_free(&a);
            sf_buf_free(&b);
            continue;
        }
        rc = sf_hdfs_fs_create(ctx->fs, a.data, &bw->f, ctx->err, sizeof(ctx->err));
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
        if (!bw->ser) {
            snprintf(ctx->err, sizeof(ctx->err), "out of memory for a serializer");
            rc = SF_ERR_NOMEM;
        } else if ((rc = sf_serializer_after_create(bw->ser, &bw->out)) != SF_OK) {
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
    if (ctx->nbuckets) {
        for (struct hdfs_bw *bw = ctx->table[hash_str(key) & (ctx->nbuckets - 1)]; bw;
             bw = bw->hnext) {
            if (strcmp(bw->key, key) == 0) {
                if (ctx->lru_head != bw) {
                    lru_unlink(ctx, bw);
                    lru_push(ctx, bw);
                }
                *out = bw;
                return SF_OK;
            }
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
            close_idle(snk, old, "hdfs.maxOpenFiles");
        }
        free_writer(snk, old);
    }
    if (ctx->nwriters + 1 > ctx->nbuckets * 2) {
        table_grow(ctx);
    }
    struct hdfs_bw *bw = sf_xcalloc(1, sizeof(*bw));
    bw->key = sf_xstrdup(key);
    bw->dir_len = dir_len;
    bw->counter = wall_ms();
    bw->out = (struct sf_buf)SF_BUF_INIT;
    size_t h = hash_str(key) & (ctx->nbuckets - 1);
    bw->hnext = ctx->table[h];
    ctx->table[h] = bw;
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
        rc = sf_serializer_write(bw->ser, ev, &bw->out);
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
        if (t->start_len < 0) {
            int rc = sf_hdfs_fs_delete(ctx->fs, t->inuse, err, sizeof(err));
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
        finish_rename(snk, t->inuse, t->final, 0);
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
            finish_rename(snk, t->inuse, t->final, 0);
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
        } else if ((rc = sf_serializer_flush(bw->ser, &bw->out)) != SF_OK) {
            snprintf(ctx->err, sizeof(ctx->err), "serializer of \"%s\": %s", bw->inuse,
                     sf_serializer_errstr(bw->ser));
            break;
        }
        rc = write_out(ctx, bw);
    }
    if (rc != SF_OK) {
        char key[sizeof(ctx->rep.key)];
        snprintf(key, sizeof(key), "%.500s", ctx->err);
        sf_sink_report(snk, &ctx->rep, key,
                       "could not write a batch of %zu events: %s (%s); rolled back, the events "
                       "stay in channel \"%s\" and are retried",
                       b->n, ctx->err, sf_err_str(rc), snk->ch->name);
        atomic_fetch_add(&snk->metrics.write_fail, 1);
        undo_batch(snk);
        ctx->failures++;
        return rc;
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

static const struct sf_sink_pipeline_ops hdfs_pipeline_ops = {
    .send = hdfs_send,
};

/* The timers: rollInterval, idleTimeout, and the renames to retry. */
static void run_timers(struct sf_sink *snk)
{
    struct hdfs_ctx *ctx = snk->ctx;
    long long now = sf_mono_ms();
    for (struct hdfs_bw *bw = ctx->lru_head, *nx; bw; bw = nx) {
        nx = bw->next;
        if (!bw->f) {
            continue;
        }
        if (ctx->roll_interval_s > 0 && now - bw->opened_ms >= ctx->roll_interval_s * 1000) {
            close_idle(snk, bw, "hdfs.rollInterval");
        } else if (ctx->idle_timeout_s > 0 && now - bw->last_ms >= ctx->idle_timeout_s * 1000) {
            close_idle(snk, bw, "hdfs.idleTimeout");
            free_writer(snk, bw); /* as Flume: an idle writer is removed */
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
        finish_rename(snk, p.inuse, p.final, p.tries);
    }
}

static int hdfs_start(struct sf_sink *snk, char *errstr, size_t errstr_size)
{
    struct hdfs_ctx *ctx = snk->ctx;
    struct sf_diag d = { 0 };
    ctx->name = (struct sf_buf)SF_BUF_INIT;
    /* configure accepted the keys: this only keeps what it built */
    if (hdfs_check(snk, &d, true) != SF_OK) {
        size_t off = 0;
        errstr[0] = '\0';
        for (size_t i = 0; i < d.nerrors && off < errstr_size; i++) {
            int w = snprintf(errstr + off, errstr_size - off, "%s%s", i ? "; " : "", d.errors[i]);
            off += w > 0 ? (size_t)w : 0;
        }
        sf_diag_free(&d);
        return SF_ERR_INVAL;
    }
    sf_diag_free(&d);
    ctx->bt = (struct sf_bucket_time){ ctx->tz, ctx->round, (int)ctx->round_value,
                                       ctx->round_unit == 0   ? SF_ROUND_SECOND
                                       : ctx->round_unit == 1 ? SF_ROUND_MINUTE
                                                              : SF_ROUND_HOUR };
    if (ctx->bp_dir.needs_host || ctx->bp_prefix.needs_host) {
        sf_bucket_host_init(&ctx->host);
    }
    table_grow(ctx);
    if (sf_sink_pipeline_init(&ctx->pl, snk, &hdfs_pipeline_ops, 1, ctx->batch_size) != SF_OK) {
        (void)snprintf(errstr, errstr_size, "out of memory for a batch of %lld events",
                       ctx->batch_size);
        return SF_ERR_NOMEM;
    }
    SF_INFO(SF_SINK_FMT "writing to %s (%s, %s)", SF_SINK_ARGS(snk), ctx->path,
            sf_hdfs_fs_scheme(ctx->fs),
            ctx->file_type == FT_SEQUENCE ? "SequenceFile" : "DataStream");
    return SF_OK;
}

static enum sf_status hdfs_process(struct sf_sink *snk)
{
    struct hdfs_ctx *ctx = snk->ctx;
    if (ctx->pl.halted) {
        return SF_FATAL;
    }
    run_timers(snk);
    enum sf_status st = sf_sink_pipeline_process(&ctx->pl);
    return ctx->pl.halted ? SF_FATAL : st;
}

static void hdfs_stop(struct sf_sink *snk)
{
    struct hdfs_ctx *ctx = snk->ctx;
    /* synchronous: nothing is in flight between steps */
    sf_sink_pipeline_rollback_all(&ctx->pl);
    sf_sink_pipeline_summary(&ctx->pl);
    sf_sink_pipeline_free(&ctx->pl);
    while (ctx->lru_head) {
        struct hdfs_bw *bw = ctx->lru_head;
        close_idle(snk, bw, "the sink stops");
        free_writer(snk, bw);
    }
    /* one last attempt at each failed rename */
    size_t n = ctx->npending;
    struct hdfs_pending *p = ctx->pending;
    ctx->pending = NULL;
    ctx->npending = ctx->cap_pending = 0;
    ctx->close_tries = 1; /* not queued again */
    for (size_t i = 0; i < n; i++) {
        finish_rename(snk, p[i].inuse, p[i].final, p[i].tries);
    }
    free(p);
    free(ctx->pending);
    free(ctx->touched);
    free(ctx->table);
    sf_buf_free(&ctx->name);
    sf_serializer_conf_destroy(ctx->ser_conf);
    sf_bucket_path_free(&ctx->bp_dir);
    sf_bucket_path_free(&ctx->bp_prefix);
    sf_tz_free(ctx->tz);
    sf_hdfs_fs_close(ctx->fs);
}

static const char *const hdfs_aliases[] = { "org.apache.flume.sink.hdfs.HDFSEventSink", NULL };

const struct sf_sink_plugin sf_sink_hdfs = {
    .name = "hdfs",
    .aliases = hdfs_aliases,
    .options = hdfs_options,
    .ctx_size = sizeof(struct hdfs_ctx),
    .configure = hdfs_configure,
    .start = hdfs_start,
    .process = hdfs_process,
    .stop = hdfs_stop,
};
