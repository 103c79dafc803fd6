/*
 * Channels and their transactions, after Flume's Channel/Transaction: a source puts events in a
 * put transaction, a sink takes them in a take transaction; commit makes the change visible (put)
 * or final (take); rollback undoes it (taken events return to the head of the queue). Locks are
 * taken per transaction, not per event (DESIGN-NOTES 2): sf_channel_put only records the event in
 * the transaction; the plugin sees whole batches at commit.
 *
 * Ownership: a put event stays the caller's until its transaction commits; after a successful
 * commit the channel owns it; after rollback (or a failed commit) the caller still owns it.
 * Taken events are borrowed from the channel until commit (then acknowledged to their source's
 * tracker and freed) or rollback (then returned to the channel).
 */
#ifndef SQLFLUME_CHANNEL_H
#define SQLFLUME_CHANNEL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlflume/event.h"
#include "sqlflume/option.h"

struct sf_channel;

enum sf_txn_kind { SF_TXN_NONE = 0, SF_TXN_PUT, SF_TXN_TAKE };
/* Flume's MemoryTransaction states */
enum sf_txn_state { SF_TXN_OPEN = 1, SF_TXN_COMPLETED, SF_TXN_CLOSED };

struct sf_txn {
    struct sf_channel *ch;
    enum sf_txn_kind kind; /* decided by the first put or take */
    enum sf_txn_state state;
    uint64_t id;
    struct sf_event **evs; /* events put or taken so far, in order */
    size_t n, cap;         /* cap = the channel's transactionCapacity */
    void *plugin_data;     /* for the plugin's own per-transaction state */
    /* The source offset reached by a put transaction's events, recorded by a durable channel in
     * the same commit (DESIGN-NOTES 1; see sf_channel_offset_get). Borrowed, may be NULL; the
     * source sets both before sf_channel_txn_commit. Channels without offset_get ignore them. */
    const char *src_key;
    const char *src_offset;
};

/** Flume's channel counters (ChannelCounter), read by monitoring, in Flume's units although our
 *  take returns a batch: put_attempt per put call; take_attempt as if each event were taken by its
 *  own take() call, plus one for the call that found fewer events than asked (Flume's take()
 *  returning null), plus one per failed take; successes in events at commit (rolled back ones
 *  are not counted). */
struct sf_channel_metrics {
    atomic_llong put_attempt, put_success, take_attempt, take_success;
};

/** A channel implementation. Static const; registered in the registry. */
struct sf_channel_plugin {
    const char *name;                /* "memory" */
    const char *const *aliases;      /* NULL-terminated: Flume class names */
    const struct sf_option *options; /* NULL-key-terminated option table for ctx */
    size_t ctx_size;                 /* bytes of ctx, zeroed, filled by the option table */
    /**
     * Optional (NULL: the option table checks everything). The configure step, after the option
     * table filled ctx without error and before start: the rules across keys and every other
     * rule start would reject a value for, with no I/O (no file, directory or connection is
     * opened, nothing is allocated that outlives the call), so that `sqlflume check` reports
     * what start would reject. Each error goes to d at its key (sf_diag_error(d,
     * sf_section_get(ch->conf, "key"), ...); at NULL when the key is not set or ch->conf is
     * NULL), all of them, not only the first. Called by the agent for check and for a run alike;
     * start may then rely on what configure accepted.
     * @return SF_OK when it added no error to d, SF_ERR_INVAL otherwise
     */
    int (*configure)(struct sf_channel *ch, struct sf_diag *d);
    /** Called after configure accepted the options; sets ch->capacity / ch->txn_capacity. */
    int (*start)(struct sf_channel *ch, char *errstr, size_t errstr_size);
    /** Free what start allocated, including queued events. */
    void (*stop)(struct sf_channel *ch);
    /**
     * Append txn->evs[0..n) to the queue, waiting up to keep-alive for room.
     * @return SF_OK (the channel now owns them) or SF_ERR_FULL (nothing appended).
     */
    int (*put_commit)(struct sf_txn *txn);
    /**
     * Move up to max events from the head of the queue to out, waiting up to timeout_ms for the
     * first one (0 = no wait). @return SF_OK with *n >= 0.
     */
    int (*take)(struct sf_txn *txn, struct sf_event **out, size_t max, size_t *n, int timeout_ms);
    /** The taken txn->evs are delivered: release their room. Does not free them. */
    int (*take_commit)(struct sf_txn *txn);
    /** Return txn->evs to the head of the queue, in order. */
    int (*take_rollback)(struct sf_txn *txn);
    /** Events in the queue plus taken but not committed. */
    size_t (*size)(struct sf_channel *ch);
    /**
     * Optional (NULL: the channel does not keep offsets). The latest txn->src_offset committed
     * with a put transaction under src_key, surviving restarts (after replay).
     * @param out  on SF_OK a malloc'd copy (caller frees); NULL otherwise
     * @return SF_OK, SF_ERR_NOTFOUND (no offset for src_key), SF_ERR_NOMEM
     */
    int (*offset_get)(struct sf_channel *ch, const char *src_key, char **out);
};

struct sf_channel {
    char *name;
    const struct sf_channel_plugin *plugin;
    void *ctx;
    const struct sf_section *conf; /* every key of this channel (for configure's locations); may
                                    * be NULL when the channel is built without a file */
    long long capacity;     /* events */
    long long txn_capacity; /* events per transaction */
    atomic_ullong next_txn_id;
    struct sf_channel_metrics metrics;
};

/**
 * The capacity rule every channel shares (Flume's MemoryChannel and FileChannel): a transaction
 * may not hold more events than the channel. For a plugin's configure step.
 * @param ch  borrowed; its conf (may be NULL) locates the error at transactionCapacity
 * @param d  gets "transactionCapacity (T) must not be greater than capacity (C)"
 * @return SF_OK, or SF_ERR_INVAL when the error was added
 */
int sf_channel_check_capacity(const struct sf_channel *ch,
                              long long capacity,
                              long long txn_capacity,
                              struct sf_diag *d);

/** Begin a transaction on ch. @return the transaction (free with sf_channel_txn_close) or NULL
 *  on out of memory. */
struct sf_txn *sf_channel_txn_begin(struct sf_channel *ch);
/** Record ev in a put transaction. @return SF_OK, SF_ERR_FULL when transactionCapacity is
 *  reached (Flume: "Put queue for MemoryTransaction of capacity N full"), SF_ERR_STATE. */
int sf_channel_put(struct sf_txn *txn, struct sf_event *ev);
/** Take up to max events (max <= remaining transactionCapacity); out[0..*n) borrowed until
 *  commit/rollback. @return SF_OK (maybe *n == 0), SF_ERR_STATE. */
int sf_channel_take(struct sf_txn *txn, struct sf_event **out, size_t max, size_t *n,
                    int timeout_ms);
/** Commit. Put: the channel owns the events. Take: events are acknowledged to their trackers and
 *  freed. @return SF_OK, SF_ERR_FULL (put: no room within keep-alive; nothing changed; the
 *  transaction must be rolled back), SF_ERR_STATE. */
int sf_channel_txn_commit(struct sf_txn *txn);
/** Roll back: put events go back to the caller, taken events back to the channel. */
int sf_channel_txn_rollback(struct sf_txn *txn);
/** Close; an open transaction is rolled back first. NULL is a no-op. */
void sf_channel_txn_close(struct sf_txn *txn);
/** Events held (queued + taken and uncommitted). */
size_t sf_channel_size(struct sf_channel *ch);
/**
 * The latest source offset committed into ch under src_key (txn->src_key/src_offset of put
 * transactions), e.g. to resume a source exactly after a crash with a durable channel.
 * @param out  on SF_OK a malloc'd copy (caller frees); NULL otherwise
 * @return SF_OK, SF_ERR_NOTFOUND (none stored, or the channel keeps no offsets), SF_ERR_NOMEM
 * Thread: any.
 */
int sf_channel_offset_get(struct sf_channel *ch, const char *src_key, char **out);

#endif
