/* PostgreSQL connector, messages and error classes: see postgresql_errors.h. */
#include "postgresql_errors.h"

#include <string.h>

#include "sqlflume/error.h"

void pg_clean_message(const char *msg, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    if (!msg) {
        return;
    }
    const char *line = msg;
    while (*line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        const char *s = line;
        const char *end = line + n;
        if (strncmp(s, "connection to server ", 21) == 0) {
            const char *f = strstr(s, " failed: ");
            if (f && f < end) {
                s = f + 9;
            }
        }
        static const char *const sev[] = { "FATAL:  ", "ERROR:  ", "NOTICE:  ", "WARNING:  " };
        for (size_t k = 0; k < sizeof(sev) / sizeof(sev[0]); k++) {
            size_t kl = strlen(sev[k]);
            if ((size_t)(end - s) >= kl && strncmp(s, sev[k], kl) == 0) {
                s += kl;
                break;
            }
        }
        while (end > s && (end[-1] == ' ' || end[-1] == '\r' || end[-1] == '\t')) {
            end--;
        }
        if (end > s) {
            if (o > 0 && o + 2 < size) {
                out[o++] = ';';
                out[o++] = ' ';
            }
            size_t len = (size_t)(end - s);
            if (o + len >= size) {
                len = size - o - 1;
            }
            memcpy(out + o, s, len);
            o += len;
            out[o] = '\0';
        }
        if (!nl) {
            break;
        }
        line = nl + 1;
    }
}

int pg_classify(const char *state, bool conn_bad)
{
    if (conn_bad) {
        return SF_ERR_CONN;
    }
    if (!state || strlen(state) != 5) {
        return SF_ERR_CONN; /* client-side failure without a server error: treat as lost */
    }
    if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
        strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0 || strcmp(state, "53300") == 0) {
        return SF_ERR_CONN;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0 ||
        strcmp(state, "57014") == 0) {
        return SF_ERR_RETRY; /* serialization, deadlock, lock not available, statement timeout */
    }
    if (strncmp(state, "28", 2) == 0) {
        return SF_ERR_AUTH;
    }
    return SF_ERR_SQL;
}

bool pg_is_auth_failure(PGconn *pg, const char *msg)
{
    static const char *const pats[] = {
        "password authentication failed",
        "authentication failed",
        "no password supplied",
        "pg_hba.conf",
        "does not exist", /* role "x" does not exist (28000) */
        "SCRAM authentication",
        "server requested a password",
    };
    if (PQconnectionNeedsPassword(pg)) {
        return true;
    }
    if (strstr(msg, "database \"") && strstr(msg, "does not exist")) {
        return false;
    }
    for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
        if (strstr(msg, pats[i])) {
            return true;
        }
    }
    return false;
}
