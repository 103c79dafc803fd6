/*
 * Unit tests of the HDFS sink (src/sinks/hdfs/hdfs.c) on the local file system, draining a
 * memory channel: the configure step's refusals (exact messages), an event without a timestamp
 * header on a path with time escapes (errors.tolerance none: the events before it written, then
 * SF_FATAL with the event left in the channel; all: skipped and counted), hdfs.maxOpenFiles
 * closing the least recently used writer, hdfs.idleTimeout, and a full file system (a small
 * tmpfs, root only; skipped with a message otherwise), with and without files rolled inside the
 * failed batch: the batch rolls back, the in-use file is cut back to its durable length and
 * closed, the files the batch created are removed, and everything arrives exactly once when
 * there is room again; and exactly once across a crash (the state log, recovery, positions).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "unit.h"
#include "sqlflume/buf.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"
#include "sqlflume/sink.h"

extern const struct sf_channel_plugin sf_channel_memory;
extern const struct sf_sink_plugin sf_sink_hdfs;

/* The sink k1 on channel c1, its properties and their diagnostics. */
struct rig {
    char dir[64];
    struct sf_props props;
    struct sf_section cs, ks;
    struct sf_channel ch;
    struct sf_sink snk;
    struct sf_diag d;
    int configured; /* configure's result */
    int started;    /* start's result (when configured) */
    char err[1024];
};

/* Make the rig: keys (a1.sinks.k1.* lines, "DIR" replaced by the rig's directory) applied and
 * configured, and started when that worked. */
static struct rig *rig_new(const char *keys, const char *dir)
{
    struct rig *r = calloc(1, sizeof(*r));
    snprintf(r->dir, sizeof(r->dir), "%s", dir ? dir : "/tmp/sf_hdfs_XXXXXX");
    if (!dir) {
        ck_assert_ptr_nonnull(mkdtemp(r->dir));
    }
    struct sf_buf text = SF_BUF_INIT;
    sf_buf_puts(&text, "a1.channels.c1.capacity = 1000\n");
    for (const char *p = keys; *p; p++) {
        if (strncmp(p, "DIR", 3) == 0) {
            sf_buf_puts(&text, r->dir);
            p += 2;
        } else {
            sf_buf_putc(&text, *p);
        }
    }
    ck_assert_int_eq(sf_props_parse(&r->props, "hdfs.conf", text.data, &r->d), SF_OK);
    sf_buf_free(&text);
    r->ch.name = strdup("c1");
    r->ch.plugin = &sf_channel_memory;
    r->ch.ctx = calloc(1, sf_channel_memory.ctx_size);
    sf_section_init(&r->cs, &r->props, "channel", "c1", "a1.channels.c1.");
    ck_assert_int_eq(sf_options_apply(sf_channel_memory.options, &r->cs, r->ch.ctx, &r->d), SF_OK);
    ck_assert_int_eq(sf_channel_memory.start(&r->ch, r->err, sizeof(r->err)), SF_OK);
    r->snk.name = strdup("k1");
    r->snk.plugin = &sf_sink_hdfs;
    r->snk.ch = &r->ch;
    r->snk.ctx = calloc(1, sf_sink_hdfs.ctx_size);
    sf_section_init(&r->ks, &r->props, "sink", "k1", "a1.sinks.k1.");
    r->snk.conf = &r->ks;
    r->configured = sf_options_apply(sf_sink_hdfs.options, &r->ks, r->snk.ctx, &r->d);
    if (r->configured == SF_OK) {
        r->configured = sf_sink_hdfs.configure(&r->snk, &r->d);
    }
    r->started = SF_ERR_STATE;
    if (r->configured == SF_OK) {
        r->started = sf_sink_hdfs.start(&r->snk, r->err, sizeof(r->err));
    }
    return r;
}

static void rig_free(struct rig *r)
{
    if (r->started == SF_OK) {
        sf_sink_hdfs.stop(&r->snk);
    }
    sf_options_free(sf_sink_hdfs.options, r->snk.ctx);
    free(r->snk.ctx);
    free(r->snk.name);
    sf_section_free(&r->ks);
    sf_channel_memory.stop(&r->ch);
    sf_options_free(sf_channel_memory.options, r->ch.ctx);
    free(r->ch.ctx);
    free(r->ch.name);
    sf_section_free(&r->cs);
    sf_props_free(&r->props);
    sf_diag_free(&r->d);
    free(r);
}

static void rm_rf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* Put event "b<i>" with header h = hval and, unless ts is NULL, timestamp = ts. */
static void put1(struct rig *r, int i, const char *hval, const char *ts, size_t pad)
{
    char body[256];
    int n = snprintf(body, sizeof(body), "b%d", i);
    while ((size_t)n < pad && n < 255) {
        body[n++] = '.';
    }
    struct sf_header h[] = { { "h", hval }, { "timestamp", ts } };
    struct sf_txn *t = sf_channel_txn_begin(&r->ch);
    ck_assert_int_eq(sf_channel_put(t, sf_event_create(h, ts ? 2 : 1, body, (size_t)n)), SF_OK);
    ck_assert_int_eq(sf_channel_txn_commit(t), SF_OK);
    sf_channel_txn_close(t);
}

/* Every file under dir (recursively), "relative/name:bytes" sorted and joined by ' '. */
static void walk(const char *dir, const char *rel, struct sf_buf *out)
{
    char path[512];
    snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
    struct dirent **ents;
    int k = scandir(path, &ents, NULL, alphasort);
    for (int i = 0; i < k; i++) {
        const char *n = ents[i]->d_name;
        /* the exactly-once state logs are checked by their own tests */
        if (strcmp(n, ".") != 0 && strcmp(n, "..") != 0 &&
            strncmp(n, ".sqlflume-state.", 16) != 0) {
            char sub[512];
            snprintf(sub, sizeof(sub), "%s%s%s", rel, *rel ? "/" : "", n);
            if (ents[i]->d_type == DT_DIR) {
                walk(dir, sub, out);
            } else {
                char full[1024];
                snprintf(full, sizeof(full), "%s/%s", dir, sub);
                FILE *f = fopen(full, "rb");
                char *buf = malloc(65536);
                size_t len = f ? fread(buf, 1, 65535, f) : 0;
                buf[len] = '\0';
                if (f) {
                    fclose(f);
                }
                /* the counter part of the name is replaced by N */
                char shown[512];
                size_t o = 0;
                for (const char *p = sub; *p && o < sizeof(shown) - 2; p++) {
                    if (*p >= '0' && *p <= '9' && p > sub && p[-1] == '.') {
                        while (p[1] >= '0' && p[1] <= '9') {
                            p++;
                        }
                        shown[o++] = 'N';
                    } else {
                        shown[o++] = *p;
                    }
                }
                shown[o] = '\0';
                for (char *c = buf; *c; c++) {
                    if (*c == '\n') {
                        *c = ',';
                    }
                }
                sf_buf_printf(out, "%s%s=%s", out->len ? " " : "", shown, buf);
                free(buf);
            }
        }
        free(ents[i]);
    }
    if (k >= 0) {
        free(ents);
    }
}

static char *files(const struct rig *r)
{
    struct sf_buf b = SF_BUF_INIT;
    sf_buf_puts(&b, "");
    walk(r->dir, "", &b);
    return sf_buf_steal(&b);
}

#define ASSERT_FILES(r, want)                                                                      \
    do {                                                                                           \
        char *got_ = files(r);                                                                     \
        ck_assert_str_eq(got_, want);                                                              \
        free(got_);                                                                                \
    } while (0)

/* configure's one error for keys, exactly. */
static void refused(const char *keys, const char *want)
{
    struct rig *r = rig_new(keys, NULL);
    ck_assert_int_eq(r->configured, SF_ERR_INVAL);
    ck_assert_msg(r->d.nerrors == 1, "%zu errors, the first: %s, the second: %s", r->d.nerrors,
                  r->d.nerrors ? r->d.errors[0] : "-", r->d.nerrors > 1 ? r->d.errors[1] : "-");
    ck_assert_str_eq(r->d.errors[0], want);
    rm_rf(r->dir);
    rig_free(r);
}

START_TEST(configure_refuses)
{
    refused("a1.sinks.k1.hdfs.path = /flume\n",
            "hdfs.conf:2: a1.sinks.k1.hdfs.path: must be a URI with a scheme and an absolute "
            "path: hdfs://HOST:PORT/dir, webhdfs://HOST:PORT/dir or file:///dir, not \"/flume\"");
    refused("a1.sinks.k1.hdfs.path = s3://b/x\n",
            "hdfs.conf:2: a1.sinks.k1.hdfs.path: unknown scheme \"s3\" in \"s3://b/x\" (known: "
            "hdfs, webhdfs, file)");
    refused("a1.sinks.k1.hdfs.path = hdfs://nn-%{h}:9000/x\n",
            "hdfs.conf:2: a1.sinks.k1.hdfs.path: escapes are allowed in the path only, not in "
            "the scheme or host");
    refused("a1.sinks.k1.hdfs.path = file://DIR/%Q\n",
            "hdfs.conf:2: a1.sinks.k1.hdfs.path: unknown escape %Q at character 21 (known: "
            "%{header}, %[localhost], %[IP], %[FQDN] and %a %A %b %B %c %d %e %D %H %I %j %k %l "
            "%m %M %n %p %s %S %t %y %Y %z)");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.fileType = CompressedStream\n",
            "hdfs.conf:3: a1.sinks.k1.hdfs.fileType: CompressedStream requires a codec: set "
            "hdfs.codeC (gzip, bzip2, deflate, default or snappy)");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.fileType = CompressedStream\n"
            "a1.sinks.k1.hdfs.codeC = lzo\n",
            "hdfs.conf:4: a1.sinks.k1.hdfs.codeC: unsupported compression codec 'lzo'; known: "
            "gzip, bzip2, deflate, default, snappy");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.fileType = DataStream\n"
            "a1.sinks.k1.hdfs.codeC = gzip\n",
            "hdfs.conf:4: a1.sinks.k1.hdfs.codeC: fileType DataStream does not compress (unset "
            "hdfs.codeC, or use fileType CompressedStream or SequenceFile)");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.codeC = bzip2\n",
            "hdfs.conf:3: a1.sinks.k1.hdfs.codeC: \"bzip2\" is not supported with SequenceFile "
            "(known: gzip, default)");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.kerberosPrincipal = f@R\n",
            "hdfs.conf:3: a1.sinks.k1.hdfs.kerberosPrincipal: Kerberos (SPNEGO) is not supported "
            "yet");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.proxyUser = flume\n",
            "hdfs.conf:3: a1.sinks.k1.hdfs.proxyUser: applies to hdfs:// and webhdfs:// paths "
            "only");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.serializer = avro_event\n",
            "hdfs.conf:3: a1.sinks.k1.serializer: applies to fileType DataStream and "
            "CompressedStream only "
            "(SequenceFile: hdfs.writeFormat)");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.fileType = DataStream\n"
            "a1.sinks.k1.hdfs.writeFormat = Text\n",
            "hdfs.conf:4: a1.sinks.k1.hdfs.writeFormat: applies to fileType SequenceFile only");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.filePrefix = a/b\n",
            "hdfs.conf:3: a1.sinks.k1.hdfs.filePrefix: must not contain '/' (directories belong "
            "in hdfs.path)");
    refused("a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.threadsPoolSize = 10\n",
            "hdfs.conf:3: a1.sinks.k1.hdfs.threadsPoolSize = 10 is not supported (the sink "
            "writes on its own thread)");
}
END_TEST

/* tolerance none: the events before the one without a time are written, then the sink stops. */
START_TEST(no_timestamp_stops)
{
    struct rig *r = rig_new("a1.sinks.k1.hdfs.path = file://DIR/%Y\n"
                            "a1.sinks.k1.hdfs.fileType = DataStream\n"
                            "a1.sinks.k1.hdfs.timeZone = UTC\n",
                            NULL);
    ck_assert_int_eq(r->started, SF_OK);
    put1(r, 1, "x", "0", 0);
    put1(r, 2, "x", "86400000", 0);
    put1(r, 3, "x", NULL, 0);
    put1(r, 4, "x", "0", 0);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY); /* limited to the 2 before */
    ck_assert_uint_eq(sf_channel_size(&r->ch), 4);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 2);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_FATAL);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_FATAL);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 2);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.failed), 1);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_failed), 1);
    ASSERT_FILES(r, "1970/FlumeData.N.tmp=b1,b2,");
    sf_sink_hdfs.stop(&r->snk);
    r->started = SF_ERR_STATE;
    ASSERT_FILES(r, "1970/FlumeData.N=b1,b2,");
    rm_rf(r->dir);
    rig_free(r);
}
END_TEST

START_TEST(no_timestamp_skipped)
{
    struct rig *r = rig_new("a1.sinks.k1.hdfs.path = file://DIR/%{h}/%Y\n"
                            "a1.sinks.k1.hdfs.fileType = DataStream\n"
                            "a1.sinks.k1.hdfs.timeZone = UTC\n"
                            "a1.sinks.k1.errors.tolerance = all\n",
                            NULL);
    ck_assert_int_eq(r->started, SF_OK);
    put1(r, 1, "x", "0", 0);
    put1(r, 2, "x", "oops", 0);
    put1(r, 3, "x", NULL, 0);
    put1(r, 4, "x", "0", 0);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 0);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.event_failed), 2);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.failed), 0);
    sf_sink_hdfs.stop(&r->snk);
    r->started = SF_ERR_STATE;
    ASSERT_FILES(r, "x/1970/FlumeData.N=b1,b4,");
    rm_rf(r->dir);
    rig_free(r);
}
END_TEST

/* maxOpenFiles 2: a third path closes the least recently used writer; rollCount per writer. */
START_TEST(max_open_files_lru)
{
    struct rig *r = rig_new("a1.sinks.k1.hdfs.path = file://DIR/%{h}\n"
                            "a1.sinks.k1.hdfs.fileType = DataStream\n"
                            "a1.sinks.k1.hdfs.maxOpenFiles = 2\na1.sinks.k1.hdfs.rollCount = 2\n"
                            "a1.sinks.k1.hdfs.inUsePrefix = _\n"
                            "a1.sinks.k1.hdfs.useLocalTimeStamp = true\n",
                            NULL);
    ck_assert_int_eq(r->started, SF_OK);
    put1(r, 1, "a", NULL, 0);
    put1(r, 2, "b", NULL, 0);
    put1(r, 3, "a", NULL, 0);
    put1(r, 4, "c", NULL, 0); /* b is the least recently used: closed */
    put1(r, 5, "a", NULL, 0); /* a held 2: rolled */
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
    ASSERT_FILES(r, "a/FlumeData.N=b1,b3, a/_FlumeData.N.tmp=b5, b/FlumeData.N=b2, "
                    "c/_FlumeData.N.tmp=b4,");
    sf_sink_hdfs.stop(&r->snk);
    r->started = SF_ERR_STATE;
    ASSERT_FILES(r, "a/FlumeData.N=b1,b3, a/FlumeData.N=b5, b/FlumeData.N=b2, c/FlumeData.N=b4,");
    rm_rf(r->dir);
    rig_free(r);
}
END_TEST

START_TEST(idle_timeout)
{
    struct rig *r = rig_new("a1.sinks.k1.hdfs.path = file://DIR\n"
                            "a1.sinks.k1.hdfs.fileType = DataStream\n"
                            "a1.sinks.k1.hdfs.idleTimeout = 1\na1.sinks.k1.hdfs.rollInterval = 0\n"
                            "a1.sinks.k1.hdfs.emptyInUseSuffix = true\n"
                            "a1.sinks.k1.hdfs.inUsePrefix = .\n",
                            NULL);
    ck_assert_int_eq(r->started, SF_OK);
    put1(r, 1, "a", NULL, 0);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
    ASSERT_FILES(r, ".FlumeData.N=b1,");
    usleep(1100 * 1000);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_BACKOFF); /* empty channel */
    ASSERT_FILES(r, "FlumeData.N=b1,");
    sf_sink_hdfs.stop(&r->snk);
    r->started = SF_ERR_STATE;
    rm_rf(r->dir);
    rig_free(r);
}
END_TEST

/* A full file system: the failed batch leaves no trace, the retry once there is room writes
 * every event once. */
/* The bodies of put1(r, first..last, ..., pad) as the text serializer writes them, after
 * "d/FlumeData.N=" (caller frees). */
static char *expect(int first, int last, size_t pad)
{
    struct sf_buf b = SF_BUF_INIT;
    sf_buf_puts(&b, "d/FlumeData.N=");
    for (int i = first; i <= last; i++) {
        int n = 0;
        sf_buf_printf(&b, "b%d%n", i, &n);
        for (size_t k = (size_t)n; k < pad; k++) {
            sf_buf_putc(&b, '.');
        }
        sf_buf_putc(&b, ',');
    }
    return sf_buf_steal(&b);
}

/* A full file system: the failed batch leaves no trace (an older file cut back to its durable
 * length and closed, the files the batch created removed), the retry once there is room writes
 * every event once. roll_count 0: one file per writer; 15: the second batch rolls twice in it. */
static void disk_full(const char *roll_count, const char *const *after)
{
    if (geteuid() != 0) {
        printf("hdfs disk_full: skipped (needs root to mount a tmpfs)\n");
        return;
    }
    char dir[64];
    snprintf(dir, sizeof(dir), "/tmp/sf_hdfs_full_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    if (mount("tmpfs", dir, "tmpfs", 0, "size=8k") != 0) {
        printf("hdfs disk_full: skipped (mount: %s)\n", strerror(errno));
        rmdir(dir);
        return;
    }
    char keys[512];
    snprintf(keys, sizeof(keys),
             "a1.channels.c1.transactionCapacity = 100\n"
             "a1.sinks.k1.hdfs.path = file://DIR/d\n"
             "a1.sinks.k1.hdfs.fileType = DataStream\n"
             "a1.sinks.k1.hdfs.rollCount = %s\na1.sinks.k1.hdfs.rollSize = 0\n"
             "a1.sinks.k1.hdfs.batchSize = 40\n",
             roll_count);
    struct rig *r = rig_new(keys, dir);
    ck_assert_int_eq(r->started, SF_OK);
    for (int i = 1; i <= 10; i++) {
        put1(r, i, "a", NULL, 200);
    }
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY); /* 2010 bytes */
    for (int i = 11; i <= 50; i++) {
        put1(r, i, "a", NULL, 200);
    }
    /* 40 x 201 bytes do not fit in what is left of 8 KiB */
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_FAILED);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 40);
    ck_assert_int_eq(atomic_load(&r->snk.metrics.write_fail), 1);
    /* the in-use file was cut back to the first batch and closed */
    char *want = expect(1, 10, 200);
    ASSERT_FILES(r, want);
    free(want);
    ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=64k"), 0);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 0);
    sf_sink_hdfs.stop(&r->snk);
    r->started = SF_ERR_STATE;
    struct sf_buf all = SF_BUF_INIT;
    char *a = expect(1, 10, 200);
    sf_buf_puts(&all, a);
    free(a);
    for (const char *const *f = after; *f; f++) {
        int lo, hi;
        ck_assert_int_eq(sscanf(*f, "%d-%d", &lo, &hi), 2);
        a = expect(lo, hi, 200);
        sf_buf_printf(&all, " %s", a);
        free(a);
    }
    ASSERT_FILES(r, all.data);
    sf_buf_free(&all);
    rig_free(r);
    ck_assert_int_eq(umount(dir), 0);
    rmdir(dir);
}

START_TEST(disk_full_one_file)
{
    static const char *const after[] = { "11-50", NULL };
    disk_full("0", after);
}
END_TEST

START_TEST(disk_full_rolling)
{
    static const char *const after[] = { "11-25", "26-40", "41-50", NULL };
    disk_full("15", after);
}
END_TEST

/* The output of the shell command cmd (caller frees). */
static char *run(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    struct sf_buf b = SF_BUF_INIT;
    sf_buf_puts(&b, "");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0) {
        sf_buf_append(&b, buf, n);
    }
    ck_assert_int_eq(pclose(p), 0);
    return sf_buf_steal(&b);
}

/* CompressedStream with each codec an independent tool reads: the codec's extension, one
 * complete member per batch (the in-use file decompresses whole after every batch), rolling. */
/* Put event "r<id>" with headers table = t, offset = id, timestamp = 1000. */
static void put_row(struct rig *r, int id)
{
    char body[32], off[32];
    snprintf(body, sizeof(body), "r%d", id);
    snprintf(off, sizeof(off), "%d", id);
    struct sf_header h[] = { { "table", "t" }, { "offset", off }, { "timestamp", "1000" } };
    struct sf_txn *t = sf_channel_txn_begin(&r->ch);
    ck_assert_int_eq(sf_channel_put(t, sf_event_create(h, 3, body, strlen(body))), SF_OK);
    ck_assert_int_eq(sf_channel_txn_commit(t), SF_OK);
    sf_channel_txn_close(t);
}

static void sh_ok(const char *cmd)
{
    ck_assert_msg(system(cmd) == 0, "%s", cmd);
}

/* Exactly once (the default): a crash after a batch's bytes reached the file but before its
 * state record (the file longer than the state says), with a torn record at the end of the
 * state log, then a restart whose source reads rows 1..25 again (a memory channel resuming from
 * an old flume_meta offset): the in-use file is cut back to its committed batches and closed,
 * rows 1..20 are skipped, 21..25 written, each row once, no in-use file left. */
START_TEST(exactly_once_crash)
{
    const char *keys = "a1.sinks.k1.hdfs.path = file://DIR/d\n"
                       "a1.sinks.k1.hdfs.fileType = DataStream\n"
                       "a1.sinks.k1.hdfs.rollCount = 0\na1.sinks.k1.hdfs.rollSize = 0\n"
                       "a1.sinks.k1.hdfs.rollInterval = 0\na1.sinks.k1.hdfs.batchSize = 10\n";
    struct rig *r = rig_new(keys, NULL);
    ck_assert_int_eq(r->started, SF_OK);
    char dir[64];
    snprintf(dir, sizeof(dir), "%s", r->dir);
    for (int i = 1; i <= 20; i++) {
        put_row(r, i);
    }
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
    /* the crash: what is on disk now, plus part of a third batch in the file and a record cut
     * short in the log */
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "cp -a '%s' '%s.snap' && for f in '%s.snap'/d/*.tmp; do printf 'r21\\nr2' >> \"$f\"; "
             "done && for f in '%s.snap'/.sqlflume-state.*; do printf "
             "'\\nsqlflume-file-state 1 99\\nfile /x' >> \"$f\"; done",
             dir, dir, dir, dir);
    sh_ok(cmd);
    rig_free(r);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mv '%s.snap' '%s'", dir, dir, dir);
    sh_ok(cmd);
    r = rig_new(keys, dir);
    ck_assert_int_eq(r->started, SF_OK);
    for (int i = 1; i <= 25; i++) {
        put_row(r, i);
    }
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
    }
    ck_assert_uint_eq(sf_channel_size(&r->ch), 0);
    sf_sink_hdfs.stop(&r->snk);
    r->started = SF_ERR_STATE;
    ASSERT_FILES(r, "d/FlumeData.N=r1,r2,r3,r4,r5,r6,r7,r8,r9,r10,r11,r12,r13,r14,r15,r16,r17,"
                    "r18,r19,r20, d/FlumeData.N=r21,r22,r23,r24,r25,");
    rm_rf(r->dir);
    rig_free(r);
}
END_TEST

/* A state log with no whole record (its CRC broken) past the first log: the sink refuses to
 * guess and stops (SF_FATAL) with an ERROR line naming the logs; nothing is written. */
START_TEST(exactly_once_damaged_state)
{
    const char *keys = "a1.sinks.k1.hdfs.path = file://DIR/d\n"
                       "a1.sinks.k1.hdfs.fileType = DataStream\n";
    struct rig *r = rig_new(keys, NULL);
    ck_assert_int_eq(r->started, SF_OK);
    char cmd[512];
    snprintf(cmd, sizeof(cmd),
             "mkdir -p '%s/d' && printf '\\nsqlflume-file-state 1 4\\nend 00000000\\n' > "
             "'%s/d/.sqlflume-state.'$(hostname -s)'.agent.k1.7'",
             r->dir, r->dir);
    sh_ok(cmd);
    put_row(r, 1);
    ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_FATAL);
    ck_assert_uint_eq(sf_channel_size(&r->ch), 1);
    ASSERT_FILES(r, "");
    sf_sink_hdfs.stop(&r->snk);
    r->started = SF_ERR_STATE;
    rm_rf(r->dir);
    rig_free(r);
}
END_TEST

START_TEST(compressed_stream)
{
    static const struct {
        const char *codec, *ext, *reader;
    } cs[] = {
        { "gzip", ".gz", "sh -c 'gzip -t \"$0\" && gzip -dc \"$0\"'" },
        { "bzip2", ".bz2", "sh -c 'bzip2 -t \"$0\" && bzip2 -dc \"$0\"'" },
        { "DefaultCodec", ".deflate",
          "/usr/bin/python3 -c 'import sys,zlib\nd=open(sys.argv[1],\"rb\").read()\nwhile d:\n"
          " o=zlib.decompressobj(); sys.stdout.buffer.write(o.decompress(d)); "
          "assert o.eof; d=o.unused_data'" },
        { "org.apache.hadoop.io.compress.DeflateCodec", ".deflate",
          "/usr/bin/python3 -c 'import sys,zlib\nd=open(sys.argv[1],\"rb\").read()\nwhile d:\n"
          " o=zlib.decompressobj(); sys.stdout.buffer.write(o.decompress(d)); "
          "assert o.eof; d=o.unused_data'" },
    };
    for (size_t k = 0; k < sizeof(cs) / sizeof(cs[0]); k++) {
        char keys[512];
        snprintf(keys, sizeof(keys),
                 "a1.sinks.k1.hdfs.path = file://DIR\na1.sinks.k1.hdfs.fileType = "
                 "CompressedStream\na1.sinks.k1.hdfs.codeC = %s\na1.sinks.k1.hdfs.rollCount = 4\n"
                 "a1.sinks.k1.hdfs.useLocalTimeStamp = true\na1.sinks.k1.hdfs.filePrefix = f\n",
                 cs[k].codec);
        struct rig *r = rig_new(keys, NULL);
        ck_assert_int_eq(r->started, SF_OK);
        for (int i = 1; i <= 3; i++) {
            put1(r, i, "a", NULL, 0);
        }
        ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
        /* (reader: a command taking the file as its argument, printing its bytes decompressed) */
    /* the in-use file after one batch: a complete compressed file of the batch's lines */
        char cmd[1024], path[600];
        char *ls = NULL;
        snprintf(cmd, sizeof(cmd), "cd %s && ls", r->dir);
        ls = run(cmd);
        char want_tmp[64];
        snprintf(want_tmp, sizeof(want_tmp), "%s.tmp\n", cs[k].ext);
        ck_assert_msg(strstr(ls, want_tmp) && strchr(ls, '\n') == strrchr(ls, '\n'), "%s: %s",
                      cs[k].codec, ls);
        *strchr(ls, '\n') = '\0';
        snprintf(path, sizeof(path), "%s/%s", r->dir, ls);
        snprintf(cmd, sizeof(cmd), "%s '%s'", cs[k].reader, path);
        char *got = run(cmd);
        ck_assert_str_eq(got, "b1\nb2\nb3\n");
        free(got);
        free(ls);
        for (int i = 4; i <= 6; i++) {
            put1(r, i, "a", NULL, 0);
        }
        ck_assert_int_eq(sf_sink_hdfs.process(&r->snk), SF_READY);
        sf_sink_hdfs.stop(&r->snk);
        r->started = SF_ERR_STATE;
        /* two files, renamed, named f.N<ext>: b1-b4 (two members) and b5-b6 */
        snprintf(cmd, sizeof(cmd), "cd %s && ls", r->dir);
        ls = run(cmd);
        char *second = strchr(ls, '\n');
        ck_assert_ptr_nonnull(second);
        *second++ = '\0';
        ck_assert_ptr_nonnull(strchr(second, '\n'));
        *strchr(second, '\n') = '\0';
        const char *names[2] = { ls, second }, *want[2] = { "b1\nb2\nb3\nb4\n", "b5\nb6\n" };
        for (int f = 0; f < 2; f++) {
            size_t nl = strlen(names[f]), el = strlen(cs[k].ext);
            ck_assert_msg(strncmp(names[f], "f.", 2) == 0 && nl > el &&
                              strcmp(names[f] + nl - el, cs[k].ext) == 0,
                          "%s: file %s", cs[k].codec, names[f]);
            snprintf(path, sizeof(path), "%s/%s", r->dir, names[f]);
            snprintf(cmd, sizeof(cmd), "%s '%s'", cs[k].reader, path);
            got = run(cmd);
            ck_assert_msg(strcmp(got, want[f]) == 0, "%s: %s holds \"%s\"", cs[k].codec,
                          names[f], got);
            free(got);
        }
        free(ls);
        rm_rf(r->dir);
        rig_free(r);
    }
}
END_TEST

SF_UNIT_SUITE(hdfs)
{
    Suite *s = suite_create("hdfs");
    TCase *tc = tcase_create("hdfs");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, configure_refuses);
    tcase_add_test(tc, no_timestamp_stops);
    tcase_add_test(tc, no_timestamp_skipped);
    tcase_add_test(tc, max_open_files_lru);
    tcase_add_test(tc, idle_timeout);
    tcase_add_test(tc, disk_full_one_file);
    tcase_add_test(tc, disk_full_rolling);
    tcase_add_test(tc, compressed_stream);
    tcase_add_test(tc, exactly_once_crash);
    tcase_add_test(tc, exactly_once_damaged_state);
    suite_add_tcase(s, tc);
    return s;
}
