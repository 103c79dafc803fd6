/*
 * The HDFS sink's file systems: one interface, two implementations chosen by the scheme of
 * hdfs.path.
 *
 *   hdfs://HOST:PORT/...  and  webhdfs://HOST:PORT/...   the WebHDFS REST API over libcurl
 *       (src/sinks/hdfs/webhdfs.c): the namenode's HTTP address is hdfs.webhdfs.url when set
 *       (e.g. "http://namenode:9870"; the client adds /webhdfs/v1 and the path), else
 *       http://HOST:9870 for hdfs:// and http://HOST:PORT for webhdfs:// (HOST:PORT as in the
 *       path); CREATE and APPEND follow the namenode's 307 to a datanode.
 *   file:///...          a local or mounted POSIX file system (src/sinks/hdfs/hdfs_local.c).
 *
 * Semantics (what the sink relies on, the same for both):
 *   - paths are absolute ("/flume/20261203/FlumeData.1.tmp"), without scheme or authority;
 *   - create makes the parent directories, creates an empty file and fails with SF_ERR_EXISTS
 *     when the name is taken (never overwrites);
 *   - a write is durable when it returns SF_OK (WebHDFS: one APPEND request answered 200, after
 *     which the datanodes hold the bytes; local: write + fdatasync, and for a file just created
 *     the directory's fsync too); a failed write may have written a prefix of the bytes: the
 *     caller finds out with stat and cuts back with truncate;
 *   - rename fails (SF_ERR_EXISTS) when the destination exists, never replaces it;
 *   - every call is bounded by the call timeout (hdfs.callTimeout, ms).
 *
 * Errors: every function returns SF_OK or a negative sf_err and fills err (errsz bytes) with one
 * lower-case line naming the operation, the path and the cause (a WebHDFS RemoteException's
 * exception and message, an HTTP status, curl's or strerror's text):
 *   SF_ERR_NOTFOUND  no such file or directory (FileNotFoundException, ENOENT);
 *   SF_ERR_EXISTS    create or rename onto an existing name (FileAlreadyExistsException, EEXIST,
 *                    RENAME answering false because the destination exists);
 *   SF_ERR_CONN      the server could not be reached or answered 5xx / RetriableException /
 *                    StandbyException (retriable);
 *   SF_ERR_TIMEOUT   the call timeout passed (retriable);
 *   SF_ERR_AUTH      401/403 AccessControlException, SecurityException, EACCES (not retriable);
 *   SF_ERR_IO        any other failure (local I/O error, disk full, another RemoteException);
 *   SF_ERR_NOMEM, SF_ERR_INVAL (a bad argument or configuration).
 * Nothing here logs: the sink logs err with its own name.
 *
 * Thread: an sf_hdfs_fs and its files are used by one thread at a time (the sink's).
 */
#ifndef SQLFLUME_HDFS_FS_H
#define SQLFLUME_HDFS_FS_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/buf.h"

/** How to reach the file system; borrowed by sf_hdfs_fs_open (strings copied). */
struct sf_hdfs_fs_conf {
    const char *webhdfs_url;      /* hdfs.webhdfs.url, or NULL: from the path's authority */
    const char *user;             /* hdfs.proxyUser: WebHDFS user.name (simple auth) or doas (with
                                   * Kerberos); NULL: the process's user name */
    const char *kerberos_principal; /* hdfs.kerberosPrincipal, NULL: simple auth */
    const char *kerberos_keytab;    /* hdfs.kerberosKeytab, NULL when no principal */
    long long call_timeout_ms;    /* hdfs.callTimeout: bound of every call, > 0 */
};

/** One entry of sf_hdfs_fs_list / the result of sf_hdfs_fs_stat. */
struct sf_hdfs_stat {
    char *name;         /* list: the entry's name (not its path), owned by the array; stat: NULL */
    long long length;   /* bytes (0 for a directory) */
    bool is_dir;
    long long mtime_ms; /* modification time, ms since the epoch */
};

struct sf_hdfs_fs;   /* a connection to one file system (one scheme + authority) */
struct sf_hdfs_file; /* one file open for writing at its end */

/**
 * Open the file system of uri, a path template's scheme and authority ("hdfs://nn:9000",
 * "webhdfs://nn:9870", "file://"; anything after the authority is ignored).
 * @param out  gets the file system (caller owns; sf_hdfs_fs_close)
 * @return SF_OK, SF_ERR_INVAL (unknown scheme "x" (known: hdfs, webhdfs, file), a missing host, a
 *         bad hdfs.webhdfs.url), SF_ERR_NOMEM. Opening does no I/O: an unreachable namenode shows
 *         at the first call.
 */
int sf_hdfs_fs_open(const char *uri, const struct sf_hdfs_fs_conf *conf, struct sf_hdfs_fs **out,
                    char *err, size_t errsz);
/** Close fs (every file must be closed first); NULL is a no-op. */
void sf_hdfs_fs_close(struct sf_hdfs_fs *fs);
/** "webhdfs" or "file": for log lines. Static. */
const char *sf_hdfs_fs_scheme(const struct sf_hdfs_fs *fs);

/** Create the directory path and its parents (existing ones are fine). */
int sf_hdfs_fs_mkdirs(struct sf_hdfs_fs *fs, const char *path, char *err, size_t errsz);
/** Create path as a new empty file (parents made) and open it for writing.
 *  @param out  gets the file (sf_hdfs_file_close). SF_ERR_EXISTS when path exists. */
int sf_hdfs_fs_create(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_file **out,
                      char *err, size_t errsz);
/** Open the existing file path for appending at its end (SF_ERR_NOTFOUND when missing). */
int sf_hdfs_fs_append(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_file **out,
                      char *err, size_t errsz);
/** Rename src to dst (same file system; dst's parent must exist). SF_ERR_NOTFOUND when src is
 *  missing, SF_ERR_EXISTS when dst exists. */
int sf_hdfs_fs_rename(struct sf_hdfs_fs *fs, const char *src, const char *dst, char *err,
                      size_t errsz);
/** Stat path into st (st->name NULL). SF_ERR_NOTFOUND when missing. */
int sf_hdfs_fs_stat(struct sf_hdfs_fs *fs, const char *path, struct sf_hdfs_stat *st, char *err,
                    size_t errsz);
/**
 * List the directory dir: *out gets a malloc'd array of *n entries (free with
 * sf_hdfs_stat_free_list), in the server's order (WebHDFS: by name). SF_ERR_NOTFOUND when dir
 * is missing; a directory holding more entries than one answer carries is listed whole.
 */
int sf_hdfs_fs_list(struct sf_hdfs_fs *fs, const char *dir, struct sf_hdfs_stat **out, size_t *n,
                    char *err, size_t errsz);
/** Free a list from sf_hdfs_fs_list (NULL is a no-op). */
void sf_hdfs_stat_free_list(struct sf_hdfs_stat *list, size_t n);
/** Delete the file path (an empty directory too). SF_ERR_NOTFOUND when missing. */
int sf_hdfs_fs_delete(struct sf_hdfs_fs *fs, const char *path, char *err, size_t errsz);
/**
 * Cut the file path (not open for writing) back to length bytes (<= its length). WebHDFS:
 * TRUNCATE; an answer {"boolean": false} (the last block is being recovered) is waited out by
 * polling GETFILESTATUS until the length matches, within the call timeout.
 */
int sf_hdfs_fs_truncate(struct sf_hdfs_fs *fs, const char *path, long long length, char *err,
                        size_t errsz);

/**
 * Read the whole file path, appending its bytes to out (an sf_buf, buf.h). SF_ERR_NOTFOUND when
 * missing, SF_ERR_IO when it holds more than max bytes (nothing appended then). WebHDFS: OPEN,
 * following the namenode's 307 to a datanode.
 */
int sf_hdfs_fs_read(struct sf_hdfs_fs *fs, const char *path, struct sf_buf *out, size_t max,
                    char *err, size_t errsz);

/** Append len bytes at the end of f, durably (see above). len 0 is a no-op. */
int sf_hdfs_file_write(struct sf_hdfs_file *f, const void *data, size_t len, char *err,
                       size_t errsz);
/** Bytes of f: its length when opened plus what was written through it since. */
long long sf_hdfs_file_length(const struct sf_hdfs_file *f);
/** Close f (no I/O for WebHDFS; local: close(2), whose error is returned). Frees f; NULL is a
 *  no-op returning SF_OK. */
int sf_hdfs_file_close(struct sf_hdfs_file *f, char *err, size_t errsz);

#endif
