/*
 * Shared allocation helpers. Two families:
 *  - sf_strndup / sf_memdup return NULL on out of memory; the caller handles it.
 *  - sf_xstrdup / sf_xrealloc / sf_xcalloc print "sqlflume: out of memory" to stderr and abort,
 *    for call sites that have no error path (as sf_buf does). Zero sizes allocate one byte so
 *    the result is never NULL.
 * Everything returned is owned by the caller and freed with free().
 */
#ifndef SQLFLUME_MEM_H
#define SQLFLUME_MEM_H

#include <stddef.h>

/** Copy n bytes of p into a new NUL-terminated string (n + 1 bytes); NULL on out of memory. */
char *sf_strndup(const void *p, size_t n);
/** Copy n bytes of p into a new block; NULL on out of memory. */
void *sf_memdup(const void *p, size_t n);
/** strdup that aborts on out of memory; never NULL. */
char *sf_xstrdup(const char *s);
/** realloc that aborts on out of memory; never NULL. */
void *sf_xrealloc(void *p, size_t n);
/** calloc that aborts on out of memory; never NULL. */
void *sf_xcalloc(size_t n, size_t size);

#endif
