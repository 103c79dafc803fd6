/*
 * mock_kafka: librdkafka's mock cluster (rdkafka_mock.h) hosted as a stand-alone process so that
 * integration tests and benchmarks can reach it over TCP like a real Kafka cluster. It prints one
 * line `BOOTSTRAP=<host:port,...>` on stdout when the brokers listen (and writes the same
 * host:port list to the -P file, if given), then obeys one command per stdin line, answering
 * `OK` or `ERR <why>` on stdout:
 *   down <broker_id|-1>          close the broker's connections and refuse new ones
 *   up <broker_id|-1>            accept connections again
 *   topic <name> [partitions]    create a topic (partitions default: -p)
 *   rtt <broker_id|-1> <ms>      add a round-trip delay to a broker's responses
 *   leader <topic> <partition> <broker_id|-1>   move a partition's leader
 *   quit                         exit
 * It exits 0 on `quit`, SIGTERM or SIGINT; end of stdin is not a reason to exit (tests often
 * start it in the background with stdin closed or /dev/null).
 *
 * Options: -b N brokers (default 1); -p N partitions for -t and for `topic NAME` without a count
 * (default 1); -t TOPIC create TOPIC with -p partitions before BOOTSTRAP is printed (repeatable);
 * -P PORTFILE. Topics that clients create implicitly (a producer's metadata request for an
 * unknown topic) get librdkafka's fixed mock default of 4 partitions: librdkafka 2.0.2 has no
 * public way to change it, so tests that need one partition create their topics with -t/`topic`.
 * Limits of the mock itself: each partition keeps only the last ~5 MiB or 100,000 message sets
 * (older ones are dropped; offsets and high watermarks still count them), replication is
 * simulated, and nothing is persisted. Linked with Debian's librdkafka 2.0.2, the mock writes no
 * transaction markers, so read_committed consumers also see the messages of aborted and open
 * transactions; tests/support/mock_txn.sh links this same program (as mock_kafka_txn) with a
 * librdkafka whose mock writes them, for the exactly-once tests.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <syslog.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "mock_nodelay.h" /* TCP_NODELAY on the mock brokers' sockets */

#define MAX_TOPICS     64
#define LINE_MAX_BYTES 4096

static void usage(FILE *f)
{
    (void)fprintf(f, "usage: mock_kafka [-b brokers] [-p partitions] [-t topic]... [-P portfile]\n"
                     "stdin commands: down ID | up ID | topic NAME [PARTITIONS] | rtt ID MS |\n"
                     "                leader TOPIC PARTITION ID | quit\n");
}

/* librdkafka's own log lines: keep errors, drop the notices of the dummy handle (it has no
 * bootstrap.servers on purpose). */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    if (level <= LOG_ERR) {
        (void)fprintf(stderr, "mock_kafka: %s: %s\n", fac, buf);
    }
}

static void reply(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void reply(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    (void)vfprintf(stdout, fmt, ap);
    va_end(ap);
    (void)fputc('\n', stdout);
    (void)fflush(stdout);
}

/* Parse a whole decimal integer in [min, max]. @return 0 or -1. */
static int parse_int(const char *s, long min, long max, long *out)
{
    if (!s || !*s) {
        return -1;
    }
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < min || v > max) {
        return -1;
    }
    *out = v;
    return 0;
}

static void reply_err(rd_kafka_resp_err_t err)
{
    if (err) {
        reply("ERR %s", rd_kafka_err2str(err));
    } else {
        reply("OK");
    }
}

/* Execute one command line (modified in place). @return true when the process should exit. */
static bool run_command(rd_kafka_mock_cluster_t *mc, char *line, long default_partitions)
{
    char *argv[5];
    int argc = 0;
    char *save = NULL;
    for (char *tok = strtok_r(line, " \t\r", &save); tok && argc < 5;
         tok = strtok_r(NULL, " \t\r", &save)) {
        argv[argc++] = tok;
    }
    if (argc == 0) {
        return false; /* blank line: no answer */
    }
    long id, n, part;
    if (strcmp(argv[0], "quit") == 0 && argc == 1) {
        reply("OK");
        return true;
    } else if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) && argc == 2) {
        if (parse_int(argv[1], -1, INT32_MAX, &id) != 0) {
            reply("ERR bad broker id \"%s\"", argv[1]);
        } else if (argv[0][0] == 'd') {
            reply_err(rd_kafka_mock_broker_set_down(mc, (int32_t)id));
        } else {
            reply_err(rd_kafka_mock_broker_set_up(mc, (int32_t)id));
        }
    } else if (strcmp(argv[0], "topic") == 0 && (argc == 2 || argc == 3)) {
        n = default_partitions;
        if (argc == 3 && parse_int(argv[2], 1, 100000, &n) != 0) {
            reply("ERR bad partition count \"%s\"", argv[2]);
        } else {
            reply_err(rd_kafka_mock_topic_create(mc, argv[1], (int)n, 1));
        }
    } else if (strcmp(argv[0], "rtt") == 0 && argc == 3) {
        if (parse_int(argv[1], -1, INT32_MAX, &id) != 0 ||
            parse_int(argv[2], 0, 3600000, &n) != 0) {
            reply("ERR usage: rtt BROKER_ID MS");
        } else {
            reply_err(rd_kafka_mock_broker_set_rtt(mc, (int32_t)id, (int)n));
        }
    } else if (strcmp(argv[0], "leader") == 0 && argc == 4) {
        if (parse_int(argv[2], 0, INT32_MAX, &part) != 0 ||
            parse_int(argv[3], -1, INT32_MAX, &id) != 0) {
            reply("ERR usage: leader TOPIC PARTITION BROKER_ID");
        } else {
            reply_err(rd_kafka_mock_partition_set_leader(mc, argv[1], (int32_t)part, (int32_t)id));
        }
    } else {
        reply("ERR unknown command \"%s\" (down ID, up ID, topic NAME [N], rtt ID MS, "
              "leader TOPIC P ID, quit)",
              argv[0]);
    }
    return false;
}

/* Write the bootstrap list to path through a temporary file, so readers never see half. */
static int write_portfile(const char *path, const char *bootstraps)
{
    size_t len = strlen(path) + 8;
    char *tmp = malloc(len);
    if (!tmp) {
        return -1;
    }
    (void)snprintf(tmp, len, "%s.tmp", path);
    int rc = -1;
    FILE *f = fopen(tmp, "w");
    if (f) {
        bool ok = fprintf(f, "%s\n", bootstraps) > 0;
        ok = (fclose(f) == 0) && ok;
        if (ok && rename(tmp, path) == 0) {
            rc = 0;
        } else {
            unlink(tmp);
        }
    }
    free(tmp);
    return rc;
}

int main(int argc, char **argv)
{
    long brokers = 1, partitions = 1;
    const char *portfile = NULL;
    const char *topics[MAX_TOPICS];
    int ntopics = 0;
    int opt;
    while ((opt = getopt(argc, argv, "b:p:t:P:h")) != -1) {
        switch (opt) {
        case 'b':
            if (parse_int(optarg, 1, 64, &brokers) != 0) {
                (void)fprintf(stderr, "mock_kafka: -b: expected 1..64, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 'p':
            if (parse_int(optarg, 1, 100000, &partitions) != 0) {
                (void)fprintf(stderr, "mock_kafka: -p: expected 1..100000, got \"%s\"\n", optarg);
                return 2;
            }
            break;
        case 't':
            if (ntopics == MAX_TOPICS) {
                (void)fprintf(stderr, "mock_kafka: at most %d -t options\n", MAX_TOPICS);
                return 2;
            }
            topics[ntopics++] = optarg;
            break;
        case 'P':
            portfile = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }

    /* Block the stop signals before librdkafka starts its threads (they inherit the mask), and
     * receive them through a signalfd in the command loop. */
    sigset_t stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGTERM);
    sigaddset(&stop_sigs, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL) != 0) {
        perror("mock_kafka: pthread_sigmask");
        return 1;
    }
    int sfd = signalfd(-1, &stop_sigs, SFD_CLOEXEC);
    if (sfd < 0) {
        perror("mock_kafka: signalfd");
        return 1;
    }
    (void)signal(SIGPIPE, SIG_IGN);

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    if (rd_kafka_conf_set(conf, "client.id", "mock_kafka", errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        (void)fprintf(stderr, "mock_kafka: %s\n", errstr);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        (void)fprintf(stderr, "mock_kafka: could not create the librdkafka handle: %s\n", errstr);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (!mc) {
        (void)fprintf(stderr, "mock_kafka: could not create a mock cluster of %ld brokers\n",
                      brokers);
        rd_kafka_destroy(rk);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < ntopics; i++) {
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, topics[i], (int)partitions, 1);
        if (err) {
            (void)fprintf(stderr, "mock_kafka: could not create topic \"%s\": %s\n", topics[i],
                          rd_kafka_err2str(err));
            rc = 1;
            goto out;
        }
    }
    const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
    if (portfile && write_portfile(portfile, bootstraps) != 0) {
        (void)fprintf(stderr, "mock_kafka: could not write \"%s\": %s\n", portfile,
                      strerror(errno));
        rc = 1;
        goto out;
    }
    printf("BOOTSTRAP=%s\n", bootstraps);
    (void)fflush(stdout);

    char line[LINE_MAX_BYTES];
    size_t len = 0;
    bool stdin_open = true, quit = false;
    while (!quit) {
        struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN },
                                 { .fd = STDIN_FILENO, .events = POLLIN } };
        int r = poll(pfd, stdin_open ? 2 : 1, -1);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            perror("mock_kafka: poll");
            rc = 1;
            break;
        }
        if (pfd[0].revents & POLLIN) {
            struct signalfd_siginfo si;
            if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                break;
            }
        }
        if (!stdin_open || !(pfd[1].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL))) {
            continue;
        }
        if (pfd[1].revents & POLLNVAL) {
            stdin_open = false; /* stdin closed before we started */
            continue;
        }
        ssize_t n = read(STDIN_FILENO, line + len, sizeof(line) - 1 - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            stdin_open = false; /* EOF: keep serving until quit or a signal */
            continue;
        }
        len += (size_t)n;
        char *start = line, *nl;
        while (!quit && (nl = memchr(start, '\n', len - (size_t)(start - line))) != NULL) {
            *nl = '\0';
            quit = run_command(mc, start, partitions);
            start = nl + 1;
        }
        len -= (size_t)(start - line);
        memmove(line, start, len);
        if (len == sizeof(line) - 1) {
            reply("ERR line longer than %d bytes", LINE_MAX_BYTES - 1);
            len = 0;
        }
    }

out:
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    if (portfile) {
        unlink(portfile);
    }
    close(sfd);
    return rc;
}
