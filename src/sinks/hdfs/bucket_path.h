/*
 * The HDFS sink's path templates, after Flume's BucketPath (hdfs.path, hdfs.filePrefix,
 * hdfs.fileSuffix): escape sequences replaced per event, from its headers, its time and the host.
 *
 *   %{name}      the value of header name; "" when the event has no such header (as Flume)
 *   %t           the event time in ms since the epoch; %s in seconds
 *   %a %A        weekday, short (Mon) and full (Monday), English
 *   %b %B        month name, short (Jan) and full (January), English
 *   %c           date and time as "Thu Mar 3 23:05:25 2005" (Java's "EEE MMM d HH:mm:ss yyyy")
 *   %d %e        day of month, 01..31 and 1..31
 *   %D           %m/%d/%y
 *   %H %k        hour 00..23 and 0..23; %I %l hour 01..12 and 1..12; %p AM or PM
 *   %j           day of year, 001..366
 *   %m %n        month 01..12 and 1..12
 *   %M %S        minute and second, 00..59
 *   %y %Y        year, two digits and four
 *   %z           UTC offset as +hhmm
 *   %[localhost] %[IP] %[FQDN]  the host's name, address and canonical name (resolved once)
 *
 * Any other character after '%' is refused when the template is compiled, so a typo fails the
 * configuration instead of landing files in a literal path. The time escapes use the event's
 * `timestamp` header (ms), or the sink's clock with hdfs.useLocalTimeStamp, rounded down with
 * hdfs.round / roundValue / roundUnit in the sink's time zone (hdfs.timeZone), as Flume does
 * (TimestampRoundDownUtil: the unit's field is rounded down to a multiple of roundValue and the
 * smaller fields are zeroed).
 */
#ifndef SQLFLUME_HDFS_BUCKET_PATH_H
#define SQLFLUME_HDFS_BUCKET_PATH_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/buf.h"
#include "sqlflume/event.h"

/* ---------- time zones ---------- */

/** A time zone: the process's local zone, UTC, a fixed offset or a zone of the system's tz
 *  database (/usr/share/zoneinfo, TZif files). Immutable once loaded; share between threads. */
struct sf_tz;

/**
 * Load the zone named name, as Java's TimeZone IDs name them: NULL, "" or "local" (the process's
 * zone, via localtime_r), "UTC"/"GMT"/"Z", a fixed offset "GMT+hh:mm"/"UTC-hh"/"+hhmm", or a tz
 * database name such as "America/Los_Angeles" (read once from /usr/share/zoneinfo or $TZDIR; a
 * time after the file's last transition keeps that transition's offset).
 * @param out  gets the zone; free with sf_tz_free
 * @param err  gets the reason on failure (errsz bytes)
 * @return SF_OK, SF_ERR_INVAL (unknown zone, unreadable or malformed file) or SF_ERR_NOMEM.
 */
int sf_tz_load(const char *name, struct sf_tz **out, char *err, size_t errsz);
/** Free tz (NULL is a no-op). */
void sf_tz_free(struct sf_tz *tz);
/** The zone's offset from UTC in seconds at time t (seconds since the epoch). */
long sf_tz_offset(const struct sf_tz *tz, long long t);

/* ---------- templates ---------- */

enum sf_round_unit { SF_ROUND_SECOND, SF_ROUND_MINUTE, SF_ROUND_HOUR };

/** How the time escapes see an event's time. */
struct sf_bucket_time {
    const struct sf_tz *tz;   /* borrowed; NULL = UTC */
    bool round;               /* hdfs.round */
    int round_value;          /* hdfs.roundValue, >= 1 */
    enum sf_round_unit unit;  /* hdfs.roundUnit */
};

/** The host names of %[localhost], %[IP] and %[FQDN], resolved once (sf_bucket_host_init). */
struct sf_bucket_host {
    char localhost[256];
    char ip[64];
    char fqdn[256];
};

/** A compiled template: pieces of literal text and escapes. */
struct sf_bucket_path {
    struct bp_piece *pieces; /* owned */
    size_t n;
    bool needs_time;   /* some escape reads the event time */
    bool needs_host;   /* some escape reads the host names */
    bool has_escapes;  /* the path varies per event */
};

/**
 * Compile tmpl into bp (zeroed by the caller, or freed before reuse).
 * @return SF_OK; SF_ERR_INVAL with err naming the escape and its position ("unknown escape %x
 * at character 12", "unterminated %{ at character 3", "%[...] knows localhost, IP and FQDN");
 * SF_ERR_NOMEM.
 */
int sf_bucket_path_compile(struct sf_bucket_path *bp, const char *tmpl, char *err, size_t errsz);
/** Free what bp holds; bp can be compiled again. A zeroed bp is a no-op. */
void sf_bucket_path_free(struct sf_bucket_path *bp);

/**
 * Fill h with this host's name (gethostname), an address it resolves to and its canonical name
 * (getaddrinfo with AI_CANONNAME); what cannot be resolved falls back to the host name, then to
 * "localhost"/"127.0.0.1", with a WARN line. Does DNS I/O: call once, at the sink's start.
 */
void sf_bucket_host_init(struct sf_bucket_host *h);

/** ts_ms rounded down as bt says (unchanged unless bt->round); in bt->tz's local time. */
long long sf_bucket_round(long long ts_ms, const struct sf_bucket_time *bt);

/**
 * Append bp expanded for ev to out.
 * @param ev  borrowed; its headers feed %{name}
 * @param ts_ms  the event time, already rounded (sf_bucket_round); ignored unless bp->needs_time
 * @param bt  the zone for the time escapes (borrowed)
 * @param host  borrowed; may be NULL unless bp->needs_host
 */
void sf_bucket_path_expand(const struct sf_bucket_path *bp,
                           const struct sf_event *ev,
                           long long ts_ms,
                           const struct sf_bucket_time *bt,
                           const struct sf_bucket_host *host,
                           struct sf_buf *out);

#endif
