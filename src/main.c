/*
 * The `sqlflume` command line, shaped like `flume-ng`:
 *   sqlflume agent -n NAME -f FILE [-c CONFDIR] [-Dkey=value ...]
 *   sqlflume check [--connect] -f FILE -n NAME
 *   sqlflume avro-client -H HOST -p PORT [-F FILE] [-R HEADERFILE]   (src/avro_client_cli.h)
 *   sqlflume --help | --version
 * SIGTERM/SIGINT stop the agent cleanly (sources stop, sinks drain and flush, final offsets are
 * written) and the exit code is 0; a fatal component error exits 1; a bad config exits 2.
 */
#include "avro_client_cli.h"
#include "check_connect.h"
#include "sqlflume/agent.h"
#include "sqlflume/sink_group.h"
#include "sqlflume/error.h"
#include "sqlflume/interceptor.h"
#include "sqlflume/log.h"
#include "sqlflume/option.h"
#include "sqlflume/serializer.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: sqlflume agent -n NAME -f FILE [-c CONFDIR] [-Dkey=value ...]\n"
                 "       sqlflume check [--connect] -n NAME -f FILE\n");
    sf_avro_cli_usage(out);
    fprintf(
        out,
        "       sqlflume help config   (configuration reference, Markdown)\n"
        "       sqlflume --help | --version\n"
        "\n"
        "Runs the Flume-style agent NAME from the properties FILE: SQL sources (MySQL/MariaDB,\n"
        "PostgreSQL) polled incrementally, channels (memory, or file: durable), sinks, offsets in\n"
        "the source database's flume_meta table. Component types:\n");
    static const char *const kinds[] = { "source", "channel", "sink", "interceptor" };
    for (size_t k = 0; k < 4; k++) {
        const char *names[32];
        size_t n = sf_registry_names(kinds[k], names, sizeof(names) / sizeof(names[0]));
        int col = fprintf(out, "  %-11s", kinds[k]);
        for (size_t i = 0; i < n; i++) {
            if (i && col + 2 + (int)strlen(names[i]) > 95) { /* wrap under the first name */
                col = fprintf(out, ",\n%13s", "") - 2;
            } else if (i) {
                col += fprintf(out, ",");
            }
            col += fprintf(out, " %s", names[i]);
        }
        fputc('\n', out);
    }
    fprintf(
        out,
        "\n"
        "  -n, --name NAME        agent name (the prefix of the keys in FILE)\n"
        "  -f, --conf-file FILE   Flume properties file\n"
        "  -c, --conf DIR         configuration directory (accepted for flume-ng compatibility)\n"
        "  -Dflume.root.logger=LEVEL,console   log level: DEBUG, INFO, WARN, ERROR\n"
        "  -Dflume.monitoring.type=http -Dflume.monitoring.port=PORT (default 41414)\n"
        "                         serve Flume's JSON metrics at http://HOST:PORT/metrics\n"
        "                         (-Dflume.monitoring.host=ADDR binds one IPv4 or IPv6 address)\n"
        "  -h, --help             this help\n"
        "  -V, --version          version\n"
        "\n"
        "check validates FILE for agent NAME, prints every problem and exits 2 if any. With\n"
        "--connect it then connects to every database and Kafka cluster of the configuration and\n"
        "prints one line per check (ok, FAIL, or skip when it cannot be checked); exit 1 when a\n"
        "check failed.\n"
        "\n"
        "avro-client sends each line of FILE (or stdin) as one event to an Avro source, as\n"
        "flume-ng avro-client; `sqlflume avro-client --help` tells more.\n");
}

struct cli {
    const char *name;
    const char *file;
    const char *confdir;
    const char *monitoring_type; /* -Dflume.monitoring.type: "http" or NULL */
    const char *monitoring_host; /* -Dflume.monitoring.host (sqlflume extension): NULL = all */
    int monitoring_port;         /* -Dflume.monitoring.port, Flume's default 41414 */
    bool connect;                /* check --connect */
};

/* Whether def ("key=value", eq at its '=') has the key k. */
static bool define_is(const char *def, const char *eq, const char *k)
{
    return (size_t)(eq - def) == strlen(k) && strncmp(def, k, (size_t)(eq - def)) == 0;
}

/* Apply one -Dkey=value. @return SF_OK, or SF_ERR_INVAL (said on stderr). */
static int parse_define(const char *def, struct cli *cli)
{
    const char *eq = strchr(def, '=');
    if (!eq) {
        fprintf(stderr, "sqlflume: bad -D argument \"%s\" (expected -Dkey=value)\n", def);
        return SF_ERR_INVAL;
    }
    if (define_is(def, eq, "flume.root.logger")) {
        char level[32];
        snprintf(level, sizeof(level), "%s", eq + 1);
        level[strcspn(level, ",")] = '\0';
        enum sf_log_level lv;
        if (sf_log_level_parse(level, &lv) != SF_OK) {
            fprintf(stderr, "sqlflume: unknown log level \"%s\" in -Dflume.root.logger\n", level);
            return SF_ERR_INVAL;
        }
        sf_log_set_level(lv);
    } else if (define_is(def, eq, "flume.monitoring.type")) {
        if (strcmp(eq + 1, "http") != 0) {
            fprintf(stderr,
                    "sqlflume: -Dflume.monitoring.type=%s is not supported (only http, Flume's "
                    "JSON metrics server)\n",
                    eq + 1);
            return SF_ERR_INVAL;
        }
        cli->monitoring_type = eq + 1;
    } else if (define_is(def, eq, "flume.monitoring.port")) {
        char *end;
        long port = strtol(eq + 1, &end, 10);
        if (end == eq + 1 || *end || port < 0 || port > 65535) {
            fprintf(stderr, "sqlflume: -Dflume.monitoring.port=%s is not a TCP port\n", eq + 1);
            return SF_ERR_INVAL;
        }
        cli->monitoring_port = (int)port;
    } else if (define_is(def, eq, "flume.monitoring.host")) {
        cli->monitoring_host = eq + 1;
    } else if (strncmp(def, "flume.monitoring.", 17) == 0) {
        /* Ganglia's hosts, pollFrequency, isGanglia3 ...: the http type has only port (and host) */
        fprintf(stderr,
                "sqlflume: -D%.*s is not supported (the http monitoring type takes "
                "flume.monitoring.port and flume.monitoring.host)\n",
                (int)(eq - def), def);
        return SF_ERR_INVAL;
    } else {
        /* other Java system properties have no meaning here: said once each, not ignored
         * silently */
        fprintf(stderr, "sqlflume: warning: -D%.*s has no meaning for sqlflume; ignored\n",
                (int)(eq - def), def);
    }
    return SF_OK;
}

/* The options after the command word. @return SF_OK, or SF_ERR_INVAL (said on stderr). */
static int parse_args(int argc, char **argv, struct cli *cli)
{
    static const struct option longopts[] = {
        { "name", required_argument, NULL, 'n' }, { "conf-file", required_argument, NULL, 'f' },
        { "conf", required_argument, NULL, 'c' }, { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },    { "no-reload-conf", no_argument, NULL, 'R' },
        { "connect", no_argument, NULL, 'C' },    { NULL, 0, NULL, 0 }
    };
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "n:f:c:D:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'n':
            cli->name = optarg;
            break;
        case 'f':
            cli->file = optarg;
            break;
        case 'c':
            cli->confdir = optarg;
            break;
        case 'D':
            if (parse_define(optarg, cli) != SF_OK) {
                return SF_ERR_INVAL;
            }
            break;
        case 'R':
            break;
        case 'C':
            if (strcmp(argv[1], "check") != 0) {
                fprintf(stderr, "sqlflume: --connect is an option of check\n");
                return SF_ERR_INVAL;
            }
            cli->connect = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        case 'V':
            printf("sqlflume %s\n", SF_VERSION);
            exit(0);
        default:
            usage(stderr);
            return SF_ERR_INVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sqlflume: unexpected argument \"%s\"\n", argv[optind]);
        return SF_ERR_INVAL;
    }
    if (!cli->name || !cli->file) {
        fprintf(stderr, "sqlflume: -n NAME and -f FILE are required\n");
        return SF_ERR_INVAL;
    }
    return SF_OK;
}

/* Load and validate; prints diagnostics. @return the agent or NULL. */
static struct sf_agent *load(const struct cli *cli, bool quiet_ok, struct sf_diag *d)
{
    struct sf_props props = { 0 };
    struct sf_agent *a = NULL;
    if (sf_props_load(&props, cli->file, d) == 0 && d->nerrors == 0) {
        a = sf_agent_create(cli->name, &props, d);
    }
    sf_props_free(&props);
    (void)quiet_ok;
    return a;
}

static const char *type_name(enum sf_opt_type t)
{
    switch (t) {
    case SF_OPT_STRING:
        return "string";
    case SF_OPT_INT:
        return "integer";
    case SF_OPT_BOOL:
        return "boolean";
    case SF_OPT_ENUM:
        return "choice";
    case SF_OPT_PREFIX:
        return "prefix";
    case SF_OPT_UNSUPPORTED:
        return "not supported (error)";
    }
    return "?";
}

/* Print s for a Markdown table cell: '|' escaped. */
static void md_cell(const char *s)
{
    for (; *s; s++) {
        if (*s == '|') {
            fputs("\\|", stdout);
        } else {
            putchar(*s);
        }
    }
}

/* One option table as a Markdown table, then a blank line. */
static void print_table(const struct sf_option *opts)
{
    printf("| key | type | default | meaning |\n|---|---|---|---|\n");
    for (const struct sf_option *o = opts; o->key; o++) {
        printf("| `%s`", o->key);
        if (o->aliases && o->type != SF_OPT_PREFIX) {
            printf(" (also `%s`)", o->aliases);
        }
        printf(" | ");
        md_cell(o->type == SF_OPT_ENUM ? o->choices : type_name(o->type));
        printf(" | ");
        md_cell(o->def ? o->def : ((o->flags & SF_OPT_REQUIRED) ? "**required**" : "none"));
        printf(" | ");
        md_cell(o->desc);
        printf("%s |\n", (o->flags & SF_OPT_SECRET) ? " (secret: never logged)" : "");
    }
    printf("\n");
}

/* `sqlflume help config`: the configuration reference, generated from the option tables, in
 * Markdown (the README's reference is this output). */
static int cmd_help_config(void)
{
    static const char *const kinds[] = { "source", "channel", "sink" };
    for (size_t k = 0; k < 3; k++) {
        const char *pn;
        for (size_t pi = 0; (pn = sf_registry_plugin_name(kinds[k], pi)); pi++) {
            const char *const *n = &pn;
            const struct sf_option *opts = NULL;
            const char *const *aliases = NULL;
            const char *name = NULL;
            if (k == 0) {
                const struct sf_source_plugin *p = sf_registry_source(*n);
                opts = p->options, aliases = p->aliases, name = p->name;
            } else if (k == 1) {
                const struct sf_channel_plugin *p = sf_registry_channel(*n);
                opts = p->options, aliases = p->aliases, name = p->name;
            } else {
                const struct sf_sink_plugin *p = sf_registry_sink(*n);
                opts = p->options, aliases = p->aliases, name = p->name;
            }
            printf("### %s `type = %s`", kinds[k], name);
            for (size_t i = 0; aliases && aliases[i]; i++) {
                printf("%s`%s`", i ? ", " : " (also ", aliases[i]);
            }
            printf("%s\n\n", aliases && aliases[0] ? ")" : "");
            print_table(opts);
        }
    }
    /* the serializers of the file sinks, from src/format/serializers.def */
    printf("### Serializers\n\n"
           "What the file sinks write their files with (Flume's EventSerializer): the type is the "
           "sink's `serializer` (HDFS: Flume's HDFSDataStream reads `serializer`, not "
           "`hdfs.serializer`) or `sink.serializer` (file_roll), default `TEXT`, "
           "matched in any case; the keys below go under the sink's `serializer.` (HDFS) or "
           "`sink.serializer.` (file_roll) prefix, e.g. `a1.sinks.k1.serializer.appendNewline = "
           "false`.\n\n");
    const struct sf_serializer_plugin *sp;
    for (size_t i = 0; (sp = sf_serializer_plugin_at(i)); i++) {
        printf("#### serializer `%s`", sp->name);
        for (size_t j = 0; sp->aliases && sp->aliases[j]; j++) {
            printf("%s`%s`", j ? ", " : " (also ", sp->aliases[j]);
        }
        printf("%s%s\n\n", sp->aliases && sp->aliases[0] ? ")" : "",
               sp->supports_reopen ? "" : "; cannot append to an existing file");
        print_table(sp->options);
    }
    /* the interceptors of the sources, from src/core/plugins.def */
    printf("### Interceptor types\n\n"
           "What a source's events pass through before its channels (Flume's Interceptor): "
           "`SOURCE.interceptors = i1 i2` in that order, each with `SOURCE.interceptors.NAME.type` "
           "(the type, in any case, or Flume's builder class name) and the keys below under "
           "`SOURCE.interceptors.NAME.`.\n\n");
    const char *in;
    for (size_t i = 0; (in = sf_registry_plugin_name("interceptor", i)); i++) {
        const struct sf_interceptor_plugin *ip = sf_registry_interceptor(in);
        printf("#### interceptor `%s`", ip->name);
        for (size_t j = 0; ip->aliases && ip->aliases[j]; j++) {
            printf("%s`%s`", j ? ", " : " (also ", ip->aliases[j]);
        }
        printf("%s\n\n", ip->aliases && ip->aliases[0] ? ")" : "");
        print_table(ip->options);
    }
    /* the sink groups' keys, from src/core/sink_group.c */
    printf("### Sink groups\n\n"
           "Keys under `NAME.sinkgroups.<group>.` for each group listed in `NAME.sinkgroups` "
           "(Flume's sink processors: default, failover, load_balance).\n\n");
    print_table(sf_sink_group_options);
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    struct cli cli = { 0 };
    if (parse_args(argc, argv, &cli) != SF_OK) {
        return 2;
    }
    struct sf_diag d = { 0 };
    struct sf_agent *a = load(&cli, true, &d);
    for (size_t i = 0; i < d.nwarnings; i++) {
        fprintf(stderr, "warning: %s\n", d.warnings[i]);
    }
    for (size_t i = 0; i < d.nerrors; i++) {
        fprintf(stderr, "error: %s\n", d.errors[i]);
    }
    int rc = d.nerrors ? 2 : 0;
    if (rc == 0) {
        printf("%s: agent \"%s\" is valid\n", cli.file, cli.name);
        fflush(stdout);
        if (cli.connect) {
            rc = sf_check_connect(a, stdout);
        }
    }
    sf_diag_free(&d);
    sf_agent_destroy(a);
    return rc;
}

static int cmd_agent(int argc, char **argv)
{
    struct cli cli = { .monitoring_port = 41414 };
    if (parse_args(argc, argv, &cli) != SF_OK) {
        return 2;
    }
    /* signals are taken synchronously by this thread; every other thread blocks them */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct sf_diag d = { 0 };
    struct sf_agent *a = load(&cli, false, &d);
    sf_diag_log(&d);
    if (!a) {
        SF_ERROR("configuration \"%s\" is invalid (%zu error(s)); nothing started", cli.file,
                 d.nerrors);
        sf_diag_free(&d);
        return 2;
    }
    sf_diag_free(&d);
    SF_INFO("sqlflume %s starting agent \"%s\" from \"%s\"", SF_VERSION, cli.name, cli.file);
    if (cli.monitoring_type) { /* bound before anything starts: a port in use touches nothing */
        char err[512];
        if (sf_agent_bind_metrics(a, cli.monitoring_host, cli.monitoring_port, NULL, err,
                                  sizeof(err)) != SF_OK) {
            SF_ERROR("%s; nothing started", err);
            sf_agent_destroy(a);
            return 1;
        }
    }
    if (sf_agent_start(a) != 0) {
        sf_agent_destroy(a);
        return 1;
    }
    if (cli.monitoring_type) {
        char err[512];
        if (sf_agent_serve_metrics(a, cli.monitoring_host, cli.monitoring_port, NULL, err,
                                   sizeof(err)) != SF_OK) {
            SF_ERROR("%s; stopping", err);
            sf_agent_request_stop(a, 1);
        }
    }
    struct timespec tick = { 0, 200 * 1000000 };
    while (!sf_agent_stop_requested(a)) {
        int sig = sigtimedwait(&set, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            SF_INFO("received %s; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
            sf_agent_request_stop(a, 0);
        } else if (sig == SIGHUP) {
            SF_INFO("received SIGHUP; configuration reload is not supported, ignored");
        }
    }
    sf_agent_stop(a);
    int rc = sf_agent_exit_code(a);
    sf_agent_destroy(a);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        (strcmp(argv[1], "help") == 0 && argc == 2)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-V") == 0 ||
        strcmp(argv[1], "version") == 0) {
        printf("sqlflume %s\n", SF_VERSION);
        return 0;
    }
    if (strcmp(argv[1], "help") == 0 && argc > 2 && strcmp(argv[2], "config") == 0) {
        return cmd_help_config();
    }
    if (strcmp(argv[1], "agent") == 0) {
        return cmd_agent(argc, argv);
    }
    if (strcmp(argv[1], "check") == 0) {
        return cmd_check(argc, argv);
    }
    if (strcmp(argv[1], "avro-client") == 0) {
        return sf_avro_cli_main(argc, argv);
    }
    fprintf(stderr, "sqlflume: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}
