/*
 * Sink groups and sink processors, after Flume's SinkGroup + SinkProcessor + SinkRunner: the
 * agent runs one thread per group, which calls the group's processor, which calls the process()
 * of one of the group's sinks per step (each sink takes from its own channel):
 *  - default (DefaultSinkProcessor): exactly one sink; every sink of no group is run as a group
 *    of its own with this processor;
 *  - failover (FailoverSinkProcessor): the live sink of the highest processor.priority.<sink>
 *    delivers; one whose process() fails (SF_FAILED, SF_FATAL) goes to the failed list for
 *    min(maxpenalty, 1000 << failures) ms (2 s, 4 s, ... as Flume) and the next one is tried at
 *    once; a failed sink whose penalty passed is tried first and is live again when it returns
 *    SF_READY;
 *  - load_balance (LoadBalancingSinkProcessor): each step tries the sinks in the order of the
 *    selector (round_robin: a rotating start; random: a shuffle) until one does not fail; with
 *    processor.backoff = true a failing sink is left out for min(maxTimeOut, 1000 << n) ms, n
 *    counting its failures (reset after an hour without one, capped at 16, as Flume).
 * A step where every sink failed (or, with backoff, every sink is left out) returns SF_FAILED.
 */
#ifndef SQLFLUME_SINK_GROUP_H
#define SQLFLUME_SINK_GROUP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/option.h"
#include "sqlflume/sink.h"
#include "sqlflume/status.h"

/** The most sinks a group may have (its processor's per-step bookkeeping is on the stack). */
#define SF_SINK_GROUP_MAX 64

enum sf_sink_processor_type {
    SF_SINK_PROCESSOR_DEFAULT,
    SF_SINK_PROCESSOR_FAILOVER,
    SF_SINK_PROCESSOR_LOAD_BALANCE,
};

/** A sink of a group and the processor's state about it. */
struct sf_sink_group_member {
    struct sf_sink *snk;    /* borrowed from the agent */
    long long priority;     /* failover: processor.priority.<sink> (unset: -1, -2, ... in list
                             * order, as Flume); members are sorted highest first */
    bool failed;            /* failover: in the failed list */
    bool failing;           /* its last step failed (for the log's "delivers again" line) */
    long long until_ms;     /* failover: retried after; load_balance: left out until */
    int fails;              /* failover: consecutive failures; load_balance: Flume's count */
    long long last_fail_ms; /* load_balance: sf_mono_ms() of its last failure */
};

/** A sink group (or a sink of no group, run as a default group of one). */
struct sf_sink_group {
    char *name;    /* owned: the group's name, or the sink's */
    bool implicit; /* a sink of no group */
    enum sf_sink_processor_type type;
    struct sf_sink_group_member *m; /* n members, owned array */
    size_t n;
    long long max_penalty_ms; /* failover: processor.maxpenalty */
    bool backoff;             /* load_balance: processor.backoff */
    bool random;              /* load_balance: processor.selector = random */
    long long max_timeout_ms; /* load_balance: processor.selector.maxTimeOut */
    size_t next_head;         /* round_robin: Flume's nextHead */
    unsigned long long rng;   /* random: xorshift state */
    bool all_failed;          /* the last step had no sink left (logged once) */
    bool fatal;               /* a member returned SF_FATAL (the runner stops the agent) */
    atomic_bool stopping;     /* set by the agent at shutdown, with its sinks' */
};

/** The keys of NAME.sinkgroups.<group>. (for the configuration reference). */
extern const struct sf_option sf_sink_group_options[];

/**
 * Build the agent's sink groups from props: NAME.sinkgroups lists them, each configured by
 * sf_sink_group_options (unknown keys warned with the nearest; a key of another processor type
 * warned as ignored). Errors (to d, at their key): a group with no sinks, a sink not in
 * NAME.sinks or in two groups, an unknown processor type or selector, a default processor with
 * more than one sink, a priority that is no integer or is that of another sink of the group.
 * Then every sink of no group gets a default group of its own, after the groups, in sinks order.
 * Every key under NAME.sinkgroups is marked used.
 * @param sinks  the agent's nsinks sinks, borrowed for the groups' lifetime
 * @param groups  out: a malloc'd array of *ngroups groups (free with sf_sink_groups_free), also
 * on error (then with what could be built)
 * @return SF_OK, or SF_ERR_INVAL when an error was added to d (SF_ERR_NOMEM: out of memory).
 */
int sf_sink_groups_build(struct sf_props *props,
                         const char *agent,
                         struct sf_sink *sinks,
                         size_t nsinks,
                         struct sf_sink_group **groups,
                         size_t *ngroups,
                         struct sf_diag *d);
/** Free groups (n of them) and what they own; not the sinks. NULL is fine. */
void sf_sink_groups_free(struct sf_sink_group *groups, size_t n);

/**
 * One step of the group's processor (see above): calls the process() of one or more members.
 * @param now_ms  the monotonic clock (sf_mono_ms()); the penalties are measured on it
 * @return the status of the member that did not fail (SF_READY, SF_BACKOFF), or SF_FAILED when
 * every member failed or was left out; a default group returns its sink's status as is.
 */
enum sf_status sf_sink_group_process(struct sf_sink_group *g, long long now_ms);

/**
 * The group's runner (Flume's SinkRunner), for a thread: sf_sink_group_process in a loop until
 * g->stopping; after SF_BACKOFF or SF_FAILED it sleeps 100 ms more per consecutive one, at most
 * 1000 ms; a sleep after SF_BACKOFF with every member's channel empty ends within 20 ms of an
 * event's arrival, one after SF_FAILED lasts its full time. A member's SF_FATAL asks the agent
 * to stop with exit code 1 (sf_agent_request_stop). arg: the struct sf_sink_group. @return NULL
 */
void *sf_sink_group_run(void *arg);

#endif
