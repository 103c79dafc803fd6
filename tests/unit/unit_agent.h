/*
 * Helpers of the unit tests that build agents from properties text and look at the diagnostics
 * (tests/unit/core/test_agent.c, test_selector.c, test_sink_group.c).
 */
#ifndef SF_TESTS_UNIT_AGENT_H
#define SF_TESTS_UNIT_AGENT_H

#include <stdbool.h>
#include <string.h>

#include "sqlflume/agent.h"
#include "sqlflume/option.h"

/** Build (and destroy) agent a1 from text, read as the file "agent.conf"; every error and warning
 *  goes to d (caller frees with sf_diag_free). @return the number of errors in d */
static inline size_t unit_agent_diag(const char *text, struct sf_diag *d)
{
    struct sf_props p = { 0 };
    sf_props_parse(&p, "agent.conf", text, d);
    struct sf_agent *a = sf_agent_create("a1", &p, d);
    size_t n = d->nerrors;
    sf_agent_destroy(a);
    sf_props_free(&p);
    return n;
}

/** Predicate: one of v[0..n) is want exactly. */
static inline bool unit_has_exact(char *const *v, size_t n, const char *want)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(v[i], want) == 0) {
            return true;
        }
    }
    return false;
}

/** Predicate: one of v[0..n) contains needle. */
static inline bool unit_has_msg(char *const *v, size_t n, const char *needle)
{
    for (size_t i = 0; i < n; i++) {
        if (strstr(v[i], needle)) {
            return true;
        }
    }
    return false;
}

#endif
