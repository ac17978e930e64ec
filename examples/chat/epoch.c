/* The history's epoch and its file; see epoch.h. */
#define _POSIX_C_SOURCE 200809L

#include "epoch.h"
#include "segdir.h"
#include "segment.h"

#include <cws_util.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"
/* Five short lines; anything longer is not ours. */
#define FILE_MAX 256

static const char *const mode_names[] = {"always", "batch", "never"};

int epoch_id_ok(const char *s, size_t len) {
    if (len != EPOCH_ID_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static int boot_id_ok(const char *s, size_t len) {
    if (len == 0 || len > EPOCH_BOOT_MAX) return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'z') || s[i] == '-')) return 0;
    return 1;
}

/* Reads at most cap - 1 bytes of fd, NUL-terminated; returns the count or -1. */
static ssize_t read_some(int fd, char *buf, size_t cap) {
    size_t n = 0;
    while (n < cap - 1) {
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) return -1;
        if (got == 0) break;
        n += (size_t)got;
    }
    buf[n] = '\0';
    return (ssize_t)n;
}

/* The id the kernel draws at each boot: it tells a crash of this process
 * (the page cache kept every write) from one of the machine (it may
 * not have). "unknown" where there is none, which counts as a reboot. */
static void current_boot(char out[EPOCH_BOOT_MAX + 1]) {
    char buf[EPOCH_BOOT_MAX + 2];
    int fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read_some(fd, buf, sizeof buf) : -1;
    if (fd >= 0) close(fd);
    if (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
    strcpy(out, n > 0 && boot_id_ok(buf, (size_t)n) ? buf : "unknown");
}

/* Takes the line "<key> <value>\n" at *p into value (at most cap - 1
 * bytes). Returns its length, or -1 if the line is not that. */
static ptrdiff_t take_line(const char **p, const char *key, char *value, size_t cap) {
    size_t klen = strlen(key);
    if (strncmp(*p, key, klen) != 0 || (*p)[klen] != ' ') return -1;
    const char *v = *p + klen + 1, *lf = strchr(v, '\n');
    if (!lf || (size_t)(lf - v) >= cap) return -1;
    memcpy(value, v, (size_t)(lf - v));
    value[lf - v] = '\0';
    *p = lf + 1;
    return lf - v;
}

static int parse_uint(const char *s, uint64_t *out) {
    uint64_t v = 0;
    if (*s == '\0') return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* Strict: exactly the five lines epoch_write makes, in that order. */
static int parse(const char *text, epoch *e) {
    char v[EPOCH_BOOT_MAX + 1];
    const char *p = text;
    ptrdiff_t n;
    if ((n = take_line(&p, "epoch", v, sizeof v)) < 0 || !epoch_id_ok(v, (size_t)n)) return -1;
    memcpy(e->id, v, (size_t)n + 1);
    if ((n = take_line(&p, "boot", v, sizeof v)) < 0 || !boot_id_ok(v, (size_t)n)) return -1;
    memcpy(e->boot, v, (size_t)n + 1);
    if (take_line(&p, "fsync", v, sizeof v) < 0) return -1;
    int mode = -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(v, mode_names[i]) == 0) mode = i;
    if (mode < 0) return -1;
    e->mode = (history_fsync)mode;
    if (take_line(&p, "last", v, sizeof v) < 0 || parse_uint(v, &e->last) < 0) return -1;
    if (take_line(&p, "state", v, sizeof v) < 0) return -1;
    if (strcmp(v, "running") != 0 && strcmp(v, "stopped") != 0) return -1;
    e->running = v[0] == 'r';
    return *p == '\0' ? 0 : -1;
}

/* Reads the epoch file at path into e: 1 if it holds one, 0 if it is
 * missing or not an epoch file (*why says which), -1 if it cannot be
 * read. */
static int load(const char *path, epoch *e, const char **why) {
    char text[FILE_MAX + 1];
    /* segment_open: a regular file only, never a symlink or a FIFO. */
    int fd = segment_open(path, O_RDONLY);
    if (fd < 0) {
        *why = errno == ENOENT ? "there was no epoch file" : "the epoch file is not a regular file";
        return errno == ENOENT || errno == ELOOP || errno == EINVAL ? 0 : -1;
    }
    ssize_t n = read_some(fd, text, sizeof text);
    int err = errno;
    close(fd);
    errno = err;
    if (n < 0) return -1;
    *why = "the epoch file was malformed";
    return (size_t)n < FILE_MAX && strlen(text) == (size_t)n && parse(text, e) == 0;
}

/* Replaces the file at path atomically and durably: a crash leaves the
 * old content or the new, never a mix, and the new survives a power
 * loss once this returns. Done the way the segments are (segment.h). */
static int write_file(const char *base, const char *path, const epoch *e) {
    char text[FILE_MAX];
    int len = snprintf(text, sizeof text, "epoch %s\nboot %s\nfsync %s\nlast %" PRIu64 "\nstate %s\n", e->id,
                       e->boot, mode_names[e->mode], e->last, e->running ? "running" : "stopped");
    char *tmp = segdir_path(path, ".tmp");
    int fd = tmp ? segment_create(tmp) : -1;
    int ok = fd >= 0 && len > 0 && (size_t)len < sizeof text;
    size_t done = 0;
    while (ok && done < (size_t)len) {
        ssize_t w = write(fd, text + done, (size_t)len - done);
        if (w > 0) done += (size_t)w;
        else if (w == 0 || errno != EINTR) ok = 0;
    }
    ok = ok && fsync(fd) == 0;
    if (fd >= 0 && close(fd) < 0) ok = 0;
    ok = ok && rename(tmp, path) == 0 && segdir_sync(base) == 0;
    int err = errno;
    if (!ok && fd >= 0) unlink(tmp);
    free(tmp);
    errno = err;
    return ok ? 0 : -1;
}

/* Why the stored epoch cannot go on (NULL: it can). A process crash on
 * the same boot loses nothing (the page cache has every write()), so
 * clients resume normally after kill -9; a machine crash may lose what
 * was not yet synced: the last batch in batch mode if the run did not
 * stop, anything in never mode. */
static const char *must_renew(const epoch *stored, const epoch_facts *f, const char *boot, char *buf,
                              size_t cap) {
    if (f->cut) return "records were skipped, so messages clients saw may be gone";
    if (f->last_seq < stored->last) {
        snprintf(buf, cap, "the history ends at seq %" PRIu64 ", it had %" PRIu64, f->last_seq, stored->last);
        return buf;
    }
    int unsynced = stored->mode == HISTORY_FSYNC_NEVER || (stored->mode == HISTORY_FSYNC_BATCH && stored->running);
    if (unsynced && strcmp(stored->boot, boot) != 0) {
        snprintf(buf, cap, "the machine restarted after a run with --fsync %s%s", mode_names[stored->mode],
                 stored->running ? " that did not stop" : "");
        return buf;
    }
    return NULL;
}

int epoch_begin(const char *base, const epoch_facts *f, epoch *e, FILE *note) {
    char *path = segdir_path(base, ".epoch");
    char reason[160];
    const char *why = NULL;
    epoch stored;
    memset(&stored, 0, sizeof stored);
    memset(e, 0, sizeof *e);
    current_boot(e->boot);
    int rc = -1, have = path ? load(path, &stored, &why) : -1;
    if (have < 0) {
        fprintf(note, "cws-chat: history %s: cannot read its epoch file: %s\n", base, strerror(errno));
        goto out;
    }
    if (!f->found) why = "a new history";
    else if (have) why = must_renew(&stored, f, e->boot, reason, sizeof reason);
    if (why) {
        unsigned char raw[EPOCH_ID_LEN / 2];
        if (cws_random(raw, sizeof raw) != 0) {
            fprintf(note, "cws-chat: history %s: no random bytes for an epoch\n", base);
            goto out;
        }
        for (size_t i = 0; i < sizeof raw; i++) snprintf(e->id + 2 * i, 3, "%02x", raw[i]);
        fprintf(note, "cws-chat: history %s: new epoch %s (%s)%s\n", base, e->id, why,
                have ? ": clients resuming from an older one start over" : "");
    } else {
        memcpy(e->id, stored.id, sizeof e->id);
    }
    e->mode = f->mode;
    e->last = f->last_seq;
    e->running = 1;
    if (write_file(base, path, e) < 0) {
        fprintf(note, "cws-chat: history %s: cannot write its epoch file: %s\n", base, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    free(path);
    return rc;
}

int epoch_end(const char *base, epoch *e, uint64_t last_seq, FILE *note) {
    char *path = segdir_path(base, ".epoch");
    e->last = last_seq;
    e->running = 0;
    int rc = path ? write_file(base, path, e) : -1;
    if (rc < 0) fprintf(note, "cws-chat: history %s: cannot record the clean stop: %s\n", base, strerror(errno));
    free(path);
    return rc;
}
