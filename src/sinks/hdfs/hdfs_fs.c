/* The HDFS sink's file system interface (hdfs_fs.h): the scheme picks the implementation, the
 * calls dispatch through its table (hdfs_fs_impl.h). */
#include "hdfs_fs_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlflume/error.h"

int sf_hdfs_fs_open(const char *uri, const struct sf_hdfs_fs_conf *conf, struct sf_hdfs_fs **out,
                    char *err, size_t errsz)
{
    *out = NULL;
    const char *colon = strstr(uri, "://");
    size_t slen = colon ? (size_t)(colon - uri) : 0;
    if (slen == 4 && strncasecmp(uri, "hdfs", 4) == 0) {
        return sf_hdfs_webhdfs_open(uri, conf, out, err, errsz);
    }
    if (slen == 7 && strncasecmp(uri, "webhdfs", 7) == 0) {
        return sf_hdfs_webhdfs_open(uri, conf, out, err, errsz);
    }
    if (slen == 4 && strncasecmp(uri, "file", 4) == 0) {
        return sf_hdfs_local_open(uri, conf, out, err, errsz);
    }
    snprintf(err, errsz, "unknown scheme \"%.*s\" in \"%s\" (known: hdfs, webhdfs, file)",
             (int)slen, uri, uri);
    return SF_ERR_INVAL;
}

void sf_hdfs_fs_close(struct sf_hdfs_fs *fs)
{
    if (fs) {
        fs->ops->close(fs);
    }
}

const char *sf_hdfs_fs_scheme(const struct sf_hdfs_fs *fs)
{
    return fs->ops->scheme;
}

int sf_hdfs_fs_mkdirs(struct sf_hdfs_fs *fs, const char *path, char *err, size_t errsz)
{
    return fs->ops->mkdirs(fs, path, err, errsz);
}

int sf_hdfs_fs_create(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_file **out,
                      char *err, size_t errsz)
{
    return fs->ops->create(fs, path, out, err, errsz);
}

int sf_hdfs_fs_append(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_file **out,
                      char *err, size_t errsz)
{
    return fs->ops->append(fs, path, out, err, errsz);
}

int sf_hdfs_fs_rename(struct sf_hdfs_fs *fs, const char *src, const char *dst, char *err,
                      size_t errsz)
{
    return fs->ops->rename(fs, src, dst, err, errsz);
}

int sf_hdfs_fs_stat(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_stat *st, char *err,
                    size_t errsz)
{
    return fs->ops->stat(fs, path, st, err, errsz);
}

int sf_hdfs_fs_list(struct sf_hdfs_fs *fs, const char *dir, struct sf_hdfs_stat **out, size_t *n,
                    char *err, size_t errsz)
{
    return fs->ops->list(fs, dir, out, n, err, errsz);
}

void sf_hdfs_stat_free_list(struct sf_hdfs_stat *list, size_t n)
{
    if (!list) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        free(list[i].name);
    }
    free(list);
}

int sf_hdfs_fs_delete(struct sf_hdfs_fs *fs, const char *path, char *err, size_t errsz)
{
    return fs->ops->del(fs, path, err, errsz);
}

int sf_hdfs_fs_truncate(struct sf_hdfs_fs *fs, const char *path, long long length, char *err,
                        size_t errsz)
{
    return fs->ops->truncate(fs, path, length, err, errsz);
}

int sf_hdfs_fs_read(struct sf_hdfs_fs *fs, const char *path, struct sf_buf *out, size_t max,
                    char *err, size_t errsz)
{
    return fs->ops->read(fs, path, out, max, err, errsz);
}

int sf_hdfs_file_write(struct sf_hdfs_file *f, const void *data, size_t len, char *err,
                       size_t errsz)
{
    if (len == 0) {
        return SF_OK;
    }
    return f->fs->ops->write(f, data, len, err, errsz);
}

long long sf_hdfs_file_length(const struct sf_hdfs_file *f)
{
    return f->length;
}

int sf_hdfs_file_close(struct sf_hdfs_file *f, char *err, size_t errsz)
{
    if (!f) {
        return SF_OK;
    }
    return f->fs->ops->file_close(f, err, errsz);
}
