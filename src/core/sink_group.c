/*
 * Sink groups and their processors (Flume's DefaultSinkProcessor, FailoverSinkProcessor,
 * LoadBalancingSinkProcessor with its round_robin and random selectors) and the group runner
 * (Flume's SinkRunner); see sqlflume/sink_group.h.
 */
#include "sqlflume/sink_group.h"

#include "sqlflume/agent.h"
#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define FAILURE_PENALTY_MS     1000LL    /* Flume's FAILURE_PENALTY and its selectors' base */
#define CONSIDER_SEQUENTIAL_MS 3600000LL /* Flume's OrderSelector.CONSIDER_SEQUENTIAL_RANGE */
#define EXP_BACKOFF_LIMIT      16        /* Flume's OrderSelector.EXP_BACKOFF_COUNTER_LIMIT */
#define RUNNER_BACKOFF_STEP_MS 100
#define RUNNER_BACKOFF_MAX_MS  1000

#define GROUP_FMT     "[sinkgroup %s %s] "
#define GROUP_ARGS(g) (g)->name, processor_names[(g)->type]

static const char *const processor_names[] = { "default", "failover", "load_balance" };
static const char *const processor_classes[] = {
    "org.apache.flume.sink.DefaultSinkProcessor", "org.apache.flume.sink.FailoverSinkProcessor",
    "org.apache.flume.sink.LoadBalancingSinkProcessor"
};

/* What the option table fills for one group. */
struct group_conf {
    char *sinks;
    char *type;
    long long max_penalty;
    bool backoff;
    char *selector;
    long long max_timeout;
};

#define PRIORITY_PREFIX "processor.priority."

const struct sf_option sf_sink_group_options[] = {
    { "sinks", SF_OPT_STRING, NULL, 0, 0, offsetof(struct group_conf, sinks), SF_OPT_REQUIRED, NULL,
      NULL,
      "the sinks of the group, separated by spaces or commas: each defined in NAME.sinks and in "
      "no other group" },
    { "processor.type", SF_OPT_STRING, "default", 0, 0, offsetof(struct group_conf, type), 0, NULL,
      NULL,
      "default (exactly one sink), failover or load_balance, in any case, or Flume's class name "
      "(org.apache.flume.sink.DefaultSinkProcessor, FailoverSinkProcessor, "
      "LoadBalancingSinkProcessor)" },
    { PRIORITY_PREFIX, SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL,
      "failover: processor.priority.<sink> = an integer; the live sink of the highest priority "
      "delivers (unset: -1, -2, ... in list order); no two sinks may share one" },
    { "processor.maxpenalty", SF_OPT_INT, "30000", 0, INT_MAX,
      offsetof(struct group_conf, max_penalty), 0, NULL, NULL,
      "failover: ms, the longest a failed sink waits before it is tried again (min(maxpenalty, "
      "1000 << failures) ms)" },
    { "processor.backoff", SF_OPT_BOOL, "false", 0, 0, offsetof(struct group_conf, backoff), 0,
      NULL, NULL, "load_balance: leave a failing sink out for an exponentially growing time" },
    { "processor.selector", SF_OPT_STRING, "round_robin", 0, 0,
      offsetof(struct group_conf, selector), 0, NULL, NULL,
      "load_balance: round_robin or random, in any case" },
    { "processor.selector.maxTimeOut", SF_OPT_INT, "30000", 0, INT_MAX,
      offsetof(struct group_conf, max_timeout), 0, NULL, NULL,
      "load_balance with backoff: ms, the longest a failing sink is left out" },
    { NULL, SF_OPT_STRING, NULL, 0, 0, 0, 0, NULL, NULL, NULL },
};

/* processor.type: an index into processor_names, or -1. */
static int processor_type(const char *v)
{
    for (int i = 0; i < 3; i++) {
        if (strcasecmp(v, processor_names[i]) == 0 || strcmp(v, processor_classes[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* The prop for "NAME.sinkgroups.<g>.<sub>" as a diagnostics location when the key is unset. */
static struct sf_prop key_at(const struct sf_section *sec, const char *sub, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", sec->prefix, sub);
    return (struct sf_prop){ .key = buf, .file = sec->n ? sec->v[0]->file : NULL };
}

/* Warn about each key of sec read only by another processor type than g's. */
static void
warn_other_type(const struct sf_sink_group *g, const struct sf_section *sec, struct sf_diag *d)
{
    for (size_t i = 0; i < sec->n; i++) {
        const char *sub = sf_section_subkey(sec, sec->v[i]);
        enum sf_sink_processor_type wants;
        if (strncmp(sub, PRIORITY_PREFIX, strlen(PRIORITY_PREFIX)) == 0 ||
            strcmp(sub, "processor.maxpenalty") == 0) {
            wants = SF_SINK_PROCESSOR_FAILOVER;
        } else if (strcmp(sub, "processor.backoff") == 0 ||
                   strcmp(sub, "processor.selector") == 0 ||
                   strcmp(sub, "processor.selector.maxTimeOut") == 0) {
            wants = SF_SINK_PROCESSOR_LOAD_BALANCE;
        } else {
            continue;
        }
        if (wants != g->type) {
            sf_diag_warn(d, sec->v[i], "only read by processor.type = %s, not %s; ignored",
                         processor_names[wants], processor_names[g->type]);
        }
    }
}

/* Failover: each member's priority (processor.priority.<sink>, else -1, -2, ... in list order),
 * errors for a bad or shared one, then the members sorted highest first. */
static int
failover_priorities(struct sf_sink_group *g, const struct sf_section *sec, struct sf_diag *d)
{
    int rc = SF_OK;
    long long next = 0;
    struct sf_prop **at = calloc(g->n ? g->n : 1, sizeof(*at));
    if (!at) {
        sf_diag_error(d, NULL, "out of memory");
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < g->n; i++) {
        char sub[512];
        snprintf(sub, sizeof(sub), PRIORITY_PREFIX "%s", g->m[i].snk->name);
        at[i] = sf_section_get(sec, sub);
        g->m[i].priority = --next;
        if (at[i]) {
            char *end;
            errno = 0;
            long long v = strtoll(at[i]->val, &end, 10);
            if (end == at[i]->val || *end || errno || v < INT_MIN || v > INT_MAX) {
                sf_diag_error(d, at[i], "priority \"%s\" of sink \"%s\" is not an integer",
                              at[i]->val, g->m[i].snk->name);
                rc = SF_ERR_INVAL;
            } else {
                g->m[i].priority = v;
            }
        }
    }
    for (size_t i = 0; i < sec->n; i++) {
        const char *sub = sf_section_subkey(sec, sec->v[i]);
        if (strncmp(sub, PRIORITY_PREFIX, strlen(PRIORITY_PREFIX)) != 0) {
            continue;
        }
        const char *sname = sub + strlen(PRIORITY_PREFIX);
        bool member = false;
        for (size_t k = 0; k < g->n; k++) {
            member |= strcmp(g->m[k].snk->name, sname) == 0;
        }
        if (!member) {
            sf_diag_warn(d, sec->v[i], "sink \"%s\" is not in sink group \"%s\"; ignored", sname,
                         g->name);
        }
    }
    for (size_t i = 0; i < g->n; i++) {
        for (size_t k = 0; k < i; k++) {
            if (g->m[k].priority == g->m[i].priority) {
                char buf[600];
                struct sf_prop none = key_at(sec, PRIORITY_PREFIX, buf, sizeof(buf));
                sf_diag_error(d,
                              at[i]   ? at[i]
                              : at[k] ? at[k]
                                      : &none,
                              "sinks \"%s\" and \"%s\" have the same priority %lld (Flume would "
                              "leave \"%s\" out of the group): give each sink its own",
                              g->m[k].snk->name, g->m[i].snk->name, g->m[i].priority,
                              g->m[i].snk->name);
                rc = SF_ERR_INVAL;
            }
        }
    }
    /* insertion sort, stable: highest priority first */
    for (size_t i = 1; i < g->n; i++) {
        struct sf_sink_group_member t = g->m[i];
        size_t k = i;
        for (; k > 0 && g->m[k - 1].priority < t.priority; k--) {
            g->m[k] = g->m[k - 1];
        }
        g->m[k] = t;
    }
    free(at);
    return rc;
}

/* The members of g from its sinks list; errors for an undefined sink or one of another group
 * (owner[i]: the name of the group holding sinks[i], or NULL). */
static int group_members(struct sf_sink_group *g,
                         const struct sf_section *sec,
                         const char *agent,
                         const char *list,
                         struct sf_sink *sinks,
                         size_t nsinks,
                         const char **owner,
                         struct sf_diag *d)
{
    size_t n = 0;
    char **names = list ? sf_split_names(list, &n, true) : NULL;
    struct sf_prop *at = sf_section_get(sec, "sinks");
    int rc = SF_OK;
    g->m = calloc(n ? n : 1, sizeof(*g->m));
    if (!g->m) {
        sf_names_free(names, n);
        sf_diag_error(d, NULL, "out of memory");
        return SF_ERR_NOMEM;
    }
    if (n == 0 && at) { /* unset: the option table's "missing required key" */
        sf_diag_error(d, at, "sink group \"%s\" has no sinks", g->name);
        rc = SF_ERR_INVAL;
    }
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < nsinks && strcmp(sinks[k].name, names[i]) != 0) {
            k++;
        }
        if (k == nsinks) {
            sf_diag_error(d, at, "sink \"%s\" is referenced but not defined in %s.sinks", names[i],
                          agent);
            rc = SF_ERR_INVAL;
        } else if (owner[k] == g->name) {
            sf_diag_error(d, at, "sink \"%s\" is listed twice", names[i]);
            rc = SF_ERR_INVAL;
        } else if (owner[k]) {
            sf_diag_error(d, at,
                          "sink \"%s\" is already in sink group \"%s\": a sink can be in "
                          "one group only",
                          names[i], owner[k]);
            rc = SF_ERR_INVAL;
        } else {
            owner[k] = g->name;
            g->m[g->n++].snk = &sinks[k];
        }
    }
    sf_names_free(names, n);
    return rc;
}

/* Configure the group g called name from its section. */
static int group_configure(struct sf_sink_group *g,
                           struct sf_section *sec,
                           const char *agent,
                           struct sf_sink *sinks,
                           size_t nsinks,
                           const char **owner,
                           struct sf_diag *d)
{
    struct group_conf c = { 0 };
    int rc = sf_options_apply(sf_sink_group_options, sec, &c, d);
    int t = processor_type(c.type ? c.type : "default");
    bool known = t >= 0; /* else the checks of one processor type are skipped: no follow-ons */
    if (!known) {
        const char *near = sf_nearest(c.type, processor_names, 3);
        struct sf_prop *at = sf_section_get(sec, "processor.type");
        if (near) {
            sf_diag_error(d, at,
                          "unknown sink processor type \"%s\"; did you mean \"%s\"? "
                          "(known: default, failover, load_balance)",
                          c.type, near);
        } else {
            sf_diag_error(d, at,
                          "unknown sink processor type \"%s\" (known: default, failover, "
                          "load_balance)",
                          c.type);
        }
        rc = SF_ERR_INVAL;
        t = SF_SINK_PROCESSOR_DEFAULT;
    }
    g->type = (enum sf_sink_processor_type)t;
    g->max_penalty_ms = c.max_penalty;
    g->backoff = c.backoff;
    g->max_timeout_ms = c.max_timeout;
    if (c.selector && strcasecmp(c.selector, "random") == 0) {
        g->random = true;
    } else if (g->type == SF_SINK_PROCESSOR_LOAD_BALANCE && c.selector &&
               strcasecmp(c.selector, "round_robin") != 0) {
        sf_diag_error(d, sf_section_get(sec, "processor.selector"),
                      "unknown sink selector \"%s\" (known: round_robin, random; sqlflume loads "
                      "no selector classes)",
                      c.selector);
        rc = SF_ERR_INVAL;
    }
    if (group_members(g, sec, agent, c.sinks, sinks, nsinks, owner, d) != SF_OK) {
        rc = SF_ERR_INVAL;
    }
    if (known) {
        warn_other_type(g, sec, d);
    }
    if (g->n > SF_SINK_GROUP_MAX) {
        sf_diag_error(d, sf_section_get(sec, "sinks"),
                      "sink group \"%s\" has %zu sinks, more than the %d a group may have", g->name,
                      g->n, SF_SINK_GROUP_MAX);
        rc = SF_ERR_INVAL;
    }
    if (known && g->type == SF_SINK_PROCESSOR_DEFAULT && g->n > 1) {
        char buf[600];
        struct sf_prop none = key_at(sec, "processor.type", buf, sizeof(buf));
        struct sf_prop *at = sf_section_get(sec, "processor.type");
        sf_diag_error(d, at ? at : &none,
                      "the default sink processor takes exactly one sink (as Flume's "
                      "DefaultSinkProcessor) and sink group \"%s\" has %zu: use failover or "
                      "load_balance",
                      g->name, g->n);
        rc = SF_ERR_INVAL;
    }
    if (g->type == SF_SINK_PROCESSOR_FAILOVER && failover_priorities(g, sec, d) != SF_OK) {
        rc = SF_ERR_INVAL;
    }
    sf_options_free(sf_sink_group_options, &c);
    return rc;
}

int sf_sink_groups_build(struct sf_props *props,
                         const char *agent,
                         struct sf_sink *sinks,
                         size_t nsinks,
                         struct sf_sink_group **groups,
                         size_t *ngroups,
                         struct sf_diag *d)
{
    char key[512];
    snprintf(key, sizeof(key), "%s.sinkgroups", agent);
    struct sf_prop *list = sf_props_get(props, key);
    size_t n = 0;
    char **names = NULL;
    if (list) {
        list->used = true;
        names = sf_split_names(list->val, &n, true);
    }
    *ngroups = 0;
    *groups = calloc(n + nsinks + 1, sizeof(**groups));
    const char **owner = calloc(nsinks + 1, sizeof(*owner));
    if (!*groups || !owner) {
        free(owner);
        sf_names_free(names, n);
        sf_diag_error(d, NULL, "out of memory");
        return SF_ERR_NOMEM;
    }
    int rc = SF_OK;
    for (size_t i = 0; i < n; i++) {
        bool twice = false;
        for (size_t k = 0; k < i; k++) {
            twice |= strcmp(names[k], names[i]) == 0;
        }
        if (twice) {
            sf_diag_error(d, list, "sink group \"%s\" is listed twice", names[i]);
            rc = SF_ERR_INVAL;
            continue;
        }
        struct sf_sink_group *g = &(*groups)[(*ngroups)++];
        g->name = strdup(names[i]);
        char prefix[512];
        snprintf(prefix, sizeof(prefix), "%s.sinkgroups.%s.", agent, names[i]);
        struct sf_section sec;
        if (!g->name || sf_section_init(&sec, props, "sinkgroup", g->name, prefix) != SF_OK) {
            sf_diag_error(d, NULL, "out of memory");
            rc = SF_ERR_NOMEM;
            break;
        }
        if (group_configure(g, &sec, agent, sinks, nsinks, owner, d) != SF_OK) {
            rc = SF_ERR_INVAL;
        }
        sf_section_free(&sec);
    }
    for (size_t k = 0; k < nsinks && rc != SF_ERR_NOMEM; k++) {
        if (owner[k]) {
            continue;
        }
        struct sf_sink_group *g = &(*groups)[(*ngroups)++];
        g->name = strdup(sinks[k].name);
        g->implicit = true;
        g->m = calloc(1, sizeof(*g->m));
        if (!g->name || !g->m) {
            sf_diag_error(d, NULL, "out of memory");
            rc = SF_ERR_NOMEM;
            break;
        }
        g->m[g->n++].snk = &sinks[k];
    }
    for (size_t i = 0; i < *ngroups; i++) {
        struct sf_sink_group *g = &(*groups)[i];
        g->rng = 0x9e3779b97f4a7c15ULL ^ ((unsigned long long)(uintptr_t)g << 7) ^
                 (unsigned long long)sf_mono_us();
    }
    free(owner);
    sf_names_free(names, n);
    return rc;
}

void sf_sink_groups_free(struct sf_sink_group *groups, size_t n)
{
    for (size_t i = 0; groups && i < n; i++) {
        free(groups[i].name);
        free(groups[i].m);
    }
    free(groups);
}

/* One member's process(); notes SF_FATAL for the runner. */
static enum sf_status member_step(struct sf_sink_group *g, struct sf_sink_group_member *mb)
{
    enum sf_status st = mb->snk->plugin->process(mb->snk);
    if (st == SF_FATAL) {
        g->fatal = true;
    }
    return st;
}

static bool failed(enum sf_status st)
{
    return st == SF_FAILED || st == SF_FATAL;
}

/* A member delivered (or found its channel empty): the log line once after failures. */
static enum sf_status
member_ok(struct sf_sink_group *g, struct sf_sink_group_member *mb, enum sf_status st)
{
    if (mb->failing && st == SF_READY) {
        SF_INFO(GROUP_FMT "sink \"%s\" delivers again", GROUP_ARGS(g), mb->snk->name);
        mb->failing = false;
    }
    if (g->all_failed) {
        g->all_failed = false;
    }
    return st;
}

static enum sf_status all_failed(struct sf_sink_group *g)
{
    if (!g->all_failed) {
        SF_ERROR(GROUP_FMT "every sink of the group failed or is waiting out a penalty: nothing "
                           "left to fail over to; the events stay in their channels",
                 GROUP_ARGS(g));
        g->all_failed = true;
    }
    return SF_FAILED;
}

static long long failover_penalty(const struct sf_sink_group *g, int fails)
{
    long long p = FAILURE_PENALTY_MS << (fails < 30 ? fails : 30);
    return p < g->max_penalty_ms ? p : g->max_penalty_ms;
}

/* Predicate: ch is one of the n channels of v. */
static bool channel_in(struct sf_channel *const *v, size_t n, const struct sf_channel *ch)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == ch) {
            return true;
        }
    }
    return false;
}

/* Flume's FailoverSinkProcessor.process(), but a failed sink retried that finds its channel
 * empty (SF_BACKOFF) ends the step only for the live sinks of that channel (Flume ends it for
 * all: the live sinks of other channels would wait as long as the retried one's stays empty). */
static enum sf_status failover_process(struct sf_sink_group *g, long long now)
{
    unsigned long long tried = 0; /* bit i: member i retried in this step */
    struct sf_channel *empty[SF_SINK_GROUP_MAX];
    size_t nempty = 0; /* the channels retried sinks found empty in this step */
    for (;;) {
        struct sf_sink_group_member *mb = NULL;
        size_t at = 0;
        for (size_t i = 0; i < g->n; i++) {
            struct sf_sink_group_member *c = &g->m[i];
            if (c->failed && c->until_ms < now && !((tried >> i) & 1) &&
                (!mb || c->until_ms < mb->until_ms)) {
                mb = c;
                at = i;
            }
        }
        if (!mb) {
            break;
        }
        tried |= 1ULL << at;
        enum sf_status st = member_step(g, mb);
        if (st == SF_READY) {
            mb->failed = false;
            mb->fails = 0;
            return member_ok(g, mb, st);
        }
        if (st == SF_BACKOFF && !channel_in(empty, nempty, mb->snk->ch)) {
            empty[nempty++] = mb->snk->ch;
        }
        if (failed(st)) {
            mb->fails++;
            mb->until_ms = now + failover_penalty(g, mb->fails);
            SF_WARN(GROUP_FMT "sink \"%s\" failed again (%d times in a row); tried again in "
                              "%lld ms",
                    GROUP_ARGS(g), mb->snk->name, mb->fails, mb->until_ms - now);
        }
    }
    for (size_t i = 0; i < g->n; i++) {
        struct sf_sink_group_member *mb = &g->m[i];
        if (mb->failed || channel_in(empty, nempty, mb->snk->ch)) {
            continue;
        }
        enum sf_status st = member_step(g, mb);
        if (!failed(st)) {
            return member_ok(g, mb, st);
        }
        mb->failed = mb->failing = true;
        mb->fails = 1;
        mb->until_ms = now + failover_penalty(g, 1);
        SF_WARN(GROUP_FMT "sink \"%s\" failed and was sent to the failover list; tried again in "
                          "%lld ms",
                GROUP_ARGS(g), mb->snk->name, mb->until_ms - now);
    }
    return nempty > 0 ? SF_BACKOFF : all_failed(g);
}

/* Flume's OrderSelector.informFailure: leave mb out for min(maxTimeOut, 1000 << fails) ms. */
static void
lb_inform_failure(struct sf_sink_group *g, struct sf_sink_group_member *mb, long long now)
{
    long long last = FAILURE_PENALTY_MS << mb->fails;
    if (last > g->max_timeout_ms) {
        last = g->max_timeout_ms;
    }
    if (last + CONSIDER_SEQUENTIAL_MS > now - mb->last_fail_ms) {
        if (mb->fails < EXP_BACKOFF_LIMIT) {
            mb->fails++;
        }
    } else {
        mb->fails = 1;
    }
    mb->last_fail_ms = now;
    long long wait = FAILURE_PENALTY_MS << mb->fails;
    mb->until_ms = now + (wait < g->max_timeout_ms ? wait : g->max_timeout_ms);
}

static unsigned long long xorshift(unsigned long long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Flume's LoadBalancingSinkProcessor.process() with its RoundRobinOrderSelector or
 * RandomOrderSelector. */
static enum sf_status lb_process(struct sf_sink_group *g, long long now)
{
    size_t active[SF_SINK_GROUP_MAX], order[SF_SINK_GROUP_MAX], size = 0;
    for (size_t i = 0; i < g->n; i++) {
        if (!g->backoff || g->m[i].until_ms < now) {
            active[size++] = i;
        }
    }
    if (g->random) {
        for (size_t left = size; left > 0; left--) { /* Flume: fill from the end */
            size_t pick = (size_t)(xorshift(&g->rng) % left);
            order[left - 1] = active[pick];
            memmove(&active[pick], &active[pick + 1], (left - pick - 1) * sizeof(active[0]));
        }
    } else if (size > 0) {
        if (g->next_head >= size) {
            g->next_head = 0;
        }
        size_t begin = g->next_head++;
        if (g->next_head == size) {
            g->next_head = 0;
        }
        for (size_t i = 0; i < size; i++) {
            order[i] = active[(begin + i) % size];
        }
    }
    for (size_t i = 0; i < size; i++) {
        struct sf_sink_group_member *mb = &g->m[order[i]];
        enum sf_status st = member_step(g, mb);
        if (!failed(st)) {
            return member_ok(g, mb, st);
        }
        if (g->backoff) {
            lb_inform_failure(g, mb, now);
        }
        if (!mb->failing) {
            mb->failing = true;
            if (g->backoff) {
                SF_WARN(GROUP_FMT "sink \"%s\" failed; left out for %lld ms, the next sink is "
                                  "tried",
                        GROUP_ARGS(g), mb->snk->name, mb->until_ms - now);
            } else {
                SF_WARN(GROUP_FMT "sink \"%s\" failed; the next sink is tried", GROUP_ARGS(g),
                        mb->snk->name);
            }
        }
    }
    return all_failed(g);
}

enum sf_status sf_sink_group_process(struct sf_sink_group *g, long long now_ms)
{
    switch (g->type) {
    case SF_SINK_PROCESSOR_FAILOVER:
        return failover_process(g, now_ms);
    case SF_SINK_PROCESSOR_LOAD_BALANCE:
        return lb_process(g, now_ms);
    case SF_SINK_PROCESSOR_DEFAULT:
        break;
    }
    return member_step(g, &g->m[0]);
}

/* Predicate: every member's channel is empty. */
static bool channels_empty(const struct sf_sink_group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        if (g->m[i].snk->ch && sf_channel_size(g->m[i].snk->ch) > 0) {
            return false;
        }
    }
    return true;
}

void *sf_sink_group_run(void *arg)
{
    struct sf_sink_group *g = arg;
    char tname[16];
    (void)snprintf(tname, sizeof(tname), "%s%s", g->implicit ? "sink:" : "group:", g->name);
    (void)pthread_setname_np(pthread_self(), tname);
    long long backoff_ms = 0;
    while (!atomic_load(&g->stopping)) {
        enum sf_status st = sf_sink_group_process(g, sf_mono_ms());
        if (g->fatal) {
            g->fatal = false;
            sf_agent_request_stop(g->m[0].snk->agent, 1);
        }
        if (st == SF_READY) {
            backoff_ms = 0;
            continue;
        }
        backoff_ms += RUNNER_BACKOFF_STEP_MS;
        if (backoff_ms > RUNNER_BACKOFF_MAX_MS) {
            backoff_ms = RUNNER_BACKOFF_MAX_MS;
        }
        /* A backoff on empty channels ends as soon as an event arrives (checked every 20 ms), so
         * an idle table's rows do not wait out the backoff; one on a failure (the channel still
         * holds the rolled-back events) lasts its full time. */
        bool was_empty = st == SF_BACKOFF && channels_empty(g);
        for (long long t = 0; t < backoff_ms && !atomic_load(&g->stopping); t += 20) {
            usleep(20000);
            if (was_empty && !channels_empty(g)) {
                break;
            }
        }
    }
    return NULL;
}
