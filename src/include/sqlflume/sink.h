/*
 * Sinks, after Flume's Sink + SinkRunner: the runner thread calls process() in a loop; process
 * takes a batch from the channel in a take transaction, delivers it, and commits only after a
 * durable acknowledgement (Kafka delivery report, HDFS flush, Avro RPC reply), else rolls back.
 * It returns SF_READY to be called again at once, SF_BACKOFF (channel empty) or SF_FAILED
 * (delivery failed, the take rolled back; see status.h) for the runner to sleep (+100 ms per
 * consecutive backoff, at most 1000 ms; Flume: +1000 ms, at most 5000 ms); a backoff that began
 * on an empty channel ends within 20 ms of an event's arrival. A sink in a sink group
 * (sink_group.h) is run by its group's runner through the group's sink processor instead.
 * A sink may keep several take transactions open at once (pipelining), committing each in order.
 */
#ifndef SQLFLUME_SINK_H
#define SQLFLUME_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/channel.h"
#include "sqlflume/option.h"
#include "sqlflume/status.h"


struct sf_sink;
struct sf_agent;

/** Flume's SinkCounter, plus the per-event error counters of sinks with an error policy (the
 *  Kafka sink's errors.tolerance): event_failed = events with a permanent error (too large,
 *  invalid, not authorised...), event_retried = messages sent again after a retriable failure,
 *  event_dead_lettered = events written to the dead-letter topic; failed = 1 once the sink has
 *  stopped on an error it may not get past (it then delivers nothing more until restarted). */
struct sf_sink_metrics {
    atomic_llong connection_created, connection_closed, connection_failed;
    atomic_llong batch_empty, batch_underflow, batch_complete;
    atomic_llong drain_attempt, drain_success, write_fail, channel_read_fail;
    atomic_llong event_failed, event_retried, event_dead_lettered, failed;
};

struct sf_sink_plugin {
    const char *name;                /* "kafka" */
    const char *const *aliases;      /* NULL-terminated, e.g. "org.apache.flume.sink.kafka.KafkaSink" */
    const struct sf_option *options; /* table filling ctx */
    size_t ctx_size;
    /**
     * Optional (NULL: the option table checks everything). The configure step, after the option
     * table filled ctx without error and before start: the rules across keys, the pass-through
     * families (`header.`, `kafka.producer.*` through the client library's own configuration
     * check) and every other rule start would reject a value for, with no I/O (no connection,
     * no file; nothing allocated outlives the call), so that `sqlflume check` reports what start
     * would reject. Each error goes to d at its key (sf_diag_error(d,
     * sf_section_get(snk->conf, "key"), ...); at NULL when the key is not set), all of them,
     * not only the first. snk->ch may be NULL (check of a sink whose channel is undefined).
     * Called by the agent for check and for a run alike; start may then rely on it.
     * @return SF_OK when it added no error to d, SF_ERR_INVAL otherwise
     */
    int (*configure)(struct sf_sink *snk, struct sf_diag *d);
    /** Open connections, create producers, after configure accepted the options.
     *  @return SF_OK or an error with errstr filled. */
    int (*start)(struct sf_sink *snk, char *errstr, size_t errstr_size);
    /** One step; see above. Must return within about a second when snk->stopping is set. */
    enum sf_status (*process)(struct sf_sink *snk);
    /** Finish or roll back open transactions, flush, free everything start allocated. */
    void (*stop)(struct sf_sink *snk);
};

struct sf_sink {
    char *name;
    const struct sf_sink_plugin *plugin;
    void *ctx;                     /* ctx_size bytes, owned by the agent */
    struct sf_channel *ch;         /* the channel this sink drains */
    const struct sf_section *conf; /* every key of this sink, for pass-through families */
    atomic_bool stopping;          /* set by the agent at shutdown */
    struct sf_agent *agent;        /* owner; its runner stops it on SF_FATAL */
    struct sf_sink_metrics metrics;
};

/** Log prefix "[sink k1 kafka]" helpers. */
#define SF_SINK_FMT "[sink %s %s] "
#define SF_SINK_ARGS(snk) (snk)->name, (snk)->plugin->name

/** The ERROR line a sink last logged through sf_sink_report: zeroed to start (in the sink's
 *  calloc'd ctx); set key[0] = '\0' once delivery works again, so the next failure is logged. */
struct sf_sink_repeat {
    long long ms;  /* sf_mono_ms() when it was logged */
    char key[512]; /* its key: the what, where and why of the failure */
};

/** A failure that persists is logged once a minute, not at every retry. */
#define SF_SINK_REPEAT_MS 60000

/**
 * Log the message fmt at ERROR with the sink's prefix, unless a failure with the same key (the
 * message itself when key is NULL; e.g. the message without the batch's size) was logged less
 * than SF_SINK_REPEAT_MS ago. Sink thread only (r is the sink's own).
 */
void sf_sink_report(struct sf_sink *snk, struct sf_sink_repeat *r, const char *key,
                    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * The take loop of the simple sinks (null, logger: src/core/sink.c), for sinks that are done with
 * an event as soon as they have seen it and so need no delivery acknowledgement.
 */

/** Take buffer of a simple sink; zero it (or let the agent's calloc'd ctx do so) before init. */
struct sf_sink_batch {
    struct sf_event **evs; /* cap slots, owned; the events in them are borrowed from the channel */
    size_t cap;            /* events per take: min(batchSize, the channel's transactionCapacity) */
};

/**
 * Size and allocate b for snk: cap = batch_size, capped at snk->ch->txn_capacity when that is
 * set (> 0). For a sink's start().
 * @param b  filled; free with sf_sink_batch_free
 * @param snk  borrowed; its channel must be set
 * @param batch_size  events per take transaction (the sink's batchSize option), >= 1
 * @param errstr  gets the message on error (errstr_size bytes, NUL-terminated)
 * @return SF_OK, or SF_ERR_NOMEM ("out of memory for a batch of N events"; b->evs stays NULL).
 */
int sf_sink_batch_init(struct sf_sink_batch *b,
                       const struct sf_sink *snk,
                       long long batch_size,
                       char *errstr,
                       size_t errstr_size);
/** Free the slots of b (not the events); b can be initialised again. A zeroed b is a no-op. */
void sf_sink_batch_free(struct sf_sink_batch *b);

/**
 * Called by sf_sink_take_batch for each taken event, in channel order, before the commit.
 * @param ev  borrowed; freed by the commit that follows
 * @param arg  the caller's, passed through
 */
typedef void (*sf_sink_event_fn)(struct sf_sink *snk, const struct sf_event *ev, void *arg);

/**
 * One step of a simple sink's process(): begin a take transaction on snk->ch, take up to b->cap
 * events (waiting up to 100 ms for the first, so that stop is noticed quickly), call each (unless
 * NULL) on every event, and commit. Counters (Flume's SinkCounter): drain_attempt += taken,
 * then on success batch_empty (nothing taken) or batch_underflow / batch_complete (fewer than /
 * exactly b->cap) and drain_success += taken; channel_read_fail += 1 when the transaction cannot
 * begin (out of memory) or the take or commit fails (logged at ERROR; the transaction is rolled
 * back, so the events stay in the channel).
 * @param snk  the sink; borrowed
 * @param b  from sf_sink_batch_init
 * @return SF_READY when events were taken and committed; SF_BACKOFF when the channel was empty;
 * SF_FAILED on a failure.
 */
enum sf_status
sf_sink_take_batch(struct sf_sink *snk, struct sf_sink_batch *b, sf_sink_event_fn each, void *arg);

#endif
