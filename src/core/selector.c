/*
 * Channel selectors (see selector.h): the configuration of Flume's replicating, multiplexing
 * and load-balancing selectors, and the per-event choice of channels.
 */
#include "sqlflume/selector.h"
#include "sqlflume/error.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_HEADER "flume.selector.header"

/* Parse a channel list value into a bit mask over chnames. @return false (error added at p) when
 * a name is not one of the source's channels. */
static bool parse_channels(const struct sf_prop *p,
                           char *const *chnames,
                           unsigned nch,
                           const char *src_name,
                           uint64_t *mask,
                           struct sf_diag *d)
{
    size_t n = 0;
    char **names = sf_split_names(p->val, &n, true);
    bool ok = true;
    *mask = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned c = 0;
        while (c < nch && strcmp(chnames[c], names[i]) != 0) {
            c++;
        }
        if (c == nch) {
            sf_diag_error(d, p, "channel \"%s\" is not one of source \"%s\"'s channels", names[i],
                          src_name);
            ok = false;
        } else {
            *mask |= UINT64_C(1) << c;
        }
    }
    sf_names_free(names, n);
    return ok;
}

/* Find or add the mapping for value. @return it, or NULL on out of memory. */
static struct sf_selector_mapping *mapping_for(struct sf_selector *sel, const char *value)
{
    for (size_t i = 0; i < sel->nmaps; i++) {
        if (strcmp(sel->maps[i].value, value) == 0) {
            return &sel->maps[i];
        }
    }
    struct sf_selector_mapping *m = realloc(sel->maps, (sel->nmaps + 1) * sizeof(*m));
    if (!m) {
        return NULL;
    }
    sel->maps = m;
    m = &sel->maps[sel->nmaps];
    *m = (struct sf_selector_mapping){ strdup(value), 0, 0 };
    if (!m->value) {
        return NULL;
    }
    sel->nmaps++;
    return m;
}

static const char *const type_names[][2] = {
    { "replicating", "org.apache.flume.channel.ReplicatingChannelSelector" },
    { "multiplexing", "org.apache.flume.channel.MultiplexingChannelSelector" },
    { "load_balancing", "org.apache.flume.channel.LoadBalancingChannelSelector" },
};

/* Whether sub (a "selector." key) is one of type's keys. */
static bool key_known(enum sf_selector_type type, const char *sub)
{
    if (strcmp(sub, "selector.type") == 0) {
        return true;
    }
    switch (type) {
    case SF_SEL_REPLICATING:
        return strcmp(sub, "selector.optional") == 0;
    case SF_SEL_MULTIPLEXING:
        return strcmp(sub, "selector.header") == 0 || strcmp(sub, "selector.default") == 0 ||
               (strncmp(sub, "selector.mapping.", 17) == 0 && sub[17]) ||
               (strncmp(sub, "selector.optional.", 18) == 0 && sub[18]);
    case SF_SEL_LOAD_BALANCING:
        return strcmp(sub, "selector.policy") == 0;
    }
    return false;
}

int sf_selector_build(struct sf_selector *sel,
                      const struct sf_section *s,
                      char *const *chnames,
                      unsigned nch,
                      struct sf_diag *d)
{
    memset(sel, 0, sizeof(*sel));
    sel->nch = nch;
    sel->all = nch >= 64 ? UINT64_MAX : (UINT64_C(1) << nch) - 1;
    sel->req = sel->all;
    int rc = SF_OK;
    if (nch > SF_SELECTOR_MAX_CHANNELS) {
        sf_diag_error(d, sf_section_get(s, "channels"),
                      "source \"%s\" has %u channels; at most %d are supported", s->name, nch,
                      SF_SELECTOR_MAX_CHANNELS);
        return SF_ERR_INVAL;
    }
    struct sf_prop *tp = sf_section_get(s, "selector.type");
    if (tp) {
        tp->used = true;
        size_t t = 0;
        while (t < 3 && strcasecmp(tp->val, type_names[t][0]) != 0 &&
               strcmp(tp->val, type_names[t][1]) != 0) {
            t++;
        }
        if (t == 3) {
            sf_diag_error(d, tp,
                          "unknown channel selector type \"%s\" (known: replicating, "
                          "multiplexing, load_balancing, or their Flume class names)",
                          tp->val);
            rc = SF_ERR_INVAL;
        } else {
            sel->type = (enum sf_selector_type)t;
        }
    }
    uint64_t reached = 0; /* channels some event can go to */
    for (size_t i = 0; i < s->n; i++) {
        struct sf_prop *p = s->v[i];
        const char *sub = sf_section_subkey(s, p);
        if (strncmp(sub, "selector.", 9) != 0 || p == tp) {
            continue;
        }
        p->used = true;
        if (rc != SF_OK && !tp) {
            continue;
        }
        if (!key_known(sel->type, sub)) {
            static const char *const known[] = {
                "selector.type",    "selector.optional", "selector.header",
                "selector.default", "selector.mapping.", "selector.policy",
            };
            const char *near = sf_nearest(sub, known, sizeof(known) / sizeof(known[0]));
            sf_diag_warn(d, p, "unknown key for the %s channel selector of source \"%s\"%s%s%s",
                         type_names[sel->type][0], s->name, near ? "; did you mean \"" : "",
                         near ? near : "", near ? "\"?" : "");
            continue;
        }
        uint64_t mask = 0;
        if (strcmp(sub, "selector.optional") == 0) {
            if (parse_channels(p, chnames, nch, s->name, &mask, d)) {
                sel->opt = mask;
                sel->req = sel->all & ~mask;
            } else {
                rc = SF_ERR_INVAL;
            }
        } else if (strcmp(sub, "selector.header") == 0) {
            free(sel->header);
            sel->header = strdup(p->val);
        } else if (strcmp(sub, "selector.default") == 0) {
            if (parse_channels(p, chnames, nch, s->name, &mask, d)) {
                sel->dflt = mask;
            } else {
                rc = SF_ERR_INVAL;
            }
        } else if (strcmp(sub, "selector.policy") == 0) {
            if (strcmp(p->val, "round_robin") == 0) {
                sel->random = false;
            } else if (strcmp(p->val, "random") == 0) {
                sel->random = true;
            } else {
                sf_diag_error(d, p, "invalid value \"%s\" (expected round_robin or random)",
                              p->val);
                rc = SF_ERR_INVAL;
            }
        } else {
            bool req = strncmp(sub, "selector.mapping.", 17) == 0;
            struct sf_selector_mapping *m = mapping_for(sel, sub + (req ? 17 : 18));
            if (!m) {
                sf_diag_error(d, p, "out of memory");
                rc = SF_ERR_INVAL;
            } else if (!parse_channels(p, chnames, nch, s->name, &mask, d)) {
                rc = SF_ERR_INVAL;
            } else if (req) {
                m->req = mask;
            } else {
                m->opt = mask;
            }
        }
    }
    if (rc != SF_OK) {
        return rc;
    }
    if (sel->type == SF_SEL_MULTIPLEXING) {
        if (!sel->header) {
            sel->header = strdup(DEFAULT_HEADER);
        }
        if (!sel->header) {
            sf_diag_error(d, tp, "out of memory");
            return SF_ERR_INVAL;
        }
        if (sel->nmaps == 0 && sel->dflt == 0) {
            sf_diag_error(d, tp,
                          "the multiplexing channel selector of source \"%s\" has neither a "
                          "selector.mapping.<value> nor a selector.default: no event could go "
                          "anywhere",
                          s->name);
            return SF_ERR_INVAL;
        }
        reached = sel->dflt;
        for (size_t i = 0; i < sel->nmaps; i++) {
            /* as Flume: a channel both required and optional for a value is required */
            sel->maps[i].opt &= ~sel->maps[i].req;
            reached |= sel->maps[i].req | sel->maps[i].opt;
        }
        if (sel->dflt == 0) {
            sf_diag_warn(d, tp,
                         "the multiplexing channel selector of source \"%s\" has no "
                         "selector.default: events whose \"%s\" header matches no mapping are "
                         "dropped (each batch that drops some logs how many)",
                         s->name, sel->header);
        }
    } else {
        reached = sel->all;
    }
    for (unsigned c = 0; c < nch; c++) {
        if (!(reached & (UINT64_C(1) << c))) {
            sf_diag_warn(d, tp ? tp : sf_section_get(s, "channels"),
                         "channel \"%s\" of source \"%s\" gets no event from its %s channel "
                         "selector",
                         chnames[c], s->name, type_names[sel->type][0]);
        }
    }
    atomic_store(&sel->next, 0);
    return SF_OK;
}

bool sf_selector_is_plain(const struct sf_selector *sel)
{
    return sel->type == SF_SEL_REPLICATING && sel->opt == 0;
}

/* Index of the n-th (0-based) set bit of m; m has more than n bits. */
static unsigned nth_bit(uint64_t m, unsigned n)
{
    for (unsigned c = 0;; c++) {
        if ((m & (UINT64_C(1) << c)) && n-- == 0) {
            return c;
        }
    }
}

void sf_selector_pick(struct sf_selector *sel,
                      const struct sf_event *ev,
                      uint64_t *req,
                      uint64_t *opt)
{
    switch (sel->type) {
    case SF_SEL_REPLICATING:
        *req = sel->req;
        *opt = sel->opt;
        return;
    case SF_SEL_MULTIPLEXING: {
        const char *v = sf_event_header(ev, sel->header);
        for (size_t i = 0; v && i < sel->nmaps; i++) {
            if (strcmp(sel->maps[i].value, v) == 0) {
                /* a value with only optional channels still uses the default as required */
                *req = sel->maps[i].req ? sel->maps[i].req : sel->dflt;
                *opt = sel->maps[i].opt & ~*req;
                return;
            }
        }
        *req = sel->dflt;
        *opt = 0;
        return;
    }
    case SF_SEL_LOAD_BALANCING: {
        unsigned long long k = atomic_fetch_add(&sel->next, 1);
        if (sel->random) {
            /* splitmix64 of the counter: a different channel order per event, no shared state */
            unsigned long long z = k * 0x9E3779B97F4A7C15ULL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
            k = z ^ (z >> 31);
        }
        *req = UINT64_C(1) << nth_bit(sel->all, (unsigned)(k % sel->nch));
        *opt = 0;
        return;
    }
    }
    *req = sel->all;
    *opt = 0;
}

void sf_selector_free(struct sf_selector *sel)
{
    for (size_t i = 0; i < sel->nmaps; i++) {
        free(sel->maps[i].value);
    }
    free(sel->maps);
    free(sel->header);
    memset(sel, 0, sizeof(*sel));
}
