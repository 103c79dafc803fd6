/*
 * Flume's FileChannel: a durable FIFO. A put commit serialises its events as PUT records plus a
 * COMMIT record (carrying the source offset, if any) into one buffer outside every lock and
 * appends it to the current log file with one pwrite under the log lock; a take commit does the
 * same with TAKE records. Nothing is written for a rollback.
 *
 * Pipelined group commit (fsyncPerTransaction): commits return after their write, and a sync
 * thread fdatasyncs the log whenever it holds unsynced put commits, one sync covering every
 * commit written before it, at most one sync per FC_GROUP_WINDOW_US (each fdatasync costs the
 * disk a cache flush: fewer, larger syncs cost less in all, and no commit waits for them). A put commit's events join the queue (and its source offset counts)
 * only once that sync is done, so a sink never takes an event that is not durable, while the
 * source already reads its next batch; a take waits for committed events still being synced, so
 * they count as queued. Take commits alone are synced within FC_LAZY_SYNC_MS: until then a power
 * cut could only deliver those events again, and kill -9 loses nothing written. An fsync error is
 * fatal for the channel, as in PostgreSQL since "fsyncgate": the pages may be gone, so the put
 * commits waiting for it never become visible and every later commit fails with SF_ERR_IO until
 * the agent is restarted; the source then resumes from the last durable offset.
 *
 * With zeroFillLogs the background thread zero-fills the log ahead of the writes, so that a sync
 * writes data and no file metadata (measured on ext4 here: about a third less per fsync); off by
 * default, since with pipelined commits the doubled writes cost more than the shorter syncs.
 *
 * The queue is a ring of 24-byte slots pointing at PUT records; a slot also holds the event
 * itself while the event cache (eventCacheBytes, 64 MiB by default) has room, so a sink that
 * keeps up never reads the log, and otherwise the event's ack tracker, so delivery still
 * advances the source's offset. Events not cached are read back with one pread per 128 KiB of
 * consecutive records.
 *
 * Durability: a put's events are visible only after its records are fsync'd (fsyncPerTransaction;
 * else every fsyncInterval), and a COMMIT record is the only thing that makes a transaction count
 * on replay. A commit whose records were written but not synced may still count after a restart:
 * duplicates, never loss. Checkpoints (every checkpointInterval, at start and on close) hold the
 * queue pointers (in-flight takes first), the last write-order id and the source offsets; taking
 * one excludes commits for the time of a snapshot (a writer-preferring rwlock that commits hold
 * shared), then the file is written crash-safely and the oldest log files that no queued or
 * in-flight event references are deleted. Only a prefix of the files goes, so a full replay
 * never resurrects events whose TAKE records were in a deleted file. On start the checkpoint is
 * loaded and newer records replayed; without a valid checkpoint every log is replayed. A torn or
 * corrupt record ends its log: the file is truncated there. Each start writes to a new log file.
 *
 * Locks, always taken in this order: ckpt_mu (whole checkpoints) > ckpt_rw (commits and the
 * zero-filler shared; snapshots and file deletion exclusive) > log_mu (write position,
 * write-order ids, rolling, zero-fill bounds) > sync_mu (group commit) / q_mu (queue, capacity,
 * cache, log file table, offsets) / bg_mu. Each transaction takes each lock once.
 */
#include "file_channel.h"
#include "checkpoint.h"
#include "wal.h"

#include "sqlflume/buf.h"
#include "sqlflume/channel.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"
#include "sqlflume/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define FC_FMT             "[channel %s file] "
#define FC_CACHED          UINT64_MAX          /* slot.ack_id: slot.ref is the cached event */
#define FC_MIN_SPACE_FLOOR 1048576             /* Flume's floor for minimumRequiredSpace, bytes */
#define FC_READ_CHUNK      ((size_t)128 << 10) /* bytes per pread when reading events back */
#define FC_SPARE_BUFS      4                   /* serialisation buffers kept for reuse */
#define FC_SPARE_MAX       (16u << 20)         /* a buffer larger than this is not kept, bytes */
#define FC_DEAD            UINT64_MAX          /* replay: a taken queue pointer */
#define FC_SYNC_ROUNDS     2                   /* group syncs that may run at once */
#define FC_PENDING_WAIT_MS 10000 /* a take waits this long at most for events being synced */
#define FC_LAZY_SYNC_MS    100   /* take commits alone are synced within this many ms */
#define FC_GROUP_WINDOW_US 2000L /* at most one group sync per this many us (plus the sync) */
#define FC_ZERO_AHEAD      (16u << 20) /* bytes zero-filled ahead of the write position at a time */
#define FC_ZERO_LOW        (12u << 20) /* zero-fill again when less than this is left, bytes */
#define FC_ZERO_GAP        (4u << 20)  /* with none left, start this far beyond the writes, bytes */

/* One queued or in-flight event. */
struct fc_slot {
    uint32_t file_id;
    uint32_t offset; /* of the PUT record */
    uint64_t ack_id; /* FC_CACHED, or the event's ack id */
    void *ref;       /* the cached struct sf_event (owned), or the event's ack tracker */
};

/* FIFO of slots with room at both ends; cap is 0 or a power of two. */
struct fc_ring {
    struct fc_slot *v;
    size_t cap, head, len;
};

/* One log file. */
struct fc_log {
    uint32_t id;
    int fd;         /* O_RDWR: written while current, read by takes until deleted */
    int dir;        /* index into file_ctx.dirs */
    long long refs; /* queued + in-flight events whose PUT record is here (q_mu) */
    uint64_t size;  /* bytes at start (replay and checkpoint checks only) */
};

/* A take transaction's state (sf_txn.plugin_data), from its first event to commit/rollback. */
struct fc_take {
    struct fc_take *prev, *next; /* file_ctx.takes, oldest first (q_mu) */
    struct fc_slot *slots;       /* slots[i] is txn->evs[i] */
    int *fds;                    /* per slot, for the take call in progress */
    size_t n, cap;
};

/* A put commit written to the log and waiting for the group sync that makes it durable
 * (fsyncPerTransaction): its events join the queue when the log is synced up to lsn. */
struct fc_pending {
    struct fc_pending *next;
    uint64_t lsn;         /* end of its COMMIT record in the log */
    size_t n;
    struct fc_slot *slots; /* n queue slots, in put order (owned) */
    char *off_key;         /* the source offset it records, or NULL (owned) */
    char *off_val;
};

/* A serialisation buffer plus the offsets of its PUT records. */
struct fc_wbuf {
    struct sf_buf b;
    uint32_t *at;
    size_t at_cap;
};

struct fc_offset {
    char *key;
    char *val;
};

struct file_ctx {
    /* options */
    char *checkpoint_dir_opt;
    char *data_dirs_opt;
    bool dual_checkpoints;
    char *backup_dir_opt;
    long long capacity;
    long long txn_capacity;
    long long checkpoint_interval_ms;
    long long max_file_size;
    long long min_space;
    long long keep_alive_s;
    bool fsync_per_txn;
    long long fsync_interval_s;
    bool checkpoint_on_close;
    long long cache_max_bytes;
    long long sync_delay_ms;
    bool zero_fill;

    struct sf_channel *ch;
    char **dirs; /* data dirs, ~ expanded */
    size_t ndirs;
    char *ckpt_dir;
    char *backup_dir; /* NULL unless useDualCheckpoints */
    int *lock_fds;    /* in_use.lock of each directory, flock'ed */
    size_t nlock_fds;
    bool locks_init;

    pthread_mutex_t ckpt_mu;
    pthread_rwlock_t ckpt_rw;

    /* the write side (log_mu) */
    pthread_mutex_t log_mu;
    struct fc_log *cur;
    uint64_t cur_pos;          /* bytes in cur */
    uint64_t next_wo;          /* next write-order id */
    atomic_ullong written_lsn; /* bytes appended since start, across files (written under log_mu) */
    uint32_t next_file_id;
    bool need_roll; /* cur is unsafe to append to (failed truncate or fsync) */
    bool write_warned;
    uint64_t alloc_end; /* cur is written (zeros or data) up to here (zeroFillLogs) */
    bool zero_wanted;   /* the background thread should zero-fill more of cur */
    bool zeroing;       /* it is doing so now, from zero_from on: writers stay below */
    uint64_t zero_from;
    unsigned zero_gen; /* bumped when a failed write cuts cur back: the fill is void */
    pthread_cond_t zeroed;
    atomic_int cur_dir; /* dir of cur, for the free space check */

    /* group commit (sync_mu) */
    pthread_mutex_t sync_mu;
    pthread_cond_t synced;
    uint64_t synced_lsn;   /* bytes known durable */
    uint64_t sync_err_lsn; /* commits up to here failed to sync */
    int syncing;           /* rounds in flight, at most FC_SYNC_ROUNDS */
    uint64_t sync_started; /* a round in flight or done covers the log up to here */
    atomic_llong sync_count;

    /* the queue (q_mu) */
    pthread_mutex_t q_mu;
    pthread_cond_t not_empty;
    pthread_cond_t not_full;
    struct fc_ring q;
    size_t held;     /* queued + in flight */
    size_t reserved; /* room promised to put commits in progress */
    size_t cache_bytes;
    struct fc_take *takes_head, *takes_tail;
    struct fc_log **files; /* files[i] has id files_base + i, or is NULL (deleted) */
    size_t nfiles, files_cap;
    uint32_t files_base;
    struct fc_offset *offsets;
    size_t noffsets;
    struct fc_pending *pend_head, *pend_tail; /* put commits waiting for their sync, in order */
    size_t pending;                           /* events in them */
    atomic_size_t pend_commits;               /* put commits in them */
    atomic_bool failed; /* an fsync failed: pending puts are void, every commit fails */

    /* the sync thread (sync_mu): syncs the log whenever it has unsynced commits */
    pthread_t syncer;
    bool syncer_started;
    bool sync_stop;
    pthread_cond_t sync_kick;

    atomic_bool space_low;
    _Atomic(struct fc_wbuf *) spare[FC_SPARE_BUFS];

    /* background: checkpoints and interval fsyncs (bg_mu) */
    pthread_mutex_t bg_mu;
    pthread_cond_t bg_cond;
    pthread_t bg;
    bool bg_started;
    bool stopping;
    bool bg_kick;     /* zero-filling wanted */
    uint64_t ckpt_wo; /* write-order id of the last checkpoint (ckpt_mu) */
};

static const struct sf_option file_options[] = {
    { "checkpointDir", SF_OPT_STRING, "~/.flume/file-channel/checkpoint", 0, 0,
      offsetof(struct file_ctx, checkpoint_dir_opt), 0, NULL, NULL,
      "directory path of the checkpoint (~ = home directory)" },
    { "dataDirs", SF_OPT_STRING, "~/.flume/file-channel/data", 0, 0,
      offsetof(struct file_ctx, data_dirs_opt), 0, NULL, NULL,
      "comma-separated directory paths of the log files, used round-robin one file at a time" },
    { "useDualCheckpoints", SF_OPT_BOOL, "false", 0, 0, offsetof(struct file_ctx, dual_checkpoints),
      0, NULL, NULL, "also write every checkpoint to backupCheckpointDir (true/false)" },
    { "backupCheckpointDir", SF_OPT_STRING, NULL, 0, 0, offsetof(struct file_ctx, backup_dir_opt),
      0, NULL, NULL, "directory path of the backup checkpoint, needed by useDualCheckpoints" },
    { "capacity", SF_OPT_INT, "1000000", 1, 1000000000, offsetof(struct file_ctx, capacity), 0,
      NULL, NULL, "maximum number of events held by the channel" },
    { "transactionCapacity", SF_OPT_INT, "10000", 1, 1000000000,
      offsetof(struct file_ctx, txn_capacity), 0, NULL, NULL,
      "maximum number of events per put or take transaction" },
    { "checkpointInterval", SF_OPT_INT, "30000", 1, 86400000,
      offsetof(struct file_ctx, checkpoint_interval_ms), 0, NULL, NULL,
      "milliseconds between checkpoints" },
    { "maxFileSize", SF_OPT_INT, "2146435071", 1024, 2146435071,
      offsetof(struct file_ctx, max_file_size), 0, NULL, NULL,
      "bytes after which the next log file is started" },
    { "minimumRequiredSpace", SF_OPT_INT, "524288000", 0, (long long)1 << 60,
      offsetof(struct file_ctx, min_space), 0, NULL, NULL,
      "bytes that must stay free in the data directory, else put commits fail (floor 1048576)" },
    { "keep-alive", SF_OPT_INT, "3", 0, 86400, offsetof(struct file_ctx, keep_alive_s), 0, NULL,
      NULL, "seconds a put commit waits for room before failing" },
    { "fsyncPerTransaction", SF_OPT_BOOL, "true", 0, 0, offsetof(struct file_ctx, fsync_per_txn), 0,
      NULL, NULL,
      "fsync the log before every commit returns (true, shared by concurrent commits) or only "
      "every fsyncInterval seconds (false)" },
    { "fsyncInterval", SF_OPT_INT, "5", 1, 86400, offsetof(struct file_ctx, fsync_interval_s), 0,
      NULL, NULL, "seconds between log fsyncs when fsyncPerTransaction is false" },
    { "checkpointOnClose", SF_OPT_BOOL, "true", 0, 0,
      offsetof(struct file_ctx, checkpoint_on_close), 0, NULL, NULL,
      "write a checkpoint when the channel stops, so the next start replays nothing (true/false)" },
    { "eventCacheBytes", SF_OPT_INT, "67108864", 0, (long long)1 << 40,
      offsetof(struct file_ctx, cache_max_bytes), 0, NULL, NULL,
      "bytes of recently put events kept in memory so takes need not read the log; 0 = always "
      "read (sqlflume extension)" },
    { "zeroFillLogs", SF_OPT_BOOL, "false", 0, 0, offsetof(struct file_ctx, zero_fill), 0, NULL,
      NULL,
      "write zeros 16 MiB ahead of the log's write position in the background, so a sync need "
      "not update file metadata: shorter syncs, but every byte is written twice (end to end "
      "here it costs more than it saves, since commits do not wait for syncs); never on "
      "copy-on-write file systems (true/false, sqlflume extension)" },
    { "testSyncDelayMs", SF_OPT_INT, "0", 0, 10000, offsetof(struct file_ctx, sync_delay_ms), 0,
      NULL, NULL, "milliseconds added to every log fsync to emulate a slow disk (tests only)" },
    /* Flume FileChannel keys not implemented: errors, never silently ignored */
    { "encryption.", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, NULL, NULL,
      "the log is not encrypted: Flume's encryption.activeKey, encryption.cipherProvider and "
      "encryption.keyProvider are not implemented" },
    { "use-fast-replay", SF_OPT_UNSUPPORTED, NULL, 0, 0, 0, 0, "use-log-replay-v1", NULL,
      "Flume's replay variants: sqlflume replays its own log format from the checkpoint" },
    { 0 },
};

/* ---------- small helpers ---------- */

/* The CLOCK_MONOTONIC time us microseconds from now (the channel's conds use that clock). */
static void deadline_after_us(struct timespec *ts, long long us)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += us / 1000000;
    ts->tv_nsec += (us % 1000000) * 1000;
    if (ts->tv_nsec >= 1000000000) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000;
    }
}

static void deadline_after_ms(struct timespec *ts, long long ms)
{
    deadline_after_us(ts, ms * 1000);
}

static long long mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long mono_ms(void)
{
    return mono_us() / 1000;
}

static void log_path(const struct file_ctx *fc, int dir, uint32_t id, char *out, size_t outsz)
{
    snprintf(out, outsz, "%s/log-%u", fc->dirs[dir], id);
}

/* Bytes an event occupies, for the cache bound. */
static size_t ev_bytes(const struct sf_event *ev)
{
    return sf_event_size(ev);
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return -1;
        }
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

/* "~/x" -> "$HOME/x"; a malloc'd copy. */
static char *expand_home(const char *path)
{
    if (path[0] != '~' || (path[1] != '/' && path[1] != '\0')) {
        return strdup(path);
    }
    const char *home = getenv("HOME");
    if (!home || !*home) {
        struct passwd *pw = getpwuid(getuid());
        home = pw ? pw->pw_dir : "/";
    }
    size_t n = strlen(home) + strlen(path);
    char *s = malloc(n + 1);
    if (s) {
        snprintf(s, n + 1, "%s%s", home, path + 1);
    }
    return s;
}

/* mkdir -p */
static int mkdirs(const char *path)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s", path) >= (int)sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* ---------- the ring ---------- */

static int ring_reserve(struct fc_ring *r, size_t need)
{
    if (need <= r->cap) {
        return 0;
    }
    size_t cap = r->cap ? r->cap : 1024;
    while (cap < need) {
        cap *= 2;
    }
    struct fc_slot *v = malloc(cap * sizeof(*v));
    if (!v) {
        return -1;
    }
    for (size_t i = 0; i < r->len; i++) {
        v[i] = r->v[(r->head + i) & (r->cap - 1)];
    }
    free(r->v);
    r->v = v;
    r->cap = cap;
    r->head = 0;
    return 0;
}

static void ring_push_back(struct fc_ring *r, const struct fc_slot *s)
{
    r->v[(r->head + r->len) & (r->cap - 1)] = *s;
    r->len++;
}

static void ring_push_front(struct fc_ring *r, const struct fc_slot *s)
{
    r->head = (r->head - 1) & (r->cap - 1);
    r->v[r->head] = *s;
    r->len++;
}

static struct fc_slot ring_pop_front(struct fc_ring *r)
{
    struct fc_slot s = r->v[r->head];
    r->head = (r->head + 1) & (r->cap - 1);
    r->len--;
    return s;
}

static struct fc_slot *ring_at(struct fc_ring *r, size_t i)
{
    return &r->v[(r->head + i) & (r->cap - 1)];
}

/* ---------- the log file table (q_mu, or single-threaded at start) ---------- */

static struct fc_log *file_get(struct file_ctx *fc, uint32_t id)
{
    if (id < fc->files_base || id - fc->files_base >= fc->nfiles) {
        return NULL;
    }
    return fc->files[id - fc->files_base];
}

/* Add f, whose id is above every id in the table. */
static int file_add(struct file_ctx *fc, struct fc_log *f)
{
    if (fc->nfiles == 0) {
        fc->files_base = f->id;
    }
    size_t idx = f->id - fc->files_base;
    if (idx >= fc->files_cap) {
        size_t cap = fc->files_cap ? fc->files_cap * 2 : 16;
        while (cap <= idx) {
            cap *= 2;
        }
        struct fc_log **v = realloc(fc->files, cap * sizeof(*v));
        if (!v) {
            return -1;
        }
        fc->files = v;
        fc->files_cap = cap;
    }
    for (size_t i = fc->nfiles; i < idx; i++) {
        fc->files[i] = NULL;
    }
    fc->files[idx] = f;
    fc->nfiles = idx + 1;
    return 0;
}

/* Remove the entry of id and drop leading holes. */
static void file_remove(struct file_ctx *fc, uint32_t id)
{
    fc->files[id - fc->files_base] = NULL;
    size_t skip = 0;
    while (skip < fc->nfiles && !fc->files[skip]) {
        skip++;
    }
    if (skip > 0) {
        memmove(fc->files, fc->files + skip, (fc->nfiles - skip) * sizeof(*fc->files));
        fc->nfiles -= skip;
        fc->files_base += (uint32_t)skip;
    }
}

/* ---------- serialisation buffers ---------- */

static struct fc_wbuf *wbuf_get(struct file_ctx *fc)
{
    for (int i = 0; i < FC_SPARE_BUFS; i++) {
        struct fc_wbuf *w = atomic_exchange(&fc->spare[i], NULL);
        if (w) {
            sf_buf_reset(&w->b);
            return w;
        }
    }
    struct fc_wbuf *w = calloc(1, sizeof(*w));
    if (!w) {
        abort(); /* as sf_buf does: nothing sensible to do without memory */
    }
    return w;
}

static void wbuf_free(struct fc_wbuf *w)
{
    if (w) {
        sf_buf_free(&w->b);
        free(w->at);
        free(w);
    }
}

static void wbuf_put(struct file_ctx *fc, struct fc_wbuf *w)
{
    if (w->b.cap <= FC_SPARE_MAX) {
        for (int i = 0; i < FC_SPARE_BUFS; i++) {
            struct fc_wbuf *expect = NULL;
            if (atomic_compare_exchange_strong(&fc->spare[i], &expect, w)) {
                return;
            }
        }
    }
    wbuf_free(w);
}

/* ---------- writing and syncing the log ---------- */

/* fdatasync a log file, plus the test delay; counted. */
static int log_fdatasync(struct file_ctx *fc, int fd)
{
    int rc = fdatasync(fd);
    int e = errno;
    if (fc->sync_delay_ms > 0) {
        struct timespec ts = { fc->sync_delay_ms / 1000, (fc->sync_delay_ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&fc->sync_count, 1);
    errno = e;
    return rc;
}

/* Create log file id (header written and synced, directory synced). */
static int
log_create(struct file_ctx *fc, uint32_t id, struct fc_log **out, char *err, size_t errsz)
{
    int dir = (int)(id % fc->ndirs);
    char path[4096];
    log_path(fc, dir, id, path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsz, "could not create log file \"%s\": %s", path, strerror(errno));
        return errno == ENOSPC || errno == EDQUOT ? SF_ERR_FULL : SF_ERR_IO;
    }
    unsigned char hdr[SF_WAL_FILE_HDR];
    sf_wal_file_header(hdr, id);
    struct fc_log *f = calloc(1, sizeof(*f));
    if (!f || pwrite_all(fd, hdr, sizeof(hdr), 0) != 0 || log_fdatasync(fc, fd) != 0 ||
        sf_ckpt_fsync_dir(fc->dirs[dir]) != 0) {
        int e = f ? errno : ENOMEM;
        snprintf(err, errsz, "could not write log file \"%s\": %s", path, strerror(e));
        free(f);
        close(fd);
        unlink(path);
        return e == ENOSPC || e == EDQUOT ? SF_ERR_FULL : SF_ERR_IO;
    }
    f->id = id;
    f->fd = fd;
    f->dir = dir;
    f->size = SF_WAL_FILE_HDR;
    *out = f;
    return SF_OK;
}

/*
 * Close the current file (synced first, so a later file never holds records whose predecessors
 * could be lost) and start the next one. Caller holds ckpt_rw (shared or exclusive) and log_mu.
 */
static int log_roll(struct file_ctx *fc)
{
    if (fc->cur) {
        int rc = log_fdatasync(fc, fc->cur->fd);
        pthread_mutex_lock(&fc->sync_mu);
        if (rc == 0) {
            if (fc->synced_lsn < fc->written_lsn) {
                fc->synced_lsn = fc->written_lsn;
            }
        } else if (fc->sync_err_lsn < fc->written_lsn) {
            fc->sync_err_lsn = fc->written_lsn;
        }
        pthread_cond_broadcast(&fc->synced);
        pthread_mutex_unlock(&fc->sync_mu);
    }
    struct fc_log *f = NULL;
    char err[4352];
    int rc = log_create(fc, fc->next_file_id, &f, err, sizeof(err));
    if (rc != SF_OK) {
        SF_WARN(FC_FMT "%s", fc->ch->name, err);
        return rc;
    }
    pthread_mutex_lock(&fc->q_mu);
    int added = file_add(fc, f);
    pthread_mutex_unlock(&fc->q_mu);
    if (added != 0) {
        char path[4096];
        log_path(fc, f->dir, f->id, path, sizeof(path));
        close(f->fd);
        unlink(path);
        free(f);
        return SF_ERR_NOMEM;
    }
    fc->next_file_id++;
    fc->cur = f;
    fc->cur_pos = SF_WAL_FILE_HDR;
    fc->alloc_end = SF_WAL_FILE_HDR;
    fc->need_roll = false;
    atomic_store(&fc->cur_dir, f->dir);
    SF_DEBUG(FC_FMT "writing log file %u in \"%s\"", fc->ch->name, f->id, fc->dirs[f->dir]);
    return SF_OK;
}

/*
 * Append the records in w (sealed here with their write-order ids) to the log in one write.
 * On SF_OK: *file_id and *base tell where the buffer starts, *end_lsn is the position to wait
 * for. On failure nothing of it is left in the log (a partial write is truncated away; if even
 * that fails, the file is abandoned). Caller holds ckpt_rw shared.
 */
static int log_append(struct file_ctx *fc,
                      struct fc_wbuf *w,
                      uint32_t *file_id,
                      uint64_t *base,
                      uint64_t *end_lsn)
{
    int rc = SF_OK;
    size_t len = w->b.len;
    pthread_mutex_lock(&fc->log_mu);
    if (fc->need_roll ||
        (fc->cur_pos > SF_WAL_FILE_HDR && fc->cur_pos + len > (uint64_t)fc->max_file_size)) {
        rc = log_roll(fc);
        if (rc != SF_OK) {
            goto out;
        }
    }
    if (fc->cur_pos + len > UINT32_MAX) {
        SF_ERROR(FC_FMT "a transaction of %zu bytes does not fit in a log file", fc->ch->name, len);
        rc = SF_ERR_INVAL;
        goto out;
    }
    while (fc->zeroing && fc->cur_pos + len > fc->zero_from) {
        pthread_cond_wait(&fc->zeroed, &fc->log_mu); /* rare: the writes outran the zero-fill */
    }
    fc->next_wo += sf_wal_seal((unsigned char *)w->b.data, len, fc->next_wo);
    if (pwrite_all(fc->cur->fd, w->b.data, len, fc->cur_pos) != 0) {
        int e = errno;
        char path[4096];
        log_path(fc, fc->cur->dir, fc->cur->id, path, sizeof(path));
        if (ftruncate(fc->cur->fd, (off_t)fc->cur_pos) != 0) {
            SF_ERROR(FC_FMT "could not truncate log file \"%s\" back to %llu bytes: %s; starting "
                            "a new log file",
                     fc->ch->name, path, (unsigned long long)fc->cur_pos, strerror(errno));
            fc->need_roll = true;
        }
        fc->alloc_end = fc->cur_pos;
        fc->zero_gen++;
        if (!fc->write_warned) {
            SF_WARN(FC_FMT "could not write %zu bytes to log file \"%s\": %s; commit failed",
                    fc->ch->name, len, path, strerror(e));
            fc->write_warned = true;
        }
        rc = e == ENOSPC || e == EDQUOT || e == EFBIG ? SF_ERR_FULL : SF_ERR_IO;
        goto out;
    }
    fc->write_warned = false;
    *file_id = fc->cur->id;
    *base = fc->cur_pos;
    fc->cur_pos += len;
    fc->written_lsn += len;
    *end_lsn = fc->written_lsn;
    if (fc->alloc_end < fc->cur_pos) {
        fc->alloc_end = fc->cur_pos;
    }
    bool kick = fc->zero_fill && !fc->zeroing && !fc->zero_wanted &&
                fc->alloc_end - fc->cur_pos < FC_ZERO_LOW &&
                fc->alloc_end < (uint64_t)fc->max_file_size;
    if (kick) {
        fc->zero_wanted = true;
    }
out:
    pthread_mutex_unlock(&fc->log_mu);
    if (rc == SF_OK && kick) {
        pthread_mutex_lock(&fc->bg_mu);
        fc->bg_kick = true;
        pthread_cond_signal(&fc->bg_cond);
        pthread_mutex_unlock(&fc->bg_mu);
    }
    return rc;
}

/*
 * Zero-fill FC_ZERO_AHEAD bytes of the current log file beyond what is written (not past
 * maxFileSize) and sync them, so that commits overwrite allocated, zeroed blocks and their
 * fsyncs need not write file metadata (PostgreSQL zero-fills its WAL segments for the same
 * reason). When the writes have caught up with the zeroed space (a new file), the fill starts
 * FC_ZERO_GAP beyond them, so they need not wait for it. Background thread; holds ckpt_rw
 * shared so the file cannot be deleted meanwhile. A failure only stops the zero-filling.
 */
static void zero_fill(struct file_ctx *fc)
{
    static const char zeros[1 << 20];
    pthread_rwlock_rdlock(&fc->ckpt_rw);
    pthread_mutex_lock(&fc->log_mu);
    struct fc_log *f = fc->cur;
    uint64_t from = fc->alloc_end;
    if (from < fc->cur_pos + FC_ZERO_GAP) {
        from = fc->cur_pos + FC_ZERO_GAP; /* the space below stays a hole: reads as zeros */
    }
    uint64_t to = from + FC_ZERO_AHEAD;
    if (to > (uint64_t)fc->max_file_size) {
        to = (uint64_t)fc->max_file_size;
    }
    bool go = fc->zero_wanted && from < to;
    unsigned gen = fc->zero_gen;
    fc->zero_wanted = false;
    fc->zeroing = go;
    fc->zero_from = from;
    pthread_mutex_unlock(&fc->log_mu);
    if (!go) {
        pthread_rwlock_unlock(&fc->ckpt_rw);
        return;
    }
    int rc = 0;
    for (uint64_t at = from; at < to && rc == 0; at += sizeof(zeros)) {
        size_t n = to - at < sizeof(zeros) ? (size_t)(to - at) : sizeof(zeros);
        rc = pwrite_all(f->fd, zeros, n, at);
    }
    if (rc == 0) {
        rc = fdatasync(f->fd);
    }
    if (rc != 0) {
        SF_DEBUG(FC_FMT "could not zero-fill log file %u from %llu: %s", fc->ch->name, f->id,
                 (unsigned long long)from, strerror(errno));
    }
    pthread_mutex_lock(&fc->log_mu);
    fc->zeroing = false;
    if (rc == 0 && fc->cur == f && fc->zero_gen == gen) {
        fc->alloc_end = to;
    }
    pthread_cond_broadcast(&fc->zeroed);
    pthread_mutex_unlock(&fc->log_mu);
    pthread_rwlock_unlock(&fc->ckpt_rw);
}

/*
 * One group sync: fdatasync the current log file, making everything written so far durable.
 * Called with sync_mu held and fewer than FC_SYNC_ROUNDS rounds in flight; returns with sync_mu
 * held. Caller holds ckpt_rw (the file cannot be deleted meanwhile).
 */
static void sync_round(struct file_ctx *fc)
{
    uint64_t covers = atomic_load(&fc->written_lsn); /* at least: target is read later */
    fc->syncing++;
    if (fc->sync_started < covers) {
        fc->sync_started = covers;
    }
    pthread_mutex_unlock(&fc->sync_mu);
    pthread_mutex_lock(&fc->log_mu);
    int fd = fc->cur->fd;
    uint32_t id = fc->cur->id;
    int dir = fc->cur->dir;
    uint64_t target = fc->written_lsn;
    pthread_mutex_unlock(&fc->log_mu);
    int rc = log_fdatasync(fc, fd);
    uint64_t err_upto = 0;
    if (rc != 0) {
        int e = errno;
        char path[4096];
        log_path(fc, dir, id, path, sizeof(path));
        SF_ERROR(FC_FMT "could not fsync log file \"%s\": %s; failing the commits waiting for it "
                        "and starting a new log file",
                 fc->ch->name, path, strerror(e));
        /* whatever went to that file since is in doubt too: fail it all, write elsewhere */
        pthread_mutex_lock(&fc->log_mu);
        fc->need_roll = true;
        err_upto = fc->written_lsn;
        pthread_mutex_unlock(&fc->log_mu);
    }
    pthread_mutex_lock(&fc->sync_mu);
    fc->syncing--;
    /* fdatasync covers every write that completed before it was called, whichever round ends
     * first */
    if (rc == 0 && fc->synced_lsn < target) {
        fc->synced_lsn = target;
    }
    if (rc != 0 && fc->sync_err_lsn < err_upto) {
        fc->sync_err_lsn = err_upto;
    }
    pthread_cond_broadcast(&fc->synced);
}

/*
 * Wait until the log is durable up to lsn (group commit): join a sync round in flight that
 * covers lsn, else start one. A second round may start while one runs that started before lsn
 * was written, so a put commit does not queue behind a take commit's fsync for a whole extra
 * fsync. @return SF_OK or SF_ERR_IO.
 */
static int log_wait_durable(struct file_ctx *fc, uint64_t lsn)
{
    int rc = SF_OK;
    pthread_mutex_lock(&fc->sync_mu);
    for (;;) {
        if (lsn > 0 && lsn <= fc->sync_err_lsn) {
            rc = SF_ERR_IO; /* checked first: a later round's success may hide the error */
            break;
        }
        if (fc->synced_lsn >= lsn) {
            break;
        }
        if (fc->syncing == 0 || (fc->syncing < FC_SYNC_ROUNDS && fc->sync_started < lsn)) {
            sync_round(fc);
        } else {
            pthread_cond_wait(&fc->synced, &fc->sync_mu);
        }
    }
    pthread_mutex_unlock(&fc->sync_mu);
    return rc;
}

/* Sync whatever was written and not yet synced (interval syncs, checkpoints). */
static int log_sync_all(struct file_ctx *fc)
{
    pthread_mutex_lock(&fc->log_mu);
    uint64_t lsn = fc->written_lsn;
    pthread_mutex_unlock(&fc->log_mu);
    return log_wait_durable(fc, lsn);
}

/* ---------- put ---------- */

/* Fail put commits while the data directory is short of space (log once per episode). */
static int check_space(struct file_ctx *fc)
{
    const char *dir = fc->dirs[atomic_load(&fc->cur_dir)];
    struct statvfs sv;
    if (statvfs(dir, &sv) != 0) {
        return SF_OK; /* cannot tell: the write itself will report a full disk */
    }
    unsigned long long free_bytes = (unsigned long long)sv.f_bavail * sv.f_frsize;
    if (free_bytes < (unsigned long long)fc->min_space) {
        if (!atomic_exchange(&fc->space_low, true)) {
            SF_WARN(FC_FMT "only %llu bytes free in data directory \"%s\", below "
                           "minimumRequiredSpace (%lld bytes); put commits fail until space is "
                           "freed",
                    fc->ch->name, free_bytes, dir, fc->min_space);
        }
        return SF_ERR_FULL;
    }
    if (atomic_exchange(&fc->space_low, false)) {
        SF_INFO(FC_FMT "%llu bytes free in data directory \"%s\" again; accepting puts",
                fc->ch->name, free_bytes, dir);
    }
    return SF_OK;
}

/* Reserve room for n events, waiting up to keep-alive. */
static int reserve_room(struct file_ctx *fc, struct sf_txn *txn)
{
    size_t n = txn->n;
    struct timespec deadline;
    deadline_after_ms(&deadline, fc->keep_alive_s * 1000);
    pthread_mutex_lock(&fc->q_mu);
    while (fc->held + fc->reserved + n > (size_t)fc->capacity) {
        if (pthread_cond_timedwait(&fc->not_full, &fc->q_mu, &deadline) == ETIMEDOUT &&
            fc->held + fc->reserved + n > (size_t)fc->capacity) {
            pthread_mutex_unlock(&fc->q_mu);
            SF_DEBUG(FC_FMT "space for commit to queue couldn't be acquired (%zu events)",
                     txn->ch->name, n);
            return SF_ERR_FULL;
        }
    }
    if (ring_reserve(&fc->q, fc->held + fc->reserved + n) != 0) {
        pthread_mutex_unlock(&fc->q_mu);
        return SF_ERR_NOMEM;
    }
    fc->reserved += n;
    pthread_mutex_unlock(&fc->q_mu);
    return SF_OK;
}

static void release_room(struct file_ctx *fc, size_t n)
{
    pthread_mutex_lock(&fc->q_mu);
    fc->reserved -= n;
    pthread_cond_broadcast(&fc->not_full);
    pthread_mutex_unlock(&fc->q_mu);
}

/* Set key's offset to *val (takes *val, leaves the replaced value in *val to free). q_mu held,
 * or single-threaded. @return 0 or -1 on out of memory. */
static int offset_set(struct file_ctx *fc, const char *key, size_t key_len, char **val)
{
    for (size_t i = 0; i < fc->noffsets; i++) {
        if (strlen(fc->offsets[i].key) == key_len &&
            memcmp(fc->offsets[i].key, key, key_len) == 0) {
            char *old = fc->offsets[i].val;
            fc->offsets[i].val = *val;
            *val = old;
            return 0;
        }
    }
    struct fc_offset *v = realloc(fc->offsets, (fc->noffsets + 1) * sizeof(*v));
    char *k = strndup(key, key_len);
    if (!v || !k) {
        if (v) {
            fc->offsets = v;
        }
        free(k);
        return -1;
    }
    fc->offsets = v;
    fc->offsets[fc->noffsets].key = k;
    fc->offsets[fc->noffsets].val = *val;
    fc->noffsets++;
    *val = NULL;
    return 0;
}

/* Wake the sync thread: the log has commits not yet synced. */
static void sync_kick(struct file_ctx *fc)
{
    pthread_mutex_lock(&fc->sync_mu);
    pthread_cond_signal(&fc->sync_kick);
    pthread_mutex_unlock(&fc->sync_mu);
}

/* Move the pending put commits the log holds durably (lsn <= durable) to the queue, with their
 * source offsets, in commit order. Nothing moves once an fsync failed. q_mu held. */
static void publish_durable(struct file_ctx *fc, uint64_t durable)
{
    if (atomic_load(&fc->failed)) {
        return;
    }
    bool any = false;
    struct fc_pending **pp = &fc->pend_head, *last = NULL;
    while (*pp) {
        struct fc_pending *pe = *pp;
        if (pe->lsn > durable) {
            last = pe;
            pp = &pe->next;
            continue;
        }
        *pp = pe->next;
        for (size_t i = 0; i < pe->n; i++) {
            ring_push_back(&fc->q, &pe->slots[i]);
        }
        fc->reserved -= pe->n;
        fc->held += pe->n;
        fc->pending -= pe->n;
        atomic_fetch_sub(&fc->pend_commits, 1);
        if (pe->off_key && offset_set(fc, pe->off_key, strlen(pe->off_key), &pe->off_val) != 0) {
            SF_ERROR(FC_FMT "out of memory recording the offset of \"%s\"", fc->ch->name,
                     pe->off_key);
        }
        free(pe->off_key);
        free(pe->off_val);
        free(pe->slots);
        free(pe);
        any = true;
    }
    fc->pend_tail = last;
    if (any) {
        pthread_cond_broadcast(&fc->not_empty);
    }
}

/*
 * The sync thread (fsyncPerTransaction): whenever the log has records not yet synced, run a
 * group sync and publish the put commits it made durable. Commits return after their write, so
 * a source reads its next batch while the previous one is synced, and a sink never waits for a
 * take's fsync. An fsync error is fatal for the channel (see file_put_commit). On stop it syncs
 * what is left and exits.
 */
static void *syncer_main(void *arg)
{
    struct file_ctx *fc = arg;
    char tname[16];
    (void)snprintf(tname, sizeof(tname), "sync:%s", fc->ch->name);
    (void)pthread_setname_np(pthread_self(), tname); /* for top -H and perf */
    long long last_sync_us = mono_us(); /* when the last sync ended */
    pthread_mutex_lock(&fc->sync_mu);
    for (;;) {
        uint64_t written = atomic_load(&fc->written_lsn);
        /* a roll or a checkpoint may have synced put commits that are still pending */
        bool idle = (fc->synced_lsn >= written && atomic_load(&fc->pend_commits) == 0) ||
                    atomic_load(&fc->failed);
        if (idle && fc->sync_stop) {
            break;
        }
        if (idle) {
            pthread_cond_wait(&fc->sync_kick, &fc->sync_mu);
            continue;
        }
        long long since_us = mono_us() - last_sync_us;
        if (atomic_load(&fc->pend_commits) == 0 && !fc->sync_stop &&
            since_us < FC_LAZY_SYNC_MS * 1000) {
            /* only take records to sync: no hurry, a crash before would only repeat events */
            struct timespec deadline;
            deadline_after_us(&deadline, FC_LAZY_SYNC_MS * 1000 - since_us);
            pthread_cond_timedwait(&fc->sync_kick, &fc->sync_mu, &deadline);
            continue;
        }
        /* group window: let commits gather for FC_GROUP_WINDOW_US after the last sync, so one
         * fdatasync covers several (each costs the disk a flush); commits do not wait for it */
        if (!fc->sync_stop && since_us < FC_GROUP_WINDOW_US) {
            struct timespec deadline;
            deadline_after_us(&deadline, FC_GROUP_WINDOW_US - since_us);
            while (!fc->sync_stop &&
                   pthread_cond_timedwait(&fc->sync_kick, &fc->sync_mu, &deadline) == 0) {
            }
        }
        pthread_mutex_unlock(&fc->sync_mu);
        pthread_rwlock_rdlock(&fc->ckpt_rw);
        written = atomic_load(&fc->written_lsn); /* what the window gathered */
        int rc = log_wait_durable(fc, written);
        last_sync_us = mono_us();
        if (rc == SF_OK) {
            pthread_mutex_lock(&fc->sync_mu);
            uint64_t durable = fc->synced_lsn; /* a round may cover more than asked */
            pthread_mutex_unlock(&fc->sync_mu);
            pthread_mutex_lock(&fc->q_mu);
            publish_durable(fc, durable);
            pthread_mutex_unlock(&fc->q_mu);
        } else if (!atomic_exchange(&fc->failed, true)) {
            SF_ERROR(FC_FMT "the channel stops after the failed fsync: every commit fails from "
                            "now on; restart the agent once the disk is fixed (the source "
                            "resumes from its last durable offset, so nothing is lost)",
                     fc->ch->name);
            pthread_mutex_lock(&fc->q_mu);
            pthread_cond_broadcast(&fc->not_empty);
            pthread_mutex_unlock(&fc->q_mu);
        }
        pthread_rwlock_unlock(&fc->ckpt_rw);
        pthread_mutex_lock(&fc->sync_mu);
    }
    pthread_mutex_unlock(&fc->sync_mu);
    return NULL;
}

static int file_put_commit(struct sf_txn *txn)
{
    struct file_ctx *fc = txn->ch->ctx;
    size_t n = txn->n;
    if (atomic_load(&fc->failed)) {
        return SF_ERR_IO;
    }
    int rc = check_space(fc);
    if (rc != SF_OK) {
        return rc;
    }
    bool with_offset = txn->src_key && txn->src_offset;
    char *offset_copy = with_offset ? strdup(txn->src_offset) : NULL;
    if (with_offset && !offset_copy) {
        return SF_ERR_NOMEM;
    }
    rc = reserve_room(fc, txn);
    if (rc != SF_OK) {
        free(offset_copy);
        return rc;
    }
    /* serialise outside every lock */
    struct fc_wbuf *w = wbuf_get(fc);
    if (w->at_cap < n) {
        uint32_t *at = realloc(w->at, n * sizeof(*at));
        if (!at) {
            wbuf_put(fc, w);
            release_room(fc, n);
            free(offset_copy);
            return SF_ERR_NOMEM;
        }
        w->at = at;
        w->at_cap = n;
    }
    for (size_t i = 0; i < n; i++) {
        w->at[i] = (uint32_t)sf_wal_append_put(&w->b, txn->id, txn->evs[i]);
    }
    sf_wal_append_commit(&w->b, txn->id, SF_WAL_TXN_PUT, (uint32_t)n, txn->src_key,
                         txn->src_offset);

    uint32_t file_id = 0;
    uint64_t base = 0, lsn = 0;
    pthread_rwlock_rdlock(&fc->ckpt_rw);
    rc = log_append(fc, w, &file_id, &base, &lsn);
    struct fc_pending *pe = NULL;
    if (rc == SF_OK && fc->fsync_per_txn) {
        /* the sync thread makes the events visible once the log is durable up to lsn */
        pe = calloc(1, sizeof(*pe));
        if (pe && !(pe->slots = malloc(n * sizeof(*pe->slots)))) {
            free(pe);
            pe = NULL;
        }
        if (!pe) { /* out of memory: wait for the sync here instead */
            rc = log_wait_durable(fc, lsn);
        }
    }
    if (rc != SF_OK) {
        pthread_rwlock_unlock(&fc->ckpt_rw);
        wbuf_put(fc, w);
        release_room(fc, n);
        free(offset_copy);
        return rc;
    }
    /* cached events leave txn->evs, the rest are freed below */
    pthread_mutex_lock(&fc->q_mu);
    for (size_t i = 0; i < n; i++) {
        struct sf_event *ev = txn->evs[i];
        struct fc_slot s = { file_id, (uint32_t)(base + w->at[i]), 0, NULL };
        size_t sz = ev_bytes(ev);
        if (fc->cache_bytes + sz <= (size_t)fc->cache_max_bytes) {
            s.ref = ev;
            s.ack_id = FC_CACHED;
            fc->cache_bytes += sz;
            txn->evs[i] = NULL;
        } else {
            s.ref = ev->tracker;
            s.ack_id = ev->ack_id;
        }
        if (pe) {
            pe->slots[i] = s;
        } else {
            ring_push_back(&fc->q, &s);
        }
    }
    file_get(fc, file_id)->refs += (long long)n;
    if (pe) {
        pe->lsn = lsn;
        pe->n = n;
        if (with_offset) {
            pe->off_key = strdup(txn->src_key);
            if (!pe->off_key) {
                SF_ERROR(FC_FMT "out of memory recording the offset of \"%s\"", txn->ch->name,
                         txn->src_key);
            } else {
                pe->off_val = offset_copy;
                offset_copy = NULL;
            }
        }
        if (fc->pend_tail) {
            fc->pend_tail->next = pe;
        } else {
            fc->pend_head = pe;
        }
        fc->pend_tail = pe;
        fc->pending += n;
        atomic_fetch_add(&fc->pend_commits, 1);
    } else {
        fc->reserved -= n;
        fc->held += n;
        if (with_offset &&
            offset_set(fc, txn->src_key, strlen(txn->src_key), &offset_copy) != 0) {
            SF_ERROR(FC_FMT "out of memory recording the offset of \"%s\"", txn->ch->name,
                     txn->src_key);
        }
        pthread_cond_broadcast(&fc->not_empty);
    }
    pthread_mutex_unlock(&fc->q_mu);
    if (pe) {
        sync_kick(fc);
    }
    pthread_rwlock_unlock(&fc->ckpt_rw);
    free(offset_copy);
    for (size_t i = 0; i < n; i++) {
        sf_event_destroy(txn->evs[i]);
        txn->evs[i] = NULL;
    }
    wbuf_put(fc, w);
    return SF_OK;
}

/* ---------- take ---------- */

static int take_reserve(struct fc_take *ft, size_t need)
{
    if (need <= ft->cap) {
        return 0;
    }
    size_t cap = ft->cap ? ft->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    struct fc_slot *s = realloc(ft->slots, cap * sizeof(*s));
    if (!s) {
        return -1;
    }
    ft->slots = s;
    int *fds = realloc(ft->fds, cap * sizeof(*fds));
    if (!fds) {
        return -1;
    }
    ft->fds = fds;
    ft->cap = cap;
    return 0;
}

static void take_free(struct fc_take *ft)
{
    if (ft) {
        free(ft->slots);
        free(ft->fds);
        free(ft);
    }
}

/* q_mu held */
static void take_link(struct file_ctx *fc, struct fc_take *ft)
{
    ft->next = NULL;
    ft->prev = fc->takes_tail;
    if (fc->takes_tail) {
        fc->takes_tail->next = ft;
    } else {
        fc->takes_head = ft;
    }
    fc->takes_tail = ft;
}

/* q_mu held */
static void take_unlink(struct file_ctx *fc, struct fc_take *ft)
{
    if (ft->prev) {
        ft->prev->next = ft->next;
    } else {
        fc->takes_head = ft->next;
    }
    if (ft->next) {
        ft->next->prev = ft->prev;
    } else {
        fc->takes_tail = ft->prev;
    }
    ft->prev = ft->next = NULL;
}

/*
 * Put ft->slots[from..from+k) back at the head of the queue, in order, with their events evs
 * (owned again by the channel): kept in the cache when it has room (or force), else freed after
 * the caller drops q_mu (left in evs; the cached ones are set to NULL). q_mu held.
 */
static void slots_return(struct file_ctx *fc,
                         struct fc_take *ft,
                         size_t from,
                         size_t k,
                         struct sf_event **evs,
                         bool force)
{
    for (size_t j = k; j-- > 0;) {
        struct fc_slot s = ft->slots[from + j];
        struct sf_event *ev = evs[j];
        if (ev) {
            size_t sz = ev_bytes(ev);
            if (force || fc->cache_bytes + sz <= (size_t)fc->cache_max_bytes) {
                s.ref = ev;
                s.ack_id = FC_CACHED;
                fc->cache_bytes += sz;
                evs[j] = NULL;
            } else {
                s.ref = ev->tracker;
                s.ack_id = ev->ack_id;
            }
        }
        ring_push_front(&fc->q, &s);
    }
    ft->n -= k;
    pthread_cond_broadcast(&fc->not_empty);
}

/* A window of one log file read with pread, for reading events back. */
struct fc_window {
    unsigned char *buf;
    size_t cap, have;
    int fd;
    uint64_t off; /* file offset of buf[0] */
};

/* Make the window hold [off, off + need) of fd. @return NULL on success, else why not. */
static const char *window_fill(struct fc_window *win, int fd, uint64_t off, size_t need)
{
    if (win->fd == fd && off >= win->off && off + need <= win->off + win->have) {
        return NULL;
    }
    if (need > win->cap) {
        size_t cap = need > FC_READ_CHUNK ? need : FC_READ_CHUNK;
        unsigned char *nb = realloc(win->buf, cap);
        if (!nb) {
            return "out of memory";
        }
        win->buf = nb;
        win->cap = cap;
    }
    win->fd = fd;
    win->off = off;
    win->have = 0;
    while (win->have < need) {
        ssize_t got =
            pread(fd, win->buf + win->have, win->cap - win->have, (off_t)(off + win->have));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got < 0) {
            return strerror(errno);
        }
        if (got == 0) {
            return "the record runs past the end of the file";
        }
        win->have += (size_t)got;
    }
    return NULL;
}

/*
 * Read back the event of a slot that is not cached. @return the event (tracker and ack id from
 * the slot), or NULL with *why set.
 */
static struct sf_event *
read_event(struct fc_window *win, int fd, const struct fc_slot *s, const char **why)
{
    struct sf_wal_hdr h;
    *why = window_fill(win, fd, s->offset, SF_WAL_REC_HDR);
    if (*why) {
        return NULL;
    }
    if (!sf_wal_hdr_decode(win->buf + (s->offset - win->off), &h) ||
        (h.type != SF_WAL_PUT && h.type != SF_WAL_PUTC)) {
        *why = "not a PUT record";
        return NULL;
    }
    *why = window_fill(win, fd, s->offset, SF_WAL_REC_HDR + h.len);
    if (*why) {
        return NULL;
    }
    const unsigned char *p = win->buf + (s->offset - win->off);
    if (!sf_wal_crc_ok(&h, p, p + SF_WAL_REC_HDR)) {
        *why = "CRC mismatch";
        return NULL;
    }
    struct sf_header hstack[16];
    struct sf_header *hs = hstack;
    size_t nh = sizeof(hstack) / sizeof(hstack[0]), body_len = 0;
    const char *body = NULL;
    int drc = sf_wal_decode_put(h.type, p + SF_WAL_REC_HDR, h.len, hs, &nh, &body, &body_len);
    if (drc == -2) {
        hs = malloc(nh * sizeof(*hs));
        if (!hs) {
            *why = "out of memory";
            return NULL;
        }
        drc = sf_wal_decode_put(h.type, p + SF_WAL_REC_HDR, h.len, hs, &nh, &body, &body_len);
    }
    struct sf_event *ev = NULL;
    if (drc != 0) {
        *why = "malformed PUT record";
    } else if (!(ev = sf_event_create(hs, nh, body, body_len))) {
        *why = "out of memory";
    } else {
        ev->tracker = s->ref;
        ev->ack_id = s->ack_id;
    }
    if (hs != hstack) {
        free(hs);
    }
    return ev;
}

/*
 * Read the events of the slots that are not cached from the log, one pread per FC_READ_CHUNK of
 * consecutive records. out[j] is set for slots[j] (cached ones already are).
 * @return SF_OK, or SF_ERR_IO with the events read here freed and their out[j] NULL (logged).
 */
static int read_events(struct file_ctx *fc,
                       const struct fc_slot *slots,
                       const int *fds,
                       size_t k,
                       struct sf_event **out)
{
    struct fc_window win = { NULL, 0, 0, -1, 0 };
    int rc = SF_OK;
    for (size_t j = 0; j < k; j++) {
        if (slots[j].ack_id == FC_CACHED) {
            continue;
        }
        const char *why = NULL;
        out[j] = read_event(&win, fds[j], &slots[j], &why);
        if (!out[j]) {
            SF_ERROR(FC_FMT "could not read the event at offset %u of log file %u: %s",
                     fc->ch->name, slots[j].offset, slots[j].file_id, why);
            for (size_t i = 0; i < j; i++) {
                if (slots[i].ack_id != FC_CACHED) {
                    sf_event_destroy(out[i]);
                    out[i] = NULL;
                }
            }
            rc = SF_ERR_IO;
            break;
        }
    }
    free(win.buf);
    return rc;
}

/* Wait up to timeout_ms (0 = not at all, -1 = up to a day, as the memory channel) for a queued
 * event. q_mu held. */
static void wait_not_empty(struct file_ctx *fc, int timeout_ms)
{
    if (fc->q.len > 0 || (timeout_ms == 0 && fc->pending == 0)) {
        return;
    }
    /* committed events still being synced are as good as queued: wait for them whatever the
     * timeout (one fsync), so a take right after a put commit sees its events */
    struct timespec deadline, pend_deadline;
    deadline_after_ms(&deadline, timeout_ms < 0 ? 86400000LL : timeout_ms);
    deadline_after_ms(&pend_deadline, FC_PENDING_WAIT_MS);
    if (pend_deadline.tv_sec < deadline.tv_sec ||
        (pend_deadline.tv_sec == deadline.tv_sec && pend_deadline.tv_nsec < deadline.tv_nsec)) {
        pend_deadline = deadline;
    }
    while (fc->q.len == 0) {
        bool soon = fc->pending > 0 && !atomic_load(&fc->failed);
        if (!soon && timeout_ms == 0) {
            break;
        }
        if (pthread_cond_timedwait(&fc->not_empty, &fc->q_mu, soon ? &pend_deadline : &deadline) ==
            ETIMEDOUT) {
            break;
        }
    }
}

static int
file_take(struct sf_txn *txn, struct sf_event **out, size_t max, size_t *n, int timeout_ms)
{
    struct file_ctx *fc = txn->ch->ctx;
    struct fc_take *ft = txn->plugin_data;
    bool fresh = !ft;
    *n = 0;
    if (fresh) {
        /* an idle sink polls an empty channel often: allocate only when there is something */
        pthread_mutex_lock(&fc->q_mu);
        wait_not_empty(fc, timeout_ms);
        bool empty = fc->q.len == 0;
        pthread_mutex_unlock(&fc->q_mu);
        if (empty) {
            return SF_OK;
        }
        timeout_ms = 0;
        ft = calloc(1, sizeof(*ft));
        if (!ft) {
            return SF_ERR_NOMEM;
        }
    }
    size_t from = ft->n;
    if (take_reserve(ft, from + max) != 0) {
        if (fresh) {
            take_free(ft);
        }
        return SF_ERR_NOMEM;
    }
    pthread_mutex_lock(&fc->q_mu);
    wait_not_empty(fc, timeout_ms);
    size_t k = 0;
    bool uncached = false;
    while (k < max) {
        if (fc->q.len == 0) { /* committed events being synced count: wait for them */
            if (fc->pending == 0 || atomic_load(&fc->failed)) {
                break;
            }
            wait_not_empty(fc, 0);
            if (fc->q.len == 0) {
                break;
            }
        }
        struct fc_slot s = ring_pop_front(&fc->q);
        if (s.ack_id == FC_CACHED) {
            out[k] = s.ref;
            fc->cache_bytes -= ev_bytes(s.ref);
        } else {
            ft->fds[from + k] = file_get(fc, s.file_id)->fd;
            uncached = true;
        }
        ft->slots[from + k] = s;
        k++;
    }
    if (k > 0) {
        ft->n += k;
        if (fresh) {
            take_link(fc, ft);
            txn->plugin_data = ft;
        }
    }
    pthread_mutex_unlock(&fc->q_mu);
    if (k == 0) {
        if (fresh) {
            take_free(ft);
        }
        return SF_OK;
    }
    if (uncached) {
        int rc = read_events(fc, ft->slots + from, ft->fds + from, k, out);
        if (rc != SF_OK) {
            /* give the slots back untouched: cached events return to the cache */
            pthread_mutex_lock(&fc->q_mu);
            slots_return(fc, ft, from, k, out, true);
            if (ft->n == 0) {
                take_unlink(fc, ft);
            }
            pthread_mutex_unlock(&fc->q_mu);
            if (ft->n == 0) {
                take_free(ft);
                txn->plugin_data = NULL;
            }
            return rc;
        }
    }
    *n = k;
    return SF_OK;
}

static int file_take_commit(struct sf_txn *txn)
{
    struct file_ctx *fc = txn->ch->ctx;
    struct fc_take *ft = txn->plugin_data;
    size_t n = ft->n;
    struct fc_wbuf *w = wbuf_get(fc);
    /* one TAKE record of n pairs (the pairs go through w->at, the buffer's spare u32s) */
    if (w->at_cap < 2 * n) {
        uint32_t *at = realloc(w->at, 2 * n * sizeof(*at));
        if (!at) {
            wbuf_put(fc, w);
            return SF_ERR_NOMEM;
        }
        w->at = at;
        w->at_cap = 2 * n;
    }
    for (size_t i = 0; i < n; i++) {
        w->at[2 * i] = ft->slots[i].file_id;
        w->at[2 * i + 1] = ft->slots[i].offset;
    }
    sf_wal_append_takes(&w->b, txn->id, w->at, n);
    sf_wal_append_commit(&w->b, txn->id, SF_WAL_TXN_TAKE, (uint32_t)n, NULL, NULL);
    uint32_t file_id;
    uint64_t base, lsn = 0;
    pthread_rwlock_rdlock(&fc->ckpt_rw);
    int rc = atomic_load(&fc->failed) ? SF_ERR_IO : log_append(fc, w, &file_id, &base, &lsn);
    if (rc == SF_OK && fc->fsync_per_txn) {
        sync_kick(fc); /* durable with the next group sync; until then a crash only repeats */
    }
    if (rc == SF_OK) {
        pthread_mutex_lock(&fc->q_mu);
        struct fc_log *f = NULL;
        for (size_t i = 0; i < n; i++) {
            if (!f || f->id != ft->slots[i].file_id) {
                f = file_get(fc, ft->slots[i].file_id);
            }
            f->refs--;
        }
        fc->held -= n;
        take_unlink(fc, ft);
        pthread_cond_broadcast(&fc->not_full);
        pthread_mutex_unlock(&fc->q_mu);
    }
    pthread_rwlock_unlock(&fc->ckpt_rw);
    wbuf_put(fc, w);
    if (rc == SF_OK) {
        take_free(ft);
        txn->plugin_data = NULL;
    }
    return rc;
}

static int file_take_rollback(struct sf_txn *txn)
{
    struct file_ctx *fc = txn->ch->ctx;
    struct fc_take *ft = txn->plugin_data;
    size_t n = ft->n;
    pthread_mutex_lock(&fc->q_mu);
    slots_return(fc, ft, 0, n, txn->evs, false);
    take_unlink(fc, ft);
    pthread_mutex_unlock(&fc->q_mu);
    for (size_t i = 0; i < n; i++) {
        sf_event_destroy(txn->evs[i]); /* the ones the cache had no room for */
        txn->evs[i] = NULL;
    }
    take_free(ft);
    txn->plugin_data = NULL;
    return SF_OK;
}

static size_t file_size(struct sf_channel *ch)
{
    struct file_ctx *fc = ch->ctx;
    pthread_mutex_lock(&fc->q_mu);
    size_t n = fc->held + fc->pending;
    pthread_mutex_unlock(&fc->q_mu);
    return n;
}

static int file_offset_get(struct sf_channel *ch, const char *src_key, char **out)
{
    struct file_ctx *fc = ch->ctx;
    int rc = SF_ERR_NOTFOUND;
    *out = NULL;
    pthread_mutex_lock(&fc->q_mu);
    const char *pending_val = NULL; /* the newest commit still being synced wins */
    for (const struct fc_pending *pe = fc->pend_head; pe; pe = pe->next) {
        if (pe->off_key && strcmp(pe->off_key, src_key) == 0) {
            pending_val = pe->off_val;
        }
    }
    if (pending_val) {
        *out = strdup(pending_val);
        pthread_mutex_unlock(&fc->q_mu);
        return *out ? SF_OK : SF_ERR_NOMEM;
    }
    for (size_t i = 0; i < fc->noffsets; i++) {
        if (strcmp(fc->offsets[i].key, src_key) == 0) {
            *out = strdup(fc->offsets[i].val);
            rc = *out ? SF_OK : SF_ERR_NOMEM;
            break;
        }
    }
    pthread_mutex_unlock(&fc->q_mu);
    return rc;
}

/* ---------- checkpoints ---------- */

/*
 * Snapshot, write, then delete the log files no longer needed. Serialised by ckpt_mu.
 * @return SF_OK or an error (logged).
 */
static int checkpoint_run(struct file_ctx *fc)
{
    struct sf_ckpt c = { 0 };
    uint32_t *doomed = NULL;
    size_t ndoomed = 0;
    int rc = SF_OK;
    pthread_mutex_lock(&fc->ckpt_mu);
    pthread_rwlock_wrlock(&fc->ckpt_rw);
    /* no commit is in progress: every record written is either applied or failed */
    rc = log_sync_all(fc);
    if (rc != SF_OK) {
        pthread_rwlock_unlock(&fc->ckpt_rw);
        SF_WARN(FC_FMT "checkpoint skipped: the log could not be synced", fc->ch->name);
        goto out;
    }
    pthread_mutex_lock(&fc->log_mu);
    c.wo_id = fc->next_wo - 1;
    c.cur_file = fc->cur->id;
    pthread_mutex_unlock(&fc->log_mu);
    c.txn_id = atomic_load(&fc->ch->next_txn_id);
    pthread_mutex_lock(&fc->q_mu);
    publish_durable(fc, UINT64_MAX); /* all written is synced: no put commit is left pending */
    size_t inflight = 0;
    for (struct fc_take *ft = fc->takes_head; ft; ft = ft->next) {
        inflight += ft->n;
    }
    c.ptrs = malloc((inflight + fc->q.len + 1) * sizeof(*c.ptrs));
    c.offsets = calloc(fc->noffsets + 1, sizeof(*c.offsets));
    doomed = malloc((fc->nfiles + 1) * sizeof(*doomed));
    if (!c.ptrs || !c.offsets || !doomed) {
        pthread_mutex_unlock(&fc->q_mu);
        pthread_rwlock_unlock(&fc->ckpt_rw);
        rc = SF_ERR_NOMEM;
        goto out;
    }
    /* in-flight takes first: after a crash they are back at the head, as after a rollback */
    for (struct fc_take *ft = fc->takes_head; ft; ft = ft->next) {
        for (size_t i = 0; i < ft->n; i++) {
            c.ptrs[c.nptrs++] = (uint64_t)ft->slots[i].file_id << 32 | ft->slots[i].offset;
        }
    }
    for (size_t i = 0; i < fc->q.len; i++) {
        const struct fc_slot *s = ring_at(&fc->q, i);
        c.ptrs[c.nptrs++] = (uint64_t)s->file_id << 32 | s->offset;
    }
    for (size_t i = 0; i < fc->noffsets; i++) {
        c.offsets[i].key = strdup(fc->offsets[i].key);
        c.offsets[i].val = strdup(fc->offsets[i].val);
        c.noffsets = i + 1;
        if (!c.offsets[i].key || !c.offsets[i].val) {
            pthread_mutex_unlock(&fc->q_mu);
            pthread_rwlock_unlock(&fc->ckpt_rw);
            rc = SF_ERR_NOMEM;
            goto out;
        }
    }
    /* the oldest files without events, up to the first one with some, and not the current */
    for (size_t i = 0; i < fc->nfiles; i++) {
        struct fc_log *f = fc->files[i];
        if (!f) {
            continue;
        }
        if (f->refs != 0 || f->id >= c.cur_file) {
            break;
        }
        doomed[ndoomed++] = f->id;
    }
    pthread_mutex_unlock(&fc->q_mu);
    pthread_rwlock_unlock(&fc->ckpt_rw);

    char err[4352];
    rc = sf_ckpt_write(fc->ckpt_dir, &c, err, sizeof(err));
    if (rc != SF_OK) {
        SF_WARN(FC_FMT "%s; the previous checkpoint stays", fc->ch->name, err);
        goto out;
    }
    if (fc->backup_dir && sf_ckpt_write(fc->backup_dir, &c, err, sizeof(err)) != SF_OK) {
        SF_WARN(FC_FMT "backup checkpoint: %s", fc->ch->name, err);
    }
    fc->ckpt_wo = c.wo_id;
    SF_DEBUG(FC_FMT "checkpoint written: %zu events, write-order id %llu", fc->ch->name, c.nptrs,
             (unsigned long long)c.wo_id);
    /* Delete under the exclusive lock: no commit, sync or roll can be using these files, and
     * no take can (they hold no events). */
    for (size_t i = 0; i < ndoomed; i++) {
        pthread_rwlock_wrlock(&fc->ckpt_rw);
        pthread_mutex_lock(&fc->q_mu);
        struct fc_log *f = file_get(fc, doomed[i]);
        if (f && f->refs == 0) {
            file_remove(fc, f->id);
        } else {
            f = NULL;
        }
        pthread_mutex_unlock(&fc->q_mu);
        pthread_rwlock_unlock(&fc->ckpt_rw);
        if (f) {
            char path[4096];
            log_path(fc, f->dir, f->id, path, sizeof(path));
            close(f->fd);
            if (unlink(path) != 0) {
                SF_WARN(FC_FMT "could not delete log file \"%s\": %s", fc->ch->name, path,
                        strerror(errno));
            } else {
                SF_DEBUG(FC_FMT "deleted log file \"%s\"", fc->ch->name, path);
            }
            free(f);
        }
    }
out:
    pthread_mutex_unlock(&fc->ckpt_mu);
    if (rc == SF_ERR_NOMEM) {
        SF_WARN(FC_FMT "checkpoint skipped: out of memory", fc->ch->name);
    }
    sf_ckpt_free(&c);
    free(doomed);
    return rc;
}

int sf_file_channel_checkpoint(struct sf_channel *ch)
{
    return checkpoint_run(ch->ctx);
}

long long sf_file_channel_sync_count(struct sf_channel *ch)
{
    struct file_ctx *fc = ch->ctx;
    return atomic_load(&fc->sync_count);
}

/* The background thread: zero-fills ahead of the writes when asked, checkpoints every
 * checkpointInterval, syncs the log every fsyncInterval when fsyncPerTransaction is false. */
static void *bg_main(void *arg)
{
    struct file_ctx *fc = arg;
    char tname[16];
    (void)snprintf(tname, sizeof(tname), "ckpt:%s", fc->ch->name);
    (void)pthread_setname_np(pthread_self(), tname);
    long long next_ckpt = mono_ms() + fc->checkpoint_interval_ms;
    long long next_sync = fc->fsync_per_txn ? -1 : mono_ms() + fc->fsync_interval_s * 1000;
    pthread_mutex_lock(&fc->bg_mu);
    while (!fc->stopping) {
        if (fc->bg_kick) {
            fc->bg_kick = false;
            pthread_mutex_unlock(&fc->bg_mu);
            zero_fill(fc);
            pthread_mutex_lock(&fc->bg_mu);
            continue;
        }
        long long due = next_sync >= 0 && next_sync < next_ckpt ? next_sync : next_ckpt;
        long long now = mono_ms();
        if (due > now) {
            struct timespec deadline;
            deadline_after_ms(&deadline, due - now);
            pthread_cond_timedwait(&fc->bg_cond, &fc->bg_mu, &deadline);
            continue;
        }
        pthread_mutex_unlock(&fc->bg_mu);
        if (next_sync >= 0 && now >= next_sync) {
            pthread_rwlock_rdlock(&fc->ckpt_rw);
            log_sync_all(fc);
            pthread_rwlock_unlock(&fc->ckpt_rw);
            next_sync = now + fc->fsync_interval_s * 1000;
        }
        if (now >= next_ckpt) {
            pthread_mutex_lock(&fc->log_mu);
            uint64_t last_wo = fc->next_wo - 1;
            pthread_mutex_unlock(&fc->log_mu);
            pthread_mutex_lock(&fc->ckpt_mu);
            bool changed = last_wo != fc->ckpt_wo;
            pthread_mutex_unlock(&fc->ckpt_mu);
            if (changed) {
                checkpoint_run(fc);
            }
            next_ckpt = mono_ms() + fc->checkpoint_interval_ms;
        }
        pthread_mutex_lock(&fc->bg_mu);
    }
    pthread_mutex_unlock(&fc->bg_mu);
    return NULL;
}

/* ---------- replay ---------- */

/* The queue being rebuilt, with a pointer -> position index for TAKE records. */
struct replay {
    uint64_t *ptrs; /* file id << 32 | offset, FC_DEAD once taken */
    size_t n, cap, live;
    uint64_t *hkeys; /* open addressing; 0 = empty (no PUT record is at offset 0) */
    uint32_t *hvals;
    size_t hcap, hn;
    uint64_t *pend; /* records of the transaction being read */
    size_t npend, pend_cap;
    uint64_t pend_txn;
    uint8_t pend_type;
    uint64_t max_wo, max_txn;
    size_t puts, takes, txns; /* applied, for the log line */
};

static size_t hash_slot(uint64_t k, size_t cap)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdULL;
    k ^= k >> 33;
    return (size_t)k & (cap - 1);
}

static int replay_hash_grow(struct replay *r)
{
    size_t cap = r->hcap ? r->hcap * 2 : 4096;
    uint64_t *keys = calloc(cap, sizeof(*keys));
    uint32_t *vals = malloc(cap * sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return -1;
    }
    for (size_t i = 0; i < r->hcap; i++) {
        if (r->hkeys[i]) {
            size_t h = hash_slot(r->hkeys[i], cap);
            while (keys[h]) {
                h = (h + 1) & (cap - 1);
            }
            keys[h] = r->hkeys[i];
            vals[h] = r->hvals[i];
        }
    }
    free(r->hkeys);
    free(r->hvals);
    r->hkeys = keys;
    r->hvals = vals;
    r->hcap = cap;
    return 0;
}

/* Append ptr to the queue. */
static int replay_push(struct replay *r, uint64_t ptr)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        uint64_t *v = realloc(r->ptrs, cap * sizeof(*v));
        if (!v) {
            return -1;
        }
        r->ptrs = v;
        r->cap = cap;
    }
    if ((r->hn + 1) * 2 > r->hcap && replay_hash_grow(r) != 0) {
        return -1;
    }
    size_t h = hash_slot(ptr, r->hcap);
    while (r->hkeys[h] && r->hkeys[h] != ptr) {
        h = (h + 1) & (r->hcap - 1);
    }
    if (!r->hkeys[h]) {
        r->hn++;
    }
    r->hkeys[h] = ptr;
    r->hvals[h] = (uint32_t)r->n;
    r->ptrs[r->n++] = ptr;
    r->live++;
    return 0;
}

/* Remove ptr from the queue if it is there. */
static void replay_take(struct replay *r, uint64_t ptr)
{
    if (!r->hcap) {
        return;
    }
    size_t h = hash_slot(ptr, r->hcap);
    while (r->hkeys[h]) {
        if (r->hkeys[h] == ptr) {
            uint32_t idx = r->hvals[h];
            if (r->ptrs[idx] == ptr) {
                r->ptrs[idx] = FC_DEAD;
                r->live--;
            }
            return;
        }
        h = (h + 1) & (r->hcap - 1);
    }
}

static void replay_free(struct replay *r)
{
    free(r->ptrs);
    free(r->hkeys);
    free(r->hvals);
    free(r->pend);
}

static int replay_pend(struct replay *r, uint64_t v)
{
    if (r->npend == r->pend_cap) {
        size_t cap = r->pend_cap ? r->pend_cap * 2 : 1024;
        uint64_t *p = realloc(r->pend, cap * sizeof(*p));
        if (!p) {
            return -1;
        }
        r->pend = p;
        r->pend_cap = cap;
    }
    r->pend[r->npend++] = v;
    return 0;
}

/*
 * Replay the records of log file f with a write-order id above min_wo. A torn or corrupt record
 * ends the file: it is truncated there. @return SF_OK or an error (err says why).
 */
static int replay_file(struct file_ctx *fc,
                       struct replay *r,
                       struct fc_log *f,
                       uint64_t min_wo,
                       char *err,
                       size_t errsz)
{
    char path[4096];
    log_path(fc, f->dir, f->id, path, sizeof(path));
    struct sf_wal_reader rd;
    if (sf_wal_reader_open(&rd, f->fd) != 0) {
        snprintf(err, errsz, "could not read log file \"%s\": %s", path, strerror(errno));
        return SF_ERR_IO;
    }
    r->npend = 0;
    r->pend_txn = 0;
    int rc = SF_OK;
    for (;;) {
        struct sf_wal_hdr h;
        const unsigned char *payload;
        uint64_t at;
        enum sf_wal_next nx = sf_wal_reader_next(&rd, &h, &payload, &at);
        if (nx == SF_WAL_EOF) {
            break;
        }
        if (nx == SF_WAL_ZEROS) {
            /* the unused preallocated tail: drop it */
            if (ftruncate(f->fd, (off_t)rd.pos) != 0) {
                snprintf(err, errsz, "could not truncate log file \"%s\": %s", path,
                         strerror(errno));
                rc = SF_ERR_IO;
            }
            SF_DEBUG(FC_FMT "log file \"%s\": %llu bytes of preallocated zeros cut off",
                     fc->ch->name, path, (unsigned long long)(rd.file_size - rd.pos));
            f->size = rd.pos;
            break;
        }
        if (nx == SF_WAL_IOERR) {
            snprintf(err, errsz, "could not read log file \"%s\": %s", path, strerror(errno));
            rc = SF_ERR_IO;
            break;
        }
        if (nx == SF_WAL_TORN) {
            SF_WARN(FC_FMT "log file \"%s\" has a torn or corrupt record at offset %llu (file "
                           "size %llu); truncating it there",
                    fc->ch->name, path, (unsigned long long)rd.pos,
                    (unsigned long long)rd.file_size);
            if (ftruncate(f->fd, (off_t)rd.pos) != 0 || fdatasync(f->fd) != 0) {
                snprintf(err, errsz, "could not truncate log file \"%s\": %s", path,
                         strerror(errno));
                rc = SF_ERR_IO;
            }
            f->size = rd.pos;
            break;
        }
        if (h.wo_id > r->max_wo) {
            r->max_wo = h.wo_id;
        }
        if (h.txn_id > r->max_txn) {
            r->max_txn = h.txn_id;
        }
        if (h.wo_id <= min_wo) {
            continue;
        }
        if (h.type == SF_WAL_PUTC) {
            h.type = SF_WAL_PUT; /* the same record, encoded compactly */
        }
        if ((h.type == SF_WAL_PUT || h.type == SF_WAL_TAKE) &&
            (h.txn_id != r->pend_txn || h.type != r->pend_type)) {
            r->npend = 0; /* a transaction without COMMIT: never visible */
            r->pend_txn = h.txn_id;
            r->pend_type = h.type;
        }
        if (h.type == SF_WAL_PUT) {
            if (replay_pend(r, (uint64_t)f->id << 32 | at) != 0) {
                rc = SF_ERR_NOMEM;
                break;
            }
        } else if (h.type == SF_WAL_TAKE) {
            uint32_t npairs = sf_wal_take_count(h.len);
            if (npairs == 0) {
                r->pend_txn = 0; /* malformed: its COMMIT will not match, the txn is ignored */
                continue;
            }
            for (uint32_t i = 0; i < npairs && rc == SF_OK; i++) {
                uint32_t tf, toff;
                sf_wal_take_at(payload, i, &tf, &toff);
                if (replay_pend(r, (uint64_t)tf << 32 | toff) != 0) {
                    rc = SF_ERR_NOMEM;
                }
            }
            if (rc != SF_OK) {
                break;
            }
        } else if (h.type == SF_WAL_ROLLBACK) {
            r->npend = 0;
        } else {
            struct sf_wal_commit cm;
            bool ok = sf_wal_decode_commit(payload, h.len, &cm) == 0;
            uint8_t want = ok && cm.kind == SF_WAL_TXN_PUT ? SF_WAL_PUT : SF_WAL_TAKE;
            if (!ok || cm.nrecords != r->npend ||
                (r->npend > 0 && (h.txn_id != r->pend_txn || r->pend_type != want))) {
                SF_WARN(FC_FMT "log file \"%s\": the commit record at offset %llu does not "
                               "match the %zu records before it; ignoring that transaction",
                        fc->ch->name, path, (unsigned long long)at, r->npend);
                r->npend = 0;
                continue;
            }
            for (size_t i = 0; i < r->npend; i++) {
                if (want == SF_WAL_PUT) {
                    if (replay_push(r, r->pend[i]) != 0) {
                        rc = SF_ERR_NOMEM;
                        break;
                    }
                } else {
                    replay_take(r, r->pend[i]);
                }
            }
            if (rc != SF_OK) {
                break;
            }
            if (want == SF_WAL_PUT) {
                r->puts += r->npend;
            } else {
                r->takes += r->npend;
            }
            r->txns++;
            if (cm.key) {
                char *v = strndup(cm.val, cm.val_len);
                if (!v || offset_set(fc, cm.key, cm.key_len, &v) != 0) {
                    free(v);
                    rc = SF_ERR_NOMEM;
                    break;
                }
                free(v);
            }
            r->npend = 0;
        }
    }
    if (rc == SF_ERR_NOMEM) {
        snprintf(err, errsz, "out of memory replaying log file \"%s\"", path);
    }
    sf_wal_reader_close(&rd);
    return rc;
}

static int cmp_log(const void *a, const void *b)
{
    const struct fc_log *x = *(const struct fc_log *const *)a;
    const struct fc_log *y = *(const struct fc_log *const *)b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* Find and open every log-N file of the data dirs into the file table. */
static int scan_logs(struct file_ctx *fc, char *err, size_t errsz)
{
    struct fc_log **found = NULL;
    size_t nfound = 0, cap = 0;
    int rc = SF_OK;
    for (size_t d = 0; d < fc->ndirs && rc == SF_OK; d++) {
        DIR *dp = opendir(fc->dirs[d]);
        if (!dp) {
            snprintf(err, errsz, "could not open data directory \"%s\": %s", fc->dirs[d],
                     strerror(errno));
            rc = SF_ERR_IO;
            break;
        }
        struct dirent *de;
        while ((de = readdir(dp)) != NULL) {
            char *end;
            if (strncmp(de->d_name, "log-", 4) != 0 || !de->d_name[4] || de->d_name[4] < '0' ||
                de->d_name[4] > '9') {
                continue;
            }
            errno = 0;
            unsigned long id = strtoul(de->d_name + 4, &end, 10);
            if (*end || errno || id == 0 || id >= UINT32_MAX) {
                continue;
            }
            char path[4096];
            log_path(fc, (int)d, (uint32_t)id, path, sizeof(path));
            for (size_t i = 0; i < nfound; i++) {
                if (found[i]->id == id) {
                    char other[4096];
                    log_path(fc, found[i]->dir, found[i]->id, other, sizeof(other));
                    snprintf(err, errsz, "log file id %lu exists twice: \"%s\" and \"%s\"", id,
                             other, path);
                    rc = SF_ERR_INVAL;
                    break;
                }
            }
            if (rc != SF_OK) {
                break;
            }
            int fd = open(path, O_RDWR | O_CLOEXEC);
            struct stat st;
            if (fd < 0 || fstat(fd, &st) != 0) {
                snprintf(err, errsz, "could not open log file \"%s\": %s", path, strerror(errno));
                if (fd >= 0) {
                    close(fd);
                }
                rc = SF_ERR_IO;
                break;
            }
            if (nfound == cap) {
                cap = cap ? cap * 2 : 16;
                struct fc_log **v = realloc(found, cap * sizeof(*v));
                if (!v) {
                    close(fd);
                    rc = SF_ERR_NOMEM;
                    break;
                }
                found = v;
            }
            struct fc_log *f = calloc(1, sizeof(*f));
            if (!f) {
                close(fd);
                rc = SF_ERR_NOMEM;
                break;
            }
            f->id = (uint32_t)id;
            f->fd = fd;
            f->dir = (int)d;
            f->size = (uint64_t)st.st_size;
            found[nfound++] = f;
        }
        closedir(dp);
    }
    if (rc == SF_OK && nfound > 1) {
        qsort(found, nfound, sizeof(*found), cmp_log);
    }
    for (size_t i = 0; i < nfound; i++) {
        if (rc == SF_OK && file_add(fc, found[i]) != 0) {
            rc = SF_ERR_NOMEM;
        }
        if (rc != SF_OK && !file_get(fc, found[i]->id)) {
            close(found[i]->fd);
            free(found[i]);
        }
    }
    if (rc == SF_ERR_NOMEM) {
        snprintf(err, errsz, "out of memory");
    }
    free(found);
    return rc;
}

/* Check a file header; a file without a valid one is treated as holding no records. */
static bool log_header_ok(struct file_ctx *fc, struct fc_log *f)
{
    unsigned char hdr[SF_WAL_FILE_HDR];
    uint32_t id = 0;
    char path[4096];
    log_path(fc, f->dir, f->id, path, sizeof(path));
    if (f->size < SF_WAL_FILE_HDR) {
        if (f->size > 0) {
            SF_WARN(FC_FMT "log file \"%s\" is shorter than its header (%llu bytes); it holds no "
                           "records",
                    fc->ch->name, path, (unsigned long long)f->size);
        }
        return false;
    }
    if (pread(f->fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr) ||
        !sf_wal_file_header_check(hdr, &id) || id != f->id) {
        SF_WARN(FC_FMT "log file \"%s\" has a bad header; ignoring its %llu bytes", fc->ch->name,
                path, (unsigned long long)f->size);
        return false;
    }
    return true;
}

/* Does every pointer of c name an existing PUT position? */
static bool ckpt_pointers_ok(struct file_ctx *fc, const struct sf_ckpt *c, char *why, size_t wsz)
{
    for (size_t i = 0; i < c->nptrs; i++) {
        uint32_t id = (uint32_t)(c->ptrs[i] >> 32);
        uint32_t off = (uint32_t)c->ptrs[i];
        struct fc_log *f = file_get(fc, id);
        if (!f || off < SF_WAL_FILE_HDR || (uint64_t)off + SF_WAL_REC_HDR > f->size) {
            snprintf(why, wsz, "it refers to offset %u of log file %u, which %s", off, id,
                     f ? "is past its end" : "does not exist");
            return false;
        }
    }
    return true;
}

/*
 * Load the checkpoint (or the backup) and replay the logs into the queue, the file reference
 * counts and the offsets. @return SF_OK or an error (err says why).
 */
static int recover(struct file_ctx *fc, char *err, size_t errsz)
{
    long long t0 = mono_ms();
    struct sf_ckpt c = { 0 };
    bool have_ckpt = false;
    const char *dirs[2] = { fc->ckpt_dir, fc->backup_dir };
    for (int i = 0; i < 2 && !have_ckpt && dirs[i]; i++) {
        char why[4352] = "";
        int rc = sf_ckpt_read(dirs[i], &c, why, sizeof(why));
        if (rc == SF_ERR_NOMEM) {
            snprintf(err, errsz, "out of memory reading the checkpoint");
            return rc;
        }
        if (rc == SF_OK) {
            char bad[256];
            if (ckpt_pointers_ok(fc, &c, bad, sizeof(bad))) {
                have_ckpt = true;
                if (i == 1) {
                    SF_WARN(FC_FMT "using the backup checkpoint in \"%s\"", fc->ch->name, dirs[i]);
                }
                break;
            }
            snprintf(why, sizeof(why), "checkpoint file \"%s/%s\" does not match the logs: %s",
                     dirs[i], SF_CKPT_FILE, bad);
            sf_ckpt_free(&c);
        } else if (rc == SF_ERR_NOTFOUND) {
            if (fc->nfiles == 0) {
                continue; /* a new channel */
            }
            snprintf(why, sizeof(why), "checkpoint file \"%s/%s\" is missing", dirs[i],
                     SF_CKPT_FILE);
        }
        SF_WARN(FC_FMT "%s; %s", fc->ch->name, why,
                i == 0 && fc->backup_dir ? "trying the backup checkpoint"
                                         : "replaying every log file");
    }

    struct replay r = { 0 };
    int rc = SF_OK;
    uint64_t min_wo = 0;
    uint32_t first_file = 0;
    if (have_ckpt) {
        min_wo = c.wo_id;
        first_file = c.cur_file;
        r.max_wo = c.wo_id;
        r.max_txn = c.txn_id;
        for (size_t i = 0; i < c.nptrs && rc == SF_OK; i++) {
            if (replay_push(&r, c.ptrs[i]) != 0) {
                rc = SF_ERR_NOMEM;
            }
        }
        for (size_t i = 0; i < c.noffsets && rc == SF_OK; i++) {
            char *v = c.offsets[i].val;
            c.offsets[i].val = NULL;
            if (offset_set(fc, c.offsets[i].key, strlen(c.offsets[i].key), &v) != 0) {
                rc = SF_ERR_NOMEM;
            }
            free(v);
        }
        if (rc != SF_OK) {
            snprintf(err, errsz, "out of memory loading the checkpoint");
        }
    }
    size_t replayed_files = 0;
    for (size_t i = 0; i < fc->nfiles && rc == SF_OK; i++) {
        struct fc_log *f = fc->files[i];
        if (!f) {
            continue;
        }
        if (f->id >= fc->next_file_id) {
            fc->next_file_id = f->id + 1;
        }
        if (f->id < first_file || !log_header_ok(fc, f)) {
            continue;
        }
        rc = replay_file(fc, &r, f, min_wo, err, errsz);
        replayed_files++;
    }
    if (rc == SF_OK && r.live > 0 && ring_reserve(&fc->q, r.live) != 0) {
        snprintf(err, errsz, "out of memory building a queue of %zu events", r.live);
        rc = SF_ERR_NOMEM;
    }
    if (rc == SF_OK) {
        for (size_t i = 0; i < r.n; i++) {
            if (r.ptrs[i] == FC_DEAD) {
                continue;
            }
            struct fc_slot s = { (uint32_t)(r.ptrs[i] >> 32), (uint32_t)r.ptrs[i], 0, NULL };
            struct fc_log *f = file_get(fc, s.file_id);
            if (!f) {
                /* full replay only: a PUT in a file that is there, by construction */
                continue;
            }
            f->refs++;
            ring_push_back(&fc->q, &s);
        }
        fc->held = fc->q.len;
        fc->next_wo = r.max_wo + 1;
        if (atomic_load(&fc->ch->next_txn_id) < r.max_txn) {
            atomic_store(&fc->ch->next_txn_id, r.max_txn);
        }
        fc->ckpt_wo = have_ckpt ? c.wo_id : 0;
        if (fc->held > (size_t)fc->capacity) {
            SF_WARN(FC_FMT "%zu events recovered, more than capacity (%lld): puts wait until "
                           "the sinks drain the excess",
                    fc->ch->name, fc->held, fc->capacity);
        }
        if (!have_ckpt && fc->nfiles == 0) {
            SF_INFO(FC_FMT "new channel: checkpoint in \"%s\", logs in \"%s\"%s", fc->ch->name,
                    fc->ckpt_dir, fc->dirs[0], fc->ndirs > 1 ? " and more" : "");
        } else {
            SF_INFO(FC_FMT "recovered %zu events in %lld ms: %s, %zu log file(s) replayed "
                           "(%zu transactions, %zu puts, %zu takes applied)",
                    fc->ch->name, fc->held, mono_ms() - t0,
                    have_ckpt ? "from the checkpoint" : "without a checkpoint", replayed_files,
                    r.txns, r.puts, r.takes);
        }
    }
    replay_free(&r);
    sf_ckpt_free(&c);
    return rc;
}

/* ---------- start / stop ---------- */

static int lock_dir(struct file_ctx *fc, const char *dir, char *err, size_t errsz)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/in_use.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsz, "could not open \"%s\": %s", path, strerror(errno));
        return SF_ERR_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(err, errsz,
                 "directory \"%s\" is in use by another file channel (\"%s\" is "
                 "locked)",
                 dir, path);
        close(fd);
        return SF_ERR_INVAL;
    }
    fc->lock_fds[fc->nlock_fds++] = fd;
    return SF_OK;
}

/* Free everything; safe on a partly started channel. */
static void file_free(struct file_ctx *fc)
{
    while (fc->pend_head) { /* only after a failed fsync */
        struct fc_pending *pe = fc->pend_head;
        fc->pend_head = pe->next;
        for (size_t i = 0; i < pe->n; i++) {
            if (pe->slots[i].ack_id == FC_CACHED) {
                sf_event_destroy(pe->slots[i].ref);
            }
        }
        free(pe->slots);
        free(pe->off_key);
        free(pe->off_val);
        free(pe);
    }
    fc->pend_tail = NULL;
    for (size_t i = 0; i < fc->q.len; i++) {
        struct fc_slot *s = ring_at(&fc->q, i);
        if (s->ack_id == FC_CACHED) {
            sf_event_destroy(s->ref);
        }
    }
    free(fc->q.v);
    memset(&fc->q, 0, sizeof(fc->q));
    for (size_t i = 0; i < fc->nfiles; i++) {
        if (fc->files[i]) {
            close(fc->files[i]->fd);
            free(fc->files[i]);
        }
    }
    free(fc->files);
    fc->files = NULL;
    fc->nfiles = fc->files_cap = 0;
    for (size_t i = 0; i < fc->noffsets; i++) {
        free(fc->offsets[i].key);
        free(fc->offsets[i].val);
    }
    free(fc->offsets);
    fc->offsets = NULL;
    fc->noffsets = 0;
    for (int i = 0; i < FC_SPARE_BUFS; i++) {
        wbuf_free(atomic_exchange(&fc->spare[i], NULL));
    }
    for (size_t i = 0; i < fc->nlock_fds; i++) {
        close(fc->lock_fds[i]);
    }
    free(fc->lock_fds);
    fc->lock_fds = NULL;
    fc->nlock_fds = 0;
    for (size_t i = 0; i < fc->ndirs; i++) {
        free(fc->dirs[i]);
    }
    free(fc->dirs);
    fc->dirs = NULL;
    fc->ndirs = 0;
    free(fc->ckpt_dir);
    free(fc->backup_dir);
    fc->ckpt_dir = fc->backup_dir = NULL;
    if (fc->locks_init) {
        pthread_mutex_destroy(&fc->ckpt_mu);
        pthread_rwlock_destroy(&fc->ckpt_rw);
        pthread_mutex_destroy(&fc->log_mu);
        pthread_mutex_destroy(&fc->sync_mu);
        pthread_cond_destroy(&fc->synced);
        pthread_cond_destroy(&fc->sync_kick);
        pthread_mutex_destroy(&fc->q_mu);
        pthread_cond_destroy(&fc->not_empty);
        pthread_cond_destroy(&fc->not_full);
        pthread_mutex_destroy(&fc->bg_mu);
        pthread_cond_destroy(&fc->bg_cond);
        pthread_cond_destroy(&fc->zeroed);
        fc->locks_init = false;
    }
    fc->cur = NULL;
}

static void init_locks(struct file_ctx *fc)
{
    pthread_mutex_init(&fc->ckpt_mu, NULL);
    pthread_rwlockattr_t ra;
    pthread_rwlockattr_init(&ra);
    /* a checkpoint must not starve behind a stream of commits */
    pthread_rwlockattr_setkind_np(&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&fc->ckpt_rw, &ra);
    pthread_rwlockattr_destroy(&ra);
    pthread_mutex_init(&fc->log_mu, NULL);
    pthread_mutex_init(&fc->sync_mu, NULL);
    pthread_mutex_init(&fc->q_mu, NULL);
    pthread_mutex_init(&fc->bg_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fc->synced, &ca);
    pthread_cond_init(&fc->sync_kick, &ca);
    pthread_cond_init(&fc->not_empty, &ca);
    pthread_cond_init(&fc->not_full, &ca);
    pthread_cond_init(&fc->bg_cond, &ca);
    pthread_cond_init(&fc->zeroed, &ca);
    pthread_condattr_destroy(&ca);
    fc->locks_init = true;
}

/* Parse dataDirs (comma-separated) and the checkpoint dirs; create and lock them. */
static int setup_dirs(struct file_ctx *fc, char *err, size_t errsz)
{
    size_t max = 1;
    for (const char *p = fc->data_dirs_opt; *p; p++) {
        max += *p == ',';
    }
    fc->dirs = calloc(max, sizeof(*fc->dirs));
    fc->lock_fds = calloc(max + 2, sizeof(*fc->lock_fds));
    fc->ckpt_dir = expand_home(fc->checkpoint_dir_opt);
    if (fc->dual_checkpoints) {
        fc->backup_dir = expand_home(fc->backup_dir_opt);
    }
    if (!fc->dirs || !fc->lock_fds || !fc->ckpt_dir || (fc->dual_checkpoints && !fc->backup_dir)) {
        snprintf(err, errsz, "out of memory");
        return SF_ERR_NOMEM;
    }
    const char *p = fc->data_dirs_opt;
    while (*p) {
        size_t len = strcspn(p, ",");
        const char *s = p, *e = p + len;
        while (s < e && (*s == ' ' || *s == '\t')) {
            s++;
        }
        while (e > s && (e[-1] == ' ' || e[-1] == '\t')) {
            e--;
        }
        if (e > s) {
            char *one = strndup(s, (size_t)(e - s));
            fc->dirs[fc->ndirs] = one ? expand_home(one) : NULL;
            free(one);
            if (!fc->dirs[fc->ndirs]) {
                snprintf(err, errsz, "out of memory");
                return SF_ERR_NOMEM;
            }
            fc->ndirs++;
        }
        p += len + (p[len] == ',');
    }
    if (fc->ndirs == 0) {
        snprintf(err, errsz, "dataDirs names no directory");
        return SF_ERR_INVAL;
    }
    /* every directory: created, distinct, locked */
    size_t nall = 0;
    const char **all = calloc(fc->ndirs + 2, sizeof(*all));
    if (!all) {
        snprintf(err, errsz, "out of memory");
        return SF_ERR_NOMEM;
    }
    all[nall++] = fc->ckpt_dir;
    if (fc->backup_dir) {
        all[nall++] = fc->backup_dir;
    }
    for (size_t i = 0; i < fc->ndirs; i++) {
        all[nall++] = fc->dirs[i];
    }
    int rc = SF_OK;
    for (size_t i = 0; i < nall && rc == SF_OK; i++) {
        for (size_t j = 0; j < i && rc == SF_OK; j++) {
            if (strcmp(all[i], all[j]) == 0) {
                snprintf(err, errsz,
                         "directory \"%s\" is given twice (checkpointDir, "
                         "backupCheckpointDir and dataDirs must all differ)",
                         all[i]);
                rc = SF_ERR_INVAL;
            }
        }
        if (rc == SF_OK && mkdirs(all[i]) != 0) {
            snprintf(err, errsz, "could not create directory \"%s\": %s", all[i], strerror(errno));
            rc = SF_ERR_IO;
        }
        if (rc == SF_OK) {
            rc = lock_dir(fc, all[i], err, errsz);
        }
    }
    free(all);
    return rc;
}

static void file_stop(struct sf_channel *ch);

static int file_start(struct sf_channel *ch, char *errstr, size_t errstr_size)
{
    struct file_ctx *fc = ch->ctx;
    if (fc->txn_capacity > fc->capacity) {
        snprintf(errstr, errstr_size,
                 "transactionCapacity (%lld) must not be greater than capacity (%lld)",
                 fc->txn_capacity, fc->capacity);
        return SF_ERR_INVAL;
    }
    if (fc->dual_checkpoints && (!fc->backup_dir_opt || !*fc->backup_dir_opt)) {
        snprintf(errstr, errstr_size, "useDualCheckpoints needs backupCheckpointDir");
        return SF_ERR_INVAL;
    }
    if (fc->min_space < FC_MIN_SPACE_FLOOR) {
        fc->min_space = FC_MIN_SPACE_FLOOR;
    }
    fc->ch = ch;
    fc->next_file_id = 1;
    init_locks(fc);
    int rc = setup_dirs(fc, errstr, errstr_size);
    if (rc == SF_OK) {
        rc = scan_logs(fc, errstr, errstr_size);
    }
    if (rc == SF_OK) {
        rc = recover(fc, errstr, errstr_size);
    }
    if (rc == SF_OK) {
        pthread_rwlock_rdlock(&fc->ckpt_rw);
        pthread_mutex_lock(&fc->log_mu);
        rc = log_roll(fc); /* every start writes to a new file */
        pthread_mutex_unlock(&fc->log_mu);
        pthread_rwlock_unlock(&fc->ckpt_rw);
        if (rc != SF_OK) {
            snprintf(errstr, errstr_size, "could not create a log file in \"%s\"",
                     fc->dirs[fc->next_file_id % fc->ndirs]);
        }
    }
    if (rc == SF_OK) {
        rc = checkpoint_run(fc);
        if (rc != SF_OK) {
            snprintf(errstr, errstr_size, "could not write a checkpoint in \"%s\"", fc->ckpt_dir);
        }
    }
    if (rc == SF_OK && pthread_create(&fc->bg, NULL, bg_main, fc) != 0) {
        snprintf(errstr, errstr_size, "could not start the checkpoint thread");
        rc = SF_ERR_NOMEM;
    }
    if (rc != SF_OK) {
        file_free(fc);
        return rc;
    }
    fc->bg_started = true;
    if (fc->fsync_per_txn) {
        if (pthread_create(&fc->syncer, NULL, syncer_main, fc) != 0) {
            snprintf(errstr, errstr_size, "could not start the sync thread");
            file_stop(ch);
            return SF_ERR_NOMEM;
        }
        fc->syncer_started = true;
    }
    ch->capacity = fc->capacity;
    ch->txn_capacity = fc->txn_capacity;
    return SF_OK;
}

static void file_stop(struct sf_channel *ch)
{
    struct file_ctx *fc = ch->ctx;
    if (fc->syncer_started) { /* it syncs and publishes what is pending first */
        pthread_mutex_lock(&fc->sync_mu);
        fc->sync_stop = true;
        pthread_cond_signal(&fc->sync_kick);
        pthread_mutex_unlock(&fc->sync_mu);
        pthread_join(fc->syncer, NULL);
        fc->syncer_started = false;
    }
    if (fc->bg_started) {
        pthread_mutex_lock(&fc->bg_mu);
        fc->stopping = true;
        pthread_cond_broadcast(&fc->bg_cond);
        pthread_mutex_unlock(&fc->bg_mu);
        pthread_join(fc->bg, NULL);
        fc->bg_started = false;
    }
    if (fc->checkpoint_on_close) {
        checkpoint_run(fc);
    } else {
        pthread_rwlock_rdlock(&fc->ckpt_rw);
        log_sync_all(fc);
        pthread_rwlock_unlock(&fc->ckpt_rw);
    }
    if (fc->cur && fc->alloc_end > fc->cur_pos && ftruncate(fc->cur->fd, (off_t)fc->cur_pos) != 0) {
        SF_DEBUG(FC_FMT "could not cut the zero-filled tail of log file %u: %s", fc->ch->name,
                 fc->cur->id, strerror(errno));
    }
    file_free(fc);
}

static const char *const file_aliases[] = { "org.apache.flume.channel.file.FileChannel", NULL };

const struct sf_channel_plugin sf_channel_file = {
    .name = "file",
    .aliases = file_aliases,
    .options = file_options,
    .ctx_size = sizeof(struct file_ctx),
    .start = file_start,
    .stop = file_stop,
    .put_commit = file_put_commit,
    .take = file_take,
    .take_commit = file_take_commit,
    .take_rollback = file_take_rollback,
    .size = file_size,
    .offset_get = file_offset_get,
};
