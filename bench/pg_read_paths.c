/*
 * The two ways of reading a PostgreSQL result that issue 12 compares, timed side by side on one
 * connection with nothing else of sqlflume in the way: a ROWS-row query read in LIMIT chunks of
 * `limit` rows (WHERE id > last ORDER BY id LIMIT n, the SQL source's poll) either
 *   cursor  as connector_postgresql.c reads it: pipeline mode, BEGIN, DECLARE ... NO SCROLL CURSOR,
 *           FETCH FORWARD 1000 with two FETCHes in flight, COMMIT; one PQgetisnull, PQgetvalue
 *           and PQgetlength per field
 *   copy    COPY (SELECT ...) TO STDOUT in text format, one PQgetCopyData buffer per row, each
 *           field split at its tab and decoded (\N, the backslash escapes, \NNN octal) in place
 * Each round runs both, cursor first, and prints the wall time and the client's CPU time of each.
 * The first query of a fresh server process is slower whichever path runs it (pass `warm` to run
 * one COPY pass first).
 *   cc -O2 bench/pg_read_paths.c -I$(pg_config --includedir) -lpq -o pg_read_paths
 *   pg_read_paths CONNINFO LIMIT ROUNDS ROWS [warm]
 * The table is bench/run.sh's bench (id, name, amount, created, note).
 */
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUERY "SELECT id, name, amount, created, note FROM bench WHERE id > %ld ORDER BY id LIMIT %d"
#define NCOLS 5

static unsigned long consumed; /* every value is looked at, so that nothing is optimised away */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void use(const char *v, size_t n)
{
    if (n > 0) {
        consumed += (unsigned char)v[0] + n;
    }
}

static void die(PGconn *pg, const char *what)
{
    fprintf(stderr, "%s: %s\n", what, PQerrorMessage(pg));
    exit(1);
}

static void send_q(PGconn *pg, const char *sql)
{
    if (PQsendQueryParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0) != 1) {
        die(pg, sql);
    }
}

static void send_fetch(PGconn *pg)
{
    send_q(pg, "FETCH FORWARD 1000 FROM sf_cursor");
    PQpipelineSync(pg);
}

static long read_cursor(PGconn *pg, long from, int limit)
{
    char q[256], sql[320];
    snprintf(q, sizeof(q), QUERY, from, limit);
    snprintf(sql, sizeof(sql), "DECLARE sf_cursor NO SCROLL CURSOR FOR %s", q);
    if (PQenterPipelineMode(pg) != 1) {
        die(pg, "pipeline mode");
    }
    send_q(pg, "BEGIN");
    send_q(pg, sql);
    send_fetch(pg);
    send_fetch(pg);
    int inflight = 2;
    bool ending = false;
    long rows = 0;
    while (inflight > 0) {
        PGresult *batch = NULL, *r;
        int nulls = 0;
        for (;;) { /* one sync group */
            r = PQgetResult(pg);
            if (!r) {
                if (++nulls > 1) {
                    die(pg, "connection lost");
                }
                continue;
            }
            nulls = 0;
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_PIPELINE_SYNC) {
                PQclear(r);
                break;
            }
            if (st == PGRES_TUPLES_OK && PQnfields(r) == NCOLS && !batch) {
                batch = r;
                continue;
            }
            if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
                die(pg, PQresultErrorMessage(r));
            }
            PQclear(r);
        }
        inflight--;
        int n = batch ? PQntuples(batch) : 0;
        if (!ending) {
            if (n >= 1000) {
                send_fetch(pg);
            } else {
                ending = true;
                send_q(pg, "COMMIT");
                PQpipelineSync(pg);
            }
            inflight++;
        }
        for (int i = 0; i < n; i++) {
            for (int f = 0; f < NCOLS; f++) {
                if (!PQgetisnull(batch, i, f)) {
                    use(PQgetvalue(batch, i, f), (size_t)PQgetlength(batch, i, f));
                }
            }
            rows++;
        }
        PQclear(batch);
    }
    PQexitPipelineMode(pg);
    return rows;
}

/* Decode one COPY text field of n bytes in place. @return its length, -1 for \N (NULL). */
static long copy_decode(char *s, size_t n)
{
    if (n == 2 && s[0] == '\\' && s[1] == 'N') {
        return -1;
    }
    char *bs = memchr(s, '\\', n);
    if (!bs) {
        return (long)n;
    }
    char *o = bs, *p = bs, *e = s + n;
    while (p < e) {
        if (*p != '\\') {
            *o++ = *p++;
            continue;
        }
        if (++p >= e) {
            break;
        }
        char ch = *p++;
        switch (ch) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'v': *o++ = '\v'; break;
        default:
            if (ch >= '0' && ch <= '7') {
                int v = ch - '0';
                for (int k = 0; k < 2 && p < e && *p >= '0' && *p <= '7'; k++) {
                    v = v * 8 + (*p++ - '0');
                }
                *o++ = (char)v;
            } else {
                *o++ = ch;
            }
        }
    }
    return o - s;
}

static long read_copy(PGconn *pg, long from, int limit)
{
    char q[256], sql[320];
    snprintf(q, sizeof(q), QUERY, from, limit);
    snprintf(sql, sizeof(sql), "COPY (%s) TO STDOUT", q);
    if (!PQsendQuery(pg, sql)) {
        die(pg, "COPY");
    }
    PGresult *r = PQgetResult(pg);
    if (PQresultStatus(r) != PGRES_COPY_OUT) {
        die(pg, "COPY");
    }
    PQclear(r);
    long rows = 0;
    char *buf;
    int len;
    while ((len = PQgetCopyData(pg, &buf, 0)) > 0) {
        char *p = buf, *e = buf + len - 1; /* without the row's newline */
        for (int f = 0; f < NCOLS; f++) {
            char *t = memchr(p, '\t', (size_t)(e - p));
            if (!t) {
                t = e;
            }
            long l = copy_decode(p, (size_t)(t - p));
            if (l >= 0) {
                use(p, (size_t)l);
            }
            p = t + 1;
        }
        rows++;
        PQfreemem(buf);
    }
    if (len == -2) {
        die(pg, "PQgetCopyData");
    }
    while ((r = PQgetResult(pg)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            die(pg, "end of COPY");
        }
        PQclear(r);
    }
    return rows;
}

typedef long (*read_fn)(PGconn *, long, int);

static long read_all(PGconn *pg, read_fn fn, int limit, long total, double *wall, double *cpu)
{
    double t0 = now_s();
    clock_t c0 = clock();
    long rows = 0;
    for (long from = 0; from < total; from += limit) {
        rows += fn(pg, from, limit);
    }
    *wall = now_s() - t0;
    *cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    return rows;
}

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s CONNINFO LIMIT ROUNDS ROWS [warm]\n", argv[0]);
        return 2;
    }
    PGconn *pg = PQconnectdb(argv[1]);
    if (PQstatus(pg) != CONNECTION_OK) {
        die(pg, "connect");
    }
    int limit = atoi(argv[2]), rounds = atoi(argv[3]);
    long total = atol(argv[4]);
    double w1, c1, w2, c2;
    if (argc > 5) {
        read_all(pg, read_copy, limit, total, &w1, &c1);
    }
    for (int i = 0; i < rounds; i++) {
        long n1 = read_all(pg, read_cursor, limit, total, &w1, &c1);
        long n2 = read_all(pg, read_copy, limit, total, &w2, &c2);
        printf("round %d, LIMIT %d: cursor %ld rows %.3f s (client CPU %.3f s), copy %ld rows %.3f s "
               "(client CPU %.3f s), copy/cursor wall %.2f\n",
               i + 1, limit, n1, w1, c1, n2, w2, c2, w2 / w1);
    }
    fprintf(stderr, "(%lu)\n", consumed);
    PQfinish(pg);
    return 0;
}
