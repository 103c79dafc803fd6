/* sink_state.c: the file sinks' exactly-once state log (format and rules in sink_state.h). */
#include "sink_state.h"

#include "sqlflume/agent.h"
#include "sqlflume/clock.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"
#include "sqlflume/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <zlib.h>

#define STATE_HEADER "sqlflume-file-state 1 "

char *sf_sink_state_dir_of(const char *path_template)
{
    size_t n = strcspn(path_template, "%");
    if (path_template[n] != '\0') {
        /* an escape: the directories before its path segment */
        while (n > 0 && path_template[n - 1] != '/') {
            n--;
        }
    }
    while (n > 1 && path_template[n - 1] == '/') {
        n--;
    }
    if (n == 0) {
        return sf_xstrdup("/");
    }
    char *d = sf_xcalloc(n + 1, 1);
    memcpy(d, path_template, n);
    return d;
}

static long long wall_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (long long)tv.tv_sec * 1000000 + tv.tv_usec;
}

struct sf_state_file *sf_sink_state_file(struct sf_sink_state *st, const char *inuse)
{
    for (size_t i = 0; i < st->nfiles; i++) {
        if (strcmp(st->files[i].inuse, inuse) == 0) {
            return &st->files[i];
        }
    }
    return NULL;
}

void sf_sink_state_set_file(struct sf_sink_state *st, const char *inuse, const char *final,
                            long long len, bool closing)
{
    struct sf_state_file *f = sf_sink_state_file(st, inuse);
    if (!f) {
        if (st->nfiles == st->cap) {
            st->cap = st->cap ? st->cap * 2 : 8;
            st->files = sf_xrealloc(st->files, st->cap * sizeof(*st->files));
        }
        f = &st->files[st->nfiles++];
        f->inuse = sf_xstrdup(inuse);
        f->final = sf_xstrdup(final);
    } else if (strcmp(f->final, final) != 0) {
        free(f->final);
        f->final = sf_xstrdup(final);
    }
    f->len = len;
    f->closing = closing;
}

void sf_sink_state_drop_file(struct sf_sink_state *st, const char *inuse)
{
    struct sf_state_file *f = sf_sink_state_file(st, inuse);
    if (f) {
        free(f->inuse);
        free(f->final);
        *f = st->files[--st->nfiles];
    }
}

static void log_name(const struct sf_sink_state *st, long long seq, struct sf_buf *b)
{
    sf_buf_reset(b);
    sf_buf_printf(b, "%s%s%s%lld", st->dir, strcmp(st->dir, "/") == 0 ? "" : "/", st->prefix,
                  seq);
}

/* The record of the current files and positions into st->rec. */
static void record_build(struct sf_sink_state *st, bool with_open)
{
    struct sf_buf *b = &st->rec;
    sf_buf_reset(b);
    sf_buf_putc(b, '\n');
    size_t start = b->len;
    sf_buf_printf(b, STATE_HEADER "%lld\n", ++st->records);
    for (size_t i = 0; i < st->nfiles; i++) {
        const struct sf_state_file *f = &st->files[i];
        sf_buf_puts(b, "file");
        sf_pos_field_put(b, f->inuse);
        sf_pos_field_put(b, f->final);
        sf_buf_printf(b, " %lld %s\n", f->len, f->closing ? "closing" : "open");
    }
    sf_positions_encode(&st->pos, b, with_open, false);
    uLong crc = crc32(0L, (const Bytef *)b->data + start, (uInt)(b->len - start));
    sf_buf_printf(b, "end %08lx\n", (unsigned long)crc);
}

static void delete_log(struct sf_sink_state *st, long long seq)
{
    struct sf_buf name = SF_BUF_INIT;
    char err[512];
    log_name(st, seq, &name);
    int rc = sf_hdfs_fs_delete(st->fs, name.data, err, sizeof(err));
    if (rc != SF_OK && rc != SF_ERR_NOTFOUND) {
        SF_WARN("could not delete the old state log: %s (it is ignored, a newer one exists)",
                err);
    }
    sf_buf_free(&name);
}

int sf_sink_state_write(struct sf_sink_state *st, bool with_open, char *err, size_t errsz)
{
    long long t0 = wall_us();
    record_build(st, with_open);
    int rc = SF_OK;
    long long old = 0; /* the log to delete once the record is in a new one */
    if (st->log && sf_hdfs_file_length(st->log) + (long long)st->rec.len > SF_STATE_LOG_MAX) {
        (void)sf_hdfs_file_close(st->log, err, errsz);
        st->log = NULL;
    }
    if (!st->log) {
        /* a name taken already is a log a crash cut before its first record: the next one */
        old = st->seq;
        rc = SF_ERR_EXISTS;
        for (int i = 0; i < 10 && rc == SF_ERR_EXISTS; i++) {
            struct sf_buf name = SF_BUF_INIT;
            log_name(st, st->seq + 1, &name);
            rc = sf_hdfs_fs_create(st->fs, name.data, &st->log, err, errsz);
            sf_buf_free(&name);
            st->seq += rc == SF_OK || rc == SF_ERR_EXISTS;
        }
        if (rc != SF_OK) {
            return rc;
        }
    }
    rc = sf_hdfs_file_write(st->log, st->rec.data, st->rec.len, err, errsz);
    if (rc != SF_OK) {
        /* its tail may hold part of the record: the next one starts a new log */
        char e2[256];
        (void)sf_hdfs_file_close(st->log, e2, sizeof(e2));
        st->log = NULL;
        return rc;
    }
    if (old > 0) {
        delete_log(st, old);
    }
    st->writes++;
    st->write_us += wall_us() - t0;
    return SF_OK;
}

/* Parse a "file" line (modified) into st. @return false when malformed. */
static bool file_line(struct sf_sink_state *st, char *line)
{
    char *f[6];
    size_t nf = 0;
    char *save = NULL;
    for (char *t = strtok_r(line, " ", &save); t && nf < 6; t = strtok_r(NULL, " ", &save)) {
        f[nf++] = t;
    }
    long long len;
    if (nf != 5 || !sf_pos_field_decode(f[1]) || !sf_pos_field_decode(f[2]) ||
        !sf_offset_int_parse(f[3], &len) || len < 0 ||
        (strcmp(f[4], "open") != 0 && strcmp(f[4], "closing") != 0)) {
        return false;
    }
    sf_sink_state_set_file(st, f[1], f[2], len, f[4][0] == 'c');
    return true;
}

static void files_clear(struct sf_sink_state *st)
{
    for (size_t i = 0; i < st->nfiles; i++) {
        free(st->files[i].inuse);
        free(st->files[i].final);
    }
    st->nfiles = 0;
}

/* Apply the record text[0..len) (from its header line to the end of its end line, CRC checked
 * by the caller). @return false when a line is malformed (st then half loaded: the caller
 * clears it). */
static bool record_apply(struct sf_sink_state *st, char *text)
{
    files_clear(st);
    sf_positions_clear(&st->pos);
    char *save = NULL;
    char why[160];
    bool first = true;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (first) {
            first = false;
            long long n;
            if (strncmp(line, STATE_HEADER, strlen(STATE_HEADER)) != 0 ||
                !sf_offset_int_parse(line + strlen(STATE_HEADER), &n)) {
                return false;
            }
            st->records = n;
        } else if (strncmp(line, "file ", 5) == 0) {
            if (!file_line(st, line)) {
                return false;
            }
        } else if (strncmp(line, "end ", 4) == 0) {
            return true;
        } else if (sf_positions_parse_line(&st->pos, line, false, why, sizeof(why)) != SF_OK) {
            return false;
        }
    }
    return false;
}

/* The last whole record of a log's text (modified). @return true when one was applied. */
static bool log_apply(struct sf_sink_state *st, char *text, size_t len)
{
    /* records begin with "\n" + header: find the last whose CRC holds */
    const size_t hl = strlen(STATE_HEADER);
    for (size_t i = len; i-- > 0;) {
        if (text[i] != '\n' || i + 1 + hl > len || memcmp(text + i + 1, STATE_HEADER, hl) != 0) {
            continue;
        }
        char *rec = text + i + 1;
        char *end = NULL;
        for (char *p = rec; (p = memchr(p, '\n', (size_t)(text + len - p)));) {
            p++;
            if ((size_t)(text + len - p) >= 13 && memcmp(p, "end ", 4) == 0 && p[12] == '\n') {
                end = p;
                break;
            }
            if (p + hl <= text + len && memcmp(p, STATE_HEADER, hl) == 0) {
                break; /* the next record began: this one has no end */
            }
        }
        if (!end) {
            continue;
        }
        char hex[9];
        memcpy(hex, end + 4, 8);
        hex[8] = '\0';
        char *hend;
        unsigned long want = strtoul(hex, &hend, 16);
        uLong crc = crc32(0L, (const Bytef *)rec, (uInt)(end - rec));
        if (*hend != '\0' || crc != want) {
            continue;
        }
        end[12] = '\0';
        char *copy = sf_xstrdup(rec);
        bool ok = record_apply(st, copy);
        free(copy);
        if (ok) {
            return true;
        }
        files_clear(st);
        sf_positions_clear(&st->pos);
    }
    return false;
}

int sf_sink_state_load(struct sf_sink_state *st, struct sf_hdfs_fs *fs, const char *dir,
                       const char *agent, const char *sink, char *err, size_t errsz)
{
    st->fs = fs;
    free(st->dir);
    free(st->prefix);
    st->dir = sf_xstrdup(dir);
    struct sf_buf b = SF_BUF_INIT;
    char host[256] = "localhost";
    if (gethostname(host, sizeof(host) - 1) != 0 || !host[0]) {
        snprintf(host, sizeof(host), "localhost");
    }
    host[strcspn(host, "./ ")] = '\0'; /* the short name: '.' separates the name's parts */
    sf_buf_printf(&b, ".sqlflume-state.%s.%s.%s.", host, agent, sink);
    st->prefix = sf_buf_steal(&b);
    if (st->log) {
        /* loaded again (a retried recovery): the old log handle goes */
        char e2[256];
        (void)sf_hdfs_file_close(st->log, e2, sizeof(e2));
        st->log = NULL;
    }
    files_clear(st);
    sf_positions_clear(&st->pos);
    st->seq = st->records = 0;
    struct sf_hdfs_stat *list = NULL;
    size_t n = 0;
    int rc = sf_hdfs_fs_list(fs, dir, &list, &n, err, errsz);
    if (rc == SF_ERR_NOTFOUND) {
        return SF_OK; /* nothing written yet */
    }
    if (rc != SF_OK) {
        return rc;
    }
    /* the logs' numbers, newest first */
    long long *seqs = sf_xcalloc(n + 1, sizeof(*seqs));
    size_t ns = 0;
    size_t pl = strlen(st->prefix);
    for (size_t i = 0; i < n; i++) {
        long long s;
        if (!list[i].is_dir && strncmp(list[i].name, st->prefix, pl) == 0 &&
            sf_offset_int_parse(list[i].name + pl, &s) && s > 0) {
            seqs[ns++] = s;
        }
    }
    sf_hdfs_stat_free_list(list, n);
    for (size_t i = 1; i < ns; i++) {
        for (size_t j = i; j > 0 && seqs[j - 1] < seqs[j]; j--) {
            long long t = seqs[j];
            seqs[j] = seqs[j - 1];
            seqs[j - 1] = t;
        }
    }
    rc = SF_OK;
    bool found = false, any_text = false;
    for (size_t i = 0; i < ns && !found && rc == SF_OK; i++) {
        struct sf_buf name = SF_BUF_INIT, text = SF_BUF_INIT;
        log_name(st, seqs[i], &name);
        rc = sf_hdfs_fs_read(fs, name.data, &text, SF_STATE_READ_MAX, err, errsz);
        if (rc == SF_OK) {
            any_text |= text.len > 0;
            found = log_apply(st, text.data ? text.data : "", text.len);
        }
        sf_buf_free(&text);
        sf_buf_free(&name);
    }
    /* no whole record anywhere: fine when nothing was ever written, or when the only log is the
     * first one, cut short by a crash during its first record (nothing had committed); else
     * the state is damaged, and guessing could write rows twice or lose files */
    if (rc == SF_OK && !found && any_text && !(ns == 1 && seqs[0] == 1)) {
        snprintf(err, errsz, "no readable record in the state logs %s/%s* (%zu logs)", dir,
                 st->prefix, ns);
        rc = SF_ERR_DATA;
    }
    st->seq = ns ? seqs[0] : 0;
    free(seqs);
    return rc;
}

int sf_sink_state_recover(struct sf_sink_state *st, const char *who, char *err, size_t errsz)
{
    for (size_t i = 0; i < st->nfiles;) {
        struct sf_state_file *f = &st->files[i];
        struct sf_hdfs_stat s;
        int rc = sf_hdfs_fs_stat(st->fs, f->inuse, &s, err, errsz);
        if (rc == SF_ERR_NOTFOUND) {
            sf_sink_state_drop_file(st, f->inuse); /* renamed or deleted before the crash */
            continue;
        }
        if (rc != SF_OK) {
            return rc;
        }
        if (f->len == 0) {
            rc = sf_hdfs_fs_delete(st->fs, f->inuse, err, errsz);
            if (rc != SF_OK && rc != SF_ERR_NOTFOUND) {
                return rc;
            }
            SF_INFO("%srecovery: removed \"%s\" (%lld bytes), which holds no committed batch",
                    who, f->inuse, s.length);
            sf_sink_state_drop_file(st, f->inuse);
            continue;
        }
        if (s.length > f->len) {
            rc = sf_hdfs_fs_truncate(st->fs, f->inuse, f->len, err, errsz);
            if (rc != SF_OK) {
                return rc;
            }
            SF_INFO("%srecovery: cut \"%s\" from %lld to its committed %lld bytes (a batch that "
                    "did not commit)",
                    who, f->inuse, s.length, f->len);
        } else if (s.length < f->len) {
            SF_ERROR("%srecovery: \"%s\" has %lld bytes, fewer than the %lld its committed "
                     "batches wrote: someone cut it; left as it is",
                     who, f->inuse, s.length, f->len);
        }
        if (strcmp(f->inuse, f->final) != 0) {
            rc = sf_hdfs_fs_rename(st->fs, f->inuse, f->final, err, errsz);
            if (rc == SF_ERR_EXISTS) {
                SF_ERROR("%srecovery: cannot close \"%s\": %s; its committed batches stay in "
                         "the in-use file",
                         who, f->inuse, err);
            } else if (rc != SF_OK) {
                return rc;
            } else {
                SF_INFO("%srecovery: closed \"%s\" as \"%s\"", who, f->inuse, f->final);
            }
        }
        sf_sink_state_drop_file(st, f->inuse);
    }
    /* a new log of the positions alone; then the old ones go */
    long long old = st->seq;
    if (st->log) {
        (void)sf_hdfs_file_close(st->log, err, errsz);
        st->log = NULL;
    }
    int rc = sf_sink_state_write(st, false, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    for (long long s = old; s > 0 && s > old - 3; s--) {
        if (s != st->seq) {
            delete_log(st, s);
        }
    }
    return SF_OK;
}

/* What happens after a failed load or recovery with rc, for the ERROR line. */
static const char *fail_hint(int rc)
{
    if (rc == SF_ERR_DATA) {
        return "the sink stops: a damaged state is not guessed around (move the state logs "
               "away to start again, at least once for the rows read again)";
    }
    if (rc == SF_ERR_AUTH) {
        return "the sink stops: it may not read or write there";
    }
    return "nothing is written until it works; retried";
}

enum sf_status sf_sink_state_start(struct sf_sink_state *st, struct sf_sink *snk,
                                   struct sf_sink_repeat *rep, struct sf_hdfs_fs *fs,
                                   const char *dir)
{
    char err[1024];
    snprintf(st->who, sizeof(st->who), SF_SINK_FMT, SF_SINK_ARGS(snk));
    int rc = sf_sink_state_load(st, fs, dir, sf_agent_name(snk->agent), snk->name, err,
                                sizeof(err));
    size_t nfiles = st->nfiles;
    if (rc == SF_OK) {
        rc = sf_sink_state_recover(st, st->who, err, sizeof(err));
    }
    if (rc != SF_OK) {
        char key[sizeof(rep->key)];
        snprintf(key, sizeof(key), "recovery %.480s", err);
        sf_sink_report(snk, rep, key,
                       "exactly-once: could not read the state in \"%s\" or put its files "
                       "right: %s; %s",
                       dir, err, fail_hint(rc));
        atomic_fetch_add(&snk->metrics.write_fail, 1);
        return rc == SF_ERR_DATA || rc == SF_ERR_AUTH ? SF_FATAL : SF_FAILED;
    }
    rep->key[0] = '\0';
    st->started = true;
    SF_INFO("%sexactly-once: state in \"%s\" (log %lld): %zu files put right, positions of %zu "
            "tables",
            st->who, dir, st->seq, nfiles, sf_positions_count(&st->pos));
    return SF_READY;
}

bool sf_sink_state_admit(struct sf_sink_state *st, const struct sf_event *ev)
{
    const char *table = sf_event_header(ev, SF_HDR_TABLE);
    const char *off = sf_event_header(ev, SF_HDR_OFFSET);
    if (!table || !*table || !off || !*off ||
        sf_positions_admit(&st->pos, SF_STATE_DEST, table, off, st->who)) {
        return true;
    }
    st->skipped++;
    return false;
}

void sf_sink_state_batch_done(struct sf_sink_state *st, size_t skipped, size_t n)
{
    if (skipped == 0) {
        return;
    }
    long long now = sf_mono_ms();
    if (st->skip_log_ms == 0 || now - st->skip_log_ms >= 10000) {
        st->skip_log_ms = now;
        SF_INFO("%sexactly-once: skipped %zu of %zu events that the files have already (%lld so "
                "far)",
                st->who, skipped, n, st->skipped);
    }
}

void sf_sink_state_end(struct sf_sink_state *st)
{
    if (st->started) {
        char err[1024];
        if (sf_sink_state_write(st, false, err, sizeof(err)) != SF_OK) {
            SF_WARN("%sexactly-once: could not write the last state record: %s (the next start "
                    "puts the files right from the one before)",
                    st->who, err);
        }
    }
    if (st->skipped > 0) {
        SF_INFO("%sexactly-once: %lld events were not written again since the files had them",
                st->who, st->skipped);
    }
    if (st->writes > 0) {
        SF_INFO("%sexactly-once: %lld state records, %.2f ms each on average", st->who,
                st->writes, (double)st->write_us / 1000.0 / (double)st->writes);
    }
    sf_sink_state_free(st);
}

void sf_sink_state_free(struct sf_sink_state *st)
{
    if (st->log) {
        char err[256];
        (void)sf_hdfs_file_close(st->log, err, sizeof(err));
    }
    files_clear(st);
    free(st->files);
    sf_positions_free(&st->pos);
    sf_buf_free(&st->rec);
    free(st->dir);
    free(st->prefix);
    memset(st, 0, sizeof(*st));
}
