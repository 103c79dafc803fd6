/*
 * Flume's FileChannel, checkpoints: taking one (snapshot, crash-safe write, log file deletion) and
 * the background thread. The design, the on-disk formats' use and the lock order are in fc.h.
 */
#include "fc.h"
#include "file_channel.h"

/* ---------- checkpoints ---------- */

/*
 * Snapshot, write, then delete the log files no longer needed. Serialised by ckpt_mu.
 * @return SF_OK or an error (logged).
 */
int fc_checkpoint_run(struct file_ctx *fc)
{
    struct sf_ckpt c = { 0 };
    uint32_t *doomed = NULL;
    size_t ndoomed = 0;
    int rc = SF_OK;
    pthread_mutex_lock(&fc->ckpt_mu);
    pthread_rwlock_wrlock(&fc->ckpt_rw);
    /* no commit is in progress: every record written is either applied or failed */
    rc = fc_log_sync_all(fc);
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
    fc_publish_durable(fc, UINT64_MAX); /* all written is synced: no put commit is left pending */
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
        const struct fc_slot *s = fc_ring_at(&fc->q, i);
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
        struct fc_log *f = fc_file_get(fc, doomed[i]);
        if (f && f->refs == 0) {
            fc_file_remove(fc, f->id);
        } else {
            f = NULL;
        }
        pthread_mutex_unlock(&fc->q_mu);
        pthread_rwlock_unlock(&fc->ckpt_rw);
        if (f) {
            char path[4096];
            fc_log_path(fc, f->dir, f->id, path, sizeof(path));
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
    return fc_checkpoint_run(ch->ctx);
}

long long sf_file_channel_sync_count(struct sf_channel *ch)
{
    struct file_ctx *fc = ch->ctx;
    return atomic_load(&fc->sync_count);
}

/*
 * Free disk space now, for a put commit short of minimumRequiredSpace (background thread): start
 * a new log file when the current one holds at least FC_RELIEF_ROLL_MIN bytes (the current file is
 * never deleted, so with the default maxFileSize nothing could ever be freed), and checkpoint when
 * the oldest log file holds no queued or in-flight event, which deletes it and the drained files
 * after it (fc_checkpoint_run) instead of waiting for checkpointInterval.
 */
static void space_relief(struct file_ctx *fc)
{
    pthread_rwlock_rdlock(&fc->ckpt_rw);
    pthread_mutex_lock(&fc->log_mu);
    if (fc->cur && fc->cur_pos >= SF_WAL_FILE_HDR + FC_RELIEF_ROLL_MIN) {
        (void)fc_log_roll(fc); /* a failure is logged; the checkpoint below may still help */
    }
    uint32_t cur = fc->cur ? fc->cur->id : 0;
    pthread_mutex_unlock(&fc->log_mu);
    pthread_rwlock_unlock(&fc->ckpt_rw);
    /* a hint only: fc_checkpoint_run decides what is deleted, after publishing pending puts */
    bool drained = false;
    pthread_mutex_lock(&fc->q_mu);
    for (size_t i = 0; i < fc->nfiles; i++) {
        if (fc->files[i]) {
            drained = fc->files[i]->refs == 0 && fc->files[i]->id < cur;
            break;
        }
    }
    pthread_mutex_unlock(&fc->q_mu);
    if (drained && fc_checkpoint_run(fc) == SF_OK) {
        atomic_fetch_add(&fc->relief_ckpts, 1);
    }
}

/*
 * Ask the background thread for a round of space_relief and wait until it is done, at most ms
 * (also returns early when the channel stops). For put commits short of minimumRequiredSpace.
 */
void fc_relief_wait(struct file_ctx *fc, long long ms)
{
    struct timespec deadline;
    sf_deadline_after_ms(&deadline, ms);
    pthread_mutex_lock(&fc->bg_mu);
    /* a round running already may end the wait: the caller checks the space and asks again */
    unsigned long long want = fc->relief_rounds + 1;
    fc->relief_wanted = true;
    pthread_cond_signal(&fc->bg_cond);
    while (fc->relief_rounds < want && !fc->stopping && fc->bg_started) {
        if (pthread_cond_timedwait(&fc->relief_cv, &fc->bg_mu, &deadline) == ETIMEDOUT) {
            break;
        }
    }
    pthread_mutex_unlock(&fc->bg_mu);
}

/* The background thread: frees disk space when a put commit asks (space_relief), zero-fills
 * ahead of the writes when asked, checkpoints every checkpointInterval, syncs the log every
 * fsyncInterval when fsyncPerTransaction is false. */
void *fc_bg_main(void *arg)
{
    struct file_ctx *fc = arg;
    char tname[16];
    (void)snprintf(tname, sizeof(tname), "ckpt:%s", fc->ch->name);
    (void)pthread_setname_np(pthread_self(), tname);
    long long next_ckpt = sf_mono_ms() + fc->checkpoint_interval_ms;
    long long next_sync = fc->fsync_per_txn ? -1 : sf_mono_ms() + fc->fsync_interval_s * 1000;
    pthread_mutex_lock(&fc->bg_mu);
    while (!fc->stopping) {
        if (fc->relief_wanted) {
            fc->relief_wanted = false;
            pthread_mutex_unlock(&fc->bg_mu);
            space_relief(fc);
            pthread_mutex_lock(&fc->bg_mu);
            fc->relief_rounds++;
            pthread_cond_broadcast(&fc->relief_cv);
            continue;
        }
        if (fc->bg_kick) {
            fc->bg_kick = false;
            pthread_mutex_unlock(&fc->bg_mu);
            fc_zero_fill(fc);
            pthread_mutex_lock(&fc->bg_mu);
            continue;
        }
        long long due = next_sync >= 0 && next_sync < next_ckpt ? next_sync : next_ckpt;
        long long now = sf_mono_ms();
        if (due > now) {
            struct timespec deadline;
            sf_deadline_after_ms(&deadline, due - now);
            pthread_cond_timedwait(&fc->bg_cond, &fc->bg_mu, &deadline);
            continue;
        }
        pthread_mutex_unlock(&fc->bg_mu);
        if (next_sync >= 0 && now >= next_sync) {
            pthread_rwlock_rdlock(&fc->ckpt_rw);
            fc_log_sync_all(fc);
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
                fc_checkpoint_run(fc);
            }
            next_ckpt = sf_mono_ms() + fc->checkpoint_interval_ms;
        }
        pthread_mutex_lock(&fc->bg_mu);
    }
    pthread_mutex_unlock(&fc->bg_mu);
    return NULL;
}
