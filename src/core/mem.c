/* Shared allocation helpers (see sqlflume/mem.h). */
#include "sqlflume/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *sf_strndup(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

void *sf_memdup(const void *p, size_t n)
{
    void *d = malloc(n ? n : 1);
    if (d && n) {
        memcpy(d, p, n);
    }
    return d;
}

char *sf_xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (!p) {
        fprintf(stderr, "sqlflume: out of memory\n");
        abort();
    }
    memcpy(p, s, n);
    return p;
}

void *sf_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) {
        fprintf(stderr, "sqlflume: out of memory allocating %zu bytes\n", n);
        abort();
    }
    return q;
}

void *sf_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);
    if (!p) {
        fprintf(stderr, "sqlflume: out of memory\n");
        abort();
    }
    return p;
}
