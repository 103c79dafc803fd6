/*
 * Internal to src/sinks/hdfs: the HDFS sink's state (hdfs.c's header comment describes the sink),
 * shared by its two halves:
 *   hdfs.c         the plugin: options, configure (every rule across keys), start, process, stop;
 *   hdfs_writer.c  the bucket writers and their files (create, roll, rename, the LRU of
 *                  hdfs.maxOpenFiles, the timers) and a batch's delivery (hdfs_pipeline_ops).
 * Path templates are bucket_path.h's, the file systems hdfs_fs.h's.
 */
#ifndef SQLFLUME_HDFS_INT_H
#define SQLFLUME_HDFS_INT_H

#include "bucket_path.h"
#include "codec.h"
#include "hdfs_fs.h"
#include "seqfile.h"
#include "sink_state.h"

#include "sqlflume/buf.h"
#include "sqlflume/hmap.h"
#include "sqlflume/serializer.h"
#include "sqlflume/sink.h"
#include "sqlflume/sink_pipeline.h"

#include <stdbool.h>
#include <stddef.h>


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
    long long end_len;   /* rolled: its length when closed */
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
    struct sf_compressor *z;   /* CompressedStream, of the open file */
    struct sf_buf raw;         /* CompressedStream: the serializer's bytes not yet compressed */
    long long touch_seq;       /* the batch that last touched it */
    size_t touch;              /* its index in ctx->touched for that batch */
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
    bool exactly_once;
    /* state */
    enum sf_seq_codec codec;              /* SequenceFile's block codec */
    const struct sf_codec_desc *zcodec;   /* CompressedStream's codec (static) */
    struct sf_hdfs_fs *fs;
    struct sf_bucket_path bp_dir, bp_prefix;
    struct sf_tz *tz;
    struct sf_bucket_time bt;
    struct sf_bucket_host host;
    struct sf_serializer_conf *ser_conf;
    struct sf_sink_pipeline pl;
    struct sf_hmap writers; /* hash of key -> the writer (struct hdfs_bw *) */
    size_t nwriters;
    struct hdfs_bw *lru_head, *lru_tail;
    struct hdfs_touch *touched; /* the current batch's files */
    size_t ntouched, cap_touched;
    struct hdfs_pending *pending; /* renames to retry */
    size_t npending, cap_pending;
    long long batch_seq;
    struct sf_buf name; /* scratch: the resolved key */
    char err[1024];
    /* exactly once (sink_state.h) */
    struct sf_sink_state st;
    char *state_dir;      /* owned */
    long long failures;
    struct sf_sink_repeat rep;
};

/* hdfs_writer.c */

/** The pipeline's send: one take transaction written durably (the sink's header comment). */
extern const struct sf_sink_pipeline_ops hdfs_pipeline_ops;
/** Close bw's file outside a batch (timers, eviction, stop): trailer, close, rename; why names
 *  the cause for the DEBUG line. A failure is logged (the file is closed as it is). */
void hdfs_close_idle(struct sf_sink *snk, struct hdfs_bw *bw, const char *why);
/** Unlink bw from the table and the LRU list and free it (its file dropped, not renamed). */
void hdfs_free_writer(struct sf_sink *snk, struct hdfs_bw *bw);
/** Rename inuse to final (both taken over, freed here); a failure is logged and queued for
 *  retries (hdfs.retryInterval, hdfs.closeTries); tries: attempts made so far. */
void hdfs_finish_rename(struct sf_sink *snk, char *inuse, char *final, long long tries);
/** The timers: rollInterval, idleTimeout, and the renames to retry. */
void hdfs_run_timers(struct sf_sink *snk);

#endif
