/*
 * Unit tests of the WebHDFS file system (src/sinks/hdfs/webhdfs.c) against the test server
 * tests/support/webhdfs_server.py (a namenode and a datanode over a local directory), started
 * once for the test case on SF_WEBHDFS_PORT and SF_WEBHDFS_PORT+1 (default 46400, 46401):
 * create, write and stat with the bytes read back from the server's directory; create onto an
 * existing name; append; rename and its four refusals; a directory of 1,500 entries listed;
 * delete; truncate, and a truncate waiting out a block recovery; noredirect answers; an HttpFS
 * gateway; percent-encoded names; URL building; the user.name sent (hdfs.proxyUser, else the
 * process user's); and the faults (namenode 503, datanode refusing connections, a datanode
 * slower than the call timeout) with the error codes and the messages they give. Each test
 * works under its own directory and clears the faults first. Timeouts are multiplied by
 * SF_TIME_MULT (sanitizer runs).
 */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "unit.h"
#include "unit_file.h"
#include "sqlflume/buf.h"
#include "sqlflume/error.h"

#include "../../../src/sinks/hdfs/hdfs_fs.h"
#include "../../../src/sinks/hdfs/hdfs_fs_impl.h"

#ifndef SF_SOURCE_DIR
#define SF_SOURCE_DIR "."
#endif

static long long time_mult = 1;
static int nn_port = 46400, dn_port = 46401;
static char root[64];
static pid_t server_pid = -1;

/* Start the server (unchecked fixture: once, in check's runner process). It gets SIGTERM when
 * the runner dies (PR_SET_PDEATHSIG), so a crashed run leaves no server behind. */
static void server_start(void)
{
    const char *p = getenv("SF_WEBHDFS_PORT");
    if (p && atoi(p) > 0) {
        nn_port = atoi(p);
        dn_port = nn_port + 1;
    }
    snprintf(root, sizeof(root), "/tmp/sf_webhdfs_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(root));
    int fds[2];
    ck_assert_int_eq(pipe(fds), 0);
    pid_t parent = getpid();
    server_pid = fork();
    ck_assert_int_ge(server_pid, 0);
    if (server_pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(1);
        }
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        char script[512], nn[16], dn[16];
        snprintf(script, sizeof(script), "%s/tests/support/webhdfs_server.py", SF_SOURCE_DIR);
        snprintf(nn, sizeof(nn), "%d", nn_port);
        snprintf(dn, sizeof(dn), "%d", dn_port);
        execl("/usr/bin/python3", "python3", script, "--root", root, "--nn-port", nn,
              "--dn-port", dn, (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *out = fdopen(fds[0], "r");
    char line[128] = "";
    if (!fgets(line, sizeof(line), out) || strncmp(line, "READY", 5) != 0) {
        fprintf(stderr, "webhdfs_server.py did not start (ports %d, %d): \"%s\"\n", nn_port,
                dn_port, line);
        kill(server_pid, SIGTERM);
        abort();
    }
    fclose(out);
}

static void server_stop(void)
{
    if (server_pid > 0) {
        kill(server_pid, SIGTERM);
        waitpid(server_pid, NULL, 0);
        server_pid = -1;
    }
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0) {
        fprintf(stderr, "could not remove %s\n", root);
    }
}

static size_t drop(char *p, size_t size, size_t n, void *ud)
{
    (void)p;
    (void)ud;
    return size * n;
}

static size_t keep(char *p, size_t size, size_t n, void *ud)
{
    sf_buf_append(ud, p, size * n);
    return size * n;
}

/* POST /control?QUERY on the namenode (a fault on or off). */
static void control(const char *query)
{
    char url[256];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/control?%s", nn_port, query);
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, drop);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    ck_assert_int_eq(status, 200);
    curl_easy_cleanup(h);
}

/* The namenode's count of requests with user.name=name (GET /control/stats). */
static long long user_requests(const char *name)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/control/stats", nn_port);
    struct sf_buf body = SF_BUF_INIT;
    CURL *h = curl_easy_init();
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 10000L);
    ck_assert_int_eq(curl_easy_perform(h), CURLE_OK);
    curl_easy_cleanup(h);
    json_t *j = json_loadb(body.data, body.len, 0, NULL);
    ck_assert_ptr_nonnull(j);
    char key[128];
    snprintf(key, sizeof(key), "user.name %s", name);
    long long n = json_integer_value(json_object_get(j, key));
    json_decref(j);
    sf_buf_free(&body);
    return n;
}

static struct sf_hdfs_fs *open_fs(long long timeout_ms)
{
    char uri[64], err[512] = "";
    snprintf(uri, sizeof(uri), "webhdfs://127.0.0.1:%d", nn_port);
    struct sf_hdfs_fs_conf conf = { .user = "tester", .call_timeout_ms = timeout_ms };
    struct sf_hdfs_fs *fs = NULL;
    int rc = sf_hdfs_fs_open(uri, &conf, &fs, err, sizeof(err));
    ck_assert_msg(rc == SF_OK, "open: %d %s", rc, err);
    ck_assert_str_eq(sf_hdfs_fs_scheme(fs), "webhdfs");
    control("fault=clear");
    return fs;
}

/* The bytes of the server's file path (NULL when missing); *len their count. */
static char *slurp(const char *path, size_t *len)
{
    char loc[512];
    snprintf(loc, sizeof(loc), "%s%s", root, path);
    return sf_unit_read_file(loc, len);
}

/* Write path on the server's disk directly (parents made). */
static void put_local(const char *path, const char *data, size_t len)
{
    char loc[512];
    snprintf(loc, sizeof(loc), "%s%s", root, path);
    for (char *s = strchr(loc + strlen(root) + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        mkdir(loc, 0755);
        *s = '/';
    }
    FILE *f = fopen(loc, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    ck_assert_int_eq(fclose(f), 0);
}

static bool exists_local(const char *path)
{
    char loc[512];
    struct stat st;
    snprintf(loc, sizeof(loc), "%s%s", root, path);
    return stat(loc, &st) == 0;
}

static void assert_content(const char *path, const void *want, size_t wlen)
{
    size_t len = 0;
    char *got = slurp(path, &len);
    ck_assert_msg(got != NULL, "%s missing on the server", path);
    ck_assert_uint_eq(len, wlen);
    ck_assert_msg(memcmp(got, want, wlen) == 0, "%s: other bytes", path);
    free(got);
}

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

START_TEST(create_write_stat)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    char err[512];
    struct sf_hdfs_file *f = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/cws/a/b/FlumeData.1.tmp", &f, err, sizeof(err)),
                     SF_OK);
    ck_assert_int_eq(sf_hdfs_file_length(f), 0);
    assert_content("/cws/a/b/FlumeData.1.tmp", "", 0);
    /* text, binary with NULs, then 3 MB in one request */
    struct sf_buf want = SF_BUF_INIT;
    ck_assert_int_eq(sf_hdfs_file_write(f, "hello\n", 6, err, sizeof(err)), SF_OK);
    sf_buf_append(&want, "hello\n", 6);
    static const char bin[] = { 0, 1, 2, '\r', '\n', (char)0xff, 0 };
    ck_assert_int_eq(sf_hdfs_file_write(f, bin, sizeof(bin), err, sizeof(err)), SF_OK);
    sf_buf_append(&want, bin, sizeof(bin));
    ck_assert_int_eq(sf_hdfs_file_write(f, "", 0, err, sizeof(err)), SF_OK);
    size_t big = 3u << 20;
    char *data = malloc(big);
    for (size_t i = 0; i < big; i++) {
        data[i] = (char)(i * 7 + i / 251);
    }
    ck_assert_int_eq(sf_hdfs_file_write(f, data, big, err, sizeof(err)), SF_OK);
    sf_buf_append(&want, data, big);
    free(data);
    ck_assert_int_eq(sf_hdfs_file_length(f), (long long)want.len);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);

    struct sf_hdfs_stat st = { .length = -1 };
    ck_assert_int_eq(sf_hdfs_fs_stat(fs, "/cws/a/b/FlumeData.1.tmp", &st, err, sizeof(err)),
                     SF_OK);
    ck_assert_ptr_null(st.name);
    ck_assert_int_eq(st.length, (long long)want.len);
    ck_assert(!st.is_dir);
    long long now = (long long)time(NULL) * 1000;
    ck_assert_msg(st.mtime_ms > now - 60000 && st.mtime_ms < now + 60000, "mtime %lld",
                  st.mtime_ms);
    assert_content("/cws/a/b/FlumeData.1.tmp", want.data, want.len);
    /* read back through OPEN (307 to the datanode): the same bytes; bounded; a missing file */
    struct sf_buf got = SF_BUF_INIT;
    sf_buf_puts(&got, "x");
    ck_assert_int_eq(sf_hdfs_fs_read(fs, "/cws/a/b/FlumeData.1.tmp", &got, want.len, err,
                                     sizeof(err)),
                     SF_OK);
    ck_assert_uint_eq(got.len, want.len + 1);
    ck_assert(memcmp(got.data + 1, want.data, want.len) == 0);
    ck_assert_int_eq(sf_hdfs_fs_read(fs, "/cws/a/b/FlumeData.1.tmp", &got, want.len - 1, err,
                                     sizeof(err)),
                     SF_ERR_IO);
    ck_assert_uint_eq(got.len, want.len + 1);
    ck_assert_int_eq(sf_hdfs_fs_read(fs, "/cws/none", &got, 10, err, sizeof(err)),
                     SF_ERR_NOTFOUND);
    sf_buf_free(&got);
    ck_assert_int_eq(sf_hdfs_fs_stat(fs, "/cws/a", &st, err, sizeof(err)), SF_OK);
    ck_assert(st.is_dir);
    ck_assert_int_eq(st.length, 0);
    ck_assert_int_eq(sf_hdfs_fs_stat(fs, "/cws/nothing", &st, err, sizeof(err)),
                     SF_ERR_NOTFOUND);
    char want_err[256];
    snprintf(want_err, sizeof(want_err), "stat /cws/nothing: FileNotFoundException: File does "
             "not exist: /cws/nothing (http 404 from http://127.0.0.1:%d)", nn_port);
    ck_assert_str_eq(err, want_err);
    ck_assert_int_eq(sf_hdfs_fs_mkdirs(fs, "/cws/m/n/o", err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_fs_mkdirs(fs, "/cws/m/n/o", err, sizeof(err)), SF_OK);
    ck_assert(exists_local("/cws/m/n/o"));
    ck_assert_int_eq(sf_hdfs_fs_mkdirs(fs, "/cws/a/b/FlumeData.1.tmp/x", err, sizeof(err)),
                     SF_ERR_EXISTS);
    ck_assert_int_eq(sf_hdfs_fs_stat(fs, "relative", &st, err, sizeof(err)), SF_ERR_INVAL);
    sf_buf_free(&want);
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(create_existing_and_append)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    char err[512];
    put_local("/cea/old.txt", "old bytes", 9);
    struct sf_hdfs_file *f = (struct sf_hdfs_file *)1;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/cea/old.txt", &f, err, sizeof(err)), SF_ERR_EXISTS);
    ck_assert_ptr_null(f);
    char want[256];
    snprintf(want, sizeof(want), "create /cea/old.txt: FileAlreadyExistsException: /cea/old.txt "
             "for client 127.0.0.1 already exists (http 403 from http://127.0.0.1:%d)", dn_port);
    ck_assert_str_eq(err, want);
    assert_content("/cea/old.txt", "old bytes", 9); /* not overwritten */

    ck_assert_int_eq(sf_hdfs_fs_append(fs, "/cea/missing.txt", &f, err, sizeof(err)),
                     SF_ERR_NOTFOUND);
    ck_assert_ptr_null(f);
    ck_assert_msg(strstr(err, "append /cea/missing.txt: FileNotFoundException") == err, "%s",
                  err);
    ck_assert_int_eq(sf_hdfs_fs_append(fs, "/cea", &f, err, sizeof(err)), SF_ERR_IO);
    ck_assert_str_eq(err, "append /cea: is a directory");

    ck_assert_int_eq(sf_hdfs_fs_append(fs, "/cea/old.txt", &f, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_length(f), 9);
    ck_assert_int_eq(sf_hdfs_file_write(f, ", new", 5, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_write(f, " ones", 5, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_length(f), 19);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);
    assert_content("/cea/old.txt", "old bytes, new ones", 19);
    ck_assert_int_eq(sf_hdfs_file_close(NULL, err, sizeof(err)), SF_OK);
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(rename_cases)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    char err[512];
    put_local("/ren/a.tmp", "A", 1);
    put_local("/ren/taken", "T", 1);
    put_local("/ren/dir/x", "X", 1);
    ck_assert_int_eq(sf_hdfs_fs_rename(fs, "/ren/a.tmp", "/ren/a", err, sizeof(err)), SF_OK);
    ck_assert(!exists_local("/ren/a.tmp"));
    assert_content("/ren/a", "A", 1);

    ck_assert_int_eq(sf_hdfs_fs_rename(fs, "/ren/a.tmp", "/ren/b", err, sizeof(err)),
                     SF_ERR_NOTFOUND);
    ck_assert_str_eq(err, "rename /ren/a.tmp to /ren/b: the source does not exist");
    ck_assert_int_eq(sf_hdfs_fs_rename(fs, "/ren/a", "/ren/taken", err, sizeof(err)),
                     SF_ERR_EXISTS);
    ck_assert_str_eq(err, "rename /ren/a to /ren/taken: the destination exists");
    assert_content("/ren/a", "A", 1);
    assert_content("/ren/taken", "T", 1);
    /* HDFS would move a into dir/: refused as well */
    ck_assert_int_eq(sf_hdfs_fs_rename(fs, "/ren/a", "/ren/dir", err, sizeof(err)),
                     SF_ERR_EXISTS);
    ck_assert(!exists_local("/ren/dir/a"));
    assert_content("/ren/a", "A", 1);
    ck_assert_int_eq(sf_hdfs_fs_rename(fs, "/ren/a", "/ren/nodir/a", err, sizeof(err)),
                     SF_ERR_NOTFOUND);
    ck_assert_str_eq(err, "rename /ren/a to /ren/nodir/a: the destination's directory "
                          "/ren/nodir does not exist");
    assert_content("/ren/a", "A", 1);
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(list_many)
{
    struct sf_hdfs_fs *fs = open_fs(30000 * time_mult);
    char err[512], path[128], data[32];
    enum { N = 1500 };
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "/lst/FlumeData.%05d", i);
        put_local(path, data, (size_t)(i % 17));
    }
    put_local("/lst/zdir/inner", "", 0);
    struct sf_hdfs_stat *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(sf_hdfs_fs_list(fs, "/lst", &list, &n, err, sizeof(err)), SF_OK);
    ck_assert_uint_eq(n, N + 1);
    for (int i = 0; i < N; i++) {
        snprintf(path, sizeof(path), "FlumeData.%05d", i);
        ck_assert_str_eq(list[i].name, path);
        ck_assert_int_eq(list[i].length, i % 17);
        ck_assert(!list[i].is_dir);
    }
    ck_assert_str_eq(list[N].name, "zdir");
    ck_assert(list[N].is_dir);
    sf_hdfs_stat_free_list(list, n);

    ck_assert_int_eq(sf_hdfs_fs_mkdirs(fs, "/lst/empty", err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_fs_list(fs, "/lst/empty", &list, &n, err, sizeof(err)), SF_OK);
    ck_assert_uint_eq(n, 0);
    sf_hdfs_stat_free_list(list, n);
    ck_assert_int_eq(sf_hdfs_fs_list(fs, "/lst/none", &list, &n, err, sizeof(err)),
                     SF_ERR_NOTFOUND);
    ck_assert_ptr_null(list);
    ck_assert_int_eq(sf_hdfs_fs_list(fs, "/lst/FlumeData.00001", &list, &n, err, sizeof(err)),
                     SF_ERR_IO);
    ck_assert_str_eq(err, "list /lst/FlumeData.00001: not a directory");
    sf_hdfs_stat_free_list(NULL, 0);
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(delete_cases)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    char err[512];
    put_local("/del/f", "x", 1);
    put_local("/del/full/g", "y", 1);
    long long before = user_requests("tester"), anonymous = user_requests("");
    ck_assert_int_eq(sf_hdfs_fs_delete(fs, "/del/f", err, sizeof(err)), SF_OK);
    ck_assert_int_eq(user_requests("tester"), before + 1); /* hdfs.proxyUser */
    ck_assert_int_eq(user_requests(""), anonymous);
    ck_assert(!exists_local("/del/f"));
    ck_assert_int_eq(sf_hdfs_fs_delete(fs, "/del/f", err, sizeof(err)), SF_ERR_NOTFOUND);
    ck_assert_str_eq(err, "delete /del/f: no such file or directory (DELETE answered false)");
    ck_assert_int_eq(sf_hdfs_fs_delete(fs, "/del/full", err, sizeof(err)), SF_ERR_IO);
    ck_assert_msg(strstr(err, "delete /del/full: PathIsNotEmptyDirectoryException: `/del/full "
                              "is non empty': Directory is not empty (http 403") == err,
                  "%s", err);
    ck_assert(exists_local("/del/full/g"));
    ck_assert_int_eq(sf_hdfs_fs_delete(fs, "/del/full/g", err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_fs_delete(fs, "/del/full", err, sizeof(err)), SF_OK);
    ck_assert(!exists_local("/del/full"));
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(truncate_cases)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    char err[512];
    put_local("/tr/f", "0123456789abcdef", 16);
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, "/tr/f", 10, err, sizeof(err)), SF_OK);
    assert_content("/tr/f", "0123456789", 10);
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, "/tr/f", 10, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, "/tr/f", 11, err, sizeof(err)), SF_ERR_IO);
    ck_assert_msg(strstr(err, "truncate /tr/f: HadoopIllegalArgumentException: Cannot truncate "
                              "to a larger file size. Current size: 10, truncate size: 11.") ==
                      err, "%s", err);
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, "/tr/none", 0, err, sizeof(err)), SF_ERR_NOTFOUND);
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, "/tr/f", -1, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, "/tr/f", 0, err, sizeof(err)), SF_OK);
    assert_content("/tr/f", "", 0);
    sf_hdfs_fs_close(fs);
}
END_TEST

/* TRUNCATE answering false (a block recovery first) is waited out, within the call timeout. */
START_TEST(truncate_recovery)
{
    long long timeout = 3000 * time_mult;
    struct sf_hdfs_fs *fs = open_fs(timeout);
    char err[512], q[64];
    put_local("/trr/f", "0123456789", 10);
    snprintf(q, sizeof(q), "fault=truncate_recovery&seconds=%.1f", 0.5 * (double)time_mult);
    control(q);
    long long t0 = mono_ms();
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, "/trr/f", 4, err, sizeof(err)), SF_OK);
    long long took = mono_ms() - t0;
    ck_assert_msg(took >= 500 * time_mult - 50, "took %lld ms", took);
    assert_content("/trr/f", "0123", 4);
    /* a recovery longer than the call timeout */
    snprintf(q, sizeof(q), "fault=truncate_recovery&seconds=%lld", 2 * timeout / 1000);
    control(q);
    t0 = mono_ms();
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, "/trr/f", 1, err, sizeof(err)), SF_ERR_TIMEOUT);
    took = mono_ms() - t0;
    ck_assert_msg(took >= timeout - 200 && took <= timeout + 500, "took %lld ms", took);
    char want[256];
    snprintf(want, sizeof(want), "truncate /trr/f: the block recovery did not finish within the "
             "call timeout (%lld ms; length 4, not 1 yet)", timeout);
    ck_assert_str_eq(err, want);
    control("fault=clear");
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(noredirect_answers)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    sf_hdfs_webhdfs_set_noredirect(fs, true);
    char err[512];
    struct sf_hdfs_file *f = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/nr/f", &f, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_write(f, "one", 3, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_write(f, "two", 3, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);
    assert_content("/nr/f", "onetwo", 6);
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/nr/f", &f, err, sizeof(err)), SF_ERR_EXISTS);
    assert_content("/nr/f", "onetwo", 6);
    struct sf_buf got = SF_BUF_INIT;
    ck_assert_int_eq(sf_hdfs_fs_read(fs, "/nr/f", &got, 100, err, sizeof(err)), SF_OK);
    ck_assert_uint_eq(got.len, 6);
    ck_assert(memcmp(got.data, "onetwo", 6) == 0);
    sf_buf_free(&got);
    sf_hdfs_fs_close(fs);
}
END_TEST

/* An HttpFS gateway: its 307 to itself with data=true takes the data as octet-stream. */
START_TEST(httpfs_gateway)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    control("fault=httpfs&on=true");
    char err[512];
    struct sf_hdfs_file *f = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/hfs/f", &f, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_write(f, "via httpfs", 10, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);
    assert_content("/hfs/f", "via httpfs", 10);
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/hfs/f", &f, err, sizeof(err)), SF_ERR_EXISTS);
    control("fault=clear");
    sf_hdfs_fs_close(fs);
}
END_TEST

/* Names with bytes that URLs reserve reach the server unchanged. */
START_TEST(encoded_names)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    char err[512];
    const char *path = "/enc/a b+c%d?e#f&g=h;\xc3\xa9.tmp";
    struct sf_hdfs_file *f = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, path, &f, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_write(f, "z", 1, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);
    assert_content(path, "z", 1);
    struct sf_hdfs_stat *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(sf_hdfs_fs_list(fs, "/enc", &list, &n, err, sizeof(err)), SF_OK);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(list[0].name, path + 5);
    sf_hdfs_stat_free_list(list, n);
    ck_assert_int_eq(sf_hdfs_fs_rename(fs, path, "/enc/x y+%.txt", err, sizeof(err)), SF_OK);
    assert_content("/enc/x y+%.txt", "z", 1);
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(nn_503)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    char err[512];
    control("fault=nn503&seconds=60");
    struct sf_hdfs_stat st;
    ck_assert_int_eq(sf_hdfs_fs_stat(fs, "/", &st, err, sizeof(err)), SF_ERR_CONN);
    ck_assert_msg(strstr(err, "stat /: RetriableException: namenode is not available (injected "
                              "fault) (http 503 from http://127.0.0.1:") == err, "%s", err);
    struct sf_hdfs_file *f = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/n503/f", &f, err, sizeof(err)), SF_ERR_CONN);
    ck_assert(!exists_local("/n503/f"));
    control("fault=clear");
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/n503/f", &f, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(dn_refuse)
{
    struct sf_hdfs_fs *fs = open_fs(10000 * time_mult);
    char err[512];
    struct sf_hdfs_file *f = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/ref/f", &f, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);
    sf_hdfs_fs_close(fs);
    /* a new fs: the old one's kept-alive datanode connection would still be served */
    fs = open_fs(10000 * time_mult);
    control("fault=dn_refuse&on=true");
    ck_assert_int_eq(sf_hdfs_fs_append(fs, "/ref/f", &f, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_write(f, "abc", 3, err, sizeof(err)), SF_ERR_CONN);
    char want[128];
    snprintf(want, sizeof(want), "write /ref/f: http://127.0.0.1:%d: ", dn_port);
    ck_assert_msg(strstr(err, want) == err, "%s", err);
    ck_assert_int_eq(sf_hdfs_file_length(f), 0);
    struct sf_hdfs_file *g = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/ref/g", &g, err, sizeof(err)), SF_ERR_CONN);
    ck_assert_ptr_null(g);
    ck_assert(!exists_local("/ref/g"));
    control("fault=clear");
    ck_assert_int_eq(sf_hdfs_file_write(f, "abc", 3, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);
    assert_content("/ref/f", "abc", 3);
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(dn_slow)
{
    long long timeout = 800 * time_mult;
    struct sf_hdfs_fs *fs = open_fs(timeout);
    char err[512];
    struct sf_hdfs_file *f = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/slow/f", &f, err, sizeof(err)), SF_OK);
    char q[64];
    snprintf(q, sizeof(q), "fault=dn_delay&seconds=%lld", 3 * time_mult);
    control(q);
    long long t0 = mono_ms();
    ck_assert_int_eq(sf_hdfs_file_write(f, "abc", 3, err, sizeof(err)), SF_ERR_TIMEOUT);
    long long took = mono_ms() - t0;
    ck_assert_msg(took >= timeout - 50 && took < timeout + 1000, "took %lld ms", took);
    ck_assert_msg(strstr(err, "write /slow/f: http://127.0.0.1:") == err &&
                      strstr(err, "the call timeout passed: "), "%s", err);
    t0 = mono_ms();
    struct sf_hdfs_file *g = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "/slow/g", &g, err, sizeof(err)), SF_ERR_TIMEOUT);
    took = mono_ms() - t0;
    ck_assert_msg(took < timeout + 1000, "took %lld ms", took);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);
    control("fault=clear");
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(open_and_urls)
{
    char err[512];
    struct sf_hdfs_fs *fs = (struct sf_hdfs_fs *)1;
    struct sf_hdfs_fs_conf conf = { .call_timeout_ms = 2000 * time_mult };
    ck_assert_int_eq(sf_hdfs_fs_open("webhdfs:///x", &conf, &fs, err, sizeof(err)),
                     SF_ERR_INVAL);
    ck_assert_ptr_null(fs);
    ck_assert_str_eq(err, "\"webhdfs:///x\": no host (webhdfs://HOST:PORT/...)");
    ck_assert_int_eq(sf_hdfs_fs_open("hdfs://nn:x9/", &conf, &fs, err, sizeof(err)),
                     SF_ERR_INVAL);
    conf.webhdfs_url = "ftp://nn";
    ck_assert_int_eq(sf_hdfs_fs_open("hdfs://nn:8020", &conf, &fs, err, sizeof(err)),
                     SF_ERR_INVAL);
    ck_assert_str_eq(err, "hdfs.webhdfs.url \"ftp://nn\": not an http:// or https:// URL with "
                          "a host (and no query)");
    conf.webhdfs_url = NULL;
    conf.call_timeout_ms = 0;
    ck_assert_int_eq(sf_hdfs_fs_open("hdfs://nn:8020", &conf, &fs, err, sizeof(err)),
                     SF_ERR_INVAL);
    conf.call_timeout_ms = 2000 * time_mult;

    /* hdfs://HOST:PORT reaches the namenode's HTTP port 9870 (nothing listens there) */
    ck_assert_int_eq(sf_hdfs_fs_open("hdfs://127.0.0.1:8020/flume/%Y", &conf, &fs, err,
                                     sizeof(err)), SF_OK);
    struct sf_hdfs_stat st;
    ck_assert_int_eq(sf_hdfs_fs_stat(fs, "/", &st, err, sizeof(err)), SF_ERR_CONN);
    ck_assert_msg(strstr(err, "stat /: http://127.0.0.1:9870: ") == err, "%s", err);
    sf_hdfs_fs_close(fs);

    /* hdfs.webhdfs.url wins over the path's authority (a trailing '/' is fine); the process's
     * user name when no proxy user is set */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", nn_port);
    conf.webhdfs_url = url;
    ck_assert_int_eq(sf_hdfs_fs_open("hdfs://elsewhere:8020", &conf, &fs, err, sizeof(err)),
                     SF_OK);
    control("fault=clear");
    struct passwd *pw = getpwuid(geteuid());
    ck_assert_ptr_nonnull(pw);
    long long before = user_requests(pw->pw_name);
    ck_assert_int_eq(sf_hdfs_fs_mkdirs(fs, "/urls/d", err, sizeof(err)), SF_OK);
    ck_assert_int_eq(user_requests(pw->pw_name), before + 1);
    ck_assert_int_eq(sf_hdfs_fs_stat(fs, "/urls/d", &st, err, sizeof(err)), SF_OK);
    ck_assert(st.is_dir);
    sf_hdfs_fs_close(fs);
    sf_hdfs_fs_close(NULL);
}
END_TEST

SF_UNIT_SUITE(webhdfs)
{
    const char *m = getenv("SF_TIME_MULT");
    if (m && atoll(m) > 0) {
        time_mult = atoll(m);
    }
    Suite *s = suite_create("webhdfs");
    TCase *tc = tcase_create("webhdfs");
    tcase_set_timeout(tc, 60 * (double)time_mult);
    tcase_add_unchecked_fixture(tc, server_start, server_stop);
    tcase_add_test(tc, create_write_stat);
    tcase_add_test(tc, create_existing_and_append);
    tcase_add_test(tc, rename_cases);
    tcase_add_test(tc, list_many);
    tcase_add_test(tc, delete_cases);
    tcase_add_test(tc, truncate_cases);
    tcase_add_test(tc, truncate_recovery);
    tcase_add_test(tc, noredirect_answers);
    tcase_add_test(tc, httpfs_gateway);
    tcase_add_test(tc, encoded_names);
    tcase_add_test(tc, nn_503);
    tcase_add_test(tc, dn_refuse);
    tcase_add_test(tc, dn_slow);
    tcase_add_test(tc, open_and_urls);
    suite_add_tcase(s, tc);
    return s;
}
