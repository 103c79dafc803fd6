/*
 * Flume's FileChannel, the plugin: options, start (directories, locks, recovery, threads) and stop.
 * The design, the on-disk formats' use and the lock order are in fc.h.
 */
#include "fc.h"
#include "file_channel.h"

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
      "bytes that must stay free in the data directory (floor 1048576); short of it the channel "
      "rolls its log and checkpoints as soon as log files are drained, deleting them, while put "
      "commits wait up to keep-alive, then fail" },
    { "keep-alive", SF_OPT_INT, "3", 0, 86400, offsetof(struct file_ctx, keep_alive_s), 0, NULL,
      NULL, "seconds a put commit waits for room (capacity, or minimumRequiredSpace) before failing" },
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

/* Free what dirs_parse filled. */
static void dirs_free(struct file_ctx *fc)
{
    for (size_t i = 0; i < fc->ndirs; i++) {
        free(fc->dirs[i]);
    }
    free(fc->dirs);
    fc->dirs = NULL;
    fc->ndirs = 0;
    free(fc->ckpt_dir);
    free(fc->backup_dir);
    fc->ckpt_dir = fc->backup_dir = NULL;
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
        struct fc_slot *s = fc_ring_at(&fc->q, i);
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
        fc_wbuf_free(atomic_exchange(&fc->spare[i], NULL));
    }
    for (size_t i = 0; i < fc->nlock_fds; i++) {
        close(fc->lock_fds[i]);
    }
    free(fc->lock_fds);
    fc->lock_fds = NULL;
    fc->nlock_fds = 0;
    dirs_free(fc);
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
        pthread_cond_destroy(&fc->relief_cv);
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
    pthread_cond_init(&fc->relief_cv, &ca);
    pthread_cond_init(&fc->zeroed, &ca);
    pthread_condattr_destroy(&ca);
    fc->locks_init = true;
}

/* Parse dataDirs (comma-separated) and the checkpoint dirs into fc->dirs, ckpt_dir and backup_dir
 * (free with dirs_free, also on error), "~" expanded; no I/O. They must name directories and all
 * differ. On SF_ERR_INVAL *key is the option to blame. @return SF_OK, SF_ERR_INVAL, SF_ERR_NOMEM
 * (err filled). */
static int dirs_parse(struct file_ctx *fc, const char **key, char *err, size_t errsz)
{
    size_t nnames = 0;
    char **names = sf_split_names(fc->data_dirs_opt, &nnames, false);
    fc->dirs = calloc(nnames ? nnames : 1, sizeof(*fc->dirs));
    fc->ckpt_dir = fc_expand_home(fc->checkpoint_dir_opt);
    if (fc->dual_checkpoints) {
        fc->backup_dir = fc_expand_home(fc->backup_dir_opt);
    }
    bool oom = !names && *fc->data_dirs_opt;
    for (size_t i = 0; i < nnames && !oom && fc->dirs; i++) {
        fc->dirs[fc->ndirs] = names[i] ? fc_expand_home(names[i]) : NULL;
        oom = !fc->dirs[fc->ndirs];
        fc->ndirs += !oom;
    }
    sf_names_free(names, nnames);
    if (oom || !fc->dirs || !fc->ckpt_dir || (fc->dual_checkpoints && !fc->backup_dir)) {
        snprintf(err, errsz, "out of memory");
        return SF_ERR_NOMEM;
    }
    if (!*fc->ckpt_dir) {
        *key = "checkpointDir";
        snprintf(err, errsz, "checkpointDir names no directory");
        return SF_ERR_INVAL;
    }
    *key = "dataDirs";
    if (fc->ndirs == 0) {
        snprintf(err, errsz, "dataDirs names no directory");
        return SF_ERR_INVAL;
    }
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
                *key = i == 1 && fc->backup_dir ? "backupCheckpointDir" : "dataDirs";
                rc = SF_ERR_INVAL;
            }
        }
    }
    free(all);
    return rc;
}

/* Parse the directories (dirs_parse); create and lock them. */
static int setup_dirs(struct file_ctx *fc, char *err, size_t errsz)
{
    const char *key;
    int rc = dirs_parse(fc, &key, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    fc->lock_fds = calloc(fc->ndirs + 2, sizeof(*fc->lock_fds));
    if (!fc->lock_fds) {
        snprintf(err, errsz, "out of memory");
        return SF_ERR_NOMEM;
    }
    /* every directory: created, locked */
    const char *all[2] = { fc->ckpt_dir, fc->backup_dir };
    for (size_t k = 0; k < 2 + fc->ndirs && rc == SF_OK; k++) {
        const char *dir = k < 2 ? all[k] : fc->dirs[k - 2];
        if (!dir) {
            continue;
        }
        if (fc_mkdirs(dir) != 0) {
            snprintf(err, errsz, "could not create directory \"%s\": %s", dir, strerror(errno));
            rc = SF_ERR_IO;
        }
        if (rc == SF_OK) {
            rc = lock_dir(fc, dir, err, errsz);
        }
    }
    return rc;
}

/* The configure step (sf_channel_plugin.configure): the capacities, the dual checkpoints and the
 * directories' names (parsed and compared, neither created nor locked). */
static int file_configure(struct sf_channel *ch, struct sf_diag *d)
{
    struct file_ctx *fc = ch->ctx;
    int rc = sf_channel_check_capacity(ch, fc->capacity, fc->txn_capacity, d);
    if (fc->dual_checkpoints && (!fc->backup_dir_opt || !*fc->backup_dir_opt)) {
        sf_diag_error(d, sf_section_get(ch->conf, "useDualCheckpoints"),
                      "useDualCheckpoints needs backupCheckpointDir");
        return SF_ERR_INVAL; /* the directories cannot be compared */
    }
    char err[4200];
    const char *key = NULL;
    if (dirs_parse(fc, &key, err, sizeof(err)) != SF_OK) {
        sf_diag_error(d, key ? sf_section_get(ch->conf, key) : NULL, "%s", err);
        rc = SF_ERR_INVAL;
    }
    dirs_free(fc);
    return rc;
}

static void file_stop(struct sf_channel *ch);

static int file_start(struct sf_channel *ch, char *errstr, size_t errstr_size)
{
    struct file_ctx *fc = ch->ctx;
    if (fc->min_space < FC_MIN_SPACE_FLOOR) {
        fc->min_space = FC_MIN_SPACE_FLOOR;
    }
    fc->ch = ch;
    fc->next_file_id = 1;
    init_locks(fc);
    int rc = setup_dirs(fc, errstr, errstr_size);
    if (rc == SF_OK) {
        rc = fc_scan_logs(fc, errstr, errstr_size);
    }
    if (rc == SF_OK) {
        rc = fc_recover(fc, errstr, errstr_size);
    }
    if (rc == SF_OK) {
        pthread_rwlock_rdlock(&fc->ckpt_rw);
        pthread_mutex_lock(&fc->log_mu);
        rc = fc_log_roll(fc); /* every start writes to a new file */
        pthread_mutex_unlock(&fc->log_mu);
        pthread_rwlock_unlock(&fc->ckpt_rw);
        if (rc != SF_OK) {
            snprintf(errstr, errstr_size, "could not create a log file in \"%s\"",
                     fc->dirs[fc->next_file_id % fc->ndirs]);
        }
    }
    if (rc == SF_OK) {
        rc = fc_checkpoint_run(fc);
        if (rc != SF_OK) {
            snprintf(errstr, errstr_size, "could not write a checkpoint in \"%s\"", fc->ckpt_dir);
        }
    }
    if (rc == SF_OK && pthread_create(&fc->bg, NULL, fc_bg_main, fc) != 0) {
        snprintf(errstr, errstr_size, "could not start the checkpoint thread");
        rc = SF_ERR_NOMEM;
    }
    if (rc != SF_OK) {
        file_free(fc);
        return rc;
    }
    fc->bg_started = true;
    if (fc->fsync_per_txn) {
        if (pthread_create(&fc->syncer, NULL, fc_syncer_main, fc) != 0) {
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
        pthread_cond_broadcast(&fc->relief_cv);
        pthread_mutex_unlock(&fc->bg_mu);
        pthread_join(fc->bg, NULL);
        fc->bg_started = false;
    }
    if (fc->checkpoint_on_close) {
        fc_checkpoint_run(fc);
    } else {
        pthread_rwlock_rdlock(&fc->ckpt_rw);
        fc_log_sync_all(fc);
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
    .configure = file_configure,
    .start = file_start,
    .stop = file_stop,
    .put_commit = fc_file_put_commit,
    .take = fc_file_take,
    .take_commit = fc_file_take_commit,
    .take_rollback = fc_file_take_rollback,
    .size = fc_file_size,
    .offset_get = fc_file_offset_get,
};
