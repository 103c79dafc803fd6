/*
 * The WebHDFS file system's internals, shared by webhdfs.c (the file-system operations and
 * open) and webhdfs_http.c (requests, answers, errors). Not a public header: only these two
 * files include it. What the client does and why is in webhdfs.c's header comment.
 */
#ifndef SF_SINKS_HDFS_WEBHDFS_INT_H
#define SF_SINKS_HDFS_WEBHDFS_INT_H

#include "hdfs_fs_impl.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/mem.h"
#include "sqlflume/pct.h"

/* An answer larger than this is refused (a LISTSTATUS of about a million entries fits). */
#define WH_MAX_BODY (512u * 1024 * 1024)
/* Truncate's wait for a block recovery: GETFILESTATUS every this many ms. */
#define WH_TRUNCATE_POLL_MS 100

struct wh_fs {
    struct sf_hdfs_fs base;
    CURL *curl;
    char *base_url;   /* "http://nn:9870/webhdfs/v1" */
    char *auth_query; /* "user.name=U" or "doas=U" or "" (URL-encoded) */
    bool negotiate;   /* SPNEGO (a Kerberos principal) */
    bool noredirect;  /* ask CREATE/APPEND for a 200 {"Location"} instead of a 307 */
    long long timeout_ms;
    struct curl_slist *data_headers;  /* Content-Type: application/octet-stream, Expect: */
    struct curl_slist *plain_headers; /* Expect: */
    struct sf_buf body;               /* the last answer's body */
    bool body_overflow;
    char curl_err[CURL_ERROR_SIZE];
};

struct wh_file {
    struct sf_hdfs_file base;
    char *path;
};

/* One call of the interface: its name and path for messages, its deadline. */
struct wh_call {
    struct wh_fs *fs;
    const char *op; /* "create", "rename", ... */
    const char *path;
    long long deadline_ms;
    char *err;
    size_t errsz;
};

/* The bytes sf_pct_encode escapes in a WebHDFS path or query value: all but RFC 3986's
 * unreserved characters and '/'. */
bool wh_escape(unsigned char c);
/* Monotonic clock, ms. */
long long wh_now_ms(void);
/* Start call c of fs: op and path (borrowed) for messages, the deadline from fs->timeout_ms,
 * err/errsz the caller's message buffer. */
void wh_call_init(struct wh_call *c,
                  struct wh_fs *fs,
                  const char *op,
                  const char *path,
                  char *err,
                  size_t errsz);
/* SF_OK when c->path is absolute, else SF_ERR_INVAL with c->err filled. */
int wh_check_path(struct wh_call *c);
/* One request on the namenode whose answer must be 2xx JSON: *out gets it (the caller
 * json_decref's it); an empty or broken body is SF_ERR_IO; errors fill c->err. */
int wh_json_call(struct wh_call *c,
                 const char *method,
                 const char *op,
                 const char *extra,
                 json_t **out);
/* A {"boolean": B} answer: *b gets B. @return as wh_json_call. */
int wh_bool_call(struct wh_call *c, const char *method, const char *op, const char *extra, bool *b);
/* A FileStatus object into st (name: pathSuffix copied, caller frees, when with_name).
 * @return SF_OK, SF_ERR_IO (a field missing), SF_ERR_NOMEM. */
int wh_parse_status(struct wh_call *c, json_t *fst, struct sf_hdfs_stat *st, bool with_name);
/* GETFILESTATUS of c->path into st. @return as wh_json_call (SF_ERR_NOTFOUND for none). */
int wh_getstatus(struct wh_call *c, struct sf_hdfs_stat *st);
/* GETFILESTATUS of another path within call c: *exists, or an error other than not found. */
int wh_exists(struct wh_call *c, const char *path, bool *exists);
/* CREATE or APPEND through the namenode's redirect to a datanode, with len bytes of data
 * (possibly 0). @return SF_OK or an sf_err with c->err filled. */
/* OPEN: the namenode's 307 (or noredirect's 200 {"Location"}) names a datanode, whose 200
 * answer's bytes are appended to out. SF_ERR_IO when more than max bytes. */
int wh_download(struct wh_call *c, struct sf_buf *out, size_t max);
int wh_upload(struct wh_call *c,
              const char *method,
              const char *op,
              const char *extra,
              const void *data,
              size_t len);

#endif
