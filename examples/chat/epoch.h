/* The history's epoch: a random id naming one unbroken run of sequence
 * numbers. While the epoch holds, a seq means one message; when the
 * history may have lost messages that clients already saw (a cut tail,
 * a machine crash with writes not yet synced, deleted files), the next
 * seqs would be handed out again for other messages, so the history
 * gets a new epoch and clients resuming with the old one start over
 * (docs/chat-protocol.md, Recovery).
 *
 * It lives in FILE.epoch beside the segments (segdir.h), 0600, replaced
 * atomically (written to FILE.epoch.tmp, synced, renamed), five lines:
 *   epoch 9f86d081884c7d65      16 lowercase hex digits, random
 *   boot 5b0b3c1e-8a7f-...      the kernel's boot id when written
 *   fsync batch                 the --fsync mode of that run
 *   last 42                     the history's last seq when written
 *   state running               or stopped: the run ended cleanly,
 *                               its writes synced unless in never mode */
#ifndef CHAT_EPOCH_H
#define CHAT_EPOCH_H

#include "history.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define EPOCH_ID_LEN 16  /* hex digits */
#define EPOCH_BOOT_MAX 64

typedef struct epoch {
    char id[EPOCH_ID_LEN + 1];
    char boot[EPOCH_BOOT_MAX + 1]; /* "unknown" where there is no boot id */
    history_fsync mode;
    uint64_t last;
    int running;
} epoch;

/* What loading the history found, for deciding whether its epoch holds. */
typedef struct epoch_facts {
    int found;         /* segments existed: not a new (or deleted) history */
    int cut;           /* records were skipped, so the repair will drop them */
    uint64_t last_seq; /* the last good record's seq */
    history_fsync mode;
} epoch_facts;

/* 1 if s (len bytes) is an epoch id as hello sends it. */
int epoch_id_ok(const char *s, size_t len);

/* Reads base's epoch file and keeps its epoch, or makes a new one (saying
 * why on note) when the facts or the file say seqs may come again; then
 * records this run in the file as running, synced, before anything is
 * served or repaired. Fills e. Returns 0, or -1 after saying why. */
int epoch_begin(const char *base, const epoch_facts *f, epoch *e, FILE *note);

/* Records a clean stop: every write up to last_seq is synced. */
int epoch_end(const char *base, epoch *e, uint64_t last_seq, FILE *note);

#endif
