/*
 * Unit tests of the channel selectors (src/core/selector.c) and of the source's channel processor
 * (src/core/source.c) that applies them: the configuration errors and warnings, which channels
 * each event reaches, and when the source's offset becomes committable (required channels
 * only; optional channels and events sent nowhere never hold it back).
 */
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlflume/agent.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/interceptor.h"
#include "sqlflume/option.h"
#include "sqlflume/selector.h"
#include "sqlflume/source.h"
#include "unit_agent.h"

/* ---------- configuration, through the agent ---------- */

#define AGENT3                                                                                     \
    "a1.sources = r1\n"                                                                            \
    "a1.channels = c1 c2 c3\n"                                                                     \
    "a1.sinks = k1 k2 k3\n"                                                                        \
    "a1.sources.r1.type = sql\n"                                                                   \
    "a1.sources.r1.connection.url = jdbc:mysql://127.0.0.1:3306/db\n"                              \
    "a1.sources.r1.table = t\n"                                                                    \
    "a1.sources.r1.channels = c1 c2 c3\n"                                                          \
    "a1.channels.c1.type = memory\n"                                                               \
    "a1.channels.c2.type = memory\n"                                                               \
    "a1.channels.c3.type = memory\n"                                                               \
    "a1.sinks.k1.type = null\n"                                                                    \
    "a1.sinks.k1.channel = c1\n"                                                                   \
    "a1.sinks.k2.type = null\n"                                                                    \
    "a1.sinks.k2.channel = c2\n"                                                                   \
    "a1.sinks.k3.type = null\n"                                                                    \
    "a1.sinks.k3.channel = c3\n"


#define ASSERT_HAS(v, n, want)                                                                     \
    ck_assert_msg(unit_has_exact((v), (n), (want)), "missing: %s", (want))

START_TEST(selector_config_valid)
{
    struct sf_diag d = { 0 };
    /* the seed tutorials' multiplexing by table, with an optional copy; Flume's class names */
    ck_assert_uint_eq(unit_agent_diag(AGENT3
                                      "a1.sources.r1.selector.type = "
                                      "org.apache.flume.channel.MultiplexingChannelSelector\n"
                                      "a1.sources.r1.selector.header = table\n"
                                      "a1.sources.r1.selector.mapping.orders = c1\n"
                                      "a1.sources.r1.selector.mapping.users = c2\n"
                                      "a1.sources.r1.selector.optional.users = c3 c2\n"
                                      "a1.sources.r1.selector.default = c3\n",
                                      &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);
    ck_assert_uint_eq(unit_agent_diag(AGENT3 "a1.sources.r1.selector.type = replicating\n"
                                             "a1.sources.r1.selector.optional = c3\n",
                                      &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);
    ck_assert_uint_eq(unit_agent_diag(AGENT3 "a1.sources.r1.selector.type = load_balancing\n"
                                             "a1.sources.r1.selector.policy = random\n",
                                      &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);
}
END_TEST

START_TEST(selector_config_errors)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(unit_agent_diag(AGENT3 "a1.sources.r1.selector.type = multiplexer\n", &d), 1);
    ASSERT_HAS(d.errors, d.nerrors,
               "agent.conf:17: a1.sources.r1.selector.type: unknown channel selector type "
               "\"multiplexer\" (known: replicating, multiplexing, load_balancing, or their "
               "Flume class names)");
    sf_diag_free(&d);

    ck_assert_uint_eq(unit_agent_diag(AGENT3 "a1.sources.r1.selector.type = multiplexing\n"
                                             "a1.sources.r1.selector.mapping.a = c1 c9\n"
                                             "a1.sources.r1.selector.optional = c4\n"
                                             "a1.sources.r1.selector.default = c2\n",
                                      &d),
                      1);
    ASSERT_HAS(d.errors, d.nerrors,
               "agent.conf:18: a1.sources.r1.selector.mapping.a: channel \"c9\" is not one of "
               "source \"r1\"'s channels");
    /* a replicating key under multiplexing is a typo: warned, with the nearest key */
    ASSERT_HAS(d.warnings, d.nwarnings,
               "agent.conf:19: a1.sources.r1.selector.optional: unknown key for the "
               "multiplexing channel selector of source \"r1\"; did you mean "
               "\"selector.optional\"?");
    sf_diag_free(&d);

    ck_assert_uint_eq(unit_agent_diag(AGENT3 "a1.sources.r1.selector.type = multiplexing\n"
                                             "a1.sources.r1.selector.header = table\n",
                                      &d),
                      1);
    ASSERT_HAS(d.errors, d.nerrors,
               "agent.conf:17: a1.sources.r1.selector.type: the multiplexing channel selector of "
               "source \"r1\" has neither a selector.mapping.<value> nor a selector.default: no "
               "event could go anywhere");
    sf_diag_free(&d);

    ck_assert_uint_eq(unit_agent_diag(AGENT3 "a1.sources.r1.selector.type = load_balancing\n"
                                             "a1.sources.r1.selector.policy = roundrobin\n",
                                      &d),
                      1);
    ASSERT_HAS(d.errors, d.nerrors,
               "agent.conf:18: a1.sources.r1.selector.policy: invalid value \"roundrobin\" "
               "(expected round_robin or random)");
    sf_diag_free(&d);

    ck_assert_uint_eq(unit_agent_diag(AGENT3 "a1.sources.r1.selector.optional = c1 c2 cx\n", &d),
                      1);
    ASSERT_HAS(d.errors, d.nerrors,
               "agent.conf:17: a1.sources.r1.selector.optional: channel \"cx\" is not one of "
               "source \"r1\"'s channels");
    sf_diag_free(&d);
}
END_TEST

START_TEST(selector_config_warnings)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(unit_agent_diag(AGENT3 "a1.sources.r1.selector.type = multiplexing\n"
                                             "a1.sources.r1.selector.header = table\n"
                                             "a1.sources.r1.selector.mapping.a = c1\n"
                                             "a1.sources.r1.selector.mapping.b = c2\n",
                                      &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 2);
    ASSERT_HAS(d.warnings, d.nwarnings,
               "agent.conf:17: a1.sources.r1.selector.type: the multiplexing channel selector "
               "of source \"r1\" has no selector.default: events whose \"table\" header matches "
               "no mapping are dropped (each batch that drops some logs how many)");
    ASSERT_HAS(d.warnings, d.nwarnings,
               "agent.conf:17: a1.sources.r1.selector.type: channel \"c3\" of source \"r1\" "
               "gets no event from its multiplexing channel selector");
    sf_diag_free(&d);
}
END_TEST

/* ---------- delivery through memory and file channels ---------- */

static const struct sf_source_plugin fake_plugin = { .name = "test" };

struct rig {
    struct sf_source src;
    struct sf_channel ch[3];
    struct sf_props props;
    struct sf_section sec;
    char dir[64];
};

/* A source with channels c1..c<nch> of type (memory capacity cap, or file), and the selector of
 * the `a1.sources.r1.` keys in conf. */
static struct rig *rig_new(const char *type, unsigned nch, long long cap, const char *conf)
{
    struct rig *r = calloc(1, sizeof(*r));
    struct sf_diag d = { 0 };
    char text[2048];
    int len = 0;
    if (strcmp(type, "file") == 0) {
        snprintf(r->dir, sizeof(r->dir), "/tmp/sf-test-sel.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(r->dir));
    }
    for (unsigned c = 0; c < nch; c++) {
        if (r->dir[0]) {
            len += snprintf(text + len, sizeof(text) - (size_t)len,
                            "a1.channels.c%u.type = file\n"
                            "a1.channels.c%u.checkpointDir = %s/cp%u\n"
                            "a1.channels.c%u.dataDirs = %s/data%u\n"
                            "a1.channels.c%u.minimumRequiredSpace = 1048576\n",
                            c + 1, c + 1, r->dir, c, c + 1, r->dir, c, c + 1);
        } else {
            len += snprintf(text + len, sizeof(text) - (size_t)len,
                            "a1.channels.c%u.type = memory\n"
                            "a1.channels.c%u.capacity = %lld\n"
                            "a1.channels.c%u.transactionCapacity = %lld\n"
                            "a1.channels.c%u.keep-alive = 0\n",
                            c + 1, c + 1, cap, c + 1, cap, c + 1);
        }
    }
    snprintf(text + len, sizeof(text) - (size_t)len, "%s", conf); /* last: may override */
    sf_props_parse(&r->props, "sel.conf", text, &d);
    char *names[3];
    r->src.name = strdup("r1");
    r->src.plugin = &fake_plugin;
    r->src.chs = calloc(nch, sizeof(*r->src.chs));
    r->src.nch = nch;
    r->src.tracker = sf_ack_tracker_create();
    pthread_mutex_init(&r->src.sleep_mu, NULL);
    pthread_cond_init(&r->src.sleep_cv, NULL);
    for (unsigned c = 0; c < nch; c++) {
        struct sf_channel *ch = &r->ch[c];
        char name[16], prefix[40];
        snprintf(name, sizeof(name), "c%u", c + 1);
        snprintf(prefix, sizeof(prefix), "a1.channels.c%u.", c + 1);
        ch->name = strdup(name);
        names[c] = ch->name;
        ch->plugin = sf_registry_channel(type);
        ch->ctx = calloc(1, ch->plugin->ctx_size);
        struct sf_section s;
        sf_section_init(&s, &r->props, "channel", ch->name, prefix);
        ck_assert_int_eq(sf_options_apply(ch->plugin->options, &s, ch->ctx, &d), 0);
        ck_assert_int_eq(ch->plugin->configure ? ch->plugin->configure(ch, &d) : 0, 0);
        sf_section_free(&s);
        char err[256] = "";
        ck_assert_msg(ch->plugin->start(ch, err, sizeof(err)) == SF_OK, "%s", err);
        r->src.chs[c] = ch;
    }
    sf_section_init(&r->sec, &r->props, "source", "r1", "a1.sources.r1.");
    ck_assert_int_eq(sf_selector_build(&r->src.selector, &r->sec, names, nch, &d), SF_OK);
    ck_assert_int_eq(sf_interceptor_chain_build(&r->src.interceptors, &r->sec, &d), SF_OK);
    char err[256] = "";
    ck_assert_msg(sf_interceptor_chain_start(&r->src.interceptors, err, sizeof(err)) == SF_OK, "%s",
                  err);
    ck_assert_uint_eq(d.nerrors, 0);
    sf_diag_free(&d);
    return r;
}

static void rig_free(struct rig *r)
{
    for (size_t c = 0; c < r->src.nch; c++) {
        struct sf_channel *ch = &r->ch[c];
        ch->plugin->stop(ch);
        sf_options_free(ch->plugin->options, ch->ctx);
        free(ch->ctx);
        free(ch->name);
    }
    sf_selector_free(&r->src.selector);
    sf_interceptor_chain_free(&r->src.interceptors);
    sf_section_free(&r->sec);
    sf_ack_tracker_destroy(r->src.tracker);
    free(r->src.chs);
    free(r->src.name);
    pthread_mutex_destroy(&r->src.sleep_mu);
    pthread_cond_destroy(&r->src.sleep_cv);
    sf_props_free(&r->props);
    if (r->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", r->dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    free(r);
}

/* Deliver n events with bodies "<table>-<i>" and header table = tables[i % ntables], registered
 * as one batch reaching offset off. @return sf_source_deliver's result */
static int send(struct rig *r, size_t n, const char *const *tables, size_t ntables, const char *off)
{
    struct sf_event *evs[64];
    uint64_t id = sf_ack_tracker_add(r->src.tracker, n, (unsigned)r->src.nch, off);
    for (size_t i = 0; i < n; i++) {
        char body[64];
        snprintf(body, sizeof(body), "%s-%zu", tables[i % ntables], i);
        struct sf_header h[1] = { { "table", tables[i % ntables] } };
        evs[i] = sf_event_create(h, 1, body, strlen(body));
        evs[i]->tracker = r->src.tracker;
        evs[i]->ack_id = id;
    }
    return sf_source_deliver(&r->src, evs, n, "t", off);
}

/* Take and commit everything in channel c (acknowledging it); the bodies, space-separated, into
 * out. @return events taken */
static size_t drain(struct rig *r, unsigned c, char *out, size_t outsz)
{
    struct sf_txn *txn = sf_channel_txn_begin(&r->ch[c]);
    struct sf_event *evs[64];
    size_t n = 0;
    ck_assert_int_eq(sf_channel_take(txn, evs, 64, &n, 0), SF_OK);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, i ? " " : "", outsz - strlen(out) - 1);
        strncat(out, evs[i]->body, outsz - strlen(out) - 1);
    }
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    return n;
}

/* The committable offset, or "-" (poll frees nothing else). */
static const char *poll_str(struct rig *r, char *buf, size_t sz)
{
    char *o = sf_ack_tracker_poll(r->src.tracker);
    snprintf(buf, sz, "%s", o ? o : "-");
    free(o);
    return buf;
}

START_TEST(selector_multiplexing_routes_and_acks)
{
    struct rig *r = rig_new("memory", 3, 100,
                            "a1.sources.r1.selector.type = multiplexing\n"
                            "a1.sources.r1.selector.header = table\n"
                            "a1.sources.r1.selector.mapping.orders = c1\n"
                            "a1.sources.r1.selector.mapping.users = c2\n"
                            "a1.sources.r1.selector.optional.users = c3\n"
                            "a1.sources.r1.selector.default = c3\n");
    static const char *const tables[] = { "orders", "users", "other" };
    ck_assert_int_eq(send(r, 6, tables, 3, "6"), SF_OK);
    char got[512], off[32];
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "-");
    ck_assert_uint_eq(drain(r, 0, got, sizeof(got)), 2);
    ck_assert_str_eq(got, "orders-0 orders-3");
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "-");
    /* c3: the default channel's events (required) and the optional copies of users */
    ck_assert_uint_eq(sf_channel_size(&r->ch[2]), 4);
    ck_assert_uint_eq(drain(r, 1, got, sizeof(got)), 2);
    ck_assert_str_eq(got, "users-1 users-4");
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "-"); /* "other" still in c3 */
    ck_assert_uint_eq(drain(r, 2, got, sizeof(got)), 4);
    ck_assert_str_eq(got, "other-2 other-5 users-1 users-4"); /* required first */
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "6");
    ck_assert_uint_eq(sf_ack_tracker_pending(r->src.tracker), 0);
    rig_free(r);
}
END_TEST

START_TEST(selector_optional_full_channel_does_not_hold_back)
{
    /* c2 optional and full after 2 events: the batch still succeeds, c1 has it all, and the
     * offset moves once c1 has delivered (the copies in c2 are not waited for) */
    struct rig *r = rig_new("memory", 2, 4,
                            "a1.sources.r1.selector.optional = c2\n"
                            "a1.channels.c2.capacity = 2\n"
                            "a1.channels.c2.transactionCapacity = 2\n");
    static const char *const t[] = { "t" };
    ck_assert_int_eq(send(r, 2, t, 1, "2"), SF_OK);
    ck_assert_uint_eq(sf_channel_size(&r->ch[1]), 2);
    ck_assert_int_eq(send(r, 2, t, 1, "4"), SF_OK); /* c2 is full: its put fails, logged */
    ck_assert_uint_eq(sf_channel_size(&r->ch[1]), 2);
    char got[512], off[32];
    ck_assert_uint_eq(drain(r, 0, got, sizeof(got)), 4);
    ck_assert_str_eq(got, "t-0 t-1 t-0 t-1");
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "4");
    rig_free(r);
}
END_TEST

START_TEST(selector_load_balancing_round_robin)
{
    struct rig *r = rig_new("memory", 3, 100, "a1.sources.r1.selector.type = load_balancing\n");
    static const char *const t[] = { "t" };
    ck_assert_int_eq(send(r, 7, t, 1, "7"), SF_OK);
    char got[512], off[32];
    ck_assert_uint_eq(drain(r, 0, got, sizeof(got)), 3);
    ck_assert_str_eq(got, "t-0 t-3 t-6");
    ck_assert_uint_eq(drain(r, 1, got, sizeof(got)), 2);
    ck_assert_str_eq(got, "t-1 t-4");
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "-");
    ck_assert_uint_eq(drain(r, 2, got, sizeof(got)), 2);
    ck_assert_str_eq(got, "t-2 t-5");
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "7");
    rig_free(r);
}
END_TEST

START_TEST(selector_load_balancing_random_uses_every_channel)
{
    struct rig *r = rig_new("memory", 2, 100,
                            "a1.sources.r1.selector.type = load_balancing\n"
                            "a1.sources.r1.selector.policy = random\n");
    static const char *const t[] = { "t" };
    ck_assert_int_eq(send(r, 64, t, 1, "64"), SF_OK);
    size_t a = sf_channel_size(&r->ch[0]), b = sf_channel_size(&r->ch[1]);
    ck_assert_uint_eq(a + b, 64);
    ck_assert_uint_gt(a, 10);
    ck_assert_uint_gt(b, 10);
    rig_free(r);
}
END_TEST

START_TEST(selector_unrouted_events_are_acknowledged)
{
    struct rig *r = rig_new("memory", 2, 100,
                            "a1.sources.r1.selector.type = multiplexing\n"
                            "a1.sources.r1.selector.header = table\n"
                            "a1.sources.r1.selector.mapping.a = c1\n"
                            "a1.sources.r1.selector.mapping.b = c2\n");
    static const char *const t[] = { "x", "y" };
    ck_assert_int_eq(send(r, 4, t, 2, "4"), SF_OK);
    ck_assert_uint_eq(sf_channel_size(&r->ch[0]) + sf_channel_size(&r->ch[1]), 0);
    char off[32];
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "4");
    ck_assert_int_eq(atomic_load(&r->src.unrouted), 0); /* the first drop is logged at once */
    rig_free(r);
}
END_TEST

START_TEST(selector_file_channel_records_offset_without_events)
{
    /* every row of the batch goes to c1, yet c2 (durable) records the offset too, so resuming
     * does not fall back behind what c1 holds */
    struct rig *r = rig_new("file", 2, 0,
                            "a1.sources.r1.selector.type = multiplexing\n"
                            "a1.sources.r1.selector.header = table\n"
                            "a1.sources.r1.selector.mapping.a = c1\n"
                            "a1.sources.r1.selector.mapping.b = c2\n");
    static const char *const t[] = { "a" };
    ck_assert_int_eq(send(r, 3, t, 1, "3"), SF_OK);
    ck_assert_uint_eq(sf_channel_size(&r->ch[0]), 3);
    ck_assert_uint_eq(sf_channel_size(&r->ch[1]), 0);
    for (unsigned c = 0; c < 2; c++) {
        char *o = NULL;
        ck_assert_int_eq(sf_channel_offset_get(&r->ch[c], "t", &o), SF_OK);
        ck_assert_str_eq(o, "3");
        free(o);
    }
    /* and after a restart of c2, from its log */
    struct sf_channel *c2 = &r->ch[1];
    c2->plugin->stop(c2);
    char err[256] = "";
    ck_assert_msg(c2->plugin->start(c2, err, sizeof(err)) == SF_OK, "%s", err);
    char *o = NULL;
    ck_assert_int_eq(sf_channel_offset_get(c2, "t", &o), SF_OK);
    ck_assert_str_eq(o, "3");
    free(o);
    rig_free(r);
}
END_TEST

START_TEST(selector_after_interceptors)
{
    /* the chain runs first: a static header picks the channel, regex_filter drops the users;
     * the dropped events count as delivered for both channels they were registered for */
    struct rig *r = rig_new("memory", 2, 100,
                            "a1.sources.r1.interceptors = i1 i2\n"
                            "a1.sources.r1.interceptors.i1.type = regex_filter\n"
                            "a1.sources.r1.interceptors.i1.regex = ^users-\n"
                            "a1.sources.r1.interceptors.i1.excludeEvents = true\n"
                            "a1.sources.r1.interceptors.i2.type = static\n"
                            "a1.sources.r1.interceptors.i2.key = route\n"
                            "a1.sources.r1.interceptors.i2.value = second\n"
                            "a1.sources.r1.selector.type = multiplexing\n"
                            "a1.sources.r1.selector.header = route\n"
                            "a1.sources.r1.selector.mapping.second = c2\n"
                            "a1.sources.r1.selector.default = c1\n");
    static const char *const tables[] = { "orders", "users" };
    ck_assert_int_eq(send(r, 6, tables, 2, "6"), SF_OK);
    char got[512], off[32];
    ck_assert_uint_eq(sf_channel_size(&r->ch[0]), 0);
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "-");
    ck_assert_uint_eq(drain(r, 1, got, sizeof(got)), 3);
    ck_assert_str_eq(got, "orders-0 orders-2 orders-4");
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "6");
    /* a batch the chain empties still completes */
    static const char *const users[] = { "users" };
    ck_assert_int_eq(send(r, 4, users, 1, "10"), SF_OK);
    ck_assert_str_eq(poll_str(r, off, sizeof(off)), "10");
    rig_free(r);
}
END_TEST

SF_UNIT_SUITE(selector)
{
    Suite *s = suite_create("selector");
    TCase *tc = tcase_create("selector");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, selector_config_valid);
    tcase_add_test(tc, selector_config_errors);
    tcase_add_test(tc, selector_config_warnings);
    tcase_add_test(tc, selector_multiplexing_routes_and_acks);
    tcase_add_test(tc, selector_optional_full_channel_does_not_hold_back);
    tcase_add_test(tc, selector_load_balancing_round_robin);
    tcase_add_test(tc, selector_load_balancing_random_uses_every_channel);
    tcase_add_test(tc, selector_unrouted_events_are_acknowledged);
    tcase_add_test(tc, selector_file_channel_records_offset_without_events);
    tcase_add_test(tc, selector_after_interceptors);
    suite_add_tcase(s, tc);
    return s;
}
