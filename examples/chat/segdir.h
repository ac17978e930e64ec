/* The files of one history, named after its base path (--history FILE):
 *   FILE.lock                the lock that keeps a second server off
 *   FILE.<16 hex digits>     the segments (segment.h), in the order of
 *                            the numbers in their names
 *   FILE.tmp                 a segment being rewritten (repair at start)
 * all in FILE's directory. A plain FILE is the single-file log of cws-chat
 * before segments; segdir_migrate adopts it. */
#ifndef CHAT_SEGDIR_H
#define CHAT_SEGDIR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* "<base><suffix>", malloc'ed; NULL if out of memory. */
char *segdir_path(const char *base, const char *suffix);

/* Creates (0600) and locks base's lock file; returns its fd, to keep open
 * as long as the history is used, or -1 with errno set. */
int segdir_lock(const char *base);

/* The numbers of the segments present, ascending, in a malloc'ed array
 * (*names, *n). Returns 0, or -1 with errno set. */
int segdir_list(const char *base, uint64_t **names, size_t *n);

/* Makes created, renamed and removed names in base's directory durable. */
int segdir_sync(const char *base);

/* If base is a regular file (an older cws-chat's single-file log), renames
 * it to the segment numbered 0, which sorts before any other, saying so on
 * note. Returns 0 (also if there was nothing to do), or -1 after saying
 * why on note. */
int segdir_migrate(const char *base, FILE *note);

#endif
