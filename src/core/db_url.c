/*
 * Database URLs: sf_db_url_parse() turns the configured connection.url (JDBC style
 * jdbc:mysql://host:3306/db as in the seed's Flume configs, or libpq/mysql style
 * postgresql://user:pass@host/db?sslmode=require) into struct sf_db_url, normalising the scheme
 * to "mysql" or "postgresql" and percent-decoding the user, password, host and database.
 * The authority ends at the first '/' or '?' and the userinfo at its last '@' (RFC 3986), so
 * '/', '?' and '@' inside a password must be percent-encoded; URLs where an '@' shows up after
 * the host are rejected rather than misread. Error messages never quote the userinfo or anything
 * that could be part of a password. sf_db_url_redact() is the companion for logging: it replaces
 * the userinfo password and the value of every *password= query parameter with "***", erring on
 * the side of hiding too much when the URL is malformed.
 */
#include "sqlflume/pct.h"
#include "sqlflume/connector.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlflume/buf.h"
#include "sqlflume/error.h"

/* Longest scheme and port text quoted back in an error message. */
#define ECHO_MAX_CHARS 32

/* The pieces of a URL, as spans into the caller's string. */
struct url_parts {
    const char *rest; /* after "scheme://" */
    const char *auth; /* [auth, auth + auth_len): up to the first '/' or '?' */
    size_t auth_len;
    const char *at;   /* last '@' inside the authority, or NULL: ends the userinfo */
    const char *path; /* [path, path + path_len): "" or "/db", up to '?' */
    size_t path_len;
    const char *query; /* after '?', or NULL */
};

static const struct {
    const char *name;
    const char *normalised;
} url_schemes[] = {
    { "mysql", "mysql" },
    { "mariadb", "mysql" },
    { "postgresql", "postgresql" },
    { "postgres", "postgresql" },
};

static const char *last_char(const char *p, size_t n, char c)
{
    while (n > 0) {
        n--;
        if (p[n] == c) {
            return p + n;
        }
    }
    return NULL;
}

static void split_rest(const char *rest, struct url_parts *up)
{
    up->rest = rest;
    up->auth = rest;
    up->auth_len = strcspn(rest, "/?");
    up->at = last_char(rest, up->auth_len, '@');
    up->path = rest + up->auth_len;
    up->path_len = strcspn(up->path, "?");
    up->query = up->path[up->path_len] == '?' ? up->path + up->path_len + 1 : NULL;
}

/**
 * When the authority holds no '@' but one appears later, before the first '=' (so not inside a
 * query value such as user=a@b), the userinfo most likely contains an unencoded '/' or '?'.
 * @return that (last such) '@', or NULL.
 */
static const char *misplaced_at(const struct url_parts *up)
{
    if (up->at) {
        return NULL;
    }
    return last_char(up->rest, strcspn(up->rest, "="), '@');
}

/** The port text of an authority without userinfo; @return false when there is none. */
static bool port_span(const char *hp, size_t hn, const char **port, size_t *port_len)
{
    const char *colon;
    if (hn > 0 && hp[0] == '[') {
        const char *close = memchr(hp, ']', hn);
        if (!close || close + 1 == hp + hn || close[1] != ':') {
            return false;
        }
        colon = close + 1;
    } else {
        colon = memchr(hp, ':', hn);
        if (!colon) {
            return false;
        }
    }
    *port = colon + 1;
    *port_len = (size_t)(hp + hn - *port);
    return true;
}

/** Parse a port: empty = 0 (default), else 1..65535. @return SF_OK, or SF_ERR_INVAL. */
static int parse_port(const char *p, size_t n, int *out)
{
    long v = 0;
    if (n == 0) {
        *out = 0;
        return SF_OK;
    }
    for (size_t i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return SF_ERR_INVAL;
        }
        v = v * 10 + (p[i] - '0');
        if (v > 65535) {
            return SF_ERR_INVAL;
        }
    }
    if (v < 1) {
        return SF_ERR_INVAL;
    }
    *out = (int)v;
    return SF_OK;
}

/**
 * Decode p[0..n) into *dst; an empty result becomes NULL when empty_is_null.
 * @return SF_OK or an error with errstr naming what (never quoting the text).
 */
static int decode_into(const char *p,
                       size_t n,
                       bool empty_is_null,
                       char **dst,
                       const char *what,
                       char *errstr,
                       size_t errstr_size)
{
    char *s = NULL;
    int rc = sf_pct_decode(p, n, &s);
    if (rc == SF_ERR_NOMEM) {
        sf_set_errstr(errstr, errstr_size, "out of memory parsing the database url");
        return rc;
    }
    if (rc != SF_OK) {
        sf_set_errstr(errstr, errstr_size,
                "bad percent-encoding in the %s of the database url (expected %%XX with two hex "
                "digits, not %%00)",
                what);
        return rc;
    }
    if (empty_is_null && s[0] == '\0') {
        free(s);
        s = NULL;
    }
    *dst = s;
    return SF_OK;
}

static bool key_is(const char *key, size_t key_len, const char *name)
{
    return strlen(name) == key_len && memcmp(key, name, key_len) == 0;
}

/**
 * Walk the query parameters: fill user/password (when absent from the userinfo) and, for mysql,
 * socket; copy the parameters that stay into u->query (raw; for postgresql without user and
 * password, which the connector passes separately).
 */
static int
parse_query(const char *query, bool is_mysql, struct sf_db_url *u, char *errstr, size_t errstr_size)
{
    struct sf_buf kept = SF_BUF_INIT;
    int rc = SF_OK;
    const char *p = query;
    while (*p) {
        size_t seg_len = strcspn(p, "&");
        size_t key_len = strcspn(p, "=&");
        const char *val = p + key_len + (key_len < seg_len ? 1 : 0);
        size_t val_len = seg_len - (size_t)(val - p);
        bool drop = false;
        if (key_is(p, key_len, "user")) {
            drop = !is_mysql;
            if (!u->user) {
                rc = decode_into(val, val_len, true, &u->user, "user parameter", errstr,
                                 errstr_size);
            }
        } else if (key_is(p, key_len, "password")) {
            drop = !is_mysql;
            if (!u->password) {
                rc = decode_into(val, val_len, false, &u->password, "password parameter", errstr,
                                 errstr_size);
            }
        } else if (is_mysql &&
                   (key_is(p, key_len, "socket") || key_is(p, key_len, "unix_socket"))) {
            if (!u->socket) {
                rc = decode_into(val, val_len, true, &u->socket, "socket parameter", errstr,
                                 errstr_size);
            }
        }
        if (rc != SF_OK) {
            goto out;
        }
        if (!is_mysql && !drop && seg_len > 0) {
            if (kept.len > 0) {
                sf_buf_putc(&kept, '&');
            }
            sf_buf_append(&kept, p, seg_len);
        }
        p += seg_len;
        if (*p == '&') {
            p++;
        }
    }
    if (is_mysql) {
        sf_buf_puts(&kept, query); /* mysql keeps the query exactly as written */
    }
    if (kept.len > 0) {
        u->query = sf_buf_steal(&kept);
    }
out:
    sf_buf_free(&kept);
    return rc;
}

int sf_db_url_parse(const char *url, struct sf_db_url *out, char *errstr, size_t errstr_size)
{
    struct sf_db_url u = { 0 };
    struct url_parts up;
    int rc = SF_ERR_INVAL;
    const char *normalised = NULL;

    if (!out) {
        sf_set_errstr(errstr, errstr_size, "no output for the database url");
        return SF_ERR_INVAL;
    }
    memset(out, 0, sizeof *out);
    if (!url || url[0] == '\0') {
        sf_set_errstr(errstr, errstr_size, "empty database url");
        goto out;
    }

    /* [jdbc:]scheme:// */
    const char *p = url;
    bool jdbc = strncasecmp(p, "jdbc:", 5) == 0;
    if (jdbc) {
        p += 5;
    }
    size_t scheme_len =
        strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-");
    if (scheme_len == 0 || p[scheme_len] != ':') {
        sf_set_errstr(errstr, errstr_size,
                "database url has no scheme; expected mysql://, mariadb://, postgresql:// or "
                "jdbc:...");
        goto out;
    }
    for (size_t i = 0; i < sizeof url_schemes / sizeof url_schemes[0]; i++) {
        if (strlen(url_schemes[i].name) == scheme_len &&
            strncasecmp(p, url_schemes[i].name, scheme_len) == 0) {
            normalised = url_schemes[i].normalised;
        }
    }
    if (!normalised) {
        sf_set_errstr(errstr, errstr_size,
                "unsupported url scheme \"%s%.*s%s\"; expected mysql://, mariadb://, postgresql:// "
                "or jdbc:...",
                jdbc ? "jdbc:" : "",
                (int)(scheme_len > ECHO_MAX_CHARS ? ECHO_MAX_CHARS : scheme_len), p,
                scheme_len > ECHO_MAX_CHARS ? "..." : "");
        goto out;
    }
    if (strncmp(p + scheme_len + 1, "//", 2) != 0) {
        sf_set_errstr(errstr, errstr_size, "malformed database url: expected \"//\" after \"%s%.*s:\"",
                jdbc ? "jdbc:" : "", (int)scheme_len, p);
        goto out;
    }
    bool is_mysql = strcmp(normalised, "mysql") == 0;
    split_rest(p + scheme_len + 3, &up);

    if (misplaced_at(&up)) {
        sf_set_errstr(errstr, errstr_size,
                "malformed database url: '@' after the host; percent-encode '@', '/' and '?' in "
                "the user name and password (%%40, %%2F, %%3F) and '@' in the database name");
        goto out;
    }

    /* userinfo: user[:password]@ */
    const char *hp = up.auth;
    if (up.at) {
        const char *colon = memchr(up.auth, ':', (size_t)(up.at - up.auth));
        const char *user_end = colon ? colon : up.at;
        rc = decode_into(up.auth, (size_t)(user_end - up.auth), true, &u.user, "user name", errstr,
                         errstr_size);
        if (rc == SF_OK && colon) {
            rc = decode_into(colon + 1, (size_t)(up.at - colon - 1), false, &u.password, "password",
                             errstr, errstr_size);
        }
        if (rc != SF_OK) {
            goto out;
        }
        hp = up.at + 1;
    }

    /* host[:port] or [v6]:port */
    size_t hn = (size_t)(up.auth + up.auth_len - hp);
    const char *host = hp;
    size_t host_len = hn;
    const char *port = NULL;
    size_t port_len = 0;
    if (hn > 0 && hp[0] == '[') {
        const char *close = memchr(hp, ']', hn);
        if (!close) {
            sf_set_errstr(errstr, errstr_size, "unterminated IPv6 address in database url (missing ']')");
            goto out;
        }
        host = hp + 1;
        host_len = (size_t)(close - host);
        if (host_len == 0) {
            sf_set_errstr(errstr, errstr_size, "empty IPv6 address in database url");
            goto out;
        }
        if (close + 1 < hp + hn && close[1] != ':') {
            sf_set_errstr(errstr, errstr_size,
                    "malformed database url: expected ':port' or the end of the host after ']'");
            goto out;
        }
    } else {
        const char *colon = memchr(hp, ':', hn);
        if (colon) {
            host_len = (size_t)(colon - hp);
        }
    }
    if (port_span(hp, hn, &port, &port_len) && parse_port(port, port_len, &u.port) != SF_OK) {
        /* Quote the port only when it cannot be a piece of a password: the userinfo was
         * delimited, or the url has no '@' at all. */
        bool quotable =
            (up.at || !strchr(url, '@')) && port_len <= ECHO_MAX_CHARS &&
            strspn(port, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "+-.:") >= port_len;
        /* host:port made of hex digits, ':' and '.' with a second ':': an unbracketed IPv6 */
        bool ipv6ish = memchr(port, ':', port_len) && strspn(hp, "0123456789abcdefABCDEF:.") >= hn;
        const char *hint = ipv6ish ? "; put an IPv6 address in brackets, as in [::1]:5432" : "";
        if (quotable) {
            sf_set_errstr(errstr, errstr_size,
                    "bad port \"%.*s\" in database url: expected a number from 1 to 65535%s",
                    (int)port_len, port, hint);
        } else {
            sf_set_errstr(errstr, errstr_size,
                    "bad port in database url: expected a number from 1 to 65535%s", hint);
        }
        goto out;
    }
    rc = decode_into(host, host_len, true, &u.host, "host", errstr, errstr_size);
    if (rc != SF_OK) {
        goto out;
    }

    /* /database */
    if (up.path_len > 1) {
        rc = decode_into(up.path + 1, up.path_len - 1, true, &u.database, "database name", errstr,
                         errstr_size);
        if (rc != SF_OK) {
            goto out;
        }
    }

    /* ?query */
    if (up.query) {
        rc = parse_query(up.query, is_mysql, &u, errstr, errstr_size);
        if (rc != SF_OK) {
            goto out;
        }
    }

    u.scheme = strdup(normalised);
    if (!u.scheme) {
        sf_set_errstr(errstr, errstr_size, "out of memory parsing the database url");
        rc = SF_ERR_NOMEM;
        goto out;
    }
    *out = u;
    return SF_OK;

out:
    sf_db_url_free(&u);
    return rc == SF_OK ? SF_ERR_INVAL : rc;
}

void sf_db_url_free(struct sf_db_url *u)
{
    if (!u) {
        return;
    }
    free(u->scheme);
    free(u->user);
    if (u->password) {
        explicit_bzero(u->password, strlen(u->password)); /* do not leave it in freed memory */
    }
    free(u->password);
    free(u->host);
    free(u->database);
    free(u->query);
    free(u->socket);
    memset(u, 0, sizeof *u);
}

/** Key ends with "password", case-insensitive (password, sslpassword, keyStorePassword...). */
static bool is_password_key(const char *key, size_t key_len)
{
    static const char suffix[] = "password";
    size_t n = sizeof suffix - 1;
    return key_len >= n && strncasecmp(key + key_len - n, suffix, n) == 0;
}

/** End of a password parameter's value: the next '&' that starts a key=value segment (a
 *  segment without '=' is taken as part of a password holding an unencoded '&'). */
static const char *password_value_end(const char *v)
{
    for (;;) {
        const char *amp = strchr(v, '&');
        if (!amp) {
            return v + strlen(v);
        }
        size_t seg_len = strcspn(amp + 1, "&");
        if (memchr(amp + 1, '=', seg_len)) {
            return amp;
        }
        v = amp + 1 + seg_len;
    }
}

char *sf_db_url_redact(const char *url)
{
    if (!url) {
        return NULL;
    }
    struct sf_buf b = SF_BUF_INIT;
    struct url_parts up;
    const char *rest = strstr(url, "://");
    split_rest(rest ? rest + 3 : url, &up);

    /* Where the userinfo ends: the '@' in the authority; else an '@' misplaced by an unencoded
     * '/' or '?'; else, when the "port" is not one, the last '@' or the end of the authority
     * (an unencoded '/' or '?' and no '@' we can trust). */
    const char *ui_end = up.at ? up.at : misplaced_at(&up);
    const char *port;
    size_t port_len;
    int port_num;
    if (!ui_end && port_span(up.auth, up.auth_len, &port, &port_len) &&
        parse_port(port, port_len, &port_num) != SF_OK) {
        ui_end = strrchr(up.rest, '@');
        if (!ui_end) {
            ui_end = up.auth + up.auth_len;
        }
    }
    const char *pos = url;
    if (ui_end) {
        const char *from = up.rest;
        if (!up.at && from[0] == '[') {
            const char *close = memchr(from, ']', (size_t)(ui_end - from));
            from = close ? close : from;
        }
        const char *colon = memchr(from, ':', (size_t)(ui_end - from));
        if (colon) {
            sf_buf_append(&b, url, (size_t)(colon + 1 - url));
            sf_buf_puts(&b, "***");
            pos = ui_end;
        }
    }

    const char *q = strchr(pos, '?');
    if (q) {
        sf_buf_append(&b, pos, (size_t)(q + 1 - pos));
        pos = q + 1;
        while (*pos) {
            size_t key_len = strcspn(pos, "=&");
            if (pos[key_len] == '=' && is_password_key(pos, key_len)) {
                sf_buf_append(&b, pos, key_len + 1);
                sf_buf_puts(&b, "***");
                pos = password_value_end(pos + key_len + 1);
            } else {
                size_t seg_len = strcspn(pos, "&");
                sf_buf_append(&b, pos, seg_len);
                pos += seg_len;
            }
            if (*pos == '&') {
                sf_buf_putc(&b, '&');
                pos++;
            }
        }
    }
    sf_buf_puts(&b, pos);
    return sf_buf_steal(&b);
}
