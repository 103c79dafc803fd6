/*
 * The HDFS sink's local file system (hdfs_fs.h, scheme file://): a local or mounted POSIX file
 * system with the semantics the sink relies on.
 *
 *   create    the parents made (mkdir -p, each new directory's parent fsync'd), the file opened
 *             with O_CREAT | O_EXCL (EEXIST: SF_ERR_EXISTS, never overwritten), and its directory
 *             fsync'd, so that the name of a file whose write returned SF_OK survives a crash;
 *   write     pwrite at the file's end until every byte is out, then fdatasync: durable when it
 *             returns SF_OK; on failure the file may hold a prefix of the bytes (its length as
 *             sf_hdfs_file_length says counts what pwrite wrote);
 *   rename    renameat2(RENAME_NOREPLACE), or on a file system without it link(2) + unlink(2):
 *             an existing destination is never replaced; both directories fsync'd;
 *   truncate  ftruncate + fdatasync; delete unlink (rmdir for a directory) + the directory's
 *             fsync.
 * errno maps to the codes of hdfs_fs.h: ENOENT/ENOTDIR SF_ERR_NOTFOUND, EEXIST/ENOTEMPTY
 * SF_ERR_EXISTS, EACCES/EPERM SF_ERR_AUTH, ENOMEM SF_ERR_NOMEM, EINVAL/ENAMETOOLONG
 * SF_ERR_INVAL, anything else (EIO, ENOSPC, EROFS, EDQUOT...) SF_ERR_IO. Calls are not bounded by
 * the call timeout: a local system call cannot be interrupted (a hung NFS mount hangs the sink).
 */
#include "hdfs_fs_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sqlflume/error.h"
#include "sqlflume/mem.h"

struct local_fs {
    struct sf_hdfs_fs base;
};

struct local_file {
    struct sf_hdfs_file base;
    int fd;
    char *path; /* owned, for messages */
};

static int map_errno(int e)
{
    switch (e) {
    case ENOENT:
    case ENOTDIR:
        return SF_ERR_NOTFOUND;
    case EEXIST:
    case ENOTEMPTY:
        return SF_ERR_EXISTS;
    case EACCES:
    case EPERM:
        return SF_ERR_AUTH;
    case ENOMEM:
        return SF_ERR_NOMEM;
    case EINVAL:
    case ENAMETOOLONG:
        return SF_ERR_INVAL;
    default:
        return SF_ERR_IO;
    }
}

/* Fill err with "OP \"PATH\": strerror(e)" and return e's code. */
static int fail(int e, const char *op, const char *path, char *err, size_t errsz)
{
    snprintf(err, errsz, "%s \"%s\": %s", op, path, strerror(e));
    return map_errno(e);
}

static int check_path(const char *path, char *err, size_t errsz)
{
    if (!path || path[0] != '/') {
        snprintf(err, errsz, "path \"%s\" is not absolute", path ? path : "(null)");
        return SF_ERR_INVAL;
    }
    return SF_OK;
}

/* The directory part of path ("/a/b" for "/a/b/c", "/" for "/c"); malloc'd, NULL on OOM. */
static char *parent_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    size_t n = slash && slash != path ? (size_t)(slash - path) : 1;
    return sf_strndup(path, n);
}

/* fsync the directory dir. @return 0 or an errno value. */
static int sync_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return errno;
    }
    int e = fsync(dfd) != 0 ? errno : 0;
    close(dfd);
    return e;
}

/* fsync the parent directory of path; fills err on failure. */
static int sync_parent(const char *path, const char *op, char *err, size_t errsz)
{
    char *dir = parent_of(path);
    if (!dir) {
        snprintf(err, errsz, "%s \"%s\": out of memory", op, path);
        return SF_ERR_NOMEM;
    }
    int e = sync_dir(dir);
    int rc = SF_OK;
    if (e != 0) {
        char what[64];
        snprintf(what, sizeof(what), "%s: fsync the directory", op);
        rc = fail(e, what, dir, err, errsz);
    }
    free(dir);
    return rc;
}

static void local_close(struct sf_hdfs_fs *fs)
{
    free(fs);
}

static int local_mkdirs(struct sf_hdfs_fs *fs, const char *path, char *err, size_t errsz)
{
    (void)fs;
    int rc = check_path(path, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    char *p = sf_strndup(path, strlen(path));
    if (!p) {
        snprintf(err, errsz, "mkdirs \"%s\": out of memory", path);
        return SF_ERR_NOMEM;
    }
    size_t len = strlen(p);
    while (len > 1 && p[len - 1] == '/') {
        p[--len] = '\0';
    }
    /* each prefix in turn: "/a", "/a/b", ... */
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') {
            continue;
        }
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) == 0) {
            rc = sync_parent(p, "mkdirs", err, errsz);
        } else if (errno == EEXIST) {
            struct stat st;
            if (stat(p, &st) != 0) {
                rc = fail(errno, "mkdirs", p, err, errsz);
            } else if (!S_ISDIR(st.st_mode)) {
                snprintf(err, errsz, "mkdirs \"%s\": \"%s\" exists and is not a directory", path,
                         p);
                rc = SF_ERR_EXISTS;
            }
        } else {
            rc = fail(errno, "mkdirs", p, err, errsz);
        }
        *s = c;
        if (rc != SF_OK || c == '\0') {
            break;
        }
    }
    free(p);
    return rc;
}

static int new_file(struct sf_hdfs_fs *fs, const char *path, int fd, long long length,
                    struct sf_hdfs_file **out, char *err, size_t errsz)
{
    struct local_file *f = calloc(1, sizeof(*f));
    char *copy = sf_strndup(path, strlen(path));
    if (!f || !copy) {
        free(f);
        free(copy);
        close(fd);
        snprintf(err, errsz, "open \"%s\": out of memory", path);
        return SF_ERR_NOMEM;
    }
    f->base.fs = fs;
    f->base.length = length;
    f->fd = fd;
    f->path = copy;
    *out = &f->base;
    return SF_OK;
}

static int local_create(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_file **out,
                        char *err, size_t errsz)
{
    *out = NULL;
    int rc = check_path(path, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    char *dir = parent_of(path);
    if (!dir) {
        snprintf(err, errsz, "create \"%s\": out of memory", path);
        return SF_ERR_NOMEM;
    }
    rc = local_mkdirs(fs, dir, err, errsz);
    free(dir);
    if (rc != SF_OK) {
        return rc;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        return fail(errno, "create", path, err, errsz);
    }
    rc = sync_parent(path, "create", err, errsz);
    if (rc != SF_OK) {
        close(fd);
        (void)unlink(path);
        return rc;
    }
    return new_file(fs, path, fd, 0, out, err, errsz);
}

static int local_append(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_file **out,
                        char *err, size_t errsz)
{
    *out = NULL;
    int rc = check_path(path, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(errno, "append", path, err, errsz);
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return fail(e, "append", path, err, errsz);
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errsz, "append \"%s\": not a regular file", path);
        return SF_ERR_INVAL;
    }
    return new_file(fs, path, fd, (long long)st.st_size, out, err, errsz);
}

static int local_rename(struct sf_hdfs_fs *fs, const char *src, const char *dst, char *err,
                        size_t errsz)
{
    (void)fs;
    int rc = check_path(src, err, errsz);
    if (rc == SF_OK) {
        rc = check_path(dst, err, errsz);
    }
    if (rc != SF_OK) {
        return rc;
    }
    if (renameat2(AT_FDCWD, src, AT_FDCWD, dst, RENAME_NOREPLACE) != 0) {
        int e = errno;
        if (e != EINVAL && e != ENOSYS) {
            snprintf(err, errsz, "rename \"%s\" to \"%s\": %s", src, dst, strerror(e));
            return map_errno(e);
        }
        /* no RENAME_NOREPLACE here: link refuses an existing name as well */
        if (link(src, dst) != 0) {
            e = errno;
            snprintf(err, errsz, "rename \"%s\" to \"%s\": link: %s", src, dst, strerror(e));
            return map_errno(e);
        }
        if (unlink(src) != 0) {
            e = errno;
            (void)unlink(dst);
            snprintf(err, errsz, "rename \"%s\" to \"%s\": unlink: %s", src, dst, strerror(e));
            return map_errno(e);
        }
    }
    rc = sync_parent(dst, "rename", err, errsz);
    if (rc == SF_OK) {
        char *a = parent_of(src), *b = parent_of(dst);
        if (a && b && strcmp(a, b) != 0) {
            rc = sync_parent(src, "rename", err, errsz);
        }
        free(a);
        free(b);
    }
    return rc;
}

static void fill_stat(const struct stat *s, struct sf_hdfs_stat *st)
{
    st->name = NULL;
    st->is_dir = S_ISDIR(s->st_mode);
    st->length = st->is_dir ? 0 : (long long)s->st_size;
    st->mtime_ms = (long long)s->st_mtim.tv_sec * 1000 + s->st_mtim.tv_nsec / 1000000;
}

static int local_stat(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_stat *st, char *err,
                      size_t errsz)
{
    (void)fs;
    int rc = check_path(path, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    struct stat s;
    if (stat(path, &s) != 0) {
        return fail(errno, "stat", path, err, errsz);
    }
    fill_stat(&s, st);
    return SF_OK;
}

static int local_list(struct sf_hdfs_fs *fs, const char *dir, struct sf_hdfs_stat **out,
                      size_t *n, char *err, size_t errsz)
{
    (void)fs;
    *out = NULL;
    *n = 0;
    int rc = check_path(dir, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    DIR *d = opendir(dir);
    if (!d) {
        return fail(errno, "list", dir, err, errsz);
    }
    struct sf_hdfs_stat *v = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }
        struct stat s;
        if (fstatat(dirfd(d), de->d_name, &s, 0) != 0) {
            if (errno == ENOENT) { /* removed meanwhile */
                errno = 0;
                continue;
            }
            rc = fail(errno, "list", dir, err, errsz);
            break;
        }
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            struct sf_hdfs_stat *nv = realloc(v, cap * sizeof(*v));
            if (!nv) {
                rc = fail(ENOMEM, "list", dir, err, errsz);
                break;
            }
            v = nv;
        }
        fill_stat(&s, &v[cnt]);
        v[cnt].name = sf_strndup(de->d_name, strlen(de->d_name));
        if (!v[cnt].name) {
            rc = fail(ENOMEM, "list", dir, err, errsz);
            break;
        }
        cnt++;
        errno = 0;
    }
    if (rc == SF_OK && errno != 0) {
        rc = fail(errno, "list", dir, err, errsz);
    }
    closedir(d);
    if (rc != SF_OK) {
        sf_hdfs_stat_free_list(v, cnt);
        return rc;
    }
    *out = v;
    *n = cnt;
    return SF_OK;
}

static int local_delete(struct sf_hdfs_fs *fs, const char *path, char *err, size_t errsz)
{
    (void)fs;
    int rc = check_path(path, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    if (unlink(path) != 0) {
        if (errno != EISDIR) {
            return fail(errno, "delete", path, err, errsz);
        }
        if (rmdir(path) != 0) {
            return fail(errno, "delete", path, err, errsz);
        }
    }
    return sync_parent(path, "delete", err, errsz);
}

static int local_truncate(struct sf_hdfs_fs *fs, const char *path, long long length, char *err,
                          size_t errsz)
{
    (void)fs;
    int rc = check_path(path, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(errno, "truncate", path, err, errsz);
    }
    struct stat s;
    if (fstat(fd, &s) != 0) {
        int e = errno;
        close(fd);
        return fail(e, "truncate", path, err, errsz);
    }
    if (length < 0 || length > (long long)s.st_size) {
        close(fd);
        snprintf(err, errsz, "truncate \"%s\": new length %lld is not within its %lld bytes", path,
                 length, (long long)s.st_size);
        return SF_ERR_INVAL;
    }
    if (ftruncate(fd, (off_t)length) != 0 || fdatasync(fd) != 0) {
        int e = errno;
        close(fd);
        return fail(e, "truncate", path, err, errsz);
    }
    if (close(fd) != 0) {
        return fail(errno, "truncate", path, err, errsz);
    }
    return SF_OK;
}

static int local_write(struct sf_hdfs_file *hf, const void *data, size_t len, char *err,
                       size_t errsz)
{
    struct local_file *f = (struct local_file *)hf;
    const char *p = data;
    while (len > 0) {
        ssize_t w = pwrite(f->fd, p, len, (off_t)f->base.length);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return fail(errno, "write", f->path, err, errsz);
        }
        p += w;
        len -= (size_t)w;
        f->base.length += w;
    }
    if (fdatasync(f->fd) != 0) {
        return fail(errno, "write: fdatasync", f->path, err, errsz);
    }
    return SF_OK;
}

static int local_file_close(struct sf_hdfs_file *hf, char *err, size_t errsz)
{
    struct local_file *f = (struct local_file *)hf;
    int rc = SF_OK;
    if (close(f->fd) != 0) {
        rc = fail(errno, "close", f->path, err, errsz);
    }
    free(f->path);
    free(f);
    return rc;
}

static int local_read(struct sf_hdfs_fs *fs, const char *path, struct sf_buf *out, size_t max,
                      char *err, size_t errsz)
{
    (void)fs;
    int rc = check_path(path, err, errsz);
    if (rc != SF_OK) {
        return rc;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return fail(errno, "read", path, err, errsz);
    }
    size_t start = out->len;
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rc = fail(errno, "read", path, err, errsz);
            break;
        }
        if (r == 0) {
            break;
        }
        if (out->len - start + (size_t)r > max) {
            snprintf(err, errsz, "read %s: longer than %zu bytes", path, max);
            rc = SF_ERR_IO;
            break;
        }
        sf_buf_append(out, chunk, (size_t)r);
    }
    close(fd);
    if (rc != SF_OK) {
        out->len = start;
    }
    return rc;
}

static const struct sf_hdfs_fs_ops local_ops = {
    .scheme = "file",
    .close = local_close,
    .mkdirs = local_mkdirs,
    .create = local_create,
    .append = local_append,
    .rename = local_rename,
    .stat = local_stat,
    .list = local_list,
    .del = local_delete,
    .truncate = local_truncate,
    .read = local_read,
    .write = local_write,
    .file_close = local_file_close,
};

int sf_hdfs_local_open(const char *uri, const struct sf_hdfs_fs_conf *conf,
                       struct sf_hdfs_fs **out, char *err, size_t errsz)
{
    (void)conf;
    *out = NULL;
    const char *auth = strstr(uri, "://");
    if (!auth) {
        snprintf(err, errsz, "\"%s\" is not a file:// URI", uri);
        return SF_ERR_INVAL;
    }
    auth += 3;
    size_t alen = strcspn(auth, "/");
    if (alen != 0 && !(alen == 9 && strncasecmp(auth, "localhost", 9) == 0)) {
        snprintf(err, errsz,
                 "\"%s\": a file:// path names no host (file:///dir or file://localhost/dir), "
                 "not \"%.*s\"",
                 uri, (int)alen, auth);
        return SF_ERR_INVAL;
    }
    struct local_fs *fs = calloc(1, sizeof(*fs));
    if (!fs) {
        snprintf(err, errsz, "out of memory");
        return SF_ERR_NOMEM;
    }
    fs->base.ops = &local_ops;
    *out = &fs->base;
    return SF_OK;
}
