/* The generators' TCP side: non-blocking connects, and enough descriptors
 * for thousands of them. Needs BENCH_TOOL (common/die.h). */
#ifndef BENCH_TCP_CLIENT_H
#define BENCH_TCP_CLIENT_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "die.h"

/* A non-blocking connect to host:port under way (EPOLLOUT says when it is
 * done); TCP_NODELAY, so that each frame goes out as it is written. */
static inline int bench_connect(const char *host, int port) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) bench_die("bad host %s", host);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) bench_die("socket: %s (raise ulimit -n?)", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)
        bench_die("connect: %s", strerror(errno));
    return fd;
}

/* Raises the soft descriptor limit to the hard one; dies if that is still
 * short of need (+16 for epoll, stdio and the like). */
static inline void bench_raise_nofile(int need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)need + 16)
        bench_die("need %d file descriptors, the limit is %llu: raise ulimit -n", need + 16,
                  (unsigned long long)rl.rlim_cur);
}

#endif
