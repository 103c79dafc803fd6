/*
 * Error codes shared by every sqlflume module (librdkafka's idea: one enum plus a description
 * table). SF_OK is 0, every error is negative. sf_err_retriable() tells whether a caller should
 * roll back, back off and try again (Flume's BACKOFF) or stop the component with one message.
 */
#ifndef SQLFLUME_ERROR_H
#define SQLFLUME_ERROR_H

#include <stdbool.h>
#include <stddef.h>

enum sf_err {
    SF_OK = 0,
    SF_ERR_NOMEM = -1,     /* out of memory (fatal) */
    SF_ERR_INVAL = -2,     /* invalid argument or configuration (fatal) */
    SF_ERR_TIMEOUT = -3,   /* waited keep-alive / timeout without progress (retriable) */
    SF_ERR_STATE = -4,     /* call not allowed in this transaction state (fatal, a bug) */
    SF_ERR_FULL = -5,      /* channel full, or a transaction's capacity exceeded (retriable) */
    SF_ERR_CONN = -6,      /* connection lost / server unreachable (retriable) */
    SF_ERR_AUTH = -7,      /* authentication failed (fatal) */
    SF_ERR_SQL = -8,       /* SQL error the server reported, e.g. missing table (fatal) */
    SF_ERR_IO = -9,        /* local I/O failure (retriable) */
    SF_ERR_DELIVERY = -10, /* a sink could not deliver a batch (retriable) */
    SF_ERR_STOPPED = -11,  /* the component was asked to stop */
    SF_ERR_NOTFOUND = -12, /* a looked-up item does not exist */
    SF_ERR_DATA = -13,     /* a value could not be encoded (row-level) */
    SF_ERR_RETRY = -14,    /* transient server-side failure: deadlock, lock wait (retriable) */
    SF_ERR_EXISTS = -15,   /* the item to create exists already (a file name taken) */
    SF_ERR_CORRUPT = -16,  /* stored data fails its format checks: a malformed or truncated
                            * record (fatal for that record) */
};

/** Static description of an error code ("connection lost"); never NULL. */
const char *sf_err_str(int err);

/** true when the error is worth a rollback + backoff + retry (connection, timeout, full...). */
bool sf_err_retriable(int err);

/**
 * Format a message into errstr (errstr_size bytes, truncated to fit and NUL-terminated), as
 * snprintf. Does nothing when errstr is NULL or errstr_size is 0, so callers may pass an
 * optional buffer through. Never fails.
 */
__attribute__((format(printf, 3, 4))) void
sf_set_errstr(char *errstr, size_t errstr_size, const char *fmt, ...);

#endif
