/*
 * Unit tests of the core: the properties parser, option tables and diagnostics, the agent's
 * config validation, channel transactions (put/take/commit/rollback, capacities, keep-alive)
 * run over every channel type, and the delivery tracker that decides committable offsets.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sqlflume/agent.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"

/* ---------- properties ---------- */

START_TEST(props_basic)
{
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    const char *text = "# comment\n"
                       "! also a comment\n"
                       "a1.sources = r1\n"
                       "  a1.channels:c1\n"
                       "a1.sinks k1\n"
                       "a1.sinks.k1.type = logger   \n"
                       "a1.long = one \\\n"
                       "          two\n"
                       "a1.esc = tab\\there\n"
                       "a1.sources = r2\n"
                       "a1.empty =\n";
    ck_assert_int_eq(sf_props_parse(&p, "t.conf", text, &d), 0);
    ck_assert_uint_eq(d.nerrors, 0);
    ck_assert_str_eq(sf_props_get(&p, "a1.sources")->val, "r2");
    ck_assert_int_eq(sf_props_get(&p, "a1.sources")->line, 10);
    ck_assert_str_eq(sf_props_get(&p, "a1.channels")->val, "c1");
    ck_assert_str_eq(sf_props_get(&p, "a1.sinks")->val, "k1");
    ck_assert_str_eq(sf_props_get(&p, "a1.sinks.k1.type")->val, "logger");
    ck_assert_int_eq(sf_props_get(&p, "a1.sinks.k1.type")->line, 6);
    ck_assert_str_eq(sf_props_get(&p, "a1.long")->val, "one two");
    ck_assert_str_eq(sf_props_get(&p, "a1.esc")->val, "tab\there");
    ck_assert_str_eq(sf_props_get(&p, "a1.empty")->val, "");
    ck_assert_ptr_null(sf_props_get(&p, "a1.nothing"));
    sf_props_free(&p);
    sf_diag_free(&d);
}
END_TEST

START_TEST(props_env)
{
    setenv("SF_TEST_PW", "s3cret", 1);
    unsetenv("SF_TEST_UNSET");
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    ck_assert_int_eq(sf_props_parse(&p, "t.conf", "a=${SF_TEST_PW}\nb=x${env:SF_TEST_PW}y\n", &d),
                     0);
    ck_assert_str_eq(sf_props_get(&p, "a")->val, "s3cret");
    ck_assert_str_eq(sf_props_get(&p, "b")->val, "xs3crety");
    ck_assert_int_eq(sf_props_parse(&p, "t.conf", "c=${SF_TEST_UNSET}\n", &d), -1);
    ck_assert_uint_eq(d.nerrors, 1);
    ck_assert_str_eq(d.errors[0], "t.conf:1: c: environment variable \"SF_TEST_UNSET\" is not set");
    sf_props_free(&p);
    sf_diag_free(&d);
}
END_TEST

struct opt_ctx {
    char *s;
    long long n;
    bool b;
    int e;
    char *req;
};

static const struct sf_option test_opts[] = {
    { "name", SF_OPT_STRING, "dflt", 0, 0, offsetof(struct opt_ctx, s), 0, "old.name", NULL, "a" },
    { "count", SF_OPT_INT, "10", 1, 100, offsetof(struct opt_ctx, n), 0, NULL, NULL, "rows" },
    { "flag", SF_OPT_BOOL, "true", 0, 0, offsetof(struct opt_ctx, b), 0, NULL, NULL, "b" },
    { "format", SF_OPT_ENUM, "json", 0, 0, offsetof(struct opt_ctx, e), 0, NULL, "json|csv|text",
      "f" },
    { "required.key", SF_OPT_STRING, NULL, 0, 0, offsetof(struct opt_ctx, req), SF_OPT_REQUIRED,
      NULL, NULL, "r" },
    { "kafka.producer.", SF_OPT_PREFIX, NULL, 0, 0, 0, 0, NULL, NULL, "pass-through" },
    { 0 },
};

static int apply_text(const char *text, struct opt_ctx *ctx, struct sf_diag *d, struct sf_props *p)
{
    sf_props_parse(p, "o.conf", text, d);
    struct sf_section s;
    sf_section_init(&s, p, "sink", "k1", "a1.sinks.k1.");
    int rc = sf_options_apply(test_opts, &s, ctx, d);
    sf_section_free(&s);
    return rc;
}

START_TEST(options_defaults_and_values)
{
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    struct opt_ctx c = { 0 };
    ck_assert_int_eq(apply_text("a1.sinks.k1.old.name = via-alias\n"
                                "a1.sinks.k1.format = CSV\n"
                                "a1.sinks.k1.required.key = x\n"
                                "a1.sinks.k1.kafka.producer.linger.ms = 5\n",
                                &c, &d, &p),
                     0);
    ck_assert_str_eq(c.s, "via-alias");
    ck_assert_int_eq(c.n, 10);
    ck_assert(c.b);
    ck_assert_int_eq(c.e, 1);
    ck_assert_str_eq(c.req, "x");
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_options_free(test_opts, &c);
    sf_props_free(&p);
    sf_diag_free(&d);
}
END_TEST

START_TEST(options_errors_name_file_line_key)
{
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    struct opt_ctx c = { 0 };
    ck_assert_int_eq(apply_text("a1.sinks.k1.count = 12x\n"
                                "a1.sinks.k1.flag = yes\n"
                                "a1.sinks.k1.format = xml\n"
                                "a1.sinks.k1.cuont = 3\n",
                                &c, &d, &p),
                     -1);
    ck_assert_uint_eq(d.nerrors, 4);
    ck_assert_str_eq(d.errors[0], "o.conf:1: a1.sinks.k1.count: bad number \"12x\"");
    ck_assert_str_eq(d.errors[1], "o.conf:2: a1.sinks.k1.flag: bad boolean \"yes\" (expected "
                                  "true or false)");
    ck_assert_str_eq(d.errors[2], "o.conf:3: a1.sinks.k1.format: bad value \"xml\" (expected one "
                                  "of json|csv|text)");
    ck_assert_str_eq(d.errors[3], "o.conf: a1.sinks.k1.required.key: missing required key for "
                                  "sink \"k1\"");
    ck_assert_uint_eq(d.nwarnings, 1);
    ck_assert_str_eq(d.warnings[0], "o.conf:4: a1.sinks.k1.cuont: unknown key for sink \"k1\"; "
                                    "did you mean \"count\"?");
    sf_options_free(test_opts, &c);
    sf_props_free(&p);
    sf_diag_free(&d);
}
END_TEST

START_TEST(options_range)
{
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    struct opt_ctx c = { 0 };
    ck_assert_int_eq(
        apply_text("a1.sinks.k1.count = 101\na1.sinks.k1.required.key=1\n", &c, &d, &p), -1);
    ck_assert_str_eq(d.errors[0], "o.conf:1: a1.sinks.k1.count: 101 is out of range [1, 100]");
    sf_options_free(test_opts, &c);
    sf_props_free(&p);
    sf_diag_free(&d);
}
END_TEST

/* Every option table of every plugin: defaults parse and lie in range, descriptions exist. */
START_TEST(option_tables_are_sound)
{
    const char *kinds[] = { "channel", "source", "sink" };
    for (size_t k = 0; k < 3; k++) {
        const char *pn;
        for (size_t pi = 0; (pn = sf_registry_plugin_name(kinds[k], pi)); pi++) {
            const char *const *n = &pn;
            const struct sf_option *opts = NULL;
            size_t ctx_size = 0;
            if (k == 0) {
                opts = sf_registry_channel(*n)->options;
                ctx_size = sf_registry_channel(*n)->ctx_size;
            } else if (k == 1) {
                opts = sf_registry_source(*n)->options;
                ctx_size = sf_registry_source(*n)->ctx_size;
            } else {
                opts = sf_registry_sink(*n)->options;
                ctx_size = sf_registry_sink(*n)->ctx_size;
            }
            ck_assert_ptr_nonnull(opts);
            for (const struct sf_option *o = opts; o->key; o++) {
                ck_assert_msg(o->desc && strlen(o->desc) > 3, "%s %s: %s has no description",
                              kinds[k], *n, o->key);
                if (o->type == SF_OPT_PREFIX) {
                    continue;
                }
                ck_assert_msg(o->offset < ctx_size, "%s %s: %s offset", kinds[k], *n, o->key);
            }
            /* applying an empty section fills every default without error besides required */
            struct sf_props p = { 0 };
            struct sf_diag d = { 0 };
            struct sf_section s;
            sf_section_init(&s, &p, kinds[k], "x", "a.x.");
            void *ctx = calloc(1, ctx_size);
            sf_options_apply(opts, &s, ctx, &d);
            for (size_t i = 0; i < d.nerrors; i++) {
                ck_assert_msg(strstr(d.errors[i], "missing required key") != NULL,
                              "%s %s: default rejected: %s", kinds[k], *n, d.errors[i]);
            }
            sf_options_free(opts, ctx);
            free(ctx);
            sf_section_free(&s);
            sf_diag_free(&d);
            sf_props_free(&p);
        }
    }
}
END_TEST

/* sf_split_names: commas always separate, blanks too only when asked; empty items skipped. */
static void check_split(const char *list, bool space_separates, const char *const *want)
{
    size_t n = 99;
    char **v = sf_split_names(list, &n, space_separates);
    ck_assert_ptr_nonnull(v);
    size_t nwant = 0;
    while (want[nwant]) {
        nwant++;
    }
    ck_assert_msg(n == nwant, "\"%s\": %zu names, want %zu", list, n, nwant);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(v[i], want[i]);
    }
    sf_names_free(v, n);
}

START_TEST(split_names)
{
    check_split("r1 r2\tr3,r4 , r5", true,
                (const char *const[]){ "r1", "r2", "r3", "r4", "r5", NULL });
    check_split(", a,,b ,", true, (const char *const[]){ "a", "b", NULL });
    check_split("", true, (const char *const[]){ NULL });
    check_split(" , \t", false, (const char *const[]){ NULL });
    check_split(" first name ,id,\tlast\tname\t", false,
                (const char *const[]){ "first name", "id", "last\tname", NULL });
    check_split("a b", false, (const char *const[]){ "a b", NULL });
    sf_names_free(NULL, 0);
}
END_TEST

/* sf_split_quoted_names: quotes keep blanks and commas, doubled quotes, unclosed quotes. */
static void check_quoted(const char *list, const char *want_err, const char *const *want)
{
    size_t n = 99;
    const char *err = "unset";
    char **v = sf_split_quoted_names(list, &n, &err);
    if (want_err) {
        ck_assert_ptr_null(v);
        ck_assert_uint_eq(n, 0);
        ck_assert_str_eq(err, want_err);
        return;
    }
    ck_assert_ptr_null(err);
    ck_assert_ptr_nonnull(v);
    size_t nwant = 0;
    while (want[nwant]) {
        nwant++;
    }
    ck_assert_msg(n == nwant, "\"%s\": %zu names, want %zu", list, n, nwant);
    for (size_t i = 0; i < n; i++) {
        ck_assert_str_eq(v[i], want[i]);
    }
    sf_names_free(v, n);
}

START_TEST(split_quoted_names)
{
    check_quoted("a, b c", NULL, (const char *const[]){ "a", "b", "c", NULL });
    check_quoted("\"My Table\", `My Table`,orders", NULL,
                 (const char *const[]){ "My Table", "My Table", "orders", NULL });
    check_quoted(" shop.\"Order Lines\" \"a,b\" `we``ird` \"say \"\"hi\"\"\"", NULL,
                 (const char *const[]){ "shop.Order Lines", "a,b", "we`ird", "say \"hi\"", NULL });
    check_quoted("`it's \"x\"`", NULL, (const char *const[]){ "it's \"x\"", NULL });
    check_quoted(" , ", NULL, (const char *const[]){ NULL });
    check_quoted("a, \"My Table", "a name opened with \" is not closed", NULL);
    check_quoted("`x", "a name opened with ` is not closed", NULL);
    check_quoted("a, \"\"", "a quoted name is empty", NULL);
}
END_TEST

/* ---------- agent configuration ---------- */

static size_t agent_errors(const char *text, struct sf_diag *d)
{
    struct sf_props p = { 0 };
    sf_props_parse(&p, "agent.conf", text, d);
    struct sf_agent *a = sf_agent_create("a1", &p, d);
    size_t n = d->nerrors;
    sf_agent_destroy(a);
    sf_props_free(&p);
    return n;
}

static bool has_msg(char **v, size_t n, const char *needle)
{
    for (size_t i = 0; i < n; i++) {
        if (strstr(v[i], needle)) {
            return true;
        }
    }
    return false;
}

START_TEST(agent_config_valid)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(agent_errors("a1.sources = r1\n"
                                   "a1.channels = c1\n"
                                   "a1.sinks = k1\n"
                                   "a1.sources.r1.type = com.atguigu.source.SQLSource\n"
                                   "a1.sources.r1.connection.url = jdbc:mysql://127.0.0.1:3306/db\n"
                                   "a1.sources.r1.table = student\n"
                                   "a1.sources.r1.channels = c1\n"
                                   "a1.channels.c1.type = memory\n"
                                   "a1.sinks.k1.type = logger\n"
                                   "a1.sinks.k1.channel = c1\n",
                                   &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);
}
END_TEST

START_TEST(agent_config_errors)
{
    struct sf_diag d = { 0 };
    size_t n = agent_errors("a1.sources = r1\n"
                            "a1.channels = c1\n"
                            "a1.sinks = k1 k2\n"
                            "a1.sources.r1.type = sql\n"
                            "a1.sources.r1.channels = c1 c9\n"
                            "a1.sources.r1.table = t\n"
                            "a1.sources.r1.max.rows = lots\n"
                            "a1.channels.c1.type = memroy\n"
                            "a1.sinks.k1.type = logger\n"
                            "a1.sinks.k1.channel = c1\n"
                            "a1.sinks.k2.channel = c1\n",
                            &d);
    ck_assert_uint_eq(n, 5);
    ck_assert(has_msg(d.errors, d.nerrors,
                      "agent.conf:8: a1.channels.c1.type: unknown channel type \"memroy\"; did "
                      "you mean \"memory\"?"));
    ck_assert(has_msg(d.errors, d.nerrors,
                      "agent.conf:5: a1.sources.r1.channels: channel \"c9\" is referenced but not "
                      "defined in a1.channels"));
    ck_assert(has_msg(d.errors, d.nerrors, "agent.conf:7: a1.sources.r1.max.rows: bad number"));
    ck_assert(has_msg(d.errors, d.nerrors, "a1.sources.r1.connection.url: missing required key"));
    ck_assert(has_msg(d.errors, d.nerrors, "a1.sinks.k2.type: missing required key"));
    sf_diag_free(&d);
}
END_TEST

START_TEST(agent_config_unknown_agent)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(agent_errors("b1.sources = r1\n", &d), 1);
    ck_assert(has_msg(d.errors, d.nerrors, "no configuration for agent \"a1\""));
    sf_diag_free(&d);
}
END_TEST

static bool has_exact(char **v, size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], want) == 0) {
            return true;
        }
    }
    return false;
}

/* A valid agent (sql source r1 -> memory c1 -> logger k1) plus extra lines from line 10 on. */
#define VALID_AGENT                                                                                \
    "a1.sources = r1\n"                                                                            \
    "a1.channels = c1\n"                                                                           \
    "a1.sinks = k1\n"                                                                              \
    "a1.sources.r1.type = sql\n"                                                                   \
    "a1.sources.r1.connection.url = jdbc:mysql://127.0.0.1:3306/db\n"                              \
    "a1.sources.r1.table = t\n"                                                                    \
    "a1.sources.r1.channels = c1\n"                                                                \
    "a1.channels.c1.type = memory\n"                                                               \
    "a1.sinks.k1.type = logger\n"

/* Flume keys sqlflume does not implement are errors naming file, line, key and value; the
 * replicating selector (Flume's default, what the agent does) and an empty interceptor list
 * are accepted. */
START_TEST(agent_config_unsupported_flume_keys)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(agent_errors(VALID_AGENT "a1.sinks.k1.channel = c1\n"
                                               "a1.sources.r1.selector.type = replicating\n"
                                               "a1.sources.r1.interceptors =\n",
                                   &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);

    const char *why_sel = "(sqlflume has only Flume's default replicating channel selector, "
                          "which puts every event into every channel of the source)";
    const char *why_int =
        "(sqlflume has no interceptors: events go to the channels as the source made them)";
    const char *why_grp = "(sqlflume has no sink groups or sink processors such as failover "
                          "and load_balance: each sink takes from its channel on its own)";
    char want[512];
    size_t n = agent_errors(VALID_AGENT "a1.sinks.k1.channel = c1\n"
                                        "a1.sources.r1.selector.type = multiplexing\n"
                                        "a1.sources.r1.selector.header = table\n"
                                        "a1.sources.r1.selector.optional = c1\n"
                                        "a1.sources.r1.interceptors = i1\n"
                                        "a1.sources.r1.interceptors.i1.type = timestamp\n"
                                        "a1.sinkgroups = g1\n"
                                        "a1.sinkgroups.g1.processor.type = failover\n"
                                        "a1.configfilters = f1\n",
                            &d);
    ck_assert_uint_eq(n, 8);
    ck_assert_uint_eq(d.nwarnings, 0);
    snprintf(want, sizeof(want),
             "agent.conf:11: a1.sources.r1.selector.type = multiplexing is not supported %s",
             why_sel);
    ck_assert_msg(has_exact(d.errors, d.nerrors, want), "%s", want);
    snprintf(want, sizeof(want),
             "agent.conf:12: a1.sources.r1.selector.header = table is not supported %s", why_sel);
    ck_assert_msg(has_exact(d.errors, d.nerrors, want), "%s", want);
    snprintf(want, sizeof(want),
             "agent.conf:13: a1.sources.r1.selector.optional = c1 is not supported %s", why_sel);
    ck_assert_msg(has_exact(d.errors, d.nerrors, want), "%s", want);
    snprintf(want, sizeof(want),
             "agent.conf:14: a1.sources.r1.interceptors = i1 is not supported %s", why_int);
    ck_assert_msg(has_exact(d.errors, d.nerrors, want), "%s", want);
    snprintf(want, sizeof(want),
             "agent.conf:15: a1.sources.r1.interceptors.i1.type = timestamp is not supported %s",
             why_int);
    ck_assert_msg(has_exact(d.errors, d.nerrors, want), "%s", want);
    snprintf(want, sizeof(want), "agent.conf:16: a1.sinkgroups = g1 is not supported %s", why_grp);
    ck_assert_msg(has_exact(d.errors, d.nerrors, want), "%s", want);
    snprintf(want, sizeof(want),
             "agent.conf:17: a1.sinkgroups.g1.processor.type = failover is not supported %s",
             why_grp);
    ck_assert_msg(has_exact(d.errors, d.nerrors, want), "%s", want);
    ck_assert(
        has_msg(d.errors, d.nerrors, "agent.conf:18: a1.configfilters = f1 is not supported"));
    sf_diag_free(&d);

    /* a component's own table: the file channel's encryption and replay variants */
    n = agent_errors(VALID_AGENT "a1.sinks.k1.channel = c1\n"
                                 "a1.channels.c1.type = file\n"
                                 "a1.channels.c1.encryption.activeKey = key-0\n"
                                 "a1.channels.c1.use-fast-replay = true\n"
                                 "a1.channels.c1.use-log-replay-v1 = true\n",
                     &d);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(d.nwarnings, 1); /* a1.channels.c1.type set twice */
    ck_assert(has_msg(d.errors, d.nerrors,
                      "agent.conf:12: a1.channels.c1.encryption.activeKey = key-0 is not "
                      "supported (the log is not encrypted"));
    ck_assert(has_msg(d.errors, d.nerrors,
                      "agent.conf:13: a1.channels.c1.use-fast-replay = true is not supported"));
    ck_assert(has_msg(d.errors, d.nerrors,
                      "agent.conf:14: a1.channels.c1.use-log-replay-v1 = true is not supported"));
    sf_diag_free(&d);

    /* a selector key on a sink is no Flume key at all: the usual unknown-key warning */
    ck_assert_uint_eq(agent_errors(VALID_AGENT "a1.sinks.k1.channel = c1\n"
                                               "a1.sinks.k1.selector.type = multiplexing\n",
                                   &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 1);
    ck_assert_str_eq(d.warnings[0],
                     "agent.conf:11: a1.sinks.k1.selector.type: unknown key for sink \"k1\"");
    sf_diag_free(&d);
}
END_TEST

/* A key given twice: one warning naming both lines; the last value is used (as Flume). */
START_TEST(agent_config_duplicate_key)
{
    struct sf_props p = { 0 };
    struct sf_diag d = { 0 };
    ck_assert_int_eq(sf_props_parse(&p, "agent.conf",
                                    VALID_AGENT "a1.sinks.k1.channel = c0\n"
                                                "a1.sinks.k1.channel = c1\n",
                                    &d),
                     0);
    ck_assert_uint_eq(d.nerrors, 0);
    ck_assert_uint_eq(d.nwarnings, 1);
    ck_assert_str_eq(d.warnings[0], "agent.conf:11: a1.sinks.k1.channel: set twice, on lines 10 "
                                    "and 11; the value of line 11 is used");
    ck_assert_str_eq(sf_props_get(&p, "a1.sinks.k1.channel")->val, "c1");
    struct sf_agent *a = sf_agent_create("a1", &p, &d);
    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(d.nerrors, 0);
    ck_assert_uint_eq(d.nwarnings, 1);
    sf_agent_destroy(a);
    sf_props_free(&p);
    sf_diag_free(&d);
}
END_TEST

/* A component with keys but not in NAME.sources/channels/sinks: one warning for all its keys,
 * and it is not checked (its bad values give no error). */
START_TEST(agent_config_unlisted_component)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(agent_errors(VALID_AGENT "a1.sinks.k1.channel = c1\n"
                                               "a1.sinks.k2.type = kafak\n"
                                               "a1.sinks.k2.channel = c9\n"
                                               "a1.sinks.k2.batchSize = lots\n"
                                               "a1.sources.r2.type = sql\n"
                                               "a1.channels.c2.capacity = 5\n",
                                   &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 3);
    ck_assert_str_eq(d.warnings[0], "agent.conf:11: a1.sinks.k2.type: sink \"k2\" is not listed in "
                                    "a1.sinks, so it is neither checked nor started (3 key(s) "
                                    "ignored)");
    ck_assert_str_eq(d.warnings[1],
                     "agent.conf:14: a1.sources.r2.type: source \"r2\" is not listed "
                     "in a1.sources, so it is neither checked nor started (1 key(s) "
                     "ignored)");
    ck_assert_str_eq(d.warnings[2], "agent.conf:15: a1.channels.c2.capacity: channel \"c2\" is not "
                                    "listed in a1.channels, so it is neither checked nor started "
                                    "(1 key(s) ignored)");
    sf_diag_free(&d);
}
END_TEST

/* An unknown (or missing) component type: one error, no follow-on warnings or errors about the
 * component's other keys or the components wired to it. */
START_TEST(agent_config_unknown_type_alone)
{
    struct sf_diag d = { 0 };
    size_t n = agent_errors("a1.sources = r1 r2\n"
                            "a1.channels = c1 c2\n"
                            "a1.sinks = k1 k2 k3\n"
                            "a1.sources.r1.type = sql\n"
                            "a1.sources.r1.connection.url = jdbc:mysql://127.0.0.1:3306/db\n"
                            "a1.sources.r1.table = t\n"
                            "a1.sources.r1.channels = c1\n"
                            "a1.channels.c1.type = memroy\n"
                            "a1.channels.c1.capacity = 10\n"
                            "a1.channels.c1.transactionCapacity = 10\n"
                            "a1.sinks.k1.type = kafka\n"
                            "a1.sinks.k1.channel = c1\n"
                            "a1.sinks.k1.kafka.bootstrap.servers = 127.0.0.1:9092\n"
                            "a1.sinks.k1.kafka.topic = t\n"
                            "a1.sources.r2.type = jdbc\n"
                            "a1.sources.r2.channels = c2\n"
                            "a1.sources.r2.table = t\n"
                            "a1.channels.c2.type = memory\n"
                            "a1.sinks.k2.type = hdfs\n"
                            "a1.sinks.k2.channel = c2\n"
                            "a1.sinks.k2.hdfs.path = /tmp\n"
                            "a1.sinks.k3.channel = c2\n"
                            "a1.sinks.k3.batchSize = 10\n",
                            &d);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(d.nwarnings, 0);
    ck_assert(has_exact(d.errors, d.nerrors,
                        "agent.conf:8: a1.channels.c1.type: unknown channel type \"memroy\"; did "
                        "you mean \"memory\"? (known: memory, file)"));
    ck_assert(has_exact(d.errors, d.nerrors,
                        "agent.conf:15: a1.sources.r2.type: unknown source type \"jdbc\" (known: "
                        "sql, mysql, postgresql)"));
    ck_assert(has_exact(d.errors, d.nerrors,
                        "agent.conf:19: a1.sinks.k2.type: unknown sink type \"hdfs\" (known: "
                        "logger, null, kafka)"));
    ck_assert(has_exact(d.errors, d.nerrors,
                        "agent.conf: a1.sinks.k3.type: missing required key: sink \"k3\" has no "
                        "type"));
    sf_diag_free(&d);
}
END_TEST

/* ---------- channels (run over every channel type) ---------- */

static const char *const channel_types[] = { "memory", "file" };

struct test_channel {
    struct sf_channel ch;
    struct sf_props props;
    char dir[64]; /* file channel: temporary checkpoint and data directories */
};

static struct test_channel *channel_new(const char *type, const char *extra)
{
    struct test_channel *t = calloc(1, sizeof(*t));
    struct sf_diag d = { 0 };
    char dirs[256] = "";
    if (strcmp(type, "file") == 0) {
        snprintf(t->dir, sizeof(t->dir), "/tmp/sf-test-ch.XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(t->dir));
        snprintf(dirs, sizeof(dirs),
                 "a1.channels.c1.checkpointDir = %s/checkpoint\n"
                 "a1.channels.c1.dataDirs = %s/data\n"
                 "a1.channels.c1.minimumRequiredSpace = 1048576\n",
                 t->dir, t->dir);
    }
    char text[1024];
    snprintf(text, sizeof(text), "a1.channels.c1.type = %s\n%s%s", type, dirs, extra);
    sf_props_parse(&t->props, "ch.conf", text, &d);
    t->ch.name = strdup("c1");
    t->ch.plugin = sf_registry_channel(type);
    ck_assert_ptr_nonnull(t->ch.plugin);
    t->ch.ctx = calloc(1, t->ch.plugin->ctx_size);
    struct sf_section s;
    sf_section_init(&s, &t->props, "channel", "c1", "a1.channels.c1.");
    ck_assert_int_eq(sf_options_apply(t->ch.plugin->options, &s, t->ch.ctx, &d), 0);
    sf_section_free(&s);
    char err[256];
    ck_assert_int_eq(t->ch.plugin->start(&t->ch, err, sizeof(err)), SF_OK);
    sf_diag_free(&d);
    return t;
}

static void channel_free(struct test_channel *t)
{
    t->ch.plugin->stop(&t->ch);
    sf_options_free(t->ch.plugin->options, t->ch.ctx);
    free(t->ch.ctx);
    free(t->ch.name);
    sf_props_free(&t->props);
    if (t->dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    free(t);
}

static struct sf_event *mkev(int i)
{
    char body[32];
    snprintf(body, sizeof(body), "event-%d", i);
    struct sf_header h = { "n", body };
    return sf_event_create(&h, 1, body, strlen(body));
}

static int put_range(struct sf_channel *ch, int from, int to)
{
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *evs[1024];
    int n = 0;
    int rc = SF_OK;
    for (int i = from; i < to && rc == SF_OK; i++) {
        evs[n] = mkev(i);
        rc = sf_channel_put(txn, evs[n]);
        n++;
    }
    if (rc == SF_OK) {
        rc = sf_channel_txn_commit(txn);
    }
    if (rc != SF_OK) {
        sf_channel_txn_rollback(txn);
        for (int i = 0; i < n; i++) {
            sf_event_destroy(evs[i]);
        }
    }
    sf_channel_txn_close(txn);
    return rc;
}

static void expect_take(struct sf_channel *ch, int from, int to, bool commit)
{
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *out[1024];
    size_t n = 0;
    ck_assert_int_eq(sf_channel_take(txn, out, (size_t)(to - from), &n, 0), SF_OK);
    ck_assert_uint_eq(n, (size_t)(to - from));
    for (size_t i = 0; i < n; i++) {
        char want[32];
        snprintf(want, sizeof(want), "event-%d", from + (int)i);
        ck_assert_str_eq(out[i]->body, want);
        ck_assert_str_eq(sf_event_header(out[i], "n"), want);
    }
    if (commit) {
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    } else {
        ck_assert_int_eq(sf_channel_txn_rollback(txn), SF_OK);
    }
    sf_channel_txn_close(txn);
}

START_TEST(channel_fifo_commit_rollback)
{
    struct test_channel *t = channel_new(channel_types[_i], "");
    struct sf_channel *ch = &t->ch;
    ck_assert_int_eq(put_range(ch, 0, 50), SF_OK);
    ck_assert_uint_eq(sf_channel_size(ch), 50);
    expect_take(ch, 0, 10, false); /* rollback returns them to the head, in order */
    ck_assert_uint_eq(sf_channel_size(ch), 50);
    expect_take(ch, 0, 10, true);
    ck_assert_uint_eq(sf_channel_size(ch), 40);
    expect_take(ch, 10, 50, true);
    ck_assert_uint_eq(sf_channel_size(ch), 0);
    /* empty channel: take returns nothing without waiting */
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *out[4];
    size_t n = 9;
    ck_assert_int_eq(sf_channel_take(txn, out, 4, &n, 0), SF_OK);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    /* Flume's counters: 50 puts; takes counted per event (10 rolled back + 10 + 40) and one for
     * the take that found the channel empty; successes only at commit */
    ck_assert_int_eq(atomic_load(&ch->metrics.put_attempt), 50);
    ck_assert_int_eq(atomic_load(&ch->metrics.put_success), 50);
    ck_assert_int_eq(atomic_load(&ch->metrics.take_attempt), 61);
    ck_assert_int_eq(atomic_load(&ch->metrics.take_success), 50);
    channel_free(t);
}
END_TEST

START_TEST(channel_put_rollback_leaves_nothing)
{
    struct test_channel *t = channel_new(channel_types[_i], "");
    struct sf_channel *ch = &t->ch;
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *ev = mkev(1);
    ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
    ck_assert_int_eq(sf_channel_txn_rollback(txn), SF_OK);
    sf_channel_txn_close(txn);
    sf_event_destroy(ev); /* still ours after rollback */
    ck_assert_uint_eq(sf_channel_size(ch), 0);
    channel_free(t);
}
END_TEST

START_TEST(channel_transaction_capacity)
{
    struct test_channel *t =
        channel_new(channel_types[_i], "a1.channels.c1.capacity = 20\n"
                                       "a1.channels.c1.transactionCapacity = 5\n");
    struct sf_channel *ch = &t->ch;
    ck_assert_int_eq(put_range(ch, 0, 6), SF_ERR_FULL); /* 6 > transactionCapacity */
    ck_assert_uint_eq(sf_channel_size(ch), 0);
    ck_assert_int_eq(put_range(ch, 0, 5), SF_OK);
    /* take is bounded by transactionCapacity too */
    ck_assert_int_eq(put_range(ch, 5, 10), SF_OK);
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *out[10];
    size_t n;
    ck_assert_int_eq(sf_channel_take(txn, out, 10, &n, 0), SF_OK);
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    channel_free(t);
}
END_TEST

START_TEST(channel_full_waits_keep_alive_then_fails)
{
    struct test_channel *t =
        channel_new(channel_types[_i], "a1.channels.c1.capacity = 10\n"
                                       "a1.channels.c1.transactionCapacity = 10\n"
                                       "a1.channels.c1.keep-alive = 1\n");
    struct sf_channel *ch = &t->ch;
    ck_assert_int_eq(put_range(ch, 0, 10), SF_OK);
    time_t t0 = time(NULL);
    ck_assert_int_eq(put_range(ch, 10, 11), SF_ERR_FULL);
    ck_assert_int_ge(time(NULL) - t0, 1);
    /* taken but uncommitted events still count against capacity, as in Flume */
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *out[10];
    size_t n;
    ck_assert_int_eq(sf_channel_take(txn, out, 5, &n, 0), SF_OK);
    ck_assert_int_eq(put_range(ch, 10, 11), SF_ERR_FULL);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    ck_assert_int_eq(put_range(ch, 10, 15), SF_OK);
    ck_assert_uint_eq(sf_channel_size(ch), 10);
    expect_take(ch, 5, 15, true);
    channel_free(t);
}
END_TEST

struct taker_arg {
    struct sf_channel *ch;
    int total;
    int got;
};

static void *taker(void *p)
{
    struct taker_arg *a = p;
    while (a->got < a->total) {
        struct sf_txn *txn = sf_channel_txn_begin(a->ch);
        struct sf_event *out[7];
        size_t n;
        sf_channel_take(txn, out, 7, &n, 100);
        for (size_t i = 0; i < n; i++) {
            char want[32];
            snprintf(want, sizeof(want), "event-%d", a->got + (int)i);
            if (strcmp(out[i]->body, want) != 0) {
                a->got = -1000000;
            }
        }
        a->got += (int)n;
        sf_channel_txn_commit(txn);
        sf_channel_txn_close(txn);
    }
    return NULL;
}

START_TEST(channel_back_pressure_threads)
{
    struct test_channel *t =
        channel_new(channel_types[_i], "a1.channels.c1.capacity = 30\n"
                                       "a1.channels.c1.transactionCapacity = 10\n");
    struct taker_arg a = { &t->ch, 5000, 0 };
    pthread_t th;
    pthread_create(&th, NULL, taker, &a);
    for (int i = 0; i < 5000; i += 10) {
        ck_assert_int_eq(put_range(&t->ch, i, i + 10), SF_OK);
    }
    pthread_join(th, NULL);
    ck_assert_int_eq(a.got, 5000);
    ck_assert_uint_eq(sf_channel_size(&t->ch), 0);
    channel_free(t);
}
END_TEST

START_TEST(channel_byte_capacity)
{
    if (strcmp(channel_types[_i], "memory") != 0) {
        return; /* byteCapacity is a MemoryChannel key */
    }
    struct test_channel *t =
        channel_new(channel_types[_i], "a1.channels.c1.capacity = 100\n"
                                       "a1.channels.c1.byteCapacity = 50\n"
                                       "a1.channels.c1.byteCapacityBufferPercentage = 0\n"
                                       "a1.channels.c1.keep-alive = 0\n");
    /* "event-N" is 7 bytes: 7 fit in 50 bytes, the 8th does not */
    ck_assert_int_eq(put_range(&t->ch, 0, 7), SF_OK);
    ck_assert_int_eq(put_range(&t->ch, 7, 8), SF_ERR_FULL);
    expect_take(&t->ch, 0, 1, true);
    ck_assert_int_eq(put_range(&t->ch, 7, 8), SF_OK);
    channel_free(t);
}
END_TEST

START_TEST(channel_state_errors)
{
    struct test_channel *t = channel_new(channel_types[_i], "");
    struct sf_txn *txn = sf_channel_txn_begin(&t->ch);
    struct sf_event *ev = mkev(0);
    ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
    struct sf_event *out[1];
    size_t n;
    ck_assert_int_eq(sf_channel_take(txn, out, 1, &n, 0), SF_ERR_STATE);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_ERR_STATE);
    ck_assert_int_eq(sf_channel_put(txn, ev), SF_ERR_STATE);
    sf_channel_txn_close(txn);
    channel_free(t); /* frees the queued event */
}
END_TEST

/* ---------- events ---------- */

/* sf_event_create_lens copies exactly the given bytes (values need no NUL) and lays the event out
 * as sf_event_create does; headers may be empty and the body may hold NULs. */
START_TEST(event_create_lens)
{
    const char vals[] = "bench1000199"; /* "bench" "1000" "199" without NULs between */
    const struct sf_header_lens hl[] = { { "table", 5, vals, 5 },
                                         { "offsetXX", 6, vals + 5, 4 },
                                         { "key", 3, vals + 9, 3 },
                                         { "empty", 5, "", 0 } };
    const char body[] = { 'a', '\0', 'b' };
    struct sf_event *ev = sf_event_create_lens(hl, 4, body, sizeof(body));
    ck_assert_ptr_nonnull(ev);
    ck_assert_uint_eq(ev->nheaders, 4);
    ck_assert_str_eq(sf_event_header(ev, "table"), "bench");
    ck_assert_str_eq(sf_event_header(ev, "offset"), "1000");
    ck_assert_str_eq(sf_event_header(ev, "key"), "199");
    ck_assert_str_eq(sf_event_header(ev, "empty"), "");
    ck_assert_ptr_null(sf_event_header(ev, "offsetXX"));
    ck_assert_uint_eq(ev->body_len, 3);
    ck_assert(memcmp(ev->body, body, 3) == 0 && ev->body[3] == '\0');
    const struct sf_header h[] = {
        { "table", "bench" }, { "offset", "1000" }, { "key", "199" }, { "empty", "" }
    };
    struct sf_event *same = sf_event_create(h, 4, body, sizeof(body));
    size_t size = (size_t)(ev->body - (char *)ev) + ev->body_len + 1;
    ck_assert_uint_eq((size_t)(same->body - (char *)same) + same->body_len + 1, size);
    /* the same strings at the same places after the fixed part */
    size_t fixed = sizeof(struct sf_event) + 4 * sizeof(struct sf_header);
    ck_assert(memcmp((char *)ev + fixed, (char *)same + fixed, size - fixed) == 0);
    sf_event_destroy(same);
    sf_event_destroy(ev);
}
END_TEST

/* ---------- delivery tracker ---------- */

START_TEST(tracker_prefix)
{
    struct sf_ack_tracker *tr = sf_ack_tracker_create();
    uint64_t b1 = sf_ack_tracker_add(tr, 2, 1, "10");
    uint64_t b2 = sf_ack_tracker_add(tr, 2, 1, "20");
    uint64_t b3 = sf_ack_tracker_add(tr, 1, 2, "30"); /* two channels */
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, b2, 2); /* out of order: not committable before b1 */
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, b1, 1);
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, b1, 1);
    char *off = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(off, "20");
    free(off);
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, b3, 1); /* one of two channels */
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    ck_assert_uint_eq(sf_ack_tracker_pending(tr), 1);
    sf_ack_tracker_ack(tr, b3, 1);
    off = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(off, "30");
    free(off);
    ck_assert_uint_eq(sf_ack_tracker_pending(tr), 0);
    sf_ack_tracker_destroy(tr);
}
END_TEST

START_TEST(tracker_many_batches_ring_growth)
{
    struct sf_ack_tracker *tr = sf_ack_tracker_create();
    uint64_t ids[1000];
    char off[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(off, sizeof(off), "%d", i);
        ids[i] = sf_ack_tracker_add(tr, 1, 1, off);
    }
    for (int i = 999; i >= 1; i--) {
        sf_ack_tracker_ack(tr, ids[i], 1);
    }
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, ids[0], 1);
    char *o = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(o, "999");
    free(o);
    sf_ack_tracker_destroy(tr);
}
END_TEST

START_TEST(tracker_take_commit_acks)
{
    struct test_channel *t = channel_new(channel_types[_i], "");
    struct sf_ack_tracker *tr = sf_ack_tracker_create();
    struct sf_txn *txn = sf_channel_txn_begin(&t->ch);
    uint64_t id = sf_ack_tracker_add(tr, 3, 1, "42");
    for (int i = 0; i < 3; i++) {
        struct sf_event *ev = mkev(i);
        ev->tracker = tr;
        ev->ack_id = id;
        ck_assert_int_eq(sf_channel_put(txn, ev), SF_OK);
    }
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    expect_take(&t->ch, 0, 2, false); /* rollback acknowledges nothing */
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    expect_take(&t->ch, 0, 2, true);
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    expect_take(&t->ch, 2, 3, true);
    char *o = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(o, "42");
    free(o);
    sf_ack_tracker_destroy(tr);
    channel_free(t);
}
END_TEST

static Suite *core_suite(void)
{
    Suite *s = suite_create("core");
    TCase *tc = tcase_create("props");
    tcase_add_test(tc, props_basic);
    tcase_add_test(tc, props_env);
    tcase_add_test(tc, options_defaults_and_values);
    tcase_add_test(tc, options_errors_name_file_line_key);
    tcase_add_test(tc, options_range);
    tcase_add_test(tc, option_tables_are_sound);
    tcase_add_test(tc, split_names);
    tcase_add_test(tc, split_quoted_names);
    suite_add_tcase(s, tc);
    tc = tcase_create("agent");
    tcase_add_test(tc, agent_config_valid);
    tcase_add_test(tc, agent_config_errors);
    tcase_add_test(tc, agent_config_unknown_agent);
    tcase_add_test(tc, agent_config_unsupported_flume_keys);
    tcase_add_test(tc, agent_config_duplicate_key);
    tcase_add_test(tc, agent_config_unlisted_component);
    tcase_add_test(tc, agent_config_unknown_type_alone);
    suite_add_tcase(s, tc);
    int nt = (int)(sizeof(channel_types) / sizeof(channel_types[0]));
    tc = tcase_create("channel");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, channel_fifo_commit_rollback, 0, nt);
    tcase_add_loop_test(tc, channel_put_rollback_leaves_nothing, 0, nt);
    tcase_add_loop_test(tc, channel_transaction_capacity, 0, nt);
    tcase_add_loop_test(tc, channel_full_waits_keep_alive_then_fails, 0, nt);
    tcase_add_loop_test(tc, channel_back_pressure_threads, 0, nt);
    tcase_add_loop_test(tc, channel_byte_capacity, 0, nt);
    tcase_add_loop_test(tc, channel_state_errors, 0, nt);
    tcase_add_loop_test(tc, tracker_take_commit_acks, 0, nt);
    suite_add_tcase(s, tc);
    tc = tcase_create("event");
    tcase_add_test(tc, event_create_lens);
    suite_add_tcase(s, tc);
    tc = tcase_create("tracker");
    tcase_add_test(tc, tracker_prefix);
    tcase_add_test(tc, tracker_many_batches_ring_growth);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(core_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
