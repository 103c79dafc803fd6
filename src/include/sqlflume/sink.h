/*
 * Sinks, after Flume's Sink + SinkRunner: the runner thread calls process() in a loop; process
 * takes a batch from the channel in a take transaction, delivers it, and commits only after a
 * durable acknowledgement (Kafka delivery report, HDFS flush, Avro RPC reply), else rolls back.
 * It returns SF_READY to be called again at once or SF_BACKOFF (channel empty or delivery failed)
 * for the runner to sleep (Flume: +1000 ms per consecutive backoff, at most 5000 ms).
 * A sink may keep several take transactions open at once (pipelining), committing each in order.
 */
#ifndef SQLFLUME_SINK_H
#define SQLFLUME_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/channel.h"
#include "sqlflume/option.h"

enum sf_status { SF_READY = 0, SF_BACKOFF = 1 };

struct sf_sink;
struct sf_agent;

/** Flume's SinkCounter. */
struct sf_sink_metrics {
    atomic_llong connection_created, connection_closed, connection_failed;
    atomic_llong batch_empty, batch_underflow, batch_complete;
    atomic_llong drain_attempt, drain_success, write_fail, channel_read_fail;
};

struct sf_sink_plugin {
    const char *name;                /* "kafka" */
    const char *const *aliases;      /* NULL-terminated, e.g. "org.apache.flume.sink.kafka.KafkaSink" */
    const struct sf_option *options; /* table filling ctx */
    size_t ctx_size;
    /** Open connections, create producers. @return SF_OK or an error with errstr filled. */
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
    struct sf_agent *agent;        /* owner; for sf_agent_request_stop() on fatal errors */
    struct sf_sink_metrics metrics;
};

/** Log prefix "[sink k1 kafka]" helpers. */
#define SF_SINK_FMT "[sink %s %s] "
#define SF_SINK_ARGS(snk) (snk)->name, (snk)->plugin->name

#endif
