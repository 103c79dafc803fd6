/*
 * Logging to stderr. One process-wide level, set once by the command line
 * (-Dflume.root.logger=LEVEL,console) before any thread starts. Lines look like
 *   2026-11-21 12:00:00.123 INFO  [sink k1 kafka] delivered 100 events
 * Messages follow PostgreSQL's style: lower case, no trailing period, names quoted.
 */
#ifndef SQLFLUME_LOG_H
#define SQLFLUME_LOG_H

enum sf_log_level { SF_LOG_ERROR = 0, SF_LOG_WARN = 1, SF_LOG_INFO = 2, SF_LOG_DEBUG = 3 };

/** Set the level; messages above it are dropped. Call before threads start. */
void sf_log_set_level(enum sf_log_level level);
enum sf_log_level sf_log_get_level(void);
/** Parse "DEBUG", "INFO", "WARN", "ERROR" (case-insensitive, Log4j's TRACE = DEBUG, FATAL = ERROR).
 *  @return SF_OK and *out set, or SF_ERR_INVAL for an unknown name. */
int sf_log_level_parse(const char *name, enum sf_log_level *out);

/** Write one line; thread-safe (one write(2) per line). */
void sf_log(enum sf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define sf_log_enabled(lvl) ((lvl) <= sf_log_get_level())
#define SF_ERROR(...) sf_log(SF_LOG_ERROR, __VA_ARGS__)
#define SF_WARN(...) sf_log(SF_LOG_WARN, __VA_ARGS__)
#define SF_INFO(...) sf_log(SF_LOG_INFO, __VA_ARGS__)
#define SF_DEBUG(...)                                                                              \
    do {                                                                                           \
        if (sf_log_enabled(SF_LOG_DEBUG)) {                                                        \
            sf_log(SF_LOG_DEBUG, __VA_ARGS__);                                                     \
        }                                                                                          \
    } while (0)

#endif
