/*
 * Micro-benchmark of the row body encoders (src/format/): encodes the same 5-column row, and a
 * row with one 4 KiB text value, over and over into one reused buffer, as a sink does per event,
 * and prints rows/s and MB/s of output for json, csv and text on one core. Not a CMake target;
 * build and run from the repository root with
 *
 *   cc -O2 -std=gnu11 -D_GNU_SOURCE -Isrc/include -Isrc/format bench/format_bench.c \
 *      src/format/json.c src/format/csv.c src/format/text.c src/format/format.c \
 *      src/format/base64.c src/core/buf.c -o /tmp/format_bench && /tmp/format_bench [seconds]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sqlflume/buf.h"
#include "sqlflume/format.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(const char *label,
                const struct sf_format *fmt,
                const struct sf_column *cols,
                const struct sf_row *row,
                double seconds)
{
    struct sf_buf out = SF_BUF_INIT;
    size_t rows = 0, bytes = 0;
    double start = now_s(), elapsed;
    do {
        for (int i = 0; i < 10000; i++) {
            sf_buf_reset(&out);
            sf_format_row(fmt, cols, row, &out);
            bytes += out.len;
        }
        rows += 10000;
        elapsed = now_s() - start;
    } while (elapsed < seconds);
    printf("%-28s %12.0f rows/s %9.1f MB/s  (%zu bytes/row)\n", label, (double)rows / elapsed,
           (double)bytes / elapsed / 1e6, out.len);
    sf_buf_free(&out);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 1.0;
    struct sf_column cols[5] = {
        { "id", SF_COL_INT },         { "customer", SF_COL_TEXT },
        { "amount", SF_COL_DECIMAL }, { "created_at", SF_COL_TEMPORAL },
        { "note", SF_COL_TEXT },
    };
    const char *vals[5] = { "1234567", "Alice Example <alice@example.com>", "1234.56",
                            "2024-01-02 03:04:05", "caf\xc3\xa9 \"quoted\", ok" };
    size_t lens[5];
    for (int i = 0; i < 5; i++) {
        lens[i] = strlen(vals[i]);
    }
    struct sf_row row = { 5, vals, lens };

    static char big[4096];
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (char)('a' + i % 26);
    }
    const char *big_vals[1] = { big };
    size_t big_lens[1] = { sizeof big };
    struct sf_column big_cols[1] = { { "body", SF_COL_TEXT } };
    struct sf_row big_row = { 1, big_vals, big_lens };

    const struct sf_format json = { .kind = SF_FORMAT_JSON };
    const struct sf_format csv = { .kind = SF_FORMAT_CSV };
    const struct sf_format text = { .kind = SF_FORMAT_TEXT };
    run("json, 5 columns", &json, cols, &row, seconds);
    run("csv, 5 columns", &csv, cols, &row, seconds);
    run("text, 5 columns", &text, cols, &row, seconds);
    run("json, one 4 KiB text value", &json, big_cols, &big_row, seconds);
    run("csv, one 4 KiB text value", &csv, big_cols, &big_row, seconds);
    return 0;
}
