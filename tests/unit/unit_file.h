/*
 * A file read whole, for the unit tests that check what a component wrote.
 */
#ifndef SF_TESTS_UNIT_FILE_H
#define SF_TESTS_UNIT_FILE_H

#include <stdio.h>

#include "sqlflume/buf.h"

/** The bytes of the file path in a new NUL-terminated block (the caller frees it), their count
 *  in *len; NULL when the file cannot be opened (errno tells why). */
static inline char *sf_unit_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    struct sf_buf b = SF_BUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        sf_buf_append(&b, chunk, n);
    }
    fclose(f);
    *len = b.len;
    return sf_buf_steal(&b);
}

#endif
