/*
 * The file channel's checkpoint (internal to src/channels/file/): a snapshot of the queue as
 * pointers to PUT records, the write-order id it reflects, and the source offsets, written
 * crash-safely (temp file, fsync, rename, fsync of the directory) so that a checkpoint file is
 * either complete or absent. Replay starts from it and applies only log records newer than
 * wo_id.
 *
 * File "checkpoint" in the checkpoint dir, little-endian:
 *   0  "SFCKPT01"
 *   8  u32 state (1 = COMPLETE; nothing else is ever renamed into place)
 *   12 u32 current log file id at the snapshot (older files hold only records <= wo_id)
 *   16 u64 write-order id reflected
 *   24 u64 highest transaction id handed out
 *   32 u64 number of queue pointers
 *   40 u32 number of source offsets
 *   44 u32 zero
 *   48 queue pointers, head first: u32 file id, u32 offset of the PUT record
 *      source offsets: u32 key_len, key, u32 val_len, val
 *      u32 CRC32C of every byte before it
 */
#ifndef SF_FILE_CHECKPOINT_H
#define SF_FILE_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#define SF_CKPT_FILE "checkpoint"

/** One source offset: key and value are owned, NUL-terminated. */
struct sf_ckpt_offset {
    char *key;
    char *val;
};

/** A checkpoint in memory. Owned arrays; free with sf_ckpt_free. */
struct sf_ckpt {
    uint64_t wo_id;    /* the last write-order id whose effect the snapshot holds */
    uint64_t txn_id;   /* highest transaction id handed out */
    uint32_t cur_file; /* log file being written when the snapshot was taken */
    uint64_t *ptrs;    /* queue, head first: file id << 32 | offset */
    size_t nptrs;
    struct sf_ckpt_offset *offsets;
    size_t noffsets;
};

/**
 * Write c to dir/checkpoint through dir/checkpoint.tmp, fsync'd, renamed and the directory
 * fsync'd. @return SF_OK or SF_ERR_IO with the reason (naming the file) in err.
 */
int sf_ckpt_write(const char *dir, const struct sf_ckpt *c, char *err, size_t errsz);
/**
 * Read and check dir/checkpoint into c (zeroed first; free with sf_ckpt_free on SF_OK).
 * @return SF_OK, SF_ERR_NOTFOUND (no checkpoint file), SF_ERR_CORRUPT (corrupt: the reason is in
 * err), SF_ERR_IO (unreadable: err says why), SF_ERR_NOMEM.
 */
int sf_ckpt_read(const char *dir, struct sf_ckpt *c, char *err, size_t errsz);
/** Free the arrays of c and zero it. */
void sf_ckpt_free(struct sf_ckpt *c);
/** fsync a directory so a rename or a new file in it is durable.
 *  @return SF_OK, or SF_ERR_IO with errno from open(2)/fsync(2) (nothing logged). */
int sf_ckpt_fsync_dir(const char *dir);

#endif
