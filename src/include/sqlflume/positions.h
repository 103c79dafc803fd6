/*
 * Delivered positions: what a sink has already delivered of each (destination, table), so that
 * rows the source reads again after a crash (the memory channel loses its events, flume_meta lags
 * delivery, a durable channel gives back the batch in flight) are not delivered twice. Used by
 * the Kafka sink's exactly-once mode (destination: the topic; the set travels in a Kafka
 * transaction) and by the file sinks' state files (destination: ""; the set is written with the
 * files' committed lengths). docs/DESIGN.md, "Exactly-once positions", gives the reasoning.
 *
 * Per pair: while every offset is an integer (int_mode) the delivered set is kept as the span
 * floor..hw less its gaps (struct sf_gapset, at most SF_POS_GAPS_MAX gap ranges, the lowest given
 * up first: a gap given up counts as delivered), so that a row arriving late below the highest
 * id (the source's gap tracking, a backfill in key order) is delivered and a row read again is
 * not; other offsets are compared with the highest one delivered (sf_offset_cmp), so they must
 * increase per table in channel order. A text offset (which only the database can order, by its
 * collation) is always delivered: at least once, with one WARN per pair.
 *
 * A batch: sf_positions_admit per event (it advances the open batch's copy, so a row sent twice in
 * one batch goes once), then sf_positions_commit once the batch is durable at the destination, or
 * sf_positions_discard. Encoded as text lines (sf_positions_encode) and read back line by line
 * (sf_positions_parse_line). Not thread-safe: one sink thread.
 */
#ifndef SQLFLUME_POSITIONS_H
#define SQLFLUME_POSITIONS_H

#include "sqlflume/buf.h"
#include "sqlflume/hmap.h"
#include "sqlflume/offset.h"

#include <stdbool.h>
#include <stddef.h>

#define SF_POSITIONS_MAX 4096       /* pairs with a position; more are not tracked (at least once) */
#define SF_POS_GAPS_MAX  SF_GAPS_CAP /* gap ranges of a pair's delivered ids; then the lowest goes */

/** The integer offsets delivered of one pair: every id of floor..set->hw except set's gaps. */
struct sf_pos_ids {
    bool has;              /* an id was delivered */
    long long floor;       /* the lowest id of the span */
    struct sf_gapset *set; /* owned, allocated on first use */
};

/** What has been delivered of one (destination, table). */
struct sf_pos_entry {
    char *dest, *table; /* owned */
    bool int_mode;
    bool unordered_warned; /* the text-offset warning was logged for this pair */
    /* committed at the destination */
    char *max;             /* owned: the highest offset delivered (by sf_offset_cmp), or NULL */
    struct sf_pos_ids ids; /* int_mode */
    /* the open batch (in_batch); borrowed offsets point into its events */
    bool in_batch;
    const char *bmax;         /* the highest offset admitted by the batch, or NULL */
    struct sf_pos_ids wids;   /* int_mode: ids plus what the batch admits */
    const char *first, *last; /* first and last offset admitted, in channel order */
    size_t count;             /* events admitted by the batch */
};

/** The table of pairs; zero-initialise, free with sf_positions_free. */
struct sf_positions {
    struct sf_pos_entry *e; /* stable indices */
    size_t n, cap;
    struct sf_hmap index; /* hash of (dest, table) -> index in e */
    size_t *touched;      /* entries the open batch advances */
    size_t ntouched, cap_touched;
    long long full_warn_ms; /* sf_mono_ms() of the last "too many pairs" WARN */
};

/** Whether integer v is in the delivered set d. */
bool sf_pos_ids_has(const struct sf_pos_ids *d, long long v);
/** Add v (not in d) to d. An id below floor - 1 moves floor down to it (the ids between become a
 *  gap) unless the set has SF_POS_GAPS_MAX gaps: then it is not recorded (at least once there).
 *  @return the gap ranges given up because the bound was reached. Aborts on out of memory. */
size_t sf_pos_ids_add(struct sf_pos_ids *d, long long v);

/** Make dst a copy of src (dst's set reused or allocated). */
void sf_pos_ids_copy(struct sf_pos_ids *dst, const struct sf_pos_ids *src);
/** The entry of (dest, table), or NULL. */
const struct sf_pos_entry *sf_positions_find(struct sf_positions *p, const char *dest,
                                             const char *table);
/** Free every entry (p is zeroed and reusable). */
void sf_positions_free(struct sf_positions *p);
/**
 * Whether the event with headers table and offset (both non-empty) for destination dest must be
 * delivered: false when the destination has it already. Advances the open batch. who prefixes
 * the WARN lines (text offsets; more than SF_POSITIONS_MAX pairs, once a minute), e.g.
 * "[sink k1 hdfs] ". The strings must live until the batch ends (they point into its events).
 */
bool sf_positions_admit(struct sf_positions *p, const char *dest, const char *table,
                        const char *offset, const char *who);
/** The open batch is durable at the destination: what it admitted is committed (copied). */
void sf_positions_commit(struct sf_positions *p);
/** The open batch did not reach the destination: forget what it admitted. */
void sf_positions_discard(struct sf_positions *p);
/** Forget every committed position (before reading stored ones again). */
void sf_positions_clear(struct sf_positions *p);
/** Pairs that have a committed position. */
size_t sf_positions_count(const struct sf_positions *p);

/**
 * Append the positions as lines, fields escaped (no space or line break inside a field):
 *   pos <dest> <table> <offset>                  the highest offset delivered
 *   ids <dest> <table> <floor> <hw>[;<gaps>]     integer pairs: floor..hw less the gaps
 * with_open: the open batch counted as delivered (written in the same step that makes it
 * durable), else the committed ones only. with_batch also appends the open batch's
 *   batch <dest> <table> <first> <last> <count>  (for audits; not read back)
 */
void sf_positions_encode(const struct sf_positions *p, struct sf_buf *b, bool with_open,
                         bool with_batch);
/** Append " " and s as one field of a line: bytes <= 0x20, '%' and 0x7f percent-encoded. */
void sf_pos_field_put(struct sf_buf *b, const char *s);
/** Undo sf_pos_field_put in place. @return false for a bad escape, a NUL byte or an empty field. */
bool sf_pos_field_decode(char *s);

/**
 * Apply one line (modified in place) of sf_positions_encode's output to the committed positions.
 * legacy_ranges: also read "ranges <dest> <table> <lo>~<hi>,..." (Kafka position records of
 * format 1). @return SF_OK, SF_ERR_DATA for a malformed line of these kinds (err says why), or
 * SF_ERR_NOTFOUND when the line is of no kind known here (the caller's own lines; "batch" lines
 * are SF_OK and ignored).
 */
int sf_positions_parse_line(struct sf_positions *p, char *line, bool legacy_ranges, char *err,
                            size_t errsz);

#endif
