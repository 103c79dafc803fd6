/*
 * Flume's FileChannel: a durable FIFO. A put commit serialises its events as PUT records plus a
 * COMMIT record (carrying the source offset, if any) into one buffer outside every lock and
 * appends it to the current log file with one pwrite under the log lock; a take commit does the
 * same with TAKE records. Nothing is written for a rollback.
 *
 * Pipelined group commit (fsyncPerTransaction): commits return after their write, and a sync
 * thread fdatasyncs the log whenever it holds unsynced put commits, one sync covering every
 * commit written before it, at most one sync per FC_GROUP_WINDOW_US (each fdatasync costs the
 * disk a cache flush: fewer, larger syncs cost less in all, and no commit waits for them). A put
 * commit's events join the queue (and its source offset counts) only once that sync is done, so a
 * sink never takes an event that is not durable, while the source already reads its next batch; a
 * take waits for committed events still being synced, so they count as queued. Take commits alone
 * are synced within FC_LAZY_SYNC_MS: until then a power cut could only deliver those events again,
 * and kill -9 loses nothing written. An fsync error is fatal for the channel, as in PostgreSQL
 * since "fsyncgate": the pages may be gone, so the put commits waiting for it never become visible
 * and every later commit fails with SF_ERR_IO until the agent is restarted; the source then resumes
 * from the last durable offset.
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
/* Internal to the file channel (the .c files of src/channels/file); not a public interface. Each
 * function declared here is documented at its definition, in the file named above its group. */
#ifndef SF_FILE_CHANNEL_INTERNAL_H
#define SF_FILE_CHANNEL_INTERNAL_H

#include "checkpoint.h"
#include "wal.h"

#include "sqlflume/buf.h"
#include "sqlflume/clock.h"
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
#define FC_PENDING_WAIT_MS 10000       /* a take waits this long at most for events being synced */
#define FC_LAZY_SYNC_MS    100         /* take commits alone are synced within this many ms */
#define FC_GROUP_WINDOW_US 2000L       /* at most one group sync per this many us (plus the sync) */
#define FC_ZERO_AHEAD      (16u << 20) /* bytes zero-filled ahead of the write position at a time */
#define FC_ZERO_LOW        (12u << 20) /* zero-fill again when less than this is left, bytes */
#define FC_ZERO_GAP        (4u << 20)  /* with none left, start this far beyond the writes, bytes */
#define FC_RELIEF_ROLL_MIN (256u << 10) /* low on space: start a new log file when the current one
                                          holds this many bytes, so it can go once drained */
#define FC_RELIEF_POLL_MS  50          /* low on space: a put commit asks for relief this often */

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
    uint64_t lsn; /* end of its COMMIT record in the log */
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
    /* disk space relief (bg_mu): a put commit short of minimumRequiredSpace asks the background
     * thread to roll the log and checkpoint as soon as the oldest log files are drained */
    bool relief_wanted;
    unsigned long long relief_rounds; /* rounds done; bumped with relief_cv broadcast */
    pthread_cond_t relief_cv;
    atomic_llong relief_ckpts; /* checkpoints taken to free space, since start */
};


/* util.c */
void fc_log_path(const struct file_ctx *fc, int dir, uint32_t id, char *out, size_t outsz);
size_t fc_ev_bytes(const struct sf_event *ev);
/* Write all n bytes of p at off (EINTR retried). @return SF_OK, or SF_ERR_IO (errno set). */
int fc_pwrite_all(int fd, const void *p, size_t n, uint64_t off);
char *fc_expand_home(const char *path);
/* mkdir -p path (mode 0755). @return SF_OK, or SF_ERR_IO (errno set; ENAMETOOLONG beyond 4095
 * bytes). */
int fc_mkdirs(const char *path);

/* queue.c */
/* Grow r to hold need slots (a power of two), keeping its entries in order.
 * @return SF_OK or SF_ERR_NOMEM (r unchanged; nothing logged). */
int fc_ring_reserve(struct fc_ring *r, size_t need);
void fc_ring_push_back(struct fc_ring *r, const struct fc_slot *s);
void fc_ring_push_front(struct fc_ring *r, const struct fc_slot *s);
struct fc_slot fc_ring_pop_front(struct fc_ring *r);
struct fc_slot *fc_ring_at(struct fc_ring *r, size_t i);
struct fc_log *fc_file_get(struct file_ctx *fc, uint32_t id);
/* Add f (the table then owns it) under q_mu, or single-threaded at start; its id is above every
 * id in the table. @return SF_OK or SF_ERR_NOMEM (f not added; nothing logged). */
int fc_file_add(struct file_ctx *fc, struct fc_log *f);
void fc_file_remove(struct file_ctx *fc, uint32_t id);
struct fc_wbuf *fc_wbuf_get(struct file_ctx *fc);
void fc_wbuf_free(struct fc_wbuf *w);
void fc_wbuf_put(struct file_ctx *fc, struct fc_wbuf *w);

/* log_writer.c */
int fc_log_fdatasync(struct file_ctx *fc, int fd);
int fc_log_roll(struct file_ctx *fc);
int fc_log_append(struct file_ctx *fc,
                  struct fc_wbuf *w,
                  uint32_t *file_id,
                  uint64_t *base,
                  uint64_t *end_lsn);
void fc_zero_fill(struct file_ctx *fc);

/* group_commit.c */
int fc_log_wait_durable(struct file_ctx *fc, uint64_t lsn);
int fc_log_sync_all(struct file_ctx *fc);
void fc_sync_kick(struct file_ctx *fc);
void fc_publish_durable(struct file_ctx *fc, uint64_t durable);
void *fc_syncer_main(void *arg);

/* put.c */
/* Set key's offset to *val (q_mu held): see put.c. @return SF_OK or SF_ERR_NOMEM. */
int fc_offset_set(struct file_ctx *fc, const char *key, size_t key_len, char **val);
int fc_file_put_commit(struct sf_txn *txn);

/* take.c */
int fc_file_take(struct sf_txn *txn, struct sf_event **out, size_t max, size_t *n, int timeout_ms);
int fc_file_take_commit(struct sf_txn *txn);
int fc_file_take_rollback(struct sf_txn *txn);
size_t fc_file_size(struct sf_channel *ch);
int fc_file_offset_get(struct sf_channel *ch, const char *src_key, char **out);

/* checkpointer.c */
int fc_checkpoint_run(struct file_ctx *fc);
void fc_relief_wait(struct file_ctx *fc, long long ms);
void *fc_bg_main(void *arg);

/* replay.c */
int fc_scan_logs(struct file_ctx *fc, char *err, size_t errsz);
int fc_recover(struct file_ctx *fc, char *err, size_t errsz);

#endif
