/* positions.c: positions: delivered-id sets, the position table, encode/parse of position records
 * (see kafka_int.h). */
#include "kafka_int.h"

#include "sqlflume/mem.h"
#include "sqlflume/pct.h"

/* ---- exactly-once: positions ---- */

/* Exactly-once: whether integer offset v is in the delivered set d. */
bool kf_ids_has(const struct pos_ids *d, long long v)
{
    return d->has && v >= d->floor && v <= d->set->hw && !sf_gapset_in_gap(d->set, v);
}

/* Add v (not in d) to the delivered set d. An id below floor - 1 moves floor down to it, the ids
 * between becoming a gap, unless the set has POS_GAPS_MAX gaps already: then it is not recorded,
 * and produced again if the source sent it again (at least once there). @return the gap ranges
 * given up because POS_GAPS_MAX was reached (their ids count as delivered). */
size_t kf_ids_add(struct pos_ids *d, long long v)
{
    if (!d->set) {
        d->set = malloc(sizeof(*d->set));
        if (!d->set) {
            abort(); /* as sf_buf does: nothing sensible to do without memory */
        }
    }
    if (!d->has) {
        d->has = true;
        d->floor = v;
        sf_gapset_init(d->set, v, POS_GAPS_MAX);
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

void kf_ids_copy(struct pos_ids *dst, const struct pos_ids *src)
{
    dst->has = src->has;
    dst->floor = src->floor;
    if (src->has) {
        if (!dst->set) {
            dst->set = malloc(sizeof(*dst->set));
            if (!dst->set) {
                abort();
            }
        }
        sf_gapset_copy(dst->set, src->set);
    }
}

static uint64_t pos_key(const char *topic, const char *table)
{
    return sf_hmap_key_more(sf_hmap_key_byte(sf_hmap_key_str(topic), 0xff), table);
}

/* The entry of (topic, table), created when create is set. NULL when absent, or when
 * POSITIONS_MAX entries exist already (then the pair is not tracked). */
struct pos_entry *kf_pos_get(struct kafka_ctx *ctx,
                             const char *topic,
                             const char *table,
                             bool create,
                             size_t *idx_out)
{
    uint64_t key = pos_key(topic, table);
    size_t pos = SIZE_MAX;
    for (struct sf_hmap_slot *sl; (sl = sf_hmap_next(&ctx->pos_index, key, &pos));) {
        struct pos_entry *e = &ctx->pos[sl->val];
        if (strcmp(e->table, table) == 0 && strcmp(e->topic, topic) == 0) {
            if (idx_out) {
                *idx_out = sl->val;
            }
            return e;
        }
    }
    if (!create || ctx->pos_n >= POSITIONS_MAX) {
        return NULL;
    }
    if (ctx->pos_n == ctx->pos_cap) {
        size_t cap = ctx->pos_cap ? ctx->pos_cap * 2 : 16;
        ctx->pos = sf_xrealloc(ctx->pos, cap * sizeof(*ctx->pos));
        ctx->pos_cap = cap;
    }
    if (sf_hmap_add(&ctx->pos_index, key, ctx->pos_n) != SF_OK) {
        abort();
    }
    size_t idx = ctx->pos_n++;
    ctx->pos[idx] =
        (struct pos_entry){ .topic = sf_xstrdup(topic), .table = sf_xstrdup(table) };
    if (idx_out) {
        *idx_out = idx;
    }
    return &ctx->pos[idx];
}

void kf_pos_free(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->pos_n; i++) {
        free(ctx->pos[i].topic);
        free(ctx->pos[i].table);
        free(ctx->pos[i].max);
        free(ctx->pos[i].ids.set);
        free(ctx->pos[i].wids.set);
    }
    free(ctx->pos);
    sf_hmap_free(&ctx->pos_index);
    ctx->pos = NULL;
    ctx->pos_n = ctx->pos_cap = 0;
    ctx->ntouched = 0;
}
/* The open batch did not reach Kafka: forget what it would have advanced. */
void kf_pos_discard_pending(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->ntouched; i++) {
        struct pos_entry *e = &ctx->pos[ctx->touched[i]];
        e->in_batch = false;
        e->bmax = e->first = e->last = NULL;
        e->count = 0;
    }
    ctx->ntouched = 0;
}
/* The open batch is committed in Kafka: its positions become the committed ones (copied, since
 * they point into events that the channel commit frees). */
void kf_pos_commit_pending(struct kafka_ctx *ctx)
{
    for (size_t i = 0; i < ctx->ntouched; i++) {
        struct pos_entry *e = &ctx->pos[ctx->touched[i]];
        if (e->count > 0) {
            if (e->bmax) {
                free(e->max);
                e->max = sf_xstrdup(e->bmax);
            }
            if (e->int_mode) {
                struct pos_ids d = e->ids;
                e->ids = e->wids;
                e->wids = d;
            }
        }
        e->in_batch = false;
        e->bmax = e->first = e->last = NULL;
        e->count = 0;
    }
    ctx->ntouched = 0;
}
/* put_field escapes bytes <= 0x20, '%' and 0x7f, so fields never hold a space or a line break */
static bool field_escaped(unsigned char c)
{
    return c <= 0x20 || c == '%' || c == 0x7f;
}

/* Append " " and s, percent-encoded where field_escaped says. */
static void put_field(struct sf_buf *b, const char *s)
{
    sf_buf_putc(b, ' ');
    sf_pct_encode(b, s, strlen(s), field_escaped);
}

/* Undo put_field in place. @return false for a bad escape, a NUL byte or an empty field. */
static bool field_decode(char *s)
{
    return sf_pct_decode_inplace(s) == SF_OK && *s;
}

/*
 * The open batch's position record into ctx->pos_buf:
 *   sqlflume-positions 1
 *   txn <number of this Kafka transaction>
 *   prev <number of the last committed one, or ->
 *   pos <topic> <table> <offset>                 every pair: the highest offset delivered
 *   ids <topic> <table> <floor> <hw>[;<gaps>]    pairs with integer offsets: every one of
 *                                                floor..hw was delivered except the gaps
 *                                                ("lo-hi" or "id", ',' between; sqlflume/offset.h)
 *   batch <topic> <table> <first> <last> <count> the pairs of this batch: first and last offset
 *                                                produced (channel order) and how many
 * Fields are escaped by put_field. Format 1 had, instead of "ids", "ranges <topic> <table>
 * <lo>~<hi>,..." listing the delivered ranges; pos_record_apply still reads it.
 */
void kf_pos_record_build(struct kafka_ctx *ctx)
{
    struct sf_buf *b = &ctx->pos_buf;
    sf_buf_reset(b);
    sf_buf_printf(b, POSITIONS_FORMAT "\ntxn %lld\nprev ", ctx->txn_seq);
    if (ctx->committed_seq >= 0) {
        sf_buf_printf(b, "%lld\n", ctx->committed_seq);
    } else {
        sf_buf_puts(b, "-\n");
    }
    for (size_t i = 0; i < ctx->pos_n; i++) {
        const struct pos_entry *e = &ctx->pos[i];
        bool open = e->in_batch && e->count > 0;
        const char *off = open && e->bmax ? e->bmax : e->max;
        if (off) {
            sf_buf_puts(b, "pos");
            put_field(b, e->topic);
            put_field(b, e->table);
            put_field(b, off);
            sf_buf_putc(b, '\n');
        }
        const struct pos_ids *d = open ? &e->wids : &e->ids;
        if (e->int_mode && d->has) {
            sf_buf_puts(b, "ids");
            put_field(b, e->topic);
            put_field(b, e->table);
            sf_buf_printf(b, " %lld ", d->floor);
            sf_gapset_encode(d->set, b, 0);
            sf_buf_putc(b, '\n');
        }
    }
    for (size_t i = 0; i < ctx->ntouched; i++) {
        const struct pos_entry *e = &ctx->pos[ctx->touched[i]];
        if (e->count == 0) {
            continue;
        }
        sf_buf_puts(b, "batch");
        put_field(b, e->topic);
        put_field(b, e->table);
        put_field(b, e->first);
        put_field(b, e->last);
        sf_buf_printf(b, " %zu\n", e->count);
    }
}

/* An "ids" line's floor and "hw;gaps" into *d. @return false when malformed. */
static bool ids_parse(struct pos_ids *d, const char *floor, const char *gaps)
{
    long long lo;
    struct pos_ids tmp = { 0 };
    if (!sf_offset_int_parse(floor, &lo) || kf_ids_add(&tmp, lo) != 0) {
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

/* A format 1 "ranges" field "lo~hi,..." (sorted, disjoint delivered ranges) into *d: floor is
 * the first lo, hw the last hi, and the ids between the ranges are the gaps. @return false when
 * malformed. */
static bool ranges_parse(struct pos_ids *d, char *text)
{
    struct pos_ids tmp = { 0 };
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
            (void)kf_ids_add(&tmp, lo);
        } else {
            ok = kf_ids_add(&tmp, lo) == 0; /* opens the gap prev_hi+1..lo-1 */
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

/* Replace the committed positions by those of a record (NULL: none stored). @return SF_OK or
 * SF_ERR_DATA (errstr says why; nothing changed). */
int kf_pos_record_apply(struct kafka_ctx *ctx,
                        const char *rec,
                        size_t len,
                        char *errstr,
                        size_t errstr_size)
{
    for (size_t i = 0; i < ctx->pos_n; i++) {
        struct pos_entry *e = &ctx->pos[i];
        free(e->max);
        e->max = NULL;
        e->ids.has = false;
        e->int_mode = false;
    }
    ctx->committed_seq = -1;
    ctx->txn_seq = 0;
    if (!rec) {
        return SF_OK;
    }
    char *text = strndup(rec, len);
    if (!text) {
        abort();
    }
    int rc = SF_ERR_DATA;
    long long seq = -1;
    size_t nline = 0;
    bool v1 = false;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        nline++;
        if (nline == 1) {
            v1 = strcmp(line, POSITIONS_FORMAT_1) == 0;
            if (!v1 && strcmp(line, POSITIONS_FORMAT) != 0) {
                (void)snprintf(errstr, errstr_size, "unknown format \"%.40s\"", line);
                goto out;
            }
            continue;
        }
        char *f[6];
        size_t nf = 0;
        char *fsave = NULL;
        for (char *t = strtok_r(line, " ", &fsave); t && nf < 6; t = strtok_r(NULL, " ", &fsave)) {
            f[nf++] = t;
        }
        if (nf == 2 && strcmp(f[0], "txn") == 0) {
            if (!sf_offset_int_parse(f[1], &seq) || seq < 0) {
                (void)snprintf(errstr, errstr_size, "bad line %zu", nline);
                goto out;
            }
        } else if ((nf == 4 && (strcmp(f[0], "pos") == 0 || (v1 && strcmp(f[0], "ranges") == 0))) ||
                   (nf == 5 && !v1 && strcmp(f[0], "ids") == 0)) {
            if (!field_decode(f[1]) || !field_decode(f[2])) {
                (void)snprintf(errstr, errstr_size, "bad line %zu", nline);
                goto out;
            }
            struct pos_entry *e = kf_pos_get(ctx, f[1], f[2], true, NULL);
            if (!e) {
                continue; /* more pairs than POSITIONS_MAX: not tracked */
            }
            if (f[0][0] == 'p') {
                if (!field_decode(f[3])) {
                    (void)snprintf(errstr, errstr_size, "bad line %zu", nline);
                    goto out;
                }
                free(e->max);
                e->max = sf_xstrdup(f[3]);
                continue;
            }
            e->int_mode = true;
            if (f[0][0] == 'i' ? !ids_parse(&e->ids, f[3], f[4]) : !ranges_parse(&e->ids, f[3])) {
                (void)snprintf(errstr, errstr_size, "bad delivered ids on line %zu", nline);
                goto out;
            }
        } /* batch, prev and lines of later minor versions: not needed here */
    }
    if (seq < 0) {
        (void)snprintf(errstr, errstr_size, "no txn line");
        goto out;
    }
    ctx->committed_seq = ctx->txn_seq = seq;
    rc = SF_OK;
out:
    if (rc != SF_OK) {
        for (size_t i = 0; i < ctx->pos_n; i++) {
            free(ctx->pos[i].max);
            ctx->pos[i].max = NULL;
            ctx->pos[i].ids.has = false;
            ctx->pos[i].int_mode = false;
        }
    }
    free(text);
    return rc;
}
/* Producer properties that the positions reader (a consumer) needs as well. */
