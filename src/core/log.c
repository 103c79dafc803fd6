/* Logging to stderr, one write(2) per line (see sqlflume/log.h). */
#include "sqlflume/log.h"
#include "sqlflume/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Process-wide level, written once before threads start. */
static enum sf_log_level log_level = SF_LOG_INFO;

static const char *const level_names[] = { "ERROR", "WARN ", "INFO ", "DEBUG" };

void sf_log_set_level(enum sf_log_level level)
{
    log_level = level;
}

enum sf_log_level sf_log_get_level(void)
{
    return log_level;
}

int sf_log_level_parse(const char *name, enum sf_log_level *out)
{
    static const struct {
        const char *name;
        enum sf_log_level level;
    } map[] = { { "ERROR", SF_LOG_ERROR }, { "FATAL", SF_LOG_ERROR }, { "WARN", SF_LOG_WARN },
                { "WARNING", SF_LOG_WARN }, { "INFO", SF_LOG_INFO },  { "DEBUG", SF_LOG_DEBUG },
                { "TRACE", SF_LOG_DEBUG },  { "ALL", SF_LOG_DEBUG } };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (strcasecmp(name, map[i].name) == 0) {
            *out = map[i].level;
            return SF_OK;
        }
    }
    return SF_ERR_INVAL;
}

void sf_log(enum sf_log_level level, const char *fmt, ...)
{
    if (level > log_level) {
        return;
    }
    char line[8192];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof(line), "%04d-%02d-%02d %02d:%02d:%02d.%03ldZ %s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof(line) - 2) {
        len = sizeof(line) - 2;
    }
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}
