/*
 * Hadoop SequenceFile writer (org.apache.hadoop.io.SequenceFile, version 6), as Flume's HDFS sink
 * writes it with hdfs.fileType = SequenceFile (HDFSSequenceFile): key LongWritable (the event's
 * timestamp header, or now, in ms), value BytesWritable (hdfs.writeFormat = Writable, the default)
 * or Text (writeFormat = Text), uncompressed or block-compressed with DefaultCodec (zlib) or
 * GzipCodec (gzip members).
 *
 * The format (all integers big-endian):
 *   header   "SEQ" 6; key and value class names as Text (vint length + UTF-8); compressed and
 *            blockCompressed as one byte each; the codec class name (Text) if compressed;
 *            metadata: int32 count + Text pairs (none here); 16 random sync bytes.
 *   records  int32 key + value length, int32 key length, key, value; before a record, once
 *            SF_SEQ_SYNC_INTERVAL bytes were written since the last sync marker, a sync escape:
 *            int32 -1 and the 16 sync bytes.
 *   blocks   (block-compressed) a sync escape, then vint record count and four buffers, each
 *            vint length + compressed bytes: key lengths (vints), keys, value lengths (vints),
 *            values. A block is written at each flush (Flume syncs the writer at every batch) or
 *            once SF_SEQ_BLOCK_BYTES are buffered.
 *   vint     Hadoop's WritableUtils.writeVLong: -112..127 in one byte, else a length byte and
 *            the magnitude's big-endian bytes (negative: one's complement).
 * The writer produces bytes only; the sink writes them where the file is.
 */
#ifndef SQLFLUME_HDFS_SEQFILE_H
#define SQLFLUME_HDFS_SEQFILE_H

#include <stdbool.h>
#include <stddef.h>

#include "sqlflume/buf.h"

#define SF_SEQ_SYNC_INTERVAL (100 * 20)   /* bytes between sync markers (Hadoop's 100 x SYNC_SIZE) */
#define SF_SEQ_BLOCK_BYTES   1000000      /* io.seqfile.compress.blocksize's default */

enum sf_seq_value { SF_SEQ_BYTES_WRITABLE, SF_SEQ_TEXT };
enum sf_seq_codec { SF_SEQ_NONE, SF_SEQ_DEFLATE, SF_SEQ_GZIP };

/** One file's writer state; zero it, then sf_seqfile_begin. */
struct sf_seqfile {
    enum sf_seq_value value;
    enum sf_seq_codec codec;
    unsigned char sync[16];
    size_t since_sync; /* bytes written since the last sync marker (records mode) */
    /* block mode: the buffered block */
    struct sf_buf key_lens, keys, val_lens, vals;
    size_t nrec;
};

/**
 * Start a file: choose a random sync marker and append the header to out.
 * @param sq  zeroed, or ended with sf_seqfile_free
 * @return SF_OK, or SF_ERR_IO when no random bytes could be read (getrandom).
 */
int sf_seqfile_begin(struct sf_seqfile *sq, enum sf_seq_value value, enum sf_seq_codec codec,
                     struct sf_buf *out);

/**
 * Append one record: key (ms) and the value's bytes. Without a codec the record (and a sync
 * escape when due) goes to out at once; block-compressed, it is buffered and a block goes to out
 * once SF_SEQ_BLOCK_BYTES are buffered.
 * @return SF_OK, or SF_ERR_NOMEM / SF_ERR_IO when compressing a block failed.
 */
int sf_seqfile_append(struct sf_seqfile *sq, long long key, const void *val, size_t len,
                      struct sf_buf *out);

/** Write the buffered block, if any, to out (block mode; a no-op otherwise). Call before each
 *  flush of the file. @return as sf_seqfile_append. */
int sf_seqfile_flush(struct sf_seqfile *sq, struct sf_buf *out);

/** Free the block buffers (the bytes already appended to out stay). */
void sf_seqfile_free(struct sf_seqfile *sq);

/** Hadoop's WritableUtils.writeVLong of v, appended to out (exposed for the tests). */
void sf_seq_put_vlong(struct sf_buf *out, long long v);

/** The codec's file-name extension Hadoop gives CompressedStream files (".gz", ".deflate"). */
const char *sf_seq_codec_extension(enum sf_seq_codec codec);

#endif
