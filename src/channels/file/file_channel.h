/*
 * Flume's durable FileChannel (`type = file`, org.apache.flume.channel.file.FileChannel): events
 * are written to a write-ahead log in the data directories at commit time (one buffered write per
 * transaction, fsync'd with group commit), the queue in memory holds only pointers to the logged
 * PUT records (24 bytes per event) plus a bounded cache of recently put events (eventCacheBytes),
 * and a periodic checkpoint bounds replay after a restart. Source offsets committed with put
 * transactions (sf_txn.src_key/src_offset) survive restarts: sf_channel_offset_get(). See
 * fc.h for the design (and the lock order) and wal.h / checkpoint.h for the on-disk formats.
 */
#ifndef SF_FILE_CHANNEL_H
#define SF_FILE_CHANNEL_H

#include "sqlflume/channel.h"

/** The plugin, registered in src/core/registry.c. */
extern const struct sf_channel_plugin sf_channel_file;

/**
 * Number of fdatasync(2) calls made to make commits durable since ch started: group commits,
 * interval syncs, log rolls, checkpoints and new log files; not the background zero-filling's
 * own syncs. For benchmarks and tests.
 * @param ch  a started file channel (anything else is a bug)
 * Thread: any.
 */
long long sf_file_channel_sync_count(struct sf_channel *ch);

/**
 * Write a checkpoint now (as the timer does every checkpointInterval), then delete the log files
 * it makes unnecessary. @return SF_OK or SF_ERR_IO (logged, the previous checkpoint stays).
 * Thread: any; serialised with the timer's checkpoints.
 */
int sf_file_channel_checkpoint(struct sf_channel *ch);

#endif
