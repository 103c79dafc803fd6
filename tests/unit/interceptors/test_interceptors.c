/*
 * Unit tests of the interceptor chain (src/core/interceptor.c) and of every interceptor
 * (src/interceptors/): exact headers and bodies after each one, preserveExisting both ways,
 * drops acknowledged through a real delivery tracker, chain order, and the configuration errors
 * with their exact messages.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlflume/agent.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/interceptor.h"
#include "sqlflume/option.h"

/* A configuration under test: its properties, the source's section, the chain and the diag. */
struct conf {
    struct sf_props p;
    struct sf_section s;
    struct sf_interceptor_chain chain;
    struct sf_diag d;
    int rc;
};

/* Build the chain of source r1 of agent a1 from text (keys relative to "a1.sources.r1."). */
static void build(struct conf *c, const char *text)
{
    memset(c, 0, sizeof(*c));
    char full[4096];
    size_t len = 0;
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        int l = nl ? (int)(nl - line) : (int)strlen(line);
        len += (size_t)snprintf(full + len, sizeof(full) - len, "a1.sources.r1.%.*s\n", l, line);
        ck_assert_uint_lt(len, sizeof(full));
        line += l + (nl ? 1 : 0);
    }
    ck_assert_int_eq(sf_props_parse(&c->p, "i.conf", full, &c->d), SF_OK);
    ck_assert_int_eq(sf_section_init(&c->s, &c->p, "source", "r1", "a1.sources.r1."), SF_OK);
    c->rc = sf_interceptor_chain_build(&c->chain, &c->s, &c->d);
}

/* build, expecting success without warnings, and start. */
static void build_ok(struct conf *c, const char *text)
{
    build(c, text);
    ck_assert_msg(c->rc == SF_OK && c->d.nerrors == 0, "%s", c->d.nerrors ? c->d.errors[0] : "");
    ck_assert_msg(c->d.nwarnings == 0, "%s", c->d.nwarnings ? c->d.warnings[0] : "");
    char err[256] = "";
    ck_assert_int_eq(sf_interceptor_chain_start(&c->chain, err, sizeof(err)), SF_OK);
}

static void conf_free(struct conf *c)
{
    sf_interceptor_chain_free(&c->chain);
    sf_section_free(&c->s);
    sf_props_free(&c->p);
    sf_diag_free(&c->d);
}

/* An SQL source's event: headers table, offset, key, timestamp (event.h), and body. */
static struct sf_event *sql_event(const char *body)
{
    const struct sf_header h[] = { { SF_HDR_TABLE, "t1" },
                                   { SF_HDR_OFFSET, "42" },
                                   { SF_HDR_KEY, "7" },
                                   { SF_HDR_TIMESTAMP, "1000" } };
    struct sf_event *ev = sf_event_create(h, 4, body, strlen(body));
    ck_assert_ptr_nonnull(ev);
    return ev;
}

/* The headers of ev as "k=v;k=v" (static buffer). */
static const char *hdrs(const struct sf_event *ev)
{
    static char out[1024];
    out[0] = '\0';
    for (size_t i = 0; i < ev->nheaders; i++) {
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s=%s", i ? ";" : "",
                 ev->headers[i].key, ev->headers[i].val);
    }
    return out;
}

/* Apply the chain to one event; NULL when dropped. */
static struct sf_event *one(struct conf *c, struct sf_event *ev)
{
    struct sf_event *evs[1] = { ev };
    return sf_interceptor_chain_apply(&c->chain, evs, 1, 1) ? evs[0] : NULL;
}

/* One SQL event with body through the chain of text: its headers must be want exactly. */
static void expect_hdrs(const char *text, const char *body, const char *want)
{
    struct conf c;
    build_ok(&c, text);
    struct sf_event *ev = one(&c, sql_event(body));
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(hdrs(ev), want);
    ck_assert_str_eq(ev->body, body);
    sf_event_destroy(ev);
    conf_free(&c);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------- timestamp ---------- */

START_TEST(timestamp_overwrites_by_default)
{
    struct conf c;
    build_ok(&c, "interceptors = i1\ninterceptors.i1.type = timestamp\n");
    long long t0 = now_ms();
    struct sf_event *ev = one(&c, sql_event("row"));
    long long t1 = now_ms();
    ck_assert_uint_eq(ev->nheaders, 4);
    ck_assert_str_eq(ev->headers[3].key, "timestamp"); /* in its place */
    long long ts = atoll(ev->headers[3].val);
    ck_assert(ts >= t0 && ts <= t1);
    char want[128];
    snprintf(want, sizeof(want), "table=t1;offset=42;key=7;timestamp=%lld", ts);
    ck_assert_str_eq(hdrs(ev), want);
    ck_assert_str_eq(ev->body, "row");
    sf_event_destroy(ev);
    conf_free(&c);
}
END_TEST

START_TEST(timestamp_preserve_and_header_name)
{
    struct conf c;
    build_ok(&c,
             "interceptors = i1 i2\n"
             "interceptors.i1.type = org.apache.flume.interceptor.TimestampInterceptor$Builder\n"
             "interceptors.i1.preserveExisting = true\n"
             "interceptors.i2.type = TIMESTAMP\n"
             "interceptors.i2.headerName = ts\n"
             "interceptors.i2.preserveExisting = true\n");
    long long t0 = now_ms();
    struct sf_event *ev = one(&c, sql_event("row"));
    ck_assert_uint_eq(ev->nheaders, 5);
    ck_assert_str_eq(ev->headers[3].val, "1000"); /* preserved */
    ck_assert_str_eq(ev->headers[4].key, "ts");   /* appended */
    ck_assert(atoll(ev->headers[4].val) >= t0);
    sf_event_destroy(ev);
    conf_free(&c);
}
END_TEST

/* ---------- host ---------- */

START_TEST(host_ip_and_preserve)
{
    struct conf c;
    build_ok(&c, "interceptors = h1 h2\n"
                 "interceptors.h1.type = host\n"
                 "interceptors.h2.type = org.apache.flume.interceptor.HostInterceptor$Builder\n"
                 "interceptors.h2.hostHeader = table\n"
                 "interceptors.h2.preserveExisting = true\n");
    struct sf_event *ev = one(&c, sql_event("row"));
    ck_assert_uint_eq(ev->nheaders, 5);
    ck_assert_str_eq(ev->headers[0].val, "t1"); /* h2 preserved it */
    ck_assert_str_eq(ev->headers[4].key, "host");
    unsigned char addr[16];
    const char *ip = ev->headers[4].val;
    ck_assert_msg(inet_pton(AF_INET, ip, addr) == 1 || inet_pton(AF_INET6, ip, addr) == 1,
                  "not an address: %s", ip);
    sf_event_destroy(ev);
    conf_free(&c);

    build_ok(&c, "interceptors = h1\n"
                 "interceptors.h1.type = host\n"
                 "interceptors.h1.useIP = false\n"
                 "interceptors.h1.hostHeader = table\n");
    ev = one(&c, sql_event("row"));
    ck_assert_uint_eq(ev->nheaders, 4);
    ck_assert_str_ne(ev->headers[0].val, "t1"); /* overwritten (preserveExisting = false) */
    ck_assert(inet_pton(AF_INET, ev->headers[0].val, addr) != 1);
    sf_event_destroy(ev);
    conf_free(&c);
}
END_TEST

/* ---------- static ---------- */

START_TEST(static_defaults_preserve)
{
    struct conf c;
    build_ok(&c, "interceptors = s1\ninterceptors.s1.type = static\n");
    struct sf_event *ev = one(&c, sql_event("row"));
    ck_assert_str_eq(hdrs(ev), "table=t1;offset=42;key=7;timestamp=1000"); /* key=value kept 7 */
    sf_event_destroy(ev);
    conf_free(&c);

    expect_hdrs("interceptors = s1 s2\n"
                "interceptors.s1.type = static\n"
                "interceptors.s1.preserveExisting = false\n"
                "interceptors.s2.type = org.apache.flume.interceptor.StaticInterceptor$Builder\n"
                "interceptors.s2.key = datacenter\n"
                "interceptors.s2.value = NEW_YORK\n",
                "row", "table=t1;offset=42;key=value;timestamp=1000;datacenter=NEW_YORK");
}
END_TEST

/* ---------- remove_header ---------- */

START_TEST(remove_header_all_three)
{
    struct conf c;
    build_ok(&c, "interceptors = r\n"
                 "interceptors.r.type = remove_header\n"
                 "interceptors.r.withName = table\n"
                 "interceptors.r.fromList = offset ,  key,nothere\n"
                 "interceptors.r.matching = t.*p\n");
    const struct sf_header h[] = { { "table", "t1" },     { "offset", "42" },
                                   { "key", "7" },        { "timestamp", "1000" },
                                   { "stamp", "keep" },   { "Table", "case" },
                                   { "xtimestampx", "y" } };
    struct sf_event *ev = sf_event_create(h, 7, "b", 1);
    ev = one(&c, ev);
    ck_assert_str_eq(hdrs(ev), "stamp=keep;Table=case;xtimestampx=y");
    ck_assert_str_eq(ev->body, "b");
    sf_event_destroy(ev);
    conf_free(&c);

    expect_hdrs(
        "interceptors = r\n"
        "interceptors.r.type = org.apache.flume.interceptor.RemoveHeaderInterceptor$Builder\n"
        "interceptors.r.fromList = table;;timestamp\n"
        "interceptors.r.fromListSeparator = ;+\n",
        "row", "offset=42;key=7");

    /* nothing configured: nothing removed, the same event */
    build_ok(&c, "interceptors = r\ninterceptors.r.type = remove_header\n");
    struct sf_event *in = sql_event("row");
    ev = one(&c, in);
    ck_assert_ptr_eq(ev, in);
    sf_event_destroy(ev);
    conf_free(&c);
}
END_TEST

/* ---------- uuid ---------- */

/* Predicate: s is prefix followed by a version 4 UUID. */
static bool is_uuid4(const char *s, const char *prefix)
{
    size_t pl = strlen(prefix);
    if (strncmp(s, prefix, pl) != 0 || strlen(s) != pl + 36) {
        return false;
    }
    s += pl;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !strchr("0123456789abcdef", s[i])) {
            return false;
        }
    }
    return s[14] == '4' && strchr("89ab", s[19]);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

START_TEST(uuid_header)
{
    struct conf c;
    build_ok(&c,
             "interceptors = u1 u2\n"
             "interceptors.u1.type = org.apache.flume.sink.solr.morphline.UUIDInterceptor$Builder\n"
             "interceptors.u2.type = uuid\n"
             "interceptors.u2.headerName = key\n"
             "interceptors.u2.prefix = row-\n"
             "interceptors.u2.preserveExisting = false\n");
    struct sf_event *ev = one(&c, sql_event("row"));
    ck_assert_uint_eq(ev->nheaders, 5);
    ck_assert_str_eq(ev->headers[4].key, "id");
    ck_assert_msg(is_uuid4(ev->headers[4].val, ""), "%s", ev->headers[4].val);
    ck_assert_msg(is_uuid4(ev->headers[2].val, "row-"), "%s", ev->headers[2].val);
    char first[64];
    snprintf(first, sizeof(first), "%s", ev->headers[4].val);
    ck_assert_str_eq(hdrs(ev) + strlen(hdrs(ev)) - 36, first);
    /* preserveExisting = true (u1's default) keeps the id */
    struct sf_event *again = one(&c, ev);
    ck_assert_str_eq(sf_event_header(again, "id"), first);
    struct sf_event *other = one(&c, sql_event("row"));
    ck_assert_str_ne(sf_event_header(other, "id"), first);
    sf_event_destroy(again);
    sf_event_destroy(other);
    conf_free(&c);

    /* 1,000 in a row (past several refills of the random pool): all distinct version 4 UUIDs */
    build_ok(&c, "interceptors = u\ninterceptors.u.type = uuid\n");
    static char seen[1000][37];
    for (size_t i = 0; i < 1000; i++) {
        ev = one(&c, sql_event("row"));
        ck_assert(is_uuid4(sf_event_header(ev, "id"), ""));
        snprintf(seen[i], sizeof(seen[i]), "%s", sf_event_header(ev, "id"));
        sf_event_destroy(ev);
    }
    qsort(seen, 1000, sizeof(seen[0]), cmp_str);
    for (size_t i = 1; i < 1000; i++) {
        ck_assert_msg(strcmp(seen[i - 1], seen[i]) != 0, "%s twice", seen[i]);
    }
    conf_free(&c);
}
END_TEST

/* ---------- regex_filter, with acknowledgements ---------- */

/* Events with bodies bodies[0..n) in one batch of tr (nchannels 1, offset "end"). */
static void batch(struct sf_ack_tracker *tr,
                  struct sf_event **evs,
                  const char *const *bodies,
                  size_t n,
                  const char *end)
{
    uint64_t id = sf_ack_tracker_add(tr, n, 1, end);
    ck_assert_uint_gt(id, 0);
    for (size_t i = 0; i < n; i++) {
        evs[i] = sql_event(bodies[i]);
        evs[i]->tracker = tr;
        evs[i]->ack_id = id;
    }
}

START_TEST(regex_filter_include_acks)
{
    struct conf c;
    build_ok(&c, "interceptors = f\n"
                 "interceptors.f.type = regex_filter\n"
                 "interceptors.f.regex = ^a\n");
    struct sf_ack_tracker *tr = sf_ack_tracker_create();
    static const char *const bodies[] = { "abc", "xbc", "a", "ba" };
    struct sf_event *evs[4];
    batch(tr, evs, bodies, 4, "off4");
    ck_assert_uint_eq(sf_interceptor_chain_apply(&c.chain, evs, 4, 1), 2);
    ck_assert_str_eq(evs[0]->body, "abc");
    ck_assert_str_eq(evs[1]->body, "a");
    ck_assert_ptr_eq(evs[0]->tracker, tr);
    ck_assert_ptr_null(sf_ack_tracker_poll(tr)); /* two kept ones not delivered yet */
    ck_assert_int_eq(atomic_load(&c.chain.v[0].metrics.events_in), 4);
    ck_assert_int_eq(atomic_load(&c.chain.v[0].metrics.events_dropped), 2);
    sf_events_ack(evs, 2);
    char *off = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(off, "off4");
    free(off);
    sf_event_destroy(evs[0]);
    sf_event_destroy(evs[1]);

    /* a batch filtered out whole is acknowledged by the chain alone */
    static const char *const none[] = { "x", "y" };
    batch(tr, evs, none, 2, "off6");
    ck_assert_uint_eq(sf_interceptor_chain_apply(&c.chain, evs, 2, 1), 0);
    off = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(off, "off6");
    free(off);
    ck_assert_uint_eq(sf_ack_tracker_pending(tr), 0);
    sf_ack_tracker_destroy(tr);
    conf_free(&c);
}
END_TEST

START_TEST(regex_filter_exclude_two_channels)
{
    struct conf c;
    build_ok(
        &c, "interceptors = f\n"
            "interceptors.f.type = org.apache.flume.interceptor.RegexFilteringInterceptor$Builder\n"
            "interceptors.f.regex = DEBUG|TRACE\n"
            "interceptors.f.excludeEvents = true\n");
    struct sf_ack_tracker *tr = sf_ack_tracker_create();
    uint64_t id = sf_ack_tracker_add(tr, 3, 2, "off3"); /* 3 events into 2 channels */
    static const char *const bodies[] = { "x DEBUG y", "INFO", "TRACE" };
    struct sf_event *evs[3];
    for (size_t i = 0; i < 3; i++) {
        evs[i] = sql_event(bodies[i]);
        evs[i]->tracker = tr;
        evs[i]->ack_id = id;
    }
    ck_assert_uint_eq(sf_interceptor_chain_apply(&c.chain, evs, 3, 2), 1);
    ck_assert_str_eq(evs[0]->body, "INFO");
    sf_ack_tracker_ack(tr, id, 1); /* the first channel's delivery */
    ck_assert_ptr_null(sf_ack_tracker_poll(tr));
    sf_ack_tracker_ack(tr, id, 1); /* the second channel's */
    char *off = sf_ack_tracker_poll(tr);
    ck_assert_str_eq(off, "off3");
    free(off);
    sf_event_destroy(evs[0]);
    sf_ack_tracker_destroy(tr);
    conf_free(&c);
}
END_TEST

START_TEST(regex_filter_default_keeps_all)
{
    struct conf c;
    build_ok(&c, "interceptors = f\ninterceptors.f.type = regex_filter\n");
    struct sf_event *in = sql_event("");
    ck_assert_ptr_eq(one(&c, in), in);
    sf_event_destroy(in);
    conf_free(&c);

    /* a body that is not valid UTF-8 is matched around its bad bytes, not refused */
    build_ok(&c, "interceptors = f\ninterceptors.f.type = regex_filter\n"
                 "interceptors.f.regex = ^..b$\n");
    in = sql_event("\xff\xc3("
                   "b");
    ck_assert_ptr_null(one(&c, in)); /* no two characters before the b: dropped */
    in = sql_event("\xc3\xa9"
                   "xb");
    ck_assert_ptr_eq(one(&c, in), in); /* é and x */
    sf_event_destroy(in);
    conf_free(&c);
}
END_TEST

/* ---------- sf_event_rebuild ---------- */

START_TEST(rebuild_keeps_tracker)
{
    struct sf_ack_tracker *tr = sf_ack_tracker_create();
    struct sf_event *ev = sql_event("body");
    ev->tracker = tr;
    ev->ack_id = 99;
    const struct sf_header_lens hl[] = { { "a", 1, ev->body, 2 } }; /* may point into ev */
    struct sf_event *nv = sf_event_rebuild(ev, hl, 1, ev->body + 1, 3);
    sf_event_destroy(ev);
    ck_assert_ptr_eq(nv->tracker, tr);
    ck_assert_uint_eq(nv->ack_id, 99);
    ck_assert_str_eq(hdrs(nv), "a=bo");
    ck_assert_str_eq(nv->body, "ody");
    sf_event_destroy(nv);
    sf_ack_tracker_destroy(tr);
}
END_TEST

/* ---------- regex_extractor ---------- */

START_TEST(regex_extractor_groups)
{
    struct conf c;
    build_ok(&c, "interceptors = e\n"
                 "interceptors.e.type = regex_extractor\n"
                 "interceptors.e.regex = (\\\\d):(\\\\d):(\\\\d)\n"
                 "interceptors.e.serializers = s1 s2\n"
                 "interceptors.e.serializers.s1.name = one\n"
                 "interceptors.e.serializers.s2.type = DEFAULT\n"
                 "interceptors.e.serializers.s2.name = key\n");
    struct sf_event *ev = one(&c, sql_event("x 1:2:3 4:5:6"));
    ck_assert_str_eq(hdrs(ev), "table=t1;offset=42;key=2;timestamp=1000;one=1"); /* 3 ignored */
    ck_assert_str_eq(ev->body, "x 1:2:3 4:5:6");
    sf_event_destroy(ev);
    struct sf_event *in = sql_event("no digits");
    ck_assert_ptr_eq(one(&c, in), in);
    sf_event_destroy(in);
    conf_free(&c);

    /* a group that does not take part sets nothing */
    expect_hdrs(
        "interceptors = e\n"
        "interceptors.e.type = org.apache.flume.interceptor.RegexExtractorInterceptor$Builder\n"
        "interceptors.e.regex = (a)|(b)\n"
        "interceptors.e.serializers = s1 s2\n"
        "interceptors.e.serializers.s1.name = ga\n"
        "interceptors.e.serializers.s2.name = gb\n",
        "b", "table=t1;offset=42;key=7;timestamp=1000;gb=b");
}
END_TEST

START_TEST(regex_extractor_millis)
{
    setenv("TZ", "UTC", 1);
    tzset();
    struct conf c;
    /* the Flume user guide's example */
    build_ok(&c,
             "interceptors = e\n"
             "interceptors.e.type = regex_extractor\n"
             "interceptors.e.regex = "
             "^(?:\\\\n)?(\\\\d\\\\d\\\\d\\\\d-\\\\d\\\\d-\\\\d\\\\d\\\\s\\\\d\\\\d:\\\\d\\\\d)\n"
             "interceptors.e.serializers = s1\n"
             "interceptors.e.serializers.s1.type = "
             "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer\n"
             "interceptors.e.serializers.s1.name = timestamp\n"
             "interceptors.e.serializers.s1.pattern = yyyy-MM-dd HH:mm\n");
    struct sf_event *ev = one(&c, sql_event("2012-10-18 18:47:57,614 some log line"));
    ck_assert_str_eq(hdrs(ev), "table=t1;offset=42;key=7;timestamp=1350586020000");
    sf_event_destroy(ev);
    /* matched text the pattern cannot parse (month 13): the header is left as it was */
    ev = one(&c, sql_event("2012-13-18 18:47"));
    ck_assert_str_eq(hdrs(ev), "table=t1;offset=42;key=7;timestamp=1000");
    sf_event_destroy(ev);
    conf_free(&c);

    build_ok(&c, "interceptors = e\n"
                 "interceptors.e.type = regex_extractor\n"
                 "interceptors.e.regex = at (\\\\S+)\n"
                 "interceptors.e.serializers = s1\n"
                 "interceptors.e.serializers.s1.type = "
                 "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer\n"
                 "interceptors.e.serializers.s1.name = t\n"
                 "interceptors.e.serializers.s1.pattern = yyyyMMdd'T'HHmmss.SSS\n");
    ev = one(&c, sql_event("at 20240229T235959.5"));
    ck_assert_str_eq(sf_event_header(ev, "t"), "1709251199500");
    sf_event_destroy(ev);
    ev = one(&c, sql_event("at 20230229T000000.0")); /* no 29 February in 2023 */
    ck_assert_ptr_null(sf_event_header(ev, "t"));
    sf_event_destroy(ev);
    conf_free(&c);
    unsetenv("TZ");
    tzset();
}
END_TEST

/* ---------- search_replace ---------- */

static void
expect_replace(const char *search, const char *replace, const char *body, const char *want)
{
    char text[512];
    snprintf(text, sizeof(text),
             "interceptors = r\n"
             "interceptors.r.type = search_replace\n"
             "interceptors.r.searchPattern = %s\n"
             "interceptors.r.replaceString = %s\n",
             search, replace);
    struct conf c;
    build_ok(&c, text);
    struct sf_event *ev = one(&c, sql_event(body));
    ck_assert_str_eq(ev->body, want);
    ck_assert_uint_eq(ev->body_len, strlen(want));
    ck_assert_str_eq(hdrs(ev), "table=t1;offset=42;key=7;timestamp=1000");
    sf_event_destroy(ev);
    conf_free(&c);
}

START_TEST(search_replace_java_semantics)
{
    expect_replace("(\\\\w+)@(\\\\w+)", "$2 at $1", "me@host and you@there",
                   "host at me and there at you");
    expect_replace("x*", "-", "abc", "-a-b-c-"); /* Java's empty matches */
    /* ${NAME} is the configuration's variable syntax; a variable holding it gets it through */
    setenv("SF_TEST_IC_REF", "${user} ", 1);
    expect_replace("(?<user>\\\\w+)@", "${SF_TEST_IC_REF}", "me@host", "me host");
    expect_replace("\\\\d", "\\\\$", "a1b22", "a$b$$");  /* escaped $ */
    expect_replace("(a)|(b)", "[$1$2]", "ab", "[a][b]"); /* unset group: nothing */
    expect_replace("(a)", "$11", "a", "a1");             /* $1 then "1" */
    expect_replace("é", "e", "café é", "cafe e");        /* UTF-8 */
    expect_replace("secret", "", "a secret b", "a  b");
    expect_replace("x*", "-",
                   "a\xff\xfe"
                   "b",
                   "-a-\xff-\xfe-"
                   "b-"); /* invalid UTF-8: byte by byte */
    expect_replace("b", "c",
                   "\xc3("
                   "b",
                   "\xc3("
                   "c");
    expect_replace("x*", "-", "é€", "-é-€-"); /* empty matches step over whole characters */

    struct conf c; /* no replaceString: the matches are removed (Flume's default "") */
    build_ok(
        &c,
        "interceptors = r\n"
        "interceptors.r.type = org.apache.flume.interceptor.SearchAndReplaceInterceptor$Builder\n"
        "interceptors.r.searchPattern = ^\\\\s+\n"
        "interceptors.r.charset = utf-8\n");
    struct sf_event *ev = one(&c, sql_event("  x  "));
    ck_assert_str_eq(ev->body, "x  ");
    sf_event_destroy(ev);
    struct sf_event *in = sql_event("x");
    ck_assert_ptr_eq(one(&c, in), in); /* no match: the same event */
    sf_event_destroy(in);
    conf_free(&c);
}
END_TEST

/* ---------- the chain ---------- */

START_TEST(chain_order)
{
    struct conf c;
    build_ok(&c, "interceptors = r f\n"
                 "interceptors.r.type = search_replace\n"
                 "interceptors.r.searchPattern = secret\n"
                 "interceptors.r.replaceString = public\n"
                 "interceptors.f.type = regex_filter\n"
                 "interceptors.f.regex = secret\n"
                 "interceptors.f.excludeEvents = true\n");
    struct sf_event *ev = one(&c, sql_event("secret data"));
    ck_assert_ptr_nonnull(ev);
    ck_assert_str_eq(ev->body, "public data");
    sf_event_destroy(ev);
    conf_free(&c);

    build_ok(&c, "interceptors = f r\n"
                 "interceptors.r.type = search_replace\n"
                 "interceptors.r.searchPattern = secret\n"
                 "interceptors.r.replaceString = public\n"
                 "interceptors.f.type = regex_filter\n"
                 "interceptors.f.regex = secret\n"
                 "interceptors.f.excludeEvents = true\n");
    ck_assert_ptr_null(one(&c, sql_event("secret data")));
    ck_assert_int_eq(atomic_load(&c.chain.v[1].metrics.events_in), 0); /* r never saw it */
    conf_free(&c);
}
END_TEST

START_TEST(chain_empty)
{
    struct conf c;
    build_ok(&c, "type = sql\n");
    ck_assert_uint_eq(c.chain.n, 0);
    struct sf_event *in = sql_event("x");
    ck_assert_ptr_eq(one(&c, in), in);
    sf_event_destroy(in);
    conf_free(&c);
    build_ok(&c, "interceptors =\n");
    ck_assert_uint_eq(c.chain.n, 0);
    conf_free(&c);
    struct sf_interceptor_chain zero = { 0 };
    sf_interceptor_chain_free(&zero);
}
END_TEST

START_TEST(registry_names)
{
    const char *names[32];
    size_t n = sf_registry_names("interceptor", names, 32);
    char all[512] = "";
    for (size_t i = 0; i < n; i++) {
        strcat(all, i ? " " : "");
        strcat(all, names[i]);
    }
    ck_assert_str_eq(all, "timestamp host static remove_header uuid regex_filter regex_extractor "
                          "search_replace");
    ck_assert_ptr_eq(
        sf_registry_interceptor("Regex_Filter"),
        sf_registry_interceptor("org.apache.flume.interceptor.RegexFilteringInterceptor$Builder"));
    ck_assert_ptr_null(sf_registry_interceptor("org.apache.flume.interceptor.Nope$Builder"));
}
END_TEST

/* ---------- configuration errors ---------- */

/* build text; exactly one error, want, and no warning. */
static void expect_error(const char *text, const char *want)
{
    struct conf c;
    build(&c, text);
    ck_assert_int_eq(c.rc, SF_ERR_INVAL);
    ck_assert_msg(c.d.nerrors == 1, "%zu errors, first: %s", c.d.nerrors,
                  c.d.nerrors ? c.d.errors[0] : "");
    ck_assert_str_eq(c.d.errors[0], want);
    ck_assert_msg(c.d.nwarnings == 0, "%s", c.d.nwarnings ? c.d.warnings[0] : "");
    for (size_t i = 0; i < c.p.n; i++) {
        ck_assert_msg(c.p.v[i].used || strncmp(c.p.v[i].key, "a1.sources.r1.interceptors", 26),
                      "%s not marked used", c.p.v[i].key);
    }
    conf_free(&c);
}

/* A regex_extractor e with serializer s1 (header h), and the same with the millis serializer. */
#define EXTRACTOR_S1                                                                               \
    "interceptors = e\n"                                                                           \
    "interceptors.e.type = regex_extractor\n"                                                      \
    "interceptors.e.regex = (a)\n"                                                                 \
    "interceptors.e.serializers = s1\n"                                                            \
    "interceptors.e.serializers.s1.name = h\n"
#define MILLIS_S1                                                                                  \
    EXTRACTOR_S1 "interceptors.e.serializers.s1.type = "                                           \
                 "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer\n"

START_TEST(config_errors)
{
    setenv("SF_TEST_IC_N", "${n}", 1);
    expect_error("interceptors = f\n"
                 "interceptors.f.type = regex_filter\n"
                 "interceptors.f.regex = (a\n",
                 "i.conf:3: a1.sources.r1.interceptors.f.regex: invalid regular expression "
                 "\"(a\": missing closing parenthesis at offset 2");
    expect_error("interceptors = f\n"
                 "interceptors.f.type = remove_header\n"
                 "interceptors.f.matching = a{2,1}\n",
                 "i.conf:3: a1.sources.r1.interceptors.f.matching: invalid regular expression "
                 "\"a{2,1}\": numbers out of order in {} quantifier at offset 5");
    expect_error("interceptors = t\n"
                 "interceptors.t.type = timestmp\n",
                 "i.conf:2: a1.sources.r1.interceptors.t.type: unknown interceptor type "
                 "\"timestmp\"; did you mean \"timestamp\"? (known: timestamp, host, static, "
                 "remove_header, uuid, regex_filter, regex_extractor, search_replace, or their "
                 "Flume builder class names)");
    expect_error("interceptors = t\n"
                 "interceptors.t.type = org.apache.flume.interceptor.Custom$Builder\n"
                 "interceptors.t.foo = 1\n",
                 "i.conf:2: a1.sources.r1.interceptors.t.type: unknown interceptor type "
                 "\"org.apache.flume.interceptor.Custom$Builder\" (known: timestamp, host, static, "
                 "remove_header, uuid, regex_filter, regex_extractor, search_replace, or their "
                 "Flume builder class names)");
    expect_error("interceptors = t\n"
                 "interceptors.t.headerName = x\n",
                 "i.conf: a1.sources.r1.interceptors.t.type: missing required key: interceptor "
                 "\"t\" of source \"r1\" has no type");
    expect_error("interceptors = t t\n"
                 "interceptors.t.type = host\n",
                 "i.conf:1: a1.sources.r1.interceptors: interceptor \"t\" is listed twice");
    expect_error("interceptors = t\n"
                 "interceptors.t.type = host\n"
                 "interceptors.t.useIP = maybe\n",
                 "i.conf:3: a1.sources.r1.interceptors.t.useIP: bad boolean \"maybe\" (expected "
                 "true or false)");
    expect_error("interceptors = r\n"
                 "interceptors.r.type = search_replace\n",
                 "i.conf: a1.sources.r1.interceptors.r.searchPattern: missing required key for "
                 "interceptor \"r\"");
    expect_error("interceptors = r\n"
                 "interceptors.r.type = search_replace\n"
                 "interceptors.r.searchPattern =\n",
                 "i.conf:3: a1.sources.r1.interceptors.r.searchPattern: must not be empty");
    expect_error("interceptors = r\n"
                 "interceptors.r.type = search_replace\n"
                 "interceptors.r.searchPattern = a\n"
                 "interceptors.r.charset = ISO-8859-1\n",
                 "i.conf:4: a1.sources.r1.interceptors.r.charset = ISO-8859-1 is not supported "
                 "(sqlflume reads bodies as UTF-8 only)");
    expect_error("interceptors = r\n"
                 "interceptors.r.type = search_replace\n"
                 "interceptors.r.searchPattern = (a)\n"
                 "interceptors.r.replaceString = $2\n",
                 "i.conf:4: a1.sources.r1.interceptors.r.replaceString: bad replacement \"$2\": "
                 "no group 2 (the pattern has 1)");
    expect_error("interceptors = r\n"
                 "interceptors.r.type = search_replace\n"
                 "interceptors.r.searchPattern = a\n"
                 "interceptors.r.replaceString = $x\n",
                 "i.conf:4: a1.sources.r1.interceptors.r.replaceString: bad replacement \"$x\": "
                 "illegal group reference");
    expect_error("interceptors = r\n"
                 "interceptors.r.type = search_replace\n"
                 "interceptors.r.searchPattern = a\n"
                 "interceptors.r.replaceString = ${SF_TEST_IC_N}\n",
                 "i.conf:4: a1.sources.r1.interceptors.r.replaceString: bad replacement \"${n}\": "
                 "no group with name {n}");
    expect_error("interceptors = e\n"
                 "interceptors.e.type = regex_extractor\n"
                 "interceptors.e.regex = (a)\n",
                 "i.conf: a1.sources.r1.interceptors.e.serializers: missing required key for "
                 "interceptor \"e\"");
    expect_error("interceptors = e\n"
                 "interceptors.e.type = regex_extractor\n"
                 "interceptors.e.regex = (a)\n"
                 "interceptors.e.serializers = s1\n",
                 "i.conf: a1.sources.r1.interceptors.e.serializers.s1.name: missing required key "
                 "for interceptor \"e\": the header of serializer \"s1\"");
    expect_error(EXTRACTOR_S1 "interceptors.e.serializers.s1.type = com.example.MySerializer\n",
                 "i.conf:6: a1.sources.r1.interceptors.e.serializers.s1.type: unknown serializer "
                 "type \"com.example.MySerializer\" (known: DEFAULT, "
                 "org.apache.flume.interceptor.RegexExtractorInterceptorPassThroughSerializer, "
                 "org.apache.flume.interceptor.RegexExtractorInterceptorMillisSerializer)");
    expect_error(MILLIS_S1 "interceptors.e.serializers.s1.pattern = dd MMM yyyy\n",
                 "i.conf:7: a1.sources.r1.interceptors.e.serializers.s1.pattern: bad pattern "
                 "\"dd MMM yyyy\": month names (MMM) are not supported: use MM");
    expect_error(MILLIS_S1 "interceptors.e.serializers.s1.pattern = yyyy-MM-dd Z\n",
                 "i.conf:7: a1.sources.r1.interceptors.e.serializers.s1.pattern: bad pattern "
                 "\"yyyy-MM-dd Z\": pattern letter 'Z' is not supported (supported: y M d H m s "
                 "S, quoted text)");
    expect_error(MILLIS_S1,
                 "i.conf: a1.sources.r1.interceptors.e.serializers.s1.pattern: missing required "
                 "key for interceptor \"e\": the millis serializer needs a Joda-Time pattern");
}
END_TEST

START_TEST(config_warnings)
{
    struct conf c;
    build(&c, "interceptors = t\n"
              "interceptors.t.type = timestamp\n"
              "interceptors.t.headername = ts\n"
              "interceptors.old.type = host\n");
    ck_assert_int_eq(c.rc, SF_OK);
    ck_assert_uint_eq(c.d.nerrors, 0);
    ck_assert_uint_eq(c.d.nwarnings, 2);
    ck_assert_str_eq(c.d.warnings[0], "i.conf:3: a1.sources.r1.interceptors.t.headername: unknown "
                                      "key for interceptor \"t\"; did you mean \"headerName\"?");
    ck_assert_str_eq(c.d.warnings[1], "i.conf:4: a1.sources.r1.interceptors.old.type: interceptor "
                                      "not listed in a1.sources.r1.interceptors; key ignored");
    for (size_t i = 0; i < c.p.n; i++) {
        ck_assert_msg(c.p.v[i].used, "%s not marked used", c.p.v[i].key);
    }
    conf_free(&c);

    /* the source's own option table may have marked them used first: still one warning */
    struct sf_props p = { 0 };
    struct sf_section sec;
    ck_assert_int_eq(
        sf_props_parse(&p, "i.conf", "a1.sources.r1.interceptors.old.type = host\n", &c.d), SF_OK);
    p.v[0].used = true;
    ck_assert_int_eq(sf_section_init(&sec, &p, "source", "r1", "a1.sources.r1."), SF_OK);
    ck_assert_int_eq(sf_interceptor_chain_build(&c.chain, &sec, &c.d), SF_OK);
    ck_assert_uint_eq(c.d.nwarnings, 1);
    ck_assert_str_eq(c.d.warnings[0], "i.conf:1: a1.sources.r1.interceptors.old.type: interceptor "
                                      "not listed in a1.sources.r1.interceptors; key ignored");
    sf_interceptor_chain_free(&c.chain);
    sf_section_free(&sec);
    sf_props_free(&p);
    sf_diag_free(&c.d);

    build(&c, "interceptors = e\n"
              "interceptors.e.type = regex_extractor\n"
              "interceptors.e.regex = (a)\n"
              "interceptors.e.serializers = s1\n"
              "interceptors.e.serializers.s1.name = h\n"
              "interceptors.e.serializers.s1.pattern = yyyy\n"
              "interceptors.e.serializers.s2.name = x\n");
    ck_assert_int_eq(c.rc, SF_OK);
    ck_assert_uint_eq(c.d.nwarnings, 2);
    ck_assert_str_eq(c.d.warnings[0],
                     "i.conf:6: a1.sources.r1.interceptors.e.serializers.s1.pattern: unknown key "
                     "for interceptor \"e\" (only the millis serializer has a pattern)");
    ck_assert_str_eq(c.d.warnings[1],
                     "i.conf:7: a1.sources.r1.interceptors.e.serializers.s2.name: unknown key for "
                     "interceptor \"e\" (not a name, type or pattern of a listed serializer)");
    conf_free(&c);
}
END_TEST

/* Every interceptor's option table: descriptions, offsets inside ctx, defaults that apply. */
START_TEST(option_tables_are_sound)
{
    const char *name;
    for (size_t i = 0; (name = sf_registry_plugin_name("interceptor", i)); i++) {
        const struct sf_interceptor_plugin *p = sf_registry_interceptor(name);
        ck_assert_ptr_nonnull(p);
        ck_assert_ptr_nonnull(p->intercept);
        for (const struct sf_option *o = p->options; o->key; o++) {
            ck_assert_msg(o->desc && strlen(o->desc) > 3, "%s: %s has no description", name,
                          o->key);
            ck_assert_msg(o->type == SF_OPT_PREFIX || o->offset < p->ctx_size, "%s: %s offset",
                          name, o->key);
        }
    }
    ck_assert_uint_eq(sf_registry_plugin_name("interceptor", 7) != NULL, 1);
    ck_assert_ptr_null(sf_registry_plugin_name("interceptor", 8));
}
END_TEST

SF_UNIT_SUITE(interceptors)
{
    Suite *s = suite_create("interceptors");
    TCase *tc = tcase_create("interceptors");
    tcase_add_test(tc, timestamp_overwrites_by_default);
    tcase_add_test(tc, timestamp_preserve_and_header_name);
    tcase_add_test(tc, host_ip_and_preserve);
    tcase_add_test(tc, static_defaults_preserve);
    tcase_add_test(tc, remove_header_all_three);
    tcase_add_test(tc, uuid_header);
    tcase_add_test(tc, regex_filter_include_acks);
    tcase_add_test(tc, regex_filter_exclude_two_channels);
    tcase_add_test(tc, regex_filter_default_keeps_all);
    tcase_add_test(tc, rebuild_keeps_tracker);
    tcase_add_test(tc, regex_extractor_groups);
    tcase_add_test(tc, regex_extractor_millis);
    tcase_add_test(tc, search_replace_java_semantics);
    tcase_add_test(tc, chain_order);
    tcase_add_test(tc, chain_empty);
    tcase_add_test(tc, registry_names);
    tcase_add_test(tc, config_errors);
    tcase_add_test(tc, config_warnings);
    tcase_add_test(tc, option_tables_are_sound);
    suite_add_tcase(s, tc);
    return s;
}
