/* The durable chat history: a log of records (see record.h) cut into
 * segment files (segment.h, segdir.h), plus the newest messages in memory
 * (see ring.h), bounded both in messages and in bytes.
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
 * their segment repaired (cut back to the end of its last good record, or
 * rewritten without a bad record that lies before good ones), so a torn
 * last write never poisons later appends; and if seqs clients saw may be
 * lost, the history gets a new epoch (epoch.h).
 *
 * Upkeep never rewrites the history while serving: appends go to the
 * newest segment; one holding an eighth of either bound closes and a new
 * one starts; a segment whose every record has left memory is unlinked.
 * So the files hold what is kept plus at most one segment, and no step
 * costs more than one record's write, one file's creation (and, in
 * always or batch mode, one directory sync) or one unlink. */
#ifndef CHAT_HISTORY_H
#define CHAT_HISTORY_H

#include "ring.h"

#include <stdint.h>
#include <stdio.h>

typedef enum history_fsync { HISTORY_FSYNC_ALWAYS, HISTORY_FSYNC_BATCH, HISTORY_FSYNC_NEVER } history_fsync;

typedef struct history history;

/* Opens (creating it if needed) and locks the history whose files are
 * named after path (segdir.h), loading its last messages: at most keep of
 * them and at most keep_bytes bytes of their JSON. Problems are reported
 * on warn. NULL on failure (said on warn too). */
history *history_open(const char *path, size_t keep, size_t keep_bytes, history_fsync mode, FILE *warn);
/* Syncs pending writes and releases everything. */
void history_close(history *h);

/* The highest sequence number ever stored (0 if none). */
uint64_t history_last_seq(const history *h);
/* The history's epoch (epoch.h): 16 hex digits naming the run of seqs
 * that the last seq belongs to. */
const char *history_epoch(const history *h);
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
