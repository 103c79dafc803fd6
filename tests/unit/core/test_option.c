/*
 * Unit tests of the properties parser and the option tables (src/core/option.c): Flume's
 * properties syntax, ${ENV} substitution, defaults, values and diagnostics with file, line and
 * key, ranges, the soundness of every registered option table, and splitting name lists.
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
    ck_assert_int_eq(sf_props_parse(&p, "t.conf", "c=${SF_TEST_UNSET}\n", &d), SF_ERR_INVAL);
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
                     SF_ERR_INVAL);
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
        apply_text("a1.sinks.k1.count = 101\na1.sinks.k1.required.key=1\n", &c, &d, &p), SF_ERR_INVAL);
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

SF_UNIT_SUITE(option)
{
    Suite *s = suite_create("option");
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
    return s;
}
