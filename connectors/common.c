/* Helpers shared by the connectors: see common.h. */
#include "common.h"

#include <stdlib.h>
#include <string.h>

#include "sqlflume/error.h"
#include "sqlflume/pct.h"

void sfc_scrub_password(char *s, size_t size, const char *password)
{
    if (!password || strlen(password) < 4 || size == 0) {
        return;
    }
    size_t plen = strlen(password);
    char *hit;
    while ((hit = strstr(s, password)) != NULL) {
        hit[0] = hit[1] = hit[2] = '*';
        memmove(hit + 3, hit + plen, strlen(hit + plen) + 1);
    }
}

void sfc_pct_decode(char *s)
{
    char *w = s;
    for (const char *r = s; *r; r++) {
        int hi = *r == '%' ? sf_hex_val((unsigned char)r[1]) : -1;
        int lo = hi >= 0 ? sf_hex_val((unsigned char)r[2]) : -1;
        if (lo >= 0 && (hi | lo) != 0) {
            *w++ = (char)(hi << 4 | lo);
            r += 2;
            continue;
        }
        char ch = *r;
        if (ch == '+') {
            ch = ' ';
        }
        *w++ = ch;
    }
    *w = '\0';
}

int sfc_check_idle(bool running,
                   const char *db,
                   const char *where,
                   char *errstr,
                   size_t errstr_size)
{
    if (running) {
        sf_set_errstr(errstr, errstr_size,
                    "a query is still running on %s connection to %s (call query_end first)", db,
                    where);
        return SF_ERR_STATE;
    }
    return SF_OK;
}

const char *sfc_split_schema(const char *table, char **schema)
{
    *schema = NULL;
    const char *dot = strchr(table, '.');
    if (!dot || dot == table || !dot[1]) {
        return NULL;
    }
    *schema = strndup(table, (size_t)(dot - table));
    if (!*schema) {
        abort();
    }
    return dot + 1;
}

void sfc_cols_free_names(struct sf_column *cols, size_t *ncols)
{
    for (size_t i = 0; i < *ncols; i++) {
        free(cols[i].name);
        cols[i].name = NULL;
    }
    *ncols = 0;
}

bool sfc_row_count(const struct sf_row *row, long long *rows)
{
    if (row->ncols >= 1 && row->vals[0] && row->lens[0] > 0 && row->lens[0] < 32) {
        char num[32];
        memcpy(num, row->vals[0], row->lens[0]);
        num[row->lens[0]] = '\0';
        *rows = strtoll(num, NULL, 10);
        return true;
    }
    return false;
}
