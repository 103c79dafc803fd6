/* progress.c: backfill progress reports: rate, ETA, bar (see sql_int.h). */
#include "sql_int.h"

/* 1234 -> "1234", 123456 -> "123.5k", 12345678 -> "12.3M" */
static void human_count(double v, char *out, size_t outsz)
{
    if (v < 10000) {
        snprintf(out, outsz, "%.0f", v);
    } else if (v < 1e6) {
        snprintf(out, outsz, "%.1fk", v / 1e3);
    } else if (v < 1e9) {
        snprintf(out, outsz, "%.1fM", v / 1e6);
    } else {
        snprintf(out, outsz, "%.1fG", v / 1e9);
    }
}

static void human_duration(double secs, char *out, size_t outsz)
{
    long long s = (long long)(secs + 0.5);
    if (s < 60) {
        snprintf(out, outsz, "%llds", s);
    } else if (s < 3600) {
        snprintf(out, outsz, "%lldm%02llds", s / 60, s % 60);
    } else {
        snprintf(out, outsz, "%lldh%02lldm", s / 3600, s % 3600 / 60);
    }
}

/* Clear the progress bar line (before the backfill's last log line, and at stop). */
void sq_bar_clear(struct sql_ctx *c)
{
    if (c->bar_shown) {
        ssize_t w = write(STDERR_FILENO, "\r\033[K", 4);
        (void)w;
        c->bar_shown = false;
    }
}

/* Progress of the table's backfill: a log line at most every BF_LOG_MS (rows read of the
 * estimate, rate, ETA) and, when stderr is a terminal, a one-line bar redrawn in place. The bar
 * ends with '\r' so that a log line written meanwhile overwrites it rather than following it. */
void sq_bf_report(struct sf_source *src, struct sql_table *t)
{
    struct sql_ctx *c = src->ctx;
    long long now = sf_mono_ms();
    bool log_due = now - t->bf_log_ms >= BF_LOG_MS;
    bool bar_due = c->tty && now - t->bf_bar_ms >= BF_BAR_MS;
    if (!log_due && !bar_due) {
        return;
    }
    double secs = (double)(now - t->bf_start_ms) / 1000.0;
    double rate = secs > 0.001 ? (double)(t->bf_rows - t->bf_rows_run0) / secs : 0.0;
    long long est = t->bf_estimate;
    if (est >= 0 && est < t->bf_rows) {
        est = t->bf_rows; /* statistics are estimates: never show more than 100% */
    }
    char eta[32] = "?", rate_s[16], rows_s[16], est_s[16];
    if (est > 0 && rate > 0) {
        human_duration((double)(est - t->bf_rows) / rate, eta, sizeof(eta));
    }
    double pct = est > 0 ? 100.0 * (double)t->bf_rows / (double)est : 0.0;
    if (bar_due) {
        t->bf_bar_ms = now;
        human_count(rate, rate_s, sizeof(rate_s));
        human_count((double)t->bf_rows, rows_s, sizeof(rows_s));
        char line[192];
        int len;
        if (est > 0) {
            char cells[21];
            int full = (int)(pct / 5.0);
            for (int i = 0; i < 20; i++) {
                cells[i] = i < full ? '#' : '.';
            }
            cells[20] = '\0';
            human_count((double)est, est_s, sizeof(est_s));
            len = snprintf(line, sizeof(line),
                           "\r\033[Kbackfill %.20s [%s] %3.0f%% %s/%s rows %s/s ETA %s\r",
                           t->status_key, cells, pct, rows_s, est_s, rate_s, eta);
        } else {
            len = snprintf(line, sizeof(line), "\r\033[Kbackfill %.20s %s rows %s/s\r",
                           t->status_key, rows_s, rate_s);
        }
        if (len > 0) {
            ssize_t w = write(STDERR_FILENO, line,
                              (size_t)len < sizeof(line) ? (size_t)len : sizeof(line) - 1);
            (void)w;
            c->bar_shown = true;
        }
    }
    if (log_due) {
        t->bf_log_ms = now;
        if (est > 0) {
            SF_INFO(SF_SOURCE_FMT "table \"%s\": backfill at chunk %lld: %lld of about %lld rows "
                                  "(%.0f%%), %.0f rows/s, ETA %s",
                    SF_SOURCE_ARGS(src), t->status_key, t->bf_chunks, t->bf_rows, est, pct, rate,
                    eta);
        } else {
            SF_INFO(SF_SOURCE_FMT "table \"%s\": backfill at chunk %lld: %lld rows (total "
                                  "unknown), %.0f rows/s",
                    SF_SOURCE_ARGS(src), t->status_key, t->bf_chunks, t->bf_rows, rate);
        }
    }
}
