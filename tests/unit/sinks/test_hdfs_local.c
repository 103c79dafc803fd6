/*
 * Unit tests of the HDFS sink's local file system (src/sinks/hdfs/hdfs_local.c) through the
 * dispatching interface (hdfs_fs.h): opening by scheme (file:///, file://localhost, another host
 * refused), create making the parents and refusing an existing name, writes appending and
 * counting the length, append reopening at the end, rename refusing an existing destination,
 * stat, list, delete and truncate, and the error codes of missing paths.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "sqlflume/error.h"

#include "../../../src/sinks/hdfs/hdfs_fs.h"

static char g_dir[64];

static void setup(void)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/sf_hdfs_local_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
}

static void teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    ck_assert_int_eq(system(cmd), 0);
}

/* The bytes of the local file path, NUL-terminated (caller frees); NULL when missing. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *buf = malloc(1 << 16);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static struct sf_hdfs_fs *open_fs(const char *uri)
{
    struct sf_hdfs_fs_conf conf = { .call_timeout_ms = 1000 };
    struct sf_hdfs_fs *fs = NULL;
    char err[256];
    ck_assert_int_eq(sf_hdfs_fs_open(uri, &conf, &fs, err, sizeof(err)), SF_OK);
    ck_assert_str_eq(sf_hdfs_fs_scheme(fs), "file");
    return fs;
}

START_TEST(open_by_scheme)
{
    struct sf_hdfs_fs_conf conf = { .call_timeout_ms = 1000 };
    struct sf_hdfs_fs *fs = NULL;
    char err[256];
    sf_hdfs_fs_close(open_fs("file:///tmp/x"));
    sf_hdfs_fs_close(open_fs("file://localhost/tmp/x"));
    sf_hdfs_fs_close(open_fs("FILE://"));
    ck_assert_int_eq(sf_hdfs_fs_open("file://otherhost/tmp", &conf, &fs, err, sizeof(err)),
                     SF_ERR_INVAL);
    ck_assert_ptr_null(fs);
    ck_assert_str_eq(err, "\"file://otherhost/tmp\": a file:// path names no host (file:///dir "
                          "or file://localhost/dir), not \"otherhost\"");
    ck_assert_int_eq(sf_hdfs_fs_open("s3://b/x", &conf, &fs, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_str_eq(err, "unknown scheme \"s3\" in \"s3://b/x\" (known: hdfs, webhdfs, file)");
}
END_TEST

START_TEST(create_write_rename)
{
    struct sf_hdfs_fs *fs = open_fs("file:///");
    char err[512], path[256], dst[256], dst2[256];
    snprintf(path, sizeof(path), "%s/a/b/c/F.1.tmp", g_dir);
    snprintf(dst, sizeof(dst), "%s/a/b/c/F.1", g_dir);
    snprintf(dst2, sizeof(dst2), "%s/a/b/c/F.2", g_dir);
    struct sf_hdfs_file *f = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, path, &f, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_length(f), 0);
    ck_assert_int_eq(sf_hdfs_file_write(f, "hello\n", 6, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_write(f, "", 0, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_write(f, "world\n", 6, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_length(f), 12);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);

    /* a taken name: refused, the file untouched */
    struct sf_hdfs_file *g = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, path, &g, err, sizeof(err)), SF_ERR_EXISTS);
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(strstr(err, "create \""));
    ck_assert_ptr_nonnull(strstr(err, "File exists"));

    /* append continues at the end */
    ck_assert_int_eq(sf_hdfs_fs_append(fs, path, &g, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_length(g), 12);
    ck_assert_int_eq(sf_hdfs_file_write(g, "more\n", 5, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_length(g), 17);
    ck_assert_int_eq(sf_hdfs_file_close(g, err, sizeof(err)), SF_OK);
    size_t len;
    char *got = slurp(path, &len);
    ck_assert_str_eq(got, "hello\nworld\nmore\n");
    free(got);

    struct sf_hdfs_stat st;
    ck_assert_int_eq(sf_hdfs_fs_stat(fs, path, &st, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(st.length, 17);
    ck_assert(!st.is_dir);
    ck_assert_ptr_null(st.name);

    /* truncate back, then rename; an existing destination is never replaced */
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, path, 12, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, path, 13, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_int_eq(sf_hdfs_fs_rename(fs, path, dst, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_fs_stat(fs, path, &st, err, sizeof(err)), SF_ERR_NOTFOUND);
    got = slurp(dst, &len);
    ck_assert_str_eq(got, "hello\nworld\n");
    free(got);
    FILE *o = fopen(dst2, "w");
    fputs("other", o);
    fclose(o);
    ck_assert_int_eq(sf_hdfs_fs_rename(fs, dst, dst2, err, sizeof(err)), SF_ERR_EXISTS);
    got = slurp(dst2, &len);
    ck_assert_str_eq(got, "other");
    free(got);
    got = slurp(dst, &len);
    ck_assert_str_eq(got, "hello\nworld\n");
    free(got);
    ck_assert_int_eq(sf_hdfs_fs_rename(fs, path, dst2, err, sizeof(err)), SF_ERR_NOTFOUND);
    sf_hdfs_fs_close(fs);
}
END_TEST

START_TEST(list_delete_mkdirs)
{
    struct sf_hdfs_fs *fs = open_fs("file:///");
    char err[512], d[256], p[300];
    snprintf(d, sizeof(d), "%s/x/y", g_dir);
    ck_assert_int_eq(sf_hdfs_fs_mkdirs(fs, d, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_fs_mkdirs(fs, d, err, sizeof(err)), SF_OK); /* exists: fine */
    snprintf(p, sizeof(p), "%s/f", d);
    struct sf_hdfs_file *f = NULL;
    ck_assert_int_eq(sf_hdfs_fs_create(fs, p, &f, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_write(f, "abc", 3, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_file_close(f, err, sizeof(err)), SF_OK);
    /* a file where a directory should be */
    char q[320];
    snprintf(q, sizeof(q), "%s/sub", p);
    ck_assert_int_eq(sf_hdfs_fs_mkdirs(fs, q, err, sizeof(err)), SF_ERR_EXISTS);
    snprintf(q, sizeof(q), "%s/z", d);
    ck_assert_int_eq(sf_hdfs_fs_mkdirs(fs, q, err, sizeof(err)), SF_OK);

    struct sf_hdfs_stat *list = NULL;
    size_t n = 0;
    ck_assert_int_eq(sf_hdfs_fs_list(fs, d, &list, &n, err, sizeof(err)), SF_OK);
    ck_assert_uint_eq(n, 2);
    int seen = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, "f") == 0) {
            ck_assert(!list[i].is_dir);
            ck_assert_int_eq(list[i].length, 3);
            ck_assert(list[i].mtime_ms > 0);
            seen |= 1;
        } else if (strcmp(list[i].name, "z") == 0) {
            ck_assert(list[i].is_dir);
            ck_assert_int_eq(list[i].length, 0);
            seen |= 2;
        }
    }
    ck_assert_int_eq(seen, 3);
    sf_hdfs_stat_free_list(list, n);

    ck_assert_int_eq(sf_hdfs_fs_delete(fs, p, err, sizeof(err)), SF_OK);
    ck_assert_int_eq(sf_hdfs_fs_delete(fs, p, err, sizeof(err)), SF_ERR_NOTFOUND);
    ck_assert_int_eq(sf_hdfs_fs_delete(fs, q, err, sizeof(err)), SF_OK); /* empty directory */
    ck_assert_int_eq(sf_hdfs_fs_list(fs, d, &list, &n, err, sizeof(err)), SF_OK);
    ck_assert_uint_eq(n, 0);
    sf_hdfs_stat_free_list(list, n);
    ck_assert_int_eq(sf_hdfs_fs_list(fs, q, &list, &n, err, sizeof(err)), SF_ERR_NOTFOUND);
    ck_assert_ptr_null(list);
    ck_assert_int_eq(sf_hdfs_fs_append(fs, p, &f, err, sizeof(err)), SF_ERR_NOTFOUND);
    ck_assert_int_eq(sf_hdfs_fs_truncate(fs, p, 0, err, sizeof(err)), SF_ERR_NOTFOUND);
    /* relative paths are refused */
    ck_assert_int_eq(sf_hdfs_fs_create(fs, "rel/f", &f, err, sizeof(err)), SF_ERR_INVAL);
    ck_assert_str_eq(err, "path \"rel/f\" is not absolute");
    /* a directory that is not empty is not deleted */
    snprintf(q, sizeof(q), "%s/x", g_dir);
    ck_assert_int_eq(sf_hdfs_fs_delete(fs, q, err, sizeof(err)), SF_ERR_EXISTS);
    sf_hdfs_fs_close(fs);
}
END_TEST

SF_UNIT_SUITE(hdfs_local)
{
    Suite *s = suite_create("hdfs_local");
    TCase *tc = tcase_create("local");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, open_by_scheme);
    tcase_add_test(tc, create_write_rename);
    tcase_add_test(tc, list_delete_mkdirs);
    suite_add_tcase(s, tc);
    return s;
}
