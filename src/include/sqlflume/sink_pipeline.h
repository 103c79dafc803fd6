/*
 * The acknowledged-sink pipeline (src/core/sink_pipeline.c): the take side of every sink that
 * may commit a take transaction only once the destination has durably acknowledged its events
 * (Kafka delivery reports, an HDFS hflush, a file's fsync, an Avro RPC reply), since that commit
 * is what lets the source store its offset (docs/DESIGN.md, "Offsets").
 *
 * Up to max_inflight take transactions ("batches") are open at once. Each is committed in take
 * order, and only once every one of its events is acknowledged (sf_sink_pipeline_ack); a later
 * batch that completes first waits for the ones before it. Rolling back goes newest first (each
 * rollback puts its events back at the head of the channel, so they end up in their original
 * order). The pipeline keeps Flume's SinkCounter batch and drain counters (see
 * sf_sink_pipeline_process); the sink keeps connection_*, write_fail and the event_* counters.
 *
 * A sink plugs in with three functions (struct sf_sink_pipeline_ops):
 *   send        hand a newly taken batch to the destination;
 *   poll        serve what has arrived without waiting (optional);
 *   flush_wait  the pipeline cannot take more now: send whatever is held at once (no lingering,
 *               no waiting for a fuller request) and wait for acknowledgements (optional).
 * Two shapes fit:
 *   asynchronous (Kafka): send produces and returns; acknowledgements come later, each calling
 *     sf_sink_pipeline_ack from the sink's own callbacks (served inside poll and flush_wait);
 *     flush_wait makes the client send at once and returns early, at the first acknowledgement
 *     that completes a batch, rather than sleeping a fixed interval.
 *   synchronous (file_roll, HDFS): send writes the batch, syncs it (fsync, hflush) and calls
 *     sf_sink_pipeline_ack(pl, b, b->n) before returning, or returns an error; poll and
 *     flush_wait may be NULL, and the batch is committed before sf_sink_pipeline_process returns.
 *
 * The runner (the agent's sink thread) calls the sink's process(), which calls
 * sf_sink_pipeline_process() once per step. A step never returns SF_BACKOFF while a batch is in
 * flight: when it can take nothing more (every slot is in flight, the sink halted or is stopping,
 * or the channel looked empty, which is also what a channel whose capacity is held by the
 * in-flight batches looks like, since taken events count against a channel's capacity until
 * their batch commits) it calls flush_wait, so the destination is kept busy and the sink wakes
 * as soon as the channel can be given room again.
 *
 * Thread: every function here, and every op, runs on the sink's thread (Kafka: librdkafka serves
 * delivery reports inside rd_kafka_poll/rd_kafka_flush on the calling thread).
 */
#ifndef SQLFLUME_SINK_PIPELINE_H
#define SQLFLUME_SINK_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/channel.h"
#include "sqlflume/sink.h"

/** One open take transaction of the pipeline (a ring slot; slots are reused). */
struct sf_pipeline_batch {
    struct sf_txn *txn;    /* the open take transaction (the pipeline's); NULL: slot free */
    struct sf_event **evs; /* batch slots, kept across batches; evs[0..n) are the taken events,
                            * borrowed from the channel until the batch commits or rolls back */
    size_t n;              /* events taken, 1..batch */
    size_t acked;          /* events acknowledged so far (sf_sink_pipeline_ack); commit at n */
    size_t slot;           /* index of this slot, 0..max_inflight-1, stable: for the sink's own
                            * per-slot state (an array of max_inflight entries beside the ring) */
    long long seq;         /* 1 for the first batch taken since init, then +1 per batch */
    long long sent_us;     /* monotonic µs when send() was called; the sink sets 0 for the batch
                            * not to be timed (it failed and went again) */
    long long rtt_us;      /* µs from send() to the acknowledgement completing it; -1: not timed */
};

struct sf_sink_pipeline;

/** What the sink provides. Static const, like a plugin. */
struct sf_sink_pipeline_ops {
    /**
     * Hand the new batch b (the newest slot; b->evs[0..b->n) taken, b->acked == 0) to the
     * destination. Acknowledge its events with sf_sink_pipeline_ack, now (synchronous) or later.
     * @return SF_OK: b is in flight (or already acknowledged). An error (any SF_ERR_*): nothing of
     * b is held by the destination any more and the pipeline rolls b back, unless send already
     * rolled back every batch (sf_sink_pipeline_rollback_all); the step returns SF_READY when a
     * take limit was set (sf_sink_pipeline_limit_next: the batch is to be taken again, shorter)
     * or batches remain in flight, else SF_BACKOFF.
     */
    int (*send)(struct sf_sink *snk, struct sf_pipeline_batch *b);
    /** Optional: serve acknowledgements and due work (retries) without waiting. Called at the
     *  start of every step, before the pipeline commits what is complete. */
    void (*poll)(struct sf_sink *snk);
    /**
     * Optional for synchronous sinks (every batch acknowledged in send), required otherwise: the
     * "flush now" hook. The pipeline can take nothing more: make the destination send what it
     * holds at once, then wait up to max_ms (milliseconds, > 0) for acknowledgements, returning
     * early once one completes a batch (a destination whose acknowledgement is one bounded step
     * of its own, such as a Kafka transaction's commit, may take that step instead). The
     * pipeline commits what is complete afterwards.
     * @return SF_READY, or SF_BACKOFF when the sink cannot deliver now (used only when no batch
     * is left in flight).
     */
    enum sf_status (*flush_wait)(struct sf_sink *snk, int max_ms);
    /** Optional: true when waiting longer cannot complete the oldest batch (the producer failed,
     *  or the sink halted on an event it may not get past); ends sf_sink_pipeline_drain early. */
    bool (*stalled)(struct sf_sink *snk);
};

/** The pipeline; embedded in the sink's context, zeroed before sf_sink_pipeline_init. The
 *  fields are read-only for the sink except halted. */
struct sf_sink_pipeline {
    const struct sf_sink_pipeline_ops *ops;
    struct sf_sink *snk;            /* borrowed */
    struct sf_pipeline_batch *ring; /* max_inflight slots, owned */
    size_t max_inflight;
    size_t head, count; /* oldest slot, batches in flight */
    size_t batch;       /* events per take: min(batch size, the channel's transactionCapacity) */
    size_t limit_next;  /* the next take takes at most this many events (0: batch) */
    bool halted;        /* set by the sink: take nothing more (it failed for good); the batches in
                         * flight still commit as they complete */
    long long seq;      /* batches taken since init */
    /* statistics, for sf_sink_pipeline_summary */
    long long rtt_n, rtt_sum_us, rtt_max_us; /* timed batches (see sf_pipeline_batch.rtt_us) */
    size_t peak;                             /* most batches in flight at once */
    long long waits_full, waits_empty;       /* flush_wait calls: no slot could be taken (every
                                              * slot in flight, halted, stopping), channel empty */
};

/**
 * Set up pl for snk: max_inflight slots of batch events each.
 * @param pl  zeroed (or freed with sf_sink_pipeline_free); free with sf_sink_pipeline_free
 * @param snk  borrowed, outlives pl; its channel must be set
 * @param ops  borrowed, static; send is required
 * @param max_inflight  take transactions open at once, >= 1 (1: one at a time, e.g. a Kafka
 * transaction per batch)
 * @param batch_size  events per take transaction, >= 1; capped at the channel's
 * transactionCapacity when that is set
 * @return SF_OK, SF_ERR_NOMEM (the only failure; pl stays freeable)
 */
int sf_sink_pipeline_init(struct sf_sink_pipeline *pl,
                          struct sf_sink *snk,
                          const struct sf_sink_pipeline_ops *ops,
                          long long max_inflight,
                          long long batch_size);

/**
 * Free the slots. Every batch must have been committed or rolled back (count == 0; a batch still
 * open is rolled back here, which is only safe when the destination no longer references its
 * events). A zeroed pl is a no-op; pl can be initialised again.
 */
void sf_sink_pipeline_free(struct sf_sink_pipeline *pl);

/**
 * One step, for the sink's process(): poll; commit the complete batches at the head; then either
 *  - no slot can be taken (all in flight, halted, or snk->stopping): flush_wait up to 100 ms;
 *  - or take a batch of up to batch events (limit_next when set) in a new take transaction,
 *    waiting up to 100 ms for the first event when nothing is in flight, not at all otherwise,
 *    and send it; commit it at once when send acknowledged it; else, when the take found fewer
 *    events than asked, flush_wait up to 10 ms, or when that took the last free slot, up to
 *    100 ms.
 * Counters (Flume's SinkCounter): drain_attempt += events taken; batch_empty (nothing taken and
 * nothing in flight), batch_underflow / batch_complete (fewer than / exactly batch events) per
 * batch taken; drain_success += a batch's events when it commits; channel_read_fail + 1 when a
 * take transaction cannot begin (out of memory) or the take fails (logged at ERROR).
 * @return SF_READY to be called again at once, always while a batch is in flight; SF_BACKOFF
 * (nothing in flight) when the channel was empty or the sink is halted or stopping; SF_FAILED
 * (nothing in flight) when a take failed or send failed without setting a take limit.
 */
enum sf_status sf_sink_pipeline_process(struct sf_sink_pipeline *pl);

/**
 * Acknowledge k more events of b (b in flight, b->acked + k <= b->n). The batch is committed by
 * the next sf_sink_pipeline_settle (every step settles) once b->acked == b->n and every batch
 * before it is committed. The ack that completes b times it (rtt_us) when sent_us is set.
 * @return true when b is now complete.
 */
bool sf_sink_pipeline_ack(struct sf_sink_pipeline *pl, struct sf_pipeline_batch *b, size_t k);

/** Commit the complete batches at the head, in order (drain_success += their events; a failed
 *  commit, which our channels' take semantics rule out, is logged at ERROR and the events return
 *  to the channel). Each timed batch is a DEBUG line ("batch N of M events delivered in X ms"). */
void sf_sink_pipeline_settle(struct sf_sink_pipeline *pl);

/** Roll every batch in flight back, newest first. Only call when the destination no longer
 *  references their events (every acknowledgement is in, or the client is destroyed). */
void sf_sink_pipeline_rollback_all(struct sf_sink_pipeline *pl);

/**
 * At stop: flush_wait (up to 100 ms at a time) and settle until nothing is in flight, timeout_ms
 * (milliseconds, >= 0) have passed, or ops->stalled says waiting is useless.
 * @return the batches still in flight (the sink then gives them up: sf_sink_pipeline_rollback_all
 * once the destination has let go of them)
 */
size_t sf_sink_pipeline_drain(struct sf_sink_pipeline *pl, long long timeout_ms);

/** The batch i places after the oldest in flight (0: the oldest), i < count. Borrowed. */
struct sf_pipeline_batch *sf_sink_pipeline_at(const struct sf_sink_pipeline *pl, size_t i);

/** Events in the batches in flight. */
size_t sf_sink_pipeline_events(const struct sf_sink_pipeline *pl);

/** The next take takes at most k events (k >= 1; e.g. to leave out an event that must go alone),
 *  once; then batch events again. */
void sf_sink_pipeline_limit_next(struct sf_sink_pipeline *pl, size_t k);

/** One INFO line with the round trips (mean, max) and waits since init, when a batch was timed:
 *  for the sink's stop(). */
void sf_sink_pipeline_summary(const struct sf_sink_pipeline *pl);

#endif
