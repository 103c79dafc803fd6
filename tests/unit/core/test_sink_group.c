/*
 * Unit tests of the sink groups and processors (src/core/sink_group.c): the failover order, its
 * penalties and recovery, load_balance's round_robin and random selectors and its backoff, each
 * with exact call counts on fake sinks and a fake clock; the default processor and the groups of
 * one; every configuration error and warning through sf_agent_create, as `sqlflume check` sees
 * them.
 */
#include "unit.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "unit_agent.h"
#include "sqlflume/agent.h"
#include "sqlflume/channel.h"
#include "sqlflume/clock.h"
#include "sqlflume/event.h"
#include "sqlflume/error.h"
#include "sqlflume/option.h"
#include "sqlflume/sink_group.h"

/* ---------- fake sinks ---------- */

/* A fake sink's script: the status its process() returns, and how often it was called. */
struct fake {
    enum sf_status st;
    int calls;
};

static enum sf_status fake_process(struct sf_sink *snk)
{
    struct fake *f = snk->ctx;
    f->calls++;
    return f->st;
}

static const struct sf_sink_plugin fake_plugin = { .name = "fake", .process = fake_process };

#define NFAKE 3

struct rig {
    struct sf_channel ch[2]; /* only their addresses: c1 of every sink, c2 when a test says so */
    struct sf_sink sinks[NFAKE];
    struct fake f[NFAKE];
    char names[NFAKE][8];
    struct sf_props p;
    struct sf_diag d;
    struct sf_sink_group *g;
    size_t ng;
};

/* Sinks k1..k3 (all SF_READY) and the groups of conf (NAME a1); asserts no error. */
static struct rig *rig_new(const char *conf)
{
    struct rig *r = calloc(1, sizeof(*r));
    for (int i = 0; i < NFAKE; i++) {
        snprintf(r->names[i], sizeof(r->names[i]), "k%d", i + 1);
        r->sinks[i].name = r->names[i];
        r->sinks[i].plugin = &fake_plugin;
        r->sinks[i].ctx = &r->f[i];
        r->sinks[i].ch = &r->ch[0];
        r->f[i].st = SF_READY;
    }
    ck_assert_int_eq(sf_props_parse(&r->p, "agent.conf", conf, &r->d), SF_OK);
    int rc = sf_sink_groups_build(&r->p, "a1", r->sinks, NFAKE, &r->g, &r->ng, &r->d);
    ck_assert_msg(rc == SF_OK && r->d.nerrors == 0, "%s", r->d.nerrors ? r->d.errors[0] : "rc");
    return r;
}

static void rig_free(struct rig *r)
{
    sf_sink_groups_free(r->g, r->ng);
    sf_props_free(&r->p);
    sf_diag_free(&r->d);
    free(r);
}

/* Assert the three fakes' call counts. */
#define CALLS(r, a, b, c)                                                                          \
    do {                                                                                           \
        ck_assert_int_eq((r)->f[0].calls, a);                                                      \
        ck_assert_int_eq((r)->f[1].calls, b);                                                      \
        ck_assert_int_eq((r)->f[2].calls, c);                                                      \
    } while (0)

/* ---------- failover ---------- */

/* Highest priority first (k3 unset: -3); a failure fails over in the same step; the penalty is
 * 2 s, then 4 s (Flume's 1000 << failures), strictly after which the sink is tried again; back
 * to READY it is the active sink again. */
START_TEST(failover_order_penalty_recovery)
{
    struct rig *r = rig_new("a1.sinkgroups = g1\n"
                            "a1.sinkgroups.g1.sinks = k1 k2 k3\n"
                            "a1.sinkgroups.g1.processor.type = failover\n"
                            "a1.sinkgroups.g1.processor.priority.k1 = 5\n"
                            "a1.sinkgroups.g1.processor.priority.k2 = 10\n");
    ck_assert_uint_eq(r->ng, 1); /* every sink is in g1: no group of one */
    struct sf_sink_group *g = &r->g[0];
    ck_assert_int_eq(g->type, SF_SINK_PROCESSOR_FAILOVER);
    ck_assert_int_eq(g->max_penalty_ms, 30000);
    ck_assert_str_eq(g->m[0].snk->name, "k2");
    ck_assert_str_eq(g->m[1].snk->name, "k1");
    ck_assert_str_eq(g->m[2].snk->name, "k3");
    ck_assert_int_eq(g->m[2].priority, -3);

    ck_assert_int_eq(sf_sink_group_process(g, 1000), SF_READY);
    CALLS(r, 0, 1, 0);
    r->f[1].st = SF_FAILED; /* k2 fails: k1 delivers in the same step */
    ck_assert_int_eq(sf_sink_group_process(g, 1000), SF_READY);
    CALLS(r, 1, 2, 0);
    ck_assert_int_eq(sf_sink_group_process(g, 2000), SF_READY);
    ck_assert_int_eq(sf_sink_group_process(g, 3000), SF_READY); /* penalty not yet passed */
    CALLS(r, 3, 2, 0);
    ck_assert_int_eq(sf_sink_group_process(g, 3001), SF_READY); /* k2 retried, fails again */
    CALLS(r, 4, 3, 0);
    ck_assert_int_eq(g->m[0].until_ms, 3001 + 4000);
    r->f[1].st = SF_READY;
    ck_assert_int_eq(sf_sink_group_process(g, 7001), SF_READY);
    CALLS(r, 5, 3, 0);
    ck_assert_int_eq(sf_sink_group_process(g, 7002), SF_READY); /* k2 retried: works */
    CALLS(r, 5, 4, 0);
    ck_assert_int_eq(sf_sink_group_process(g, 7003), SF_READY); /* k2 active again */
    CALLS(r, 5, 5, 0);

    /* everything fails: each sink tried once, then SF_FAILED; k3 is the last resort */
    r->f[0].st = r->f[1].st = SF_FAILED;
    ck_assert_int_eq(sf_sink_group_process(g, 8000), SF_READY);
    CALLS(r, 6, 6, 1);
    r->f[2].st = SF_FAILED;
    ck_assert_int_eq(sf_sink_group_process(g, 8000), SF_FAILED);
    CALLS(r, 6, 6, 2);
    ck_assert_int_eq(sf_sink_group_process(g, 9000), SF_FAILED); /* all penalised: no call */
    CALLS(r, 6, 6, 2);
    /* an SF_FATAL counts as a failure and is noted for the runner */
    r->f[1].st = SF_FATAL;
    r->f[0].st = SF_READY;
    /* all three due: k2 (first of the tied ones) is retried, fails (fatal), then k1 works */
    ck_assert_int_eq(sf_sink_group_process(g, 10001), SF_READY);
    CALLS(r, 7, 7, 2);
    ck_assert_int_eq(g->m[0].until_ms, 10001 + 4000);
    ck_assert(g->fatal);
    rig_free(r);
}
END_TEST

/* maxpenalty caps the penalty; a retried sink whose channel is empty (SF_BACKOFF) stays on the
 * failed list without a longer penalty and ends the step for the live sinks of its channel, not
 * for those of another channel. */
START_TEST(failover_maxpenalty_and_backoff_retry)
{
    struct rig *r = rig_new("a1.sinkgroups = g1\n"
                            "a1.sinkgroups.g1.sinks = k1 k2\n"
                            "a1.sinkgroups.g1.processor.type = FAILOVER\n"
                            "a1.sinkgroups.g1.processor.maxpenalty = 3000\n");
    ck_assert_uint_eq(r->ng, 2); /* g1, and k3 on its own */
    struct sf_sink_group *g = &r->g[0];
    ck_assert_str_eq(g->m[0].snk->name, "k1"); /* unset: -1, -2 in list order */
    ck_assert(r->g[1].implicit);
    ck_assert_int_eq(r->g[1].type, SF_SINK_PROCESSOR_DEFAULT);
    ck_assert_str_eq(r->g[1].name, "k3");
    r->f[0].st = SF_FAILED;
    ck_assert_int_eq(sf_sink_group_process(g, 100), SF_READY);
    ck_assert_int_eq(g->m[0].until_ms, 2100);
    ck_assert_int_eq(sf_sink_group_process(g, 2101), SF_READY);
    ck_assert_int_eq(g->m[0].until_ms, 2101 + 3000); /* 4000 capped at 3000 */
    ck_assert_int_eq(sf_sink_group_process(g, 5102), SF_READY);
    ck_assert_int_eq(g->m[0].until_ms, 5102 + 3000);
    CALLS(r, 3, 3, 0);
    r->f[0].st = SF_BACKOFF;
    ck_assert_int_eq(sf_sink_group_process(g, 8103), SF_BACKOFF); /* c1 empty: k2 not called */
    CALLS(r, 4, 3, 0);
    ck_assert(g->m[0].failed);
    ck_assert_int_eq(g->m[0].until_ms, 5102 + 3000); /* not penalised for an empty channel */
    r->sinks[1].ch = &r->ch[1]; /* k2 drains another channel: it is still called */
    ck_assert_int_eq(sf_sink_group_process(g, 8104), SF_READY);
    CALLS(r, 5, 4, 0);
    r->f[0].st = SF_READY;
    ck_assert_int_eq(sf_sink_group_process(g, 8105), SF_READY);
    ck_assert_int_eq(sf_sink_group_process(g, 8106), SF_READY);
    CALLS(r, 7, 4, 0);
    ck_assert(!g->m[0].failed);
    rig_free(r);
}
END_TEST

/* ---------- load_balance ---------- */

/* round_robin (the default selector): two sinks alternate exactly; a failing one (no backoff) is
 * tried at its turn every time and the next sink delivers in the same step. */
START_TEST(load_balance_round_robin)
{
    struct rig *r = rig_new("a1.sinkgroups = g1\n"
                            "a1.sinkgroups.g1.sinks = k1 k2\n"
                            "a1.sinkgroups.g1.processor.type = load_balance\n");
    struct sf_sink_group *g = &r->g[0];
    ck_assert(!g->random && !g->backoff);
    for (int i = 1; i <= 6; i++) {
        ck_assert_int_eq(sf_sink_group_process(g, 1000), SF_READY);
        CALLS(r, (i + 1) / 2, i / 2, 0);
    }
    r->f[0].st = SF_FAILED;
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(sf_sink_group_process(g, 2000), SF_READY);
    }
    CALLS(r, 3 + 2, 3 + 4, 0);
    /* an empty channel is no failure: its status is the step's, the next sink is not tried */
    r->f[0].st = SF_BACKOFF;
    ck_assert_int_eq(sf_sink_group_process(g, 3000), SF_BACKOFF);
    CALLS(r, 6, 7, 0);
    r->f[1].st = SF_FAILED;
    r->f[0].st = SF_FAILED;
    ck_assert_int_eq(sf_sink_group_process(g, 3000), SF_FAILED);
    CALLS(r, 7, 8, 0);
    rig_free(r);
}
END_TEST

/* random: over 400 steps both sinks deliver, each a fair share, one call per step. */
START_TEST(load_balance_random)
{
    struct rig *r = rig_new("a1.sinkgroups = g1\n"
                            "a1.sinkgroups.g1.sinks = k1 k2\n"
                            "a1.sinkgroups.g1.processor.type = "
                            "org.apache.flume.sink.LoadBalancingSinkProcessor\n"
                            "a1.sinkgroups.g1.processor.selector = RANDOM\n");
    struct sf_sink_group *g = &r->g[0];
    ck_assert_int_eq(g->type, SF_SINK_PROCESSOR_LOAD_BALANCE);
    ck_assert(g->random);
    for (int i = 0; i < 400; i++) {
        ck_assert_int_eq(sf_sink_group_process(g, 1000), SF_READY);
    }
    ck_assert_int_eq(r->f[0].calls + r->f[1].calls, 400);
    ck_assert_int_gt(r->f[0].calls, 120);
    ck_assert_int_gt(r->f[1].calls, 120);
    /* a failing sink: the other delivers every step, so 400 more READY */
    r->f[1].st = SF_FAILED;
    int k1 = r->f[0].calls;
    for (int i = 0; i < 400; i++) {
        ck_assert_int_eq(sf_sink_group_process(g, 1000), SF_READY);
    }
    ck_assert_int_eq(r->f[0].calls - k1, 400);
    rig_free(r);
}
END_TEST

/* backoff = true: a failing sink is left out for min(maxTimeOut, 1000 << n) ms (2 s, 4 s, then
 * the 5 s cap) and only the other one is called meanwhile; all left out: SF_FAILED, no call. */
START_TEST(load_balance_backoff)
{
    struct rig *r = rig_new("a1.sinkgroups = g1\n"
                            "a1.sinkgroups.g1.sinks = k1 k2\n"
                            "a1.sinkgroups.g1.processor.type = load_balance\n"
                            "a1.sinkgroups.g1.processor.backoff = true\n"
                            "a1.sinkgroups.g1.processor.selector.maxTimeOut = 5000\n");
    struct sf_sink_group *g = &r->g[0];
    ck_assert(g->backoff);
    ck_assert_int_eq(g->max_timeout_ms, 5000);
    r->f[0].st = SF_FAILED;
    ck_assert_int_eq(sf_sink_group_process(g, 1000), SF_READY); /* k1 fails, k2 delivers */
    CALLS(r, 1, 1, 0);
    ck_assert_int_eq(g->m[0].until_ms, 3000);
    for (int t = 1001; t <= 3000; t += 500) { /* 1001 1501 2001 2501: k2 alone */
        ck_assert_int_eq(sf_sink_group_process(g, t), SF_READY);
    }
    CALLS(r, 1, 5, 0);
    /* 3001: both eligible again; the rotation's head is k2 then k1 alternately */
    ck_assert_int_eq(sf_sink_group_process(g, 3001), SF_READY);
    ck_assert_int_eq(sf_sink_group_process(g, 3001), SF_READY);
    CALLS(r, 2, 7, 0); /* one of the two steps began with k1, which failed: left out 4 s */
    ck_assert_int_eq(g->m[0].until_ms, 3001 + 4000);
    ck_assert_int_eq(g->m[0].fails, 2);
    ck_assert_int_eq(sf_sink_group_process(g, 7002), SF_READY);
    ck_assert_int_eq(sf_sink_group_process(g, 7002), SF_READY);
    CALLS(r, 3, 9, 0);
    ck_assert_int_eq(g->m[0].until_ms, 7002 + 5000); /* 8000 capped by maxTimeOut */
    /* k2 fails too: it is left out, and with both out a step calls nobody */
    r->f[1].st = SF_FAILED;
    ck_assert_int_eq(sf_sink_group_process(g, 8000), SF_FAILED);
    CALLS(r, 3, 10, 0);
    ck_assert_int_eq(sf_sink_group_process(g, 9000), SF_FAILED);
    CALLS(r, 3, 10, 0);
    /* k1 works again once its time is out */
    r->f[0].st = SF_READY;
    ck_assert_int_eq(sf_sink_group_process(g, 12003), SF_READY);
    CALLS(r, 4, 10, 0);
    rig_free(r);
}
END_TEST

/* The default processor passes its sink's status on as is, failures included. */
START_TEST(default_processor_passes_status)
{
    struct rig *r = rig_new("a1.sinkgroups = g1\n"
                            "a1.sinkgroups.g1.sinks = k2\n"
                            "a1.sinkgroups.g1.processor.type = default\n");
    ck_assert_uint_eq(r->ng, 3); /* g1, then k1 and k3 on their own, in sinks order */
    ck_assert_str_eq(r->g[0].name, "g1");
    ck_assert(!r->g[0].implicit);
    ck_assert_str_eq(r->g[1].name, "k1");
    ck_assert_str_eq(r->g[2].name, "k3");
    const enum sf_status sts[] = { SF_READY, SF_BACKOFF, SF_FAILED, SF_FATAL };
    for (size_t i = 0; i < 4; i++) {
        r->f[1].st = sts[i];
        ck_assert_int_eq(sf_sink_group_process(&r->g[0], 1000), sts[i]);
    }
    CALLS(r, 0, 4, 0);
    ck_assert_int_eq(sf_sink_group_process(&r->g[2], 1000), SF_READY);
    CALLS(r, 0, 4, 1);
    rig_free(r);
}
END_TEST

/* ---------- configuration, through the agent ---------- */

/* A memory channel and three null sinks (lines 1-9); the groups' lines follow from line 10. */
#define SINKS3                                                                                     \
    "a1.channels = c1\n"                                                                           \
    "a1.sinks = k1 k2 k3\n"                                                                        \
    "a1.channels.c1.type = memory\n"                                                               \
    "a1.sinks.k1.type = null\n"                                                                    \
    "a1.sinks.k1.channel = c1\n"                                                                   \
    "a1.sinks.k2.type = null\n"                                                                    \
    "a1.sinks.k2.channel = c1\n"                                                                   \
    "a1.sinks.k3.type = null\n"                                                                    \
    "a1.sinks.k3.channel = c1\n"


/* Assert that v (n lines) holds want exactly. */
static void has_line(char **v, size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], want) == 0) {
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        fprintf(stderr, "  have: %s\n", v[i]);
    }
    ck_abort_msg("missing: %s", want);
}

START_TEST(config_valid)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(unit_agent_diag(SINKS3 "a1.sinkgroups = g1 g2\n"
                                        "a1.sinkgroups.g1.sinks = k1 k2\n"
                                        "a1.sinkgroups.g1.processor.type = "
                                        "org.apache.flume.sink.FailoverSinkProcessor\n"
                                        "a1.sinkgroups.g1.processor.priority.k1 = 10\n"
                                        "a1.sinkgroups.g1.processor.priority.k2 = -5\n"
                                        "a1.sinkgroups.g1.processor.maxpenalty = 10000\n"
                                        "a1.sinkgroups.g2.sinks = k3\n"
                                        "a1.sinkgroups.g2.processor.type = "
                                        "org.apache.flume.sink.DefaultSinkProcessor\n",
                                 &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);
    /* no processor.type: the default processor, fine with one sink */
    ck_assert_uint_eq(unit_agent_diag(SINKS3 "a1.sinkgroups = g1\n"
                                        "a1.sinkgroups.g1.sinks = k1\n",
                                 &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);
}
END_TEST

START_TEST(config_errors)
{
    struct sf_diag d = { 0 };
    size_t n = unit_agent_diag(SINKS3 "a1.sinkgroups = g1 g2 g3 g4\n"
                                 "a1.sinkgroups.g1.sinks = k1 k2 k9\n"
                                 "a1.sinkgroups.g1.processor.type = failvoer\n"
                                 "a1.sinkgroups.g2.sinks = k2 k3\n"
                                 "a1.sinkgroups.g2.processor.type = load_balance\n"
                                 "a1.sinkgroups.g2.processor.selector = weighted\n"
                                 "a1.sinkgroups.g2.processor.backoff = sometimes\n"
                                 "a1.sinkgroups.g3.sinks = ,\n"
                                 "a1.sinkgroups.g4.processor.type = failover\n",
                          &d);
    has_line(d.errors, d.nerrors,
             "agent.conf:11: a1.sinkgroups.g1.sinks: sink \"k9\" is referenced but not defined "
             "in a1.sinks");
    has_line(d.errors, d.nerrors,
             "agent.conf:12: a1.sinkgroups.g1.processor.type: unknown sink processor type "
             "\"failvoer\"; did you mean \"failover\"? (known: default, failover, load_balance)");
    /* nothing about g1's processor beyond that: no follow-on (g1 has two sinks) */
    has_line(d.errors, d.nerrors,
             "agent.conf:13: a1.sinkgroups.g2.sinks: sink \"k2\" is already in sink group "
             "\"g1\": a sink can be in one group only");
    has_line(d.errors, d.nerrors,
             "agent.conf:15: a1.sinkgroups.g2.processor.selector: unknown sink selector "
             "\"weighted\" (known: round_robin, random; sqlflume loads no selector classes)");
    has_line(d.errors, d.nerrors,
             "agent.conf:16: a1.sinkgroups.g2.processor.backoff: bad boolean \"sometimes\" "
             "(expected true or false)");
    has_line(d.errors, d.nerrors,
             "agent.conf:17: a1.sinkgroups.g3.sinks: sink group \"g3\" has no sinks");
    has_line(d.errors, d.nerrors,
             "agent.conf: a1.sinkgroups.g4.sinks: missing required key for sinkgroup \"g4\"");
    ck_assert_uint_eq(n, 7);
    sf_diag_free(&d);

    /* the default processor with more than one sink, processor.type not set */
    n = unit_agent_diag(SINKS3 "a1.sinkgroups = g1\n"
                          "a1.sinkgroups.g1.sinks = k1 k2\n",
                   &d);
    ck_assert_uint_eq(n, 1);
    has_line(d.errors, d.nerrors,
             "agent.conf: a1.sinkgroups.g1.processor.type: the default sink processor takes "
             "exactly one sink (as Flume's DefaultSinkProcessor) and sink group \"g1\" has 2: use "
             "failover or load_balance");
    sf_diag_free(&d);

    /* failover priorities: not an integer, two sinks sharing one, a bad maxpenalty */
    n = unit_agent_diag(SINKS3 "a1.sinkgroups = g1\n"
                          "a1.sinkgroups.g1.sinks = k1 k2 k3\n"
                          "a1.sinkgroups.g1.processor.type = failover\n"
                          "a1.sinkgroups.g1.processor.priority.k1 = high\n"
                          "a1.sinkgroups.g1.processor.priority.k2 = 7\n"
                          "a1.sinkgroups.g1.processor.priority.k3 = 7\n"
                          "a1.sinkgroups.g1.processor.maxpenalty = -1\n",
                   &d);
    ck_assert_uint_eq(n, 3);
    has_line(d.errors, d.nerrors,
             "agent.conf:13: a1.sinkgroups.g1.processor.priority.k1: priority \"high\" of sink "
             "\"k1\" is not an integer");
    has_line(d.errors, d.nerrors,
             "agent.conf:15: a1.sinkgroups.g1.processor.priority.k3: sinks \"k2\" and \"k3\" "
             "have the same priority 7 (Flume would leave \"k3\" out of the group): give each "
             "sink its own");
    has_line(d.errors, d.nerrors,
             "agent.conf:16: a1.sinkgroups.g1.processor.maxpenalty: -1 is out of range [0, "
             "2147483647]");
    sf_diag_free(&d);

    /* a group listed twice, a sink listed twice */
    n = unit_agent_diag(SINKS3 "a1.sinkgroups = g1 g1\n"
                          "a1.sinkgroups.g1.sinks = k1\n",
                   &d);
    ck_assert_uint_eq(n, 1);
    has_line(d.errors, d.nerrors,
             "agent.conf:10: a1.sinkgroups: sink group \"g1\" is listed twice");
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);
    n = unit_agent_diag(SINKS3 "a1.sinkgroups = g1\n"
                          "a1.sinkgroups.g1.sinks = k1 k2 k1\n"
                          "a1.sinkgroups.g1.processor.type = load_balance\n",
                   &d);
    ck_assert_uint_eq(n, 1);
    has_line(d.errors, d.nerrors,
             "agent.conf:11: a1.sinkgroups.g1.sinks: sink \"k1\" is listed twice");
    sf_diag_free(&d);
}
END_TEST

START_TEST(config_warnings)
{
    struct sf_diag d = { 0 };
    size_t n = unit_agent_diag(SINKS3 "a1.sinkgroups = g1 g2\n"
                                 "a1.sinkgroups.g1.sinks = k1 k2\n"
                                 "a1.sinkgroups.g1.processor.type = failover\n"
                                 "a1.sinkgroups.g1.processor.maxpenalti = 5\n"
                                 "a1.sinkgroups.g1.processor.backoff = true\n"
                                 "a1.sinkgroups.g1.processor.priority.k3 = 1\n"
                                 "a1.sinkgroups.g2.sinks = k3\n"
                                 "a1.sinkgroups.g2.processor.maxpenalty = 5\n"
                                 "a1.sinkgroups.g9.sinks = k1\n"
                                 "a1.sinkgroupz = g1\n"
                                 "a1.sinkgroups.g1.processor.selector = weighted\n",
                          &d);
    ck_assert_uint_eq(n, 0);
    has_line(d.warnings, d.nwarnings,
             "agent.conf:13: a1.sinkgroups.g1.processor.maxpenalti: unknown key for sinkgroup "
             "\"g1\"; did you mean \"processor.maxpenalty\"?");
    has_line(d.warnings, d.nwarnings,
             "agent.conf:14: a1.sinkgroups.g1.processor.backoff: only read by processor.type = "
             "load_balance, not failover; ignored");
    has_line(d.warnings, d.nwarnings,
             "agent.conf:15: a1.sinkgroups.g1.processor.priority.k3: sink \"k3\" is not in sink "
             "group \"g1\"; ignored");
    has_line(d.warnings, d.nwarnings,
             "agent.conf:17: a1.sinkgroups.g2.processor.maxpenalty: only read by processor.type "
             "= failover, not default; ignored");
    has_line(d.warnings, d.nwarnings,
             "agent.conf:18: a1.sinkgroups.g9.sinks: sinkgroup \"g9\" is not listed in "
             "a1.sinkgroups, so it is neither checked nor started (1 key(s) ignored)");
    has_line(d.warnings, d.nwarnings,
             "agent.conf:19: a1.sinkgroupz: unknown key; did you mean \"a1.sinkgroups\"?");
    /* a bad value of a key the group does not read: a warning, not an error */
    has_line(d.warnings, d.nwarnings,
             "agent.conf:20: a1.sinkgroups.g1.processor.selector: only read by processor.type = "
             "load_balance, not failover; ignored");
    ck_assert_uint_eq(d.nwarnings, 7);
    sf_diag_free(&d);
}
END_TEST

/* An agent with a failover group of two null sinks and a sink of its own starts a runner per
 * group and stops them (under ASan: no leak, no thread left). */
START_TEST(agent_runs_groups)
{
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    ck_assert_int_eq(sf_props_parse(&p, "agent.conf",
                                    SINKS3 "a1.sinkgroups = g1\n"
                                           "a1.sinkgroups.g1.sinks = k1 k2\n"
                                           "a1.sinkgroups.g1.processor.type = failover\n",
                                    &d),
                     SF_OK);
    struct sf_agent *a = sf_agent_create("a1", &p, &d);
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(sf_agent_start(a), SF_OK);
    usleep(150000);
    /* the active sink k1 polled its channel; k2, the standby, never did */
    ck_assert_int_gt(atomic_load(&sf_agent_sink_at(a, 0)->metrics.batch_empty), 0);
    ck_assert_int_eq(atomic_load(&sf_agent_sink_at(a, 1)->metrics.batch_empty), 0);
    ck_assert_int_gt(atomic_load(&sf_agent_sink_at(a, 2)->metrics.batch_empty), 0);
    sf_agent_stop(a);
    ck_assert_int_eq(sf_agent_exit_code(a), 0);
    sf_agent_destroy(a);
    sf_props_free(&p);
    sf_diag_free(&d);
}
END_TEST

/* ---------- the runner ---------- */

extern const struct sf_channel_plugin sf_channel_memory;

/* A fake sink for the runner's thread: its status, and when it was called. */
struct timed {
    enum sf_status st;
    atomic_int calls;
    atomic_llong at_ms[16]; /* sf_mono_ms() of the first 16 calls */
};

static enum sf_status timed_process(struct sf_sink *snk)
{
    struct timed *t = snk->ctx;
    int i = atomic_fetch_add(&t->calls, 1);
    if (i < 16) {
        atomic_store(&t->at_ms[i], sf_mono_ms());
    }
    return t->st;
}

static const struct sf_sink_plugin timed_plugin = { .name = "timed", .process = timed_process };

/*
 * Run a group of one fake sink returning st on an empty memory channel; once it backed off 4
 * times in a row (the 4th sleep is 400 ms), put an event 50 ms into that sleep.
 * @return ms from the 4th call to the 5th
 */
static long long runner_gap(enum sf_status st)
{
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    struct sf_channel ch = { .name = "c1", .plugin = &sf_channel_memory };
    ch.ctx = calloc(1, sf_channel_memory.ctx_size);
    struct sf_section sec;
    ck_assert_int_eq(sf_section_init(&sec, &p, "channel", "c1", "a1.channels.c1."), SF_OK);
    ck_assert_int_eq(sf_options_apply(sf_channel_memory.options, &sec, ch.ctx, &d), SF_OK);
    char err[256];
    ck_assert_int_eq(sf_channel_memory.start(&ch, err, sizeof(err)), SF_OK);
    struct timed t = { .st = st };
    struct sf_sink snk = { .name = "k1", .plugin = &timed_plugin, .ctx = &t, .ch = &ch };
    struct sf_sink_group *g;
    size_t ng;
    ck_assert_int_eq(sf_sink_groups_build(&p, "a1", &snk, 1, &g, &ng, &d), SF_OK);
    ck_assert_uint_eq(ng, 1);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, sf_sink_group_run, &g[0]), 0);
    long long end = sf_mono_ms() + 5000;
    while (atomic_load(&t.calls) < 4 && sf_mono_ms() < end) {
        usleep(1000);
    }
    ck_assert_int_eq(atomic_load(&t.calls), 4);
    usleep(50000);
    struct sf_txn *txn = sf_channel_txn_begin(&ch);
    ck_assert_int_eq(sf_channel_put(txn, sf_event_create(NULL, 0, "x", 1)), SF_OK);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    while (atomic_load(&t.calls) < 5 && sf_mono_ms() < end) {
        usleep(1000);
    }
    ck_assert_int_ge(atomic_load(&t.calls), 5);
    atomic_store(&g[0].stopping, true);
    pthread_join(th, NULL);
    long long gap = atomic_load(&t.at_ms[4]) - atomic_load(&t.at_ms[3]);
    sf_sink_groups_free(g, ng);
    sf_channel_memory.stop(&ch);
    sf_options_free(sf_channel_memory.options, ch.ctx);
    free(ch.ctx);
    sf_section_free(&sec);
    sf_diag_free(&d);
    return gap;
}

/* After SF_BACKOFF on an empty channel the runner wakes within 20 ms of an event's arrival; after
 * SF_FAILED it sleeps its full 400 ms (the channel may only look empty: the rolled-back events of
 * another step, or a take that could not begin). */
START_TEST(runner_backoff_and_failed)
{
    long long gap = runner_gap(SF_BACKOFF);
    ck_assert_msg(gap >= 40 && gap < 300, "SF_BACKOFF: woke after %lld ms, not about 70", gap);
    gap = runner_gap(SF_FAILED);
    ck_assert_msg(gap >= 390, "SF_FAILED: woke after %lld ms, not the full 400", gap);
}
END_TEST

SF_UNIT_SUITE(sink_group)
{
    Suite *s = suite_create("sink_group");
    TCase *tc = tcase_create("processors");
    tcase_add_test(tc, failover_order_penalty_recovery);
    tcase_add_test(tc, failover_maxpenalty_and_backoff_retry);
    tcase_add_test(tc, load_balance_round_robin);
    tcase_add_test(tc, load_balance_random);
    tcase_add_test(tc, load_balance_backoff);
    tcase_add_test(tc, default_processor_passes_status);
    suite_add_tcase(s, tc);
    TCase *tcc = tcase_create("config");
    tcase_add_test(tcc, config_valid);
    tcase_add_test(tcc, config_errors);
    tcase_add_test(tcc, config_warnings);
    tcase_add_test(tcc, agent_runs_groups);
    tcase_add_test(tcc, runner_backoff_and_failed);
    suite_add_tcase(s, tcc);
    return s;
}
