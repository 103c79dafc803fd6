/*
 * Event serializers, after Flume's org.apache.flume.serialization.EventSerializer: what the file
 * sinks (HDFS DataStream / CompressedStream, file_roll) write their files with. A serializer
 * turns events into the bytes of one file; it does no I/O itself: every call appends bytes to a
 * caller-owned struct sf_buf, which the sink then writes out (and compresses, for
 * CompressedStream). The calls follow Flume's:
 *
 *   after_create (a new, empty file) or after_reopen (appending to an existing file, only when
 *   supports_reopen), then write per event, flush at every batch (what is appended must then be
 *   written and synced by the sink), before_close, and the sink closes the file.
 *
 * Types are looked up by name case-insensitively, as Flume's EventSerializerType (TEXT, text) or
 * by Flume's builder class name. The list is src/format/serializers.def.
 *
 * Configuration: a sink reads the type from one of its keys (HDFS: `serializer`, which Flume's
 * HDFSDataStream reads from the sink's context, not `hdfs.serializer`; file_roll:
 * `sink.serializer`; default TEXT) and the serializer's keys under a prefix of its section
 * (HDFS: `serializer.`, file_roll: `sink.serializer.`), as Flume's sinks pass
 * context.getSubProperties(prefix) to the builder. The sink's own option table accepts the type
 * key (SF_OPT_STRING, default "TEXT") and the prefix (an SF_OPT_PREFIX row); the serializer's
 * table validates the keys under the prefix (unknown keys are warnings, bad values errors, as for
 * components).
 */
#ifndef SQLFLUME_SERIALIZER_H
#define SQLFLUME_SERIALIZER_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/buf.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"

/*
 * One serializer type. Every function that can fail returns SF_OK or a negative sf_err with
 * errstr (errstr_size bytes) filled with a lower-case message naming the cause. conf is the
 * struct the option table filled (conf_size bytes, read-only after configure, shared by every
 * instance); ctx is one instance's state (ctx_size bytes, zeroed when the instance is created).
 */
struct sf_serializer_plugin {
    const char *name;                /* "text": Flume's EventSerializerType in lower case */
    const char *const *aliases;      /* NULL-terminated: Flume's builder class names */
    const struct sf_option *options; /* table filling conf, {0}-terminated */
    size_t conf_size;
    size_t ctx_size;
    bool supports_reopen; /* Flume's supportsReopen(): after_reopen may be called */
    /** Optional: checks across keys once the table is applied. */
    int (*configure)(void *conf, char *errstr, size_t errstr_size);
    /** A new, empty file starts: append its header, if any. Resets the instance's file state. */
    int (*after_create)(void *ctx,
                        const void *conf,
                        struct sf_buf *out,
                        char *errstr,
                        size_t errstr_size);
    /** An existing file is appended to (NULL when !supports_reopen). */
    int (*after_reopen)(void *ctx,
                        const void *conf,
                        struct sf_buf *out,
                        char *errstr,
                        size_t errstr_size);
    /** Append ev (borrowed) or keep it for a later block. */
    int (*write)(void *ctx,
                 const void *conf,
                 const struct sf_event *ev,
                 struct sf_buf *out,
                 char *errstr,
                 size_t errstr_size);
    /** Append everything kept back (Avro: close the open block). */
    int (*flush)(void *ctx, const void *conf, struct sf_buf *out, char *errstr, size_t errstr_size);
    /** The file ends: append its trailer, if any. */
    int (*before_close)(void *ctx,
                        const void *conf,
                        struct sf_buf *out,
                        char *errstr,
                        size_t errstr_size);
    /** Optional: free what the instance allocated (not ctx itself). */
    void (*free)(void *ctx);
};

/** Look up a serializer type by name (case-insensitive) or builder class name; NULL if unknown. */
const struct sf_serializer_plugin *sf_serializer_lookup(const char *type);
/** The i-th registered type (serializers.def order), or NULL past the last. Static. */
const struct sf_serializer_plugin *sf_serializer_plugin_at(size_t i);

/** A serializer type with its options, parsed once from a sink's section. */
struct sf_serializer_conf {
    const struct sf_serializer_plugin *plugin;
    void *conf; /* conf_size bytes, owned */
};

/**
 * Parse the serializer configuration of a sink: its type from the key type_key of sink (a
 * subkey such as "serializer"; "TEXT" when absent) and its options from the keys of sink
 * under prefix ("serializer."), with sf_options_apply (kind "serializer", name the type): bad
 * values are errors, unknown keys under prefix are warnings with the nearest known key, and every
 * key under prefix is marked used. The type key itself is marked used.
 * @param sink  the sink's section; borrowed (its props must outlive the call only)
 * @param d  gets the errors ("FILE:LINE: KEY: unknown serializer \"x\" (known: text,
 *           header_and_text, avro_event, avro, or their Flume builder class names)") and warnings
 * @return the configuration (caller owns; free with sf_serializer_conf_destroy), or NULL when an
 *         error was added to d (or on out of memory, also reported in d).
 */
struct sf_serializer_conf *sf_serializer_conf_create(const struct sf_section *sink,
                                                     const char *type_key,
                                                     const char *prefix,
                                                     struct sf_diag *d);
/** Free c and its option strings; NULL is a no-op. */
void sf_serializer_conf_destroy(struct sf_serializer_conf *c);

/** One serializer instance: writes one file at a time. Not thread-safe (the sink's thread). */
struct sf_serializer;

/**
 * Create an instance of c (borrowed: it must outlive the instance). The instance expects
 * after_create or after_reopen before any write.
 * @return the instance (caller owns; sf_serializer_destroy) or NULL on out of memory.
 */
struct sf_serializer *sf_serializer_create(const struct sf_serializer_conf *c);
/** Free the instance (bytes it kept back are lost: flush first); NULL is a no-op. */
void sf_serializer_destroy(struct sf_serializer *s);
/** Flume's supportsReopen(): whether sf_serializer_after_reopen can be used. */
bool sf_serializer_supports_reopen(const struct sf_serializer *s);
/** The type name ("text"). Static. */
const char *sf_serializer_name(const struct sf_serializer *s);

/*
 * The calls below append to out (caller-owned; bytes already in it are kept) and return SF_OK,
 * or an error whose message sf_serializer_errstr() gives: SF_ERR_STATE for a call out of order
 * (write before after_create/after_reopen or after before_close; after_reopen on a serializer
 * without reopen support), otherwise the plugin's error. After an error other than
 * SF_ERR_STATE the file is unusable: the sink closes it and starts a new one.
 */
/** A new file starts (it may follow before_close of the previous one). */
int sf_serializer_after_create(struct sf_serializer *s, struct sf_buf *out);
/** An existing file, written by this type, is appended to. */
int sf_serializer_after_reopen(struct sf_serializer *s, struct sf_buf *out);
/** Serialize ev (borrowed). */
int sf_serializer_write(struct sf_serializer *s, const struct sf_event *ev, struct sf_buf *out);
/** Append what was kept back: after it, out holds every event written so far. */
int sf_serializer_flush(struct sf_serializer *s, struct sf_buf *out);
/** The file ends: flushes and appends the trailer, if any. */
int sf_serializer_before_close(struct sf_serializer *s, struct sf_buf *out);
/** The message of the last error (borrowed from s; "" before any). */
const char *sf_serializer_errstr(const struct sf_serializer *s);

#endif
