/*
 * Growable byte buffer used by encoders and SQL builders. The buffer owns data; data is always
 * NUL-terminated after len bytes (so it can be used as a C string when it holds text).
 * Allocation failure aborts the process (sf_buf_reserve): every caller would otherwise have to
 * turn it into a fatal error anyway, and the hot path stays branch-free.
 */
#ifndef SQLFLUME_BUF_H
#define SQLFLUME_BUF_H

#include <stddef.h>
#include <string.h>

struct sf_buf {
    char *data; /* owned; NULL until the first append */
    size_t len; /* bytes used, excluding the terminating NUL */
    size_t cap; /* bytes allocated */
};

#define SF_BUF_INIT {NULL, 0, 0}

/** Make room for extra more bytes (+1 for the NUL). Aborts on out of memory. */
void sf_buf_grow(struct sf_buf *b, size_t extra);
/** Free the data and reset to SF_BUF_INIT. */
void sf_buf_free(struct sf_buf *b);
/** Append formatted text. */
void sf_buf_printf(struct sf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Hand the data to the caller (who frees it with free()) and reset b; never NULL. */
char *sf_buf_steal(struct sf_buf *b);

static inline void sf_buf_reserve(struct sf_buf *b, size_t extra)
{
    if (b->cap - b->len <= extra) {
        sf_buf_grow(b, extra);
    }
}
static inline void sf_buf_reset(struct sf_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}
static inline void sf_buf_append(struct sf_buf *b, const void *p, size_t n)
{
    sf_buf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}
static inline void sf_buf_puts(struct sf_buf *b, const char *s)
{
    sf_buf_append(b, s, strlen(s));
}
static inline void sf_buf_putc(struct sf_buf *b, char c)
{
    sf_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

#endif
