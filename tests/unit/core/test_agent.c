/*
 * Unit tests of the agent's config validation (src/core/agent.c): a valid agent, the errors
 * start would meet, unknown agents and types, Flume keys sqlflume does not support, duplicate
 * keys and components that are not listed.
 */
#include "unit.h"
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
#include "unit_agent.h"

/* ---------- agent configuration ---------- */



START_TEST(agent_config_valid)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(unit_agent_diag("a1.sources = r1\n"
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
    size_t n = unit_agent_diag("a1.sources = r1\n"
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
    ck_assert(unit_has_msg(d.errors, d.nerrors,
                      "agent.conf:8: a1.channels.c1.type: unknown channel type \"memroy\"; did "
                      "you mean \"memory\"?"));
    ck_assert(unit_has_msg(d.errors, d.nerrors,
                      "agent.conf:5: a1.sources.r1.channels: channel \"c9\" is referenced but not "
                      "defined in a1.channels"));
    ck_assert(unit_has_msg(d.errors, d.nerrors, "agent.conf:7: a1.sources.r1.max.rows: bad number"));
    ck_assert(unit_has_msg(d.errors, d.nerrors, "a1.sources.r1.connection.url: missing required key"));
    ck_assert(unit_has_msg(d.errors, d.nerrors, "a1.sinks.k2.type: missing required key"));
    sf_diag_free(&d);
}
END_TEST

START_TEST(agent_config_unknown_agent)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(unit_agent_diag("b1.sources = r1\n", &d), 1);
    ck_assert(unit_has_msg(d.errors, d.nerrors, "no configuration for agent \"a1\""));
    sf_diag_free(&d);
}
END_TEST


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
 * replicating selector and an empty interceptor list are accepted. */
START_TEST(agent_config_unsupported_flume_keys)
{
    struct sf_diag d = { 0 };
    ck_assert_uint_eq(unit_agent_diag(VALID_AGENT "a1.sinks.k1.channel = c1\n"
                                               "a1.sources.r1.selector.type = replicating\n"
                                               "a1.sources.r1.interceptors =\n",
                                   &d),
                      0);
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);

    size_t n = unit_agent_diag(VALID_AGENT "a1.sinks.k1.channel = c1\n"
                                        "a1.configfilters = f1\n",
                            &d);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(d.nwarnings, 0);
    ck_assert(
        unit_has_msg(d.errors, d.nerrors, "agent.conf:11: a1.configfilters = f1 is not supported"));
    sf_diag_free(&d);

    /* a component's own table: the file channel's encryption and replay variants */
    n = unit_agent_diag(VALID_AGENT "a1.sinks.k1.channel = c1\n"
                                 "a1.channels.c1.type = file\n"
                                 "a1.channels.c1.encryption.activeKey = key-0\n"
                                 "a1.channels.c1.use-fast-replay = true\n"
                                 "a1.channels.c1.use-log-replay-v1 = true\n",
                     &d);
    ck_assert_uint_eq(n, 3);
    ck_assert_uint_eq(d.nwarnings, 1); /* a1.channels.c1.type set twice */
    ck_assert(unit_has_msg(d.errors, d.nerrors,
                      "agent.conf:12: a1.channels.c1.encryption.activeKey = key-0 is not "
                      "supported (the log is not encrypted"));
    ck_assert(unit_has_msg(d.errors, d.nerrors,
                      "agent.conf:13: a1.channels.c1.use-fast-replay = true is not supported"));
    ck_assert(unit_has_msg(d.errors, d.nerrors,
                      "agent.conf:14: a1.channels.c1.use-log-replay-v1 = true is not supported"));
    sf_diag_free(&d);

    /* a selector key on a sink is no Flume key at all: the usual unknown-key warning */
    ck_assert_uint_eq(unit_agent_diag(VALID_AGENT "a1.sinks.k1.channel = c1\n"
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
    ck_assert_uint_eq(unit_agent_diag(VALID_AGENT "a1.sinks.k1.channel = c1\n"
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
    size_t n = unit_agent_diag("a1.sources = r1 r2\n"
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
                            "a1.sinks.k2.type = cassandra\n"
                            "a1.sinks.k2.channel = c2\n"
                            "a1.sinks.k2.table = t\n"
                            "a1.sinks.k3.channel = c2\n"
                            "a1.sinks.k3.batchSize = 10\n",
                            &d);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(d.nwarnings, 0);
    ck_assert(unit_has_exact(d.errors, d.nerrors,
                        "agent.conf:8: a1.channels.c1.type: unknown channel type \"memroy\"; did "
                        "you mean \"memory\"? (known: memory, file)"));
    ck_assert(unit_has_exact(d.errors, d.nerrors,
                        "agent.conf:15: a1.sources.r2.type: unknown source type \"jdbc\" (known: "
                        "sql, mysql, postgresql, avro)"));
    ck_assert(unit_has_exact(d.errors, d.nerrors,
                        "agent.conf:19: a1.sinks.k2.type: unknown sink type \"cassandra\" (known: "
                        "logger, null, kafka, file_roll, avro, hdfs)"));
    ck_assert(unit_has_exact(d.errors, d.nerrors,
                        "agent.conf: a1.sinks.k3.type: missing required key: sink \"k3\" has no "
                        "type"));
    sf_diag_free(&d);
}
END_TEST

SF_UNIT_SUITE(agent)
{
    Suite *s = suite_create("agent");
    TCase *tc = tcase_create("agent");
    tcase_add_test(tc, agent_config_valid);
    tcase_add_test(tc, agent_config_errors);
    tcase_add_test(tc, agent_config_unknown_agent);
    tcase_add_test(tc, agent_config_unsupported_flume_keys);
    tcase_add_test(tc, agent_config_duplicate_key);
    tcase_add_test(tc, agent_config_unlisted_component);
    tcase_add_test(tc, agent_config_unknown_type_alone);
    suite_add_tcase(s, tc);
    return s;
}
