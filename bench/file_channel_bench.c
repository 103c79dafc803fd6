/*
 * Benchmark of the file channel against the memory channel: one thread puts N events (a
 * 120-byte body and one header, created per event as a source would) in 1000-event
 * transactions while another takes them in 1000-event transactions, and the wall time from the
 * first put to the last take commit is printed with the fsyncs made per 1000 events. Also run:
 * the file channel with testSyncDelayMs=1 (a slow disk; shows what group commit buys) and a
 * "backlog" pass that puts everything before taking anything, so the takes read events back
 * from the log instead of the cache. Not a CMake target; build and run from the repository root:
 *
 *   cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc/include bench/file_channel_bench.c \
 *      src/channels/file/file_channel.c src/channels/file/wal.c src/channels/file/checkpoint.c \
 *      src/channels/memory.c src/core/channel.c src/core/event.c src/core/option.c \
 *      src/core/buf.c src/core/log.c -lpthread -o /tmp/fc_bench
 *   /tmp/fc_bench [events] [directory] [repeats]     (defaults: 1000000 /tmp 3)
 */
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/log.h"
#include "sqlflume/option.h"

#include "../src/channels/file/file_channel.h"

extern const struct sf_channel_plugin sf_channel_memory;

#define TXN 1000

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench_ch {
    struct sf_channel ch;
    struct sf_props props;
};

static struct bench_ch *open_channel(const struct sf_channel_plugin *pl, const char *props)
{
    struct bench_ch *b = calloc(1, sizeof(*b));
    struct sf_diag d = { 0 };
    if (sf_props_parse(&b->props, "bench", props, &d) != 0) {
        sf_diag_log(&d);
        exit(1);
    }
    b->ch.name = strdup("c1");
    b->ch.plugin = pl;
    b->ch.ctx = calloc(1, pl->ctx_size);
    struct sf_section s;
    sf_section_init(&s, &b->props, "channel", "c1", "c.");
    if (sf_options_apply(pl->options, &s, b->ch.ctx, &d) != 0) {
        sf_diag_log(&d);
        exit(1);
    }
    sf_section_free(&s);
    sf_diag_free(&d);
    char err[512];
    if (pl->start(&b->ch, err, sizeof(err)) != SF_OK) {
        fprintf(stderr, "start: %s\n", err);
        exit(1);
    }
    return b;
}

static void close_channel(struct bench_ch *b)
{
    b->ch.plugin->stop(&b->ch);
    sf_options_free(b->ch.plugin->options, b->ch.ctx);
    free(b->ch.ctx);
    free(b->ch.name);
    sf_props_free(&b->props);
    free(b);
}

struct job {
    struct sf_channel *ch;
    long n;
    int failed;
};

static void *producer(void *p)
{
    struct job *j = p;
    char body[121];
    struct sf_header h = { "table", "bench" };
    struct sf_event *evs[TXN];
    for (long i = 0; i < j->n; i += TXN) {
        struct sf_txn *txn = sf_channel_txn_begin(j->ch);
        int k = 0;
        for (long e = i; e < i + TXN && e < j->n; e++, k++) {
            int len = snprintf(body, sizeof(body),
                               "{\"id\":%ld,\"name\":\"customer-%ld\",\"amount\":%ld.%02ld,"
                               "\"created\":\"2024-01-01 00:00:00\",\"note\":\"nnnnnnnnnn\"}",
                               e, e, e % 100000, e % 100);
            evs[k] = sf_event_create(&h, 1, body, (size_t)len);
            sf_channel_put(txn, evs[k]);
        }
        int rc;
        while ((rc = sf_channel_txn_commit(txn)) == SF_ERR_FULL) {
            usleep(1000); /* channel full: retry, as a source backs off */
        }
        if (rc != SF_OK) {
            j->failed = rc;
            return NULL;
        }
        sf_channel_txn_close(txn);
    }
    return NULL;
}

static void *consumer(void *p)
{
    struct job *j = p;
    struct sf_event *out[TXN];
    long got = 0;
    while (got < j->n) {
        struct sf_txn *txn = sf_channel_txn_begin(j->ch);
        size_t n = 0;
        sf_channel_take(txn, out, TXN, &n, 100);
        got += (long)n;
        int rc = sf_channel_txn_commit(txn);
        sf_channel_txn_close(txn);
        if (rc != SF_OK) {
            j->failed = rc;
            return NULL;
        }
    }
    return NULL;
}

struct result {
    double wall_s;
    double cpu_s; /* user + system CPU of the whole process (all threads) during the run */
    long long syncs;
};

static double cpu_now_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* backlog: put everything first, then take */
static struct result
run(const struct sf_channel_plugin *pl, const char *props, long n, bool backlog)
{
    struct bench_ch *b = open_channel(pl, props);
    long long syncs0 = pl == &sf_channel_file ? sf_file_channel_sync_count(&b->ch) : 0;
    struct job pj = { &b->ch, n, 0 }, cj = { &b->ch, n, 0 };
    pthread_t pt, ct;
    double t0 = now_s(), c0 = cpu_now_s();
    pthread_create(&pt, NULL, producer, &pj);
    if (backlog) {
        pthread_join(pt, NULL);
    }
    pthread_create(&ct, NULL, consumer, &cj);
    if (!backlog) {
        pthread_join(pt, NULL);
    }
    pthread_join(ct, NULL);
    struct result r = { now_s() - t0, cpu_now_s() - c0, 0 };
    if (pl == &sf_channel_file) {
        r.syncs = sf_file_channel_sync_count(&b->ch) - syncs0;
    }
    if (pj.failed || cj.failed) {
        fprintf(stderr, "failed: put %d take %d\n", pj.failed, cj.failed);
        exit(1);
    }
    close_channel(b);
    return r;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    const char *base = argc > 2 ? argv[2] : "/tmp";
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    if (repeats < 1 || repeats > 15) {
        fprintf(stderr, "repeats must be 1..15\n");
        return 2;
    }
    sf_log_set_level(SF_LOG_WARN);
    char dir[512];
    if (snprintf(dir, sizeof(dir), "%s/fc-bench.XXXXXX", base) >= (int)sizeof(dir)) {
        fprintf(stderr, "directory name too long\n");
        return 1;
    }
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char common[256];
    snprintf(common, sizeof(common), "c.capacity = 1000000\nc.transactionCapacity = %d\n", TXN);
    struct {
        const char *label;
        const struct sf_channel_plugin *pl;
        const char *extra;
        bool backlog;
    } cases[] = {
        { "memory", &sf_channel_memory, "", false },
        { "file", &sf_channel_file, "", false },
        { "file, zeroFillLogs=true", &sf_channel_file, "c.zeroFillLogs = true\n", false },
        { "file, testSyncDelayMs=1", &sf_channel_file, "c.testSyncDelayMs = 1\n", false },
        { "memory, backlog", &sf_channel_memory, "", true },
        { "file, backlog (read back)", &sf_channel_file, "", true },
    };
    printf("%ld events of ~120 bytes, %d-event transactions, 1 putter + 1 taker; median of %d\n", n,
           TXN, repeats);
    printf("%-28s %9s %8s %12s %10s %14s\n", "channel", "wall s", "cpu s", "events/s", "fsyncs",
           "fsyncs/1000ev");
    double mem_wall[2] = { 0, 0 };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        double walls[16] = { 0 }, cpus[16] = { 0 };
        long long syncs = 0;
        for (int r = 0; r < repeats; r++) {
            char props[2048];
            snprintf(props, sizeof(props),
                     "%sc.checkpointDir = %s/cp%zu.%d\nc.dataDirs = %s/data%zu.%d\n"
                     "c.minimumRequiredSpace = 1048576\n%s",
                     common, dir, c, r, dir, c, r, cases[c].extra);
            struct result res = run(cases[c].pl, props, n, cases[c].backlog);
            walls[r] = res.wall_s;
            cpus[r] = res.cpu_s;
            syncs = res.syncs;
            char cmd[1200];
            snprintf(cmd, sizeof(cmd), "rm -rf %s/cp%zu.%d %s/data%zu.%d", dir, c, r, dir, c, r);
            if (system(cmd) != 0) {
                fprintf(stderr, "cleanup failed\n");
            }
        }
        qsort(walls, (size_t)repeats, sizeof(double), cmp_double);
        double w = walls[repeats / 2];
        qsort(cpus, (size_t)repeats, sizeof(double), cmp_double);
        double cpu = cpus[repeats / 2];
        if (cases[c].pl == &sf_channel_memory) {
            mem_wall[cases[c].backlog] = w;
        }
        printf("%-28s %9.3f %8.3f %12.0f %10lld %14.2f", cases[c].label, w, cpu, (double)n / w,
               syncs, (double)syncs * 1000.0 / (double)n);
        if (cases[c].pl == &sf_channel_file && mem_wall[cases[c].backlog] > 0) {
            printf("   %.2fx memory", w / mem_wall[cases[c].backlog]);
        }
        printf("\n");
    }
    rmdir(dir);
    return 0;
}
