/*
 * The WebHDFS file system of hdfs_fs.h: Hadoop's "WebHDFS REST API" over one libcurl easy
 * handle per file system (its connection cache keeps the namenode's and the datanodes'
 * connections alive between calls), JSON answers read with jansson.
 *
 * Requests (paths percent-encoded segment by segment, every request carrying user.name=USER,
 * or with a Kerberos principal SPNEGO and doas=USER when a proxy user is set):
 *   create    PUT  CREATE&overwrite=false on the namenode, without a body; its 307 (or, with
 *             noredirect=true, its 200 {"Location": ...}) names a datanode, which gets a PUT
 *             with an empty body and answers 201;
 *   write     POST APPEND the same way, the bytes going to the datanode only (200: durable);
 *   append    GETFILESTATUS (the file's length; a directory is refused);
 *   mkdirs    PUT MKDIRS; rename PUT RENAME&destination=DST after GETFILESTATUS of DST (HDFS
 *             would move the source into an existing directory); stat GETFILESTATUS; list
 *             LISTSTATUS (the namenode, and HttpFS, answer the whole directory, paging through
 *             it themselves); delete DELETE&recursive=false; truncate POST
 *             TRUNCATE&newlength=N, and after a {"boolean": false} GETFILESTATUS every 100 ms;
 *             read GET OPEN on the namenode, whose 307 names a datanode that answers the bytes.
 * The data requests send Content-Type: application/octet-stream, so an HttpFS gateway (whose
 * redirect asks for data=true) takes them as well. Nothing is retried here: a request that
 * failed after its bytes left may have stored a prefix of them (hdfs_fs.h).
 *
 * Kerberos: with hdfs.kerberosPrincipal, requests authenticate with SPNEGO (CURLAUTH_NEGOTIATE,
 * libcurl built with GSS-API); the client keys come from hdfs.kerberosKeytab, handed to GSS-API
 * as KRB5_CLIENT_KTNAME (set for the process when unset; a different value set already is
 * refused), or from a ticket cache made by kinit. GSS-API picks the keytab's (or the cache's)
 * principal: the name in hdfs.kerberosPrincipal is not checked against it here.
 *
 * The call timeout bounds a whole call (create and write are two requests, truncate may poll):
 * each request gets what is left of it as CURLOPT_TIMEOUT_MS and CURLOPT_CONNECTTIMEOUT_MS.
 */
#include "webhdfs_int.h"

static const struct sf_hdfs_fs_ops wh_ops;

static struct wh_fs *fs_of(struct sf_hdfs_fs *fs)
{
    return (struct wh_fs *)fs;
}

static int wh_mkdirs(struct sf_hdfs_fs *base, const char *path, char *err, size_t errsz)
{
    struct wh_call c;
    wh_call_init(&c, fs_of(base), "mkdirs", path, err, errsz);
    bool ok = false;
    int rc = wh_check_path(&c);
    if (rc == SF_OK) {
        rc = wh_bool_call(&c, "PUT", "MKDIRS", NULL, &ok);
    }
    if (rc == SF_OK && !ok) {
        snprintf(err, errsz, "mkdirs %s: MKDIRS answered false", path);
        rc = SF_ERR_IO;
    }
    return rc;
}

static int new_file(struct wh_call *c, long long length, struct sf_hdfs_file **out)
{
    struct wh_file *f = calloc(1, sizeof(*f));
    if (!f || !(f->path = sf_strndup(c->path, strlen(c->path)))) {
        free(f);
        snprintf(c->err, c->errsz, "%s %s: out of memory", c->op, c->path);
        return SF_ERR_NOMEM;
    }
    f->base.fs = &c->fs->base;
    f->base.length = length;
    *out = &f->base;
    return SF_OK;
}

static int wh_create(struct sf_hdfs_fs *base, const char *path, struct sf_hdfs_file **out,
                     char *err, size_t errsz)
{
    struct wh_call c;
    wh_call_init(&c, fs_of(base), "create", path, err, errsz);
    *out = NULL;
    int rc = wh_check_path(&c);
    if (rc == SF_OK) {
        rc = wh_upload(&c, "PUT", "CREATE", "&overwrite=false", NULL, 0);
    }
    return rc == SF_OK ? new_file(&c, 0, out) : rc;
}

static int wh_append(struct sf_hdfs_fs *base, const char *path, struct sf_hdfs_file **out,
                     char *err, size_t errsz)
{
    struct wh_call c;
    wh_call_init(&c, fs_of(base), "append", path, err, errsz);
    *out = NULL;
    struct sf_hdfs_stat st;
    int rc = wh_check_path(&c);
    if (rc == SF_OK) {
        rc = wh_getstatus(&c, &st);
    }
    if (rc == SF_OK && st.is_dir) {
        snprintf(err, errsz, "append %s: is a directory", path);
        rc = SF_ERR_IO;
    }
    return rc == SF_OK ? new_file(&c, st.length, out) : rc;
}

static int wh_write(struct sf_hdfs_file *base, const void *data, size_t len, char *err,
                    size_t errsz)
{
    struct wh_file *f = (struct wh_file *)base;
    struct wh_call c;
    wh_call_init(&c, fs_of(base->fs), "write", f->path, err, errsz);
    int rc = wh_upload(&c, "POST", "APPEND", NULL, data, len);
    if (rc == SF_OK) {
        base->length += (long long)len;
    }
    return rc;
}

static int wh_file_close(struct sf_hdfs_file *base, char *err, size_t errsz)
{
    (void)err;
    (void)errsz;
    struct wh_file *f = (struct wh_file *)base;
    free(f->path);
    free(f);
    return SF_OK;
}

static int wh_rename(struct sf_hdfs_fs *base, const char *src, const char *dst, char *err,
                     size_t errsz)
{
    struct wh_call c;
    wh_call_init(&c, fs_of(base), "rename", src, err, errsz);
    int rc = wh_check_path(&c);
    struct wh_call cd = c;
    cd.path = dst;
    if (rc == SF_OK) {
        rc = wh_check_path(&cd);
    }
    bool exists = false, ok = false;
    /* HDFS moves the source into an existing directory: the destination is checked first */
    if (rc == SF_OK) {
        rc = wh_exists(&c, dst, &exists);
    }
    if (rc == SF_OK && exists) {
        snprintf(err, errsz, "rename %s to %s: the destination exists", src, dst);
        return SF_ERR_EXISTS;
    }
    if (rc != SF_OK) {
        return rc;
    }
    struct sf_buf ex = SF_BUF_INIT;
    sf_buf_puts(&ex, "&destination=");
    sf_pct_encode(&ex, dst, strlen(dst), wh_escape);
    rc = wh_bool_call(&c, "PUT", "RENAME", ex.data, &ok);
    sf_buf_free(&ex);
    if (rc != SF_OK || ok) {
        return rc;
    }
    /* false: find out why */
    if ((rc = wh_exists(&c, src, &exists)) != SF_OK) {
        return rc;
    }
    if (!exists) {
        snprintf(err, errsz, "rename %s to %s: the source does not exist", src, dst);
        return SF_ERR_NOTFOUND;
    }
    if ((rc = wh_exists(&c, dst, &exists)) != SF_OK) {
        return rc;
    }
    if (exists) {
        snprintf(err, errsz, "rename %s to %s: the destination exists", src, dst);
        return SF_ERR_EXISTS;
    }
    char *parent = sf_strndup(dst, (size_t)(strrchr(dst, '/') - dst));
    if (!parent) {
        return SF_ERR_NOMEM;
    }
    rc = wh_exists(&c, parent[0] ? parent : "/", &exists);
    if (rc == SF_OK && !exists) {
        snprintf(err, errsz, "rename %s to %s: the destination's directory %s does not exist",
                 src, dst, parent);
        rc = SF_ERR_NOTFOUND;
    } else if (rc == SF_OK) {
        snprintf(err, errsz, "rename %s to %s: RENAME answered false", src, dst);
        rc = SF_ERR_IO;
    }
    free(parent);
    return rc;
}

static int wh_stat(struct sf_hdfs_fs *base, const char *path, struct sf_hdfs_stat *st, char *err,
                   size_t errsz)
{
    struct wh_call c;
    wh_call_init(&c, fs_of(base), "stat", path, err, errsz);
    int rc = wh_check_path(&c);
    return rc == SF_OK ? wh_getstatus(&c, st) : rc;
}

static int wh_list(struct sf_hdfs_fs *base, const char *dir, struct sf_hdfs_stat **out, size_t *n,
                   char *err, size_t errsz)
{
    struct wh_call c;
    wh_call_init(&c, fs_of(base), "list", dir, err, errsz);
    *out = NULL;
    *n = 0;
    json_t *j = NULL;
    int rc = wh_check_path(&c);
    if (rc == SF_OK) {
        rc = wh_json_call(&c, "GET", "LISTSTATUS", NULL, &j);
    }
    if (rc != SF_OK) {
        return rc;
    }
    json_t *arr = json_object_get(json_object_get(j, "FileStatuses"), "FileStatus");
    if (!json_is_array(arr)) {
        snprintf(err, errsz, "list %s: LISTSTATUS answered no FileStatuses.FileStatus array",
                 dir);
        json_decref(j);
        return SF_ERR_IO;
    }
    size_t count = json_array_size(arr);
    /* a file is listed as itself, with an empty pathSuffix */
    if (count == 1) {
        json_t *only = json_array_get(arr, 0);
        const char *suffix = json_string_value(json_object_get(only, "pathSuffix"));
        const char *type = json_string_value(json_object_get(only, "type"));
        if (suffix && !suffix[0] && type && strcmp(type, "DIRECTORY") != 0) {
            snprintf(err, errsz, "list %s: not a directory", dir);
            json_decref(j);
            return SF_ERR_IO;
        }
    }
    struct sf_hdfs_stat *list = calloc(count ? count : 1, sizeof(*list));
    if (!list) {
        json_decref(j);
        return SF_ERR_NOMEM;
    }
    size_t i = 0;
    for (; i < count && rc == SF_OK; i++) {
        rc = wh_parse_status(&c, json_array_get(arr, i), &list[i], true);
    }
    json_decref(j);
    if (rc != SF_OK) {
        sf_hdfs_stat_free_list(list, i);
        return rc;
    }
    *out = list;
    *n = count;
    return SF_OK;
}

static int wh_delete(struct sf_hdfs_fs *base, const char *path, char *err, size_t errsz)
{
    struct wh_call c;
    wh_call_init(&c, fs_of(base), "delete", path, err, errsz);
    bool ok = false;
    int rc = wh_check_path(&c);
    if (rc == SF_OK) {
        rc = wh_bool_call(&c, "DELETE", "DELETE", "&recursive=false", &ok);
    }
    if (rc == SF_OK && !ok) {
        snprintf(err, errsz, "delete %s: no such file or directory (DELETE answered false)",
                 path);
        rc = SF_ERR_NOTFOUND;
    }
    return rc;
}

static int wh_truncate(struct sf_hdfs_fs *base, const char *path, long long length, char *err,
                       size_t errsz)
{
    struct wh_call c;
    wh_call_init(&c, fs_of(base), "truncate", path, err, errsz);
    int rc = wh_check_path(&c);
    if (rc == SF_OK && length < 0) {
        snprintf(err, errsz, "truncate %s: negative length %lld", path, length);
        rc = SF_ERR_INVAL;
    }
    bool done = false;
    if (rc == SF_OK) {
        char extra[48];
        snprintf(extra, sizeof(extra), "&newlength=%lld", length);
        rc = wh_bool_call(&c, "POST", "TRUNCATE", extra, &done);
    }
    /* false: the last block is being recovered; done once the length shows. The deadline may
     * pass in the sleep or in a status call (a loaded machine): either way the error says that
     * the recovery did not finish, with the last length seen. */
    long long seen = -1;
    while (rc == SF_OK && !done) {
        struct sf_hdfs_stat st;
        rc = wh_getstatus(&c, &st);
        if (rc == SF_OK && st.length == length) {
            break;
        }
        if (rc == SF_OK) {
            seen = st.length;
        }
        long long left = c.deadline_ms - wh_now_ms();
        if ((rc == SF_OK && left <= WH_TRUNCATE_POLL_MS) || (rc == SF_ERR_TIMEOUT && seen >= 0)) {
            snprintf(err, errsz, "truncate %s: the block recovery did not finish within the call "
                     "timeout (%lld ms; length %lld, not %lld yet)", path,
                     c.fs->timeout_ms, seen, length);
            rc = SF_ERR_TIMEOUT;
        }
        if (rc == SF_OK) {
            struct timespec ts = { 0, WH_TRUNCATE_POLL_MS * 1000000L };
            nanosleep(&ts, NULL);
        }
    }
    return rc;
}

static int wh_read(struct sf_hdfs_fs *base, const char *path, struct sf_buf *out, size_t max,
                   char *err, size_t errsz)
{
    struct wh_call c;
    wh_call_init(&c, fs_of(base), "read", path, err, errsz);
    int rc = wh_check_path(&c);
    return rc == SF_OK ? wh_download(&c, out, max) : rc;
}

static void wh_close(struct sf_hdfs_fs *base)
{
    struct wh_fs *fs = fs_of(base);
    if (fs->curl) {
        curl_easy_cleanup(fs->curl);
        curl_global_cleanup();
    }
    curl_slist_free_all(fs->data_headers);
    curl_slist_free_all(fs->plain_headers);
    sf_buf_free(&fs->body);
    free(fs->base_url);
    free(fs->auth_query);
    free(fs);
}

static const struct sf_hdfs_fs_ops wh_ops = {
    .scheme = "webhdfs",
    .close = wh_close,
    .mkdirs = wh_mkdirs,
    .create = wh_create,
    .append = wh_append,
    .rename = wh_rename,
    .stat = wh_stat,
    .list = wh_list,
    .del = wh_delete,
    .truncate = wh_truncate,
    .read = wh_read,
    .write = wh_write,
    .file_close = wh_file_close,
};

void sf_hdfs_webhdfs_set_noredirect(struct sf_hdfs_fs *fs, bool on)
{
    if (fs->ops == &wh_ops) {
        fs_of(fs)->noredirect = on;
    }
}

/* The namenode's http(s)://HOST:PORT from the conf or uri into b (no trailing '/'). */
static int base_url(const char *uri, const struct sf_hdfs_fs_conf *conf, struct sf_buf *b,
                    char *err, size_t errsz)
{
    if (conf->webhdfs_url && conf->webhdfs_url[0]) {
        const char *u = conf->webhdfs_url;
        size_t skip = strncasecmp(u, "http://", 7) == 0 ? 7
                      : strncasecmp(u, "https://", 8) == 0 ? 8 : 0;
        size_t n = strlen(u);
        while (n > skip && u[n - 1] == '/') {
            n--;
        }
        if (!skip || n == skip || u[skip] == '/' || strpbrk(u, "?# ")) {
            snprintf(err, errsz, "hdfs.webhdfs.url \"%s\": not an http:// or https:// URL with a "
                     "host (and no query)", u);
            return SF_ERR_INVAL;
        }
        sf_buf_append(b, u, n);
        return SF_OK;
    }
    const char *p = strstr(uri, "://");
    bool is_hdfs = p && p - uri == 4;
    const char *host = p ? p + 3 : uri;
    size_t alen = strcspn(host, "/?#");
    if (alen == 0) {
        snprintf(err, errsz, "\"%s\": no host (%s://HOST:PORT/...)", uri,
                 is_hdfs ? "hdfs" : "webhdfs");
        return SF_ERR_INVAL;
    }
    if (memchr(host, '@', alen)) {
        snprintf(err, errsz, "\"%s\": a user in the authority is not supported (hdfs.proxyUser)",
                 uri);
        return SF_ERR_INVAL;
    }
    /* HOST, [v6], HOST:PORT, [v6]:PORT */
    size_t hlen = alen;
    const char *port = NULL;
    if (host[0] == '[') {
        const char *close = memchr(host, ']', alen);
        if (!close) {
            snprintf(err, errsz, "\"%s\": an unclosed [ in the host", uri);
            return SF_ERR_INVAL;
        }
        hlen = (size_t)(close - host) + 1;
        if (hlen < alen && host[hlen] != ':') {
            snprintf(err, errsz, "\"%s\": a bad authority", uri);
            return SF_ERR_INVAL;
        }
    } else {
        const char *colon = memchr(host, ':', alen);
        if (colon) {
            hlen = (size_t)(colon - host);
        }
    }
    if (hlen < alen) {
        port = host + hlen + 1;
        size_t plen = alen - hlen - 1;
        bool digits = plen > 0 && plen <= 5;
        for (size_t i = 0; i < plen && digits; i++) {
            digits = port[i] >= '0' && port[i] <= '9';
        }
        if (!digits || hlen == 0) {
            snprintf(err, errsz, "\"%s\": a bad host or port", uri);
            return SF_ERR_INVAL;
        }
    }
    if (hlen == 0) {
        snprintf(err, errsz, "\"%s\": no host", uri);
        return SF_ERR_INVAL;
    }
    sf_buf_puts(b, "http://");
    sf_buf_append(b, host, hlen);
    if (is_hdfs || !port) {
        sf_buf_puts(b, ":9870"); /* the namenode's default HTTP port (dfs.namenode.http-address) */
    } else {
        sf_buf_append(b, host + hlen, alen - hlen);
    }
    return SF_OK;
}

/* The user's name: conf->user, or the process's. */
static int user_name(const struct sf_hdfs_fs_conf *conf, char **out, char *err, size_t errsz)
{
    if (conf->user && conf->user[0]) {
        *out = sf_strndup(conf->user, strlen(conf->user));
        return *out ? SF_OK : SF_ERR_NOMEM;
    }
    struct passwd pw, *res = NULL;
    char buf[4096];
    int e = getpwuid_r(geteuid(), &pw, buf, sizeof(buf), &res);
    if (e != 0 || !res) {
        snprintf(err, errsz, "no user name for uid %ld (%s): set hdfs.proxyUser",
                 (long)geteuid(), e ? strerror(e) : "not in the password database");
        return SF_ERR_INVAL;
    }
    *out = sf_strndup(res->pw_name, strlen(res->pw_name));
    return *out ? SF_OK : SF_ERR_NOMEM;
}

int sf_hdfs_webhdfs_open(const char *uri, const struct sf_hdfs_fs_conf *conf,
                         struct sf_hdfs_fs **out, char *err, size_t errsz)
{
    *out = NULL;
    if (conf->call_timeout_ms <= 0) {
        snprintf(err, errsz, "hdfs.callTimeout %lld: must be > 0", conf->call_timeout_ms);
        return SF_ERR_INVAL;
    }
    bool kerberos = conf->kerberos_principal && conf->kerberos_principal[0];
    if (kerberos) {
        const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
        if (!(vi->features & CURL_VERSION_SPNEGO) || !(vi->features & CURL_VERSION_GSSAPI)) {
            snprintf(err, errsz, "hdfs.kerberosPrincipal: this libcurl (%s) has no GSS-API / "
                     "SPNEGO", vi->version);
            return SF_ERR_INVAL;
        }
        if (!conf->kerberos_keytab || access(conf->kerberos_keytab, R_OK) != 0) {
            snprintf(err, errsz, "hdfs.kerberosKeytab \"%s\": %s",
                     conf->kerberos_keytab ? conf->kerberos_keytab : "",
                     conf->kerberos_keytab ? strerror(errno) : "required with a principal");
            return SF_ERR_INVAL;
        }
        /* GSS-API (MIT krb5) takes its client keys from KRB5_CLIENT_KTNAME: one per process */
        const char *kt = getenv("KRB5_CLIENT_KTNAME");
        if (kt && strcmp(kt, conf->kerberos_keytab) != 0) {
            snprintf(err, errsz, "hdfs.kerberosKeytab \"%s\": the process uses the keytab \"%s\" "
                     "(KRB5_CLIENT_KTNAME) already", conf->kerberos_keytab, kt);
            return SF_ERR_INVAL;
        }
        if (!kt && setenv("KRB5_CLIENT_KTNAME", conf->kerberos_keytab, 0) != 0) {
            snprintf(err, errsz, "hdfs.kerberosKeytab: setenv: %s", strerror(errno));
            return SF_ERR_NOMEM;
        }
    }
    struct sf_buf url = SF_BUF_INIT;
    int rc = base_url(uri, conf, &url, err, errsz);
    if (rc != SF_OK) {
        sf_buf_free(&url);
        return rc;
    }
    sf_buf_puts(&url, "/webhdfs/v1");
    char *user = NULL;
    if (!kerberos || (conf->user && conf->user[0])) {
        rc = user_name(conf, &user, err, errsz);
        if (rc != SF_OK) {
            sf_buf_free(&url);
            return rc;
        }
    }
    struct sf_buf aq = SF_BUF_INIT;
    if (user) {
        sf_buf_puts(&aq, kerberos ? "doas=" : "user.name=");
        sf_pct_encode(&aq, user, strlen(user), wh_escape);
        free(user);
    }
    struct wh_fs *fs = calloc(1, sizeof(*fs));
    if (!fs) {
        sf_buf_free(&url);
        sf_buf_free(&aq);
        return SF_ERR_NOMEM;
    }
    fs->base.ops = &wh_ops;
    fs->base_url = sf_buf_steal(&url);
    fs->auth_query = sf_buf_steal(&aq);
    fs->negotiate = kerberos;
    fs->timeout_ms = conf->call_timeout_ms;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errsz, "%s: libcurl's initialisation failed", uri);
        wh_close(&fs->base);
        return SF_ERR_NOMEM;
    }
    fs->curl = curl_easy_init();
    if (!fs->curl) {
        curl_global_cleanup();
    }
    /* "Expect:" drops curl's 100-continue wait before large bodies */
    struct curl_slist *d = curl_slist_append(NULL, "Content-Type: application/octet-stream");
    if (d) {
        fs->data_headers = d;
        d = curl_slist_append(d, "Expect:");
    }
    fs->plain_headers = curl_slist_append(NULL, "Expect:");
    if (!fs->curl || !d || !fs->plain_headers) {
        snprintf(err, errsz, "%s: out of memory", uri);
        wh_close(&fs->base);
        return SF_ERR_NOMEM;
    }
    *out = &fs->base;
    return SF_OK;
}
