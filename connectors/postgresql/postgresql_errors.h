/*
 * PostgreSQL connector, messages and error classes: libpq's messages made one line, the sf_err
 * class of a SQLSTATE, and the recognition of authentication failures that come without one.
 * Internal to connectors/postgresql.
 */
#ifndef SQLFLUME_POSTGRESQL_ERRORS_H
#define SQLFLUME_POSTGRESQL_ERRORS_H

#include <stdbool.h>
#include <stddef.h>

#include <libpq-fe.h>

/* libpq's message msg (NULL: none), made one line into out (size bytes, size > 0, always
 * NUL-terminated, truncated to fit): "connection to server at ... failed: " prefixes and
 * "FATAL:  " / "ERROR:  " / "NOTICE:  " / "WARNING:  " severities dropped, lines joined with
 * "; ", no trailing newline or blanks. */
void pg_clean_message(const char *msg, char *out, size_t size);

/* The sf_err class of SQLSTATE state (NULL or not 5 characters: a client-side failure, taken as
 * a lost connection); conn_bad: the connection is gone (SF_ERR_CONN whatever the state).
 * SF_ERR_CONN, SF_ERR_RETRY (serialization, deadlock, lock not available, statement timeout),
 * SF_ERR_AUTH (class 28) or SF_ERR_SQL. */
int pg_classify(const char *state, bool conn_bad);

/* Whether the failed connection attempt pg, whose one-line message is msg, failed for
 * authentication (libpq gives no SQLSTATE then): a password was needed, or msg names an
 * authentication failure, pg_hba.conf or a missing role (a missing database is not one). */
bool pg_is_auth_failure(PGconn *pg, const char *msg);

#endif
