/* PostgreSQL connector: libpq connection parameters from a URL (see postgresql_params.h). */
#include "postgresql_params.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../common.h"
#include "postgresql_errors.h"
#include "postgresql_sql.h"
#include "sqlflume/error.h"
#include "sqlflume/log.h"

/* Append "-c name=value" to an options string, escaping spaces and backslashes as libpq wants. */
static void options_add(struct sf_buf *opts, const char *name, const char *value)
{
    sf_buf_printf(opts, " -c %s=", name);
    for (const char *p = value; *p; p++) {
        if (*p == ' ' || *p == '\\') {
            sf_buf_putc(opts, '\\');
        }
        sf_buf_putc(opts, *p);
    }
}

void pg_kv_add(struct kv_list *kv, const char *key, const char *val)
{
    if (!val) {
        return;
    }
    for (int i = 0; i < kv->n; i++) { /* a later value replaces an earlier one */
        if (strcmp(kv->keys[i], key) == 0) {
            kv->vals[i] = val;
            return;
        }
    }
    if (kv->n < PG_MAX_CONN_PARAMS) {
        kv->keys[kv->n] = key;
        kv->vals[kv->n] = val;
        kv->n++;
    }
}

static bool is_libpq_keyword(const PQconninfoOption *defs, const char *key)
{
    for (const PQconninfoOption *o = defs; o && o->keyword; o++) {
        if (strcmp(o->keyword, key) == 0) {
            return true;
        }
    }
    return false;
}

/* Fill p from url (host, port, database, user, password, sqlflume's fixed settings, then the URL
 * query parameters passed through to libpq); free with pg_params_free. */
void pg_params_build(const struct sf_db_url *url, struct pg_params *p, bool warn)
{
    memset(p, 0, sizeof(*p));
    p->opts = (struct sf_buf)SF_BUF_INIT;
    p->query = url->query ? sf_xstrdup(url->query) : NULL;
    p->defs = PQconndefaults();
    struct kv_list *kv = &p->kv;
    const char *user_options = NULL;
    pg_kv_add(kv, "host", url->host);
    if (url->port > 0) {
        snprintf(p->port, sizeof(p->port), "%d", url->port);
        pg_kv_add(kv, "port", p->port);
    }
    pg_kv_add(kv, "dbname", url->database);
    pg_kv_add(kv, "user", url->user);
    pg_kv_add(kv, "password", url->password);
    pg_kv_add(kv, "connect_timeout", PG_CONNECT_TIMEOUT);
    char host[48] = "";
    if (gethostname(host, sizeof(host) - 1) != 0) {
        snprintf(host, sizeof(host), "?");
    }
    snprintf(p->appname, sizeof(p->appname), "sqlflume pid %ld on %s", (long)getpid(), host);
    pg_kv_add(kv, "application_name", p->appname);
    pg_kv_add(kv, "keepalives_idle", "60");
    pg_kv_add(kv, "keepalives_interval", "10");
    pg_kv_add(kv, "keepalives_count", "6");
    sf_buf_puts(&p->opts, PG_SESSION_OPTIONS);

    /* URL query parameters pass through to libpq (sslmode, sslrootcert, target_session_attrs...) */
    char *save = NULL;
    for (char *q = p->query ? strtok_r(p->query, "&", &save) : NULL; q;
         q = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(q, '=');
        const char *val = "";
        if (eq) {
            *eq = '\0';
            val = eq + 1;
            sfc_pct_decode(eq + 1);
        }
        if (strcmp(q, "options") == 0) {
            user_options = val;
        } else if (strcmp(q, "ssl") == 0) { /* JDBC: ssl=true */
            if (strcasecmp(val, "true") == 0) {
                pg_kv_add(kv, "sslmode", "require");
            }
        } else if (strcmp(q, "currentSchema") == 0) { /* JDBC */
            options_add(&p->opts, "search_path", val);
        } else if (strcmp(q, "client_encoding") == 0) {
            if (warn) {
                SF_WARN("postgresql connector always uses client_encoding UTF8, ignoring \"%s\"",
                        val);
            }
        } else if (is_libpq_keyword(p->defs, q)) {
            pg_kv_add(kv, q, val);
        } else if (warn) {
            SF_WARN("postgresql connector ignores unknown URL parameter \"%s\"", q);
        }
    }
    if (user_options) {
        sf_buf_putc(&p->opts, ' ');
        sf_buf_puts(&p->opts, user_options);
    }
    pg_kv_add(kv, "options", p->opts.data);
    pg_kv_add(kv, "client_encoding", "UTF8");
    kv->keys[kv->n] = NULL;
    kv->vals[kv->n] = NULL;
}

void pg_params_free(struct pg_params *p)
{
    PQconninfoFree(p->defs);
    sf_buf_free(&p->opts);
    free(p->query);
}

/* A Unix socket directory that cannot exist: validation "connects" there, so libpq checks every
 * parameter (connectOptions2: sslmode, target_session_attrs, ...) but sends nothing anywhere.
 * PQconninfoParse would not do: it checks keywords only, not their values. */
#define PG_VALIDATE_HOST "/nonexistent/sqlflume-validate"

int pg_validate(const struct sf_db_url *url, bool warn, char *errstr, size_t errstr_size)
{
    struct pg_params p;
    pg_params_build(url, &p, warn);
    pg_kv_add(&p.kv, "host", PG_VALIDATE_HOST);
    pg_kv_add(&p.kv, "hostaddr", ""); /* empty = unset for libpq */
    p.kv.keys[p.kv.n] = NULL;
    p.kv.vals[p.kv.n] = NULL;
    int rc = SF_OK;
    PGconn *pg = PQconnectStartParams(p.kv.keys, p.kv.vals, 0);
    if (!pg) {
        sf_set_errstr(errstr, errstr_size, "postgresql connection parameters: out of memory");
        rc = SF_ERR_NOMEM;
    } else if (PQstatus(pg) == CONNECTION_BAD && !strstr(PQerrorMessage(pg), PG_VALIDATE_HOST)) {
        /* libpq refused the parameters before trying the (impossible) socket */
        char msg[1024];
        pg_clean_message(PQerrorMessage(pg), msg, sizeof(msg));
        sf_set_errstr(errstr, errstr_size, "libpq rejects the connection parameters: %s",
                    msg[0] ? msg : "unknown error");
        if (errstr) {
            sfc_scrub_password(errstr, errstr_size, url->password);
        }
        rc = SF_ERR_INVAL;
    }
    PQfinish(pg);
    pg_params_free(&p);
    return rc;
}
