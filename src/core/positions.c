/* positions.c: delivered positions per (destination, table): delivered-id sets, the table, the
 * admit/commit/discard of a batch, and their text lines (see sqlflume/positions.h). */
#include "sqlflume/positions.h"

#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/mem.h"
#include "sqlflume/pct.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool sf_pos_ids_has(const struct sf_pos_ids *d, long long v)
{
    return d->has && v >= d->floor && v <= d->set->hw && !sf_gapset_in_gap(d->set, v);
}

size_t sf_pos_ids_add(struct sf_pos_ids *d, long long v)
{
    if (!d->set) {
        d->set = sf_xcalloc(1, sizeof(*d->set));
    }
    if (!d->has) {
        d->has = true;
        d->floor = v;
        sf_gapset_init(d->set, v, SF_POS_GAPS_MAX);
        return 0;
    }
    if (v >= d->floor) {
        /* the same time for every gap: the lowest is the oldest and is given up first */
        return sf_gapset_see(d->set, v, 0);
    }
    if (v == d->floor - 1 || sf_gapset_add_below(d->set, v + 1, d->floor - 1, 0)) {
        d->floor = v;
    }
    return 0;
}

void sf_pos_ids_copy(struct sf_pos_ids *dst, const struct sf_pos_ids *src)
{
    dst->has = src->has;
    dst->floor = src->floor;
    if (src->has) {
        if (!dst->set) {
            dst->set = sf_xcalloc(1, sizeof(*dst->set));
        }
        sf_gapset_copy(dst->set, src->set);
    }
}

static uint64_t pair_key(const char *dest, const char *table)
{
    return sf_hmap_key_more(sf_hmap_key_byte(sf_hmap_key_str(dest), 0xff), table);
}

/* The entry of (dest, table), created when create is set. NULL when absent, or when
 * SF_POSITIONS_MAX entries exist already. *created tells whether it was made now. */
static struct sf_pos_entry *pair_get(struct sf_positions *p, const char *dest, const char *table,
                                     bool create, size_t *idx_out, bool *created)
{
    uint64_t key = pair_key(dest, table);
    size_t pos = SIZE_MAX;
    *created = false;
    for (struct sf_hmap_slot *sl; (sl = sf_hmap_next(&p->index, key, &pos));) {
        struct sf_pos_entry *e = &p->e[sl->val];
        if (strcmp(e->table, table) == 0 && strcmp(e->dest, dest) == 0) {
            *idx_out = sl->val;
            return e;
        }
    }
    if (!create || p->n >= SF_POSITIONS_MAX) {
        return NULL;
    }
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 16;
        p->e = sf_xrealloc(p->e, p->cap * sizeof(*p->e));
    }
    if (sf_hmap_add(&p->index, key, p->n) != SF_OK) {
        abort(); /* as sf_xrealloc: nothing sensible to do without memory */
    }
    size_t idx = p->n++;
    p->e[idx] = (struct sf_pos_entry){ .dest = sf_xstrdup(dest), .table = sf_xstrdup(table) };
    *idx_out = idx;
    *created = true;
    return &p->e[idx];
}

const struct sf_pos_entry *sf_positions_find(struct sf_positions *p, const char *dest,
                                             const char *table)
{
    size_t idx;
    bool created;
    return pair_get(p, dest, table, false, &idx, &created);
}

void sf_positions_free(struct sf_positions *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].dest);
        free(p->e[i].table);
        free(p->e[i].max);
        free(p->e[i].ids.set);
        free(p->e[i].wids.set);
    }
    free(p->e);
    free(p->touched);
    sf_hmap_free(&p->index);
    memset(p, 0, sizeof(*p));
}

/*
 * Whether the sink can order off as the database does: numbers, date/time values and "ts,id"
 * pairs of them (digits and - : . T + , space; sf_offset_cmp orders those as the database
 * does), not text, whose order is the column's collation, known only to the database.
 */
static bool offset_orderable(const char *off)
{
    for (const char *c = off; *c; c++) {
        if (!strchr("0123456789-:.T+, ", *c)) {
            return false;
        }
    }
    return *off != '\0';
}

bool sf_positions_admit(struct sf_positions *p, const char *dest, const char *table,
                        const char *off, const char *who)
{
    long long v = 0;
    bool is_int = sf_offset_int_parse(off, &v);
    size_t idx;
    bool created;
    struct sf_pos_entry *e = pair_get(p, dest, table, true, &idx, &created);
    if (!e) {
        long long now = sf_mono_ms();
        if (p->full_warn_ms == 0 || now - p->full_warn_ms >= 60000) {
            p->full_warn_ms = now;
            SF_WARN("%smore than %d destination and table pairs: events of table \"%s\" are "
                    "delivered at least once, not exactly once",
                    who, SF_POSITIONS_MAX, table);
        }
        return true;
    }
    if (created) {
        e->int_mode = is_int; /* a new pair: its first offset decides */
    }
    if (!e->in_batch) {
        e->in_batch = true;
        e->bmax = e->first = e->last = NULL;
        e->count = 0;
        if (e->int_mode) {
            sf_pos_ids_copy(&e->wids, &e->ids);
        }
        if (p->ntouched == p->cap_touched) {
            p->cap_touched = p->cap_touched ? p->cap_touched * 2 : 16;
            p->touched = sf_xrealloc(p->touched, p->cap_touched * sizeof(*p->touched));
        }
        p->touched[p->ntouched++] = idx;
    }
    const char *cur = e->bmax ? e->bmax : e->max;
    /* a text incremental column: never skipped by a byte comparison that the column's collation
     * may contradict ("B" after "a"), so at least once, and said once; its position is the last
     * offset in channel order (the database's order) */
    bool orderable = (e->int_mode && is_int) || offset_orderable(off);
    if (!orderable) {
        if (!e->unordered_warned) {
            e->unordered_warned = true;
            SF_WARN("%stable \"%s\": offset \"%.40s\" is text, which only the database can order "
                    "(its collation): its events are delivered at least once, not exactly once; "
                    "use an integer, decimal or date/time incremental column for exactly once",
                    who, table, off);
        }
    } else if (e->int_mode && is_int) {
        if (sf_pos_ids_has(&e->wids, v)) {
            return false;
        }
        (void)sf_pos_ids_add(&e->wids, v); /* a gap given up counts as delivered */
    } else if (cur && sf_offset_cmp(off, cur) <= 0) {
        return false;
    }
    if (!orderable || !cur || sf_offset_cmp(off, cur) > 0) {
        e->bmax = off;
    }
    if (e->count++ == 0) {
        e->first = off;
    }
    e->last = off;
    return true;
}

void sf_positions_discard(struct sf_positions *p)
{
    for (size_t i = 0; i < p->ntouched; i++) {
        struct sf_pos_entry *e = &p->e[p->touched[i]];
        e->in_batch = false;
        e->bmax = e->first = e->last = NULL;
        e->count = 0;
    }
    p->ntouched = 0;
}

void sf_positions_commit(struct sf_positions *p)
{
    for (size_t i = 0; i < p->ntouched; i++) {
        struct sf_pos_entry *e = &p->e[p->touched[i]];
        if (e->count > 0) {
            if (e->bmax) {
                free(e->max);
                e->max = sf_xstrdup(e->bmax);
            }
            if (e->int_mode) {
                struct sf_pos_ids d = e->ids;
                e->ids = e->wids;
                e->wids = d;
            }
        }
        e->in_batch = false;
        e->bmax = e->first = e->last = NULL;
        e->count = 0;
    }
    p->ntouched = 0;
}

void sf_positions_clear(struct sf_positions *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->e[i].max);
        p->e[i].max = NULL;
        p->e[i].ids.has = false;
        p->e[i].int_mode = false;
    }
}

size_t sf_positions_count(const struct sf_positions *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++) {
        n += p->e[i].max != NULL;
    }
    return n;
}

/* sf_pos_field_put escapes bytes <= 0x20, '%' and 0x7f, so fields never hold a space or a line break */
static bool field_escaped(unsigned char c)
{
    return c <= 0x20 || c == '%' || c == 0x7f;
}

void sf_pos_field_put(struct sf_buf *b, const char *s)
{
    sf_buf_putc(b, ' ');
    sf_pct_encode(b, s, strlen(s), field_escaped);
}

/* the destination and table are never empty: sf_positions_admit's callers give non-empty ones */
bool sf_pos_field_decode(char *s)
{
    return sf_pct_decode_inplace(s) == SF_OK && *s;
}

void sf_positions_encode(const struct sf_positions *p, struct sf_buf *b, bool with_open,
                         bool with_batch)
{
    for (size_t i = 0; i < p->n; i++) {
        const struct sf_pos_entry *e = &p->e[i];
        bool open = with_open && e->in_batch && e->count > 0;
        const char *off = open && e->bmax ? e->bmax : e->max;
        if (off) {
            sf_buf_puts(b, "pos");
            sf_pos_field_put(b, e->dest);
            sf_pos_field_put(b, e->table);
            sf_pos_field_put(b, off);
            sf_buf_putc(b, '\n');
        }
        const struct sf_pos_ids *d = open ? &e->wids : &e->ids;
        if (e->int_mode && d->has) {
            sf_buf_puts(b, "ids");
            sf_pos_field_put(b, e->dest);
            sf_pos_field_put(b, e->table);
            sf_buf_printf(b, " %lld ", d->floor);
            sf_gapset_encode(d->set, b, 0);
            sf_buf_putc(b, '\n');
        }
    }
    for (size_t i = 0; with_batch && i < p->ntouched; i++) {
        const struct sf_pos_entry *e = &p->e[p->touched[i]];
        if (e->count == 0) {
            continue;
        }
        sf_buf_puts(b, "batch");
        sf_pos_field_put(b, e->dest);
        sf_pos_field_put(b, e->table);
        sf_pos_field_put(b, e->first);
        sf_pos_field_put(b, e->last);
        sf_buf_printf(b, " %zu\n", e->count);
    }
}

/* An "ids" line's floor and "hw;gaps" into *d. @return false when malformed. */
static bool ids_parse(struct sf_pos_ids *d, const char *floor, const char *gaps)
{
    long long lo;
    struct sf_pos_ids tmp = { 0 };
    if (!sf_offset_int_parse(floor, &lo) || sf_pos_ids_add(&tmp, lo) != 0) {
        free(tmp.set);
        return false;
    }
    bool ok = sf_gapset_parse(tmp.set, gaps, 0) == SF_OK && tmp.set->hw >= lo &&
              (tmp.set->n == 0 || tmp.set->g[0].lo > lo);
    if (ok) {
        free(d->set);
        *d = tmp;
    } else {
        free(tmp.set);
    }
    return ok;
}

/* A legacy "ranges" field "lo~hi,..." (sorted, disjoint delivered ranges) into *d: floor is the
 * first lo, hw the last hi, and the ids between the ranges are the gaps. @return false when
 * malformed. */
static bool ranges_parse(struct sf_pos_ids *d, char *text)
{
    struct sf_pos_ids tmp = { 0 };
    long long prev_hi = 0;
    char *rsave = NULL;
    bool ok = true;
    for (char *t = strtok_r(text, ",", &rsave); t && ok; t = strtok_r(NULL, ",", &rsave)) {
        char *tilde = strchr(t, '~');
        long long lo, hi;
        if (tilde) {
            *tilde = '\0';
        }
        ok = tilde && sf_offset_int_parse(t, &lo) && sf_offset_int_parse(tilde + 1, &hi) &&
             lo <= hi && (!tmp.has || lo > prev_hi + 1);
        if (!ok) {
            break;
        }
        if (!tmp.has) {
            (void)sf_pos_ids_add(&tmp, lo);
        } else {
            ok = sf_pos_ids_add(&tmp, lo) == 0; /* opens the gap prev_hi+1..lo-1 */
        }
        tmp.set->hw = hi;
        prev_hi = hi;
    }
    ok = ok && tmp.has;
    if (ok) {
        free(d->set);
        *d = tmp;
    } else {
        free(tmp.set);
    }
    return ok;
}

int sf_positions_parse_line(struct sf_positions *p, char *line, bool legacy_ranges, char *err,
                            size_t errsz)
{
    char *f[6];
    size_t nf = 0;
    char *fsave = NULL;
    for (char *t = strtok_r(line, " ", &fsave); t && nf < 6; t = strtok_r(NULL, " ", &fsave)) {
        f[nf++] = t;
    }
    if (nf >= 1 && strcmp(f[0], "batch") == 0) {
        return SF_OK;
    }
    bool pos = nf == 4 && strcmp(f[0], "pos") == 0;
    bool ranges = nf == 4 && legacy_ranges && strcmp(f[0], "ranges") == 0;
    bool ids = nf == 5 && !legacy_ranges && strcmp(f[0], "ids") == 0;
    if (!pos && !ranges && !ids) {
        return SF_ERR_NOTFOUND;
    }
    if (!sf_pos_field_decode(f[1]) || !sf_pos_field_decode(f[2]) || (pos && !sf_pos_field_decode(f[3]))) {
        (void)snprintf(err, errsz, "a bad field in a \"%s\" line", f[0]);
        return SF_ERR_DATA;
    }
    size_t idx;
    bool created;
    struct sf_pos_entry *e = pair_get(p, f[1], f[2], true, &idx, &created);
    if (!e) {
        return SF_OK; /* more pairs than SF_POSITIONS_MAX: not tracked */
    }
    if (pos) {
        free(e->max);
        e->max = sf_xstrdup(f[3]);
        return SF_OK;
    }
    e->int_mode = true;
    if (ids ? !ids_parse(&e->ids, f[3], f[4]) : !ranges_parse(&e->ids, f[3])) {
        (void)snprintf(err, errsz, "bad delivered ids of table \"%s\"", f[2]);
        return SF_ERR_DATA;
    }
    return SF_OK;
}
