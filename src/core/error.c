/* Error descriptions and retriable/fatal classes (see sqlflume/error.h). */
#include "sqlflume/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *sf_err_str(int err)
{
    switch (err) {
    case SF_OK:
        return "success";
    case SF_ERR_NOMEM:
        return "out of memory";
    case SF_ERR_INVAL:
        return "invalid argument";
    case SF_ERR_TIMEOUT:
        return "timed out";
    case SF_ERR_STATE:
        return "not allowed in this state";
    case SF_ERR_FULL:
        return "channel full";
    case SF_ERR_CONN:
        return "connection failed";
    case SF_ERR_AUTH:
        return "authentication failed";
    case SF_ERR_SQL:
        return "SQL error";
    case SF_ERR_IO:
        return "I/O error";
    case SF_ERR_DELIVERY:
        return "delivery failed";
    case SF_ERR_STOPPED:
        return "stopped";
    case SF_ERR_NOTFOUND:
        return "not found";
    case SF_ERR_DATA:
        return "value cannot be encoded";
    case SF_ERR_RETRY:
        return "transient server error";
    case SF_ERR_EXISTS:
        return "already exists";
    case SF_ERR_CORRUPT:
        return "corrupt data";
    default:
        return "unknown error";
    }
}

bool sf_err_retriable(int err)
{
    switch (err) {
    case SF_ERR_TIMEOUT:
    case SF_ERR_FULL:
    case SF_ERR_CONN:
    case SF_ERR_IO:
    case SF_ERR_DELIVERY:
    case SF_ERR_RETRY:
        return true;
    default:
        return false;
    }
}

void sf_set_errstr(char *errstr, size_t errstr_size, const char *fmt, ...)
{
    if (!errstr || errstr_size == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    /* truncation is fine; the NOLINT is the analyzer misreading _FORTIFY_SOURCE's wrapper */
    (void)vsnprintf(errstr, errstr_size, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
}
