/*
 * What a source's or a sink's process() step tells its runner (after Flume's
 * PollableSource.Status / Sink.Status, READY and BACKOFF, plus a fatal status of our own and a
 * sink's delivery failure, which a sink processor fails over on: Flume's Sink.process() throwing
 * EventDeliveryException).
 */
#ifndef SQLFLUME_STATUS_H
#define SQLFLUME_STATUS_H

enum sf_status {
    SF_READY = 0,   /* call process() again at once */
    SF_BACKOFF = 1, /* sleep first: a source sleeps its backoff_ms, a sink the runner's backoff */
    /* An error the component may not get past, already logged: the runner asks the agent to stop
     * with exit code 1 and, until the agent stops it, goes on calling process() as after
     * SF_BACKOFF (so a sink can still commit the batches delivered before the error). A component
     * never stops the agent itself. */
    SF_FATAL = 2,
    /* A sink's delivery failed (already logged) and its take was rolled back, so the events are
     * still in the channel: the single-sink runner backs off as after SF_BACKOFF but for the full
     * time (an event's arrival does not end it); a sink processor (sink_group.h) penalises the
     * sink and tries another one of its group at once. Sinks only. */
    SF_FAILED = 3,
};

#endif
