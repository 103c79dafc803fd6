/* Sets of delivered integer offsets: the highest id and the gaps below it (see sqlflume/offset.h). */
#include "sqlflume/offset.h"
#include "sqlflume/error.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* strtoll that needs a digit. @return SF_OK, or SF_ERR_INVAL (no number, or out of range). */
static int parse_ll(const char *s, char **end, long long *out)
{
    errno = 0;
    long long v = strtoll(s, end, 10);
    if (errno || *end == s) {
        return SF_ERR_INVAL;
    }
    *out = v;
    return SF_OK;
}

static size_t bound(const struct sf_gapset *gs)
{
    if (gs->max == 0) {
        return SF_GAPS_MAX;
    }
    return gs->max < SF_GAPS_CAP ? gs->max : SF_GAPS_CAP;
}

void sf_gapset_init(struct sf_gapset *gs, long long hw, size_t max)
{
    gs->hw = hw;
    gs->max = max;
    gs->n = 0;
}

void sf_gapset_copy(struct sf_gapset *dst, const struct sf_gapset *src)
{
    dst->hw = src->hw;
    dst->max = src->max;
    dst->n = src->n;
    memcpy(dst->g, src->g, src->n * sizeof(src->g[0]));
}

int sf_gapset_parse(struct sf_gapset *gs, const char *s, long long now_ms)
{
    /* parsed aside, so that *gs is unchanged when s is not of the form */
    long long hw;
    char *end;
    if (parse_ll(s, &end, &hw) != SF_OK) {
        return SF_ERR_INVAL;
    }
    size_t max = bound(gs);
    struct sf_gap *tmp = malloc(max * sizeof(*tmp));
    if (!tmp) {
        abort(); /* as sf_buf does: nothing sensible to do without memory */
    }
    size_t n = 0;
    int rc = SF_ERR_INVAL;
    if (*end == ';') {
        const char *p = end + 1;
        while (*p) {
            struct sf_gap g = { 0, 0, now_ms };
            if (parse_ll(p, &end, &g.lo) != SF_OK) {
                goto out;
            }
            g.hi = g.lo;
            if (*end == '-' && end[1] != ',' && end[1]) {
                if (parse_ll(end + 1, &end, &g.hi) != SF_OK) {
                    goto out;
                }
            }
            if (g.hi < g.lo || g.hi >= hw || (n && g.lo <= tmp[n - 1].hi) || n == max) {
                goto out;
            }
            tmp[n++] = g;
            if (*end == ',') {
                end++;
            } else if (*end) {
                goto out;
            }
            p = end;
        }
    } else if (*end) {
        goto out;
    }
    gs->hw = hw;
    gs->n = n;
    memcpy(gs->g, tmp, n * sizeof(*tmp));
    rc = SF_OK;
out:
    free(tmp);
    return rc;
}

static void remove_at(struct sf_gapset *gs, size_t i)
{
    memmove(&gs->g[i], &gs->g[i + 1], (gs->n - i - 1) * sizeof(gs->g[0]));
    gs->n--;
}

static size_t oldest(const struct sf_gapset *gs)
{
    size_t o = 0;
    for (size_t i = 1; i < gs->n; i++) {
        if (gs->g[i].seen_ms < gs->g[o].seen_ms) {
            o = i;
        }
    }
    return o;
}

/* Characters of v in decimal. */
static size_t dec_len(long long v)
{
    size_t n = v < 0 ? 2 : 1;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    while (u >= 10) {
        u /= 10;
        n++;
    }
    return n;
}

/* Characters gap g adds to the encoding, its separator included. */
static size_t gap_len(const struct sf_gap *g)
{
    return 1 + dec_len(g->lo) + (g->lo == g->hi ? 0 : 1 + dec_len(g->hi));
}

size_t sf_gapset_encode(struct sf_gapset *gs, struct sf_buf *out, size_t text_max)
{
    size_t dropped = 0;
    if (text_max > 0) {
        /* give up the oldest gaps until the text fits, then write it once (a batch's offset is
         * encoded per batch: rewriting it per gap given up was quadratic) */
        size_t len = dec_len(gs->hw);
        for (size_t i = 0; i < gs->n; i++) {
            len += gap_len(&gs->g[i]);
        }
        while (len > text_max && gs->n > 0) {
            size_t o = oldest(gs);
            len -= gap_len(&gs->g[o]);
            remove_at(gs, o);
            dropped++;
        }
    }
    sf_buf_printf(out, "%lld", gs->hw);
    for (size_t i = 0; i < gs->n; i++) {
        sf_buf_putc(out, i ? ',' : ';');
        if (gs->g[i].lo == gs->g[i].hi) {
            sf_buf_printf(out, "%lld", gs->g[i].lo);
        } else {
            sf_buf_printf(out, "%lld-%lld", gs->g[i].lo, gs->g[i].hi);
        }
    }
    out->data[out->len] = '\0';
    return dropped;
}

size_t sf_gapset_see(struct sf_gapset *gs, long long v, long long now_ms)
{
    if (v <= gs->hw) {
        for (size_t i = 0; i < gs->n; i++) {
            struct sf_gap *g = &gs->g[i];
            if (v < g->lo || v > g->hi) {
                continue;
            }
            if (g->lo == g->hi) {
                remove_at(gs, i);
            } else if (v == g->lo) {
                g->lo++;
            } else if (v == g->hi) {
                g->hi--;
            } else {
                /* split in two; when full, the oldest range is given up to make room */
                size_t dropped = 0;
                if (gs->n >= bound(gs)) {
                    size_t o = oldest(gs);
                    if (o == i) {
                        g->lo = v + 1; /* give up the lower part of this very range */
                        return 1;
                    }
                    remove_at(gs, o);
                    dropped = 1;
                    if (o < i) {
                        i--;
                    }
                    g = &gs->g[i];
                }
                memmove(&gs->g[i + 1], &gs->g[i], (gs->n - i) * sizeof(gs->g[0]));
                gs->n++;
                gs->g[i].hi = v - 1;
                gs->g[i + 1].lo = v + 1;
                return dropped;
            }
            return 0;
        }
        return 0;
    }
    size_t dropped = 0;
    if (v > gs->hw + 1) {
        if (gs->n >= bound(gs)) {
            remove_at(gs, oldest(gs));
            dropped = 1;
        }
        gs->g[gs->n++] = (struct sf_gap){ gs->hw + 1, v - 1, now_ms };
    }
    gs->hw = v;
    return dropped;
}

bool sf_gapset_add_below(struct sf_gapset *gs, long long lo, long long hi, long long now_ms)
{
    if (lo > hi || hi >= gs->hw || (gs->n && hi >= gs->g[0].lo) || gs->n >= bound(gs)) {
        return false;
    }
    memmove(&gs->g[1], &gs->g[0], gs->n * sizeof(gs->g[0]));
    gs->g[0] = (struct sf_gap){ lo, hi, now_ms };
    gs->n++;
    return true;
}

bool sf_gapset_in_gap(const struct sf_gapset *gs, long long v)
{
    size_t lo = 0, hi = gs->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gs->g[mid].hi < v) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < gs->n && gs->g[lo].lo <= v;
}

long long sf_gapset_expire(struct sf_gapset *gs, long long now_ms, long long timeout_ms,
                           long long *first, long long *last)
{
    long long ids = 0;
    size_t i = 0;
    while (i < gs->n) {
        if (now_ms - gs->g[i].seen_ms >= timeout_ms) {
            if (ids == 0 && first) {
                *first = gs->g[i].lo;
            }
            if (last) {
                *last = gs->g[i].hi;
            }
            ids += gs->g[i].hi - gs->g[i].lo + 1;
            remove_at(gs, i);
        } else {
            i++;
        }
    }
    return ids;
}
