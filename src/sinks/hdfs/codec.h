/*
 * Streaming compression of the HDFS sink's CompressedStream files (hdfs.fileType =
 * CompressedStream, hdfs.codeC), after Hadoop's codecs as Flume's HDFSCompressedDataStream uses
 * them:
 *
 *   name     Hadoop class (org.apache.hadoop.io.compress.*)   extension  bytes
 *   gzip     GzipCodec                                         .gz        gzip members (RFC 1952)
 *   bzip2    BZip2Codec                                        .bz2       bzip2 streams, 900k blocks
 *   deflate  DeflateCodec                                      .deflate   zlib streams (RFC 1950)
 *   default  DefaultCodec                                      .deflate   zlib streams (RFC 1950)
 *   snappy   SnappyCodec                                       .snappy    Hadoop's block framing
 *
 * Flush semantics (the choice made for the sink): every sf_compressor_flush ENDS the current
 * member -- a complete gzip member, bzip2 stream, zlib stream or Snappy block -- and the next
 * write starts a new one. This is what Flume does: HDFSCompressedDataStream.sync() calls the
 * codec stream's finish() at every batch and resetState() before the next append. So a file cut
 * after any flush is a complete, valid file of its format: `gzip -t` / `bzip2 -t` accept it
 * (concatenated members are valid gzip and bzip2), and Hadoop's DecompressorStream reads
 * concatenated zlib streams and Snappy blocks. A plain sync flush (Z_SYNC_FLUSH) would leave a
 * stream without its trailer, which gzip -t and Hadoop's readers report as truncated. The price
 * is a header and trailer per batch (gzip 18 bytes, zlib 6, bzip2 about 14) and a dictionary
 * reset at each batch, which costs ratio only when batches are small.
 *
 * Levels: zlib's default (6), as Hadoop's ZlibCompressor; bzip2 block size 900k (-9, Hadoop's
 * default); Snappy blocks of at most SF_CODEC_SNAPPY_BLOCK uncompressed bytes (Hadoop's
 * io.compression.codec.snappy.buffersize 256 KiB less its compression overhead).
 *
 * Snappy framing (Hadoop's BlockCompressorStream, all integers 32-bit big-endian): per block,
 * the uncompressed length, then the compressed length and the raw Snappy bytes of the block.
 *
 * An empty file: sf_compressor_finish without any write appends an empty member (a valid empty
 * gzip / bzip2 / zlib file); Snappy appends nothing (an empty Snappy file reads as no data).
 *
 * A compressor only produces bytes: it appends them to the caller's struct sf_buf (which the
 * caller owns and writes to the file). One compressor per open file; not thread-safe.
 */
#ifndef SQLFLUME_HDFS_CODEC_H
#define SQLFLUME_HDFS_CODEC_H

#include <stddef.h>

#include "sqlflume/buf.h"

/* Hadoop's BlockCompressorStream MAX_INPUT_SIZE for Snappy: 256 KiB - (256 KiB / 6 + 32) bytes */
#define SF_CODEC_SNAPPY_BLOCK (262144 - (262144 / 6 + 32))

enum sf_codec_kind { SF_CODEC_GZIP, SF_CODEC_BZIP2, SF_CODEC_ZLIB, SF_CODEC_SNAPPY };

/** A codec's description; static, never freed. */
struct sf_codec_desc {
    enum sf_codec_kind kind;
    const char *name;       /* Flume's short name: "gzip", "bzip2", "deflate", "default", "snappy" */
    const char *class_name; /* "org.apache.hadoop.io.compress.GzipCodec" ... */
    const char *extension;  /* Hadoop's default extension with its dot: ".gz", ".bz2", ... */
};

/**
 * Look a codec up by hdfs.codeC's value, as Flume's HDFSEventSink.getCodec matches it: the
 * short name ("gzip"), the class's simple name ("GzipCodec") or its full name
 * ("org.apache.hadoop.io.compress.GzipCodec"), all case-insensitively.
 * @param out  set to the static description on success
 * @param err  on SF_ERR_INVAL, receives "unsupported compression codec 'x'; known: gzip, ..."
 *             (truncated to errsz bytes, NUL-terminated); may be NULL when errsz is 0
 * @return SF_OK, or SF_ERR_INVAL for an unknown or unsupported name (lz4, zstd, NULL, "").
 */
int sf_codec_lookup(const char *name, const struct sf_codec_desc **out, char *err, size_t errsz);

/** A streaming compressor (opaque). */
struct sf_compressor;

/**
 * Create a compressor for one file. No bytes are produced until the first write, flush or
 * finish.
 * @param out  receives the new compressor, freed by sf_compressor_free
 * @return SF_OK, SF_ERR_NOMEM (the library could not allocate its state; bzip2 needs about
 *         8 MB), or SF_ERR_INVAL for a NULL codec.
 */
int sf_compressor_new(const struct sf_codec_desc *codec, struct sf_compressor **out);

/**
 * Compress len bytes of data, appending whatever compressed bytes are ready to out (possibly
 * none: the libraries buffer input, bzip2 up to a whole 900k block). Starts a new member when
 * the previous one was ended by a flush.
 * @return SF_OK, SF_ERR_STATE after sf_compressor_finish, or SF_ERR_NOMEM / SF_ERR_IO when the
 *         library failed (its code is not kept; these do not happen with valid use).
 */
int sf_compressor_write(struct sf_compressor *z, const void *data, size_t len, struct sf_buf *out);

/**
 * End the current member (see the header comment) and append its remaining bytes and trailer to
 * out: afterwards all the bytes this compressor appended decompress to exactly what was written.
 * A no-op when nothing was written since the last flush, except that a compressor that has not
 * produced any byte yet appends an empty member (so the file is valid; not for Snappy).
 * @return as sf_compressor_write.
 */
int sf_compressor_flush(struct sf_compressor *z, struct sf_buf *out);

/**
 * Flush, then refuse further writes. After it, the bytes appended are a complete file.
 * Calling it again is a no-op.
 * @return as sf_compressor_write (SF_OK when already finished).
 */
int sf_compressor_finish(struct sf_compressor *z, struct sf_buf *out);

/** Bytes of input written so far (uncompressed, all members). */
unsigned long long sf_compressor_bytes_in(const struct sf_compressor *z);

/** Free the compressor and its library state (unflushed input is lost). NULL is a no-op. */
void sf_compressor_free(struct sf_compressor *z);

#endif
