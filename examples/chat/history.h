/* The durable chat history: an append-only log file of records (see
 * record.h) plus the last N messages in memory (see ring.h).
 *
 * Durability, by fsync mode:
 *   always  write() and fdatasync() before the message is broadcast: a
 *           power loss loses nothing that anyone saw;
 *   batch   write() before the broadcast, fdatasync() shortly after
 *           (group commit: one sync covers every message of a short
 *           window): a crash of the process (kill -9) loses nothing, a
 *           power loss may lose the last window;
 *   never   write() only; the OS flushes when it likes.
 * On open, records that fail their checks are skipped with a warning and
 * the file is cut back to the end of the last good record, so a torn last
 * write never poisons later appends. The file is rewritten with the kept
 * messages when it holds more than twice as many, so it stays bounded. */
#ifndef CHAT_HISTORY_H
#define CHAT_HISTORY_H

#include "ring.h"

#include <stdint.h>
#include <stdio.h>

typedef enum history_fsync { HISTORY_FSYNC_ALWAYS, HISTORY_FSYNC_BATCH, HISTORY_FSYNC_NEVER } history_fsync;

typedef struct history history;

/* Opens (creating it if needed) and locks the log at path, loading its last
 * keep messages. Problems are reported on warn. NULL on failure (said on
 * warn too). */
history *history_open(const char *path, size_t keep, history_fsync mode, FILE *warn);
/* Syncs pending writes and releases everything. */
void history_close(history *h);

/* The highest sequence number ever stored (0 if none). */
uint64_t history_last_seq(const history *h);
/* The messages kept in memory, oldest first. */
const ring *history_messages(const history *h);

/* Appends one message, durably as the fsync mode says, and keeps it in
 * memory. seq must be greater than history_last_seq(). Returns 0, or -1
 * if it could not be written (the file is rolled back; nothing is kept). */
int history_append(history *h, uint64_t seq, const char *json, size_t len);
/* 1 if written records still wait for their batched fdatasync. */
int history_needs_sync(const history *h);
/* Runs that fdatasync now. Returns 0 or -1. */
int history_sync(history *h);

#endif
