/*
 * Interceptors, after Flume's Interceptor + InterceptorChain: a source's events pass through its
 * interceptors, in the order of `SOURCE.interceptors = i1 i2`, before the channel selector picks
 * their channels. An interceptor may leave an event as it is, replace it by a changed copy
 * (headers added, removed or rewritten, body rewritten), or drop it (regex_filter). Events are
 * one allocation each (event.h), so a change is a new event; it inherits the original's tracker
 * and ack_id (sf_event_rebuild), so the source's offset still advances when it is delivered. A
 * dropped event is acknowledged by the chain, so a filtered-out row moves the offset past it as
 * a delivered one does.
 *
 * Configuration (Flume's keys): `SOURCE.interceptors.NAME.type = timestamp` (or the Flume class
 * name, e.g. org.apache.flume.interceptor.TimestampInterceptor$Builder), the interceptor's own
 * keys under `SOURCE.interceptors.NAME.`.
 */
#ifndef SQLFLUME_INTERCEPTOR_H
#define SQLFLUME_INTERCEPTOR_H

#include <stdatomic.h>
#include <stddef.h>

#include "sqlflume/event.h"
#include "sqlflume/option.h"

struct sf_interceptor;

/** What intercept() did with the event it was given. */
enum sf_intercept {
    SF_IC_KEEP = 0, /* *ev is the event to go on with: the same one or its replacement */
    SF_IC_DROP = 1, /* drop it: *ev is untouched, the chain acknowledges and frees it */
};

struct sf_interceptor_plugin {
    const char *name;           /* "timestamp" */
    const char *const *aliases; /* NULL-terminated Flume class names (with $Builder) */
    const struct sf_option *options;
    size_t ctx_size;
    /** Optional. Validate what the option table cannot (a regular expression that does not
     *  compile, a list of serializers that does not match the groups); every error to d at its
     *  key; no I/O. @return SF_OK, or SF_ERR_INVAL when it added errors */
    int (*configure)(struct sf_interceptor *ic, struct sf_diag *d);
    /** Optional. Allocate what intercept() needs (compiled patterns, the host name). Called once
     *  before the source starts. @return SF_OK or an error with errstr filled. */
    int (*start)(struct sf_interceptor *ic, char *errstr, size_t errstr_size);
    /**
     * One event. To change it, build the replacement with sf_event_rebuild (which keeps the
     * tracker and ack id), destroy the original and store the replacement in *ev. Called by the
     * source's threads (several at once for the Avro source): ctx is read-only after start, or
     * the plugin locks what it changes.
     * @return SF_IC_KEEP or SF_IC_DROP; on out of memory the plugin logs it and returns
     * SF_IC_KEEP with *ev unchanged (an event is never lost to an interceptor's failure).
     */
    enum sf_intercept (*intercept)(struct sf_interceptor *ic, struct sf_event **ev);
    /** Optional. Free what start and configure allocated (not ctx, not the option strings). */
    void (*stop)(struct sf_interceptor *ic);
};

/** Flume's INTERCEPTOR counters: events seen, and events dropped by this interceptor. */
struct sf_interceptor_metrics {
    atomic_llong events_in, events_dropped;
};

struct sf_interceptor {
    char *name; /* "i1", owned */
    const struct sf_interceptor_plugin *plugin;
    void *ctx; /* ctx_size bytes, owned by the chain */
    struct sf_section conf; /* SOURCE.interceptors.NAME.* */
    struct sf_interceptor_metrics metrics;
};

/** Log prefix "[interceptor i1 timestamp] " helpers. */
#define SF_IC_FMT "[interceptor %s %s] "
#define SF_IC_ARGS(ic) (ic)->name, (ic)->plugin->name

/** The interceptors of one source, in order. */
struct sf_interceptor_chain {
    struct sf_interceptor *v;
    size_t n;
};

/**
 * Build src_conf's chain from its `interceptors` list: each NAME's type through the registry,
 * its option table, its configure step. Every problem goes to d (unknown type with the known
 * ones, missing type, bad values); every key under `interceptors.` is marked used.
 * @param chain  filled (empty when there are no interceptors); free with
 *               sf_interceptor_chain_free, also after an error
 * @return SF_OK, or SF_ERR_INVAL when it added errors to d.
 */
int sf_interceptor_chain_build(struct sf_interceptor_chain *chain,
                               const struct sf_section *src_conf,
                               struct sf_diag *d);
/** start() of each interceptor. @return SF_OK or the first error (errstr names the
 *  interceptor). */
int sf_interceptor_chain_start(struct sf_interceptor_chain *chain, char *errstr,
                               size_t errstr_size);
/**
 * Pass evs[0..n) through every interceptor in order. Dropped events are acknowledged (nacks
 * deliveries each: the number of channels their batch was registered for) and freed; the kept
 * ones are compacted to the front of evs, in order.
 * @return the number kept.
 */
size_t sf_interceptor_chain_apply(struct sf_interceptor_chain *chain, struct sf_event **evs,
                                  size_t n, size_t nacks);
/** stop() each interceptor and free the chain; a zeroed chain is a no-op. */
void sf_interceptor_chain_free(struct sf_interceptor_chain *chain);

/** Registry lookup by type name or Flume class name; NULL when unknown. */
const struct sf_interceptor_plugin *sf_registry_interceptor(const char *type);

/**
 * A new event with ev's tracker and ack id, the given headers and body (both copied; they may
 * point into ev). For interceptors. @return the event (caller owns), or NULL on out of memory.
 */
struct sf_event *sf_event_rebuild(const struct sf_event *ev, const struct sf_header_lens *headers,
                                  size_t n, const void *body, size_t body_len);

#endif
