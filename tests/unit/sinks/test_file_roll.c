/*
 * Unit tests of the file_roll sink (src/sinks/file_roll.c) draining a memory channel: the file
 * names of both path managers, rolling by a short interval (and never with 0), each serializer
 * read back (text and header_and_text compared byte for byte, avro_event through python3-avro in
 * tests/support/avro_dump.py), unknown keys, and failing writes: a directory the sink may not
 * write to (when not root) and a full file system (a small tmpfs, root only; skipped with a
 * message otherwise), where the take rolls back, the events stay in the channel, the file keeps
 * exactly its committed batches, and everything arrives once when there is room again.
 * Timeouts are multiplied by SF_TIME_MULT (sanitizer runs).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "unit_file.h"
#include "sqlflume/buf.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/log.h"
#include "sqlflume/option.h"
#include "sqlflume/sink.h"

extern const struct sf_channel_plugin sf_channel_memory;
extern const struct sf_sink_plugin sf_sink_file_roll;

static long long time_mult = 1;

/* A memory channel c1 and a file_roll sink k1 writing into a fresh directory. */
struct fr {
    char dir[64];
    struct sf_props props;
    struct sf_section csec, ksec;
    struct sf_channel ch;
    struct sf_sink snk;
    struct sf_diag d;
    bool started;
    char err[512];
};

/* Build the rig from extra (a1.sinks.k1.* lines; sink.directory is added); dir is made unless
 * dir_ready (then f->dir must be set). Starts the sink (f->started, f->err). */
static struct fr *fr_new(const char *extra, const char *dir)
{
    struct fr *f = calloc(1, sizeof(*f));
    if (dir) {
        snprintf(f->dir, sizeof(f->dir), "%s", dir);
    } else {
        snprintf(f->dir, sizeof(f->dir), "/tmp/sf_file_roll_XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(f->dir));
    }
    struct sf_buf conf = SF_BUF_INIT;
    sf_buf_printf(&conf, "a1.channels.c1.capacity = 10000\na1.channels.c1.transactionCapacity = "
                         "1000\na1.sinks.k1.sink.directory = %s\n%s",
                  f->dir, extra);
    ck_assert_int_eq(sf_props_parse(&f->props, "file_roll.conf", conf.data, &f->d), 0);
    sf_buf_free(&conf);
    f->ch.name = strdup("c1");
    f->ch.plugin = &sf_channel_memory;
    f->ch.ctx = calloc(1, sf_channel_memory.ctx_size);
    sf_section_init(&f->csec, &f->props, "channel", "c1", "a1.channels.c1.");
    ck_assert_int_eq(sf_options_apply(sf_channel_memory.options, &f->csec, f->ch.ctx, &f->d), 0);
    ck_assert_int_eq(sf_channel_memory.start(&f->ch, f->err, sizeof(f->err)), SF_OK);
    f->snk.name = strdup("k1");
    f->snk.plugin = &sf_sink_file_roll;
    f->snk.ch = &f->ch;
    f->snk.ctx = calloc(1, sf_sink_file_roll.ctx_size);
    sf_section_init(&f->ksec, &f->props, "sink", "k1", "a1.sinks.k1.");
    f->snk.conf = &f->ksec;
    ck_assert_int_eq(sf_options_apply(sf_sink_file_roll.options, &f->ksec, f->snk.ctx, &f->d), 0);
    f->started = sf_sink_file_roll.start(&f->snk, f->err, sizeof(f->err)) == SF_OK;
    return f;
}

static void fr_free(struct fr *f, bool rm_dir)
{
    if (f->started) {
        sf_sink_file_roll.stop(&f->snk);
    }
    sf_options_free(sf_sink_file_roll.options, f->snk.ctx);
    free(f->snk.ctx);
    free(f->snk.name);
    sf_section_free(&f->ksec);
    sf_channel_memory.stop(&f->ch);
    sf_options_free(sf_channel_memory.options, f->ch.ctx);
    free(f->ch.ctx);
    free(f->ch.name);
    sf_section_free(&f->csec);
    sf_props_free(&f->props);
    sf_diag_free(&f->d);
    if (rm_dir) {
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
        ck_assert_int_eq(system(cmd), 0);
    }
    free(f);
}

/* Put events with body "event-%06d" (padded with 'x' to body_len when larger) and header seq. */
static void put(struct sf_channel *ch, int first, int n, size_t body_len)
{
    char seq[32];
    char *body = malloc(body_len + 32);
    struct sf_header h[] = { { "seq", seq } };
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    for (int i = first; i < first + n; i++) {
        snprintf(seq, sizeof(seq), "%d", i);
        size_t len = (size_t)snprintf(body, 32, "event-%06d", i);
        while (len < body_len) {
            body[len++] = 'x';
        }
        ck_assert_int_eq(sf_channel_put(txn, sf_event_create(h, 1, body, len)), SF_OK);
    }
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    free(body);
}

/* process() until the channel is empty. */
static void drain(struct fr *f)
{
    for (int i = 0; i < 1000 && sf_channel_size(&f->ch) > 0; i++) {
        ck_assert_int_eq(f->snk.plugin->process(&f->snk), SF_READY);
    }
    ck_assert_uint_eq(sf_channel_size(&f->ch), 0);
}

/* The names of the files in dir, sorted, joined by '\n' (caller frees); *n gets the count. */
static char *list_dir(const char *dir, int *n)
{
    struct dirent **ents;
    int k = scandir(dir, &ents, NULL, alphasort);
    ck_assert_int_ge(k, 0);
    struct sf_buf b = SF_BUF_INIT;
    sf_buf_puts(&b, "");
    *n = 0;
    for (int i = 0; i < k; i++) {
        if (ents[i]->d_name[0] != '.') {
            sf_buf_printf(&b, "%s%s", *n ? "\n" : "", ents[i]->d_name);
            (*n)++;
        }
        free(ents[i]);
    }
    free(ents);
    return sf_buf_steal(&b);
}

/* The whole file dir/name (caller frees), its size in *len. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *data = sf_unit_read_file(path, len);
    ck_assert_msg(data != NULL, "cannot open %s", path);
    return data;
}

/* The text serializer's bytes for events first..first+n-1 of put(). */
static char *expect_text(int first, int n, size_t body_len)
{
    struct sf_buf b = SF_BUF_INIT;
    for (int i = first; i < first + n; i++) {
        sf_buf_printf(&b, "event-%06d", i);
        for (size_t k = 12; k < body_len; k++) {
            sf_buf_putc(&b, 'x');
        }
        sf_buf_putc(&b, '\n');
    }
    return b.len ? sf_buf_steal(&b) : (sf_buf_free(&b), calloc(1, 1));
}

/* Assert that file dir/name holds exactly the text lines of events first..first+n-1. */
static void assert_text_file(const char *dir, const char *name, int first, int n, size_t body_len)
{
    size_t len;
    char *got = slurp(dir, name, &len), *want = expect_text(first, n, body_len);
    ck_assert_uint_eq(len, strlen(want));
    ck_assert_str_eq(got, want);
    free(got);
    free(want);
}

static bool matches(const char *re, const char *s)
{
    regex_t r;
    ck_assert_int_eq(regcomp(&r, re, REG_EXTENDED | REG_NOSUB), 0);
    bool ok = regexec(&r, s, 0, NULL, 0) == 0;
    regfree(&r);
    return ok;
}

START_TEST(default_names_and_text)
{
    struct fr *f = fr_new("a1.sinks.k1.sink.pathManager.prefix = orders-\n"
                          "a1.sinks.k1.sink.pathManager.extension = txt\n"
                          "a1.sinks.k1.sink.batchSize = 7\n",
                          NULL);
    ck_assert_msg(f->started, "%s", f->err);
    ck_assert_uint_eq(f->d.nwarnings, 0);
    put(&f->ch, 0, 20, 0);
    drain(f);
    ck_assert_int_eq(atomic_load(&f->snk.metrics.batch_complete), 2);
    ck_assert_int_eq(atomic_load(&f->snk.metrics.batch_underflow), 1);
    ck_assert_int_eq(f->snk.plugin->process(&f->snk), SF_BACKOFF); /* empty */
    int n;
    char *names = list_dir(f->dir, &n);
    ck_assert_int_eq(n, 1); /* no roll: 30 s by default */
    ck_assert_msg(matches("^orders-[0-9]{13}-1\\.txt$", names), "name %s", names);
    assert_text_file(f->dir, names, 0, 20, 0);
    free(names);
    fr_free(f, true);
}
END_TEST

START_TEST(rolltime_names_and_interval)
{
    struct fr *f = fr_new("a1.sinks.k1.sink.pathManager = rolltime\n"
                          "a1.sinks.k1.sink.rollInterval = 1\n",
                          NULL);
    ck_assert_msg(f->started, "%s", f->err);
    put(&f->ch, 0, 10, 0);
    drain(f);
    usleep((useconds_t)(1100000 * time_mult));
    /* the interval passed: the next step closes the file, an idle step creates none */
    ck_assert_int_eq(f->snk.plugin->process(&f->snk), SF_BACKOFF);
    int n;
    char *names = list_dir(f->dir, &n);
    ck_assert_int_eq(n, 1);
    free(names);
    put(&f->ch, 10, 10, 0);
    drain(f);
    names = list_dir(f->dir, &n);
    ck_assert_int_eq(n, 2);
    char *second = strchr(names, '\n');
    *second++ = '\0';
    ck_assert_msg(matches("^[0-9]{14}-1$", names), "name %s", names);
    ck_assert_msg(matches("^[0-9]{14}-[12]$", second), "name %s", second);
    assert_text_file(f->dir, names, 0, 10, 0);
    assert_text_file(f->dir, second, 10, 10, 0);
    free(names);
    fr_free(f, true);
}
END_TEST

START_TEST(never_roll)
{
    struct fr *f = fr_new("a1.sinks.k1.sink.rollInterval = 0\n", NULL);
    ck_assert_msg(f->started, "%s", f->err);
    put(&f->ch, 0, 5, 0);
    drain(f);
    usleep((useconds_t)(1100000 * time_mult));
    put(&f->ch, 5, 5, 0);
    drain(f);
    int n;
    char *names = list_dir(f->dir, &n);
    ck_assert_int_eq(n, 1);
    assert_text_file(f->dir, names, 0, 10, 0);
    free(names);
    fr_free(f, true);
}
END_TEST

START_TEST(text_options_and_header_and_text)
{
    struct fr *f = fr_new("a1.sinks.k1.sink.serializer = TEXT\n"
                          "a1.sinks.k1.sink.serializer.appendNewline = false\n",
                          NULL);
    ck_assert_msg(f->started, "%s", f->err);
    put(&f->ch, 0, 3, 0);
    drain(f);
    int n;
    char *names = list_dir(f->dir, &n);
    size_t len;
    char *got = slurp(f->dir, names, &len);
    ck_assert_str_eq(got, "event-000000event-000001event-000002");
    free(got);
    free(names);
    fr_free(f, true);

    f = fr_new("a1.sinks.k1.sink.serializer = "
               "org.apache.flume.serialization.HeaderAndBodyTextEventSerializer$Builder\n",
               NULL);
    ck_assert_msg(f->started, "%s", f->err);
    put(&f->ch, 0, 2, 0);
    drain(f);
    names = list_dir(f->dir, &n);
    got = slurp(f->dir, names, &len);
    ck_assert_str_eq(got, "{seq=0} event-000000\n{seq=1} event-000001\n");
    free(got);
    free(names);
    fr_free(f, true);
}
END_TEST

START_TEST(avro_event_read_back)
{
    struct fr *f = fr_new("a1.sinks.k1.sink.serializer = avro_event\n"
                          "a1.sinks.k1.sink.serializer.compressionCodec = deflate\n"
                          "a1.sinks.k1.sink.batchSize = 30\n",
                          NULL);
    ck_assert_msg(f->started, "%s", f->err);
    put(&f->ch, 0, 100, 0);
    drain(f);
    sf_sink_file_roll.stop(&f->snk); /* closes the file */
    f->started = false;
    int n;
    char *names = list_dir(f->dir, &n);
    ck_assert_int_eq(n, 1);
    char cmd[1024], dump[600];
    snprintf(dump, sizeof(dump), "%s.dump", f->dir);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/support/avro_dump.py python %s/%s %s",
             SF_SOURCE_DIR, f->dir, names, dump);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[256] = "";
    ck_assert_ptr_nonnull(fgets(line, sizeof(line), p));
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_str_eq(line, "codec=deflate records=100\n");
    struct sf_buf want = SF_BUF_INIT;
    for (int i = 0; i < 100; i++) {
        char seq[16];
        int sl = snprintf(seq, sizeof(seq), "%d", i);
        sf_buf_printf(&want, "R 1 12\n3 %d\nseq%sevent-%06d", sl, seq, i);
    }
    size_t len;
    char *slash = strrchr(dump, '/');
    *slash = '\0';
    char *got = slurp(dump, slash + 1, &len);
    *slash = '/';
    ck_assert_uint_eq(len, want.len);
    ck_assert_mem_eq(got, want.data, len);
    unlink(dump);
    free(got);
    sf_buf_free(&want);
    free(names);
    fr_free(f, true);
}
END_TEST

START_TEST(bad_configuration)
{
    /* an unknown key is warned about with the nearest one, as for every sink */
    struct fr *f = fr_new("a1.sinks.k1.sink.rollIntervall = 5\n", NULL);
    ck_assert_uint_eq(f->d.nwarnings, 1);
    ck_assert_ptr_nonnull(strstr(f->d.warnings[0], "sink.rollInterval"));
    fr_free(f, true);
    /* an unknown serializer stops the start */
    f = fr_new("a1.sinks.k1.sink.serializer = parquet\n", NULL);
    ck_assert(!f->started);
    ck_assert_ptr_nonnull(strstr(f->err, "unknown serializer \"parquet\""));
    fr_free(f, true);
    /* a missing directory too */
    f = fr_new("", "/nonexistent/sf_file_roll");
    ck_assert(!f->started);
    ck_assert_ptr_nonnull(strstr(f->err, "is not a directory"));
    fr_free(f, false);
}
END_TEST

/* A directory the sink may not create files in (read-only: chmod 0555, or as root a read-only
 * tmpfs, since root ignores the mode): nothing commits, nothing is lost. */
START_TEST(unwritable_directory)
{
    bool root = geteuid() == 0;
    char dir[] = "/tmp/sf_file_roll_ro_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    if (root && mount("tmpfs", dir, "tmpfs", MS_RDONLY, "size=1m") != 0) {
        printf("unwritable_directory: skipped: cannot mount a tmpfs on %s: %s\n", dir,
               strerror(errno));
        rmdir(dir);
        return;
    }
    struct fr *f = fr_new("", dir);
    ck_assert_msg(f->started, "%s", f->err);
    put(&f->ch, 0, 50, 0);
    if (!root) {
        ck_assert_int_eq(chmod(f->dir, 0555), 0);
    }
    ck_assert_int_eq(f->snk.plugin->process(&f->snk), SF_FAILED);
    ck_assert_int_eq(f->snk.plugin->process(&f->snk), SF_FAILED);
    ck_assert_uint_eq(sf_channel_size(&f->ch), 50);
    ck_assert_int_eq(atomic_load(&f->snk.metrics.write_fail), 2);
    if (root) {
        ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=1m"), 0);
    } else {
        ck_assert_int_eq(chmod(f->dir, 0755), 0);
    }
    drain(f);
    int n;
    char *names = list_dir(f->dir, &n);
    ck_assert_int_eq(n, 1);
    assert_text_file(f->dir, names, 0, 50, 0);
    free(names);
    fr_free(f, !root);
    if (root) {
        ck_assert_int_eq(umount(dir), 0);
        ck_assert_int_eq(rmdir(dir), 0);
    }
}
END_TEST

/* A full file system (a 64 KiB tmpfs): the failed batch is cut out of the file, its events stay
 * in the channel, and after the file system grows everything is in the file exactly once. */
START_TEST(disk_full)
{
    if (geteuid() != 0) {
        printf("disk_full: skipped: mounting a small tmpfs needs root\n");
        return;
    }
    char dir[] = "/tmp/sf_file_roll_full_XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    if (mount("tmpfs", dir, "tmpfs", 0, "size=64k") != 0) {
        printf("disk_full: skipped: cannot mount a tmpfs on %s: %s\n", dir, strerror(errno));
        rmdir(dir);
        return;
    }
    struct fr *f = fr_new("a1.sinks.k1.sink.batchSize = 100\n", dir);
    ck_assert_msg(f->started, "%s", f->err);
    put(&f->ch, 0, 10, 100); /* 1 KiB: fits */
    drain(f);
    put(&f->ch, 10, 100, 1000); /* 100 KiB: does not */
    ck_assert_int_eq(f->snk.plugin->process(&f->snk), SF_FAILED);
    ck_assert_int_eq(f->snk.plugin->process(&f->snk), SF_FAILED);
    ck_assert_uint_eq(sf_channel_size(&f->ch), 100);
    int n;
    char *names = list_dir(dir, &n);
    ck_assert_int_eq(n, 1);
    assert_text_file(dir, names, 0, 10, 100); /* exactly the committed batch */
    ck_assert_int_eq(mount("tmpfs", dir, "tmpfs", MS_REMOUNT, "size=1m"), 0);
    drain(f);
    size_t len;
    char *got = slurp(dir, names, &len);
    struct sf_buf all = SF_BUF_INIT;
    char *a = expect_text(0, 10, 100), *b = expect_text(10, 100, 1000);
    sf_buf_puts(&all, a);
    sf_buf_puts(&all, b);
    ck_assert_uint_eq(len, all.len);
    ck_assert_str_eq(got, all.data);
    free(a);
    free(b);
    free(got);
    sf_buf_free(&all);
    free(names);
    fr_free(f, false);
    ck_assert_int_eq(umount(dir), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

SF_UNIT_SUITE(file_roll)
{
    const char *m = getenv("SF_TIME_MULT");
    if (m && atoll(m) > 0) {
        time_mult = atoll(m);
    }
    Suite *s = suite_create("file_roll");
    TCase *tc = tcase_create("file_roll");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, default_names_and_text);
    tcase_add_test(tc, rolltime_names_and_interval);
    tcase_add_test(tc, never_roll);
    tcase_add_test(tc, text_options_and_header_and_text);
    tcase_add_test(tc, avro_event_read_back);
    tcase_add_test(tc, bad_configuration);
    tcase_add_test(tc, unwritable_directory);
    tcase_add_test(tc, disk_full);
    suite_add_tcase(s, tc);
    return s;
}
