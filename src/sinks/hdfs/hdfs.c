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
 * default; CompressedStream writes the serializer's bytes through hdfs.codeC's codec (codec.h:
 * gzip, bzip2, deflate/default, snappy), each batch ending a complete member so that the file
 * on disk always decompresses whole (as Flume's HDFSCompressedDataStream finishes the codec
 * stream at every sync), and requires hdfs.codeC, as Flume.
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
 * Not implemented (refused at configure, never ignored): SequenceFile codecs other than gzip and
 * default, CompressedStream codecs other than codec.h's (lzo, lz4, zstd), Kerberos
 * (kerberosPrincipal / kerberosKeytab), proxyUser and hdfs.webhdfs.url on file://, the thread pool
 * sizes (the sink writes on its own thread).
 */
#include "hdfs_int.h"

#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
      "(the serializer's bytes through hdfs.codeC)" },
    { "hdfs.codeC", SF_OPT_STRING, NULL, 0, 0, offsetof(struct hdfs_ctx, codec_name), 0, NULL,
      NULL,
      "codec: CompressedStream gzip, bzip2, deflate, default (zlib) or snappy (Hadoop block "
      "framing); SequenceFile block compression gzip or default" },
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
      "DataStream: serializer the files are written with: text, header_and_text, avro_event, "
      "avro" },
    { "serializer.", SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "options of the serializer (see Serializers), e.g. serializer.appendNewline" },
    { "hdfs.exactlyOnce", SF_OPT_BOOL, "true", 0, 0, offsetof(struct hdfs_ctx, exactly_once), 0,
      NULL, NULL,
      "true: a state log next to the files records what they hold in the step that makes each "
      "batch durable; after a crash the sink cuts the files back to it, closes the in-use files "
      "and skips the events the files have, so every event is in them once (false: at least "
      "once, as Flume)" },
    { "errors.tolerance", SF_OPT_ENUM, "none", 0, 0, offsetof(struct hdfs_ctx, tolerance), 0, NULL,
      "none|all",
      "an event whose path needs a time it lacks (no timestamp header, useLocalTimeStamp "
      "false): none stops the sink and the agent with an ERROR line naming it (it stays in the "
      "channel); all skips it with an ERROR line" },
    { 0 },
};

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
    ctx->codec = SF_SEQ_NONE;
    ctx->zcodec = NULL;
    if (ctx->file_type == FT_COMPRESSED) {
        /* as Flume: CompressedStream requires a codec */
        if (!ctx->codec_name) {
            BAD("hdfs.fileType", "CompressedStream requires a codec: set hdfs.codeC (gzip, bzip2, "
                                 "deflate, default or snappy)");
        } else if (sf_codec_lookup(ctx->codec_name, &ctx->zcodec, err, sizeof(err)) != SF_OK) {
            BAD("hdfs.codeC", "%s", err);
        }
    } else if (ctx->codec_name) {
        if (ctx->file_type == FT_DATA) {
            BAD("hdfs.codeC", "fileType DataStream does not compress (unset hdfs.codeC, or use "
                              "fileType CompressedStream or SequenceFile)");
        } else if (parse_codec(ctx->codec_name, &ctx->codec) != SF_OK) {
            BAD("hdfs.codeC", "\"%s\" is not supported with SequenceFile (known: gzip, default)",
                ctx->codec_name);
        }
    }
    if (ctx->write_format == WF_TEXT && ctx->file_type != FT_SEQUENCE) {
        BAD("hdfs.writeFormat", "applies to fileType SequenceFile only");
    }
    for (size_t i = 0; ctx->file_type == FT_SEQUENCE && i < s->n; i++) {
        const char *sub = sf_section_subkey(s, s->v[i]);
        if (strcmp(sub, "serializer") == 0 || strncmp(sub, "serializer.", 11) == 0) {
            sf_diag_error(d, s->v[i],
                          "applies to fileType DataStream and CompressedStream only (SequenceFile: "
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
    if (ctx->file_type == FT_DATA || ctx->file_type == FT_COMPRESSED) {
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
    if (sf_sink_pipeline_init(&ctx->pl, snk, &hdfs_pipeline_ops, 1, ctx->batch_size) != SF_OK) {
        (void)snprintf(errstr, errstr_size, "out of memory for a batch of %lld events",
                       ctx->batch_size);
        return SF_ERR_NOMEM;
    }
    if (ctx->exactly_once) {
        ctx->state_dir = sf_sink_state_dir_of(path_part(ctx->path));
    }
    SF_INFO(SF_SINK_FMT "writing to %s (%s, %s, %s)", SF_SINK_ARGS(snk), ctx->path,
            sf_hdfs_fs_scheme(ctx->fs),
            ctx->file_type == FT_SEQUENCE     ? "SequenceFile"
            : ctx->file_type == FT_COMPRESSED ? "CompressedStream"
                                              : "DataStream",
            ctx->zcodec ? ctx->zcodec->name : ctx->codec_name ? ctx->codec_name : "uncompressed");
    return SF_OK;
}

static enum sf_status hdfs_process(struct sf_sink *snk)
{
    struct hdfs_ctx *ctx = snk->ctx;
    if (ctx->pl.halted) {
        return SF_FATAL;
    }
    if (ctx->exactly_once && !ctx->st.started) {
        enum sf_status st = sf_sink_state_start(&ctx->st, snk, &ctx->rep, ctx->fs, ctx->state_dir);
        if (st != SF_READY) {
            return st;
        }
    }
    hdfs_run_timers(snk);
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
        hdfs_close_idle(snk, bw, "the sink stops");
        hdfs_free_writer(snk, bw);
    }
    /* one last attempt at each failed rename */
    size_t n = ctx->npending;
    struct hdfs_pending *p = ctx->pending;
    ctx->pending = NULL;
    ctx->npending = ctx->cap_pending = 0;
    ctx->close_tries = 1; /* not queued again */
    for (size_t i = 0; i < n; i++) {
        hdfs_finish_rename(snk, p[i].inuse, p[i].final, p[i].tries);
    }
    free(p);
    sf_sink_state_end(&ctx->st);
    free(ctx->state_dir);
    free(ctx->pending);
    free(ctx->touched);
    sf_hmap_free(&ctx->writers);
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
