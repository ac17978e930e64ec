/* One segment file of the history log; see segment.h. */
#define _POSIX_C_SOURCE 200809L

#include "segment.h"
#include "record.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/* What people said is for the server's user alone. */
#define SEGMENT_FILE_MODE 0600
/* The longest line a good record can be; longer ones are not kept whole. */
#define LINE_CAP (RECORD_HEADER_LEN + RECORD_MAX_JSON + 1)

char *segment_path(const char *base, uint64_t name) {
    size_t len = strlen(base) + 18;
    char *p = malloc(len);
    if (p) snprintf(p, len, "%s.%016" PRIx64, base, name);
    return p;
}

/* A stale file, or a symlink planted there to make us write to some other
 * file, is removed (unlink never follows a link), and O_EXCL | O_NOFOLLOW
 * refuse anything that appears in between rather than open it. */
int segment_create(const char *path) {
    if (unlink(path) < 0 && errno != ENOENT) return -1;
    return open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, SEGMENT_FILE_MODE);
}

int segment_open(const char *path, int flags) {
    /* O_NONBLOCK: a FIFO planted under a segment's name must not hang us. */
    int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    if (fd < 0) return -1;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    return fd;
}

typedef struct reader {
    int fd;
    size_t pos, len;
    char buf[65536];
} reader;

/* Reads the next line (through its LF, or to the end of the file) into
 * line, keeping at most LINE_CAP bytes of it; *n is its whole length. A
 * hostile file's endless line costs no more memory than a good record.
 * Returns 1 for a line, 0 at the end, -1 on a read error. */
static int next_line(reader *r, char *line, size_t *n) {
    *n = 0;
    for (;;) {
        if (r->pos == r->len) {
            ssize_t got = read(r->fd, r->buf, sizeof r->buf);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) return -1;
            if (got == 0) return *n > 0;
            r->pos = 0;
            r->len = (size_t)got;
        }
        const char *start = r->buf + r->pos;
        const char *lf = memchr(start, '\n', r->len - r->pos);
        size_t take = lf ? (size_t)(lf - start) + 1 : r->len - r->pos;
        if (*n < LINE_CAP) memcpy(line + *n, start, take < LINE_CAP - *n ? take : LINE_CAP - *n);
        *n += take;
        r->pos += take;
        if (lf) return 1;
    }
}

int segment_scan(int fd, segment *seg, segment_record_fn fn, void *user, const char *path, FILE *warn) {
    reader *r = malloc(sizeof *r);
    char *line = malloc(LINE_CAP);
    int rc = -1;
    if (!r || !line) goto out;
    r->fd = fd;
    r->pos = r->len = 0;
    seg->first = seg->last = 0;
    seg->records = seg->json_bytes = seg->bad = 0;
    seg->good_end = seg->size = 0;
    seg->bad_inside = 0;
    uint64_t last = seg->after;
    size_t n;
    int got;
    while ((got = next_line(r, line, &n)) > 0) {
        uint64_t seq;
        const char *json, *why = NULL;
        size_t json_len;
        off_t at = seg->size;
        seg->size += (off_t)n;
        if (n > LINE_CAP)
            why = "record too long";
        else if (line[n - 1] != '\n')
            why = "truncated record (no line end)";
        else if (record_parse(line, n - 1, &seq, &json, &json_len, &why) == 0 && (seq <= last || seq < seg->name))
            why = "sequence number out of order";
        if (why) {
            if (warn)
                fprintf(warn, "cws-chat: warning: history %s: skipping the record at byte %lld: %s\n", path,
                        (long long)at, why);
            seg->bad++;
            continue;
        }
        if (fn && fn(user, seq, json, json_len) != 0) goto out;
        if (seg->records++ == 0) seg->first = seq;
        seg->last = last = seq;
        seg->json_bytes += json_len;
        seg->bad_inside |= seg->bad > 0;
        seg->good_end = seg->size;
    }
    rc = got < 0 ? -1 : 0;
out:
    free(line);
    free(r);
    return rc;
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

int segment_append(int fd, off_t end, uint64_t seq, const char *json, size_t len) {
    char header[RECORD_HEADER_LEN + 1];
    struct iovec iov[3];
    iov[0].iov_base = header;
    iov[0].iov_len = record_header(header, seq, json, len);
    iov[1].iov_base = (void *)json;
    iov[1].iov_len = len;
    iov[2].iov_base = "\n";
    iov[2].iov_len = 1;
    if (lseek(fd, end, SEEK_SET) < 0) return -1;
    return write_all(fd, iov, 3);
}

typedef struct copy_ctx {
    int fd;
    off_t end;
} copy_ctx;

static int copy_record(void *user, uint64_t seq, const char *json, size_t len) {
    copy_ctx *c = user;
    if (segment_append(c->fd, c->end, seq, json, len) < 0) return -1;
    c->end += (off_t)(RECORD_HEADER_LEN + len + 1);
    return 0;
}

int segment_rewrite(const char *path, const char *tmp, segment *seg) {
    int in = segment_open(path, O_RDONLY);
    copy_ctx c = {segment_create(tmp), 0};
    segment copy = *seg;
    int ok = in >= 0 && c.fd >= 0 && segment_scan(in, &copy, copy_record, &c, path, NULL) == 0 &&
             fdatasync(c.fd) == 0 && rename(tmp, path) == 0;
    int err = errno;
    if (in >= 0) close(in);
    if (c.fd >= 0) close(c.fd);
    if (!ok) {
        if (c.fd >= 0) unlink(tmp);
        errno = err;
        return -1;
    }
    /* The scan measured offsets in the old file; the new one is dense. */
    copy.size = copy.good_end = c.end;
    copy.bad = 0;
    copy.bad_inside = 0;
    *seg = copy;
    return 0;
}
