/*
 * The configure step (sf_channel_plugin / sf_sink_plugin / sf_source_plugin .configure, and the
 * serializers' option tables): `sqlflume check` runs each component's option table and then
 * its configure step, as sf_agent_create does for a run, so everything start would reject must
 * be rejected there already.
 *
 * The walk: for every plugin of the registry (sf_registry_plugin_name) and every serializer,
 * every row of its option table gets invalid values (a wrong type, out of range, empty, an
 * unknown choice, a long name, empty names in pass-through families); whenever check accepts
 * one, start (for serializers: the calls that write a file) must accept it too. Then the rules
 * across keys by name, with their messages and locations, and through sf_agent_create.
 * SF_TEST_VERBOSE=1 prints every value the walk tried and what check said.
 */
#include "unit.h"
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlflume/agent.h"
#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/serializer.h"

static char g_dir[64];
static int g_seq; /* fresh directories per run */

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/sf_configure_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* What check and start said about one component. */
struct outcome {
    bool checked; /* the option table and configure accepted the keys */
    bool started; /* start accepted them (only tried when checked) */
    struct sf_diag d;
    char err[1024]; /* start's message */
};

/* Keys a component of plugin name needs to start here (relative to its prefix). */
static void base_keys(const char *kind, const char *name, struct sf_buf *b)
{
    if (strcmp(kind, "channel") == 0 && strcmp(name, "file") == 0) {
        g_seq++;
        sf_buf_printf(b, "checkpointDir = %s/cp%d\ndataDirs = %s/data%d\n"
                         "minimumRequiredSpace = 1048576\n",
                      g_dir, g_seq, g_dir, g_seq);
    } else if (strcmp(kind, "sink") == 0 && strcmp(name, "kafka") == 0) {
        /* port 1: nothing listens there; start only connects in the background */
        sf_buf_puts(b, "kafka.bootstrap.servers = 127.0.0.1:1\n"
                       "kafka.producer.log_level = 0\n");
    } else if (strcmp(kind, "sink") == 0 && strcmp(name, "file_roll") == 0) {
        sf_buf_printf(b, "sink.directory = %s\n", g_dir);
    } else if (strcmp(kind, "sink") == 0 && strcmp(name, "hdfs") == 0) {
        /* the local file system; nothing is created before the first event */
        sf_buf_printf(b, "hdfs.path = file://%s/hdfs\n", g_dir);
    } else if (strcmp(kind, "sink") == 0 && strcmp(name, "avro") == 0) {
        /* connected at the first batch only */
        sf_buf_puts(b, "hostname = 127.0.0.1\nport = 1\n");
    } else if (strcmp(kind, "source") == 0 && strcmp(name, "avro") == 0) {
        /* port 0: a free port the system picks */
        sf_buf_puts(b, "bind = 127.0.0.1\nport = 0\n");
    } else if (strcmp(kind, "source") == 0) {
        sf_buf_puts(b, "connection.url = jdbc:mysql://127.0.0.1:1/db\ntable = t\n");
    }
}

/* Build the properties "a1.<kind>s.x.type = name", the base keys and extra (relative keys,
 * one per line; later lines override earlier ones), into props. */
static void build_props(struct sf_props *props,
                        const char *kind,
                        const char *name,
                        const char *extra,
                        struct sf_diag *d)
{
    struct sf_buf base = SF_BUF_INIT, text = SF_BUF_INIT;
    base_keys(kind, name, &base);
    sf_buf_printf(&base, "%s", extra ? extra : "");
    sf_buf_printf(&text, "a1.%ss.x.type = %s\n", kind, name);
    for (const char *p = base.data ? base.data : ""; *p;) {
        size_t len = strcspn(p, "\n");
        sf_buf_printf(&text, "a1.%ss.x.%.*s\n", kind, (int)len, p);
        p += len + (p[len] == '\n');
    }
    ck_assert_int_eq(sf_props_parse(props, "t.conf", text.data, d), 0);
    sf_buf_free(&base);
    sf_buf_free(&text);
}

/* A started memory channel with default options, for sinks and sources. */
static void memory_channel(struct sf_channel *ch, struct sf_props *props, struct sf_section *sec)
{
    struct sf_diag d = { 0 };
    memset(ch, 0, sizeof(*ch));
    ch->name = "c";
    ch->plugin = sf_registry_channel("memory");
    ch->ctx = calloc(1, ch->plugin->ctx_size);
    ck_assert_int_eq(sf_section_init(sec, props, "channel", "c", "a1.channels.c."), 0);
    ck_assert_int_eq(sf_options_apply(ch->plugin->options, sec, ch->ctx, &d), 0);
    char err[256];
    ck_assert_int_eq(ch->plugin->start(ch, err, sizeof(err)), SF_OK);
    sf_diag_free(&d);
}

static void memory_channel_free(struct sf_channel *ch, struct sf_section *sec)
{
    ch->plugin->stop(ch);
    sf_options_free(ch->plugin->options, ch->ctx);
    free(ch->ctx);
    sf_section_free(sec);
}

/* Check (option table, then configure) and, when check accepts, start and stop one component
 * of kind ("channel", "sink", "source") and type name with extra keys. o->d keeps check's
 * diagnostics (free with sf_diag_free). */
static void run(const char *kind, const char *name, const char *extra, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    struct sf_props props = { 0 };
    build_props(&props, kind, name, extra, &o->d);
    struct sf_section sec, csec;
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "a1.%ss.x.", kind);
    ck_assert_int_eq(sf_section_init(&sec, &props, kind, "x", prefix), 0);
    struct sf_channel mem;
    if (strcmp(kind, "channel") == 0) {
        struct sf_channel ch = { .name = "x", .conf = &sec };
        ch.plugin = sf_registry_channel(name);
        ch.ctx = calloc(1, ch.plugin->ctx_size);
        o->checked = sf_options_apply(ch.plugin->options, &sec, ch.ctx, &o->d) == SF_OK &&
                     (!ch.plugin->configure || ch.plugin->configure(&ch, &o->d) == SF_OK);
        if (o->checked && ch.plugin->start(&ch, o->err, sizeof(o->err)) == SF_OK) {
            o->started = true;
            ch.plugin->stop(&ch);
        }
        sf_options_free(ch.plugin->options, ch.ctx);
        free(ch.ctx);
    } else if (strcmp(kind, "sink") == 0) {
        memory_channel(&mem, &props, &csec);
        struct sf_sink snk = { .name = "x", .ch = &mem, .conf = &sec };
        snk.plugin = sf_registry_sink(name);
        snk.ctx = calloc(1, snk.plugin->ctx_size);
        o->checked = sf_options_apply(snk.plugin->options, &sec, snk.ctx, &o->d) == SF_OK &&
                     (!snk.plugin->configure || snk.plugin->configure(&snk, &o->d) == SF_OK);
        if (o->checked && snk.plugin->start(&snk, o->err, sizeof(o->err)) == SF_OK) {
            o->started = true;
            snk.plugin->stop(&snk);
        }
        sf_options_free(snk.plugin->options, snk.ctx);
        free(snk.ctx);
        memory_channel_free(&mem, &csec);
    } else {
        memory_channel(&mem, &props, &csec);
        struct sf_channel *chs[1] = { &mem };
        struct sf_source src = { .name = "x", .chs = chs, .nch = 1, .conf = &sec };
        src.plugin = sf_registry_source(name);
        src.ctx = calloc(1, src.plugin->ctx_size);
        src.tracker = sf_ack_tracker_create();
        pthread_mutex_init(&src.sleep_mu, NULL);
        pthread_cond_init(&src.sleep_cv, NULL);
        o->checked = sf_options_apply(src.plugin->options, &sec, src.ctx, &o->d) == SF_OK &&
                     (!src.plugin->configure || src.plugin->configure(&src, &o->d) == SF_OK);
        if (o->checked) {
            o->started = src.plugin->start(&src, o->err, sizeof(o->err)) == SF_OK;
            src.plugin->stop(&src); /* also after a failed start, as the agent does */
        }
        sf_options_free(src.plugin->options, src.ctx);
        free(src.ctx);
        sf_ack_tracker_destroy(src.tracker);
        pthread_mutex_destroy(&src.sleep_mu);
        pthread_cond_destroy(&src.sleep_cv);
        memory_channel_free(&mem, &csec);
    }
    sf_section_free(&sec);
    sf_props_free(&props);
}

/* Check and the writing calls of serializer type with extra keys under "serializer.". */
static void run_serializer(const char *type, const char *extra, struct outcome *o)
{
    memset(o, 0, sizeof(*o));
    struct sf_props props = { 0 };
    struct sf_buf text = SF_BUF_INIT;
    sf_buf_printf(&text, "a1.sinks.k1.serializer = %s\n", type);
    for (const char *p = extra ? extra : ""; *p;) {
        size_t len = strcspn(p, "\n");
        sf_buf_printf(&text, "a1.sinks.k1.serializer.%.*s\n", (int)len, p);
        p += len + (p[len] == '\n');
    }
    ck_assert_int_eq(sf_props_parse(&props, "t.conf", text.data, &o->d), 0);
    sf_buf_free(&text);
    struct sf_section sec;
    ck_assert_int_eq(sf_section_init(&sec, &props, "sink", "k1", "a1.sinks.k1."), 0);
    struct sf_serializer_conf *c = sf_serializer_conf_create(&sec, "serializer", "serializer.",
                                                             &o->d);
    o->checked = c != NULL && o->d.nerrors == 0;
    if (c) {
        struct sf_serializer *s = sf_serializer_create(c);
        ck_assert_ptr_nonnull(s);
        struct sf_buf out = SF_BUF_INIT;
        /* the schema header: the avro serializer's files take their schema from it */
        const struct sf_header h[] = { { "table", "t" },
                                       { "flume.avro.schema.literal", "\"bytes\"" } };
        struct sf_event *ev = sf_event_create(h, 2, "\010body", 5);
        o->started = sf_serializer_after_create(s, &out) == SF_OK &&
                     sf_serializer_write(s, ev, &out) == SF_OK &&
                     sf_serializer_flush(s, &out) == SF_OK &&
                     sf_serializer_before_close(s, &out) == SF_OK;
        snprintf(o->err, sizeof(o->err), "%s", sf_serializer_errstr(s));
        sf_event_destroy(ev);
        sf_buf_free(&out);
        sf_serializer_destroy(s);
        sf_serializer_conf_destroy(c);
    }
    sf_section_free(&sec);
    sf_props_free(&props);
}

/* The invalid values fed to an option of type t: wrong type, out of range, empty, unknown. */
static size_t bad_values(const struct sf_option *opt, bool paths, char vals[][700], size_t max)
{
    size_t n = 0;
#define ADD(...) ((void)(n < max ? snprintf(vals[n++], sizeof(vals[0]), __VA_ARGS__) : 0))
    switch (opt->type) {
    case SF_OPT_INT:
        ADD("abc");
        ADD("%s", "");
        ADD("1.5");
        ADD("99999999999999999999");
        if (opt->min > LLONG_MIN) {
            ADD("%lld", opt->min - 1);
        }
        if (opt->max < LLONG_MAX) {
            ADD("%lld", opt->max + 1);
        }
        break;
    case SF_OPT_BOOL:
        ADD("maybe");
        ADD("%s", "");
        ADD("1");
        break;
    case SF_OPT_ENUM:
        ADD("no_such_choice");
        ADD("%s", "");
        break;
    case SF_OPT_STRING:
        ADD("%s", "");
        /* a name longer than Kafka's topic names may be, a word with blanks; not for paths
         * (the channels' strings: the file system's NAME_MAX is known only by trying, and a
         * relative path would be created in the working directory) */
        if (!paths) {
            ADD("%0600d", 0);
            ADD("no such value");
        }
        break;
    case SF_OPT_PREFIX:
    case SF_OPT_UNSUPPORTED:
        ADD("x");
        ADD("%s", "");
        break;
    }
#undef ADD
    return n;
}

/* Feed every option of opts its bad values; check accepting one means start accepts it. Returns
 * the number of values check rejected (the walk must reject some). */
static size_t walk(const char *kind, const char *name, const struct sf_option *opts)
{
    char vals[8][700];
    size_t rejected = 0;
    /* the plugins whose string options are paths: the file channel's, file_roll's directory, hdfs's
     * templates */
    bool paths = strcmp(kind, "channel") == 0 || strcmp(name, "file_roll") == 0 ||
                 strcmp(name, "hdfs") == 0;
    for (const struct sf_option *opt = opts; opt && opt->key; opt++) {
        size_t nv = bad_values(opt, paths, vals, 8);
        for (size_t v = 0; v < nv; v++) {
            char extra[8192];
            if (opt->type == SF_OPT_PREFIX && v == 0) {
                /* a family: an empty name, an empty value, a name nobody knows */
                snprintf(extra, sizeof(extra), "%s = %s\n%sno.such.name = 1", opt->key, vals[v],
                         opt->key);
            } else if (opt->type == SF_OPT_PREFIX) {
                snprintf(extra, sizeof(extra), "%sname = %s", opt->key, vals[v]);
            } else {
                snprintf(extra, sizeof(extra), "%s = %s", opt->key, vals[v]);
            }
            struct outcome o;
            if (strcmp(kind, "serializer") == 0) {
                run_serializer(name, extra, &o);
            } else {
                run(kind, name, extra, &o);
            }
            if (opt->type == SF_OPT_UNSUPPORTED) {
                ck_assert_msg(!o.checked, "%s %s: %s: check accepts a key it does not support",
                              kind, name, extra);
            }
            ck_assert_msg(!o.checked || o.started,
                          "%s %s: \"%s\": check accepts it, but start fails: %s", kind, name,
                          extra, o.err);
            rejected += !o.checked;
            if (getenv("SF_TEST_VERBOSE")) {
                fprintf(stderr, "%s %s: %s: %s%s\n", kind, name, extra,
                        o.checked ? "accepted" : "rejected: ", o.checked ? "" : o.d.errors[0]);
            }
            sf_diag_free(&o.d);
        }
    }
    return rejected;
}

START_TEST(every_option_of_every_plugin)
{
    static const char *const kinds[] = { "channel", "sink", "source" };
    size_t plugins = 0;
    for (size_t k = 0; k < 3; k++) {
        const char *name;
        for (size_t i = 0; (name = sf_registry_plugin_name(kinds[k], i)); i++) {
            const struct sf_option *opts =
                k == 0 ? sf_registry_channel(name)->options
                       : k == 1 ? sf_registry_sink(name)->options : sf_registry_source(name)->options;
            /* the base keys are a valid configuration */
            struct outcome o;
            run(kinds[k], name, NULL, &o);
            ck_assert_msg(o.checked && o.started, "%s %s: %s%s", kinds[k], name,
                          o.d.nerrors ? o.d.errors[0] : "", o.err);
            sf_diag_free(&o.d);
            size_t rejected = walk(kinds[k], name, opts);
            ck_assert_msg(!opts || !opts[0].key || rejected > 0, "%s %s: nothing rejected",
                          kinds[k], name);
            plugins++;
        }
    }
    ck_assert_uint_ge(plugins, 6); /* memory, file, sql, logger, null, kafka */
    const struct sf_serializer_plugin *sp;
    for (size_t i = 0; (sp = sf_serializer_plugin_at(i)); i++) {
        struct outcome o;
        run_serializer(sp->name, NULL, &o);
        ck_assert_msg(o.checked && o.started, "serializer %s: %s", sp->name, o.err);
        sf_diag_free(&o.d);
        walk("serializer", sp->name, sp->options);
    }
}
END_TEST

/* One component's check: its errors, which must include want (exact, in order) and nothing
 * else. */
static void expect_errors(const char *kind,
                          const char *name,
                          const char *extra,
                          const char *const *want,
                          size_t nwant)
{
    struct outcome o;
    run(kind, name, extra, &o);
    ck_assert_msg(!o.checked, "%s %s: check accepts \"%s\"", kind, name, extra);
    for (size_t i = 0; i < o.d.nerrors && o.d.nerrors != nwant; i++) {
        fprintf(stderr, "  %s %s: %s\n", kind, name, o.d.errors[i]);
    }
    ck_assert_uint_eq(o.d.nerrors, nwant);
    for (size_t i = 0; i < nwant; i++) {
        ck_assert_str_eq(o.d.errors[i], want[i]);
    }
    sf_diag_free(&o.d);
}

/* One component's check and start succeed. */
static void expect_starts(const char *kind, const char *name, const char *extra)
{
    struct outcome o;
    run(kind, name, extra, &o);
    ck_assert_msg(o.checked && o.started, "%s %s \"%s\": %s%s", kind, name, extra,
                  o.d.nerrors ? o.d.errors[0] : "", o.err);
    sf_diag_free(&o.d);
}

START_TEST(file_channel_rules)
{
    /* the lines: 1 type, 2 checkpointDir, 3 dataDirs, 4 minimumRequiredSpace, 5.. extra */
    const char *dual[] = { "t.conf:5: a1.channels.x.useDualCheckpoints: useDualCheckpoints needs "
                           "backupCheckpointDir" };
    expect_errors("channel", "file", "useDualCheckpoints = true", dual, 1);
    expect_errors("channel", "file", "useDualCheckpoints = true\nbackupCheckpointDir = ", dual, 1);
    const char *caps[] = { "t.conf:6: a1.channels.x.transactionCapacity: transactionCapacity "
                           "(20) must not be greater than capacity (10)" };
    expect_errors("channel", "file", "capacity = 10\ntransactionCapacity = 20", caps, 1);
    const char *cap_only[] = { "t.conf:5: a1.channels.x.capacity: transactionCapacity (10000) "
                               "must not be greater than capacity (10)" };
    expect_errors("channel", "file", "capacity = 10", cap_only, 1);
    const char *nodir[] = { "t.conf:5: a1.channels.x.dataDirs: dataDirs names no directory" };
    expect_errors("channel", "file", "dataDirs = , ,", nodir, 1);
    const char *nocp[] = { "t.conf:5: a1.channels.x.checkpointDir: checkpointDir names no "
                           "directory" };
    expect_errors("channel", "file", "checkpointDir = ", nocp, 1);
    /* every error, not only the first */
    char extra[512], twice[512], twice_bk[512];
    snprintf(extra, sizeof(extra), "capacity = 10\ndataDirs = %s/d1,%s/d1", g_dir, g_dir);
    snprintf(twice, sizeof(twice),
             "t.conf:6: a1.channels.x.dataDirs: directory \"%s/d1\" is given twice "
             "(checkpointDir, backupCheckpointDir and dataDirs must all differ)",
             g_dir);
    const char *both[] = { cap_only[0], twice };
    expect_errors("channel", "file", extra, both, 2);
    snprintf(extra, sizeof(extra), "useDualCheckpoints = true\nbackupCheckpointDir = %s/cp%d",
             g_dir, g_seq + 1);
    snprintf(twice_bk, sizeof(twice_bk),
             "t.conf:6: a1.channels.x.backupCheckpointDir: directory \"%s/cp%d\" is given twice "
             "(checkpointDir, backupCheckpointDir and dataDirs must all differ)",
             g_dir, g_seq + 1);
    const char *bk[] = { twice_bk };
    expect_errors("channel", "file", extra, bk, 1);
    /* check does no I/O: no directory was created */
    struct stat st;
    char path[128];
    snprintf(path, sizeof(path), "%s/d1", g_dir);
    ck_assert_int_ne(stat(path, &st), 0);
    snprintf(path, sizeof(path), "%s/cp%d", g_dir, g_seq);
    ck_assert_int_ne(stat(path, &st), 0);
}
END_TEST

START_TEST(memory_channel_rules)
{
    const char *caps[] = { "t.conf:3: a1.channels.x.transactionCapacity: transactionCapacity "
                           "(20) must not be greater than capacity (10)" };
    expect_errors("channel", "memory", "capacity = 10\ntransactionCapacity = 20", caps, 1);
    const char *txn_only[] = { "t.conf:2: a1.channels.x.transactionCapacity: transactionCapacity "
                               "(200) must not be greater than capacity (100)" };
    expect_errors("channel", "memory", "transactionCapacity = 200", txn_only, 1);
}
END_TEST

START_TEST(avro_source_rules)
{
    /* the lines: 1 type, 2 bind, 3 port, 4.. extra */
    const char *rule[] = { "t.conf:5: a1.sources.x.ipFilterRules: rule 2 \"permit:ip:10.*\" is "
                           "not allow|deny:ip|name:PATTERN" };
    expect_errors("source", "avro", "ipFilter = true\nipFilterRules = allow:ip:127.*, permit:ip:10.*",
                  rule, 1);
    const char *empty_pat[] = { "t.conf:5: a1.sources.x.ipFilterRules: rule 1 \"deny:name:\" is "
                                "not allow|deny:ip|name:PATTERN" };
    expect_errors("source", "avro", "ipFilter = true\nipFilterRules = deny:name:", empty_pat, 1);
    const char *no_rules[] = { "t.conf:4: a1.sources.x.ipFilter: needs ipFilterRules" };
    expect_errors("source", "avro", "ipFilter = true", no_rules, 1);
    const char *no_filter[] = { "t.conf:4: a1.sources.x.ipFilterRules: needs ipFilter = true" };
    expect_errors("source", "avro", "ipFilterRules = allow:ip:*", no_filter, 1);
    const char *ssl[] = { "t.conf:4: a1.sources.x.ssl: needs keystore" };
    expect_errors("source", "avro", "ssl = true", ssl, 1);
    const char *jks[] = { "t.conf:5: a1.sources.x.keystore: JKS (Java's keystore format) cannot "
                          "be read: use PKCS12 (keytool -importkeystore -deststoretype PKCS12) or "
                          "PEM" };
    expect_errors("source", "avro", "ssl = true\nkeystore = /k.jks", jks, 1);
    const char *no_ssl[] = { "t.conf:4: a1.sources.x.keystore: needs ssl = true" };
    expect_errors("source", "avro", "keystore = /k.p12", no_ssl, 1);
    const char *proto[] = { "t.conf:7: a1.sources.x.exclude-protocols: names a protocol that is "
                            "not one of SSLv2Hello, SSLv3, TLSv1, TLSv1.1, TLSv1.2, TLSv1.3" };
    expect_errors("source", "avro",
                  "ssl = true\nkeystore = /k.p12\nkeystore-type = PKCS12\n"
                  "exclude-protocols = SSLv3 TLS1",
                  proto, 1);
    const char *bind[] = { "t.conf:4: a1.sources.x.bind: must be a host name or an address to "
                           "listen on" };
    expect_errors("source", "avro", "bind = local host", bind, 1);
    /* deflate is accepted and starts, and so does a good rule list */
    expect_starts("source", "avro", "compression-type = deflate");
    expect_starts("source", "avro",
                  "ipFilter = true\nipFilterRules = allow:ip:127.*,allow:name:localhost,deny:ip:*");
}
END_TEST

START_TEST(avro_sink_rules)
{
    /* the lines: 1 type, 2 hostname, 3 port, 4.. extra */
    const char *level[] = { "t.conf:4: a1.sinks.x.compression-level: needs compression-type = "
                            "deflate" };
    expect_errors("sink", "avro", "compression-level = 9", level, 1);
    const char *trust[] = { "t.conf:4: a1.sinks.x.trust-all-certs: needs ssl = true" };
    expect_errors("sink", "avro", "trust-all-certs = true", trust, 1);
    const char *jks[] = { "t.conf:5: a1.sinks.x.truststore: JKS (Java's keystore format) cannot "
                          "be read: use PKCS12 (keytool -importkeystore -deststoretype PKCS12) or "
                          "PEM" };
    expect_errors("sink", "avro", "ssl = true\ntruststore = /t.jks", jks, 1);
    /* deflate at a level, and TLS with the system's CA certificates, are accepted and start */
    expect_starts("sink", "avro", "compression-type = deflate\ncompression-level = 1\nssl = true");
}
END_TEST

START_TEST(kafka_sink_rules)
{
    /* the lines: 1 type, 2 bootstrap.servers, 3 log_level, 4.. extra */
    const char *txn[] = { "t.conf:4: a1.sinks.x.kafka.producer.transactional.id: empty" };
    expect_errors("sink", "kafka", "kafka.producer.transactional.id = ", txn, 1);
    const char *acks[] = { "t.conf:5: a1.sinks.x.kafka.producer.acks: must be all with "
                           "kafka.producer.transactional.id, not \"1\"" };
    expect_errors("sink", "kafka", "kafka.producer.transactional.id = t1\nkafka.producer.acks = 1",
                  acks, 1);
    const char *hdr[] = {
        "t.conf:4: a1.sinks.x.header.: needs an event header name after \"header.\" and a Kafka "
        "header name as its value",
        "t.conf:5: a1.sinks.x.header.table: needs an event header name after \"header.\" and a "
        "Kafka header name as its value",
    };
    expect_errors("sink", "kafka", "header. = t\nheader.table = \nheader.offset = off", hdr, 2);
    const char *tol[] = { "t.conf:4: a1.sinks.x.errors.tolerance: none or all, not \"some\"" };
    expect_errors("sink", "kafka", "errors.tolerance = some", tol, 1);
    const char *log[] = { "t.conf:4: a1.sinks.x.errors.tolerance: errors.tolerance = all "
                          "without errors.deadletterqueue.topic.name needs errors.log.enable = "
                          "true (a failed event would be skipped without a line saying so)" };
    expect_errors("sink", "kafka", "errors.tolerance = all", log, 1);
    /* librdkafka's own check of the pass-through, at the key, its name not repeated */
    const char *prop[] = { "t.conf:4: a1.sinks.x.kafka.producer.no.such.property: No such "
                           "configuration property: \"no.such.property\"" };
    expect_errors("sink", "kafka", "kafka.producer.no.such.property = 1", prop, 1);
    const char *secret[] = { "t.conf:4: a1.sinks.x.kafka.producer.ssl.key.password.bogus: "
                             "librdkafka rejects this property (value not shown)" };
    expect_errors("sink", "kafka", "kafka.producer.ssl.key.password.bogus = hunter2", secret, 1);
    char extra[1200], want[1400];
    char topic[601];
    memset(topic, 't', 600);
    topic[600] = '\0';
    snprintf(extra, sizeof(extra), "kafka.topic = %s", topic);
    snprintf(want, sizeof(want),
             "t.conf:4: a1.sinks.x.kafka.topic: invalid topic \"%s\": Local: Invalid argument or "
             "configuration",
             topic);
    const char *big[] = { want };
    expect_errors("sink", "kafka", extra, big, 1);
    /* a templated topic is checked per event, at produce time */
    snprintf(extra, sizeof(extra), "kafka.topic = %s%%{table}", topic);
    struct outcome o;
    run("sink", "kafka", extra, &o);
    ck_assert(o.checked);
    sf_diag_free(&o.d);
    /* every error at once */
    const char *all[] = { tol[0], "t.conf:5: a1.sinks.x.header.: needs an event header name after "
                                  "\"header.\" and a Kafka header name as its value",
                          "t.conf:6: a1.sinks.x.kafka.producer.transactional.id: empty" };
    expect_errors("sink", "kafka",
                  "errors.tolerance = some\nheader. = x\nkafka.producer.transactional.id = ", all,
                  3);
}
END_TEST

/* The examples through sf_agent_create, which `sqlflume check` and a run both use: the
 * agent is not built, and each problem is one error naming its line and key. */
START_TEST(agent_reports_configure_errors)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "a1.sources = r1\n"
             "a1.channels = c1 c2\n"
             "a1.sinks = k1 k2\n"
             "a1.sources.r1.type = sql\n"
             "a1.sources.r1.connection.url = jdbc:mysql://127.0.0.1:1/db\n"
             "a1.sources.r1.table = t\n"
             "a1.sources.r1.channels = c1 c2\n"
             "a1.channels.c1.type = file\n"
             "a1.channels.c1.checkpointDir = %s/cp\n"
             "a1.channels.c1.dataDirs = %s/data\n"
             "a1.channels.c1.useDualCheckpoints = true\n"
             "a1.channels.c2.type = memory\n"
             "a1.sinks.k1.type = kafka\n"
             "a1.sinks.k1.channel = c1\n"
             "a1.sinks.k1.kafka.bootstrap.servers = 127.0.0.1:1\n"
             "a1.sinks.k1.kafka.producer.transactional.id =\n"
             "a1.sinks.k1.header.table =\n"
             "a1.sinks.k2.type = logger\n"
             "a1.sinks.k2.channel = c2\n",
             g_dir, g_dir);
    struct sf_props props = { 0 };
    struct sf_diag d = { 0 };
    ck_assert_int_eq(sf_props_parse(&props, "a.conf", text, &d), 0);
    struct sf_agent *a = sf_agent_create("a1", &props, &d);
    ck_assert_ptr_null(a);
    for (size_t i = 0; i < d.nerrors && d.nerrors != 3; i++) {
        fprintf(stderr, "  agent: %s\n", d.errors[i]);
    }
    ck_assert_uint_eq(d.nerrors, 3);
    ck_assert_str_eq(d.errors[0], "a.conf:11: a1.channels.c1.useDualCheckpoints: "
                                  "useDualCheckpoints needs backupCheckpointDir");
    ck_assert_str_eq(d.errors[1], "a.conf:17: a1.sinks.k1.header.table: needs an event header "
                                  "name after \"header.\" and a Kafka header name as its value");
    ck_assert_str_eq(d.errors[2], "a.conf:16: a1.sinks.k1.kafka.producer.transactional.id: empty");
    ck_assert_uint_eq(d.nwarnings, 0);
    sf_diag_free(&d);
    sf_props_free(&props);
    /* nothing was created */
    char path[128];
    struct stat st;
    snprintf(path, sizeof(path), "%s/cp", g_dir);
    ck_assert_int_ne(stat(path, &st), 0);

    /* fixed, the same configuration is valid */
    snprintf(text, sizeof(text),
             "a1.sources = r1\n"
             "a1.channels = c1\n"
             "a1.sinks = k1\n"
             "a1.sources.r1.type = sql\n"
             "a1.sources.r1.connection.url = jdbc:mysql://127.0.0.1:1/db\n"
             "a1.sources.r1.table = t\n"
             "a1.sources.r1.channels = c1\n"
             "a1.channels.c1.type = file\n"
             "a1.channels.c1.checkpointDir = %s/cp\n"
             "a1.channels.c1.dataDirs = %s/data\n"
             "a1.channels.c1.useDualCheckpoints = true\n"
             "a1.channels.c1.backupCheckpointDir = %s/backup\n"
             "a1.sinks.k1.type = kafka\n"
             "a1.sinks.k1.channel = c1\n"
             "a1.sinks.k1.kafka.bootstrap.servers = 127.0.0.1:1\n"
             "a1.sinks.k1.kafka.producer.transactional.id = t1\n"
             "a1.sinks.k1.header.table = t\n",
             g_dir, g_dir, g_dir);
    ck_assert_int_eq(sf_props_parse(&props, "a.conf", text, &d), 0);
    a = sf_agent_create("a1", &props, &d);
    ck_assert_msg(a != NULL, "%s", d.nerrors ? d.errors[0] : "");
    sf_agent_destroy(a);
    sf_diag_free(&d);
    sf_props_free(&props);
}
END_TEST

/* the expected errors stay out of the test output (in each test's process) */
static void quiet_logs(void)
{
    sf_log_set_level(SF_LOG_ERROR);
}

SF_UNIT_SUITE(configure)
{
    Suite *s = suite_create("configure");
    TCase *tc = tcase_create("configure");
    tcase_add_checked_fixture(tc, quiet_logs, NULL);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_option_of_every_plugin);
    tcase_add_test(tc, file_channel_rules);
    tcase_add_test(tc, memory_channel_rules);
    tcase_add_test(tc, kafka_sink_rules);
    tcase_add_test(tc, avro_source_rules);
    tcase_add_test(tc, avro_sink_rules);
    tcase_add_test(tc, agent_reports_configure_errors);
    suite_add_tcase(s, tc);
    return s;
}
