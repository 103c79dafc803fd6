/*
 * Channel selectors, after Flume's ChannelSelector (ReplicatingChannelSelector,
 * MultiplexingChannelSelector, LoadBalancingChannelSelector): for each event, the channels of
 * its source it must go to (required: a failed put fails the batch back to the source, and the
 * row counts as delivered only when every one of them has delivered it) and those it may go to
 * (optional: a failed put is logged and ignored, and they never hold the source's offset back).
 * Channels are named by their index in the source's `channels` list; a source has at most
 * SF_SELECTOR_MAX_CHANNELS of them.
 *
 * Keys, under the source (Flume's names and defaults):
 *   selector.type      replicating (default) | multiplexing | load_balancing, or the class names
 *   selector.optional  replicating: channels whose put failures are ignored
 *   selector.header    multiplexing: the header read (default flume.selector.header)
 *   selector.mapping.V multiplexing: the required channels of events whose header is V
 *   selector.optional.V multiplexing: their optional channels (minus the required ones)
 *   selector.default   multiplexing: the required channels of events that match no mapping
 *   selector.policy    load_balancing: round_robin (default) | random; one channel per event
 */
#ifndef SQLFLUME_SELECTOR_H
#define SQLFLUME_SELECTOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "sqlflume/event.h"
#include "sqlflume/option.h"

#define SF_SELECTOR_MAX_CHANNELS 64

enum sf_selector_type { SF_SEL_REPLICATING, SF_SEL_MULTIPLEXING, SF_SEL_LOAD_BALANCING };

struct sf_selector_mapping {
    char *value;  /* header value, owned */
    uint64_t req; /* bit c: channel c of the source */
    uint64_t opt;
};

struct sf_selector {
    enum sf_selector_type type;
    unsigned nch;      /* channels of the source */
    uint64_t all;      /* the bits of every channel */
    uint64_t req, opt; /* replicating: required and optional channels */
    char *header;      /* multiplexing: owned */
    struct sf_selector_mapping *maps;
    size_t nmaps;
    uint64_t dflt;      /* multiplexing: required channels of unmatched events (0: dropped) */
    bool random;        /* load_balancing: random, else round robin */
    atomic_ullong next; /* load_balancing: round-robin position / random state */
};

/**
 * Build the selector of a source from its section's `selector.*` keys. chnames[0..nch) are the
 * source's channels in list order (borrowed). Every error goes to d at its key (an unknown type
 * with the known ones, a channel that is not one of the source's, a multiplexing selector with
 * neither a mapping nor a default), warnings for unknown `selector.` keys (with the nearest
 * known one) and for channels that can get no event; every `selector.` key is marked used.
 * @param sel  filled; free with sf_selector_free (also after an error)
 * @return SF_OK, or SF_ERR_INVAL when it added errors.
 */
int sf_selector_build(struct sf_selector *sel,
                      const struct sf_section *src_conf,
                      char *const *chnames,
                      unsigned nch,
                      struct sf_diag *d);
/** true when every event goes to every channel, all required (Flume's default). */
bool sf_selector_is_plain(const struct sf_selector *sel);
/** The required (*req) and optional (*opt, disjoint from *req) channels of ev. Thread-safe. */
void sf_selector_pick(struct sf_selector *sel,
                      const struct sf_event *ev,
                      uint64_t *req,
                      uint64_t *opt);
/** Free what build allocated; a zeroed selector is a no-op. */
void sf_selector_free(struct sf_selector *sel);

#endif
