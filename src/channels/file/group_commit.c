/*
 * Flume's FileChannel, group commit: sync rounds, waiting for durability, publishing durable put
 * commits to the queue, the sync thread. The design, the on-disk formats' use and the lock order
 * are in fc.h.
 */
#include "fc.h"

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
    int rc = fc_log_fdatasync(fc, fd);
    uint64_t err_upto = 0;
    if (rc != 0) {
        int e = errno;
        char path[4096];
        fc_log_path(fc, dir, id, path, sizeof(path));
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
int fc_log_wait_durable(struct file_ctx *fc, uint64_t lsn)
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
int fc_log_sync_all(struct file_ctx *fc)
{
    pthread_mutex_lock(&fc->log_mu);
    uint64_t lsn = fc->written_lsn;
    pthread_mutex_unlock(&fc->log_mu);
    return fc_log_wait_durable(fc, lsn);
}


/* Wake the sync thread: the log has commits not yet synced. */
void fc_sync_kick(struct file_ctx *fc)
{
    pthread_mutex_lock(&fc->sync_mu);
    pthread_cond_signal(&fc->sync_kick);
    pthread_mutex_unlock(&fc->sync_mu);
}

/* Move the pending put commits the log holds durably (lsn <= durable) to the queue, with their
 * source offsets, in commit order. Nothing moves once an fsync failed. q_mu held. */
void fc_publish_durable(struct file_ctx *fc, uint64_t durable)
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
            fc_ring_push_back(&fc->q, &pe->slots[i]);
        }
        fc->reserved -= pe->n;
        fc->held += pe->n;
        fc->pending -= pe->n;
        atomic_fetch_sub(&fc->pend_commits, 1);
        if (pe->off_key &&
            fc_offset_set(fc, pe->off_key, strlen(pe->off_key), &pe->off_val) != SF_OK) {
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
 * take's fsync. An fsync error is fatal for the channel (see fc_file_put_commit). On stop it syncs
 * what is left and exits.
 */
void *fc_syncer_main(void *arg)
{
    struct file_ctx *fc = arg;
    char tname[16];
    (void)snprintf(tname, sizeof(tname), "sync:%s", fc->ch->name);
    (void)pthread_setname_np(pthread_self(), tname); /* for top -H and perf */
    long long last_sync_us = sf_mono_us();           /* when the last sync ended */
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
        long long since_us = sf_mono_us() - last_sync_us;
        if (atomic_load(&fc->pend_commits) == 0 && !fc->sync_stop &&
            since_us < FC_LAZY_SYNC_MS * 1000) {
            /* only take records to sync: no hurry, a crash before would only repeat events */
            struct timespec deadline;
            sf_deadline_after_us(&deadline, FC_LAZY_SYNC_MS * 1000 - since_us);
            pthread_cond_timedwait(&fc->sync_kick, &fc->sync_mu, &deadline);
            continue;
        }
        /* group window: let commits gather for FC_GROUP_WINDOW_US after the last sync, so one
         * fdatasync covers several (each costs the disk a flush); commits do not wait for it */
        if (!fc->sync_stop && since_us < FC_GROUP_WINDOW_US) {
            struct timespec deadline;
            sf_deadline_after_us(&deadline, FC_GROUP_WINDOW_US - since_us);
            while (!fc->sync_stop &&
                   pthread_cond_timedwait(&fc->sync_kick, &fc->sync_mu, &deadline) == 0) {
            }
        }
        pthread_mutex_unlock(&fc->sync_mu);
        pthread_rwlock_rdlock(&fc->ckpt_rw);
        written = atomic_load(&fc->written_lsn); /* what the window gathered */
        int rc = fc_log_wait_durable(fc, written);
        last_sync_us = sf_mono_us();
        if (rc == SF_OK) {
            pthread_mutex_lock(&fc->sync_mu);
            uint64_t durable = fc->synced_lsn; /* a round may cover more than asked */
            pthread_mutex_unlock(&fc->sync_mu);
            pthread_mutex_lock(&fc->q_mu);
            fc_publish_durable(fc, durable);
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
