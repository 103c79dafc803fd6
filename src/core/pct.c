/*
 * Hex digits and percent-encoding (see sqlflume/pct.h).
 */
#include "sqlflume/pct.h"

#include <stdlib.h>
#include <string.h>

#include "sqlflume/error.h"

const char sf_hex_upper[17] = "0123456789ABCDEF";
const char sf_hex_lower[17] = "0123456789abcdef";

void sf_pct_encode(struct sf_buf *out, const char *s, size_t n, bool (*escape)(unsigned char c))
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (escape(c)) {
            char esc[3] = { '%', sf_hex_upper[c >> 4], sf_hex_upper[c & 15] };
            sf_buf_append(out, esc, 3);
        } else {
            sf_buf_putc(out, (char)c);
        }
    }
}

/* Decode p[0..n) into w (room for n bytes + NUL; w may be p: it never passes the reader).
 * @return SF_OK, or SF_ERR_INVAL for a bad or %00 escape (w then partly written). */
static int decode(const char *p, size_t n, char *w)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '%') {
            w[o++] = p[i];
            continue;
        }
        int hi = n - i >= 3 ? sf_hex_val((unsigned char)p[i + 1]) : -1;
        int lo = hi >= 0 ? sf_hex_val((unsigned char)p[i + 2]) : -1;
        if (lo < 0 || (hi == 0 && lo == 0)) {
            return SF_ERR_INVAL;
        }
        w[o++] = (char)(hi << 4 | lo);
        i += 2;
    }
    w[o] = '\0';
    return SF_OK;
}

int sf_pct_decode(const char *p, size_t n, char **out)
{
    char *s = malloc(n + 1);
    if (!s) {
        return SF_ERR_NOMEM;
    }
    int rc = decode(p, n, s);
    if (rc != SF_OK) {
        free(s);
        return rc;
    }
    *out = s;
    return SF_OK;
}

int sf_pct_decode_inplace(char *s)
{
    return decode(s, strlen(s), s);
}
