/*
 * Writing and reading the file channel's checkpoint (format in checkpoint.h). The file is built
 * in memory (8 bytes per queued event), written to a temp file, fsync'd and renamed over the
 * previous checkpoint, then the directory is fsync'd: a crash leaves either the old or the new
 * checkpoint, never a mix. Reading checks the magic, the state, every length and the CRC.
 */
#include "checkpoint.h"
#include "wal.h"

#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CKPT_HDR      48u
#define CKPT_COMPLETE 1u

static const unsigned char ckpt_magic[8] = { 'S', 'F', 'C', 'K', 'P', 'T', '0', '1' };

int sf_ckpt_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return SF_ERR_IO;
    }
    int rc = fsync(fd) == 0 ? SF_OK : SF_ERR_IO;
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

/* Write all n bytes of p to fd (retrying short writes and EINTR).
 * @return SF_OK, or SF_ERR_IO with errno from write(2). */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return SF_ERR_IO;
        }
        p += w;
        n -= (size_t)w;
    }
    return SF_OK;
}

int sf_ckpt_write(const char *dir, const struct sf_ckpt *c, char *err, size_t errsz)
{
    struct sf_buf b = SF_BUF_INIT;
    sf_buf_reserve(&b, CKPT_HDR + c->nptrs * 8 + 4);
    unsigned char *h = (unsigned char *)b.data;
    memset(h, 0, CKPT_HDR);
    memcpy(h, ckpt_magic, 8);
    sf_wal_put32(h + 8, CKPT_COMPLETE);
    sf_wal_put32(h + 12, c->cur_file);
    sf_wal_put64(h + 16, c->wo_id);
    sf_wal_put64(h + 24, c->txn_id);
    sf_wal_put64(h + 32, c->nptrs);
    sf_wal_put32(h + 40, (uint32_t)c->noffsets);
    b.len = CKPT_HDR;
    unsigned char *p = (unsigned char *)b.data + b.len;
    for (size_t i = 0; i < c->nptrs; i++, p += 8) {
        sf_wal_put32(p, (uint32_t)(c->ptrs[i] >> 32));
        sf_wal_put32(p + 4, (uint32_t)c->ptrs[i]);
    }
    b.len += c->nptrs * 8;
    for (size_t i = 0; i < c->noffsets; i++) {
        unsigned char x[4];
        sf_wal_put32(x, (uint32_t)strlen(c->offsets[i].key));
        sf_buf_append(&b, x, 4);
        sf_buf_puts(&b, c->offsets[i].key);
        sf_wal_put32(x, (uint32_t)strlen(c->offsets[i].val));
        sf_buf_append(&b, x, 4);
        sf_buf_puts(&b, c->offsets[i].val);
    }
    unsigned char crc[4];
    sf_wal_put32(crc, sf_wal_crc32c(0, b.data, b.len));
    sf_buf_append(&b, crc, 4);

    char tmp[4096], path[4096];
    snprintf(tmp, sizeof(tmp), "%s/%s.tmp", dir, SF_CKPT_FILE);
    snprintf(path, sizeof(path), "%s/%s", dir, SF_CKPT_FILE);
    int rc = SF_ERR_IO;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errsz, "could not create checkpoint file \"%s\": %s", tmp, strerror(errno));
        goto out;
    }
    if (write_all(fd, b.data, b.len) != SF_OK || fsync(fd) != 0) {
        snprintf(err, errsz, "could not write checkpoint file \"%s\": %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0) {
        snprintf(err, errsz, "could not close checkpoint file \"%s\": %s", tmp, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errsz, "could not rename \"%s\" to \"%s\": %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    if (sf_ckpt_fsync_dir(dir) != SF_OK) {
        snprintf(err, errsz, "could not fsync checkpoint directory \"%s\": %s", dir,
                 strerror(errno));
        goto out;
    }
    rc = SF_OK;
out:
    sf_buf_free(&b);
    return rc;
}

void sf_ckpt_free(struct sf_ckpt *c)
{
    for (size_t i = 0; i < c->noffsets; i++) {
        free(c->offsets[i].key);
        free(c->offsets[i].val);
    }
    free(c->offsets);
    free(c->ptrs);
    memset(c, 0, sizeof(*c));
}

int sf_ckpt_read(const char *dir, struct sf_ckpt *c, char *err, size_t errsz)
{
    memset(c, 0, sizeof(*c));
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, SF_CKPT_FILE);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            return SF_ERR_NOTFOUND;
        }
        snprintf(err, errsz, "could not open checkpoint file \"%s\": %s", path, strerror(errno));
        return SF_ERR_IO;
    }
    int rc = SF_ERR_CORRUPT;
    unsigned char *data = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errsz, "could not stat checkpoint file \"%s\": %s", path, strerror(errno));
        rc = SF_ERR_IO;
        goto out;
    }
    size_t size = (size_t)st.st_size;
    if (size < CKPT_HDR + 4) {
        snprintf(err, errsz, "checkpoint file \"%s\" is too short (%zu bytes)", path, size);
        goto out;
    }
    data = malloc(size);
    if (!data) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    for (size_t got = 0; got < size;) {
        ssize_t r = pread(fd, data + got, size - got, (off_t)got);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            snprintf(err, errsz, "could not read checkpoint file \"%s\": %s", path,
                     r < 0 ? strerror(errno) : "file shrank");
            rc = SF_ERR_IO;
            goto out;
        }
        got += (size_t)r;
    }
    if (sf_wal_get32(data + size - 4) != sf_wal_crc32c(0, data, size - 4)) {
        snprintf(err, errsz, "checkpoint file \"%s\" fails its CRC check", path);
        goto out;
    }
    if (memcmp(data, ckpt_magic, 8) != 0 || sf_wal_get32(data + 8) != CKPT_COMPLETE) {
        snprintf(err, errsz, "checkpoint file \"%s\" has a bad magic or is incomplete", path);
        goto out;
    }
    c->cur_file = sf_wal_get32(data + 12);
    c->wo_id = sf_wal_get64(data + 16);
    c->txn_id = sf_wal_get64(data + 24);
    uint64_t nptrs = sf_wal_get64(data + 32);
    uint32_t noff = sf_wal_get32(data + 40);
    size_t end = size - 4;
    if (nptrs > (end - CKPT_HDR) / 8) {
        snprintf(err, errsz, "checkpoint file \"%s\" is truncated", path);
        goto out;
    }
    c->ptrs = malloc((nptrs ? nptrs : 1) * sizeof(*c->ptrs));
    c->offsets = calloc(noff ? noff : 1, sizeof(*c->offsets));
    if (!c->ptrs || !c->offsets) {
        rc = SF_ERR_NOMEM;
        goto out;
    }
    const unsigned char *p = data + CKPT_HDR;
    for (uint64_t i = 0; i < nptrs; i++, p += 8) {
        c->ptrs[i] = (uint64_t)sf_wal_get32(p) << 32 | sf_wal_get32(p + 4);
    }
    c->nptrs = (size_t)nptrs;
    size_t at = (size_t)(p - data);
    for (uint32_t i = 0; i < noff; i++) {
        uint32_t kl, vl;
        if (at + 4 > end || (kl = sf_wal_get32(data + at)) > end - at - 4 || at + 8 + kl > end ||
            (vl = sf_wal_get32(data + at + 4 + kl)) > end - at - 8 - kl) {
            snprintf(err, errsz, "checkpoint file \"%s\" has a malformed offset entry", path);
            goto out;
        }
        c->offsets[i].key = sf_strndup(data + at + 4, kl);
        c->offsets[i].val = sf_strndup(data + at + 8 + kl, vl);
        c->noffsets = i + 1;
        if (!c->offsets[i].key || !c->offsets[i].val) {
            rc = SF_ERR_NOMEM;
            goto out;
        }
        at += 8 + (size_t)kl + vl;
    }
    if (at != end) {
        snprintf(err, errsz, "checkpoint file \"%s\" has %zu trailing bytes", path, end - at);
        goto out;
    }
    rc = SF_OK;
out:
    if (rc != SF_OK) {
        sf_ckpt_free(c);
    }
    free(data);
    close(fd);
    return rc;
}
