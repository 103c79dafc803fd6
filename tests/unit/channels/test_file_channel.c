/*
 * Unit tests of the durable file channel (src/channels/file/): the CRC32C and the log record
 * format, replay after a clean stop and after a crash (a forked child that _exit()s in the middle
 * of its work, so nothing is flushed or checkpointed on the way out), torn and corrupt log tails,
 * corrupt and backup checkpoints, deletion of fully taken log files, the free-space guard, a
 * failed write (RLIMIT_FSIZE) being truncated away, source offsets across restarts, several take
 * transactions open at once, and group commit sharing fsyncs. The generic channel behaviour
 * (FIFO, capacities, keep-alive, threads) is covered for every channel type in test_channel.c.
 */
#include "unit.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/option.h"

#include "../../src/channels/file/file_channel.h"
#include "../../src/channels/file/wal.h"

extern const struct sf_channel_plugin sf_channel_memory;

static char g_dir[64]; /* per test: <g_dir>/cp, <g_dir>/data, ... */

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/sf-test-fc.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* ---------- helpers ---------- */

struct fch {
    struct sf_channel ch;
    struct sf_props props;
};

/* Start a channel on g_dir with extra properties (relative keys, one per line). */
static int fc_start(const char *extra, struct fch **out, char *err, size_t errsz)
{
    const struct sf_channel_plugin *pl = &sf_channel_file;
    struct fch *t = calloc(1, sizeof(*t));
    struct sf_diag d = { 0 };
    char text[4096];
    int n = snprintf(text, sizeof(text),
                     "c.type = file\nc.checkpointDir = %s/cp\nc.dataDirs = %s/data\n"
                     "c.minimumRequiredSpace = 1048576\n",
                     g_dir, g_dir);
    for (const char *p = extra; p && *p;) {
        size_t len = strcspn(p, "\n");
        n += snprintf(text + n, sizeof(text) - (size_t)n, "c.%.*s\n", (int)len, p);
        p += len + (p[len] == '\n');
    }
    ck_assert_int_eq(sf_props_parse(&t->props, "fc.conf", text, &d), 0);
    t->ch.name = strdup("c1");
    t->ch.plugin = pl;
    t->ch.ctx = calloc(1, pl->ctx_size);
    struct sf_section s;
    sf_section_init(&s, &t->props, "channel", "c1", "c.");
    ck_assert_int_eq(sf_options_apply(pl->options, &s, t->ch.ctx, &d), 0);
    for (size_t i = 0; i < d.nwarnings; i++) { /* extra may override the keys above */
        ck_assert_msg(strstr(d.warnings[i], ": set twice, on lines ") != NULL, "%s", d.warnings[i]);
    }
    sf_section_free(&s);
    err[0] = '\0';
    /* the configure step, as the agent runs it before start (t->ch.conf is NULL: its errors
     * carry no file, line or key) */
    int rc = pl->configure(&t->ch, &d);
    if (rc != SF_OK) {
        ck_assert_uint_ge(d.nerrors, 1);
        snprintf(err, errsz, "%s", d.errors[0]);
    }
    sf_diag_free(&d);
    if (rc == SF_OK) {
        rc = pl->start(&t->ch, err, errsz);
    }
    if (rc != SF_OK) {
        sf_options_free(pl->options, t->ch.ctx);
        free(t->ch.ctx);
        free(t->ch.name);
        sf_props_free(&t->props);
        free(t);
        return rc;
    }
    *out = t;
    return SF_OK;
}

static struct fch *fc_open(const char *extra)
{
    struct fch *t = NULL;
    char err[512];
    int rc = fc_start(extra, &t, err, sizeof(err));
    ck_assert_msg(rc == SF_OK, "start failed: %s", err);
    return t;
}

static void fc_close(struct fch *t)
{
    t->ch.plugin->stop(&t->ch);
    sf_options_free(t->ch.plugin->options, t->ch.ctx);
    free(t->ch.ctx);
    free(t->ch.name);
    sf_props_free(&t->props);
    free(t);
}

static struct sf_event *mkev(int i)
{
    char body[32];
    snprintf(body, sizeof(body), "event-%d", i);
    struct sf_header h = { "n", body };
    return sf_event_create(&h, 1, body, strlen(body));
}

/* Put events from..to in one transaction, with a source offset when key is set. */
static int put_range_off(struct sf_channel *ch, int from, int to, const char *key, const char *off)
{
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event **evs = calloc((size_t)(to - from) + 1, sizeof(*evs));
    int n = 0, rc = SF_OK;
    for (int i = from; i < to && rc == SF_OK; i++) {
        evs[n] = mkev(i);
        rc = sf_channel_put(txn, evs[n++]);
    }
    txn->src_key = key;
    txn->src_offset = off;
    if (rc == SF_OK) {
        rc = sf_channel_txn_commit(txn);
    }
    if (rc != SF_OK) {
        sf_channel_txn_rollback(txn);
        for (int i = 0; i < n; i++) {
            sf_event_destroy(evs[i]);
        }
    }
    sf_channel_txn_close(txn);
    free(evs);
    return rc;
}

static int put_range(struct sf_channel *ch, int from, int to)
{
    return put_range_off(ch, from, to, NULL, NULL);
}

/* Put from..to in transactions of step events. */
static void put_many(struct sf_channel *ch, int from, int to, int step)
{
    for (int i = from; i < to; i += step) {
        ck_assert_int_eq(put_range(ch, i, i + step < to ? i + step : to), SF_OK);
    }
}

/* Take exactly the events from..to (in order) in one transaction, then commit or roll back. */
static void expect_take(struct sf_channel *ch, int from, int to, bool commit)
{
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    size_t want = (size_t)(to - from);
    struct sf_event **out = calloc(want + 1, sizeof(*out));
    size_t n = 0;
    ck_assert_int_eq(sf_channel_take(txn, out, want, &n, 0), SF_OK);
    ck_assert_uint_eq(n, want);
    for (size_t i = 0; i < n; i++) {
        char w[32];
        snprintf(w, sizeof(w), "event-%d", from + (int)i);
        ck_assert_str_eq(out[i]->body, w);
        ck_assert_uint_eq(out[i]->body_len, strlen(w));
        ck_assert_uint_eq(out[i]->nheaders, 1);
        ck_assert_str_eq(sf_event_header(out[i], "n"), w);
    }
    ck_assert_int_eq(commit ? sf_channel_txn_commit(txn) : sf_channel_txn_rollback(txn), SF_OK);
    sf_channel_txn_close(txn);
    free(out);
}

/* Take from..to in transactions of step events, committing. */
static void take_many(struct sf_channel *ch, int from, int to, int step)
{
    for (int i = from; i < to; i += step) {
        expect_take(ch, i, i + step < to ? i + step : to, true);
    }
}

static void expect_empty(struct sf_channel *ch)
{
    ck_assert_uint_eq(sf_channel_size(ch), 0);
    struct sf_txn *txn = sf_channel_txn_begin(ch);
    struct sf_event *out[1];
    size_t n = 7;
    ck_assert_int_eq(sf_channel_take(txn, out, 1, &n, 0), SF_OK);
    ck_assert_uint_eq(n, 0);
    sf_channel_txn_close(txn);
}

/* Number of log-N files in dir and the path of the highest N. */
static int count_logs(const char *dir, char *last, size_t lastsz)
{
    DIR *dp = opendir(dir);
    ck_assert_ptr_nonnull(dp);
    int n = 0;
    unsigned long best = 0;
    struct dirent *de;
    while ((de = readdir(dp)) != NULL) {
        if (strncmp(de->d_name, "log-", 4) == 0) {
            n++;
            unsigned long id = strtoul(de->d_name + 4, NULL, 10);
            if (id > best && last) {
                best = id;
                int w = snprintf(last, lastsz, "%s/%s", dir, de->d_name);
                ck_assert_int_lt(w, (int)lastsz);
            }
        }
    }
    closedir(dp);
    return n;
}

static long long file_size_of(const char *path)
{
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    return (long long)st.st_size;
}

static void flip_byte(const char *path, long long off)
{
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    unsigned char c;
    ck_assert_int_eq(pread(fd, &c, 1, off), 1);
    c ^= 0x5a;
    ck_assert_int_eq(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

/* The offsets of the records of a log file, their types, and where the records end. */
struct rec_list {
    long long off[4096];
    int type[4096];
    int n;
    long long end;         /* file offset after the last valid record */
    enum sf_wal_next stop; /* why the reader stopped there */
};

static void list_records(const char *path, struct rec_list *l)
{
    int fd = open(path, O_RDONLY);
    ck_assert_int_ge(fd, 0);
    struct sf_wal_reader rd;
    ck_assert_int_eq(sf_wal_reader_open(&rd, fd), SF_OK);
    struct sf_wal_hdr h;
    const unsigned char *payload;
    uint64_t at;
    l->n = 0;
    while ((l->stop = sf_wal_reader_next(&rd, &h, &payload, &at)) == SF_WAL_REC && l->n < 4096) {
        l->off[l->n] = (long long)at;
        l->type[l->n++] = h.type;
    }
    l->end = (long long)rd.pos;
    sf_wal_reader_close(&rd);
    close(fd);
}

/* stderr capture, to check what the channel logs */
static int saved_stderr = -1;
static char cap_path[128];

static void capture_start(void)
{
    snprintf(cap_path, sizeof(cap_path), "%s/stderr.txt", g_dir);
    int fd = open(cap_path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ck_assert_int_ge(fd, 0);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fd, STDERR_FILENO);
    close(fd);
}

/* @return what was logged since capture_start (caller frees); also echoed to the real stderr */
static char *capture_end(void)
{
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    FILE *f = fopen(cap_path, "r");
    ck_assert_ptr_nonnull(f);
    char *s = calloc(1, 1 << 16);
    size_t n = fread(s, 1, (1 << 16) - 1, f);
    s[n] = '\0';
    fclose(f);
    fputs(s, stderr);
    return s;
}

static int count_substr(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) {
        n++;
    }
    return n;
}

/* Run fn in a child process that ends with _exit(0) without stopping anything: a crash. */
#define CHILD_CHECK(c)                                                                             \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "child check failed at line %d: %s\n", __LINE__, #c);                  \
            _exit(1);                                                                              \
        }                                                                                          \
    } while (0)

static void run_crashing_child(void (*fn)(void *), void *arg)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        fn(arg);
        _exit(0);
    }
    int status = 0;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child failed (status %d)",
                  status);
}

/* ---------- CRC32C and the record format ---------- */

START_TEST(crc32c_vectors)
{
    ck_assert_uint_eq(sf_wal_crc32c(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(sf_wal_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    ck_assert_uint_eq(sf_wal_crc32c(0, "", 0), 0);
    unsigned char buf[1031];
    for (size_t i = 0; i < sizeof(buf); i++) {
        buf[i] = (unsigned char)(i * 131 + 7);
    }
    uint32_t whole = sf_wal_crc32c_sw(0, buf, sizeof(buf));
    ck_assert_uint_eq(sf_wal_crc32c(0, buf, sizeof(buf)), whole);
    for (size_t cut = 0; cut < 20; cut++) { /* incremental, unaligned */
        ck_assert_uint_eq(sf_wal_crc32c(sf_wal_crc32c(0, buf, cut), buf + cut, sizeof(buf) - cut),
                          whole);
        ck_assert_uint_eq(sf_wal_crc32c_sw(sf_wal_crc32c_sw(0, buf + 1, cut), buf + 1 + cut, 100),
                          sf_wal_crc32c(0, buf + 1, cut + 100));
    }
}
END_TEST

START_TEST(record_round_trip)
{
    struct sf_header hs[2] = { { "table", "orders" }, { "k", "" } };
    static const char body[] = "bin\0ary";
    struct sf_event *ev = sf_event_create(hs, 2, body, sizeof(body) - 1);
    struct sf_buf b = SF_BUF_INIT;
    size_t at_put = sf_wal_append_put_full(&b, 7, ev); /* the older encoding: still read */
    const uint32_t one[] = { 3, 4096 };
    size_t at_take = sf_wal_append_takes(&b, 8, one, 1);
    size_t at_c1 = sf_wal_append_commit(&b, 7, SF_WAL_TXN_PUT, 1, "r1", "id=42");
    size_t at_c2 = sf_wal_append_commit(&b, 8, SF_WAL_TXN_TAKE, 1, NULL, NULL);
    size_t at_rb = sf_wal_append_rollback(&b, 9);
    const uint32_t pairs[] = { 3, 4096, 3, 4200, 4, 16 };
    size_t at_takes = sf_wal_append_takes(&b, 10, pairs, 3);
    ck_assert_uint_eq(at_put, 0);
    ck_assert_uint_eq(at_take, SF_WAL_REC_HDR + 12 + 16 + 7); /* table\0orders\0k\0\0 */
    ck_assert_uint_eq(sf_wal_seal((unsigned char *)b.data, b.len, 100), 6);

    /* as a log file, read back with the replay reader */
    char path[128];
    snprintf(path, sizeof(path), "%s/log-1", g_dir);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    unsigned char fh[SF_WAL_FILE_HDR];
    sf_wal_file_header(fh, 1);
    uint32_t id = 0;
    ck_assert(sf_wal_file_header_check(fh, &id));
    ck_assert_uint_eq(id, 1);
    ck_assert_int_eq(pwrite(fd, fh, sizeof(fh), 0), (ssize_t)sizeof(fh));
    ck_assert_int_eq(pwrite(fd, b.data, b.len, SF_WAL_FILE_HDR), (ssize_t)b.len);
    struct sf_wal_reader rd;
    ck_assert_int_eq(sf_wal_reader_open(&rd, fd), SF_OK);
    struct sf_wal_hdr h;
    const unsigned char *p;
    uint64_t at;

    ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_REC);
    ck_assert_uint_eq(at, SF_WAL_FILE_HDR + at_put);
    ck_assert_uint_eq(h.type, SF_WAL_PUT);
    ck_assert_uint_eq(h.txn_id, 7);
    ck_assert_uint_eq(h.wo_id, 100);
    struct sf_header got[2];
    size_t nh = 1, blen = 0;
    const char *gb = NULL;
    ck_assert_int_eq(sf_wal_decode_put(SF_WAL_PUT, p, h.len, got, &nh, &gb, &blen),
                     SF_ERR_FULL); /* 1 slot: too few */
    ck_assert_uint_eq(nh, 2);
    ck_assert_int_eq(sf_wal_decode_put(SF_WAL_PUT, p, h.len, got, &nh, &gb, &blen), SF_OK);
    /* cut short, or under a type that is no PUT: corrupt */
    ck_assert_int_eq(sf_wal_decode_put(SF_WAL_PUT, p, h.len - 1, got, &nh, &gb, &blen),
                     SF_ERR_CORRUPT);
    ck_assert_int_eq(sf_wal_decode_put(SF_WAL_TAKE, p, h.len, got, &nh, &gb, &blen),
                     SF_ERR_CORRUPT);
    ck_assert_str_eq(got[0].key, "table");
    ck_assert_str_eq(got[0].val, "orders");
    ck_assert_str_eq(got[1].key, "k");
    ck_assert_str_eq(got[1].val, "");
    ck_assert_uint_eq(blen, 7);
    ck_assert_mem_eq(gb, "bin\0ary", 7);

    ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_REC);
    ck_assert_uint_eq(at, SF_WAL_FILE_HDR + at_take);
    ck_assert_uint_eq(h.type, SF_WAL_TAKE);
    ck_assert_uint_eq(h.wo_id, 101);
    uint32_t tf = 0, toff = 0;
    ck_assert_uint_eq(sf_wal_take_count(h.len), 1);
    sf_wal_take_at(p, 0, &tf, &toff);
    ck_assert_uint_eq(tf, 3);
    ck_assert_uint_eq(toff, 4096);

    ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_REC);
    ck_assert_uint_eq(at, SF_WAL_FILE_HDR + at_c1);
    struct sf_wal_commit c;
    ck_assert_int_eq(sf_wal_decode_commit(p, h.len - 1, &c), SF_ERR_CORRUPT); /* truncated */
    ck_assert_int_eq(sf_wal_decode_commit(p, h.len, &c), SF_OK);
    ck_assert_uint_eq(c.kind, SF_WAL_TXN_PUT);
    ck_assert_uint_eq(c.nrecords, 1);
    ck_assert_uint_eq(c.key_len, 2);
    ck_assert_mem_eq(c.key, "r1", 2);
    ck_assert_uint_eq(c.val_len, 5);
    ck_assert_mem_eq(c.val, "id=42", 5);

    ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_REC);
    ck_assert_uint_eq(at, SF_WAL_FILE_HDR + at_c2);
    ck_assert_int_eq(sf_wal_decode_commit(p, h.len, &c), SF_OK);
    ck_assert_uint_eq(c.kind, SF_WAL_TXN_TAKE);
    ck_assert_int_eq(sf_wal_decode_commit(p, 11, &c), SF_ERR_CORRUPT); /* shorter than fixed */
    ck_assert_ptr_null(c.key);

    ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_REC);
    ck_assert_uint_eq(at, SF_WAL_FILE_HDR + at_rb);
    ck_assert_uint_eq(h.type, SF_WAL_ROLLBACK);
    ck_assert_uint_eq(h.txn_id, 9);
    ck_assert_uint_eq(h.wo_id, 104);

    /* a take transaction's one TAKE record of several pairs */
    ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_REC);
    ck_assert_uint_eq(at, SF_WAL_FILE_HDR + at_takes);
    ck_assert_uint_eq(h.type, SF_WAL_TAKE);
    ck_assert_uint_eq(h.len, 3 * SF_WAL_TAKE_LEN);
    ck_assert_uint_eq(sf_wal_take_count(h.len), 3);
    for (uint32_t i = 0; i < 3; i++) {
        sf_wal_take_at(p, i, &tf, &toff);
        ck_assert_uint_eq(tf, pairs[2 * i]);
        ck_assert_uint_eq(toff, pairs[2 * i + 1]);
    }
    ck_assert_uint_eq(sf_wal_take_count(0), 0);
    ck_assert_uint_eq(sf_wal_take_count(12), 0);
    ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_EOF);
    sf_wal_reader_close(&rd);

    /* one flipped bit anywhere in a record (header or payload) fails it */
    for (size_t i = 0; i < at_take - at_put; i++) {
        b.data[at_put + i] ^= 0x10;
        ck_assert_int_eq(pwrite(fd, b.data, b.len, SF_WAL_FILE_HDR), (ssize_t)b.len);
        ck_assert_int_eq(sf_wal_reader_open(&rd, fd), SF_OK);
        ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_TORN);
        ck_assert_uint_eq(rd.pos, SF_WAL_FILE_HDR);
        sf_wal_reader_close(&rd);
        b.data[at_put + i] ^= 0x10;
    }
    /* a record cut short is torn; the ones before it are intact */
    ck_assert_int_eq(pwrite(fd, b.data, b.len, SF_WAL_FILE_HDR), (ssize_t)b.len);
    ck_assert_int_eq(ftruncate(fd, (off_t)(SF_WAL_FILE_HDR + b.len - 3)), 0);
    ck_assert_int_eq(sf_wal_reader_open(&rd, fd), SF_OK);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_REC);
    }
    ck_assert_int_eq(sf_wal_reader_next(&rd, &h, &p, &at), SF_WAL_TORN);
    ck_assert_uint_eq(rd.pos, SF_WAL_FILE_HDR + at_takes);
    sf_wal_reader_close(&rd);
    close(fd);
    sf_buf_free(&b);
    sf_event_destroy(ev);
}
END_TEST

/* Encode ev with sf_wal_append_put, decode it back and compare; @return the record's bytes. */
static size_t compact_round_trip(const struct sf_event *ev, uint8_t want_type)
{
    struct sf_buf b = SF_BUF_INIT;
    sf_wal_append_put(&b, 3, ev);
    sf_wal_seal((unsigned char *)b.data, b.len, 1);
    struct sf_wal_hdr h;
    ck_assert(sf_wal_hdr_decode((const unsigned char *)b.data, &h));
    ck_assert_uint_eq(h.type, want_type);
    const unsigned char *payload = (const unsigned char *)b.data + SF_WAL_REC_HDR;
    ck_assert(sf_wal_crc_ok(&h, (const unsigned char *)b.data, payload));
    static struct sf_header got[400];
    size_t nh = 400, blen = 0;
    const char *body = NULL;
    ck_assert_int_eq(sf_wal_decode_put(h.type, payload, h.len, got, &nh, &body, &blen), SF_OK);
    ck_assert_uint_eq(nh, ev->nheaders);
    for (size_t i = 0; i < nh; i++) {
        ck_assert_str_eq(got[i].key, ev->headers[i].key);
        ck_assert_str_eq(got[i].val, ev->headers[i].val);
    }
    ck_assert_uint_eq(blen, ev->body_len);
    ck_assert(memcmp(body, ev->body, blen) == 0);
    if (want_type == SF_WAL_PUTC) { /* too few slots: the count needed */
        nh = 1;
        ck_assert_int_eq(sf_wal_decode_put(h.type, payload, h.len, got, &nh, &body, &blen),
                         ev->nheaders > 1 ? SF_ERR_FULL : SF_OK);
        /* every cut-short payload is malformed (or, cut in the body, a shorter body) */
        size_t hdr_end = (size_t)(body - (const char *)payload);
        for (uint32_t cut = 0; cut < hdr_end; cut++) {
            nh = 400;
            ck_assert_int_eq(sf_wal_decode_put(h.type, payload, cut, got, &nh, &body, &blen),
                             SF_ERR_CORRUPT);
        }
    }
    size_t len = b.len;
    sf_buf_free(&b);
    return len;
}

/* The compact PUT: well-known names as one byte, repeated values as a back reference, literal
 * keys and values otherwise; events with more than 255 headers fall back to the full PUT. */
START_TEST(compact_put_round_trip)
{
    static const char body[] = "{\"id\":1234567,\"note\":\"x\0y\"}";
    /* the SQL source's headers: key repeats offset */
    const struct sf_header sql[] = { { "table", "orders" },
                                     { "offset", "1234567" },
                                     { "key", "1234567" },
                                     { "timestamp", "1763770000000" } };
    struct sf_event *ev = sf_event_create(sql, 4, body, sizeof(body) - 1);
    size_t compact = compact_round_trip(ev, SF_WAL_PUTC);
    struct sf_buf full = SF_BUF_INIT;
    sf_wal_append_put_full(&full, 3, ev);
    /* payload: 12 bytes of counts and lengths and 64 of "key\0val\0" strings in the full PUT;
     * 1 count, 8 code bytes and "orders\0", "1234567\0", "1763770000000\0" (29) compact */
    ck_assert_uint_eq(full.len - compact, (12 + 64) - (1 + 8 + 29));
    sf_buf_free(&full);
    sf_event_destroy(ev);

    /* literal keys, empty values, names that only look well-known, a back reference to an
     * empty value, a key that is a control byte */
    const struct sf_header odd[] = { { "Table", "" },    { "tablex", "a" }, { "k", "" },
                                     { "\x01", "\x02" }, { "table", "a" },  { "key", "\x01" } };
    ev = sf_event_create(odd, 6, "", 0);
    compact_round_trip(ev, SF_WAL_PUTC);
    sf_event_destroy(ev);

    /* more headers than back references reach, with repeated values */
    struct sf_header many[40];
    char names[40][8];
    for (int i = 0; i < 40; i++) {
        snprintf(names[i], sizeof(names[i]), "h%d", i);
        many[i] = (struct sf_header){ names[i], i % 3 ? "same" : "other" };
    }
    ev = sf_event_create(many, 40, body, sizeof(body) - 1);
    compact_round_trip(ev, SF_WAL_PUTC);
    sf_event_destroy(ev);

    /* no headers */
    ev = sf_event_create(NULL, 0, body, sizeof(body) - 1);
    compact_round_trip(ev, SF_WAL_PUTC);
    sf_event_destroy(ev);

    /* 300 headers: the full PUT */
    static struct sf_header lots[300];
    static char lnames[300][8];
    for (int i = 0; i < 300; i++) {
        snprintf(lnames[i], sizeof(lnames[i]), "h%d", i);
        lots[i] = (struct sf_header){ lnames[i], "v" };
    }
    ev = sf_event_create(lots, 300, body, sizeof(body) - 1);
    compact_round_trip(ev, SF_WAL_PUT);
    sf_event_destroy(ev);

    /* malformed codes: a key code past the names, a back reference to itself or later */
    const unsigned char bad_key[] = { 1, 5, 0, 'v', 0 };
    const unsigned char bad_ref[] = { 2, 1, 0, 'v', 0, 2, 2 };
    const unsigned char ok_ref[] = { 2, 1, 0, 'v', 0, 2, 1, 'b' };
    struct sf_header hs[4];
    size_t nh = 4, blen = 0;
    const char *gb = NULL;
    ck_assert_int_eq(sf_wal_decode_put(SF_WAL_PUTC, bad_key, sizeof(bad_key), hs, &nh, &gb, &blen),
                     SF_ERR_CORRUPT);
    ck_assert_int_eq(sf_wal_decode_put(SF_WAL_PUTC, bad_ref, sizeof(bad_ref), hs, &nh, &gb, &blen),
                     SF_ERR_CORRUPT);
    ck_assert_int_eq(sf_wal_decode_put(SF_WAL_PUTC, ok_ref, sizeof(ok_ref), hs, &nh, &gb, &blen),
                     SF_OK);
    ck_assert_uint_eq(nh, 2);
    ck_assert_str_eq(hs[0].key, "table");
    ck_assert_str_eq(hs[1].key, "offset");
    ck_assert_str_eq(hs[1].val, "v");
    ck_assert_uint_eq(blen, 1);
    ck_assert_int_eq(gb[0], 'b');
}
END_TEST

/* ---------- replay ---------- */

/* _i: 0 = events served from the cache, 1 = eventCacheBytes 0 (always read from the log) */
static const char *const cache_modes[] = { "", "eventCacheBytes = 0" };

START_TEST(replay_after_clean_close)
{
    struct fch *t = fc_open(cache_modes[_i]);
    put_many(&t->ch, 0, 100, 10);
    expect_take(&t->ch, 0, 20, true);
    expect_take(&t->ch, 20, 25, false); /* rolled back: stays */
    ck_assert_uint_eq(sf_channel_size(&t->ch), 80);
    fc_close(t);

    capture_start();
    t = fc_open(cache_modes[_i]);
    char *log = capture_end();
    ck_assert_ptr_nonnull(strstr(log, "recovered 80 events"));
    ck_assert_ptr_nonnull(strstr(log, "from the checkpoint, 1 log file(s) replayed (0 trans"));
    free(log);
    ck_assert_uint_eq(sf_channel_size(&t->ch), 80);
    take_many(&t->ch, 20, 100, 30);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

/* _i: 1 = the child also checkpoints mid-run (replay = checkpoint + newer records) */
static void crash_work(void *arg)
{
    bool mid_checkpoints = *(int *)arg != 0;
    struct fch *t = fc_open("checkpointOnClose = false");
    for (int i = 0; i < 30; i += 10) {
        CHILD_CHECK(put_range(&t->ch, i, i + 10) == SF_OK);
    }
    if (mid_checkpoints) {
        CHILD_CHECK(sf_file_channel_checkpoint(&t->ch) == SF_OK);
    }
    CHILD_CHECK(put_range(&t->ch, 30, 40) == SF_OK);
    CHILD_CHECK(put_range(&t->ch, 40, 50) == SF_OK);
    /* a committed take */
    struct sf_txn *txn = sf_channel_txn_begin(&t->ch);
    struct sf_event *out[10];
    size_t n = 0;
    CHILD_CHECK(sf_channel_take(txn, out, 10, &n, 0) == SF_OK && n == 10);
    CHILD_CHECK(strcmp(out[9]->body, "event-9") == 0);
    CHILD_CHECK(sf_channel_txn_commit(txn) == SF_OK);
    sf_channel_txn_close(txn);
    /* a take left open */
    txn = sf_channel_txn_begin(&t->ch);
    CHILD_CHECK(sf_channel_take(txn, out, 5, &n, 0) == SF_OK && n == 5);
    if (mid_checkpoints) {
        CHILD_CHECK(sf_file_channel_checkpoint(&t->ch) == SF_OK);
    }
    /* a put left uncommitted */
    struct sf_txn *put = sf_channel_txn_begin(&t->ch);
    for (int i = 50; i < 60; i++) {
        CHILD_CHECK(sf_channel_put(put, mkev(i)) == SF_OK);
    }
    CHILD_CHECK(sf_channel_size(&t->ch) == 40);
}

START_TEST(replay_after_crash)
{
    int mid = _i;
    run_crashing_child(crash_work, &mid);
    capture_start();
    struct fch *t = fc_open(NULL);
    char *log = capture_end();
    /* the checkpoint is the child's start-up one, or its last one; the rest comes from the log */
    ck_assert_ptr_nonnull(strstr(log, "recovered 40 events in"));
    ck_assert_ptr_nonnull(strstr(log, mid ? "from the checkpoint, 1 log file(s) replayed (0 "
                                            "transactions, 0 puts, 0 takes applied)"
                                          : "from the checkpoint, 1 log file(s) replayed (6 "
                                            "transactions, 50 puts, 10 takes applied)"));
    free(log);
    /* the committed take is not replayed, the open one came back, the uncommitted put is gone */
    ck_assert_uint_eq(sf_channel_size(&t->ch), 40);
    take_many(&t->ch, 10, 50, 40);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

static void puts_then_crash(void *arg)
{
    (void)arg;
    struct fch *t = fc_open("checkpointOnClose = false\nzeroFillLogs = true");
    for (int i = 0; i < 50; i += 10) {
        CHILD_CHECK(put_range(&t->ch, i, i + 10) == SF_OK);
    }
}

/* _i: 0 = the last record (the COMMIT) loses 3 bytes, 1 = a byte of the last PUT flipped */
START_TEST(torn_tail_is_truncated)
{
    run_crashing_child(puts_then_crash, NULL);
    char data[128], path[256];
    snprintf(data, sizeof(data), "%s/data", g_dir);
    ck_assert_int_eq(count_logs(data, path, sizeof(path)), 1);
    static struct rec_list l;
    list_records(path, &l);
    ck_assert_int_eq(l.n, 55); /* 5 x (10 PUT + COMMIT) */
    ck_assert_int_eq(l.type[54], SF_WAL_COMMIT);
    ck_assert_int_eq(l.type[53], SF_WAL_PUTC);
    long long cut;
    if (_i == 0) {
        ck_assert_int_eq(truncate(path, l.end - 3), 0); /* also drops any zero-filled tail */
        cut = l.off[54];
    } else {
        flip_byte(path, l.off[53] + SF_WAL_REC_HDR + 20);
        cut = l.off[53];
    }
    long long size = file_size_of(path);
    capture_start();
    struct fch *t = fc_open("zeroFillLogs = true");
    char *log = capture_end();
    char want[512];
    snprintf(want, sizeof(want),
             "log file \"%s\" has a torn or corrupt record at offset %lld (file size %lld); "
             "truncating it there",
             path, cut, size);
    ck_assert_msg(strstr(log, want), "missing \"%s\"", want);
    free(log);
    ck_assert_int_eq(file_size_of(path), cut);
    /* the last transaction had no intact COMMIT: dropped; the four before are intact */
    ck_assert_uint_eq(sf_channel_size(&t->ch), 40);
    expect_take(&t->ch, 0, 10, true);
    /* the channel goes on: new commits survive the next restart */
    ck_assert_int_eq(put_range(&t->ch, 100, 110), SF_OK);
    fc_close(t);
    t = fc_open("zeroFillLogs = true");
    ck_assert_uint_eq(sf_channel_size(&t->ch), 40);
    take_many(&t->ch, 10, 40, 30);
    expect_take(&t->ch, 100, 110, true);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

/* A crash leaves the zero-filled space after the last record: a clean end, cut off silently. */
START_TEST(zero_filled_tail_after_crash)
{
    run_crashing_child(puts_then_crash, NULL);
    char data[128], path[256];
    snprintf(data, sizeof(data), "%s/data", g_dir);
    ck_assert_int_eq(count_logs(data, path, sizeof(path)), 1);
    static struct rec_list l;
    list_records(path, &l);
    ck_assert_int_eq(l.n, 55);
    /* make the tail deterministic: 1 MiB of zeros, whatever the child's filler managed */
    ck_assert_int_eq(truncate(path, l.end + (1 << 20)), 0);
    capture_start();
    struct fch *t = fc_open("zeroFillLogs = true");
    char *log = capture_end();
    ck_assert_ptr_null(strstr(log, "WARN"));
    ck_assert_ptr_nonnull(strstr(log, "recovered 50 events"));
    free(log);
    ck_assert_int_eq(file_size_of(path), l.end);
    take_many(&t->ch, 0, 50, 25);
    expect_empty(&t->ch);
    fc_close(t);
    /* a clean stop leaves no zeros after the data of the file it was writing (log-2, with the
     * TAKE records; log-1 is gone: everything in it was taken) */
    char last[256];
    ck_assert_int_eq(count_logs(data, last, sizeof(last)), 1);
    list_records(last, &l);
    ck_assert_int_eq(l.n, 2 * 2); /* per take transaction: one TAKE record (25 pairs), a COMMIT */
    ck_assert_int_eq(l.stop, SF_WAL_EOF);
    ck_assert_int_eq(file_size_of(last), l.end);
}
END_TEST

/* Enough data that commits land in space the background thread zero-filled, then a crash. */
static void big_puts_then_crash(void *arg)
{
    (void)arg;
    struct fch *t = fc_open("checkpointOnClose = false\nzeroFillLogs = true");
    char body[101];
    memset(body, 'b', 100);
    body[100] = '\0';
    for (int k = 0; k < 60; k++) {
        struct sf_txn *txn = sf_channel_txn_begin(&t->ch);
        for (int e = 0; e < 1000; e++) {
            int i = k * 1000 + e;
            snprintf(body, sizeof(body), "%06d", i);
            body[6] = 'b';
            struct sf_header h = { "n", "x" };
            CHILD_CHECK(sf_channel_put(txn, sf_event_create(&h, 1, body, 100)) == SF_OK);
        }
        CHILD_CHECK(sf_channel_txn_commit(txn) == SF_OK);
        sf_channel_txn_close(txn);
    }
    /* wait (up to 10 s) until the filler has zero-filled beyond the data */
    char path[256];
    snprintf(path, sizeof(path), "%s/data/log-1", g_dir);
    struct stat st;
    for (int i = 0; i < 1000 && stat(path, &st) == 0 && st.st_size < (20 << 20); i++) {
        usleep(10000);
    }
}

START_TEST(zero_filled_log_replay)
{
    run_crashing_child(big_puts_then_crash, NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/data/log-1", g_dir);
    static struct rec_list l;
    list_records(path, &l);
    ck_assert_int_eq(l.n, 4096); /* list_records keeps the first 4096 */
    long long size = file_size_of(path);
    ck_assert_int_ge(size, 20 << 20); /* 4 MiB gap + 16 MiB filled, at least */
    capture_start();
    struct fch *t = fc_open("zeroFillLogs = true");
    char *log = capture_end();
    ck_assert_ptr_null(strstr(log, "WARN"));
    ck_assert_ptr_nonnull(strstr(log, "recovered 60000 events"));
    free(log);
    ck_assert_int_lt(file_size_of(path), size); /* the zero tail is cut off */
    struct sf_txn *txn = sf_channel_txn_begin(&t->ch);
    for (int got = 0; got < 60000;) {
        struct sf_event *out[1000];
        size_t n = 0;
        ck_assert_int_eq(sf_channel_take(txn, out, 1000, &n, 0), SF_OK);
        ck_assert_uint_eq(n, 1000);
        for (size_t i = 0; i < n; i++, got++) {
            char want[16];
            snprintf(want, sizeof(want), "%06d", got);
            ck_assert_uint_eq(out[i]->body_len, 100);
            ck_assert_mem_eq(out[i]->body, want, 6);
        }
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
        sf_channel_txn_close(txn);
        txn = sf_channel_txn_begin(&t->ch);
    }
    sf_channel_txn_close(txn);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

/* _i: 0 = a flipped byte, 1 = checkpoint deleted */
START_TEST(bad_checkpoint_full_replay)
{
    struct fch *t = fc_open(NULL);
    put_many(&t->ch, 0, 100, 10);
    take_many(&t->ch, 0, 30, 15);
    fc_close(t);
    char ckpt[128];
    snprintf(ckpt, sizeof(ckpt), "%s/cp/checkpoint", g_dir);
    if (_i == 0) {
        flip_byte(ckpt, 60);
    } else {
        ck_assert_int_eq(unlink(ckpt), 0);
    }
    capture_start();
    t = fc_open(NULL);
    char *log = capture_end();
    char want[256];
    snprintf(want, sizeof(want),
             _i == 0 ? "checkpoint file \"%s\" fails its CRC check"
                     : "checkpoint file \"%s\" is missing",
             ckpt);
    ck_assert_msg(strstr(log, want), "missing \"%s\"", want);
    ck_assert_ptr_nonnull(strstr(log, "replaying every log file"));
    ck_assert_ptr_nonnull(strstr(log, "recovered 70 events"));
    ck_assert_ptr_nonnull(strstr(log, "without a checkpoint"));
    free(log);
    ck_assert_uint_eq(sf_channel_size(&t->ch), 70);
    take_many(&t->ch, 30, 100, 70);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

START_TEST(backup_checkpoint_used)
{
    char extra[256];
    snprintf(extra, sizeof(extra), "useDualCheckpoints = true\nbackupCheckpointDir = %s/backup",
             g_dir);
    struct fch *t = fc_open(extra);
    put_many(&t->ch, 0, 20, 10);
    expect_take(&t->ch, 0, 5, true);
    fc_close(t);
    char ckpt[128];
    snprintf(ckpt, sizeof(ckpt), "%s/cp/checkpoint", g_dir);
    flip_byte(ckpt, 10);
    capture_start();
    t = fc_open(extra);
    char *log = capture_end();
    ck_assert_ptr_nonnull(strstr(log, "fails its CRC check; trying the backup checkpoint"));
    ck_assert_ptr_nonnull(strstr(log, "using the backup checkpoint"));
    ck_assert_ptr_nonnull(strstr(log, "recovered 15 events"));
    free(log);
    take_many(&t->ch, 5, 20, 15);
    fc_close(t);
    /* a backup dir is required */
    struct fch *bad = NULL;
    char err[256];
    ck_assert_int_eq(fc_start("useDualCheckpoints = true", &bad, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_str_eq(err, "useDualCheckpoints needs backupCheckpointDir");
}
END_TEST

/* ---------- log files, space, failed writes ---------- */

START_TEST(taken_log_files_are_deleted)
{
    char extra[256];
    snprintf(extra, sizeof(extra), "maxFileSize = 4096\ndataDirs = %s/d1, %s/d2", g_dir, g_dir);
    struct fch *t = fc_open(extra);
    put_many(&t->ch, 0, 300, 10); /* ~600 bytes per transaction: 6 per file */
    char d1[128], d2[128];
    snprintf(d1, sizeof(d1), "%s/d1", g_dir);
    snprintf(d2, sizeof(d2), "%s/d2", g_dir);
    int n1 = count_logs(d1, NULL, 0), n2 = count_logs(d2, NULL, 0);
    ck_assert_int_eq(n1 + n2, 5);      /* 30 transactions of 564..604 bytes, 6 per file */
    ck_assert_int_le(abs(n1 - n2), 1); /* round-robin over the data dirs */
    /* half taken: log-1 (events 0..59) and log-2 (60..119) go, log-3 (120..179) stays */
    take_many(&t->ch, 0, 150, 50);
    ck_assert_int_eq(sf_file_channel_checkpoint(&t->ch), SF_OK);
    char p[256];
    snprintf(p, sizeof(p), "%s/log-1", d2);
    ck_assert_int_eq(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/log-2", d1);
    ck_assert_int_eq(access(p, F_OK), -1);
    snprintf(p, sizeof(p), "%s/log-3", d2);
    ck_assert_int_eq(access(p, F_OK), 0);
    /* 5 with puts + 1 started by the take commits (a TAKE record of 50 pairs each) - 2 */
    ck_assert_int_eq(count_logs(d1, NULL, 0) + count_logs(d2, NULL, 0), 4);
    fc_close(t);
    t = fc_open(extra);
    ck_assert_uint_eq(sf_channel_size(&t->ch), 150);
    take_many(&t->ch, 150, 300, 50);
    ck_assert_int_eq(sf_file_channel_checkpoint(&t->ch), SF_OK);
    /* everything taken: only the file being written is left */
    ck_assert_int_eq(count_logs(d1, NULL, 0) + count_logs(d2, NULL, 0), 1);
    fc_close(t);
    t = fc_open(extra);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

START_TEST(minimum_required_space)
{
    struct fch *t = fc_open("minimumRequiredSpace = 1152921504606846976"); /* 2^60 */
    capture_start();
    int rc1 = put_range(&t->ch, 0, 10);
    int rc2 = put_range(&t->ch, 0, 10);
    char *log = capture_end();
    ck_assert_int_eq(rc1, SF_ERR_FULL);
    ck_assert_int_eq(rc2, SF_ERR_FULL);
    char want[256];
    snprintf(want, sizeof(want),
             "bytes free in data directory \"%s/data\", below "
             "minimumRequiredSpace (1152921504606846976 bytes)",
             g_dir);
    ck_assert_int_eq(count_substr(log, want), 1); /* logged once */
    free(log);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

/* A write that fails half way (here: RLIMIT_FSIZE, as a full disk would) leaves nothing. */
START_TEST(failed_write_is_truncated)
{
    /* without zero-filling, so that no background write races the size limit */
    struct fch *t = fc_open("zeroFillLogs = false");
    ck_assert_int_eq(put_range(&t->ch, 0, 10), SF_OK);
    char data[128], path[256];
    snprintf(data, sizeof(data), "%s/data", g_dir);
    ck_assert_int_eq(count_logs(data, path, sizeof(path)), 1);
    long long size = file_size_of(path);
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)size + 100; /* room for one record and a bit */
    capture_start();
    /* no ck_assert while the limit holds: check writes its own bookkeeping to a file */
    int lim_rc = setrlimit(RLIMIT_FSIZE, &lim);
    int rc = put_range(&t->ch, 10, 30);
    int restore_rc = setrlimit(RLIMIT_FSIZE, &old);
    char *log = capture_end();
    ck_assert_int_eq(lim_rc, 0);
    ck_assert_int_eq(restore_rc, 0);
    ck_assert_int_eq(rc, SF_ERR_FULL);
    ck_assert_ptr_nonnull(strstr(log, "File too large; commit failed"));
    free(log);
    ck_assert_int_eq(file_size_of(path), size); /* the partial write was cut off */
    static struct rec_list l;
    list_records(path, &l);
    ck_assert_int_eq(l.n, 11);
    ck_assert_int_eq(l.stop, SF_WAL_EOF);
    ck_assert_uint_eq(sf_channel_size(&t->ch), 10);
    ck_assert_int_eq(put_range(&t->ch, 10, 20), SF_OK);
    fc_close(t);
    t = fc_open(NULL);
    take_many(&t->ch, 0, 20, 20);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

/* ---------- source offsets ---------- */

static void offsets_then_crash(void *arg)
{
    (void)arg;
    struct fch *t = fc_open("checkpointOnClose = false");
    CHILD_CHECK(put_range_off(&t->ch, 0, 5, "r1", "30") == SF_OK);
    CHILD_CHECK(put_range_off(&t->ch, 5, 10, "r2", "x") == SF_OK);
    struct sf_txn *put = sf_channel_txn_begin(&t->ch); /* not committed */
    CHILD_CHECK(sf_channel_put(put, mkev(10)) == SF_OK);
    put->src_key = "r1";
    put->src_offset = "40";
}

static void expect_offset(struct sf_channel *ch, const char *key, const char *want)
{
    char *v = (char *)1;
    int rc = sf_channel_offset_get(ch, key, &v);
    if (!want) {
        ck_assert_int_eq(rc, SF_ERR_NOTFOUND);
        ck_assert_ptr_null(v);
        return;
    }
    ck_assert_int_eq(rc, SF_OK);
    ck_assert_str_eq(v, want);
    free(v);
}

START_TEST(source_offsets_survive_restarts)
{
    struct fch *t = fc_open(NULL);
    expect_offset(&t->ch, "r1", NULL);
    ck_assert_int_eq(put_range_off(&t->ch, 0, 10, "r1", "10"), SF_OK);
    ck_assert_int_eq(put_range_off(&t->ch, 10, 20, "r1", "20"), SF_OK);
    ck_assert_int_eq(put_range_off(&t->ch, 20, 30, "r2", "2024-01-01 00:00:00"), SF_OK);
    ck_assert_int_eq(put_range(&t->ch, 30, 40), SF_OK); /* no offset: r1 unchanged */
    expect_offset(&t->ch, "r1", "20");
    expect_offset(&t->ch, "r2", "2024-01-01 00:00:00");
    expect_offset(&t->ch, "r3", NULL);
    fc_close(t);
    /* from the checkpoint */
    t = fc_open(NULL);
    expect_offset(&t->ch, "r1", "20");
    expect_offset(&t->ch, "r2", "2024-01-01 00:00:00");
    /* every event taken and every log deleted: the checkpoint still has them */
    take_many(&t->ch, 0, 40, 40);
    ck_assert_int_eq(put_range_off(&t->ch, 40, 41, "r1", "21"), SF_OK);
    expect_take(&t->ch, 40, 41, true);
    ck_assert_int_eq(sf_file_channel_checkpoint(&t->ch), SF_OK);
    fc_close(t);
    t = fc_open(NULL);
    expect_offset(&t->ch, "r1", "21");
    expect_offset(&t->ch, "r2", "2024-01-01 00:00:00");
    fc_close(t);
    teardown();
    setup();
    /* after a crash, from the log: the uncommitted offset is not there */
    run_crashing_child(offsets_then_crash, NULL);
    t = fc_open(NULL);
    expect_offset(&t->ch, "r1", "30");
    expect_offset(&t->ch, "r2", "x");
    ck_assert_uint_eq(sf_channel_size(&t->ch), 10);
    fc_close(t);
    /* the memory channel keeps none */
    struct sf_channel mem = { .plugin = &sf_channel_memory };
    char *v = NULL;
    ck_assert_int_eq(sf_channel_offset_get(&mem, "r1", &v), SF_ERR_NOTFOUND);
    ck_assert_ptr_null(v);
}
END_TEST

/* ---------- concurrency ---------- */

static void pipelined_work(void *arg)
{
    (void)arg;
    struct fch *t = fc_open("checkpointOnClose = false");
    CHILD_CHECK(put_range(&t->ch, 0, 40) == SF_OK);
    struct sf_txn *txn[4];
    struct sf_event *out[10];
    size_t n;
    for (int i = 0; i < 4; i++) {
        txn[i] = sf_channel_txn_begin(&t->ch);
        CHILD_CHECK(sf_channel_take(txn[i], out, 10, &n, 0) == SF_OK && n == 10);
    }
    CHILD_CHECK(sf_channel_txn_commit(txn[3]) == SF_OK);
    CHILD_CHECK(sf_channel_txn_commit(txn[1]) == SF_OK);
    CHILD_CHECK(sf_channel_txn_rollback(txn[0]) == SF_OK);
    CHILD_CHECK(sf_channel_size(&t->ch) == 20);
    /* txn[2] (20..30) is still open at the crash */
}

START_TEST(several_open_take_transactions)
{
    struct fch *t = fc_open(NULL);
    put_many(&t->ch, 0, 40, 10);
    struct sf_txn *txn[4];
    struct sf_event *out[10];
    size_t n;
    for (int i = 0; i < 4; i++) {
        txn[i] = sf_channel_txn_begin(&t->ch);
        ck_assert_int_eq(sf_channel_take(txn[i], out, 10, &n, 0), SF_OK);
        ck_assert_uint_eq(n, 10);
        ck_assert_int_eq(atoi(out[0]->body + 6), i * 10);
    }
    ck_assert_int_eq(sf_channel_txn_commit(txn[2]), SF_OK);
    ck_assert_int_eq(sf_channel_txn_rollback(txn[1]), SF_OK);
    ck_assert_uint_eq(sf_channel_size(&t->ch), 30);
    /* a checkpoint with transactions in flight: they come back at the head after a crash */
    ck_assert_int_eq(sf_file_channel_checkpoint(&t->ch), SF_OK);
    expect_take(&t->ch, 10, 20, true);
    ck_assert_int_eq(sf_channel_txn_commit(txn[0]), SF_OK);
    ck_assert_int_eq(sf_channel_txn_commit(txn[3]), SF_OK);
    for (int i = 0; i < 4; i++) {
        sf_channel_txn_close(txn[i]);
    }
    expect_empty(&t->ch);
    fc_close(t);
    teardown();
    setup();
    run_crashing_child(pipelined_work, NULL);
    t = fc_open(NULL);
    ck_assert_uint_eq(sf_channel_size(&t->ch), 20);
    expect_take(&t->ch, 0, 10, true);
    expect_take(&t->ch, 20, 30, true);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

struct committer {
    struct sf_channel *ch;
    int id;
    int txns;
    int failed;
};

static void *committer_main(void *p)
{
    struct committer *c = p;
    for (int k = 0; k < c->txns; k++) {
        struct sf_txn *txn = sf_channel_txn_begin(c->ch);
        for (int e = 0; e < 10; e++) {
            char body[32];
            snprintf(body, sizeof(body), "t%d-%d", c->id, k * 10 + e);
            struct sf_event *ev = sf_event_create(NULL, 0, body, strlen(body));
            if (sf_channel_put(txn, ev) != SF_OK) {
                c->failed++;
            }
        }
        if (sf_channel_txn_commit(txn) != SF_OK) {
            c->failed++;
        }
        sf_channel_txn_close(txn);
    }
    return NULL;
}

START_TEST(group_commit_shares_fsyncs)
{
    enum { THREADS = 8, TXNS = 25 };
    struct fch *t = fc_open("testSyncDelayMs = 2\ntransactionCapacity = 100");
    long long base = sf_file_channel_sync_count(&t->ch);
    pthread_t th[THREADS];
    struct committer c[THREADS];
    for (int i = 0; i < THREADS; i++) {
        c[i] = (struct committer){ &t->ch, i, TXNS, 0 };
        pthread_create(&th[i], NULL, committer_main, &c[i]);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(c[i].failed, 0);
    }
    /* commits return after their write; the sync thread makes them durable right after */
    for (int i = 0; i < 5000 && sf_file_channel_sync_count(&t->ch) == base; i++) {
        usleep(1000);
    }
    long long syncs = sf_file_channel_sync_count(&t->ch) - base;
    fprintf(stderr, "group commit: %d commits by %d threads took %lld fsyncs\n", THREADS * TXNS,
            THREADS, syncs);
    ck_assert_int_ge(syncs, 1);
    ck_assert_int_lt(syncs, THREADS * TXNS);
    ck_assert_uint_eq(sf_channel_size(&t->ch), THREADS * TXNS * 10);
    fc_close(t);
    /* every event is there after a restart, each thread's in its order */
    t = fc_open(NULL);
    int next[THREADS] = { 0 };
    struct sf_txn *txn = sf_channel_txn_begin(&t->ch);
    for (int got = 0; got < THREADS * TXNS * 10;) {
        struct sf_event *out[100];
        size_t n = 0;
        ck_assert_int_eq(sf_channel_take(txn, out, 100, &n, 0), SF_OK);
        ck_assert_uint_gt(n, 0);
        for (size_t i = 0; i < n; i++) {
            int id = -1, seq = -1;
            ck_assert_int_eq(sscanf(out[i]->body, "t%d-%d", &id, &seq), 2);
            ck_assert_int_eq(seq, next[id]);
            next[id]++;
        }
        got += (int)n;
        ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
        sf_channel_txn_close(txn);
        txn = sf_channel_txn_begin(&t->ch);
    }
    sf_channel_txn_close(txn);
    expect_empty(&t->ch);
    fc_close(t);
}
END_TEST

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A commit returns after its write: the sync thread makes it durable, and only then do a put's
 * events reach the queue; a take waits for events being synced even with timeout 0. */
START_TEST(commit_returns_before_sync)
{
    struct fch *t = fc_open("testSyncDelayMs = 1500");
    long long base = sf_file_channel_sync_count(&t->ch);
    double t0 = now_s();
    ck_assert_int_eq(put_range_off(&t->ch, 0, 10, "r1", "9"), SF_OK);
    double put_s = now_s() - t0;
    ck_assert_msg(put_s < 1.0, "put commit waited %.3f s for a 1.5 s sync", put_s);
    ck_assert_uint_eq(sf_channel_size(&t->ch), 10); /* committed, even before the sync */
    expect_offset(&t->ch, "r1", "9");
    expect_take(&t->ch, 0, 5, true); /* waits for the sync */
    ck_assert_msg(now_s() - t0 >= 1.4, "events were visible before their sync");
    ck_assert_int_ge(sf_file_channel_sync_count(&t->ch) - base, 1);
    t0 = now_s();
    expect_take(&t->ch, 5, 10, true);
    ck_assert_msg(now_s() - t0 < 1.0, "a take commit waited for a sync");
    fc_close(t);
    t = fc_open(NULL); /* the close synced both takes */
    expect_empty(&t->ch);
    expect_offset(&t->ch, "r1", "9");
    fc_close(t);
}
END_TEST

START_TEST(fsync_interval_mode)
{
    struct fch *t = fc_open("fsyncPerTransaction = false\nfsyncInterval = 60");
    long long base = sf_file_channel_sync_count(&t->ch);
    put_many(&t->ch, 0, 100, 10);
    take_many(&t->ch, 0, 50, 25);
    ck_assert_int_eq(sf_file_channel_sync_count(&t->ch) - base, 0); /* the interval did not pass */
    fc_close(t);                                                    /* the close checkpoint syncs */
    t = fc_open(NULL);
    take_many(&t->ch, 50, 100, 50);
    fc_close(t);
}
END_TEST

/* Events bigger than a read chunk, read back from disk across several files. */
START_TEST(large_events_read_back)
{
    struct fch *t = fc_open("eventCacheBytes = 0\nmaxFileSize = 1048576");
    enum { N = 12, SIZE = 300000 };
    char *body = malloc(SIZE);
    struct sf_txn *txn = sf_channel_txn_begin(&t->ch);
    for (int i = 0; i < N; i++) {
        memset(body, 'a' + i, SIZE);
        struct sf_header h = { "i", i % 2 ? "odd" : "even" };
        ck_assert_int_eq(sf_channel_put(txn, sf_event_create(&h, 1, body, SIZE)), SF_OK);
        if (i % 3 == 2) {
            ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
            sf_channel_txn_close(txn);
            txn = sf_channel_txn_begin(&t->ch);
        }
    }
    sf_channel_txn_close(txn);
    char data[128];
    snprintf(data, sizeof(data), "%s/data", g_dir);
    ck_assert_int_eq(count_logs(data, NULL, 0), 4); /* 3 x 300 kB per file */
    txn = sf_channel_txn_begin(&t->ch);
    struct sf_event *out[N];
    size_t n = 0;
    ck_assert_int_eq(sf_channel_take(txn, out, N, &n, 0), SF_OK);
    ck_assert_uint_eq(n, N);
    for (int i = 0; i < N; i++) {
        memset(body, 'a' + i, SIZE);
        ck_assert_uint_eq(out[i]->body_len, SIZE);
        ck_assert_int_eq(memcmp(out[i]->body, body, SIZE), 0);
        ck_assert_str_eq(sf_event_header(out[i], "i"), i % 2 ? "odd" : "even");
    }
    ck_assert_int_eq(sf_channel_txn_commit(txn), SF_OK);
    sf_channel_txn_close(txn);
    free(body);
    fc_close(t);
}
END_TEST

START_TEST(start_errors)
{
    struct fch *t = NULL;
    char err[512];
    ck_assert_int_eq(fc_start("capacity = 10\ntransactionCapacity = 20", &t, err, sizeof(err)),
                     SF_ERR_INVAL);
    ck_assert_str_eq(err, "transactionCapacity (20) must not be greater than capacity (10)");
    struct fch *a = fc_open(NULL);
    ck_assert_int_eq(fc_start(NULL, &t, err, sizeof(err)), SF_ERR_INVAL);
    char want[256];
    snprintf(want, sizeof(want),
             "directory \"%s/cp\" is in use by another file channel (\"%s/cp/in_use.lock\" is "
             "locked)",
             g_dir, g_dir);
    ck_assert_str_eq(err, want);
    fc_close(a);
    char extra[256];
    snprintf(extra, sizeof(extra), "dataDirs = %s/cp", g_dir);
    ck_assert_int_eq(fc_start(extra, &t, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_ptr_nonnull(strstr(err, "is given twice"));
}
END_TEST

SF_UNIT_SUITE(file_channel)
{
    Suite *s = suite_create("file_channel");
    TCase *tc = tcase_create("format");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, crc32c_vectors);
    tcase_add_test(tc, record_round_trip);
    tcase_add_test(tc, compact_put_round_trip);
    suite_add_tcase(s, tc);
    tc = tcase_create("recovery");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, replay_after_clean_close, 0, 2);
    tcase_add_loop_test(tc, replay_after_crash, 0, 2);
    tcase_add_loop_test(tc, torn_tail_is_truncated, 0, 2);
    tcase_add_test(tc, zero_filled_tail_after_crash);
    tcase_add_test(tc, zero_filled_log_replay);
    tcase_add_loop_test(tc, bad_checkpoint_full_replay, 0, 2);
    tcase_add_test(tc, backup_checkpoint_used);
    tcase_add_test(tc, source_offsets_survive_restarts);
    suite_add_tcase(s, tc);
    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, taken_log_files_are_deleted);
    tcase_add_test(tc, minimum_required_space);
    tcase_add_test(tc, failed_write_is_truncated);
    tcase_add_test(tc, large_events_read_back);
    tcase_add_test(tc, start_errors);
    suite_add_tcase(s, tc);
    tc = tcase_create("concurrency");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, several_open_take_transactions);
    tcase_add_test(tc, group_commit_shares_fsyncs);
    tcase_add_test(tc, fsync_interval_mode);
    tcase_add_test(tc, commit_returns_before_sync);
    suite_add_tcase(s, tc);
    return s;
}
