/*
 * Unresolved gaps of an integer incremental column (DESIGN-NOTES 5). Ids are assigned when a row
 * is written, not when its transaction commits, so a poll can see id 10 before id 9 exists. The
 * source keeps, besides the highest id it has read (hw), the ranges of ids below hw it has not
 * seen yet, re-reads them on every poll until they appear or incremental.gap.timeout.ms passes,
 * and stores both in flume_meta as "hw" or "hw;lo-hi,id,..." (the seed's plain form when there is
 * no gap), so rows that commit late are delivered once and a restart resends nothing.
 */
#ifndef SQLFLUME_GAPSET_H
#define SQLFLUME_GAPSET_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/buf.h"

#define SF_GAPS_MAX 32         /* ranges tracked at once; the oldest is given up beyond that */
#define SF_GAPS_TEXT_MAX 255   /* flume_meta.currentIndex is VARCHAR(255) */

struct sf_gap {
    long long lo, hi;  /* ids lo..hi (inclusive) not seen yet */
    long long seen_ms; /* monotonic ms when the gap was first seen */
};

struct sf_gapset {
    long long hw; /* highest id read */
    struct sf_gap g[SF_GAPS_MAX];
    size_t n; /* ranges, sorted by lo, disjoint, all below hw */
};

/**
 * Parse "hw" or "hw;lo-hi,id,...". Every gap gets seen_ms = now_ms (timers restart).
 * @return 0, or -1 when s is not of that form (the column is not an integer column, or the
 * offset was written by something else); *gs is then unchanged.
 */
int sf_gapset_parse(struct sf_gapset *gs, const char *s, long long now_ms);
/** Append the encoding (at most SF_GAPS_TEXT_MAX bytes: the oldest gaps are dropped to fit, and
 *  their count returned). */
size_t sf_gapset_encode(struct sf_gapset *gs, struct sf_buf *out);
/**
 * Record id v, read in ascending order within a poll: a v <= hw fills (removes) a gap; a v > hw
 * opens the gap hw+1..v-1 (when not empty) and becomes hw.
 * @return the number of ranges given up because SF_GAPS_MAX was reached (0 normally).
 */
size_t sf_gapset_see(struct sf_gapset *gs, long long v, long long now_ms);
/**
 * Give up gaps first seen at least timeout_ms ago (rolled-back transactions, sequence jumps).
 * @return the number of ids given up; *first and *last (either may be NULL) span them.
 */
long long sf_gapset_expire(struct sf_gapset *gs, long long now_ms, long long timeout_ms,
                           long long *first, long long *last);

#endif
