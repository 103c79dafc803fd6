/*
 * PostgreSQL connector, connection parameters: the libpq keyword/value arrays built from a
 * database URL (sqlflume's fixed session settings, then the URL's query parameters passed through
 * to libpq), and their offline check by libpq. Internal to connectors/postgresql.
 */
#ifndef SQLFLUME_POSTGRESQL_PARAMS_H
#define SQLFLUME_POSTGRESQL_PARAMS_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "sqlflume/buf.h"
#include "sqlflume/connector.h"

#define PG_CONNECT_TIMEOUT "10"
#define PG_MAX_CONN_PARAMS 64

struct kv_list {
    const char *keys[PG_MAX_CONN_PARAMS + 1];
    const char *vals[PG_MAX_CONN_PARAMS + 1];
    int n;
};

/* The libpq keyword/value arrays of a URL; the arrays point into the other fields. */
struct pg_params {
    struct kv_list kv;
    struct sf_buf opts;
    char *query;
    char port[16];
    char appname[96]; /* "sqlflume pid N on HOST": names the session in pg_stat_activity (the
                       * server keeps its first 63 bytes) */
    PQconninfoOption *defs;
};

/* Set key to val in kv (a later value replaces an earlier one); a NULL val is not added, and
 * keys beyond PG_MAX_CONN_PARAMS are dropped. kv borrows key and val. The arrays are
 * NULL-terminated only by pg_params_build (and by the caller after later additions). */
void pg_kv_add(struct kv_list *kv, const char *key, const char *val);

/* Fill p from url (host, port, database, user, password, fixed settings, then the URL query
 * parameters: options, ssl, currentSchema, client_encoding, any libpq keyword); warn: log a
 * warning for each query parameter ignored. p's arrays point into p and url: url must outlive p.
 * Free with pg_params_free. Out of memory aborts. */
void pg_params_build(const struct sf_db_url *url, struct pg_params *p, bool warn);

/* Free what pg_params_build allocated in p (not p itself). */
void pg_params_free(struct pg_params *p);

/* Check url's connection parameters the way libpq reads them, without any network I/O: libpq
 * "connects" to a socket directory that cannot exist, so it checks every parameter (sslmode,
 * target_session_attrs, ...) but sends nothing anywhere. warn: as for pg_params_build.
 * @return SF_OK, SF_ERR_INVAL ("libpq rejects the connection parameters: <libpq's message>", no
 * password) or SF_ERR_NOMEM, errstr filled. */
int pg_validate(const struct sf_db_url *url, bool warn, char *errstr, size_t errstr_size);

#endif
