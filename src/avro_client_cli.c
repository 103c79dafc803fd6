/*
 * `sqlflume avro-client` (see avro_client_cli.h), after Flume's AvroCLIClient: -H/--host,
 * -p/--port, -F/--filename, -R/--headerFile; -c/--conf is flume-ng's configuration directory,
 * accepted and unused as by `sqlflume agent`. Not supported, refused with a message:
 * -P/--rpcProps (an RPC client properties file) and --dirname (a spooling directory).
 *
 * Differences from Flume, on purpose: a failure exits non-zero (AvroCLIClient logs it and exits
 * 0); the bodies are the line's bytes as read (Java decodes and re-encodes them in the platform
 * charset, the same bytes for UTF-8 text); the header file is read by the agent's properties
 * reader, so ${VAR} in it is replaced from the environment as in an agent configuration.
 */
#include "avro_client_cli.h"

#include "rpc/avro_client.h"

#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

/* Flume's RPC client defaults (RpcClientConfigurationConstants), ms */
#define CONNECT_TIMEOUT_MS 20000
#define REQUEST_TIMEOUT_MS 20000

void sf_avro_cli_usage(FILE *out)
{
    fprintf(out, "       sqlflume avro-client -H HOST -p PORT [-F FILE] [-R HEADERFILE] "
                 "[-c CONFDIR]\n");
}

static void help(FILE *out)
{
    fprintf(out,
            "usage: sqlflume avro-client -H HOST -p PORT [-F FILE] [-R HEADERFILE] "
            "[-c CONFDIR]\n"
            "\n"
            "Sends each line of FILE (stdin without -F) as one event, the line without its\n"
            "end (\\n, \\r\\n or \\r), to the AvroSource at HOST:PORT, in appendBatch calls "
            "of %d\n"
            "events, as flume-ng avro-client. Exit 0 when every batch was answered OK, 1 when\n"
            "the server cannot be reached or answers otherwise, 2 on bad arguments.\n"
            "\n"
            "  -H, --host HOST          host name or address of the AvroSource\n"
            "  -p, --port PORT          its port\n"
            "  -F, --filename FILE      the file to send (default: stdin)\n"
            "  -R, --headerFile FILE    headers of every event, key=value lines (Java\n"
            "                           properties syntax)\n"
            "  -c, --conf DIR           configuration directory (accepted for flume-ng\n"
            "                           compatibility)\n"
            "  -h, --help               this help\n",
            SF_AVRO_CLI_BATCH);
}

/* The next line of f into line (reset first), without its end. @return false at the end */
static bool read_line(FILE *f, struct sf_buf *line)
{
    sf_buf_reset(line);
    sf_buf_reserve(line, 0); /* data is never NULL: an empty line is an empty body */
    int ch = getc(f);
    if (ch == EOF) {
        return false;
    }
    for (; ch != EOF; ch = getc(f)) {
        if (ch == '\n') {
            break;
        }
        if (ch == '\r') {
            int next = getc(f);
            if (next != '\n' && next != EOF) {
                ungetc(next, f);
            }
            break;
        }
        sf_buf_putc(line, (char)ch);
    }
    return true;
}

/* Load the header file's properties into hs (caller frees props). @return SF_OK or an error
 * (said on stderr) */
static int load_headers(const char *path, struct sf_props *props, struct sf_header **hs, size_t *n)
{
    struct sf_diag d = { 0 };
    int rc = sf_props_load(props, path, &d);
    for (size_t i = 0; i < d.nerrors; i++) {
        fprintf(stderr, "sqlflume avro-client: header file: %s\n", d.errors[i]);
    }
    if (rc == SF_OK && d.nerrors > 0) {
        rc = SF_ERR_INVAL;
    }
    sf_diag_free(&d);
    if (rc != SF_OK) {
        return rc;
    }
    *hs = calloc(props->n ? props->n : 1, sizeof(**hs));
    if (!*hs) {
        fprintf(stderr, "sqlflume avro-client: out of memory\n");
        return SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < props->n; i++) {
        (*hs)[i] = (struct sf_header){ props->v[i].key, props->v[i].val };
    }
    *n = props->n;
    return SF_OK;
}

struct cli_args {
    const char *host, *port, *file, *header_file;
};

/* @return SF_OK, or SF_ERR_INVAL (said on stderr); exits 0 after --help */
static int parse(int argc, char **argv, struct cli_args *a, long long *port)
{
    enum { OPT_DIRNAME = 256 };
    static const struct option longopts[] = { { "host", required_argument, NULL, 'H' },
                                              { "port", required_argument, NULL, 'p' },
                                              { "filename", required_argument, NULL, 'F' },
                                              { "headerFile", required_argument, NULL, 'R' },
                                              { "conf", required_argument, NULL, 'c' },
                                              { "rpcProps", required_argument, NULL, 'P' },
                                              { "dirname", required_argument, NULL, OPT_DIRNAME },
                                              { "help", no_argument, NULL, 'h' },
                                              { NULL, 0, NULL, 0 } };
    int opt;
    optind = 2;
    while ((opt = getopt_long(argc, argv, "H:p:F:R:c:P:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'H':
            a->host = optarg;
            break;
        case 'p':
            a->port = optarg;
            break;
        case 'F':
            a->file = optarg;
            break;
        case 'R':
            a->header_file = optarg;
            break;
        case 'c':
            break;
        case 'P':
            fprintf(stderr, "sqlflume avro-client: -P/--rpcProps (an RPC client properties "
                            "file) is not supported; give -H HOST -p PORT\n");
            return SF_ERR_INVAL;
        case OPT_DIRNAME:
            fprintf(stderr, "sqlflume avro-client: --dirname (a spooling directory) is not "
                            "supported; give -F FILE or stdin\n");
            return SF_ERR_INVAL;
        case 'h':
            help(stdout);
            exit(0);
        default:
            help(stderr);
            return SF_ERR_INVAL;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "sqlflume avro-client: unexpected argument \"%s\"\n", argv[optind]);
        return SF_ERR_INVAL;
    }
    if (!a->host || !a->port) {
        fprintf(stderr, "sqlflume avro-client: both -H/--host and -p/--port must be given\n");
        return SF_ERR_INVAL;
    }
    char *end = NULL;
    errno = 0;
    *port = strtoll(a->port, &end, 10);
    if (errno || end == a->port || *end || *port < 1 || *port > 65535) {
        fprintf(stderr, "sqlflume avro-client: bad port \"%s\" (1-65535)\n", a->port);
        return SF_ERR_INVAL;
    }
    return SF_OK;
}

/* Send every line of in in batches over cl. @return the exit code */
static int send_lines(struct sf_avro_client *cl,
                      FILE *in,
                      const char *what,
                      const struct cli_args *a,
                      long long port,
                      const struct sf_header *hs,
                      size_t nh)
{
    struct sf_event *evs[SF_AVRO_CLI_BATCH];
    struct sf_buf line = SF_BUF_INIT;
    long long sent = 0;
    int rc = 0;
    for (bool more = true; more && rc == 0;) {
        size_t n = 0;
        while (n < SF_AVRO_CLI_BATCH && (more = read_line(in, &line))) {
            evs[n] = sf_event_create(hs, nh, line.data, line.len);
            if (!evs[n]) {
                fprintf(stderr, "sqlflume avro-client: out of memory\n");
                rc = SF_AVRO_CLI_EXIT_FAILED;
                break;
            }
            n++;
        }
        if (rc == 0 && ferror(in)) {
            fprintf(stderr, "sqlflume avro-client: reading %s: %s\n", what, strerror(errno));
            rc = SF_AVRO_CLI_EXIT_USAGE;
        }
        if (rc == 0 && n > 0) {
            char detail[256];
            const char *fail =
                sf_avro_client_append_batch(cl, evs, n, REQUEST_TIMEOUT_MS, detail, sizeof(detail));
            if (fail) {
                fprintf(stderr,
                        "sqlflume avro-client: appendBatch of %zu events to %s:%lld: "
                        "%s: %s (%lld events sent before it)\n",
                        n, a->host, port, fail, detail, sent);
                rc = SF_AVRO_CLI_EXIT_FAILED;
            } else {
                sent += (long long)n;
            }
        }
        for (size_t i = 0; i < n; i++) {
            sf_event_destroy(evs[i]);
        }
    }
    sf_buf_free(&line);
    return rc;
}

int sf_avro_cli_main(int argc, char **argv)
{
    struct cli_args a = { 0 };
    long long port = 0;
    if (parse(argc, argv, &a, &port) != SF_OK) {
        return SF_AVRO_CLI_EXIT_USAGE;
    }
    struct sf_props props = { 0 };
    struct sf_header *hs = NULL;
    size_t nh = 0;
    if (a.header_file && load_headers(a.header_file, &props, &hs, &nh) != SF_OK) {
        sf_props_free(&props);
        return SF_AVRO_CLI_EXIT_USAGE;
    }
    FILE *in = stdin;
    if (a.file && !(in = fopen(a.file, "rb"))) {
        fprintf(stderr, "sqlflume avro-client: cannot open %s: %s\n", a.file, strerror(errno));
        free(hs);
        sf_props_free(&props);
        return SF_AVRO_CLI_EXIT_USAGE;
    }
    struct sf_avro_client cl = { 0 };
    sf_avro_client_init(&cl);
    char err[512];
    int rc = 0;
    if (sf_avro_client_connect(&cl, a.host, port, CONNECT_TIMEOUT_MS, err, sizeof(err)) != SF_OK) {
        fprintf(stderr, "sqlflume avro-client: %s\n", err);
        rc = SF_AVRO_CLI_EXIT_FAILED;
    } else {
        rc = send_lines(&cl, in, a.file ? a.file : "stdin", &a, port, hs, nh);
    }
    sf_avro_client_free(&cl);
    if (in != stdin) {
        fclose(in);
    }
    free(hs);
    sf_props_free(&props);
    return rc;
}
