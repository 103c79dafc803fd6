/*
 * Sources, after Flume's PollableSource + PollableSourceRunner: the runner thread calls process()
 * in a loop; SF_BACKOFF makes it sleep src->backoff_ms (interruptible by stop). A source hands
 * batches to sf_source_deliver(), Flume's ChannelProcessor with the replicating selector: each
 * batch is put into every channel of the source in one put transaction per channel, retried
 * until it fits, so nothing is ever dropped.
 */
#ifndef SQLFLUME_SOURCE_H
#define SQLFLUME_SOURCE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/channel.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"
#include "sqlflume/selector.h"
#include "sqlflume/sink.h"
#include "sqlflume/status.h"

struct sf_source;
struct sf_agent;

/** Flume's SourceCounter. batch_* are AppendBatch{Received,Accepted}Count, append_* the
 *  single-event append calls of a push source, open_connections a gauge (push sources). */
struct sf_source_metrics {
    atomic_llong event_received, event_accepted, batch_received, batch_accepted;
    atomic_llong append_received, append_accepted, open_connections;
    atomic_llong event_read_fail, channel_write_fail, generic_processing_fail;
};

struct sf_source_plugin {
    const char *name;
    const char *const *aliases;
    const struct sf_option *options;
    size_t ctx_size;
    /** Optional. The configure step, as sf_sink_plugin's: validate what needs more than the
     *  option table, every error to d at its key; no connection (the SQL source reads its
     *  connection.password.file here, nothing else). @return SF_OK, or SF_ERR_INVAL when it
     *  added errors */
    int (*configure)(struct sf_source *src, struct sf_diag *d);
    int (*start)(struct sf_source *src, char *errstr, size_t errstr_size);
    enum sf_status (*process)(struct sf_source *src);
    /** Called after the runner thread ended: write final offsets, close connections, free. */
    void (*stop)(struct sf_source *src);
};

struct sf_source {
    char *name;
    const struct sf_source_plugin *plugin;
    void *ctx;
    struct sf_channel **chs; /* the source's channels, in `channels` order */
    size_t nch;
    struct sf_selector selector; /* which of chs each event goes to */
    const struct sf_section *conf;
    struct sf_ack_tracker *tracker; /* delivery tracker for this source's offsets */
    atomic_bool stopping;
    struct sf_agent *agent; /* owner; its runner stops it on SF_FATAL */
    long long backoff_ms; /* set by process() before returning SF_BACKOFF */
    pthread_mutex_t sleep_mu;
    pthread_cond_t sleep_cv;
    struct sf_source_metrics metrics;
    atomic_llong unrouted;        /* events the selector sent nowhere, not yet logged */
    atomic_llong unrouted_log_ms; /* sf_mono_ms of the last line about them, 0 none */
};

#define SF_SOURCE_FMT "[source %s %s] "
#define SF_SOURCE_ARGS(src) (src)->name, (src)->plugin->name

/**
 * Put evs[0..n) into every channel of src (copies for the 2nd and later channels), one put
 * transaction per channel, retrying with backoff while a channel is full. src_key/src_offset
 * (borrowed, may be NULL) are the offset the batch reaches, recorded by durable channels in the
 * same commit (sf_channel_offset_get).
 * @return SF_OK (the channels own the events) or SF_ERR_STOPPED (the source is stopping; the
 * caller still owns the events that no channel took: they are freed by this function in that case
 * too, so the caller never frees evs after the call).
 */
int sf_source_deliver(struct sf_source *src, struct sf_event **evs, size_t n, const char *src_key,
                      const char *src_offset);

/**
 * Put evs[0..n) into every channel of src as sf_source_deliver does, but once: a channel that
 * cannot take the batch now (full within its keep-alive, or the batch over its
 * transactionCapacity) fails the call instead of being waited for (Flume's ChannelProcessor
 * throwing ChannelException, which an AvroSource answers with Status.FAILED so that the client
 * sends again). No offset is recorded (a push source has none). With several channels, the
 * channels before the one that failed keep the batch (as in Flume: the client's retry puts it
 * there again). Counts channel_write_fail on failure; logs nothing (the caller reports).
 * @return SF_OK (the channels own the events), SF_ERR_FULL or SF_ERR_NOMEM; on failure the
 * events are freed too, so the caller never frees evs after the call.
 * Thread: any (several threads of one source may call it at once).
 */
int sf_source_deliver_try(struct sf_source *src, struct sf_event **evs, size_t n);

/** Sleep up to ms, waking early when the source is stopped. @return false when stopping. */
bool sf_source_sleep(struct sf_source *src, long long ms);

#endif
