/* Unresolved gaps of an integer incremental column (see gapset.h). */
#include "gapset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int parse_ll(const char *s, char **end, long long *out)
{
    errno = 0;
    long long v = strtoll(s, end, 10);
    if (errno || *end == s) {
        return -1;
    }
    *out = v;
    return 0;
}

int sf_gapset_parse(struct sf_gapset *gs, const char *s, long long now_ms)
{
    struct sf_gapset tmp = { 0 };
    char *end;
    if (parse_ll(s, &end, &tmp.hw) != 0) {
        return -1;
    }
    if (*end == ';') {
        const char *p = end + 1;
        while (*p) {
            struct sf_gap g = { 0, 0, now_ms };
            if (parse_ll(p, &end, &g.lo) != 0) {
                return -1;
            }
            g.hi = g.lo;
            if (*end == '-' && end[1] != ',' && end[1]) {
                if (parse_ll(end + 1, &end, &g.hi) != 0) {
                    return -1;
                }
            }
            if (g.hi < g.lo || g.hi >= tmp.hw || (tmp.n && g.lo <= tmp.g[tmp.n - 1].hi) ||
                tmp.n == SF_GAPS_MAX) {
                return -1;
            }
            tmp.g[tmp.n++] = g;
            if (*end == ',') {
                end++;
            } else if (*end) {
                return -1;
            }
            p = end;
        }
    } else if (*end) {
        return -1;
    }
    *gs = tmp;
    return 0;
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

size_t sf_gapset_encode(struct sf_gapset *gs, struct sf_buf *out)
{
    size_t dropped = 0;
    size_t start = out->len;
    for (;;) {
        out->len = start;
        sf_buf_printf(out, "%lld", gs->hw);
        for (size_t i = 0; i < gs->n; i++) {
            sf_buf_putc(out, i ? ',' : ';');
            if (gs->g[i].lo == gs->g[i].hi) {
                sf_buf_printf(out, "%lld", gs->g[i].lo);
            } else {
                sf_buf_printf(out, "%lld-%lld", gs->g[i].lo, gs->g[i].hi);
            }
        }
        if (out->len - start <= SF_GAPS_TEXT_MAX || gs->n == 0) {
            break;
        }
        remove_at(gs, oldest(gs));
        dropped++;
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
                if (gs->n == SF_GAPS_MAX) {
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
        if (gs->n == SF_GAPS_MAX) {
            remove_at(gs, oldest(gs));
            dropped = 1;
        }
        gs->g[gs->n++] = (struct sf_gap){ gs->hw + 1, v - 1, now_ms };
    }
    gs->hw = v;
    return dropped;
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
