/*
 * Unit tests of database URL parsing and redaction (sf_db_url_parse, sf_db_url_redact in
 * sqlflume/connector.h): every accepted scheme and its normalised name, defaults, userinfo and
 * percent-decoding, IPv6 hosts, ports, query parameters (socket, jdbc-style user/password), the
 * exact error messages, that no error message ever contains the password, and redaction of
 * well-formed and malformed URLs.
 */
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlflume/connector.h"
#include "sqlflume/error.h"

/* Compare a possibly-NULL string with an expected possibly-NULL string. */
#define ck_assert_str_or_null(got, exp)                                                            \
    do {                                                                                           \
        const char *g_ = (got), *e_ = (exp);                                                       \
        if (e_ == NULL) {                                                                          \
            ck_assert_ptr_null(g_);                                                                \
        } else {                                                                                   \
            ck_assert_ptr_nonnull(g_);                                                             \
            ck_assert_str_eq(g_, e_);                                                              \
        }                                                                                          \
    } while (0)

struct url_case {
    const char *url;
    const char *scheme, *user, *password, *host;
    int port;
    const char *database, *query, *socket;
};

static void check_url(const struct url_case *c)
{
    struct sf_db_url u;
    char err[256] = "";
    int rc = sf_db_url_parse(c->url, &u, err, sizeof err);
    ck_assert_msg(rc == SF_OK, "%s: %s", c->url, err);
    ck_assert_str_eq(u.scheme, c->scheme);
    ck_assert_str_or_null(u.user, c->user);
    ck_assert_str_or_null(u.password, c->password);
    ck_assert_str_or_null(u.host, c->host);
    ck_assert_int_eq(u.port, c->port);
    ck_assert_str_or_null(u.database, c->database);
    ck_assert_str_or_null(u.query, c->query);
    ck_assert_str_or_null(u.socket, c->socket);
    sf_db_url_free(&u);
    ck_assert_ptr_null(u.scheme); /* free resets */
}

static void check_cases(const struct url_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        check_url(&cases[i]);
    }
}
#define CHECK_CASES(arr) check_cases((arr), sizeof(arr) / sizeof((arr)[0]))

/* Parse must fail with SF_ERR_INVAL and exactly this message, leaving *out zeroed. */
static void check_error(const char *url, const char *message)
{
    struct sf_db_url u;
    memset(&u, 0xa5, sizeof u);
    char err[512] = "";
    ck_assert_int_eq(sf_db_url_parse(url, &u, err, sizeof err), SF_ERR_INVAL);
    ck_assert_str_eq(err, message);
    ck_assert_ptr_null(u.scheme);
    ck_assert_ptr_null(u.user);
    ck_assert_ptr_null(u.password);
    ck_assert_ptr_null(u.host);
    ck_assert_ptr_null(u.database);
    ck_assert_ptr_null(u.query);
    ck_assert_ptr_null(u.socket);
    ck_assert_int_eq(u.port, 0);
    sf_db_url_free(&u); /* harmless on a zeroed struct */
}

static const char scheme_msg[] = "; expected mysql://, mariadb://, postgresql:// or jdbc:...";
static const char port_msg[] = "bad port in database url: expected a number from 1 to 65535";

START_TEST(url_schemes)
{
    static const struct url_case cases[] = {
        { "jdbc:mysql://db1:3306/shop", "mysql", NULL, NULL, "db1", 3306, "shop", NULL, NULL },
        { "jdbc:mariadb://db1:3307/shop", "mysql", NULL, NULL, "db1", 3307, "shop", NULL, NULL },
        { "mysql://db1/shop", "mysql", NULL, NULL, "db1", 0, "shop", NULL, NULL },
        { "mariadb://db1/shop", "mysql", NULL, NULL, "db1", 0, "shop", NULL, NULL },
        { "jdbc:postgresql://pg:5432/shop", "postgresql", NULL, NULL, "pg", 5432, "shop", NULL,
          NULL },
        { "postgresql://pg/shop", "postgresql", NULL, NULL, "pg", 0, "shop", NULL, NULL },
        { "postgres://pg/shop", "postgresql", NULL, NULL, "pg", 0, "shop", NULL, NULL },
        { "JDBC:MySQL://DB1/Shop", "mysql", NULL, NULL, "DB1", 0, "Shop", NULL, NULL },
        { "PostgreSQL://pg/shop", "postgresql", NULL, NULL, "pg", 0, "shop", NULL, NULL },
    };
    CHECK_CASES(cases);
}
END_TEST

START_TEST(url_defaults)
{
    static const struct url_case cases[] = {
        { "mysql://db1", "mysql", NULL, NULL, "db1", 0, NULL, NULL, NULL },
        { "mysql://db1/", "mysql", NULL, NULL, "db1", 0, NULL, NULL, NULL },
        { "mysql://db1:/shop", "mysql", NULL, NULL, "db1", 0, "shop", NULL, NULL },
        { "postgresql:///shop", "postgresql", NULL, NULL, NULL, 0, "shop", NULL, NULL },
        { "postgresql://", "postgresql", NULL, NULL, NULL, 0, NULL, NULL, NULL },
        { "postgresql://?", "postgresql", NULL, NULL, NULL, 0, NULL, NULL, NULL },
        { "mysql://@db1/shop", "mysql", NULL, NULL, "db1", 0, "shop", NULL, NULL },
        { "mysql://db1:1/a", "mysql", NULL, NULL, "db1", 1, "a", NULL, NULL },
        { "mysql://db1:65535/a", "mysql", NULL, NULL, "db1", 65535, "a", NULL, NULL },
        { "mysql://db1:03306/a", "mysql", NULL, NULL, "db1", 3306, "a", NULL, NULL },
        { "mysql://10.0.0.7:3306/a/b", "mysql", NULL, NULL, "10.0.0.7", 3306, "a/b", NULL, NULL },
    };
    CHECK_CASES(cases);
}
END_TEST

START_TEST(url_userinfo)
{
    static const struct url_case cases[] = {
        { "mysql://root:s3cret@db1:3306/shop", "mysql", "root", "s3cret", "db1", 3306, "shop", NULL,
          NULL },
        { "mysql://root@db1/shop", "mysql", "root", NULL, "db1", 0, "shop", NULL, NULL },
        { "mysql://root:@db1/shop", "mysql", "root", "", "db1", 0, "shop", NULL, NULL },
        { "mysql://:pw@db1/shop", "mysql", NULL, "pw", "db1", 0, "shop", NULL, NULL },
        { "mysql://root:a:b@db1", "mysql", "root", "a:b", "db1", 0, NULL, NULL, NULL },
        { "mysql://root:p@ss@db1", "mysql", "root", "p@ss", "db1", 0, NULL, NULL, NULL },
        { "postgresql://me@pg", "postgresql", "me", NULL, "pg", 0, NULL, NULL, NULL },
    };
    CHECK_CASES(cases);
}
END_TEST

START_TEST(url_percent_decoding)
{
    static const struct url_case cases[] = {
        { "mysql://us%40er:p%2Fa%3Fs%25s%3a@db1/my%20db", "mysql", "us@er", "p/a?s%s:", "db1", 0,
          "my db", NULL, NULL },
        { "mysql://u:a+b@db1/x+y", "mysql", "u", "a+b", "db1", 0, "x+y", NULL, NULL },
        { "postgresql://u:%E2%82%ac@pg/caf%c3%a9", "postgresql", "u", "\xe2\x82\xac", "pg", 0,
          "caf\xc3\xa9", NULL, NULL },
        /* libpq's socket directory in the host */
        { "postgresql://%2Fvar%2Frun%2Fpostgresql/shop", "postgresql", NULL, NULL,
          "/var/run/postgresql", 0, "shop", NULL, NULL },
        /* '@' in the database name, encoded */
        { "mysql://db1/a%40b", "mysql", NULL, NULL, "db1", 0, "a@b", NULL, NULL },
        /* the query stays raw */
        { "postgresql://pg/x?application_name=a%20b", "postgresql", NULL, NULL, "pg", 0, "x",
          "application_name=a%20b", NULL },
    };
    CHECK_CASES(cases);
    check_error("mysql://us%zzer@db1/x", "bad percent-encoding in the user name of the database "
                                         "url (expected %XX with two hex digits, not %00)");
    check_error("mysql://u:abc%4@db1/x", "bad percent-encoding in the password of the database url "
                                         "(expected %XX with two hex digits, not %00)");
    check_error("mysql://u:abc%00def@db1/x", "bad percent-encoding in the password of the "
                                             "database url (expected %XX with two hex digits, "
                                             "not %00)");
    check_error("mysql://db1/sh%op", "bad percent-encoding in the database name of the database "
                                     "url (expected %XX with two hex digits, not %00)");
    check_error("mysql://db%1/shop", "bad percent-encoding in the host of the database url "
                                     "(expected %XX with two hex digits, not %00)");
    check_error("mysql://db1/shop%", "bad percent-encoding in the database name of the database "
                                     "url (expected %XX with two hex digits, not %00)");
}
END_TEST

START_TEST(url_ipv6)
{
    static const struct url_case cases[] = {
        { "postgresql://[::1]:5433/shop", "postgresql", NULL, NULL, "::1", 5433, "shop", NULL,
          NULL },
        { "mysql://[2001:db8::1]/shop", "mysql", NULL, NULL, "2001:db8::1", 0, "shop", NULL, NULL },
        { "mysql://u:p@[2001:db8::1]", "mysql", "u", "p", "2001:db8::1", 0, NULL, NULL, NULL },
        { "postgresql://u:p@[fe80::1%25eth0]:5432/shop", "postgresql", "u", "p", "fe80::1%eth0",
          5432, "shop", NULL, NULL },
        { "jdbc:mysql://[::ffff:10.0.0.1]:3306?useSSL=false", "mysql", NULL, NULL,
          "::ffff:10.0.0.1", 3306, NULL, "useSSL=false", NULL },
    };
    CHECK_CASES(cases);
    check_error("mysql://[::1/shop", "unterminated IPv6 address in database url (missing ']')");
    check_error("mysql://[]:3306/shop", "empty IPv6 address in database url");
    check_error("mysql://[::1]3306/shop",
                "malformed database url: expected ':port' or the end of the host after ']'");
    check_error("mysql://[::1]:99999/shop",
                "bad port \"99999\" in database url: expected a number from 1 to 65535");
    check_error("mysql://::1/shop", "bad port \":1\" in database url: expected a number from 1 to "
                                    "65535; put an IPv6 address in brackets, as in [::1]:5432");
    check_error("mysql://2001:db8::1/shop",
                "bad port \"db8::1\" in database url: expected a number from 1 to 65535; put an "
                "IPv6 address in brackets, as in [::1]:5432");
}
END_TEST

START_TEST(url_bad_port)
{
    check_error("mysql://db1:0/shop",
                "bad port \"0\" in database url: expected a number from 1 to 65535");
    check_error("mysql://db1:65536/shop",
                "bad port \"65536\" in database url: expected a number from 1 to 65535");
    check_error("mysql://db1:99999999999999999999999/shop",
                "bad port \"99999999999999999999999\" in database url: expected a number from 1 "
                "to 65535");
    check_error("mysql://db1:abc/shop",
                "bad port \"abc\" in database url: expected a number from 1 to 65535");
    check_error("mysql://db1:-1/shop",
                "bad port \"-1\" in database url: expected a number from 1 to 65535");
    check_error("mysql://db1:+80/shop",
                "bad port \"+80\" in database url: expected a number from 1 to 65535");
    check_error("mysql://db1:3306x/shop",
                "bad port \"3306x\" in database url: expected a number from 1 to 65535");
    check_error("mysql://db1: 3306/shop", port_msg); /* not quotable text */
    check_error("mysql://u:pw@db1:70000/shop",
                "bad port \"70000\" in database url: expected a number from 1 to 65535");
    /* libpq's multi-host lists are not supported */
    check_error("postgresql://h1:5432,h2:5433/shop", port_msg);
}
END_TEST

START_TEST(url_bad_scheme)
{
    char msg[256];
    static const struct {
        const char *url, *named;
    } cases[] = {
        { "oracle://db1/shop", "oracle" },
        { "jdbc:oracle:thin:@db1:1521:orcl", "jdbc:oracle" },
        { "http://db1/shop", "http" },
        { "jdbc:sqlserver://db1;databaseName=shop", "jdbc:sqlserver" },
        { "mysqlx://db1/shop", "mysqlx" },
        { "localhost:3306/shop", "localhost" },
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa://x",
          "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa..." },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        (void)snprintf(msg, sizeof msg, "unsupported url scheme \"%s\"%s", cases[i].named,
                       scheme_msg);
        check_error(cases[i].url, msg);
    }
    check_error("db1/shop", "database url has no scheme; expected mysql://, mariadb://, "
                            "postgresql:// or jdbc:...");
    check_error("://db1/shop", "database url has no scheme; expected mysql://, mariadb://, "
                               "postgresql:// or jdbc:...");
    check_error("jdbc:", "database url has no scheme; expected mysql://, mariadb://, "
                         "postgresql:// or jdbc:...");
    check_error("", "empty database url");
    check_error(NULL, "empty database url");
    check_error("mysql:db1/shop", "malformed database url: expected \"//\" after \"mysql:\"");
    check_error("jdbc:mysql:loadbalance://db1,db2/shop",
                "malformed database url: expected \"//\" after \"jdbc:mysql:\"");
    check_error("postgresql:/db1", "malformed database url: expected \"//\" after \"postgresql:\"");
}
END_TEST

START_TEST(url_query)
{
    static const struct url_case cases[] = {
        /* mysql: socket extracted (decoded), query kept exactly as written */
        { "mysql://localhost/shop?socket=/tmp/my.sock&useSSL=false", "mysql", NULL, NULL,
          "localhost", 0, "shop", "socket=/tmp/my.sock&useSSL=false", "/tmp/my.sock" },
        { "mysql:///shop?unix_socket=%2Fvar%2Frun%2Fmysqld.sock", "mysql", NULL, NULL, NULL, 0,
          "shop", "unix_socket=%2Fvar%2Frun%2Fmysqld.sock", "/var/run/mysqld.sock" },
        { "mysql:///shop?socket=/a&unix_socket=/b", "mysql", NULL, NULL, NULL, 0, "shop",
          "socket=/a&unix_socket=/b", "/a" },
        /* jdbc-style credentials fill what the userinfo lacks */
        { "jdbc:mysql://db1:3306/shop?user=flume&password=s%3Dcret&useSSL=false", "mysql", "flume",
          "s=cret", "db1", 3306, "shop", "user=flume&password=s%3Dcret&useSSL=false", NULL },
        { "jdbc:mysql://root:pw@db1/shop?user=flume&password=other", "mysql", "root", "pw", "db1",
          0, "shop", "user=flume&password=other", NULL },
        { "jdbc:mysql://root@db1/shop?password=pw", "mysql", "root", "pw", "db1", 0, "shop",
          "password=pw", NULL },
        /* postgresql: user/password are removed from the query, the rest passes through */
        { "jdbc:postgresql://pg/shop?user=flume&password=secret&sslmode=require", "postgresql",
          "flume", "secret", "pg", 0, "shop", "sslmode=require", NULL },
        { "postgresql://pg/shop?sslmode=require&user=flume&password=secret&connect_timeout=5",
          "postgresql", "flume", "secret", "pg", 0, "shop", "sslmode=require&connect_timeout=5",
          NULL },
        { "postgresql://pg/shop?user=flume&password=secret", "postgresql", "flume", "secret", "pg",
          0, "shop", NULL, NULL },
        { "postgresql://alice:pw@pg/shop?user=bob&password=x&application_name=a", "postgresql",
          "alice", "pw", "pg", 0, "shop", "application_name=a", NULL },
        { "postgresql://pg/shop?password=", "postgresql", NULL, "", "pg", 0, "shop", NULL, NULL },
        { "postgresql://pg/shop?user=&sslmode=disable", "postgresql", NULL, NULL, "pg", 0, "shop",
          "sslmode=disable", NULL },
        /* postgresql has no socket parameter of ours: passed through */
        { "postgresql://pg/shop?socket=/x", "postgresql", NULL, NULL, "pg", 0, "shop", "socket=/x",
          NULL },
        /* '@' inside a query value is fine */
        { "postgresql://pg/shop?user=admin@server&sslmode=require", "postgresql", "admin@server",
          NULL, "pg", 0, "shop", "sslmode=require", NULL },
        { "mysql://db1?useSSL=true", "mysql", NULL, NULL, "db1", 0, NULL, "useSSL=true", NULL },
        { "mysql://db1/shop?", "mysql", NULL, NULL, "db1", 0, "shop", NULL, NULL },
    };
    CHECK_CASES(cases);
    check_error("postgresql://pg/shop?password=abc%zz",
                "bad percent-encoding in the password parameter of the database url (expected %XX "
                "with two hex digits, not %00)");
    check_error("mysql://db1/shop?socket=%", "bad percent-encoding in the socket parameter of the "
                                             "database url (expected %XX with two hex digits, not "
                                             "%00)");
}
END_TEST

START_TEST(url_password_never_in_errstr)
{
    static const char *const pw = "Sup3rS3cret";
    static const char *const bad[] = {
        "mysql://root:Sup3rS3cret@db1:99999/shop",
        "mysql://root:Sup3rS3cret@db1:x/shop",
        "mysql://root:Sup3rS3cret/x@db1/shop", /* unencoded '/' in the password */
        "mysql://root:Sup3rS3cret?x@db1/shop", /* unencoded '?' */
        "mysql://root:Sup3r%zzS3cret@db1/shop",
        "mysql://root:Sup3rS3cret@[::1/shop",
        "mysql://root:Sup3rS3cret@[]/shop",
        "mysql://root:Sup3rS3cret@[::1]x/shop",
        "oracle://root:Sup3rS3cret@db1/shop",
        "mysql:root:Sup3rS3cret@db1/shop",
        "Sup3rS3cret",
        "root:Sup3rS3cret@db1/shop",
        "postgresql://db1/shop?user=root&password=Sup3rS3cret%",
        "mysql://root:Sup3rS3cret@db1/sh%zzop",
        "mysql://root:Sup3rS3cret:@db1:0/shop",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sf_db_url u;
        char err[512] = "";
        ck_assert_int_eq(sf_db_url_parse(bad[i], &u, err, sizeof err), SF_ERR_INVAL);
        ck_assert_msg(err[0] != '\0', "%s: no message", bad[i]);
        ck_assert_msg(strstr(err, pw) == NULL && strstr(err, "S3cret") == NULL, "%s: %s", bad[i],
                      err);
    }
    /* numeric passwords with an unencoded '/' or '=' look like ports: never quoted */
    check_error("mysql://root:123456/x=y@db1/shop", port_msg);
    check_error("mysql://root:4242/x@db1/shop",
                "malformed database url: '@' after the host; percent-encode '@', '/' and '?' in "
                "the user name and password (%40, %2F, %3F) and '@' in the database name");
    check_error("mysql://db1/a@b",
                "malformed database url: '@' after the host; percent-encode '@', '/' and '?' in "
                "the user name and password (%40, %2F, %3F) and '@' in the database name");
    /* a tiny errstr is truncated, not overflowed; NULL errstr is accepted */
    struct sf_db_url u;
    char small[8];
    ck_assert_int_eq(sf_db_url_parse("oracle://x", &u, small, sizeof small), SF_ERR_INVAL);
    ck_assert_str_eq(small, "unsuppo");
    ck_assert_int_eq(sf_db_url_parse("oracle://x", &u, NULL, 0), SF_ERR_INVAL);
}
END_TEST

START_TEST(url_redact)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        { "mysql://root:s3cret@db1:3306/shop", "mysql://root:***@db1:3306/shop" },
        { "jdbc:mysql://root:s3cret@db1/shop?useSSL=false",
          "jdbc:mysql://root:***@db1/shop?useSSL=false" },
        { "jdbc:postgresql://pg/shop?user=bob&password=s3cret&sslmode=require",
          "jdbc:postgresql://pg/shop?user=bob&password=***&sslmode=require" },
        { "postgresql://u:a@pg/shop?password=b", "postgresql://u:***@pg/shop?password=***" },
        { "postgresql://u:p@[::1]:5432/shop", "postgresql://u:***@[::1]:5432/shop" },
        { "mysql://u:@db1", "mysql://u:***@db1" },
        { "mysql://u:p@ss@db1", "mysql://u:***@db1" },
        { "mysql://u:a%40b@db1", "mysql://u:***@db1" },
        { "mysql://:pw@db1", "mysql://:***@db1" },
        /* nothing to hide */
        { "mysql://root@db1/shop", "mysql://root@db1/shop" },
        { "mysql://db1:3306/shop", "mysql://db1:3306/shop" },
        { "postgresql://[::1]:5432/shop", "postgresql://[::1]:5432/shop" },
        { "mysql://db1/shop?user=a@b", "mysql://db1/shop?user=a@b" },
        { "postgresql://", "postgresql://" },
        { "", "" },
        /* every *password parameter, any case, first or last */
        { "pg://h/d?password=x", "pg://h/d?password=***" },
        { "pg://h/d?sslpassword=x&a=1", "pg://h/d?sslpassword=***&a=1" },
        { "pg://h/d?a=1&PASSWORD=x", "pg://h/d?a=1&PASSWORD=***" },
        { "pg://h/d?password=", "pg://h/d?password=***" },
        { "pg://h/d?passwords=x", "pg://h/d?passwords=x" },
        { "pg://h/d?password", "pg://h/d?password" },
        /* an unencoded '&' in a password parameter */
        { "pg://h/d?password=a&b&c&sslmode=x", "pg://h/d?password=***&sslmode=x" },
        /* malformed: unencoded '/', '?', '=' in the userinfo password: hide too much, not less */
        { "mysql://root:se/cret@db1/shop", "mysql://root:***@db1/shop" },
        { "mysql://root:se?cret@db1/shop", "mysql://root:***@db1/shop" },
        { "mysql://root:a=b/c@db1/shop", "mysql://root:***@db1/shop" },
        { "mysql://root:123456/x=y@db1/shop", "mysql://root:***@db1/shop" },
        { "mysql://root:se/cret@db1/shop?password=x", "mysql://root:***@db1/shop?password=***" },
        { "mysql://db1:abc/shop", "mysql://db1:***/shop" },
        /* no scheme at all */
        { "root:s3cret@db1/shop", "root:***@db1/shop" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *r = sf_db_url_redact(cases[i].in);
        ck_assert_ptr_nonnull(r);
        ck_assert_str_eq(r, cases[i].out);
        free(r);
    }
    ck_assert_ptr_null(sf_db_url_redact(NULL));
}
END_TEST

/* sf_quote_ident: the quote doubled inside, the other quote kept; NULL and "" rejected with out
 * unchanged. */
START_TEST(quote_ident)
{
    struct sf_buf b = SF_BUF_INIT;
    ck_assert_int_eq(sf_quote_ident("a`b\"c", '`', &b), SF_OK);
    ck_assert_str_eq(b.data, "`a``b\"c`");
    sf_buf_reset(&b);
    ck_assert_int_eq(sf_quote_ident("a`b\"c", '"', &b), SF_OK);
    ck_assert_str_eq(b.data, "\"a`b\"\"c\"");
    sf_buf_puts(&b, ".");
    ck_assert_int_eq(sf_quote_ident("s.t", '"', &b), SF_OK); /* a dot is not split */
    ck_assert_str_eq(b.data, "\"a`b\"\"c\".\"s.t\"");
    size_t len = b.len;
    ck_assert_int_eq(sf_quote_ident("", '`', &b), SF_ERR_INVAL);
    ck_assert_int_eq(sf_quote_ident(NULL, '"', &b), SF_ERR_INVAL);
    ck_assert_uint_eq(b.len, len);
    sf_buf_free(&b);
}
END_TEST

SF_UNIT_SUITE(db_url)
{
    Suite *s = suite_create("db_url");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, url_schemes);
    tcase_add_test(tc, url_defaults);
    tcase_add_test(tc, url_userinfo);
    tcase_add_test(tc, url_percent_decoding);
    tcase_add_test(tc, url_ipv6);
    tcase_add_test(tc, url_bad_port);
    tcase_add_test(tc, url_bad_scheme);
    tcase_add_test(tc, url_query);
    tcase_add_test(tc, url_password_never_in_errstr);
    suite_add_tcase(s, tc);
    tc = tcase_create("redact");
    tcase_add_test(tc, url_redact);
    suite_add_tcase(s, tc);
    tc = tcase_create("ident");
    tcase_add_test(tc, quote_ident);
    suite_add_tcase(s, tc);
    return s;
}
