/*
 * Flume's FileChannel, the log writer: creating, rolling and appending to log files, zero-filling
 * ahead of the writes. The design, the on-disk formats' use and the lock order are in fc.h.
 */
#include "fc.h"

/* ---------- writing and syncing the log ---------- */

/* fdatasync a log file, plus the test delay; counted. */
int fc_log_fdatasync(struct file_ctx *fc, int fd)
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
    fc_log_path(fc, dir, id, path, sizeof(path));
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsz, "could not create log file \"%s\": %s", path, strerror(errno));
        return errno == ENOSPC || errno == EDQUOT ? SF_ERR_FULL : SF_ERR_IO;
    }
    unsigned char hdr[SF_WAL_FILE_HDR];
    sf_wal_file_header(hdr, id);
    struct fc_log *f = calloc(1, sizeof(*f));
    if (!f || fc_pwrite_all(fd, hdr, sizeof(hdr), 0) != 0 || fc_log_fdatasync(fc, fd) != 0 ||
        sf_ckpt_fsync_dir(fc->dirs[dir]) != SF_OK) {
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
int fc_log_roll(struct file_ctx *fc)
{
    if (fc->cur) {
        int rc = fc_log_fdatasync(fc, fc->cur->fd);
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
    int added = fc_file_add(fc, f);
    pthread_mutex_unlock(&fc->q_mu);
    if (added != SF_OK) {
        char path[4096];
        fc_log_path(fc, f->dir, f->id, path, sizeof(path));
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
int fc_log_append(struct file_ctx *fc,
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
        rc = fc_log_roll(fc);
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
    if (fc_pwrite_all(fc->cur->fd, w->b.data, len, fc->cur_pos) != 0) {
        int e = errno;
        char path[4096];
        fc_log_path(fc, fc->cur->dir, fc->cur->id, path, sizeof(path));
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
void fc_zero_fill(struct file_ctx *fc)
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
        rc = fc_pwrite_all(f->fd, zeros, n, at);
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
