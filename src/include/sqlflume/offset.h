/*
 * Offsets: what "before" and "delivered" mean, for the SQL source (which stores its offset in
 * flume_meta) and the Kafka sink's exactly-once positions (which stores what it delivered in
 * Kafka) alike. See docs/DESIGN.md, "Offsets".
 *
 * Order (sf_offset_cmp): an offset value is numeric when it is a decimal number (integers of any
 * size, decimals), else compared by bytes (ISO date/time texts sort so); "ts,id" values of the
 * timestamp+incrementing mode compare part by part; the source's gap-tracking form "hw;gaps"
 * orders by hw. Text incremental columns are not ordered here: their order is the database's
 * collation, so the source compares them in SQL.
 *
 * Delivered integers (struct sf_gapset): ids are assigned when a row is written, not when its
 * transaction commits, so a poll can see id 10 before id 9 exists. The set keeps, besides the
 * highest id read or delivered (hw), the ranges of ids below hw not seen yet, at most `max`
 * ranges (the lowest is given up beyond that). Encoded as "hw" or "hw;lo-hi,id,..." (the seed's
 * plain form when there is no gap). The source re-reads its gaps on every poll until they appear
 * or incremental.gap.timeout.ms passes, and stores the set in flume_meta, so rows that commit late
 * are delivered once and a restart resends nothing; the Kafka sink keeps the same kind of set of
 * what Kafka has (with a larger bound, so it always knows at least the gaps the source could read
 * again), so its size depends on the gaps, not on how sparse the ids are.
 */
#ifndef SQLFLUME_OFFSET_H
#define SQLFLUME_OFFSET_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/buf.h"

#define SF_GAPS_MAX 32       /* the source's bound: ranges tracked at once (max = 0) */
#define SF_GAPS_CAP 256      /* the largest bound any set may have (the Kafka sink's) */
#define SF_GAPS_TEXT_MAX 255 /* flume_meta.currentIndex is VARCHAR(255) */

struct sf_gap {
    long long lo, hi;  /* ids lo..hi (inclusive) not seen yet */
    long long seen_ms; /* monotonic ms when the gap was first seen (the oldest is given up first) */
};

struct sf_gapset {
    long long hw; /* highest id read */
    size_t max;   /* ranges kept at most: 0 = SF_GAPS_MAX; at most SF_GAPS_CAP */
    size_t n;     /* ranges, sorted by lo, disjoint, all below hw */
    struct sf_gap g[SF_GAPS_CAP];
};

/**
 * Order of two offset values a and b (NUL-terminated): <0, 0 or >0. Decimal numbers
 * (-?[0-9]+(.[0-9]+)?, any length) compare numerically, other values by bytes; ','-separated
 * parts ("ts,id") part by part; a value with ';' ("hw;gaps") by its part before the ';'.
 */
int sf_offset_cmp(const char *a, const char *b);
/** Whether s is a whole decimal integer that fits a long long; *v gets it. */
bool sf_offset_int_parse(const char *s, long long *v);

/**
 * Parse "hw" or "hw;lo-hi,id,..." into *gs. Every gap gets seen_ms = now_ms (timers restart).
 * gs->max (set by the caller; 0 = SF_GAPS_MAX) is kept and bounds the ranges accepted.
 * @return SF_OK, or SF_ERR_INVAL when s is not of that form (the column is not an integer
 * column, or the offset was written by something else); *gs is then unchanged.
 */
int sf_gapset_parse(struct sf_gapset *gs, const char *s, long long now_ms);
/** An empty set at hw (no gaps), bound max (0 = SF_GAPS_MAX). */
void sf_gapset_init(struct sf_gapset *gs, long long hw, size_t max);
/** Copy src into dst (only the ranges in use). */
void sf_gapset_copy(struct sf_gapset *dst, const struct sf_gapset *src);
/**
 * Append the encoding to out. When text_max > 0 and the encoding would be longer than text_max
 * bytes, the oldest gaps are given up (removed from *gs) until it fits; their count is returned
 * (0 normally). text_max = 0: no limit.
 */
size_t sf_gapset_encode(struct sf_gapset *gs, struct sf_buf *out, size_t text_max);
/**
 * Record id v: a v <= hw fills (removes) a gap; a v > hw opens the gap hw+1..v-1 (when not empty)
 * and becomes hw.
 * @return the number of ranges given up because gs->max was reached (0 normally).
 */
size_t sf_gapset_see(struct sf_gapset *gs, long long v, long long now_ms);
/**
 * Add the gap lo..hi below every gap of the set (for a set that also has a lower bound: the Kafka
 * sink's delivered ids, when an id below the lowest comes). @return false, with *gs unchanged,
 * when the set has gs->max ranges already or lo..hi is not below every gap and hw.
 */
bool sf_gapset_add_below(struct sf_gapset *gs, long long lo, long long hi, long long now_ms);
/** Whether v lies in one of the gaps (binary search). */
bool sf_gapset_in_gap(const struct sf_gapset *gs, long long v);
/**
 * Give up gaps first seen at least timeout_ms ago (rolled-back transactions, sequence jumps).
 * @return the number of ids given up; *first and *last (either may be NULL) span them.
 */
long long sf_gapset_expire(struct sf_gapset *gs, long long now_ms, long long timeout_ms,
                           long long *first, long long *last);

#endif
