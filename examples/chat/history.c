/* The durable chat history; see history.h. */
#define _POSIX_C_SOURCE 200809L

#include "history.h"
#include "epoch.h"
#include "record.h"
#include "segdir.h"
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A segment closes at this fraction of either bound: the files then hold
 * at most 1 + 1/SEGMENT_PARTS times what is kept, and deleting one is an
 * unlink of a file of at most that size (4 MiB by default: a few ms at
 * worst on ext4 mounted with discard; twice that took up to 14 ms). */
#define SEGMENT_PARTS 8

struct history {
    char *base;   /* --history: the files' common name */
    char *tmp;    /* base.tmp, for repairs */
    int lock_fd;
    int fd;       /* the newest segment, the one appended to */
    off_t end;    /* its size: the end of its last good record */
    segment *segs; /* oldest first; the last one is fd's */
    size_t nsegs, segs_cap;
    size_t seg_records, seg_bytes; /* when a new segment starts */
    history_fsync mode;
    FILE *warn;
    ring kept;
    uint64_t last_seq;
    int dirty;     /* appended, not yet fdatasync'ed */
    int dir_dirty; /* a segment created, the directory not yet synced */
    int sync_failed; /* so a clean stop cannot claim every write is synced */
    int found;     /* load: segments existed */
    int cut;       /* load: records were skipped */
    epoch ep;
};

static void warn_at(history *h, const char *path, const char *what, const char *detail) {
    fprintf(h->warn, "cws-chat: warning: history %s: %s%s%s\n", path, what, detail ? ": " : "", detail ? detail : "");
}

/* Warns about the segment named name, or about the base if out of memory. */
static void warn_seg(history *h, uint64_t name, const char *what, const char *detail) {
    char *path = segment_path(h->base, name);
    warn_at(h, path ? path : h->base, what, detail);
    free(path);
}

static int add_segment(history *h, const segment *s) {
    if (h->nsegs == h->segs_cap) {
        size_t cap = h->segs_cap ? 2 * h->segs_cap : 8;
        segment *grown = cap < SIZE_MAX / sizeof *grown ? realloc(h->segs, cap * sizeof *grown) : NULL;
        if (!grown) return -1;
        h->segs = grown;
        h->segs_cap = cap;
    }
    h->segs[h->nsegs++] = *s;
    return 0;
}

static void remove_segment(history *h, size_t i) {
    memmove(&h->segs[i], &h->segs[i + 1], (h->nsegs - i - 1) * sizeof *h->segs);
    h->nsegs--;
}

static int keep_record(void *user, uint64_t seq, const char *json, size_t len) {
    history *h = user;
    if (ring_push(&h->kept, seq, json, len) == 0) return 0;
    /* Fail rather than start without what did not fit in memory. */
    warn_at(h, h->base, "out of memory loading", NULL);
    return -1;
}

/* Reads every segment, oldest first, into memory and h->segs. */
static int load(history *h) {
    uint64_t *names;
    size_t n;
    if (segdir_list(h->base, &names, &n) < 0) {
        warn_at(h, h->base, "cannot list the segments", strerror(errno));
        return -1;
    }
    int rc = 0;
    h->found = n > 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *path = segment_path(h->base, names[i]);
        int fd = path ? segment_open(path, O_RDONLY) : -1;
        segment s;
        memset(&s, 0, sizeof s);
        s.name = names[i];
        s.after = h->last_seq;
        if (fd < 0 && (errno == ELOOP || errno == EINVAL)) {
            /* Not ours (a symlink, a FIFO...): never read or followed. */
            warn_at(h, path, "ignoring it", "not a regular file");
            h->cut = 1;
        } else if (fd < 0 || segment_scan(fd, &s, keep_record, h, path, h->warn) < 0 || add_segment(h, &s) < 0) {
            warn_at(h, path ? path : h->base, "cannot read", strerror(errno));
            rc = -1;
        } else if (s.records) {
            h->last_seq = s.last;
        }
        if (s.bad) h->cut = 1;
        if (fd >= 0) close(fd);
        free(path);
    }
    free(names);
    return rc;
}

/* Leaves every segment holding only good records: empty ones go, a bad
 * record before good ones is rewritten away, bad bytes at the end are cut
 * off. This runs before serving, so a rewrite may take its time. */
static int repair(history *h) {
    int renamed = 0, rc = 0;
    for (size_t i = 0; i < h->nsegs && rc == 0;) {
        segment *s = &h->segs[i];
        char *path = segment_path(h->base, s->name);
        if (!path) {
            rc = -1;
        } else if (s->records == 0) {
            if (s->size > 0) warn_at(h, path, "removing", "no good record in it");
            if (unlink(path) < 0) warn_at(h, path, "cannot remove", strerror(errno));
            remove_segment(h, i);
            renamed = 1;
            free(path);
            continue;
        } else {
            if (s->bad_inside) {
                warn_at(h, path, "repairing", "rewriting it without the bad records");
                if (segment_rewrite(path, h->tmp, s) == 0)
                    renamed = 1;
                else
                    warn_at(h, path, "cannot rewrite, the next start will warn again", strerror(errno));
            }
            if (s->size > s->good_end) {
                char detail[96];
                snprintf(detail, sizeof detail, "cutting %lld bytes after the last good record",
                         (long long)(s->size - s->good_end));
                warn_at(h, path, "repairing", detail);
                int fd = segment_open(path, O_RDWR);
                if (fd < 0 || ftruncate(fd, s->good_end) < 0 || fsync(fd) < 0) {
                    warn_at(h, path, "cannot truncate", strerror(errno));
                    rc = -1;
                }
                if (fd >= 0) close(fd);
                s->size = s->good_end;
            }
        }
        free(path);
        i++;
    }
    if (renamed && segdir_sync(h->base) < 0) warn_at(h, h->base, "cannot sync the directory", strerror(errno));
    return rc;
}

/* Unlinks the oldest segments while every record in them has left
 * memory: no rewrite, so this costs the same at any history size. A
 * removal lost in a crash only brings back old records, which the next
 * start drops again. */
static void drop_old_segments(history *h) {
    if (h->kept.count == 0) return;
    uint64_t first_kept = ring_at(&h->kept, 0)->seq;
    while (h->nsegs > 1 && h->segs[0].last < first_kept) {
        char *path = segment_path(h->base, h->segs[0].name);
        if (path && unlink(path) < 0 && errno != ENOENT) warn_at(h, path, "cannot remove", strerror(errno));
        free(path);
        remove_segment(h, 0);
    }
}

/* Starts the segment that will begin with seq and appends there from now
 * on. Its name must reach the disk before any record in it counts as
 * durable: synced now in always mode, with the next batch in batch mode. */
static int start_segment(history *h, uint64_t seq, int sync_now) {
    segment s;
    memset(&s, 0, sizeof s);
    s.name = seq;
    s.after = h->last_seq;
    char *path = segment_path(h->base, seq);
    int fd = path ? segment_create(path) : -1;
    if (fd < 0 || add_segment(h, &s) < 0) {
        warn_at(h, path ? path : h->base, "cannot start a segment, still appending to the last one", strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        free(path);
        return -1;
    }
    free(path);
    if (sync_now && segdir_sync(h->base) < 0) warn_at(h, h->base, "cannot sync the directory", strerror(errno));
    if (!sync_now && h->mode == HISTORY_FSYNC_BATCH) h->dir_dirty = 1;
    if (h->fd >= 0) close(h->fd);
    h->fd = fd;
    h->end = 0;
    return 0;
}

/* Opens the newest segment for appending, or starts one. */
static int open_newest(history *h) {
    if (h->nsegs == 0) return start_segment(h, h->last_seq + 1, h->mode != HISTORY_FSYNC_NEVER);
    segment *s = &h->segs[h->nsegs - 1];
    char *path = segment_path(h->base, s->name);
    h->fd = path ? segment_open(path, O_RDWR) : -1;
    if (h->fd < 0) warn_at(h, path ? path : h->base, "cannot open", strerror(errno));
    free(path);
    h->end = s->good_end;
    return h->fd < 0 ? -1 : 0;
}

history *history_open(const char *path, size_t keep, size_t keep_bytes, history_fsync mode, FILE *warn) {
    history *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->fd = h->lock_fd = -1;
    h->mode = mode;
    h->warn = warn;
    h->base = strdup(path);
    h->tmp = segdir_path(path, ".tmp");
    h->seg_records = keep / SEGMENT_PARTS ? keep / SEGMENT_PARTS : 1;
    h->seg_bytes = keep_bytes / SEGMENT_PARTS ? keep_bytes / SEGMENT_PARTS : 1;
    if (!h->base || !h->tmp || ring_init_bounded(&h->kept, keep, keep_bytes) < 0) {
        fprintf(warn, "cws-chat: out of memory for %zu history entries\n", keep);
        goto fail;
    }
    const char *slash = strrchr(path, '/');
    if (*(slash ? slash + 1 : path) == '\0') {
        warn_at(h, path, "needs a file name, not a directory", NULL);
        goto fail;
    }
    h->lock_fd = segdir_lock(path);
    if (h->lock_fd < 0) {
        int busy = errno == EAGAIN || errno == EACCES;
        warn_at(h, path, busy ? "cannot lock (is another cws-chat using it?)" : "cannot create its lock file",
                strerror(errno));
        goto fail;
    }
    if (segdir_migrate(path, warn) < 0 || load(h) < 0) goto fail;
    /* Decided and recorded before the repair drops anything, so a crash
     * in between cannot hide what was lost from the next start. */
    epoch_facts facts = {h->found, h->cut, h->last_seq, mode};
    if (epoch_begin(path, &facts, &h->ep, warn) < 0 || repair(h) < 0) goto fail;
    drop_old_segments(h);
    if (open_newest(h) < 0) goto fail;
    /* A killed predecessor's last batch may still be in the page cache
     * only: the next sync covers it, before a clean stop says all is. */
    if (mode == HISTORY_FSYNC_BATCH) h->dirty = h->dir_dirty = 1;
    return h;
fail:
    history_close(h);
    return NULL;
}

void history_close(history *h) {
    if (!h) return;
    if (h->fd >= 0) {
        if (history_sync(h) == 0 && !h->sync_failed) epoch_end(h->base, &h->ep, h->last_seq, h->warn);
        close(h->fd);
    }
    if (h->lock_fd >= 0) close(h->lock_fd);
    ring_free(&h->kept);
    free(h->segs);
    free(h->tmp);
    free(h->base);
    free(h);
}

uint64_t history_last_seq(const history *h) { return h->last_seq; }

const ring *history_messages(const history *h) { return &h->kept; }

const char *history_epoch(const history *h) { return h->ep.id; }

/* The newest segment is full: sync what batch mode still owes it (as the
 * batch timer would have, a few ms of writes), then start the next. */
static void rotate(history *h, uint64_t seq) {
    if (h->dirty) {
        h->dirty = 0;
        if (fdatasync(h->fd) < 0) {
            h->sync_failed = 1;
            warn_at(h, h->base, "fdatasync failed", strerror(errno));
        }
    }
    start_segment(h, seq, h->mode == HISTORY_FSYNC_ALWAYS);
}

int history_append(history *h, uint64_t seq, const char *json, size_t len) {
    if (seq <= h->last_seq || len > RECORD_MAX_JSON) return -1;
    segment *cur = &h->segs[h->nsegs - 1];
    if (cur->records > 0 && (cur->records >= h->seg_records || cur->json_bytes + len > h->seg_bytes)) {
        rotate(h, seq);
        cur = &h->segs[h->nsegs - 1];
    }
    if (segment_append(h->fd, h->end, seq, json, len) < 0 ||
        (h->mode == HISTORY_FSYNC_ALWAYS && fdatasync(h->fd) < 0)) {
        int err = errno;
        /* Roll back a partial record so the file stays a clean sequence. */
        if (ftruncate(h->fd, h->end) < 0) warn_seg(h, cur->name, "cannot roll back", strerror(errno));
        warn_seg(h, cur->name, "cannot append", strerror(err));
        return -1;
    }
    h->end += (off_t)(RECORD_HEADER_LEN + len + 1);
    if (cur->records++ == 0) cur->first = seq;
    cur->last = seq;
    cur->json_bytes += len;
    cur->good_end = cur->size = h->end;
    h->last_seq = seq;
    if (h->mode == HISTORY_FSYNC_BATCH) h->dirty = 1;
    if (ring_push(&h->kept, seq, json, len) < 0) warn_at(h, h->base, "out of memory: message stored on disk only", NULL);
    drop_old_segments(h);
    return 0;
}

int history_needs_sync(const history *h) { return h->dirty || h->dir_dirty; }

int history_sync(history *h) {
    int rc = 0;
    if (h->dirty) {
        h->dirty = 0;
        if (fdatasync(h->fd) < 0) {
            warn_at(h, h->base, "fdatasync failed", strerror(errno));
            h->sync_failed = 1;
            rc = -1;
        }
    }
    if (h->dir_dirty) {
        h->dir_dirty = 0;
        if (segdir_sync(h->base) < 0) {
            warn_at(h, h->base, "cannot sync the directory", strerror(errno));
            h->sync_failed = 1;
            rc = -1;
        }
    }
    return rc;
}
