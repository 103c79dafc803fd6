/* gaps.c: gap tracking's use in the source (see sql_int.h). */
#include "sql_int.h"

/* The offset a batch reaches: the last row's, or with gap tracking the encoded "hw;gaps". */
const char *sq_batch_offset(struct sql_table *t, struct sf_buf *last)
{
    if (!t->gaps_on) {
        return last->data;
    }
    sf_buf_reset(last);
    t->gst.over_text += (long long)sf_gapset_encode(&t->gs_work, last, SF_GAPS_TEXT_MAX);
    return last->data;
}

/* With gap tracking: load the state once, give up gaps past the timeout, and build
 *   (SELECT cols FROM t WHERE inc BETWEEN ? AND ? OR ... ORDER BY inc LIMIT n)
 *   UNION ALL (SELECT cols FROM t WHERE inc > ? ORDER BY inc LIMIT n)
 * (the first part only when there are gaps, and while a backlog is read at most every
 * GAP_RECHECK_MS) with its parameters. The rows of the first part are
 * below hw, those of the second above it: read in that order they ascend, as sf_gapset_see
 * expects (which also copes with any order). @return the query text (in c->body's sibling buffer).
 */
const char *sq_gap_query(struct sf_source *src,
                         struct sql_table *t,
                         struct sf_param *params,
                         char (*num)[24],
                         size_t *nparams)
{
    struct sql_ctx *c = src->ctx;
    long long now = sf_mono_ms();
    if (!t->gaps_init) {
        t->gaps_init = true;
        sf_gapset_init(&t->gs, 0, SF_GAPS_MAX);
        if (sf_gapset_parse(&t->gs, t->read_offset, now) != SF_OK) {
            SF_INFO(SF_SOURCE_FMT "table \"%s\": offset \"%s\" is not an integer: ids that "
                                  "commit out of order are not tracked",
                    SF_SOURCE_ARGS(src), t->status_key, t->read_offset);
            t->gaps_on = false;
            *nparams = 1;
            params[0] = (struct sf_param){ t->read_offset, t->inc_type };
            return t->sql.data;
        }
    }
    long long first = 0, lastid = 0;
    long long ids = sf_gapset_expire(&t->gs, now, c->gap_timeout_ms, &first, &lastid);
    if (ids > 0) {
        struct sf_buf enc = SF_BUF_INIT;
        sf_gapset_encode(&t->gs, &enc, SF_GAPS_TEXT_MAX);
        SF_DEBUG(SF_SOURCE_FMT "table \"%s\": %lld missing id(s) between %lld and %lld did not "
                               "appear within %lld ms; counted as a permanent gap",
                 SF_SOURCE_ARGS(src), t->status_key, ids, first, lastid, c->gap_timeout_ms);
        t->gst.expired++;
        t->gst.expired_ids += ids;
        /* an empty batch carries the new offset to flume_meta once everything before it is
         * delivered */
        sf_ack_tracker_add(t->tracker, 0, 1, enc.data);
        sq_set_str(&t->read_offset, enc.data);
        sf_buf_free(&enc);
    }
    sf_gapset_copy(&t->gs_work, &t->gs);
    /* reading a backlog: the ranges again only every GAP_RECHECK_MS (the query's ORs of ranges
     * are planned anew on every poll); the rows above hw as always */
    size_t ngaps = t->gs.n;
    if (t->poll_full && now - t->gap_checked_ms < GAP_RECHECK_MS) {
        t->gs.n = 0; /* for the query only: the set itself is kept */
    } else {
        t->gap_checked_ms = now;
    }
    *nparams = sq_build_gap_sql(c, t, &t->gs, &c->gap_sql, params, num);
    t->gs.n = ngaps;
    return c->gap_sql.data;
}

/* The integer id in s[0..n) (the text of an integer column), as strtoll(s, NULL, 10) gives it;
 * plain digits, the common case, without strtoll's locale and base handling. */
static long long parse_id(const char *s, size_t n)
{
    if (n == 0 || n > 18) {
        return strtoll(s, NULL, 10); /* signs, spaces, or possibly out of range */
    }
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(unsigned char)s[i] - '0';
        if (d > 9) {
            return strtoll(s, NULL, 10);
        }
        v = v * 10 + (long long)d;
    }
    return v;
}

/*
 * Gap tracking's summary: one line per table at most every GAP_REPORT_MS (the first one at once)
 * instead of a line per range, since tables whose ids step by 2 or more (deleted rows,
 * auto_increment_increment, sequence caches) open a range per row. A WARN when ranges were given
 * up (a row committing later in one is never read), else nothing: opening and filling ranges is
 * normal. force (at stop) writes what is pending at once.
 */
void sq_gap_report(struct sf_source *src, struct sql_table *t, bool force)
{
    struct gap_stats *g = &t->gst;
    struct sql_ctx *c = src->ctx;
    long long now = sf_mono_ms();
    if (g->since_ms == 0) {
        g->since_ms = now;
    }
    if (g->over_max + g->over_text + g->expired == 0 ||
        (!force && g->reported && now - g->since_ms < GAP_REPORT_MS)) {
        return;
    }
    SF_WARN(SF_SOURCE_FMT
            "table \"%s\": ranges of missing ids in the last %lld s: %lld opened, "
            "%lld filled by rows that committed late, %lld given up (more than %d tracked at "
            "once), %lld given up to fit currentIndex, %lld (%lld ids) given up after "
            "incremental.gap.timeout.ms = %lld; a row that commits later in a range given up is "
            "not read (at most one such line a minute)",
            SF_SOURCE_ARGS(src), t->status_key, (now - g->since_ms + 999) / 1000, g->opened,
            g->filled, g->over_max, SF_GAPS_MAX, g->over_text, g->expired, g->expired_ids,
            c->gap_timeout_ms);
    *g = (struct gap_stats){ .since_ms = now, .reported = true };
}

/* With gap tracking: note the id of a row just read (its text id[0..len)) in the poll's gap set
 * t->gs_work, counting ranges opened and filled for gap_report; first_seen_ms is the poll's
 * start (the first-seen time of the ranges it opens). */
void sq_gap_see(struct sql_table *t, const char *idtext, size_t len, long long first_seen_ms)
{
    long long id = parse_id(idtext, len);
    if (t->gst.since_ms == 0) {
        t->gst.since_ms = first_seen_ms; /* the summary's period starts with the first poll read */
    }
    if (!t->gaps_init) {
        /* no offset yet, first row: ids from 1 below it may still commit (as with
         * the seed's start at 0); an id of 0 or below starts the set right under it */
        t->gaps_init = true;
        sf_gapset_init(&t->gs_work, id > 0 || id == LLONG_MIN ? 0 : id - 1, SF_GAPS_MAX);
    }
    if (id > t->gs_work.hw + 1) {
        t->gst.opened++;
    } else if (sf_gapset_in_gap(&t->gs_work, id)) {
        t->gst.filled++;
    }
    t->gst.over_max += (long long)sf_gapset_see(&t->gs_work, id, first_seen_ms);
}
