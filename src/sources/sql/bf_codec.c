/* bf_codec.c: the backfill's progress codec (see sql_int.h). */
#include "sql_int.h"

#include "sqlflume/pct.h"

void sq_bf_prog_free(struct bf_prog *p)
{
    free(p->key);
    free(p->hwm);
    memset(p, 0, sizeof(*p));
}

/* bf_escape escapes '%' and ';' (';' separates the fields) */
static bool bf_escaped(unsigned char c)
{
    return c == '%' || c == ';';
}

/* Append s percent-escaped where bf_escaped says. */
static void bf_escape(struct sf_buf *out, const char *s)
{
    sf_pct_encode(out, s, strlen(s), bf_escaped);
}

/* Undo bf_escape on s[0..len). @return malloc'd text, or NULL for a bad escape (or no memory). */
static char *bf_unescape(const char *s, size_t len)
{
    char *r = NULL;
    return sf_pct_decode(s, len, &r) == SF_OK ? r : NULL;
}

static bool parse_count(const char *s, size_t len, long long *out)
{
    if (len == 0 || len > 18) {
        return false;
    }
    long long v = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

/* Parse "chunk=N;rows=R;key=K;hwm=H", "done;rows=R;hwm=H" or "done" (unknown name=value fields
 * are skipped). @return SF_OK, or SF_ERR_INVAL (*p empty) when s is not backfill progress. */
int sq_bf_parse(const char *s, struct bf_prog *p)
{
    memset(p, 0, sizeof(*p));
    while (*s) {
        size_t len = strcspn(s, ";");
        const char *eq = memchr(s, '=', len);
        size_t nlen = eq ? (size_t)(eq - s) : len;
        const char *v = eq ? eq + 1 : s + len;
        size_t vlen = (size_t)(s + len - v);
        bool ok = true;
        if (!eq) {
            ok = len == 4 && strncmp(s, "done", 4) == 0;
            p->done = p->done || ok;
        } else if (nlen == 5 && strncmp(s, "chunk", 5) == 0) {
            ok = parse_count(v, vlen, &p->chunks);
            p->has_chunk = true;
        } else if (nlen == 4 && strncmp(s, "rows", 4) == 0) {
            ok = parse_count(v, vlen, &p->rows);
        } else if (nlen == 3 && strncmp(s, "key", 3) == 0) {
            free(p->key);
            p->key = bf_unescape(v, vlen);
            ok = p->key != NULL;
        } else if (nlen == 3 && strncmp(s, "hwm", 3) == 0) {
            free(p->hwm);
            p->hwm = bf_unescape(v, vlen);
            ok = p->hwm != NULL;
        }
        if (!ok) {
            sq_bf_prog_free(p);
            return SF_ERR_INVAL;
        }
        s += len;
        if (*s == ';') {
            s++;
        }
    }
    if (p->done || (p->has_chunk && p->hwm)) {
        return SF_OK;
    }
    sq_bf_prog_free(p);
    return SF_ERR_INVAL;
}

/* Encode progress into b (reset). @return false when it is longer than currentIndex holds. */
bool sq_bf_encode(struct sf_buf *b,
                  bool done,
                  long long chunks,
                  long long rows,
                  const char *key,
                  const char *hwm)
{
    sf_buf_reset(b);
    if (done) {
        sf_buf_printf(b, "done;rows=%lld", rows);
    } else {
        sf_buf_printf(b, "chunk=%lld;rows=%lld", chunks, rows);
        if (key) {
            sf_buf_puts(b, ";key=");
            bf_escape(b, key);
        }
    }
    if (hwm) {
        sf_buf_puts(b, ";hwm=");
        bf_escape(b, hwm);
    }
    return b->len <= BF_VALUE_MAX;
}

/* How far progress got: rows delivered; done beats everything. */
long long sq_bf_rank(const struct bf_prog *p)
{
    return p->done ? LLONG_MAX : p->rows;
}
