/*
 * What a source's or a sink's process() step tells its runner (after Flume's
 * PollableSource.Status / Sink.Status, READY and BACKOFF, plus a fatal status of our own).
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
};

#endif
