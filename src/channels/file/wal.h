/*
 * The file channel's write-ahead log format (internal to src/channels/file/): CRC32C, the log
 * file header, and the framing and payloads of the PUT, TAKE, COMMIT and ROLLBACK records, plus a
 * sequential reader used by replay. Everything is little-endian and fixed-layout so a record can
 * be checked without knowing what came before it.
 *
 * Log file "log-<id>" (in one of the data dirs):
 *   file header, 16 bytes: "SFWAL01\0", u32 file id, u32 CRC32C of bytes 0..12
 *   then records, back to back:
 *   record header, 32 bytes:
 *     0  u32 crc     CRC32C of the payload followed by header bytes 4..32
 *     4  u32 len     payload bytes
 *     8  u8  type    SF_WAL_PUT, SF_WAL_TAKE, SF_WAL_COMMIT, SF_WAL_ROLLBACK, SF_WAL_PUTC
 *     9  u8  magic   SF_WAL_MAGIC
 *     10 u16 zero
 *     12 u32 zero
 *     16 u64 txn id
 *     24 u64 write-order id (grows by one per record, across files and restarts)
 *   payloads:
 *     PUT      u32 nheaders, u32 strs_len, strs ("key\0val\0" per header), u32 body_len, body
 *              (written for events with more than 255 headers; older logs hold only these)
 *     PUTC     the compact PUT: u8 nheaders, then per header a key byte (1..4: the well-known
 *              name table, offset, key or timestamp; 0: "key\0" follows) and a value byte (j in
 *              1..15: the value of header j-1 of this event, j-1 below this header's index; 0:
 *              "val\0" follows), then the body (the rest of the payload). About 35 bytes fewer
 *              per event of the SQL source than PUT (its headers are table/offset/key/timestamp
 *              and key is often the offset).
 *     TAKE     one or more pairs (u32 file id, u32 offset of the PUT record taken): a take
 *              transaction writes one TAKE record for all its events
 *     COMMIT   u8 kind (SF_WAL_TXN_PUT / SF_WAL_TXN_TAKE), 3 zero bytes, u32 entries in the
 *              transaction (PUT records, or pairs of its TAKE records), u32 key_len, key,
 *              u32 val_len, val (the source offset of a put
 *              transaction; key_len = SF_WAL_NO_KEY when there is none, then no val follows)
 *     ROLLBACK empty
 *   A log may end in zero bytes (space preallocated ahead of the writes): a record header of 32
 *   zero bytes is a clean end of the log. No acknowledged record can follow it, since the fsync
 *   that acknowledged a commit covered every byte before the commit's records.
 * The CRC covers the payload first so a committer can checksum its payloads before it holds the
 * log lock, and finish each record's CRC over its 28 header bytes once the write-order id is
 * known (sf_wal_seal).
 */
#ifndef SF_FILE_WAL_H
#define SF_FILE_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sqlflume/buf.h"
#include "sqlflume/error.h"
#include "sqlflume/event.h"

#define SF_WAL_FILE_HDR 16u /* bytes of the log file header */
#define SF_WAL_REC_HDR  32u /* bytes of a record header */
#define SF_WAL_MAGIC    0xF1u
#define SF_WAL_NO_KEY   0xFFFFFFFFu
#define SF_WAL_TAKE_LEN 8u         /* payload bytes per pair of a TAKE record */
#define SF_WAL_MAX_LEN  (1u << 30) /* a payload above this is taken as corruption */

enum sf_wal_type {
    SF_WAL_PUT = 1,
    SF_WAL_TAKE = 2,
    SF_WAL_COMMIT = 3,
    SF_WAL_ROLLBACK = 4,
    SF_WAL_PUTC = 5, /* a PUT in the compact encoding */
};
enum sf_wal_txn_kind { SF_WAL_TXN_PUT = 1, SF_WAL_TXN_TAKE = 2 };

/** A decoded record header. */
struct sf_wal_hdr {
    uint32_t crc;
    uint32_t len; /* payload bytes */
    uint8_t type; /* enum sf_wal_type */
    uint64_t txn_id;
    uint64_t wo_id;
};

/** A decoded COMMIT payload; key and val point into the decoded buffer (not NUL-terminated). */
struct sf_wal_commit {
    uint8_t kind;      /* enum sf_wal_txn_kind */
    uint32_t nrecords; /* entries of the transaction before this COMMIT: PUT records or TAKE
                        * pairs */
    const char *key;   /* NULL when the transaction carries no source offset */
    uint32_t key_len;
    const char *val;
    uint32_t val_len;
};

/** CRC32C (Castagnoli) of n bytes continuing from crc (start with 0). SSE4.2 when the CPU has
 *  it, else a slicing-by-8 table. */
uint32_t sf_wal_crc32c(uint32_t crc, const void *data, size_t n);
/** The table-driven CRC32C alone (for tests comparing both paths). */
uint32_t sf_wal_crc32c_sw(uint32_t crc, const void *data, size_t n);

static inline void sf_wal_put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}
static inline void sf_wal_put64(unsigned char *p, uint64_t v)
{
    sf_wal_put32(p, (uint32_t)v);
    sf_wal_put32(p + 4, (uint32_t)(v >> 32));
}
static inline uint32_t sf_wal_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t sf_wal_get64(const unsigned char *p)
{
    return (uint64_t)sf_wal_get32(p) | (uint64_t)sf_wal_get32(p + 4) << 32;
}

/** Write the 16-byte header of log file id into out. */
void sf_wal_file_header(unsigned char out[SF_WAL_FILE_HDR], uint32_t id);
/** @return true when hdr is a valid log file header; *id is set to its file id. */
bool sf_wal_file_header_check(const unsigned char hdr[SF_WAL_FILE_HDR], uint32_t *id);

/**
 * Append records to b. The write-order id and the CRC are not final: the CRC field holds the
 * payload's CRC until sf_wal_seal. Each returns the offset of the record within b.
 */
size_t sf_wal_append_put(struct sf_buf *b, uint64_t txn_id, const struct sf_event *ev);
/** The PUT record in the older, uncompact encoding (what sf_wal_append_put writes for events
 *  with more than 255 headers; tests use it to check that such records still replay). */
size_t sf_wal_append_put_full(struct sf_buf *b, uint64_t txn_id, const struct sf_event *ev);
/** One TAKE record of n pairs: pairs[2i] is a file id, pairs[2i + 1] the offset in it (n > 0). */
size_t sf_wal_append_takes(struct sf_buf *b, uint64_t txn_id, const uint32_t *pairs, size_t n);
/** key/val: the source offset (borrowed, both or neither may be NULL: stored only when both are
 *  set). */
size_t sf_wal_append_commit(struct sf_buf *b,
                            uint64_t txn_id,
                            enum sf_wal_txn_kind kind,
                            uint32_t nrecords,
                            const char *key,
                            const char *val);
size_t sf_wal_append_rollback(struct sf_buf *b, uint64_t txn_id);

/**
 * Give the records in buf[0..len) (as appended above) consecutive write-order ids starting at
 * first_wo and finish their CRCs. @return the number of records.
 */
size_t sf_wal_seal(unsigned char *buf, size_t len, uint64_t first_wo);

/**
 * Decode and check a record header at p (SF_WAL_REC_HDR bytes). Only the framing is checked
 * (magic, type, zero fields, len <= SF_WAL_MAX_LEN); the CRC needs the payload
 * (sf_wal_crc_ok). @return true when the framing is valid.
 */
bool sf_wal_hdr_decode(const unsigned char *p, struct sf_wal_hdr *h);
/** @return true when the CRC in h matches hdr_bytes (the 32 raw header bytes) and payload. */
bool sf_wal_crc_ok(const struct sf_wal_hdr *h,
                   const unsigned char *hdr_bytes,
                   const unsigned char *payload);

/** Decode the payload of a PUT record, as sf_wal_decode_put. */
int sf_wal_decode_plain_put(const unsigned char *payload,
                            uint32_t len,
                            struct sf_header *headers,
                            size_t *nheaders,
                            const char **body,
                            size_t *body_len);
/** Decode the payload of a PUTC record (the compact form), as sf_wal_decode_put. */
int sf_wal_decode_compact_put(const unsigned char *payload,
                              uint32_t len,
                              struct sf_header *headers,
                              size_t *nheaders,
                              const char **body,
                              size_t *body_len);
/**
 * Decode the payload of a PUT or PUTC record (type) into headers (caller-provided array of
 * *nheaders slots; on return *nheaders is the count; the strings point into payload, which holds
 * their NULs, or to static names) and body.
 * @return SF_OK; SF_ERR_CORRUPT when the payload is malformed or truncated (or type is neither);
 * SF_ERR_FULL when more than the given slots are needed (*nheaders is then the number needed:
 * call again with that many). Nothing is logged.
 */
static inline int sf_wal_decode_put(uint8_t type,
                                    const unsigned char *payload,
                                    uint32_t len,
                                    struct sf_header *headers,
                                    size_t *nheaders,
                                    const char **body,
                                    size_t *body_len)
{
    if (type == SF_WAL_PUTC) {
        return sf_wal_decode_compact_put(payload, len, headers, nheaders, body, body_len);
    }
    if (type != SF_WAL_PUT) {
        return SF_ERR_CORRUPT;
    }
    return sf_wal_decode_plain_put(payload, len, headers, nheaders, body, body_len);
}
/** Number of pairs in a TAKE payload of len bytes; 0 when malformed. */
static inline uint32_t sf_wal_take_count(uint32_t len)
{
    return len > 0 && len % SF_WAL_TAKE_LEN == 0 ? len / SF_WAL_TAKE_LEN : 0;
}
/** Decode pair i (< sf_wal_take_count(len)) of a TAKE payload. */
static inline void
sf_wal_take_at(const unsigned char *payload, uint32_t i, uint32_t *file_id, uint32_t *offset)
{
    *file_id = sf_wal_get32(payload + (size_t)i * SF_WAL_TAKE_LEN);
    *offset = sf_wal_get32(payload + (size_t)i * SF_WAL_TAKE_LEN + 4);
}
/** Decode a COMMIT payload (pointers into payload).
 *  @return SF_OK, or SF_ERR_CORRUPT when malformed or truncated (nothing logged). */
int sf_wal_decode_commit(const unsigned char *payload, uint32_t len, struct sf_wal_commit *c);

/**
 * Sequential reader over one open log file for replay: big reads, records handed out one by one
 * with their payload checked. Not thread-safe.
 */
struct sf_wal_reader {
    int fd;
    uint64_t file_size;      /* bytes, from fstat at open */
    uint64_t pos;            /* file offset of the next record */
    unsigned char *buf;      /* owned */
    size_t buf_cap, buf_len; /* buf holds file bytes [buf_off, buf_off + buf_len) */
    uint64_t buf_off;
};

enum sf_wal_next {
    SF_WAL_REC = 0,   /* a valid record */
    SF_WAL_EOF = 1,   /* clean end: the file ends exactly after the previous record */
    SF_WAL_TORN = 2,  /* a torn or corrupt record starts at reader.pos: the log ends there */
    SF_WAL_IOERR = 3, /* read(2) failed (errno set) */
    SF_WAL_ZEROS = 4, /* preallocated zeros start at reader.pos: a clean end of the log */
};

/** Start reading fd after its file header. @return SF_OK, SF_ERR_IO (fstat failed, errno set)
 *  or SF_ERR_NOMEM. */
int sf_wal_reader_open(struct sf_wal_reader *r, int fd);
/**
 * Next record. On SF_WAL_REC, *h is its header, *payload points to h->len bytes valid until the
 * next call, and *rec_off is the record's file offset; r->pos moves past it.
 */
enum sf_wal_next sf_wal_reader_next(struct sf_wal_reader *r,
                                    struct sf_wal_hdr *h,
                                    const unsigned char **payload,
                                    uint64_t *rec_off);
void sf_wal_reader_close(struct sf_wal_reader *r);

#endif
