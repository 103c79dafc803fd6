/*
 * The WebHDFS client's requests (see webhdfs.c for what it does): URLs, one libcurl request
 * with the call's deadline, RemoteException and status codes turned into sf_err and one
 * message, the JSON and boolean answers, FileStatus, and CREATE/APPEND through the namenode's
 * redirect to a datanode.
 */
#include "webhdfs_int.h"

long long wh_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void wh_call_init(struct wh_call *c,
                  struct wh_fs *fs,
                  const char *op,
                  const char *path,
                  char *err,
                  size_t errsz)
{
    c->fs = fs;
    c->op = op;
    c->path = path;
    c->deadline_ms = wh_now_ms() + fs->timeout_ms;
    c->err = err;
    c->errsz = errsz;
    if (errsz) {
        err[0] = '\0';
    }
}

/* Escape everything but RFC 3986's unreserved characters and '/' (kept between segments). */
bool wh_escape(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return false;
    }
    return !(c == '-' || c == '.' || c == '_' || c == '~' || c == '/');
}

/* base_url + encoded path + "?op=OP&" + auth + extra (already encoded, starting with '&'). */
static char *wh_url(const struct wh_fs *fs, const char *path, const char *op, const char *extra)
{
    struct sf_buf b = SF_BUF_INIT;
    sf_buf_puts(&b, fs->base_url);
    sf_pct_encode(&b, path, strlen(path), wh_escape);
    sf_buf_printf(&b, "?op=%s", op);
    if (fs->auth_query[0]) {
        sf_buf_putc(&b, '&');
        sf_buf_puts(&b, fs->auth_query);
    }
    if (extra) {
        sf_buf_puts(&b, extra);
    }
    return sf_buf_steal(&b);
}

/* "http://host:port" of url, for messages (the query can be long). */
static int url_origin_len(const char *url)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    return (int)(strcspn(p, "/?#") + (size_t)(p - url));
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct wh_fs *fs = ud;
    size_t len = size * n;
    if (fs->body.len + len > WH_MAX_BODY) {
        fs->body_overflow = true;
        return 0; /* curl: CURLE_WRITE_ERROR */
    }
    sf_buf_append(&fs->body, p, len);
    return len;
}

static int curl_code_err(CURLcode rc)
{
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        return SF_ERR_TIMEOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return SF_ERR_CONN;
    case CURLE_OUT_OF_MEMORY:
        return SF_ERR_NOMEM;
    case CURLE_LOGIN_DENIED:
    case CURLE_AUTH_ERROR:
        return SF_ERR_AUTH;
    default:
        return SF_ERR_IO;
    }
}

/*
 * One HTTP request: method on url, with len bytes of data as its body when data is not NULL
 * (Content-Type: application/octet-stream), else none. The answer's body lands in fs->body,
 * the status in *status, a 3xx's Location (malloc'd) in *location when location is not NULL.
 * @return SF_OK (any HTTP status), or the transport's error (c->err filled).
 */
static int wh_http(struct wh_call *c,
                   const char *method,
                   const char *url,
                   const void *data,
                   size_t len,
                   long *status,
                   char **location)
{
    struct wh_fs *fs = c->fs;
    CURL *h = fs->curl;
    long long left = c->deadline_ms - wh_now_ms();
    if (left <= 0) {
        snprintf(c->err, c->errsz, "%s %s: the call timeout (%lld ms) passed", c->op, c->path,
                 fs->timeout_ms);
        return SF_ERR_TIMEOUT;
    }
    curl_easy_reset(h); /* keeps the connection cache */
    sf_buf_reset(&fs->body);
    fs->body_overflow = false;
    fs->curl_err[0] = '\0';
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, fs->curl_err);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, fs);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    if (fs->negotiate) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_NEGOTIATE);
        curl_easy_setopt(h, CURLOPT_USERPWD, ":");
    }
    if (data) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, data);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, fs->data_headers);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, fs->plain_headers);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc != CURLE_OK) {
        int e = curl_code_err(rc);
        if (fs->body_overflow) {
            snprintf(c->err, c->errsz, "%s %s: %.*s answered more than %u bytes", c->op, c->path,
                     url_origin_len(url), url, WH_MAX_BODY);
            return SF_ERR_IO;
        }
        snprintf(c->err, c->errsz, "%s %s: %.*s: %s%s", c->op, c->path, url_origin_len(url), url,
                 e == SF_ERR_TIMEOUT ? "the call timeout passed: " : "",
                 fs->curl_err[0] ? fs->curl_err : curl_easy_strerror(rc));
        return e;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
    if (location) {
        char *loc = NULL;
        *location = NULL;
        curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
        if (loc && !(*location = sf_strndup(loc, strlen(loc)))) {
            return SF_ERR_NOMEM;
        }
    }
    return SF_OK;
}

/* The error of a RemoteException's exception name (the simple name or the Java class). */
static int remote_err(const char *exc, long status)
{
    const char *dot = strrchr(exc, '.');
    const char *name = dot ? dot + 1 : exc;
    if (strcmp(name, "FileNotFoundException") == 0) {
        return SF_ERR_NOTFOUND;
    }
    if (strcmp(name, "FileAlreadyExistsException") == 0) {
        return SF_ERR_EXISTS;
    }
    if (strcmp(name, "RetriableException") == 0 || strcmp(name, "StandbyException") == 0 ||
        strcmp(name, "SafeModeException") == 0 || strcmp(name, "ConnectException") == 0) {
        return SF_ERR_CONN;
    }
    if (strcmp(name, "AccessControlException") == 0 || strcmp(name, "SecurityException") == 0 ||
        strcmp(name, "AuthorizationException") == 0 ||
        strcmp(name, "AuthenticationException") == 0 || strcmp(name, "InvalidToken") == 0) {
        return SF_ERR_AUTH;
    }
    if (status >= 500) {
        return SF_ERR_CONN;
    }
    return status == 401 ? SF_ERR_AUTH : SF_ERR_IO;
}

/* The error of a non-2xx answer (fs->body holds it): a RemoteException's, or by status. */
static int wh_fail(struct wh_call *c, const char *url, long status)
{
    struct wh_fs *fs = c->fs;
    json_t *root = fs->body.len ? json_loadb(fs->body.data, fs->body.len, 0, NULL) : NULL;
    json_t *re = root ? json_object_get(root, "RemoteException") : NULL;
    int e;
    if (json_is_object(re)) {
        const char *exc = json_string_value(json_object_get(re, "exception"));
        const char *jcl = json_string_value(json_object_get(re, "javaClassName"));
        const char *msg = json_string_value(json_object_get(re, "message"));
        if (!exc) {
            exc = jcl ? jcl : "RemoteException";
        }
        e = remote_err(exc, status);
        if (e == SF_ERR_IO && jcl) {
            e = remote_err(jcl, status);
        }
        snprintf(c->err, c->errsz, "%s %s: %s: %s (http %ld from %.*s)", c->op, c->path, exc,
                 msg ? msg : "(no message)", status, url_origin_len(url), url);
    } else {
        if (status >= 500) {
            e = SF_ERR_CONN;
        } else if (status == 401 || status == 403) {
            e = SF_ERR_AUTH;
        } else {
            e = SF_ERR_IO;
        }
        /* the start of a non-JSON body (an HTML error page, a proxy's text) says most */
        int shown = 0;
        while ((size_t)shown < fs->body.len && shown < 200 && fs->body.data[shown] != '\n' &&
               fs->body.data[shown] != '\r') {
            shown++;
        }
        snprintf(c->err, c->errsz, "%s %s: http %ld from %.*s%s%.*s", c->op, c->path, status,
                 url_origin_len(url), url, shown ? ": " : "", shown, fs->body.data);
    }
    json_decref(root);
    return e;
}

/* One request on the namenode whose answer must be 2xx JSON: *out gets it (json_decref); an
 * empty or broken body is SF_ERR_IO. */
int wh_json_call(struct wh_call *c,
                 const char *method,
                 const char *op,
                 const char *extra,
                 json_t **out)
{
    *out = NULL;
    char *url = wh_url(c->fs, c->path, op, extra);
    long status = 0;
    int rc = wh_http(c, method, url, NULL, 0, &status, NULL);
    if (rc == SF_OK && (status < 200 || status > 299)) {
        rc = wh_fail(c, url, status);
    }
    if (rc == SF_OK) {
        json_error_t jerr;
        *out = json_loadb(c->fs->body.data ? c->fs->body.data : "", c->fs->body.len, 0, &jerr);
        if (!*out) {
            snprintf(c->err, c->errsz, "%s %s: %s answered http %ld with no JSON (%s)", c->op,
                     c->path, op, status, jerr.text);
            rc = SF_ERR_IO;
        }
    }
    free(url);
    return rc;
}

/* A {"boolean": B} answer: *b gets B. */
int wh_bool_call(struct wh_call *c, const char *method, const char *op, const char *extra, bool *b)
{
    json_t *j;
    int rc = wh_json_call(c, method, op, extra, &j);
    if (rc != SF_OK) {
        return rc;
    }
    json_t *v = json_object_get(j, "boolean");
    if (!json_is_boolean(v)) {
        snprintf(c->err, c->errsz, "%s %s: %s answered no \"boolean\"", c->op, c->path, op);
        rc = SF_ERR_IO;
    } else {
        *b = json_is_true(v);
    }
    json_decref(j);
    return rc;
}

int wh_check_path(struct wh_call *c)
{
    if (!c->path || c->path[0] != '/') {
        snprintf(c->err, c->errsz, "%s \"%s\": not an absolute path", c->op,
                 c->path ? c->path : "(null)");
        return SF_ERR_INVAL;
    }
    return SF_OK;
}

/* A FileStatus object into st (name: pathSuffix copied when with_name). */
int wh_parse_status(struct wh_call *c, json_t *fst, struct sf_hdfs_stat *st, bool with_name)
{
    json_t *len = json_object_get(fst, "length");
    json_t *type = json_object_get(fst, "type");
    json_t *mt = json_object_get(fst, "modificationTime");
    json_t *suffix = json_object_get(fst, "pathSuffix");
    if (!json_is_object(fst) || !json_is_integer(len) || !json_is_string(type) ||
        (with_name && !json_is_string(suffix))) {
        snprintf(c->err, c->errsz, "%s %s: a FileStatus without length, type or pathSuffix", c->op,
                 c->path);
        return SF_ERR_IO;
    }
    st->name = NULL;
    st->length = json_integer_value(len);
    st->is_dir = strcmp(json_string_value(type), "DIRECTORY") == 0;
    st->mtime_ms = json_is_integer(mt) ? json_integer_value(mt) : 0;
    if (with_name &&
        !(st->name = sf_strndup(json_string_value(suffix), json_string_length(suffix)))) {
        return SF_ERR_NOMEM;
    }
    return SF_OK;
}

/* GETFILESTATUS of c->path. */
int wh_getstatus(struct wh_call *c, struct sf_hdfs_stat *st)
{
    json_t *j;
    int rc = wh_json_call(c, "GET", "GETFILESTATUS", NULL, &j);
    if (rc == SF_OK) {
        rc = wh_parse_status(c, json_object_get(j, "FileStatus"), st, false);
        json_decref(j);
    }
    return rc;
}

/* GETFILESTATUS of another path within call c: *exists, or an error other than not found. */
int wh_exists(struct wh_call *c, const char *path, bool *exists)
{
    struct wh_call sub = *c;
    sub.path = path;
    struct sf_hdfs_stat st;
    int rc = wh_getstatus(&sub, &st);
    *exists = rc == SF_OK;
    if (rc == SF_ERR_NOTFOUND) {
        if (c->errsz) {
            c->err[0] = '\0'; /* an answer, not a failure */
        }
        return SF_OK;
    }
    return rc;
}

/*
 * CREATE or APPEND: the namenode's answer names a datanode (307 Location, or with noredirect a
 * 200 {"Location": ...}), which gets the data (len bytes, possibly 0) and answers 2xx (201 for
 * CREATE, 200 for APPEND).
 */
int wh_upload(struct wh_call *c,
              const char *method,
              const char *op,
              const char *extra,
              const void *data,
              size_t len)
{
    struct wh_fs *fs = c->fs;
    struct sf_buf ex = SF_BUF_INIT;
    if (extra) {
        sf_buf_puts(&ex, extra);
    }
    if (fs->noredirect) {
        sf_buf_puts(&ex, "&noredirect=true");
    }
    char *url = wh_url(fs, c->path, op, ex.data);
    sf_buf_free(&ex);
    char *loc = NULL;
    long status = 0;
    int rc = wh_http(c, method, url, NULL, 0, &status, &loc);
    if (rc != SF_OK) {
        goto out;
    }
    if (status == 201 && len == 0) {
        goto out; /* created by the server it was sent to (a gateway), no data to send */
    }
    if (status == 200) {
        /* noredirect's answer */
        json_t *j = fs->body.len ? json_loadb(fs->body.data, fs->body.len, 0, NULL) : NULL;
        const char *l = json_string_value(json_object_get(j, "Location"));
        free(loc);
        loc = NULL;
        if (l) {
            loc = sf_strndup(l, strlen(l));
            if (!loc) {
                rc = SF_ERR_NOMEM;
            }
        } else {
            snprintf(c->err, c->errsz,
                     "%s %s: %s answered http %ld without a datanode's "
                     "Location",
                     c->op, c->path, op, status);
            rc = SF_ERR_IO;
        }
        json_decref(j);
        if (rc != SF_OK) {
            goto out;
        }
    } else if (status >= 300 && status <= 399) {
        if (!loc) {
            snprintf(c->err, c->errsz, "%s %s: %s answered http %ld without a Location", c->op,
                     c->path, op, status);
            rc = SF_ERR_IO;
            goto out;
        }
    } else {
        rc = wh_fail(c, url, status);
        goto out;
    }
    if (strncasecmp(loc, "http://", 7) != 0 && strncasecmp(loc, "https://", 8) != 0) {
        snprintf(c->err, c->errsz, "%s %s: %s redirected to \"%s\", not an http(s) URL", c->op,
                 c->path, op, loc);
        rc = SF_ERR_IO;
        goto out;
    }
    rc = wh_http(c, method, loc, data ? data : "", len, &status, NULL);
    if (rc == SF_OK && (status < 200 || status > 299)) {
        rc = wh_fail(c, loc, status);
    }
out:
    free(loc);
    free(url);
    return rc;
}

int wh_download(struct wh_call *c, struct sf_buf *out, size_t max)
{
    struct wh_fs *fs = c->fs;
    char *url = wh_url(fs, c->path, "OPEN", fs->noredirect ? "&noredirect=true" : NULL);
    char *loc = NULL;
    long status = 0;
    int rc = wh_http(c, "GET", url, NULL, 0, &status, &loc);
    if (rc == SF_OK && status == 200 && fs->noredirect) {
        json_t *j = fs->body.len ? json_loadb(fs->body.data, fs->body.len, 0, NULL) : NULL;
        const char *l = json_string_value(json_object_get(j, "Location"));
        free(loc);
        loc = l ? sf_strndup(l, strlen(l)) : NULL;
        json_decref(j);
        status = loc ? 307 : 200;
    }
    if (rc == SF_OK && status >= 300 && status <= 399 && loc) {
        rc = wh_http(c, "GET", loc, NULL, 0, &status, NULL);
        if (rc == SF_OK && status != 200) {
            rc = wh_fail(c, loc, status);
        }
    } else if (rc == SF_OK && status != 200) {
        rc = wh_fail(c, url, status);
    }
    if (rc == SF_OK && fs->body.len > max) {
        snprintf(c->err, c->errsz, "%s %s: longer than %zu bytes", c->op, c->path, max);
        rc = SF_ERR_IO;
    }
    if (rc == SF_OK) {
        sf_buf_append(out, fs->body.data, fs->body.len);
    }
    free(loc);
    free(url);
    return rc;
}
