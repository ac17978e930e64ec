/* The OS's CSPRNG, for client masking keys (RFC 6455 §5.3: keys must not
 * be predictable) and Sec-WebSocket-Key nonces (§4.1). */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* ssize_t, O_CLOEXEC; getrandom() in <sys/random.h> */
#endif
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

/* O_CLOEXEC needs POSIX 2008; when this file is pasted into the single
 * header after headers that were included without _DEFAULT_SOURCE, it may
 * be missing, and the descriptor is closed again at once anyway. */
#ifdef O_CLOEXEC
#define RANDOM_OPEN_FLAGS (O_RDONLY | O_CLOEXEC)
#else
#define RANDOM_OPEN_FLAGS O_RDONLY
#endif

/* For kernels without getrandom(2) (before Linux 3.17). */
int cws__random_urandom(void *buf, size_t len) {
    uint8_t *p = buf;
    if (len == 0) return CWS_OK;
    int fd;
    do fd = open("/dev/urandom", RANDOM_OPEN_FLAGS);
    while (fd < 0 && errno == EINTR);
    if (fd < 0) return CWS_ERR_RANDOM;
    while (len > 0) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            return CWS_ERR_RANDOM;
        }
        p += n;
        len -= (size_t)n;
    }
    close(fd);
    return CWS_OK;
}

int cws_random(void *buf, size_t len) {
    uint8_t *p = buf;
    while (len > 0) {
        /* getrandom returns at most 32 MiB per call and may be cut short
         * by a signal, so loop until everything is filled. */
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == ENOSYS) return cws__random_urandom(p, len);
            return CWS_ERR_RANDOM;
        }
        if (n == 0) return CWS_ERR_RANDOM; /* cannot happen; avoid spinning */
        p += n;
        len -= (size_t)n;
    }
    return CWS_OK;
}
