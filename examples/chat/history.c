/* The durable chat history; see history.h. */
#define _POSIX_C_SOURCE 200809L

#include "history.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

struct history {
    char *path;
    int fd;
    history_fsync mode;
    FILE *warn;
    ring kept;
    uint64_t last_seq;
    off_t end;             /* file size: the end of the last good record */
    size_t file_records;   /* records in the file, for compaction */
    size_t skipped;        /* bad records found on load so far */
    int bad_inside;        /* a bad record lies before a good one */
    int dirty;             /* written, not yet fdatasync'ed */
};

/* What people said is for the server's user alone: the log and its
 * rewrites are created readable and writable by the owner only. */
#define HISTORY_FILE_MODE 0600

static void history_warn(history *h, const char *what, const char *detail) {
    fprintf(h->warn, "cws-chat: warning: history %s: %s%s%s\n", h->path, what, detail ? ": " : "",
            detail ? detail : "");
}

/* One server per log: a second one appending would interleave sequence
 * numbers. The lock goes away with the process, even after kill -9. */
static int lock_file(int fd) {
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    return fcntl(fd, F_SETLK, &fl);
}

static int write_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

static int write_record(int fd, uint64_t seq, const char *json, size_t len) {
    char header[RECORD_HEADER_LEN + 1];
    struct iovec iov[3];
    iov[0].iov_base = header;
    iov[0].iov_len = record_header(header, seq, json, len);
    iov[1].iov_base = (void *)json;
    iov[1].iov_len = len;
    iov[2].iov_base = "\n";
    iov[2].iov_len = 1;
    return write_all(fd, iov, 3);
}

/* Reads every record, keeping the good ones; returns the end offset of
 * the last good record, or -1 on a read error. */
static off_t load_records(history *h) {
    int fd2 = dup(h->fd);
    FILE *f = fd2 >= 0 ? fdopen(fd2, "r") : NULL;
    if (!f) {
        if (fd2 >= 0) close(fd2);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    off_t pos = 0, good_end = 0;
    int oom = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        uint64_t seq;
        const char *json, *why = NULL;
        size_t json_len;
        char where[64];
        snprintf(where, sizeof where, "skipping the record at byte %lld", (long long)pos);
        pos += n;
        if (line[n - 1] != '\n')
            why = "truncated record (no line end)";
        else if (record_parse(line, (size_t)n - 1, &seq, &json, &json_len, &why) == 0 && seq <= h->last_seq)
            why = "sequence number out of order";
        if (why) {
            history_warn(h, where, why);
            h->skipped++;
            continue;
        }
        if (ring_push(&h->kept, seq, json, json_len) < 0) {
            /* Fail rather than cut the file after what fitted in memory. */
            history_warn(h, "out of memory loading", NULL);
            oom = 1;
            break;
        }
        h->last_seq = seq;
        h->file_records++;
        h->bad_inside |= h->skipped > 0;
        good_end = pos;
    }
    /* Only a clean end of file may decide where the good records end. */
    int failed = oom || ferror(f) || !feof(f);
    free(line);
    fclose(f);
    return failed ? -1 : good_end;
}

/* Creates tmp afresh for a rewrite. A stale one, or a symlink planted
 * there to make us overwrite some other file, is removed (unlink never
 * follows a link), and O_EXCL | O_NOFOLLOW refuse anything that appears
 * in between rather than open it. */
static int open_temp(const char *tmp) {
    if (unlink(tmp) < 0 && errno != ENOENT) return -1;
    return open(tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, HISTORY_FILE_MODE);
}

/* Writes the kept messages to a new file and renames it over the log, so
 * the file never holds more than about twice the history kept. */
static int compact(history *h) {
    size_t plen = strlen(h->path);
    char *tmp = malloc(plen + 5);
    if (!tmp) return -1;
    memcpy(tmp, h->path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int fd = open_temp(tmp);
    int ok = fd >= 0 && lock_file(fd) == 0;
    off_t end = 0;
    for (size_t i = 0; ok && i < h->kept.count; i++) {
        const ring_entry *e = ring_at(&h->kept, i);
        ok = write_record(fd, e->seq, e->json, e->len) == 0;
        end += (off_t)(RECORD_HEADER_LEN + e->len + 1);
    }
    ok = ok && fdatasync(fd) == 0 && rename(tmp, h->path) == 0;
    if (!ok) {
        history_warn(h, "compaction failed, still appending to the old file", strerror(errno));
        if (fd >= 0) close(fd);
        unlink(tmp);
        free(tmp);
        return -1;
    }
    free(tmp);
    /* The rename is durable once the directory is synced. */
    char *slash = strrchr(h->path, '/');
    char *dir = slash ? strndup(h->path, (size_t)(slash - h->path) + 1) : strdup(".");
    int dfd = dir ? open(dir, O_RDONLY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    free(dir);
    close(h->fd);
    h->fd = fd;
    h->end = end;
    h->file_records = h->kept.count;
    h->dirty = 0;
    return 0;
}

history *history_open(const char *path, size_t keep, history_fsync mode, FILE *warn) {
    history *h = calloc(1, sizeof *h);
    if (!h) return NULL;
    h->fd = -1;
    h->mode = mode;
    h->warn = warn;
    h->path = strdup(path);
    if (!h->path || ring_init(&h->kept, keep) < 0) {
        fprintf(warn, "cws-chat: out of memory for %zu history entries\n", keep);
        goto fail;
    }
    h->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, HISTORY_FILE_MODE);
    if (h->fd < 0) {
        history_warn(h, "cannot open", strerror(errno));
        goto fail;
    }
    if (lock_file(h->fd) < 0) {
        history_warn(h, "cannot lock (is another cws-chat using it?)", strerror(errno));
        goto fail;
    }
    struct stat st;
    off_t good_end = load_records(h);
    /* Closing the stdio copy dropped the lock (POSIX record locks belong
     * to the process and go with any close of the file): take it again. */
    if (good_end >= 0 && lock_file(h->fd) < 0) {
        history_warn(h, "cannot lock", strerror(errno));
        goto fail;
    }
    if (good_end < 0 || fstat(h->fd, &st) < 0) {
        history_warn(h, "cannot read", strerror(errno));
        goto fail;
    }
    if (st.st_size > good_end) {
        char detail[96];
        snprintf(detail, sizeof detail, "cutting %lld bytes after the last good record",
                 (long long)(st.st_size - good_end));
        history_warn(h, "repairing", detail);
        if (ftruncate(h->fd, good_end) < 0 || fsync(h->fd) < 0) {
            history_warn(h, "cannot truncate", strerror(errno));
            goto fail;
        }
    }
    h->end = good_end;
    /* A bad record before good ones cannot be cut off: rewrite the file
     * so the next start does not trip over it again. */
    if (h->file_records > 2 * keep || h->bad_inside) compact(h);
    return h;
fail:
    history_close(h);
    return NULL;
}

void history_close(history *h) {
    if (!h) return;
    if (h->fd >= 0) {
        history_sync(h);
        close(h->fd);
    }
    ring_free(&h->kept);
    free(h->path);
    free(h);
}

uint64_t history_last_seq(const history *h) { return h->last_seq; }

const ring *history_messages(const history *h) { return &h->kept; }

int history_append(history *h, uint64_t seq, const char *json, size_t len) {
    if (seq <= h->last_seq) return -1;
    if (lseek(h->fd, h->end, SEEK_SET) < 0 || write_record(h->fd, seq, json, len) < 0 ||
        (h->mode == HISTORY_FSYNC_ALWAYS && fdatasync(h->fd) < 0)) {
        int err = errno;
        /* Roll back a partial record so the file stays a clean sequence. */
        if (ftruncate(h->fd, h->end) < 0) history_warn(h, "cannot roll back", strerror(errno));
        history_warn(h, "cannot append", strerror(err));
        return -1;
    }
    h->end += (off_t)(RECORD_HEADER_LEN + len + 1);
    h->file_records++;
    h->last_seq = seq;
    if (h->mode == HISTORY_FSYNC_BATCH) h->dirty = 1;
    if (ring_push(&h->kept, seq, json, len) < 0) history_warn(h, "out of memory: message stored on disk only", NULL);
    if (h->file_records > 2 * h->kept.cap) compact(h);
    return 0;
}

int history_needs_sync(const history *h) { return h->dirty; }

int history_sync(history *h) {
    if (!h->dirty) return 0;
    h->dirty = 0;
    if (fdatasync(h->fd) < 0) {
        history_warn(h, "fdatasync failed", strerror(errno));
        return -1;
    }
    return 0;
}
