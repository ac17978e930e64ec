/* One segment of the history log: the file "<base>.<16 hex digits>", a
 * run of records (record.h) whose sequence numbers increase and are all at
 * least the number in its name. Creating, scanning, appending to and
 * repairing one such file; history.c decides when. */
#ifndef CHAT_SEGMENT_H
#define CHAT_SEGMENT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

typedef struct segment {
    uint64_t name;        /* from the file name */
    uint64_t after;       /* every good record's seq is above this */
    uint64_t first, last; /* seqs of the first and last good records */
    size_t records;       /* good records */
    size_t json_bytes;    /* their JSON */
    off_t good_end;       /* end of the last good record */
    off_t size;           /* bytes read */
    size_t bad;           /* records skipped */
    int bad_inside;       /* a bad record lies before a good one */
} segment;

/* "<base>.<name as 16 hex digits>", malloc'ed; NULL if out of memory. */
char *segment_path(const char *base, uint64_t name);

/* Creates path afresh, 0600, for appending; returns the fd or -1. */
int segment_create(const char *path);
/* Opens an existing segment (flags: O_RDONLY or O_RDWR) that must be a
 * regular file, not a symlink; returns the fd or -1. */
int segment_open(const char *path, int flags);

/* Called with each good record; non-zero stops the scan as failed. */
typedef int (*segment_record_fn)(void *user, uint64_t seq, const char *json, size_t len);

/* Reads fd from its current offset (the start) to its end. The caller
 * sets seg->name and seg->after; the rest is filled in. Each good record
 * (intact, seq above the previous one, above after, at least name) goes to
 * fn; each bad one is skipped and, if warn is not NULL, reported there
 * naming path. Returns 0, or -1 on a read error, out of memory or fn. */
int segment_scan(int fd, segment *seg, segment_record_fn fn, void *user, const char *path, FILE *warn);

/* Writes one record at offset end. Returns 0, or -1 with errno set (part
 * of it may have been written). */
int segment_append(int fd, off_t end, uint64_t seq, const char *json, size_t len);

/* Replaces the file at path by one holding only its good records (as
 * segment_scan decides from seg->name and seg->after), written to tmp
 * (made by segment_create), synced and renamed over path. On success
 * updates seg to describe the new file. Returns 0 or -1. */
int segment_rewrite(const char *path, const char *tmp, segment *seg);

#endif
