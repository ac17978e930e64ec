/* The files that make up one history; see segdir.h. */
#define _POSIX_C_SOURCE 200809L

#include "segdir.h"
#include "segment.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *segdir_path(const char *base, const char *suffix) {
    size_t blen = strlen(base), slen = strlen(suffix);
    char *p = malloc(blen + slen + 1);
    if (!p) return NULL;
    memcpy(p, base, blen);
    memcpy(p + blen, suffix, slen + 1);
    return p;
}

/* One server per history: a second one appending would interleave
 * sequence numbers. The lock goes away with the process, even after
 * kill -9. Nothing else ever opens the lock file, so no close of another
 * descriptor can drop this POSIX record lock. */
int segdir_lock(const char *base) {
    char *path = segdir_path(base, ".lock");
    int fd = path ? open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600) : -1;
    free(path);
    if (fd < 0) return -1;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) < 0) {
        int err = errno;
        close(fd);
        errno = err;
        return -1;
    }
    return fd;
}

/* The directory part of base ("." if none), malloc'ed. */
static char *dir_of(const char *base) {
    const char *slash = strrchr(base, '/');
    return slash ? strndup(base, (size_t)(slash - base) + 1) : strdup(".");
}

/* Strict: exactly 16 lowercase hex digits, as segment_path writes them,
 * so no two file names mean the same segment. */
static int parse_name(const char *s, uint64_t *out) {
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v << 4 | (uint64_t)d;
    }
    if (s[16] != '\0') return -1;
    *out = v;
    return 0;
}

static int by_number(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int segdir_list(const char *base, uint64_t **names, size_t *n) {
    const char *slash = strrchr(base, '/');
    const char *prefix = slash ? slash + 1 : base;
    size_t plen = strlen(prefix), cap = 0;
    char *dir = dir_of(base);
    DIR *d = dir ? opendir(dir) : NULL;
    free(dir);
    *names = NULL;
    *n = 0;
    if (!d) return -1;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d)) != NULL) {
        uint64_t v;
        if (strncmp(e->d_name, prefix, plen) != 0 || e->d_name[plen] != '.' || parse_name(e->d_name + plen + 1, &v) < 0)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            uint64_t *grown = cap < SIZE_MAX / sizeof *grown ? realloc(*names, cap * sizeof *grown) : NULL;
            if (!grown) {
                closedir(d);
                free(*names);
                *names = NULL;
                errno = ENOMEM;
                return -1;
            }
            *names = grown;
        }
        (*names)[(*n)++] = v;
        errno = 0;
    }
    int err = errno;
    closedir(d);
    if (err) {
        free(*names);
        *names = NULL;
        errno = err;
        return -1;
    }
    if (*n) qsort(*names, *n, sizeof **names, by_number);
    return 0;
}

int segdir_sync(const char *base) {
    char *dir = dir_of(base);
    int fd = dir ? open(dir, O_RDONLY | O_CLOEXEC) : -1;
    free(dir);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int segdir_migrate(const char *base, FILE *note) {
    struct stat st;
    if (lstat(base, &st) < 0 || !S_ISREG(st.st_mode)) return 0;
    char *to = segment_path(base, 0);
    struct stat old;
    int rc = -1;
    if (!to) {
        fprintf(note, "cws-chat: history %s: out of memory\n", base);
    } else if (lstat(to, &old) == 0 || errno != ENOENT) {
        fprintf(note, "cws-chat: history %s: a single-file log of an older cws-chat, but %s exists too: move one away\n",
                base, to);
    } else if (rename(base, to) < 0 || segdir_sync(base) < 0) {
        fprintf(note, "cws-chat: history %s: cannot move it to %s: %s\n", base, to, strerror(errno));
    } else {
        fprintf(note, "cws-chat: history %s: a single-file log of an older cws-chat; it is now the segment %s\n",
                base, to);
        rc = 0;
    }
    free(to);
    return rc;
}
