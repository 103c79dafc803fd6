/*
 * Flume's Event: a set of string headers and an opaque body. An event is one allocation (the
 * struct, the header strings and the body), created once by the source and moved, never copied,
 * through the channel to the sink. Events also carry the delivery bookkeeping (ack tracker and
 * batch id) that lets the source's offset advance only past delivered rows (DESIGN-NOTES 1).
 */
#ifndef SQLFLUME_EVENT_H
#define SQLFLUME_EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sf_ack_tracker;


/*
 * The headers every SQL source event carries (README "Events"): the source table, the row's
 * offset (its incremental value, or "ts,id"), the message key (the primary key's values) and the
 * read time in epoch milliseconds (Flume's `timestamp` header, which the HDFS sink's time escapes
 * read). Sinks and the file channel's compact records refer to them by these names only.
 */
#define SF_HDR_TABLE     "table"
#define SF_HDR_OFFSET    "offset"
#define SF_HDR_KEY       "key"
#define SF_HDR_TIMESTAMP "timestamp"
struct sf_header {
    const char *key; /* NUL-terminated */
    const char *val; /* NUL-terminated */
};

struct sf_event {
    struct sf_event *next;          /* queue link; belongs to whoever owns the event */
    struct sf_ack_tracker *tracker; /* source's tracker to acknowledge on delivery, or NULL */
    uint64_t ack_id;                /* batch id within tracker */
    size_t nheaders;
    size_t body_len; /* bytes */
    char *body;      /* body_len bytes plus a NUL, inside this allocation */
    struct sf_header headers[];
};

/**
 * Create an event holding copies of the n headers and of the body, in one allocation.
 * @return the event (caller owns; free with sf_event_destroy) or NULL on out of memory.
 */
struct sf_event *
sf_event_create(const struct sf_header *headers, size_t n, const void *body, size_t body_len);
/** A header with its lengths known, for sf_event_create_lens (the hot path skips strlen). */
struct sf_header_lens {
    const char *key; /* key_len bytes; need not be NUL-terminated */
    size_t key_len;
    const char *val; /* val_len bytes; need not be NUL-terminated */
    size_t val_len;
};

/**
 * sf_event_create with the lengths of the header strings given (bytes, without NUL); the event
 * holds NUL-terminated copies. @return the event (caller owns) or NULL on out of memory.
 */
struct sf_event *sf_event_create_lens(const struct sf_header_lens *headers,
                                      size_t n,
                                      const void *body,
                                      size_t body_len);
/** Deep copy (same tracker and ack id); NULL on out of memory. */
struct sf_event *sf_event_copy(const struct sf_event *ev);
/**
 * The header strings of ev as they are stored, "key\0val\0" per header back to back right after
 * the header array and before the body (every event is made by sf_event_create*, and events are
 * never changed in place); *len gets their total length in bytes. Borrowed from ev.
 */
static inline const char *sf_event_strs(const struct sf_event *ev, size_t *len)
{
    const char *start = (const char *)&ev->headers[ev->nheaders];
    *len = (size_t)(ev->body - start);
    return start;
}
/** Bytes of header i's key, without its NUL, from the layout above (no strlen). */
static inline size_t sf_event_key_len(const struct sf_event *ev, size_t i)
{
    return (size_t)(ev->headers[i].val - ev->headers[i].key) - 1;
}
/** Bytes of header i's value, without its NUL, from the layout above (no strlen). */
static inline size_t sf_event_val_len(const struct sf_event *ev, size_t i)
{
    const char *end = i + 1 < ev->nheaders ? ev->headers[i + 1].key : ev->body;
    return (size_t)(end - ev->headers[i].val) - 1;
}
/** Bytes of ev's one allocation. */
static inline size_t sf_event_size(const struct sf_event *ev)
{
    return (size_t)(ev->body - (const char *)ev) + ev->body_len + 1;
}
/** Free; NULL is a no-op. */
void sf_event_destroy(struct sf_event *ev);
/** Value of header key (borrowed from ev), or NULL. Inline: sinks look up headers per event. */
static inline const char *sf_event_header(const struct sf_event *ev, const char *key)
{
    for (size_t i = 0; i < ev->nheaders; i++) {
        const char *k = ev->headers[i].key;
        if (k[0] == key[0] && strcmp(k, key) == 0) {
            return ev->headers[i].val;
        }
    }
    return NULL;
}

/**
 * Delivery tracker of one source (Kafka Connect's SubmittedRecords, DESIGN-NOTES 1).
 * The source registers each batch before putting it (n events, into nchannels channels, with
 * the offset value reached after its last row); sinks acknowledge events when their take
 * transaction commits; sf_ack_tracker_poll() returns the offset of the longest fully
 * acknowledged prefix of batches. Thread-safe. Memory is bounded by the channels' capacity.
 */
struct sf_ack_tracker *sf_ack_tracker_create(void);
void sf_ack_tracker_destroy(struct sf_ack_tracker *tr);
/** Register a batch; last_offset is copied. @return batch id (> 0), 0 on out of memory. */
uint64_t sf_ack_tracker_add(struct sf_ack_tracker *tr,
                            size_t n_events,
                            unsigned nchannels,
                            const char *last_offset);
/** Acknowledge n deliveries of batch id (one per event per channel). */
void sf_ack_tracker_ack(struct sf_ack_tracker *tr, uint64_t id, size_t n);
/** Acknowledgements gathered while walking a batch, so that consecutive ones of the same
 *  (tracker, batch id) take the tracker's lock once. Zero it to start. */
struct sf_ack_run {
    struct sf_ack_tracker *tr; /* NULL: nothing gathered */
    uint64_t id;
    size_t n;
};
/** Add n deliveries of batch id of tr (tr NULL: nothing) to r, acknowledging what r held before
 *  when it was another batch. */
void sf_ack_run_add(struct sf_ack_run *r, struct sf_ack_tracker *tr, uint64_t id, size_t n);
/** Acknowledge what r holds and empty it. */
void sf_ack_run_flush(struct sf_ack_run *r);
/** Acknowledge every event of evs[0..n) that has a tracker, grouping runs of one batch. */
void sf_events_ack(struct sf_event *const *evs, size_t n);
/**
 * @return a new malloc'd copy of the committable offset if it advanced since the last call
 * (caller frees), or NULL when nothing new is committable.
 */
char *sf_ack_tracker_poll(struct sf_ack_tracker *tr);
/** Number of registered batches not yet fully acknowledged. */
size_t sf_ack_tracker_pending(struct sf_ack_tracker *tr);

#endif
