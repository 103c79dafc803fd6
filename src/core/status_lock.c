/* Status-key lock identity (see sqlflume/status_lock.h). */
#include "sqlflume/status_lock.h"

#include <stdio.h>

uint64_t sf_status_lock_id(const char *database, const char *status_table, const char *status_key)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    const char *parts[3] = { database ? database : "", status_table, status_key };
    for (size_t i = 0; i < 3; i++) {
        if (i) {
            h = (h ^ (unsigned char)'\n') * 0x100000001b3ULL;
        }
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++) {
            h = (h ^ *p) * 0x100000001b3ULL;
        }
    }
    return h;
}

const char *sf_status_lock_param(uint64_t id, char *out, size_t outsz)
{
    snprintf(out, outsz, "%lld", (long long)(int64_t)id);
    return out;
}
