/*
 * Flume's FileChannel, replay at start: scanning the log files, loading the checkpoint, replaying
 * newer records. The design, the on-disk formats' use and the lock order are in fc.h.
 */
#include "fc.h"

#include "sqlflume/hmap.h"

/* ---------- replay ---------- */

/* The queue being rebuilt, with a pointer -> position index for TAKE records. */
struct replay {
    uint64_t *ptrs; /* file id << 32 | offset, FC_DEAD once taken */
    size_t n, cap, live;
    struct sf_hmap index; /* ptr -> its position in ptrs (no PUT record is at offset 0, so no
                           * pointer is 0, the map's empty key) */
    uint64_t *pend; /* records of the transaction being read */
    size_t npend, pend_cap;
    uint64_t pend_txn;
    uint8_t pend_type;
    uint64_t max_wo, max_txn;
    size_t puts, takes, txns; /* applied, for the log line */
};

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
    if (sf_hmap_set(&r->index, ptr, r->n) != SF_OK) {
        return -1;
    }
    r->ptrs[r->n++] = ptr;
    r->live++;
    return 0;
}

/* Remove ptr from the queue if it is there. */
static void replay_take(struct replay *r, uint64_t ptr)
{
    const struct sf_hmap_slot *s = sf_hmap_get(&r->index, ptr);
    if (s && r->ptrs[s->val] == ptr) {
        r->ptrs[s->val] = FC_DEAD;
        r->live--;
    }
}

static void replay_free(struct replay *r)
{
    free(r->ptrs);
    sf_hmap_free(&r->index);
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
    fc_log_path(fc, f->dir, f->id, path, sizeof(path));
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
            bool ok = sf_wal_decode_commit(payload, h.len, &cm) == SF_OK;
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
                if (!v || fc_offset_set(fc, cm.key, cm.key_len, &v) != SF_OK) {
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
int fc_scan_logs(struct file_ctx *fc, char *err, size_t errsz)
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
            fc_log_path(fc, (int)d, (uint32_t)id, path, sizeof(path));
            for (size_t i = 0; i < nfound; i++) {
                if (found[i]->id == id) {
                    char other[4096];
                    fc_log_path(fc, found[i]->dir, found[i]->id, other, sizeof(other));
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
        if (rc == SF_OK && fc_file_add(fc, found[i]) != SF_OK) {
            rc = SF_ERR_NOMEM;
        }
        if (rc != SF_OK && !fc_file_get(fc, found[i]->id)) {
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
    fc_log_path(fc, f->dir, f->id, path, sizeof(path));
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
        struct fc_log *f = fc_file_get(fc, id);
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
int fc_recover(struct file_ctx *fc, char *err, size_t errsz)
{
    long long t0 = sf_mono_ms();
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
        if (sf_hmap_reserve(&r.index, c.nptrs) != SF_OK) {
            rc = SF_ERR_NOMEM;
        }
        for (size_t i = 0; i < c.nptrs && rc == SF_OK; i++) {
            if (replay_push(&r, c.ptrs[i]) != 0) {
                rc = SF_ERR_NOMEM;
            }
        }
        for (size_t i = 0; i < c.noffsets && rc == SF_OK; i++) {
            char *v = c.offsets[i].val;
            c.offsets[i].val = NULL;
            if (fc_offset_set(fc, c.offsets[i].key, strlen(c.offsets[i].key), &v) != SF_OK) {
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
    if (rc == SF_OK && r.live > 0 && fc_ring_reserve(&fc->q, r.live) != SF_OK) {
        snprintf(err, errsz, "out of memory building a queue of %zu events", r.live);
        rc = SF_ERR_NOMEM;
    }
    if (rc == SF_OK) {
        for (size_t i = 0; i < r.n; i++) {
            if (r.ptrs[i] == FC_DEAD) {
                continue;
            }
            struct fc_slot s = { (uint32_t)(r.ptrs[i] >> 32), (uint32_t)r.ptrs[i], 0, NULL };
            struct fc_log *f = fc_file_get(fc, s.file_id);
            if (!f) {
                /* full replay only: a PUT in a file that is there, by construction */
                continue;
            }
            f->refs++;
            fc_ring_push_back(&fc->q, &s);
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
                    fc->ch->name, fc->held, sf_mono_ms() - t0,
                    have_ckpt ? "from the checkpoint" : "without a checkpoint", replayed_files,
                    r.txns, r.puts, r.takes);
        }
    }
    replay_free(&r);
    sf_ckpt_free(&c);
    return rc;
}
