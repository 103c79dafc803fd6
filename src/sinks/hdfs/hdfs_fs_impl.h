/*
 * Internal to src/sinks/hdfs: the table of functions each file system implementation of
 * hdfs_fs.h fills, and the base structs every implementation's fs and file embed first.
 * The public functions of hdfs_fs.h (src/sinks/hdfs/hdfs_fs.c) dispatch through it; each op has
 * the contract of the public function of the same name.
 */
#ifndef SQLFLUME_HDFS_FS_IMPL_H
#define SQLFLUME_HDFS_FS_IMPL_H

#include "hdfs_fs.h"

struct sf_hdfs_fs_ops {
    const char *scheme; /* "webhdfs", "file" */
    void (*close)(struct sf_hdfs_fs *fs);
    int (*mkdirs)(struct sf_hdfs_fs *fs, const char *path, char *err, size_t errsz);
    int (*create)(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_file **out, char *err,
                  size_t errsz);
    int (*append)(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_file **out, char *err,
                  size_t errsz);
    int (*rename)(struct sf_hdfs_fs *fs, const char *src, const char *dst, char *err,
                  size_t errsz);
    int (*stat)(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_stat *st, char *err,
                size_t errsz);
    int (*list)(struct sf_hdfs_fs *fs, const char *dir, struct sf_hdfs_stat **out, size_t *n,
                char *err, size_t errsz);
    int (*del)(struct sf_hdfs_fs *fs, const char *path, char *err, size_t errsz);
    int (*truncate)(struct sf_hdfs_fs *fs, const char *path, long long length, char *err,
                    size_t errsz);
    int (*read)(struct sf_hdfs_fs *fs, const char *path, struct sf_buf *out, size_t max,
                char *err, size_t errsz);
    int (*write)(struct sf_hdfs_file *f, const void *data, size_t len, char *err, size_t errsz);
    int (*file_close)(struct sf_hdfs_file *f, char *err, size_t errsz); /* frees f */
};

/** First member of every implementation's file system struct. */
struct sf_hdfs_fs {
    const struct sf_hdfs_fs_ops *ops;
};

/** First member of every implementation's file struct. */
struct sf_hdfs_file {
    struct sf_hdfs_fs *fs; /* borrowed */
    long long length;      /* see sf_hdfs_file_length; kept by the implementation */
};

/** WebHDFS (webhdfs.c): uri is "hdfs://..." or "webhdfs://..."; same contract as
 *  sf_hdfs_fs_open. */
int sf_hdfs_webhdfs_open(const char *uri, const struct sf_hdfs_fs_conf *conf,
                         struct sf_hdfs_fs **out, char *err, size_t errsz);
/** WebHDFS: ask CREATE and APPEND with noredirect=true, so that the namenode names the datanode
 *  in a 200 {"Location": ...} answer instead of a 307 (both are followed either way; this only
 *  chooses which the namenode sends). Off after open; for tests. No-op on another fs. */
void sf_hdfs_webhdfs_set_noredirect(struct sf_hdfs_fs *fs, bool on);
/** Local POSIX file system (hdfs_local.c): uri is "file://" (an authority other than empty or
 *  "localhost" is SF_ERR_INVAL). */
int sf_hdfs_local_open(const char *uri, const struct sf_hdfs_fs_conf *conf,
                       struct sf_hdfs_fs **out, char *err, size_t errsz);

#endif
